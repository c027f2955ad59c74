//! Notes: list, search, open, create, edit, tag, pin, trash, delete.

use cairn_core::{ListQuery, Note, NoteSummary};
use serde::Deserialize;
use tauri::State;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Search results beyond this are not useful in a list.
const MAX_SEARCH_RESULTS: usize = 5_000;
/// A single edit larger than this is not typing; it is a bug or an attack.
const MAX_INSERT_BYTES: usize = 16 * 1024 * 1024;

/// One editor edit, in UTF-16 code units.
#[derive(Debug, Clone, Deserialize)]
pub struct Splice {
    pub index: usize,
    pub delete: usize,
    pub insert: String,
}

fn validate_id(id: &str) -> AppResult<()> {
    cairn_core::validate_note_id(id).map_err(AppError::from)
}

#[tauri::command]
pub async fn notes_list(
    state: State<'_, AppState>,
    trashed: bool,
    tag: Option<String>,
) -> AppResult<Vec<NoteSummary>> {
    let query = ListQuery {
        tag: tag.filter(|t| !t.is_empty()),
        trashed,
        limit: None,
        offset: 0,
    };
    state
        .with_store(move |s| s.list(&query).map_err(AppError::from))
        .await
}

#[tauri::command]
pub async fn notes_search(
    state: State<'_, AppState>,
    query: String,
    limit: usize,
) -> AppResult<Vec<NoteSummary>> {
    let limit = limit.clamp(1, MAX_SEARCH_RESULTS);
    state
        .with_store(move |s| s.search(&query, limit).map_err(AppError::from))
        .await
}

#[tauri::command]
pub async fn note_get(state: State<'_, AppState>, id: String) -> AppResult<Note> {
    validate_id(&id)?;
    state
        .with_store(move |s| s.get(&id).map_err(AppError::from))
        .await
}

#[tauri::command]
pub async fn note_create(state: State<'_, AppState>, body: String) -> AppResult<Note> {
    if body.len() > MAX_INSERT_BYTES {
        return Err(AppError::invalid("note", "body too large"));
    }
    state
        .with_store(move |s| {
            let id = s.create_note(&body)?;
            Ok(s.get(&id)?)
        })
        .await
}

/// Applies the editor's edits in order, each one a durable change, so an
/// acknowledged keystroke survives a crash.
#[tauri::command]
pub async fn note_edit(
    state: State<'_, AppState>,
    id: String,
    splices: Vec<Splice>,
) -> AppResult<()> {
    validate_id(&id)?;
    let mut deletes = Vec::with_capacity(splices.len());
    for sp in &splices {
        if sp.insert.len() > MAX_INSERT_BYTES {
            return Err(AppError::invalid("edit", "insert too large"));
        }
        let delete = isize::try_from(sp.delete)
            .map_err(|_| AppError::invalid("edit", format!("delete count {}", sp.delete)))?;
        deletes.push(delete);
    }
    state
        .with_store(move |s| {
            for (sp, delete) in splices.iter().zip(deletes) {
                s.splice(&id, sp.index, delete, &sp.insert)?;
            }
            Ok(())
        })
        .await
}

#[tauri::command]
pub async fn note_tag(
    state: State<'_, AppState>,
    id: String,
    add: Vec<String>,
    remove: Vec<String>,
) -> AppResult<Note> {
    validate_id(&id)?;
    state
        .with_store(move |s| {
            s.tag(&id, &add, &remove)?;
            Ok(s.get(&id)?)
        })
        .await
}

#[tauri::command]
pub async fn note_set_pinned(
    state: State<'_, AppState>,
    id: String,
    pinned: bool,
) -> AppResult<Note> {
    validate_id(&id)?;
    state
        .with_store(move |s| {
            s.set_pinned(&id, pinned)?;
            Ok(s.get(&id)?)
        })
        .await
}

#[tauri::command]
pub async fn note_trash(state: State<'_, AppState>, id: String) -> AppResult<Note> {
    validate_id(&id)?;
    state
        .with_store(move |s| {
            s.trash(&id)?;
            Ok(s.get(&id)?)
        })
        .await
}

#[tauri::command]
pub async fn note_restore(state: State<'_, AppState>, id: String) -> AppResult<Note> {
    validate_id(&id)?;
    state
        .with_store(move |s| {
            s.restore(&id)?;
            Ok(s.get(&id)?)
        })
        .await
}

#[tauri::command]
pub async fn note_delete(state: State<'_, AppState>, id: String) -> AppResult<()> {
    validate_id(&id)?;
    state
        .with_store(move |s| {
            s.delete(&id)?;
            Ok(())
        })
        .await
}
