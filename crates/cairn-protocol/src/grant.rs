//! The answer to `POST /v1/devices/{id}/grant`: presigned URLs for a
//! device's own keys (PUT and GET) and its peers' keys (GET only).

use serde::{Deserialize, Serialize};

use crate::{DeviceId, DeviceKey, DeviceName, Platform, UserId, LOG_SLOTS, SNAPSHOT_SLOTS};

/// One presigned URL for each of a device's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectUrls {
    pub head: String,
    /// Indexed by snapshot slot; `SNAPSHOT_SLOTS` entries.
    pub snapshot: Vec<String>,
    /// Indexed by log slot; `LOG_SLOTS` entries.
    pub log: Vec<String>,
}

impl ObjectUrls {
    /// Builds the set from a function that presigns one key.
    pub fn build<E>(mut url_for: impl FnMut(DeviceKey) -> Result<String, E>) -> Result<Self, E> {
        let head = url_for(DeviceKey::Head)?;
        let snapshot = DeviceKey::all()
            .filter(|k| matches!(k, DeviceKey::Snapshot(_)))
            .map(&mut url_for)
            .collect::<Result<Vec<_>, E>>()?;
        let log = DeviceKey::all()
            .filter(|k| matches!(k, DeviceKey::Log(_)))
            .map(&mut url_for)
            .collect::<Result<Vec<_>, E>>()?;
        Ok(ObjectUrls {
            head,
            snapshot,
            log,
        })
    }

    /// The URL for `key`, if the set is complete enough to have it.
    pub fn url(&self, key: DeviceKey) -> Option<&str> {
        match key {
            DeviceKey::Head => Some(self.head.as_str()),
            DeviceKey::Snapshot(s) => self.snapshot.get(s.get() as usize).map(String::as_str),
            DeviceKey::Log(s) => self.log.get(s.get() as usize).map(String::as_str),
        }
    }

    /// Whether every key has a URL (a grant from a peer could be short).
    pub fn is_complete(&self) -> bool {
        self.snapshot.len() == SNAPSHOT_SLOTS as usize && self.log.len() == LOG_SLOTS as usize
    }
}

/// Read access to one of the user's other devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerGrant {
    pub device_id: DeviceId,
    pub name: DeviceName,
    pub platform: Platform,
    /// `users/{user}/devices/{device}/`, for display and diagnostics.
    pub prefix: String,
    pub get: ObjectUrls,
}

/// Everything a device needs to sync until `expires_at` (Unix seconds)
/// without asking the service again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub user_id: UserId,
    pub device_id: DeviceId,
    pub issued_at: i64,
    pub expires_at: i64,
    pub prefix: String,
    /// Write this device's own keys.
    pub put: ObjectUrls,
    /// Read this device's own keys back (after losing local state).
    pub get: ObjectUrls,
    /// Every other non-revoked device of the same user.
    pub peers: Vec<PeerGrant>,
}
