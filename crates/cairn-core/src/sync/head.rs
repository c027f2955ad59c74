//! A device's head: the small manifest it writes last, as the commit point
//! of every publish. It lists the live snapshot and log segments (sequence
//! number, slot, content hash, length) and how far this device has merged
//! each peer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::sync::object::ObjectError;

pub const HEAD_FORMAT: u32 = 1;

/// Where one published object lives and what it must hash to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    pub seq: u64,
    pub slot: u32,
    /// SHA-256 of the object's payload, hex.
    pub hash: String,
    pub len: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceHead {
    pub format: u32,
    pub device: String,
    /// The newest publish this head covers.
    pub seq: u64,
    /// Everything up to `snapshot.seq`, in one object.
    pub snapshot: Option<ObjectRef>,
    /// The snapshot's digest (`crate::sync::digest`), in the key paired
    /// with its slot; same sequence number. Absent in heads written
    /// before digests, and ignored by the devices that predate them
    /// (serde skips a field a struct does not name): they load the
    /// snapshot as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<ObjectRef>,
    /// Segments after the snapshot, oldest first.
    pub segments: Vec<ObjectRef>,
    /// Peer device id -> the peer's sequence number merged here.
    pub merged: BTreeMap<String, u64>,
    pub written_ms: i64,
}

impl DeviceHead {
    pub fn new(device: &str) -> DeviceHead {
        DeviceHead {
            format: HEAD_FORMAT,
            device: device.to_string(),
            seq: 0,
            snapshot: None,
            digest: None,
            segments: Vec::new(),
            merged: BTreeMap::new(),
            written_ms: 0,
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_json(bytes: &[u8]) -> Result<DeviceHead, ObjectError> {
        let head: DeviceHead = serde_json::from_slice(bytes)
            .map_err(|e| ObjectError::Malformed(format!("head: {e}")))?;
        if head.format != HEAD_FORMAT {
            return Err(ObjectError::Malformed(format!(
                "head format {} is not {HEAD_FORMAT}",
                head.format
            )));
        }
        let mut last = head.snapshot.as_ref().map(|s| s.seq).unwrap_or(0);
        for s in &head.segments {
            if s.seq <= last || s.seq > head.seq {
                return Err(ObjectError::Malformed("head segments out of order".into()));
            }
            if s.slot >= cairn_protocol::LOG_SLOTS {
                return Err(ObjectError::Malformed(format!(
                    "log slot {} out of range",
                    s.slot
                )));
            }
            last = s.seq;
        }
        if let Some(s) = &head.snapshot {
            if s.slot >= cairn_protocol::SNAPSHOT_SLOTS || s.seq > head.seq {
                return Err(ObjectError::Malformed("bad snapshot reference".into()));
            }
        }
        Ok(head)
    }

    /// The digest of the snapshot this head names, when it pairs with it
    /// (same sequence number, same slot); anything else is not used.
    pub fn snapshot_digest(&self) -> Option<&ObjectRef> {
        let (s, d) = (self.snapshot.as_ref()?, self.digest.as_ref()?);
        (s.seq == d.seq && s.slot == d.slot).then_some(d)
    }

    /// Total bytes of the live log.
    pub fn log_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.len).sum()
    }
}
