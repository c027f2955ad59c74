//! The event bus: how a change made through one instance reaches the
//! sockets held by every instance.
//!
//! With SQLite there is one instance, so [`LocalBus`] hands messages
//! straight to the hub. With PostgreSQL, [`PostgresBus`] also sends them
//! with `NOTIFY`, and each instance's listener hands what the others sent
//! to its own hub. Nothing on the bus is the only copy: the registry holds
//! every change, so a lost notification costs a device one poll.

mod postgres;

use std::sync::Arc;

use async_trait::async_trait;
use cairn_protocol::{DeviceId, ServiceEvent, UserId};

use crate::events::{EventHub, HubMessage};

pub use postgres::{PostgresBus, PostgresListener};

#[async_trait]
pub trait EventBus: Send + Sync {
    /// Delivers `message` to the sockets of `user` on every instance. A
    /// failure is logged rather than returned: the change it announces is
    /// in the registry already, and devices catch up from there.
    async fn publish(&self, user: &UserId, message: HubMessage);

    /// Sends `event` to the user's sockets except those of `skip`.
    async fn event(&self, user: &UserId, skip: Option<&DeviceId>, event: ServiceEvent) {
        let message = HubMessage::Event {
            skip: skip.cloned(),
            event,
        };
        self.publish(user, message).await;
    }

    /// Tells the user's sockets that `session_id` ended.
    async fn end_session(&self, user: &UserId, session_id: i64) {
        self.publish(user, HubMessage::SessionEnded { session_id })
            .await;
    }
}

/// One instance: the hub is the whole bus.
pub struct LocalBus {
    hub: Arc<EventHub>,
}

impl LocalBus {
    pub fn new(hub: Arc<EventHub>) -> LocalBus {
        LocalBus { hub }
    }
}

#[async_trait]
impl EventBus for LocalBus {
    async fn publish(&self, user: &UserId, message: HubMessage) {
        self.hub.send(user, message);
    }
}
