//! Who is calling: the session behind the access token.
//!
//! The token comes from `Authorization: Bearer <token>`, or, for clients
//! that cannot set headers on a WebSocket (browsers), from the
//! `access_token` query parameter. Only its hash is looked up.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use cairn_protocol::{DeviceId, UserId};

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
        let session = state
            .registry
            .session_by_access_hash(&hash_secret(&token))?
            .ok_or(ServerError::Unauthorized)?;
        if session.revoked {
            // Say why when the device itself was removed, so its app can
            // tell the user rather than just "signed out".
            if let Some(device) = &session.device_id {
                if state
                    .registry
                    .device_of(&session.user_id, device)?
                    .is_some_and(|d| d.is_revoked())
                {
                    return Err(ServerError::DeviceRevoked(device.clone()));
                }
            }
            return Err(ServerError::SessionExpired);
        }
        if session.access_expires_at <= state.clock.now_secs() {
            return Err(ServerError::SessionExpired);
        }
        Ok(Caller {
            session_id: session.id,
            user_id: session.user_id,
            device_id: session.device_id,
        })
    }
}

fn bearer_token(parts: &Parts) -> Option<String> {
    if let Some(value) = parts.headers.get(AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned())
            .filter(|t| !t.is_empty());
    }
    let query = parts.uri.query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned())
        .filter(|t| !t.is_empty())
}
