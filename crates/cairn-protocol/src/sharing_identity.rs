//! A user's sharing identity as the service keeps it (docs/sharing.md):
//! the two public keys, which anyone may fetch to invite that user, and
//! the secret halves sealed under the user's content key, which only the
//! user's own devices fetch and only they can open.
//!
//! One per account: the first device that needs it makes it and stores
//! it; a second, different one is refused (409 `identity_exists`), so two
//! devices racing to make one end up with the same identity (the loser
//! fetches the winner's).

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

/// `GET /v1/identity`: the caller's own identity, sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MySharingIdentity {
    pub account: UserId,
    pub sealed: String,
    pub wrap_key: String,
    pub sign_key: String,
}

/// `GET /v1/accounts/{account}/identity`: another account's public keys,
/// in the same JSON shape as the core's `PublicIdentity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicSharingIdentity {
    pub account: UserId,
    pub wrap_key: String,
    pub sign_key: String,
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
