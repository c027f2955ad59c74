//! Each account's sharing identity.

use async_trait::async_trait;
use cairn_protocol::UserId;
use rusqlite::{params, OptionalExtension};

use super::SqliteRegistry;
use crate::registry::{IdentityStore, StoredIdentity};
use crate::ServerError;

#[async_trait]
impl IdentityStore for SqliteRegistry {
    async fn sharing_identity(&self, user: &UserId) -> Result<Option<StoredIdentity>, ServerError> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT sealed, wrap_key, sign_key, generation, previous_sealed
                 FROM sharing_identities WHERE user_id = ?1",
                params![user.as_str()],
                |r| {
                    Ok(StoredIdentity {
                        sealed: r.get(0)?,
                        wrap_key: r.get(1)?,
                        sign_key: r.get(2)?,
                        // Written from a u64 by this service only.
                        generation: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                        previous_sealed: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    async fn put_sharing_identity(
        &self,
        user: &UserId,
        identity: &StoredIdentity,
        now: i64,
    ) -> Result<bool, ServerError> {
        let changed = self.conn()?.execute(
            "INSERT OR IGNORE INTO sharing_identities (user_id, sealed, wrap_key, sign_key, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                user.as_str(),
                identity.sealed,
                identity.wrap_key,
                identity.sign_key,
                now
            ],
        )?;
        Ok(changed == 1)
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
        let (expected, generation) = (as_i64(expected)?, as_i64(identity.generation)?);
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let changed = tx.execute(
            "UPDATE sharing_identities
             SET sealed = ?3, wrap_key = ?4, sign_key = ?5, generation = ?6, previous_sealed = ?7
             WHERE user_id = ?1 AND generation = ?2",
            params![
                user.as_str(),
                expected,
                identity.sealed,
                identity.wrap_key,
                identity.sign_key,
                generation,
                identity.previous_sealed,
            ],
        )?;
        if changed != 1 {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO sharing_identity_successors (user_id, generation, statement, created_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![user.as_str(), generation, successor, now],
        )?;
        tx.commit()?;
        Ok(true)
    }

    async fn identity_successors(&self, user: &UserId) -> Result<Vec<Vec<u8>>, ServerError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT statement FROM sharing_identity_successors WHERE user_id = ?1
             ORDER BY generation",
        )?;
        let rows = stmt
            .query_map(params![user.as_str()], |r| r.get(0))?
            .collect::<Result<Vec<Vec<u8>>, _>>()?;
        Ok(rows)
    }
}
