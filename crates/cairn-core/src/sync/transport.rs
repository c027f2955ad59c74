//! What the sync engine needs from object storage: put this device's keys,
//! get anyone's with an optional ETag. The runner implements it with HTTP
//! through a grant's presigned URLs; tests implement it in memory.

use std::io::{BufReader, Read, Seek, SeekFrom};
use std::sync::Arc;

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
    /// Found, and written to a file as it arrived rather than held in
    /// memory: a runner may do this for a snapshot
    /// ([`cairn_protocol::DeviceKey::Snapshot`]) of the personal stream,
    /// which is as large as the account. The engine reads only its first
    /// bytes; the store reads the rest while it applies it.
    Spilled {
        body: Spill,
        etag: Option<String>,
    },
}

/// An object's bytes in an (unlinked) file of the runner's, with its first
/// bytes kept aside so its header can be checked without reading the file.
#[derive(Debug, Clone)]
pub struct Spill {
    file: Arc<std::fs::File>,
    len: u64,
    prefix: Vec<u8>,
}

/// Bytes of an object kept in memory beside its file: enough for any
/// header (`stream_object::STREAM_HEADER_LEN` is the longest).
pub const SPILL_PREFIX_LEN: usize = 128;

impl Spill {
    /// `file` holds the object's `len` bytes; its start is read back here.
    pub fn new(file: std::fs::File, len: u64) -> std::io::Result<Spill> {
        let mut prefix = Vec::with_capacity(SPILL_PREFIX_LEN);
        (&file).seek(SeekFrom::Start(0))?;
        (&file)
            .take(SPILL_PREFIX_LEN as u64)
            .read_to_end(&mut prefix)?;
        Ok(Spill {
            file: Arc::new(file),
            len,
            prefix,
        })
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The object's first bytes (all of it when it is short).
    pub fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// The object's bytes from the start.
    pub fn reader(&self) -> std::io::Result<BufReader<&std::fs::File>> {
        let mut f = &*self.file;
        f.seek(SeekFrom::Start(0))?;
        Ok(BufReader::with_capacity(1 << 16, f))
    }

    /// Up to `buf.len()` bytes at `offset`, without moving the file's
    /// position (an upload reads its chunks while nothing else does, but
    /// needs no lock for it): how many were read, 0 at the end.
    #[cfg(unix)]
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(&*self.file, buf, offset)
    }

    /// The whole object in memory (an older snapshot, sealed in one piece).
    pub fn read_all(&self) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.len as usize);
        self.reader()?.read_to_end(&mut out)?;
        Ok(out)
    }
}

/// What an upload sends: bytes in memory, or a file a snapshot was sealed
/// into as it was written (a snapshot is as large as the account, and is
/// never held whole in memory by its writer either).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Bytes(Vec<u8>),
    Spilled(Spill),
}

impl Body {
    pub fn len(&self) -> u64 {
        match self {
            Body::Bytes(b) => b.len() as u64,
            Body::Spilled(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first bytes (all of a short body): enough for any header.
    pub fn prefix(&self) -> &[u8] {
        match self {
            Body::Bytes(b) => &b[..b.len().min(SPILL_PREFIX_LEN)],
            Body::Spilled(s) => s.prefix(),
        }
    }

    /// The whole body in memory, for transports that keep objects there.
    pub fn into_bytes(self) -> std::io::Result<Vec<u8>> {
        match self {
            Body::Bytes(b) => Ok(b),
            Body::Spilled(s) => s.read_all(),
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Body {
        Body::Bytes(bytes)
    }
}

/// Two spills are equal when they are the same file.
impl PartialEq for Spill {
    fn eq(&self, other: &Spill) -> bool {
        Arc::ptr_eq(&self.file, &other.file)
    }
}

impl Eq for Spill {}

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
    fn put(&mut self, key: DeviceKey, body: Body) -> Result<(), TransportError>;
    /// Reads an object of `device` (this one or a peer).
    fn get(
        &mut self,
        device: &str,
        key: DeviceKey,
        if_none_match: Option<&str>,
    ) -> Result<Fetched, TransportError>;
}
