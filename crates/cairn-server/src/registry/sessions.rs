//! Sessions: an access token and a refresh token, stored as hashes.
//! Refreshing rotates both; logging out or revoking the session's device
//! revokes it.

use cairn_protocol::{DeviceId, UserId};
use rusqlite::{params, OptionalExtension};

use super::accounts::parse_user;
use super::Registry;
use crate::ServerError;

/// Hashes and expiries of a new or rotated session.
#[derive(Debug, Clone)]
pub struct SessionTokens {
    pub access_hash: String,
    pub access_expires_at: i64,
    pub refresh_hash: String,
    pub refresh_expires_at: i64,
}

/// A session, as found by its access token or id.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub id: i64,
    pub user_id: UserId,
    pub device_id: Option<DeviceId>,
    pub access_expires_at: i64,
    pub revoked: bool,
}

/// id, user, device, access expiry, revocation time.
type RawSession = (i64, String, Option<String>, i64, Option<i64>);

impl Registry {
    pub fn create_session(
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

    /// The session an access token belongs to, expired or revoked included
    /// (the caller tells those apart for a precise error).
    pub fn session_by_access_hash(
        &self,
        access_hash: &str,
    ) -> Result<Option<SessionRecord>, ServerError> {
        self.session_where("access_hash = ?1", access_hash)
    }

    /// The session with this id, expired or revoked included.
    pub fn session_by_id(&self, id: i64) -> Result<Option<SessionRecord>, ServerError> {
        self.session_where("id = ?1", id)
    }

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

    /// Swaps a live refresh token for new tokens. Returns the session's user
    /// and device, or `None` if the refresh token is unknown, expired or
    /// revoked. The old refresh token stops working, so a stolen copy that
    /// is used after the owner refreshed is refused.
    pub fn rotate_session(
        &self,
        refresh_hash: &str,
        new: &SessionTokens,
        now: i64,
    ) -> Result<Option<(UserId, Option<DeviceId>)>, ServerError> {
        let conn = self.conn()?;
        let row: Option<(i64, String, Option<String>)> = conn
            .query_row(
                "SELECT id, user_id, device_id FROM sessions
                 WHERE refresh_hash = ?1 AND revoked_at IS NULL AND refresh_expires_at > ?2",
                params![refresh_hash, now],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((id, user, device)) = row else {
            return Ok(None);
        };
        conn.execute(
            "UPDATE sessions SET access_hash = ?1, access_expires_at = ?2, refresh_hash = ?3, refresh_expires_at = ?4 WHERE id = ?5",
            params![
                new.access_hash,
                new.access_expires_at,
                new.refresh_hash,
                new.refresh_expires_at,
                id
            ],
        )?;
        Ok(Some((
            parse_user(&user)?,
            device.map(|d| parse_device(&d)).transpose()?,
        )))
    }

    pub fn bind_session_device(
        &self,
        session_id: i64,
        device: &DeviceId,
    ) -> Result<(), ServerError> {
        self.conn()?.execute(
            "UPDATE sessions SET device_id = ?1 WHERE id = ?2",
            params![device.as_str(), session_id],
        )?;
        Ok(())
    }

    pub fn revoke_session(&self, session_id: i64, now: i64) -> Result<(), ServerError> {
        self.conn()?.execute(
            "UPDATE sessions SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL",
            params![now, session_id],
        )?;
        Ok(())
    }
}

pub(super) fn parse_device(value: &str) -> Result<DeviceId, ServerError> {
    DeviceId::parse(value).map_err(|e| ServerError::CorruptRegistry(e.to_string()))
}
