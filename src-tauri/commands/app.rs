//! Facts about this running app the UI shows in settings.

use serde::Serialize;
use tauri::State;

use crate::state::AppState;

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct AppInfo {
    pub data_dir: String,
    pub version: &'static str,
}

#[tauri::command]
pub fn app_info(state: State<'_, AppState>) -> AppInfo {
    AppInfo {
        data_dir: state.data_dir().display().to_string(),
        version: env!("CARGO_PKG_VERSION"),
    }
}
