//! The notebook tree through the real sync engine: two devices that each
//! made notebooks before they ever synced end with one tree holding both,
//! and a note moved into a notebook on one device is there on the other.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::sync::Mutex;

use cairn_core::sync::{memory::MemoryStorage, run_round};
use cairn_core::{Place, Store};

#[test]
fn notebooks_made_apart_sync_into_one_tree() {
    let storage = MemoryStorage::default();
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Mutex::new(Store::open(da.path()).unwrap());
    let b = Mutex::new(Store::open(db.path()).unwrap());
    let work = a.lock().unwrap().create_notebook("Work", None).unwrap();
    let home = b.lock().unwrap().create_notebook("Home", None).unwrap();
    let note = b.lock().unwrap().create_note("Groceries").unwrap();
    b.lock().unwrap().move_note(&note, Some(&home)).unwrap();
    let (mut ta, mut tb) = (storage.device("A"), storage.device("B"));
    for _ in 0..2 {
        run_round(&a, &mut ta, "A", &["B".into()]).unwrap();
        run_round(&b, &mut tb, "B", &["A".into()]).unwrap();
    }
    let names = |s: &Mutex<Store>| -> Vec<String> {
        s.lock()
            .unwrap()
            .notebooks()
            .unwrap()
            .into_iter()
            .map(|n| n.path)
            .collect()
    };
    assert_eq!(names(&a), vec!["Home".to_string(), "Work".to_string()]);
    assert_eq!(names(&a), names(&b));
    let in_home = a
        .lock()
        .unwrap()
        .list_place(&Place::Notebook(home.clone()), false)
        .unwrap();
    assert_eq!(in_home.len(), 1);
    assert_eq!(in_home[0].id, note);
    // A moves Work under Home; B sees it after a round each.
    a.lock().unwrap().move_notebook(&work, Some(&home)).unwrap();
    run_round(&a, &mut ta, "A", &["B".into()]).unwrap();
    run_round(&b, &mut tb, "B", &["A".into()]).unwrap();
    assert_eq!(names(&b), vec!["Home".to_string(), "Home/Work".to_string()]);
    // The tree is no note on either side.
    assert_eq!(b.lock().unwrap().count(false).unwrap(), 1);
}
