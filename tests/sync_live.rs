//! The live lane against the real service: two devices watching, typing
//! into one note at the same moment, see each other's text through the
//! service's socket before either publishes to storage; the publish that
//! follows brings storage to the same state.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::time::{Duration, Instant};

use cairn_client::WatchOptions;
use cairn_scenarios::cloud::Cloud;
use cairn_scenarios::device::{assert_converged, Device};
use cairn_scenarios::watching::watch;

/// Nothing is published by time while the test runs: only the live lane
/// can carry the typing.
const NEVER: WatchOptions = WatchOptions {
    settle: Duration::from_secs(3600),
    poll: Duration::from_secs(3600),
    max_wait: Duration::from_secs(3600),
};

#[test]
fn two_devices_typing_at_once_see_each_other_live_before_any_publish() {
    let cloud = Cloud::start();
    let (laptop, desk) = (Device::new("laptop"), Device::new("desk"));
    let key = cloud.create_account(laptop.dir());
    laptop.login(&cloud, &key);
    desk.login(&cloud, &key);
    let id = laptop.ok(&["new", "ideas: | plans: "]);
    let id = id.trim().lines().last().unwrap().to_string();
    // Until each has merged the other's first publish (the note, each
    // device's record of its actor) and acknowledged it: a round the
    // watchers ran for that would publish the typing below too.
    for _ in 0..2 {
        laptop.sync_ok();
        desk.sync_ok();
    }

    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut l = watch(&rt, &cloud, &laptop, NEVER);
    let mut d = watch(&rt, &cloud, &desk, NEVER);
    // From then on both sockets are subscribed.
    for w in [&mut l, &mut d] {
        w.wait_for(&rt, "connected");
    }

    // Both type into the note at once, a word at a time.
    let started = Instant::now();
    for (a, b) in [("tea ", "ship "), ("cake ", "it ")] {
        l.type_after(&id, "ideas: ", a);
        d.type_after(&id, "plans: ", b);
    }
    let want = |body: &str| body.contains("cake tea") && body.contains("it ship");
    for w in [&mut l, &mut d] {
        while !want(&w.body(&id)) {
            w.wait_for(&rt, "live");
        }
    }
    eprintln!("both texts on both devices in {:?}", started.elapsed());
    assert_eq!(l.body(&id), d.body(&id));
    assert_eq!(l.body(&id), "ideas: cake tea | plans: it ship ");
    // None of it went through storage yet.
    for w in [&l, &d] {
        let status = w.store.lock().unwrap().sync_status(&[]).unwrap();
        assert!(status.pending_changes > 0, "{status:?}");
    }

    // The publishes that follow leave storage saying the same.
    drop(rt);
    drop((l, d));
    laptop.sync_ok();
    desk.sync_ok();
    laptop.sync_ok();
    let view = assert_converged(&[&laptop, &desk]);
    assert_eq!(view[&id].body, "ideas: cake tea | plans: it ship ");
}
