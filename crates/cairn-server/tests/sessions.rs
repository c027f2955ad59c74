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
