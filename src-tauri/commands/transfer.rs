//! Import… and Export…: a folder picked in the system's dialog, then the
//! core's import or export, with `transfer-progress` events for the
//! progress bar and a report at the end.

use std::path::PathBuf;

use cairn_core::export::ExportReport;
use cairn_core::import::{self, ImportProgress};
use serde::Serialize;
use tauri::{AppHandle, Emitter, State};
use tauri_plugin_dialog::DialogExt;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub const TRANSFER_PROGRESS: &str = "transfer-progress";
/// Things not imported listed at most in the report (the rest are counted).
const MAX_LISTED: usize = 200;

/// Something in the folder that was not imported, or imported changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct TransferNote {
    pub path: String,
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ImportReport {
    pub notes: usize,
    pub notebooks: usize,
    pub links: usize,
    /// Links that name no file of the folder (kept, as links to notes not written yet).
    pub unresolved: usize,
    pub skipped: Vec<TransferNote>,
    pub skipped_total: usize,
    pub warnings: Vec<TransferNote>,
    pub warnings_total: usize,
}

/// Asks for a folder in the system's dialog; None when the user cancels.
#[tauri::command]
pub async fn pick_folder(app: AppHandle, title: String) -> AppResult<Option<String>> {
    tauri::async_runtime::spawn_blocking(move || {
        app.dialog()
            .file()
            .set_title(title)
            .blocking_pick_folder()
            .and_then(|p| p.into_path().ok())
            .map(|p| p.display().to_string())
    })
    .await
    .map_err(|e| AppError::Task(e.to_string()))
}

/// A progress bar that misses a step is still right at the end, so a
/// failed emit is only logged.
fn progress<P: Serialize + Clone>(app: &AppHandle, p: P) {
    if let Err(e) = app.emit(TRANSFER_PROGRESS, p) {
        eprintln!("cairn-desktop: could not emit {TRANSFER_PROGRESS}: {e}");
    }
}

fn listed(items: &[import::Skipped]) -> Vec<TransferNote> {
    items
        .iter()
        .take(MAX_LISTED)
        .map(|s| TransferNote {
            path: s.path.clone(),
            reason: s.reason.clone(),
        })
        .collect()
}

#[tauri::command]
pub async fn import_folder(
    app: AppHandle,
    state: State<'_, AppState>,
    dir: String,
) -> AppResult<ImportReport> {
    let dir = PathBuf::from(dir);
    state
        .with_store(move |s| {
            let mut plan = import::plan_with_progress(&dir, Some(s), &mut |p| progress(&app, p))?;
            progress(
                &app,
                ImportProgress::Writing {
                    notes: plan.notes(),
                },
            );
            let notebooks = plan.notebooks();
            let notes = import::apply(s, &mut plan)?;
            Ok(ImportReport {
                notes,
                notebooks,
                links: plan.links,
                unresolved: plan.unresolved.len(),
                skipped: listed(&plan.skipped),
                skipped_total: plan.skipped.len(),
                warnings: listed(&plan.warnings),
                warnings_total: plan.warnings.len(),
            })
        })
        .await
}

/// How far an export has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ExportProgress {
    pub done: usize,
    pub total: usize,
}

#[tauri::command]
pub async fn export_folder(
    app: AppHandle,
    state: State<'_, AppState>,
    dir: String,
) -> AppResult<ExportReport> {
    let dir = PathBuf::from(dir);
    state
        .with_store(move |s| {
            Ok(cairn_core::export::export(s, &dir, &mut |done, total| {
                progress(&app, ExportProgress { done, total })
            })?)
        })
        .await
}
