//! Live notifications over the event socket: a publish reaches the user's
//! other devices at once, joins and revocations are announced, and a
//! socket ends with the session that opened it.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

#[path = "support/harness.rs"]
mod harness;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_client::StreamItem;
use cairn_protocol::{DeviceName, Platform, ServiceEvent};
use cairn_server::ManualClock;
use futures_util::StreamExt;
use harness::{next_event, subscribe, Harness};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type RawSocket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The event socket without the client's reconnecting, to see how it ends.
async fn raw_socket(
    h: &Harness,
    token: &str,
) -> Result<RawSocket, tokio_tungstenite::tungstenite::Error> {
    let mut request = h
        .url("/v1/events")
        .replace("http://", "ws://")
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    let (events, _) = read_until_close(&mut socket, Duration::from_secs(5), 1).await;
    assert!(
        matches!(events.as_slice(), [ServiceEvent::Subscribed { .. }]),
        "{events:?}"
    );
    Ok(socket)
}

/// Events read until the socket closes (or `limit` events arrived), and the
/// close frame if it closed within `within`.
async fn read_until_close(
    socket: &mut RawSocket,
    within: Duration,
    limit: usize,
) -> (Vec<ServiceEvent>, Option<CloseFrame>) {
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    while events.len() < limit {
        let message = match tokio::time::timeout_at(deadline, socket.next()).await {
            Ok(Some(Ok(message))) => message,
            Ok(other) => panic!("socket ended without a close frame: {other:?}"),
            Err(_) => break,
        };
        match message {
            Message::Text(text) => {
                events.push(serde_json::from_str(text.as_str()).expect("an event"));
            }
            Message::Close(frame) => {
                return (events, Some(frame.expect("a close frame with a reason")))
            }
            _ => {}
        }
    }
    (events, None)
}

/// The socket is over: nothing but its end can come out of it.
async fn assert_ended(socket: &mut RawSocket) {
    let after = tokio::time::timeout(Duration::from_secs(2), socket.next())
        .await
        .expect("the socket ends");
    assert!(
        matches!(after, None | Some(Err(_))),
        "message after the close: {after:?}"
    );
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

#[tokio::test]
async fn a_revoked_devices_socket_is_closed_and_hears_nothing_more() {
    let h = Harness::start().await;
    let key = h.new_account().await;
    let laptop = h.new_device(&key, "laptop").await;
    let phone = h.new_device(&key, "phone").await;
    let tablet = h.new_device(&key, "tablet").await;
    let mut laptop_events = subscribe(&h, &laptop).await;
    let mut phone_socket = raw_socket(&h, phone.token()).await.expect("connects");

    let started = Instant::now();
    h.client
        .revoke_device(laptop.token(), &phone.device.id)
        .await
        .expect("revoke");
    let (events, close) =
        read_until_close(&mut phone_socket, Duration::from_secs(2), usize::MAX).await;
    let revoked = ServiceEvent::DeviceRevoked {
        device_id: phone.device.id.clone(),
    };
    // It hears why, then the socket closes and says so.
    assert_eq!(events, vec![revoked.clone()]);
    let close =
        close.unwrap_or_else(|| panic!("no close within 2 s (after {:?})", started.elapsed()));
    assert_eq!(close.reason.as_str(), "device revoked");
    assert_eq!(u16::from(close.code), 1008);

    // Later events reach the others but not the revoked device.
    h.client
        .report_published(tablet.token(), &tablet.device.id, 9)
        .await
        .expect("publish");
    assert_eq!(next_event(&mut laptop_events).await, revoked);
    assert_eq!(
        next_event(&mut laptop_events).await,
        ServiceEvent::Published {
            device_id: tablet.device.id.clone(),
            seq: 9
        }
    );
    assert_ended(&mut phone_socket).await;
    // Nor can it come back.
    match raw_socket(&h, phone.token()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 410);
        }
        other => panic!("revoked device reconnected: {other:?}"),
    }
    h.shutdown().await;
}

