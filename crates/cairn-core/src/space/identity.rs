//! A user's sharing identity: an X25519 key pair that epoch keys are
//! wrapped to, and an Ed25519 key pair that signs membership records and
//! wraps. One per user, not per device: the secret halves are sealed under
//! the content key, so every device that has the content key opens the
//! same identity, and the service stores only the sealed bytes.
//!
//! Sealed form, version 1: `1 || nonce || ciphertext` of the two 32-byte
//! secrets (X25519, then the Ed25519 seed), sealed with the content key
//! and associated data naming the account, so one account's sealed
//! identity does not open as another's. Version 2, for an identity made
//! when a device was removed (docs/sharing.md, "Rotating the sharing
//! identity"): `2 || epoch (u64 BE) || nonce || ciphertext`, sealed with
//! that epoch's personal key (which the removed device never held), the
//! epoch also in the associated data.

use cairn_protocol::UserId;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, Serializable};
use serde::{Deserialize, Serialize};

use crate::account_keys::AccountKeys;
use crate::crypto::{ContentKey, CryptoError, KEY_LEN};
use crate::space::epoch::{Epoch, EpochKey};

/// The version byte of an identity sealed under the content key.
pub const SEALED_IDENTITY_VERSION: u8 = 1;
/// The version byte of an identity sealed under a personal epoch's key.
pub const SEALED_IDENTITY_EPOCH_VERSION: u8 = 2;

pub(crate) type WrapKem = X25519HkdfSha256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("the sealed sharing identity is empty")]
    Empty,
    #[error("the sharing identity was sealed by a newer Cairn (format {found}); update Cairn to share notebooks")]
    UnknownVersion { found: u8 },
    #[error("the sharing identity does not open with this account's key: {0}")]
    Open(#[from] CryptoError),
    #[error("the sharing identity is malformed: {0}")]
    Malformed(String),
    #[error("this account's sharing key changed when a device was removed: enter your passphrase on this device to keep sharing")]
    NoKey { epoch: u64 },
}

/// The public half of an identity: what others pin, wrap to and verify.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PublicIdentity {
    pub account: UserId,
    /// X25519 public key that epoch keys are wrapped to.
    #[serde(with = "hex::serde")]
    pub wrap_key: [u8; 32],
    /// Ed25519 public key that verifies this user's signatures.
    #[serde(with = "hex::serde")]
    pub sign_key: [u8; 32],
}

impl PublicIdentity {
    /// Checks a signature with strict Ed25519 verification (no malleable
    /// or small-order keys and signatures).
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        VerifyingKey::from_bytes(&self.sign_key)
            .and_then(|k| k.verify_strict(message, &Signature::from_bytes(signature)))
            .is_ok()
    }

    /// Whether the signing key is usable at all: a peer or the service
    /// could hand out bytes that are no point on the curve, or a point of
    /// small order that many signatures would verify under. (A bad X25519
    /// key needs no check here: wrapping to it fails.)
    pub fn keys_are_valid(&self) -> bool {
        VerifyingKey::from_bytes(&self.sign_key).is_ok_and(|k| !k.is_weak())
    }
}

/// The whole identity, secrets included. Never leaves the device except
/// sealed ([`SharingIdentity::seal`]).
#[derive(Clone)]
pub struct SharingIdentity {
    account: UserId,
    wrap_secret: <WrapKem as Kem>::PrivateKey,
    signing: SigningKey,
}

impl std::fmt::Debug for SharingIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharingIdentity({}, ..)", self.account)
    }
}

fn sealed_aad(account: &UserId) -> Vec<u8> {
    format!("cairn-sharing-identity/v1\0{account}").into_bytes()
}

fn sealed_epoch_aad(account: &UserId, epoch: Epoch) -> Vec<u8> {
    format!("cairn-sharing-identity/v2\0{account}\0{epoch}").into_bytes()
}

