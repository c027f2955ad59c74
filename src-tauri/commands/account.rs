//! Sign-in, devices and sync status. The sign-in steps themselves are
//! `cairn_client::sign_in`'s, the same the CLI takes; these commands
//! validate what the user typed, call them, and start or stop the sync task.

use std::time::Duration;

use cairn_client::encryption::KeySetup;
use cairn_client::sign_in::SignInError;
use cairn_client::{
    default_credential_store, PkcePair, ServiceClient, StoredCredentials, SyncState,
};
use cairn_protocol::{DeviceName, GITHUB_DONE_PATH};
use serde::Serialize;
use tauri::{AppHandle, Emitter, State};

use crate::error::{AppError, AppResult};
use crate::events::GITHUB_STARTED;
use crate::github_redirect::{self, PendingRedirect};
use crate::settings::validate_service_url;
use crate::state::AppState;

/// Where `scripts/run.sh` points the app, to prefill the sign-in form.
const SERVER_ENV: &str = "CAIRN_SERVER_URL";
const ACCOUNT_KEY_ENV: &str = "CAIRN_ACCOUNT_KEY";
/// Refresh a little before expiry, so a slow request does not cross it.
const REFRESH_MARGIN_SECS: i64 = 60;

#[derive(Debug, Clone, Serialize)]
pub struct AccountStatus {
    pub signed_in: bool,
    pub user: Option<String>,
    pub device_id: Option<String>,
    pub service_url: Option<String>,
    /// Shown once, right after this device created the account's key.
    pub recovery_key: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Device {
    pub id: String,
    pub name: String,
    pub last_seen_ms: Option<i64>,
    pub this_device: bool,
}

/// What the sign-in form starts with.
#[derive(Debug, Clone, Serialize)]
pub struct SignInDefaults {
    pub service_url: Option<String>,
    pub account_key: Option<String>,
}

fn stored(state: &AppState) -> AppResult<Option<StoredCredentials>> {
    default_credential_store(state.data_dir())
        .load()
        .map_err(|e| AppError::Service(Box::new(e)))
}

fn status_of(c: Option<&StoredCredentials>, recovery_key: Option<String>) -> AccountStatus {
    AccountStatus {
        signed_in: c.is_some(),
        user: c.map(|c| c.user_id.to_string()),
        device_id: c.and_then(|c| c.device_id.as_ref().map(|d| d.to_string())),
        service_url: c.map(|c| c.server_url.clone()),
        recovery_key,
    }
}

#[tauri::command]
pub fn sync_status(state: State<'_, AppState>) -> SyncState {
    state.sync().status()
}

#[tauri::command]
pub fn account_status(state: State<'_, AppState>) -> AppResult<AccountStatus> {
    Ok(status_of(stored(&state)?.as_ref(), None))
}

#[tauri::command]
pub fn sign_in_defaults() -> SignInDefaults {
    let var = |k| {
        std::env::var(k)
            .ok()
            .filter(|v: &String| !v.trim().is_empty())
    };
    SignInDefaults {
        service_url: var(SERVER_ENV),
        account_key: var(ACCOUNT_KEY_ENV),
    }
}

#[tauri::command]
pub async fn sign_in_with_key(
    state: State<'_, AppState>,
    service_url: String,
    account_key: String,
    passphrase: Option<String>,
) -> AppResult<AccountStatus> {
    let service_url = service_url.trim().trim_end_matches('/').to_string();
    validate_service_url(&service_url)?;
    if service_url.is_empty() {
        return Err(AppError::invalid(
            "service URL",
            "enter the service's address",
        ));
    }
    let account_key = account_key.trim();
    if account_key.is_empty() {
        return Err(AppError::invalid("account key", "enter your account key"));
    }
    let passphrase = passphrase.filter(|p| !p.is_empty());
    let client = ServiceClient::new(&service_url).map_err(|e| AppError::Service(Box::new(e)))?;
    let name = DeviceName::parse(&cairn_client::sign_in::default_device_name())
        .map_err(|e| AppError::invalid("device name", e.to_string()))?;
    let store = default_credential_store(state.data_dir());
    let signed_in = cairn_client::sign_in::sign_in_with_account_key(
        &client,
        account_key,
        &name,
        state.data_dir(),
        passphrase.as_deref(),
        store.as_ref(),
    )
    .await
    .map_err(|e| AppError::SignIn(Box::new(e)))?;
    state.start_sync()?;
    Ok(status_of(
        Some(&signed_in.credentials),
        recovery_key_of(signed_in.key_setup),
    ))
}

/// How long the user may take in the browser.
const GITHUB_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// What the window shows while the browser is out: the page to open by
/// hand if no browser appeared.
#[derive(Debug, Clone, Serialize)]
pub struct GithubStarted {
    pub authorize_url: String,
}

/// Signs in with GitHub: listens on a loopback port (tauri-plugin-oauth),
/// asks the service for the authorize URL, opens the browser and tells the
/// window the URL ([`GITHUB_STARTED`]), waits for the redirect, checks its
/// `state`, and finishes as an account-key sign-in does. A new attempt or
/// [`cancel_github_sign_in`] ends a pending one.
#[tauri::command]
pub async fn sign_in_with_github(
    app: AppHandle,
    state: State<'_, AppState>,
    service_url: String,
    passphrase: Option<String>,
) -> AppResult<AccountStatus> {
    let service_url = service_url.trim().trim_end_matches('/').to_string();
    validate_service_url(&service_url)?;
    if service_url.is_empty() {
        return Err(AppError::invalid(
            "service URL",
            "enter the service's address",
        ));
    }
    let passphrase = passphrase.filter(|p| !p.is_empty());
    let client = ServiceClient::new(&service_url).map_err(|e| AppError::Service(Box::new(e)))?;
    let name = DeviceName::parse(&cairn_client::sign_in::default_device_name())
        .map_err(|e| AppError::invalid("device name", e.to_string()))?;

    // One sign-in at a time: a new attempt ends the one before.
    if let Some(earlier) = state.replace_github_sign_in(None) {
        github_redirect::cancel(earlier);
    }
    let redirect = PendingRedirect::listen(format!("{service_url}/{GITHUB_DONE_PATH}"))?;
    let pkce = PkcePair::generate();
    // On an error from here on, dropping `redirect` stops its listener.
    let started = client
        .github_start(&redirect.redirect_uri(), &pkce.challenge)
        .await
        .map_err(|e| AppError::SignIn(Box::new(SignInError::SignIn(e))))?;
    if let Some(other) = state.replace_github_sign_in(Some(redirect.port())) {
        // Another attempt started while this one asked the service.
        github_redirect::cancel(other);
    }
    let shown = GithubStarted {
        authorize_url: started.authorize_url.clone(),
    };
    if let Err(e) = app.emit(GITHUB_STARTED, &shown) {
        eprintln!("cairn-desktop: could not emit {GITHUB_STARTED}: {e}");
    }
    if let Err(e) = cairn_client::browser::open(&started.authorize_url) {
        // The window shows the link to open by hand.
        eprintln!("cairn-desktop: {e}");
    }
    let port = redirect.port();
    let answered = redirect.wait(GITHUB_TIMEOUT).await;
    state.finish_github_sign_in(port);
    let code = cairn_client::code_from_redirect(&answered?, &started.state)
        .map_err(|e| AppError::SignIn(Box::new(SignInError::SignIn(e))))?;
    let store = default_credential_store(state.data_dir());
    let signed_in = cairn_client::sign_in::sign_in_with_github_code(
        &client,
        &code,
        &started.state,
        &pkce.verifier,
        &name,
        state.data_dir(),
        passphrase.as_deref(),
        store.as_ref(),
    )
    .await
    .map_err(|e| AppError::SignIn(Box::new(e)))?;
    state.start_sync()?;
    Ok(status_of(
        Some(&signed_in.credentials),
        recovery_key_of(signed_in.key_setup),
    ))
}

/// Gives up a pending GitHub sign-in (the browser was closed, say).
#[tauri::command]
pub fn cancel_github_sign_in(state: State<'_, AppState>) {
    if let Some(port) = state.replace_github_sign_in(None) {
        github_redirect::cancel(port);
    }
}

fn recovery_key_of(setup: KeySetup) -> Option<String> {
    match setup {
        KeySetup::Created { recovery_key } => Some(recovery_key),
        KeySetup::AlreadyUnlocked | KeySetup::Unlocked => None,
    }
}

/// Signs out: stops syncing, revokes the session on the service when it can
/// be reached, and forgets the session, the content key and the grant on
/// this device either way. The notes stay.
#[tauri::command]
pub async fn sign_out(state: State<'_, AppState>) -> AppResult<()> {
    state.stop_sync();
    let dir = state.data_dir().to_path_buf();
    let store = default_credential_store(&dir);
    let Some(credentials) = stored(&state)? else {
        return Err(AppError::NotSignedIn);
    };
    if let Ok(client) = ServiceClient::new(&credentials.server_url) {
        if let Err(e) = client.logout(&credentials.access_token).await {
            // Forgetting it here is what matters; an unreachable service
            // lets the session expire on its own.
            eprintln!("cairn-desktop: the service could not revoke the session: {e}");
        }
    }
    store.clear().map_err(|e| AppError::Service(Box::new(e)))?;
    cairn_client::sign_in::forget_device_secrets(&dir)
        .map_err(|e| AppError::SignIn(Box::new(e.into())))
}

#[tauri::command]
pub async fn devices_list(state: State<'_, AppState>) -> AppResult<Vec<Device>> {
    let (client, credentials) = fresh_session(&state).await?;
    let devices = client
        .devices(&credentials.access_token)
        .await
        .map_err(|e| AppError::Service(Box::new(e)))?;
    Ok(devices
        .into_iter()
        .filter(|d| !d.is_revoked())
        .map(|d| Device {
            this_device: credentials.device_id.as_ref() == Some(&d.id),
            id: d.id.to_string(),
            name: d.name.to_string(),
            last_seen_ms: None,
            // The service does not report when a device was last seen.
        })
        .collect())
}

/// The stored session, refreshed first when it is about to expire, and a
/// client for its service.
pub(crate) async fn fresh_session(
    state: &AppState,
) -> AppResult<(ServiceClient, StoredCredentials)> {
    let Some(mut credentials) = stored(state)? else {
        return Err(AppError::NotSignedIn);
    };
    let client =
        ServiceClient::new(&credentials.server_url).map_err(|e| AppError::Service(Box::new(e)))?;
    if credentials.access_expires_at <= now_secs() + REFRESH_MARGIN_SECS {
        let session = client
            .refresh(&credentials.refresh_token)
            .await
            .map_err(|e| AppError::Service(Box::new(e)))?;
        credentials.update_tokens(&session);
        default_credential_store(state.data_dir())
            .save(&credentials)
            .map_err(|e| AppError::Service(Box::new(e)))?;
    }
    Ok((client, credentials))
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
