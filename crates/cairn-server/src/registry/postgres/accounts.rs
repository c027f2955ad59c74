//! Accounts on PostgreSQL.

use async_trait::async_trait;
use cairn_protocol::UserId;

use super::PostgresRegistry;
use crate::registry::records::parse_user;
use crate::registry::AccountStore;
use crate::ServerError;

#[async_trait]
impl AccountStore for PostgresRegistry {
    async fn create_key_account(
        &self,
        user: &UserId,
        account_key_hash: &str,
        now: i64,
    ) -> Result<(), ServerError> {
        sqlx::query(
            "INSERT INTO accounts (user_id, provider, account_key_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(user.as_str())
        .bind(user.provider())
        .bind(account_key_hash)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn account_by_key_hash(
        &self,
        account_key_hash: &str,
    ) -> Result<Option<UserId>, ServerError> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT user_id FROM accounts WHERE account_key_hash = $1")
                .bind(account_key_hash)
                .fetch_optional(self.pool())
                .await?;
        found.map(|u| parse_user(&u)).transpose()
    }

    async fn ensure_provider_account(&self, user: &UserId, now: i64) -> Result<(), ServerError> {
        sqlx::query(
            "INSERT INTO accounts (user_id, provider, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(user.as_str())
        .bind(user.provider())
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
