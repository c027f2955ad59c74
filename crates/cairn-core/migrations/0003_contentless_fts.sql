-- Cairn store, schema 3: the search index keeps no copy of the text.
--
-- The documents hold the text and `notes` the title and excerpt, so the
-- index needs only its postings. Contentless with contentless_delete, a
-- note's old entry goes without reading and re-tokenizing its old text,
-- which halves the index work of every keystroke in a long note.

CREATE VIRTUAL TABLE notes_fts_next USING fts5(
    title, body, tags,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO notes_fts_next(rowid, title, body, tags)
    SELECT rowid, title, body, tags FROM notes_fts;
DROP TABLE notes_fts;
ALTER TABLE notes_fts_next RENAME TO notes_fts;
