//! The sealed form of one chunk of a shared space, as it sits in a slot
//! under the space's prefix. The personal `CBK2` form (`blob::seal`), with
//! the space's seal key of the epoch and the space id in the associated
//! data, in the same number of bytes (so `blob::seal::sealed_len` and the
//! index's locations hold for both):
//!
//! ```text
//! "CBS1" | epoch (u32 LE) | 12 random bytes | segment 0 | segment 1 | ...
//! segment i = XChaCha20-Poly1305(up to 64 KiB of plaintext) with its tag
//!   nonce = epoch | random | i (u64 LE)
//!   aad   = "cairn-space-blob/v1\0" | space id (16 bytes) | chunk id
//!           | epoch (u32 LE) | i (u32 LE) | 1 if last else 0
//! ```
//!
//! A chunk copied to another space's prefix, relabelled with another
//! epoch, cut, extended, reordered or passed off as another chunk fails to
//! open. The bytes come from other members' slots: [`open`] is fuzzed
//! (`tests/fuzz_decoders.rs`, target `space_chunk`).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::XChaCha20Poly1305;
use rand::RngCore;

use crate::blob::seal::{nonce, sealed_len, segments, HEADER_LEN, PREFIX_LEN, SEGMENT, TAG_LEN};
use crate::blob::{BlobError, ChunkId, CHUNK_SIZE};
use crate::space::blob_keys::SpaceBlobKeys;

const MAGIC: &[u8; 4] = b"CBS1";
/// Every form of a space's chunk starts with this; a later digit is a
/// newer Cairn's.
const FAMILY: &[u8; 3] = b"CBS";

fn aad(keys: &SpaceBlobKeys, id: &ChunkId, epoch: u32, index: usize, last: bool) -> Vec<u8> {
    let mut a = Vec::with_capacity(20 + 16 + 32 + 9);
    a.extend_from_slice(b"cairn-space-blob/v1\0");
    a.extend_from_slice(keys.space.as_bytes());
    a.extend_from_slice(id.as_bytes());
    a.extend_from_slice(&epoch.to_le_bytes());
    a.extend_from_slice(&(index as u32).to_le_bytes());
    a.push(u8::from(last));
    a
}

/// Why a space's chunk cannot be sealed here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("this device holds no key of the shared notebook to seal attachments with")]
pub struct NoSpaceKey;

/// Seals `plain`, the bytes of chunk `id`, at the space's newest epoch held.
pub fn seal(keys: &SpaceBlobKeys, id: &ChunkId, plain: &[u8]) -> Result<Vec<u8>, NoSpaceKey> {
    let (epoch, key) = keys.sealing().ok_or(NoSpaceKey)?;
    let mut prefix = [0u8; PREFIX_LEN];
    rand::thread_rng().fill_bytes(&mut prefix);
    prefix[..4].copy_from_slice(&epoch.to_le_bytes());
    let cipher = XChaCha20Poly1305::new(key.into());
    let mut out = Vec::with_capacity(sealed_len(plain.len()));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&prefix);
    let n = segments(plain.len());
    for i in 0..n {
        let part = &plain[(i * SEGMENT).min(plain.len())..((i + 1) * SEGMENT).min(plain.len())];
        let aad = aad(keys, id, epoch, i, i + 1 == n);
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
    Ok(out)
}

