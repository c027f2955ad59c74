//! Where a device's objects live in the bucket.
//!
//! Each device owns a fixed set of keys under its own prefix; it alone
//! writes them and the user's other devices read them. Because the set is
//! fixed, the service can presign every key in advance and a device can
//! publish for days without asking again.
//!
//! ```text
//! users/{provider}:{account_id}/devices/{device_id}/head
//! users/{provider}:{account_id}/devices/{device_id}/snapshot/0
//! users/{provider}:{account_id}/devices/{device_id}/snapshot/1
//! users/{provider}:{account_id}/devices/{device_id}/log/00 .. log/63
//! users/{provider}:{account_id}/devices/{device_id}/snapshot/0.digest
//! users/{provider}:{account_id}/devices/{device_id}/snapshot/1.digest
//! ```
//!
//! A snapshot's digest (the state of each note it holds, so that a new
//! device can list and search them without loading every document) is
//! paired with its snapshot slot: `snapshot/{slot}.digest` is rewritten
//! exactly when `snapshot/{slot}` is, so the slot the recorded head names
//! is never the one a publish overwrites, for either. It is a key of its
//! own, not a part of the snapshot, so that a device older than digests
//! reads the snapshot byte for byte as before; and the digest keys come
//! after every older key in [`DeviceKey::all`], so a grant keeps its
//! older lists as they were.
//!
//! ```
//! use cairn_protocol::{DeviceId, DeviceKey, UserId};
//! use cairn_protocol::key_layout::object_key;
//!
//! let user = UserId::new("github", "583231").unwrap();
//! let device = DeviceId::parse("d1").unwrap();
//! let key = DeviceKey::log(7).unwrap();
//! assert_eq!(object_key(&user, &device, key), "users/github:583231/devices/d1/log/07");
//! assert_eq!(DeviceKey::all().count(), 69);
//! ```

use serde::{Deserialize, Serialize};

use crate::ids::truncate_for_error;
use crate::{DeviceId, ProtocolError};

/// Slots in each device's ring of change segments (`log/00` .. `log/63`).
pub const LOG_SLOTS: u32 = 64;
/// Full-state snapshot slots (`snapshot/0`, `snapshot/1`).
pub const SNAPSHOT_SLOTS: u32 = 2;
/// Slots in each device's ring of attachment chunks (`blob/000` ..
/// `blob/255`); see `cairn_core::blob` for why this many.
pub const BLOB_SLOTS: u32 = 256;
/// Longest accepted account id, in bytes.
pub const ACCOUNT_ID_MAX_LEN: usize = 64;

/// One of a device's fixed keys, relative to its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeviceKey {
    /// The manifest, written last: the commit point of a publish.
    Head,
    /// A full-state snapshot slot, `0` or `1`.
    Snapshot(SnapshotSlot),
    /// A slot in the ring of change segments, `0..LOG_SLOTS`.
    Log(LogSlot),
    /// The digest of the snapshot in the same slot (`snapshot/0.digest`).
    Digest(SnapshotSlot),
}

/// A snapshot slot number, always `< SNAPSHOT_SLOTS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SnapshotSlot(u8);

impl SnapshotSlot {
    pub fn new(slot: u32) -> Result<Self, ProtocolError> {
        if slot < SNAPSHOT_SLOTS {
            Ok(SnapshotSlot(slot as u8))
        } else {
            Err(ProtocolError::SnapshotSlotOutOfRange {
                slot,
                max: SNAPSHOT_SLOTS,
            })
        }
    }

    pub fn get(self) -> u32 {
        u32::from(self.0)
    }
}

/// A log slot number, always `< LOG_SLOTS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LogSlot(u8);

impl LogSlot {
    pub fn new(slot: u32) -> Result<Self, ProtocolError> {
        if slot < LOG_SLOTS {
            Ok(LogSlot(slot as u8))
        } else {
            Err(ProtocolError::LogSlotOutOfRange {
                slot,
                max: LOG_SLOTS,
            })
        }
    }

    pub fn get(self) -> u32 {
        u32::from(self.0)
    }
}

