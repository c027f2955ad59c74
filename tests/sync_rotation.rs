//! Removing a device gives the account's notes a new key (the personal
//! space's next epoch), over loopback against the real service and the
//! real S3 server, each device with its own data dir and driven through
//! the real `cairn` binary:
//!
//! - what is written after the removal does not open with anything the
//!   removed device holds, and its `cairn sync` fails with a sentence;
//! - another device of the account publishes nothing until it has the new
//!   key (its edits wait on it, none lost), takes it with the passphrase,
//!   and converges;
//! - a device signing in afterwards reads notes of both epochs;
//! - an attachment added after the removal is sealed with the new epoch:
//!   the removed device's keys do not open it, the others download it;
//! - a watching device hears of the removal and stops publishing at once;
//! - two devices rotating at once end with one envelope holding every key
//!   either of them holds;
//! - the removal the app and CLI share (`device_removal`) changes nothing
//!   with a wrong passphrase, and a revoke that failed after the rotation
//!   is finished without a second rotation.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_client::encryption::{self, KeyError, Rotated};
use cairn_client::{AgentError, SyncAgent, WatchEvent, WatchOptions};
use cairn_core::account_keys::AccountKeys;
use cairn_core::crypto::{KdfParams, KeyEnvelope};
use cairn_core::sync::object::{self, ObjectError};
use cairn_core::sync::personal_object::{personal_space, PersonalKeys};
use cairn_scenarios::cloud::Cloud;
use cairn_scenarios::device::{assert_converged, settle, Device, PASSPHRASE};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::{mpsc, Notify};

/// What a device's data dir holds of the account's keys, as the stream
/// opens with them.
fn keys_in(d: &Device) -> AccountKeys {
    encryption::load_account_keys(d.dir())
        .unwrap()
        .expect("keys on the device")
}

fn personal_keys(keys: &AccountKeys) -> PersonalKeys {
    PersonalKeys {
        content: Some(keys.content().clone()),
        epochs: keys.epoch_keys(),
    }
}

/// Every object `device` has in its personal prefix: (object key, bytes).
fn personal_objects(cloud: &Cloud, device: &str) -> Vec<(String, Vec<u8>)> {
    let users = cloud.bucket_dir().join("users");
    let mut out = Vec::new();
    for (path, bytes) in cairn_scenarios::stored_bytes::all_bytes(&users) {
        let marker = format!("/devices/{device}/");
        if let Some((_, key)) = path.split_once(&marker) {
            out.push((key.to_owned(), bytes));
        }
    }
    out
}

fn head_path(cloud: &Cloud, device: &str) -> PathBuf {
    let users = cloud.bucket_dir().join("users");
    for user in std::fs::read_dir(&users).unwrap() {
        let path = user.unwrap().path().join(format!("devices/{device}/head"));
        if path.exists() {
            return path;
        }
    }
    panic!("no head of {device} in the bucket")
}

