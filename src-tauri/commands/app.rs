//! Facts about this running app the UI shows in settings.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tauri::State;

use crate::state::AppState;

/// When the process started (ms since the epoch): what the start benchmark
/// measures the first screenful of the list from.
static STARTED_MS: OnceLock<i64> = OnceLock::new();

/// When the app's set-up (opening the notes) began and ended, for the
/// start benchmark's breakdown: it runs on the thread that also serves the
/// window its page, so the page waits for it.
static SETUP_MS: OnceLock<(i64, i64)> = OnceLock::new();

/// Notes the process's start; first thing in `main`.
pub fn mark_started() {
    STARTED_MS.get_or_init(now_ms);
}

/// Runs the app's set-up, noting when it began and ended.
pub fn timed_setup<T>(setup: impl FnOnce() -> T) -> T {
    let began = now_ms();
    let out = setup();
    SETUP_MS.get_or_init(|| (began, now_ms()));
    out
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
    /// When the set-up (opening the notes) began and ended, likewise.
    pub setup_began_ms: i64,
    pub setup_ended_ms: i64,
}

#[tauri::command]
pub fn app_info(state: State<'_, AppState>) -> AppInfo {
    AppInfo {
        data_dir: state.data_dir().display().to_string(),
        version: env!("CARGO_PKG_VERSION"),
        started_ms: *STARTED_MS.get_or_init(now_ms),
        setup_began_ms: SETUP_MS.get().map_or(0, |s| s.0),
        setup_ended_ms: SETUP_MS.get().map_or(0, |s| s.1),
    }
}
