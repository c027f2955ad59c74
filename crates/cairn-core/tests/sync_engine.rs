//! The sync engine against in-memory object storage: the protocol's logic
//! with no sockets and no clock. (The same scenarios over real HTTP, the
//! real service and a real S3 server live in the workspace's tests/.)

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::sync::Mutex;

use cairn_core::sync::memory::MemoryStorage;
use cairn_core::sync::object::{self, ObjectKind};
use cairn_core::sync::{bundle, run_round, run_round_reading, FailureCode, RoundReport};
use cairn_core::{testing, ListQuery, Store};
use cairn_protocol::DeviceKey;
use rand::{Rng, SeedableRng};

struct Device {
    name: String,
    _dir: tempfile::TempDir,
    store: Mutex<Store>,
}

fn devices(n: usize) -> Vec<Device> {
    (0..n)
        .map(|i| {
            let dir = tempfile::tempdir().unwrap();
            let store = testing::open_scratch(dir.path()).unwrap();
            Device {
                name: format!("dev{i}"),
                _dir: dir,
                store: Mutex::new(store),
            }
        })
        .collect()
}

fn round(storage: &MemoryStorage, all: &[Device], i: usize) -> RoundReport {
    let peers: Vec<String> = all
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != i)
        .map(|(_, d)| d.name.clone())
        .collect();
    run_round(
        &all[i].store,
        &mut storage.device(&all[i].name),
        &all[i].name,
        &peers,
    )
    .unwrap()
}

/// Runs rounds on every device until a whole pass moves nothing; panics
/// if that never happens (sync must go quiet by itself).
fn settle(storage: &MemoryStorage, all: &[Device]) {
    for _ in 0..12 {
        let before = storage.total_bytes();
        let mut moved = false;
        for i in 0..all.len() {
            let r = round(storage, all, i);
            moved |= r.published.is_some() || r.changed_notes() > 0 || r.bytes_up > 0;
        }
        if !moved && storage.total_bytes() == before {
            return;
        }
    }
    panic!("sync did not go quiet");
}

/// Every device holds the same notes with the same bodies, tags and heads.
fn assert_converged(all: &[Device]) {
    let views: Vec<testing::StoreView> = all
        .iter()
        .map(|d| testing::view_of(&mut d.store.lock().unwrap()).unwrap())
        .collect();
    let named: Vec<(&str, &testing::StoreView)> = all
        .iter()
        .map(|d| d.name.as_str())
        .zip(views.iter())
        .collect();
    testing::assert_same_views(&named);
}

#[test]
fn two_devices_typing_into_one_note_interleave_by_character() {
    let storage = MemoryStorage::default();
    let all = devices(2);
    let id = all[0].store.lock().unwrap().create_note("Plan\n").unwrap();
    settle(&storage, &all);
    // Both type at the end of the same line, at the same time.
    for (i, word) in ["alpha", "BRAVO"].iter().enumerate() {
        let mut s = all[i].store.lock().unwrap();
        for (k, c) in word.chars().enumerate() {
            s.splice(&id, 5 + k, 0, &c.to_string()).unwrap();
        }
    }
    settle(&storage, &all);
    assert_converged(&all);
    let body = all[0].store.lock().unwrap().get(&id).unwrap().body;
    assert!(
        body == "Plan\nalphaBRAVO" || body == "Plan\nBRAVOalpha",
        "{body:?}"
    );
    // Each side's characters stay in order: no conflict copy, no loss.
    assert_eq!(body.len(), "Plan\nalphaBRAVO".len());
}