/// The socket is one-way: a client that floods it with a large message is
/// cut off rather than buffered, and small chatter is ignored.
#[tokio::test]
async fn a_client_cannot_push_large_messages_into_the_socket() {
    use futures_util::SinkExt;
    let h = Harness::start().await;
    let key = h.new_account().await;
    let laptop = h.new_device(&key, "laptop").await;
    let phone = h.new_device(&key, "phone").await;
    let mut socket = raw_socket(&h, laptop.token()).await.expect("connects");

    socket
        .send(Message::text("hello"))
        .await
        .expect("small message sent");
    h.client
        .report_published(phone.token(), &phone.device.id, 3)
        .await
        .expect("publish");
    let (events, _) = read_until_close(&mut socket, Duration::from_secs(2), 1).await;
    assert_eq!(
        events,
        [ServiceEvent::Published {
            device_id: phone.device.id.clone(),
            seq: 3
        }],
        "still open after small chatter"
    );

    // 64 KiB in one message: the service closes with 1009 (message too
    // big), saying why, rather than dropping the connection.
    socket
        .send(Message::text("x".repeat(64 * 1024)))
        .await
        .expect("sent");
    let (_, close) = read_until_close(&mut socket, Duration::from_secs(5), usize::MAX).await;
    let close = close.expect("closed with a frame");
    assert_eq!(u16::from(close.code), 1009, "{close:?}");
    assert_eq!(close.reason.as_str(), "message too big");
    h.shutdown().await;
}

/// One token cannot hold hundreds of sockets: past the cap per session the
/// oldest of its sockets is closed with a reason, and past the cap per
/// user the user's oldest, whatever its session.
#[tokio::test]
async fn event_sockets_are_capped_per_session_and_per_user_oldest_first() {
    use cairn_protocol::event::close_reason;
    const PER_SESSION: usize = 4;
    const PER_USER: usize = 32;
    let h = Harness::start().await;
    let key = h.new_account().await;
    let laptop = h.new_device(&key, "laptop").await;

    let mut sockets = Vec::new();
    for _ in 0..PER_SESSION {
        sockets.push(raw_socket(&h, laptop.token()).await.expect("connects"));
    }
    let mut newest = raw_socket(&h, laptop.token()).await.expect("connects");
    let (_, close) = read_until_close(&mut sockets[0], Duration::from_secs(5), usize::MAX).await;
    let close = close.expect("the oldest is closed");
    assert_eq!(close.reason.as_str(), close_reason::REPLACED);
    assert_eq!(u16::from(close.code), 1008);
    // The others stay open and hear events.
    let phone = h.new_device(&key, "phone").await;
    h.client
        .report_published(phone.token(), &phone.device.id, 1)
        .await
        .expect("publish");
    for socket in sockets[1..].iter_mut().chain(std::iter::once(&mut newest)) {
        let (events, close) = read_until_close(socket, Duration::from_secs(5), 2).await;
        assert!(close.is_none(), "{close:?}");
        assert!(
            events
                .iter()
                .any(|e| matches!(e, ServiceEvent::Published { seq: 1, .. })),
            "{events:?}"
        );
    }

    // Per user: fill the user's cap from other sessions; the laptop's
    // sockets, now the oldest, go first.
    let mut others = Vec::new();
    let mut laptop_open: Vec<_> = sockets.drain(1..).collect();
    laptop_open.push(newest);
    while laptop_open.len() + others.len() < PER_USER {
        let session = h
            .client
            .sign_in_with_account_key(&key, None)
            .await
            .expect("sign in");
        for _ in 0..PER_SESSION.min(PER_USER - laptop_open.len() - others.len()) {
            others.push(
                raw_socket(&h, &session.access_token)
                    .await
                    .expect("connects"),
            );
        }
    }
    let last = h
        .client
        .sign_in_with_account_key(&key, None)
        .await
        .expect("sign in");
    let _one_too_many = raw_socket(&h, &last.access_token).await.expect("connects");
    let (_, close) =
        read_until_close(&mut laptop_open[0], Duration::from_secs(5), usize::MAX).await;
    assert_eq!(
        close.expect("the user's oldest is closed").reason.as_str(),
        close_reason::REPLACED
    );
    h.shutdown().await;
}

