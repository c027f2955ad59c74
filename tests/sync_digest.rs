//! A new device bootstraps from the states its peer's snapshot carries
//! beside each document (envelope version 3, a chunk at a time), without
//! loading a single note document, over the real service and the real S3
//! server:
//!
//! - every row a device shows (list, trash, search, backlinks, notebooks,
//!   attachments, tags) equals the first device's, and each note's content
//!   once opened; an edit made there reaches the first device; the same
//!   through `cairn sync`, whose runner downloads the snapshot to a file;
//! - a state that lies shows until the note is opened, then the
//!   document's truth, nothing lost;
//! - an older device's snapshot with its digest beside it (version 1) is
//!   read as before, and a corrupt or missing digest means the notes are
//!   loaded;
//! - a device older than this format is told a newer Cairn wrote it.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::sync::Mutex;

use cairn_core::note_doc::NoteState;
use cairn_core::sync::digest::{self, Digest};
use cairn_core::sync::head::DeviceHead;
use cairn_core::sync::object::{self, ObjectError, ObjectKind};
use cairn_core::sync::personal_object::PersonalKeys;
use cairn_core::sync::snapshot_entries::{self, EntryReader, SnapshotEntry};
use cairn_core::sync::{bundle, reader, run_round, Fetched, Transport};
use cairn_core::{ListQuery, NewNote, Store};
use cairn_protocol::DeviceKey;
use cairn_scenarios::cloud::Cloud;
use cairn_scenarios::device::Device;

/// Two devices of one account; A signed in first, so B's grant names A.
/// With the account's key, for devices that join later.
fn pair(cloud: &Cloud) -> (Device, Device, String) {
    let (a, b) = (Device::new("a"), Device::new("b"));
    let key = cloud.create_account(a.dir());
    a.login(cloud, &key);
    b.login(cloud, &key);
    (a, b, key)
}

/// A's notes: tags (given and inline), a pin, a notebook, a link, an
/// attachment record, a trashed and a deleted note, and some plain ones.
/// Returns (the linking note, the linked note).
fn fill(a: &Device) -> (String, String) {
    let mut s = a.store();
    let target = s
        .create_note("Target note\nlinked from the groceries")
        .unwrap();
    let nb = s.create_notebook("Kitchen", None).unwrap();
    let id = s
        .create_note_with(NewNote {
            body: "Groceries\n- milk #home\n- see [[Target note]]\n".into(),
            tags: vec!["errands".into()],
            pinned: true,
            ..NewNote::default()
        })
        .unwrap();
    s.move_note(&id, Some(&nb)).unwrap();
    let file = a.dir().join("receipt.txt");
    std::fs::write(&file, b"two litres of milk").unwrap();
    s.attach_file(&id, &file, 1 << 20).unwrap();
    let old = s.create_note("Old idea\nthrown away").unwrap();
    s.trash(&old).unwrap();
    let gone = s.create_note("Gone\nfor good").unwrap();
    s.delete(&gone).unwrap();
    for i in 0..20 {
        s.create_note(&format!("Plain {i}\nline {i} of the plain ones"))
            .unwrap();
    }
    (id, target)
}

/// Asks the service for `dev`'s grant and keeps it, as its first sync
/// would.
fn fetch_grant(dev: &Device, cloud: &Cloud) {
    let store = std::sync::Arc::new(Mutex::new(dev.store()));
    let mut agent = cairn_client::SyncAgent::new(dev.dir(), dev.session(cloud), store).unwrap();
    cloud.runtime().block_on(agent.refresh_grant()).unwrap();
}

/// One round of `dev` with `peers`, in this process (so the store's
/// counters can be read after it).
fn round(dev: &Device, cloud: &Cloud, peers: &[String]) -> Store {
    if !dev.dir().join("grant.json").exists() {
        fetch_grant(dev, cloud);
    }
    let mut store = dev.store();
    store.set_content_key(Some(dev.content_key()));
    let store = Mutex::new(store);
    let report = run_round(&store, &mut dev.transport(cloud), &dev.device_id(), peers).unwrap();
    assert!(report.ok(), "{report:?}");
    store.into_inner().unwrap()
}

