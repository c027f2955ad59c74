//! Load: 100 concurrent clients asking for grants for one user with 5
//! devices, 10,000 requests over loopback, no errors allowed. Prints the
//! result as one JSON line. Bounded by count (and a 30 s timeout on every
//! request). The same run is `cairn-server bench-grants --json`.
//!
//! With the grant cache off every grant is presigned afresh (~400 URLs);
//! the full run then takes about two minutes even optimized, so here it is
//! only a short run that checks the uncached path serves without errors.
//! Its figures come from `cairn-server bench-grants --no-grant-cache`.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use cairn_server::bench::{bench_grants_dev, BenchOptions};

// A few seconds in a debug build on two cores; the optimized figures come
// from `cairn-server bench-grants --json`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_grants_from_a_hundred_clients_without_errors() {
    let report = bench_grants_dev(BenchOptions::default())
        .await
        .expect("bench runs");
    println!("{}", serde_json::to_string(&report).expect("json"));
    assert!(report.grant_cache);
    assert_eq!(report.requests, 10_000);
    assert_eq!(report.errors, 0, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_presigned_afresh_are_served_without_errors() {
    let report = bench_grants_dev(BenchOptions {
        clients: 5,
        requests: 20,
        grant_cache: false,
        ..BenchOptions::default()
    })
    .await
    .expect("bench runs");
    println!("{}", serde_json::to_string(&report).expect("json"));
    assert!(!report.grant_cache);
    assert_eq!(report.requests, 20);
    assert_eq!(report.errors, 0, "{report:?}");
}