#[test]
fn random_offline_edits_on_five_devices_with_faults_converge() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    for n in 2..=5 {
        let storage = MemoryStorage::default();
        let all = devices(n);
        let mut ids = Vec::new();
        for step in 0..150 {
            let i = rng.gen_range(0..n);
            let action = rng.gen_range(0..10);
            let mut s = all[i].store.lock().unwrap();
            let live: Vec<String> = s
                .list(&ListQuery::default())
                .unwrap()
                .into_iter()
                .map(|n| n.id)
                .collect();
            if action < 2 || live.is_empty() {
                ids.push(
                    s.create_note(&format!("note {step} from {}", all[i].name))
                        .unwrap(),
                );
            } else if action < 7 {
                let id = &live[rng.gen_range(0..live.len())];
                let len = s.get(id).unwrap().body.len();
                s.splice(id, rng.gen_range(0..=len), 0, &format!("[{step}]"))
                    .unwrap();
            } else if action < 8 {
                let id = &live[rng.gen_range(0..live.len())];
                s.tag(id, &[format!("t{}", step % 3)], &[]).unwrap();
            } else if action < 9 {
                let id = &live[rng.gen_range(0..live.len())];
                s.trash(id).unwrap();
            } else {
                drop(s);
                // A round with flaky storage.
                storage.fail_next(rng.gen_range(0..3));
                round(&storage, &all, i);
            }
        }
        storage.fail_next(0);
        settle(&storage, &all);
        assert_converged(&all);
        for (i, d) in all.iter().enumerate() {
            let peers: Vec<String> = all
                .iter()
                .filter(|p| p.name != d.name)
                .map(|p| p.name.clone())
                .collect();
            let st = d.store.lock().unwrap().sync_status(&peers).unwrap();
            assert!(st.on_all_devices, "device {i} of {n}: {st:?}");
        }
    }
}

#[test]
fn idle_round_is_one_request_per_peer() {
    let storage = MemoryStorage::default();
    let all = devices(3);
    all[0].store.lock().unwrap().create_note("x").unwrap();
    settle(&storage, &all);
    let before = storage.requests();
    let r = round(&storage, &all, 1);
    assert_eq!(storage.requests() - before, 2, "{r:?}");
    assert_eq!(r.requests, 2);
}

#[test]
fn a_round_for_one_peers_publish_reads_only_that_peer() {
    let storage = MemoryStorage::default();
    let all = devices(4);
    let id = all[0].store.lock().unwrap().create_note("x").unwrap();
    settle(&storage, &all);
    all[0].store.lock().unwrap().splice(&id, 1, 0, "y").unwrap();
    round(&storage, &all, 0);
    // dev1 was told dev0 published: one head and one segment, not the
    // heads of the two silent peers too.
    let peers: Vec<String> = ["dev0", "dev2", "dev3"].map(String::from).into();
    let before = storage.requests();
    let r = run_round_reading(
        &all[1].store,
        &mut storage.device("dev1"),
        "dev1",
        &peers,
        &peers[..1],
    )
    .unwrap();
    assert_eq!(r.changed_notes(), 1, "{r:?}");
    let skipped: Vec<&str> = r
        .peers
        .iter()
        .filter(|p| p.skipped)
        .map(|p| p.device.as_str())
        .collect();
    assert_eq!(skipped, ["dev2", "dev3"], "{r:?}");
    // Head and segment of dev0, then the acknowledgement's upload(s).
    let reads = r.requests - r.publish_requests;
    assert_eq!(reads, 2, "{r:?}");
    assert_eq!(storage.requests() - before, r.requests);
    assert_eq!(all[1].store.lock().unwrap().get(&id).unwrap().body, "xy");
    // The skipped peers were not forgotten: the next full round still
    // reads them, and all stay converged.
    settle(&storage, &all);
    assert_converged(&all);
}

#[test]
fn one_character_publishes_small() {
    let storage = MemoryStorage::default();
    let all = devices(2);
    let id = {
        let mut s = all[0].store.lock().unwrap();
        let id = s.create_note(&"word ".repeat(4000)).unwrap();
        for i in 0..200 {
            s.create_note(&format!("other {i}")).unwrap();
        }
        id
    };
    settle(&storage, &all);
    all[0]
        .store
        .lock()
        .unwrap()
        .splice(&id, 10, 0, "x")
        .unwrap();
    let r = round(&storage, &all, 0);
    assert!(r.published.is_some());
    assert!(r.bytes_up <= 2048, "{r:?}");
    let puts = r.requests - 1; // minus the read of the one peer
    assert!(puts <= 2, "{r:?}");
}

