//! Removing a device also rotates the account's sharing identity, over
//! loopback against the real service and the real S3 server, each device
//! with its own data dir and driven through the real `cairn` binary:
//!
//! - Alice (three devices) shares a notebook with Bob; she removes one
//!   device. The service then holds her new public identity, vouched for
//!   by the old key; Bob's next sync follows it (his pin moves, `cairn
//!   members` says the key changed and was vouched for); the shared
//!   notebook is at a new epoch; what Bob writes afterwards opens with
//!   nothing the removed device holds, and Alice's other devices read it
//!   (the second once it has the passphrase).
//! - A new key not vouched for by the pinned one is refused by the
//!   service, and, written into the service's database behind its back,
//!   by Bob's device with the loud warning, his pin kept; an older
//!   identity served again (a replay) is refused the same way.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use cairn_client::sharing::{ShareError, Sharing};
use cairn_client::sharing_identity::IdentityFetchError;
use cairn_core::space::chain::{SpaceState, Verifier};
use cairn_core::space::epoch::{Epoch, SpaceId};
use cairn_core::space::identity::{IdentityError, PublicIdentity, SharingIdentity};
use cairn_core::space::object_ad::{self, ObjectPlace};
use cairn_core::space::pins::PinError;
use cairn_core::space::safety_number::fingerprint;
use cairn_core::space::successor::Successor;
use cairn_core::sync::object;
use cairn_protocol::{DeviceId, ErrorCode, ReplaceSharingIdentity, UserId};
use cairn_scenarios::cloud::Cloud;
use cairn_scenarios::device::Device;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn last_line(out: &str) -> String {
    out.trim().lines().last().unwrap().trim().to_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `cairn identity --json` of `d`: (account, fingerprint).
fn identity(d: &Device) -> (String, String) {
    let me: serde_json::Value = serde_json::from_str(&d.ok(&["identity", "--json"])).unwrap();
    (
        me["account"].as_str().unwrap().to_owned(),
        me["fingerprint"].as_str().unwrap().to_owned(),
    )
}

/// `owner` shares `notebook` with the account of `invitee` as an editor,
/// and the invitee accepts: the space.
fn share(owner: &Device, invitee: &Device, notebook: &str) -> SpaceId {
    let (account, fp) = identity(invitee);
    let out = owner.ok(&[
        "share",
        notebook,
        "--with",
        &account,
        "--role",
        "editor",
        "--fingerprint",
        &fp,
    ]);
    let id = last_line(&out);
    invitee.ok(&["accept", &id]);
    SpaceId::parse(&id).unwrap()
}

fn body(d: &Device, id: &str) -> Option<String> {
    d.store().get(id).ok().map(|n| n.body)
}

/// Syncs `devices` in turn until `done` holds, a few passes at most.
fn sync_until(devices: &[&Device], what: &str, done: impl Fn() -> bool) {
    for _ in 0..6 {
        if done() {
            return;
        }
        for d in devices {
            d.sync_ok();
        }
    }
    assert!(done(), "never happened: {what}");
}

/// `account`'s public identity and successor statements as the service
/// hands them to `d`.
fn served(cloud: &Cloud, d: &Device, account: &str) -> (PublicIdentity, Vec<Successor>) {
    let session = d.session(cloud);
    let account = UserId::parse(account).unwrap();
    cloud.runtime().block_on(async {
        let token = session.access_token().await.unwrap();
        session
            .client()
            .public_identity_vouched(&token, &account)
            .await
            .unwrap()
    })
}

/// `d`'s account's sharing identity as its devices open it now.
fn opened_identity(cloud: &Cloud, d: &Device) -> Result<SharingIdentity, ShareError> {
    let store = Arc::new(Mutex::new(d.store()));
    cloud.runtime().block_on(async {
        Sharing::open(d.dir(), d.session(cloud), store)
            .await
            .map(|s| s.me().clone())
    })
}

/// The space's chain as `d` keeps it, verified.
fn state_on(d: &Device, space: &SpaceId) -> SpaceState {
    let records = d.store().local_space_records(space).unwrap();
    SpaceState::verify(*space, &records, Verifier::default()).unwrap()
}

/// `cairn members NOTEBOOK --json` on `d`: the row of `account`.
fn member_row(d: &Device, notebook: &str, account: &str) -> serde_json::Value {
    let rows: serde_json::Value =
        serde_json::from_str(&d.ok(&["members", notebook, "--json"])).unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["account"] == account)
        .cloned()
        .unwrap_or_else(|| panic!("no {account} in {rows}"))
}

