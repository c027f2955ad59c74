//! Removing one of the account's devices from the window: the work is
//! `cairn_client::device_removal`, the same the CLI's `cairn devices
//! remove` does (the key rotated first, then the device revoked, then the
//! sharing identity replaced). After
//! the rotation the sync task starts again, so it seals with the new key
//! at once and asks for a grant without the removed device.

use cairn_client::device_removal::{self, RemoveError};
use cairn_client::encryption::Rotated;
use cairn_client::identity_rotation::rotate_identity_after_removal;
use cairn_core::crypto::KdfParams;
use cairn_protocol::DeviceId;
use serde::Serialize;
use tauri::State;

use crate::commands::account::fresh_token;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// What a removal did, when the key was rotated (a failure before that is
/// an error: nothing changed).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct DeviceRemoval {
    /// The device's name.
    pub name: String,
    /// Whether the device is removed. When not, the key is rotated and
    /// `device_remove_resume` finishes the removal; `problem` says why.
    pub removed: bool,
    /// The new recovery key, to show once; none when another device of
    /// the account rotated the key at the same moment (it showed one).
    pub recovery_key: Option<String>,
    /// A sentence when the removal stopped after the rotation.
    pub problem: Option<String>,
}

fn recovery_key(rotated: Rotated) -> Option<String> {
    match rotated {
        Rotated::NewEpoch { recovery_key, .. } => Some(recovery_key),
        Rotated::ByAnotherDevice { .. } => None,
    }
}

fn device_id(id: &str) -> AppResult<DeviceId> {
    DeviceId::parse(id).map_err(|e| AppError::invalid("device", e.to_string()))
}

/// Gives the account a new sharing identity and moves its shared
/// notebooks to it, once the device is out: the removed device holds the
/// current identity. A failure is kept for the log only: the next sync
/// finishes it (opening the identity completes a rotation cut off).
async fn rotate_identity(state: &AppState, session: std::sync::Arc<cairn_client::Session>) {
    match rotate_identity_after_removal(state.data_dir(), session, state.store_handle()).await {
        Ok(r) => {
            for (space, e) in &r.failed {
                eprintln!("cairn-desktop: shared notebook {space:?} not yet on the new sharing key: {e:?}");
            }
        }
        Err(e) => eprintln!("cairn-desktop: the sharing identity was not rotated yet: {e:?}"),
    }
}

/// Syncs on again with the rotated key (the running loop's store still
/// seals with the old one). A failure is on the indicator already.
fn restart_sync(state: &AppState) {
    if let Err(e) = state.start_sync() {
        eprintln!("cairn-desktop: sync did not start again after the key rotation: {e}");
    }
}

/// Removes device `id`; `secret` is the passphrase, or the recovery key
/// of an account without one. A wrong one changes nothing.
#[tauri::command]
pub async fn device_remove(
    state: State<'_, AppState>,
    id: String,
    secret: String,
) -> AppResult<DeviceRemoval> {
    let id = device_id(&id)?;
    if secret.is_empty() {
        return Err(AppError::invalid(
            "passphrase",
            "enter your passphrase (or your recovery key, if you chose no passphrase)",
        ));
    }
    let session = state.session()?;
    let token = fresh_token(&session).await?;
    let removed = device_removal::remove_device(
        session.client(),
        &token,
        state.data_dir(),
        session.device_id().as_ref(),
        &id,
        &secret,
        KdfParams::default(),
    )
    .await;
    match removed {
        Ok(removed) => {
            rotate_identity(&state, session.clone()).await;
            restart_sync(&state);
            Ok(DeviceRemoval {
                name: removed.name,
                removed: true,
                recovery_key: recovery_key(removed.rotated),
                problem: None,
            })
        }
        Err(RemoveError::NotRevoked {
            name,
            rotated,
            source,
        }) => {
            restart_sync(&state);
            // The window shows a sentence; what failed goes to the log.
            eprintln!("cairn-desktop: the key is rotated, but removing {name} failed: {source:?}");
            Ok(DeviceRemoval {
                problem: Some(format!(
                    "Your notes have their new key, but {name} is not removed yet. Try again to finish removing it."
                )),
                name,
                removed: false,
                recovery_key: recovery_key(rotated),
            })
        }
        Err(e) => {
            eprintln!("cairn-desktop: removing a device: {e:?}");
            Err(AppError::Removal(Box::new(e)))
        }
    }
}

/// Finishes a removal that stopped after the key was rotated: revokes
/// the device, without rotating again.
#[tauri::command]
pub async fn device_remove_resume(state: State<'_, AppState>, id: String) -> AppResult<()> {
    let id = device_id(&id)?;
    let session = state.session()?;
    let token = fresh_token(&session).await?;
    if let Err(e) =
        device_removal::finish_removal(session.client(), &token, state.data_dir(), &id).await
    {
        eprintln!("cairn-desktop: finishing a device's removal: {e:?}");
        return Err(AppError::RemovalUnfinished(Box::new(e)));
    }
    rotate_identity(&state, session.clone()).await;
    restart_sync(&state);
    Ok(())
}
