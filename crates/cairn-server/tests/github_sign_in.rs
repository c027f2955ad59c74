//! The whole GitHub sign-in against a real OAuth2 server on loopback
//! (oauth2-mock-server from npm): the client's loopback redirect, state,
//! PKCE on both legs, the one-time login code, and replays refused.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

#[path = "support/harness.rs"]
mod harness;
#[path = "../../../tests/support/oauth_server.rs"]
mod oauth_server;

use std::sync::Arc;
use std::time::Duration;

use cairn_client::{LoopbackRedirect, PkcePair};
use cairn_protocol::{DeviceName, ErrorCode, Platform};
use harness::Harness;
use oauth_server::OauthServer;

const GITHUB_ID: u64 = 583231;

async fn harness_with_github(oauth: &OauthServer) -> Harness {
    let github = oauth.github_config();
    Harness::start_with(Arc::new(cairn_server::SystemClock), move |c| {
        c.providers.github = Some(github);
    })
    .await
}

/// Plays the browser: follows the authorize URL's redirects, which end at
/// the client's loopback listener.
fn browser() -> impl FnOnce(&str) -> Result<(), cairn_client::ClientError> {
    |url: &str| {
        let url = url.to_owned();
        tokio::spawn(async move {
            let response = reqwest::get(&url)
                .await
                .expect("browser follows the redirect");
            assert!(
                response.status().is_success(),
                "redirect page: {}",
                response.status()
            );
        });
        Ok(())
    }
}

#[tokio::test]
async fn github_sign_in_end_to_end() {
    let oauth = OauthServer::start(GITHUB_ID);
    let h = harness_with_github(&oauth).await;

    let session = h
        .client
        .sign_in_with_github(None, Duration::from_secs(20), browser())
        .await
        .expect("github sign-in");
    assert_eq!(session.user_id.as_str(), format!("github:{GITHUB_ID}"));
    let device = h
        .client
        .register_device(
            &session.access_token,
            &DeviceName::parse("laptop").expect("name"),
            &Platform::current(),
        )
        .await
        .expect("register");
    let grant = h
        .client
        .grant(&session.access_token, &device.id)
        .await
        .expect("grant");
    assert!(grant
        .prefix
        .starts_with(&format!("users/github:{GITHUB_ID}/devices/")));

    // Signing in again lands in the same account (the id is immutable).
    let again = h
        .client
        .sign_in_with_github(Some(&device.id), Duration::from_secs(20), browser())
        .await
        .expect("second sign-in");
    assert_eq!(again.user_id, session.user_id);
    assert_eq!(again.device_id.as_ref(), Some(&device.id));
    h.shutdown().await;
}

#[tokio::test]
async fn replayed_state_and_login_codes_are_refused() {
    let oauth = OauthServer::start(GITHUB_ID);
    let h = harness_with_github(&oauth).await;

    // Step by step, keeping every value to replay it.
    let redirect = LoopbackRedirect::bind().await.expect("bind");
    let pkce = PkcePair::generate();
    let started = h
        .client
        .github_start(redirect.redirect_uri(), &pkce.challenge)
        .await
        .expect("start");
    browser()(&started.authorize_url).expect("browser");
    let code = redirect
        .wait_for_code(&started.state, Duration::from_secs(20))
        .await
        .expect("redirect");

    // A forged state is refused before the code is ever used.
    let err = h
        .client
        .github_exchange(&code, "forged-state")
        .await
        .expect_err("forged");
    assert_eq!(err.api_code(), Some(ErrorCode::InvalidOauthState));

    let login = h
        .client
        .github_exchange(&code, &started.state)
        .await
        .expect("exchange");
    let err = h
        .client
        .github_exchange(&code, &started.state)
        .await
        .expect_err("replayed state");
    assert_eq!(err.api_code(), Some(ErrorCode::InvalidOauthState));
    assert_eq!(err.status(), Some(400));

    // The login code needs the client's verifier, and works once.
    let stranger = PkcePair::generate();
    let err = h
        .client
        .sign_in_with_login_code(&login.login_code, &stranger.verifier, None)
        .await
        .expect_err("wrong verifier");
    assert_eq!(err.api_code(), Some(ErrorCode::InvalidLoginCode));
    // ...and a wrong verifier burned it, so even the right one fails now.
    let err = h
        .client
        .sign_in_with_login_code(&login.login_code, &pkce.verifier, None)
        .await
        .expect_err("burned code");
    assert_eq!(err.api_code(), Some(ErrorCode::InvalidLoginCode));

    // A clean run: the code works once, then never again.
    let redirect = LoopbackRedirect::bind().await.expect("bind");
    let started = h
        .client
        .github_start(redirect.redirect_uri(), &pkce.challenge)
        .await
        .expect("start");
    browser()(&started.authorize_url).expect("browser");
    let code = redirect
        .wait_for_code(&started.state, Duration::from_secs(20))
        .await
        .expect("redirect");
    let login = h
        .client
        .github_exchange(&code, &started.state)
        .await
        .expect("exchange");
    h.client
        .sign_in_with_login_code(&login.login_code, &pkce.verifier, None)
        .await
        .expect("first use");
    let err = h
        .client
        .sign_in_with_login_code(&login.login_code, &pkce.verifier, None)
        .await
        .expect_err("replayed login code");
    assert_eq!(err.api_code(), Some(ErrorCode::InvalidLoginCode));
    h.shutdown().await;
}

#[tokio::test]
async fn non_loopback_redirects_are_refused() {
    let oauth = OauthServer::start(GITHUB_ID);
    let h = harness_with_github(&oauth).await;
    let pkce = PkcePair::generate();
    for redirect in ["https://evil.example/callback", "http://192.0.2.1/callback"] {
        let err = h
            .client
            .github_start(redirect, &pkce.challenge)
            .await
            .expect_err("non-loopback redirect");
        assert_eq!(err.status(), Some(400));
    }
    let err = h
        .client
        .github_start("http://127.0.0.1:9/callback", "plain-challenge")
        .await
        .expect_err("bad challenge");
    assert_eq!(err.status(), Some(400));
    h.shutdown().await;
}
