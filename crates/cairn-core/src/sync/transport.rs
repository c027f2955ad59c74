//! What the sync engine needs from object storage: put this device's keys,
//! get anyone's with an optional ETag. The runner implements it with HTTP
//! through a grant's presigned URLs; tests implement it in memory.

use cairn_protocol::DeviceKey;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The ETag matched: nothing changed since the last read.
    NotModified,
    /// No such object (the device has not published yet).
    Missing,
    Found {
        body: Vec<u8>,
        etag: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// The grant expired or was revoked: sign in again.
    Unauthorized,
    /// No connection, or no answer in time: this device is offline (or
    /// storage is unreachable from it). Try again later.
    Offline,
    /// Storage answered with a 5xx or a 429, or cut a body short: try
    /// again later.
    Unavailable,
    /// Anything else the store said no to.
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TransportError {
    pub kind: TransportErrorKind,
    pub message: String,
}

impl TransportError {
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        TransportError {
            kind,
            message: message.into(),
        }
    }
}

pub trait Transport {
    /// Writes one of this device's own objects.
    fn put(&mut self, key: DeviceKey, body: Vec<u8>) -> Result<(), TransportError>;
    /// Reads an object of `device` (this one or a peer).
    fn get(
        &mut self,
        device: &str,
        key: DeviceKey,
        if_none_match: Option<&str>,
    ) -> Result<Fetched, TransportError>;
}
