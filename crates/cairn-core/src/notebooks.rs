//! Notebooks as the store shows and changes them: the tree with note
//! counts, creating, renaming, moving and deleting notebooks, and moving
//! notes between them.
//!
//! Every change to the tree is one Automerge change to the tree document
//! (see `notebook_doc.rs`), stored with its derived `notebook` rows in one
//! transaction, exactly as a note edit is. Which notebook a note is in is
//! a field of the note's own document, so moving a note is a note edit and
//! a move on one device merges with edits of the note on another.
//!
//! How places are shown, on every device alike:
//! - a notebook whose parent is missing or deleted is at the top level, and
//!   of a loop made by concurrent moves, its smallest id is (see
//!   `notebook_doc::resolve`);
//! - a note whose notebook is missing or deleted is in Unfiled.
//!
//! Deleting a notebook deletes its sub-notebooks and moves every note in
//! them to the trash; the notes keep naming their notebook, so restoring
//! one from the trash brings its notebook (and the notebooks above it)
//! back, and the note is where it was.

use std::collections::{BTreeMap, HashMap, HashSet};

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::model::NoteSummary;
use crate::note_doc::Flag;
use crate::notebook_doc::{self, NotebookEntry, NOTEBOOKS_DOC_ID};
use crate::origin::Origin;
use crate::space::tree_store::Home;
use crate::store::{sql_err, Store};

/// A notebook as the sidebar shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Notebook {
    pub id: String,
    pub name: String,
    /// The parent it is shown under; None at the top level.
    pub parent: Option<String>,
    pub position: f64,
    /// Names from the top level down, joined with `/`.
    pub path: String,
    /// How deep it is (0 at the top level).
    pub depth: usize,
    /// Live notes directly in it.
    pub notes: usize,
    /// Live notes in it and in every notebook under it.
    pub notes_total: usize,
}

/// A notebook to create, as an import does (with an id chosen up front so
/// its notes can name it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotebook {
    pub id: Option<String>,
    pub name: String,
    pub parent: Option<String>,
}

/// Where to list notes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Notebook(String),
    Unfiled,
}

/// Notebook names are one line without `/` (which separates a path).
pub fn validate_notebook_name(name: &str) -> Result<String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 200 || n.contains('/') || n.chars().any(char::is_control)
    {
        return Err(CoreError::Invalid {
            what: "notebook name",
            reason: format!("{name:?}: a notebook name is 1 to 200 characters, one line, no '/'"),
        });
    }
    Ok(n.to_string())
}

/// Rewrites the derived `notebook` rows from the personal tree's entries
/// (`personal`; read from the store when None) and every space's tree
/// kept here (inside the transaction that stores a tree's change or
/// merge, which the trees are read in).
pub(crate) fn write_tree(
    tx: &Connection,
    personal: Option<&[NotebookEntry]>,
    path: &std::path::Path,
) -> Result<()> {
    let stored;
    let personal = match personal {
        Some(p) => p,
        None => {
            stored = crate::space::tree_store::stored_personal(tx, path)?;
            &stored
        }
    };
    let spaces = crate::space::tree_store::stored_trees(tx, path)?;
    let rows = if spaces.is_empty() {
        notebook_doc::resolve(personal)
    } else {
        crate::space::tree::combine(personal, &spaces)
    };
    let e = sql_err("updating the notebook tree", path);
    tx.execute("DELETE FROM notebook", []).map_err(&e)?;
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO notebook(id, name, parent, position, deleted) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(&e)?;
    for n in rows {
        stmt.execute(params![n.id, n.name, n.parent, n.position, n.deleted])
            .map_err(&e)?;
    }
    Ok(())
}

/// A notebook to make: id, name, parent as written, position.
type PlannedNotebook = (String, String, Option<String>, f64);

/// One change to one tree document (the personal tree or a space's).
pub(crate) type TreeEdit<'a> = Box<dyn FnOnce(&mut automerge::AutoCommit) -> Result<()> + 'a>;

/// The resolved tree's rows, as stored.
struct Row {
    id: String,
    name: String,
    parent: Option<String>,
    position: f64,
    deleted: bool,
}