fn keys(dev: &Device) -> PersonalKeys {
    PersonalKeys::content(Some(dev.content_key()))
}

fn fetch(dev: &Device, cloud: &Cloud, key: DeviceKey) -> Vec<u8> {
    match dev
        .transport(cloud)
        .get(&dev.device_id(), key, None)
        .unwrap()
    {
        Fetched::Found { body, .. } => body,
        other => panic!("{} is not there: {other:?}", key.relative()),
    }
}

fn head_of(a: &Device, cloud: &Cloud) -> DeviceHead {
    reader::decode_head(
        &a.device_id(),
        &fetch(a, cloud, DeviceKey::Head),
        Some(&a.content_key()),
    )
    .unwrap()
}

/// A's head as published, and its snapshot's entries.
fn published(a: &Device, cloud: &Cloud) -> (DeviceHead, Vec<SnapshotEntry>) {
    let head = head_of(a, cloud);
    let r = head.snapshot.clone().expect("a snapshot");
    let sk = DeviceKey::snapshot(r.slot).unwrap();
    let bytes = fetch(a, cloud, sk);
    assert_eq!(
        bytes[4],
        cairn_core::sync::stream_object::STREAM_FORMAT_VERSION
    );
    let obj = object::decode(&bytes).unwrap();
    let plain = keys(a).open(&obj, &a.device_id(), &sk.relative()).unwrap();
    let mut r = EntryReader::new(&plain[..], plain.len()).unwrap();
    let mut entries = Vec::new();
    while let Some(e) = r.next_entry().unwrap() {
        entries.push(e);
    }
    (head, entries)
}

/// Writes `snapshot` (its sealed bytes) in A's slot and the head naming
/// it, sealed with A's key, as A would.
fn republish(a: &Device, cloud: &Cloud, mut head: DeviceHead, snapshot: Vec<u8>) {
    let (id, key) = (a.device_id(), a.content_key());
    let mut r = head.snapshot.clone().unwrap();
    r.hash = object::encoded_hash_hex(&snapshot);
    r.len = snapshot.len() as u64;
    let sk = DeviceKey::snapshot(r.slot).unwrap();
    head.snapshot = Some(r);
    let mut t = a.transport(cloud);
    t.put(sk, snapshot.into()).unwrap();
    let head_body = object::encode_for(
        ObjectKind::Head,
        head.seq,
        &id,
        "head",
        Some(&key),
        &head.to_json(),
    );
    t.put(DeviceKey::Head, head_body.into()).unwrap();
}

/// What a device shows without opening a note: every derived row.
fn shown(s: &Store, linking: &str, linked: &str) -> serde_json::Value {
    // Notes modified in the same millisecond come in the order their rows
    // were written, which differs between devices: compared by id.
    let list = |trashed| {
        let mut notes = s
            .list(&ListQuery {
                trashed,
                ..ListQuery::default()
            })
            .unwrap();
        notes.sort_by(|x, y| x.id.cmp(&y.id));
        notes
    };
    let attachments: Vec<(String, String, u64)> = s
        .attachments(Some(linking))
        .unwrap()
        .into_iter()
        .map(|a| (a.id, a.name, a.size))
        .collect();
    // Results of equal rank come in the order the rows were written, which
    // is the snapshot's on a new device (with or without a digest).
    let search = |q: &str| {
        let mut found = s.search(q, 50).unwrap();
        found.sort_by(|x, y| x.id.cmp(&y.id));
        format!("{found:?}")
    };
    serde_json::json!({
        "list": format!("{:?}", list(false)),
        "trash": format!("{:?}", list(true)),
        "search": search("milk"),
        "search_plain": search("plain"),
        "tags": format!("{:?}", s.tags().unwrap()),
        "backlinks": format!("{:?}", s.backlinks(linked).unwrap()),
        "links": format!("{:?}", s.links(linking).unwrap()),
        "notebooks": format!("{:?}", s.notebooks().unwrap()),
        "places": format!("{:?}", s.places(&[linking.to_string()]).unwrap()),
        "attachments": format!("{attachments:?}"),
    })
}

