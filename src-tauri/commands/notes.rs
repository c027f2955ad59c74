//! Notes: list, search, open, create, edit, tag, pin, trash, delete.

use cairn_core::{EditOutcome, ListQuery, Note, NoteSummary, SearchResults, Splice};
use tauri::State;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Search results beyond this are not useful in a list.
const MAX_SEARCH_RESULTS: usize = 5_000;
/// Rows asked for at once by the list after a burst of changes.
const MAX_ROWS: usize = 10_000;
/// A single edit larger than this is not typing; it is a bug or an attack.
const MAX_INSERT_BYTES: usize = 16 * 1024 * 1024;

/// A note or notebook id from the UI, checked before the store sees it.
pub(crate) fn validate_id(id: &str) -> AppResult<()> {
    cairn_core::validate_note_id(id).map_err(AppError::from)
}

/// At most `max` ids, each a valid one.
pub(crate) fn validate_ids(ids: &[String], max: usize) -> AppResult<()> {
    if ids.len() > max {
        return Err(AppError::invalid("ids", format!("{} at once", ids.len())));
    }
    ids.iter().try_for_each(|id| validate_id(id))
}

#[tauri::command]
pub async fn notes_list(
    state: State<'_, AppState>,
    trashed: bool,
    tag: Option<String>,
    // The first rows only (a start shows its first screenful before it
    // reads the rest); every row when absent.
    limit: Option<usize>,
) -> AppResult<Vec<NoteSummary>> {
    let query = ListQuery {
        tag: tag.filter(|t| !t.is_empty()),
        trashed,
        limit,
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
    trashed: bool,
    limit: usize,
) -> AppResult<SearchResults> {
    let limit = limit.clamp(1, MAX_SEARCH_RESULTS);
    state
        .with_store(move |s| {
            s.search_notes(&query, trashed, limit)
                .map_err(AppError::from)
        })
        .await
}

#[tauri::command]
pub async fn note_get(state: State<'_, AppState>, id: String) -> AppResult<Note> {
    validate_id(&id)?;
    state
        .with_store(move |s| s.get(&id).map_err(AppError::from))
        .await
}

/// A new note, in `notebook` when one is given (the sidebar's current one).
#[tauri::command]
pub async fn note_create(
    state: State<'_, AppState>,
    body: String,
    notebook: Option<String>,
) -> AppResult<Note> {
    if body.len() > MAX_INSERT_BYTES {
        return Err(AppError::invalid("note", "body too large"));
    }
    if let Some(nb) = &notebook {
        validate_id(nb)?;
    }
    state
        .with_store(move |s| {
            let id = s.create_note(&body)?;
            if let Some(nb) = &notebook {
                s.move_note(&id, Some(nb))?;
            }
            Ok(s.get(&id)?)
        })
        .await
}

/// Applies the editor's edits, made on its text at `heads`, as one durable
/// change placed at those heads (so a peer's change merged meanwhile does
/// not move them). With no splices it only reports what changed since
/// `heads`. Either way the answer brings the editor up to date.
#[tauri::command]
pub async fn note_edit(
    state: State<'_, AppState>,
    id: String,
    heads: Vec<String>,
    splices: Vec<Splice>,
) -> AppResult<EditOutcome> {
    validate_id(&id)?;
    let inserted: usize = splices.iter().map(|sp| sp.insert.len()).sum();
    if inserted > MAX_INSERT_BYTES {
        return Err(AppError::invalid("edit", "insert too large"));
    }
    state
        .with_store(move |s| Ok(s.edit_at(&id, &heads, &splices)?))
        .await
}

/// The list rows of these notes as they are now; a note that is gone (or
/// deleted) is simply not in the answer.
#[tauri::command]
pub async fn notes_summaries(
    state: State<'_, AppState>,
    ids: Vec<String>,
) -> AppResult<Vec<NoteSummary>> {
    validate_ids(&ids, MAX_ROWS)?;
    state.with_store(move |s| Ok(s.summaries(&ids)?)).await
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
            s.refuse_if_trashed(&id)?;
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
            s.refuse_if_trashed(&id)?;
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

/// Deletes the note if nothing was ever put into it (a new note left as
/// it was); returns whether it went.
#[tauri::command]
pub async fn note_discard_if_blank(state: State<'_, AppState>, id: String) -> AppResult<bool> {
    validate_id(&id)?;
    state
        .with_store(move |s| s.discard_if_blank(&id).map_err(AppError::from))
        .await
}

/// Deletes every note in the trash; returns how many.
#[tauri::command]
pub async fn notes_empty_trash(state: State<'_, AppState>) -> AppResult<usize> {
    state
        .with_store(|s| s.empty_trash().map_err(AppError::from))
        .await
}
