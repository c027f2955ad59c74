//! A shared notebook's own tree (docs/sharing.md, "The space's tree"):
//! the notebooks below the shared one, their names and places, and the
//! shared notebook's name, as one Automerge document of the space.
//!
//! It is the personal tree's shape (`notebook_doc`: a `notebooks` map of
//! id -> `{name, parent, position, deleted}`, written with the same
//! functions), plus the shared notebook's name as a register at its root
//! (`name`), under an id derived from the space's ([`space_tree_id`]). A
//! parent that is empty, or names no notebook of this document, means
//! "directly in the shared notebook". Every device of every member starts
//! it with the same genesis, so trees made apart merge into one map.
//!
//! The shared notebook itself stays in each member's personal tree: where
//! it sits in their own sidebar is theirs. The store's notebook rows are
//! derived from both ([`combine`]); cycles are broken by
//! `notebook_doc::resolve`, within each document and then once more over
//! the whole, so the rows depend only on the merged documents.

use std::collections::{BTreeMap, HashMap, HashSet};

use automerge::{transaction::Transactable, AutoCommit, ReadDoc, ScalarValue, Value, ROOT};
use sha2::{Digest, Sha256};

use crate::error::{CoreError, Result};
use crate::note_doc::NoteDoc;
use crate::notebook_doc::{resolve, NotebookEntry};
use crate::space::epoch::SpaceId;

/// Every space tree's id starts with this; the other 96 bits are the
/// space id's hash. It is not the reserved documents' prefix
/// (`00000000-0000-0000-0000-`), which a space never carries: a space
/// carries its own tree, and no other.
pub const SPACE_TREE_PREFIX: &str = "00000001-";

const GENESIS_ACTOR: &[u8] = b"cairn-space-tree";

