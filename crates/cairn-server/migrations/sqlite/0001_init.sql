-- The registry as it was before numbered migrations. Every statement is
-- IF NOT EXISTS, so a registry made then is taken over as version 1.
CREATE TABLE IF NOT EXISTS accounts (
    user_id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    account_key_hash TEXT UNIQUE,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES accounts(user_id),
    name TEXT NOT NULL,
    platform TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX IF NOT EXISTS devices_by_user ON devices(user_id);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES accounts(user_id),
    device_id TEXT REFERENCES devices(id),
    access_hash TEXT NOT NULL UNIQUE,
    access_expires_at INTEGER NOT NULL,
    refresh_hash TEXT NOT NULL UNIQUE,
    refresh_expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX IF NOT EXISTS sessions_by_device ON sessions(device_id);
-- Refresh tokens a rotation replaced, kept until their session could no
-- longer have refreshed anyway: one presented again means a copy is in
-- other hands, and ends the session (RFC 9700, 4.14.2).
CREATE TABLE IF NOT EXISTS rotated_refresh_tokens (
    refresh_hash TEXT PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    forget_after INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS rotated_refresh_tokens_by_age ON rotated_refresh_tokens(forget_after);
CREATE TABLE IF NOT EXISTS oauth_states (
    state_hash TEXT PRIMARY KEY,
    pkce_verifier TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    client_challenge TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE TABLE IF NOT EXISTS key_envelopes (
    user_id TEXT PRIMARY KEY REFERENCES accounts(user_id),
    generation INTEGER NOT NULL,
    envelope TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS login_codes (
    code_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES accounts(user_id),
    client_challenge TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
