//! Property: three members' stores of one space make random concurrent
//! creations, renames, moves (moves that would loop once merged, and
//! moves into and out of the shared notebook, included) and deletions of
//! notebooks, and swap the space's tree in random orders. At every step
//! each store shows a tree with no loop; after a full exchange all three
//! show the same notebooks, names and places inside the shared notebook.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::collections::HashSet;

use cairn_core::space::chain::Checkpoint;
use cairn_core::space::epoch::SpaceId;
use cairn_core::space::local::{LocalSpace, Standing};
use cairn_core::space::record::Role;
use cairn_core::space::tree::space_tree_id;
use cairn_core::{NewNotebook, Store, StoreOptions};
use proptest::prelude::*;

mod tree_steps;

use tree_steps::{allowed, common_step, pick, step, Replica, Step};

const N: usize = 3;

/// The changes to the space's tree `from` has that `to` had not seen.
fn message(from: &mut Store, tree: &str, seen: &mut Vec<String>) -> Vec<(String, Vec<u8>)> {
    let bytes = from.changes_after(tree, seen).unwrap();
    *seen = from.heads(tree).unwrap();
    if bytes.is_empty() {
        Vec::new()
    } else {
        vec![(tree.to_owned(), bytes)]
    }
}

/// (id, name, shown parent) of every live notebook inside the shared
/// one, in tree order; the shared notebook's own place is each member's.
fn inside(store: &Store, root: &str) -> Vec<(String, String, Option<String>)> {
    let all = store.notebooks().unwrap();
    let below = cairn_core::notebooks::subtree(&all, root);
    all.into_iter()
        .filter(|n| below.contains(&n.id))
        .map(|n| {
            let parent = n.parent.filter(|_| n.id != root);
            (n.id, n.name, parent)
        })
        .collect()
}

fn check_replica(store: &Store) {
    let mut seen = HashSet::new();
    for n in store.notebooks().unwrap() {
        if let Some(p) = &n.parent {
            assert!(seen.contains(p), "{} shown before its parent {p}", n.id);
        }
        assert!(seen.insert(n.id.clone()), "{} shown twice", n.id);
    }
}

fn run(steps: Vec<Step>) {
    let space = SpaceId::generate();
    let root = uuid::Uuid::new_v4().to_string();
    let tree = space_tree_id(&space);
    // The owner and an editor, and the editor's second device.
    let mut reps: Vec<Replica> = [Role::Owner, Role::Editor, Role::Editor]
        .into_iter()
        .map(|role| {
            let dir = tempfile::tempdir().unwrap();
            let mut store = Store::open_with(
                dir.path(),
                StoreOptions {
                    durable: false,
                    cache_docs: 4,
                    ..StoreOptions::default()
                },
            )
            .unwrap();
            store
                .create_notebooks(&[NewNotebook {
                    id: Some(root.clone()),
                    name: "Family".into(),
                    parent: None,
                }])
                .unwrap();
            let local = LocalSpace {
                space,
                notebook: Some(root.clone()),
                standing: Standing::Member,
                role,
                checkpoint: Checkpoint {
                    seq: 0,
                    hash: [0; 32],
                },
                invitation: None,
                label: None,
            };
            store.save_local_space(&local, &[]).unwrap();
            store.adopt_space_tree(&space).unwrap();
            Replica {
                _dir: dir,
                store,
                inbox: Vec::new(),
            }
        })
        .collect();
    let mut seen = vec![vec![Vec::<String>::new(); N]; N];
    for s in steps {
        if !common_step(&mut reps, &s) {
            match s {
                Step::Delete { replica, nb } => {
                    let st = &mut reps[replica % N].store;
                    // The shared notebook itself stays (deleting it, or a
                    // notebook of one's own it sits in, is each member's
                    // own, and hides the space's notebooks there).
                    let all = st.notebooks().unwrap();
                    if let Some(id) = pick(st, nb)
                        .filter(|id| !cairn_core::notebooks::subtree(&all, id).contains(&root))
                    {
                        allowed(st.delete_notebook(&id));
                    }
                }
                Step::Send { from, to } => {
                    let (from, to) = (from % N, to % N);
                    if from != to {
                        let msg = message(&mut reps[from].store, &tree, &mut seen[from][to]);
                        reps[to].inbox.push(msg);
                    }
                }
                _ => {}
            }
        }
        for r in &reps {
            check_replica(&r.store);
        }
    }
    for r in reps.iter_mut() {
        while let Some(msg) = r.inbox.pop() {
            r.store.merge_many(&msg).unwrap();
        }
    }
    for _ in 0..2 {
        for from in 0..N {
            for to in 0..N {
                if from != to {
                    let mut base = reps[to].store.heads(&tree).unwrap();
                    let msg = message(&mut reps[from].store, &tree, &mut base);
                    reps[to].store.merge_many(&msg).unwrap();
                }
            }
        }
    }
    let want = inside(&reps[0].store, &root);
    for r in &reps {
        check_replica(&r.store);
        assert_eq!(inside(&r.store, &root), want);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        ..ProptestConfig::default()
    })]

    #[test]
    fn members_converge_on_one_space_tree_without_loops(
        steps in proptest::collection::vec(step(false), 1..70),
    ) {
        run(steps);
    }
}