#[test]
fn device_offline_longer_than_the_ring_catches_up_from_the_snapshot() {
    let storage = MemoryStorage::default();
    let all = devices(2);
    let id = all[0].store.lock().unwrap().create_note("start").unwrap();
    settle(&storage, &all);
    for i in 0..150 {
        all[0]
            .store
            .lock()
            .unwrap()
            .splice(&id, 0, 0, &format!("{i} "))
            .unwrap();
        let peers = vec![all[1].name.clone()];
        // Device 1 is offline: only device 0 runs rounds.
        run_round(&all[0].store, &mut storage.device("dev0"), "dev0", &peers).unwrap();
    }
    let r = round(&storage, &all, 1);
    assert!(r.peers[0].error.is_none(), "{r:?}");
    // Head, snapshot, and at most the ring's worth of newer segments.
    assert!(
        r.requests <= 2 + 64,
        "catching up took {} requests",
        r.requests
    );
    assert!(r.bytes_down > 0);
    assert_converged(&all);
}

#[test]
fn expired_grant_needs_sign_in_and_edits_go_on() {
    let storage = MemoryStorage::default();
    let all = devices(2);
    let id = all[0].store.lock().unwrap().create_note("before").unwrap();
    settle(&storage, &all);
    storage.set_expired(true);
    all[0]
        .store
        .lock()
        .unwrap()
        .splice(&id, 6, 0, " during")
        .unwrap();
    let r = round(&storage, &all, 0);
    assert!(r.needs_sign_in(), "{r:?}");
    assert_eq!(
        all[0].store.lock().unwrap().get(&id).unwrap().body,
        "before during"
    );
    storage.set_expired(false);
    settle(&storage, &all);
    assert_converged(&all);
}

fn segment_of(storage: &MemoryStorage, dev: &str) -> (DeviceKey, Vec<u8>) {
    let head = storage.object(dev, DeviceKey::Head).unwrap();
    let head =
        cairn_core::sync::DeviceHead::from_json(&object::decode(&head).unwrap().payload).unwrap();
    let seg = head.segments.last().expect("a segment");
    let key = DeviceKey::log(seg.slot).unwrap();
    (key, storage.object(dev, key).unwrap())
}

#[test]
fn hostile_objects_are_refused_and_local_data_stays() {
    type Damage = fn(Vec<u8>) -> Vec<u8>;
    let cases: Vec<(&str, Damage)> = vec![
        ("truncated", |b| b[..b.len() / 2].to_vec()),
        ("corrupt", |mut b| {
            let n = b.len() - 3;
            b[n] ^= 0xff;
            b
        }),
        ("unknown version", |mut b| {
            b[4] = 77;
            b
        }),
        ("automerge garbage", |b| {
            let obj = object::decode(&b).unwrap();
            let mut entries = bundle::decode(&obj.payload).unwrap();
            entries[0].1 = vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3, 4, 1, 200, 1, 9].into();
            let payload = bundle::encode(&entries);
            object::encode(ObjectKind::Segment, obj.seq, false, &payload)
        }),
    ];
    for (what, damage) in cases {
        let storage = MemoryStorage::default();
        let all = devices(2);
        let id = all[0].store.lock().unwrap().create_note("first").unwrap();
        settle(&storage, &all);
        all[0]
            .store
            .lock()
            .unwrap()
            .splice(&id, 5, 0, " second")
            .unwrap();
        round(&storage, &all, 0);
        let (key, good) = segment_of(&storage, "dev0");
        let bad = damage(good);
        storage.put_raw("dev0", key, bad.clone());
        if what == "automerge garbage" {
            // A well-formed envelope: make the head agree with its hash.
            let head_obj =
                object::decode(&storage.object("dev0", DeviceKey::Head).unwrap()).unwrap();
            let mut head = cairn_core::sync::DeviceHead::from_json(&head_obj.payload).unwrap();
            let last = head.segments.last_mut().unwrap();
            last.hash = object::encoded_hash_hex(&bad);
            last.len = bad.len() as u64;
            storage.put_raw(
                "dev0",
                DeviceKey::Head,
                object::encode(ObjectKind::Head, head.seq, false, &head.to_json()),
            );
        }
        let before = all[1].store.lock().unwrap().get(&id).unwrap();
        let r = round(&storage, &all, 1);
        let failure = r.peers[0]
            .error
            .clone()
            .unwrap_or_else(|| panic!("{what}: accepted"));
        let st = all[1]
            .store
            .lock()
            .unwrap()
            .sync_status(&["dev0".into()])
            .unwrap();
        // Kept with its code, which is what the status decides from.
        assert_eq!(
            st.peers[0].error,
            Some(cairn_core::sync::PeerError::from(&failure)),
            "{what}: status shows it"
        );
        assert_eq!(
            st.peers[0].error.as_ref().map(|e| e.code),
            Some(if what == "unknown version" {
                FailureCode::NewerFormat
            } else {
                FailureCode::BadObject
            }),
            "{what}: the kept code"
        );
        assert_eq!(
            all[1].store.lock().unwrap().get(&id).unwrap(),
            before,
            "{what}: local data changed"
        );
    }
}

