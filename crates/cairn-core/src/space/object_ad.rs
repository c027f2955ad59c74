//! Sealing a shared space's objects (envelope version 2).
//!
//! The seal is XChaCha20-Poly1305 under the epoch's key, as version 1's is
//! under the content key, with associated data that binds the object to
//! its space, the writing user and device, its object key, the epoch, its
//! kind and its sequence number:
//!
//! ```text
//! cairn-object/v2 \0 space \0 user \0 device \0 object key \0 epoch \0 kind \0 seq
//! ```
//!
//! so storage cannot move a ciphertext between spaces, users, devices,
//! slots or epochs, nor relabel its epoch in the header. A reader names the
//! place it read from ([`ObjectPlace`]) and opens either version with
//! [`open_any`]: version 1 with the content key, exactly as today, version
//! 2 with the key of the epoch the header names.

use cairn_protocol::{DeviceId, UserId};

use crate::crypto::ContentKey;
use crate::space::epoch::{Epoch, EpochKey, SpaceId};
use crate::sync::object::{self, Object, ObjectError, ObjectKind, SpaceBinding};

/// Where an object was read from (or is written to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPlace {
    pub space: SpaceId,
    pub user: UserId,
    pub device: DeviceId,
    /// The object's key relative to the device's prefix (`head`, `log/07`).
    pub key: String,
}

pub fn space_aad(place: &ObjectPlace, epoch: Epoch, kind: ObjectKind, seq: u64) -> Vec<u8> {
    format!(
        "cairn-object/v2\0{}\0{}\0{}\0{}\0{epoch}\0{}\0{seq}",
        place.space, place.user, place.device, place.key, kind as u8
    )
    .into_bytes()
}

/// Seals `payload` as a version 2 object of `place`'s space and `epoch`.
pub fn seal(
    kind: ObjectKind,
    seq: u64,
    place: &ObjectPlace,
    epoch: Epoch,
    key: &EpochKey,
    payload: &[u8],
) -> Vec<u8> {
    let sealed = key
        .cipher()
        .seal(&space_aad(place, epoch, kind, seq), payload);
    let binding = SpaceBinding {
        space: place.space,
        epoch,
    };
    object::encode_space(kind, seq, binding, &sealed)
}

/// Opens a version 2 object read from `place`, with the key `keys` gives
/// for the epoch its header names.
pub fn open(
    obj: &Object,
    place: &ObjectPlace,
    keys: impl Fn(Epoch) -> Option<EpochKey>,
) -> Result<Vec<u8>, ObjectError> {
    open_owned(obj.clone(), place, keys)
}

/// `open`, decrypting the payload in place.
pub fn open_owned(
    obj: Object,
    place: &ObjectPlace,
    keys: impl Fn(Epoch) -> Option<EpochKey>,
) -> Result<Vec<u8>, ObjectError> {
    let binding = obj.space.ok_or(ObjectError::Malformed(
        "a personal object where a shared space's was expected".into(),
    ))?;
    if binding.space != place.space {
        return Err(ObjectError::WrongSpace {
            found: binding.space,
        });
    }
    let key = keys(binding.epoch).ok_or(ObjectError::NoEpochKey {
        epoch: binding.epoch.0,
    })?;
    let aad = space_aad(place, binding.epoch, obj.kind, obj.seq);
    Ok(key.cipher().open_owned(&aad, obj.payload)?)
}

