//! The random steps of the notebook tree property tests
//! (`notebook_convergence.rs`, `space_tree_convergence.rs`): what a
//! replica does to its tree, and the swapping of changes between them.

#![allow(dead_code)] // each test uses its own part of it

use cairn_core::{CoreError, Store};
use proptest::prelude::*;

#[derive(Debug, Clone)]
pub enum Step {
    Create {
        replica: usize,
        parent: usize,
    },
    Rename {
        replica: usize,
        nb: usize,
        name: usize,
    },
    Move {
        replica: usize,
        nb: usize,
        parent: usize,
    },
    Delete {
        replica: usize,
        nb: usize,
    },
    MoveNote {
        replica: usize,
        note: usize,
        nb: usize,
    },
    Restore {
        replica: usize,
        note: usize,
    },
    Send {
        from: usize,
        to: usize,
    },
    Deliver {
        to: usize,
        pick: usize,
    },
}

pub const NAMES: [&str; 4] = ["Work", "Home", "Ideas", "Archive"];
const NOTES: usize = 4;

/// A random step for up to 5 replicas (taken modulo their number); with
/// `notes`, note moves and restores too.
pub fn step(notes: bool) -> BoxedStrategy<Step> {
    let r = 0usize..5;
    let any = any::<usize>;
    let tree = prop_oneof![
        3 => (r.clone(), any()).prop_map(|(replica, parent)| Step::Create { replica, parent }),
        1 => (r.clone(), any(), 0usize..4).prop_map(|(replica, nb, name)| Step::Rename { replica, nb, name }),
        4 => (r.clone(), any(), any()).prop_map(|(replica, nb, parent)| Step::Move { replica, nb, parent }),
        1 => (r.clone(), any()).prop_map(|(replica, nb)| Step::Delete { replica, nb }),
        3 => (r.clone(), r.clone()).prop_map(|(from, to)| Step::Send { from, to }),
        3 => (r.clone(), any()).prop_map(|(to, pick)| Step::Deliver { to, pick }),
    ];
    if !notes {
        return tree.boxed();
    }
    prop_oneof![
        14 => tree,
        2 => (r.clone(), 0..NOTES, any()).prop_map(|(replica, note, nb)| Step::MoveNote { replica, note, nb }),
        1 => (r, 0..NOTES).prop_map(|(replica, note)| Step::Restore { replica, note }),
    ]
    .boxed()
}

/// A live notebook of this replica, picked by `i` (None: the top level,
/// or no notebook yet).
pub fn pick(store: &Store, i: usize) -> Option<String> {
    let all = store.notebooks().unwrap();
    let slot = i % (all.len() + 1);
    all.get(slot).map(|n| n.id.clone())
}

/// Errors a replica may refuse a step with: the notebook is gone here, or
/// the move would make a cycle on this replica.
pub fn allowed<T>(r: Result<T, CoreError>) {
    match r {
        Ok(_)
        | Err(CoreError::NotebookCycle { .. })
        | Err(CoreError::NotebookDeleted { .. })
        | Err(CoreError::NotebookNotFound { .. }) => {}
        Err(e) => panic!("unexpected error: {e}"),
    }
}

/// One store of the property tests, and the changes sent to it that it
/// has not taken in yet.
pub struct Replica {
    pub _dir: tempfile::TempDir,
    pub store: Store,
    pub inbox: Vec<Vec<(String, Vec<u8>)>>,
}

/// Performs `s` if it is a creation, rename or move of a notebook, or a
/// delivery of changes sent earlier; false for the other steps, which
/// each test performs its own way.
pub fn common_step(reps: &mut [Replica], s: &Step) -> bool {
    let n = reps.len();
    match *s {
        Step::Create { replica, parent } => {
            let st = &mut reps[replica % n].store;
            let p = pick(st, parent);
            allowed(st.create_notebook(NAMES[parent % NAMES.len()], p.as_deref()));
        }
        Step::Rename { replica, nb, name } => {
            let st = &mut reps[replica % n].store;
            if let Some(id) = pick(st, nb) {
                allowed(st.rename_notebook(&id, NAMES[name]));
            }
        }
        Step::Move {
            replica,
            nb,
            parent,
        } => {
            let st = &mut reps[replica % n].store;
            if let Some(id) = pick(st, nb) {
                let p = pick(st, parent);
                allowed(st.move_notebook(&id, p.as_deref()));
            }
        }
        Step::Deliver { to, pick } => {
            let r = &mut reps[to % n];
            if !r.inbox.is_empty() {
                let msg = r.inbox.remove(pick % r.inbox.len());
                r.store.merge_many(&msg).unwrap();
            }
        }
        _ => return false,
    }
    true
}
