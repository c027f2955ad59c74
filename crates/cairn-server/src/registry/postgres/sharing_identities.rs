//! Each account's sharing identity on PostgreSQL.

use async_trait::async_trait;
use cairn_protocol::UserId;

use super::PostgresRegistry;
use crate::registry::{IdentityStore, StoredIdentity};
use crate::ServerError;

#[async_trait]
impl IdentityStore for PostgresRegistry {
    async fn sharing_identity(&self, user: &UserId) -> Result<Option<StoredIdentity>, ServerError> {
        let row: Option<(Vec<u8>, String, String)> = sqlx::query_as(
            "SELECT sealed, wrap_key, sign_key FROM sharing_identities WHERE user_id = $1",
        )
        .bind(user.as_str())
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(sealed, wrap_key, sign_key)| StoredIdentity {
            sealed,
            wrap_key,
            sign_key,
        }))
    }

    async fn put_sharing_identity(
        &self,
        user: &UserId,
        identity: &StoredIdentity,
        now: i64,
    ) -> Result<bool, ServerError> {
        let done = sqlx::query(
            "INSERT INTO sharing_identities (user_id, sealed, wrap_key, sign_key, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(user.as_str())
        .bind(&identity.sealed)
        .bind(&identity.wrap_key)
        .bind(&identity.sign_key)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
