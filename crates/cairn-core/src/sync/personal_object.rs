//! Sealing the personal stream's objects once the account has rotated its
//! key (`crate::account_keys`).
//!
//! Epoch 0 is the content key and envelope version 1, exactly as before.
//! From epoch 1 on, objects are envelope version 2, the header naming the
//! epoch, with the space id all zeros (no shared space has it: theirs are
//! random, and their associated data is another string), sealed with the
//! epoch's key and bound to
//!
//! ```text
//! cairn-object/v2-personal \0 device \0 object key \0 epoch \0 kind \0 sequence
//! ```
//!
//! so storage cannot relabel an object's epoch, nor move it between
//! devices, slots or sequence numbers, nor pass a shared space's object
//! off as a personal one.

use std::collections::BTreeMap;

use crate::crypto::ContentKey;
use crate::space::epoch::{Epoch, EpochKey, SpaceId, SPACE_ID_LEN};
use crate::sync::object::{self, Object, ObjectError, ObjectKind, SpaceBinding};

/// The space id a personal object's header carries.
pub fn personal_space() -> SpaceId {
    SpaceId::from_bytes([0; SPACE_ID_LEN])
}

fn personal_aad(device: &str, key: &str, epoch: Epoch, kind: ObjectKind, seq: u64) -> Vec<u8> {
    format!(
        "cairn-object/v2-personal\0{device}\0{key}\0{epoch}\0{}\0{seq}",
        kind as u8
    )
    .into_bytes()
}

/// What the personal stream seals and opens with.
#[derive(Debug, Clone, Default)]
pub struct PersonalKeys {
    /// Epoch 0; `None` only where nothing is sealed (benchmarks).
    pub content: Option<ContentKey>,
    /// Epochs 1 and above, every one held.
    pub epochs: BTreeMap<Epoch, EpochKey>,
}

impl PersonalKeys {
    /// An account that never rotated.
    pub fn content(key: Option<ContentKey>) -> PersonalKeys {
        PersonalKeys {
            content: key,
            epochs: BTreeMap::new(),
        }
    }

    /// Seals `payload` for `device`'s `object_key`: with the newest epoch's
    /// key when there is one, else as version 1 under the content key.
    pub fn seal(
        &self,
        kind: ObjectKind,
        seq: u64,
        device: &str,
        object_key: &str,
        payload: &[u8],
    ) -> Vec<u8> {
        self.seal_owned(kind, seq, device, object_key, payload.to_vec())
    }

    /// `seal`, in the payload's own buffer.
    pub fn seal_owned(
        &self,
        kind: ObjectKind,
        seq: u64,
        device: &str,
        object_key: &str,
        payload: Vec<u8>,
    ) -> Vec<u8> {
        let Some((epoch, key)) = self.epochs.last_key_value() else {
            return object::encode_for_owned(
                kind,
                seq,
                device,
                object_key,
                self.content.as_ref(),
                payload,
            );
        };
        let aad = personal_aad(device, object_key, *epoch, kind, seq);
        let sealed = key.cipher().seal_owned(&aad, payload);
        let binding = SpaceBinding {
            space: personal_space(),
            epoch: *epoch,
        };
        object::encode_space_owned(kind, seq, binding, sealed)
    }

    /// Seals `payload` in chunks (envelope version 3,
    /// `crate::sync::stream_object`), with the newest epoch's key, or the
    /// content key as epoch 0, so a reader can open it a chunk at a time.
    pub fn seal_stream(
        &self,
        kind: ObjectKind,
        seq: u64,
        device: &str,
        object_key: &str,
        payload: &[u8],
    ) -> Vec<u8> {
        let place = crate::sync::stream_object::Place { device, object_key };
        let (epoch, key) = self.stream_key();
        crate::sync::stream_object::seal(
            kind,
            seq,
            place,
            epoch,
            key,
            crate::sync::stream_object::CHUNK_LEN,
            payload,
        )
    }

    /// `seal_stream`, writing into `out` as the plaintext is written to
    /// the sealer rather than from a payload held whole.
    pub fn stream_sealer<W: std::io::Write + std::io::Seek>(
        &self,
        kind: ObjectKind,
        seq: u64,
        device: &str,
        object_key: &str,
        out: W,
    ) -> std::io::Result<crate::sync::stream_object::Sealer<W>> {
        let place = crate::sync::stream_object::Place { device, object_key };
        let (epoch, key) = self.stream_key();
        crate::sync::stream_object::Sealer::new(
            out,
            kind,
            seq,
            place,
            epoch,
            key,
            crate::sync::stream_object::CHUNK_LEN,
        )
    }

