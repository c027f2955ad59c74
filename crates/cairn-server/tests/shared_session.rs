//! One `cairn_client::Session` shared by the sync agent and the desktop
//! shell's account commands, against the real service: when both need a
//! fresh token at once, the service sees one refresh, both callers get
//! its tokens, and sync goes on with them (before, each refreshed on its
//! own, and the second refresh found the rotated refresh token dead).
//! Time is moved with a manual clock; nothing sleeps.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

#[path = "support/harness.rs"]
mod harness;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use cairn_client::{CredentialStore, FileCredentialStore, Session, StoredCredentials, SyncAgent};
use cairn_protocol::ErrorCode;
use cairn_server::ManualClock;
use harness::Harness;
use tokio::sync::{watch, Semaphore};

/// Passes requests on to the service, counting refreshes and holding each
/// refresh until the test lets one through.
#[derive(Clone)]
struct Relay {
    upstream: String,
    http: reqwest::Client,
    refreshes: Arc<watch::Sender<u32>>,
    let_through: Arc<Semaphore>,
}

impl Relay {
    async fn start(upstream: &str) -> (Relay, String) {
        let relay = Relay {
            upstream: upstream.to_owned(),
            http: reqwest::Client::new(),
            refreshes: Arc::new(watch::Sender::new(0)),
            let_through: Arc::new(Semaphore::new(0)),
        };
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(relay.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (relay, url)
    }
}

async fn forward(State(relay): State<Relay>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    if parts.uri.path() == "/v1/sessions/refresh" {
        relay.refreshes.send_modify(|n| *n += 1);
        relay.let_through.acquire().await.unwrap().forget();
    }
    let body: Bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let mut upstream = relay
        .http
        .request(parts.method, format!("{}{path}", relay.upstream))
        .body(body);
    for (name, value) in &parts.headers {
        if name != "host" {
            upstream = upstream.header(name, value);
        }
    }
    let answer = upstream.send().await.unwrap();
    let status = answer.status();
    let content_type = answer.headers().get("content-type").cloned();
    let body = answer.bytes().await.unwrap();
    let mut response = (status, body).into_response();
    if let Some(content_type) = content_type {
        response.headers_mut().insert("content-type", content_type);
    }
    response
}

#[tokio::test]
async fn the_agent_and_the_shell_needing_a_fresh_token_at_once_cause_one_refresh() {
    let clock = Arc::new(ManualClock::starting_now());
    let h = Harness::start_with(clock.clone(), |c| {
        c.access_token_ttl_secs = 600;
        c.refresh_token_ttl_secs = 3600;
    })
    .await;
    let laptop = h.new_device(&h.new_account().await, "laptop").await;
    let (relay, relay_url) = Relay::start(h.dev.url()).await;

    // The device's session as sign-in left it, kept in a file.
    let dir = tempfile::tempdir().unwrap();
    let credential_file = dir.path().join("credentials.json");
    let mut credentials = StoredCredentials::from_session(&relay_url, &laptop.session);
    // Registering the device bound the session to it.
    credentials.device_id = Some(laptop.device.id.clone());
    FileCredentialStore::new(credential_file.clone())
        .save(&credentials)
        .unwrap();
    let session = Session::load(
        Box::new(FileCredentialStore::new(credential_file.clone())),
        clock.clone(),
    )
    .unwrap()
    .map(Arc::new)
    .unwrap();
    let store = Arc::new(Mutex::new(cairn_core::Store::open(dir.path()).unwrap()));
    let mut agent = SyncAgent::new(dir.path(), session.clone(), store).unwrap();

    // The access token runs out.
    clock.advance(Duration::from_secs(601));

    // The agent wants a grant and the shell wants the device list, both
    // with a fresh token. The relay holds the first refresh until both
    // are under way.
    let shell = async {
        let token = session.access_token().await.unwrap();
        let devices = session.client().devices(&token).await.unwrap();
        (token, devices)
    };
    let release = async {
        let mut refreshes = relay.refreshes.subscribe();
        refreshes.wait_for(|n| *n == 1).await.unwrap();
        // Both callers have had their turn to ask for a token by now.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        relay.let_through.add_permits(1);
    };
    let both = async { tokio::join!(agent.refresh_grant(), shell, release) };
    // A second refresh would wait at the relay for ever.
    let (granted, (shell_token, devices), ()) = tokio::time::timeout(Duration::from_secs(30), both)
        .await
        .expect("one refresh served both callers");

    granted.expect("the agent got its grant with the shared fresh token");
    assert_eq!(
        *relay.refreshes.borrow(),
        1,
        "exactly one refresh reached the service"
    );
    assert_ne!(
        shell_token,
        laptop.token(),
        "a new token, not the expired one"
    );
    assert_eq!(shell_token, session.current_access_token());
    assert!(devices.iter().any(|d| d.id == laptop.device.id));
    assert!(agent.grant().is_some());

    // The rotated tokens were stored, and the old refresh token is dead.
    let stored = FileCredentialStore::new(credential_file.clone())
        .load()
        .unwrap()
        .unwrap();
    assert_eq!(stored.access_token, shell_token);
    // Sync goes on: the token still serves the agent and the shell, with
    // no further refresh.
    agent.refresh_grant().await.unwrap();
    let again = session.access_token().await.unwrap();
    assert_eq!(again, shell_token);
    assert_eq!(*relay.refreshes.borrow(), 1);

    // The rotated refresh token is dead. Presenting it again is a reuse
    // (RFC 9700 4.14.2), which ends the whole session: last, therefore.
    let old = h.client.refresh(&laptop.session.refresh_token).await;
    assert_eq!(
        old.unwrap_err().api_code(),
        Some(ErrorCode::InvalidRefreshToken)
    );
    assert!(
        agent.refresh_grant().await.is_err(),
        "reuse ended the session"
    );
    h.shutdown().await;
}
