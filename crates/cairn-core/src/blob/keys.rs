//! The two keys of the blob layer, derived from the account's content key
//! with HKDF-SHA256 under distinct labels, so neither use can stand in for
//! the other or for the content key itself.
//!
//! Once a device was removed (the personal space's epochs,
//! `crate::account_keys`), chunks are sealed with a key derived the same
//! way from the newest epoch's key instead, so the removed device opens
//! none added afterwards; each older epoch's seal key is kept to open
//! what was sealed with it. Chunk names stay derived from the content
//! key: they must stay the same on every device, before and after, for
//! a file attached twice to be stored once.

use std::collections::BTreeMap;

use hkdf::Hkdf;
use sha2::Sha256;

use crate::crypto::ContentKey;
use crate::space::epoch::{Epoch, EpochKey};

const ID_INFO: &[u8] = b"cairn-blob-chunk-id/v1";
const SEAL_INFO: &[u8] = b"cairn-blob-chunk-seal/v1";
const EPOCH_SEAL_INFO: &[u8] = b"cairn-blob-chunk-seal/v2";

/// Without a content key (an account that syncs in plaintext, as the
/// benchmarks do) chunks are still sealed, under keys derived from this
/// public value: the AEAD then only proves integrity, like the plaintext
/// objects' hashes do.
const NO_SECRET: [u8; 32] = [0u8; 32];

#[derive(Clone)]
pub struct BlobKeys {
    /// Keys the HMAC that names a chunk.
    pub(crate) id: [u8; 32],
    /// Seals the chunk's segments (epoch 0).
    pub(crate) seal: [u8; 32],
    /// The seal keys of the personal space's later epochs; the newest
    /// seals what is uploaded now.
    pub(crate) epoch_seals: BTreeMap<u32, [u8; 32]>,
}

fn expand(ikm: &[u8; 32], info: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's limit of 8,160: this cannot fail.
    let ok = Hkdf::<Sha256>::new(None, ikm)
        .expand(info, &mut out)
        .is_ok();
    debug_assert!(ok);
    out
}

impl std::fmt::Debug for BlobKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlobKeys(..)")
    }
}

impl BlobKeys {
    pub fn derive(content: Option<&ContentKey>) -> BlobKeys {
        let ikm = content.map_or(&NO_SECRET, ContentKey::as_bytes);
        BlobKeys {
            id: expand(ikm, ID_INFO),
            seal: expand(ikm, SEAL_INFO),
            epoch_seals: BTreeMap::new(),
        }
    }

    /// These keys and the seal keys of the personal space's `epochs`
    /// (an epoch past `u32::MAX` cannot be: the envelope holds 64).
    pub fn with_epochs(mut self, epochs: &BTreeMap<Epoch, EpochKey>) -> BlobKeys {
        self.epoch_seals = epochs
            .iter()
            .filter_map(|(e, k)| {
                let e = u32::try_from(e.0).ok()?;
                Some((e, expand(k.as_bytes(), EPOCH_SEAL_INFO)))
            })
            .collect();
        self
    }

    /// The epoch new chunks are sealed at, and its key: `None` for epoch 0.
    pub(crate) fn sealing(&self) -> Option<(u32, &[u8; 32])> {
        self.epoch_seals.last_key_value().map(|(e, k)| (*e, k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_per_use_and_per_account() {
        let a = BlobKeys::derive(Some(&ContentKey::from_bytes(&[1; 32]).unwrap()));
        let b = BlobKeys::derive(Some(&ContentKey::from_bytes(&[2; 32]).unwrap()));
        let none = BlobKeys::derive(None);
        assert_ne!(a.id, a.seal);
        assert_ne!(a.id, b.id);
        assert_ne!(a.seal, b.seal);
        assert_ne!(none.id, a.id);
        assert_ne!(&a.id, ContentKey::from_bytes(&[1; 32]).unwrap().as_bytes());
    }
}
