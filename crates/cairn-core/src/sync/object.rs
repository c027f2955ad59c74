//! The envelope of every object a device writes to storage.
//!
//! ```text
//! offset  size  field
//! 0       4     magic "CRNO"
//! 4       1     format version (1)
//! 5       1     kind: 1 head, 2 snapshot, 3 log segment, 4 live, 5 digest
//! 6       1     flags: bit 0 = payload sealed (end-to-end encrypted)
//! 7       1     reserved, 0
//! 8       8     sequence number (u64 LE) of the publish that wrote it
//! 16      4     payload length (u32 LE)
//! 20      32    SHA-256 of the payload
//! 52      ..    payload
//! ```
//!
//! Version 2 is the same header followed by the shared space the object
//! belongs to and the epoch whose key sealed it; it is always sealed, with
//! associated data of its own (`crate::space::object_ad`):
//!
//! ```text
//! 52      16    space id
//! 68      8     epoch (u64 LE)
//! 76      ..    payload
//! ```
//!
//! Version 3 is sealed in chunks, so that it can be opened a chunk at a
//! time (`crate::sync::stream_object`, where its layout is); the personal
//! stream's snapshots use it. Decoded here whole, its epoch 0 (the
//! content key) reads as a version 1 object's binding (none), later
//! epochs as a version 2 one's.
//!
//! Heads and segments are written as version 1 (version 2 in shared
//! spaces and after a rotation); readers take all three. Any other
//! version is a newer Cairn's ([`ObjectError::UnknownVersion`]).
//!
//! Objects are self-describing and self-checking: a truncated, corrupt or
//! foreign object fails here, before anything touches the store.

use sha2::{Digest, Sha256};

use crate::space::epoch::{Epoch, SpaceId, SPACE_ID_LEN};

pub const MAGIC: [u8; 4] = *b"CRNO";
pub const FORMAT_VERSION: u8 = 1;
pub const HEADER_LEN: usize = 52;
/// The format of a shared space's objects.
pub const SPACE_FORMAT_VERSION: u8 = 2;
pub const SPACE_HEADER_LEN: usize = HEADER_LEN + SPACE_ID_LEN + 8;
/// Flags bit 0: the payload is sealed.
pub const FLAG_SEALED: u8 = 1;
/// Objects larger than this are refused outright (a hostile peer could
/// otherwise make us allocate without bound).
pub const MAX_PAYLOAD: usize = 1 << 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Head = 1,
    Snapshot = 2,
    Segment = 3,
    /// Changes relayed over the service's socket, never stored (`live.rs`).
    Live = 4,
    /// The note states a snapshot's documents hold (`digest.rs`).
    Digest = 5,
}

impl ObjectKind {
    pub(crate) fn from_byte(b: u8) -> Option<ObjectKind> {
        match b {
            1 => Some(ObjectKind::Head),
            2 => Some(ObjectKind::Snapshot),
            3 => Some(ObjectKind::Segment),
            4 => Some(ObjectKind::Live),
            5 => Some(ObjectKind::Digest),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObjectError {
    #[error("object is truncated ({len} bytes, header needs {HEADER_LEN})")]
    TooShort { len: usize },
    #[error("object is not a Cairn object (bad magic bytes)")]
    BadMagic,
    #[error("a device of yours runs a newer Cairn (object format {found}): update Cairn to keep syncing")]
    UnknownVersion { found: u8 },
    #[error(
        "object uses features of a newer Cairn (flags {found:#04x}); upgrade Cairn to read it"
    )]
    UnknownFlags { found: u8 },
    #[error("object has unknown kind {found}")]
    UnknownKind { found: u8 },
    #[error("expected a {expected:?} object, found a {found:?}")]
    WrongKind {
        expected: ObjectKind,
        found: ObjectKind,
    },
    #[error("object length does not match its header (header says {declared} bytes of payload, found {found})")]
    LengthMismatch { declared: usize, found: usize },
    #[error("object payload does not match its checksum (corrupt or tampered)")]
    HashMismatch,
    #[error("object is end-to-end encrypted and this device has no key to open it (enter the passphrase or recovery key)")]
    Sealed,
    #[error("object is not encrypted, but this account's objects must be: refusing it")]
    NotSealed,
    #[error("{0}")]
    Crypto(#[from] crate::crypto::CryptoError),
    #[error("object payload is malformed: {0}")]
    Malformed(String),
    #[error("object belongs to a shared space, not to this account's own notes")]
    SpaceObject,
    #[error("object belongs to another space ({found}) than where it was found")]
    WrongSpace { found: SpaceId },
    #[error("object is sealed with the key of epoch {epoch} of its space, which this device does not have")]
    NoEpochKey { epoch: u64 },
    #[error("a device was removed from your account and your notes have a new key since (epoch {epoch}), which this device does not have: enter your passphrase to keep syncing")]
    NoPersonalKey { epoch: u64 },
}

/// Where a version 2 object belongs: its space and the epoch of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpaceBinding {
    pub space: SpaceId,
    pub epoch: Epoch,
}

/// A checked object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub kind: ObjectKind,
    pub seq: u64,
    pub sealed: bool,
    pub hash: [u8; 32],
    /// Version 2, and version 3 past epoch 0.
    pub space: Option<SpaceBinding>,
    /// Version 3: how the payload is cut into chunks.
    pub chunks: Option<ChunkLayout>,
    pub payload: Vec<u8>,
}

