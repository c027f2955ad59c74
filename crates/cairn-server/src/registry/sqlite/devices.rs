//! Devices on SQLite. The bind of a session to its new device is a
//! conditional update that SQLite serialises.

use async_trait::async_trait;
use cairn_protocol::{Device, DeviceId, DeviceName, Platform, UserId};
use rusqlite::{params, OptionalExtension, Row};

use super::SqliteRegistry;
use crate::registry::records::{device_from_columns, new_device, parse_device, seq_to_db};
use crate::registry::DeviceStore;
use crate::ServerError;

#[async_trait]
impl DeviceStore for SqliteRegistry {
    async fn register_device(
        &self,
        session_id: i64,
        user: &UserId,
        id: &DeviceId,
        name: &DeviceName,
        platform: &Platform,
        now: i64,
    ) -> Result<Option<Device>, ServerError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO devices (id, user_id, name, platform, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id.as_str(), user.as_str(), name.as_str(), platform.as_str(), now],
        )?;
        let bound = tx.execute(
            "UPDATE sessions SET device_id = ?1
             WHERE id = ?2 AND user_id = ?3 AND device_id IS NULL AND revoked_at IS NULL",
            params![id.as_str(), session_id, user.as_str()],
        )?;
        if bound != 1 {
            // Dropping the transaction rolls the device back.
            return Ok(None);
        }
        tx.commit()?;
        Ok(Some(new_device(id, name, platform, now)))
    }

    async fn session_device(&self, session_id: i64) -> Result<Option<DeviceId>, ServerError> {
        let device: Option<Option<String>> = self
            .conn()?
            .query_row(
                "SELECT device_id FROM sessions WHERE id = ?1",
                params![session_id],
                |r| r.get(0),
            )
            .optional()?;
        device.flatten().map(|d| parse_device(&d)).transpose()
    }

    async fn devices_of(&self, user: &UserId) -> Result<Vec<Device>, ServerError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, name, platform, created_at, revoked_at FROM devices WHERE user_id = ?1 ORDER BY created_at, rowid",
        )?;
        let rows = stmt.query_map(params![user.as_str()], raw_device)?;
        rows.map(|r| r.map_err(ServerError::from).and_then(device_from_raw))
            .collect()
    }

    async fn device_of(&self, user: &UserId, id: &DeviceId) -> Result<Option<Device>, ServerError> {
        let raw = self
            .conn()?
            .query_row(
                "SELECT id, name, platform, created_at, revoked_at FROM devices WHERE user_id = ?1 AND id = ?2",
                params![user.as_str(), id.as_str()],
                raw_device,
            )
            .optional()?;
        raw.map(device_from_raw).transpose()
    }

    async fn rename_device(
        &self,
        user: &UserId,
        id: &DeviceId,
        name: &DeviceName,
    ) -> Result<(), ServerError> {
        self.conn()?.execute(
            "UPDATE devices SET name = ?1 WHERE user_id = ?2 AND id = ?3",
            params![name.as_str(), user.as_str(), id.as_str()],
        )?;
        Ok(())
    }

    async fn revoke_device(
        &self,
        user: &UserId,
        id: &DeviceId,
        now: i64,
    ) -> Result<(), ServerError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE devices SET revoked_at = ?1 WHERE user_id = ?2 AND id = ?3 AND revoked_at IS NULL",
            params![now, user.as_str(), id.as_str()],
        )?;
        tx.execute(
            "UPDATE sessions SET revoked_at = ?1 WHERE device_id = ?2 AND revoked_at IS NULL",
            params![now, id.as_str()],
        )?;
        tx.commit()?;
        Ok(())
    }

    async fn record_published(
        &self,
        user: &UserId,
        id: &DeviceId,
        seq: u64,
    ) -> Result<(), ServerError> {
        self.conn()?.execute(
            "UPDATE devices SET published_seq = ?3
             WHERE user_id = ?1 AND id = ?2 AND (published_seq IS NULL OR published_seq < ?3)",
            params![user.as_str(), id.as_str(), seq_to_db(seq)],
        )?;
        Ok(())
    }

    async fn published_seqs(&self, user: &UserId) -> Result<Vec<(DeviceId, u64)>, ServerError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, published_seq FROM devices
             WHERE user_id = ?1 AND revoked_at IS NULL AND published_seq IS NOT NULL
             ORDER BY created_at, rowid",
        )?;
        let rows = stmt.query_map(params![user.as_str()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?;
        rows.map(|r| {
            let (id, seq) = r?;
            Ok((parse_device(&id)?, u64::try_from(seq).unwrap_or(0)))
        })
        .collect()
    }
}

type RawDevice = (String, String, String, i64, Option<i64>);

fn raw_device(r: &Row<'_>) -> rusqlite::Result<RawDevice> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn device_from_raw(
    (id, name, platform, created_at, revoked_at): RawDevice,
) -> Result<Device, ServerError> {
    device_from_columns(&id, &name, &platform, created_at, revoked_at)
}
