//! Sessions on PostgreSQL. A rotation locks the session's row (`FOR
//! UPDATE`), so of two instances presenting one refresh token at once the
//! second sees it already rotated, which counts as a reuse.

use async_trait::async_trait;
use cairn_protocol::{Device, DeviceId, UserId};

use super::PostgresRegistry;
use crate::registry::records::{device_from_columns, parse_device, parse_user, RotatedExpiries};
use crate::registry::{Rotation, SessionRecord, SessionStore, SessionTokens};
use crate::ServerError;

/// id, user, device, access expiry, revocation time.
type RawSession = (i64, String, Option<String>, i64, Option<i64>);

fn session_from_raw(
    (id, user, device, access_expires_at, revoked_at): RawSession,
) -> Result<SessionRecord, ServerError> {
    Ok(SessionRecord {
        id,
        user_id: parse_user(&user)?,
        device_id: device.map(|d| parse_device(&d)).transpose()?,
        access_expires_at,
        revoked: revoked_at.is_some(),
    })
}

#[async_trait]
impl SessionStore for PostgresRegistry {
    async fn create_session(
        &self,
        user: &UserId,
        device: Option<&DeviceId>,
        tokens: &SessionTokens,
        now: i64,
    ) -> Result<i64, ServerError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sessions (user_id, device_id, access_hash, access_expires_at, refresh_hash, refresh_expires_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(user.as_str())
        .bind(device.map(DeviceId::as_str))
        .bind(&tokens.access_hash)
        .bind(tokens.access_expires_at)
        .bind(&tokens.refresh_hash)
        .bind(tokens.refresh_expires_at)
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        Ok(id)
    }

    async fn session_by_access_hash(
        &self,
        access_hash: &str,
    ) -> Result<Option<SessionRecord>, ServerError> {
        let row: Option<RawSession> = sqlx::query_as(
            "SELECT id, user_id, device_id, access_expires_at, revoked_at FROM sessions WHERE access_hash = $1",
        )
        .bind(access_hash)
        .fetch_optional(self.pool())
        .await?;
        row.map(session_from_raw).transpose()
    }

    async fn session_with_devices(
        &self,
        access_hash: &str,
    ) -> Result<Option<(SessionRecord, Vec<Device>)>, ServerError> {
        // One round trip: the session's columns repeat on each device row.
        type Row = (
            i64,
            String,
            Option<String>,
            i64,
            Option<i64>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<i64>,
            Option<i64>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT s.id, s.user_id, s.device_id, s.access_expires_at, s.revoked_at,
                    d.id, d.name, d.platform, d.created_at, d.revoked_at
             FROM sessions s LEFT JOIN devices d ON d.user_id = s.user_id
             WHERE s.access_hash = $1
             ORDER BY d.created_at, d.seq",
        )
        .bind(access_hash)
        .fetch_all(self.pool())
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let session =
            session_from_raw((first.0, first.1.clone(), first.2.clone(), first.3, first.4))?;
        let mut devices = Vec::with_capacity(rows.len());
        for row in &rows {
            if let (Some(id), Some(name), Some(platform), Some(created_at)) =
                (&row.5, &row.6, &row.7, row.8)
            {
                devices.push(device_from_columns(id, name, platform, created_at, row.9)?);
            }
        }
        Ok(Some((session, devices)))
    }

    async fn session_by_id(&self, id: i64) -> Result<Option<SessionRecord>, ServerError> {
        let row: Option<RawSession> = sqlx::query_as(
            "SELECT id, user_id, device_id, access_expires_at, revoked_at FROM sessions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.map(session_from_raw).transpose()
    }

    async fn rotate_session(
        &self,
        refresh_hash: &str,
        new: &SessionTokens,
        max_lifetime: i64,
        now: i64,
    ) -> Result<Rotation, ServerError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM rotated_refresh_tokens WHERE forget_after <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let live: Option<(i64, String, Option<String>, i64, i64)> = sqlx::query_as(
            "SELECT id, user_id, device_id, created_at, refresh_expires_at FROM sessions
             WHERE refresh_hash = $1 AND revoked_at IS NULL FOR UPDATE",
        )
        .bind(refresh_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((id, user, device, created_at, refresh_expires_at)) = live else {
            let reused: Option<(i64, String)> = sqlx::query_as(
                "SELECT s.id, s.user_id FROM rotated_refresh_tokens r
                 JOIN sessions s ON s.id = r.session_id
                 WHERE r.refresh_hash = $1",
            )
            .bind(refresh_hash)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((session_id, user)) = reused else {
                return Ok(Rotation::Refused);
            };
            sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(session_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
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
        sqlx::query(
            "UPDATE sessions SET access_hash = $1, access_expires_at = $2, refresh_hash = $3, refresh_expires_at = $4
             WHERE id = $5",
        )
        .bind(&new.access_hash)
        .bind(access_expires_at)
        .bind(&new.refresh_hash)
        .bind(refresh_expires_at_new)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO rotated_refresh_tokens (refresh_hash, session_id, forget_after) VALUES ($1, $2, $3)
             ON CONFLICT (refresh_hash) DO NOTHING",
        )
        .bind(refresh_hash)
        .bind(id)
        .bind(ends_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Rotation::Rotated {
            user_id: parse_user(&user)?,
            device_id: device.map(|d| parse_device(&d)).transpose()?,
            access_expires_at,
            refresh_expires_at: refresh_expires_at_new,
        })
    }

    async fn revoke_session(&self, session_id: i64, now: i64) -> Result<(), ServerError> {
        sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(session_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
