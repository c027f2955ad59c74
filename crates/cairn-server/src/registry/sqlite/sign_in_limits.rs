//! Sign-in rate limits on SQLite: one upsert per attempt, allowed only
//! while the bucket has room (see [`Gcra`]).

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::SqliteRegistry;
use crate::registry::{Gcra, SignInLimitStore};
use crate::ServerError;

#[async_trait]
impl SignInLimitStore for SqliteRegistry {
    async fn take_sign_in(
        &self,
        bucket: &str,
        quota: Gcra,
        now_ms: i64,
    ) -> Result<Option<u64>, ServerError> {
        let conn = self.conn()?;
        // The update's WHERE refuses an attempt with no room left: then no
        // row comes back, and the stored TAT says how long to wait.
        let allowed: Option<i64> = conn
            .query_row(
                "INSERT INTO sign_in_limits (bucket, tat_ms) VALUES (?1, ?2 + ?3)
                 ON CONFLICT (bucket) DO UPDATE SET tat_ms = MAX(tat_ms, ?2) + ?3
                 WHERE MAX(tat_ms, ?2) - ?2 <= ?4
                 RETURNING tat_ms",
                params![bucket, now_ms, quota.interval_ms, quota.tolerance_ms()],
                |r| r.get(0),
            )
            .optional()?;
        if allowed.is_some() {
            return Ok(None);
        }
        let tat_ms: i64 = conn.query_row(
            "SELECT tat_ms FROM sign_in_limits WHERE bucket = ?1",
            params![bucket],
            |r| r.get(0),
        )?;
        Ok(Some(quota.wait_ms(tat_ms, now_ms)))
    }

    async fn forget_full_sign_in_buckets(&self, now_ms: i64) -> Result<(), ServerError> {
        self.conn()?.execute(
            "DELETE FROM sign_in_limits WHERE tat_ms <= ?1",
            params![now_ms],
        )?;
        Ok(())
    }
}
