//! The stored session shared by the commands that talk to the sync
//! service: where it is kept, and keeping its access token fresh.

use std::path::Path;

use anyhow::Context;
use cairn_client::{default_credential_store, CredentialStore, ServiceClient, StoredCredentials};

/// Refresh a little before expiry, so a slow request does not cross it.
const REFRESH_MARGIN_SECS: i64 = 60;

/// A single-threaded runtime for one command's requests.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Where this data dir's session is kept.
pub fn credential_store(data_dir: &Path) -> Box<dyn CredentialStore> {
    default_credential_store(data_dir)
}

/// A signed-in session and a client for its service.
pub struct SignedIn {
    pub client: ServiceClient,
    pub credentials: StoredCredentials,
    store: Box<dyn CredentialStore>,
}

impl SignedIn {
    /// The stored session, or an error telling how to sign in.
    pub fn load(data_dir: &Path) -> anyhow::Result<SignedIn> {
        let store = credential_store(data_dir);
        let credentials = store.load()?.ok_or_else(|| {
            anyhow::anyhow!("not signed in; run `cairn login --server URL ...` first")
        })?;
        let client = ServiceClient::new(&credentials.server_url)?;
        Ok(SignedIn {
            client,
            credentials,
            store,
        })
    }

    /// An access token that is valid for at least a minute, refreshing
    /// (and storing the rotated tokens) when needed.
    pub async fn access_token(&mut self) -> anyhow::Result<String> {
        if self.credentials.access_expires_at > now_secs() + REFRESH_MARGIN_SECS {
            return Ok(self.credentials.access_token.clone());
        }
        self.refresh().await?;
        Ok(self.credentials.access_token.clone())
    }

    /// Rotates the tokens and stores the new ones.
    pub async fn refresh(&mut self) -> anyhow::Result<()> {
        let session = self
            .client
            .refresh(&self.credentials.refresh_token)
            .await
            .map_err(|e| match e.needs_sign_in() {
                true => anyhow::anyhow!("the session has ended; run `cairn login` again ({e})"),
                false => anyhow::Error::new(e).context("refreshing the session"),
            })?;
        self.credentials.update_tokens(&session);
        self.store.save(&self.credentials)?;
        Ok(())
    }

    /// Forgets the stored session.
    pub fn forget(self) -> anyhow::Result<()> {
        self.store.clear()?;
        Ok(())
    }
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
