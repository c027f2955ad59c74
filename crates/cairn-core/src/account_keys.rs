//! The keys of a user's personal space: the content key (epoch 0) and one
//! random key per later epoch.
//!
//! A new epoch starts when the user removes one of their devices: from
//! then on everything the account publishes is sealed with the new key,
//! which reaches the account's devices only through the key envelope (a
//! passphrase or recovery key opens it), so the removed device, which has
//! neither, reads nothing written after its removal. Objects of older
//! epochs stay readable: every epoch key is kept, and the envelope wraps
//! all of them, so a device signing in later reads the whole history.
//!
//! Inside the envelope the keys travel as one plaintext: the content key
//! then each epoch's key in order, 32 bytes each. The number of keys is
//! the envelope's epoch plus one, checked on decoding.

use std::collections::BTreeMap;

use crate::crypto::{ContentKey, CryptoError, KEY_LEN};
use crate::space::epoch::{Epoch, EpochKey};

/// How many times an account's devices can be removed: the envelope, which
/// wraps every key twice (passphrase and recovery key) in hex, must stay
/// under the service's limit on its size (16 KiB).
pub const MAX_PERSONAL_EPOCHS: u64 = 64;

/// The content key and every later epoch's key of one account.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountKeys {
    content: ContentKey,
    /// `epochs[i]` is the key of epoch `i + 1`.
    epochs: Vec<EpochKey>,
}

impl std::fmt::Debug for AccountKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AccountKeys(epoch {})", self.epoch())
    }
}

impl AccountKeys {
    /// An account that never rotated: the content key alone (epoch 0).
    pub fn new(content: ContentKey) -> AccountKeys {
        AccountKeys {
            content,
            epochs: Vec::new(),
        }
    }

    /// The content key and the epoch keys `epochs`, which must be exactly
    /// epochs 1, 2, ... with none missing.
    pub fn from_parts(
        content: ContentKey,
        epochs: BTreeMap<Epoch, EpochKey>,
    ) -> Result<AccountKeys, CryptoError> {
        let contiguous = epochs.keys().enumerate().all(|(i, e)| e.0 == i as u64 + 1);
        if !contiguous {
            return Err(CryptoError::Envelope(
                "the account's epoch keys are not epochs 1, 2, ... in order".into(),
            ));
        }
        Ok(AccountKeys {
            content,
            epochs: epochs.into_values().collect(),
        })
    }

    pub fn content(&self) -> &ContentKey {
        &self.content
    }

    /// The current epoch: 0 until the first rotation.
    pub fn epoch(&self) -> Epoch {
        Epoch(self.epochs.len() as u64)
    }

    /// The current epoch and its key, once there has been a rotation.
    pub fn current(&self) -> Option<(Epoch, &EpochKey)> {
        self.epochs.last().map(|k| (self.epoch(), k))
    }

    /// The key of `epoch` (1 and above; epoch 0 is the content key).
    pub fn key_of(&self, epoch: Epoch) -> Option<&EpochKey> {
        let index = usize::try_from(epoch.0).ok()?.checked_sub(1)?;
        self.epochs.get(index)
    }

    /// Every epoch key, by epoch (the content key not among them).
    pub fn epoch_keys(&self) -> BTreeMap<Epoch, EpochKey> {
        self.epochs
            .iter()
            .enumerate()
            .map(|(i, k)| (Epoch(i as u64 + 1), k.clone()))
            .collect()
    }

    /// Whether these keys hold every key of `older`, at the same epochs
    /// (they are `older`, or `older` with later epochs after it).
    pub fn extends(&self, older: &AccountKeys) -> bool {
        self.content == older.content
            && self.epochs.len() >= older.epochs.len()
            && self.epochs[..older.epochs.len()] == older.epochs[..]
    }

    /// These keys and a new random one for the next epoch.
    pub fn rotated(&self) -> Result<AccountKeys, CryptoError> {
        if self.epoch().0 >= MAX_PERSONAL_EPOCHS {
            return Err(CryptoError::Envelope(format!(
                "this account's key has changed {MAX_PERSONAL_EPOCHS} times, the most it can"
            )));
        }
        let mut next = self.clone();
        next.epochs.push(EpochKey::generate());
        Ok(next)
    }

