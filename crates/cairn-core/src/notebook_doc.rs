//! The notebook tree: one Automerge document shared by the whole space.
//!
//! It is stored and synced exactly like a note (same `doc`/`chunk` rows,
//! same publish and merge path) under a reserved id that is a valid UUID
//! but never a note's, and it has the note shape (an empty `body`) so the
//! loaders take it unchanged. Its root also holds:
//!
//! | key         | type | meaning                                              |
//! |-------------|------|------------------------------------------------------|
//! | `kind`      | str  | `"notebooks"`                                        |
//! | `notebooks` | map  | notebook id -> `{name, parent, position, deleted}`   |
//!
//! Every device starts the document with the same genesis changes (same
//! actor, same time, same operations, so the same change hashes). That is
//! what lets two devices that each made the tree before they ever synced
//! merge into one `notebooks` map instead of two rival ones, of which
//! Automerge would keep only one.
//!
//! Each notebook's fields are registers: concurrent renames or moves of
//! one notebook are settled by Automerge the same way everywhere. Cycles
//! that concurrent moves can make are never repaired by a write (two
//! devices repairing at once would race); `resolve` breaks them when the
//! tree is read, by a rule that depends only on the merged document.

use std::collections::{BTreeMap, HashMap};

use automerge::{
    transaction::Transactable, AutoCommit, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, Value,
};
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::note_doc::NoteDoc;

/// The tree document's id. A UUID (so every sync check on ids passes it)
/// that `uuid::Uuid::new_v4` never makes (version 0).
pub const NOTEBOOKS_DOC_ID: &str = "00000000-0000-0000-0000-000000000000";

/// The actor of the genesis changes, the same on every device.
const GENESIS_ACTOR: &[u8] = b"cairn-notebook-tree";

/// A notebook as its document stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotebookEntry {
    pub id: String,
    pub name: String,
    /// The parent the document names (it may be missing, deleted, or make
    /// a cycle; see `resolve`).
    pub parent: Option<String>,
    /// Order among siblings, ascending.
    pub position: f64,
    pub deleted: bool,
}

/// The tree document as every device first makes it.
pub(crate) fn genesis(actor: &[u8]) -> Result<NoteDoc> {
    crate::reserved_doc::genesis(
        NOTEBOOKS_DOC_ID,
        GENESIS_ACTOR,
        actor,
        "notebooks",
        "notebooks",
    )
}

fn notebooks_obj(doc: &AutoCommit, heads: Option<&[ChangeHash]>) -> Option<ObjId> {
    crate::reserved_doc::root_map(doc, "notebooks", heads)
}

/// Every notebook the document holds, deleted ones included, by id. Empty
/// for a note's document.
pub(crate) fn read_entries(
    doc: &AutoCommit,
    heads: Option<&[ChangeHash]>,
) -> std::result::Result<Vec<NotebookEntry>, automerge::AutomergeError> {
    let Some(map) = notebooks_obj(doc, heads) else {
        return Ok(Vec::new());
    };
    let ids: Vec<String> = match heads {
        Some(h) => doc.keys_at(&map, h).collect(),
        None => doc.keys(&map).collect(),
    };
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let entry = match heads {
            Some(h) => doc.get_at(&map, id.as_str(), h)?,
            None => doc.get(&map, id.as_str())?,
        };
        let Some((Value::Object(ObjType::Map), obj)) = entry else {
            continue;
        };
        let field =
            |key: &str| -> std::result::Result<Option<ScalarValue>, automerge::AutomergeError> {
                let v = match heads {
                    Some(h) => doc.get_at(&obj, key, h)?,
                    None => doc.get(&obj, key)?,
                };
                Ok(match v {
                    Some((Value::Scalar(s), _)) => Some(s.into_owned()),
                    _ => None,
                })
            };
        let name = match field("name")? {
            Some(ScalarValue::Str(s)) => s.to_string(),
            _ => String::new(),
        };
        let parent = match field("parent")? {
            Some(ScalarValue::Str(s)) if !s.is_empty() => Some(s.to_string()),
            _ => None,
        };
        let position = match field("position")? {
            Some(ScalarValue::F64(p)) => p,
            Some(ScalarValue::Int(p)) => p as f64,
            _ => 0.0,
        };
        let deleted = matches!(field("deleted")?, Some(ScalarValue::Boolean(true)));
        out.push(NotebookEntry {
            id,
            name,
            parent,
            position,
            deleted,
        });
    }
    Ok(out)
}

fn err(source: automerge::AutomergeError) -> CoreError {
    CoreError::Document {
        id: NOTEBOOKS_DOC_ID.to_string(),
        source: Box::new(source),
    }
}

fn entry_obj(doc: &AutoCommit, id: &str) -> Result<ObjId> {
    let map = notebooks_obj(doc, None).ok_or_else(|| CoreError::CorruptNote {
        id: NOTEBOOKS_DOC_ID.to_string(),
        reason: "the notebook tree has no notebooks map".into(),
    })?;
    match doc.get(&map, id).map_err(err)? {
        Some((Value::Object(ObjType::Map), obj)) => Ok(obj),
        _ => Err(CoreError::NotebookNotFound { id: id.to_string() }),
    }
}

