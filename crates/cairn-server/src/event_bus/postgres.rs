//! The event bus over PostgreSQL's LISTEN/NOTIFY.
//!
//! A message goes out as a small JSON payload on one channel: the sending
//! instance, the user, and the hub message (an event naming a device, or a
//! session that ended). The sender delivers to its own sockets at once and
//! its listener skips what it sent itself; every other instance's listener
//! hands the message to its hub.
//!
//! Each instance keeps one listener connection, apart from the handlers'
//! pool. When that connection drops, notifications sent meanwhile are lost
//! to this instance; so once it listens again, it tells its sockets to
//! resync: every connected user's sockets hear the last sequence each of
//! the user's devices reported (from the registry), and poll what they
//! missed.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backon::BackoffBuilder;
use cairn_protocol::{ServiceEvent, UserId};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::EventBus;
use crate::events::{EventHub, HubMessage};
use crate::registry::{DeviceStore, PostgresRegistry};
use crate::ServerError;

/// The NOTIFY channel.
const CHANNEL: &str = "cairn_events";

#[derive(Serialize, Deserialize)]
struct Payload {
    /// The instance that sent it.
    from: String,
    user: UserId,
    message: HubMessage,
}

pub struct PostgresBus {
    registry: Arc<PostgresRegistry>,
    hub: Arc<EventHub>,
    instance: String,
}

impl PostgresBus {
    pub fn new(registry: Arc<PostgresRegistry>, hub: Arc<EventHub>, instance: String) -> Self {
        PostgresBus {
            registry,
            hub,
            instance,
        }
    }
}

#[async_trait]
impl EventBus for PostgresBus {
    async fn publish(&self, user: &UserId, message: HubMessage) {
        let payload = Payload {
            from: self.instance.clone(),
            user: user.clone(),
            message,
        };
        let text = match serde_json::to_string(&payload) {
            Ok(text) => text,
            Err(e) => {
                tracing::error!(error = %e, "serializing a notification");
                return;
            }
        };
        self.hub.send(user, payload.message);
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(&text)
            .execute(self.registry.pool())
            .await;
        if let Err(e) = sent {
            tracing::warn!(
                error = %e,
                "a notification did not reach the other instances; their devices catch up at their next poll"
            );
        }
    }
}

/// This instance's listener, until the service stops.
pub struct PostgresListener {
    task: JoinHandle<()>,
}

impl PostgresListener {
    /// Listens before returning, so nothing sent after the service starts
    /// serving is missed; then relays notifications until `stopping`.
    pub async fn start(
        registry: Arc<PostgresRegistry>,
        hub: Arc<EventHub>,
        instance: String,
        stopping: watch::Receiver<bool>,
    ) -> Result<PostgresListener, ServerError> {
        let pool = registry.listener_pool();
        let listener = listen(&pool).await?;
        let relay = Relay {
            registry,
            hub,
            instance,
            pool,
        };
        let task = tokio::spawn(relay.run(listener, stopping));
        Ok(PostgresListener { task })
    }

    /// Waits for the listener to stop (after `stopping`).
    pub async fn stopped(self) {
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "event listener task");
        }
    }
}

async fn listen(pool: &sqlx::PgPool) -> Result<PgListener, ServerError> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

struct Relay {
    registry: Arc<PostgresRegistry>,
    hub: Arc<EventHub>,
    instance: String,
    pool: sqlx::PgPool,
}

impl Relay {
    async fn run(self, mut listener: PgListener, mut stopping: watch::Receiver<bool>) {
        loop {
            let next = tokio::select! {
                _ = stopping.wait_for(|stop| *stop) => return,
                next = listener.try_recv() => next,
            };
            match next {
                Ok(Some(notification)) => self.deliver(notification.payload()),
                // sqlx reconnected (and listens again) before saying so.
                Ok(None) => {
                    tracing::warn!("the event listener's connection dropped and is back");
                    self.resync().await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the event listener lost its connection");
                    drop(listener);
                    let Some(back) = self.reconnect(&mut stopping).await else {
                        return;
                    };
                    listener = back;
                    self.resync().await;
                }
            }
        }
    }

    fn deliver(&self, text: &str) {
        match serde_json::from_str::<Payload>(text) {
            Ok(payload) if payload.from == self.instance => {}
            Ok(payload) => self.hub.send(&payload.user, payload.message),
            Err(e) => tracing::warn!(error = %e, "an unreadable notification"),
        }
    }

    /// Listens again, retrying with growing delays; `None` if the service
    /// stops first.
    async fn reconnect(&self, stopping: &mut watch::Receiver<bool>) -> Option<PgListener> {
        let mut delays = backon::ExponentialBuilder::new()
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_secs(5))
            .with_jitter()
            .without_max_times()
            .build();
        loop {
            let attempt = tokio::select! {
                _ = stopping.wait_for(|stop| *stop) => return None,
                attempt = listen(&self.pool) => attempt,
            };
            match attempt {
                Ok(listener) => {
                    tracing::info!("the event listener listens again");
                    return Some(listener);
                }
                Err(e) => {
                    let delay = delays.next().unwrap_or(Duration::from_secs(5));
                    tracing::warn!(error = %e, ?delay, "the event listener could not reconnect");
                    tokio::select! {
                        _ = stopping.wait_for(|stop| *stop) => return None,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }

    /// Tells every connected user's sockets the last sequence each of the
    /// user's devices reported, since notifications of newer ones may have
    /// been lost.
    async fn resync(&self) {
        for user in self.hub.users() {
            let seqs = match self.registry.published_seqs(&user).await {
                Ok(seqs) => seqs,
                Err(e) => {
                    tracing::warn!(error = %e, "reading published sequences to resync sockets");
                    continue;
                }
            };
            for (device_id, seq) in seqs {
                let skip = Some(device_id.clone());
                let event = ServiceEvent::Published { device_id, seq };
                self.hub.send(&user, HubMessage::Event { skip, event });
            }
        }
    }
}
