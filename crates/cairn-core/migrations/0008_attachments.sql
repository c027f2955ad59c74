-- Cairn store, schema 8: attachments.
--
-- Derived from the notes' documents (rebuilt by a repair): one row per
-- attachment record, and its chunk list in order.
CREATE TABLE attachment (
    id TEXT PRIMARY KEY,
    note_id TEXT NOT NULL,
    name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL
);
CREATE INDEX attachment_by_note ON attachment(note_id);
CREATE TABLE attachment_chunk (
    attachment_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    chunk_id TEXT NOT NULL,
    len INTEGER NOT NULL,
    PRIMARY KEY (attachment_id, seq)
);
CREATE INDEX attachment_chunk_by_chunk ON attachment_chunk(chunk_id);

-- Derived from the blob index document: where each uploaded chunk is.
CREATE TABLE blob_location (
    chunk_id TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    slot INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    len INTEGER NOT NULL
);
CREATE INDEX blob_location_by_slot ON blob_location(device, slot);

-- This device's own state (not derived).
-- Chunks whose plaintext file is here (`blobs/`), with their length.
CREATE TABLE blob_local (
    chunk_id TEXT PRIMARY KEY,
    len INTEGER NOT NULL
);
-- This device's attachment slots: how often each was reused, and whether
-- it holds chunks that may still be needed.
CREATE TABLE blob_slot (
    slot INTEGER PRIMARY KEY,
    generation INTEGER NOT NULL,
    live INTEGER NOT NULL
);
-- Attachments asked for now (a note that shows them was opened, or a
-- download was asked for), whatever their size.
CREATE TABLE blob_wanted (
    attachment_id TEXT PRIMARY KEY
);
-- The last failure to download a chunk, shown instead of its bytes.
CREATE TABLE blob_error (
    chunk_id TEXT PRIMARY KEY,
    message TEXT NOT NULL
);
-- Slots freed by garbage collection, waiting for every peer to have merged
-- the publish that dropped their chunks from the index (`after_seq`).
CREATE TABLE blob_slot_freed (
    slot INTEGER PRIMARY KEY,
    after_seq INTEGER NOT NULL
);