    /// The key a new stream object is sealed with: the newest epoch's, or
    /// the content key as epoch 0 (`None`: unsealed, for benchmarks).
    fn stream_key(&self) -> (Epoch, Option<&ContentKey>) {
        match self.epochs.last_key_value() {
            Some((epoch, key)) => (*epoch, Some(key.cipher())),
            None => (Epoch(0), self.content.as_ref()),
        }
    }

    /// The payload of `obj`, read at `device`'s `object_key`: version 1
    /// with the content key, version 2 with the key of the epoch it names.
    pub fn open(
        &self,
        obj: &Object,
        device: &str,
        object_key: &str,
    ) -> Result<Vec<u8>, ObjectError> {
        self.open_owned(obj.clone(), device, object_key)
    }

    /// `open`, decrypting the payload in place.
    pub fn open_owned(
        &self,
        obj: Object,
        device: &str,
        object_key: &str,
    ) -> Result<Vec<u8>, ObjectError> {
        let Some(binding) = obj.space else {
            return object::plaintext_owned(obj, device, object_key, self.content.as_ref());
        };
        if binding.space != personal_space() {
            return Err(ObjectError::SpaceObject);
        }
        let key = self
            .epochs
            .get(&binding.epoch)
            .ok_or(ObjectError::NoPersonalKey {
                epoch: binding.epoch.0,
            })?;
        if obj.chunks.is_some() {
            return crate::sync::stream_object::open_whole(
                obj,
                device,
                object_key,
                Some(key.cipher()),
            );
        }
        let aad = personal_aad(device, object_key, binding.epoch, obj.kind, obj.seq);
        Ok(key.cipher().open_owned(&aad, obj.payload)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::object_ad::{self, ObjectPlace};
    use crate::sync::object::decode;
    use cairn_protocol::DeviceId;

    #[test]
    fn a_rotated_accounts_objects_open_at_their_epoch_and_place_only() {
        let content = ContentKey::generate();
        let old = PersonalKeys::content(Some(content.clone()));
        let before = decode(&old.seal(ObjectKind::Segment, 3, "d1", "log/03", b"before")).unwrap();
        // Epoch 0 is today's format.
        assert!(before.space.is_none());

        let e1 = EpochKey::generate();
        let new = PersonalKeys {
            content: Some(content),
            epochs: BTreeMap::from([(Epoch(1), e1.clone())]),
        };
        let after = decode(&new.seal(ObjectKind::Segment, 4, "d1", "log/04", b"after")).unwrap();
        assert_eq!(
            after.space,
            Some(SpaceBinding {
                space: personal_space(),
                epoch: Epoch(1)
            })
        );
        // The new keys read both epochs.
        assert_eq!(new.open(&before, "d1", "log/03").unwrap(), b"before");
        assert_eq!(new.open(&after, "d1", "log/04").unwrap(), b"after");
        // What a removed device holds (the content key) opens the old one
        // only.
        assert_eq!(old.open(&before, "d1", "log/03").unwrap(), b"before");
        assert_eq!(
            old.open(&after, "d1", "log/04"),
            Err(ObjectError::NoPersonalKey { epoch: 1 })
        );
        // Moved to another slot, device or number, it does not open.
        assert!(new.open(&after, "d1", "log/05").is_err());
        assert!(new.open(&after, "d2", "log/04").is_err());
        let mut renumbered = after.clone();
        renumbered.seq = 5;
        assert!(new.open(&renumbered, "d1", "log/04").is_err());
        // Relabelled with another epoch whose key the reader has, neither.
        let both = PersonalKeys {
            epochs: BTreeMap::from([(Epoch(1), e1.clone()), (Epoch(2), e1.clone())]),
            ..new.clone()
        };
        let mut relabelled = after.clone();
        relabelled.space = Some(SpaceBinding {
            space: personal_space(),
            epoch: Epoch(2),
        });
        assert!(both.open(&relabelled, "d1", "log/04").is_err());
        // A shared space's object is not a personal one, even with the key.
        let place = ObjectPlace {
            space: SpaceId::generate(),
            user: crate::space::identity::tests::user("alice"),
            device: DeviceId::parse("d1").unwrap(),
            key: "log/04".into(),
        };
        let space_obj = decode(&object_ad::seal(
            ObjectKind::Segment,
            4,
            &place,
            Epoch(1),
            &e1,
            b"x",
        ))
        .unwrap();
        assert_eq!(
            new.open(&space_obj, "d1", "log/04"),
            Err(ObjectError::SpaceObject)
        );
        // And a personal object is not a space's.
        let at_zero = ObjectPlace {
            space: personal_space(),
            ..place
        };
        assert!(object_ad::open(&after, &at_zero, |_| Some(e1.clone())).is_err());
    }
}