impl Store {
    fn tree_rows(&self) -> Result<Vec<Row>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, name, parent, position, deleted FROM notebook")
            .map_err(sql_err("reading notebooks", &self.path))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Row {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    parent: r.get(2)?,
                    position: r.get(3)?,
                    deleted: r.get(4)?,
                })
            })
            .and_then(|r| r.collect())
            .map_err(sql_err("reading notebooks", &self.path))?;
        Ok(rows)
    }

    /// The live notebooks in tree order (depth first; siblings by position,
    /// then name, then id), each with its path and note counts.
    pub fn notebooks(&self) -> Result<Vec<Notebook>> {
        let rows: Vec<Row> = self
            .tree_rows()?
            .into_iter()
            .filter(|r| !r.deleted)
            .collect();
        let mut direct: HashMap<String, usize> = HashMap::new();
        {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT p.notebook, count(*) FROM note_place p JOIN notes n ON n.id = p.note_id
                     WHERE n.trashed = 0 GROUP BY p.notebook",
                )
                .map_err(sql_err("counting notes in notebooks", &self.path))?;
            let counts = stmt
                .query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as usize))
                })
                .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(sql_err("counting notes in notebooks", &self.path))?;
            direct.extend(counts);
        }
        // A live notebook's shown parent is live (resolve puts a notebook
        // under a deleted one at the top level), so this is a forest.
        let mut children: BTreeMap<Option<&str>, Vec<&Row>> = BTreeMap::new();
        for r in &rows {
            children.entry(r.parent.as_deref()).or_default().push(r);
        }
        for list in children.values_mut() {
            list.sort_by(|a, b| {
                a.position
                    .total_cmp(&b.position)
                    .then_with(|| a.name.cmp(&b.name))
                    .then_with(|| a.id.cmp(&b.id))
            });
        }
        let mut out = Vec::with_capacity(rows.len());
        // (row, depth, path of its parent), depth first.
        let mut stack: Vec<(&Row, usize, String)> = children
            .get(&None)
            .map(|v| v.iter().rev().map(|r| (*r, 0, String::new())).collect())
            .unwrap_or_default();
        while let Some((r, depth, parent_path)) = stack.pop() {
            let path = if parent_path.is_empty() {
                r.name.clone()
            } else {
                format!("{parent_path}/{}", r.name)
            };
            if let Some(kids) = children.get(&Some(r.id.as_str())) {
                for k in kids.iter().rev() {
                    stack.push((k, depth + 1, path.clone()));
                }
            }
            out.push(Notebook {
                id: r.id.clone(),
                name: r.name.clone(),
                parent: r.parent.clone(),
                position: r.position,
                path,
                depth,
                notes: direct.get(&r.id).copied().unwrap_or(0),
                notes_total: 0,
            });
        }
        // Totals bottom-up: in depth-first order every descendant comes
        // after its ancestor, so walking backwards adds children first.
        let index: HashMap<String, usize> = out
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.clone(), i))
            .collect();
        for i in (0..out.len()).rev() {
            out[i].notes_total += out[i].notes;
            if let Some(p) = out[i].parent.as_ref().and_then(|p| index.get(p)) {
                let add = out[i].notes_total;
                out[*p].notes_total += add;
            }
        }
        Ok(out)
    }

    /// One live notebook.
    pub fn notebook(&self, id: &str) -> Result<Notebook> {
        self.notebooks()?
            .into_iter()
            .find(|n| n.id == id)
            .ok_or_else(|| self.missing_notebook(id))
    }

    fn missing_notebook(&self, id: &str) -> CoreError {
        match self.tree_rows() {
            Ok(rows) if rows.iter().any(|r| r.id == id && r.deleted) => {
                CoreError::NotebookDeleted { id: id.to_string() }
            }
            _ => CoreError::NotebookNotFound { id: id.to_string() },
        }
    }

    /// Live notes in no live notebook.
    pub fn unfiled_count(&self) -> Result<usize> {
        let n: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM notes n WHERE n.trashed = 0 AND NOT EXISTS (
                   SELECT 1 FROM note_place p JOIN notebook b ON b.id = p.notebook
                   WHERE p.note_id = n.id AND b.deleted = 0)",
                [],
                |r| r.get(0),
            )
            .map_err(sql_err("counting unfiled notes", &self.path))?;
        Ok(n as usize)
    }

    /// A notebook named by its id or by a unique path such as
    /// `Work/Projects` (names compared exactly, then ignoring case).
    pub fn find_notebook(&self, id_or_path: &str) -> Result<String> {
        let all = self.notebooks()?;
        if let Some(n) = all.iter().find(|n| n.id == id_or_path) {
            return Ok(n.id.clone());
        }
        let want = id_or_path.trim().trim_matches('/');
        for exact in [true, false] {
            let hits: Vec<String> = all
                .iter()
                .filter(|n| {
                    if exact {
                        n.path == want
                    } else {
                        n.path.to_lowercase() == want.to_lowercase()
                    }
                })
                .map(|n| n.id.clone())
                .collect();
            match hits.len() {
                0 => continue,
                1 => return Ok(hits.into_iter().next().unwrap_or_default()),
                _ => {
                    return Err(CoreError::NotebookAmbiguous {
                        path: want.to_string(),
                        ids: hits,
                    })
                }
            }
        }
        Err(self.missing_notebook(id_or_path))
    }

    /// The notebook each of these notes is shown in (None: Unfiled), for
    /// showing paths next to search results.
    pub fn places(&self, note_ids: &[String]) -> Result<Vec<(String, Option<String>)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT p.notebook FROM note_place p JOIN notebook b ON b.id = p.notebook
                 WHERE p.note_id = ?1 AND b.deleted = 0",
            )
            .map_err(sql_err("reading a note's notebook", &self.path))?;
        let mut out = Vec::with_capacity(note_ids.len());
        for id in note_ids {
            let nb: Option<String> = stmt
                .query_row([id], |r| r.get(0))
                .map(Some)
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(None),
                    e => Err(e),
                })
                .map_err(sql_err("reading a note's notebook", &self.path))?;
            out.push((id.clone(), nb));
        }
        Ok(out)
    }

    /// Live notes in a notebook (and, with `recursive`, every notebook
    /// under it), or in Unfiled, in list order.
    pub fn list_place(&self, place: &Place, recursive: bool) -> Result<Vec<NoteSummary>> {
        let cols = crate::query::SUMMARY_COLUMNS;
        let (sql, arg) = match place {
            Place::Unfiled => (
                format!(
                    "SELECT {cols} FROM notes n WHERE n.trashed = 0 AND NOT EXISTS (
                       SELECT 1 FROM note_place p JOIN notebook b ON b.id = p.notebook
                       WHERE p.note_id = n.id AND b.deleted = 0)
                     ORDER BY n.pinned DESC, n.modified DESC"
                ),
                String::new(),
            ),
            Place::Notebook(id) => {
                let all = self.notebooks()?;
                if !all.iter().any(|n| &n.id == id) {
                    return Err(self.missing_notebook(id));
                }
                let mut ids = vec![id.clone()];
                if recursive {
                    ids = subtree(&all, id);
                }
                (
                    format!(
                        "SELECT {cols} FROM notes n JOIN note_place p ON p.note_id = n.id
                         WHERE n.trashed = 0 AND p.notebook IN (SELECT value FROM json_each(?1))
                         ORDER BY n.pinned DESC, n.modified DESC"
                    ),
                    serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into()),
                )
            }
        };
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(sql_err("listing a notebook", &self.path))?;
        let rows = if arg.is_empty() {
            stmt.query_map([], crate::query::summary)
                .and_then(|r| r.collect())
        } else {
            stmt.query_map([arg], crate::query::summary)
                .and_then(|r| r.collect())
        }
        .map_err(sql_err("listing a notebook", &self.path))?;
        Ok(rows)
    }

    // ---------------------------------------------------------------- writes

    /// Makes sure the tree document exists here, starting it with the
    /// shared genesis if not.
    pub(crate) fn ensure_tree(&mut self) -> Result<()> {
        self.ensure_reserved(NOTEBOOKS_DOC_ID, notebook_doc::genesis)
    }

    /// Applies one change to the personal tree and stores it with its
    /// derived rows.
    fn edit_tree(
        &mut self,
        apply: impl FnOnce(&mut automerge::AutoCommit) -> Result<()>,
    ) -> Result<bool> {
        self.edit_trees(vec![(NOTEBOOKS_DOC_ID.to_owned(), Box::new(apply))], |_| {
            Ok(())
        })
    }

    /// Applies one change to each tree document named, stores them with
    /// the derived rows, and runs `also`, in one transaction: all of it or
    /// nothing. Returns whether any document changed.
    pub(crate) fn edit_trees(
        &mut self,
        edits: Vec<(String, TreeEdit<'_>)>,
        also: impl FnOnce(&mut Store) -> Result<()>,
    ) -> Result<bool> {
        for (doc, _) in &edits {
            self.ensure_tree_doc(doc)?;
        }
        let now = self.clock.now_ms();
        let ids: Vec<String> = edits.iter().map(|(d, _)| d.clone()).collect();
        let touched: Vec<&str> = ids.iter().map(String::as_str).collect();
        self.in_tx(&touched, |s| {
            let mut changed = false;
            // Each document stored before the next is loaded, so the
            // document cache never drops a change it has not written; one
            // that fails is dropped from the cache with the rollback.
            for (doc_id, apply) in edits {
                let doc = s.doc_mut(&doc_id)?;
                apply(doc.doc_mut())?;
                if doc.commit_local(now)? {
                    s.write_changes(&doc_id, Origin::Local)?;
                    changed = true;
                }
            }
            also(s)?;
            Ok(changed)
        })
    }

    /// The tree document's entries as stored: every notebook ever made,
    /// deleted ones included, with the parent its document names (before
    /// cycles and dangling parents are resolved).
    pub fn notebook_entries(&mut self) -> Result<Vec<NotebookEntry>> {
        if !self.doc_exists(NOTEBOOKS_DOC_ID)? {
            return Ok(Vec::new());
        }
        Ok(self.doc_mut(NOTEBOOKS_DOC_ID)?.state(None)?.notebooks)
    }

    fn live_parent(&self, parent: Option<&str>) -> Result<Option<String>> {
        match parent {
            None => Ok(None),
            Some(p) => {
                let rows = self.tree_rows()?;
                match rows.iter().find(|r| r.id == p) {
                    Some(r) if !r.deleted => Ok(Some(p.to_string())),
                    Some(_) => Err(CoreError::NotebookDeleted { id: p.to_string() }),
                    None => Err(CoreError::NotebookNotFound { id: p.to_string() }),
                }
            }
        }
    }

    fn next_position(&self, parent: Option<&str>) -> Result<f64> {
        Ok(self
            .tree_rows()?
            .iter()
            .filter(|r| r.parent.as_deref() == parent)
            .map(|r| r.position)
            .fold(0.0, f64::max)
            + 1.0)
    }

    /// Creates a notebook at the end of `parent` (or of the top level);
    /// returns its id.
    pub fn create_notebook(&mut self, name: &str, parent: Option<&str>) -> Result<String> {
        let ids = self.create_notebooks(&[NewNotebook {
            id: None,
            name: name.to_string(),
            parent: parent.map(str::to_string),
        }])?;
        Ok(ids.into_iter().next().unwrap_or_default())
    }

    /// Creates many notebooks in one change (an import's folders). A
    /// parent may be one made earlier in the same list.
    pub fn create_notebooks(&mut self, new: &[NewNotebook]) -> Result<Vec<String>> {
        let mut made: HashMap<String, Home> = HashMap::new();
        let mut last: HashMap<Option<String>, f64> = HashMap::new();
        // Per document (the personal tree, or a space's when the parent is
        // in a shared notebook), in order.
        let mut plans: Vec<(String, Vec<PlannedNotebook>)> = Vec::new();
        let mut ids = Vec::with_capacity(new.len());
        for n in new {
            let name = validate_notebook_name(&n.name)?;
            let id = match &n.id {
                Some(id) => {
                    crate::store::validate_note_id(id)?;
                    id.clone()
                }
                None => uuid::Uuid::new_v4().to_string(),
            };
            let (parent, home) = match n.parent.as_deref() {
                Some(p) if made.contains_key(p) => (Some(p.to_string()), made[p]),
                p => {
                    let parent = self.live_parent(p)?;
                    let home = self.home_under(parent.as_deref())?;
                    (parent, home)
                }
            };
            self.refuse_view_only(home, &id)?;
            let pos = match last.get(&parent) {
                Some(p) => p + 1.0,
                None => self.next_position(parent.as_deref())?,
            };
            last.insert(parent.clone(), pos);
            made.insert(id.clone(), home);
            let doc = home.place_doc();
            let stored_parent = self.stored_parent(home, parent)?;
            match plans.iter_mut().find(|(d, _)| *d == doc) {
                Some((_, list)) => list.push((id.clone(), name, stored_parent, pos)),
                None => plans.push((doc, vec![(id.clone(), name, stored_parent, pos)])),
            }
            ids.push(id);
        }
        let edits: Vec<(String, TreeEdit<'_>)> = plans
            .into_iter()
            .map(|(doc, plan)| {
                let apply: TreeEdit<'_> = Box::new(move |d: &mut automerge::AutoCommit| {
                    for (id, name, parent, pos) in &plan {
                        notebook_doc::create(d, id, name, parent.as_deref(), *pos)?;
                    }
                    Ok(())
                });
                (doc, apply)
            })
            .collect();
        self.edit_trees(edits, |_| Ok(()))?;
        Ok(ids)
    }

    /// The parent to write in `home`'s document: in a space's tree, the
    /// shared notebook itself is written as no parent (`space::tree`).
    fn stored_parent(&self, home: Home, parent: Option<String>) -> Result<Option<String>> {
        let Home::Space(s) = home else {
            return Ok(parent);
        };
        let root = crate::space::label::notebook_id(&s);
        let shared = self.local_space(&s)?.and_then(|l| l.notebook);
        Ok(parent.filter(|p| *p != root && Some(p) != shared.as_ref()))
    }

    /// Renames a notebook; a shared notebook's name is its space's (every
    /// member sees it), and so are the names of the notebooks in it.
    pub fn rename_notebook(&mut self, id: &str, name: &str) -> Result<bool> {
        let name = validate_notebook_name(name)?;
        self.live_parent(Some(id))?;
        let home = self.notebook_home(id)?;
        self.refuse_view_only(home, id)?;
        let (doc, apply): (String, TreeEdit<'_>) = match home {
            Home::Personal => (
                NOTEBOOKS_DOC_ID.to_owned(),
                Box::new(move |d: &mut automerge::AutoCommit| notebook_doc::set_name(d, id, &name)),
            ),
            Home::Root(s) => {
                let tree = crate::space::tree::space_tree_id(&s);
                let doc_id = tree.clone();
                (
                    tree,
                    Box::new(move |d: &mut automerge::AutoCommit| {
                        crate::space::tree::set_name(d, &doc_id, &name)
                    }),
                )
            }
            Home::Space(s) => (
                crate::space::tree::space_tree_id(&s),
                Box::new(move |d: &mut automerge::AutoCommit| notebook_doc::set_name(d, id, &name)),
            ),
        };
        self.edit_trees(vec![(doc, apply)], |_| Ok(()))
    }

    /// Moves a notebook under `parent` (None: the top level), at the end.
    /// Moving it into itself or its own descendant is refused; the same
    /// move made concurrently on two devices is settled on read instead.
    /// Moved into or out of a shared notebook, it and the notebooks under
    /// it go from one tree document to the other (see [`Store::move_across`]).
    pub fn move_notebook(&mut self, id: &str, parent: Option<&str>) -> Result<bool> {
        self.live_parent(Some(id))?;
        let parent = self.live_parent(parent)?;
        let all = self.notebooks()?;
        if let Some(p) = &parent {
            if subtree(&all, id).contains(p) {
                return Err(CoreError::NotebookCycle {
                    id: id.to_string(),
                    parent: p.clone(),
                });
            }
        }
        self.refuse_nested_share(id, parent.as_deref())?;
        let from = self.notebook_home(id)?;
        let to = self.home_under(parent.as_deref())?;
        if let Home::Space(_) = from {
            self.refuse_view_only(from, id)?;
        }
        self.refuse_view_only(to, id)?;
        let pos = self.next_position(parent.as_deref())?;
        if from.place_doc() != to.place_doc() {
            return self.move_across(&all, id, parent, pos, from, to);
        }
        let stored = self.stored_parent(to, parent)?;
        self.edit_trees(
            vec![(
                from.place_doc(),
                Box::new(move |d: &mut automerge::AutoCommit| {
                    notebook_doc::set_parent(d, id, stored.as_deref(), pos)
                }),
            )],
            |_| Ok(()),
        )
    }

    /// Moves `id` and the notebooks under it from `from`'s document to
    /// `to`'s, in one transaction: made again (same ids, so their notes
    /// follow) in the one, deleted in the other. Moved into a space, the
    /// personal tree's entries for them (if any) are put, deleted, under
    /// the shared notebook: the personal tree then lets the space hold
    /// them (`space::tree::combine`).
    fn move_across(
        &mut self,
        all: &[Notebook],
        id: &str,
        parent: Option<String>,
        pos: f64,
        from: Home,
        to: Home,
    ) -> Result<bool> {
        let ids = subtree(all, id);
        let stored = self.stored_parent(to, parent)?;
        let mut made = Vec::with_capacity(ids.len());
        for n in all.iter().filter(|n| ids.contains(&n.id)) {
            let (p, at) = if n.id == id {
                (stored.clone(), pos)
            } else {
                (n.parent.clone(), n.position)
            };
            made.push((n.id.clone(), n.name.clone(), p, at));
        }
        let into_root = match to {
            Home::Space(s) => self.local_space(&s)?.and_then(|l| l.notebook),
            _ => None,
        };
        let personal: HashSet<String> = if into_root.is_some() {
            self.notebook_entries()?.into_iter().map(|e| e.id).collect()
        } else {
            HashSet::new()
        };
        let source = from.place_doc();
        let target = to.place_doc();
        let gone = ids.clone();
        let mut edits: Vec<(String, TreeEdit<'_>)> = vec![(
            target.clone(),
            Box::new(move |d: &mut automerge::AutoCommit| {
                for (id, name, parent, pos) in &made {
                    notebook_doc::create(d, id, name, parent.as_deref(), *pos)?;
                }
                Ok(())
            }),
        )];
        let fix: Vec<String> = ids.into_iter().filter(|i| personal.contains(i)).collect();
        if source == NOTEBOOKS_DOC_ID {
            edits.push((source, retire(gone, into_root)));
        } else {
            edits.push((source, retire(gone, None)));
            if !fix.is_empty() {
                edits.push((NOTEBOOKS_DOC_ID.to_owned(), retire(fix, into_root)));
            }
        }
        self.edit_trees(edits, |_| Ok(()))
    }

    /// Shares do not nest (each note goes to one space at most): moving
    /// `id` under `parent` is refused when `id` is shared or holds a
    /// shared notebook and `parent` is inside another shared one.
    fn refuse_nested_share(&self, id: &str, parent: Option<&str>) -> Result<()> {
        let Some(parent) = parent else {
            return Ok(());
        };
        let Some(outer) = self.space_of_notebook(parent)? else {
            return Ok(());
        };
        let moved = match self.space_sharing(id)? {
            Some(s) => Some(s),
            None => self.space_below(id)?,
        };
        match moved {
            Some(inner) if inner != outer => Err(CoreError::SharedInShared {
                id: id.to_string(),
                parent: parent.to_string(),
            }),
            _ => Ok(()),
        }
    }

    /// Deletes a notebook with every notebook under it, and moves their
    /// live notes to the trash, all in one transaction. Returns how many
    /// notes went to the trash.
    pub fn delete_notebook(&mut self, id: &str) -> Result<usize> {
        self.live_parent(Some(id))?;
        let all = self.notebooks()?;
        let doomed = subtree(&all, id);
        let notes: Vec<String> = {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT n.id FROM notes n JOIN note_place p ON p.note_id = n.id
                     WHERE n.trashed = 0 AND p.notebook IN (SELECT value FROM json_each(?1))",
                )
                .map_err(sql_err("finding a notebook's notes", &self.path))?;
            let json = serde_json::to_string(&doomed).unwrap_or_else(|_| "[]".into());
            stmt.query_map([json], |r| r.get(0))
                .and_then(|r| r.collect())
                .map_err(sql_err("finding a notebook's notes", &self.path))?
        };
        let mut per_doc: Vec<(String, Vec<String>)> = Vec::new();
        for nb in &doomed {
            let home = self.notebook_home(nb)?;
            if let Home::Space(_) = home {
                self.refuse_view_only(home, nb)?;
            }
            group(&mut per_doc, home.place_doc(), nb.clone());
        }
        let now = self.clock.now_ms();
        let edits = flag_edits(per_doc, true);
        let trashing = notes.clone();
        self.edit_trees(edits, |s| {
            // One note at a time, each stored before the next is loaded, so
            // the document cache never drops a change it has not written.
            for n in &trashing {
                let doc = s.doc_mut(n)?;
                doc.set_flag(Flag::Trashed, true)?;
                if doc.commit_local(now)? {
                    s.write_changes(n, Origin::Local)?;
                }
            }
            Ok(())
        })?;
        Ok(notes.len())
    }

    /// Gives notebook `old` the id `new`: a notebook `new` takes its name
    /// and place, its notebooks and notes (trashed ones too) move into it,
    /// and `old` is deleted. Sharing a notebook does this, so the shared
    /// notebook's id is the one its space derives (see
    /// `crate::space::label`).
    pub fn renumber_notebook(&mut self, old: &str, new: &str) -> Result<()> {
        crate::store::validate_note_id(new)?;
        let nb = self.notebook(old)?;
        let children: Vec<(String, f64)> = self
            .notebooks()?
            .into_iter()
            .filter(|n| n.parent.as_deref() == Some(old))
            .map(|n| (n.id, n.position))
            .collect();
        self.edit_tree(|doc| {
            notebook_doc::create(doc, new, &nb.name, nb.parent.as_deref(), nb.position)?;
            for (child, pos) in &children {
                notebook_doc::set_parent(doc, child, Some(new), *pos)?;
            }
            notebook_doc::set_deleted(doc, old, true)
        })?;
        let notes: Vec<String> = {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT note_id FROM note_place WHERE notebook = ?1")
                .map_err(sql_err("finding a notebook's notes", &self.path))?;
            stmt.query_map([old], |r| r.get(0))
                .and_then(|r| r.collect())
                .map_err(sql_err("finding a notebook's notes", &self.path))?
        };
        for n in &notes {
            self.edit(n, |d| d.set_notebook(Some(new)))?;
        }
        Ok(())
    }

    /// Puts a note in a notebook, or in Unfiled with None.
    pub fn move_note(&mut self, note_id: &str, notebook: Option<&str>) -> Result<bool> {
        let notebook = self.live_parent(notebook)?;
        self.edit(note_id, |d| d.set_notebook(notebook.as_deref()))
    }

    /// After a note left the trash: if the notebook it names was deleted,
    /// bring that notebook back, with every deleted notebook above it, so
    /// the note is back in its place.
    pub(crate) fn revive_place(&mut self, note_id: &str) -> Result<()> {
        let Some(nb) = self.doc_mut(note_id)?.state(None)?.notebook else {
            return Ok(());
        };
        // The rows keep a deleted notebook under its deleted parent, in
        // whichever tree document holds each.
        let rows = self.tree_rows()?;
        let by_id: HashMap<&str, &Row> = rows.iter().map(|r| (r.id.as_str(), r)).collect();
        let mut revive = Vec::new();
        let mut seen = HashSet::new();
        let mut at = by_id.get(nb.as_str()).copied();
        while let Some(r) = at {
            if !r.deleted || !seen.insert(r.id.as_str()) {
                break;
            }
            revive.push(r.id.clone());
            at = r.parent.as_deref().and_then(|p| by_id.get(p).copied());
        }
        let mut per_doc: Vec<(String, Vec<String>)> = Vec::new();
        for id in revive {
            let home = self.notebook_home(&id)?;
            if let Home::Space(_) = home {
                if self.refuse_view_only(home, &id).is_err() {
                    // A viewer's restore brings the note back, not the
                    // space's notebooks: only the others' changes do.
                    continue;
                }
            }
            group(&mut per_doc, home.place_doc(), id);
        }
        if per_doc.is_empty() {
            return Ok(());
        }
        self.edit_trees(flag_edits(per_doc, false), |_| Ok(()))?;
        Ok(())
    }
}