#[test]
fn removing_a_device_rotates_the_sharing_identity_and_the_shared_notebook_moves_on() {
    let cloud = Cloud::start();
    let (a1, a2, a3) = (Device::new("a1"), Device::new("a2"), Device::new("a3"));
    let key = cloud.create_account(a1.dir());
    for d in [&a1, &a2, &a3] {
        d.login(&cloud, &key);
    }
    let b1 = Device::new("b1");
    let bob_key = cloud.create_account(b1.dir());
    b1.login(&cloud, &bob_key);
    let (alice, old_fp) = identity(&a1);
    let (bob, _) = identity(&b1);

    a1.ok(&["notebook", "create", "Trip"]);
    let note = last_line(&a1.ok(&["new", "--notebook", "Trip", "Route\n"]));
    let space = share(&a1, &b1, "Trip");
    // And a notebook Bob owns, shared with Alice.
    b1.ok(&["notebook", "create", "Groceries"]);
    b1.ok(&["new", "--notebook", "Groceries", "Milk\n"]);
    let bobs_space = share(&b1, &a1, "Groceries");
    sync_until(&[&a1, &b1], "the route reaches bob", || {
        body(&b1, &note).is_some()
    });
    b1.store()
        .splice(&note, "Route\n".len(), 0, "via the pass (bob)\n")
        .unwrap();
    sync_until(
        &[&b1, &a1, &a2, &a3],
        "bob's line reaches alice's devices",
        || {
            [&a1, &a2, &a3]
                .iter()
                .all(|d| body(d, &note).is_some_and(|b| b.contains("via the pass")))
        },
    );
    // What the device about to be removed holds of the sharing identity:
    // the old one, opened with its keys.
    let old = opened_identity(&cloud, &a3).unwrap();
    assert_eq!(fingerprint(&old.public()), old_fp);
    assert_eq!(
        b1.store().sharing_pins().unwrap().get(old.account()),
        Some(&old.public())
    );

    let out = a1.run(&["devices", "remove", &a3.device_id()]);
    let said = stdout(&out);
    assert!(out.status.success(), "{said}{}", stderr(&out));
    assert!(said.contains("your sharing key is new too"), "{said}");
    assert!(said.contains("2 shared notebook(s) moved"), "{said}");

    // The service holds the new public identity, vouched for by the old.
    let (new, statements) = served(&cloud, &b1, &alice);
    assert_ne!(new, old.public());
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0].previous, old.public());
    assert_eq!(statements[0].next, new);
    assert_eq!(statements[0].verify(), Ok(()));
    let (_, new_fp) = identity(&a1);
    assert_eq!(new_fp, fingerprint(&new));
    // Alice owns the notebook: her device handed it over and started the
    // next epoch at once, wrapped to her new key and to bob's.
    let on_a1 = state_on(&a1, &space);
    assert_eq!(on_a1.epoch, Epoch(2));
    assert_eq!(on_a1.members[old.account()].identity, new);
    assert!(
        on_a1.current_key(&old).is_err(),
        "the old identity opens the new epoch"
    );
    // Bob owns the other one: handed over, it waits for his next sync to
    // move to a new epoch.
    let groceries = state_on(&a1, &bobs_space);
    assert_eq!(groceries.members[old.account()].identity, new);
    assert!(groceries.rotation_due);
    assert_eq!(groceries.epoch, Epoch::FIRST);

    // Bob's next sync follows the change: no warning, his pin moves, and
    // `cairn members` says so.
    b1.sync_ok();
    assert_eq!(
        b1.store().sharing_pins().unwrap().get(old.account()),
        Some(&new)
    );
    let row = member_row(&b1, "Trip", &alice);
    assert_eq!(row["fingerprint"], new_fp.as_str());
    assert_eq!(row["key_changed"], true);
    assert_eq!(row["vouched_by_previous"], true);
    assert_eq!(row["previous_fingerprint"], old_fp.as_str());
    let text = b1.ok(&["members", "Trip"]);
    assert!(text.contains("sharing key changed"), "{text}");
    assert!(text.contains("vouched for the new one"), "{text}");
    // His own row says nothing changed.
    assert_eq!(member_row(&b1, "Trip", &bob)["key_changed"], false);
    let on_b1 = state_on(&b1, &space);
    assert_eq!(on_b1.epoch, Epoch(2));
    // His sync started the next epoch of his own notebook, wrapped to
    // Alice's new key: her device opens it, the old identity does not.
    let groceries = state_on(&b1, &bobs_space);
    assert_eq!(groceries.epoch, Epoch(2));
    assert!(!groceries.rotation_due);
    assert!(groceries.current_key(&old).is_err());
    a1.sync_ok();
    assert!(a1
        .store()
        .epoch_keys(&bobs_space)
        .unwrap()
        .contains_key(&Epoch(2)));
    assert!(b1
        .store()
        .epoch_keys(&space)
        .unwrap()
        .contains_key(&Epoch(2)));

    // Bob writes after the rotation: sealed under epoch 2.
    b1.store()
        .splice(&note, 0, 0, "Written after a3 left. ")
        .unwrap();
    b1.sync_ok();
    let bob_user = UserId::parse(&bob).unwrap();
    let bob_device = DeviceId::parse(&b1.device_id()).unwrap();
    let head_path = cloud.bucket_dir().join(format!(
        "spaces/{space}/users/{bob_user}/devices/{bob_device}/head"
    ));
    let head = object::decode(&std::fs::read(&head_path).unwrap()).unwrap();
    assert_eq!(head.space.unwrap().epoch, Epoch(2));
    let place = ObjectPlace {
        space,
        user: bob_user,
        device: bob_device,
        key: "head".into(),
    };
    // Nothing the removed device's data dir holds opens it: not the space
    // keys it kept, not the identity (the old one, whose wrap of epoch 2
    // does not exist), not the new sealed identity (its personal keys
    // stop before the epoch that seals it).
    let a3_space_keys = a3.store().epoch_keys(&space).unwrap();
    assert!(!a3_space_keys.contains_key(&Epoch(2)));
    for k in a3_space_keys.values() {
        let k = k.clone();
        assert!(object_ad::open(&head, &place, |_| Some(k.clone())).is_err());
    }
    assert!(on_b1.current_key(&old).is_err());
    let a3_keys = cairn_client::encryption::load_account_keys(a3.dir())
        .unwrap()
        .unwrap();
    let sealed_now = {
        let session = a1.session(&cloud);
        cloud.runtime().block_on(async {
            let token = session.access_token().await.unwrap();
            session
                .client()
                .my_sharing_identity(&token)
                .await
                .unwrap()
                .unwrap()
        })
    };
    let sealed = B64.decode(sealed_now.sealed.as_bytes()).unwrap();
    assert_eq!(
        SharingIdentity::open_with(old.account().clone(), &a3_keys, &sealed).unwrap_err(),
        IdentityError::NoKey { epoch: 1 }
    );
    // The removed device itself gets nothing more.
    let out = a3.run(&["sync"]);
    assert!(!out.status.success(), "a removed device synced");
    assert!(body(&a3, &note).is_some_and(|b| !b.contains("Written after a3 left")));

    // A1 reads it; A2 only once it has the passphrase, and then opens the
    // new identity too.
    sync_until(&[&a1], "a1 reads bob's line", || {
        body(&a1, &note).is_some_and(|b| b.contains("Written after a3 left"))
    });
    let waiting = a2.run_with_env(&["sync"], "CAIRN_PASSPHRASE", "");
    assert!(!waiting.status.success(), "a2 synced without the new key");
    assert!(matches!(
        opened_identity(&cloud, &a2),
        Err(ShareError::Identity(IdentityFetchError::Identity(
            IdentityError::NoKey { epoch: 1 }
        )))
    ));
    sync_until(&[&a2], "a2 reads bob's line", || {
        body(&a2, &note).is_some_and(|b| b.contains("Written after a3 left"))
    });
    assert_eq!(opened_identity(&cloud, &a2).unwrap().public(), new);
    assert_eq!(identity(&a2).1, new_fp);

    // Everyone goes on editing at the new epoch.
    a2.store().splice(&note, 0, 0, "A2 again. ").unwrap();
    sync_until(&[&a2, &b1], "a2's line reaches bob", || {
        body(&b1, &note).is_some_and(|b| b.contains("A2 again"))
    });
}

