//! A shared space's head, signed by the member who wrote it.
//!
//! In a space the epoch key is held by every member (viewers too) and, for
//! the epochs before their departure, by those who left: the seal alone
//! cannot tell an editor's head from one that any of them, working with
//! the storage, put in the editor's prefix. So the head of a space carries
//! its author's Ed25519 signature (their sharing identity), and readers
//! check it with that member's key from the verified membership chain
//! before they believe anything the head lists. The head lists every
//! object it covers by hash, so the signature covers those too.
//!
//! The sealed payload of a space's head is
//!
//! ```text
//! version (1) || signature (64) || signer length (1) || signer (account id) || head JSON
//! ```
//!
//! and the signature is over
//!
//! ```text
//! cairn-space-head/v1 \0 space \0 user \0 device \0 epoch \0 sequence \0 head JSON
//! ```
//!
//! where user and device are the prefix the head is written to, epoch the
//! one its envelope names, sequence its envelope's, and the head JSON the
//! exact bytes the reader then decodes. Spaces were never released before
//! this form, so a space's head without it is refused; the personal
//! stream's heads are unsigned, as before.

use cairn_protocol::{DeviceId, UserId};

use crate::space::epoch::{Epoch, SpaceId};
use crate::space::identity::{PublicIdentity, SharingIdentity};

/// The version byte of today's signed head.
pub const SIGNED_HEAD_VERSION: u8 = 1;
const SIGNATURE_LEN: usize = 64;

/// Why a space's head was not read. Each is ignored as a viewer's head
/// is: nothing of it is applied, and the reason goes to the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadRefusal {
    #[error("its head is not signed, as every head in a shared notebook must be")]
    Unsigned,
    #[error("its head is signed in a form a newer Cairn writes (version {found})")]
    UnknownVersion { found: u8 },
    #[error("its signed head is malformed: {0}")]
    Malformed(String),
    #[error("its head is signed by {signer}, not by {owner} whose device it is")]
    WrongSigner { signer: UserId, owner: UserId },
    #[error("its head is signed by {signer}, who may only read this notebook")]
    ViewerSigned { signer: UserId },
    #[error("its head is signed by {signer}, whom the notebook's members do not include")]
    UnknownSigner { signer: UserId },
    #[error("the signature on its head does not verify with {signer}'s key")]
    BadSignature { signer: UserId },
}

/// Where a head lies and what its envelope says: what the signature binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadPlace<'a> {
    pub space: SpaceId,
    pub user: &'a UserId,
    pub device: &'a DeviceId,
    pub epoch: Epoch,
    pub seq: u64,
}

fn message(place: &HeadPlace<'_>, head_json: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "cairn-space-head/v1\0{}\0{}\0{}\0{}\0{}\0",
        place.space, place.user, place.device, place.epoch, place.seq
    )
    .into_bytes();
    out.extend_from_slice(head_json);
    out
}

/// The signed payload of a head `signer` writes at `place`.
pub fn sign(signer: &SharingIdentity, place: &HeadPlace<'_>, head_json: &[u8]) -> Vec<u8> {
    let account = signer.account().as_str().as_bytes();
    let signature = signer.sign(&message(place, head_json));
    let mut out = Vec::with_capacity(2 + SIGNATURE_LEN + account.len() + head_json.len());
    out.push(SIGNED_HEAD_VERSION);
    out.extend_from_slice(&signature);
    // An account id is at most 81 bytes (`UserId::parse`).
    out.push(u8::try_from(account.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(account);
    out.extend_from_slice(head_json);
    out
}

/// A signed head taken apart, not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHead<'a> {
    pub signer: UserId,
    pub signature: [u8; SIGNATURE_LEN],
    pub head_json: &'a [u8],
}

/// Takes a signed head apart.
pub fn parse(payload: &[u8]) -> Result<SignedHead<'_>, HeadRefusal> {
    let (&version, rest) = payload.split_first().ok_or(HeadRefusal::Unsigned)?;
    if version == b'{' {
        // Bare head JSON: what a space's head was before it was signed.
        return Err(HeadRefusal::Unsigned);
    }
    if version != SIGNED_HEAD_VERSION {
        return Err(HeadRefusal::UnknownVersion { found: version });
    }
    let short = || HeadRefusal::Malformed("it is cut short".into());
    let (signature, rest) = rest.split_at_checked(SIGNATURE_LEN).ok_or_else(short)?;
    let (&len, rest) = rest.split_first().ok_or_else(short)?;
    let (signer, head_json) = rest.split_at_checked(usize::from(len)).ok_or_else(short)?;
    let signer = std::str::from_utf8(signer)
        .ok()
        .and_then(|s| UserId::parse(s).ok())
        .ok_or_else(|| HeadRefusal::Malformed("its signer is not an account id".into()))?;
    let mut sig = [0u8; SIGNATURE_LEN];
    sig.copy_from_slice(signature);
    Ok(SignedHead {
        signer,
        signature: sig,
        head_json,
    })
}

