//! The `{space}` (and `{id}`) of `/v1/spaces/{space}…` as validated ids.
//!
//! Like [`crate::device_path`], every rejection is answered with our
//! `{code, message}` body, and the raw strings are validated here so a
//! hostile id gets `bad_request` or `invalid_device_id`, never a routing
//! error.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use cairn_protocol::{DeviceId, ErrorCode, SpaceId};

use crate::ServerError;

/// The space named in the request path, and the device if the route has one.
pub struct SpacePath {
    pub space: SpaceId,
    pub device: Option<DeviceId>,
}

impl SpacePath {
    /// The device of a `/v1/spaces/{space}/devices/{id}/…` route.
    pub fn device(&self) -> Result<&DeviceId, ServerError> {
        self.device
            .as_ref()
            .ok_or_else(|| ServerError::Internal("a space route without {id}".to_owned()))
    }
}

impl<S> FromRequestParts<S> for SpacePath
where
    S: Send + Sync,
{
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| {
                if rejection.status().is_server_error() {
                    ServerError::Internal(rejection.body_text())
                } else {
                    ServerError::bad_request(ErrorCode::BadRequest, rejection.body_text())
                }
            })?;
        let space = raw
            .get("space")
            .ok_or_else(|| ServerError::Internal("a space route without {space}".to_owned()))?;
        let space = SpaceId::parse(space)?;
        let device = raw.get("id").map(|d| DeviceId::parse(d)).transpose()?;
        Ok(SpacePath { space, device })
    }
}
