//! End-to-end encryption of everything a device puts in storage.
//!
//! Every object payload is sealed with XChaCha20-Poly1305 under the user's
//! content key, with a fresh random 24-byte nonce. The associated data
//! binds the ciphertext to where and when it was written — device, object
//! key, object kind and sequence number — so an object moved to another
//! slot, another device's prefix or replayed under another number fails to
//! open. (Replaying a whole older head under its own number opens, and is
//! caught by the reader as a head that went back.)
//!
//! The content key is random. It is stored only wrapped: under a key
//! derived from the user's passphrase with Argon2id (parameters and a
//! public salt kept with it), and/or under a random recovery key shown
//! once. Changing the passphrase re-wraps the same content key, so nothing
//! is re-encrypted.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::account_keys::AccountKeys;

pub const KEY_LEN: usize = 32;
pub const NONCE_LEN: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("that passphrase or recovery key does not open this account's notes")]
    WrongSecret,
    #[error("the encrypted object does not open: it was damaged, swapped, replayed or sealed with another key")]
    OpenFailed,
    #[error("the encrypted object is truncated")]
    Truncated,
    #[error("key envelope: {0}")]
    Envelope(String),
}

/// The key every object is sealed with.
#[derive(Clone, PartialEq, Eq)]
pub struct ContentKey([u8; KEY_LEN]);

impl std::fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContentKey(..)")
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::thread_rng().fill_bytes(&mut b);
    b
}

impl ContentKey {
    pub fn generate() -> ContentKey {
        ContentKey(random())
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<ContentKey, CryptoError> {
        let arr: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|_| CryptoError::Envelope(format!("a content key is {KEY_LEN} bytes")))?;
        Ok(ContentKey(arr))
    }

    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// The cipher itself, for objects sealed in chunks
    /// (`crate::sync::stream_object`).
    pub(crate) fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.0).into())
    }

    /// nonce || ciphertext+tag
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        self.seal_owned(aad, plaintext.to_vec())
    }

    /// `seal`, encrypting in the buffer it is given (nonce || ciphertext
    /// || tag): a snapshot of a large account is sealed without a second
    /// copy of it in memory.
    pub fn seal_owned(&self, aad: &[u8], mut plaintext: Vec<u8>) -> Vec<u8> {
        let nonce: [u8; NONCE_LEN] = random();
        match self.cipher().encrypt_in_place_detached(
            XNonce::from_slice(&nonce),
            aad,
            &mut plaintext,
        ) {
            Ok(tag) => {
                plaintext.extend_from_slice(&tag);
                plaintext.splice(0..0, nonce);
                plaintext
            }
            // Only a message beyond the cipher's limit (256 GiB) fails:
            // nothing is sent rather than something unsealed.
            Err(_) => Vec::new(),
        }
    }

    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.open_owned(aad, sealed.to_vec())
    }

    /// `open`, decrypting in the buffer it is given: a snapshot of a large
    /// account is opened without a second copy of it in memory.
    pub fn open_owned(&self, aad: &[u8], mut sealed: Vec<u8>) -> Result<Vec<u8>, CryptoError> {
        const TAG_LEN: usize = 16;
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Truncated);
        }
        let tag_at = sealed.len() - TAG_LEN;
        let (nonce, rest) = sealed.split_at_mut(NONCE_LEN);
        let (ct, tag) = rest.split_at_mut(tag_at - NONCE_LEN);
        self.cipher()
            .decrypt_in_place_detached(
                XNonce::from_slice(nonce),
                aad,
                ct,
                chacha20poly1305::Tag::from_slice(tag),
            )
            .map_err(|_| CryptoError::OpenFailed)?;
        sealed.truncate(tag_at);
        sealed.drain(..NONCE_LEN);
        Ok(sealed)
    }
}

/// What binds an object to its place: device, key, kind and number.
pub fn object_aad(device: &str, key: &str, kind: u8, seq: u64) -> Vec<u8> {
    format!("cairn-object/v1\0{device}\0{key}\0{kind}\0{seq}").into_bytes()
}

/// Argon2id cost, stored with each passphrase wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    pub m_cost_kib: u32,
    pub t_cost: u32,
    pub p_cost: u32,
}

