//! Credentials in the OS keychain: Keychain on macOS, Credential Manager on
//! Windows, the Secret Service (GNOME Keyring, KWallet, KeePassXC) on
//! Linux. One entry per data dir, so several profiles can coexist.

use std::path::Path;

use super::{CredentialStore, StoredCredentials};
use crate::ClientError;

/// The keychain's service name for every Cairn entry.
pub const SERVICE: &str = "cairn";

pub struct KeychainCredentialStore {
    account: String,
}

impl KeychainCredentialStore {
    pub fn new(data_dir: &Path) -> Self {
        KeychainCredentialStore {
            account: format!("session:{}", data_dir.display()),
        }
    }

    /// The entry's account name (the service is [`SERVICE`]).
    #[cfg(target_os = "linux")]
    pub fn account(&self) -> &str {
        &self.account
    }

    fn entry(&self) -> Result<keyring::Entry, ClientError> {
        keyring::Entry::new(SERVICE, &self.account).map_err(|e| self.error(e))
    }

    fn error(&self, e: keyring::Error) -> ClientError {
        ClientError::CredentialStore(format!("{}: {e}", self.describe()))
    }
}

impl CredentialStore for KeychainCredentialStore {
    fn load(&self) -> Result<Option<StoredCredentials>, ClientError> {
        match self.entry()?.get_password() {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| ClientError::CredentialStore(format!("{}: {e}", self.describe()))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(self.error(e)),
        }
    }

    fn save(&self, credentials: &StoredCredentials) -> Result<(), ClientError> {
        let text = serde_json::to_string(credentials)
            .map_err(|e| ClientError::CredentialStore(e.to_string()))?;
        self.entry()?.set_password(&text).map_err(|e| self.error(e))
    }

    fn clear(&self) -> Result<(), ClientError> {
        match self.entry()?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(self.error(e)),
        }
    }

    fn describe(&self) -> String {
        format!("the OS keychain ({SERVICE}/{})", self.account)
    }
}