/// The id of `space`'s tree document, the same on every member's device.
pub fn space_tree_id(space: &SpaceId) -> String {
    let mut h = Sha256::new();
    h.update(b"cairn-space-tree/v1\0");
    h.update(space.as_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes[3] = 1;
    bytes[4..].copy_from_slice(&digest[..12]);
    uuid::Uuid::from_bytes(bytes).to_string()
}

/// Whether `id` is some space's tree (not a note).
pub fn is_space_tree(id: &str) -> bool {
    id.starts_with(SPACE_TREE_PREFIX)
}

/// The tree document `id` as every device first makes it.
pub(crate) fn genesis(id: &str, actor: &[u8]) -> Result<NoteDoc> {
    crate::reserved_doc::genesis(id, GENESIS_ACTOR, actor, "space-tree", "notebooks")
}

/// The shared notebook's name as the document holds it (None: never set).
pub(crate) fn read_name(doc: &AutoCommit) -> Option<String> {
    match doc.get(ROOT, "name") {
        Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
            ScalarValue::Str(n) if !n.is_empty() => Some(n.to_string()),
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn set_name(doc: &mut AutoCommit, id: &str, name: &str) -> Result<()> {
    doc.put(ROOT, "name", name)
        .map_err(|source| CoreError::Document {
            id: id.to_string(),
            source: Box::new(source),
        })
}

/// One space's tree as read for the store's rows.
#[derive(Debug, Clone, PartialEq)]
pub struct SpaceTree {
    /// The shared notebook's id (`label::notebook_id`).
    pub root: String,
    pub name: Option<String>,
    pub entries: Vec<NotebookEntry>,
}

/// Where a notebook comes from when both kinds of tree name it: a live
/// one of a space, then a live personal one, then a deleted one of a
/// space, then a deleted personal one.
fn rank(space: bool, deleted: bool) -> u8 {
    match (space, deleted) {
        (true, false) => 3,
        (false, false) => 2,
        (true, true) => 1,
        (false, true) => 0,
    }
}

/// Whether the personal tree lets `root`'s space tree hold `id`: the
/// personal tree does not have it, or has it (raw parents) below `root`.
/// A space's writer may know ids of this user's own notebooks (from a
/// note's history); such an id named in the space's tree must not pull
/// that notebook, and its notes, into the space.
fn personal_allows(by_id: &HashMap<&str, &NotebookEntry>, id: &str, root: &str) -> bool {
    let Some(mut at) = by_id.get(id).copied() else {
        return true;
    };
    let mut seen = HashSet::new();
    while let Some(p) = at.parent.as_deref() {
        if p == root {
            return true;
        }
        if !seen.insert(p) {
            return false;
        }
        match by_id.get(p) {
            Some(e) => at = e,
            None => return false,
        }
    }
    false
}

/// The notebooks `entries` (a space's tree) hold live that the personal
/// tree keeps outside `root`, the shared notebook: ones this member took
/// out of the share (or a writer named from a note's history). Their own
/// tree wins on their device ([`combine`]), so while the space's tree
/// also holds them live this member's view and the others' differ: a
/// notebook moved out by one member while another moved it back in. The
/// member's device retires them from the space's tree again
/// (`Store::retake_own_notebooks`), as the move out did, so every member
/// ends with the same tree and nothing of this member's is pulled into the
/// share.
pub fn taken_back(
    personal: &[NotebookEntry],
    root: &str,
    entries: &[NotebookEntry],
) -> Vec<String> {
    let by_id: HashMap<&str, &NotebookEntry> =
        personal.iter().map(|e| (e.id.as_str(), e)).collect();
    entries
        .iter()
        .filter(|e| !e.deleted && e.id != root && !personal_allows(&by_id, &e.id, root))
        .map(|e| e.id.clone())
        .collect()
}

/// The notebook rows: the personal tree, each space's notebooks under its
/// shared notebook (or shown deleted while the shared notebook is not
/// live here), the shared notebook named as its space's tree says, and
/// every parent resolved. A notebook that two spaces' trees hold live is
/// in neither (one space must not pull another's notebook, and its notes,
/// into itself); one that a space names but the personal tree keeps
/// elsewhere stays where the personal tree has it.
pub fn combine(personal: &[NotebookEntry], spaces: &[SpaceTree]) -> Vec<NotebookEntry> {
    let by_id: HashMap<&str, &NotebookEntry> =
        personal.iter().map(|e| (e.id.as_str(), e)).collect();
    let roots: HashSet<&str> = spaces.iter().map(|t| t.root.as_str()).collect();
    let mut claims: HashMap<&str, usize> = HashMap::new();
    for t in spaces {
        let ids: HashSet<&str> = t
            .entries
            .iter()
            .filter(|e| !e.deleted)
            .map(|e| e.id.as_str())
            .collect();
        for id in ids {
            *claims.entry(id).or_default() += 1;
        }
    }
    let mut out: BTreeMap<String, (u8, NotebookEntry)> = resolve(personal)
        .into_iter()
        .map(|e| (e.id.clone(), (rank(false, e.deleted), e)))
        .collect();
    for t in spaces {
        let root_live = match out.get_mut(&t.root) {
            Some((_, r)) => {
                if let Some(name) = &t.name {
                    r.name = name.clone();
                }
                !r.deleted
            }
            None => false,
        };
        let subs: Vec<NotebookEntry> = t
            .entries
            .iter()
            .filter(|e| {
                !roots.contains(e.id.as_str())
                    && claims.get(e.id.as_str()).copied().unwrap_or(0) <= 1
                    && personal_allows(&by_id, &e.id, &t.root)
            })
            .cloned()
            .collect();
        for mut e in resolve(&subs) {
            e.parent = Some(e.parent.unwrap_or_else(|| t.root.clone()));
            e.deleted = e.deleted || !root_live;
            let r = rank(true, e.deleted);
            if out.get(&e.id).is_none_or(|(have, _)| r > *have) {
                out.insert(e.id.clone(), (r, e));
            }
        }
    }
    // Once more over the whole: a personal notebook put under a space's
    // notebook while that space's notebook sits under it makes a loop no
    // single document shows.
    let all: Vec<NotebookEntry> = out.into_values().map(|(_, e)| e).collect();
    resolve(&all)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by design
mod tests {
    use super::*;

    fn nb(id: &str, parent: Option<&str>, deleted: bool) -> NotebookEntry {
        NotebookEntry {
            id: id.into(),
            name: id.into(),
            parent: parent.map(str::to_string),
            position: 0.0,
            deleted,
        }
    }

    fn shown(v: &[NotebookEntry]) -> Vec<(String, Option<String>, bool)> {
        v.iter()
            .map(|e| (e.id.clone(), e.parent.clone(), e.deleted))
            .collect()
    }

    #[test]
    fn a_space_tree_id_is_its_spaces_own_and_not_a_reserved_one() {
        let s = SpaceId::generate();
        let id = space_tree_id(&s);
        assert!(crate::store::validate_note_id(&id).is_ok());
        assert!(is_space_tree(&id));
        assert_eq!(space_tree_id(&s), id);
        assert_ne!(space_tree_id(&SpaceId::generate()), id);
        assert!(!id.starts_with("00000000-0000-0000-0000-"));
        assert!(!is_space_tree(&uuid::Uuid::new_v4().to_string()) || id.len() == 36);
    }

    #[test]
    fn a_notebook_the_personal_tree_keeps_elsewhere_is_taken_back_from_the_space() {
        let personal = vec![
            nb("r", None, false),
            // Taken out of the share: live here, outside it.
            nb("mine", None, false),
            // Taken out and then deleted: still this member's.
            nb("gone", Some("mine"), true),
            // Shared from here: deleted here, under the shared notebook.
            nb("trips", Some("r"), true),
        ];
        let entries = vec![
            nb("mine", None, false),
            nb("gone", Some("mine"), false),
            nb("trips", None, false),
            nb("new", Some("trips"), false),
            // Already retired: nothing to do.
            nb("old", None, true),
        ];
        assert_eq!(
            taken_back(&personal, "r", &entries),
            vec!["mine".to_string(), "gone".to_string()]
        );
        let mut retired = entries.clone();
        for e in &mut retired {
            if e.id == "mine" || e.id == "gone" {
                e.deleted = true;
            }
        }
        assert!(taken_back(&personal, "r", &retired).is_empty());
    }

    #[test]
    fn a_spaces_notebooks_sit_under_its_shared_notebook_and_loops_break_inside_it() {
        let personal = vec![nb("home", None, false), nb("r", Some("home"), false)];
        let tree = SpaceTree {
            root: "r".into(),
            name: Some("Family".into()),
            entries: vec![
                nb("a", Some("b"), false),
                nb("b", Some("a"), false),
                nb("c", Some("a"), false),
                nb("d", None, false),
                nb("e", Some("home"), false),
            ],
        };
        let got = combine(&personal, &[tree]);
        assert_eq!(
            shown(&got),
            vec![
                ("a".into(), Some("r".into()), false),
                ("b".into(), Some("a".into()), false),
                ("c".into(), Some("a".into()), false),
                ("d".into(), Some("r".into()), false),
                // A parent outside the space is the shared notebook.
                ("e".into(), Some("r".into()), false),
                ("home".into(), None, false),
                ("r".into(), Some("home".into()), false),
            ]
        );
        assert_eq!(got.iter().find(|e| e.id == "r").unwrap().name, "Family");
    }

    #[test]
    fn a_space_cannot_take_an_own_notebook_or_another_spaces_and_adopted_ones_follow_it() {
        let personal = vec![
            nb("r", None, false),
            // Adopted when shared: deleted here, under the shared notebook.
            nb("trips", Some("r"), true),
            nb("diary", None, false),
            nb("r2", None, false),
        ];
        let spaces = vec![
            SpaceTree {
                root: "r".into(),
                name: None,
                entries: vec![
                    nb("trips", None, false),
                    nb("diary", Some("trips"), false),
                    nb("x", None, false),
                    nb("r2", None, false),
                ],
            },
            SpaceTree {
                root: "r2".into(),
                name: None,
                entries: vec![nb("x", None, false)],
            },
        ];
        let got = combine(&personal, &spaces);
        assert_eq!(
            shown(&got),
            vec![
                ("diary".into(), None, false),
                ("r".into(), None, false),
                ("r2".into(), None, false),
                ("trips".into(), Some("r".into()), false),
            ]
        );
        // The shared notebook deleted here: its space's notebooks with it.
        let mut gone = personal.clone();
        gone[0].deleted = true;
        let got = combine(&gone, &spaces[..1]);
        assert!(got.iter().find(|e| e.id == "trips").unwrap().deleted);
    }
}
