-- Shared spaces (docs/sharing.md, "The service's side"): each space's
-- newest record, the records' exact bytes, and each account's standing
-- as derived from the verified chain. Member user ids are not foreign
-- keys: a record may invite an account id this service has not seen.
CREATE TABLE spaces (
    space_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL REFERENCES accounts(user_id),
    last_seq INTEGER NOT NULL,
    last_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE space_records (
    space_id TEXT NOT NULL REFERENCES spaces(space_id),
    seq INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (space_id, seq)
);
-- standing: 'member', 'invited' or 'departed'; role: owner, editor or
-- viewer; seq: the invite record for 'invited', the record that removed
-- them for 'departed', the record that made them a member otherwise.
CREATE TABLE space_members (
    space_id TEXT NOT NULL REFERENCES spaces(space_id),
    user_id TEXT NOT NULL,
    standing TEXT NOT NULL,
    role TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (space_id, user_id)
);
CREATE INDEX space_members_by_user ON space_members(user_id);
-- The newest head each device reported publishing in a space: what the
-- owner's fence names for a member who leaves or is removed.
CREATE TABLE space_published (
    space_id TEXT NOT NULL REFERENCES spaces(space_id),
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (space_id, device_id)
);
