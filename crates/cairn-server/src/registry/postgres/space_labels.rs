//! Each space's sealed label on PostgreSQL.

use async_trait::async_trait;
use cairn_protocol::SpaceId;

use super::PostgresRegistry;
use crate::registry::SpaceLabelStore;
use crate::ServerError;

#[async_trait]
impl SpaceLabelStore for PostgresRegistry {
    async fn set_space_label(
        &self,
        space: &SpaceId,
        label: &str,
        now: i64,
    ) -> Result<(), ServerError> {
        sqlx::query(
            "INSERT INTO space_labels (space_id, label, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (space_id) DO UPDATE SET label = excluded.label, updated_at = excluded.updated_at",
        )
        .bind(space.as_str())
        .bind(label)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn space_label(&self, space: &SpaceId) -> Result<Option<String>, ServerError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT label FROM space_labels WHERE space_id = $1")
                .bind(space.as_str())
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(|(l,)| l))
    }
}
