//! The service scaled out: two `cairn-server serve` instances on one
//! PostgreSQL and one S3 server, devices driven through the real `cairn`.
//!
//! - the laptop signs in through instance 1 (behind a load balancer that
//!   prefers it), the desk through instance 2; the laptop's edit reaches
//!   the watching desk live, across instances;
//! - instance 1 is stopped while the laptop keeps writing and syncing:
//!   the phone, watching through the balancer, is told to reconnect and
//!   comes back through instance 2, and nothing written is lost;
//! - a revoke made on the restarted instance 1 is refused at once by
//!   instance 2;
//! - a sign-in flood spread over both instances is limited as one.

#![cfg(unix)]
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_client::{CredentialStore, ServiceClient};
use cairn_scenarios::cluster::{Cluster, ClusterOptions};
use cairn_scenarios::device::{assert_converged, create_account_at, credential_store, Device};
use cairn_scenarios::sign_in_flood::sign_in_flood;

const BURST: u32 = 12;

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn has(device: &Device, body: &str) -> bool {
    device.notes().values().any(|n| n.body == body)
}

fn write(device: &Device, body: &str) {
    device.ok(&["new", body]);
}

#[test]
fn two_instances_on_one_postgres_serve_as_one() {
    let mut cluster = Cluster::start(ClusterOptions {
        instances: 2,
        sign_in_burst: BURST,
        sign_in_per_minute: 1,
    });
    let one_first = cluster.balancer(&[0, 1]);
    let (laptop, desk, phone) = (
        Device::new("laptop"),
        Device::new("desk"),
        Device::new("phone"),
    );
    let key = create_account_at(&one_first.url(), laptop.dir(), &[]);
    laptop.login_at(&one_first.url(), &key);
    desk.login_at(&cluster.instance_url(1), &key);
    phone.login_at(&one_first.url(), &key);
    for d in [&laptop, &desk, &phone] {
        d.sync_ok();
    }
    // Polls an hour apart: only a notification brings a note sooner.
    let mut desk_watch = desk.spawn(&["sync", "--watch", "--poll", "3600"]);
    let mut phone_watch = phone.spawn(&["sync", "--watch", "--poll", "3600"]);

    // A's edit, reported to instance 1, reaches B on instance 2 live.
    write(&laptop, "written through instance 1");
    laptop.sync_ok();
    wait_until("the desk did not hear the laptop across instances", || {
        has(&desk, "written through instance 1")
    });
    wait_until("the phone did not hear the laptop", || {
        has(&phone, "written through instance 1")
    });

    // The laptop keeps writing and syncing while instance 1 stops.
    let writing = Arc::new(AtomicBool::new(true));
    let traffic = {
        let writing = writing.clone();
        let laptop_dir = laptop.dir().to_owned();
        std::thread::spawn(move || {
            let mut written = Vec::new();
            let mut n = 0;
            while writing.load(Ordering::Relaxed) || n < 3 {
                let body = format!("mid-traffic {n}");
                let out = cairn_scenarios::device::run_cairn(&laptop_dir, &["new", &body], &[]);
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                written.push(body);
                // A sync may fail while its instance goes away; the note
                // stays local and goes out with the next one.
                cairn_scenarios::device::run_cairn(&laptop_dir, &["sync"], &[]);
                n += 1;
            }
            written
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    cluster.stop_instance(0);
    std::thread::sleep(Duration::from_millis(300));
    writing.store(false, Ordering::Relaxed);
    let written = traffic.join().unwrap();
    laptop.sync_ok();
    for body in &written {
        wait_until(&format!("the desk lost {body:?}"), || has(&desk, body));
        wait_until(&format!("the phone lost {body:?}"), || has(&phone, body));
    }
    // The phone's socket came back through instance 2: a new note reaches
    // it live, its poll being an hour away.
    write(&laptop, "after instance 1 stopped");
    laptop.sync_ok();
    wait_until("the phone's socket did not come back", || {
        has(&phone, "after instance 1 stopped")
    });
    assert!(
        cluster.log(0).contains("served"),
        "instance 1 served before it stopped"
    );
    // Connections through the balancer went to instance 1, then to 2.
    let routed = one_first.routed();
    let second: std::net::SocketAddr = cluster.instance_url(1)[7..].parse().unwrap();
    let first_to_second = routed
        .iter()
        .position(|a| *a == second)
        .expect("none reached instance 2");
    assert!(
        first_to_second > 0,
        "instance 1 took the first connections: {routed:?}"
    );

    // A revoke on instance 1 (back up) is refused at once by instance 2.
    cluster.start_instance(0);
    let token = |d: &Device| {
        credential_store(d.dir())
            .load()
            .unwrap()
            .unwrap()
            .access_token
    };
    let desk_token = token(&desk);
    let desk_id = cairn_protocol::DeviceId::parse(&desk.device_id()).unwrap();
    cluster.runtime().block_on(async {
        let one = ServiceClient::new(&cluster.instance_url(0)).unwrap();
        let two = ServiceClient::new(&cluster.instance_url(1)).unwrap();
        two.grant(&desk_token, &desk_id)
            .await
            .expect("a live device");
        one.revoke_device(&token(&laptop), &desk_id).await.unwrap();
        let refused = two.grant(&desk_token, &desk_id).await;
        assert!(refused.is_err(), "instance 2 still serves a revoked device");
    });

    // A flood of wrong keys spread over both instances meets one limit.
    let urls = [cluster.instance_url(0), cluster.instance_url(1)];
    let (passed, limited) = cluster
        .runtime()
        .block_on(sign_in_flood(&urls, 4 * BURST as usize));
    // The account and three sign-ins spent 4 of the burst; a minute's
    // refill may add one. Two separate limits would let through about
    // twice the burst.
    assert!(
        passed <= (BURST - 4 + 1) as usize,
        "{passed} wrong keys were tried"
    );
    assert!(limited[0] > 0 && limited[1] > 0, "{limited:?}");

    // The logs name requests by id and path, never a token or key, even
    // one sent in a URL.
    let laptop_credentials = credential_store(laptop.dir()).load().unwrap().unwrap();
    cluster.runtime().block_on(async {
        let url = format!(
            "{}/v1/events?access_token={}",
            cluster.instance_url(1),
            laptop_credentials.access_token
        );
        reqwest::get(url).await.unwrap();
    });
    for i in 0..2 {
        let log = cluster.log(i);
        assert!(
            log.contains("request{id="),
            "instance {} logs no request ids",
            i + 1
        );
        for secret in [
            &laptop_credentials.access_token,
            &laptop_credentials.refresh_token,
            &key,
        ] {
            assert!(
                !log.contains(secret.as_str()),
                "instance {} logged a secret",
                i + 1
            );
        }
    }

    for watcher in [&mut desk_watch, &mut phone_watch] {
        watcher.kill().unwrap();
        watcher.wait().unwrap();
    }
    laptop.sync_ok();
    phone.sync_ok();
    let view = assert_converged(&[&laptop, &phone]);
    for body in written
        .iter()
        .map(String::as_str)
        .chain(["written through instance 1"])
    {
        assert!(view.values().any(|n| n.body == body), "{body:?} lost");
    }
}
