//! Who is calling: the session behind the access token.
//!
//! The token comes from `Authorization: Bearer <token>`. Only the event
//! socket also takes it from the `access_token` query parameter
//! ([`SocketCaller`]), because browsers cannot set headers on a WebSocket;
//! everywhere else a token in the URL is refused, since URLs end up in
//! logs, histories and `Referer` headers. Only the token's hash is looked
//! up.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use cairn_protocol::{Device, DeviceId, UserId};

use crate::registry::SessionRecord;
use crate::state::AppState;
use crate::tokens::hash_secret;
use crate::ServerError;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub session_id: i64,
    pub user_id: UserId,
    /// The device this session acts for, once it registered or resumed one.
    pub device_id: Option<DeviceId>,
    /// When the presented access token stops working (Unix seconds).
    pub access_expires_at: i64,
}

impl Caller {
    /// Refuses unless this session acts for `device`.
    pub fn require_device(&self, device: &DeviceId) -> Result<(), ServerError> {
        if self.device_id.as_ref() == Some(device) {
            Ok(())
        } else {
            Err(ServerError::NotThisDevice(device.clone()))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts).ok_or(ServerError::Unauthorized)?;
        authenticate(state, &token).await
    }
}

/// The caller of the event socket, whose token may also come from the
/// `access_token` query parameter.
#[derive(Debug, Clone)]
pub struct SocketCaller(pub Caller);

impl FromRequestParts<AppState> for SocketCaller {
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = if parts.headers.contains_key(AUTHORIZATION) {
            bearer_token(parts)
        } else {
            query_token(parts)
        };
        let token = token.ok_or(ServerError::Unauthorized)?;
        authenticate(state, &token).await.map(SocketCaller)
    }
}

/// The caller, and every device of the caller's user, from one registry
/// read: what a grant needs, on the service's busiest route (a second
/// round trip to PostgreSQL there costs a third of its throughput).
#[derive(Debug, Clone)]
pub struct CallerWithDevices(pub Caller, pub Vec<Device>);

impl FromRequestParts<AppState> for CallerWithDevices {
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts).ok_or(ServerError::Unauthorized)?;
        let (session, devices) = state
            .registry
            .session_with_devices(&hash_secret(&token))
            .await?
            .ok_or(ServerError::Unauthorized)?;
        if session.revoked {
            let device = session
                .device_id
                .as_ref()
                .and_then(|id| devices.iter().find(|d| d.id == *id));
            return Err(revoked_because(&session, device).into());
        }
        Ok(CallerWithDevices(live_caller(state, session)?, devices))
    }
}

async fn authenticate(state: &AppState, token: &str) -> Result<Caller, ServerError> {
    let session = state
        .registry
        .session_by_access_hash(&hash_secret(token))
        .await?
        .ok_or(ServerError::Unauthorized)?;
    if let Some(end) = revocation(state, &session).await? {
        return Err(end.into());
    }
    live_caller(state, session)
}

/// The caller of a session that was not revoked, unless it expired.
fn live_caller(state: &AppState, session: SessionRecord) -> Result<Caller, ServerError> {
    if session.access_expires_at <= state.clock.now_secs() {
        return Err(ServerError::SessionExpired);
    }
    Ok(Caller {
        session_id: session.id,
        user_id: session.user_id,
        device_id: session.device_id,
        access_expires_at: session.access_expires_at,
    })
}

/// Why a session stopped working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEnd {
    /// The session's device was removed (which revokes its sessions).
    DeviceRevoked(DeviceId),
    /// The session was logged out.
    SignedOut,
    /// The access token outlived its lifetime; a refresh gives a new one.
    Expired,
}

impl From<SessionEnd> for ServerError {
    fn from(end: SessionEnd) -> Self {
        match end {
            SessionEnd::DeviceRevoked(device) => ServerError::DeviceRevoked(device),
            SessionEnd::SignedOut | SessionEnd::Expired => ServerError::SessionExpired,
        }
    }
}

/// Whether `session` was revoked, and why: the app of a removed device is
/// told so, rather than just "signed out", so it can tell the user.
pub async fn revocation(
    state: &AppState,
    session: &SessionRecord,
) -> Result<Option<SessionEnd>, ServerError> {
    if !session.revoked {
        return Ok(None);
    }
    let device = match &session.device_id {
        Some(id) => state.registry.device_of(&session.user_id, id).await?,
        None => None,
    };
    Ok(Some(revoked_because(session, device.as_ref())))
}

/// Why a revoked session ended, given the device it acts for.
fn revoked_because(session: &SessionRecord, device: Option<&Device>) -> SessionEnd {
    match device {
        Some(d) if d.is_revoked() && session.device_id.as_ref() == Some(&d.id) => {
            SessionEnd::DeviceRevoked(d.id.clone())
        }
        _ => SessionEnd::SignedOut,
    }
}

fn bearer_token(parts: &Parts) -> Option<String> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

fn query_token(parts: &Parts) -> Option<String> {
    let query = parts.uri.query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned())
        .filter(|t| !t.is_empty())
}
