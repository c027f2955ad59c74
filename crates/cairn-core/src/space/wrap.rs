//! An epoch key wrapped to one member: HPKE (RFC 9180) base mode with
//! X25519-HKDF-SHA256, HKDF-SHA256 and ChaCha20-Poly1305, to the member's
//! X25519 key, signed with the granter's Ed25519 key.
//!
//! The HPKE info string binds the space, the epoch, the recipient's
//! account and the recipient's X25519 key, so a wrap moved to another
//! space, epoch or member does not open. The signature covers the same and
//! the granter's account and the ciphertext, so nobody but the granter
//! (whom the membership chain says may grant) can make one the recipient
//! accepts: not the service, and not another member.

use cairn_protocol::UserId;
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};
use serde::{Deserialize, Serialize};

use crate::space::epoch::{Epoch, EpochKey, SpaceId};
use crate::space::identity::{PublicIdentity, SharingIdentity, WrapKem};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WrapError {
    #[error("the space key could not be wrapped to {recipient}: their sharing key is not usable")]
    Seal { recipient: UserId },
    #[error("the space key was not signed by {granter}, who it says granted it")]
    BadSignature { granter: UserId },
    #[error("the space key was wrapped for {recipient}'s key, not for this one")]
    NotForMe { recipient: UserId },
    #[error("the space key does not open: it was damaged or moved")]
    OpenFailed,
}

/// One epoch key for one member. Public: safe to store anywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyWrap {
    pub space: SpaceId,
    pub epoch: Epoch,
    pub recipient: UserId,
    /// The X25519 key it was wrapped to.
    #[serde(with = "hex::serde")]
    pub recipient_key: [u8; 32],
    pub granter: UserId,
    /// HPKE's encapsulated key.
    #[serde(with = "hex::serde")]
    pub enc: [u8; 32],
    /// The epoch key, sealed (32 bytes and a 16-byte tag).
    #[serde(with = "hex::serde")]
    pub sealed: Vec<u8>,
    #[serde(with = "hex::serde")]
    pub signature: [u8; 64],
}

fn info(space: &SpaceId, epoch: Epoch, recipient: &UserId, recipient_key: &[u8; 32]) -> Vec<u8> {
    let mut out = format!("cairn-epoch-key/v1\0{space}\0{epoch}\0{recipient}\0").into_bytes();
    out.extend_from_slice(recipient_key);
    out
}

impl KeyWrap {
    fn signed_bytes(&self) -> Vec<u8> {
        let mut out = b"cairn-key-wrap/v1\0".to_vec();
        out.extend_from_slice(&info(
            &self.space,
            self.epoch,
            &self.recipient,
            &self.recipient_key,
        ));
        out.extend_from_slice(format!("\0{}\0", self.granter).as_bytes());
        out.extend_from_slice(&self.enc);
        out.extend_from_slice(&self.sealed);
        out
    }

    /// Wraps `key` (of `space`'s `epoch`) to `recipient`, signed by `granter`.
    pub fn create(
        granter: &SharingIdentity,
        recipient: &PublicIdentity,
        space: SpaceId,
        epoch: Epoch,
        key: &EpochKey,
    ) -> Result<KeyWrap, WrapError> {
        let seal_err = || WrapError::Seal {
            recipient: recipient.account.clone(),
        };
        let pk =
            <WrapKem as Kem>::PublicKey::from_bytes(&recipient.wrap_key).map_err(|_| seal_err())?;
        let (enc, sealed) = hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, WrapKem>(
            &OpModeS::Base,
            &pk,
            &info(&space, epoch, &recipient.account, &recipient.wrap_key),
            key.as_bytes(),
            &[],
        )
        .map_err(|_| seal_err())?;
        let mut wrap = KeyWrap {
            space,
            epoch,
            recipient: recipient.account.clone(),
            recipient_key: recipient.wrap_key,
            granter: granter.account().clone(),
            enc: enc.to_bytes().into(),
            sealed,
            signature: [0; 64],
        };
        wrap.signature = granter.sign(&wrap.signed_bytes());
        Ok(wrap)
    }

    /// Whether `granter` (as the chain knows them) signed this wrap.
    pub fn verify(&self, granter: &PublicIdentity) -> Result<(), WrapError> {
        if granter.account != self.granter || !granter.verify(&self.signed_bytes(), &self.signature)
        {
            return Err(WrapError::BadSignature {
                granter: self.granter.clone(),
            });
        }
        Ok(())
    }

