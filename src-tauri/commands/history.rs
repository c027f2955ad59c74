//! A note's history: its versions, the note as it was at one, and restoring
//! one as a new change.

use cairn_core::{DiffRun, EditSession, Note};
use serde::Serialize;
use tauri::State;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

fn validate(id: &str, version: Option<&str>) -> AppResult<()> {
    cairn_core::validate_note_id(id)?;
    if let Some(v) = version {
        // Versions are Automerge change hashes: 32 bytes, hex.
        if v.len() != 64 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AppError::invalid(
                "version",
                format!("{v:?} is not a change hash"),
            ));
        }
    }
    Ok(())
}

/// A past state of a note as the history view shows it. (`NoteState` is
/// not serde-ready in the core; this copies the fields the view uses.)
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct PastNote {
    pub body: String,
    pub tags: Vec<String>,
    pub pinned: bool,
    pub trashed: bool,
    pub modified_ms: i64,
}

#[tauri::command]
pub async fn note_history(state: State<'_, AppState>, id: String) -> AppResult<Vec<EditSession>> {
    validate(&id, None)?;
    state
        .with_store(move |s| s.edit_sessions(&id).map_err(AppError::from))
        .await
}

/// The note at `version` against the note now, for highlighting.
#[tauri::command]
pub async fn note_compare(
    state: State<'_, AppState>,
    id: String,
    version: String,
) -> AppResult<Vec<DiffRun>> {
    validate(&id, Some(&version))?;
    state
        .with_store(move |s| {
            s.compare_with_current(&id, &version)
                .map_err(AppError::from)
        })
        .await
}

#[tauri::command]
pub async fn note_at(
    state: State<'_, AppState>,
    id: String,
    version: String,
) -> AppResult<PastNote> {
    validate(&id, Some(&version))?;
    state
        .with_store(move |s| {
            let past = s.note_at(&id, &version)?;
            Ok(PastNote {
                body: past.body,
                tags: past.tags,
                pinned: past.pinned,
                trashed: past.trashed,
                modified_ms: past.modified_ms,
            })
        })
        .await
}

#[tauri::command]
pub async fn note_restore_version(
    state: State<'_, AppState>,
    id: String,
    version: String,
) -> AppResult<Note> {
    validate(&id, Some(&version))?;
    state
        .with_store(move |s| {
            s.restore_version(&id, &version)?;
            Ok(s.get(&id)?)
        })
        .await
}