/// Opens the sealed bytes of the space's chunk `id`, `plain_len` bytes long.
pub fn open(
    keys: &SpaceBlobKeys,
    id: &ChunkId,
    plain_len: usize,
    sealed: &[u8],
) -> Result<Vec<u8>, BlobError> {
    let altered = |why: String| BlobError::Altered {
        chunk: id.to_hex(),
        reason: why,
    };
    if plain_len > CHUNK_SIZE {
        return Err(BlobError::Malformed(format!(
            "a chunk of {plain_len} bytes is larger than any Cairn writes"
        )));
    }
    if sealed.len() < MAGIC.len() {
        return Err(altered("it is shorter than any sealed chunk".into()));
    }
    let magic = &sealed[..MAGIC.len()];
    if magic != MAGIC {
        if magic.starts_with(FAMILY) {
            return Err(BlobError::NewerFormat {
                found: String::from_utf8_lossy(magic).into_owned(),
            });
        }
        return Err(altered(
            "it is not sealed for a shared notebook (it was put in the notebook's storage from elsewhere)".into(),
        ));
    }
    if sealed.len() != sealed_len(plain_len) {
        return Err(altered("its length is not the one recorded".into()));
    }
    let prefix: &[u8] = &sealed[MAGIC.len()..HEADER_LEN];
    let mut e = [0u8; 4];
    e.copy_from_slice(&prefix[..4]);
    let epoch = u32::from_le_bytes(e);
    let key = keys.seals.get(&epoch).ok_or_else(|| {
        altered(format!(
            "it is sealed with a key of the shared notebook (epoch {epoch}) that this device does not have"
        ))
    })?;
    let cipher = XChaCha20Poly1305::new(key.into());
    let n = segments(plain_len);
    let mut plain = Vec::with_capacity(plain_len);
    let mut at = HEADER_LEN;
    for i in 0..n {
        let part_len = (plain_len - (i * SEGMENT).min(plain_len)).min(SEGMENT) + TAG_LEN;
        let part = &sealed[at..at + part_len];
        at += part_len;
        let aad = aad(keys, id, epoch, i, i + 1 == n);
        let opened = cipher
            .decrypt(
                &nonce(prefix, i),
                Payload {
                    msg: part,
                    aad: &aad,
                },
            )
            .map_err(|_| {
                altered(
                    "it does not open with this shared notebook's key: it was altered, or sealed for another shared notebook or epoch".into(),
                )
            })?;
        plain.extend_from_slice(&opened);
    }
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::space::epoch::{Epoch, EpochKey, SpaceId};

    fn plain_bytes() -> Vec<u8> {
        (0..150_000u32).map(|i| (i % 247) as u8).collect()
    }

    fn id() -> ChunkId {
        ChunkId([7; 32])
    }

    #[test]
    fn a_chunk_opens_only_in_its_space_and_epoch() {
        let plain = plain_bytes();
        let (space, other) = (SpaceId::generate(), SpaceId::generate());
        let (k1, k2) = (EpochKey::generate(), EpochKey::generate());
        let both = BTreeMap::from([(Epoch(1), k1.clone()), (Epoch(2), k2.clone())]);
        let keys = SpaceBlobKeys::derive(&space, &both);
        let sealed = seal(&keys, &id(), &plain).unwrap();
        assert_eq!(sealed.len(), sealed_len(plain.len()));
        assert_eq!(&sealed[..8], b"CBS1\x02\0\0\0");
        assert_eq!(open(&keys, &id(), plain.len(), &sealed).unwrap(), plain);
        assert!(!sealed.windows(32).any(|w| w == &plain[5000..5032]));
        // Another space holding the very same epoch keys: its id is in the
        // associated data.
        let elsewhere = SpaceBlobKeys::derive(&other, &both);
        let moved = open(&elsewhere, &id(), plain.len(), &sealed).unwrap_err();
        assert!(
            moved.to_string().contains("another shared notebook"),
            "{moved}"
        );
        // Relabelled as epoch 1, whose key the reader has.
        let mut relabelled = sealed.clone();
        relabelled[4] = 1;
        assert!(open(&keys, &id(), plain.len(), &relabelled).is_err());
        // A member holding epoch 1 only (removed before epoch 2) opens
        // nothing sealed after.
        let removed = SpaceBlobKeys::derive(&space, &BTreeMap::from([(Epoch(1), k1)]));
        let refused = open(&removed, &id(), plain.len(), &sealed).unwrap_err();
        assert!(refused.to_string().contains("epoch 2"), "{refused}");
        // Another chunk's name, or bytes cut short.
        assert!(open(&keys, &ChunkId([8; 32]), plain.len(), &sealed).is_err());
        assert!(open(&keys, &id(), plain.len(), &sealed[..sealed.len() - 1]).is_err());
        let mut flipped = sealed.clone();
        flipped[HEADER_LEN + 70_000] ^= 1;
        assert!(matches!(
            open(&keys, &id(), plain.len(), &flipped),
            Err(BlobError::Altered { .. })
        ));
        // Sealing at epoch 1 while epoch 2's key is already held.
        let at_one = keys.clone().sealing_at(Epoch(1));
        let early = seal(&at_one, &id(), &plain).unwrap();
        assert_eq!(early[4], 1);
        assert_eq!(open(&keys, &id(), plain.len(), &early).unwrap(), plain);
        let _ = k2;
    }

    #[test]
    fn a_personal_chunk_or_a_newer_form_is_refused_in_words() {
        let space = SpaceId::generate();
        let keys =
            SpaceBlobKeys::derive(&space, &BTreeMap::from([(Epoch(1), EpochKey::generate())]));
        let personal = crate::blob::BlobKeys::derive(None);
        let theirs = crate::blob::seal::seal(&personal, &id(), b"bytes");
        let e = open(&keys, &id(), 5, &theirs).unwrap_err();
        assert!(
            e.to_string().contains("not sealed for a shared notebook"),
            "{e}"
        );
        let ours = seal(&keys, &id(), b"bytes").unwrap();
        let e = crate::blob::seal::open(&personal, &id(), 5, &ours).unwrap_err();
        assert!(
            e.to_string().contains("sealed for a shared notebook"),
            "{e}"
        );
        let mut newer = ours.clone();
        newer[3] = b'2';
        assert!(matches!(
            open(&keys, &id(), 5, &newer),
            Err(BlobError::NewerFormat { .. })
        ));
        assert!(open(&keys, &id(), 5, b"CB").is_err());
        let none = SpaceBlobKeys::derive(&space, &BTreeMap::new());
        assert_eq!(seal(&none, &id(), b"x"), Err(NoSpaceKey));
    }
}
