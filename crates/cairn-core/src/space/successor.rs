//! An identity successor statement: an account's previous sharing
//! identity vouching for the one that replaces it, when a device is
//! removed and the identity it held is rotated (docs/sharing.md,
//! "Rotating the sharing identity").
//!
//! The previous Ed25519 key signs the account, a generation counter (1 for
//! the first replacement, then 2, ...), its own two public keys and the
//! two new ones. Whoever pinned the previous identity can then follow the
//! change without a loud warning: the key they trusted said so. A new key
//! without such a statement, or one signed by any other key, is what pins
//! exist for ([`crate::space::pins::PinError::KeyChanged`]).
//!
//! Bytes, fixed layout (one encoding, so nothing to canonicalise):
//!
//! ```text
//! version (1) || generation (u64 BE) || account length (1) || account
//!   || previous X25519 (32) || previous Ed25519 (32)
//!   || next X25519 (32) || next Ed25519 (32) || signature (64)
//! ```
//!
//! The signature covers `cairn-identity-successor/v1 \0` and every byte
//! before it.

use cairn_protocol::UserId;

use crate::space::identity::{PublicIdentity, SharingIdentity};

pub const SUCCESSOR_VERSION: u8 = 1;
/// Far above any real statement (an account id is short).
pub const MAX_SUCCESSOR_BYTES: usize = 512;
const DOMAIN: &[u8] = b"cairn-identity-successor/v1\0";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SuccessorError {
    #[error("the identity successor statement is empty")]
    Empty,
    #[error("the identity successor statement is too large ({len} bytes)")]
    TooLarge { len: usize },
    #[error("the identity successor statement was written by a newer Cairn (format {found}); update Cairn to keep sharing")]
    UnknownVersion { found: u8 },
    #[error("the identity successor statement is malformed: {0}")]
    Malformed(String),
    #[error("the new sharing key of {account} is not vouched for by their previous key")]
    BadSignature { account: UserId },
    #[error("the new sharing key of {account} is not usable")]
    UnusableKey { account: UserId },
}

/// A verified-format statement; [`Successor::verify`] checks its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Successor {
    pub generation: u64,
    pub previous: PublicIdentity,
    pub next: PublicIdentity,
    pub(crate) signature: [u8; 64],
}

fn body(generation: u64, previous: &PublicIdentity, next: &PublicIdentity) -> Vec<u8> {
    let account = previous.account.as_str().as_bytes();
    let mut out = Vec::with_capacity(10 + account.len() + 128 + 64);
    out.push(SUCCESSOR_VERSION);
    out.extend_from_slice(&generation.to_be_bytes());
    // Account ids are far shorter than 256 bytes (UserId bounds them).
    out.push(u8::try_from(account.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(account);
    out.extend_from_slice(&previous.wrap_key);
    out.extend_from_slice(&previous.sign_key);
    out.extend_from_slice(&next.wrap_key);
    out.extend_from_slice(&next.sign_key);
    out
}

fn signed_message(body: &[u8]) -> Vec<u8> {
    let mut m = DOMAIN.to_vec();
    m.extend_from_slice(body);
    m
}

fn key32(bytes: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 32];
    k.copy_from_slice(bytes);
    k
}

impl Successor {
    /// `previous` vouches for `next` as its successor number `generation`.
    pub fn sign(previous: &SharingIdentity, next: &PublicIdentity, generation: u64) -> Successor {
        let prev = previous.public();
        let signature = previous.sign(&signed_message(&body(generation, &prev, next)));
        Successor {
            generation,
            previous: prev,
            next: next.clone(),
            signature,
        }
    }

    pub fn account(&self) -> &UserId {
        &self.previous.account
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = body(self.generation, &self.previous, &self.next);
        out.extend_from_slice(&self.signature);
        out
    }

    /// Reads a statement from the service or a record; does not check
    /// the signature.
    pub fn decode(bytes: &[u8]) -> Result<Successor, SuccessorError> {
        if bytes.len() > MAX_SUCCESSOR_BYTES {
            return Err(SuccessorError::TooLarge { len: bytes.len() });
        }
        let (&version, rest) = bytes.split_first().ok_or(SuccessorError::Empty)?;
        if version != SUCCESSOR_VERSION {
            return Err(SuccessorError::UnknownVersion { found: version });
        }
        let short = || SuccessorError::Malformed("it is cut short".into());
        let (generation, rest) = rest.split_at_checked(8).ok_or_else(short)?;
        let generation = u64::from_be_bytes(key8(generation));
        let (&len, rest) = rest.split_first().ok_or_else(short)?;
        let (account, rest) = rest.split_at_checked(usize::from(len)).ok_or_else(short)?;
        let account = std::str::from_utf8(account)
            .ok()
            .and_then(|a| UserId::parse(a).ok())
            .ok_or_else(|| SuccessorError::Malformed("its account is not an account id".into()))?;
        if rest.len() != 4 * 32 + 64 {
            return Err(SuccessorError::Malformed(
                "its keys and signature are not 192 bytes".into(),
            ));
        }
        let previous = PublicIdentity {
            account: account.clone(),
            wrap_key: key32(&rest[0..32]),
            sign_key: key32(&rest[32..64]),
        };
        let next = PublicIdentity {
            account,
            wrap_key: key32(&rest[64..96]),
            sign_key: key32(&rest[96..128]),
        };
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&rest[128..]);
        let s = Successor {
            generation,
            previous,
            next,
            signature,
        };
        // The account went through UserId::parse, whose canonical form is
        // what `body` writes: anything else is not this statement's bytes.
        if s.encode() != bytes {
            return Err(SuccessorError::Malformed(
                "it is not in its one form".into(),
            ));
        }
        Ok(s)
    }

    /// Whether the previous key signed this statement, for a usable new
    /// key other than itself, at a generation of at least 1.
    pub fn verify(&self) -> Result<(), SuccessorError> {
        let account = self.account().clone();
        if self.generation == 0 || self.next == self.previous {
            return Err(SuccessorError::Malformed(
                "it names no change of key".into(),
            ));
        }
        if !self.next.keys_are_valid() {
            return Err(SuccessorError::UnusableKey { account });
        }
        let message = signed_message(&body(self.generation, &self.previous, &self.next));
        if !self.previous.verify(&message, &self.signature) {
            return Err(SuccessorError::BadSignature { account });
        }
        Ok(())
    }
}

