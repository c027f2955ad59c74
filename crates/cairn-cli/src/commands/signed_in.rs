//! The stored session shared by the commands that talk to the sync
//! service: where it is kept, and the one [`Session`] that keeps its
//! tokens fresh (the same the desktop app and the sync agent use).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use cairn_client::{
    clock_from_env, default_credential_store, ClientError, CredentialStore, Session,
};

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

/// This data dir's session, if one is stored.
pub fn stored_session(data_dir: &Path) -> anyhow::Result<Option<Arc<Session>>> {
    Ok(Session::load(credential_store(data_dir), clock_from_env())?.map(Arc::new))
}

/// This data dir's session, or an error telling how to sign in.
pub fn session(data_dir: &Path) -> anyhow::Result<Arc<Session>> {
    stored_session(data_dir)?
        .ok_or_else(|| anyhow::anyhow!("not signed in; run `cairn login --server URL ...` first"))
}

/// What a failed refresh means to the person at the terminal.
pub fn refresh_failed(e: ClientError) -> anyhow::Error {
    if e.needs_sign_in() {
        anyhow::anyhow!("the session has ended; run `cairn login` again ({e})")
    } else {
        anyhow::Error::new(e).context("refreshing the session")
    }
}

/// An access token with at least the refresh margin left.
pub async fn access_token(session: &Session) -> anyhow::Result<String> {
    session.access_token().await.map_err(refresh_failed)
}
