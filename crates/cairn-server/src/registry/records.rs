//! What the registry hands in and out, the same for every implementation.

use cairn_protocol::{DeviceId, UserId};

use crate::ServerError;

/// What the service remembered about an authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingGithubSignIn {
    /// Our PKCE verifier for the provider.
    pub pkce_verifier: String,
    pub redirect_uri: String,
    /// The client's own PKCE challenge, checked when it redeems the code.
    pub client_challenge: String,
}

/// A sharing identity as stored: the sealed secrets (opaque here) and the
/// public keys in hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredIdentity {
    pub sealed: Vec<u8>,
    pub wrap_key: String,
    pub sign_key: String,
    /// 0 for the first identity; one more per replacement.
    pub generation: u64,
    /// The sealed identity this one replaced.
    pub previous_sealed: Option<Vec<u8>>,
}

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

/// The expiries a rotation gives a live session: its end (`max_lifetime`
/// after `created_at`) caps the new tokens'. `None` when the presented
/// refresh token or the session itself is over.
pub(super) struct RotatedExpiries {
    pub ends_at: i64,
    pub access_expires_at: i64,
    pub refresh_expires_at: i64,
}

impl RotatedExpiries {
    pub(super) fn of(
        created_at: i64,
        refresh_expires_at: i64,
        new: &SessionTokens,
        max_lifetime: i64,
        now: i64,
    ) -> Option<RotatedExpiries> {
        let ends_at = created_at.saturating_add(max_lifetime);
        if refresh_expires_at <= now || ends_at <= now {
            return None;
        }
        Some(RotatedExpiries {
            ends_at,
            access_expires_at: new.access_expires_at.min(ends_at),
            refresh_expires_at: new.refresh_expires_at.min(ends_at),
        })
    }
}

/// A device just registered.
pub(super) fn new_device(
    id: &DeviceId,
    name: &cairn_protocol::DeviceName,
    platform: &cairn_protocol::Platform,
    now: i64,
) -> cairn_protocol::Device {
    cairn_protocol::Device {
        id: id.clone(),
        name: name.clone(),
        platform: platform.clone(),
        created_at: now,
        revoked_at: None,
    }
}

/// What presenting a refresh token did.
#[derive(Debug, Clone)]
pub enum Rotation {
    /// The session goes on with the new tokens, whose expiries may have
    /// been shortened to the session's end.
    Rotated {
        user_id: UserId,
        device_id: Option<DeviceId>,
        access_expires_at: i64,
        refresh_expires_at: i64,
    },
    /// Unknown, expired, revoked, or past the session's absolute lifetime.
    Refused,
    /// An already rotated token: the session is revoked now.
    Reused { session_id: i64, user_id: UserId },
}

/// A sign-in quota as the generic cell rate algorithm counts it: one
/// attempt regained every `interval_ms`, up to `burst` at once. A bucket
/// stores one time, its "theoretical arrival time" (TAT): an attempt at
/// `now` is allowed while `TAT - now` stays within `tolerance_ms()`, and
/// moves the TAT on by one interval (from `now` if it lay in the past).
/// governor counts the same way in memory; here the TAT is a registry row,
/// so that every instance counts against one limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    pub interval_ms: i64,
    pub burst: u32,
}

impl Gcra {
    /// How far ahead of `now` a bucket's TAT may lie for one more attempt.
    pub fn tolerance_ms(&self) -> i64 {
        self.interval_ms
            .saturating_mul(i64::from(self.burst.saturating_sub(1)))
    }

    /// How long a refused attempt waits, given the bucket's TAT.
    pub fn wait_ms(&self, tat_ms: i64, now_ms: i64) -> u64 {
        let wait = tat_ms
            .saturating_sub(now_ms)
            .saturating_sub(self.tolerance_ms());
        u64::try_from(wait).unwrap_or(0).max(1)
    }
}

pub(super) fn parse_user(value: &str) -> Result<UserId, ServerError> {
    UserId::parse(value).map_err(|e| ServerError::CorruptRegistry(e.to_string()))
}

pub(super) fn parse_device(value: &str) -> Result<DeviceId, ServerError> {
    DeviceId::parse(value).map_err(|e| ServerError::CorruptRegistry(e.to_string()))
}

/// A device from its stored columns.
pub(super) fn device_from_columns(
    id: &str,
    name: &str,
    platform: &str,
    created_at: i64,
    revoked_at: Option<i64>,
) -> Result<cairn_protocol::Device, ServerError> {
    use cairn_protocol::{DeviceName, Platform};
    let corrupt = |e: cairn_protocol::ProtocolError| ServerError::CorruptRegistry(e.to_string());
    Ok(cairn_protocol::Device {
        id: DeviceId::parse(id).map_err(corrupt)?,
        name: DeviceName::parse(name).map_err(corrupt)?,
        platform: Platform::parse(platform).map_err(corrupt)?,
        created_at,
        revoked_at,
    })
}

/// A stored sequence number (a signed 64-bit integer in both databases).
pub(super) fn seq_to_db(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}
