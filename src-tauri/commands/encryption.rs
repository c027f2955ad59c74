//! End-to-end encryption settings: changing the passphrase, and entering
//! it after another device removed one. The work is
//! `cairn_client::encryption`'s, the same the CLI's `cairn key change` and
//! `CAIRN_PASSPHRASE` do.

use cairn_core::crypto::KdfParams;
use tauri::State;

use crate::commands::account::fresh_token;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Re-wraps the content key under `next`, once `current` (the passphrase
/// or the recovery key) has proven it opens the account's key.
#[tauri::command]
pub async fn change_passphrase(
    state: State<'_, AppState>,
    current: String,
    next: String,
) -> AppResult<()> {
    if current.is_empty() {
        return Err(AppError::invalid(
            "current passphrase",
            "enter the current passphrase or your recovery key",
        ));
    }
    let session = state.session()?;
    let token = fresh_token(&session).await?;
    cairn_client::encryption::change_passphrase(
        session.client(),
        &token,
        state.data_dir(),
        &current,
        &next,
        KdfParams::default(),
    )
    .await
    .map_err(|e| AppError::Key(Box::new(e)))?;
    Ok(())
}

/// Takes the account's new key after another device removed one (sync
/// problem `key_rotated`): `secret`, the passphrase or the recovery key,
/// opens the account's envelope, the keys are kept here, and the sync
/// task starts again with them, so sync resumes at once. The same step
/// as `CAIRN_PASSPHRASE` for `cairn sync`. A wrong secret changes nothing.
#[tauri::command]
pub async fn enter_passphrase(state: State<'_, AppState>, secret: String) -> AppResult<()> {
    if secret.is_empty() {
        return Err(AppError::invalid(
            "passphrase",
            "enter your passphrase or recovery key",
        ));
    }
    let session = state.session()?;
    let token = fresh_token(&session).await?;
    cairn_client::encryption::catch_up_personal_key(
        session.client(),
        &token,
        state.data_dir(),
        Some(&secret),
    )
    .await
    .map_err(|e| {
        eprintln!("cairn-desktop: taking the account's new key: {e:?}");
        AppError::Key(Box::new(e))
    })?;
    state.start_sync()
}
