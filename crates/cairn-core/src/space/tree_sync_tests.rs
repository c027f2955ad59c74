//! A space's tree through its stream, between three members' stores (the
//! owner, an editor, a viewer) over the in-memory storage: the notebooks
//! below a shared one, made before it was shared, reach every member with
//! their notes in place; renames, new notebooks and the shared notebook's
//! name come back; concurrent moves that would loop end in one tree with
//! no loop; a viewer changes nothing.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::collections::{HashMap, HashSet};

use crate::error::CoreError;
use crate::space::epoch::{EpochKey, SpaceId};
use crate::sync::memory::MemoryStorage;
use crate::sync::space_stream::tests::{round, space, Member};
use crate::Notebook;

fn tree(m: &Member) -> Vec<(String, String, Option<String>)> {
    let mut v: Vec<_> = m
        .store
        .lock()
        .unwrap()
        .notebooks()
        .unwrap()
        .into_iter()
        .map(|n| (n.id, n.path, n.parent))
        .collect();
    v.sort();
    v
}

fn path_of(m: &Member, id: &str) -> String {
    m.store.lock().unwrap().notebook(id).unwrap().path
}

fn place(m: &Member, note: &str) -> Option<String> {
    let s = m.store.lock().unwrap();
    s.places(&[note.to_owned()]).unwrap().remove(0).1
}

/// Every live notebook is reached once from the top: no loop.
fn no_loop(all: &[Notebook]) {
    let by: HashMap<&str, Option<&str>> = all
        .iter()
        .map(|n| (n.id.as_str(), n.parent.as_deref()))
        .collect();
    for n in all {
        let mut seen = HashSet::new();
        let mut at = Some(n.id.as_str());
        while let Some(x) = at {
            assert!(seen.insert(x), "a loop through {x}");
            at = by.get(x).copied().flatten();
        }
    }
}

fn rounds(m: &[Member], storage: &MemoryStorage, times: usize) {
    for _ in 0..times {
        for x in m {
            round(x, storage);
        }
    }
}

