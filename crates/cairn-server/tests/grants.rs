//! Presigned grants against the real embedded S3 store: who can read and
//! write what, and that the store itself enforces it (signature, method,
//! key, expiry).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

#[path = "support/harness.rs"]
mod harness;

use std::sync::Arc;

use cairn_protocol::{DeviceKey, ErrorCode, LOG_SLOTS};
use cairn_server::ManualClock;
use harness::{get, put, Harness};

#[tokio::test]
async fn a_device_writes_its_own_keys_and_reads_its_peers() {
    let h = Harness::start().await;
    let key = h.new_account().await;
    let laptop = h.new_device(&key, "laptop").await;
    let phone = h.new_device(&key, "phone").await;

    let laptop_grant = h.grant(&laptop).await;
    assert_eq!(laptop_grant.put.log.len(), LOG_SLOTS as usize);
    assert!(laptop_grant.put.is_complete() && laptop_grant.get.is_complete());
    assert_eq!(laptop_grant.peers.len(), 1);
    assert_eq!(laptop_grant.peers[0].device_id, phone.device.id);
    assert_eq!(laptop_grant.peers[0].name.as_str(), "phone");
    assert!(laptop_grant
        .prefix
        .starts_with(&format!("users/{}/devices/", laptop.session.user_id)));
    assert!(laptop_grant.expires_at - laptop_grant.issued_at <= 7 * 24 * 3600);

    // Every key of the device's own prefix accepts a write.
    for k in DeviceKey::all() {
        let url = laptop_grant.put.url(k).expect("url");
        assert_eq!(put(&h.http, url, b"segment").await, 200, "PUT {k}");
    }
    // Its own GET URLs read them back (recovery after losing local state).
    let (status, body) = get(&h.http, &laptop_grant.get.head).await;
    assert_eq!((status, body.as_slice()), (200, &b"segment"[..]));

    // The peer reads them with its own grant.
    let phone_grant = h.grant(&phone).await;
    let from_laptop = &phone_grant.peers[0];
    assert_eq!(from_laptop.device_id, laptop.device.id);
    for k in [
        DeviceKey::Head,
        DeviceKey::snapshot(1).expect("slot"),
        DeviceKey::log(63).expect("slot"),
    ] {
        let (status, body) = get(&h.http, from_laptop.get.url(k).expect("url")).await;
        assert_eq!((status, body.as_slice()), (200, &b"segment"[..]), "GET {k}");
    }
    h.shutdown().await;
}

#[tokio::test]
async fn a_peers_get_url_cannot_be_turned_into_a_write() {
    let h = Harness::start().await;
    let key = h.new_account().await;
    let laptop = h.new_device(&key, "laptop").await;
    let phone = h.new_device(&key, "phone").await;
    let laptop_grant = h.grant(&laptop).await;
    assert_eq!(put(&h.http, &laptop_grant.put.head, b"v1").await, 200);

    let phone_grant = h.grant(&phone).await;
    let peer_get = &phone_grant.peers[0].get.head;
    // Same URL, other method: the signature covers the method.
    assert_eq!(put(&h.http, peer_get, b"overwritten").await, 403);
    // Swapping the operation hint does not help either.
    let as_put = peer_get.replace("x-id=GetObject", "x-id=PutObject");
    assert_eq!(put(&h.http, &as_put, b"overwritten").await, 403);
    let (_, body) = get(&h.http, &laptop_grant.get.head).await;
    assert_eq!(body, b"v1");
    h.shutdown().await;
}

#[tokio::test]
async fn urls_with_a_changed_key_are_refused() {
    let h = Harness::start().await;
    let key = h.new_account().await;
    let laptop = h.new_device(&key, "laptop").await;
    let grant = h.grant(&laptop).await;
    // Point a valid PUT URL at another key of the same prefix and at a key
    // outside it; the signature covers the path.
    let other_slot = grant.put.log[0].replace("/log/00?", "/log/01?");
    assert_eq!(put(&h.http, &other_slot, b"x").await, 403);
    let outside = grant
        .put
        .head
        .replace("/devices/", "/devices/../../other/devices/");
    // The URL parser resolves the `..` segments before sending, so the
    // store sees a key other than the signed one: a signature mismatch.
    assert_eq!(put(&h.http, &outside, b"x").await, 403);
    let tampered_signature = {
        let mut url = grant.put.head.clone();
        let last = url.pop().expect("non-empty");
        url.push(if last == '0' { '1' } else { '0' });
        url
    };
    assert_eq!(put(&h.http, &tampered_signature, b"x").await, 403);
    h.shutdown().await;
}

