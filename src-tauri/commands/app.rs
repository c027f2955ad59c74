//! Facts about this running app the UI shows in settings.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tauri::State;

use crate::state::AppState;

/// When the process started (ms since the epoch): what the start benchmark
/// measures the first screenful of the list from.
static STARTED_MS: OnceLock<i64> = OnceLock::new();

/// Notes the process's start; first thing in `main`.
pub fn mark_started() {
    STARTED_MS.get_or_init(now_ms);
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct AppInfo {
    pub data_dir: String,
    pub version: &'static str,
    /// When this process started, ms since the epoch (wall clock).
    pub started_ms: i64,
}

#[tauri::command]
pub fn app_info(state: State<'_, AppState>) -> AppInfo {
    AppInfo {
        data_dir: state.data_dir().display().to_string(),
        version: env!("CARGO_PKG_VERSION"),
        started_ms: *STARTED_MS.get_or_init(now_ms),
    }
}
