//! A new device bootstraps from a snapshot's digest (the state of each of
//! its notes) without loading a single note document, over the real
//! service and the real S3 server:
//!
//! - every row a device shows (list, trash, search, backlinks, notebooks,
//!   attachments, tags) equals the first device's, and each note's content
//!   once opened; an edit made there reaches the first device;
//! - a digest that lies shows until the note is opened, then the
//!   document's truth, nothing lost;
//! - a corrupt or missing digest: the notes are loaded, as before;
//! - a device older than digests reads the same head and snapshot.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::sync::Mutex;

use cairn_core::sync::digest::{open_digest, Digest};
use cairn_core::sync::head::DeviceHead;
use cairn_core::sync::object::{self, ObjectKind};
use cairn_core::sync::opener::Opener;
use cairn_core::sync::personal_object::PersonalKeys;
use cairn_core::sync::{reader, run_round, Fetched, Transport};
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

fn opener(dev: &Device) -> Opener {
    Opener::Personal(PersonalKeys::content(Some(dev.content_key())))
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

/// A's head as published, and its snapshot's digest.
fn published(a: &Device, cloud: &Cloud) -> (DeviceHead, Digest) {
    let id = a.device_id();
    let head = reader::decode_head(
        &id,
        &fetch(a, cloud, DeviceKey::Head),
        Some(&a.content_key()),
    )
    .unwrap();
    let r = head
        .snapshot_digest()
        .expect("the snapshot has a digest")
        .clone();
    let key = DeviceKey::digest(r.slot).unwrap();
    let digest = open_digest(&id, &key.relative(), &r, &fetch(a, cloud, key), &opener(a)).unwrap();
    (head, digest)
}

/// Writes `digest` in A's name (sealed with A's key, as A would) and the
/// head naming it.
fn republish(a: &Device, cloud: &Cloud, mut head: DeviceHead, digest: &Digest) {
    let (id, key) = (a.device_id(), a.content_key());
    let mut r = head.digest.clone().unwrap();
    let dk = DeviceKey::digest(r.slot).unwrap();
    let body = object::encode_for(
        ObjectKind::Digest,
        r.seq,
        &id,
        &dk.relative(),
        Some(&key),
        &digest.encode(),
    );
    r.hash = object::encoded_hash_hex(&body);
    r.len = body.len() as u64;
    head.digest = Some(r);
    let mut t = a.transport(cloud);
    t.put(dk, body).unwrap();
    let head_body = object::encode_for(
        ObjectKind::Head,
        head.seq,
        &id,
        "head",
        Some(&key),
        &head.to_json(),
    );
    t.put(DeviceKey::Head, head_body).unwrap();
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
fn a_new_device_shows_every_note_from_the_digest_without_loading_one() {
    let cloud = Cloud::start();
    let (a, b, _) = pair(&cloud);
    let (linking, linked) = fill(&a);
    let first = a.sync_ok();
    assert!(first.stdout.contains("(snapshot)"), "{first:?}");
    let (_, digest) = published(&a, &cloud);
    assert!(digest.notes.len() >= 24, "{} notes", digest.notes.len());
    assert!(digest.notes.iter().all(|e| e.state.is_some()));

    let b_store = round(&b, &cloud, &[a.device_id()]);
    assert_eq!(
        b_store.note_documents_loaded(),
        0,
        "the bootstrap loaded note documents"
    );
    assert_eq!(
        b_store.unchecked_notes().unwrap(),
        digest.notes.len() as u64
    );
    let a_store = a.store();
    assert_eq!(
        shown(&b_store, &linking, &linked),
        shown(&a_store, &linking, &linked)
    );
    drop((a_store, b_store));
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
fn a_lying_digest_shows_until_the_note_is_opened_then_the_document_wins() {
    let cloud = Cloud::start();
    let (a, b, _) = pair(&cloud);
    let truth = a.store().create_note("Truth\nwhat the note says").unwrap();
    a.store().create_note("Other\nan honest one").unwrap();
    a.sync_ok();
    let (head, mut digest) = published(&a, &cloud);
    let entry = digest.notes.iter_mut().find(|e| e.id == truth).unwrap();
    let state = entry.state.as_mut().unwrap();
    state.body = "Falsehood\nwhat the digest claims".into();
    state.pinned = true;
    republish(&a, &cloud, head, &digest);

    let mut b_store = round(&b, &cloud, &[a.device_id()]);
    assert_eq!(b_store.note_documents_loaded(), 0);
    let row = |s: &Store| {
        s.list(&ListQuery::default())
            .unwrap()
            .into_iter()
            .find(|n| n.id == truth)
            .unwrap()
    };
    // Until it is opened, B shows what the digest said...
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

#[test]
fn a_corrupt_or_missing_digest_falls_back_to_loading_the_notes() {
    let cloud = Cloud::start();
    let (a, b, account) = pair(&cloud);
    for i in 0..12 {
        a.store()
            .create_note(&format!("Note {i}\nsome text {i}"))
            .unwrap();
    }
    a.sync_ok();
    let (head, _) = published(&a, &cloud);
    let r = head.digest.clone().unwrap();
    let dk = DeviceKey::digest(r.slot).unwrap();

    // Damaged in the bucket: its hash no longer matches the head's.
    let mut damaged = fetch(&a, &cloud, dk);
    let last = damaged.len() - 1;
    damaged[last] ^= 0x55;
    a.transport(&cloud).put(dk, damaged).unwrap();
    let b_store = round(&b, &cloud, &[a.device_id()]);
    assert_eq!(b_store.note_documents_loaded(), 12);
    assert_eq!(b_store.unchecked_notes().unwrap(), 0);
    drop(b_store);
    assert_eq!(contents(&b), contents(&a));

    // Gone from the bucket altogether.
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
    let c = Device::new("c");
    c.login(&cloud, &account);
    // A alone: B's own snapshot has a digest of its own.
    let c_store = round(&c, &cloud, &[a.device_id()]);
    assert_eq!(c_store.unchecked_notes().unwrap(), 0);
    assert!(c_store.note_documents_loaded() >= 12);
    drop(c_store);
    assert_eq!(contents(&c), contents(&a));
}

#[test]
fn a_device_older_than_digests_reads_the_same_head_and_snapshot() {
    let cloud = Cloud::start();
    let (a, b, _) = pair(&cloud);
    let (_, _) = fill(&a);
    a.sync_ok();
    let id = a.device_id();
    let key = a.content_key();
    // The head as an older Cairn parses it: its struct has no digest.
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
    let json = object::plaintext(&sealed, &id, "head", Some(&key)).unwrap();
    assert!(String::from_utf8_lossy(&json).contains("\"digest\""));
    let older: OlderHead = serde_json::from_slice(&json).unwrap();
    let r = older.snapshot.expect("a snapshot");
    // The snapshot is read as before and every document loaded, as the
    // older code does.
    let sk = DeviceKey::snapshot(r.slot).unwrap();
    let bundle = reader::open_object(
        &id,
        &sk.relative(),
        &r,
        ObjectKind::Snapshot,
        &fetch(&a, &cloud, sk),
        Some(&key),
    )
    .unwrap()
    .expect("the snapshot is the head's");
    let mut store = b.store();
    store.merge_many(&bundle).unwrap();
    assert!(store.note_documents_loaded() >= 24);
    assert_eq!(store.unchecked_notes().unwrap(), 0);
    drop(store);
    assert_eq!(contents(&b), contents(&a));
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