/// How a version 3 object's payload is cut (`crate::sync::stream_object`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLayout {
    pub chunk_len: u32,
    pub nonce_prefix: [u8; crate::sync::stream_object::NONCE_PREFIX_LEN],
}

impl Object {
    /// The bytes this object was decoded from.
    pub fn encode(&self) -> Vec<u8> {
        if let Some(chunks) = &self.chunks {
            return crate::sync::stream_object::frame(self, chunks);
        }
        match &self.space {
            None => encode(self.kind, self.seq, self.sealed, &self.payload),
            Some(b) => encode_space(self.kind, self.seq, *b, &self.payload),
        }
    }

    pub fn hash_hex(&self) -> String {
        hex::encode(self.hash)
    }
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn header(version: u8, kind: ObjectKind, seq: u64, sealed: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(SPACE_HEADER_LEN + payload.len());
    out.extend_from_slice(&MAGIC);
    out.push(version);
    out.push(kind as u8);
    out.push(u8::from(sealed));
    out.push(0);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&sha256(payload));
    out
}

pub fn encode(kind: ObjectKind, seq: u64, sealed: bool, payload: &[u8]) -> Vec<u8> {
    encode_owned(kind, seq, sealed, payload.to_vec())
}

/// `encode`, putting the header in front of the payload's own buffer.
pub fn encode_owned(kind: ObjectKind, seq: u64, sealed: bool, mut payload: Vec<u8>) -> Vec<u8> {
    let head = header(FORMAT_VERSION, kind, seq, sealed, &payload);
    payload.splice(0..0, head);
    payload
}

/// A version 2 object: `payload` is already sealed with the epoch's key.
pub fn encode_space(kind: ObjectKind, seq: u64, binding: SpaceBinding, payload: &[u8]) -> Vec<u8> {
    encode_space_owned(kind, seq, binding, payload.to_vec())
}

/// `encode_space`, putting the header in front of the payload's buffer.
pub fn encode_space_owned(
    kind: ObjectKind,
    seq: u64,
    binding: SpaceBinding,
    mut payload: Vec<u8>,
) -> Vec<u8> {
    let mut head = header(SPACE_FORMAT_VERSION, kind, seq, true, &payload);
    head.extend_from_slice(binding.space.as_bytes());
    head.extend_from_slice(&binding.epoch.0.to_le_bytes());
    payload.splice(0..0, head);
    payload
}

/// The hash an encoded object will carry (of its payload), hex.
pub fn encoded_hash_hex(encoded: &[u8]) -> String {
    hex::encode(encoded.get(20..52).unwrap_or_default())
}

pub fn decode(bytes: &[u8]) -> Result<Object, ObjectError> {
    let (mut obj, header_len) = decode_header(bytes)?;
    obj.payload = bytes[header_len..].to_vec();
    Ok(obj)
}

/// `decode`, keeping the bytes it is given as the payload (the header is
/// cut off the front) rather than copying them: a large snapshot is held
/// once, not twice, while it is checked.
pub fn decode_owned(mut bytes: Vec<u8>) -> Result<Object, ObjectError> {
    let (mut obj, header_len) = decode_header(&bytes)?;
    bytes.drain(..header_len);
    obj.payload = bytes;
    Ok(obj)
}

