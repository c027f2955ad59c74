//! The wrapped content key of each user on PostgreSQL.

use async_trait::async_trait;
use cairn_protocol::{KeyEnvelopeRecord, UserId};

use super::PostgresRegistry;
use crate::registry::KeyEnvelopeStore;
use crate::ServerError;

#[async_trait]
impl KeyEnvelopeStore for PostgresRegistry {
    async fn key_envelope(&self, user: &UserId) -> Result<Option<KeyEnvelopeRecord>, ServerError> {
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT generation, envelope FROM key_envelopes WHERE user_id = $1")
                .bind(user.as_str())
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(|(generation, envelope)| KeyEnvelopeRecord {
            generation: u64::try_from(generation).unwrap_or(0),
            envelope,
        }))
    }

    async fn put_key_envelope(
        &self,
        user: &UserId,
        expected: u64,
        generation: u64,
        envelope: &str,
        now: i64,
    ) -> Result<bool, ServerError> {
        let generation = i64::try_from(generation).unwrap_or(i64::MAX);
        let query = if expected == 0 {
            sqlx::query(
                "INSERT INTO key_envelopes (user_id, generation, envelope, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (user_id) DO NOTHING",
            )
            .bind(user.as_str())
            .bind(generation)
            .bind(envelope)
            .bind(now)
        } else {
            sqlx::query(
                "UPDATE key_envelopes SET generation = $2, envelope = $3, updated_at = $4
                 WHERE user_id = $1 AND generation = $5",
            )
            .bind(user.as_str())
            .bind(generation)
            .bind(envelope)
            .bind(now)
            .bind(i64::try_from(expected).unwrap_or(i64::MAX))
        };
        Ok(query.execute(self.pool()).await?.rows_affected() == 1)
    }
}
