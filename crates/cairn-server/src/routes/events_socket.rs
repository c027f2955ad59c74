//! `GET /v1/events`: a WebSocket carrying [`ServiceEvent`]s as JSON text.
//!
//! 1. The upgrade request is authenticated like any other (bearer header or
//!    `?access_token=`).
//! 2. The socket subscribes to the user's channel, then sends `subscribed`:
//!    every event after that message reaches this socket.
//! 3. Events whose origin is this session's device are not echoed back.
//! 4. A ping every 20 s keeps idle proxies from closing the socket; the
//!    socket ends when the client closes it or stops reading.
//!
//! A listener that falls too far behind skips events rather than blocking
//! others; its next poll of the peers' heads catches up.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use cairn_protocol::ServiceEvent;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::broadcast;

use crate::auth::Caller;
use crate::events::HubMessage;
use crate::state::AppState;

const PING_EVERY: Duration = Duration::from_secs(20);

pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    upgrade: WebSocketUpgrade,
) -> Response {
    // Subscribe before the upgrade completes so that nothing published
    // after the client sees `subscribed` can be lost.
    let receiver = state.hub.subscribe(&caller.user_id);
    let stopping = state.stopping.clone();
    upgrade.on_upgrade(move |socket| serve_socket(socket, caller, receiver, stopping))
}

async fn serve_socket(
    socket: WebSocket,
    caller: Caller,
    mut receiver: broadcast::Receiver<Arc<HubMessage>>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let (mut sink, mut stream) = socket.split();
    let hello = ServiceEvent::Subscribed {
        device_id: caller.device_id.clone(),
    };
    if send_event(&mut sink, &hello).await.is_err() {
        return;
    }
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            message = receiver.recv() => match message {
                Ok(message) => {
                    if message.skip.is_some() && message.skip == caller.device_id {
                        continue;
                    }
                    if send_event(&mut sink, &message.event).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(skipped)) => {
                    tracing::debug!(skipped, "event listener lagged");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                // Pongs and anything the client says are ignored; the
                // socket is one-way.
                Some(Ok(_)) => {}
            },
            _ = stopping.changed() => {
                // Best effort: the client reconnects either way.
                if sink.send(Message::Close(None)).await.is_err() {
                    tracing::debug!("socket gone before close");
                }
                return;
            }
            _ = ping.tick() => {
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn send_event<S>(sink: &mut S, event: &ServiceEvent) -> Result<(), ()>
where
    S: futures_util::Sink<Message> + Unpin,
{
    let text = match serde_json::to_string(event) {
        Ok(text) => text,
        Err(e) => {
            tracing::error!(error = %e, "serializing an event");
            return Err(());
        }
    };
    sink.send(Message::Text(Utf8Bytes::from(text)))
        .await
        .map_err(|_| ())
}
