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
                "SELECT sealed, wrap_key, sign_key FROM sharing_identities WHERE user_id = ?1",
                params![user.as_str()],
                |r| {
                    Ok(StoredIdentity {
                        sealed: r.get(0)?,
                        wrap_key: r.get(1)?,
                        sign_key: r.get(2)?,
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
}
