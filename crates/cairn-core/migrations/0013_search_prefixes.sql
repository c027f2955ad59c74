-- Cairn store, schema 13: the search index keeps two- and three-letter
-- prefixes of every word.
--
-- The last word of a search is matched as a prefix while it is typed.
-- Without a prefix index, FTS5 answers "kitchen ga" by merging the
-- postings of every word that starts with "ga", which took tens of
-- milliseconds in 10,000 notes; with one it reads a single list. Longer
-- prefixes match few words and stay cheap without it. Each prefix kept
-- adds a posting per word written, so only these two lengths are.
--
-- Contentless, like the index it replaces (schema 3): it is filled from
-- the rows it was derived from, `notes` and `note_text` (schema 7); the
-- tags column holds the row's tags separated by spaces, as every write
-- gives it.

CREATE VIRTUAL TABLE notes_fts_next USING fts5(
    title, body, tags,
    content = '',
    contentless_delete = 1,
    prefix = '2 3',
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO notes_fts_next(rowid, title, body, tags)
    SELECT n.rowid, n.title, t.body,
           (SELECT coalesce(group_concat(j.value, ' '), '') FROM json_each(n.tags) j)
    FROM notes n JOIN note_text t ON t.rowid = n.rowid;
DROP TABLE notes_fts;
ALTER TABLE notes_fts_next RENAME TO notes_fts;
