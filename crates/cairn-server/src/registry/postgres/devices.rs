//! Devices on PostgreSQL. Binding a session to its new device is a
//! conditional update: of two registrations racing on one session, the
//! second waits for the first's row lock, then finds the session bound and
//! rolls its device back.

use async_trait::async_trait;
use cairn_protocol::{Device, DeviceId, DeviceName, Platform, UserId};

use super::PostgresRegistry;
use crate::registry::records::{device_from_columns, new_device, parse_device, seq_to_db};
use crate::registry::DeviceStore;
use crate::ServerError;

type RawDevice = (String, String, String, i64, Option<i64>);

fn device_from_raw(
    (id, name, platform, created_at, revoked_at): RawDevice,
) -> Result<Device, ServerError> {
    device_from_columns(&id, &name, &platform, created_at, revoked_at)
}

#[async_trait]
impl DeviceStore for PostgresRegistry {
    async fn register_device(
        &self,
        session_id: i64,
        user: &UserId,
        id: &DeviceId,
        name: &DeviceName,
        platform: &Platform,
        now: i64,
    ) -> Result<Option<Device>, ServerError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO devices (id, user_id, name, platform, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id.as_str())
        .bind(user.as_str())
        .bind(name.as_str())
        .bind(platform.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let bound = sqlx::query(
            "UPDATE sessions SET device_id = $1
             WHERE id = $2 AND user_id = $3 AND device_id IS NULL AND revoked_at IS NULL",
        )
        .bind(id.as_str())
        .bind(session_id)
        .bind(user.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if bound != 1 {
            // Dropping the transaction rolls the device back.
            return Ok(None);
        }
        tx.commit().await?;
        Ok(Some(new_device(id, name, platform, now)))
    }

    async fn session_device(&self, session_id: i64) -> Result<Option<DeviceId>, ServerError> {
        let device: Option<Option<String>> =
            sqlx::query_scalar("SELECT device_id FROM sessions WHERE id = $1")
                .bind(session_id)
                .fetch_optional(self.pool())
                .await?;
        device.flatten().map(|d| parse_device(&d)).transpose()
    }

    async fn devices_of(&self, user: &UserId) -> Result<Vec<Device>, ServerError> {
        let rows: Vec<RawDevice> = sqlx::query_as(
            "SELECT id, name, platform, created_at, revoked_at FROM devices
             WHERE user_id = $1 ORDER BY created_at, seq",
        )
        .bind(user.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(device_from_raw).collect()
    }

    async fn device_of(&self, user: &UserId, id: &DeviceId) -> Result<Option<Device>, ServerError> {
        let row: Option<RawDevice> = sqlx::query_as(
            "SELECT id, name, platform, created_at, revoked_at FROM devices WHERE user_id = $1 AND id = $2",
        )
        .bind(user.as_str())
        .bind(id.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.map(device_from_raw).transpose()
    }

    async fn rename_device(
        &self,
        user: &UserId,
        id: &DeviceId,
        name: &DeviceName,
    ) -> Result<(), ServerError> {
        sqlx::query("UPDATE devices SET name = $1 WHERE user_id = $2 AND id = $3")
            .bind(name.as_str())
            .bind(user.as_str())
            .bind(id.as_str())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn revoke_device(
        &self,
        user: &UserId,
        id: &DeviceId,
        now: i64,
    ) -> Result<(), ServerError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "UPDATE devices SET revoked_at = $1 WHERE user_id = $2 AND id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(user.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE device_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn record_published(
        &self,
        user: &UserId,
        id: &DeviceId,
        seq: u64,
    ) -> Result<(), ServerError> {
        sqlx::query(
            "UPDATE devices SET published_seq = $3
             WHERE user_id = $1 AND id = $2 AND (published_seq IS NULL OR published_seq < $3)",
        )
        .bind(user.as_str())
        .bind(id.as_str())
        .bind(seq_to_db(seq))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn published_seqs(&self, user: &UserId) -> Result<Vec<(DeviceId, u64)>, ServerError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT id, published_seq FROM devices
             WHERE user_id = $1 AND revoked_at IS NULL AND published_seq IS NOT NULL
             ORDER BY created_at, seq",
        )
        .bind(user.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|(id, seq)| Ok((parse_device(&id)?, u64::try_from(seq).unwrap_or(0))))
            .collect()
    }
}
