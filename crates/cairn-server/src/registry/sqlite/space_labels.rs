//! Each space's sealed label on SQLite.

use async_trait::async_trait;
use cairn_protocol::SpaceId;
use rusqlite::{params, OptionalExtension};

use super::SqliteRegistry;
use crate::registry::SpaceLabelStore;
use crate::ServerError;

#[async_trait]
impl SpaceLabelStore for SqliteRegistry {
    async fn set_space_label(
        &self,
        space: &SpaceId,
        label: &str,
        now: i64,
    ) -> Result<(), ServerError> {
        self.conn()?.execute(
            "INSERT INTO space_labels (space_id, label, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(space_id) DO UPDATE SET label = excluded.label, updated_at = excluded.updated_at",
            params![space.as_str(), label, now],
        )?;
        Ok(())
    }

    async fn space_label(&self, space: &SpaceId) -> Result<Option<String>, ServerError> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT label FROM space_labels WHERE space_id = ?1",
                params![space.as_str()],
                |r| r.get(0),
            )
            .optional()?)
    }
}
