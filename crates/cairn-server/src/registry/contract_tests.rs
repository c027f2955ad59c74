//! The registry contract, run against both implementations: SQLite (a file
//! in a temporary dir) and PostgreSQL (a database of its own in the test
//! cluster, [`crate::test_postgres`]). A contract that needs two instances
//! opens two handles on the same registry.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::sync::Arc;

use cairn_protocol::{DeviceId, DeviceName, Platform, UserId};

use super::*;

/// Opens handles on one registry, as several instances would.
enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Backend {
    async fn sqlite() -> Backend {
        Backend::Sqlite(tempfile::tempdir().unwrap())
    }

    async fn postgres() -> Backend {
        let pg = crate::test_postgres::TestPostgres::shared();
        Backend::Postgres(pg.create_database().await.unwrap())
    }

    async fn open(&self) -> Arc<dyn Registry> {
        match self {
            Backend::Sqlite(dir) => {
                Arc::new(SqliteRegistry::open(&dir.path().join("registry.sqlite3")).unwrap())
            }
            Backend::Postgres(url) => Arc::new(PostgresRegistry::connect(url, 4).await.unwrap()),
        }
    }
}

/// Each contract, once per registry.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name(super::Backend::sqlite().await).await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name(super::Backend::postgres().await).await;
            })*
        }
    };
}

contract!(
    accounts_are_found_by_key_hash,
    devices_register_once_per_session_and_revoking_ends_their_sessions,
    published_sequences_only_grow_and_skip_revoked_devices,
    key_envelopes_are_compare_and_swap,
    a_sharing_identity_is_stored_once,
    oauth_states_and_login_codes_are_consumed_once_across_instances,
    refresh_tokens_rotate_and_a_reused_one_revokes_the_session,
    sign_in_limits_are_shared_by_every_instance,
    migrations_run_once_when_instances_start_together,
    space_records_land_once_on_the_newest_and_replace_standings,
);

fn user(n: u32) -> UserId {
    UserId::new("key", &format!("{n:016x}")).unwrap()
}

fn device(n: u32) -> DeviceId {
    DeviceId::parse(&format!("dev{n:09}")).unwrap()
}

fn tokens(tag: &str, now: i64) -> SessionTokens {
    SessionTokens {
        access_hash: format!("access-{tag}"),
        access_expires_at: now + 60,
        refresh_hash: format!("refresh-{tag}"),
        refresh_expires_at: now + 600,
    }
}

async fn accounts_are_found_by_key_hash(backend: Backend) {
    let r = backend.open().await;
    r.create_key_account(&user(1), "hash-1", 10).await.unwrap();
    assert_eq!(
        r.account_by_key_hash("hash-1").await.unwrap(),
        Some(user(1))
    );
    assert_eq!(r.account_by_key_hash("hash-2").await.unwrap(), None);
    // A second key account with the same hash is refused, not merged.
    assert!(r.create_key_account(&user(2), "hash-1", 10).await.is_err());
    let github = UserId::new("github", "4711").unwrap();
    r.ensure_provider_account(&github, 11).await.unwrap();
    r.ensure_provider_account(&github, 12).await.unwrap();
    assert!(r.ping().await.is_ok());
}

async fn devices_register_once_per_session_and_revoking_ends_their_sessions(backend: Backend) {
    let (a, b) = (backend.open().await, backend.open().await);
    a.create_key_account(&user(1), "h", 1).await.unwrap();
    let session = a
        .create_session(&user(1), None, &tokens("s", 1), 1)
        .await
        .unwrap();
    let (name, platform) = (
        DeviceName::parse("laptop").unwrap(),
        Platform::parse("linux").unwrap(),
    );
    // Two instances register a device on one session at once: one wins.
    let (u, d1, d2) = (user(1), device(1), device(2));
    let (first, second) = tokio::join!(
        a.register_device(session, &u, &d1, &name, &platform, 2),
        b.register_device(session, &u, &d2, &name, &platform, 2),
    );
    let won: Vec<_> = [first.unwrap(), second.unwrap()]
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(won.len(), 1, "{won:?}");
    let bound = b.session_device(session).await.unwrap().unwrap();
    assert_eq!(bound, won[0].id);
    assert_eq!(
        a.devices_of(&user(1)).await.unwrap().len(),
        1,
        "the loser rolled back"
    );
    assert!(
        a.device_of(&user(2), &bound).await.unwrap().is_none(),
        "another user's device"
    );

    a.rename_device(&user(1), &bound, &DeviceName::parse("desk").unwrap())
        .await
        .unwrap();
    assert_eq!(
        b.device_of(&user(1), &bound)
            .await
            .unwrap()
            .unwrap()
            .name
            .as_str(),
        "desk"
    );
    a.revoke_device(&user(1), &bound, 5).await.unwrap();
    assert_eq!(
        b.device_of(&user(1), &bound)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(5)
    );
    let record = b.session_by_id(session).await.unwrap().unwrap();
    assert!(record.revoked, "the device's session is revoked too");
    let by_token = b.session_by_access_hash("access-s").await.unwrap().unwrap();
    assert_eq!(
        (by_token.id, by_token.device_id),
        (session, Some(bound.clone()))
    );
    let (with, devices) = b.session_with_devices("access-s").await.unwrap().unwrap();
    assert_eq!(with.id, session);
    assert_eq!(devices.iter().map(|d| &d.id).collect::<Vec<_>>(), [&bound]);
    assert!(devices[0].revoked_at.is_some());
    a.create_key_account(&user(3), "h3", 6).await.unwrap();
    let other = a
        .create_session(&user(3), None, &tokens("other", 6), 6)
        .await
        .unwrap();
    let (with, devices) = a
        .session_with_devices("access-other")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (with.id, devices.len()),
        (other, 0),
        "a user without devices"
    );
    assert!(a
        .session_with_devices("access-none")
        .await
        .unwrap()
        .is_none());
}