/// Adds `id` to the list of document `doc` in `per_doc`.
fn group(per_doc: &mut Vec<(String, Vec<String>)>, doc: String, id: String) {
    match per_doc.iter_mut().find(|(d, _)| *d == doc) {
        Some((_, list)) => list.push(id),
        None => per_doc.push((doc, vec![id])),
    }
}

/// One edit per document, marking its notebooks deleted (or not).
fn flag_edits(
    per_doc: Vec<(String, Vec<String>)>,
    deleted: bool,
) -> Vec<(String, TreeEdit<'static>)> {
    per_doc
        .into_iter()
        .map(|(doc, ids)| {
            let apply: TreeEdit<'static> = Box::new(move |d: &mut automerge::AutoCommit| {
                ids.iter()
                    .try_for_each(|id| notebook_doc::set_deleted(d, id, deleted))
            });
            (doc, apply)
        })
        .collect()
}

/// Marks `ids` deleted in a tree document, first putting them directly
/// under `under` if given (moved into a space: see `move_across`).
fn retire(ids: Vec<String>, under: Option<String>) -> TreeEdit<'static> {
    Box::new(move |d: &mut automerge::AutoCommit| {
        for id in &ids {
            if let Some(r) = &under {
                notebook_doc::set_parent(d, id, Some(r), 0.0)?;
            }
            notebook_doc::set_deleted(d, id, true)?;
        }
        Ok(())
    })
}

