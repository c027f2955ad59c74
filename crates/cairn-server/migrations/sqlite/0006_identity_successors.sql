-- Replacing a sharing identity when a device is removed (docs/sharing.md,
-- "Rotating the sharing identity"): the row's generation (compare-and-swap
-- for two devices rotating at once), the sealed identity it replaced, and
-- each statement by which a previous key vouched for the next.
ALTER TABLE sharing_identities ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sharing_identities ADD COLUMN previous_sealed BLOB;
CREATE TABLE sharing_identity_successors (
    user_id TEXT NOT NULL REFERENCES accounts(user_id),
    generation INTEGER NOT NULL,
    statement BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, generation)
);