/// Alice's identity row in the service's SQLite registry, rewritten
/// behind the service's back (the hostile tests' way to make it serve
/// anything): keys, generation, and the statements kept.
fn rewrite_identity(
    cloud: &Cloud,
    alice: &str,
    id: &PublicIdentity,
    generation: u64,
    statements: &[Vec<u8>],
) {
    let db = rusqlite::Connection::open(cloud.data_dir().join("registry.sqlite3")).unwrap();
    db.execute(
        "UPDATE sharing_identities SET wrap_key = ?2, sign_key = ?3, generation = ?4 WHERE user_id = ?1",
        rusqlite::params![
            alice,
            hex::encode(id.wrap_key),
            hex::encode(id.sign_key),
            generation as i64
        ],
    )
    .unwrap();
    db.execute(
        "DELETE FROM sharing_identity_successors WHERE user_id = ?1",
        [alice],
    )
    .unwrap();
    for (i, s) in statements.iter().enumerate() {
        db.execute(
            "INSERT INTO sharing_identity_successors (user_id, generation, statement, created_at)
             VALUES (?1, ?2, ?3, 0)",
            rusqlite::params![alice, i as i64 + 1, s],
        )
        .unwrap();
    }
}

/// Bob shares a notebook of his with alice: the outcome of the identity
/// check against his pin, and nothing shared if it is refused.
fn bob_shares_with_alice(
    cloud: &Cloud,
    b1: &Device,
    alice: &str,
    notebook: &str,
) -> Result<(), ShareError> {
    let alice = UserId::parse(alice).unwrap();
    let store = Arc::new(Mutex::new(b1.store()));
    cloud.runtime().block_on(async {
        let s = Sharing::open(b1.dir(), b1.session(cloud), store).await?;
        s.check_invitee(&alice).await?;
        s.share(
            notebook,
            &alice,
            cairn_core::space::record::Role::Editor,
            None,
        )
        .await
        .map(|_| ())
    })
}