/// Opens an object of either version: a personal one (version 1) as
/// today, with the content key and the device and key it was read at; a
/// space's (version 2) with its epoch's key.
pub fn open_any(
    obj: &Object,
    place: &ObjectPlace,
    content_key: Option<&ContentKey>,
    keys: impl Fn(Epoch) -> Option<EpochKey>,
) -> Result<Vec<u8>, ObjectError> {
    match obj.space {
        None => object::plaintext(obj, place.device.as_str(), &place.key, content_key),
        Some(_) => open(obj, place, keys),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::identity::tests::user;
    use crate::sync::object::{decode, encode_for, SPACE_HEADER_LEN};

    fn place(space: SpaceId) -> ObjectPlace {
        ObjectPlace {
            space,
            user: user("alice"),
            device: DeviceId::parse("d1").unwrap(),
            key: "log/07".into(),
        }
    }

    #[test]
    fn a_space_object_opens_only_where_and_when_it_was_sealed() {
        let space = SpaceId::generate();
        let (k1, k2) = (EpochKey::generate(), EpochKey::generate());
        let keys = |e: Epoch| match e.0 {
            1 => Some(k1.clone()),
            2 => Some(k2.clone()),
            _ => None,
        };
        let here = place(space);
        let bytes = seal(ObjectKind::Segment, 9, &here, Epoch(2), &k2, b"shared text");
        let obj = decode(&bytes).unwrap();
        assert_eq!(
            obj.space,
            Some(SpaceBinding {
                space,
                epoch: Epoch(2)
            })
        );
        assert_eq!(obj.encode(), bytes);
        assert_eq!(open(&obj, &here, keys).unwrap(), b"shared text");
        assert_eq!(open_any(&obj, &here, None, keys).unwrap(), b"shared text");
        // A personal reader refuses it rather than misreading it.
        assert_eq!(
            object::plaintext(&obj, "d1", "log/07", Some(&ContentKey::generate())),
            Err(ObjectError::SpaceObject)
        );

        // Copied into another space's prefix, header and all.
        let other = place(SpaceId::generate());
        assert_eq!(
            open(&obj, &other, keys),
            Err(ObjectError::WrongSpace { found: space })
        );
        // ... with its header rewritten to that space.
        let mut moved = bytes.clone();
        moved[52..68].copy_from_slice(other.space.as_bytes());
        let moved = decode(&moved).unwrap();
        assert!(matches!(
            open(&moved, &other, keys),
            Err(ObjectError::Crypto(_))
        ));
        // Relabelled with epoch 1, whose key this reader also has.
        let mut relabelled = bytes.clone();
        relabelled[68..76].copy_from_slice(&1u64.to_le_bytes());
        let relabelled = decode(&relabelled).unwrap();
        assert!(matches!(
            open(&relabelled, &here, keys),
            Err(ObjectError::Crypto(_))
        ));
        // Sealed under epoch 1's key but labelled epoch 2 by its writer.
        let mislabelled =
            decode(&seal(ObjectKind::Segment, 9, &here, Epoch(2), &k1, b"x")).unwrap();
        assert!(matches!(
            open(&mislabelled, &here, keys),
            Err(ObjectError::Crypto(_))
        ));
        // Another user, device, slot, kind or sequence number.
        for wrong in [
            ObjectPlace {
                user: user("bob"),
                ..here.clone()
            },
            ObjectPlace {
                device: DeviceId::parse("d2").unwrap(),
                ..here.clone()
            },
            ObjectPlace {
                key: "log/08".into(),
                ..here.clone()
            },
        ] {
            assert!(matches!(
                open(&obj, &wrong, keys),
                Err(ObjectError::Crypto(_))
            ));
        }
        let mut reseq = obj.clone();
        reseq.seq = 10;
        assert!(matches!(
            open(&reseq, &here, keys),
            Err(ObjectError::Crypto(_))
        ));
        let mut rekind = obj.clone();
        rekind.kind = ObjectKind::Snapshot;
        assert!(matches!(
            open(&rekind, &here, keys),
            Err(ObjectError::Crypto(_))
        ));
        // An epoch this device has no key for (it was removed before it).
        let later = decode(&seal(ObjectKind::Segment, 9, &here, Epoch(3), &k2, b"x")).unwrap();
        assert_eq!(
            open(&later, &here, keys),
            Err(ObjectError::NoEpochKey { epoch: 3 })
        );
    }

    #[test]
    fn todays_personal_objects_keep_opening() {
        let content = ContentKey::generate();
        let here = place(SpaceId::generate());
        let v1 = encode_for(
            ObjectKind::Segment,
            4,
            "d1",
            "log/07",
            Some(&content),
            b"mine",
        );
        let obj = decode(&v1).unwrap();
        assert_eq!(obj.space, None);
        assert_eq!(obj.encode(), v1);
        assert_eq!(
            open_any(&obj, &here, Some(&content), |_| None).unwrap(),
            b"mine"
        );
        let plain = decode(&encode_for(ObjectKind::Head, 1, "d1", "head", None, b"{}")).unwrap();
        assert_eq!(open_any(&plain, &here, None, |_| None).unwrap(), b"{}");
        // The version 1 seal still binds device and key.
        let elsewhere = ObjectPlace {
            key: "log/08".into(),
            ..here.clone()
        };
        assert!(open_any(&obj, &elsewhere, Some(&content), |_| None).is_err());
    }

    #[test]
    fn a_newer_version_is_refused_with_its_own_error() {
        let here = place(SpaceId::generate());
        let k = EpochKey::generate();
        let mut bytes = seal(ObjectKind::Head, 1, &here, Epoch::FIRST, &k, b"{}");
        bytes[4] = 4;
        let err = decode(&bytes).unwrap_err();
        assert_eq!(err, ObjectError::UnknownVersion { found: 4 });
        assert!(err
            .to_string()
            .contains("a device of yours runs a newer Cairn"));
        // A version 2 object cut inside its longer header.
        let bytes = seal(ObjectKind::Head, 1, &here, Epoch::FIRST, &k, b"{}");
        assert_eq!(
            decode(&bytes[..SPACE_HEADER_LEN - 1]),
            Err(ObjectError::TooShort {
                len: SPACE_HEADER_LEN - 1
            })
        );
        // Version 2 is never plaintext.
        let mut unsealed = bytes.clone();
        unsealed[6] = 0;
        assert_eq!(decode(&unsealed), Err(ObjectError::NotSealed));
    }

    proptest::proptest! {
        #[test]
        fn any_flipped_bit_of_a_space_object_is_refused(at in 0usize..200, bit in 0u8..8) {
            let here = place(SpaceId::from_bytes([5; 16]));
            let k = EpochKey::from_bytes(&[6; 32]).unwrap();
            let mut bytes = seal(ObjectKind::Segment, 2, &here, Epoch::FIRST, &k, b"some shared words");
            let i = at % bytes.len();
            bytes[i] ^= 1 << bit;
            let opened = decode(&bytes).and_then(|o| open(&o, &here, |_| Some(k.clone())));
            proptest::prop_assert!(opened.is_err());
        }
    }
}
