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

use std::time::Duration;

use cairn_protocol::event::close_reason;
use cairn_protocol::ServiceEvent;
use futures_util::StreamExt;
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
    task: JoinHandle<()>,
}

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
        let (sender, receiver) = mpsc::channel(256);
        let task = tokio::spawn(run(ws_url.to_string(), access_token, sender));
        Ok(EventSubscription { receiver, task })
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

async fn run(url: String, access_token: impl Fn() -> String, sender: mpsc::Sender<StreamItem>) {
    let mut delays = reconnect_policy();
    loop {
        let (reason, token_refused) =
            match connect_and_forward(&url, &access_token(), &sender, &mut delays).await {
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
    delays: &mut backon::ExponentialBackoff,
) -> Result<(), Dropped> {
    let ws = |e: String| ClientError::WebSocket(e);
    let mut request = url.into_client_request().map_err(|e| ws(e.to_string()))?;
    let bearer =
        HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| ws(e.to_string()))?;
    request.headers_mut().insert("authorization", bearer);
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|e| Dropped {
            token_refused: matches!(&e, Error::Http(r) if r.status() == StatusCode::UNAUTHORIZED),
            error: ws(e.to_string()),
        })?;
    while let Some(message) = socket.next().await {
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
        let event: ServiceEvent = serde_json::from_str(text.as_str())
            .map_err(|e| ws(format!("unreadable event {text:?}: {e}")))?;
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
    Ok(())
}
