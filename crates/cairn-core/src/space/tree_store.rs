//! The spaces' trees in the store (`space::tree`): which document holds a
//! notebook, reading every tree for the notebook rows, and moving the
//! notebooks below a shared notebook into its space's tree.

use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension};

use crate::error::{CoreError, Result};
use crate::note_doc::NoteDoc;
use crate::notebook_doc::{self, NotebookEntry, NOTEBOOKS_DOC_ID};
use crate::space::epoch::SpaceId;
use crate::space::local::Standing;
use crate::space::record::Role;
use crate::space::tree::{self, SpaceTree};
use crate::store::{sql_err, Store, CHUNK_SNAPSHOT};

/// The document that holds a notebook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Home {
    /// The personal tree.
    Personal,
    /// A space's shared notebook: its place is in the personal tree, its
    /// name in the space's tree.
    Root(SpaceId),
    /// A notebook below a shared one, in its space's tree.
    Space(SpaceId),
}

impl Home {
    /// The document that holds where the notebook is and whether it is
    /// deleted.
    pub(crate) fn place_doc(self) -> String {
        match self {
            Home::Personal | Home::Root(_) => NOTEBOOKS_DOC_ID.to_owned(),
            Home::Space(s) => tree::space_tree_id(&s),
        }
    }

    /// Where notebooks made under it go.
    pub(crate) fn below(self) -> Home {
        match self {
            Home::Personal => Home::Personal,
            Home::Root(s) | Home::Space(s) => Home::Space(s),
        }
    }
}

fn bad_space_id() -> CoreError {
    CoreError::Invalid {
        what: "stored space",
        reason: "a space id in the store does not parse".into(),
    }
}

/// A stored document, read straight from its chunks (inside the
/// transaction that is writing it or another), or None if it is not here.
fn stored_doc(tx: &Connection, id: &str, path: &std::path::Path) -> Result<Option<NoteDoc>> {
    let mut stmt = tx
        .prepare_cached("SELECT kind, data FROM chunk WHERE note_id = ?1 ORDER BY id")
        .map_err(sql_err("reading a notebook tree", path))?;
    let rows: Vec<(i64, Vec<u8>)> = stmt
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(|r| r.collect())
        .map_err(sql_err("reading a notebook tree", path))?;
    match rows.first() {
        None => Ok(None),
        Some((kind, _)) if *kind != CHUNK_SNAPSHOT => Err(CoreError::CorruptNote {
            id: id.to_string(),
            reason: "first chunk is not a snapshot".into(),
        }),
        Some(_) => {
            let chunks: Vec<Vec<u8>> = rows.into_iter().map(|(_, d)| d).collect();
            NoteDoc::load(id, b"cairn-tree-reader", &chunks).map(Some)
        }
    }
}

/// The personal tree's entries as stored.
pub(crate) fn stored_personal(
    tx: &Connection,
    path: &std::path::Path,
) -> Result<Vec<NotebookEntry>> {
    match stored_doc(tx, NOTEBOOKS_DOC_ID, path)? {
        Some(doc) => Ok(doc.state(None)?.notebooks),
        None => Ok(Vec::new()),
    }
}

/// Every space's tree this device keeps, with its shared notebook, in
/// space id order (a space left keeps its tree: what was downloaded stays
/// where it was).
pub(crate) fn stored_trees(tx: &Connection, path: &std::path::Path) -> Result<Vec<SpaceTree>> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT space_id, notebook FROM space WHERE notebook IS NOT NULL ORDER BY space_id",
        )
        .map_err(sql_err("reading spaces", path))?;
    let rows: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(|r| r.collect())
        .map_err(sql_err("reading spaces", path))?;
    let mut out = Vec::with_capacity(rows.len());
    for (space, root) in rows {
        let space = SpaceId::parse(&space).map_err(|_| bad_space_id())?;
        let (name, entries) = match stored_doc(tx, &tree::space_tree_id(&space), path)? {
            Some(mut doc) => {
                let entries = doc.state(None)?.notebooks;
                (tree::read_name(doc.doc_mut()), entries)
            }
            None => (None, Vec::new()),
        };
        out.push(SpaceTree {
            root,
            name,
            entries,
        });
    }
    Ok(out)
}

