//! Faults between the devices and storage, against the real service and
//! S3 server: a proxy that answers 5xx, stalls past the client's timeout,
//! cuts bodies short and drops connections; and a device killed with
//! SIGKILL in the middle of publishing, again and again. Both end
//! converged with nothing lost. The same proxy, holding every request,
//! shows that a round asks its peers' heads at once.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use cairn_core::NewNote;
use cairn_scenarios::cloud::{Cloud, CloudOptions};
use cairn_scenarios::device::{assert_converged, settle, Device};
use cairn_scenarios::edits::{random_edits, Written};
use cairn_scenarios::fault_proxy::FaultRates;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Devices give up on a request after this long (the proxy's stalls
/// outlast it), and retry quickly.
fn flaky_device(name: &str) -> Device {
    Device::new(name)
        .with_env("CAIRN_SYNC_TIMEOUT_MS", "700")
        .with_env("CAIRN_SYNC_RETRY_BASE_MS", "10")
}

#[test]
fn devices_converge_through_a_proxy_injecting_faults() {
    let cloud = Cloud::start_with(CloudOptions {
        proxy_seed: Some(5),
        ..CloudOptions::default()
    });
    let proxy = cloud.proxy();
    let mut rng = StdRng::seed_from_u64(5);
    let devices: Vec<Device> = (0..3).map(|i| flaky_device(&format!("flaky{i}"))).collect();
    let all: Vec<&Device> = devices.iter().collect();
    let key = cloud.create_account(devices[0].dir());
    for d in &devices {
        d.login(&cloud, &key);
    }

    proxy.set_rates(FaultRates {
        server_error: 10,
        stall: 3,
        truncate: 10,
        drop: 10,
    });
    let mut written = Written::default();
    let (mut rounds, mut failed) = (0, 0);
    for _phase in 0..6 {
        for d in &devices {
            let count = rng.gen_range(3..10);
            random_edits(d, &mut rng, count, &mut written);
        }
        for _ in 0..4 {
            let d = &devices[rng.gen_range(0..devices.len())];
            let run = d.sync();
            rounds += 1;
            if !run.success {
                failed += 1;
                // A failed round says why, and never loses a local edit.
                assert!(
                    run.stderr.contains("sync incomplete")
                        || run.stderr.contains("offline")
                        || run.stderr.contains("HTTP 503"),
                    "{}: unexpected failure: {}",
                    d.name,
                    run.stderr
                );
            }
        }
    }
    let counts = proxy.counts();
    let [passed, server_error, stall, truncate, drop] = counts.snapshot();
    eprintln!(
        "{rounds} rounds under faults, {failed} failed; proxy: {passed} passed, \
         {server_error} 5xx, {stall} stalls, {truncate} truncated, {drop} dropped"
    );
    assert!(
        server_error > 0 && stall > 0 && truncate > 0 && drop > 0,
        "every kind of fault must have been injected: {:?}",
        counts.snapshot()
    );

    // The network heals; sync resumes by itself and goes quiet.
    proxy.set_rates(FaultRates::NONE);
    let passes = settle(&all, &mut rng, 10);
    let view = assert_converged(&all);
    written.assert_kept_in(&view, "after faults");
    eprintln!("settled in {passes} passes, {} notes", view.len());
    assert!(counts.passed.load(Ordering::Relaxed) > passed);
}

#[test]
fn a_device_killed_while_publishing_loses_nothing() {
    // The proxy injects no faults here; it tells the test when the
    // device's uploads have reached storage, so kills land mid-publish.
    let cloud = Cloud::start_with(CloudOptions {
        proxy_seed: Some(6),
        ..CloudOptions::default()
    });
    let proxy = cloud.proxy();
    let mut rng = StdRng::seed_from_u64(6);
    let (writer, reader) = (Device::new("writer"), Device::new("reader"));
    let key = cloud.create_account(writer.dir());
    writer.login(&cloud, &key);
    reader.login(&cloud, &key);
    writer.sync_ok();

    let mut created = Vec::new();
    let (mut killed_mid_run, mut finished) = (0, 0);
    for attempt in 0..8 {
        // A large change set: hundreds of new notes and edits to old ones.
        {
            let mut store = writer.bulk_store();
            for i in 0..400 {
                let body = format!("batch {attempt} note {i}\n{}", "text ".repeat(40));
                let id = store
                    .create_note_with(NewNote {
                        body: body.clone(),
                        tags: vec![format!("b{attempt}")],
                        pinned: false,
                        trashed: false,
                        created_ms: None,
                        modified_ms: None,
                    })
                    .expect("create");
                created.push((id, body));
            }
            for (id, body) in created.iter_mut().step_by(7) {
                let line = format!("edit {attempt}\n");
                store.splice(id, 0, 0, &line).expect("edit");
                body.insert_str(0, &line);
            }
            store.checkpoint().expect("checkpoint");
        }
        let before = proxy.counts().passed.load(Ordering::Relaxed);
        let mut child = writer.spawn(&["sync"]);
        // Kill after 0, 1 or 2 of its uploads reached storage, plus a
        // random few milliseconds (so some kills land mid-transfer).
        let uploads = rng.gen_range(0..3u64);
        let extra = Duration::from_millis(rng.gen_range(0..40));
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut reached_at = None;
        let exited = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break Some(status);
            }
            let now = Instant::now();
            assert!(now < deadline, "cairn sync neither finished nor got killed");
            if reached_at.is_none()
                && proxy.counts().passed.load(Ordering::Relaxed) >= before + uploads
            {
                reached_at = Some(now);
            }
            if reached_at.is_some_and(|t| now >= t + extra) {
                break None;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        match exited {
            Some(_) => finished += 1,
            None => {
                child.kill().expect("SIGKILL");
                child.wait().expect("reap");
                killed_mid_run += 1;
            }
        }
    }
    eprintln!("{killed_mid_run} syncs killed mid-run, {finished} finished first");
    assert!(killed_mid_run >= 4, "most runs must be killed mid-publish");

    // Nothing acknowledged was lost on the writer, and sync picks up.
    settle(&[&writer, &reader], &mut rng, 6);
    let view = assert_converged(&[&writer, &reader]);
    assert_eq!(view.len(), created.len());
    for (id, body) in &created {
        assert_eq!(&view[id].body, body, "note {id} differs");
    }
}

/// An idle round asks every peer's head at once, so four peers cost about
/// what one does. The proxy holds each request for a second: requests sent
/// one after another would never meet there.
#[test]
fn an_idle_round_asks_every_peers_head_at_once() {
    let cloud = Cloud::start_with(CloudOptions {
        proxy_seed: Some(7),
        ..CloudOptions::default()
    });
    let proxy = cloud.proxy();
    let devices: Vec<Device> = (0..5).map(|i| Device::new(&format!("peer{i}"))).collect();
    let all: Vec<&Device> = devices.iter().collect();
    let key = cloud.create_account(devices[0].dir());
    for (i, d) in devices.iter().enumerate() {
        d.login(&cloud, &key);
        d.ok(&["new", &format!("note {i}")]);
    }
    let mut rng = StdRng::seed_from_u64(7);
    settle(&all, &mut rng, 6);

    proxy.set_hold(Duration::from_secs(1));
    proxy.take_most_in_flight();
    let idle = devices[0].sync_ok();
    proxy.set_hold(Duration::ZERO);
    assert!(idle.up_to_date(), "the round was not idle");
    assert_eq!(idle.requests(), Some(4), "one head request per peer");
    assert_eq!(
        proxy.take_most_in_flight(),
        4,
        "the four heads were not asked at once"
    );
}
