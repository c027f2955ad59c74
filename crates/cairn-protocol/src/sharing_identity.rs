//! A user's sharing identity as the service keeps it (docs/sharing.md):
//! the two public keys, which anyone may fetch to invite that user, and
//! the secret halves sealed under the user's content key, which only the
//! user's own devices fetch and only they can open.
//!
//! One per account: the first device that needs it makes it and stores
//! it; a second, different one is refused (409 `identity_exists`), so two
//! devices racing to make one end up with the same identity (the loser
//! fetches the winner's). It is replaced only when a device is removed
//! (`POST /v1/identity/successor`): the new keys come with a statement
//! signed by the previous key, which the service checks and keeps, and
//! hands out with the keys so others can follow the change.

use serde::{Deserialize, Serialize};

use crate::UserId;

/// The largest sealed identity the service keeps (today's is 89 bytes).
pub const SEALED_IDENTITY_MAX_BYTES: usize = 1024;

/// Body of `PUT /v1/identity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutSharingIdentity {
    /// The sealed secrets, unpadded base64url.
    pub sealed: String,
    /// X25519 public key, 64 hex digits.
    pub wrap_key: String,
    /// Ed25519 public key, 64 hex digits.
    pub sign_key: String,
}

/// Body of `POST /v1/identity/successor`: the account's new identity,
/// replacing the one at `expected_generation` (compare-and-swap, so two
/// devices rotating at once do not fork the identity).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplaceSharingIdentity {
    pub expected_generation: u64,
    pub sealed: String,
    pub wrap_key: String,
    pub sign_key: String,
    /// The successor statement (cairn-core `space::successor`), signed by
    /// the current identity's key, unpadded base64url.
    pub successor: String,
}

/// `GET /v1/identity`: the caller's own identity, sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MySharingIdentity {
    pub account: UserId,
    pub sealed: String,
    pub wrap_key: String,
    pub sign_key: String,
    /// 0 for the first identity, then one more per replacement.
    #[serde(default)]
    pub generation: u64,
    /// The identity this one replaced, sealed as it was: the account's
    /// devices need it to hand each shared notebook over to the new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_sealed: Option<String>,
    /// Every successor statement, oldest first, base64url.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub successors: Vec<String>,
}

/// `GET /v1/accounts/{account}/identity`: another account's public keys,
/// in the same JSON shape as the core's `PublicIdentity`, and the
/// statements by which each earlier key vouched for the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicSharingIdentity {
    pub account: UserId,
    pub wrap_key: String,
    pub sign_key: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub successors: Vec<String>,
}

/// Whether `value` spells a 32-byte key as 64 lowercase hex digits.
pub fn is_key_hex(value: &str) -> bool {
    value.len() == 64
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_64_lowercase_hex_digits() {
        assert!(is_key_hex(&"ab".repeat(32)));
        assert!(!is_key_hex(&"AB".repeat(32)));
        assert!(!is_key_hex(&"ab".repeat(31)));
        assert!(!is_key_hex(&"zz".repeat(32)));
    }
}