fn assert_loud(outcome: Result<(), ShareError>) {
    let e = outcome.unwrap_err();
    assert!(
        matches!(e, ShareError::Pin(PinError::KeyChanged { .. })),
        "{e:?}"
    );
    assert!(e.to_string().contains("has changed"), "{e}");
}

#[test]
fn a_new_sharing_key_the_pinned_one_did_not_vouch_for_is_refused_and_so_is_a_replay() {
    if std::env::var("CAIRN_TEST_REGISTRY").is_ok_and(|v| v == "postgres") {
        // The rewrite below goes through the SQLite file.
        return;
    }
    let cloud = Cloud::start();
    let (a1, a2) = (Device::new("a1"), Device::new("a2"));
    let key = cloud.create_account(a1.dir());
    a1.login(&cloud, &key);
    a2.login(&cloud, &key);
    a2.sync_ok();
    let b1 = Device::new("b1");
    let bob_key = cloud.create_account(b1.dir());
    b1.login(&cloud, &bob_key);
    let (alice, _) = identity(&a1);
    a1.ok(&["notebook", "create", "Plans"]);
    share(&a1, &b1, "Plans");
    b1.ok(&["notebook", "create", "Bobs"]);
    b1.ok(&["notebook", "create", "Bobs2"]);
    let k0 = opened_identity(&cloud, &a1).unwrap();
    let alice_user = k0.account().clone();
    let mallory = SharingIdentity::generate(alice_user.clone());

    // The service refuses a replacement the current key did not sign:
    // signed by the new key itself, for other keys, for another
    // generation.
    let session = a1.session(&cloud);
    let attempt = |statement: &Successor, offered: &PublicIdentity, expected: u64| {
        let request = ReplaceSharingIdentity {
            expected_generation: expected,
            sealed: B64.encode(mallory.seal(&a1.content_key())),
            wrap_key: hex::encode(offered.wrap_key),
            sign_key: hex::encode(offered.sign_key),
            successor: B64.encode(statement.encode()),
        };
        cloud.runtime().block_on(async {
            let token = session.access_token().await.unwrap();
            session
                .client()
                .replace_sharing_identity(&token, &request)
                .await
        })
    };
    let forged = Successor::sign(&mallory, &mallory.public(), 1);
    let wrong_signer = attempt(&forged, &mallory.public(), 0).unwrap_err();
    assert_eq!(wrong_signer.api_code(), Some(ErrorCode::InvalidSuccessor));
    let other_keys = attempt(
        &Successor::sign(
            &k0,
            &SharingIdentity::generate(alice_user.clone()).public(),
            1,
        ),
        &mallory.public(),
        0,
    )
    .unwrap_err();
    assert_eq!(other_keys.api_code(), Some(ErrorCode::InvalidSuccessor));
    let skipped = attempt(
        &Successor::sign(&k0, &mallory.public(), 2),
        &mallory.public(),
        0,
    )
    .unwrap_err();
    assert_eq!(skipped.api_code(), Some(ErrorCode::InvalidSuccessor));
    assert_eq!(served(&cloud, &b1, &alice).0, k0.public());

    // Behind the service's back, its database now serves mallory's key
    // with a statement mallory signed in alice's name: bob's device
    // refuses it loudly, and keeps the pin.
    let forged_statement = {
        let s = Successor::sign(&mallory, &mallory.public(), 1).encode();
        // The previous keys rewritten to alice's, the signature mallory's.
        let mut bytes = Successor::sign(&k0, &mallory.public(), 1).encode();
        let sig_at = bytes.len() - 64;
        bytes[sig_at..].copy_from_slice(&s[s.len() - 64..]);
        bytes
    };
    assert!(Successor::decode(&forged_statement)
        .unwrap()
        .verify()
        .is_err());
    rewrite_identity(&cloud, &alice, &mallory.public(), 1, &[forged_statement]);
    assert_loud(bob_shares_with_alice(&cloud, &b1, &alice, "Bobs"));
    assert_eq!(
        b1.store().sharing_pins().unwrap().get(&alice_user),
        Some(&k0.public())
    );
    // With no statement at all: the same.
    rewrite_identity(&cloud, &alice, &mallory.public(), 1, &[]);
    assert_loud(bob_shares_with_alice(&cloud, &b1, &alice, "Bobs"));
    assert_eq!(
        b1.store().sharing_pins().unwrap().get(&alice_user),
        Some(&k0.public())
    );
    // Nothing was shared with the key bob refused.
    assert_eq!(b1.store().local_spaces().unwrap().len(), 1);

    // The real row back; alice removes a2 and her identity rotates: bob
    // follows, and his device still shares with her.
    rewrite_identity(&cloud, &alice, &k0.public(), 0, &[]);
    a1.ok(&["devices", "remove", &a2.device_id()]);
    let (k1, statements) = served(&cloud, &b1, &alice);
    assert_ne!(k1, k0.public());
    b1.sync_ok();
    assert_eq!(
        b1.store().sharing_pins().unwrap().get(&alice_user),
        Some(&k1)
    );

    // The statement sent to the service again is refused: it replaces a
    // key that is no longer the current one (and at the stale generation,
    // as a conflict).
    let replayed = attempt(&statements[0], &k1, 1).unwrap_err();
    assert_eq!(replayed.api_code(), Some(ErrorCode::InvalidSuccessor));
    let stale = attempt(&statements[0], &k1, 0).unwrap_err();
    assert_eq!(stale.api_code(), Some(ErrorCode::Conflict));

    // The service serves the old key again, with the old statement (a
    // replay of the identity before the rotation): bob refuses it loudly
    // and keeps the new pin.
    let kept: Vec<Vec<u8>> = statements.iter().map(Successor::encode).collect();
    rewrite_identity(&cloud, &alice, &k0.public(), 0, &kept);
    assert_loud(bob_shares_with_alice(&cloud, &b1, &alice, "Bobs2"));
    assert_eq!(
        b1.store().sharing_pins().unwrap().get(&alice_user),
        Some(&k1)
    );

    // Served as it is, the rotated key is accepted for a new share.
    rewrite_identity(&cloud, &alice, &k1, 1, &kept);
    bob_shares_with_alice(&cloud, &b1, &alice, "Bobs2").unwrap();
}

