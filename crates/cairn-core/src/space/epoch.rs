//! Space ids, epoch numbers and epoch keys.
//!
//! A space's objects are sealed with the key of its current epoch. A new
//! epoch (after someone leaves or is removed) gets a new random key, which
//! also seals the previous epoch's key: whoever holds the newest key can
//! walk back through every older one and read the whole history, and
//! whoever was left out of the new epoch gets nothing sealed after it.

use serde::{Deserialize, Serialize};

use crate::crypto::{ContentKey, CryptoError};

pub const SPACE_ID_LEN: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EpochError {
    #[error("{value:?} is not a space id (32 hexadecimal characters)")]
    BadSpaceId { value: String },
    #[error("the key of epoch {epoch} does not open: {source}")]
    Previous {
        epoch: u64,
        #[source]
        source: CryptoError,
    },
}

/// A random 128-bit id: names the space in storage and in the service
/// without saying anything about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SpaceId([u8; SPACE_ID_LEN]);

impl SpaceId {
    pub fn generate() -> SpaceId {
        let mut b = [0u8; SPACE_ID_LEN];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut b);
        SpaceId(b)
    }

    pub fn from_bytes(bytes: [u8; SPACE_ID_LEN]) -> SpaceId {
        SpaceId(bytes)
    }

    /// Only the lowercase form, so one id has one spelling.
    pub fn parse(value: &str) -> Result<SpaceId, EpochError> {
        let bad = || EpochError::BadSpaceId {
            value: value.chars().take(40).collect(),
        };
        if value.len() != 2 * SPACE_ID_LEN || value.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad());
        }
        let mut b = [0u8; SPACE_ID_LEN];
        hex::decode_to_slice(value, &mut b).map_err(|_| bad())?;
        Ok(SpaceId(b))
    }

    pub fn as_bytes(&self) -> &[u8; SPACE_ID_LEN] {
        &self.0
    }
}

impl std::fmt::Display for SpaceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl TryFrom<String> for SpaceId {
    type Error = EpochError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        SpaceId::parse(&value)
    }
}

impl From<SpaceId> for String {
    fn from(id: SpaceId) -> String {
        id.to_string()
    }
}

/// An epoch number; a space starts at [`Epoch::FIRST`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Epoch(pub u64);

impl Epoch {
    pub const FIRST: Epoch = Epoch(1);

    pub fn next(self) -> Epoch {
        Epoch(self.0.saturating_add(1))
    }
}

impl std::fmt::Display for Epoch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The key a space's objects of one epoch are sealed with.
#[derive(Clone, PartialEq, Eq)]
pub struct EpochKey(ContentKey);

impl std::fmt::Debug for EpochKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EpochKey(..)")
    }
}

fn previous_aad(space: &SpaceId, previous: Epoch) -> Vec<u8> {
    format!("cairn-previous-epoch-key/v1\0{space}\0{previous}").into_bytes()
}

impl EpochKey {
    pub fn generate() -> EpochKey {
        EpochKey(ContentKey::generate())
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<EpochKey, CryptoError> {
        ContentKey::from_bytes(bytes).map(EpochKey)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// The same XChaCha20-Poly1305 seal as the content key's.
    pub fn cipher(&self) -> &ContentKey {
        &self.0
    }

    /// Seals the key of the epoch before this one, bound to the space and
    /// that epoch's number.
    pub fn seal_previous(&self, space: &SpaceId, previous: Epoch, key: &EpochKey) -> Vec<u8> {
        self.0.seal(&previous_aad(space, previous), key.as_bytes())
    }

    /// Opens what [`EpochKey::seal_previous`] sealed.
    pub fn open_previous(
        &self,
        space: &SpaceId,
        previous: Epoch,
        sealed: &[u8],
    ) -> Result<EpochKey, EpochError> {
        let err = |source| EpochError::Previous {
            epoch: previous.0,
            source,
        };
        let bytes = self
            .0
            .open(&previous_aad(space, previous), sealed)
            .map_err(err)?;
        EpochKey::from_bytes(&bytes).map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_ids_have_one_spelling() {
        let id = SpaceId::generate();
        let text = id.to_string();
        assert_eq!(text.len(), 32);
        assert_eq!(SpaceId::parse(&text).unwrap(), id);
        assert!(SpaceId::parse("abcdef0123456789abcdef0123456789").is_ok());
        assert!(SpaceId::parse("ABCDEF0123456789ABCDEF0123456789").is_err());
        assert!(SpaceId::parse(&text[..31]).is_err());
        assert!(SpaceId::parse("zz".repeat(16).as_str()).is_err());
        assert!(SpaceId::parse("../../etc/passwd/0123456789abcdef").is_err());
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<SpaceId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<SpaceId>("\"ABCDEF\"").is_err());
        assert_ne!(SpaceId::generate(), id);
    }

    #[test]
    fn a_new_epoch_key_opens_the_previous_one_for_its_space_and_epoch_only() {
        let space = SpaceId::generate();
        let (k1, k2) = (EpochKey::generate(), EpochKey::generate());
        assert_ne!(k1, k2);
        let sealed = k2.seal_previous(&space, Epoch::FIRST, &k1);
        assert_eq!(k2.open_previous(&space, Epoch::FIRST, &sealed).unwrap(), k1);
        assert!(k1.open_previous(&space, Epoch::FIRST, &sealed).is_err());
        assert!(k2.open_previous(&space, Epoch(2), &sealed).is_err());
        assert!(k2
            .open_previous(&SpaceId::generate(), Epoch::FIRST, &sealed)
            .is_err());
        assert_eq!(Epoch::FIRST.next(), Epoch(2));
        assert_eq!(format!("{k1:?}"), "EpochKey(..)");
    }
}
