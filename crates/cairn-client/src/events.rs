//! The live notification stream, kept open across drops.
//!
//! A background task connects to `GET /v1/events` (WebSocket, bearer
//! token), forwards each [`ServiceEvent`] to the subscriber, and when the
//! socket fails or closes, waits a delay from the reconnect policy
//! (`retry_policy.rs`) and connects again
//! with a freshly asked-for token. The subscriber sees `Connected` and
//! `Disconnected` markers, so it can poll peers' heads after a gap: events
//! sent while it was away are not replayed. Dropping the
//! [`EventSubscription`] stops the task.
//!
//! The socket also carries live changes both ways: it is opened with
//! `?live=1`, so peers' [`ServiceEvent::Live`] arrive like other events,
//! and [`EventSubscription::send_live`] sends this device's. A live message
//! is best effort (dropped when the socket is down or behind); the same
//! changes reach storage with the next publish.

use std::time::Duration;

use cairn_protocol::event::close_reason;
use cairn_protocol::{ClientMessage, ServiceEvent, SpaceId, LIVE_QUERY, MAX_CLIENT_MESSAGE};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::{Error, Message};

use crate::retry_policy::reconnect_policy;
use crate::ClientError;

/// What the subscriber receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamItem {
    /// Connected and subscribed: every later event will arrive.
    Connected,
    Event(ServiceEvent),
    /// The socket dropped; a reconnect follows after `retry_in`.
    Disconnected {
        reason: String,
        retry_in: Duration,
        /// The service judged the access token expired (it closed the
        /// socket saying so, or refused the token with a 401): the
        /// reconnect needs a fresh one.
        token_refused: bool,
    },
}

pub struct EventSubscription {
    receiver: mpsc::Receiver<StreamItem>,
    outgoing: mpsc::Sender<String>,
    task: JoinHandle<()>,
}

/// Live messages waiting for the socket; more are dropped, not queued.
const OUTGOING_CAPACITY: usize = 64;

impl EventSubscription {
    pub(crate) fn spawn(
        http_url: url::Url,
        access_token: impl Fn() -> String + Send + Sync + 'static,
    ) -> Result<Self, ClientError> {
        let mut ws_url = http_url;
        let scheme = if ws_url.scheme() == "https" {
            "wss"
        } else {
            "ws"
        };
        ws_url
            .set_scheme(scheme)
            .map_err(|()| ClientError::WebSocket(format!("cannot use {ws_url} as a socket URL")))?;
        ws_url.set_query(Some(LIVE_QUERY));
        let (sender, receiver) = mpsc::channel(256);
        let (outgoing, outgoing_rx) = mpsc::channel(OUTGOING_CAPACITY);
        let task = tokio::spawn(run(ws_url.to_string(), access_token, sender, outgoing_rx));
        Ok(EventSubscription {
            receiver,
            outgoing,
            task,
        })
    }

    /// Sends changes this device made (sealed, base64) to the user's other
    /// devices. False when it was not sent: too big for the socket, or the
    /// socket is down or behind; the next publish carries the changes.
    pub fn send_live(&self, sealed: String) -> bool {
        self.send(&ClientMessage::Live { sealed })
    }

    /// Sends changes this device made to notes of shared space `space_id`
    /// (sealed with its epoch key, base64) to the members' devices. False
    /// when it was not sent, as for [`EventSubscription::send_live`].
    pub fn send_space_live(&self, space_id: SpaceId, sealed: String) -> bool {
        self.send(&ClientMessage::SpaceLive { space_id, sealed })
    }

    fn send(&self, message: &ClientMessage) -> bool {
        let Ok(text) = serde_json::to_string(message) else {
            return false;
        };
        text.len() <= MAX_CLIENT_MESSAGE && self.outgoing.try_send(text).is_ok()
    }

    /// The next item; `None` once the subscription has stopped.
    pub async fn next(&mut self) -> Option<StreamItem> {
        self.receiver.recv().await
    }

    /// The next service event, skipping connection markers.
    pub async fn next_event(&mut self) -> Option<ServiceEvent> {
        loop {
            match self.next().await? {
                StreamItem::Event(e) => return Some(e),
                StreamItem::Connected | StreamItem::Disconnected { .. } => {}
            }
        }
    }
}