/// Two devices of one account replacing its sharing identity at the same
/// moment (both took the new personal key): one replacement lands, the
/// other device finds the identity current and keeps it, so the account
/// ends with one identity, one statement, and both devices open it.
#[test]
fn two_devices_rotating_the_identity_at_once_do_not_fork_it() {
    use cairn_client::encryption;
    use cairn_client::sharing_identity::{rotate_sharing_identity, IdentityRotated};
    use cairn_core::crypto::KdfParams;
    let cloud = Cloud::start();
    let (a1, a2) = (Device::new("a1"), Device::new("a2"));
    let key = cloud.create_account(a1.dir());
    a1.login(&cloud, &key);
    a2.login(&cloud, &key);
    let (alice, _) = identity(&a1);
    let before = opened_identity(&cloud, &a2).unwrap();
    let (s1, s2) = (a1.session(&cloud), a2.session(&cloud));
    cloud.runtime().block_on(async {
        let token = s1.access_token().await.unwrap();
        encryption::rotate_personal_key(
            s1.client(),
            &token,
            a1.dir(),
            cairn_scenarios::device::PASSPHRASE,
            KdfParams::default(),
        )
        .await
        .unwrap();
        let token = s2.access_token().await.unwrap();
        encryption::catch_up_personal_key(
            s2.client(),
            &token,
            a2.dir(),
            Some(cairn_scenarios::device::PASSPHRASE),
        )
        .await
        .unwrap()
        .expect("a2 takes the new key");
    });
    let keys = |d: &Device| encryption::load_account_keys(d.dir()).unwrap().unwrap();
    let (k1, k2) = (keys(&a1), keys(&a2));
    assert_eq!(k1, k2);
    let (r1, r2) = cloud.runtime().block_on(async {
        tokio::join!(
            rotate_sharing_identity(&s1, &k1),
            rotate_sharing_identity(&s2, &k2)
        )
    });
    let outcomes = [r1.unwrap(), r2.unwrap()];
    let replaced: Vec<&PublicIdentity> = outcomes
        .iter()
        .filter_map(|o| match o {
            IdentityRotated::Replaced(id) => Some(id),
            _ => None,
        })
        .collect();
    assert_eq!(replaced.len(), 1, "{outcomes:?}");
    assert!(
        outcomes.contains(&IdentityRotated::AlreadyCurrent),
        "{outcomes:?}"
    );
    let (served_now, statements) = served(&cloud, &a1, &alice);
    assert_eq!(&served_now, replaced[0]);
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0].previous, before.public());
    for d in [&a1, &a2] {
        assert_eq!(opened_identity(&cloud, d).unwrap().public(), served_now);
    }
}