fn body(d: &Device, note: &str) -> String {
    d.store().get(note).unwrap().body
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `cairn sync` without the passphrase in its environment.
fn sync_without_passphrase(d: &Device) -> std::process::Output {
    d.run_with_env(&["sync"], "CAIRN_PASSPHRASE", "")
}

/// Three signed-in devices of one new account, a note `text` written on
/// the first and synced to all: (a, b, c, account key, note id).
fn three_devices(
    cloud: &Cloud,
    rng: &mut StdRng,
    text: &str,
) -> (Device, Device, Device, String, String) {
    let (a, b, c) = (Device::new("a"), Device::new("b"), Device::new("c"));
    let key = cloud.create_account(a.dir());
    for d in [&a, &b, &c] {
        d.login(cloud, &key);
    }
    let note = a.store().create_note(text).unwrap();
    settle(&[&a, &b, &c], rng, 6);
    (a, b, c, key, note)
}

#[test]
fn a_removed_device_reads_nothing_written_after_and_the_others_keep_everything() {
    let cloud = Cloud::start();
    let mut rng = StdRng::seed_from_u64(13);
    let (a, b, c, key, before) = three_devices(&cloud, &mut rng, "Before\nwritten in epoch 0\n");
    assert_eq!(body(&c, &before), "Before\nwritten in epoch 0\n");
    let (a_id, b_id, c_id) = (a.device_id(), b.device_id(), c.device_id());

    // B edits while A removes C: these edits are B's, made before B knows
    // of the new key.
    b.store()
        .splice(&before, "Before\n".len(), 0, "b was here\n")
        .unwrap();

    let out = a.run(&["devices", "remove", &c_id]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{said}{}", stderr(&out));
    assert!(
        said.contains("cannot read anything written from now on"),
        "{said}"
    );
    let recovery_key = said.lines().last().unwrap().trim().to_owned();
    assert!(
        cairn_core::crypto::parse_recovery_key(&recovery_key).is_some(),
        "the new recovery key on the last line: {said}"
    );
    assert_eq!(keys_in(&a).epoch().0, 1);
    assert_eq!(
        keys_in(&c).epoch().0,
        0,
        "the removed device got the new key"
    );

    let after = a
        .store()
        .create_note("After\nwritten once c was gone\n")
        .unwrap();
    a.sync_ok();

    // Everything A published since is sealed with epoch 1's key: nothing
    // C's data dir holds opens it, and A's keys do.
    let c_holds = personal_keys(&keys_in(&c));
    let a_holds = personal_keys(&keys_in(&a));
    let mut new_epoch = 0;
    for (slot, bytes) in personal_objects(&cloud, &a_id) {
        let obj = object::decode(&bytes).unwrap();
        match obj.space {
            None => continue,
            Some(binding) => {
                assert_eq!(binding.space, personal_space());
                assert_eq!(binding.epoch.0, 1, "{slot}");
            }
        }
        new_epoch += 1;
        assert_eq!(
            c_holds.open(&obj, &a_id, &slot),
            Err(ObjectError::NoPersonalKey { epoch: 1 }),
            "{slot} opened with what c holds"
        );
        assert!(a_holds.open(&obj, &a_id, &slot).is_ok(), "{slot}");
    }
    assert!(
        new_epoch >= 2,
        "a head and a segment of epoch 1: {new_epoch}"
    );

    // C's own sync fails, with a sentence, and leaves its notes as they
    // were.
    let out = c.run(&["sync"]);
    assert!(!out.status.success(), "a removed device synced");
    let why = stderr(&out);
    assert!(!why.contains("panicked"), "{why}");
    assert!(why.contains("removed") || why.contains("sign"), "{why}");
    assert!(
        c.store().get(&after).is_err(),
        "c read the note written after"
    );
    assert_eq!(body(&c, &before), "Before\nwritten in epoch 0\n");

    // B learns of the new epoch and publishes nothing without it: its
    // head in the bucket stays as it was, its edits stay on it.
    b.store()
        .create_note("B offline\nwaiting for the key\n")
        .unwrap();
    let b_head = head_path(&cloud, &b_id);
    let head_before = std::fs::read(&b_head).unwrap();
    let out = sync_without_passphrase(&b);
    assert!(!out.status.success(), "b synced without the new key");
    let why = stderr(&out);
    assert!(
        why.contains("A device was removed from your account")
            || why.contains("a device was removed from your account"),
        "{why}"
    );
    assert!(!why.contains("panicked"), "{why}");
    assert_eq!(
        std::fs::read(&b_head).unwrap(),
        head_before,
        "b published under the key c holds"
    );
    assert_eq!(keys_in(&b).epoch().0, 0);

    // With the passphrase, once: B takes the key, syncs, and converges
    // with A, nothing lost on either side.
    b.sync_ok();
    assert_eq!(keys_in(&b), keys_in(&a));
    settle(&[&a, &b], &mut rng, 6);
    let view = assert_converged(&[&a, &b]);
    assert_eq!(
        body(&a, &before),
        "Before\nb was here\nwritten in epoch 0\n"
    );
    assert_eq!(body(&b, &after), "After\nwritten once c was gone\n");
    assert!(
        view.values()
            .any(|n| n.body == "B offline\nwaiting for the key\n"),
        "{view:?}"
    );
    let b_now = object::decode(&std::fs::read(&b_head).unwrap()).unwrap();
    assert_eq!(b_now.space.map(|s| s.epoch.0), Some(1));

    // A device signing in now, with the passphrase, reads both epochs; one
    // with the new recovery key too.
    let d = Device::new("d");
    d.login(&cloud, &key);
    let e = Device::new("e").with_env("CAIRN_PASSPHRASE", &recovery_key);
    e.login(&cloud, &key);
    // A and B hear of the new devices as a watching device does from the
    // service's event: their next round asks for a new grant.
    for old in [&a, &b] {
        cairn_client::forget_grant(old.dir()).unwrap();
    }
    settle(&[&a, &b, &d, &e], &mut rng, 6);
    assert_converged(&[&a, &b, &d, &e]);
    assert_eq!(
        body(&d, &before),
        "Before\nb was here\nwritten in epoch 0\n"
    );
    assert_eq!(body(&d, &after), "After\nwritten once c was gone\n");
    assert_eq!(keys_in(&e), keys_in(&a));

    // Changing the passphrase (the fix for one typed on the removed
    // device) keeps every epoch: a device signing in with the new one
    // reads both.
    let out = a.run_with_env(
        &["key", "change"],
        "CAIRN_NEW_PASSPHRASE",
        "a brand new passphrase",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let f = Device::new("f").with_env("CAIRN_PASSPHRASE", "a brand new passphrase");
    f.login(&cloud, &key);
    f.sync_ok();
    assert_eq!(keys_in(&f), keys_in(&a));
    assert_eq!(
        body(&f, &before),
        "Before\nb was here\nwritten in epoch 0\n"
    );
    assert_eq!(body(&f, &after), "After\nwritten once c was gone\n");
    let old = Device::new("g");
    old.use_clock_of(&cloud);
    let out = old.run(&[
        "login",
        "--server",
        &cloud.url(),
        "--account-key",
        &key,
        "--name",
        "g",
    ]);
    assert!(
        !out.status.success(),
        "the old passphrase still opens the envelope"
    );
}

/// The envelope on the service, opened with the passphrase.
fn envelope_keys(cloud: &Cloud, d: &Device) -> AccountKeys {
    let session = d.session(cloud);
    cloud.runtime().block_on(async {
        let token = session.access_token().await.unwrap();
        let rec = session
            .client()
            .key_envelope(&token)
            .await
            .unwrap()
            .unwrap();
        let envelope: KeyEnvelope = serde_json::from_str(&rec.envelope).unwrap();
        envelope.open_keys(PASSPHRASE).unwrap()
    })
}

fn rotate(cloud: &Cloud, d: &Device, dir: &Path) -> impl std::future::Future<Output = Rotated> {
    let session = d.session(cloud);
    let dir = dir.to_path_buf();
    async move {
        let token = session.access_token().await.unwrap();
        encryption::rotate_personal_key(
            session.client(),
            &token,
            &dir,
            PASSPHRASE,
            KdfParams::default(),
        )
        .await
        .unwrap()
    }
}

#[test]
fn two_devices_rotating_at_once_lose_no_key() {
    let cloud = Cloud::start();
    let mut rng = StdRng::seed_from_u64(14);
    let (a, b) = (Device::new("a"), Device::new("b"));
    let key = cloud.create_account(a.dir());
    a.login(&cloud, &key);
    b.login(&cloud, &key);
    let first = a.store().create_note("First\n").unwrap();
    settle(&[&a, &b], &mut rng, 6);

    let mut taken_over = 0;
    for round in 1..=3 {
        let (ra, rb) = cloud.runtime().block_on(async {
            tokio::join!(rotate(&cloud, &a, a.dir()), rotate(&cloud, &b, b.dir()))
        });
        let stored = envelope_keys(&cloud, &a);
        // Every key either device holds is in the envelope, at its epoch:
        // whoever lost the race took the winner's epoch, or rotated again
        // on top of it; none made a key the envelope lacks.
        for (name, held) in [("a", keys_in(&a)), ("b", keys_in(&b))] {
            assert_eq!(held.content(), stored.content(), "{name}, round {round}");
            for (epoch, k) in held.epoch_keys() {
                assert_eq!(stored.key_of(epoch), Some(&k), "{name}'s epoch {epoch}");
            }
        }
        for r in [&ra, &rb] {
            if matches!(r, Rotated::ByAnotherDevice { .. }) {
                taken_over += 1;
            }
        }
        // Both devices sync on the newest epoch and converge.
        a.store()
            .splice(&first, 0, 0, &format!("a{round} "))
            .unwrap();
        b.store()
            .splice(&first, 0, 0, &format!("b{round} "))
            .unwrap();
        settle(&[&a, &b], &mut rng, 6);
        assert_converged(&[&a, &b]);
        assert_eq!(keys_in(&a), stored);
        assert_eq!(keys_in(&b), stored);
    }
    let text = body(&a, &first);
    for round in 1..=3 {
        assert!(text.contains(&format!("a{round} ")), "{text}");
        assert!(text.contains(&format!("b{round} ")), "{text}");
    }
    eprintln!("concurrent rotations: {taken_over} of 6 took the other device's epoch");
    // Both read the envelope within milliseconds and then spend a good
    // fraction of a second in Argon2 before writing: in three rounds at
    // least one swap is lost, so the path that takes the winner's epoch
    // ran.
    assert!(taken_over >= 1, "no rotation ever lost the race");
}

/// Waits (20 s at most) until the watch loop says `what`.
fn wait_for(
    rt: &tokio::runtime::Runtime,
    events: &mut mpsc::UnboundedReceiver<&'static str>,
    what: &str,
) {
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(got) = events.recv().await {
                assert_ne!(got, "failed round", "waiting for {what}");
                if got == what {
                    return;
                }
            }
            panic!("the watch ended");
        })
        .await
        .unwrap_or_else(|_| panic!("no {what} within 20 s"))
    });
}

