//! The sealed form of one chunk, as it sits in a slot in the bucket.
//!
//! ```text
//! "CBK1" | nonce prefix (16 random bytes) | segment 0 | segment 1 | ...
//! segment i = XChaCha20-Poly1305(up to 64 KiB of plaintext) with its tag
//!   nonce = prefix | i (u64 LE)
//!   aad   = "cairn-blob/v1\0" | chunk id | i (u32 LE) | 1 if last else 0
//! ```
//!
//! Once a device was removed from the account, chunks are sealed with the
//! newest epoch's seal key (`keys.rs`), and say so in the same number of
//! bytes, so every length and offset stays as it was:
//!
//! ```text
//! "CBK2" | epoch (u32 LE) | 12 random bytes | segments as above
//!   nonce = epoch | random | i (u64 LE)
//!   aad   = "cairn-blob/v2\0" | chunk id | epoch (u32 LE) | i (u32 LE) | 1 if last else 0
//! ```
//!
//! The plaintext length is known from the index, so the reader knows the
//! exact sealed length and every segment boundary before it reads a byte;
//! a chunk whose bytes were altered, cut, extended, reordered or moved to
//! another chunk's place fails to open. The id is not recomputed from
//! the plaintext: a chunk attached before its device had the account's
//! content key is named under the public key (see `keys.rs`) and sealed
//! under the real one, and the AEAD already proves that the holder of the
//! key sealed these bytes for this id.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

use crate::blob::chunk_id::ChunkId;
use crate::blob::error::BlobError;
use crate::blob::keys::BlobKeys;
use crate::blob::CHUNK_SIZE;

const MAGIC: &[u8; 4] = b"CBK1";
const EPOCH_MAGIC: &[u8; 4] = b"CBK2";
pub(crate) const PREFIX_LEN: usize = 16;
pub(crate) const HEADER_LEN: usize = MAGIC.len() + PREFIX_LEN;
pub(crate) const TAG_LEN: usize = 16;
/// Plaintext bytes per segment.
pub const SEGMENT: usize = 64 * 1024;

pub(crate) fn segments(plain_len: usize) -> usize {
    plain_len.div_ceil(SEGMENT).max(1)
}

/// The sealed size of a chunk of `plain_len` bytes.
pub fn sealed_len(plain_len: usize) -> usize {
    HEADER_LEN + plain_len + TAG_LEN * segments(plain_len)
}

fn aad(id: &ChunkId, epoch: Option<u32>, index: usize, last: bool) -> Vec<u8> {
    let mut a = Vec::with_capacity(14 + 32 + 9);
    match epoch {
        None => a.extend_from_slice(b"cairn-blob/v1\0"),
        Some(_) => a.extend_from_slice(b"cairn-blob/v2\0"),
    }
    a.extend_from_slice(id.as_bytes());
    if let Some(e) = epoch {
        a.extend_from_slice(&e.to_le_bytes());
    }
    a.extend_from_slice(&(index as u32).to_le_bytes());
    a.push(u8::from(last));
    a
}

pub(crate) fn nonce(prefix: &[u8], index: usize) -> XNonce {
    let mut n = [0u8; 24];
    n[..PREFIX_LEN].copy_from_slice(prefix);
    n[PREFIX_LEN..].copy_from_slice(&(index as u64).to_le_bytes());
    n.into()
}

