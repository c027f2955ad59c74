//! Grants running out, against the real service and S3 server (which
//! checks presigned URLs' expiry): an expired grant with no session to
//! renew it puts sync into "sign-in needed" while local editing goes on;
//! with the service down, devices sync through storage until their grants
//! expire. Both end converged once the user signs in again or the service
//! is back.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_core::sync::run_round;
use cairn_scenarios::cloud::{Cloud, CloudOptions};
use cairn_scenarios::device::{assert_converged, settle, Device};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Waits (bounded) until the wall clock passes `t` (Unix seconds): the
/// service and S3 judge expiry by the real clock, so this one thing in
/// these tests does wait for time.
fn wait_past(t: i64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while now_secs() <= t {
        assert!(
            std::time::Instant::now() < deadline,
            "clock did not reach {t}"
        );
        std::thread::sleep(Duration::from_millis(100));
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
        grant_lifetime_secs: Some(8),
        // Long enough for two logins and a settle on a loaded CI machine.
        access_token_ttl_secs: Some(3),
        refresh_token_ttl_secs: Some(15),
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
    wait_past(grant_expiry.max(session_expiry));

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
        grant_lifetime_secs: Some(8),
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
    wait_past(laptop.grant().expires_at.max(phone.grant().expires_at));
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
        access_token_ttl_secs: Some(2),
        refresh_token_ttl_secs: Some(600),
        ..CloudOptions::default()
    });
    let (laptop, desk) = (Device::new("laptop"), Device::new("desk"));
    let key = cloud.create_account(laptop.dir());
    laptop.login(&cloud, &key);
    desk.login(&cloud, &key);
    laptop.sync_ok();
    desk.sync_ok();
    let mut watcher = desk.spawn(&["sync", "--watch", "--poll", "3600"]);

    // Past two token lifetimes: the socket has been closed for expiry at
    // least twice by now.
    std::thread::sleep(Duration::from_secs(5));
    laptop.ok(&["new", "written after the token ran out"]);
    laptop.sync_ok();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !desk
        .notes()
        .values()
        .any(|n| n.body == "written after the token ran out")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the watching device never heard of the new note"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    watcher.kill().unwrap();
    watcher.wait().unwrap();
}