#[test]
fn a_watching_device_stops_publishing_as_soon_as_a_device_is_removed() {
    let cloud = Cloud::start();
    let mut rng = StdRng::seed_from_u64(15);
    let (a, b, c, _key, note) = three_devices(&cloud, &mut rng, "Shared\n");
    let c_id = c.device_id();
    let b_head = head_path(&cloud, &b.device_id());

    // B watches, without the passphrase (the app's case), publishing soon
    // after each edit.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = Arc::new(Mutex::new(b.store()));
    let typed = Arc::new(Notify::new());
    let (tx, mut events) = mpsc::unbounded_channel();
    let mut agent = SyncAgent::new(b.dir(), b.session(&cloud), store.clone()).unwrap();
    let options = WatchOptions {
        settle: Duration::from_millis(50),
        poll: Duration::from_secs(3600),
        max_wait: Duration::from_millis(50),
    };
    let notify = typed.clone();
    rt.spawn(async move {
        agent
            .watch(options, notify, move |e| {
                let what = match e {
                    WatchEvent::Round(Ok(_)) => "round",
                    WatchEvent::Round(Err(AgentError::Key(KeyError::KeyRotated))) => {
                        "waits for the key"
                    }
                    WatchEvent::Round(Err(_)) => "failed round",
                    WatchEvent::Connected => "connected",
                    WatchEvent::LiveMerged { .. } | WatchEvent::SpaceSynced { .. } => "other",
                };
                tx.send(what).ok();
            })
            .await
    });
    wait_for(&rt, &mut events, "connected");
    let head_before = std::fs::read(&b_head).unwrap();

    // A removes C: B hears of it from the service and its next round
    // finds the new epoch in the envelope.
    let out = a.run(&["devices", "remove", &c_id]);
    assert!(out.status.success(), "{}", stderr(&out));
    wait_for(&rt, &mut events, "waits for the key");

    // B types: the round that would publish it asks again, and publishes
    // nothing; the edit waits in B's store.
    {
        let mut s = store.lock().unwrap();
        s.splice(&note, "Shared\n".len(), 0, "typed while waiting\n")
            .unwrap();
    }
    typed.notify_one();
    wait_for(&rt, &mut events, "waits for the key");
    assert_eq!(
        std::fs::read(&b_head).unwrap(),
        head_before,
        "b published under the key c holds"
    );
    drop(rt);
    drop(store);
    assert_eq!(body(&b, &note), "Shared\ntyped while waiting\n");

    // With the passphrase the edit goes out under the new key and reaches A.
    settle(&[&a, &b], &mut rng, 6);
    assert_eq!(body(&a, &note), "Shared\ntyped while waiting\n");
    let head = object::decode(&std::fs::read(&b_head).unwrap()).unwrap();
    assert_eq!(head.space.map(|s| s.epoch.0), Some(1));
}