/// Seals `plain`, the bytes of chunk `id`.
pub fn seal(keys: &BlobKeys, id: &ChunkId, plain: &[u8]) -> Vec<u8> {
    let mut prefix = [0u8; PREFIX_LEN];
    rand::thread_rng().fill_bytes(&mut prefix);
    let (magic, epoch, key) = match keys.sealing() {
        None => (MAGIC, None, &keys.seal),
        Some((epoch, key)) => {
            prefix[..4].copy_from_slice(&epoch.to_le_bytes());
            (EPOCH_MAGIC, Some(epoch), key)
        }
    };
    let cipher = XChaCha20Poly1305::new(key.into());
    let mut out = Vec::with_capacity(sealed_len(plain.len()));
    out.extend_from_slice(magic);
    out.extend_from_slice(&prefix);
    let n = segments(plain.len());
    for i in 0..n {
        let part = &plain[(i * SEGMENT).min(plain.len())..((i + 1) * SEGMENT).min(plain.len())];
        let aad = aad(id, epoch, i, i + 1 == n);
        // Encryption fails only for messages near 2^38 bytes.
        if let Ok(ct) = cipher.encrypt(
            &nonce(&prefix, i),
            Payload {
                msg: part,
                aad: &aad,
            },
        ) {
            out.extend_from_slice(&ct);
        }
    }
    out
}

