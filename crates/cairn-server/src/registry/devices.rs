//! Devices: registered by a signed-in session, renamed, revoked. Revoking a
//! device also revokes every session acting for it.

use cairn_protocol::{Device, DeviceId, DeviceName, Platform, UserId};
use rusqlite::{params, OptionalExtension, Row};

use super::Registry;
use crate::ServerError;

impl Registry {
    /// Creates device `id` and binds session `session_id` to it, in one
    /// transaction, if that live session acts for no device yet. Returns
    /// `None`, storing nothing, when it already does: of concurrent
    /// registrations on one session exactly one wins, because the bind is
    /// a conditional update that SQLite serialises.
    pub fn register_device(
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
        Ok(Some(Device {
            id: id.clone(),
            name: name.clone(),
            platform: platform.clone(),
            created_at: now,
            revoked_at: None,
        }))
    }

    /// The device a session acts for, read afresh (not from the request's
    /// authentication, which a concurrent registration may have outdated).
    pub fn session_device(&self, session_id: i64) -> Result<Option<DeviceId>, ServerError> {
        let device: Option<Option<String>> = self
            .conn()?
            .query_row(
                "SELECT device_id FROM sessions WHERE id = ?1",
                params![session_id],
                |r| r.get(0),
            )
            .optional()?;
        device
            .flatten()
            .map(|d| super::sessions::parse_device(&d))
            .transpose()
    }

    /// The user's devices, oldest first, revoked ones included.
    pub fn devices_of(&self, user: &UserId) -> Result<Vec<Device>, ServerError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, name, platform, created_at, revoked_at FROM devices WHERE user_id = ?1 ORDER BY created_at, rowid",
        )?;
        let rows = stmt.query_map(params![user.as_str()], raw_device)?;
        rows.map(|r| r.map_err(ServerError::from).and_then(device_from_raw))
            .collect()
    }

    /// One of the user's devices; another user's device is not found.
    pub fn device_of(&self, user: &UserId, id: &DeviceId) -> Result<Option<Device>, ServerError> {
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

    pub fn rename_device(
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

    /// Marks the device revoked and revokes the sessions acting for it.
    pub fn revoke_device(&self, user: &UserId, id: &DeviceId, now: i64) -> Result<(), ServerError> {
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
}

type RawDevice = (String, String, String, i64, Option<i64>);

fn raw_device(r: &Row<'_>) -> rusqlite::Result<RawDevice> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn device_from_raw(
    (id, name, platform, created_at, revoked_at): RawDevice,
) -> Result<Device, ServerError> {
    let corrupt = |e: cairn_protocol::ProtocolError| ServerError::CorruptRegistry(e.to_string());
    Ok(Device {
        id: DeviceId::parse(&id).map_err(corrupt)?,
        name: DeviceName::parse(&name).map_err(corrupt)?,
        platform: Platform::parse(&platform).map_err(corrupt)?,
        created_at,
        revoked_at,
    })
}