/// What a reader knows of a member who may have signed a head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    pub identity: PublicIdentity,
    /// A viewer: their signature makes no head readable.
    pub viewer: bool,
}

/// Checks the signed head at `place` (`place.user` owns the prefix) and
/// returns the head JSON it vouches for. `signer_of` gives what the
/// verified chain says of an account (members, and those who left: a
/// departed writer's pinned head was signed while they were a member).
pub fn verify<'a>(
    payload: &'a [u8],
    place: &HeadPlace<'_>,
    signer_of: impl Fn(&UserId) -> Option<Signer>,
) -> Result<&'a [u8], HeadRefusal> {
    let signed = parse(payload)?;
    let Some(known) = signer_of(&signed.signer) else {
        return Err(HeadRefusal::UnknownSigner {
            signer: signed.signer,
        });
    };
    if known.viewer {
        return Err(HeadRefusal::ViewerSigned {
            signer: signed.signer,
        });
    }
    if signed.signer != *place.user {
        return Err(HeadRefusal::WrongSigner {
            signer: signed.signer,
            owner: place.user.clone(),
        });
    }
    if known.identity.account != signed.signer
        || !known
            .identity
            .verify(&message(place, signed.head_json), &signed.signature)
    {
        return Err(HeadRefusal::BadSignature {
            signer: signed.signer,
        });
    }
    Ok(signed.head_json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::identity::tests::user;

    struct Fixture {
        alice: SharingIdentity,
        bob: SharingIdentity,
        carol: SharingIdentity,
        space: SpaceId,
        device: DeviceId,
    }

    fn fixture() -> Fixture {
        Fixture {
            alice: SharingIdentity::generate(user("alice")),
            bob: SharingIdentity::generate(user("bob")),
            carol: SharingIdentity::generate(user("carol")),
            space: SpaceId::generate(),
            device: DeviceId::parse("b1").unwrap(),
        }
    }

    impl Fixture {
        /// Alice owns, bob edits, carol views.
        fn signer_of(&self) -> impl Fn(&UserId) -> Option<Signer> + '_ {
            move |who| {
                [
                    (&self.alice, false),
                    (&self.bob, false),
                    (&self.carol, true),
                ]
                .into_iter()
                .find(|(id, _)| id.account() == who)
                .map(|(id, viewer)| Signer {
                    identity: id.public(),
                    viewer,
                })
            }
        }

        /// Bob's device's head, at sequence 7 of epoch 2.
        fn place<'a>(&'a self, user: &'a UserId) -> HeadPlace<'a> {
            HeadPlace {
                space: self.space,
                user,
                device: &self.device,
                epoch: Epoch(2),
                seq: 7,
            }
        }
    }

    const HEAD: &[u8] = br#"{"format":1,"device":"b1","seq":7}"#;

    #[test]
    fn a_head_signed_by_the_prefix_owner_verifies_and_gives_its_exact_bytes() {
        let f = fixture();
        let bob = f.bob.account().clone();
        let signed = sign(&f.bob, &f.place(&bob), HEAD);
        assert_eq!(signed[0], SIGNED_HEAD_VERSION);
        assert_eq!(verify(&signed, &f.place(&bob), f.signer_of()), Ok(HEAD));
    }

    #[test]
    fn a_tampered_head_or_signature_or_binding_is_refused() {
        let f = fixture();
        let bob = f.bob.account().clone();
        let signed = sign(&f.bob, &f.place(&bob), HEAD);
        let bad = Err(HeadRefusal::BadSignature {
            signer: bob.clone(),
        });
        // The head's bytes changed (one more segment, say).
        let mut tampered = signed.clone();
        let last = tampered.len() - 2;
        tampered[last] ^= 1;
        assert_eq!(verify(&tampered, &f.place(&bob), f.signer_of()), bad);
        // The signature changed.
        let mut forged = signed.clone();
        forged[5] ^= 0x40;
        assert_eq!(verify(&forged, &f.place(&bob), f.signer_of()), bad);
        // The same head read at another space, device, epoch or sequence.
        let other_device = DeviceId::parse("b2").unwrap();
        for place in [
            HeadPlace {
                space: SpaceId::generate(),
                ..f.place(&bob)
            },
            HeadPlace {
                device: &other_device,
                ..f.place(&bob)
            },
            HeadPlace {
                epoch: Epoch(1),
                ..f.place(&bob)
            },
            HeadPlace {
                seq: 8,
                ..f.place(&bob)
            },
        ] {
            assert_eq!(verify(&signed, &place, f.signer_of()), bad);
        }
        // Signed with a key that is not the one the chain holds for bob.
        let impostor = SharingIdentity::generate(bob.clone());
        let signed = sign(&impostor, &f.place(&bob), HEAD);
        assert_eq!(verify(&signed, &f.place(&bob), f.signer_of()), bad);
    }

    #[test]
    fn a_head_signed_by_another_member_a_viewer_or_a_stranger_is_refused() {
        let f = fixture();
        let bob = f.bob.account().clone();
        // Alice (the owner, holding every key) writes into bob's prefix.
        let signed = sign(&f.alice, &f.place(&bob), HEAD);
        assert_eq!(
            verify(&signed, &f.place(&bob), f.signer_of()),
            Err(HeadRefusal::WrongSigner {
                signer: f.alice.account().clone(),
                owner: bob.clone(),
            })
        );
        // Carol, a viewer, in bob's prefix or her own.
        let carol = f.carol.account().clone();
        for owner in [&bob, &carol] {
            let signed = sign(&f.carol, &f.place(owner), HEAD);
            assert_eq!(
                verify(&signed, &f.place(owner), f.signer_of()),
                Err(HeadRefusal::ViewerSigned {
                    signer: carol.clone()
                })
            );
        }
        // Someone the chain does not know.
        let mallory = SharingIdentity::generate(user("mallory"));
        let signed = sign(&mallory, &f.place(&bob), HEAD);
        assert_eq!(
            verify(&signed, &f.place(&bob), f.signer_of()),
            Err(HeadRefusal::UnknownSigner {
                signer: mallory.account().clone()
            })
        );
    }

    #[test]
    fn an_unsigned_or_malformed_head_is_refused() {
        let f = fixture();
        let bob = f.bob.account().clone();
        let place = f.place(&bob);
        assert_eq!(
            verify(HEAD, &place, f.signer_of()),
            Err(HeadRefusal::Unsigned)
        );
        assert_eq!(
            verify(&[], &place, f.signer_of()),
            Err(HeadRefusal::Unsigned)
        );
        let signed = sign(&f.bob, &place, HEAD);
        let mut newer = signed.clone();
        newer[0] = 2;
        assert_eq!(
            verify(&newer, &place, f.signer_of()),
            Err(HeadRefusal::UnknownVersion { found: 2 })
        );
        for cut in [1, 40, 65, 66, 70] {
            assert!(matches!(
                verify(&signed[..cut], &place, f.signer_of()),
                Err(HeadRefusal::Malformed(_))
            ));
        }
        let mut bad_name = signed.clone();
        bad_name[66] = b' ';
        assert!(matches!(
            verify(&bad_name, &place, f.signer_of()),
            Err(HeadRefusal::Malformed(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_verify(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let f = fixture();
            let bob = f.bob.account().clone();
            proptest::prop_assert!(verify(&bytes, &f.place(&bob), f.signer_of()).is_err());
        }
    }
}