#[tokio::test]
async fn one_user_cannot_read_another_users_keys() {
    let h = Harness::start().await;
    let alice = h.new_device(&h.new_account().await, "alice laptop").await;
    let bob = h.new_device(&h.new_account().await, "bob laptop").await;
    let alice_grant = h.grant(&alice).await;
    assert_eq!(
        put(&h.http, &alice_grant.put.head, b"alice's head").await,
        200
    );

    let bob_grant = h.grant(&bob).await;
    assert!(bob_grant.peers.is_empty(), "bob sees no devices of alice");
    assert_ne!(bob_grant.user_id, alice_grant.user_id);
    // Bob's GET URL rewritten to alice's prefix no longer verifies.
    let stolen = bob_grant
        .get
        .head
        .replace(bob_grant.prefix.as_str(), alice_grant.prefix.as_str());
    let stolen = stolen.replace(
        &bob_grant.prefix.replace(':', "%3A"),
        &alice_grant.prefix.replace(':', "%3A"),
    );
    assert_ne!(stolen, bob_grant.get.head);
    let (status, _) = get(&h.http, &stolen).await;
    assert_eq!(status, 403);
    // Bob cannot ask for a grant of alice's device.
    let err = h
        .client
        .grant(bob.token(), &alice.device.id)
        .await
        .expect_err("foreign device");
    assert_eq!(err.api_code(), Some(ErrorCode::NotFound));
    h.shutdown().await;
}

#[tokio::test]
async fn a_session_gets_grants_only_for_its_own_device() {
    let h = Harness::start().await;
    let key = h.new_account().await;
    let laptop = h.new_device(&key, "laptop").await;
    let phone = h.new_device(&key, "phone").await;
    let err = h
        .client
        .grant(laptop.token(), &phone.device.id)
        .await
        .expect_err("other device's grant");
    assert_eq!(err.status(), Some(403));
    h.shutdown().await;
}

#[tokio::test]
async fn expired_urls_are_refused_by_the_store() {
    // The service's clock runs two minutes behind and grants live 60 s, so
    // the URLs it signs expired a minute ago by the store's (real) clock.
    let clock = Arc::new(ManualClock::starting_now());
    clock.set_ms(clock_now_ms() - 120_000);
    let h = Harness::start_with(clock.clone(), |c| c.grant_lifetime_secs = 60).await;
    let key = h.new_account().await;
    let laptop = h.new_device(&key, "laptop").await;
    let grant = h.grant(&laptop).await;
    assert_eq!(grant.expires_at - grant.issued_at, 60);
    assert_eq!(put(&h.http, &grant.put.head, b"late").await, 403);
    let (status, _) = get(&h.http, &grant.get.head).await;
    assert_eq!(status, 403);

    // Back to the real time: fresh URLs work.
    clock.set_ms(clock_now_ms());
    let grant = h.grant(&laptop).await;
    assert_eq!(put(&h.http, &grant.put.head, b"on time").await, 200);
    h.shutdown().await;
}

fn clock_now_ms() -> i64 {
    use cairn_server::Clock;
    cairn_server::SystemClock.now_ms()
}

#[tokio::test]
async fn a_revoked_device_gets_no_grant_and_drops_out_of_its_peers_grants() {
    let h = Harness::start().await;
    let key = h.new_account().await;
    let laptop = h.new_device(&key, "laptop").await;
    let old_phone = h.new_device(&key, "old phone").await;
    assert_eq!(h.grant(&laptop).await.peers.len(), 1);

    h.client
        .revoke_device(laptop.token(), &old_phone.device.id)
        .await
        .expect("revoke");
    // The revoked device's session is revoked with it.
    let err = h
        .client
        .grant(old_phone.token(), &old_phone.device.id)
        .await
        .expect_err("revoked");
    // Its session went with it, and the answer says why.
    assert_eq!(err.api_code(), Some(ErrorCode::DeviceRevoked), "{err}");
    assert_eq!(err.status(), Some(410));
    // Signing in again and resuming the device does not bring it back.
    let err = h
        .client
        .sign_in_with_account_key(&key, Some(&old_phone.device.id))
        .await
        .expect_err("resume revoked");
    assert_eq!(err.api_code(), Some(ErrorCode::DeviceRevoked));
    assert_eq!(err.status(), Some(410));
    assert!(h.grant(&laptop).await.peers.is_empty());
    h.shutdown().await;
}

#[tokio::test]
async fn conditional_get_of_a_head_answers_304_when_unchanged() {
    let h = Harness::start().await;
    let key = h.new_account().await;
    let laptop = h.new_device(&key, "laptop").await;
    let phone = h.new_device(&key, "phone").await;
    let grant = h.grant(&laptop).await;
    assert_eq!(put(&h.http, &grant.put.head, b"head v1").await, 200);

    let peer_head = h.grant(&phone).await.peers[0].get.head.clone();
    let first = h.http.get(&peer_head).send().await.expect("GET");
    assert_eq!(first.status().as_u16(), 200);
    let etag = first.headers()["etag"].to_str().expect("etag").to_owned();

    let again = h
        .http
        .get(&peer_head)
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("GET");
    assert_eq!(again.status().as_u16(), 304);
    assert!(again.bytes().await.expect("body").is_empty());

    assert_eq!(put(&h.http, &grant.put.head, b"head v2").await, 200);
    let changed = h
        .http
        .get(&peer_head)
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("GET");
    assert_eq!(changed.status().as_u16(), 200);
    assert_eq!(changed.bytes().await.expect("body").as_ref(), b"head v2");
    h.shutdown().await;
}