#[test]
fn a_new_device_shows_every_note_from_the_states_without_loading_one() {
    let cloud = Cloud::start();
    let (a, b, account) = pair(&cloud);
    let (linking, linked) = fill(&a);
    let first = a.sync_ok();
    assert!(first.stdout.contains("(snapshot)"), "{first:?}");
    let (head, entries) = published(&a, &cloud);
    assert!(head.digest.is_none(), "no digest beside the snapshot");
    let ids = a.store().all_note_ids().unwrap();
    let notes: Vec<&SnapshotEntry> = entries.iter().filter(|e| ids.contains(&e.id)).collect();
    assert!(notes.len() >= 24, "{} notes", notes.len());
    assert!(notes.iter().all(|e| e.state.is_some()));

    // Through `cairn sync`, whose runner puts the snapshot in a file and
    // the store reads it from there; first, while A is the only device
    // with a head (a device stores the notes it took from states without
    // them in its own snapshot, which would then be loaded).
    let c = Device::new("c");
    c.login(&cloud, &account);
    c.sync_ok();
    let c_store = c.store();
    assert_eq!(c_store.unchecked_notes().unwrap(), notes.len() as u64);
    let leftovers: Vec<_> = std::fs::read_dir(c.dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // In this process, where the store counts the documents it loads.
    let b_store = round(&b, &cloud, &[a.device_id()]);
    assert_eq!(
        b_store.note_documents_loaded(),
        0,
        "the bootstrap loaded note documents"
    );
    assert_eq!(b_store.unchecked_notes().unwrap(), notes.len() as u64);
    let a_store = a.store();
    assert_eq!(
        shown(&b_store, &linking, &linked),
        shown(&a_store, &linking, &linked)
    );
    assert_eq!(
        shown(&c_store, &linking, &linked),
        shown(&a_store, &linking, &linked)
    );
    drop((a_store, b_store, c_store));

    // Opened, each note is the same document on both.
    assert_eq!(contents(&b), contents(&a));
    assert_eq!(
        b.store().unchecked_notes().unwrap(),
        0,
        "every note was opened"
    );

    // B edits a note; A sees the edit.
    b.store()
        .set_body(
            &linking,
            "Groceries\n- oat milk #home\n- see [[Target note]]\n",
        )
        .unwrap();
    b.sync_ok();
    a.sync_ok();
    assert_eq!(
        a.store().get(&linking).unwrap().body,
        "Groceries\n- oat milk #home\n- see [[Target note]]\n"
    );
    assert_eq!(contents(&a), contents(&b));
}

#[test]
fn a_lying_state_shows_until_the_note_is_opened_then_the_document_wins() {
    let cloud = Cloud::start();
    let (a, b, _) = pair(&cloud);
    let truth = a.store().create_note("Truth\nwhat the note says").unwrap();
    a.store().create_note("Other\nan honest one").unwrap();
    a.sync_ok();
    let (head, entries) = published(&a, &cloud);
    let r = head.snapshot.clone().unwrap();
    let mut states: Vec<Option<NoteState>> = entries.iter().map(|e| e.state.clone()).collect();
    let at = entries.iter().position(|e| e.id == truth).unwrap();
    let state = states[at].as_mut().unwrap();
    state.body = "Falsehood\nwhat the digest claims".into();
    state.pinned = true;
    let docs: Vec<(String, Vec<u8>)> = entries.into_iter().map(|e| (e.id, e.doc)).collect();
    let sk = DeviceKey::snapshot(r.slot).unwrap();
    let lying = keys(&a).seal_stream(
        ObjectKind::Snapshot,
        r.seq,
        &a.device_id(),
        &sk.relative(),
        &snapshot_entries::encode(&docs, &states),
    );
    republish(&a, &cloud, head, lying);

    let mut b_store = round(&b, &cloud, &[a.device_id()]);
    assert_eq!(b_store.note_documents_loaded(), 0);
    let row = |s: &Store| {
        s.list(&ListQuery::default())
            .unwrap()
            .into_iter()
            .find(|n| n.id == truth)
            .unwrap()
    };
    // Until it is opened, B shows what the state said...
    assert_eq!(row(&b_store).title, "Falsehood");
    assert!(row(&b_store).pinned);
    assert_eq!(b_store.search("claims", 10).unwrap().len(), 1);
    b_store.take_events();
    // ...and once opened, what the document holds, everywhere.
    assert_eq!(
        b_store.get(&truth).unwrap().body,
        "Truth\nwhat the note says"
    );
    assert_eq!(row(&b_store).title, "Truth");
    assert!(!row(&b_store).pinned);
    assert!(b_store.search("claims", 10).unwrap().is_empty());
    assert_eq!(b_store.search("says", 10).unwrap().len(), 1);
    assert!(
        b_store.take_events().iter().any(|e| e.note_id == truth),
        "the corrected note is announced"
    );
    assert_eq!(b_store.unchecked_notes().unwrap(), 1, "the honest one");
    drop(b_store);
    assert_eq!(contents(&b), contents(&a), "nothing lost");
}

/// Rewrites A's snapshot as a Cairn before version 3 wrote it: the
/// documents as one sealed message (version 1), and the states in a
/// digest of their own beside it. Returns the head naming both.
fn republish_as_older(a: &Device, cloud: &Cloud) -> DeviceHead {
    let (id, key) = (a.device_id(), a.content_key());
    let (mut head, entries) = published(a, cloud);
    let mut r = head.snapshot.clone().unwrap();
    let states: Vec<Option<NoteState>> = entries.iter().map(|e| e.state.clone()).collect();
    let docs: cairn_core::sync::bundle::Bundle =
        entries.into_iter().map(|e| (e.id, e.doc.into())).collect();
    let sk = DeviceKey::snapshot(r.slot).unwrap();
    let body = object::encode_for(
        ObjectKind::Snapshot,
        r.seq,
        &id,
        &sk.relative(),
        Some(&key),
        &bundle::encode(&docs),
    );
    r.hash = object::encoded_hash_hex(&body);
    r.len = body.len() as u64;
    let dk = DeviceKey::digest(r.slot).unwrap();
    let d: Digest = digest::of_snapshot(&docs, &states, &r);
    let digest_body = object::encode_for(
        ObjectKind::Digest,
        r.seq,
        &id,
        &dk.relative(),
        Some(&key),
        &d.encode(),
    );
    head.digest = Some(cairn_core::sync::head::ObjectRef {
        seq: r.seq,
        slot: r.slot,
        hash: object::encoded_hash_hex(&digest_body),
        len: digest_body.len() as u64,
    });
    head.snapshot = Some(r);
    let mut t = a.transport(cloud);
    t.put(sk, body.into()).unwrap();
    t.put(dk, digest_body.into()).unwrap();
    t.put(
        DeviceKey::Head,
        object::encode_for(
            ObjectKind::Head,
            head.seq,
            &id,
            "head",
            Some(&key),
            &head.to_json(),
        )
        .into(),
    )
    .unwrap();
    head
}

#[test]
fn an_older_snapshot_with_its_digest_is_read_and_a_bad_digest_means_loading() {
    let cloud = Cloud::start();
    let (a, b, account) = pair(&cloud);
    for i in 0..12 {
        a.store()
            .create_note(&format!("Note {i}\nsome text {i}"))
            .unwrap();
    }
    a.sync_ok();
    let head = republish_as_older(&a, &cloud);

    // Read as before: from the digest, nothing loaded.
    let b_store = round(&b, &cloud, &[a.device_id()]);
    assert_eq!(b_store.note_documents_loaded(), 0);
    assert_eq!(b_store.unchecked_notes().unwrap(), 12);
    drop(b_store);
    assert_eq!(contents(&b), contents(&a));

    // The digest damaged in the bucket: its hash no longer matches the
    // head's, and the notes are loaded.
    let r = head.digest.clone().unwrap();
    let dk = DeviceKey::digest(r.slot).unwrap();
    let mut damaged = fetch(&a, &cloud, dk);
    let last = damaged.len() - 1;
    damaged[last] ^= 0x55;
    a.transport(&cloud).put(dk, damaged.into()).unwrap();
    let c = Device::new("c");
    c.login(&cloud, &account);
    let c_store = round(&c, &cloud, &[a.device_id()]);
    assert_eq!(c_store.note_documents_loaded(), 12);
    assert_eq!(c_store.unchecked_notes().unwrap(), 0);
    drop(c_store);
    assert_eq!(contents(&c), contents(&a));

    // Gone from the bucket altogether: the same.
    let stored = walk(&cloud.bucket_dir())
        .into_iter()
        .filter(|p| {
            let p = p.to_string_lossy();
            p.contains(&a.device_id()) && p.ends_with(&format!("{}.digest", r.slot))
        })
        .collect::<Vec<_>>();
    assert_eq!(stored.len(), 1, "{stored:?}");
    std::fs::remove_file(&stored[0]).unwrap();
    assert!(matches!(
        a.transport(&cloud).get(&a.device_id(), dk, None).unwrap(),
        Fetched::Missing
    ));
    let d = Device::new("d");
    d.login(&cloud, &account);
    let d_store = round(&d, &cloud, &[a.device_id()]);
    assert_eq!(d_store.unchecked_notes().unwrap(), 0);
    assert!(d_store.note_documents_loaded() >= 12);
    drop(d_store);
    assert_eq!(contents(&d), contents(&a));
}

#[test]
fn a_device_older_than_this_format_reads_the_head_and_is_told_a_newer_cairn_wrote_the_snapshot() {
    let cloud = Cloud::start();
    let (a, _b, _) = pair(&cloud);
    let (_, _) = fill(&a);
    a.sync_ok();
    let id = a.device_id();
    let key = a.content_key();
    // The head as an older Cairn parses it: its struct is unchanged.
    #[derive(serde::Deserialize)]
    #[allow(dead_code)] // parsed to show it parses, as it would there
    struct OlderHead {
        format: u32,
        device: String,
        seq: u64,
        snapshot: Option<cairn_core::sync::head::ObjectRef>,
        segments: Vec<cairn_core::sync::head::ObjectRef>,
        merged: std::collections::BTreeMap<String, u64>,
        written_ms: i64,
    }
    let sealed = object::decode(&fetch(&a, &cloud, DeviceKey::Head)).unwrap();
    assert_eq!(
        sealed.chunks, None,
        "a head is sealed in one piece as before"
    );
    let json = object::plaintext(&sealed, &id, "head", Some(&key)).unwrap();
    let older: OlderHead = serde_json::from_slice(&json).unwrap();
    let r = older.snapshot.expect("a snapshot");
    // An older reader takes versions 1 and 2 only: any other is refused
    // with the error that tells the user to update, and nothing is read.
    let bytes = fetch(&a, &cloud, DeviceKey::snapshot(r.slot).unwrap());
    assert!(![object::FORMAT_VERSION, object::SPACE_FORMAT_VERSION].contains(&bytes[4]));
    let told = ObjectError::UnknownVersion { found: bytes[4] }.to_string();
    assert!(
        told.contains("a device of yours runs a newer Cairn"),
        "{told}"
    );
    assert!(told.contains("update Cairn to keep syncing"), "{told}");
}

/// Each note as opened (a deleted one as such), with its heads.
fn contents(dev: &Device) -> Vec<(String, String)> {
    let mut s = dev.store();
    let ids = s.all_note_ids().unwrap();
    ids.into_iter()
        .map(|id| {
            let shown = match s.get(&id) {
                Ok(mut n) => {
                    n.heads.sort();
                    format!(
                        "{:?}",
                        (
                            n.body,
                            n.tags,
                            n.pinned,
                            n.trashed,
                            n.created_ms,
                            n.modified_ms,
                            n.heads
                        )
                    )
                }
                Err(cairn_core::CoreError::NoteDeleted { .. }) => "deleted".into(),
                Err(e) => panic!("note {id}: {e}"),
            };
            (id, shown)
        })
        .collect()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
