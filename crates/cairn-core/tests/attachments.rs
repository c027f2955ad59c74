//! Attachments in the store: stored once per content, read back byte for
//! byte, carried to another device by the blob index in the change log,
//! refused when altered, and collected when no note refers to them.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::collections::HashMap;
use std::sync::Mutex;

use cairn_core::blob::attach::DEFAULT_MAX_ATTACHMENT;
use cairn_core::blob::transfer::{seal_slot, DEFAULT_BACKGROUND_LIMIT};
use cairn_core::blob::{BlobError, CHUNK_SIZE};
use cairn_core::crypto::ContentKey;
use cairn_core::sync::{memory::MemoryStorage, run_round};
use cairn_core::{CoreError, Store};

/// Slot objects by (device, slot): what the bucket would hold.
type Slots = HashMap<(String, u32), Vec<u8>>;

fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2_654_435_761)
                .rotate_left(seed as u32) as u8
        })
        .collect()
}

fn upload_all(store: &Mutex<Store>, me: &str, slots: &mut Slots) -> usize {
    let mut puts = 0;
    loop {
        let mut s = store.lock().unwrap();
        let Some(plan) = s.plan_blob_upload().unwrap() else {
            return puts;
        };
        let body = seal_slot(&s.blob_keys(), &s.chunk_files(), &plan).unwrap();
        assert_eq!(body.len() as u64, plan.sealed_size());
        slots.insert((me.to_owned(), plan.slot.get()), body);
        s.record_blob_upload(me, &plan).unwrap();
        puts += 1;
    }
}

fn download_all(store: &Mutex<Store>, slots: &Slots) -> Vec<String> {
    let mut s = store.lock().unwrap();
    let mut errors = Vec::new();
    for c in s.wanted_chunks(DEFAULT_BACKGROUND_LIMIT).unwrap() {
        let slot = &slots[&(c.location.device.clone(), c.location.slot.get())];
        let (at, len) = (c.location.offset as usize, c.location.len as usize);
        match c.open(&s.blob_keys(), &slot[at..at + len]) {
            Ok(plain) => s.store_downloaded_chunk(&c.id, &plain).unwrap(),
            Err(e) => {
                s.set_chunk_error(&c.id, &e.to_string()).unwrap();
                errors.push(e.to_string());
            }
        }
    }
    errors
}

fn sync(a: &Mutex<Store>, b: &Mutex<Store>, storage: &MemoryStorage) {
    for _ in 0..2 {
        run_round(a, &mut storage.device("A"), "A", &["B".into()]).unwrap();
        run_round(b, &mut storage.device("B"), "B", &["A".into()]).unwrap();
    }
}

fn pair(
    key: Option<ContentKey>,
) -> (
    tempfile::TempDir,
    tempfile::TempDir,
    Mutex<Store>,
    Mutex<Store>,
) {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Store::open(da.path()).unwrap();
    let b = Store::open(db.path()).unwrap();
    let (a, b) = (Mutex::new(a), Mutex::new(b));
    a.lock().unwrap().set_content_key(key.clone());
    b.lock().unwrap().set_content_key(key);
    (da, db, a, b)
}

fn read_back(s: &Mutex<Store>, id: &str) -> Vec<u8> {
    let mut out = Vec::new();
    s.lock().unwrap().write_attachment(id, &mut out).unwrap();
    out
}

#[test]
fn an_attachment_reaches_the_other_device_with_identical_bytes() {
    let (da, _db, a, b) = pair(Some(ContentKey::generate()));
    let note = a.lock().unwrap().create_note("Receipts").unwrap();
    let data = bytes(2 * CHUNK_SIZE + 12_345, 3);
    let file = da.path().join("scan.png");
    std::fs::write(&file, &data).unwrap();
    let rec = a
        .lock()
        .unwrap()
        .attach_file(&note, &file, DEFAULT_MAX_ATTACHMENT)
        .unwrap();
    assert_eq!(rec.chunks.len(), 3);
    let body = a.lock().unwrap().get(&note).unwrap().body;
    assert!(
        body.ends_with(&format!("![scan.png](attachment:{})\n", rec.id)),
        "{body}"
    );
    assert_eq!(read_back(&a, &rec.id), data);

    let mut slots = Slots::new();
    assert_eq!(
        upload_all(&a, "A", &mut slots),
        1,
        "three chunks fit one slot"
    );
    let storage = MemoryStorage::default();
    sync(&a, &b, &storage);
    let listed = b.lock().unwrap().attachments(Some(&note)).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "scan.png");
    assert_eq!(listed[0].media_type, "image/png");
    assert_eq!(listed[0].size, data.len() as u64);
    assert!(!listed[0].local);
    let err = b
        .lock()
        .unwrap()
        .write_attachment(&rec.id, &mut Vec::new())
        .unwrap_err();
    assert!(
        matches!(err, CoreError::Attachment(BlobError::NotLocal { .. })),
        "{err}"
    );
    assert!(download_all(&b, &slots).is_empty());
    assert!(b.lock().unwrap().attachment(&rec.id).unwrap().local);
    assert_eq!(read_back(&b, &rec.id), data);
    assert_eq!(
        b.lock()
            .unwrap()
            .blob_bytes_remaining(DEFAULT_BACKGROUND_LIMIT)
            .unwrap(),
        0
    );
}

