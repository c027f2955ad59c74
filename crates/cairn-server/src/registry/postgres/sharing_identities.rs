//! Each account's sharing identity on PostgreSQL.

use async_trait::async_trait;
use cairn_protocol::UserId;

use super::PostgresRegistry;
use crate::registry::{IdentityStore, StoredIdentity};
use crate::ServerError;

#[async_trait]
impl IdentityStore for PostgresRegistry {
    async fn sharing_identity(&self, user: &UserId) -> Result<Option<StoredIdentity>, ServerError> {
        let row: Option<(Vec<u8>, String, String, i64, Option<Vec<u8>>)> = sqlx::query_as(
            "SELECT sealed, wrap_key, sign_key, generation, previous_sealed
             FROM sharing_identities WHERE user_id = $1",
        )
        .bind(user.as_str())
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(
            |(sealed, wrap_key, sign_key, generation, previous_sealed)| StoredIdentity {
                sealed,
                wrap_key,
                sign_key,
                // Written from a u64 by this service only.
                generation: u64::try_from(generation).unwrap_or(0),
                previous_sealed,
            },
        ))
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

    async fn replace_sharing_identity(
        &self,
        user: &UserId,
        expected: u64,
        identity: &StoredIdentity,
        successor: &[u8],
        now: i64,
    ) -> Result<bool, ServerError> {
        let as_i64 = crate::registry::identity_generation;
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE sharing_identities
             SET sealed = $3, wrap_key = $4, sign_key = $5, generation = $6, previous_sealed = $7
             WHERE user_id = $1 AND generation = $2",
        )
        .bind(user.as_str())
        .bind(as_i64(expected)?)
        .bind(&identity.sealed)
        .bind(&identity.wrap_key)
        .bind(&identity.sign_key)
        .bind(as_i64(identity.generation)?)
        .bind(&identity.previous_sealed)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO sharing_identity_successors (user_id, generation, statement, created_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(user.as_str())
        .bind(as_i64(identity.generation)?)
        .bind(successor)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn identity_successors(&self, user: &UserId) -> Result<Vec<Vec<u8>>, ServerError> {
        let rows: Vec<(Vec<u8>,)> = sqlx::query_as(
            "SELECT statement FROM sharing_identity_successors WHERE user_id = $1
             ORDER BY generation",
        )
        .bind(user.as_str())
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(s,)| s).collect())
    }
}
