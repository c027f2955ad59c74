//! Sessions: access tokens expire, refresh rotates, logout revokes.
//! Time is moved with a manual clock; nothing sleeps.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

#[path = "support/harness.rs"]
mod harness;

use std::sync::Arc;
use std::time::Duration;

use cairn_protocol::ErrorCode;
use cairn_server::ManualClock;
use harness::Harness;

#[tokio::test]
async fn an_expired_access_token_is_refused_until_refreshed() {
    let clock = Arc::new(ManualClock::starting_now());
    let h = Harness::start_with(clock.clone(), |c| {
        c.access_token_ttl_secs = 60;
        c.refresh_token_ttl_secs = 3600;
    })
    .await;
    let laptop = h.new_device(&h.new_account().await, "laptop").await;
    h.client
        .me(laptop.token())
        .await
        .expect("fresh token works");

    clock.advance(Duration::from_secs(61));
    let err = h.client.me(laptop.token()).await.expect_err("expired");
    assert_eq!(err.api_code(), Some(ErrorCode::SessionExpired));
    assert!(err.needs_sign_in());

    let refreshed = h
        .client
        .refresh(&laptop.session.refresh_token)
        .await
        .expect("refresh");
    assert_eq!(refreshed.device_id.as_ref(), Some(&laptop.device.id));
    let me = h
        .client
        .me(&refreshed.access_token)
        .await
        .expect("new token works");
    assert_eq!(me.user_id, laptop.session.user_id);
    // The old tokens died with the rotation.
    let err = h
        .client
        .refresh(&laptop.session.refresh_token)
        .await
        .expect_err("old refresh token");
    assert_eq!(err.api_code(), Some(ErrorCode::InvalidRefreshToken));
    assert!(h.client.me(laptop.token()).await.is_err());

    // A refresh token past its own lifetime is refused too.
    clock.advance(Duration::from_secs(3601));
    let err = h
        .client
        .refresh(&refreshed.refresh_token)
        .await
        .expect_err("expired refresh token");
    assert_eq!(err.api_code(), Some(ErrorCode::InvalidRefreshToken));
    h.shutdown().await;
}

#[tokio::test]
async fn logout_revokes_the_session() {
    let h = Harness::start().await;
    let laptop = h.new_device(&h.new_account().await, "laptop").await;
    h.client.logout(laptop.token()).await.expect("logout");
    let err = h.client.devices(laptop.token()).await.expect_err("revoked");
    assert_eq!(err.api_code(), Some(ErrorCode::SessionExpired));
    let err = h
        .client
        .grant(laptop.token(), &laptop.device.id)
        .await
        .expect_err("revoked");
    assert_eq!(err.status(), Some(401));
    let err = h
        .client
        .refresh(&laptop.session.refresh_token)
        .await
        .expect_err("refresh after logout");
    assert_eq!(err.api_code(), Some(ErrorCode::InvalidRefreshToken));

    // Signing in again resumes the same device.
    let again = h
        .client
        .sign_in_with_account_key(&laptop.account_key, Some(&laptop.device.id))
        .await
        .expect("sign in again");
    h.client
        .grant(&again.access_token, &laptop.device.id)
        .await
        .expect("grant for the resumed device");
    h.shutdown().await;
}

#[tokio::test]
async fn wrong_account_keys_are_refused() {
    let h = Harness::start().await;
    let key = h.new_account().await;
    let mut wrong = key.clone();
    wrong.pop();
    wrong.push('x');
    let err = h
        .client
        .sign_in_with_account_key(&wrong, None)
        .await
        .expect_err("wrong key");
    assert_eq!(err.api_code(), Some(ErrorCode::InvalidAccountKey));
    assert_eq!(err.status(), Some(401));
    h.shutdown().await;
}

#[tokio::test]
async fn devices_are_listed_renamed_and_revoked() {
    let h = Harness::start().await;
    let key = h.new_account().await;
    let laptop = h.new_device(&key, "laptop").await;
    let phone = h.new_device(&key, "phone").await;
    let devices = h.client.devices(laptop.token()).await.expect("list");
    assert_eq!(devices.len(), 2);

    let name = cairn_protocol::DeviceName::parse("work laptop").expect("name");
    let renamed = h
        .client
        .rename_device(phone.token(), &laptop.device.id, &name)
        .await
        .expect("rename");
    assert_eq!(renamed.name, name);
    h.client
        .revoke_device(laptop.token(), &phone.device.id)
        .await
        .expect("revoke");
    let devices = h.client.devices(laptop.token()).await.expect("list");
    let phone_now = devices
        .iter()
        .find(|d| d.id == phone.device.id)
        .expect("listed");
    assert!(phone_now.is_revoked());
    assert_eq!(
        devices
            .iter()
            .find(|d| d.id == laptop.device.id)
            .map(|d| d.name.as_str()),
        Some("work laptop")
    );
    // A session already acting for a device cannot register another.
    let err = h
        .client
        .register_device(laptop.token(), &name, &cairn_protocol::Platform::current())
        .await
        .expect_err("second device");
    assert_eq!(err.api_code(), Some(ErrorCode::Conflict));
    h.shutdown().await;
}

