//! Notebooks: the sidebar's tree, creating, renaming, moving and deleting
//! notebooks, moving notes between them, and which ones the sidebar shows
//! collapsed.

use cairn_core::{Note, NoteSummary, Notebook, Place};
use serde::Serialize;
use tauri::State;

use crate::commands::notes::{validate_id, validate_ids};
use crate::commands::sharing::{Member, ShareRole};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use cairn_core::space::local::Standing;

/// Note ids asked about at once (the rows of a search).
const MAX_IDS: usize = 10_000;

/// The sidebar's tree: every live notebook in tree order, with counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct NotebookTree {
    pub notebooks: Vec<Notebook>,
    /// Live notes in no notebook.
    pub unfiled: usize,
    /// The notebooks shared with others, or once shared with this account.
    pub shared: Vec<SharedNotebook>,
}

/// A shared notebook, as the sidebar marks it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SharedNotebook {
    pub notebook: String,
    /// This account's role in it.
    pub role: ShareRole,
    /// False once this account was removed or left: the copy here stays,
    /// nothing more comes or goes.
    pub shared: bool,
    pub owner: String,
    pub members: Vec<Member>,
}

/// The notebook a note is in; None: Unfiled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct NotePlace {
    pub id: String,
    pub notebook: Option<String>,
}

fn validate_opt(id: &Option<String>) -> AppResult<()> {
    id.as_deref().map_or(Ok(()), validate_id)
}

#[tauri::command]
pub async fn notebooks_tree(state: State<'_, AppState>) -> AppResult<NotebookTree> {
    state
        .with_store(|s| {
            let shared = cairn_client::shared_notebooks::shared_notebooks(s)
                .map_err(|e| AppError::Share(Box::new(e)))?
                .into_iter()
                .map(|n| SharedNotebook {
                    notebook: n.notebook,
                    role: n.role.into(),
                    shared: n.standing == Standing::Member,
                    owner: n.owner.to_string(),
                    members: n.members.into_iter().map(Member::from).collect(),
                })
                .collect();
            Ok(NotebookTree {
                notebooks: s.notebooks()?,
                unfiled: s.unfiled_count()?,
                shared,
            })
        })
        .await
}

#[tauri::command]
pub async fn notes_in_notebook(
    state: State<'_, AppState>,
    notebook: Option<String>,
    recursive: bool,
) -> AppResult<Vec<NoteSummary>> {
    validate_opt(&notebook)?;
    let place = notebook.map_or(Place::Unfiled, Place::Notebook);
    state
        .with_store(move |s| Ok(s.list_place(&place, recursive)?))
        .await
}

#[tauri::command]
pub async fn notebook_create(
    state: State<'_, AppState>,
    name: String,
    parent: Option<String>,
) -> AppResult<String> {
    validate_opt(&parent)?;
    state
        .with_store(move |s| Ok(s.create_notebook(&name, parent.as_deref())?))
        .await
}

#[tauri::command]
pub async fn notebook_rename(
    state: State<'_, AppState>,
    id: String,
    name: String,
) -> AppResult<()> {
    validate_id(&id)?;
    state
        .with_store(move |s| {
            s.rename_notebook(&id, &name)?;
            Ok(())
        })
        .await
}

#[tauri::command]
pub async fn notebook_move(
    state: State<'_, AppState>,
    id: String,
    parent: Option<String>,
) -> AppResult<()> {
    validate_id(&id)?;
    validate_opt(&parent)?;
    state
        .with_store(move |s| {
            s.move_notebook(&id, parent.as_deref())?;
            Ok(())
        })
        .await
}

/// Deletes the notebook and those under it; their notes go to the trash.
/// Answers how many notes did.
#[tauri::command]
pub async fn notebook_delete(state: State<'_, AppState>, id: String) -> AppResult<usize> {
    validate_id(&id)?;
    state.with_store(move |s| Ok(s.delete_notebook(&id)?)).await
}

#[tauri::command]
pub async fn note_move(
    state: State<'_, AppState>,
    id: String,
    notebook: Option<String>,
) -> AppResult<Note> {
    validate_id(&id)?;
    validate_opt(&notebook)?;
    state
        .with_store(move |s| {
            s.move_note(&id, notebook.as_deref())?;
            Ok(s.get(&id)?)
        })
        .await
}

#[tauri::command]
pub async fn note_places(
    state: State<'_, AppState>,
    ids: Vec<String>,
) -> AppResult<Vec<NotePlace>> {
    validate_ids(&ids, MAX_IDS)?;
    state
        .with_store(move |s| {
            Ok(s.places(&ids)?
                .into_iter()
                .map(|(id, notebook)| NotePlace { id, notebook })
                .collect())
        })
        .await
}

#[tauri::command]
pub fn notebooks_collapsed(state: State<'_, AppState>) -> AppResult<Vec<String>> {
    Ok(state.settings()?.collapsed_notebooks)
}

#[tauri::command]
pub fn notebooks_set_collapsed(state: State<'_, AppState>, ids: Vec<String>) -> AppResult<()> {
    validate_ids(&ids, MAX_IDS)?;
    let mut settings = state.settings()?;
    settings.collapsed_notebooks = ids;
    state.save_settings(settings)?;
    Ok(())
}
