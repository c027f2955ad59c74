//! End-to-end encryption through the sync engine: storage sees no text,
//! and a swapped, replayed, foreign or truncated object does not open.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::sync::Mutex;

use cairn_core::crypto::ContentKey;
use cairn_core::sync::memory::MemoryStorage;
use cairn_core::sync::object::{self, ObjectKind};
use cairn_core::sync::{run_round, DeviceHead};
use cairn_core::Store;
use cairn_protocol::DeviceKey;

fn device(key: Option<&ContentKey>) -> (tempfile::TempDir, Mutex<Store>) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = cairn_core::testing::open_scratch(dir.path()).unwrap();
    s.set_content_key(key.cloned());
    (dir, Mutex::new(s))
}

fn round(
    storage: &MemoryStorage,
    store: &Mutex<Store>,
    me: &str,
    peer: &str,
) -> cairn_core::sync::RoundReport {
    run_round(store, &mut storage.device(me), me, &[peer.to_string()]).unwrap()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

const PHRASE: &str = "Marmalade-Telescope-Quorum";

#[test]
fn storage_never_sees_text_titles_or_tags() {
    let storage = MemoryStorage::default();
    let key = ContentKey::generate();
    let (_a_dir, a) = device(Some(&key));
    let (_b_dir, b) = device(Some(&key));
    let id = {
        let mut s = a.lock().unwrap();
        let id = s
            .create_note(&format!("Secret Title Zanzibar\n{PHRASE}"))
            .unwrap();
        s.tag(&id, &["confidentialtag".into()], &[]).unwrap();
        id
    };
    for _ in 0..3 {
        round(&storage, &a, "A", "B");
        round(&storage, &b, "B", "A");
    }
    assert_eq!(
        b.lock().unwrap().get(&id).unwrap().body,
        format!("Secret Title Zanzibar\n{PHRASE}")
    );
    let mut all = Vec::new();
    for dev in ["A", "B"] {
        for k in DeviceKey::all() {
            if let Some(o) = storage.object(dev, k) {
                assert!(
                    object::decode(&o).unwrap().sealed,
                    "{dev}/{} is not sealed",
                    k.relative()
                );
                all.extend(o);
            }
        }
    }
    assert!(!all.is_empty());
    for needle in [PHRASE, "Zanzibar", "confidentialtag"] {
        assert!(
            !contains(&all, needle.as_bytes()),
            "{needle} is visible in storage"
        );
    }
}

type Device = (tempfile::TempDir, Mutex<Store>);

/// Two devices sharing a key, A having published a few segments.
fn setup() -> (MemoryStorage, ContentKey, Device, Device, String) {
    let storage = MemoryStorage::default();
    let key = ContentKey::generate();
    let a = device(Some(&key));
    let b = device(Some(&key));
    let id = a.1.lock().unwrap().create_note("first").unwrap();
    round(&storage, &a.1, "A", "B");
    round(&storage, &b.1, "B", "A");
    for i in 0..3 {
        a.1.lock()
            .unwrap()
            .splice(&id, 0, 0, &format!("{i}"))
            .unwrap();
        round(&storage, &a.1, "A", "B");
    }
    (storage, key, a, b, id)
}

fn head_of(storage: &MemoryStorage, dev: &str, key: &ContentKey) -> DeviceHead {
    let obj = object::decode(&storage.object(dev, DeviceKey::Head).unwrap()).unwrap();
    DeviceHead::from_json(&object::plaintext(&obj, dev, "head", Some(key)).unwrap()).unwrap()
}

fn reseal_head(storage: &MemoryStorage, dev: &str, key: &ContentKey, head: &DeviceHead) {
    let body = object::encode_for(
        ObjectKind::Head,
        head.seq,
        dev,
        "head",
        Some(key),
        &head.to_json(),
    );
    storage.put_raw(dev, DeviceKey::Head, body);
}

fn refused(storage: &MemoryStorage, b: &Mutex<Store>, id: &str, what: &str) {
    let before = b.lock().unwrap().get(id).unwrap();
    let r = round(storage, b, "B", "A");
    let err = r.peers[0].error.clone();
    assert!(err.is_some(), "{what}: accepted");
    assert_eq!(
        b.lock().unwrap().get(id).unwrap(),
        before,
        "{what}: local data changed"
    );
}

#[test]
fn swapped_segment_does_not_open() {
    let (storage, key, _a, b, id) = setup();
    // Move the newest segment into another slot and point the head at it,
    // with a correct hash: only the seal's binding can catch this.
    let mut head = head_of(&storage, "A", &key);
    let last = head.segments.last().unwrap().clone();
    let bytes = storage
        .object("A", DeviceKey::log(last.slot).unwrap())
        .unwrap();
    let other = (last.slot + 7) % 64;
    storage.put_raw("A", DeviceKey::log(other).unwrap(), bytes);
    head.segments.last_mut().unwrap().slot = other;
    reseal_head(&storage, "A", &key, &head);
    refused(&storage, &b.1, &id, "swapped segment");
}

#[test]
fn replayed_old_head_is_refused() {
    let storage = MemoryStorage::default();
    let key = ContentKey::generate();
    let a = device(Some(&key));
    let b = device(Some(&key));
    let id = a.1.lock().unwrap().create_note("v1").unwrap();
    round(&storage, &a.1, "A", "B");
    let old = storage.object("A", DeviceKey::Head).unwrap();
    a.1.lock().unwrap().splice(&id, 2, 0, " v2").unwrap();
    round(&storage, &a.1, "A", "B");
    round(&storage, &b.1, "B", "A");
    storage.put_raw("A", DeviceKey::Head, old);
    refused(&storage, &b.1, &id, "replayed head");
}

#[test]
fn object_of_another_user_or_wrong_key_does_not_open() {
    let (storage, _key, _a, b, id) = setup();
    // Another user's device wrote "A"'s objects with their own key.
    let other_user = ContentKey::generate();
    let (_d, mallory) = device(Some(&other_user));
    mallory.lock().unwrap().create_note("hostile").unwrap();
    let evil = MemoryStorage::default();
    round(&evil, &mallory, "A", "B");
    for k in DeviceKey::all() {
        if let Some(o) = evil.object("A", k) {
            storage.put_raw("A", k, o);
        }
    }
    refused(&storage, &b.1, &id, "another user's object");
    let err = last_error(&b.1);
    assert!(err.contains("does not open"), "{err}");
}

/// The error `B` keeps for peer `A`, as `cairn status` shows it.
fn last_error(b: &Mutex<Store>) -> String {
    b.lock().unwrap().sync_status(&["A".into()]).unwrap().peers[0]
        .error
        .clone()
        .map(|e| e.detail)
        .unwrap_or_default()
}

#[test]
fn truncated_ciphertext_and_plaintext_injection_are_refused() {
    let (storage, key, _a, b, id) = setup();
    let mut head = head_of(&storage, "A", &key);
    let last = head.segments.last_mut().unwrap();
    let slot = DeviceKey::log(last.slot).unwrap();
    let obj = object::decode(&storage.object("A", slot).unwrap()).unwrap();
    // Cut the ciphertext short but keep the envelope consistent.
    let cut = object::encode(
        ObjectKind::Segment,
        obj.seq,
        true,
        &obj.payload[..obj.payload.len() - 5],
    );
    last.hash = object::encoded_hash_hex(&cut);
    storage.put_raw("A", slot, cut);
    reseal_head(&storage, "A", &key, &head);
    refused(&storage, &b.1, &id, "truncated ciphertext");
    // A plaintext head, as storage itself could write: refused too.
    let plain = object::encode(ObjectKind::Head, head.seq, false, &head.to_json());
    storage.put_raw("A", DeviceKey::Head, plain);
    refused(&storage, &b.1, &id, "plaintext head");
    let err = last_error(&b.1);
    assert!(err.contains("not encrypted"), "{err}");
}

#[test]
fn device_without_the_key_is_told_to_enter_it() {
    let (storage, _key, _a, _b, _id) = setup();
    let (_d, nokey) = device(None);
    let r = round(&storage, &nokey, "C", "A");
    let err = r.peers[0].error.clone().expect("refused");
    assert_eq!(err.code(), cairn_core::sync::FailureCode::NoKey, "{err}");
    let err = err.to_string();
    assert!(err.contains("passphrase"), "{err}");
    assert_eq!(nokey.lock().unwrap().count(false).unwrap(), 0);
}
