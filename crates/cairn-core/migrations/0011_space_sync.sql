-- Cairn store, schema 11: sync through shared spaces (docs/sharing.md,
-- "Sync through spaces"). Each space this device writes or reads has its
-- own stream, kept apart from the personal one's `sync_self`/`sync_peer`
-- (same columns, keyed by space too).
CREATE TABLE space_sync_self (
    space_id  TEXT PRIMARY KEY REFERENCES space(space_id) ON DELETE CASCADE,
    device_id TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    watermark INTEGER NOT NULL,
    head      BLOB,
    unrecorded_snapshot_slots INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE space_sync_peer (
    space_id     TEXT NOT NULL REFERENCES space(space_id) ON DELETE CASCADE,
    device_id    TEXT NOT NULL,
    etag         TEXT,
    applied_seq  INTEGER NOT NULL DEFAULT 0,
    head_seq     INTEGER NOT NULL DEFAULT 0,
    merged_of_me INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    last_error_code TEXT,
    last_ok_ms   INTEGER,
    PRIMARY KEY (space_id, device_id)
) WITHOUT ROWID;

-- The documents this device has published whole in a space: a document
-- newly in the space (a note moved in) goes out with all its changes
-- once, then only its new ones.
CREATE TABLE space_doc (
    space_id TEXT NOT NULL REFERENCES space(space_id) ON DELETE CASCADE,
    note_id  TEXT NOT NULL,
    PRIMARY KEY (space_id, note_id)
) WITHOUT ROWID;
