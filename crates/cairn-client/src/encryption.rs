//! Setting up and unlocking end-to-end encryption on a device.
//!
//! The first device of an account makes a random content key, wraps it
//! under the user's passphrase (Argon2id) and under a recovery key shown
//! once, and stores only that envelope with the service. Every other device
//! fetches the envelope and opens it with the passphrase or recovery key.
//! The opened key stays on the device in a file only the user can read;
//! the service and the storage never see it.
//!
//! Removing a device starts a new epoch of the personal space
//! ([`rotate_personal_key`]): a new random key, kept beside the content key
//! and wrapped with every older one in a new envelope, so the removed
//! device reads nothing published afterwards. The account's other devices
//! learn of it from the envelope ([`catch_up_personal_key`]) and publish
//! nothing until the passphrase has given them the new key.

use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use cairn_core::account_keys::AccountKeys;
use cairn_core::crypto::{ContentKey, CryptoError, KdfParams, KeyEnvelope};
use cairn_core::space::epoch::{Epoch, EpochKey};
use cairn_protocol::{ErrorCode, KeyEnvelopeRecord, PutKeyEnvelope};

use crate::{ClientError, ServiceClient};

const KEY_FILE: &str = "content-key";
/// The personal space's epoch keys after the content key, once a device
/// was removed: JSON, epoch number to hex key.
const EPOCH_KEYS_FILE: &str = "personal-epoch-keys";
/// Two devices rotating at once: after losing the race this often to
/// passphrase changes, give up and say so.
const ROTATION_ATTEMPTS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("this account's notes are end-to-end encrypted: enter the passphrase or recovery key (set CAIRN_PASSPHRASE for scripts)")]
    SecretNeeded,
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Service(#[from] ClientError),
    #[error("the key envelope on the service is damaged: {0}")]
    BadEnvelope(String),
    #[error("cannot keep the content key in {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("this device has no content key yet; sign in again")]
    NoLocalKey,
    #[error("the key derivation stopped unexpectedly: {0}")]
    Interrupted(String),
    #[error("a device was removed from your account: enter your passphrase to keep syncing (set CAIRN_PASSPHRASE for scripts); your edits stay on this device meanwhile")]
    KeyRotated,
    #[error("this account has a passphrase: changing its key needs the passphrase, not the recovery key")]
    PassphraseNeeded,
    #[error("that key envelope belongs to another account than this device's key")]
    OtherAccount,
    #[error("the account's key kept changing meanwhile; try again")]
    KeepsChanging,
    #[error("the service's copy of the account's key lacks keys this device holds (an older copy?); nothing was changed: try again later")]
    EnvelopeBehind,
}

/// What [`rotate_personal_key`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotated {
    /// A new epoch: show the new recovery key, once (the old one opens
    /// only the epochs before).
    NewEpoch { epoch: u64, recovery_key: String },
    /// Another device of the account started a new epoch at the same time;
    /// this device took that one (its recovery key is the one shown there).
    ByAnotherDevice { epoch: u64 },
}

/// What setting up encryption did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySetup {
    /// This device already had the key.
    AlreadyUnlocked,
    /// First device: a new key. Show the recovery key once.
    Created { recovery_key: String },
    /// The envelope opened with the given secret.
    Unlocked,
}

impl KeySetup {
    /// The recovery key to show the user, once: only a new key has one.
    pub fn into_recovery_key(self) -> Option<String> {
        match self {
            KeySetup::Created { recovery_key } => Some(recovery_key),
            KeySetup::AlreadyUnlocked | KeySetup::Unlocked => None,
        }
    }
}

pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_FILE)
}

