//! The in-memory hub that fans notifications out to the user's devices
//! connected to this instance. One broadcast channel per user with at
//! least one listener; nothing here survives a restart, and nothing needs
//! to: a device that reconnects polls the heads it may have missed.
//! Messages reach the hub through the event bus ([`crate::event_bus`]),
//! which carries them between instances.
//!
//! Besides the [`ServiceEvent`]s for the wire, the channel carries one
//! internal signal, [`HubMessage::SessionEnded`], so that a logout closes
//! that session's sockets at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cairn_protocol::{DeviceId, ServiceEvent, SpaceId, UserId};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// How many events a slow listener may fall behind before it skips some
/// (it then resyncs by polling, so skipping is safe).
const CHANNEL_CAPACITY: usize = 256;

/// What a user's sockets hear (and what the bus carries between
/// instances, as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HubMessage {
    /// One event, and the device that must not receive it (its origin).
    Event {
        skip: Option<DeviceId>,
        event: ServiceEvent,
    },
    /// The session signed out; never sent on the wire.
    SessionEnded { session_id: i64 },
    /// Sealed changes from device `from`, for the user's other sockets that
    /// asked for live events.
    Live { from: DeviceId, sealed: String },
    /// Sealed changes from `user`'s device `from` in shared space `space`,
    /// put on each current member's channel (the relay checked that the
    /// sender writes there).
    SpaceLive {
        space: SpaceId,
        user: UserId,
        from: DeviceId,
        sealed: String,
    },
}

#[derive(Default)]
pub struct EventHub {
    channels: Mutex<HashMap<UserId, broadcast::Sender<Arc<HubMessage>>>>,
}

impl EventHub {
    pub fn subscribe(&self, user: &UserId) -> broadcast::Receiver<Arc<HubMessage>> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        channels
            .entry(user.clone())
            .or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0)
            .subscribe()
    }

    /// The users with a socket on this instance.
    pub fn users(&self) -> Vec<UserId> {
        let channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        channels.keys().cloned().collect()
    }

    /// Delivers `message` to the user's sockets on this instance.
    pub fn send(&self, user: &UserId, message: HubMessage) {
        // A poisoned lock only means another thread panicked mid-insert; the
        // map itself is still usable.
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        let Some(sender) = channels.get(user) else {
            return;
        };
        if sender.send(Arc::new(message)).is_err() {
            // No listener left: drop the channel so idle users cost nothing.
            channels.remove(user);
        }
    }
}
