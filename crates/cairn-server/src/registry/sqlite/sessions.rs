//! Sessions on SQLite. A rotation is one transaction, which SQLite
//! serialises with every other writer.

use async_trait::async_trait;
use cairn_protocol::{Device, DeviceId, UserId};
use rusqlite::{params, OptionalExtension};

use super::SqliteRegistry;
use crate::registry::records::{parse_device, parse_user, RotatedExpiries};
use crate::registry::{DeviceStore, Rotation, SessionRecord, SessionStore, SessionTokens};
use crate::ServerError;

/// id, user, device, access expiry, revocation time.
type RawSession = (i64, String, Option<String>, i64, Option<i64>);

#[async_trait]
impl SessionStore for SqliteRegistry {
    async fn create_session(
        &self,
        user: &UserId,
        device: Option<&DeviceId>,
        tokens: &SessionTokens,
        now: i64,
    ) -> Result<i64, ServerError> {
        let conn = self.conn()?;
        conn.execute(
            "INSERT INTO sessions (user_id, device_id, access_hash, access_expires_at, refresh_hash, refresh_expires_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                user.as_str(),
                device.map(DeviceId::as_str),
                tokens.access_hash,
                tokens.access_expires_at,
                tokens.refresh_hash,
                tokens.refresh_expires_at,
                now
            ],
        )?;
        Ok(conn.last_insert_rowid())
    }

    async fn session_by_access_hash(
        &self,
        access_hash: &str,
    ) -> Result<Option<SessionRecord>, ServerError> {
        self.session_where("access_hash = ?1", access_hash)
    }

    async fn session_with_devices(
        &self,
        access_hash: &str,
    ) -> Result<Option<(SessionRecord, Vec<Device>)>, ServerError> {
        // Two queries on one connection cost microseconds; one lock keeps
        // them a consistent read.
        let Some(session) = self.session_by_access_hash(access_hash).await? else {
            return Ok(None);
        };
        let devices = self.devices_of(&session.user_id).await?;
        Ok(Some((session, devices)))
    }

    async fn session_by_id(&self, id: i64) -> Result<Option<SessionRecord>, ServerError> {
        self.session_where("id = ?1", id)
    }

    async fn rotate_session(
        &self,
        refresh_hash: &str,
        new: &SessionTokens,
        max_lifetime: i64,
        now: i64,
    ) -> Result<Rotation, ServerError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM rotated_refresh_tokens WHERE forget_after <= ?1",
            params![now],
        )?;
        let live: Option<(i64, String, Option<String>, i64, i64)> = tx
            .query_row(
                "SELECT id, user_id, device_id, created_at, refresh_expires_at FROM sessions
                 WHERE refresh_hash = ?1 AND revoked_at IS NULL",
                params![refresh_hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let Some((id, user, device, created_at, refresh_expires_at)) = live else {
            let reused: Option<(i64, String)> = tx
                .query_row(
                    "SELECT s.id, s.user_id FROM rotated_refresh_tokens r
                     JOIN sessions s ON s.id = r.session_id
                     WHERE r.refresh_hash = ?1",
                    params![refresh_hash],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((session_id, user)) = reused else {
                return Ok(Rotation::Refused);
            };
            tx.execute(
                "UPDATE sessions SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL",
                params![now, session_id],
            )?;
            tx.commit()?;
            return Ok(Rotation::Reused {
                session_id,
                user_id: parse_user(&user)?,
            });
        };
        let Some(RotatedExpiries {
            ends_at,
            access_expires_at,
            refresh_expires_at: refresh_expires_at_new,
        }) = RotatedExpiries::of(created_at, refresh_expires_at, new, max_lifetime, now)
        else {
            return Ok(Rotation::Refused);
        };
        tx.execute(
            "UPDATE sessions SET access_hash = ?1, access_expires_at = ?2, refresh_hash = ?3, refresh_expires_at = ?4 WHERE id = ?5",
            params![
                new.access_hash,
                access_expires_at,
                new.refresh_hash,
                refresh_expires_at_new,
                id
            ],
        )?;
        tx.execute(
            "INSERT OR IGNORE INTO rotated_refresh_tokens (refresh_hash, session_id, forget_after) VALUES (?1, ?2, ?3)",
            params![refresh_hash, id, ends_at],
        )?;
        tx.commit()?;
        Ok(Rotation::Rotated {
            user_id: parse_user(&user)?,
            device_id: device.map(|d| parse_device(&d)).transpose()?,
            access_expires_at,
            refresh_expires_at: refresh_expires_at_new,
        })
    }

    async fn revoke_session(&self, session_id: i64, now: i64) -> Result<(), ServerError> {
        self.conn()?.execute(
            "UPDATE sessions SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL",
            params![now, session_id],
        )?;
        Ok(())
    }
}

impl SqliteRegistry {
    fn session_where(
        &self,
        condition: &'static str,
        value: impl rusqlite::ToSql,
    ) -> Result<Option<SessionRecord>, ServerError> {
        let row: Option<RawSession> = self
            .conn()?
            .query_row(
                &format!(
                    "SELECT id, user_id, device_id, access_expires_at, revoked_at FROM sessions WHERE {condition}"
                ),
                params![value],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        row.map(|(id, user, device, access_expires_at, revoked_at)| {
            Ok(SessionRecord {
                id,
                user_id: parse_user(&user)?,
                device_id: device.map(|d| parse_device(&d)).transpose()?,
                access_expires_at,
                revoked: revoked_at.is_some(),
            })
        })
        .transpose()
    }
}