/// A slot of a device's attachment ring, always `< BLOB_SLOTS`. Kept apart
/// from [`DeviceKey`]: the grant carries these in compact form
/// (`grant::BlobUrls`), not one full URL each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobSlot(u16);

impl BlobSlot {
    pub fn new(slot: u32) -> Result<Self, ProtocolError> {
        if slot < BLOB_SLOTS {
            Ok(BlobSlot(slot as u16))
        } else {
            Err(ProtocolError::BlobSlotOutOfRange {
                slot,
                max: BLOB_SLOTS,
            })
        }
    }

    pub fn get(self) -> u32 {
        u32::from(self.0)
    }

    /// Every slot, in order.
    pub fn all() -> impl Iterator<Item = BlobSlot> {
        (0..BLOB_SLOTS as u16).map(BlobSlot)
    }

    /// The slot's number as its key spells it: `042`.
    pub fn digits(self) -> String {
        format!("{:03}", self.0)
    }

    /// The key below the device prefix: `blob/042`.
    pub fn relative(self) -> String {
        format!("blob/{}", self.digits())
    }
}

/// The full object key of one of a device's blob slots.
pub fn blob_key(user: &UserId, device: &DeviceId, slot: BlobSlot) -> String {
    format!("{}{}", device_prefix(user, device), slot.relative())
}

impl DeviceKey {
    pub fn snapshot(slot: u32) -> Result<Self, ProtocolError> {
        SnapshotSlot::new(slot).map(DeviceKey::Snapshot)
    }

    pub fn log(slot: u32) -> Result<Self, ProtocolError> {
        LogSlot::new(slot).map(DeviceKey::Log)
    }

    /// The digest paired with snapshot slot `slot`.
    pub fn digest(slot: u32) -> Result<Self, ProtocolError> {
        SnapshotSlot::new(slot).map(DeviceKey::Digest)
    }

    /// Every key of a device, in a fixed order: head, snapshots, log
    /// slots, digests (last: they came after the others).
    pub fn all() -> impl Iterator<Item = DeviceKey> {
        let head = std::iter::once(DeviceKey::Head);
        let snapshots = (0..SNAPSHOT_SLOTS as u8).map(|s| DeviceKey::Snapshot(SnapshotSlot(s)));
        let logs = (0..LOG_SLOTS as u8).map(|s| DeviceKey::Log(LogSlot(s)));
        let digests = (0..SNAPSHOT_SLOTS as u8).map(|s| DeviceKey::Digest(SnapshotSlot(s)));
        head.chain(snapshots).chain(logs).chain(digests)
    }

    /// The key below the device prefix: `head`, `snapshot/1`, `log/07`.
    pub fn relative(self) -> String {
        match self {
            DeviceKey::Head => "head".to_owned(),
            DeviceKey::Snapshot(s) => format!("snapshot/{}", s.0),
            DeviceKey::Log(s) => format!("log/{:02}", s.0),
            DeviceKey::Digest(s) => format!("snapshot/{}.digest", s.0),
        }
    }

    /// The inverse of [`DeviceKey::relative`]; accepts only the exact
    /// spellings it produces.
    pub fn parse_relative(value: &str) -> Result<Self, ProtocolError> {
        DeviceKey::all()
            .find(|k| k.relative() == value)
            .ok_or_else(|| ProtocolError::InvalidObjectKey {
                value: truncate_for_error(value),
            })
    }
}

impl std::fmt::Display for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.relative())
    }
}

