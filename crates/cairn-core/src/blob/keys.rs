//! The two keys of the blob layer, derived from the account's content key
//! with HKDF-SHA256 under distinct labels, so neither use can stand in for
//! the other or for the content key itself.

use hkdf::Hkdf;
use sha2::Sha256;

use crate::crypto::ContentKey;

const ID_INFO: &[u8] = b"cairn-blob-chunk-id/v1";
const SEAL_INFO: &[u8] = b"cairn-blob-chunk-seal/v1";

/// Without a content key (an account that syncs in plaintext, as the
/// benchmarks do) chunks are still sealed, under keys derived from this
/// public value: the AEAD then only proves integrity, like the plaintext
/// objects' hashes do.
const NO_SECRET: [u8; 32] = [0u8; 32];

#[derive(Clone)]
pub struct BlobKeys {
    /// Keys the HMAC that names a chunk.
    pub(crate) id: [u8; 32],
    /// Seals the chunk's segments.
    pub(crate) seal: [u8; 32],
}

impl std::fmt::Debug for BlobKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlobKeys(..)")
    }
}

impl BlobKeys {
    pub fn derive(content: Option<&ContentKey>) -> BlobKeys {
        let ikm = content.map_or(&NO_SECRET, ContentKey::as_bytes);
        let hk = Hkdf::<Sha256>::new(None, ikm);
        let mut id = [0u8; 32];
        let mut seal = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's limit of 8,160: these cannot fail.
        let ok_id = hk.expand(ID_INFO, &mut id).is_ok();
        let ok_seal = hk.expand(SEAL_INFO, &mut seal).is_ok();
        debug_assert!(ok_id && ok_seal);
        BlobKeys { id, seal }
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
