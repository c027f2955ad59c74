//! Accounts on SQLite: one row per user, keyed by `{provider}:{account_id}`.

use async_trait::async_trait;
use cairn_protocol::UserId;
use rusqlite::{params, OptionalExtension};

use super::SqliteRegistry;
use crate::registry::records::parse_user;
use crate::registry::AccountStore;
use crate::ServerError;

#[async_trait]
impl AccountStore for SqliteRegistry {
    async fn create_key_account(
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

    async fn account_by_key_hash(
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

    async fn ensure_provider_account(&self, user: &UserId, now: i64) -> Result<(), ServerError> {
        self.conn()?.execute(
            "INSERT OR IGNORE INTO accounts (user_id, provider, created_at) VALUES (?1, ?2, ?3)",
            params![user.as_str(), user.provider(), now],
        )?;
        Ok(())
    }
}
