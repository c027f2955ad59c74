//! Setting up and unlocking end-to-end encryption on a device.
//!
//! The first device of an account makes a random content key, wraps it
//! under the user's passphrase (Argon2id) and under a recovery key shown
//! once, and stores only that envelope with the service. Every other device
//! fetches the envelope and opens it with the passphrase or recovery key.
//! The opened key stays on the device in a file only the user can read;
//! the service and the storage never see it.

use std::path::{Path, PathBuf};

use cairn_core::crypto::{ContentKey, CryptoError, KdfParams, KeyEnvelope};
use cairn_protocol::{ErrorCode, PutKeyEnvelope};

use crate::{ClientError, ServiceClient};

const KEY_FILE: &str = "content-key";

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

fn save_content_key(data_dir: &Path, key: &ContentKey) -> Result<(), KeyError> {
    let path = key_path(data_dir);
    crate::private_file::write(&path, hex::encode(key.as_bytes()).as_bytes()).map_err(|e| {
        KeyError::Io {
            path: path.display().to_string(),
            source: e,
        }
    })
}

/// Forgets this device's copy of the key (sign-out).
pub fn forget_content_key(data_dir: &Path) -> Result<(), KeyError> {
    match std::fs::remove_file(key_path(data_dir)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(KeyError::Io {
            path: key_path(data_dir).display().to_string(),
            source: e,
        }),
    }
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
async fn open_envelope(envelope: KeyEnvelope, secret: &str) -> Result<ContentKey, KeyError> {
    let secret = secret.to_owned();
    off_runtime(move || envelope.open(&secret)).await
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
            if open_envelope(parse(&rec.envelope)?, s).await? == local {
                return Ok(KeySetup::AlreadyUnlocked);
            }
        } else {
            return Ok(KeySetup::AlreadyUnlocked);
        }
    }
    match record {
        Some(rec) => {
            let secret = secret.ok_or(KeyError::SecretNeeded)?;
            let key = open_envelope(parse(&rec.envelope)?, secret).await?;
            save_content_key(data_dir, &key)?;
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
    let rec = client
        .key_envelope(access_token)
        .await?
        .ok_or(KeyError::NoLocalKey)?;
    let envelope = parse(&rec.envelope)?;
    if open_envelope(envelope.clone(), current).await? != key {
        return Err(KeyError::Crypto(CryptoError::WrongSecret));
    }
    let new_passphrase = new_passphrase.to_owned();
    let next = {
        let key = key.clone();
        off_runtime(move || envelope.change_passphrase(&key, &new_passphrase, params)).await?
    };
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
