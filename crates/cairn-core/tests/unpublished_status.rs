//! "On all devices" must never be said while a local edit is unpublished,
//! even when a merge compacts the note and folds that edit into a snapshot
//! written by the merge.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::sync::Mutex;

use cairn_core::sync::memory::{MemoryStorage, MemoryTransport};
use cairn_core::sync::{run_round, Fetched, Transport, TransportError, TransportErrorKind};
use cairn_core::{Store, DB_FILE};
use cairn_protocol::DeviceKey;

/// Reads go through; uploads fail as if the network dropped them.
struct NoUploads(MemoryTransport);

impl Transport for NoUploads {
    fn put(
        &mut self,
        _key: DeviceKey,
        _body: cairn_core::sync::Body,
    ) -> Result<(), TransportError> {
        Err(TransportError::new(
            TransportErrorKind::Offline,
            "no network",
        ))
    }
    fn get(
        &mut self,
        device: &str,
        key: DeviceKey,
        if_none_match: Option<&str>,
    ) -> Result<Fetched, TransportError> {
        self.0.get(device, key, if_none_match)
    }
}

fn open(dir: &std::path::Path) -> Mutex<Store> {
    Mutex::new(cairn_core::testing::open_scratch(dir).unwrap())
}

fn chunks_of(dir: &std::path::Path, id: &str) -> Vec<i64> {
    let conn = rusqlite::Connection::open(dir.join(DB_FILE)).unwrap();
    let mut stmt = conn
        .prepare("SELECT kind FROM chunk WHERE note_id = ?1 ORDER BY id")
        .unwrap();
    stmt.query_map([id], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn a_merge_that_compacts_keeps_an_unpublished_local_edit_counted() {
    let storage = MemoryStorage::default();
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (open(da.path()), open(db.path()));
    let peers_a = ["B".to_string()];
    let peers_b = ["A".to_string()];
    let id = a.lock().unwrap().create_note("shared").unwrap();
    run_round(&a, &mut storage.device("A"), "A", &peers_a).unwrap();
    run_round(&b, &mut storage.device("B"), "B", &peers_b).unwrap();
    run_round(&a, &mut storage.device("A"), "A", &peers_a).unwrap();
    run_round(&b, &mut storage.device("B"), "B", &peers_b).unwrap();
    assert!(
        b.lock()
            .unwrap()
            .sync_status(&peers_b)
            .unwrap()
            .on_all_devices
    );

    // B types a word; before it publishes, A pastes a page.
    b.lock().unwrap().splice(&id, 6, 0, " note").unwrap();
    let page = "lorem ipsum ".repeat(2_000);
    a.lock().unwrap().splice(&id, 0, 0, &page).unwrap();
    run_round(&a, &mut storage.device("A"), "A", &peers_a).unwrap();

    // B merges the page while its uploads fail: the merge folds B's
    // chunks, its unpublished edit among them, into one snapshot.
    let r = run_round(&b, &mut NoUploads(storage.device("B")), "B", &peers_b).unwrap();
    assert_eq!(r.changed_notes(), 1, "{r:?}");
    assert!(r.publish_error.is_some(), "{r:?}");
    assert_eq!(
        chunks_of(db.path(), &id).len(),
        1,
        "the merge compacted the note"
    );
    let st = b.lock().unwrap().sync_status(&peers_b).unwrap();
    assert!(st.pending_changes >= 1, "{st:?}");
    assert!(!st.on_all_devices, "{st:?}");

    // Once uploads work again, the edit goes out and A has it.
    run_round(&b, &mut storage.device("B"), "B", &peers_b).unwrap();
    run_round(&a, &mut storage.device("A"), "A", &peers_a).unwrap();
    run_round(&b, &mut storage.device("B"), "B", &peers_b).unwrap();
    assert!(a
        .lock()
        .unwrap()
        .get(&id)
        .unwrap()
        .body
        .ends_with("shared note"));
    let st = b.lock().unwrap().sync_status(&peers_b).unwrap();
    assert_eq!(st.pending_changes, 0, "{st:?}");
    assert!(st.on_all_devices, "{st:?}");
}