#[test]
fn replayed_old_head_is_refused() {
    let storage = MemoryStorage::default();
    let all = devices(2);
    let id = all[0].store.lock().unwrap().create_note("v1").unwrap();
    settle(&storage, &all);
    let old_head = storage.object("dev0", DeviceKey::Head).unwrap();
    all[0]
        .store
        .lock()
        .unwrap()
        .splice(&id, 2, 0, " v2")
        .unwrap();
    settle(&storage, &all);
    storage.put_raw("dev0", DeviceKey::Head, old_head);
    let r = round(&storage, &all, 1);
    let err = r.peers[0].error.clone().expect("refused");
    assert_eq!(err.code(), FailureCode::RolledBack, "{r:?}");
    assert!(err.to_string().contains("went back"), "{r:?}");
    assert_eq!(all[1].store.lock().unwrap().get(&id).unwrap().body, "v1 v2");
}

#[test]
fn head_of_another_device_is_refused() {
    let storage = MemoryStorage::default();
    let all = devices(3);
    all[0].store.lock().unwrap().create_note("zero").unwrap();
    all[2].store.lock().unwrap().create_note("two").unwrap();
    round(&storage, &all, 0);
    round(&storage, &all, 2);
    // Swap: dev2's head placed where dev0's should be.
    let two = storage.object("dev2", DeviceKey::Head).unwrap();
    storage.put_raw("dev0", DeviceKey::Head, two);
    let r = round(&storage, &all, 1);
    let err = r.peers[0].error.clone().expect("refused");
    assert_eq!(err.code(), FailureCode::BadObject, "{r:?}");
    assert!(err.to_string().contains("names device dev2"), "{r:?}");
}

#[test]
fn a_peer_error_clears_once_the_peer_reads_cleanly_again() {
    let storage = MemoryStorage::default();
    let all = devices(2);
    all[0].store.lock().unwrap().create_note("x").unwrap();
    settle(&storage, &all);
    let last_error = || {
        all[1]
            .store
            .lock()
            .unwrap()
            .peer_state("dev0")
            .unwrap()
            .last_error
    };
    // dev1 has nothing to publish; its one request, dev0's head, fails.
    storage.fail_next(1);
    let r = round(&storage, &all, 1);
    assert!(r.peers[0].error.is_some(), "{r:?}");
    assert!(last_error().is_some());
    // Nothing new at dev0 (a 304): the kept error is over.
    let r = round(&storage, &all, 1);
    assert!(r.peers[0].error.is_none(), "{r:?}");
    assert_eq!(last_error(), None);
}
