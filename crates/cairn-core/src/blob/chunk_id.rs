//! A chunk's name: HMAC-SHA256 of its plaintext under the account's chunk
//! id key. Equal bytes get equal ids on every device of the account, and
//! without the key the id says nothing about the bytes.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::blob::error::BlobError;
use crate::blob::keys::BlobKeys;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChunkId(pub(crate) [u8; 32]);

impl ChunkId {
    /// The id of `plaintext` under `keys`.
    pub fn of(keys: &BlobKeys, plaintext: &[u8]) -> ChunkId {
        let mut mac = hmac(keys);
        mac.update(plaintext);
        ChunkId(mac.finalize().into_bytes().into())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Accepts exactly 64 lowercase hex digits.
    pub fn parse(text: &str) -> Result<ChunkId, BlobError> {
        let bad = || BlobError::Malformed(format!("{:?} is not a chunk id", truncate(text)));
        if text.len() != 64
            || !text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad());
        }
        let bytes = hex::decode(text).map_err(|_| bad())?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| bad())?;
        Ok(ChunkId(arr))
    }
}

fn hmac(keys: &BlobKeys) -> Hmac<Sha256> {
    // HMAC pads a key shorter than the hash's block with zeros, so this is
    // HMAC under the 32-byte key, through the constructor that cannot fail.
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(&keys.id);
    <Hmac<Sha256> as hmac::digest::KeyInit>::new(&block.into())
}

pub(crate) fn truncate(text: &str) -> String {
    text.chars().take(80).collect()
}

impl std::fmt::Debug for ChunkId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChunkId({})", &self.to_hex()[..12])
    }
}

impl std::fmt::Display for ChunkId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::ContentKey;

    #[test]
    fn ids_are_keyed_and_round_trip() {
        let k1 = BlobKeys::derive(Some(&ContentKey::from_bytes(&[1; 32]).unwrap()));
        let k2 = BlobKeys::derive(Some(&ContentKey::from_bytes(&[2; 32]).unwrap()));
        let a = ChunkId::of(&k1, b"same bytes");
        assert_eq!(a, ChunkId::of(&k1, b"same bytes"));
        assert_ne!(a, ChunkId::of(&k2, b"same bytes"));
        assert_ne!(a, ChunkId::of(&k1, b"other bytes"));
        // Not the plain hash of the bytes.
        assert_ne!(
            a.0,
            <[u8; 32]>::from(<sha2::Sha256 as sha2::Digest>::digest(b"same bytes"))
        );
        assert_eq!(ChunkId::parse(&a.to_hex()).unwrap(), a);
        for bad in ["", "xyz", &a.to_hex().to_uppercase(), &a.to_hex()[..63]] {
            assert!(ChunkId::parse(bad).is_err(), "{bad}");
        }
    }
}
