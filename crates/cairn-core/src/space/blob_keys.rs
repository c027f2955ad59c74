//! A shared space's attachment keys (docs/sharing.md, "Attachments in a
//! space"): one seal key per epoch, derived from that epoch's key with
//! HKDF-SHA256 under a label of its own, so a chunk sealed for the space
//! opens with nothing but the space's epoch keys, and a chunk sealed after
//! a removal with nothing the removed member holds.
//!
//! Chunks keep the names the notes give them (the attaching account's
//! HMAC, `blob::chunk_id`): a note's attachment records travel unchanged
//! into and out of a space, so no record is rewritten when a note moves.

use std::collections::BTreeMap;

use hkdf::Hkdf;
use sha2::Sha256;

use crate::space::epoch::{Epoch, EpochKey, SpaceId};

const SEAL_INFO: &[u8] = b"cairn-space-blob-chunk-seal/v1";

#[derive(Clone)]
pub struct SpaceBlobKeys {
    pub(crate) space: SpaceId,
    /// By epoch: the newest seals what is uploaded now, each older one
    /// opens what was sealed with it.
    pub(crate) seals: BTreeMap<u32, [u8; 32]>,
}

impl std::fmt::Debug for SpaceBlobKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SpaceBlobKeys({}, epochs {:?})",
            self.space,
            self.seals.keys()
        )
    }
}

fn expand(ikm: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's limit of 8,160: this cannot fail.
    let ok = Hkdf::<Sha256>::new(None, ikm)
        .expand(SEAL_INFO, &mut out)
        .is_ok();
    debug_assert!(ok);
    out
}

impl SpaceBlobKeys {
    /// The keys of `space` from the epoch keys held (an epoch past
    /// `u32::MAX` cannot be: a chunk's header holds 32 bits).
    pub fn derive(space: &SpaceId, epochs: &BTreeMap<Epoch, EpochKey>) -> SpaceBlobKeys {
        SpaceBlobKeys {
            space: *space,
            seals: epochs
                .iter()
                .filter_map(|(e, k)| Some((u32::try_from(e.0).ok()?, expand(k.as_bytes()))))
                .collect(),
        }
    }

    /// These keys, sealing at `epoch` (the space's current one, which its
    /// stream seals with): later epochs' keys, if any are held, are not
    /// used to seal until the stream moves to them.
    pub fn sealing_at(mut self, epoch: Epoch) -> SpaceBlobKeys {
        if let Ok(e) = u32::try_from(epoch.0) {
            self.seals.retain(|k, _| *k <= e);
        }
        self
    }

    pub fn space(&self) -> &SpaceId {
        &self.space
    }

    /// The epoch new chunks are sealed at, and its key.
    pub(crate) fn sealing(&self) -> Option<(u32, &[u8; 32])> {
        self.seals.last_key_value().map(|(e, k)| (*e, k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_epoch_has_its_own_key_unlike_the_epoch_key_itself() {
        let space = SpaceId::generate();
        let (k1, k2) = (EpochKey::generate(), EpochKey::generate());
        let keys = SpaceBlobKeys::derive(
            &space,
            &BTreeMap::from([(Epoch(1), k1.clone()), (Epoch(2), k2)]),
        );
        assert_eq!(keys.sealing().map(|(e, _)| e), Some(2));
        assert_ne!(keys.seals[&1], keys.seals[&2]);
        assert_ne!(&keys.seals[&1], k1.as_bytes());
        // The personal blob layer's label gives another key from the same
        // epoch key.
        let personal =
            crate::blob::BlobKeys::derive(None).with_epochs(&BTreeMap::from([(Epoch(1), k1)]));
        assert_ne!(personal.epoch_seals[&1], keys.seals[&1]);
        assert_eq!(
            keys.clone().sealing_at(Epoch(1)).sealing().map(|(e, _)| e),
            Some(1)
        );
    }
}
