-- The registry on PostgreSQL: the same tables as on SQLite (whose
-- migrations 1 and 2 this one matches), times in Unix seconds as there.
CREATE TABLE accounts (
    user_id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    account_key_hash TEXT UNIQUE,
    created_at BIGINT NOT NULL
);
CREATE TABLE devices (
    -- Registration order, for listing (SQLite's rowid).
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES accounts(user_id),
    name TEXT NOT NULL,
    platform TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    published_seq BIGINT
);
CREATE INDEX devices_by_user ON devices(user_id);
CREATE TABLE sessions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES accounts(user_id),
    device_id TEXT REFERENCES devices(id),
    access_hash TEXT NOT NULL UNIQUE,
    access_expires_at BIGINT NOT NULL,
    refresh_hash TEXT NOT NULL UNIQUE,
    refresh_expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX sessions_by_device ON sessions(device_id);
CREATE TABLE rotated_refresh_tokens (
    refresh_hash TEXT PRIMARY KEY,
    session_id BIGINT NOT NULL REFERENCES sessions(id),
    forget_after BIGINT NOT NULL
);
CREATE INDEX rotated_refresh_tokens_by_age ON rotated_refresh_tokens(forget_after);
CREATE TABLE oauth_states (
    state_hash TEXT PRIMARY KEY,
    pkce_verifier TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    client_challenge TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE TABLE key_envelopes (
    user_id TEXT PRIMARY KEY REFERENCES accounts(user_id),
    generation BIGINT NOT NULL,
    envelope TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE login_codes (
    code_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES accounts(user_id),
    client_challenge TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE TABLE sign_in_limits (
    bucket TEXT PRIMARY KEY,
    tat_ms BIGINT NOT NULL
);
CREATE INDEX sign_in_limits_by_tat ON sign_in_limits(tat_ms);
