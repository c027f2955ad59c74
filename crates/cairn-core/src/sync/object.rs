//! The envelope of every object a device writes to storage.
//!
//! ```text
//! offset  size  field
//! 0       4     magic "CRNO"
//! 4       1     format version (1)
//! 5       1     kind: 1 head, 2 snapshot, 3 log segment
//! 6       1     flags: bit 0 = payload sealed (end-to-end encrypted)
//! 7       1     reserved, 0
//! 8       8     sequence number (u64 LE) of the publish that wrote it
//! 16      4     payload length (u32 LE)
//! 20      32    SHA-256 of the payload
//! 52      ..    payload
//! ```
//!
//! Objects are self-describing and self-checking: a truncated, corrupt or
//! foreign object fails here, before anything touches the store.

use sha2::{Digest, Sha256};

pub const MAGIC: [u8; 4] = *b"CRNO";
pub const FORMAT_VERSION: u8 = 1;
pub const HEADER_LEN: usize = 52;
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
}

impl ObjectKind {
    fn from_byte(b: u8) -> Option<ObjectKind> {
        match b {
            1 => Some(ObjectKind::Head),
            2 => Some(ObjectKind::Snapshot),
            3 => Some(ObjectKind::Segment),
            4 => Some(ObjectKind::Live),
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
    #[error("object has format version {found}; this Cairn reads version {FORMAT_VERSION} (upgrade Cairn)")]
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
}

/// A checked object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub kind: ObjectKind,
    pub seq: u64,
    pub sealed: bool,
    pub hash: [u8; 32],
    pub payload: Vec<u8>,
}

impl Object {
    pub fn hash_hex(&self) -> String {
        hex::encode(self.hash)
    }
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

pub fn encode(kind: ObjectKind, seq: u64, sealed: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&MAGIC);
    out.push(FORMAT_VERSION);
    out.push(kind as u8);
    out.push(u8::from(sealed));
    out.push(0);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&sha256(payload));
    out.extend_from_slice(payload);
    out
}

/// The hash an encoded object will carry (of its payload), hex.
pub fn encoded_hash_hex(encoded: &[u8]) -> String {
    hex::encode(encoded.get(20..52).unwrap_or_default())
}

pub fn decode(bytes: &[u8]) -> Result<Object, ObjectError> {
    if bytes.len() < HEADER_LEN {
        return Err(ObjectError::TooShort { len: bytes.len() });
    }
    if bytes[..4] != MAGIC {
        return Err(ObjectError::BadMagic);
    }
    if bytes[4] != FORMAT_VERSION {
        return Err(ObjectError::UnknownVersion { found: bytes[4] });
    }
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
    let sealed = bytes[6] & FLAG_SEALED == FLAG_SEALED;
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&bytes[8..16]);
    let mut len = [0u8; 4];
    len.copy_from_slice(&bytes[16..20]);
    let declared = u32::from_le_bytes(len) as usize;
    let payload = &bytes[HEADER_LEN..];
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
    Ok(Object {
        kind,
        seq: u64::from_le_bytes(seq),
        sealed,
        hash,
        payload: payload.to_vec(),
    })
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
    match key {
        Some(k) => {
            let aad = crate::crypto::object_aad(device, object_key, kind as u8, seq);
            encode(kind, seq, true, &k.seal(&aad, payload))
        }
        None => encode(kind, seq, false, payload),
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
    match (obj.sealed, key) {
        (true, Some(k)) => {
            let aad = crate::crypto::object_aad(device, object_key, obj.kind as u8, obj.seq);
            Ok(k.open(&aad, &obj.payload)?)
        }
        (true, None) => Err(ObjectError::Sealed),
        (false, Some(_)) => Err(ObjectError::NotSealed),
        (false, None) => Ok(obj.payload.clone()),
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
