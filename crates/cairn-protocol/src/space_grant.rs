//! The answer to `POST /v1/spaces/{space}/devices/{id}/grant`: presigned
//! URLs for one device in one shared space.
//!
//! The calling device gets GETs for its own keys in the space, and PUTs for
//! them unless its user is a viewer; and GETs for each other member's
//! devices in the space. Members who were removed or left stay readable
//! (their objects up to their fence are part of the history), marked
//! `departed`. Nothing outside `spaces/{space}/` is presigned.

use serde::{Deserialize, Serialize};

use crate::{BlobUrls, DeviceId, ObjectUrls, SpaceId, SpaceRole, UserId};

/// Read access to another device's objects in the space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpacePeerGrant {
    pub user_id: UserId,
    pub device_id: DeviceId,
    /// `spaces/{space}/users/{user}/devices/{device}/`, for diagnostics.
    pub prefix: String,
    /// The member left or was removed: read only up to their fence.
    #[serde(default)]
    pub departed: bool,
    /// The newest head the device reported publishing in the space: what
    /// the owner's fence names when this member leaves or is removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_seq: Option<u64>,
    pub get: ObjectUrls,
    pub blob_get: BlobUrls,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpaceGrant {
    pub space_id: SpaceId,
    pub user_id: UserId,
    pub device_id: DeviceId,
    pub role: SpaceRole,
    pub issued_at: i64,
    pub expires_at: i64,
    pub prefix: String,
    /// Write this device's keys in the space; `None` for a viewer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub put: Option<ObjectUrls>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob_put: Option<BlobUrls>,
    /// Read this device's own keys in the space back.
    pub get: ObjectUrls,
    pub blob_get: BlobUrls,
    pub peers: Vec<SpacePeerGrant>,
    /// The newest head this device reported publishing in the space: its
    /// own entry in the fence when its user leaves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_seq: Option<u64>,
}
