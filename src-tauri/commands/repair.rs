//! The repair screen's commands: what is damaged, and the repair itself
//! (see `startup.rs`).

use tauri::{AppHandle, State};

use crate::error::AppResult;
use crate::startup::{RepairDone, Startup, StartupProblem};

#[tauri::command]
pub fn startup_problem(startup: State<'_, Startup>) -> AppResult<Option<StartupProblem>> {
    startup.problem()
}

/// Rebuilds the damaged parts and opens the notes; the UI starts afresh.
#[tauri::command]
pub async fn repair_store(app: AppHandle, startup: State<'_, Startup>) -> AppResult<RepairDone> {
    startup.repair(&app).await
}