/// The content key kept on this device, if any.
pub fn load_content_key(data_dir: &Path) -> Result<Option<ContentKey>, KeyError> {
    let path = key_path(data_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let bytes = hex::decode(text.trim())
                .map_err(|e| KeyError::BadEnvelope(format!("{}: {e}", path.display())))?;
            Ok(Some(ContentKey::from_bytes(&bytes)?))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(KeyError::Io {
            path: path.display().to_string(),
            source: e,
        }),
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Every key of the personal space kept on this device, if any.
pub fn load_account_keys(data_dir: &Path) -> Result<Option<AccountKeys>, KeyError> {
    let Some(content) = load_content_key(data_dir)? else {
        return Ok(None);
    };
    let path = data_dir.join(EPOCH_KEYS_FILE);
    let epochs = match std::fs::read(&path) {
        Ok(bytes) => {
            let bad = |e: String| KeyError::BadEnvelope(format!("{}: {e}", path.display()));
            let hexes: BTreeMap<u64, String> =
                serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
            let mut epochs = BTreeMap::new();
            for (epoch, text) in hexes {
                let bytes = hex::decode(text).map_err(|e| bad(e.to_string()))?;
                epochs.insert(Epoch(epoch), EpochKey::from_bytes(&bytes)?);
            }
            epochs
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => return Err(io_error(&path)(e)),
    };
    Ok(Some(AccountKeys::from_parts(content, epochs)?))
}

fn save_content_key(data_dir: &Path, key: &ContentKey) -> Result<(), KeyError> {
    let path = key_path(data_dir);
    crate::private_file::write(&path, hex::encode(key.as_bytes()).as_bytes())
        .map_err(io_error(&path))
}

/// Keeps every key of the personal space, in files only the user reads.
/// The epoch keys go first: a crash between the two files leaves keys the
/// content key does not need, never a content key without its epochs.
fn save_account_keys(data_dir: &Path, keys: &AccountKeys) -> Result<(), KeyError> {
    let path = data_dir.join(EPOCH_KEYS_FILE);
    if keys.epoch().0 > 0 {
        let hexes: BTreeMap<u64, String> = keys
            .epoch_keys()
            .into_iter()
            .map(|(e, k)| (e.0, hex::encode(k.as_bytes())))
            .collect();
        let json = serde_json::to_vec(&hexes).map_err(|e| KeyError::BadEnvelope(e.to_string()))?;
        crate::private_file::write(&path, &json).map_err(io_error(&path))?;
    } else {
        remove_if_there(&path)?;
    }
    save_content_key(data_dir, keys.content())
}

/// Keeps `keys` when they hold every key this device has and more; keys
/// that lack one of this device's (an older envelope) are refused, and the
/// same keys change nothing.
fn keep_newer(data_dir: &Path, keys: &AccountKeys) -> Result<(), KeyError> {
    match load_account_keys(data_dir)? {
        Some(held) if !keys.extends(&held) => Err(KeyError::EnvelopeBehind),
        Some(held) if held == *keys => Ok(()),
        _ => save_account_keys(data_dir, keys),
    }
}

fn remove_if_there(path: &Path) -> Result<(), KeyError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error(path)(e)),
    }
}

/// Forgets this device's copy of the keys (sign-out).
pub fn forget_content_key(data_dir: &Path) -> Result<(), KeyError> {
    remove_if_there(&data_dir.join(EPOCH_KEYS_FILE))?;
    remove_if_there(&key_path(data_dir))
}

fn parse(envelope: &str) -> Result<KeyEnvelope, KeyError> {
    serde_json::from_str(envelope).map_err(|e| KeyError::BadEnvelope(e.to_string()))
}

/// Runs Argon2id (a good fraction of a second, by design) on a thread of
/// its own, so the runtime's other tasks (the app's commands and event
/// socket share its threads) are not held up meanwhile.
async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, CryptoError> + Send + 'static,
) -> Result<T, KeyError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| KeyError::Interrupted(e.to_string()))?
        .map_err(KeyError::from)
}

/// Opens `envelope` with `secret`, off the runtime.
async fn open_envelope(envelope: KeyEnvelope, secret: &str) -> Result<AccountKeys, KeyError> {
    let secret = secret.to_owned();
    off_runtime(move || envelope.open_keys(&secret)).await
}

