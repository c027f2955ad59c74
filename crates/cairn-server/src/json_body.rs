//! A JSON body extractor whose every rejection is a `{code, message}` 4xx,
//! unlike axum's plain-text ones.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use cairn_protocol::ErrorCode;
use serde::de::DeserializeOwned;

use crate::ServerError;

/// `axum::Json`, with errors the clients can read.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ServerError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(classify(rejection)),
        }
    }
}

fn classify(rejection: JsonRejection) -> ServerError {
    let message = rejection.body_text();
    let code = match rejection.status() {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::UNPROCESSABLE_ENTITY => data_error_code(&message),
        _ => ErrorCode::InvalidJson,
    };
    ServerError::bad_request(code, message)
}

/// Validated protocol types (device ids, names) fail inside serde, which
/// only passes on their message; recover the precise code from it.
fn data_error_code(message: &str) -> ErrorCode {
    if message.contains("invalid device id") {
        ErrorCode::InvalidDeviceId
    } else if message.contains("invalid device name") {
        ErrorCode::InvalidDeviceName
    } else if message.contains("invalid platform") {
        ErrorCode::InvalidPlatform
    } else {
        ErrorCode::BadRequest
    }
}
