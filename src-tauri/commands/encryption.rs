//! End-to-end encryption settings: changing the passphrase. The work is
//! `cairn_client::encryption::change_passphrase`, the same the CLI's
//! `cairn key change` does.

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