fn key8(bytes: &[u8]) -> [u8; 8] {
    let mut k = [0u8; 8];
    k.copy_from_slice(bytes);
    k
}

/// Follows `statements` (any order) from the identity `from`, each one
/// verified and of a higher generation than the one before, and returns
/// the identity reached with the number of steps. A statement that does
/// not continue from where the walk stands (an older one served again, or
/// one of another line) is not followed.
pub fn follow(
    from: &PublicIdentity,
    statements: &[Successor],
) -> Result<(PublicIdentity, usize), SuccessorError> {
    let mut sorted: Vec<&Successor> = statements.iter().collect();
    sorted.sort_by_key(|s| s.generation);
    let mut at = from.clone();
    let mut generation = 0;
    let mut steps = 0;
    for s in sorted {
        if s.previous != at || s.generation <= generation {
            continue;
        }
        s.verify()?;
        at = s.next.clone();
        generation = s.generation;
        steps += 1;
    }
    Ok((at, steps))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::identity::tests::user;

    #[test]
    fn a_statement_round_trips_and_verifies_only_as_signed() {
        let old = SharingIdentity::generate(user("alice"));
        let new = SharingIdentity::generate(user("alice"));
        let s = Successor::sign(&old, &new.public(), 1);
        let bytes = s.encode();
        let back = Successor::decode(&bytes).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.verify(), Ok(()));

        // Signed by the new key (or anyone) instead of the previous one.
        let forged = Successor {
            previous: old.public(),
            ..Successor::sign(&new, &new.public(), 1)
        };
        assert!(matches!(
            forged.verify(),
            Err(SuccessorError::BadSignature { .. })
        ));
        // Any change to the signed bytes breaks it.
        for at in [1, 9, 20, bytes.len() - 70, bytes.len() - 100] {
            let mut m = bytes.clone();
            m[at] ^= 1;
            if let Ok(d) = Successor::decode(&m) {
                assert!(d.verify().is_err(), "byte {at}");
            }
        }
        let mut newer = bytes.clone();
        newer[0] = 2;
        assert_eq!(
            Successor::decode(&newer),
            Err(SuccessorError::UnknownVersion { found: 2 })
        );
        assert_eq!(Successor::decode(&[]), Err(SuccessorError::Empty));
        assert!(Successor::decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(Successor::decode(&[bytes.clone(), vec![0]].concat()).is_err());
        assert!(matches!(
            Successor::sign(&old, &old.public(), 1).verify(),
            Err(SuccessorError::Malformed(_))
        ));
        assert!(Successor::sign(&old, &new.public(), 0).verify().is_err());
    }

    #[test]
    fn following_walks_each_step_from_the_pin_and_skips_replays() {
        let k0 = SharingIdentity::generate(user("alice"));
        let k1 = SharingIdentity::generate(user("alice"));
        let k2 = SharingIdentity::generate(user("alice"));
        let s1 = Successor::sign(&k0, &k1.public(), 1);
        let s2 = Successor::sign(&k1, &k2.public(), 2);
        let both = [s2.clone(), s1.clone()];
        assert_eq!(follow(&k0.public(), &both), Ok((k2.public(), 2)));
        assert_eq!(follow(&k1.public(), &both), Ok((k2.public(), 1)));
        // Pinned at k2 already: the older statements lead nowhere.
        assert_eq!(follow(&k2.public(), &both), Ok((k2.public(), 0)));
        // A statement back to an older key at a lower generation is not followed.
        let back = Successor::sign(&k2, &k0.public(), 1);
        assert_eq!(
            follow(&k0.public(), &[s1.clone(), s2.clone(), back]),
            Ok((k2.public(), 2))
        );
        // A forged step on the way stops the walk with its error.
        let forged = Successor {
            previous: k1.public(),
            ..Successor::sign(&k2, &k2.public(), 2)
        };
        assert!(follow(&k0.public(), &[s1, forged]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            if let Ok(s) = Successor::decode(&bytes) {
                proptest::prop_assert_eq!(s.encode(), bytes);
            }
        }
    }
}