/// Opens the sealed bytes of chunk `id`, `plain_len` bytes long.
pub fn open(
    keys: &BlobKeys,
    id: &ChunkId,
    plain_len: usize,
    sealed: &[u8],
) -> Result<Vec<u8>, BlobError> {
    let altered = |why: &str| BlobError::Altered {
        chunk: id.to_hex(),
        reason: why.to_owned(),
    };
    if plain_len > CHUNK_SIZE {
        return Err(BlobError::Malformed(format!(
            "a chunk of {plain_len} bytes is larger than any Cairn writes"
        )));
    }
    if sealed.len() != sealed_len(plain_len) {
        return Err(altered("its length is not the one recorded"));
    }
    let prefix = &sealed[MAGIC.len()..HEADER_LEN];
    let (epoch, key) = match &sealed[..MAGIC.len()] {
        m if m == MAGIC => (None, &keys.seal),
        m if m == EPOCH_MAGIC => {
            let mut e = [0u8; 4];
            e.copy_from_slice(&prefix[..4]);
            let epoch = u32::from_le_bytes(e);
            let key = keys.epoch_seals.get(&epoch).ok_or_else(|| BlobError::Altered {
                chunk: id.to_hex(),
                reason: format!(
                    "it is sealed with the key your notes got after a device was removed (epoch {epoch}), which this device does not have: enter your passphrase"
                ),
            })?;
            (Some(epoch), key)
        }
        m if m.starts_with(b"CBS") => {
            return Err(altered(
                "it is sealed for a shared notebook, not with this account's key",
            ))
        }
        m if m.starts_with(b"CBK") => {
            return Err(BlobError::NewerFormat {
                found: String::from_utf8_lossy(m).into_owned(),
            })
        }
        _ => return Err(altered("it does not start like a sealed chunk")),
    };
    let cipher = XChaCha20Poly1305::new(key.into());
    let n = segments(plain_len);
    let mut plain = Vec::with_capacity(plain_len);
    let mut at = HEADER_LEN;
    for i in 0..n {
        let part_len = (plain_len - (i * SEGMENT).min(plain_len)).min(SEGMENT) + TAG_LEN;
        let part = &sealed[at..at + part_len];
        at += part_len;
        let aad = aad(id, epoch, i, i + 1 == n);
        let opened = cipher
            .decrypt(
                &nonce(prefix, i),
                Payload {
                    msg: part,
                    aad: &aad,
                },
            )
            .map_err(|_| altered("it does not open with this account's key"))?;
        plain.extend_from_slice(&opened);
    }
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::ContentKey;
    use proptest::prelude::*;

    fn keys() -> BlobKeys {
        BlobKeys::derive(Some(&ContentKey::from_bytes(&[9; 32]).unwrap()))
    }

    #[test]
    fn seal_open_and_refuse_tampering() {
        let k = keys();
        let plain: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let id = ChunkId::of(&k, &plain);
        let sealed = seal(&k, &id, &plain);
        assert_eq!(sealed.len(), sealed_len(plain.len()));
        assert_eq!(open(&k, &id, plain.len(), &sealed).unwrap(), plain);
        assert!(!sealed.windows(32).any(|w| w == &plain[1000..1032]));
        let mut flipped = sealed.clone();
        flipped[HEADER_LEN + 70_000] ^= 1;
        assert!(matches!(
            open(&k, &id, plain.len(), &flipped),
            Err(BlobError::Altered { .. })
        ));
        assert!(open(&k, &id, plain.len(), &sealed[..sealed.len() - 1]).is_err());
        let other = ChunkId::of(&k, b"other");
        // Sealed for another id: the AAD differs.
        assert!(open(&k, &other, plain.len(), &sealed).is_err());
        let wrong = BlobKeys::derive(None);
        assert!(open(&wrong, &id, plain.len(), &sealed).is_err());
        // Swapping two segments of equal length is caught by the nonce and AAD.
        let mut swapped = sealed.clone();
        let seg = SEGMENT + TAG_LEN;
        let (a, b) = (HEADER_LEN, HEADER_LEN + seg);
        let first = swapped[a..a + seg].to_vec();
        swapped.copy_within(b..b + seg, a);
        swapped[b..b + seg].copy_from_slice(&first);
        assert!(open(&k, &id, plain.len(), &swapped).is_err());
    }

    #[test]
    fn after_a_rotation_chunks_seal_at_the_newest_epoch_in_the_same_length() {
        use crate::space::epoch::{Epoch, EpochKey};
        use std::collections::BTreeMap;
        let old = keys();
        let (e1, e2) = (EpochKey::generate(), EpochKey::generate());
        let new = keys().with_epochs(&BTreeMap::from([(Epoch(1), e1.clone()), (Epoch(2), e2)]));
        let plain: Vec<u8> = (0..70_000u32).map(|i| (i % 241) as u8).collect();
        // Named as before, so a file attached before and after is one chunk.
        let id = ChunkId::of(&new, &plain);
        assert_eq!(id, ChunkId::of(&old, &plain));
        let before = seal(&old, &id, &plain);
        let after = seal(&new, &id, &plain);
        assert_eq!(after.len(), before.len());
        assert_eq!(&after[..8], b"CBK2\x02\0\0\0");
        // The new keys open both; what a removed device holds (the
        // content key), only the older one.
        assert_eq!(open(&new, &id, plain.len(), &before).unwrap(), plain);
        assert_eq!(open(&new, &id, plain.len(), &after).unwrap(), plain);
        assert_eq!(open(&old, &id, plain.len(), &before).unwrap(), plain);
        assert!(matches!(
            open(&old, &id, plain.len(), &after),
            Err(BlobError::Altered { .. })
        ));
        // Relabelled with another epoch whose key the reader has: refused.
        let mut relabelled = after.clone();
        relabelled[4] = 1;
        assert!(open(&new, &id, plain.len(), &relabelled).is_err());
        // Or passed off as an epoch 0 chunk.
        let mut downgraded = after.clone();
        downgraded[..4].copy_from_slice(b"CBK1");
        assert!(open(&new, &id, plain.len(), &downgraded).is_err());
        let only_first = keys().with_epochs(&BTreeMap::from([(Epoch(1), e1)]));
        assert!(open(&only_first, &id, plain.len(), &after).is_err());
    }

    #[test]
    fn an_empty_chunk_still_has_one_segment() {
        let k = keys();
        let id = ChunkId::of(&k, b"");
        let sealed = seal(&k, &id, b"");
        assert_eq!(sealed.len(), HEADER_LEN + TAG_LEN);
        assert_eq!(open(&k, &id, 0, &sealed).unwrap(), b"");
    }

    proptest! {
        #[test]
        fn any_chunk_round_trips(plain in proptest::collection::vec(any::<u8>(), 0..150_000)) {
            let k = keys();
            let id = ChunkId::of(&k, &plain);
            let sealed = seal(&k, &id, &plain);
            prop_assert_eq!(open(&k, &id, plain.len(), &sealed).unwrap(), plain);
        }
    }
}