async fn published_sequences_only_grow_and_skip_revoked_devices(backend: Backend) {
    let r = backend.open().await;
    r.create_key_account(&user(1), "h", 1).await.unwrap();
    let (name, platform) = (
        DeviceName::parse("d").unwrap(),
        Platform::parse("linux").unwrap(),
    );
    for n in 1..=3 {
        let s = r
            .create_session(&user(1), None, &tokens(&n.to_string(), 1), 1)
            .await
            .unwrap();
        r.register_device(s, &user(1), &device(n), &name, &platform, i64::from(n))
            .await
            .unwrap()
            .unwrap();
    }
    r.record_published(&user(1), &device(1), 7).await.unwrap();
    r.record_published(&user(1), &device(1), 5).await.unwrap();
    r.record_published(&user(1), &device(2), 1).await.unwrap();
    r.record_published(&user(1), &device(3), 9).await.unwrap();
    // Another user cannot write into this user's devices.
    r.record_published(&user(2), &device(2), 50).await.unwrap();
    r.revoke_device(&user(1), &device(3), 4).await.unwrap();
    assert_eq!(
        r.published_seqs(&user(1)).await.unwrap(),
        vec![(device(1), 7), (device(2), 1)]
    );
}

async fn key_envelopes_are_compare_and_swap(backend: Backend) {
    let r = backend.open().await;
    r.create_key_account(&user(1), "h", 1).await.unwrap();
    assert!(r.key_envelope(&user(1)).await.unwrap().is_none());
    assert!(r
        .put_key_envelope(&user(1), 0, 1, "{\"a\":1}", 2)
        .await
        .unwrap());
    assert!(!r
        .put_key_envelope(&user(1), 0, 1, "{\"b\":1}", 2)
        .await
        .unwrap());
    assert!(!r
        .put_key_envelope(&user(1), 5, 6, "{\"b\":1}", 2)
        .await
        .unwrap());
    assert!(r
        .put_key_envelope(&user(1), 1, 2, "{\"c\":1}", 3)
        .await
        .unwrap());
    let stored = r.key_envelope(&user(1)).await.unwrap().unwrap();
    assert_eq!(
        (stored.generation, stored.envelope.as_str()),
        (2, "{\"c\":1}")
    );
}

async fn a_sharing_identity_is_stored_once(backend: Backend) {
    let (a, b) = (backend.open().await, backend.open().await);
    a.create_key_account(&user(1), "h", 1).await.unwrap();
    assert!(a.sharing_identity(&user(1)).await.unwrap().is_none());
    let first = StoredIdentity {
        sealed: vec![1, 2, 3],
        wrap_key: "aa".repeat(32),
        sign_key: "bb".repeat(32),
        generation: 0,
        previous_sealed: None,
    };
    let other = StoredIdentity {
        sealed: vec![9],
        ..first.clone()
    };
    assert!(a.put_sharing_identity(&user(1), &first, 2).await.unwrap());
    // A second one, from another instance too, changes nothing.
    assert!(!b.put_sharing_identity(&user(1), &other, 3).await.unwrap());
    assert!(!a.put_sharing_identity(&user(1), &first, 3).await.unwrap());
    assert_eq!(
        b.sharing_identity(&user(1)).await.unwrap(),
        Some(first.clone())
    );
    assert!(b.sharing_identity(&user(2)).await.unwrap().is_none());

    // Replaced by compare-and-swap on the generation: of two instances
    // racing from generation 0, one lands, with its statement.
    let next = StoredIdentity {
        sealed: vec![4],
        wrap_key: "cc".repeat(32),
        sign_key: "dd".repeat(32),
        generation: 1,
        previous_sealed: Some(first.sealed.clone()),
    };
    let rival = StoredIdentity {
        sealed: vec![5],
        ..next.clone()
    };
    assert!(a
        .replace_sharing_identity(&user(1), 0, &next, b"s1", 4)
        .await
        .unwrap());
    assert!(!b
        .replace_sharing_identity(&user(1), 0, &rival, b"s1'", 4)
        .await
        .unwrap());
    assert_eq!(
        b.sharing_identity(&user(1)).await.unwrap(),
        Some(next.clone())
    );
    assert_eq!(
        a.identity_successors(&user(1)).await.unwrap(),
        vec![b"s1".to_vec()]
    );
    // An account with none has nothing to replace.
    assert!(!a
        .replace_sharing_identity(&user(2), 0, &next, b"s", 4)
        .await
        .unwrap());
    assert!(a.identity_successors(&user(2)).await.unwrap().is_empty());
}