    /// The plaintext the envelope wraps: every key in epoch order.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(KEY_LEN * (self.epochs.len() + 1));
        out.extend_from_slice(self.content.as_bytes());
        for k in &self.epochs {
            out.extend_from_slice(k.as_bytes());
        }
        out
    }

    /// Reads what [`AccountKeys::encode`] wrote for an envelope of `epoch`.
    pub fn decode(bytes: &[u8], epoch: u64) -> Result<AccountKeys, CryptoError> {
        if epoch > MAX_PERSONAL_EPOCHS {
            return Err(CryptoError::Envelope(format!(
                "the key envelope names epoch {epoch}, above the most there can be"
            )));
        }
        let expected = KEY_LEN * (epoch as usize + 1);
        if bytes.len() != expected {
            return Err(CryptoError::Envelope(format!(
                "the key envelope of epoch {epoch} holds {} bytes of keys, not {expected}",
                bytes.len()
            )));
        }
        let mut chunks = bytes.chunks_exact(KEY_LEN);
        let content = ContentKey::from_bytes(chunks.next().unwrap_or_default())?;
        let epochs = chunks
            .map(EpochKey::from_bytes)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AccountKeys { content, epochs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_encode_in_epoch_order_and_decode_only_at_their_epoch() {
        let first = AccountKeys::new(ContentKey::generate());
        assert_eq!(first.epoch(), Epoch(0));
        assert!(first.current().is_none());
        let next = first.rotated().unwrap().rotated().unwrap();
        assert_eq!(next.epoch(), Epoch(2));
        assert_eq!(next.content(), first.content());
        let (epoch, key) = next.current().unwrap();
        assert_eq!((epoch, Some(key)), (Epoch(2), next.key_of(Epoch(2))));
        assert_ne!(next.key_of(Epoch(1)), next.key_of(Epoch(2)));
        assert!(next.key_of(Epoch(0)).is_none());
        assert!(next.key_of(Epoch(3)).is_none());

        let bytes = next.encode();
        assert_eq!(bytes.len(), 96);
        assert_eq!(AccountKeys::decode(&bytes, 2).unwrap(), next);
        // The envelope's epoch must match the number of keys.
        assert!(AccountKeys::decode(&bytes, 1).is_err());
        assert!(AccountKeys::decode(&bytes, 3).is_err());
        assert!(AccountKeys::decode(&bytes[..95], 2).is_err());
        assert!(AccountKeys::decode(&[], 0).is_err());
        assert!(AccountKeys::decode(&bytes, u64::MAX).is_err());
        assert_eq!(
            AccountKeys::decode(&first.encode(), 0).unwrap(),
            first.clone()
        );
        assert_eq!(format!("{next:?}"), "AccountKeys(epoch 2)");
    }

    #[test]
    fn newer_keys_extend_the_older_ones_only_when_they_hold_them_all() {
        let first = AccountKeys::new(ContentKey::generate());
        let one = first.rotated().unwrap();
        let two = one.rotated().unwrap();
        assert!(two.extends(&one) && two.extends(&first) && one.extends(&one));
        assert!(!one.extends(&two));
        // The same epoch reached twice with different keys: neither.
        let other_one = first.rotated().unwrap();
        assert!(!other_one.extends(&one) && !one.extends(&other_one));
        assert!(!AccountKeys::new(ContentKey::generate()).extends(&first));
    }

    #[test]
    fn parts_must_be_every_epoch_from_the_first() {
        let keys = AccountKeys::new(ContentKey::generate())
            .rotated()
            .unwrap()
            .rotated()
            .unwrap();
        let parts = keys.epoch_keys();
        assert_eq!(
            AccountKeys::from_parts(keys.content().clone(), parts.clone()).unwrap(),
            keys
        );
        let mut gap = parts.clone();
        gap.remove(&Epoch(1));
        assert!(AccountKeys::from_parts(keys.content().clone(), gap).is_err());
        let mut zero = parts;
        zero.insert(Epoch(0), EpochKey::generate());
        assert!(AccountKeys::from_parts(keys.content().clone(), zero).is_err());
    }

    #[test]
    fn rotation_stops_at_the_most_epochs_the_envelope_holds() {
        let mut keys = AccountKeys::new(ContentKey::generate());
        for _ in 0..MAX_PERSONAL_EPOCHS {
            keys = keys.rotated().unwrap();
        }
        assert!(keys.rotated().is_err());
        assert_eq!(
            AccountKeys::decode(&keys.encode(), MAX_PERSONAL_EPOCHS).unwrap(),
            keys
        );
    }
}
