//! Two instances on one PostgreSQL registry (and one embedded S3 store):
//! an event reported to one reaches sockets on the other at once, the
//! other's sockets resync after its listener's connection drops, a
//! revocation or logout on one closes sockets on the other, and a
//! sign-in flood across both is limited as one.

#![cfg(unix)]
#![allow(clippy::unwrap_used)] // tests fail loudly by design

#[path = "support/harness.rs"]
mod harness;
#[path = "../../../tests/support/sign_in_flood.rs"]
mod sign_in_flood;

use std::sync::Arc;
use std::time::Duration;

use cairn_client::ServiceClient;
use cairn_protocol::event::close_reason;
use cairn_protocol::ServiceEvent;
use cairn_server::test_postgres::TestPostgres;
use cairn_server::{Config, DevServer, RunningServer, SystemClock};
use futures_util::StreamExt;
use harness::{device_of, SignedInDevice};
use sign_in_flood::sign_in_flood;
use sqlx::Connection;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Pair {
    /// Instance 1, with the embedded store.
    dev: DevServer,
    second: RunningServer,
    registry_url: String,
    one: ServiceClient,
    two: ServiceClient,
    _dir: tempfile::TempDir,
}

async fn two_instances(burst: u32) -> Pair {
    let registry_url = TestPostgres::shared().create_database().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = registry_url.clone();
    let tune = move |c: &mut Config| {
        c.registry_url = Some(url.clone());
        c.rate_limit.sign_in_burst = burst;
        c.rate_limit.sign_in_per_minute = 1;
    };
    let tune_dev = tune.clone();
    let dev = DevServer::builder(dir.path())
        .configure(move |c| tune_dev(c))
        .start()
        .await
        .unwrap();
    let mut config = Config::dev(
        dir.path().join("unused.sqlite3"),
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        dev.s3_config().clone(),
    );
    tune(&mut config);
    let second = RunningServer::start(config, Arc::new(SystemClock))
        .await
        .unwrap();
    Pair {
        one: ServiceClient::new(dev.url()).unwrap(),
        two: ServiceClient::new(second.url()).unwrap(),
        dev,
        second,
        registry_url,
        _dir: dir,
    }
}

impl Pair {
    async fn shutdown(self) {
        self.second.shutdown().await.unwrap();
        self.dev.shutdown().await.unwrap();
    }
}

async fn socket(url: &str, device: &SignedInDevice) -> Socket {
    socket_at(url, device, "").await
}

/// The event socket with a query (`?live=1` asks for live changes).
async fn socket_at(url: &str, device: &SignedInDevice, query: &str) -> Socket {
    let mut request = format!("{}/v1/events{query}", url.replacen("http", "ws", 1))
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", device.token()).parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert!(matches!(
        next(&mut socket).await,
        Frame::Event(ServiceEvent::Subscribed { .. })
    ));
    socket
}

#[derive(Debug)]
enum Frame {
    Event(ServiceEvent),
    Closed(String),
}

/// The next event or close on `socket`, within 10 s.
async fn next(socket: &mut Socket) -> Frame {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a frame within 10 s")
            .expect("the socket is open")
            .unwrap();
        match message {
            Message::Text(text) => return Frame::Event(serde_json::from_str(&text).unwrap()),
            Message::Close(frame) => {
                return Frame::Closed(frame.map(|f| f.reason.to_string()).unwrap_or_default())
            }
            _ => {}
        }
    }
}

/// The next publish heard on `socket`, passing over announcements of
/// joins (which reach another instance's sockets a moment after they were
/// made, so possibly after a socket opened there).
async fn next_published(socket: &mut Socket) -> (cairn_protocol::DeviceId, u64) {
    loop {
        match next(socket).await {
            Frame::Event(ServiceEvent::Published { device_id, seq }) => return (device_id, seq),
            Frame::Event(ServiceEvent::DeviceJoined { .. }) => {}
            other => panic!("not a publish: {other:?}"),
        }
    }
}