/// A session may open its socket before it registers its device; the
/// socket still ends when that device is revoked.
#[tokio::test]
async fn a_socket_opened_before_its_device_was_registered_closes_on_revocation() {
    let h = Harness::start().await;
    let key = h.new_account().await;
    let laptop = h.new_device(&key, "laptop").await;
    let session = h
        .client
        .sign_in_with_account_key(&key, None)
        .await
        .expect("sign in");
    let mut early_socket = raw_socket(&h, &session.access_token)
        .await
        .expect("connects with no device yet");
    let phone = h
        .client
        .register_device(
            &session.access_token,
            &DeviceName::parse("phone").expect("name"),
            &Platform::parse("linux").expect("platform"),
        )
        .await
        .expect("register");
    h.client
        .revoke_device(laptop.token(), &phone.id)
        .await
        .expect("revoke");
    let (_, close) = read_until_close(&mut early_socket, Duration::from_secs(2), usize::MAX).await;
    let close = close.expect("closed within 2 s");
    assert_eq!(close.reason.as_str(), "device revoked");
    assert_ended(&mut early_socket).await;
    h.shutdown().await;
}

#[tokio::test]
async fn logout_closes_that_sessions_socket_only() {
    let h = Harness::start().await;
    let key = h.new_account().await;
    let laptop = h.new_device(&key, "laptop").await;
    let phone = h.new_device(&key, "phone").await;
    let mut laptop_socket = raw_socket(&h, laptop.token()).await.expect("connects");
    let mut phone_socket = raw_socket(&h, phone.token()).await.expect("connects");

    h.client.logout(laptop.token()).await.expect("logout");
    let (events, close) =
        read_until_close(&mut laptop_socket, Duration::from_secs(2), usize::MAX).await;
    assert!(events.is_empty(), "{events:?}");
    let close = close.expect("closed within 2 s");
    assert_eq!(close.reason.as_str(), "signed out");
    assert_ended(&mut laptop_socket).await;

    // The phone's session is another one: its socket goes on.
    let tablet = h.new_device(&key, "tablet").await;
    let (events, close) = read_until_close(&mut phone_socket, Duration::from_secs(5), 1).await;
    assert_eq!(close, None);
    assert_eq!(
        events,
        vec![ServiceEvent::DeviceJoined {
            device_id: tablet.device.id.clone(),
            name: tablet.device.name.clone()
        }]
    );
    h.shutdown().await;
}

#[tokio::test]
async fn a_socket_closes_when_its_access_token_expires_and_the_client_comes_back() {
    let clock = Arc::new(ManualClock::starting_now());
    let h = Harness::start_with(clock.clone(), |c| c.access_token_ttl_secs = 600).await;
    let key = h.new_account().await;
    let laptop = h.new_device(&key, "laptop").await;
    // The socket is open, then the service's clock reaches the token's
    // expiry: the socket closes at once, saying why.
    let mut socket = raw_socket(&h, laptop.token()).await.expect("connects");
    clock.set_ms(laptop.session.access_expires_at * 1000);
    let (events, close) = read_until_close(&mut socket, Duration::from_secs(5), usize::MAX).await;
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(
        close
            .expect("closed when the clock passed the expiry")
            .reason
            .as_str(),
        "session expired"
    );
    assert_ended(&mut socket).await;

    // The client's subscription reconnects after such a close with
    // whatever token it is given then: here a refreshed one (the old one
    // died with the refresh, so only the new one can bring it back).
    clock.set_ms(laptop.session.access_expires_at * 1000 - 1000);
    let token = Arc::new(Mutex::new(laptop.token().to_owned()));
    let current = token.clone();
    let mut events = h
        .client
        .subscribe_events(move || current.lock().expect("token").clone())
        .expect("subscribe");
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("connects"),
        Some(StreamItem::Connected)
    );
    let refreshed = h
        .client
        .refresh(&laptop.session.refresh_token)
        .await
        .expect("refresh");
    *token.lock().expect("token") = refreshed.access_token;
    clock.set_ms(laptop.session.access_expires_at * 1000);
    let dropped = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("closed at expiry");
    assert!(
        matches!(dropped, Some(StreamItem::Disconnected { .. })),
        "{dropped:?}"
    );
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("back"),
        Some(StreamItem::Connected)
    );
    h.shutdown().await;
}

