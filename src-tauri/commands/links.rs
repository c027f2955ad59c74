//! Links between notes: a note's outgoing links (which lead somewhere),
//! its backlinks, title completion for `[[`, and following a link.

use cairn_core::{Backlink, Link};
use serde::Serialize;
use tauri::State;

use crate::commands::notes::validate_id;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Completions asked for at once.
const MAX_TITLES: usize = 200;
/// A link's text longer than this is not a title.
const MAX_LINK_TEXT: usize = 1_000;

/// Where following a link led.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Followed {
    pub id: String,
    /// No note had the title, so this one was made.
    pub created: bool,
}

#[tauri::command]
pub async fn note_links(state: State<'_, AppState>, id: String) -> AppResult<Vec<Link>> {
    validate_id(&id)?;
    state.with_store(move |s| Ok(s.links(&id)?)).await
}

#[tauri::command]
pub async fn note_backlinks(state: State<'_, AppState>, id: String) -> AppResult<Vec<Backlink>> {
    validate_id(&id)?;
    state.with_store(move |s| Ok(s.backlinks(&id)?)).await
}

#[tauri::command]
pub async fn titles_starting(
    state: State<'_, AppState>,
    prefix: String,
    limit: usize,
) -> AppResult<Vec<Backlink>> {
    if prefix.len() > MAX_LINK_TEXT {
        return Ok(Vec::new());
    }
    let limit = limit.clamp(1, MAX_TITLES);
    state
        .with_store(move |s| Ok(s.titles_starting(&prefix, limit)?))
        .await
}

#[tauri::command]
pub async fn link_follow(
    state: State<'_, AppState>,
    source: String,
    text: String,
) -> AppResult<Followed> {
    validate_id(&source)?;
    if text.trim().is_empty() || text.len() > MAX_LINK_TEXT {
        return Err(AppError::invalid("link", "names no note"));
    }
    state
        .with_store(move |s| {
            let (id, created) = s.follow_link(&source, &text)?;
            Ok(Followed { id, created })
        })
        .await
}
