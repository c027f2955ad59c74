-- Cairn store, schema 2: sync state.

-- This device's publishing state (one row).
CREATE TABLE sync_self (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    device_id TEXT NOT NULL,
    seq       INTEGER NOT NULL,        -- last sequence number reserved for a publish
    watermark INTEGER NOT NULL,        -- chunks with ids up to here are published
    head      BLOB                     -- the last head written (JSON), NULL before the first
);

-- What this device has merged from each peer, and what it last saw of them.
CREATE TABLE sync_peer (
    device_id    TEXT PRIMARY KEY,
    etag         TEXT,                 -- of the peer's head, for conditional GETs
    applied_seq  INTEGER NOT NULL DEFAULT 0,
    head_seq     INTEGER NOT NULL DEFAULT 0,
    merged_of_me INTEGER NOT NULL DEFAULT 0,  -- how far the peer has merged us
    last_error   TEXT,
    last_ok_ms   INTEGER
);