/// Checks an encoded object whole (header, length, hash): the object with
/// an empty payload, and where its payload starts.
fn decode_header(bytes: &[u8]) -> Result<(Object, usize), ObjectError> {
    if bytes.len() < HEADER_LEN {
        return Err(ObjectError::TooShort { len: bytes.len() });
    }
    if bytes[..4] != MAGIC {
        return Err(ObjectError::BadMagic);
    }
    if bytes[4] == crate::sync::stream_object::STREAM_FORMAT_VERSION {
        return crate::sync::stream_object::decode_header_whole(bytes);
    }
    let header_len = match bytes[4] {
        FORMAT_VERSION => HEADER_LEN,
        SPACE_FORMAT_VERSION => SPACE_HEADER_LEN,
        found => return Err(ObjectError::UnknownVersion { found }),
    };
    if bytes.len() < header_len {
        return Err(ObjectError::TooShort { len: bytes.len() });
    }
    let (kind, sealed) = kind_and_flags(bytes)?;
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&bytes[8..16]);
    let mut len = [0u8; 4];
    len.copy_from_slice(&bytes[16..20]);
    let declared = u32::from_le_bytes(len) as usize;
    let space = if header_len == SPACE_HEADER_LEN {
        if !sealed {
            return Err(ObjectError::NotSealed);
        }
        let mut id = [0u8; SPACE_ID_LEN];
        id.copy_from_slice(&bytes[HEADER_LEN..HEADER_LEN + SPACE_ID_LEN]);
        let mut epoch = [0u8; 8];
        epoch.copy_from_slice(&bytes[HEADER_LEN + SPACE_ID_LEN..SPACE_HEADER_LEN]);
        Some(SpaceBinding {
            space: SpaceId::from_bytes(id),
            epoch: Epoch(u64::from_le_bytes(epoch)),
        })
    } else {
        None
    };
    let payload = &bytes[header_len..];
    if declared > MAX_PAYLOAD || payload.len() != declared {
        return Err(ObjectError::LengthMismatch {
            declared,
            found: payload.len(),
        });
    }
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&bytes[20..52]);
    if sha256(payload) != hash {
        return Err(ObjectError::HashMismatch);
    }
    Ok((
        Object {
            kind,
            seq: u64::from_le_bytes(seq),
            sealed,
            hash,
            space,
            chunks: None,
            payload: Vec::new(),
        },
        header_len,
    ))
}

/// The kind and the sealed flag of a header at least 8 bytes long, of
/// any version.
pub(crate) fn kind_and_flags(bytes: &[u8]) -> Result<(ObjectKind, bool), ObjectError> {
    let kind =
        ObjectKind::from_byte(bytes[5]).ok_or(ObjectError::UnknownKind { found: bytes[5] })?;
    // Flags this version does not know are a newer writer's: refuse them
    // rather than misread the payload. The reserved byte must be zero, so
    // every accepted object encodes back to exactly its bytes (the header
    // is outside the hash, and storage must not be able to vary it).
    if bytes[6] & !FLAG_SEALED != 0 {
        return Err(ObjectError::UnknownFlags { found: bytes[6] });
    }
    if bytes[7] != 0 {
        return Err(ObjectError::Malformed(
            "the reserved header byte is not zero".into(),
        ));
    }
    Ok((kind, bytes[6] & FLAG_SEALED == FLAG_SEALED))
}

/// Encodes an object, sealing its payload when there is a key. The seal
/// binds it to `device`, its object key, its kind and `seq`.
pub fn encode_for(
    kind: ObjectKind,
    seq: u64,
    device: &str,
    object_key: &str,
    key: Option<&crate::crypto::ContentKey>,
    payload: &[u8],
) -> Vec<u8> {
    encode_for_owned(kind, seq, device, object_key, key, payload.to_vec())
}

/// `encode_for`, sealing and framing in the payload's own buffer.
pub fn encode_for_owned(
    kind: ObjectKind,
    seq: u64,
    device: &str,
    object_key: &str,
    key: Option<&crate::crypto::ContentKey>,
    payload: Vec<u8>,
) -> Vec<u8> {
    match key {
        Some(k) => {
            let aad = crate::crypto::object_aad(device, object_key, kind as u8, seq);
            encode_owned(kind, seq, true, k.seal_owned(&aad, payload))
        }
        None => encode_owned(kind, seq, false, payload),
    }
}