impl Store {
    /// (space, shared notebook) of every space kept here with a notebook.
    fn space_roots(&self) -> Result<Vec<(SpaceId, String)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT space_id, notebook FROM space WHERE notebook IS NOT NULL")
            .map_err(sql_err("reading spaces", &self.path))?;
        let rows: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|r| r.collect())
            .map_err(sql_err("reading spaces", &self.path))?;
        rows.into_iter()
            .map(|(s, n)| Ok((SpaceId::parse(&s).map_err(|_| bad_space_id())?, n)))
            .collect()
    }

    /// The ids `space`'s tree holds, deleted ones included.
    fn tree_ids(&mut self, space: &SpaceId) -> Result<HashSet<String>> {
        let id = tree::space_tree_id(space);
        if !self.doc_exists(&id)? {
            return Ok(HashSet::new());
        }
        Ok(self
            .doc_mut(&id)?
            .state(None)?
            .notebooks
            .into_iter()
            .map(|e| e.id)
            .collect())
    }

    /// Which document holds notebook `id`: a shared notebook is its
    /// space's root; a notebook below one is in its space's tree if that
    /// tree has it (one made below it by a build without space trees is
    /// still the personal tree's, until `adopt_space_tree`).
    pub(crate) fn notebook_home(&mut self, id: &str) -> Result<Home> {
        let roots = self.space_roots()?;
        if let Some((s, _)) = roots.iter().find(|(_, r)| r == id) {
            return Ok(Home::Root(*s));
        }
        let parent_of = |store: &Store, n: &str| -> Result<Option<String>> {
            store
                .conn
                .query_row("SELECT parent FROM notebook WHERE id = ?1", [n], |r| {
                    r.get::<_, Option<String>>(0)
                })
                .optional()
                .map(Option::flatten)
                .map_err(sql_err("reading notebooks", &store.path))
        };
        let mut seen = HashSet::new();
        let mut at = parent_of(self, id)?;
        while let Some(p) = at {
            if !seen.insert(p.clone()) {
                break;
            }
            if let Some((s, _)) = roots.iter().find(|(_, r)| *r == p) {
                let s = *s;
                return Ok(if self.tree_ids(&s)?.contains(id) {
                    Home::Space(s)
                } else {
                    Home::Personal
                });
            }
            at = parent_of(self, &p)?;
        }
        Ok(Home::Personal)
    }

    /// Where notebooks made under `parent` (None: the top level) go.
    pub(crate) fn home_under(&mut self, parent: Option<&str>) -> Result<Home> {
        match parent {
            None => Ok(Home::Personal),
            Some(p) => Ok(self.notebook_home(p)?.below()),
        }
    }

    /// A viewer of a space changes nothing of its tree: refused here, so
    /// the sidebar never shows a change no one else will see.
    pub(crate) fn refuse_view_only(&self, home: Home, id: &str) -> Result<()> {
        let (Home::Root(s) | Home::Space(s)) = home else {
            return Ok(());
        };
        match self.local_space(&s)? {
            Some(l) if l.standing == Standing::Member && l.role == Role::Viewer => {
                Err(CoreError::SharedViewOnly { id: id.to_string() })
            }
            _ => Ok(()),
        }
    }

    /// Makes sure tree document `doc` (the personal tree, or a space's)
    /// exists here.
    pub(crate) fn ensure_tree_doc(&mut self, doc: &str) -> Result<()> {
        if doc == NOTEBOOKS_DOC_ID {
            return self.ensure_tree();
        }
        let id = doc.to_owned();
        self.ensure_reserved(doc, |actor| tree::genesis(&id, actor))
    }

    /// Retires again from each space's tree the notebooks this member's own
    /// tree keeps outside the shared notebook (`tree::taken_back`): moved
    /// out here while another member moved them back in. Run after every
    /// merge of a tree and before each round of a space (`adopt_space_tree`);
    /// it changes nothing the second time. A viewer writes nothing (its
    /// changes to the tree would be ignored), and a viewer cannot have
    /// moved a notebook out.
    pub(crate) fn retake_own_notebooks(&mut self) -> Result<()> {
        let roots = self.space_roots()?;
        if roots.is_empty() {
            return Ok(());
        }
        let personal = self.notebook_entries()?;
        for (space, root) in roots {
            let writer = self
                .local_space(&space)?
                .is_some_and(|l| l.standing == Standing::Member && l.role.can_write());
            let tree_doc = tree::space_tree_id(&space);
            if !writer || !self.doc_exists(&tree_doc)? {
                continue;
            }
            let entries = self.doc_mut(&tree_doc)?.state(None)?.notebooks;
            let ids = tree::taken_back(&personal, &root, &entries);
            if ids.is_empty() {
                continue;
            }
            self.edit_trees(
                vec![(
                    tree_doc,
                    Box::new(move |doc| {
                        ids.iter()
                            .try_for_each(|id| notebook_doc::set_deleted(doc, id, true))
                    }),
                )],
                |_| Ok(()),
            )?;
        }
        Ok(())
    }

    /// Brings `space`'s tree here, and, for an owner or editor, moves into
    /// it every notebook below the shared one that the personal tree still
    /// holds: when a notebook is shared, its notebooks then travel with it
    /// (the personal tree keeps them, deleted, where they were; see
    /// `tree::combine`). The owner also names the shared notebook in the
    /// tree, once. Runs when a space is kept and before each of its rounds;
    /// it changes nothing the second time.
    pub fn adopt_space_tree(&mut self, space: &SpaceId) -> Result<()> {
        let Some(local) = self.local_space(space)? else {
            return Ok(());
        };
        let Some(root) = local.notebook.clone() else {
            return Ok(());
        };
        let tree_doc = tree::space_tree_id(space);
        self.ensure_tree_doc(&tree_doc)?;
        if local.standing != Standing::Member || !local.role.can_write() {
            return Ok(());
        }
        self.retake_own_notebooks()?;
        let all = self.notebooks()?;
        let Some(shared) = all.iter().find(|n| n.id == root) else {
            return Ok(());
        };
        let held = self.tree_ids(space)?;
        let below = crate::notebooks::subtree(&all, &root);
        let moving: Vec<&crate::Notebook> = all
            .iter()
            .filter(|n| n.id != root && below.contains(&n.id) && !held.contains(&n.id))
            .collect();
        let name = if local.role == Role::Owner
            && tree::read_name(self.doc_mut(&tree_doc)?.doc_mut()).is_none()
        {
            Some(shared.name.clone())
        } else {
            None
        };
        if moving.is_empty() && name.is_none() {
            return Ok(());
        }
        let plan: Vec<(String, String, Option<String>, f64)> = moving
            .iter()
            .map(|n| {
                let parent = n.parent.clone().filter(|p| *p != root);
                (n.id.clone(), n.name.clone(), parent, n.position)
            })
            .collect();
        let doc_id = tree_doc.clone();
        self.edit_trees(
            vec![
                (
                    tree_doc,
                    Box::new(move |doc| {
                        if let Some(name) = &name {
                            tree::set_name(doc, &doc_id, name)?;
                        }
                        for (id, name, parent, pos) in &plan {
                            notebook_doc::create(doc, id, name, parent.as_deref(), *pos)?;
                        }
                        Ok(())
                    }),
                ),
                (
                    NOTEBOOKS_DOC_ID.to_owned(),
                    Box::new({
                        let ids: Vec<String> = moving.iter().map(|n| n.id.clone()).collect();
                        move |doc| {
                            ids.iter()
                                .try_for_each(|id| notebook_doc::set_deleted(doc, id, true))
                        }
                    }),
                ),
            ],
            |_| Ok(()),
        )?;
        Ok(())
    }
}
