-- Replacing a sharing identity when a device is removed (docs/sharing.md,
-- "Rotating the sharing identity"): the row's generation (compare-and-swap
-- for two devices rotating at once), the sealed identity it replaced, and
-- each statement by which a previous key vouched for the next.
ALTER TABLE sharing_identities ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sharing_identities ADD COLUMN previous_sealed BYTEA;
CREATE TABLE sharing_identity_successors (
    user_id TEXT NOT NULL REFERENCES accounts(user_id),
    generation BIGINT NOT NULL,
    statement BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, generation)
);
