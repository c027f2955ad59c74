//! The personal stream's snapshot, sealed in chunks (envelope version 3)
//! with each note's state beside its document, applied a batch at a time
//! as it is opened, against in-memory object storage:
//!
//! - a new device stores every note from the states, loading none;
//! - a snapshot cut off partway stores the batches it authenticated,
//!   records no position for the peer, and is read whole next round;
//! - an older device's snapshot (version 1, one sealed message, with its
//!   digest beside it) is read as before.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::sync::Mutex;

use cairn_core::crypto::ContentKey;
use cairn_core::sync::head::DeviceHead;
use cairn_core::sync::memory::MemoryStorage;
use cairn_core::sync::object::{self, ObjectKind};
use cairn_core::sync::stream_object::{STREAM_FORMAT_VERSION, STREAM_HEADER_LEN};
use cairn_core::sync::{bundle, run_round, FailureCode};
use cairn_core::{testing, ImportNote, ListQuery, NewNote, Store};
use cairn_protocol::DeviceKey;

/// More than two batches (`snapshot_apply::BATCH_ENTRIES` is 1,000).
const NOTES: usize = 2_300;

fn device(key: &ContentKey) -> (tempfile::TempDir, Mutex<Store>) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = testing::open_scratch(dir.path()).unwrap();
    store.set_content_key(Some(key.clone()));
    (dir, Mutex::new(store))
}

fn round(
    storage: &MemoryStorage,
    store: &Mutex<Store>,
    me: &str,
    peer: &str,
) -> cairn_core::sync::RoundReport {
    run_round(store, &mut storage.device(me), me, &[peer.to_string()]).unwrap()
}

fn fill(store: &Mutex<Store>) {
    let notes = (0..NOTES)
        .map(|i| ImportNote {
            id: None,
            note: NewNote {
                // About a kilobyte each: the snapshot spans a few chunks.
                body: format!(
                    "Note {i}\nthe text of note number {i}\n{}",
                    "a line of filler text, ".repeat(45)
                ),
                tags: vec![format!("t{}", i % 7)],
                ..NewNote::default()
            },
            notebook: None,
            links: Default::default(),
        })
        .collect();
    store.lock().unwrap().create_notes(notes).unwrap();
}

fn head_of(storage: &MemoryStorage, dev: &str, key: &ContentKey) -> DeviceHead {
    let obj = object::decode(&storage.object(dev, DeviceKey::Head).unwrap()).unwrap();
    DeviceHead::from_json(&object::plaintext(&obj, dev, "head", Some(key)).unwrap()).unwrap()
}

fn listed(store: &Mutex<Store>) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = store
        .lock()
        .unwrap()
        .list(&ListQuery::default())
        .unwrap()
        .into_iter()
        .map(|n| (n.id, n.title))
        .collect();
    rows.sort();
    rows
}