impl Drop for EventSubscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(
    url: String,
    access_token: impl Fn() -> String,
    sender: mpsc::Sender<StreamItem>,
    mut outgoing: mpsc::Receiver<String>,
) {
    let mut delays = reconnect_policy();
    loop {
        // What waited for a socket is old news by now: the publish has it.
        while outgoing.try_recv().is_ok() {}
        let (reason, token_refused) =
            match connect_and_forward(&url, &access_token(), &sender, &mut outgoing, &mut delays)
                .await
            {
                Ok(()) => ("closed by the service".to_owned(), false),
                Err(dropped) => (dropped.error.to_string(), dropped.token_refused),
            };
        if sender.is_closed() {
            return;
        }
        // The policy has no end; the cap is the fallback all the same.
        let retry_in = delays.next().unwrap_or(Duration::from_secs(30));
        let item = StreamItem::Disconnected {
            reason,
            retry_in,
            token_refused,
        };
        if sender.send(item).await.is_err() {
            return;
        }
        tokio::time::sleep(retry_in).await;
    }
}

/// Why a connection ended badly.
struct Dropped {
    error: ClientError,
    token_refused: bool,
}

impl From<ClientError> for Dropped {
    fn from(error: ClientError) -> Self {
        Dropped {
            error,
            token_refused: false,
        }
    }
}

async fn connect_and_forward(
    url: &str,
    token: &str,
    sender: &mpsc::Sender<StreamItem>,
    outgoing: &mut mpsc::Receiver<String>,
    delays: &mut backon::ExponentialBackoff,
) -> Result<(), Dropped> {
    let ws = |e: String| ClientError::WebSocket(e);
    let mut request = url.into_client_request().map_err(|e| ws(e.to_string()))?;
    let bearer =
        HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| ws(e.to_string()))?;
    request.headers_mut().insert("authorization", bearer);
    // Nagle off: a live change is one small frame, and it must not wait
    // for the ACK of the frame before it.
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(request, None, true)
        .await
        .map_err(|e| Dropped {
            token_refused: matches!(&e, Error::Http(r) if r.status() == StatusCode::UNAUTHORIZED),
            error: ws(e.to_string()),
        })?;
    loop {
        let message = tokio::select! {
            message = socket.next() => match message {
                Some(message) => message,
                None => return Ok(()),
            },
            Some(text) = outgoing.recv() => {
                socket
                    .send(Message::text(text))
                    .await
                    .map_err(|e| ws(e.to_string()))?;
                continue;
            }
        };
        let text = match message.map_err(|e| ws(e.to_string()))? {
            Message::Text(text) => text,
            // The service says why it closes ("session expired", "device
            // revoked"): pass that on, so the subscriber can act on it.
            Message::Close(Some(frame)) if !frame.reason.is_empty() => {
                return Err(Dropped {
                    token_refused: frame.reason.as_str() == close_reason::SESSION_EXPIRED,
                    error: ws(format!("closed by the service: {}", frame.reason)),
                });
            }
            Message::Close(_) => return Ok(()),
            // tungstenite answers pings itself.
            _ => continue,
        };
        let event: ServiceEvent = match serde_json::from_str(text.as_str()) {
            Ok(event) => event,
            // A newer service may send events this version does not know:
            // they are skipped, not a reason to drop the socket.
            Err(_) if is_unknown_kind(text.as_str()) => continue,
            Err(e) => return Err(ws(format!("unreadable event {text:?}: {e}")).into()),
        };
        let item = match event {
            ServiceEvent::Subscribed { .. } => {
                // Connected: the next drop starts small again.
                *delays = reconnect_policy();
                StreamItem::Connected
            }
            other => StreamItem::Event(other),
        };
        if sender.send(item).await.is_err() {
            return Ok(());
        }
    }
}

/// Whether `text` is an event this version cannot read but a newer one
/// could (a JSON object with a `type`: a new kind, or a known kind in a
/// newer shape), rather than a broken message.
fn is_unknown_kind(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
        .is_some()
}
