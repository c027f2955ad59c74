//! The settings dialog's commands.

use tauri::State;

use crate::appearance::Appearance;
use crate::attachment_limits::AttachmentLimits;
use crate::error::AppResult;
use crate::settings::Settings;
use crate::state::AppState;

#[tauri::command]
pub fn settings_get(state: State<'_, AppState>) -> AppResult<Settings> {
    state.settings()
}

/// Saves the service URL; what the app keeps there of its own (the
/// sidebar's collapsed notebooks, the appearance, the attachment limits)
/// stays as it is.
#[tauri::command]
pub fn settings_set(state: State<'_, AppState>, settings: Settings) -> AppResult<Settings> {
    let current = state.settings()?;
    state.save_settings(
        Settings {
            collapsed_notebooks: current.collapsed_notebooks,
            appearance: current.appearance,
            attachments: current.attachments,
            ..settings
        }
        .validated()?,
    )
}

/// Theme, font size and column widths, as the settings dialog and the
/// column handles change them; the rest of the settings stays.
#[tauri::command]
pub fn appearance_set(state: State<'_, AppState>, appearance: Appearance) -> AppResult<Appearance> {
    let mut settings = state.settings()?;
    settings.appearance = appearance.validated()?;
    Ok(state.save_settings(settings)?.appearance)
}

/// The attachment limits, as the settings dialog changes them; the rest
/// of the settings stays. A new background limit applies from the next
/// round on, so sync restarts with it when it runs.
#[tauri::command]
pub fn attachment_limits_set(
    state: State<'_, AppState>,
    limits: AttachmentLimits,
) -> AppResult<AttachmentLimits> {
    let mut settings = state.settings()?;
    let before = settings.attachments;
    settings.attachments = limits.validated()?;
    let saved = state.save_settings(settings)?.attachments;
    if saved.background_mb != before.background_mb && state.sync().is_running() {
        state.start_sync()?;
    }
    Ok(saved)
}
