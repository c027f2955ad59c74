//! What an operator and a load balancer see: `/healthz` and `/readyz`, and
//! a request id on every answer (taken from the proxy when it sent one).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

#[path = "support/harness.rs"]
mod harness;

use harness::Harness;

#[tokio::test]
async fn health_and_readiness_answer_without_a_session() {
    let h = Harness::start().await;
    for (path, body) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let response = h.http.get(h.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.text().await.unwrap(), body, "{path}");
    }
    h.shutdown().await;
}

#[tokio::test]
async fn every_answer_carries_a_request_id() {
    let h = Harness::start().await;
    let id = |r: &reqwest::Response| {
        r.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let first = h.http.get(h.url("/v1/me")).send().await.unwrap();
    let second = h.http.get(h.url("/v1/me")).send().await.unwrap();
    assert_eq!(first.status(), 401);
    let (first, second) = (id(&first).unwrap(), id(&second).unwrap());
    assert!(first.len() >= 12 && first != second, "{first} {second}");
    // A proxy's plain id is kept, so its log and ours can be joined; one
    // that is not plain is replaced.
    let kept = h
        .http
        .get(h.url("/healthz"))
        .header("x-request-id", "proxy-4711.a")
        .send()
        .await
        .unwrap();
    assert_eq!(id(&kept).as_deref(), Some("proxy-4711.a"));
    let replaced = h
        .http
        .get(h.url("/healthz"))
        .header("x-request-id", "two words")
        .send()
        .await
        .unwrap();
    assert_ne!(id(&replaced).as_deref(), Some("two words"));
    h.shutdown().await;
}

/// `/readyz` follows the registry: with the PostgreSQL server gone it
/// answers 503 while `/healthz` still answers, so a load balancer stops
/// sending traffic to an instance that cannot serve it.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_while_the_registry_is_unreachable() {
    let postgres = cairn_server::test_postgres::TestPostgres::start().unwrap();
    let url = postgres.create_database().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dev = cairn_server::DevServer::builder(dir.path())
        .configure(move |c| c.registry_url = Some(url))
        .start()
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let status = |path: &'static str| {
        let (http, base) = (http.clone(), dev.url().to_owned());
        async move {
            http.get(format!("{base}{path}"))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(status("/readyz").await, 200);
    drop(postgres);
    assert_eq!(status("/readyz").await, 503);
    assert_eq!(status("/healthz").await, 200);
    dev.shutdown().await.unwrap();
}
