-- Cairn store, schema 1.
-- `doc` and `chunk` are the source of truth: every note is an Automerge
-- document stored as one snapshot chunk plus incremental change chunks.
-- `notes`, `note_tags` and `notes_fts` are derived from the documents and
-- rewritten in the same transaction as every chunk append.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE doc (
    note_id      TEXT PRIMARY KEY,
    snapshot_len INTEGER NOT NULL DEFAULT 0,
    changes_len  INTEGER NOT NULL DEFAULT 0,
    deleted      INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE chunk (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    note_id TEXT NOT NULL REFERENCES doc(note_id) ON DELETE CASCADE,
    kind    INTEGER NOT NULL,          -- 0 snapshot, 1 incremental changes
    origin  INTEGER NOT NULL,          -- 0 local, 1 merged from a peer
    data    BLOB NOT NULL
);
CREATE INDEX chunk_by_note ON chunk(note_id, id);

CREATE TABLE notes (
    rowid    INTEGER PRIMARY KEY,
    id       TEXT NOT NULL UNIQUE REFERENCES doc(note_id) ON DELETE CASCADE,
    title    TEXT NOT NULL,
    excerpt  TEXT NOT NULL,
    tags     TEXT NOT NULL,            -- JSON array, sorted
    pinned   INTEGER NOT NULL,
    trashed  INTEGER NOT NULL,
    created  INTEGER NOT NULL,         -- ms since the epoch
    modified INTEGER NOT NULL,
    size     INTEGER NOT NULL          -- body length in UTF-16 units
);
CREATE INDEX notes_list ON notes(trashed, pinned DESC, modified DESC);

CREATE TABLE note_tags (
    tag     TEXT NOT NULL,
    note_id TEXT NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
    PRIMARY KEY (tag, note_id)
) WITHOUT ROWID;
CREATE INDEX note_tags_by_note ON note_tags(note_id);

-- rowid = notes.rowid
CREATE VIRTUAL TABLE notes_fts USING fts5(
    title, body, tags,
    tokenize = 'unicode61 remove_diacritics 2'
);
