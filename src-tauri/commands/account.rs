//! Sign-in with an account key, sign-out, devices and sync status. The
//! sign-in steps themselves are `cairn_client::sign_in`'s, the same the CLI
//! takes; these commands validate what the user typed, call them, and start
//! or stop the sync task. GitHub sign-in is in `github_sign_in.rs`.

use cairn_client::sign_in::{SignInError, SignedInDevice};
use std::sync::Arc;

use cairn_client::{
    default_credential_store, ServiceClient, Session, StoredCredentials, SyncState,
};
use cairn_protocol::DeviceName;
use serde::Serialize;
use tauri::State;

use crate::error::{AppError, AppResult};
use crate::settings::validate_service_url;
use crate::state::AppState;

/// Where `scripts/run.sh` points the app, to prefill the sign-in form.
const SERVER_ENV: &str = "CAIRN_SERVER_URL";
const ACCOUNT_KEY_ENV: &str = "CAIRN_ACCOUNT_KEY";

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct AccountStatus {
    pub signed_in: bool,
    pub user: Option<String>,
    pub device_id: Option<String>,
    pub service_url: Option<String>,
    /// Shown once, right after this device created the account's key.
    pub recovery_key: Option<String>,
    /// Shown once, right after the account was created from this device:
    /// what signs in every other device.
    pub account_key: Option<String>,
    /// How the account is shown: a sentence, never the raw id alone.
    pub account_label: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Device {
    pub id: String,
    pub name: String,
    pub last_seen_ms: Option<i64>,
    pub this_device: bool,
}

/// What the sign-in form starts with.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SignInDefaults {
    pub service_url: Option<String>,
    pub account_key: Option<String>,
    /// The machine's name, which the user may change before signing in.
    pub device_name: String,
}

/// What every sign-in form gives: the service (checked), this device's
/// name, and the passphrase if one was typed.
pub(crate) struct SignInForm {
    pub service_url: String,
    pub client: ServiceClient,
    pub device_name: DeviceName,
    pub passphrase: Option<String>,
}

impl SignInForm {
    /// `device_name`: what the user typed, or `None` (or blank) for the
    /// machine's name.
    pub fn read(
        service_url: &str,
        passphrase: Option<String>,
        device_name: Option<String>,
    ) -> AppResult<SignInForm> {
        let service_url = service_url.trim().trim_end_matches('/').to_string();
        validate_service_url(&service_url)?;
        if service_url.is_empty() {
            return Err(AppError::invalid(
                "service URL",
                "enter the service's address",
            ));
        }
        let client =
            ServiceClient::new(&service_url).map_err(|e| AppError::Service(Box::new(e)))?;
        let typed = device_name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty());
        let device_name =
            DeviceName::parse(&typed.unwrap_or_else(cairn_client::sign_in::default_device_name))
                .map_err(|e| AppError::invalid("device name", e.to_string()))?;
        Ok(SignInForm {
            service_url,
            client,
            device_name,
            passphrase: passphrase.filter(|p| !p.is_empty()),
        })
    }
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
        account_key: None,
        account_label: c
            .map(|c| account_label(&c.user_id, c.account_name.as_deref(), &c.server_url)),
    }
}

/// "GitHub account octocat on cairn.example.org", or "Account-key account
/// a1b2c3d4 on …": how the account was made and its name at the provider,
/// or else a short, stable part of its id, on the service's host.
fn account_label(user: &cairn_protocol::UserId, name: Option<&str>, server_url: &str) -> String {
    let short: String = name.map_or_else(
        || user.account_id().chars().take(8).collect(),
        str::to_owned,
    );
    let kind = match user.provider() {
        "github" => "GitHub account",
        "key" => "Account-key account",
        _ => "Account",
    };
    let host = server_url
        .split_once("://")
        .map_or(server_url, |(_, rest)| rest)
        .trim_end_matches('/');
    format!("{kind} {short} on {host}")
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
        device_name: cairn_client::sign_in::default_device_name(),
    }
}

#[tauri::command]
pub async fn sign_in_with_key(
    state: State<'_, AppState>,
    service_url: String,
    account_key: String,
    passphrase: Option<String>,
    device_name: Option<String>,
) -> AppResult<AccountStatus> {
    let account_key = account_key.trim();
    if account_key.is_empty() {
        return Err(AppError::invalid("account key", "enter your account key"));
    }
    let form = SignInForm::read(&service_url, passphrase, device_name)?;
    state.remember_service_url(&form.service_url)?;
    let (client, name, passphrase) = (form.client, form.device_name, form.passphrase);
    let store = default_credential_store(state.data_dir());
    let signed_in = cairn_client::sign_in::sign_in_with_account_key(
        &client,
        account_key,
        &name,
        state.data_dir(),
        passphrase.as_deref(),
        store.as_ref(),
    )
    .await;
    now_signed_in(&state, signed_in)
}

