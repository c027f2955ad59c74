//! Opening the notes when the app starts, and what the window shows when
//! they cannot be opened because the database is damaged: the notes are
//! not shown (writing on a broken page spreads the damage), the window says
//! which part is damaged, and a button rebuilds it from the notes' own
//! documents, losing nothing (`Store::repair`, as `cairn repair` does).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cairn_core::{CoreError, Store};
use serde::Serialize;
use tauri::{AppHandle, Manager};

use crate::error::{AppError, AppResult};
use crate::events;
use crate::state::AppState;

/// Why the notes did not open, as the repair screen shows it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct StartupProblem {
    /// The damaged parts, in words ("the search index").
    pub parts: Vec<String>,
    /// Every damaged part can be rebuilt from the notes.
    pub repairable: bool,
    /// The error as it came, for "Details" (a local path, nothing secret).
    pub detail: String,
}

/// What a repair did, for the sentence after it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct RepairDone {
    pub notes_rebuilt: usize,
    /// Where the damaged file was kept.
    pub damaged_copy: String,
}

/// Managed from the start, whether or not the notes opened.
pub struct Startup {
    dir: PathBuf,
    problem: Mutex<Option<StartupProblem>>,
}

/// Opens the store in `dir` and hands it to the commands. A damaged store
/// leaves the app running with the repair screen; any other failure to
/// open (a store from a newer Cairn, say) is returned and ends the app.
pub fn open(app: &AppHandle, dir: &Path) -> AppResult<()> {
    let problem = match open_state(app, dir) {
        Ok(()) => None,
        Err(AppError::Core(e)) => match *e {
            CoreError::Damaged {
                ref parts,
                repairable,
                ..
            } => {
                eprintln!("cairn-desktop: {e}");
                Some(StartupProblem {
                    parts: parts.clone(),
                    repairable,
                    detail: e.to_string(),
                })
            }
            _ => return Err(AppError::Core(e)),
        },
        Err(e) => return Err(e),
    };
    app.manage(Startup {
        dir: dir.to_path_buf(),
        problem: Mutex::new(problem),
    });
    Ok(())
}

fn open_state(app: &AppHandle, dir: &Path) -> AppResult<()> {
    crate::commands::attachments::forget_opened_copies(dir);
    let notifier = events::spawn_batcher(app.clone());
    let state = AppState::open(dir, notifier, app.clone())?;
    // Signed in on an earlier run: sync again. Not being able to
    // (no content key, a damaged session, a keychain that cannot be
    // read) shows in the indicator; the notes still open.
    if !matches!(cairn_client::default_credential_store(dir).load(), Ok(None)) {
        if let Err(e) = state.start_sync() {
            eprintln!("cairn-desktop: sync not started: {e}");
        }
    }
    app.manage(state);
    Ok(())
}

impl Startup {
    /// What stopped the notes from opening; `None` once they are open.
    pub fn problem(&self) -> AppResult<Option<StartupProblem>> {
        Ok(self
            .problem
            .lock()
            .map_err(|_| AppError::StorePoisoned)?
            .clone())
    }

    /// Rebuilds the damaged parts, then opens the notes.
    pub async fn repair(&self, app: &AppHandle) -> AppResult<RepairDone> {
        let dir = self.dir.clone();
        let report = tauri::async_runtime::spawn_blocking({
            let dir = dir.clone();
            move || Store::repair(&dir)
        })
        .await
        .map_err(|e| AppError::Task(e.to_string()))??;
        eprintln!(
            "cairn-desktop: repaired {}; the damaged file is kept at {}",
            dir.display(),
            report.damaged_copy.display()
        );
        open_state(app, &dir)?;
        *self.problem.lock().map_err(|_| AppError::StorePoisoned)? = None;
        Ok(RepairDone {
            notes_rebuilt: report.notes_rebuilt,
            damaged_copy: report.damaged_copy.display().to_string(),
        })
    }
}