/// RFC 9700, 4.14.2: a refresh token that was already rotated, presented
/// again, means two parties hold the session. The service cannot tell the
/// owner from the thief, so the whole session ends: the newer tokens stop
/// working too.
#[tokio::test]
async fn a_reused_refresh_token_revokes_the_whole_session() {
    let h = Harness::start().await;
    let key = h.new_account().await;
    let laptop = h.new_device(&key, "laptop").await;
    let phone = h.new_device(&key, "phone").await;
    let stolen = laptop.session.refresh_token.clone();
    // The thief refreshes first and would keep the session forever.
    let thief = h.client.refresh(&stolen).await.expect("first use");
    h.client
        .me(&thief.access_token)
        .await
        .expect("thief's token works");

    // The owner's copy comes back: refused, and the session is over.
    let err = h.client.refresh(&stolen).await.expect_err("reuse");
    assert_eq!(err.api_code(), Some(ErrorCode::InvalidRefreshToken));
    let err = h
        .client
        .me(&thief.access_token)
        .await
        .expect_err("the newer access token died with the session");
    assert_eq!(err.api_code(), Some(ErrorCode::SessionExpired));
    let err = h
        .client
        .refresh(&thief.refresh_token)
        .await
        .expect_err("so did the newer refresh token");
    assert_eq!(err.api_code(), Some(ErrorCode::InvalidRefreshToken));

    // Other sessions of the user are untouched, and the device can sign in
    // again and resume.
    h.client
        .me(phone.token())
        .await
        .expect("another session goes on");
    let again = h
        .client
        .sign_in_with_account_key(&key, Some(&laptop.device.id))
        .await
        .expect("sign in again");
    h.client
        .grant(&again.access_token, &laptop.device.id)
        .await
        .expect("the device itself was not revoked");
    h.shutdown().await;
}

/// However often it is refreshed, a session ends its absolute lifetime
/// after the sign-in; then only a new sign-in helps.
#[tokio::test]
async fn a_session_ends_at_its_absolute_lifetime_however_often_refreshed() {
    let clock = Arc::new(ManualClock::starting_now());
    let h = Harness::start_with(clock.clone(), |c| {
        c.access_token_ttl_secs = 600;
        c.refresh_token_ttl_secs = 3600;
        c.session_max_lifetime_secs = 3 * 3600;
    })
    .await;
    let laptop = h.new_device(&h.new_account().await, "laptop").await;
    let signed_in_at = laptop.session.access_expires_at - 600;
    let end = signed_in_at + 3 * 3600;
    let mut session = laptop.session.clone();
    // Refreshing every 50 minutes keeps the sliding expiry ahead...
    for _ in 0..2 {
        clock.advance(Duration::from_secs(50 * 60));
        session = h
            .client
            .refresh(&session.refresh_token)
            .await
            .expect("refresh");
    }
    // ...but no expiry reaches past the session's end.
    clock.advance(Duration::from_secs(50 * 60));
    session = h
        .client
        .refresh(&session.refresh_token)
        .await
        .expect("refresh");
    assert_eq!(session.refresh_expires_at, end, "not 60 min from now");
    clock.advance(Duration::from_secs(25 * 60));
    session = h
        .client
        .refresh(&session.refresh_token)
        .await
        .expect("refresh");
    assert_eq!(session.refresh_expires_at, end);
    assert_eq!(session.access_expires_at, end, "not 10 min from now");
    clock.advance(Duration::from_secs(6 * 60));
    let err = h
        .client
        .refresh(&session.refresh_token)
        .await
        .expect_err("past the session's lifetime");
    assert_eq!(err.api_code(), Some(ErrorCode::InvalidRefreshToken));
    let err = h.client.me(&session.access_token).await.expect_err("over");
    assert_eq!(err.api_code(), Some(ErrorCode::SessionExpired));
    h.client
        .sign_in_with_account_key(&laptop.account_key, Some(&laptop.device.id))
        .await
        .expect("a new sign-in starts a new session");
    h.shutdown().await;
}