/// Creates an account-key account on the service and signs this device in
/// to it. The account key comes back once, to be kept by the user: it is
/// what signs in their other devices.
#[tauri::command]
pub async fn create_account(
    state: State<'_, AppState>,
    service_url: String,
    passphrase: Option<String>,
    device_name: Option<String>,
) -> AppResult<AccountStatus> {
    let form = SignInForm::read(&service_url, passphrase, device_name)?;
    state.remember_service_url(&form.service_url)?;
    let created = form
        .client
        .create_account()
        .await
        .map_err(|e| AppError::Service(Box::new(e)))?;
    let store = default_credential_store(state.data_dir());
    let signed_in = cairn_client::sign_in::sign_in_with_account_key(
        &form.client,
        &created.account_key,
        &form.device_name,
        state.data_dir(),
        form.passphrase.as_deref(),
        store.as_ref(),
    )
    .await;
    let mut status = now_signed_in(&state, signed_in)?;
    status.account_key = Some(created.account_key);
    Ok(status)
}

/// After either kind of sign-in: start syncing, and say who is signed in
/// (with the recovery key, the one time there is one).
pub(crate) fn now_signed_in(
    state: &AppState,
    signed_in: Result<SignedInDevice, SignInError>,
) -> AppResult<AccountStatus> {
    let signed_in = signed_in.map_err(|e| AppError::SignIn(Box::new(e)))?;
    state.start_sync()?;
    Ok(status_of(
        Some(&signed_in.credentials),
        signed_in.key_setup.into_recovery_key(),
    ))
}

/// Signs out: stops syncing, then the one sign-out the CLI takes too
/// (`Session::sign_out`): revoke the session on the service when it can be
/// reached, forget it, the content key and the grant on this device
/// either way. The notes stay.
#[tauri::command]
pub async fn sign_out(state: State<'_, AppState>) -> AppResult<()> {
    state.stop_sync();
    let session = state.session()?;
    state.drop_session()?;
    let signed_out = session
        .sign_out(state.data_dir())
        .await
        .map_err(|e| AppError::SignIn(Box::new(e.into())))?;
    if let Err(e) = signed_out.revoked {
        // Forgetting it here is what matters; an unreachable service
        // lets the session expire on its own.
        eprintln!("cairn-desktop: the service could not revoke the session: {e}");
    }
    Ok(())
}

#[tauri::command]
pub async fn devices_list(state: State<'_, AppState>) -> AppResult<Vec<Device>> {
    let session = state.session()?;
    let token = fresh_token(&session).await?;
    let devices = session
        .client()
        .devices(&token)
        .await
        .map_err(|e| AppError::Service(Box::new(e)))?;
    let this_device = session.device_id();
    Ok(devices
        .into_iter()
        .filter(|d| !d.is_revoked())
        .map(|d| Device {
            this_device: this_device.as_ref() == Some(&d.id),
            id: d.id.to_string(),
            name: d.name.to_string(),
            last_seen_ms: None,
            // The service does not report when a device was last seen.
        })
        .collect())
}

/// An access token from the session the sync task shares, refreshed first
/// when it is about to expire.
pub(crate) async fn fresh_token(session: &Arc<Session>) -> AppResult<String> {
    session
        .access_token()
        .await
        .map_err(|e| AppError::Service(Box::new(e)))
}

/// Gives one of the account's devices a new name (two machines called
/// "laptop" are told apart in every list and grant).
#[tauri::command]
pub async fn device_rename(
    state: State<'_, AppState>,
    id: String,
    name: String,
) -> AppResult<Device> {
    let id = cairn_protocol::DeviceId::parse(&id)
        .map_err(|e| AppError::invalid("device", e.to_string()))?;
    let name = DeviceName::parse(name.trim())
        .map_err(|e| AppError::invalid("device name", e.to_string()))?;
    let session = state.session()?;
    let token = fresh_token(&session).await?;
    let renamed = session
        .client()
        .rename_device(&token, &id, &name)
        .await
        .map_err(|e| AppError::Service(Box::new(e)))?;
    Ok(Device {
        this_device: session.device_id().as_ref() == Some(&renamed.id),
        id: renamed.id.to_string(),
        name: renamed.name.to_string(),
        last_seen_ms: None,
    })
}
