//! Where a signed-in session is kept between runs.
//!
//! On macOS and Windows the tokens go into the OS keychain (Keychain,
//! Credential Manager), under an entry named after the data dir so several
//! profiles can coexist. Elsewhere (Linux, where a Secret Service may not
//! be running, e.g. on a server or in CI) they go into
//! `{data_dir}/credentials.json`, created readable and writable by the user
//! only (0600) and replaced atomically.

use std::path::{Path, PathBuf};

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

/// The store for this platform (see the module docs).
pub fn default_credential_store(data_dir: &Path) -> Box<dyn CredentialStore> {
    #[cfg(any(target_os = "macos", target_os = "windows"))]
    {
        Box::new(keychain::KeychainCredentialStore::new(data_dir))
    }
    #[cfg(not(any(target_os = "macos", target_os = "windows")))]
    {
        Box::new(FileCredentialStore::new(data_dir.join("credentials.json")))
    }
}

/// Credentials in a JSON file only the user can read.
pub struct FileCredentialStore {
    path: PathBuf,
}

impl FileCredentialStore {
    pub fn new(path: PathBuf) -> Self {
        FileCredentialStore { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl CredentialStore for FileCredentialStore {
    fn load(&self) -> Result<Option<StoredCredentials>, ClientError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| ClientError::CredentialStore(format!("{}: {e}", self.path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ClientError::io(&self.path, e)),
        }
    }

    fn save(&self, credentials: &StoredCredentials) -> Result<(), ClientError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| ClientError::io(dir, e))?;
        let text = serde_json::to_vec_pretty(credentials)
            .map_err(|e| ClientError::CredentialStore(e.to_string()))?;
        let tmp = self.path.with_extension("json.tmp");
        write_private(&tmp, &text)?;
        // Rename so a crash never leaves a half-written file behind.
        std::fs::rename(&tmp, &self.path).map_err(|e| ClientError::io(&self.path, e))
    }

    fn clear(&self) -> Result<(), ClientError> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ClientError::io(&self.path, e)),
        }
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

/// Writes `bytes` to a new file that is never readable by others, not even
/// between creation and a later chmod.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ClientError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| ClientError::io(path, e))?;
    #[cfg(unix)]
    {
        // An older file at this path keeps its mode through open(); fix it.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| ClientError::io(path, e))?;
    }
    file.write_all(bytes)
        .map_err(|e| ClientError::io(path, e))?;
    file.sync_all().map_err(|e| ClientError::io(path, e))
}

#[cfg(any(target_os = "macos", target_os = "windows"))]
mod keychain {
    use std::path::Path;

    use super::{CredentialStore, StoredCredentials};
    use crate::ClientError;

    const SERVICE: &str = "cairn";

    pub struct KeychainCredentialStore {
        account: String,
    }

    impl KeychainCredentialStore {
        pub fn new(data_dir: &Path) -> Self {
            KeychainCredentialStore {
                account: format!("session:{}", data_dir.display()),
            }
        }

        fn entry(&self) -> Result<keyring::Entry, ClientError> {
            keyring::Entry::new(SERVICE, &self.account)
                .map_err(|e| ClientError::CredentialStore(e.to_string()))
        }
    }

    impl CredentialStore for KeychainCredentialStore {
        fn load(&self) -> Result<Option<StoredCredentials>, ClientError> {
            match self.entry()?.get_password() {
                Ok(text) => serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|e| ClientError::CredentialStore(e.to_string())),
                Err(keyring::Error::NoEntry) => Ok(None),
                Err(e) => Err(ClientError::CredentialStore(e.to_string())),
            }
        }

        fn save(&self, credentials: &StoredCredentials) -> Result<(), ClientError> {
            let text = serde_json::to_string(credentials)
                .map_err(|e| ClientError::CredentialStore(e.to_string()))?;
            self.entry()?
                .set_password(&text)
                .map_err(|e| ClientError::CredentialStore(e.to_string()))
        }

        fn clear(&self) -> Result<(), ClientError> {
            match self.entry()?.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(e) => Err(ClientError::CredentialStore(e.to_string())),
            }
        }

        fn describe(&self) -> String {
            format!("the OS keychain ({SERVICE}/{})", self.account)
        }
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