#[test]
fn a_shared_notebooks_tree_travels_renames_come_back_and_loops_never_form() {
    let notebook = uuid::Uuid::new_v4().to_string();
    let key = EpochKey::generate();
    let sid = SpaceId::generate();
    let m = space(&notebook, &key, sid);
    let (alice, bob, carol) = (&m[0], &m[1], &m[2]);
    let storage = MemoryStorage::default();

    // Alice's notebooks below the shared one, made before it was shared
    // (the space not yet bound to the notebook), each with a note.
    let (rome, y2026, top_note, rome_note, deep_note) = {
        let mut s = alice.store.lock().unwrap();
        let mut local = s.local_space(&sid).unwrap().unwrap();
        local.notebook = None;
        s.save_local_space(&local, &[]).unwrap();
        let rome = s.create_notebook("Rome", Some(&notebook)).unwrap();
        let y2026 = s.create_notebook("2026", Some(&rome)).unwrap();
        let mut note_in = |nb: &str, text: &str| {
            let n = s.create_note(text).unwrap();
            s.move_note(&n, Some(nb)).unwrap();
            n
        };
        let top = note_in(&notebook, "Packing list");
        let r = note_in(&rome, "Colosseum at nine");
        let d = note_in(&y2026, "Flights booked");
        local.notebook = Some(notebook.clone());
        s.save_local_space(&local, &[]).unwrap();
        s.adopt_space_tree(&sid).unwrap();
        // Adopting twice changes nothing.
        s.adopt_space_tree(&sid).unwrap();
        (rome, y2026, top, r, d)
    };
    assert_eq!(path_of(alice, &y2026), "Trips/Rome/2026");
    rounds(&m, &storage, 1);
    for who in [bob, carol] {
        assert_eq!(tree(who), tree(alice));
        assert_eq!(path_of(who, &y2026), "Trips/Rome/2026");
        assert_eq!(place(who, &top_note).as_deref(), Some(notebook.as_str()));
        assert_eq!(place(who, &rome_note).as_deref(), Some(rome.as_str()));
        assert_eq!(place(who, &deep_note).as_deref(), Some(y2026.as_str()));
    }

    // Bob (an editor) renames one and makes another with a note; Alice
    // renames the shared notebook itself.
    let (recipes, soup) = {
        let mut s = bob.store.lock().unwrap();
        s.rename_notebook(&rome, "Roma").unwrap();
        let recipes = s.create_notebook("Recipes", Some(&notebook)).unwrap();
        let soup = s.create_note("Minestrone").unwrap();
        s.move_note(&soup, Some(&recipes)).unwrap();
        (recipes, soup)
    };
    alice
        .store
        .lock()
        .unwrap()
        .rename_notebook(&notebook, "Holidays")
        .unwrap();
    rounds(&m, &storage, 2);
    for who in [alice, bob, carol] {
        assert_eq!(path_of(who, &y2026), "Holidays/Roma/2026");
        assert_eq!(path_of(who, &recipes), "Holidays/Recipes");
        assert_eq!(place(who, &soup).as_deref(), Some(recipes.as_str()));
    }

    // A viewer's change to the tree is refused where it is made.
    {
        let mut s = carol.store.lock().unwrap();
        for refused in [
            s.rename_notebook(&rome, "Carol's").unwrap_err(),
            s.rename_notebook(&notebook, "Carol's").unwrap_err(),
            s.create_notebook("Carol's", Some(&rome)).unwrap_err(),
            s.move_notebook(&rome, None).unwrap_err(),
            s.delete_notebook(&recipes).unwrap_err(),
        ] {
            assert!(
                matches!(refused, CoreError::SharedViewOnly { .. }),
                "{refused:?}"
            );
        }
    }

    // Concurrent moves that would loop once merged: Roma under Recipes
    // by Alice, Recipes under Roma by Bob.
    alice
        .store
        .lock()
        .unwrap()
        .move_notebook(&rome, Some(&recipes))
        .unwrap();
    bob.store
        .lock()
        .unwrap()
        .move_notebook(&recipes, Some(&rome))
        .unwrap();
    rounds(&m, &storage, 2);
    let want = tree(alice);
    for who in [alice, bob, carol] {
        assert_eq!(tree(who), want);
        let all = who.store.lock().unwrap().notebooks().unwrap();
        no_loop(&all);
        // Both stay inside the shared notebook.
        for id in [&rome, &recipes, &y2026] {
            assert!(path_of(who, id).starts_with("Holidays/"));
        }
    }

    // Moved out of the shared notebook, a notebook is the mover's own
    // again: gone from the others, its notes kept by the mover.
    {
        let mut s = alice.store.lock().unwrap();
        s.move_notebook(&y2026, None).unwrap();
        assert_eq!(s.notebook(&y2026).unwrap().path, "2026");
    }
    rounds(&m, &storage, 2);
    assert_eq!(place(alice, &deep_note).as_deref(), Some(y2026.as_str()));
    for who in [bob, carol] {
        assert!(who.store.lock().unwrap().notebook(&y2026).is_err());
    }
}

#[test]
fn a_notebook_moved_out_while_another_member_moved_it_back_in_ends_the_movers_on_every_device() {
    let notebook = uuid::Uuid::new_v4().to_string();
    let key = EpochKey::generate();
    let sid = SpaceId::generate();
    let m = space(&notebook, &key, sid);
    let (alice, bob, carol) = (&m[0], &m[1], &m[2]);
    let storage = MemoryStorage::default();
    let rome = bob
        .store
        .lock()
        .unwrap()
        .create_notebook("Rome", Some(&notebook))
        .unwrap();
    rounds(&m, &storage, 2);
    assert_eq!(path_of(alice, &rome), "Trips/Rome");

    // Bob takes Rome out and puts it back; Alice, not having seen that,
    // takes it out too, for herself.
    {
        let mut s = bob.store.lock().unwrap();
        s.move_notebook(&rome, None).unwrap();
        s.move_notebook(&rome, Some(&notebook)).unwrap();
        assert_eq!(s.notebook(&rome).unwrap().path, "Trips/Rome");
    }
    alice
        .store
        .lock()
        .unwrap()
        .move_notebook(&rome, None)
        .unwrap();
    rounds(&m, &storage, 3);

    // Bob's move back in made Rome again in the space's tree. Alice's own
    // tree keeps it, so her device retired it there once more: Rome is
    // hers, and the others no longer see it in the shared notebook.
    assert_eq!(path_of(alice, &rome), "Rome");
    for who in [bob, carol] {
        assert!(
            who.store.lock().unwrap().notebook(&rome).is_err(),
            "{:?}",
            tree(who)
        );
    }
    let inside = |who: &Member| -> Vec<_> {
        tree(who)
            .into_iter()
            .filter(|(_, path, _)| path.starts_with("Trips"))
            .collect()
    };
    assert_eq!(inside(bob), inside(alice));
    assert_eq!(inside(carol), inside(alice));
}
