//! The settings dialog's commands.

use tauri::State;

use crate::error::AppResult;
use crate::settings::Settings;
use crate::state::AppState;

#[tauri::command]
pub fn settings_get(state: State<'_, AppState>) -> AppResult<Settings> {
    state.settings()
}

/// Saves what the settings dialog edits; what the app keeps there of its
/// own (the sidebar's collapsed notebooks) stays as it is.
#[tauri::command]
pub fn settings_set(state: State<'_, AppState>, settings: Settings) -> AppResult<Settings> {
    let current = state.settings()?;
    state.save_settings(
        Settings {
            collapsed_notebooks: current.collapsed_notebooks,
            ..settings
        }
        .validated()?,
    )
}
