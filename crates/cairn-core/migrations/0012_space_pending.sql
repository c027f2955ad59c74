-- Cairn store, schema 12: the shared spaces this device has begun to
-- create (docs/sharing.md, "Creating a space").
--
-- Not derived from the notes: a repair keeps this table.
--
-- A row is written before the service is asked to create the space, and
-- removed once the space is kept in `space` (its notebook renumbered to
-- the id the space derives): a row still here after a crash, or after an
-- answer that never came, is finished by the next share or sync. The
-- record 0 is kept as its exact bytes; it carries the epoch 1 key wrapped
-- to this account, so nothing secret is kept here beside it.
CREATE TABLE space_pending (
    space_id TEXT PRIMARY KEY,
    -- The notebook being shared, by its id before the renumbering.
    notebook TEXT NOT NULL,
    genesis  BLOB NOT NULL
) WITHOUT ROWID;
