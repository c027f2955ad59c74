-- Cairn store, schema 14: each note's state, kept beside its document,
-- and whether its rows were written from the document.
--
-- `state` holds what `write_derived_rows` last wrote for the note, as JSON
-- (`crate::sync::digest::DigestState`), its body left out (it is in
-- `note_text`) unless the note is deleted. It is written in the same
-- transaction as every change to the note's chunks, so a snapshot read
-- with it gets, for each document, the state those very bytes produce:
-- the snapshot's digest, made without loading a document. Notes stored
-- before this schema have none until they are next written; a digest
-- says so for them, and a reader loads those.
--
-- `unchecked` is 1 for a note stored from a peer's digest: its rows are
-- what the digest said, not yet what its document says. The first load
-- of its document rewrites them and clears the mark.

ALTER TABLE doc ADD COLUMN state TEXT;
ALTER TABLE doc ADD COLUMN unchecked INTEGER NOT NULL DEFAULT 0;
