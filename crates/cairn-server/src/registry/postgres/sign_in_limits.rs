//! Sign-in rate limits on PostgreSQL: one upsert per attempt, allowed only
//! while the bucket has room (see [`Gcra`]). The upsert locks the bucket's
//! row, so attempts on every instance are counted one after another.

use async_trait::async_trait;

use super::PostgresRegistry;
use crate::registry::{Gcra, SignInLimitStore};
use crate::ServerError;

#[async_trait]
impl SignInLimitStore for PostgresRegistry {
    async fn take_sign_in(
        &self,
        bucket: &str,
        quota: Gcra,
        now_ms: i64,
    ) -> Result<Option<u64>, ServerError> {
        // The update's WHERE refuses an attempt with no room left: then no
        // row comes back, and the stored TAT says how long to wait.
        let allowed: Option<i64> = sqlx::query_scalar(
            "INSERT INTO sign_in_limits (bucket, tat_ms) VALUES ($1, $2 + $3)
             ON CONFLICT (bucket) DO UPDATE SET tat_ms = GREATEST(sign_in_limits.tat_ms, $2) + $3
             WHERE GREATEST(sign_in_limits.tat_ms, $2) - $2 <= $4
             RETURNING tat_ms",
        )
        .bind(bucket)
        .bind(now_ms)
        .bind(quota.interval_ms)
        .bind(quota.tolerance_ms())
        .fetch_optional(self.pool())
        .await?;
        if allowed.is_some() {
            return Ok(None);
        }
        let tat_ms: i64 = sqlx::query_scalar("SELECT tat_ms FROM sign_in_limits WHERE bucket = $1")
            .bind(bucket)
            .fetch_one(self.pool())
            .await?;
        Ok(Some(quota.wait_ms(tat_ms, now_ms)))
    }

    async fn forget_full_sign_in_buckets(&self, now_ms: i64) -> Result<(), ServerError> {
        sqlx::query("DELETE FROM sign_in_limits WHERE tat_ms <= $1")
            .bind(now_ms)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
