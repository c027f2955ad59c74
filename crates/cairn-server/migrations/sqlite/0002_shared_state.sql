-- The last sequence each device reported publishing. A socket that may
-- have missed notifications is told these again, so a lost notification
-- costs its devices one poll.
ALTER TABLE devices ADD COLUMN published_seq INTEGER;

-- Sign-in rate limits, one row per bucket (a client address or an
-- account), in the registry so that every instance counts against the
-- same limit. GCRA: `tat_ms` is the bucket's theoretical arrival time,
-- when it would be full again; a row past it is forgotten.
CREATE TABLE sign_in_limits (
    bucket TEXT PRIMARY KEY,
    tat_ms INTEGER NOT NULL
);
CREATE INDEX sign_in_limits_by_tat ON sign_in_limits(tat_ms);