#[test]
fn the_same_file_attached_twice_or_on_two_devices_is_uploaded_once() {
    let (da, db, a, b) = pair(Some(ContentKey::generate()));
    let data = bytes(CHUNK_SIZE + 10, 5);
    let (fa, fb) = (da.path().join("a.pdf"), db.path().join("b.pdf"));
    std::fs::write(&fa, &data).unwrap();
    std::fs::write(&fb, &data).unwrap();
    let n1 = a.lock().unwrap().create_note("one").unwrap();
    let n2 = a.lock().unwrap().create_note("two").unwrap();
    let r1 = a.lock().unwrap().attach_file(&n1, &fa, u64::MAX).unwrap();
    let r2 = a.lock().unwrap().attach_file(&n2, &fa, u64::MAX).unwrap();
    assert_ne!(r1.id, r2.id);
    assert_eq!(r1.chunks, r2.chunks);
    let mut slots = Slots::new();
    assert_eq!(upload_all(&a, "A", &mut slots), 1);
    assert_eq!(slots.values().next().unwrap().len() as u64, {
        let plan_size: u64 = r1
            .chunks
            .iter()
            .map(|c| cairn_core::blob::seal::sealed_len(c.len as usize) as u64)
            .sum();
        plan_size
    });
    let storage = MemoryStorage::default();
    sync(&a, &b, &storage);
    // B attaches the same bytes after learning where A put them: nothing new
    // to upload.
    let n3 = b.lock().unwrap().create_note("three").unwrap();
    b.lock().unwrap().attach_file(&n3, &fb, u64::MAX).unwrap();
    assert_eq!(upload_all(&b, "B", &mut slots), 0);
    assert_eq!(slots.len(), 1);
}

#[test]
fn an_altered_chunk_is_refused_and_never_stored() {
    let (da, _db, a, b) = pair(None);
    let note = a.lock().unwrap().create_note("n").unwrap();
    let file = da.path().join("f.bin");
    std::fs::write(&file, bytes(100_000, 1)).unwrap();
    let rec = a
        .lock()
        .unwrap()
        .attach_file(&note, &file, u64::MAX)
        .unwrap();
    let mut slots = Slots::new();
    upload_all(&a, "A", &mut slots);
    for v in slots.values_mut() {
        v[5_000] ^= 0x40;
    }
    sync(&a, &b, &MemoryStorage::default());
    let errors = download_all(&b, &slots);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("altered or damaged"), "{}", errors[0]);
    let s = b.lock().unwrap();
    assert!(!s.attachment(&rec.id).unwrap().local);
    assert!(s
        .attachment_error(&rec.id)
        .unwrap()
        .unwrap()
        .contains("altered"));
}

#[test]
fn a_file_over_the_limit_is_refused_before_anything_is_written() {
    let (da, _db, a, _b) = pair(None);
    let note = a.lock().unwrap().create_note("n").unwrap();
    let file = da.path().join("big.bin");
    std::fs::write(&file, bytes(5000, 1)).unwrap();
    let err = a
        .lock()
        .unwrap()
        .attach_file(&note, &file, 4999)
        .unwrap_err();
    assert!(
        matches!(err, CoreError::Attachment(BlobError::TooLarge { .. })),
        "{err}"
    );
    assert!(!da.path().join("blobs").exists());
    assert!(a.lock().unwrap().attachments(None).unwrap().is_empty());
}