/// Whose data a prefix holds: `{provider}:{account_id}`, taken only from the
/// authenticated account, never from anything a client sends.
///
/// The provider is lowercase ASCII letters (`github`, `key`); the account id
/// is `[A-Za-z0-9_-]`, up to 64 bytes (GitHub's numeric id, or a random id
/// for account-key accounts).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    pub fn new(provider: &str, account_id: &str) -> Result<Self, ProtocolError> {
        Self::parse(&format!("{provider}:{account_id}"))
    }

    pub fn parse(value: &str) -> Result<Self, ProtocolError> {
        let invalid = |reason| ProtocolError::InvalidUserId {
            value: truncate_for_error(value),
            reason,
        };
        let (provider, account) = value.split_once(':').ok_or(invalid("missing ':'"))?;
        if provider.is_empty()
            || provider.len() > 16
            || !provider.bytes().all(|b| b.is_ascii_lowercase())
        {
            return Err(invalid("provider must be 1 to 16 lowercase letters"));
        }
        if account.is_empty()
            || account.len() > ACCOUNT_ID_MAX_LEN
            || !account
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(invalid(
                "account id must be 1 to 64 of A-Z, a-z, 0-9, '_', '-'",
            ));
        }
        Ok(UserId(value.to_owned()))
    }

    pub fn provider(&self) -> &str {
        self.0.split_once(':').map_or("", |(p, _)| p)
    }

    pub fn account_id(&self) -> &str {
        self.0.split_once(':').map_or("", |(_, a)| a)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = ProtocolError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        UserId::parse(&value)
    }
}

impl From<UserId> for String {
    fn from(id: UserId) -> String {
        id.0
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `users/{provider}:{account_id}/`
pub fn user_prefix(user: &UserId) -> String {
    format!("users/{user}/")
}

/// `users/{provider}:{account_id}/devices/{device_id}/`
pub fn device_prefix(user: &UserId, device: &DeviceId) -> String {
    format!("users/{user}/devices/{device}/")
}

/// The full object key of one of a device's keys.
pub fn object_key(user: &UserId, device: &DeviceId, key: DeviceKey) -> String {
    format!("{}{}", device_prefix(user, device), key.relative())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_keys_are_distinct_and_round_trip() {
        let keys: Vec<_> = DeviceKey::all().collect();
        assert_eq!(
            keys.len(),
            1 + 2 * SNAPSHOT_SLOTS as usize + LOG_SLOTS as usize
        );
        let mut rel: Vec<_> = keys.iter().map(|k| k.relative()).collect();
        for (k, r) in keys.iter().zip(&rel) {
            assert_eq!(DeviceKey::parse_relative(r), Ok(*k));
        }
        rel.sort();
        rel.dedup();
        assert_eq!(rel.len(), keys.len());
        assert_eq!(keys[0].relative(), "head");
        assert_eq!(keys[1].relative(), "snapshot/0");
        assert_eq!(keys[3].relative(), "log/00");
        assert_eq!(keys[66].relative(), "log/63");
        assert_eq!(keys[67].relative(), "snapshot/0.digest");
        assert_eq!(keys[68].relative(), "snapshot/1.digest");
    }

    #[test]
    fn blob_slots_are_bounded_and_spelled_with_three_digits() {
        assert!(BlobSlot::new(BLOB_SLOTS).is_err());
        assert_eq!(BlobSlot::new(7).unwrap().relative(), "blob/007");
        assert_eq!(BlobSlot::all().count(), BLOB_SLOTS as usize);
        let user = UserId::new("key", "u1").unwrap();
        let device = DeviceId::parse("d1").unwrap();
        assert_eq!(
            blob_key(&user, &device, BlobSlot::new(255).unwrap()),
            "users/key:u1/devices/d1/blob/255"
        );
    }

    #[test]
    fn slots_are_bounded() {
        assert!(DeviceKey::log(64).is_err());
        assert!(DeviceKey::snapshot(2).is_err());
        assert!(DeviceKey::parse_relative("log/7").is_err());
        assert!(DeviceKey::parse_relative("log/64").is_err());
    }

    #[test]
    fn user_ids() {
        let u = UserId::new("github", "12345").expect("valid");
        assert_eq!(u.provider(), "github");
        assert_eq!(u.account_id(), "12345");
        assert_eq!(user_prefix(&u), "users/github:12345/");
        for bad in [
            "github",
            ":1",
            "GitHub:1",
            "github:",
            "github:a/b",
            "github:..",
            "key:a:b",
        ] {
            assert!(UserId::parse(bad).is_err(), "{bad}");
        }
    }
}
