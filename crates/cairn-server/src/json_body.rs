//! JSON body extractors whose every rejection is a `{code, message}` 4xx,
//! unlike axum's plain-text ones: [`ApiJson`] for requests that carry
//! something, [`NoParameters`] for those that take nothing.

use axum::body::{Body, Bytes};
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

/// The body of a request that takes no parameters: none at all (what
/// clients send), or JSON `null` or `{}`. Anything else is refused as
/// [`ApiJson`] would refuse it (415 without a JSON content type, 413 past
/// the body limit, 400 for bad JSON or any other value), so a caller that
/// meant to say something learns it was not heard.
pub struct NoParameters;

impl<S> FromRequest<S> for NoParameters
where
    S: Send + Sync,
{
    type Rejection = ServerError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // Read it first (within the body limit, which travels in the
        // request's extensions): an empty body needs no content type.
        let (parts, body) = req.into_parts();
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|rejection| from_status(rejection.status(), rejection.body_text()))?;
        if bytes.is_empty() {
            return Ok(NoParameters);
        }
        let request = Request::from_parts(parts, Body::from(bytes));
        match ApiJson::<serde_json::Value>::from_request(request, state).await? {
            ApiJson(serde_json::Value::Null) => Ok(NoParameters),
            ApiJson(serde_json::Value::Object(fields)) if fields.is_empty() => Ok(NoParameters),
            ApiJson(_) => Err(ServerError::bad_request(
                ErrorCode::BadRequest,
                "this request takes no parameters: send no body, `{}` or `null`",
            )),
        }
    }
}

fn classify(rejection: JsonRejection) -> ServerError {
    from_status(rejection.status(), rejection.body_text())
}

fn from_status(status: StatusCode, message: String) -> ServerError {
    let code = match status {
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