/// The app's way: the record goes into the note and the body is left for
/// the editor to put the reference at the cursor; a placeholder can tell
/// how much of it is here.
#[test]
fn an_attachment_added_without_a_reference_leaves_the_body_and_counts_its_local_bytes() {
    let (_da, _db, a, b) = pair(Some(ContentKey::generate()));
    let note = a.lock().unwrap().create_note("Shots").unwrap();
    let data = bytes(CHUNK_SIZE + 10, 5);
    let rec = a
        .lock()
        .unwrap()
        .attach_unreferenced(&note, "shot.png", &data[..], DEFAULT_MAX_ATTACHMENT)
        .unwrap();
    assert_eq!(rec.media_type, "image/png");
    assert_eq!(a.lock().unwrap().get(&note).unwrap().body, "Shots");
    assert_eq!(
        cairn_core::blob::attach::reference(&rec),
        format!("![shot.png](attachment:{})", rec.id)
    );
    assert_eq!(
        a.lock().unwrap().attachment_local_bytes(&rec.id).unwrap(),
        data.len() as u64
    );
    let too_big = a
        .lock()
        .unwrap()
        .attach_unreferenced(&note, "big.bin", &data[..], 100)
        .unwrap_err();
    assert!(
        matches!(too_big, CoreError::Attachment(BlobError::TooLarge { .. })),
        "{too_big}"
    );
    let mut slots = Slots::new();
    upload_all(&a, "A", &mut slots);
    sync(&a, &b, &MemoryStorage::default());
    assert_eq!(
        b.lock().unwrap().attachment_local_bytes(&rec.id).unwrap(),
        0
    );
    a.lock().unwrap().trash(&note).unwrap();
    let trashed = a
        .lock()
        .unwrap()
        .attach_unreferenced(&note, "more.png", &b"x"[..], DEFAULT_MAX_ATTACHMENT)
        .unwrap_err();
    assert_eq!(trashed.code(), "note_trashed", "{trashed}");
}

#[test]
fn deleted_notes_lose_their_attachments_and_slots_are_emptied_after_peers_catch_up() {
    let (da, _db, a, b) = pair(Some(ContentKey::generate()));
    let keep = a.lock().unwrap().create_note("keep").unwrap();
    let drop = a.lock().unwrap().create_note("drop").unwrap();
    let (fk, fd) = (da.path().join("k.txt"), da.path().join("d.txt"));
    std::fs::write(&fk, b"kept bytes").unwrap();
    std::fs::write(&fd, b"dropped bytes").unwrap();
    a.lock().unwrap().attach_file(&keep, &fk, u64::MAX).unwrap();
    let mut slots = Slots::new();
    upload_all(&a, "A", &mut slots);
    let rd = a.lock().unwrap().attach_file(&drop, &fd, u64::MAX).unwrap();
    upload_all(&a, "A", &mut slots);
    assert_eq!(slots.len(), 2, "one slot per upload");
    let storage = MemoryStorage::default();
    sync(&a, &b, &storage);
    a.lock().unwrap().trash(&drop).unwrap();
    a.lock().unwrap().empty_trash().unwrap();
    assert!(a.lock().unwrap().attachment(&rd.id).is_err());
    let first = a.lock().unwrap().collect_blobs("A").unwrap();
    assert_eq!(first.chunks_dropped, 1);
    assert!(
        first.slots_to_empty.is_empty(),
        "B has not merged the removal yet"
    );
    sync(&a, &b, &storage);
    let second = a.lock().unwrap().collect_blobs("A").unwrap();
    assert_eq!(second.slots_to_empty.len(), 1);
    let slot = second.slots_to_empty[0];
    a.lock().unwrap().record_slot_emptied(slot).unwrap();
    // The kept attachment's slot stays live and is not reused.
    let files_left: Vec<_> = walk(&da.path().join("blobs"));
    assert_eq!(files_left.len(), 1);
    std::fs::write(&fd, b"new bytes").unwrap();
    let again = a.lock().unwrap().attach_file(&keep, &fd, u64::MAX).unwrap();
    let plan = a.lock().unwrap().plan_blob_upload().unwrap().unwrap();
    assert_eq!(plan.slot, slot, "the emptied slot is reused");
    assert_eq!(plan.generation, 1);
    assert_eq!(plan.chunks[0].0, again.chunks[0].id);
}

