//! The registry: accounts, sessions, devices and pending sign-ins, in
//! SQLite. It is the only state that survives a restart.
//!
//! Secrets are never stored, only their SHA-256 ([`crate::tokens`]).
//! Queries are small and indexed, so handlers call the registry directly
//! while holding a mutex for microseconds; a pool would buy nothing with
//! one SQLite file.

mod accounts;
mod devices;
mod key_envelopes;
mod oauth;
mod sessions;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

use crate::ServerError;

pub use oauth::PendingGithubSignIn;
pub use sessions::{Rotation, SessionRecord, SessionTokens};

const SCHEMA: &str = r#"
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
"#;

/// Handle to the registry database.
pub struct Registry {
    conn: Mutex<Connection>,
}

impl Registry {
    /// Opens (creating if needed) the registry at `path`.
    pub fn open(path: &Path) -> Result<Registry, ServerError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::private_files::create_dir_all(dir).map_err(|e| ServerError::io(dir, e))?;
        }
        // Created 0600 first: SQLite gives -wal and -shm the same mode.
        crate::private_files::prepare_file(path).map_err(|e| ServerError::io(path, e))?;
        let conn = Connection::open(path)?;
        Registry::init(conn)
    }

    fn init(conn: Connection) -> Result<Registry, ServerError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Registry {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, ServerError> {
        self.conn
            .lock()
            .map_err(|_| ServerError::Internal("registry lock poisoned".to_owned()))
    }
}
