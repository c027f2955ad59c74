-- Sharing identities (docs/sharing.md): one per account, made by whichever
-- of its devices needs it first. The secret halves are sealed under the
-- account's content key (the service cannot open them); the public keys
-- are what other accounts fetch to invite this one.
CREATE TABLE sharing_identities (
    user_id TEXT PRIMARY KEY REFERENCES accounts(user_id),
    sealed BYTEA NOT NULL,
    wrap_key TEXT NOT NULL,
    sign_key TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