/// A reference taken out of a note's text stays in the note's kept
/// versions (its history), so the attachment must outlive garbage
/// collection: restoring the version brings back a working image. The
/// record stays in the note until the note is deleted for good, which is
/// what keeps its chunks referenced.
#[test]
fn an_attachment_only_an_older_version_refers_to_survives_collection() {
    let (_da, _db, a, b) = pair(Some(ContentKey::generate()));
    let note = a.lock().unwrap().create_note("Trip").unwrap();
    let data = bytes(70_000, 9);
    let rec = a
        .lock()
        .unwrap()
        .attach_unreferenced(&note, "map.png", &data[..], DEFAULT_MAX_ATTACHMENT)
        .unwrap();
    let with_image = format!("Trip\n{}\n", cairn_core::blob::attach::reference(&rec));
    a.lock().unwrap().set_body(&note, &with_image).unwrap();
    let mut slots = Slots::new();
    upload_all(&a, "A", &mut slots);
    let storage = MemoryStorage::default();
    sync(&a, &b, &storage);
    let version = a
        .lock()
        .unwrap()
        .history(&note)
        .unwrap()
        .last()
        .unwrap()
        .version
        .clone();
    a.lock().unwrap().set_body(&note, "Trip\n").unwrap();
    sync(&a, &b, &storage);
    for (s, me) in [(&a, "A"), (&b, "B")] {
        let collected = s.lock().unwrap().collect_blobs(me).unwrap();
        assert_eq!(collected.chunks_dropped, 0);
        assert!(collected.slots_to_empty.is_empty());
    }
    assert_eq!(read_back(&a, &rec.id), data);
    assert!(a.lock().unwrap().restore_version(&note, &version).unwrap());
    assert_eq!(a.lock().unwrap().get(&note).unwrap().body, with_image);
    assert_eq!(read_back(&a, &rec.id), data);
    // B, which had not downloaded it yet, still can.
    assert!(download_all(&b, &slots).is_empty());
    assert_eq!(read_back(&b, &rec.id), data);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_store_from_before_attachments_opens_with_its_notes_and_takes_attachments() {
    let d = tempfile::tempdir().unwrap();
    let note = Store::open(d.path())
        .unwrap()
        .create_note("old note")
        .unwrap();
    {
        let c = rusqlite::Connection::open(d.path().join(cairn_core::DB_FILE)).unwrap();
        c.execute_batch(
            "DROP TABLE attachment; DROP TABLE attachment_chunk; DROP TABLE blob_location;
             DROP TABLE blob_local; DROP TABLE blob_slot; DROP TABLE blob_wanted;
             DROP TABLE blob_error; DROP TABLE blob_slot_freed;
             DROP TABLE sharing_pin; DROP TABLE space_sync_self; DROP TABLE space_sync_peer;
             DROP TABLE space_doc; DROP TABLE space_key; DROP TABLE space_record; DROP TABLE space;
             DROP TABLE space_pending;
             ALTER TABLE doc DROP COLUMN state; ALTER TABLE doc DROP COLUMN unchecked;
             DROP TABLE blob_checked;
             PRAGMA user_version = 7;",
        )
        .unwrap();
    }
    let mut s = Store::open(d.path()).unwrap();
    assert_eq!(s.get(&note).unwrap().body, "old note");
    let file = d.path().join("a.txt");
    std::fs::write(&file, b"after the upgrade").unwrap();
    let r = s.attach_file(&note, &file, u64::MAX).unwrap();
    let mut out = Vec::new();
    s.write_attachment(&r.id, &mut out).unwrap();
    assert_eq!(out, b"after the upgrade");
}

#[test]
fn the_blob_index_is_not_a_note() {
    let (da, _db, a, _b) = pair(None);
    let note = a.lock().unwrap().create_note("n").unwrap();
    let file = da.path().join("x.txt");
    std::fs::write(&file, b"x").unwrap();
    a.lock()
        .unwrap()
        .attach_file(&note, &file, u64::MAX)
        .unwrap();
    let mut slots = Slots::new();
    upload_all(&a, "A", &mut slots);
    let s = a.lock().unwrap();
    let ids: Vec<String> = s
        .list(&cairn_core::ListQuery::default())
        .unwrap()
        .into_iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(ids, vec![note]);
    drop(s);
    assert!(a
        .lock()
        .unwrap()
        .get(cairn_core::BLOB_INDEX_DOC_ID)
        .is_err());
}
