//! Live notifications over the event socket: a publish reaches the user's
//! other devices at once, and joins and revocations are announced.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

#[path = "support/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use cairn_client::{EventSubscription, StreamItem};
use cairn_protocol::ServiceEvent;
use harness::{Harness, SignedInDevice};

async fn subscribe(h: &Harness, device: &SignedInDevice) -> EventSubscription {
    let token = device.session.access_token.clone();
    let mut events = h
        .client
        .subscribe_events(move || token.clone())
        .expect("subscribe");
    let first = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("connects in time");
    assert_eq!(first, Some(StreamItem::Connected));
    events
}

async fn next_event(events: &mut EventSubscription) -> ServiceEvent {
    tokio::time::timeout(Duration::from_secs(5), events.next_event())
        .await
        .expect("event in time")
        .expect("stream open")
}

#[tokio::test]
async fn two_devices_hear_each_others_publishes_within_100_ms() {
    let h = Harness::start().await;
    let key = h.new_account().await;
    let laptop = h.new_device(&key, "laptop").await;
    let phone = h.new_device(&key, "phone").await;
    let mut laptop_events = subscribe(&h, &laptop).await;
    let mut phone_events = subscribe(&h, &phone).await;

    for seq in 1..=5u64 {
        let started = Instant::now();
        h.client
            .report_published(laptop.token(), &laptop.device.id, seq)
            .await
            .expect("publish");
        let event = next_event(&mut phone_events).await;
        let elapsed = started.elapsed();
        assert_eq!(
            event,
            ServiceEvent::Published {
                device_id: laptop.device.id.clone(),
                seq
            }
        );
        assert!(
            elapsed < Duration::from_millis(100),
            "laptop → phone took {elapsed:?}"
        );

        let started = Instant::now();
        h.client
            .report_published(phone.token(), &phone.device.id, seq * 10)
            .await
            .expect("publish");
        let event = next_event(&mut laptop_events).await;
        let elapsed = started.elapsed();
        assert_eq!(
            event,
            ServiceEvent::Published {
                device_id: phone.device.id.clone(),
                seq: seq * 10
            }
        );
        assert!(
            elapsed < Duration::from_millis(100),
            "phone → laptop took {elapsed:?}"
        );
    }
    h.shutdown().await;
}

#[tokio::test]
async fn publishes_are_not_echoed_and_do_not_cross_users() {
    let h = Harness::start().await;
    let key = h.new_account().await;
    let laptop = h.new_device(&key, "laptop").await;
    let phone = h.new_device(&key, "phone").await;
    let stranger = h.new_device(&h.new_account().await, "stranger").await;
    let mut laptop_events = subscribe(&h, &laptop).await;
    let mut stranger_events = subscribe(&h, &stranger).await;

    h.client
        .report_published(laptop.token(), &laptop.device.id, 1)
        .await
        .expect("publish");
    h.client
        .report_published(phone.token(), &phone.device.id, 2)
        .await
        .expect("publish");
    // The laptop's first event is the phone's publish: its own was skipped.
    assert_eq!(
        next_event(&mut laptop_events).await,
        ServiceEvent::Published {
            device_id: phone.device.id.clone(),
            seq: 2
        }
    );
    // The stranger hears nothing of it.
    h.client
        .report_published(stranger.token(), &stranger.device.id, 7)
        .await
        .expect("publish");
    let quiet =
        tokio::time::timeout(Duration::from_millis(200), stranger_events.next_event()).await;
    assert!(quiet.is_err(), "stranger got {quiet:?}");
    // A device cannot publish in another device's name.
    let err = h
        .client
        .report_published(laptop.token(), &phone.device.id, 3)
        .await
        .expect_err("foreign publish");
    assert_eq!(err.status(), Some(403));
    h.shutdown().await;
}

#[tokio::test]
async fn joins_and_revocations_are_announced() {
    let h = Harness::start().await;
    let key = h.new_account().await;
    let laptop = h.new_device(&key, "laptop").await;
    let mut laptop_events = subscribe(&h, &laptop).await;

    let phone = h.new_device(&key, "phone").await;
    assert_eq!(
        next_event(&mut laptop_events).await,
        ServiceEvent::DeviceJoined {
            device_id: phone.device.id.clone(),
            name: phone.device.name.clone()
        }
    );
    let mut phone_events = subscribe(&h, &phone).await;
    h.client
        .revoke_device(laptop.token(), &phone.device.id)
        .await
        .expect("revoke");
    let revoked = ServiceEvent::DeviceRevoked {
        device_id: phone.device.id.clone(),
    };
    assert_eq!(next_event(&mut laptop_events).await, revoked);
    assert_eq!(next_event(&mut phone_events).await, revoked);
    h.shutdown().await;
}

#[tokio::test]
async fn the_socket_refuses_bad_tokens_and_accepts_a_query_token() {
    let h = Harness::start().await;
    let laptop = h.new_device(&h.new_account().await, "laptop").await;
    let response = h.http.get(h.url("/v1/events")).send().await.expect("GET");
    assert_eq!(response.status().as_u16(), 401);
    let body: cairn_protocol::ApiError = response.json().await.expect("json error");
    assert_eq!(body.code, cairn_protocol::ErrorCode::Unauthorized);

    let ws_url = format!(
        "{}/v1/events?access_token={}",
        h.dev.url().replace("http://", "ws://"),
        laptop.token()
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .expect("query token accepted");
    use futures_util::StreamExt;
    let first = socket.next().await.expect("message").expect("ok");
    let event: ServiceEvent = serde_json::from_str(first.to_text().expect("text")).expect("event");
    assert!(matches!(event, ServiceEvent::Subscribed { .. }));
    h.shutdown().await;
}

#[tokio::test]
async fn the_event_stream_reconnects_after_a_service_restart() {
    // The registry lives in the data dir, so sessions survive the restart;
    // the socket does not, and the client must come back by itself.
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = cairn_server::DevServer::builder(dir.path())
        .start()
        .await
        .expect("start");
    let addr: std::net::SocketAddr = dev
        .url()
        .trim_start_matches("http://")
        .parse()
        .expect("addr");
    let client = cairn_client::ServiceClient::new(dev.url()).expect("client");
    let key = client.create_account().await.expect("account").account_key;
    let session = client
        .sign_in_with_account_key(&key, None)
        .await
        .expect("sign in");
    let token = session.access_token.clone();
    let mut events = client
        .subscribe_events(move || token.clone())
        .expect("subscribe");
    assert_eq!(events.next().await, Some(StreamItem::Connected));

    dev.shutdown().await.expect("stop");
    let dropped = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("drop noticed");
    assert!(
        matches!(dropped, Some(StreamItem::Disconnected { .. })),
        "{dropped:?}"
    );

    let dev = cairn_server::DevServer::builder(dir.path())
        .listen(addr)
        .start()
        .await
        .expect("restart on the same port");
    let back = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.next().await {
                Some(StreamItem::Connected) => return true,
                Some(StreamItem::Disconnected { .. }) => continue,
                other => panic!("unexpected {other:?}"),
            }
        }
    })
    .await
    .expect("reconnected in time");
    assert!(back);

    let other = client
        .sign_in_with_account_key(&key, None)
        .await
        .expect("sign in");
    let name = cairn_protocol::DeviceName::parse("phone").expect("name");
    let phone = client
        .register_device(
            &other.access_token,
            &name,
            &cairn_protocol::Platform::current(),
        )
        .await
        .expect("register");
    assert_eq!(
        next_event(&mut events).await,
        ServiceEvent::DeviceJoined {
            device_id: phone.id,
            name
        }
    );
    dev.shutdown().await.expect("stop");
}
