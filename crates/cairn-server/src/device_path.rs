//! The `{id}` of `/v1/devices/{id}…` as a validated [`DeviceId`].
//!
//! axum's `Path` answers its own rejections in plain text (an id that is
//! invalid UTF-8 once percent-decoded, like `%FF`, gets a text/plain 400),
//! so this extractor wraps it and answers every rejection with our
//! `{code, message}` body. The id is taken as a plain string first and
//! validated here, so a hostile id gets `invalid_device_id` rather than a
//! routing error.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use cairn_protocol::{DeviceId, ErrorCode};

use crate::ServerError;

/// The device named in the request path.
pub struct DevicePath(pub DeviceId);

impl<S> FromRequestParts<S> for DevicePath
where
    S: Send + Sync,
{
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| {
                // A 5xx here means a route without `{id}` uses this
                // extractor: our bug, not the caller's.
                if rejection.status().is_server_error() {
                    ServerError::Internal(rejection.body_text())
                } else {
                    ServerError::bad_request(ErrorCode::InvalidDeviceId, rejection.body_text())
                }
            })?;
        Ok(DevicePath(DeviceId::parse(&raw)?))
    }
}