/// `id` and every notebook under it, in `all` (the live, resolved tree).
pub fn subtree(all: &[Notebook], id: &str) -> Vec<String> {
    let mut out = vec![id.to_string()];
    let mut i = 0;
    while i < out.len() {
        let at = out[i].clone();
        out.extend(
            all.iter()
                .filter(|n| n.parent.as_deref() == Some(at.as_str()))
                .map(|n| n.id.clone()),
        );
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_renumbered_notebook_keeps_its_name_place_notebooks_and_notes() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let top = store.create_notebook("Top", None).unwrap();
        let old = store.create_notebook("Trips", Some(&top)).unwrap();
        let rome = store.create_notebook("Rome", Some(&old)).unwrap();
        let note = store.create_note("Packing").unwrap();
        store.move_note(&note, Some(&old)).unwrap();
        let trashed = store.create_note("Old plan").unwrap();
        store.move_note(&trashed, Some(&old)).unwrap();
        store.trash(&trashed).unwrap();
        let new = uuid::Uuid::new_v4().to_string();

        store.renumber_notebook(&old, &new).unwrap();
        let moved = store.notebook(&new).unwrap();
        assert_eq!(
            (moved.name.as_str(), moved.parent.as_deref()),
            ("Trips", Some(top.as_str()))
        );
        assert_eq!(moved.path, "Top/Trips");
        assert!(store.notebook(&old).is_err());
        assert_eq!(
            store.notebook(&rome).unwrap().parent.as_deref(),
            Some(new.as_str())
        );
        let places = store.places(&[note.clone(), trashed.clone()]).unwrap();
        assert!(places
            .iter()
            .all(|(_, nb)| nb.as_deref() == Some(new.as_str())));
        assert!(store.renumber_notebook(&new, "not an id").is_err());
    }
}