async fn oauth_states_and_login_codes_are_consumed_once_across_instances(backend: Backend) {
    let (a, b) = (backend.open().await, backend.open().await);
    let pending = PendingGithubSignIn {
        pkce_verifier: "v".into(),
        redirect_uri: "http://127.0.0.1:1/cb".into(),
        client_challenge: "c".into(),
    };
    a.put_oauth_state("state", &pending, 100).await.unwrap();
    let (first, second) = tokio::join!(
        a.take_oauth_state("state", 10),
        b.take_oauth_state("state", 10)
    );
    let taken: Vec<_> = [first.unwrap(), second.unwrap()]
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(
        taken,
        vec![pending.clone()],
        "exactly one instance gets the state"
    );
    a.put_oauth_state("old", &pending, 100).await.unwrap();
    assert!(
        b.take_oauth_state("old", 100).await.unwrap().is_none(),
        "expired"
    );

    let github = UserId::new("github", "1").unwrap();
    a.ensure_provider_account(&github, 1).await.unwrap();
    a.put_login_code("code", &github, "challenge", 100)
        .await
        .unwrap();
    let (first, second) =
        tokio::join!(a.take_login_code("code", 10), b.take_login_code("code", 10));
    let taken: Vec<_> = [first.unwrap(), second.unwrap()]
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(taken, vec![(github, "challenge".to_owned())]);
}

async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_session(backend: Backend) {
    let (a, b) = (backend.open().await, backend.open().await);
    a.create_key_account(&user(1), "h", 1).await.unwrap();
    let id = a
        .create_session(&user(1), None, &tokens("1", 0), 0)
        .await
        .unwrap();
    match b
        .rotate_session("refresh-1", &tokens("2", 10), 1000, 10)
        .await
        .unwrap()
    {
        Rotation::Rotated {
            user_id,
            access_expires_at,
            ..
        } => {
            assert_eq!((user_id, access_expires_at), (user(1), 70));
        }
        other => panic!("{other:?}"),
    }
    // The lifetime caps the new expiries.
    match a
        .rotate_session("refresh-2", &tokens("3", 20), 50, 20)
        .await
        .unwrap()
    {
        Rotation::Rotated {
            refresh_expires_at, ..
        } => assert_eq!(refresh_expires_at, 50),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        a.rotate_session("unknown", &tokens("x", 20), 1000, 20)
            .await
            .unwrap(),
        Rotation::Refused
    ));
    // The first token, presented again on the other instance: a reuse.
    match b
        .rotate_session("refresh-1", &tokens("4", 30), 1000, 30)
        .await
        .unwrap()
    {
        Rotation::Reused { session_id, .. } => assert_eq!(session_id, id),
        other => panic!("{other:?}"),
    }
    assert!(a.session_by_id(id).await.unwrap().unwrap().revoked);
    assert!(matches!(
        a.rotate_session("refresh-3", &tokens("5", 31), 1000, 31)
            .await
            .unwrap(),
        Rotation::Refused
    ));
    let other = a
        .create_session(&user(1), None, &tokens("6", 40), 40)
        .await
        .unwrap();
    b.revoke_session(other, 41).await.unwrap();
    assert!(a.session_by_id(other).await.unwrap().unwrap().revoked);
}