impl Default for KdfParams {
    /// OWASP's Argon2id baseline (19 MiB, 2 passes): a fraction of a second
    /// on a laptop, per sign-in, not per object.
    fn default() -> Self {
        KdfParams {
            m_cost_kib: 19 * 1024,
            t_cost: 2,
            p_cost: 1,
        }
    }
}

/// One way to open the content key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Wrap {
    Passphrase {
        params: KdfParams,
        salt: String,
        sealed: String,
    },
    RecoveryKey {
        sealed: String,
    },
}

/// Everything another device needs, besides the secret, to get the content
/// key. Safe to store anywhere: it holds no plaintext key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEnvelope {
    pub version: u32,
    /// Changes when the passphrase changes, so devices can tell.
    pub generation: u64,
    /// The personal space's current epoch (`crate::account_keys`): 0, and
    /// absent, until a device is removed; then the wraps hold every key of
    /// epochs 0 to this one (version 2).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub epoch: u64,
    pub wraps: Vec<Wrap>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

const WRAP_AAD: &[u8] = b"cairn-content-key/v1";

/// What a wrap's seal is bound to: version 1's content key alone, or
/// version 2's keys of epochs 0 to `epoch`, so a wrap cannot be moved into
/// an envelope that names another epoch.
fn wrap_aad(epoch: u64) -> Vec<u8> {
    if epoch == 0 {
        WRAP_AAD.to_vec()
    } else {
        format!("cairn-account-keys/v2\0{epoch}").into_bytes()
    }
}

fn derive(passphrase: &str, salt: &[u8], params: KdfParams) -> Result<ContentKey, CryptoError> {
    let p = Params::new(
        params.m_cost_kib,
        params.t_cost,
        params.p_cost,
        Some(KEY_LEN),
    )
    .map_err(|e| CryptoError::Envelope(format!("argon2 parameters: {e}")))?;
    let mut out = [0u8; KEY_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, p)
        .hash_password_into(passphrase.as_bytes(), salt, &mut out)
        .map_err(|e| CryptoError::Envelope(format!("argon2: {e}")))?;
    Ok(ContentKey(out))
}

