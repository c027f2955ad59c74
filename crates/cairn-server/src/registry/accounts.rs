//! Accounts: one row per user, keyed by `{provider}:{account_id}`.

use cairn_protocol::UserId;
use rusqlite::{params, OptionalExtension};

use super::Registry;
use crate::ServerError;

impl Registry {
    /// Creates an account that signs in with an account key (stored hashed).
    pub fn create_key_account(
        &self,
        user: &UserId,
        account_key_hash: &str,
        now: i64,
    ) -> Result<(), ServerError> {
        self.conn()?.execute(
            "INSERT INTO accounts (user_id, provider, account_key_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![user.as_str(), user.provider(), account_key_hash, now],
        )?;
        Ok(())
    }

    /// The account whose key hashes to `account_key_hash`.
    pub fn account_by_key_hash(
        &self,
        account_key_hash: &str,
    ) -> Result<Option<UserId>, ServerError> {
        let found: Option<String> = self
            .conn()?
            .query_row(
                "SELECT user_id FROM accounts WHERE account_key_hash = ?1",
                params![account_key_hash],
                |r| r.get(0),
            )
            .optional()?;
        found.map(|u| parse_user(&u)).transpose()
    }

    /// Makes sure an account from an external provider exists.
    pub fn ensure_provider_account(&self, user: &UserId, now: i64) -> Result<(), ServerError> {
        self.conn()?.execute(
            "INSERT OR IGNORE INTO accounts (user_id, provider, created_at) VALUES (?1, ?2, ?3)",
            params![user.as_str(), user.provider(), now],
        )?;
        Ok(())
    }
}

pub(super) fn parse_user(value: &str) -> Result<UserId, ServerError> {
    UserId::parse(value).map_err(|e| ServerError::CorruptRegistry(e.to_string()))
}
