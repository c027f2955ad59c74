//! Shared setup for the service tests: a dev server (service + embedded
//! S3 store, real HTTP on loopback) in a temporary dir, and helpers that
//! make accounts and devices through the real client.
//!
//! The registry is SQLite, or with `CAIRN_TEST_REGISTRY=postgres` a
//! database of its own in a throwaway PostgreSQL cluster (one per test
//! binary), so the same tests run against both registries.

#![allow(dead_code)] // each test file uses a different part of this

use std::sync::Arc;

use cairn_client::ServiceClient;
use cairn_protocol::{Device, DeviceName, Grant, Platform, Session};
use cairn_server::{Clock, Config, DevServer, SystemClock};
use tempfile::TempDir;

/// A registry URL for one test when the tests run on PostgreSQL (`None`:
/// SQLite).
pub async fn test_registry_url() -> Option<String> {
    cairn_server::test_postgres::test_registry_url()
        .await
        .expect("the test registry")
}

pub struct Harness {
    pub dev: DevServer,
    /// The PostgreSQL registry, when the tests run on one.
    pub registry_url: Option<String>,
    pub client: ServiceClient,
    /// Plain HTTP for raw requests to the service and the store.
    pub http: reqwest::Client,
    pub dir: TempDir,
}

/// A signed-in session acting for its own device.
#[derive(Debug, Clone)]
pub struct SignedInDevice {
    pub account_key: String,
    pub session: Session,
    pub device: Device,
}

impl SignedInDevice {
    pub fn token(&self) -> &str {
        &self.session.access_token
    }
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::start_with(Arc::new(SystemClock), |_| {}).await
    }

    pub async fn start_with(
        clock: Arc<dyn Clock>,
        configure: impl FnOnce(&mut Config) + Send + 'static,
    ) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry_url = test_registry_url().await;
        let url = registry_url.clone();
        let dev = DevServer::builder(dir.path())
            .clock(clock)
            .configure(|c| c.rate_limit.sign_in_burst = 1_000)
            .configure(move |c| c.registry_url = url)
            .configure(configure)
            .start()
            .await
            .expect("dev server starts");
        let client = ServiceClient::new(dev.url()).expect("client");
        Harness {
            dev,
            registry_url,
            client,
            http: reqwest::Client::new(),
            dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.dev.url())
    }

    pub async fn new_account(&self) -> String {
        self.client
            .create_account()
            .await
            .expect("create account")
            .account_key
    }

    /// Signs in with `account_key` and registers a device named `name`.
    pub async fn new_device(&self, account_key: &str, name: &str) -> SignedInDevice {
        device_of(&self.client, account_key, name).await
    }

    /// How many accounts the registry holds, read from its database.
    pub async fn account_count(&self) -> i64 {
        if let Some(url) = &self.registry_url {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
            return sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
                .fetch_one(&mut conn)
                .await
                .expect("count accounts");
        }
        let registry = self.dev.data_dir().join("registry.sqlite3");
        let conn = rusqlite::Connection::open_with_flags(
            registry,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("open the registry");
        conn.query_row("SELECT COUNT(*) FROM accounts", [], |r| r.get(0))
            .expect("count accounts")
    }

    pub async fn grant(&self, device: &SignedInDevice) -> Grant {
        self.client
            .grant(device.token(), &device.device.id)
            .await
            .expect("grant")
    }

    pub async fn shutdown(self) {
        self.dev.shutdown().await.expect("clean shutdown");
    }
}

/// Signs in to the service behind `client` with `account_key` and
/// registers a device named `name`.
pub async fn device_of(client: &ServiceClient, account_key: &str, name: &str) -> SignedInDevice {
    let session = client
        .sign_in_with_account_key(account_key, None)
        .await
        .expect("sign in");
    let device = client
        .register_device(
            &session.access_token,
            &DeviceName::parse(name).expect("name"),
            &Platform::parse("linux").expect("platform"),
        )
        .await
        .expect("register device");
    SignedInDevice {
        account_key: account_key.to_owned(),
        session,
        device,
    }
}

/// A new account on the service behind `client`, one device of it, and
/// that device's grant.
pub async fn device_with_grant(client: &ServiceClient, name: &str) -> (SignedInDevice, Grant) {
    let key = client
        .create_account()
        .await
        .expect("create account")
        .account_key;
    let device = device_of(client, &key, name).await;
    let grant = client
        .grant(device.token(), &device.device.id)
        .await
        .expect("grant");
    (device, grant)
}

/// Stops a `cairn-server` process with SIGTERM, as a service manager
/// does, and requires a clean exit within 10 s.
#[cfg(unix)]
pub fn stop_with_sigterm(mut child: std::process::Child) {
    let pid = child.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running after SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success(), "a clean stop on SIGTERM: {status}");
}

/// The event socket of `device`, once it is subscribed.
pub async fn subscribe(h: &Harness, device: &SignedInDevice) -> cairn_client::EventSubscription {
    let token = device.session.access_token.clone();
    let mut events = h
        .client
        .subscribe_events(move || token.clone())
        .expect("subscribe");
    let first = tokio::time::timeout(std::time::Duration::from_secs(5), events.next())
        .await
        .expect("connects in time");
    assert_eq!(first, Some(cairn_client::StreamItem::Connected));
    events
}

pub async fn next_event(
    events: &mut cairn_client::EventSubscription,
) -> cairn_protocol::ServiceEvent {
    tokio::time::timeout(std::time::Duration::from_secs(5), events.next_event())
        .await
        .expect("event in time")
        .expect("stream open")
}

/// Status and body of a PUT to a presigned URL.
pub async fn put(http: &reqwest::Client, url: &str, body: &'static [u8]) -> u16 {
    http.put(url)
        .body(body)
        .send()
        .await
        .expect("PUT sent")
        .status()
        .as_u16()
}

/// Status and body of a GET of a presigned URL.
pub async fn get(http: &reqwest::Client, url: &str) -> (u16, Vec<u8>) {
    let response = http.get(url).send().await.expect("GET sent");
    let status = response.status().as_u16();
    (status, response.bytes().await.expect("body").to_vec())
}
