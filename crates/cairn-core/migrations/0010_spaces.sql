-- Cairn store, schema 10: the shared spaces this device knows
-- (docs/sharing.md, "On the device").
--
-- Not derived from the notes: a repair keeps these tables.
--
-- The epoch keys are kept here as they are, protected by the store file's
-- mode (0600, its folder 0700: only the user reads them), as the content
-- key is protected by its own file's. They are not sealed under the
-- content key: every member's device needs them to read and write the
-- space without asking for a secret, and whoever can read this file can
-- read the notes in it anyway. The chain's records are public to every
-- member and kept as their exact bytes, so the chain is verified again
-- from them.

-- One row per space: its notebook (NULL until the invitee learns it),
-- this account's standing in it ('invited', 'member' or 'departed'), the
-- role it was given, and the newest record verified (the checkpoint a
-- later chain must contain).
CREATE TABLE space (
    space_id        TEXT PRIMARY KEY,
    notebook        TEXT,
    standing        TEXT NOT NULL,
    role            TEXT NOT NULL,
    checkpoint_seq  INTEGER NOT NULL,
    checkpoint_hash TEXT NOT NULL,
    -- The invitation's number, while invited.
    invitation      INTEGER,
    -- The name of the notebook as the owner sealed it for invitees.
    label           TEXT
);
CREATE UNIQUE INDEX space_by_notebook ON space(notebook) WHERE notebook IS NOT NULL;

-- The verified chain, record by record.
CREATE TABLE space_record (
    space_id TEXT NOT NULL REFERENCES space(space_id) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    bytes    BLOB NOT NULL,
    PRIMARY KEY (space_id, seq)
) WITHOUT ROWID;

-- The epoch keys this account holds: every epoch up to the newest it was
-- given (a departed member keeps those of before its departure).
CREATE TABLE space_key (
    space_id TEXT NOT NULL REFERENCES space(space_id) ON DELETE CASCADE,
    epoch    INTEGER NOT NULL,
    key      BLOB NOT NULL,
    PRIMARY KEY (space_id, epoch)
) WITHOUT ROWID;
