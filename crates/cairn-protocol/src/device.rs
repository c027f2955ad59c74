//! Device registry bodies: register, list, rename, revoke, published.

use serde::{Deserialize, Serialize};

use crate::{DeviceId, DeviceName, Platform};

/// A device as the registry knows it. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub id: DeviceId,
    pub name: DeviceName,
    pub platform: Platform,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl Device {
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// Body of `POST /v1/devices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterDeviceRequest {
    pub name: DeviceName,
    pub platform: Platform,
}

/// Body of `PATCH /v1/devices/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenameDeviceRequest {
    pub name: DeviceName,
}

/// Body of `POST /v1/devices/{id}/published`: the device has committed the
/// head with this sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedRequest {
    pub seq: u64,
}
