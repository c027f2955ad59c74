//! Finishing a sign-in on this device, shared by the CLI and the app.
//!
//! The steps, in this order:
//!
//! 1. Sign in, resuming the device this data dir used before when it signed
//!    in to the same service; if that device is gone (revoked, or another
//!    service's), sign in again as a new one.
//! 2. Register a device when the session acts for none yet.
//! 3. Get the account's content key ([`setup_encryption`]): create it on
//!    the first device, or open it with the passphrase or recovery key.
//! 4. Only then save the credentials: a wrong passphrase must leave the
//!    device as it was, not half signed in.

use std::path::Path;

use cairn_core::crypto::KdfParams;
use cairn_protocol::{DeviceId, DeviceName, ErrorCode, Platform, Session};

use crate::encryption::{setup_encryption, KeyError, KeySetup};
use crate::{ClientError, CredentialStore, ServiceClient, StoredCredentials};

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("signing in failed: {0}")]
    SignIn(#[source] ClientError),
    #[error("registering this device failed: {0}")]
    RegisterDevice(#[source] ClientError),
    #[error("{0}")]
    Key(#[from] KeyError),
    #[error("{0}")]
    CredentialStore(#[source] ClientError),
}

impl SignInError {
    /// The service's error code behind the failure, if it answered with one.
    pub fn api_code(&self) -> Option<ErrorCode> {
        match self {
            SignInError::SignIn(e) | SignInError::RegisterDevice(e) => e.api_code(),
            SignInError::Key(KeyError::Service(e)) => e.api_code(),
            _ => None,
        }
    }
}

/// A device that is signed in and holds the content key.
#[derive(Debug, Clone)]
pub struct SignedInDevice {
    pub credentials: StoredCredentials,
    pub device_id: DeviceId,
    pub key_setup: KeySetup,
}

/// Signs in with an account key and finishes the sign-in (see the module
/// docs). `secret` is the passphrase or recovery key; `None` on an account
/// without one yet creates a recovery key only.
pub async fn sign_in_with_account_key(
    client: &ServiceClient,
    account_key: &str,
    device_name: &DeviceName,
    data_dir: &Path,
    secret: Option<&str>,
    store: &dyn CredentialStore,
) -> Result<SignedInDevice, SignInError> {
    let resume = resumable_device(store, client.base_url());
    let session = match client
        .sign_in_with_account_key(account_key, resume.as_ref())
        .await
    {
        Err(e) if resume.is_some() && is_gone(&e) => {
            client.sign_in_with_account_key(account_key, None).await
        }
        other => other,
    }
    .map_err(SignInError::SignIn)?;
    finish_sign_in(client, session, device_name, data_dir, secret, store).await
}

/// Finishes a GitHub sign-in whose redirect this device caught: trades the
/// code (with the `state` it came with) for a login code, redeems that with
/// our PKCE verifier, then finishes as any sign-in does (see the module
/// docs). Check the redirect's state first
/// ([`crate::code_from_redirect`]).
#[allow(clippy::too_many_arguments)] // the sign-in's inputs, each needed once
pub async fn sign_in_with_github_code(
    client: &ServiceClient,
    code: &str,
    state: &str,
    code_verifier: &str,
    device_name: &DeviceName,
    data_dir: &Path,
    secret: Option<&str>,
    store: &dyn CredentialStore,
) -> Result<SignedInDevice, SignInError> {
    let login = client
        .github_exchange(code, state)
        .await
        .map_err(SignInError::SignIn)?;
    let resume = resumable_device(store, client.base_url());
    // A device that is gone comes back as a session for no device (the
    // service cannot ask for the spent login code again), and
    // `finish_sign_in` registers a new one.
    let session = client
        .sign_in_with_login_code(&login.login_code, code_verifier, resume.as_ref())
        .await
        .map_err(SignInError::SignIn)?;
    let mut done = finish_sign_in(client, session, device_name, data_dir, secret, store).await?;
    if login.account_name.is_some() {
        done.credentials.account_name = login.account_name;
        // Only for display: if it cannot be kept, the id is shown instead.
        if let Err(e) = store.save(&done.credentials) {
            eprintln!("warning: could not keep the account's name: {e}");
        }
    }
    Ok(done)
}

/// The device this data dir used before on the same service, if any.
pub fn resumable_device(store: &dyn CredentialStore, server_url: &str) -> Option<DeviceId> {
    let same = |a: &str| a.trim_end_matches('/') == server_url.trim_end_matches('/');
    store
        .load()
        .ok()
        .flatten()
        .filter(|c| same(&c.server_url))
        .and_then(|c| c.device_id)
}

/// Whether signing in as a resumed device failed because it is gone.
pub fn is_gone(e: &ClientError) -> bool {
    matches!(
        e.api_code(),
        Some(ErrorCode::DeviceRevoked | ErrorCode::NotFound)
    )
}

/// Steps 2 to 4 for a session however it was obtained.
pub async fn finish_sign_in(
    client: &ServiceClient,
    session: Session,
    device_name: &DeviceName,
    data_dir: &Path,
    secret: Option<&str>,
    store: &dyn CredentialStore,
) -> Result<SignedInDevice, SignInError> {
    let server_url = client.base_url().trim_end_matches('/');
    let mut credentials = StoredCredentials::from_session(server_url, &session);
    let device_id = match &session.device_id {
        Some(id) => id.clone(),
        None => {
            // Best effort: if the list cannot be read, the name is used as
            // it is, and it can be renamed later.
            let taken = client
                .devices(&session.access_token)
                .await
                .unwrap_or_default();
            let taken: Vec<&str> = taken
                .iter()
                .filter(|d| !d.is_revoked())
                .map(|d| d.name.as_str())
                .collect();
            let name = crate::device_names::distinct(device_name, &taken);
            client
                .register_device(&session.access_token, &name, &Platform::current())
                .await
                .map_err(SignInError::RegisterDevice)?
                .id
        }
    };
    credentials.device_id = Some(device_id.clone());
    let key_setup = setup_encryption(
        client,
        &session.access_token,
        data_dir,
        secret,
        KdfParams::default(),
    )
    .await?;
    store
        .save(&credentials)
        .map_err(SignInError::CredentialStore)?;
    Ok(SignedInDevice {
        credentials,
        device_id,
        key_setup,
    })
}

/// This device's name as other devices see it by default: the host name
/// when there is a usable one.
pub fn default_device_name() -> String {
    let from_env = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::env::var("COMPUTERNAME").ok());
    let from_file = || std::fs::read_to_string("/etc/hostname").ok();
    from_env
        .or_else(from_file)
        .map(|h| h.trim().to_owned())
        .filter(|h| DeviceName::parse(h).is_ok())
        .unwrap_or_else(|| format!("{} device", Platform::current()))
}

/// Forgets what a data dir keeps for sync besides the session (sign-out):
/// its copy of the content key and its grant.
pub fn forget_device_secrets(data_dir: &Path) -> Result<(), KeyError> {
    crate::encryption::forget_content_key(data_dir)?;
    let grant = crate::sync_agent::grant_path(data_dir);
    match std::fs::remove_file(&grant) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(KeyError::Io {
            path: grant.display().to_string(),
            source: e,
        }),
    }
}
