//! One log line per request, and a request id on everything logged while
//! it runs.
//!
//! The id comes from the reverse proxy's `X-Request-Id` when that is a
//! short plain token, so the proxy's log and ours can be joined; otherwise
//! it is made here. It is sent back in `X-Request-Id`. Only the path is
//! logged, never the query: the event socket may carry its access token
//! there. Headers and bodies (tokens, keys) are never logged.

use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::tokens::new_id;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The longest request id taken from a proxy.
const MAX_FORWARDED_ID: usize = 64;

pub async fn log_request(request: Request, next: Next) -> Response {
    let id = forwarded_id(&request).unwrap_or_else(|| new_id(12));
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| tracing::info!(status, ms, "served"));
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

fn forwarded_id(request: &Request) -> Option<String> {
    let value = request.headers().get(REQUEST_ID_HEADER)?.to_str().ok()?;
    let plain = !value.is_empty()
        && value.len() <= MAX_FORWARDED_ID
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    plain.then(|| value.to_owned())
}