#[test]
fn a_snapshot_lands_in_batches_from_its_states_and_a_cut_one_is_read_again() {
    let storage = MemoryStorage::default();
    let key = ContentKey::generate();
    let (_a_dir, a) = device(&key);
    fill(&a);
    let published = round(&storage, &a, "A", "B");
    assert!(published.published.is_some());
    let head = head_of(&storage, "A", &key);
    let r = head
        .snapshot
        .clone()
        .expect("the first publish is a snapshot");
    assert!(head.digest.is_none(), "the states travel in the snapshot");
    let slot = DeviceKey::snapshot(r.slot).unwrap();
    let whole = storage.object("A", slot).unwrap();
    assert_eq!(whole[4], STREAM_FORMAT_VERSION);

    // Cut off after about half its chunks' bytes: what came before the cut
    // was authenticated chunk by chunk and is stored; the peer's position
    // is not, so the round reports the peer and the next reads it again.
    let (_b_dir, b) = device(&key);
    let cut = STREAM_HEADER_LEN + (whole.len() - STREAM_HEADER_LEN) * 6 / 10;
    storage.put_raw("A", slot, whole[..cut].to_vec());
    let report = round(&storage, &b, "B", "A");
    let failure = report.peers[0]
        .error
        .as_ref()
        .expect("a cut snapshot fails");
    assert_eq!(failure.code(), FailureCode::BadObject, "{failure}");
    let partial = listed(&b).len();
    assert!(
        partial > 0 && partial < NOTES,
        "{partial} notes after the cut"
    );
    assert_eq!(b.lock().unwrap().peer_state("A").unwrap().applied_seq, 0);

    storage.put_raw("A", slot, whole);
    let report = round(&storage, &b, "B", "A");
    assert!(report.ok(), "{report:?}");
    assert_eq!(listed(&b), listed(&a));
    assert_eq!(
        b.lock().unwrap().peer_state("A").unwrap().applied_seq,
        r.seq
    );

    // Read whole, as a tool or an older path does, it is the documents.
    let whole_bundle = cairn_core::sync::reader::open_object(
        "A",
        &slot.relative(),
        &r,
        ObjectKind::Snapshot,
        &storage.object("A", slot).unwrap(),
        Some(&key),
    )
    .unwrap()
    .expect("the head's snapshot");
    assert!(
        whole_bundle.len() >= NOTES,
        "{} documents",
        whole_bundle.len()
    );

    // A device new to the account stores every note without loading one.
    let (_c_dir, c) = device(&key);
    let report = round(&storage, &c, "C", "A");
    assert!(report.ok(), "{report:?}");
    assert_eq!(listed(&c), listed(&a));
    let c = c.into_inner().unwrap();
    assert_eq!(c.note_documents_loaded(), 0);
    assert_eq!(c.unchecked_notes().unwrap(), NOTES as u64);
    assert_eq!(
        c.search("number 1234", 5).unwrap().len(),
        1,
        "the search index is written from the states"
    );
}

#[test]
fn an_older_devices_snapshot_in_one_piece_is_read_as_before() {
    let storage = MemoryStorage::default();
    let key = ContentKey::generate();
    let (_a_dir, a) = device(&key);
    for i in 0..5 {
        a.lock()
            .unwrap()
            .create_note(&format!("Old {i}\nwritten by an older Cairn"))
            .unwrap();
    }
    round(&storage, &a, "A", "B");
    // Rewrite A's snapshot as an older Cairn wrote it: the bundle of
    // documents as one sealed message (version 1), no states.
    let mut head = head_of(&storage, "A", &key);
    let mut r = head.snapshot.clone().unwrap();
    let slot = DeviceKey::snapshot(r.slot).unwrap();
    let stored = object::decode(&storage.object("A", slot).unwrap()).unwrap();
    let plain = cairn_core::sync::personal_object::PersonalKeys::content(Some(key.clone()))
        .open(&stored, "A", &slot.relative())
        .unwrap();
    let mut reader =
        cairn_core::sync::snapshot_entries::EntryReader::new(&plain[..], plain.len()).unwrap();
    let mut entries = Vec::new();
    while let Some(e) = reader.next_entry().unwrap() {
        entries.push((e.id, e.doc));
    }
    let old = object::encode_for(
        ObjectKind::Snapshot,
        r.seq,
        "A",
        &slot.relative(),
        Some(&key),
        &bundle::encode(&entries),
    );
    assert_eq!(old[4], object::FORMAT_VERSION);
    r.hash = object::encoded_hash_hex(&old);
    r.len = old.len() as u64;
    head.snapshot = Some(r);
    storage.put_raw("A", slot, old);
    storage.put_raw(
        "A",
        DeviceKey::Head,
        object::encode_for(
            ObjectKind::Head,
            head.seq,
            "A",
            "head",
            Some(&key),
            &head.to_json(),
        ),
    );

    let (_b_dir, b) = device(&key);
    let report = round(&storage, &b, "B", "A");
    assert!(report.ok(), "{report:?}");
    assert_eq!(listed(&b), listed(&a));
    // No states: every note was loaded from its document.
    let b = b.into_inner().unwrap();
    assert!(b.note_documents_loaded() >= 5);
    assert_eq!(b.unchecked_notes().unwrap(), 0);
}
