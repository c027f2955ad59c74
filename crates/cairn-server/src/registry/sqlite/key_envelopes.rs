//! The wrapped content key of each user (opaque to the service).

use async_trait::async_trait;
use cairn_protocol::{KeyEnvelopeRecord, UserId};
use rusqlite::{params, OptionalExtension};

use super::SqliteRegistry;
use crate::registry::KeyEnvelopeStore;
use crate::ServerError;

#[async_trait]
impl KeyEnvelopeStore for SqliteRegistry {
    async fn key_envelope(&self, user: &UserId) -> Result<Option<KeyEnvelopeRecord>, ServerError> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT generation, envelope FROM key_envelopes WHERE user_id = ?1",
                params![user.as_str()],
                |r| {
                    Ok(KeyEnvelopeRecord {
                        generation: r.get::<_, i64>(0)? as u64,
                        envelope: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    async fn put_key_envelope(
        &self,
        user: &UserId,
        expected: u64,
        generation: u64,
        envelope: &str,
        now: i64,
    ) -> Result<bool, ServerError> {
        let conn = self.conn()?;
        let changed = if expected == 0 {
            conn.execute(
                "INSERT OR IGNORE INTO key_envelopes (user_id, generation, envelope, updated_at) VALUES (?1, ?2, ?3, ?4)",
                params![user.as_str(), generation as i64, envelope, now],
            )?
        } else {
            conn.execute(
                "UPDATE key_envelopes SET generation = ?2, envelope = ?3, updated_at = ?4
                 WHERE user_id = ?1 AND generation = ?5",
                params![
                    user.as_str(),
                    generation as i64,
                    envelope,
                    now,
                    expected as i64
                ],
            )?
        };
        Ok(changed == 1)
    }
}
