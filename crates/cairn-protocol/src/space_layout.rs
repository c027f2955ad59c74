//! Where a shared space's objects live in the bucket.
//!
//! Each space has its own prefix, and below it each member's devices have
//! the same fixed keys as in the personal layout ([`crate::key_layout`]):
//!
//! ```text
//! spaces/{space}/users/{provider}:{account_id}/devices/{device_id}/head
//! spaces/{space}/users/{provider}:{account_id}/devices/{device_id}/snapshot/0
//! spaces/{space}/users/{provider}:{account_id}/devices/{device_id}/log/00 .. log/63
//! spaces/{space}/users/{provider}:{account_id}/devices/{device_id}/blob/000 .. blob/255
//! ```
//!
//! The space comes first so that everything of one space is one prefix,
//! and a grant for a space presigns keys below it only: a member of one
//! space gets nothing of another, nor of anyone's personal prefix.
//!
//! ```
//! use cairn_protocol::{DeviceId, DeviceKey, SpaceId, UserId};
//! use cairn_protocol::space_layout::space_object_key;
//!
//! let space = SpaceId::parse("00112233445566778899aabbccddeeff").unwrap();
//! let user = UserId::new("key", "u1").unwrap();
//! let device = DeviceId::parse("d1").unwrap();
//! assert_eq!(
//!     space_object_key(&space, &user, &device, DeviceKey::Head),
//!     "spaces/00112233445566778899aabbccddeeff/users/key:u1/devices/d1/head"
//! );
//! ```

use serde::{Deserialize, Serialize};

use crate::ids::truncate_for_error;
use crate::{DeviceId, DeviceKey, ProtocolError, UserId};

/// Hex digits of a space id (128 random bits).
pub const SPACE_ID_HEX: usize = 32;

/// A space's id: 32 lowercase hex digits, chosen at random by the device
/// that creates the space (the same value as the core's `SpaceId`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SpaceId(String);

impl SpaceId {
    pub fn parse(value: &str) -> Result<SpaceId, ProtocolError> {
        let valid = value.len() == SPACE_ID_HEX
            && value
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if valid {
            Ok(SpaceId(value.to_owned()))
        } else {
            Err(ProtocolError::InvalidSpaceId {
                value: truncate_for_error(value),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SpaceId {
    type Error = ProtocolError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        SpaceId::parse(&value)
    }
}

impl From<SpaceId> for String {
    fn from(id: SpaceId) -> String {
        id.0
    }
}

impl std::fmt::Display for SpaceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `spaces/{space}/`
pub fn space_prefix(space: &SpaceId) -> String {
    format!("spaces/{space}/")
}

/// `spaces/{space}/users/{user}/devices/{device}/`
pub fn space_device_prefix(space: &SpaceId, user: &UserId, device: &DeviceId) -> String {
    format!("spaces/{space}/users/{user}/devices/{device}/")
}

/// The full object key of one of a device's keys in a space.
pub fn space_object_key(
    space: &SpaceId,
    user: &UserId,
    device: &DeviceId,
    key: DeviceKey,
) -> String {
    format!(
        "{}{}",
        space_device_prefix(space, user, device),
        key.relative()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key_layout::device_prefix;

    #[test]
    fn space_ids_are_32_lowercase_hex_digits() {
        assert!(SpaceId::parse(&"a".repeat(32)).is_ok());
        for bad in [
            "",
            "abc",
            &"A".repeat(32),
            &"g".repeat(32),
            &"a".repeat(33),
            "../../users/key:u1/devices/d1//",
        ] {
            assert!(SpaceId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_space_prefix_never_overlaps_a_personal_one() {
        let space = SpaceId::parse(&"0".repeat(32)).unwrap();
        let user = UserId::new("key", "u1").unwrap();
        let device = DeviceId::parse("d1").unwrap();
        let shared = space_device_prefix(&space, &user, &device);
        assert!(shared.starts_with(&space_prefix(&space)));
        assert!(!shared.starts_with("users/"));
        assert!(!device_prefix(&user, &device).starts_with("spaces/"));
    }
}
