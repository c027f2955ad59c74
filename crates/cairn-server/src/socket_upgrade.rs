//! axum's `WebSocketUpgrade`, with its rejections (a plain GET without the
//! upgrade headers, a wrong WebSocket version) answered as our
//! `{code, message}` 426 instead of axum's plain text.

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::ServerError;

/// A request that asked to become a WebSocket.
pub struct SocketUpgrade(pub WebSocketUpgrade);

impl<S> FromRequestParts<S> for SocketUpgrade
where
    S: Send + Sync,
{
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        WebSocketUpgrade::from_request_parts(parts, state)
            .await
            .map(SocketUpgrade)
            .map_err(|rejection| ServerError::WebSocketRequired(rejection.body_text()))
    }
}
