//! Credentials in a JSON file only the user can read (0600), replaced
//! atomically.

use std::path::{Path, PathBuf};

use super::{CredentialStore, StoredCredentials};
use crate::ClientError;

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

    /// The file's text, or `None` when there is no file.
    pub(super) fn read(&self) -> Result<Option<String>, ClientError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ClientError::io(&self.path, e)),
        }
    }

    pub(super) fn write(&self, bytes: &[u8]) -> Result<(), ClientError> {
        crate::private_file::write(&self.path, bytes).map_err(|e| ClientError::io(&self.path, e))
    }

    pub(super) fn parse(&self, text: &str) -> Result<StoredCredentials, ClientError> {
        serde_json::from_str(text).map_err(|e| {
            // A pointer to the keychain, read with the keychain turned off.
            let why = if text.contains("\"kept_in\"") {
                "the sign-in is kept in the OS keychain, which CAIRN_CREDENTIAL_STORE=file \
                 does not read"
                    .to_owned()
            } else {
                e.to_string()
            };
            ClientError::CredentialStore(format!("{}: {why}", self.path.display()))
        })
    }
}

impl CredentialStore for FileCredentialStore {
    fn load(&self) -> Result<Option<StoredCredentials>, ClientError> {
        self.read()?.map(|text| self.parse(&text)).transpose()
    }

    fn save(&self, credentials: &StoredCredentials) -> Result<(), ClientError> {
        let text = serde_json::to_vec_pretty(credentials)
            .map_err(|e| ClientError::CredentialStore(e.to_string()))?;
        self.write(&text)
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
