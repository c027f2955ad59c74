-- Cairn store, schema 9: the sharing identities this device has pinned
-- (docs/sharing.md, "Pins"): per account, the public keys first seen for
-- it, as JSON ({"account","wrap_key","sign_key"}). Not derived from the
-- notes: a repair keeps them, and only an explicit re-pin replaces one.
CREATE TABLE sharing_pin (
    account  TEXT PRIMARY KEY,
    identity TEXT NOT NULL
) WITHOUT ROWID;
