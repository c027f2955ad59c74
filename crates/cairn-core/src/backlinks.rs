//! Links between notes as the store keeps them: the derived `link` and
//! `note_place` rows of each note (rewritten in the transaction of every
//! edit and merge of that note), outgoing links, backlinks, resolving a
//! link's text to a note, following a link, and creating many notes at
//! once with their links (an import).
//!
//! A link's target is the id in the linking note's `links` map when there
//! is one. A link without one (typed before its target existed, or merged
//! from a device that had no such note) is resolved when read: to the
//! live note with that title, the oldest first, ties by id. That depends
//! only on the notes a device has, so a note that takes the title later,
//! here or on another device, is found by every unresolved link to it with
//! no write at all; the id is written into the linking note's document at
//! its next local edit, and from then on survives renames.

use std::collections::{BTreeMap, HashSet};

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::links::{self, fold, LinkKind};
use crate::model::{EventKind, NewNote, StoreEvent};
use crate::note_doc::{Flag, NoteDoc, NoteState};
use crate::origin::Origin;
use crate::store::{exec, sql_err, validate_note_id, validate_tag, Store};

/// An outgoing link of a note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Link {
    /// The link's target as typed.
    pub text: String,
    /// The note it leads to; None when no note has that title (following
    /// it creates one).
    pub target_id: Option<String>,
    pub target_title: Option<String>,
}

/// A note linking to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Backlink {
    pub id: String,
    pub title: String,
}

/// A note to create with its place and links (an import).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportNote {
    /// Chosen up front so other notes' links can name it.
    pub id: Option<String>,
    pub note: NewNote,
    pub notebook: Option<String>,
    /// Link text -> target note id.
    pub links: BTreeMap<String, String>,
}

/// Rewrites a note's `note_place` and `link` rows (inside the transaction
/// that stores its change; the `notes` row exists unless it is deleted).
pub(crate) fn write_note_links(
    tx: &Connection,
    id: &str,
    s: &NoteState,
    path: &std::path::Path,
    fresh: bool,
) -> Result<()> {
    let e = sql_err("updating links", path);
    if s.deleted {
        // The `notes` row is gone and its rows with it (ON DELETE CASCADE).
        return Ok(());
    }
    if !fresh {
        exec(tx, "DELETE FROM note_place WHERE note_id = ?1", [id]).map_err(&e)?;
        exec(tx, "DELETE FROM link WHERE source_id = ?1", [id]).map_err(&e)?;
    }
    if let Some(nb) = &s.notebook {
        exec(
            tx,
            "INSERT INTO note_place(note_id, notebook) VALUES (?1, ?2)",
            params![id, nb],
        )
        .map_err(&e)?;
    }
    let mut seen = HashSet::new();
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO link(source_id, text, target_id, target_key, ord) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(&e)?;
    for l in links::parse(&s.body) {
        if !seen.insert(l.text.clone()) {
            continue;
        }
        let target = s.links.get(&l.text);
        let ord = seen.len() as i64 - 1;
        stmt.execute(params![id, l.text, target, fold(&l.title()), ord])
            .map_err(&e)?;
    }
    Ok(())
}

impl Store {
    /// The live note a link's title leads to, if any: exact title ignoring
    /// ASCII case, the oldest note first, ties by id.
    pub fn resolve_title(&self, title: &str) -> Result<Option<String>> {
        let title = title.trim();
        if title.is_empty() {
            return Ok(None);
        }
        self.conn
            .prepare_cached(
                "SELECT id FROM notes WHERE title = ?1 COLLATE NOCASE AND trashed = 0
                 ORDER BY title COLLATE NOCASE, created, id LIMIT 1",
            )
            .and_then(|mut s| s.query_row([title], |r| r.get(0)).optional())
            .map_err(sql_err("resolving a link", &self.path))
    }

    /// Where a link text typed in the editor leads (the `[[` completion
    /// and Ctrl+click use it): a wikilink target or a relative `.md` path.
    pub fn resolve_link_text(&self, text: &str) -> Result<Option<String>> {
        let kind = if text.ends_with(".md") {
            LinkKind::Markdown
        } else {
            LinkKind::Wiki
        };
        match self.resolve_title(text)? {
            Some(id) => Ok(Some(id)),
            None => self.resolve_title(&links::title_for(text, kind)),
        }
    }