    /// Opens the epoch key, after checking the granter's signature and
    /// that it was wrapped to `me`.
    pub fn open(
        &self,
        me: &SharingIdentity,
        granter: &PublicIdentity,
    ) -> Result<EpochKey, WrapError> {
        self.verify(granter)?;
        let mine = me.public();
        if self.recipient != mine.account || self.recipient_key != mine.wrap_key {
            return Err(WrapError::NotForMe {
                recipient: self.recipient.clone(),
            });
        }
        let enc = <WrapKem as Kem>::EncappedKey::from_bytes(&self.enc)
            .map_err(|_| WrapError::OpenFailed)?;
        let plain = hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, WrapKem>(
            &OpModeR::Base,
            me.wrap_private(),
            &enc,
            &info(
                &self.space,
                self.epoch,
                &self.recipient,
                &self.recipient_key,
            ),
            &self.sealed,
            &[],
        )
        .map_err(|_| WrapError::OpenFailed)?;
        EpochKey::from_bytes(&plain).map_err(|_| WrapError::OpenFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::identity::tests::user;

    struct Setup {
        owner: SharingIdentity,
        bob: SharingIdentity,
        space: SpaceId,
        key: EpochKey,
        wrap: KeyWrap,
    }

    fn setup() -> Setup {
        let owner = SharingIdentity::generate(user("alice"));
        let bob = SharingIdentity::generate(user("bob"));
        let space = SpaceId::generate();
        let key = EpochKey::generate();
        let wrap = KeyWrap::create(&owner, &bob.public(), space, Epoch::FIRST, &key).unwrap();
        Setup {
            owner,
            bob,
            space,
            key,
            wrap,
        }
    }

    #[test]
    fn the_recipient_opens_the_key_the_granter_wrapped() {
        let s = setup();
        assert_eq!(s.wrap.open(&s.bob, &s.owner.public()).unwrap(), s.key);
        let json = serde_json::to_string(&s.wrap).unwrap();
        let back: KeyWrap = serde_json::from_str(&json).unwrap();
        assert_eq!(back.open(&s.bob, &s.owner.public()).unwrap(), s.key);
        assert!(!json.contains(&hex::encode(s.key.as_bytes())));
    }

    #[test]
    fn nobody_else_opens_it_and_a_moved_or_resigned_wrap_is_refused() {
        let s = setup();
        let owner = s.owner.public();
        // Another identity, even under the recipient's account name.
        let mallory = SharingIdentity::generate(user("bob"));
        assert_eq!(
            s.wrap.open(&mallory, &owner),
            Err(WrapError::NotForMe {
                recipient: user("bob")
            })
        );
        // Relabelled for mallory's key: the signature breaks.
        let mut relabelled = s.wrap.clone();
        relabelled.recipient_key = mallory.public().wrap_key;
        assert!(matches!(
            relabelled.open(&mallory, &owner),
            Err(WrapError::BadSignature { .. })
        ));
        // ... and re-signed by mallory, it is not the owner's.
        let mut resigned = relabelled.clone();
        resigned.granter = user("bob");
        resigned.signature = mallory.sign(&resigned.signed_bytes());
        assert!(matches!(
            resigned.open(&mallory, &owner),
            Err(WrapError::BadSignature { .. })
        ));
        // Moved to another space or epoch (and re-signed by the owner, as
        // a confused owner could): the HPKE info differs, so it does not open.
        for (space, epoch) in [(SpaceId::generate(), Epoch::FIRST), (s.space, Epoch(2))] {
            let mut moved = s.wrap.clone();
            moved.space = space;
            moved.epoch = epoch;
            assert!(matches!(
                moved.open(&s.bob, &owner),
                Err(WrapError::BadSignature { .. })
            ));
            moved.signature = s.owner.sign(&moved.signed_bytes());
            assert_eq!(moved.open(&s.bob, &owner), Err(WrapError::OpenFailed));
        }
        // A flipped ciphertext byte.
        let mut flipped = s.wrap.clone();
        flipped.sealed[0] ^= 1;
        flipped.signature = s.owner.sign(&flipped.signed_bytes());
        assert_eq!(flipped.open(&s.bob, &owner), Err(WrapError::OpenFailed));
        // A wrap to a key that is no usable point.
        let bad = PublicIdentity {
            wrap_key: [0; 32],
            ..s.bob.public()
        };
        assert!(matches!(
            KeyWrap::create(&s.owner, &bad, s.space, Epoch::FIRST, &s.key),
            Err(WrapError::Seal { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn any_tampered_byte_is_refused(field in 0usize..3, at in 0usize..64, bit in 0u8..8) {
            let s = setup();
            let mut w = s.wrap.clone();
            match field {
                0 => w.enc[at % 32] ^= 1 << bit,
                1 => { let n = w.sealed.len(); w.sealed[at % n] ^= 1 << bit }
                _ => w.signature[at] ^= 1 << bit,
            }
            proptest::prop_assert!(w.open(&s.bob, &s.owner.public()).is_err());
        }
    }
}
