//! Sign-in, devices and sync status.
//!
//! The service client and the sync engine are not part of this build yet,
//! so these commands say so plainly instead of pretending: the status is
//! "needs sign-in" and signing in fails with `sync_unavailable`. Their
//! shapes are the ones the UI already speaks.
//!
//! TODO(sync): when `cairn-client` lands, sign in with an account key or
//! GitHub (tauri-plugin-oauth catching the redirect on 127.0.0.1, `state`
//! checked against the one we sent), keep the session in the data dir, and
//! start the sync runner that merges peers' changes through
//! `AppState::with_store` (so they reach the UI as `merged` events) and
//! emits `sync-status` as it goes.

use serde::Serialize;
use tauri::State;

use crate::error::{AppError, AppResult};
use crate::settings::validate_service_url;
use crate::state::AppState;

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SyncStatus {
    NeedsSignIn,
}

#[derive(Debug, Clone, Serialize)]
pub struct AccountStatus {
    pub signed_in: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Device {
    pub id: String,
    pub name: String,
    pub last_seen_ms: Option<i64>,
    pub this_device: bool,
}

#[tauri::command]
pub fn sync_status() -> SyncStatus {
    SyncStatus::NeedsSignIn
}

#[tauri::command]
pub fn account_status() -> AccountStatus {
    AccountStatus { signed_in: false }
}

#[tauri::command]
pub fn sign_in_with_key(
    _state: State<'_, AppState>,
    service_url: String,
    account_key: String,
) -> AppResult<AccountStatus> {
    validate_service_url(service_url.trim())?;
    if service_url.trim().is_empty() {
        return Err(AppError::invalid(
            "service URL",
            "enter the service's address",
        ));
    }
    if account_key.trim().is_empty() {
        return Err(AppError::invalid("account key", "enter your account key"));
    }
    Err(AppError::SyncUnavailable)
}

#[tauri::command]
pub fn sign_in_with_github(service_url: String) -> AppResult<AccountStatus> {
    validate_service_url(service_url.trim())?;
    if service_url.trim().is_empty() {
        return Err(AppError::invalid(
            "service URL",
            "enter the service's address",
        ));
    }
    Err(AppError::SyncUnavailable)
}

#[tauri::command]
pub fn sign_out() -> AppResult<()> {
    Err(AppError::NotSignedIn)
}

#[tauri::command]
pub fn devices_list() -> AppResult<Vec<Device>> {
    Err(AppError::NotSignedIn)
}
