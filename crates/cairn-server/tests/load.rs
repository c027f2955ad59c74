//! Load: 100 concurrent clients asking for grants for one user with 5
//! devices, 10,000 requests over loopback, no errors allowed. Prints the
//! result as one JSON line. Bounded by count (and a 30 s timeout on every
//! request). The same run is `cairn-server bench-grants --json`.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

#[path = "support/harness.rs"]
mod harness;

use cairn_server::bench::{bench_grants, BenchOptions};
use harness::Harness;

// About 17 s in a debug build on two busy cores; the optimized figures
// come from `cairn-server bench-grants --json`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_grants_from_a_hundred_clients_without_errors() {
    let h = Harness::start().await;
    let report = bench_grants(h.dev.url(), BenchOptions::default())
        .await
        .expect("bench runs");
    println!("{}", serde_json::to_string(&report).expect("json"));
    assert_eq!(report.requests, 10_000);
    assert_eq!(report.errors, 0, "{report:?}");
    h.shutdown().await;
}
