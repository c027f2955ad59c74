-- Cairn store, schema 4: notebooks and links, derived from the documents.
--
-- The notebook tree lives in one Automerge document (reserved id, see
-- notebook_doc.rs); `notebook` is that document as the sidebar reads it,
-- rebuilt whole in the transaction of every change to the tree, with
-- cycles and dangling parents already resolved (`parent` is the parent the
-- tree is shown with, NULL at the top level).
CREATE TABLE notebook (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    parent   TEXT,
    position REAL NOT NULL,
    deleted  INTEGER NOT NULL
);
CREATE INDEX notebook_by_parent ON notebook(parent);

-- Which notebook each note's document names (notes without one have no row).
CREATE TABLE note_place (
    note_id  TEXT PRIMARY KEY REFERENCES notes(id) ON DELETE CASCADE,
    notebook TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX note_place_by_notebook ON note_place(notebook, note_id);

-- Every link in a note's body: its text as typed (the target part of
-- `[[target#heading|alias]]`, or the path of a relative Markdown link), the
-- id the note's document resolved it to (NULL when unresolved), and the
-- text folded for lookup by title, so an unresolved link finds a note that
-- takes that title later.
CREATE TABLE link (
    source_id  TEXT NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
    text       TEXT NOT NULL,
    target_id  TEXT,
    target_key TEXT NOT NULL,
    ord        INTEGER NOT NULL,       -- place in the body, first is 0
    PRIMARY KEY (source_id, text)
) WITHOUT ROWID;
CREATE INDEX link_by_target ON link(target_id, source_id);
CREATE INDEX link_by_key ON link(target_key) WHERE target_id IS NULL;

-- Looking notes up by title resolves link texts.
CREATE INDEX notes_by_title ON notes(title COLLATE NOCASE, created, id);
