//! Grants and tokens running out, against the real service and S3 server
//! (which checks presigned URLs' expiry): an expired grant with no session
//! to renew it puts sync into "sign-in needed" while local editing goes
//! on; with the service down, devices sync through storage until their
//! grants expire. Both end converged once the user signs in again or the
//! service is back. A watching device goes on hearing its peers across
//! access token expiries.
//!
//! Time is the cloud's manual clock, moved past each expiry; nothing waits
//! for it to pass.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::sync::Mutex;
use std::time::Duration;

use cairn_client::CredentialStore;
use cairn_core::sync::run_round;
use cairn_scenarios::cloud::{Cloud, CloudOptions};
use cairn_scenarios::device::{assert_converged, settle, Device};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Polls `done` (bounded) until it holds: for what a `cairn` child
/// process does in its own time.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn json_i64(path: &std::path::Path, field: &str) -> i64 {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("read")).expect("JSON");
    v[field].as_i64().expect("a number")
}

#[test]
fn an_expired_grant_needs_sign_in_and_local_edits_go_on() {
    let cloud = Cloud::start_with(CloudOptions {
        grant_lifetime_secs: Some(3600),
        access_token_ttl_secs: Some(600),
        refresh_token_ttl_secs: Some(7200),
        ..CloudOptions::default()
    });
    let mut rng = StdRng::seed_from_u64(7);
    let (laptop, phone) = (Device::new("laptop"), Device::new("phone"));
    let key = cloud.create_account(laptop.dir());
    laptop.login(&cloud, &key);
    phone.login(&cloud, &key);
    laptop.ok(&["new", "before the grant ran out"]);
    settle(&[&laptop, &phone], &mut rng, 6);

    // Time passes: the grant expires and so does the session that could
    // have renewed it.
    let grant_expiry = laptop.grant().expires_at;
    let session_expiry = json_i64(&laptop.dir().join("credentials.json"), "refresh_expires_at");
    assert!(grant_expiry > cloud.now_secs() && session_expiry > cloud.now_secs());
    cloud.advance_past(grant_expiry.max(session_expiry));

    // Storage itself refuses the old grant's URLs...
    {
        let mut store = laptop.store();
        store.set_content_key(Some(laptop.content_key()));
        let store = Mutex::new(store);
        let peers = vec![phone.device_id()];
        store
            .lock()
            .expect("store")
            .create_note("typed just before")
            .expect("note");
        let report = run_round(
            &store,
            &mut laptop.transport(&cloud),
            &laptop.device_id(),
            &peers,
        )
        .expect("a round reports, it does not fail");
        assert!(report.needs_sign_in(), "{report:?}");
        let error = report.publish_error.expect("the publish is refused");
        assert_eq!(
            error.code(),
            cairn_core::sync::FailureCode::GrantExpired,
            "{error}"
        );
        let error = error.to_string();
        assert!(
            error.contains("HTTP 403") && error.contains("sign in again"),
            "{error}"
        );
    }
    // ...and `cairn sync` says what to do, without touching local data.
    let before = laptop.notes();
    let run = laptop.sync();
    assert!(!run.success, "{run:?}");
    assert!(
        run.stderr.contains("sign-in needed") && run.stderr.contains("cairn login"),
        "{}",
        run.stderr
    );
    assert_eq!(laptop.notes(), before);

    // Editing goes on while signed out.
    let offline_id = laptop
        .ok(&["new", "written while the grant was expired"])
        .lines()
        .last()
        .expect("id")
        .trim()
        .to_owned();
    laptop.ok(&["tag", &offline_id, "+offline"]);
    assert!(laptop.status()["pending_changes"].as_u64() > Some(0));

    // Signing in again resumes the same device, and sync catches up.
    let device = laptop.device_id();
    laptop.login(&cloud, &key);
    phone.login(&cloud, &key);
    laptop.sync_ok();
    assert_eq!(laptop.device_id(), device, "the same device resumes");
    settle(&[&laptop, &phone], &mut rng, 6);
    let view = assert_converged(&[&laptop, &phone]);
    assert_eq!(view.len(), 3);
    assert_eq!(view[&offline_id].tags, vec!["offline".to_owned()]);
}