/// Every blob slot `device` has in the bucket.
fn slots_of(cloud: &Cloud, device: &str) -> Vec<Vec<u8>> {
    personal_objects(cloud, device)
        .into_iter()
        .filter(|(key, _)| key.starts_with("blob/"))
        .map(|(_, bytes)| bytes)
        .filter(|bytes| !bytes.is_empty())
        .collect()
}

#[test]
fn an_attachment_added_after_a_removal_does_not_open_with_what_the_removed_device_holds() {
    use cairn_core::blob::{seal, BlobKeys, ChunkId};
    let cloud = Cloud::start();
    let mut rng = StdRng::seed_from_u64(16);
    let (a, b, c, _key, note) = three_devices(&cloud, &mut rng, "Photos\n");
    let out = a.run(&["devices", "remove", &c.device_id()]);
    assert!(out.status.success(), "{}", stderr(&out));

    // One chunk (far under the chunk size), so it starts its slot.
    let data: Vec<u8> = (0..150_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let dir = a.dir().join("files");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("harbour.bin");
    std::fs::write(&path, &data).unwrap();
    let attached = a.ok(&["attach", &note, path.to_str().unwrap()]);
    let attachment = attached.lines().last().unwrap().trim().to_owned();
    a.sync_ok();

    let slots = slots_of(&cloud, &a.device_id());
    assert_eq!(slots.len(), 1, "one slot with the one chunk");
    let slot = &slots[0];
    assert_eq!(&slot[..8], b"CBK2\x01\0\0\0", "sealed at epoch 1");
    let sealed = &slot[..seal::sealed_len(data.len())];
    let blob_keys = |d: &Device| {
        let keys = keys_in(d);
        BlobKeys::derive(Some(keys.content())).with_epochs(&keys.epoch_keys())
    };
    let id = ChunkId::of(&blob_keys(&c), &data);
    assert!(
        seal::open(&blob_keys(&c), &id, data.len(), sealed).is_err(),
        "the removed device opened a chunk added after"
    );
    assert_eq!(
        seal::open(&blob_keys(&a), &id, data.len(), sealed).unwrap(),
        data
    );

    // B, with the passphrase, downloads it with identical bytes.
    settle(&[&a, &b], &mut rng, 6);
    let out_path = b.dir().join("harbour-out.bin");
    let out = b.run(&["attachment", "get", &attachment, out_path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(&out_path).unwrap(), data);
}

/// Whether the service lists `id` among the account's devices, not revoked.
fn still_listed(cloud: &Cloud, d: &Device, id: &str) -> bool {
    let session = d.session(cloud);
    cloud.runtime().block_on(async {
        let token = session.access_token().await.unwrap();
        let devices = session.client().devices(&token).await.unwrap();
        devices
            .iter()
            .any(|x| x.id.as_str() == id && !x.is_revoked())
    })
}

#[test]
fn a_removal_with_a_wrong_passphrase_changes_nothing_and_a_failed_revoke_resumes_without_a_second_key(
) {
    use cairn_client::device_removal::{self, RemoveError, RevokeError};
    let mut cloud = Cloud::start();
    let mut rng = StdRng::seed_from_u64(15);
    let (a, _b, c, _key, _note) = three_devices(&cloud, &mut rng, "Kept\n");
    let c_id = cairn_protocol::DeviceId::parse(&c.device_id()).unwrap();
    let session = a.session(&cloud);
    let a_id = session.device_id();
    let remove = |secret: &'static str| {
        let (session, dir, c_id, a_id) = (
            session.clone(),
            a.dir().to_path_buf(),
            c_id.clone(),
            a_id.clone(),
        );
        async move {
            let token = session.access_token().await.unwrap();
            device_removal::remove_device(
                session.client(),
                &token,
                &dir,
                a_id.as_ref(),
                &c_id,
                secret,
                KdfParams::default(),
            )
            .await
        }
    };

    // A wrong passphrase: refused before anything changes.
    let envelope_before = envelope_keys(&cloud, &a);
    let wrong = cloud.runtime().block_on(remove("not the passphrase"));
    assert!(matches!(wrong, Err(RemoveError::WrongSecret)), "{wrong:?}");
    assert_eq!(envelope_keys(&cloud, &a), envelope_before);
    assert_eq!(keys_in(&a).epoch().0, 0);
    assert!(still_listed(&cloud, &a, c_id.as_str()), "c was revoked");

    // This device is not removable from itself.
    let own = cloud.runtime().block_on({
        let (session, dir, a_id) = (session.clone(), a.dir().to_path_buf(), a_id.clone());
        async move {
            let token = session.access_token().await.unwrap();
            let own = a_id.clone().unwrap();
            device_removal::remove_device(
                session.client(),
                &token,
                &dir,
                a_id.as_ref(),
                &own,
                PASSPHRASE,
                KdfParams::default(),
            )
            .await
        }
    });
    assert!(matches!(own, Err(RemoveError::ThisDevice)), "{own:?}");

    // The key rotated, then the service gone before the revoke: the
    // finishing step fails with a sentence and changes nothing more...
    let token = cloud.runtime().block_on(session.access_token()).unwrap();
    let rotated = cloud.runtime().block_on(rotate(&cloud, &a, a.dir()));
    assert!(matches!(rotated, Rotated::NewEpoch { epoch: 1, .. }));
    cloud.stop_service();
    let failed = cloud.runtime().block_on(device_removal::finish_removal(
        session.client(),
        &token,
        a.dir(),
        &c_id,
    ));
    assert!(matches!(failed, Err(RevokeError::Service(_))), "{failed:?}");
    cloud.start_service();
    assert!(still_listed(&cloud, &a, c_id.as_str()));

    // ...and resumed, it revokes without a second rotation.
    cloud
        .runtime()
        .block_on(device_removal::finish_removal(
            session.client(),
            &token,
            a.dir(),
            &c_id,
        ))
        .unwrap();
    assert!(!still_listed(&cloud, &a, c_id.as_str()), "c still listed");
    assert_eq!(keys_in(&a).epoch().0, 1, "a second rotation");
    assert_eq!(envelope_keys(&cloud, &a).epoch().0, 1);
    let out = c.run(&["sync"]);
    assert!(!out.status.success(), "the removed device synced");
}