    /// Live notes whose title starts with `prefix` (ignoring ASCII case),
    /// for completing `[[`.
    pub fn titles_starting(&self, prefix: &str, limit: usize) -> Result<Vec<Backlink>> {
        let escaped = prefix
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, title FROM notes WHERE trashed = 0 AND title LIKE ?1 ESCAPE '\\'
                 ORDER BY title COLLATE NOCASE, created, id LIMIT ?2",
            )
            .map_err(sql_err("completing a title", &self.path))?;
        let rows = stmt
            .query_map(params![format!("{escaped}%"), limit as i64], |r| {
                Ok(Backlink {
                    id: r.get(0)?,
                    title: r.get(1)?,
                })
            })
            .and_then(|r| r.collect())
            .map_err(sql_err("completing a title", &self.path))?;
        Ok(rows)
    }

    /// The links in a note's body, in order of first appearance.
    pub fn links(&self, note_id: &str) -> Result<Vec<Link>> {
        self.require_live_row(note_id)?;
        let rows: Vec<(String, Option<String>, String)> = {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT l.text, t.id, l.target_key FROM link l
                     LEFT JOIN notes t ON t.id = l.target_id
                     WHERE l.source_id = ?1 ORDER BY l.ord",
                )
                .map_err(sql_err("reading links", &self.path))?;
            stmt.query_map([note_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .and_then(|r| r.collect())
                .map_err(sql_err("reading links", &self.path))?
        };
        let mut out = Vec::with_capacity(rows.len());
        for (text, stored, key) in rows {
            let target = match stored {
                Some(t) => Some(t),
                None => self.resolve_title(&key)?,
            };
            let title = match &target {
                Some(t) => self.title_of_row(t)?,
                None => None,
            };
            out.push(Link {
                text,
                target_id: target,
                target_title: title,
            });
        }
        Ok(out)
    }

    /// The live notes that link to this one, by title: links that store
    /// its id, and unresolved links whose title resolves to it.
    pub fn backlinks(&self, note_id: &str) -> Result<Vec<Backlink>> {
        let title = self
            .title_of_row(note_id)?
            .ok_or_else(|| CoreError::NoteNotFound {
                id: note_id.to_string(),
            })?;
        let by_title = self.resolve_title(&title)?.as_deref() == Some(note_id);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT n.id, n.title FROM link l JOIN notes n ON n.id = l.source_id
                   WHERE l.target_id = ?1 AND n.trashed = 0 AND n.id <> ?1
                 UNION
                 SELECT n.id, n.title FROM link l JOIN notes n ON n.id = l.source_id
                   WHERE ?3 AND l.target_id IS NULL AND l.target_key = ?2
                     AND n.trashed = 0 AND n.id <> ?1
                 ORDER BY 2, 1",
            )
            .map_err(sql_err("reading backlinks", &self.path))?;
        let rows = stmt
            .query_map(params![note_id, fold(&title), by_title], |r| {
                Ok(Backlink {
                    id: r.get(0)?,
                    title: r.get(1)?,
                })
            })
            .and_then(|r| r.collect())
            .map_err(sql_err("reading backlinks", &self.path))?;
        Ok(rows)
    }

    fn title_of_row(&self, id: &str) -> Result<Option<String>> {
        self.conn
            .prepare_cached("SELECT title FROM notes WHERE id = ?1")
            .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
            .map_err(sql_err("reading a title", &self.path))
    }

    fn require_live_row(&self, id: &str) -> Result<()> {
        match self.title_of_row(id)? {
            Some(_) => Ok(()),
            None => Err(CoreError::NoteNotFound { id: id.to_string() }),
        }
    }

    /// Follows link `text` of note `source`: to its target, or to the note
    /// its title resolves to, or else to a new note of that title, made in
    /// the source's notebook. The target's id is stored in the source's
    /// document. Returns (target id, whether it was created).
    pub fn follow_link(&mut self, source: &str, text: &str) -> Result<(String, bool)> {
        let state = self.doc_mut(source)?.state(None)?;
        if state.deleted {
            return Err(CoreError::NoteDeleted {
                id: source.to_string(),
            });
        }
        if let Some(t) = state.links.get(text) {
            if self.title_of_row(t)?.is_some() {
                return Ok((t.clone(), false));
            }
        }
        let kind = links::parse(&state.body)
            .into_iter()
            .find(|l| l.text == text)
            .map(|l| l.kind)
            .unwrap_or(LinkKind::Wiki);
        let title = links::title_for(text, kind);
        let (target, created) = match self.resolve_title(&title)? {
            Some(t) => (t, false),
            None => {
                if title.is_empty() {
                    return Err(CoreError::Invalid {
                        what: "link",
                        reason: format!("{text:?} names no note"),
                    });
                }
                let id = self.create_note(&format!("# {title}\n"))?;
                let place = state.notebook.as_deref();
                if let Some(nb) = place {
                    if self.notebook(nb).is_ok() {
                        self.move_note(&id, Some(nb))?;
                    }
                }
                (id, true)
            }
        };
        self.edit(source, |d| d.set_link(text, &target))?;
        Ok((target, created))
    }

    /// Stages the ids of the link texts in the note's body that its
    /// document does not map yet, found by title (part of every local
    /// edit, before it is committed).
    ///
    /// Entries whose text left the body are kept: a link half-erased while
    /// being edited and typed again still leads where it did, even if its
    /// target was renamed since. The derived rows follow the body only.
    pub(crate) fn stage_links(&mut self, id: &str) -> Result<()> {
        if crate::reserved_doc::is_reserved(id) {
            return Ok(());
        }
        let (body, map) = {
            let doc = self.doc_mut(id)?;
            (doc.body()?, doc.link_map()?)
        };
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        for l in links::parse(&body) {
            if map.contains_key(&l.text) || !seen.insert(l.text.clone()) {
                continue;
            }
            if let Some(target) = self.resolve_title(&l.title())? {
                found.push((l.text, target));
            }
        }
        if found.is_empty() {
            return Ok(());
        }
        let doc = self.doc_mut(id)?;
        for (text, target) in &found {
            doc.set_link(text, target)?;
        }
        Ok(())
    }

    /// Creates many notes in one transaction, each with its notebook and
    /// links (an import). All are stored, or none. The documents are made
    /// on worker threads (that is most of the cost) while this thread
    /// writes those already made (`bulk.rs`).
    pub fn create_notes(&mut self, notes: Vec<ImportNote>) -> Result<Vec<String>> {
        let now = self.clock.now_ms();
        let actor = self.actor.clone();
        // Ids are chosen up front, so a failed transaction can name them.
        let ids: Vec<String> = notes
            .iter()
            .map(|n| match &n.id {
                Some(id) => validate_note_id(id).map(|()| id.clone()),
                None => Ok(uuid::Uuid::new_v4().to_string()),
            })
            .collect::<Result<_>>()?;
        let items: Vec<(&String, &ImportNote)> = ids.iter().zip(&notes).collect();
        let touched: Vec<&str> = ids.iter().map(String::as_str).collect();
        crate::bulk::pipeline(
            &items,
            |(id, n)| prepare(id, n, &actor, now),
            |made| {
                self.in_tx(&touched, |s| {
                    let mut fts = crate::store::SearchRows::default();
                    for id in &ids {
                        let (snapshot, state) = made.next()?;
                        if s.doc_exists(id)? {
                            return Err(CoreError::Invalid {
                                what: "note id",
                                reason: format!("a note with id {id} exists already"),
                            });
                        }
                        s.insert_doc_deferred(id, &snapshot, &state, Origin::Local, &mut fts)?;
                        s.events.push(StoreEvent {
                            note_id: id.clone(),
                            origin: Origin::Local,
                            kind: EventKind::Created,
                        });
                    }
                    fts.finish(&s.conn, &s.path)
                })
            },
        )?;
        Ok(ids)
    }
}

/// One new note's document, snapshot and state.
fn prepare(id: &str, n: &ImportNote, actor: &[u8], now: i64) -> Result<(Vec<u8>, NoteState)> {
    let new = &n.note;
    let created = new.created_ms.unwrap_or(now);
    let mut doc = NoteDoc::create_staged(id, actor, &new.body, created)?;
    for t in &new.tags {
        doc.add_tag(&validate_tag(t)?)?;
    }
    if new.pinned {
        doc.set_flag(Flag::Pinned, true)?;
    }
    if new.trashed {
        doc.set_flag(Flag::Trashed, true)?;
    }
    doc.set_notebook(n.notebook.as_deref())?;
    for (text, target) in &n.links {
        doc.set_link(text, target)?;
    }
    // One change, stamped with the note's last modification: the import
    // knows only the note's final text, so that is the one version it has.
    let modified = new.modified_ms.unwrap_or(created);
    doc.commit_local(modified)?;
    let snapshot = doc.save();
    let state = doc.state_of_new(new.body.clone())?;
    Ok((snapshot, state))
}
