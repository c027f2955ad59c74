//! The in-memory hub that fans notifications out to a user's connected
//! devices. One broadcast channel per user with at least one listener;
//! nothing here survives a restart, and nothing needs to: a device that
//! reconnects polls the heads it may have missed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cairn_protocol::{DeviceId, ServiceEvent, UserId};
use tokio::sync::broadcast;

/// How many events a slow listener may fall behind before it skips some
/// (it then resyncs by polling, so skipping is safe).
const CHANNEL_CAPACITY: usize = 256;

/// One event, and the device that must not receive it (its origin).
#[derive(Debug, Clone)]
pub struct HubMessage {
    pub skip: Option<DeviceId>,
    pub event: ServiceEvent,
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

    /// Sends `event` to the user's listeners except `skip`.
    pub fn publish(&self, user: &UserId, skip: Option<&DeviceId>, event: ServiceEvent) {
        // A poisoned lock only means another thread panicked mid-insert; the
        // map itself is still usable.
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        let Some(sender) = channels.get(user) else {
            return;
        };
        let message = Arc::new(HubMessage {
            skip: skip.cloned(),
            event,
        });
        if sender.send(message).is_err() {
            // No listener left: drop the channel so idle users cost nothing.
            channels.remove(user);
        }
    }
}