/// `device` reports publishing `seq` to the service at `url`.
async fn publish(url: &str, device: &SignedInDevice, seq: u64) {
    let status = reqwest::Client::new()
        .post(format!("{url}/v1/devices/{}/published", device.device.id))
        .bearer_auth(device.token())
        .json(&cairn_protocol::PublishedRequest { seq })
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_on_one_instance_reaches_sockets_on_the_other() {
    let p = two_instances(1_000).await;
    let key = p.one.create_account().await.unwrap().account_key;
    let laptop = device_of(&p.one, &key, "laptop").await;
    let phone = device_of(&p.two, &key, "phone").await;
    let mut on_two = socket(p.second.url(), &phone).await;
    let mut on_one = socket(p.dev.url(), &laptop).await;
    for seq in 1..=3 {
        publish(p.dev.url(), &laptop, seq).await;
        assert_eq!(
            next_published(&mut on_two).await,
            (laptop.device.id.clone(), seq)
        );
    }
    // And back the other way, the sender's own socket not hearing itself.
    publish(p.second.url(), &phone, 9).await;
    assert_eq!(
        next_published(&mut on_one).await,
        (phone.device.id.clone(), 9)
    );
    p.shutdown().await;
}

/// Live changes sent to one instance reach the user's live sockets on the
/// other, through PostgreSQL's notifications, as they were sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_changes_sent_to_one_instance_reach_sockets_on_the_other() {
    use futures_util::SinkExt;
    let p = two_instances(1_000).await;
    let key = p.one.create_account().await.unwrap().account_key;
    let laptop = device_of(&p.one, &key, "laptop").await;
    let phone = device_of(&p.two, &key, "phone").await;
    let mut on_two = socket_at(p.second.url(), &phone, "?live=1").await;
    let mut on_one = socket_at(p.dev.url(), &laptop, "?live=1").await;
    for sealed in ["b25l", "dHdv"] {
        let message = serde_json::to_string(&cairn_protocol::ClientMessage::Live {
            sealed: sealed.into(),
        })
        .unwrap();
        on_one.send(Message::text(message)).await.unwrap();
        loop {
            match next(&mut on_two).await {
                Frame::Event(ServiceEvent::Live {
                    device_id,
                    sealed: got,
                }) => {
                    assert_eq!(device_id, laptop.device.id);
                    assert_eq!(got, sealed);
                    break;
                }
                Frame::Event(ServiceEvent::DeviceJoined { .. }) => {}
                other => panic!("not a live message: {other:?}"),
            }
        }
    }
    p.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_listener_reconnects_its_sockets_resync_from_the_registry() {
    let p = two_instances(1_000).await;
    let key = p.one.create_account().await.unwrap().account_key;
    let laptop = device_of(&p.one, &key, "laptop").await;
    let phone = device_of(&p.two, &key, "phone").await;
    let mut on_two = socket(p.second.url(), &phone).await;
    publish(p.dev.url(), &laptop, 7).await;
    assert_eq!(next_published(&mut on_two).await.1, 7);

    // The database drops both instances' listener connections.
    let mut admin = sqlx::PgConnection::connect(&p.registry_url).await.unwrap();
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE application_name = 'cairn-server events' AND datname = current_database()",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(ended, [true, true], "one listener per instance");

    // Once listening again, the instance tells its sockets what the
    // registry recorded, which may have been missed meanwhile.
    assert_eq!(
        next_published(&mut on_two).await,
        (laptop.device.id.clone(), 7)
    );
    // And live events flow again.
    publish(p.dev.url(), &laptop, 8).await;
    loop {
        match next_published(&mut on_two).await.1 {
            8 => break,
            // A second resync (the listener may drop twice) repeats 7.
            7 => {}
            other => panic!("seq {other}"),
        }
    }
    p.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_or_logout_on_one_instance_closes_sockets_on_the_other() {
    let p = two_instances(1_000).await;
    let key = p.one.create_account().await.unwrap().account_key;
    let laptop = device_of(&p.one, &key, "laptop").await;
    let phone = device_of(&p.two, &key, "phone").await;
    let tablet = device_of(&p.two, &key, "tablet").await;
    let mut phone_socket = socket(p.second.url(), &phone).await;
    let mut tablet_socket = socket(p.second.url(), &tablet).await;

    p.one
        .revoke_device(laptop.token(), &phone.device.id)
        .await
        .unwrap();
    loop {
        match next(&mut phone_socket).await {
            Frame::Closed(reason) => {
                assert_eq!(reason, close_reason::DEVICE_REVOKED);
                break;
            }
            Frame::Event(
                ServiceEvent::DeviceRevoked { .. } | ServiceEvent::DeviceJoined { .. },
            ) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(p.two.grant(phone.token(), &phone.device.id).await.is_err());

    p.one.logout(tablet.token()).await.unwrap();
    loop {
        match next(&mut tablet_socket).await {
            Frame::Closed(reason) => {
                assert_eq!(reason, close_reason::SIGNED_OUT);
                break;
            }
            Frame::Event(
                ServiceEvent::DeviceRevoked { .. } | ServiceEvent::DeviceJoined { .. },
            ) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(p
        .two
        .grant(tablet.token(), &tablet.device.id)
        .await
        .is_err());
    p.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_flood_across_both_instances_is_limited_as_one() {
    const BURST: u32 = 10;
    let p = two_instances(BURST).await;
    let urls = [p.dev.url().to_owned(), p.second.url().to_owned()];
    let (passed, limited) = sign_in_flood(&urls, 4 * BURST as usize).await;
    // One regained a minute: at most one more than the burst in total,
    // where two separate limits would have let twice the burst through.
    assert!(
        (BURST as usize..=BURST as usize + 1).contains(&passed),
        "{passed} passed"
    );
    assert!(limited[0] > 0 && limited[1] > 0, "{limited:?}");
    p.shutdown().await;
}
