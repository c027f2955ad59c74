//! Where a signed-in session is kept between runs.
//!
//! In the OS keychain where one exists: Keychain on macOS, Credential
//! Manager on Windows, the Secret Service on Linux, under an entry named
//! after the data dir so several profiles can coexist. A Linux machine
//! without a Secret Service (a server, a container, an SSH login) keeps the
//! session in `{data_dir}/credentials.json` instead, readable and writable
//! by the user only (0600) and replaced atomically (see
//! `credentials/keychain_or_file.rs`).
//!
//! `CAIRN_CREDENTIAL_STORE` chooses by hand: `file` (never the keychain;
//! for tests and headless machines), `keychain` (never falls back to the
//! file when the keychain cannot be reached) or `auto` (the default).

mod file_store;
#[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
mod keychain;
#[cfg(target_os = "linux")]
mod keychain_or_file;

use std::path::Path;

use cairn_protocol::{DeviceId, Session, UserId};
use serde::{Deserialize, Serialize};

use crate::ClientError;

/// A session plus the service it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCredentials {
    pub server_url: String,
    pub user_id: UserId,
    pub device_id: Option<DeviceId>,
    pub access_token: String,
    pub access_expires_at: i64,
    pub refresh_token: String,
    pub refresh_expires_at: i64,
    /// The account's name at its provider ("octocat"), shown instead of
    /// an id; credentials saved before it existed have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
}

impl StoredCredentials {
    pub fn from_session(server_url: &str, session: &Session) -> Self {
        StoredCredentials {
            server_url: server_url.to_owned(),
            user_id: session.user_id.clone(),
            device_id: session.device_id.clone(),
            access_token: session.access_token.clone(),
            access_expires_at: session.access_expires_at,
            refresh_token: session.refresh_token.clone(),
            refresh_expires_at: session.refresh_expires_at,
            account_name: None,
        }
    }

    /// Takes new tokens from a refreshed session, keeping the rest.
    pub fn update_tokens(&mut self, session: &Session) {
        self.access_token = session.access_token.clone();
        self.access_expires_at = session.access_expires_at;
        self.refresh_token = session.refresh_token.clone();
        self.refresh_expires_at = session.refresh_expires_at;
        if session.device_id.is_some() {
            self.device_id = session.device_id.clone();
        }
    }
}

/// Somewhere to keep one [`StoredCredentials`].
pub trait CredentialStore: Send + Sync {
    fn load(&self) -> Result<Option<StoredCredentials>, ClientError>;
    fn save(&self, credentials: &StoredCredentials) -> Result<(), ClientError>;
    /// Forgets the credentials; fine if there were none.
    fn clear(&self) -> Result<(), ClientError>;
    /// Where they live, for messages.
    fn describe(&self) -> String;
}

pub use file_store::FileCredentialStore;

/// The variable that chooses the store by hand (see the module docs).
pub const CREDENTIAL_STORE_VAR: &str = "CAIRN_CREDENTIAL_STORE";

/// The store for this platform and `CAIRN_CREDENTIAL_STORE` (see the
/// module docs).
pub fn default_credential_store(data_dir: &Path) -> Box<dyn CredentialStore> {
    let file = || Box::new(FileCredentialStore::new(data_dir.join("credentials.json")));
    let choice = std::env::var(CREDENTIAL_STORE_VAR).unwrap_or_default();
    match choice.as_str() {
        "file" => file(),
        "" | "auto" | "keychain" => platform_store(data_dir, choice == "keychain"),
        other => Box::new(Misconfigured(format!(
            "{CREDENTIAL_STORE_VAR}={other:?} is not one of file, keychain, auto"
        ))),
    }
}

#[cfg(target_os = "linux")]
fn platform_store(data_dir: &Path, keychain_only: bool) -> Box<dyn CredentialStore> {
    use keychain_or_file::{Fallback, KeychainOrFile};
    let fallback = if keychain_only {
        Fallback::Never
    } else {
        Fallback::ToFile
    };
    Box::new(KeychainOrFile::new(data_dir, fallback))
}

#[cfg(any(target_os = "macos", target_os = "windows"))]
fn platform_store(data_dir: &Path, _keychain_only: bool) -> Box<dyn CredentialStore> {
    Box::new(keychain::KeychainCredentialStore::new(data_dir))
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn platform_store(data_dir: &Path, _keychain_only: bool) -> Box<dyn CredentialStore> {
    Box::new(FileCredentialStore::new(data_dir.join("credentials.json")))
}

/// A store chosen by a setting that names no store: every use says so,
/// rather than quietly keeping tokens somewhere the user did not ask for.
struct Misconfigured(String);

impl CredentialStore for Misconfigured {
    fn load(&self) -> Result<Option<StoredCredentials>, ClientError> {
        Err(ClientError::CredentialStore(self.0.clone()))
    }
    fn save(&self, _: &StoredCredentials) -> Result<(), ClientError> {
        Err(ClientError::CredentialStore(self.0.clone()))
    }
    fn clear(&self) -> Result<(), ClientError> {
        Err(ClientError::CredentialStore(self.0.clone()))
    }
    fn describe(&self) -> String {
        self.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StoredCredentials {
        StoredCredentials {
            server_url: "http://127.0.0.1:1".to_owned(),
            user_id: UserId::new("key", "abc").expect("valid"),
            device_id: Some(DeviceId::parse("d1").expect("valid")),
            access_token: "at".to_owned(),
            access_expires_at: 10,
            refresh_token: "rt".to_owned(),
            refresh_expires_at: 20,
            account_name: None,
        }
    }

    #[test]
    fn file_store_round_trip_and_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileCredentialStore::new(dir.path().join("sub/credentials.json"));
        assert_eq!(store.load().expect("load"), None);
        store.save(&sample()).expect("save");
        assert_eq!(store.load().expect("load"), Some(sample()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.path())
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        store.clear().expect("clear");
        store.clear().expect("clear twice");
        assert_eq!(store.load().expect("load"), None);
    }
}
