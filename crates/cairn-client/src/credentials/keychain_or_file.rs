//! Linux: the Secret Service when one answers, a private file otherwise.
//!
//! A desktop session runs a Secret Service (GNOME Keyring, KWallet,
//! KeePassXC); a server, a container or an SSH login often has none. So a
//! save tries the keychain first and, when it cannot be reached, keeps the
//! session in the 0600 file instead. The file always says where the session
//! is: either the tokens themselves, or a pointer to the keychain entry with
//! no secret in it. Reading follows the file, so a session kept in a
//! keychain that cannot be reached right now is an error that says so, not
//! a silent "signed out". A session that fell back to the file moves into
//! the keychain at the next save (every token refresh saves); one that is
//! in the keychain never moves back to the file by itself, since a locked
//! keychain or a dismissed unlock prompt is no reason to write tokens in
//! the clear.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::file_store::FileCredentialStore;
use super::keychain::{KeychainCredentialStore, SERVICE};
use super::{CredentialStore, StoredCredentials};
use crate::ClientError;

/// Whether a keychain that cannot be reached may be replaced by the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    ToFile,
    Never,
}

pub struct KeychainOrFile {
    file: FileCredentialStore,
    keychain: KeychainCredentialStore,
    fallback: Fallback,
}

/// What the file holds when the tokens are in the keychain.
#[derive(Debug, Serialize, Deserialize)]
struct KeychainPointer {
    kept_in: String,
    service: String,
    account: String,
}

const KEPT_IN: &str = "os-keychain";

/// What the file says about the session.
enum Saved {
    Nothing,
    Tokens(String),
    InKeychain,
}

impl KeychainOrFile {
    pub fn new(data_dir: &Path, fallback: Fallback) -> Self {
        KeychainOrFile {
            file: FileCredentialStore::new(data_dir.join("credentials.json")),
            keychain: KeychainCredentialStore::new(data_dir),
            fallback,
        }
    }

    fn saved(&self) -> Result<Saved, ClientError> {
        Ok(match self.file.read()? {
            None => Saved::Nothing,
            Some(text) => match serde_json::from_str::<KeychainPointer>(&text) {
                Ok(pointer) if pointer.kept_in == KEPT_IN => Saved::InKeychain,
                _ => Saved::Tokens(text),
            },
        })
    }

    fn pointer(&self) -> Result<Vec<u8>, ClientError> {
        serde_json::to_vec_pretty(&KeychainPointer {
            kept_in: KEPT_IN.to_owned(),
            service: SERVICE.to_owned(),
            account: self.keychain.account().to_owned(),
        })
        .map_err(|e| ClientError::CredentialStore(e.to_string()))
    }
}

impl CredentialStore for KeychainOrFile {
    fn load(&self) -> Result<Option<StoredCredentials>, ClientError> {
        match self.saved()? {
            Saved::Nothing => Ok(None),
            Saved::Tokens(text) => self.file.parse(&text).map(Some),
            // Ok(None) here means the entry was deleted from the keychain
            // by hand: the user removed the sign-in, so it is gone.
            Saved::InKeychain => {
                self.keychain
                    .load()
                    .map_err(|e| ClientError::KeychainUnreadable {
                        detail: e.to_string(),
                    })
            }
        }
    }

    fn save(&self, credentials: &StoredCredentials) -> Result<(), ClientError> {
        match self.keychain.save(credentials) {
            // The keychain holds the tokens before the file points there,
            // so a crash in between leaves the previous, still readable
            // state.
            Ok(()) => self.file.write(&self.pointer()?),
            Err(e) if self.fallback == Fallback::Never => Err(e),
            Err(e) if matches!(self.saved(), Ok(Saved::InKeychain)) => {
                Err(ClientError::KeychainUnreadable {
                    detail: e.to_string(),
                })
            }
            Err(_) => self.file.save(credentials),
        }
    }

    fn clear(&self) -> Result<(), ClientError> {
        let saved = self.saved();
        // The keychain entry first: while the file still points to it, a
        // failure here leaves nothing orphaned. (An entry left by an
        // earlier save holds a rotated, useless token; it goes too if the
        // keychain answers.)
        let keychain = self.keychain.clear();
        // Signing out on this device always succeeds, so the file goes
        // either way; an entry that could not be removed is reported.
        self.file.clear()?;
        match keychain {
            Err(e) if matches!(saved, Ok(Saved::InKeychain)) => Err(e),
            _ => Ok(()),
        }
    }

    fn describe(&self) -> String {
        match self.saved() {
            Ok(Saved::InKeychain) => self.keychain.describe(),
            _ => format!("{}, readable only by you", self.file.describe()),
        }
    }
}