#[test]
fn with_the_service_down_devices_sync_until_the_grant_expires() {
    let mut cloud = Cloud::start_with(CloudOptions {
        grant_lifetime_secs: Some(3600),
        ..CloudOptions::default()
    });
    let mut rng = StdRng::seed_from_u64(8);
    let (laptop, phone) = (Device::new("laptop"), Device::new("phone"));
    let key = cloud.create_account(laptop.dir());
    laptop.login(&cloud, &key);
    phone.login(&cloud, &key);
    settle(&[&laptop, &phone], &mut rng, 6);

    cloud.stop_service();
    // Edits on both sides travel through storage alone.
    let a = laptop.ok(&["new", "from the laptop, service down"]);
    let a = a.lines().last().expect("id").trim().to_owned();
    laptop.sync_ok();
    let pulled = phone.sync_ok();
    assert!(pulled.stdout.contains("merged 1 notes"), "{pulled:?}");
    phone.ok(&["tag", &a, "+seen-on-phone"]);
    phone.sync_ok();
    laptop.sync_ok();
    let view = assert_converged(&[&laptop, &phone]);
    assert_eq!(view[&a].tags, vec!["seen-on-phone".to_owned()]);

    // Once the grant expires there is no way to storage until the service
    // is back: sync fails clearly, local edits go on.
    cloud.advance_past(laptop.grant().expires_at.max(phone.grant().expires_at));
    let run = laptop.sync();
    assert!(!run.success, "{run:?}");
    assert!(run.stderr.contains("offline"), "{}", run.stderr);
    let b = laptop.ok(&["new", "after the grant expired"]);
    let b = b.lines().last().expect("id").trim().to_owned();

    cloud.start_service();
    settle(&[&laptop, &phone], &mut rng, 6);
    let view = assert_converged(&[&laptop, &phone]);
    assert!(view.contains_key(&a) && view.contains_key(&b));
}

/// The service closes a device's event socket when its access token
/// expires. A watching device comes back with a fresh token and goes on
/// hearing its peers at once, not only at its next poll (an hour here).
#[test]
fn a_watching_device_keeps_hearing_peers_past_its_access_token() {
    let cloud = Cloud::start_with(CloudOptions {
        access_token_ttl_secs: Some(600),
        refresh_token_ttl_secs: Some(7200),
        ..CloudOptions::default()
    });
    let (laptop, desk) = (Device::new("laptop"), Device::new("desk"));
    let key = cloud.create_account(laptop.dir());
    laptop.login(&cloud, &key);
    desk.login(&cloud, &key);
    laptop.sync_ok();
    desk.sync_ok();
    let mut watcher = desk.spawn(&["sync", "--watch", "--poll", "3600"]);
    let desk_has = |body: &str| desk.notes().values().any(|n| n.body == body);
    let desk_token = || {
        cairn_scenarios::device::credential_store(desk.dir())
            .load()
            .expect("credentials readable")
            .expect("signed in")
            .access_token
    };
    let publish = |body: &str| {
        laptop.ok(&["new", body]);
        laptop.sync_ok();
    };

    // The watcher hears the laptop: only a notification (or the round
    // after connecting) brings a note before the hour's poll.
    publish("before any expiry");
    wait_until("the watcher heard nothing", || {
        desk_has("before any expiry")
    });
    publish("heard on the open socket");
    wait_until("the watcher's socket is not open", || {
        desk_has("heard on the open socket")
    });

    // Twice, the access token runs out: the service closes the socket,
    // the watcher refreshes (its stored token changes) and reconnects, and
    // hears the next note at once.
    for round in 0..2 {
        let before = desk_token();
        let expires_at = cairn_scenarios::device::credential_store(desk.dir())
            .load()
            .expect("credentials readable")
            .expect("signed in")
            .access_expires_at;
        cloud.advance_past(expires_at);
        wait_until(
            "the watcher did not refresh after the socket closed",
            || desk_token() != before,
        );
        let body = format!("written after expiry {round}");
        publish(&body);
        wait_until("the watching device never heard of the new note", || {
            desk_has(&body)
        });
    }
    watcher.kill().unwrap();
    watcher.wait().unwrap();
}