async fn sign_in_limits_are_shared_by_every_instance(backend: Backend) {
    let instances = [
        backend.open().await,
        backend.open().await,
        backend.open().await,
    ];
    let quota = Gcra {
        interval_ms: 1_000,
        burst: 5,
    };
    // Thirty attempts at once, spread over three instances: five pass.
    let mut attempts = Vec::new();
    for i in 0..30 {
        let r = instances[i % 3].clone();
        attempts.push(tokio::spawn(async move {
            r.take_sign_in("ip:192.0.2.1", quota, 10_000).await.unwrap()
        }));
    }
    let mut allowed = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            None => allowed += 1,
            Some(wait_ms) => assert!((1..=1_000).contains(&wait_ms), "{wait_ms}"),
        }
    }
    assert_eq!(allowed, 5);
    let r = &instances[0];
    assert!(r
        .take_sign_in("ip:192.0.2.2", quota, 10_000)
        .await
        .unwrap()
        .is_none());
    // One interval later, one more.
    assert!(r
        .take_sign_in("ip:192.0.2.1", quota, 11_000)
        .await
        .unwrap()
        .is_none());
    assert!(r
        .take_sign_in("ip:192.0.2.1", quota, 11_000)
        .await
        .unwrap()
        .is_some());
    // Forgetting full buckets keeps the ones still counting.
    r.forget_full_sign_in_buckets(11_000).await.unwrap();
    assert!(instances[1]
        .take_sign_in("ip:192.0.2.1", quota, 11_000)
        .await
        .unwrap()
        .is_some());
}

async fn migrations_run_once_when_instances_start_together(backend: Backend) {
    let opened = futures_util::future::join_all((0..4).map(|_| backend.open())).await;
    for r in &opened {
        r.ping().await.unwrap();
    }
    // Each works on the same registry.
    opened[0]
        .create_key_account(&user(1), "h", 1)
        .await
        .unwrap();
    assert_eq!(
        opened[3].account_by_key_hash("h").await.unwrap(),
        Some(user(1))
    );
}

async fn space_records_land_once_on_the_newest_and_replace_standings(backend: Backend) {
    use cairn_protocol::{SpaceId, SpaceRole};
    let (one, two) = (backend.open().await, backend.open().await);
    let owner = user(1);
    one.create_key_account(&owner, "hash-1", 1).await.unwrap();
    let space = SpaceId::parse(&"ab".repeat(16)).unwrap();
    let member = |u: UserId, standing| SpaceMembership { user: u, standing };
    let genesis = NewRecord {
        seq: 0,
        bytes: b"r0",
        hash: "h0",
        prev: "",
    };
    let owner_only = [member(
        owner.clone(),
        Standing::Member {
            role: SpaceRole::Owner,
        },
    )];
    assert!(one
        .create_space(&space, &owner, genesis, &owner_only, 2)
        .await
        .unwrap());
    // The same id again is refused, not overwritten.
    assert!(!two
        .create_space(&space, &owner, genesis, &owner_only, 2)
        .await
        .unwrap());

    // Two instances append record 1 at once: exactly one lands.
    let invited = |n: u32| {
        vec![
            owner_only[0].clone(),
            member(
                user(n),
                Standing::Invited {
                    role: SpaceRole::Editor,
                    seq: 1,
                },
            ),
        ]
    };
    let (a, b) = (invited(2), invited(3));
    let first = NewRecord {
        seq: 1,
        bytes: b"r1-a",
        hash: "h1a",
        prev: "h0",
    };
    let second = NewRecord {
        seq: 1,
        bytes: b"r1-b",
        hash: "h1b",
        prev: "h0",
    };
    let (x, y) = tokio::join!(
        one.append_space_record(&space, first, &a, 3),
        two.append_space_record(&space, second, &b, 3),
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    assert!(x ^ y, "exactly one append lands: {x} {y}");
    let (winner, bytes): (u32, &[u8]) = if x { (2, b"r1-a") } else { (3, b"r1-b") };
    assert_eq!(
        two.space_records(&space, Some(0), None).await.unwrap(),
        vec![(1, bytes.to_vec())]
    );
    assert_eq!(
        one.space_records(&space, None, Some(0)).await.unwrap(),
        vec![(0, b"r0".to_vec())]
    );
    assert_eq!(
        two.standing(&space, &user(winner)).await.unwrap(),
        Some(Standing::Invited {
            role: SpaceRole::Editor,
            seq: 1
        })
    );
    assert_eq!(two.standing(&space, &user(5 - winner)).await.unwrap(), None);
    // A record naming a stale predecessor is refused.
    let stale = NewRecord {
        seq: 2,
        bytes: b"r2",
        hash: "h2",
        prev: "h0",
    };
    assert!(!one
        .append_space_record(&space, stale, &owner_only, 4)
        .await
        .unwrap());
    let mine = two.spaces_of(&user(winner)).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].space, space);
    assert_eq!((mine[0].head.last_seq, &mine[0].head.owner), (1, &owner));
    assert_eq!(two.space_members(&space).await.unwrap().len(), 2);

    // Published sequences per device in the space only grow.
    one.record_space_published(&space, &owner, &device(1), 5)
        .await
        .unwrap();
    two.record_space_published(&space, &owner, &device(1), 4)
        .await
        .unwrap();
    assert_eq!(
        one.space_published_seqs(&space).await.unwrap(),
        vec![(device(1), 5)]
    );
}