/// The plaintext payload of a checked object, opening it when sealed.
/// With a key, unsealed objects are refused: storage could otherwise slip
/// in plaintext objects of its own.
pub fn plaintext(
    obj: &Object,
    device: &str,
    object_key: &str,
    key: Option<&crate::crypto::ContentKey>,
) -> Result<Vec<u8>, ObjectError> {
    plaintext_owned(obj.clone(), device, object_key, key)
}

/// `plaintext`, opening the payload in place.
pub fn plaintext_owned(
    obj: Object,
    device: &str,
    object_key: &str,
    key: Option<&crate::crypto::ContentKey>,
) -> Result<Vec<u8>, ObjectError> {
    if obj.space.is_some() {
        return Err(ObjectError::SpaceObject);
    }
    if obj.chunks.is_some() {
        return crate::sync::stream_object::open_whole(obj, device, object_key, key);
    }
    match (obj.sealed, key) {
        (true, Some(k)) => {
            let aad = crate::crypto::object_aad(device, object_key, obj.kind as u8, obj.seq);
            Ok(k.open_owned(&aad, obj.payload)?)
        }
        (true, None) => Err(ObjectError::Sealed),
        (false, Some(_)) => Err(ObjectError::NotSealed),
        (false, None) => Ok(obj.payload),
    }
}

pub fn decode_kind(bytes: &[u8], expected: ObjectKind) -> Result<Object, ObjectError> {
    let obj = decode(bytes)?;
    if obj.kind != expected {
        return Err(ObjectError::WrongKind {
            expected,
            found: obj.kind,
        });
    }
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_in_place_reads_what_decoding_a_copy_reads() {
        let key = crate::crypto::ContentKey::generate();
        let enc = encode_for(
            ObjectKind::Snapshot,
            3,
            "d1",
            "snapshot/0",
            Some(&key),
            b"notes",
        );
        let owned = decode_owned(enc.clone()).unwrap();
        assert_eq!(owned, decode(&enc).unwrap());
        let opened = plaintext_owned(owned.clone(), "d1", "snapshot/0", Some(&key)).unwrap();
        assert_eq!(opened, b"notes");
        // Bound to its place, and whole: a wrong place or a flipped bit
        // does not open in place either.
        assert!(plaintext_owned(owned.clone(), "d2", "snapshot/0", Some(&key)).is_err());
        let mut flipped = owned;
        let last = flipped.payload.len() - 1;
        flipped.payload[last] ^= 1;
        assert!(plaintext_owned(flipped, "d1", "snapshot/0", Some(&key)).is_err());
        for cut in [0, HEADER_LEN - 1, enc.len() - 1] {
            assert!(decode_owned(enc[..cut].to_vec()).is_err());
        }
    }

    #[test]
    fn round_trip_and_every_corruption_is_caught() {
        let enc = encode(ObjectKind::Segment, 7, false, b"payload");
        let obj = decode(&enc).unwrap();
        assert_eq!(
            (obj.kind, obj.seq, obj.payload.as_slice()),
            (ObjectKind::Segment, 7, &b"payload"[..])
        );
        assert_eq!(encoded_hash_hex(&enc), obj.hash_hex());
        assert_eq!(
            decode(&enc[..enc.len() - 1]),
            Err(ObjectError::LengthMismatch {
                declared: 7,
                found: 6
            })
        );
        assert_eq!(decode(&enc[..10]), Err(ObjectError::TooShort { len: 10 }));
        let mut bad = enc.clone();
        bad[0] = b'X';
        assert_eq!(decode(&bad), Err(ObjectError::BadMagic));
        let mut bad = enc.clone();
        bad[4] = 9;
        assert_eq!(decode(&bad), Err(ObjectError::UnknownVersion { found: 9 }));
        let mut bad = enc.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(decode(&bad), Err(ObjectError::HashMismatch));
        assert!(matches!(
            decode_kind(&enc, ObjectKind::Head),
            Err(ObjectError::WrongKind { .. })
        ));
    }
}