/// A service that stops closes its sockets saying "reconnect" (going away,
/// 1001): behind a load balancer the client comes back to an instance
/// still running. Shutdown waits for the close frame to go out.
#[tokio::test]
async fn a_stopping_service_closes_its_sockets_saying_reconnect() {
    use cairn_protocol::event::close_reason;
    let h = Harness::start().await;
    let key = h.new_account().await;
    let laptop = h.new_device(&key, "laptop").await;
    let mut socket = raw_socket(&h, laptop.token()).await.expect("socket");
    let stopped = tokio::spawn(h.shutdown());
    let (events, close) = read_until_close(&mut socket, Duration::from_secs(10), usize::MAX).await;
    assert!(events.is_empty(), "{events:?}");
    let close = close.expect("closed by the service");
    assert_eq!(close.reason.as_str(), close_reason::RECONNECT);
    assert_eq!(u16::from(close.code), 1001);
    stopped.await.expect("shutdown finished");
}

/// Live changes: what a device sends on its socket reaches the user's other
/// devices whose sockets asked for them (`?live=1`), as it was sent; not
/// the sender, not a socket that did not ask, not another user.
#[tokio::test]
async fn live_changes_reach_the_users_other_live_sockets_only() {
    let h = Harness::start().await;
    let key = h.new_account().await;
    let laptop = h.new_device(&key, "laptop").await;
    let phone = h.new_device(&key, "phone").await;
    let stranger = h.new_device(&h.new_account().await, "stranger").await;
    // The client's subscriptions ask for live events.
    let mut laptop_events = subscribe(&h, &laptop).await;
    let mut phone_events = subscribe(&h, &phone).await;
    let mut stranger_events = subscribe(&h, &stranger).await;
    // A socket of the phone's that did not ask (as an older version's).
    let mut plain = raw_socket(&h, phone.token()).await.expect("socket");

    assert!(laptop_events.send_live("c2VhbGVk".into()));
    assert_eq!(
        next_event(&mut phone_events).await,
        ServiceEvent::Live {
            device_id: laptop.device.id.clone(),
            sealed: "c2VhbGVk".into()
        }
    );
    // Not base64: nothing is relayed; the next good one still is.
    assert!(laptop_events.send_live("not base64!".into()));
    assert!(laptop_events.send_live("b25l".into()));
    assert_eq!(
        next_event(&mut phone_events).await,
        ServiceEvent::Live {
            device_id: laptop.device.id.clone(),
            sealed: "b25l".into()
        }
    );
    let quiet =
        tokio::time::timeout(Duration::from_millis(200), stranger_events.next_event()).await;
    assert!(quiet.is_err(), "stranger got {quiet:?}");
    let (heard, _) = read_until_close(&mut plain, Duration::from_millis(200), 1).await;
    assert!(heard.is_empty(), "a socket without ?live=1 got {heard:?}");
    let echo = tokio::time::timeout(Duration::from_millis(200), laptop_events.next_event()).await;
    assert!(echo.is_err(), "the sender heard its own: {echo:?}");
    // Too big for the socket: refused before it is sent.
    assert!(!laptop_events.send_live("A".repeat(cairn_protocol::MAX_CLIENT_MESSAGE)));
    drop(laptop_events);
    h.shutdown().await;
}