impl SharingIdentity {
    /// A new identity for `account`, from the system's randomness.
    pub fn generate(account: UserId) -> SharingIdentity {
        let (wrap_secret, _) = WrapKem::gen_keypair();
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut seed);
        SharingIdentity {
            account,
            wrap_secret,
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// An identity from fixed secrets, for tests whose kept inputs must
    /// verify run after run (the fuzzed decoders' corpus).
    #[cfg(any(test, feature = "test-support"))]
    pub fn from_secrets(account: UserId, wrap: [u8; 32], seed: [u8; 32]) -> SharingIdentity {
        SharingIdentity {
            account,
            // Any 32 bytes are an X25519 secret (it is clamped on use).
            wrap_secret: <WrapKem as Kem>::PrivateKey::from_bytes(&wrap)
                .unwrap_or_else(|_| WrapKem::gen_keypair().0),
            signing: SigningKey::from_bytes(&seed),
        }
    }

    pub fn account(&self) -> &UserId {
        &self.account
    }

    pub fn public(&self) -> PublicIdentity {
        PublicIdentity {
            account: self.account.clone(),
            wrap_key: WrapKem::sk_to_pk(&self.wrap_secret).to_bytes().into(),
            sign_key: self.signing.verifying_key().to_bytes(),
        }
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    pub(crate) fn wrap_private(&self) -> &<WrapKem as Kem>::PrivateKey {
        &self.wrap_secret
    }

    /// The identity sealed under the content key, for the service to keep.
    pub fn seal(&self, key: &ContentKey) -> Vec<u8> {
        let mut out = vec![SEALED_IDENTITY_VERSION];
        out.extend_from_slice(&key.seal(&sealed_aad(&self.account), &self.secrets()));
        out
    }

    /// The identity sealed under personal epoch `epoch`'s key (version 2).
    pub fn seal_at_epoch(&self, epoch: Epoch, key: &EpochKey) -> Vec<u8> {
        let mut out = vec![SEALED_IDENTITY_EPOCH_VERSION];
        out.extend_from_slice(&epoch.0.to_be_bytes());
        out.extend_from_slice(
            &key.cipher()
                .seal(&sealed_epoch_aad(&self.account, epoch), &self.secrets()),
        );
        out
    }

    /// The identity sealed under the newest of `keys`: the content key
    /// until the account's first rotation, then the current epoch's key.
    pub fn seal_with(&self, keys: &AccountKeys) -> Vec<u8> {
        match keys.current() {
            Some((epoch, key)) => self.seal_at_epoch(epoch, key),
            None => self.seal(keys.content()),
        }
    }

    fn secrets(&self) -> Vec<u8> {
        let mut plain = Vec::with_capacity(2 * KEY_LEN);
        plain.extend_from_slice(&self.wrap_secret.to_bytes());
        plain.extend_from_slice(self.signing.as_bytes());
        plain
    }

    /// The personal epoch a sealed identity names: 0 for version 1 (the
    /// content key), `None` if the bytes are no sealed identity this
    /// version knows.
    pub fn sealed_epoch(sealed: &[u8]) -> Option<Epoch> {
        match sealed.split_first()? {
            (&SEALED_IDENTITY_VERSION, _) => Some(Epoch(0)),
            (&SEALED_IDENTITY_EPOCH_VERSION, rest) => {
                let bytes: [u8; 8] = rest.get(..8)?.try_into().ok()?;
                Some(Epoch(u64::from_be_bytes(bytes)))
            }
            _ => None,
        }
    }

    /// Opens a sealed identity of either version with the account's keys.
    pub fn open_with(
        account: UserId,
        keys: &AccountKeys,
        sealed: &[u8],
    ) -> Result<SharingIdentity, IdentityError> {
        let (&version, rest) = sealed.split_first().ok_or(IdentityError::Empty)?;
        if version != SEALED_IDENTITY_EPOCH_VERSION {
            return SharingIdentity::open(account, keys.content(), sealed);
        }
        let (epoch, rest) = rest
            .split_at_checked(8)
            .ok_or(IdentityError::Open(CryptoError::Truncated))?;
        let mut e = [0u8; 8];
        e.copy_from_slice(epoch);
        let epoch = Epoch(u64::from_be_bytes(e));
        let key = keys
            .key_of(epoch)
            .ok_or(IdentityError::NoKey { epoch: epoch.0 })?;
        let plain = key
            .cipher()
            .open(&sealed_epoch_aad(&account, epoch), rest)?;
        SharingIdentity::from_plain(account, &plain)
    }

    /// Opens what [`SharingIdentity::seal`] made, for the same account.
    pub fn open(
        account: UserId,
        key: &ContentKey,
        sealed: &[u8],
    ) -> Result<SharingIdentity, IdentityError> {
        let (&version, rest) = sealed.split_first().ok_or(IdentityError::Empty)?;
        if version != SEALED_IDENTITY_VERSION {
            return Err(IdentityError::UnknownVersion { found: version });
        }
        let plain = key.open(&sealed_aad(&account), rest)?;
        SharingIdentity::from_plain(account, &plain)
    }

    fn from_plain(account: UserId, plain: &[u8]) -> Result<SharingIdentity, IdentityError> {
        let (wrap, sign) = plain
            .split_at_checked(KEY_LEN)
            .ok_or_else(|| IdentityError::Malformed("secrets are too short".into()))?;
        let wrap_secret = <WrapKem as Kem>::PrivateKey::from_bytes(wrap)
            .map_err(|_| IdentityError::Malformed("X25519 secret is not 32 bytes".into()))?;
        let seed: [u8; 32] = sign
            .try_into()
            .map_err(|_| IdentityError::Malformed("Ed25519 seed is not 32 bytes".into()))?;
        Ok(SharingIdentity {
            account,
            wrap_secret,
            signing: SigningKey::from_bytes(&seed),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn user(n: &str) -> UserId {
        UserId::new("key", n).unwrap()
    }

    #[test]
    fn sealed_identity_opens_on_another_device_with_the_same_key_only() {
        let key = ContentKey::generate();
        let id = SharingIdentity::generate(user("alice"));
        let sealed = id.seal(&key);
        assert_eq!(sealed[0], SEALED_IDENTITY_VERSION);
        let opened = SharingIdentity::open(user("alice"), &key, &sealed).unwrap();
        assert_eq!(opened.public(), id.public());
        // The opened copy signs as the original.
        let sig = opened.sign(b"hello");
        assert!(id.public().verify(b"hello", &sig));
        assert!(!id.public().verify(b"hullo", &sig));

        assert!(matches!(
            SharingIdentity::open(user("alice"), &ContentKey::generate(), &sealed),
            Err(IdentityError::Open(CryptoError::OpenFailed))
        ));
        assert!(matches!(
            SharingIdentity::open(user("bob"), &key, &sealed),
            Err(IdentityError::Open(CryptoError::OpenFailed))
        ));
        let mut newer = sealed.clone();
        newer[0] = 2;
        assert_eq!(
            SharingIdentity::open(user("alice"), &key, &newer).unwrap_err(),
            IdentityError::UnknownVersion { found: 2 }
        );
        assert_eq!(
            SharingIdentity::open(user("alice"), &key, &[]).unwrap_err(),
            IdentityError::Empty
        );
        assert!(matches!(
            SharingIdentity::open(user("alice"), &key, &sealed[..10]),
            Err(IdentityError::Open(CryptoError::Truncated))
        ));
    }

    #[test]
    fn an_identity_sealed_at_an_epoch_opens_only_with_that_epochs_key() {
        let content = ContentKey::generate();
        let before = AccountKeys::new(content.clone());
        let after = before.rotated().unwrap();
        let id = SharingIdentity::generate(user("alice"));
        // Before any rotation: version 1, as always, and open_with reads it.
        let v1 = id.seal_with(&before);
        assert_eq!(v1[0], SEALED_IDENTITY_VERSION);
        assert_eq!(SharingIdentity::sealed_epoch(&v1), Some(Epoch(0)));
        let opened = SharingIdentity::open_with(user("alice"), &after, &v1).unwrap();
        assert_eq!(opened.public(), id.public());

        let v2 = id.seal_with(&after);
        assert_eq!(v2[0], SEALED_IDENTITY_EPOCH_VERSION);
        assert_eq!(SharingIdentity::sealed_epoch(&v2), Some(Epoch(1)));
        let opened = SharingIdentity::open_with(user("alice"), &after, &v2).unwrap();
        assert_eq!(opened.public(), id.public());
        // A device that holds only the content key (a removed one) cannot.
        assert_eq!(
            SharingIdentity::open_with(user("alice"), &before, &v2).unwrap_err(),
            IdentityError::NoKey { epoch: 1 }
        );
        // Nor does the content key open it as version 1.
        assert!(SharingIdentity::open(user("alice"), &content, &v2).is_err());
        // Another account's, or the epoch relabelled: refused.
        assert!(SharingIdentity::open_with(user("bob"), &after, &v2).is_err());
        let twice = after.rotated().unwrap();
        let mut relabelled = v2.clone();
        relabelled[8] = 2;
        assert!(matches!(
            SharingIdentity::open_with(user("alice"), &twice, &relabelled),
            Err(IdentityError::Open(CryptoError::OpenFailed))
        ));
        assert!(SharingIdentity::open_with(user("alice"), &after, &v2[..5]).is_err());
    }

    #[test]
    fn identities_differ_and_their_keys_are_valid() {
        let a = SharingIdentity::generate(user("alice")).public();
        let b = SharingIdentity::generate(user("alice")).public();
        assert_ne!(a.wrap_key, b.wrap_key);
        assert_ne!(a.sign_key, b.sign_key);
        assert!(a.keys_are_valid());
        let mut weak = a.clone();
        weak.sign_key = [0; 32];
        weak.sign_key[0] = 1; // the identity point: small order
        assert!(!weak.keys_are_valid());
    }

    proptest::proptest! {
        #[test]
        fn opening_arbitrary_bytes_fails_cleanly(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let key = ContentKey::from_bytes(&[3; 32]).unwrap();
            proptest::prop_assert!(SharingIdentity::open(user("alice"), &key, &bytes).is_err());
            let keys = AccountKeys::new(key).rotated().unwrap();
            proptest::prop_assert!(SharingIdentity::open_with(user("alice"), &keys, &bytes).is_err());
        }
    }

    #[test]
    fn debug_shows_no_secret() {
        let id = SharingIdentity::generate(user("alice"));
        assert_eq!(format!("{id:?}"), "SharingIdentity(key:alice, ..)");
    }
}
