-- Cairn store, schema 7: each note's plain text beside the search index.
--
-- The index is contentless (schema 3), so it cannot show the passage a
-- search matched; this table can, without loading a document per result.
-- rowid = notes.rowid. Derived like the index: rewritten with every
-- change, filled from the documents when a store is opened at schema 7
-- for the first time.

CREATE TABLE note_text (
    rowid INTEGER PRIMARY KEY,
    body  TEXT NOT NULL
);