/// A recovery key as people write it down: 52 base32 characters in groups.
pub fn format_recovery_key(bytes: &[u8; KEY_LEN]) -> String {
    let s = data_encoding::BASE32_NOPAD.encode(bytes);
    s.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

pub fn parse_recovery_key(text: &str) -> Option<[u8; KEY_LEN]> {
    let clean: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    data_encoding::BASE32_NOPAD
        .decode(clean.as_bytes())
        .ok()
        .and_then(|v| v.try_into().ok())
}

impl KeyEnvelope {
    /// A new content key, wrapped under `passphrase` (if given) and under a
    /// new recovery key, returned to be shown once.
    pub fn create(
        passphrase: Option<&str>,
        params: KdfParams,
    ) -> Result<(ContentKey, KeyEnvelope, String), CryptoError> {
        let keys = AccountKeys::new(ContentKey::generate());
        let (envelope, recovery) = KeyEnvelope::wrapping(&keys, 1, passphrase, params)?;
        Ok((keys.content().clone(), envelope, recovery))
    }

    /// An envelope of `generation` wrapping `keys` under `passphrase` (if
    /// given) and under a new recovery key, returned to be shown once.
    /// Each passphrase wrap has a salt of its own.
    pub fn wrapping(
        keys: &AccountKeys,
        generation: u64,
        passphrase: Option<&str>,
        params: KdfParams,
    ) -> Result<(KeyEnvelope, String), CryptoError> {
        let epoch = keys.epoch().0;
        let recovery: [u8; KEY_LEN] = random();
        let mut wraps = vec![Wrap::RecoveryKey {
            sealed: hex::encode(ContentKey(recovery).seal(&wrap_aad(epoch), &keys.encode())),
        }];
        if let Some(p) = passphrase {
            wraps.push(passphrase_wrap(keys, p, params)?);
        }
        Ok((
            KeyEnvelope {
                version: if epoch == 0 { 1 } else { 2 },
                generation,
                epoch,
                wraps,
            },
            format_recovery_key(&recovery),
        ))
    }

    /// Opens the content key with a passphrase or a recovery key.
    pub fn open(&self, secret: &str) -> Result<ContentKey, CryptoError> {
        Ok(self.open_keys(secret)?.content().clone())
    }

    /// Whether a passphrase opens this envelope (else only a recovery key).
    pub fn has_passphrase(&self) -> bool {
        self.wraps
            .iter()
            .any(|w| matches!(w, Wrap::Passphrase { .. }))
    }

    /// Opens every key of the personal space with a passphrase or a
    /// recovery key.
    pub fn open_keys(&self, secret: &str) -> Result<AccountKeys, CryptoError> {
        if self.version > 2 {
            return Err(CryptoError::Envelope(
                "the account's key was set up by a newer Cairn: update Cairn to open it".into(),
            ));
        }
        let aad = wrap_aad(self.epoch);
        let recovery = parse_recovery_key(secret);
        for w in &self.wraps {
            let opened = match (w, &recovery) {
                (Wrap::RecoveryKey { sealed }, Some(r)) => {
                    let sealed =
                        hex::decode(sealed).map_err(|e| CryptoError::Envelope(e.to_string()))?;
                    ContentKey(*r).open(&aad, &sealed).ok()
                }
                (
                    Wrap::Passphrase {
                        params,
                        salt,
                        sealed,
                    },
                    _,
                ) => {
                    let salt =
                        hex::decode(salt).map_err(|e| CryptoError::Envelope(e.to_string()))?;
                    let sealed =
                        hex::decode(sealed).map_err(|e| CryptoError::Envelope(e.to_string()))?;
                    derive(secret, &salt, *params)?.open(&aad, &sealed).ok()
                }
                _ => None,
            };
            if let Some(bytes) = opened {
                return AccountKeys::decode(&bytes, self.epoch);
            }
        }
        Err(CryptoError::WrongSecret)
    }

    /// Re-wraps the same keys under a new passphrase (the old passphrase
    /// wrap goes; the recovery key keeps working).
    pub fn change_passphrase(
        &self,
        key: &AccountKeys,
        new_passphrase: &str,
        params: KdfParams,
    ) -> Result<KeyEnvelope, CryptoError> {
        let mut wraps: Vec<Wrap> = self
            .wraps
            .iter()
            .filter(|w| !matches!(w, Wrap::Passphrase { .. }))
            .cloned()
            .collect();
        wraps.push(passphrase_wrap(key, new_passphrase, params)?);
        Ok(KeyEnvelope {
            version: self.version,
            generation: self.generation + 1,
            epoch: self.epoch,
            wraps,
        })
    }
}

fn passphrase_wrap(
    keys: &AccountKeys,
    passphrase: &str,
    params: KdfParams,
) -> Result<Wrap, CryptoError> {
    if passphrase.chars().count() < 8 {
        return Err(CryptoError::Envelope(
            "a passphrase needs at least 8 characters".into(),
        ));
    }
    let salt: [u8; 16] = random();
    let kek = derive(passphrase, &salt, params)?;
    Ok(Wrap::Passphrase {
        params,
        salt: hex::encode(salt),
        sealed: hex::encode(kek.seal(&wrap_aad(keys.epoch().0), &keys.encode())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: KdfParams = KdfParams {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };

    #[test]
    fn seal_open_and_aad_binding() {
        let k = ContentKey::generate();
        let aad = object_aad("dev1", "log/07", 3, 9);
        let sealed = k.seal(&aad, b"secret note");
        assert_eq!(k.open(&aad, &sealed).unwrap(), b"secret note");
        assert_eq!(
            k.open(&object_aad("dev1", "log/08", 3, 9), &sealed),
            Err(CryptoError::OpenFailed)
        );
        assert_eq!(
            k.open(&object_aad("dev2", "log/07", 3, 9), &sealed),
            Err(CryptoError::OpenFailed)
        );
        assert_eq!(
            k.open(&object_aad("dev1", "log/07", 3, 8), &sealed),
            Err(CryptoError::OpenFailed)
        );
        assert_eq!(
            ContentKey::generate().open(&aad, &sealed),
            Err(CryptoError::OpenFailed)
        );
        assert_eq!(
            k.open(&aad, &sealed[..sealed.len() - 1]),
            Err(CryptoError::OpenFailed)
        );
        assert_eq!(k.open(&aad, &sealed[..10]), Err(CryptoError::Truncated));
    }

    #[test]
    fn envelope_opens_with_passphrase_or_recovery_key_only() {
        let (key, env, recovery) =
            KeyEnvelope::create(Some("correct horse battery"), FAST).unwrap();
        assert_eq!(env.open("correct horse battery").unwrap(), key);
        assert_eq!(env.open(&recovery).unwrap(), key);
        assert_eq!(
            env.open(&recovery.to_lowercase().replace('-', " "))
                .unwrap(),
            key
        );
        assert_eq!(
            env.open("wrong horse battery"),
            Err(CryptoError::WrongSecret)
        );
        let changed = env
            .change_passphrase(&AccountKeys::new(key.clone()), "new passphrase here", FAST)
            .unwrap();
        assert_eq!(changed.open("new passphrase here").unwrap(), key);
        assert_eq!(
            changed.open("correct horse battery"),
            Err(CryptoError::WrongSecret)
        );
        assert_eq!(changed.open(&recovery).unwrap(), key);
        assert_eq!(changed.generation, 2);
        assert!(env
            .change_passphrase(&AccountKeys::new(key), "short", FAST)
            .is_err());
    }

    #[test]
    fn a_rotated_envelope_holds_every_epoch_and_an_old_one_stays_as_it_was() {
        let (key, env, old_recovery) =
            KeyEnvelope::create(Some("correct horse battery"), FAST).unwrap();
        // Epoch 0 is today's format, byte for byte: no `epoch` field.
        let json = serde_json::to_string(&env).unwrap();
        assert!(!json.contains("epoch"), "{json}");
        assert_eq!(env.version, 1);

        let keys = env
            .open_keys("correct horse battery")
            .unwrap()
            .rotated()
            .unwrap();
        let (next, recovery) = KeyEnvelope::wrapping(
            &keys,
            env.generation + 1,
            Some("correct horse battery"),
            FAST,
        )
        .unwrap();
        assert_eq!((next.version, next.epoch, next.generation), (2, 1, 2));
        assert_eq!(next.open_keys("correct horse battery").unwrap(), keys);
        assert_eq!(next.open_keys(&recovery).unwrap(), keys);
        assert_eq!(next.open("correct horse battery").unwrap(), key);
        // The old recovery key opens only the old envelope.
        assert_eq!(next.open_keys(&old_recovery), Err(CryptoError::WrongSecret));
        // A new salt: the wrap under the same passphrase is not the old one.
        let salt = |e: &KeyEnvelope| {
            e.wraps.iter().find_map(|w| match w {
                Wrap::Passphrase { salt, .. } => Some(salt.clone()),
                Wrap::RecoveryKey { .. } => None,
            })
        };
        assert_ne!(salt(&next), salt(&env));
        // Relabelled with another epoch, the wraps do not open.
        let relabelled = KeyEnvelope {
            epoch: 2,
            ..next.clone()
        };
        assert!(relabelled.open_keys("correct horse battery").is_err());
        let downgraded = KeyEnvelope {
            epoch: 0,
            version: 1,
            ..next.clone()
        };
        assert!(downgraded.open_keys("correct horse battery").is_err());
        // Changing the passphrase keeps every key.
        let changed = next
            .change_passphrase(&keys, "another long one", FAST)
            .unwrap();
        assert_eq!(changed.open_keys("another long one").unwrap(), keys);
        assert_eq!((changed.version, changed.epoch), (2, 1));
        let round_trip: KeyEnvelope =
            serde_json::from_str(&serde_json::to_string(&changed).unwrap()).unwrap();
        assert_eq!(round_trip, changed);
        // A newer format is refused clearly.
        let newer = KeyEnvelope { version: 3, ..next };
        assert!(matches!(
            newer.open_keys(&recovery),
            Err(CryptoError::Envelope(_))
        ));
    }
}