/// Makes sure this device holds the account's content key: creates it on
/// the first device, or opens the envelope with `secret`. A wrong secret
/// changes nothing.
pub async fn setup_encryption(
    client: &ServiceClient,
    access_token: &str,
    data_dir: &Path,
    secret: Option<&str>,
    params: KdfParams,
) -> Result<KeySetup, KeyError> {
    let record = client.key_envelope(access_token).await?;
    if let (Some(local), Some(rec)) = (load_content_key(data_dir)?, &record) {
        // Still the account's key? (A key from another account is not.)
        if let Some(s) = secret {
            let keys = open_envelope(parse(&rec.envelope)?, s).await?;
            if *keys.content() == local {
                // The same account; keep any epoch this device missed
                // (an older envelope than this device's keys changes
                // nothing here: the keys it lacks stay on this device).
                match keep_newer(data_dir, &keys) {
                    Ok(()) | Err(KeyError::EnvelopeBehind) => {}
                    Err(e) => return Err(e),
                }
                return Ok(KeySetup::AlreadyUnlocked);
            }
        } else {
            return Ok(KeySetup::AlreadyUnlocked);
        }
    }
    match record {
        Some(rec) => {
            let secret = secret.ok_or(KeyError::SecretNeeded)?;
            let keys = open_envelope(parse(&rec.envelope)?, secret).await?;
            save_account_keys(data_dir, &keys)?;
            Ok(KeySetup::Unlocked)
        }
        None => {
            let passphrase = secret.filter(|s| cairn_core::crypto::parse_recovery_key(s).is_none());
            let passphrase = passphrase.map(str::to_owned);
            let (key, envelope, recovery_key) =
                off_runtime(move || KeyEnvelope::create(passphrase.as_deref(), params)).await?;
            let body = PutKeyEnvelope {
                expected_generation: 0,
                generation: envelope.generation,
                envelope: serde_json::to_string(&envelope)
                    .map_err(|e| KeyError::BadEnvelope(e.to_string()))?,
            };
            match client.put_key_envelope(access_token, &body).await {
                Ok(_) => {
                    save_content_key(data_dir, &key)?;
                    Ok(KeySetup::Created { recovery_key })
                }
                // Another device set it up first: open theirs instead.
                Err(e) if e.api_code() == Some(ErrorCode::Conflict) => {
                    Box::pin(setup_encryption(
                        client,
                        access_token,
                        data_dir,
                        secret,
                        params,
                    ))
                    .await
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}

/// Re-wraps the content key under a new passphrase; nothing is
/// re-encrypted. Needs the key on this device, and `current` (the
/// passphrase or the recovery key) must open the account's envelope to
/// that same key: holding an unlocked device is not enough to lock the
/// user out of their other ones. A wrong `current` changes nothing.
pub async fn change_passphrase(
    client: &ServiceClient,
    access_token: &str,
    data_dir: &Path,
    current: &str,
    new_passphrase: &str,
    params: KdfParams,
) -> Result<u64, KeyError> {
    let key = load_content_key(data_dir)?.ok_or(KeyError::NoLocalKey)?;
    let (rec, envelope) = current_envelope(client, access_token).await?;
    let keys = open_envelope(envelope.clone(), current).await?;
    if *keys.content() != key {
        return Err(KeyError::Crypto(CryptoError::WrongSecret));
    }
    // Re-wrapping an envelope that lacks an epoch this device holds would
    // lose that key for every other device.
    keep_newer(data_dir, &keys)?;
    let new_passphrase = new_passphrase.to_owned();
    let next =
        off_runtime(move || envelope.change_passphrase(&keys, &new_passphrase, params)).await?;
    let body = PutKeyEnvelope {
        expected_generation: rec.generation,
        generation: rec.generation + 1,
        envelope: serde_json::to_string(&KeyEnvelope {
            generation: rec.generation + 1,
            ..next
        })
        .map_err(|e| KeyError::BadEnvelope(e.to_string()))?,
    };
    Ok(client
        .put_key_envelope(access_token, &body)
        .await?
        .generation)
}

/// The account's envelope as the service has it now.
async fn current_envelope(
    client: &ServiceClient,
    access_token: &str,
) -> Result<(KeyEnvelopeRecord, KeyEnvelope), KeyError> {
    let rec = client
        .key_envelope(access_token)
        .await?
        .ok_or(KeyError::NoLocalKey)?;
    let envelope = parse(&rec.envelope)?;
    Ok((rec, envelope))
}

/// Opens the envelope with `secret` and checks it holds this device's
/// content key (an envelope of another account does not).
async fn open_own(
    envelope: &KeyEnvelope,
    secret: &str,
    local: &ContentKey,
) -> Result<AccountKeys, KeyError> {
    let keys = open_envelope(envelope.clone(), secret).await?;
    if keys.content() != local {
        return Err(KeyError::OtherAccount);
    }
    Ok(keys)
}

/// Starts a new epoch of the personal space, after a device was removed:
/// a new random key, wrapped with every older one under the passphrase
/// (a new salt) and under a new recovery key, stored with the service by
/// compare-and-swap on the envelope's generation, and only then kept
/// here. `secret` must open the current envelope: the passphrase, or the
/// recovery key for an account without one.
///
/// If another device rotated meanwhile (the swap lost), this device takes
/// that device's epoch rather than stacking one more on it: the new key
/// reaches devices only through the envelope, which a removed device
/// cannot open, so it leaves out every removed device whichever was made
/// first, and the user is shown one recovery key, not two.
pub async fn rotate_personal_key(
    client: &ServiceClient,
    access_token: &str,
    data_dir: &Path,
    secret: &str,
    params: KdfParams,
) -> Result<Rotated, KeyError> {
    let local = load_content_key(data_dir)?.ok_or(KeyError::NoLocalKey)?;
    let passphrase = cairn_core::crypto::parse_recovery_key(secret)
        .is_none()
        .then(|| secret.to_owned());
    let mut started_at: Option<u64> = None;
    for _ in 0..ROTATION_ATTEMPTS {
        let (rec, envelope) = current_envelope(client, access_token).await?;
        if passphrase.is_none() && envelope.has_passphrase() {
            return Err(KeyError::PassphraseNeeded);
        }
        let keys = open_own(&envelope, secret, &local).await?;
        // Rotating on top of an envelope that lacks one of this device's
        // keys would lose it for every other device.
        let held = load_account_keys(data_dir)?.ok_or(KeyError::NoLocalKey)?;
        if !keys.extends(&held) {
            return Err(KeyError::EnvelopeBehind);
        }
        if started_at.is_some_and(|s| keys.epoch().0 > s) {
            save_account_keys(data_dir, &keys)?;
            return Ok(Rotated::ByAnotherDevice {
                epoch: keys.epoch().0,
            });
        }
        started_at = Some(keys.epoch().0);
        let next = keys.rotated()?;
        let generation = rec.generation + 1;
        let (wrapped, recovery_key) = {
            let (next, passphrase) = (next.clone(), passphrase.clone());
            off_runtime(move || {
                KeyEnvelope::wrapping(&next, generation, passphrase.as_deref(), params)
            })
            .await?
        };
        let body = PutKeyEnvelope {
            expected_generation: rec.generation,
            generation,
            envelope: serde_json::to_string(&wrapped)
                .map_err(|e| KeyError::BadEnvelope(e.to_string()))?,
        };
        match client.put_key_envelope(access_token, &body).await {
            Ok(_) => {
                save_account_keys(data_dir, &next)?;
                return Ok(Rotated::NewEpoch {
                    epoch: next.epoch().0,
                    recovery_key,
                });
            }
            // Another device changed the envelope first: read it again.
            Err(e) if e.api_code() == Some(ErrorCode::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(KeyError::KeepsChanging)
}

/// Whether this device holds the personal space's current epoch, from the
/// account's envelope on the service. When another device started a newer
/// one, `secret` (the passphrase or recovery key) opens the envelope and
/// the keys are kept here; without it, [`KeyError::KeyRotated`]: nothing
/// may be published until then (it would be sealed with a key the removed
/// device holds). Returns the keys when they changed.
pub async fn catch_up_personal_key(
    client: &ServiceClient,
    access_token: &str,
    data_dir: &Path,
    secret: Option<&str>,
) -> Result<Option<AccountKeys>, KeyError> {
    let held = load_account_keys(data_dir)?.ok_or(KeyError::NoLocalKey)?;
    let Some(rec) = client.key_envelope(access_token).await? else {
        return Ok(None);
    };
    let envelope = parse(&rec.envelope)?;
    // An older epoch than held (a service serving an old envelope) changes
    // nothing: this device goes on sealing with its newest key.
    if envelope.epoch <= held.epoch().0 {
        return Ok(None);
    }
    let secret = secret.ok_or(KeyError::KeyRotated)?;
    let keys = open_own(&envelope, secret, held.content()).await?;
    if !keys.extends(&held) {
        return Err(KeyError::EnvelopeBehind);
    }
    save_account_keys(data_dir, &keys)?;
    Ok(Some(keys))
}
