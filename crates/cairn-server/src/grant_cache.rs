//! Serialized grants, reused while nothing they depend on has changed.
//!
//! A grant is ~160 KB of JSON (about 400 URLs for a user with 5 devices).
//! Its content depends only on the device, the issue window, and the
//! user's live peers (ids, names, platforms), so the bytes built for one
//! request serve every later one with the same inputs. A rename, join or
//! revocation changes the peer list and so misses the cache; a new window
//! replaces the entry. One entry per device keeps memory bounded by the
//! number of devices. A disabled cache (`cache_grants = false`) keeps
//! nothing, so every grant is built afresh.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;
use cairn_protocol::{Device, DeviceId, UserId};

/// What a cached grant was built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantInputs {
    pub issued_at: i64,
    /// (id, name, platform) of each live peer, in registry order.
    pub peers: Vec<(String, String, String)>,
}

impl GrantInputs {
    pub fn new(issued_at: i64, peers: &[Device]) -> Self {
        GrantInputs {
            issued_at,
            peers: peers
                .iter()
                .map(|d| (d.id.to_string(), d.name.to_string(), d.platform.to_string()))
                .collect(),
        }
    }
}

pub struct GrantCache {
    enabled: bool,
    entries: Mutex<HashMap<(UserId, DeviceId), (GrantInputs, Bytes)>>,
}

/// Past this many entries the cache starts over rather than grow.
const MAX_ENTRIES: usize = 100_000;

impl GrantCache {
    pub fn new(enabled: bool) -> GrantCache {
        GrantCache {
            enabled,
            entries: Mutex::default(),
        }
    }

    pub fn get(&self, user: &UserId, device: &DeviceId, inputs: &GrantInputs) -> Option<Bytes> {
        if !self.enabled {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get(&(user.clone(), device.clone())) {
            Some((cached, bytes)) if cached == inputs => Some(bytes.clone()),
            _ => None,
        }
    }

    pub fn put(&self, user: &UserId, device: &DeviceId, inputs: GrantInputs, bytes: Bytes) {
        if !self.enabled {
            return;
        }
        // A poisoned lock only means a panic elsewhere mid-insert; the map
        // is still consistent enough for a cache.
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert((user.clone(), device.clone()), (inputs, bytes));
    }
}