/// Stages a new notebook.
pub(crate) fn create(
    doc: &mut AutoCommit,
    id: &str,
    name: &str,
    parent: Option<&str>,
    position: f64,
) -> Result<()> {
    let map = notebooks_obj(doc, None).ok_or_else(|| CoreError::CorruptNote {
        id: NOTEBOOKS_DOC_ID.to_string(),
        reason: "the notebook tree has no notebooks map".into(),
    })?;
    let obj = doc.put_object(&map, id, ObjType::Map).map_err(err)?;
    doc.put(&obj, "name", name).map_err(err)?;
    doc.put(&obj, "parent", parent.unwrap_or("")).map_err(err)?;
    doc.put(&obj, "position", position).map_err(err)?;
    doc.put(&obj, "deleted", false).map_err(err)?;
    Ok(())
}

pub(crate) fn set_name(doc: &mut AutoCommit, id: &str, name: &str) -> Result<()> {
    let obj = entry_obj(doc, id)?;
    doc.put(&obj, "name", name).map_err(err)
}

pub(crate) fn set_parent(
    doc: &mut AutoCommit,
    id: &str,
    parent: Option<&str>,
    position: f64,
) -> Result<()> {
    let obj = entry_obj(doc, id)?;
    doc.put(&obj, "parent", parent.unwrap_or("")).map_err(err)?;
    doc.put(&obj, "position", position).map_err(err)
}

pub(crate) fn set_deleted(doc: &mut AutoCommit, id: &str, deleted: bool) -> Result<()> {
    let obj = entry_obj(doc, id)?;
    doc.put(&obj, "deleted", deleted).map_err(err)
}

/// The tree as it is shown: each notebook with the parent it is shown
/// under (None: the top level). The rule, which depends only on the merged
/// document and so gives the same tree on every replica:
///
/// 1. a notebook whose named parent is itself, missing, or deleted is shown
///    at the top level;
/// 2. of the notebooks whose parent chain loops, the one with the smallest
///    id in each loop is shown at the top level (the others keep their
///    parents, so the loop becomes a branch under it).
///
/// Deleted notebooks are kept (their trashed notes still name them) and
/// their own parent is resolved the same way.
pub fn resolve(entries: &[NotebookEntry]) -> Vec<NotebookEntry> {
    let by_id: HashMap<&str, &NotebookEntry> = entries.iter().map(|e| (e.id.as_str(), e)).collect();
    let mut parent: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    for e in entries {
        let p = e
            .parent
            .as_deref()
            .filter(|p| *p != e.id && by_id.get(p).is_some_and(|pe| !pe.deleted || e.deleted));
        parent.insert(e.id.as_str(), p);
    }
    // Each notebook has at most one parent, so loops are disjoint and a
    // walk from any notebook either reaches the top or enters one loop.
    // 0 = not seen, 1 = on the current walk, 2 = done.
    let mut state: HashMap<&str, u8> = HashMap::new();
    let ids: Vec<&str> = parent.keys().copied().collect();
    for start in ids {
        if state.get(start).copied().unwrap_or(0) != 0 {
            continue;
        }
        let mut walk = Vec::new();
        let mut at = Some(start);
        while let Some(n) = at {
            match state.get(n).copied().unwrap_or(0) {
                0 => {
                    state.insert(n, 1);
                    walk.push(n);
                    at = parent.get(n).copied().flatten();
                }
                1 => {
                    // A loop: the part of the walk from `n` on.
                    let from = walk.iter().position(|w| *w == n).unwrap_or(0);
                    if let Some(min) = walk[from..].iter().min() {
                        parent.insert(min, None);
                    }
                    break;
                }
                _ => break,
            }
        }
        for w in walk {
            state.insert(w, 2);
        }
    }
    entries
        .iter()
        .map(|e| NotebookEntry {
            parent: parent
                .get(e.id.as_str())
                .copied()
                .flatten()
                .map(str::to_string),
            ..e.clone()
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by design
mod tests {
    use super::*;

    fn nb(id: &str, parent: Option<&str>) -> NotebookEntry {
        NotebookEntry {
            id: id.into(),
            name: id.into(),
            parent: parent.map(str::to_string),
            position: 0.0,
            deleted: false,
        }
    }

    fn parents(v: &[NotebookEntry]) -> Vec<(String, Option<String>)> {
        v.iter().map(|e| (e.id.clone(), e.parent.clone())).collect()
    }

    #[test]
    fn loops_break_at_their_smallest_id_and_dangling_parents_go_to_the_top() {
        let got = resolve(&[
            nb("c", Some("a")),
            nb("a", Some("b")),
            nb("b", Some("c")),
            nb("d", Some("b")),
            nb("e", Some("gone")),
            nb("f", Some("f")),
        ]);
        let want = vec![
            ("c".into(), Some("a".into())),
            ("a".into(), None),
            ("b".into(), Some("c".into())),
            ("d".into(), Some("b".into())),
            ("e".into(), None),
            ("f".into(), None),
        ];
        assert_eq!(parents(&got), want);
    }

    #[test]
    fn two_devices_making_the_tree_apart_share_one_notebooks_map() {
        let mut a = genesis(b"device-a").unwrap();
        let mut b = genesis(b"device-b").unwrap();
        create(a.doc_mut(), "x", "From A", None, 1.0).unwrap();
        a.doc_mut().commit();
        create(b.doc_mut(), "y", "From B", None, 1.0).unwrap();
        b.doc_mut().commit();
        let from_b = b.save();
        a.merge_bytes(&from_b).unwrap();
        let mut names: Vec<String> = read_entries(a.doc_mut(), None)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        names.sort();
        assert_eq!(names, vec!["From A".to_string(), "From B".to_string()]);
    }
}
