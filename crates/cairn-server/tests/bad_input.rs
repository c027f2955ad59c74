//! Hostile and malformed requests: each gets a 4xx with a `{code, message}`
//! JSON body, and nothing is stored. Sign-in endpoints are rate-limited.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

#[path = "support/harness.rs"]
mod harness;

use std::sync::Arc;
use std::time::Duration;

use cairn_protocol::{ApiError, ErrorCode};
use cairn_server::ManualClock;
use harness::Harness;
use reqwest::{Method, RequestBuilder};

/// Sends `request` and checks for `status` with a JSON error `code`.
async fn expect_error(request: RequestBuilder, status: u16, code: ErrorCode) {
    let response = request.send().await.expect("sent");
    let got = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = response.text().await.expect("body");
    assert_eq!(got, status, "body: {text}");
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}: {text}"
    );
    let error: ApiError = serde_json::from_str(&text).expect("a {code, message} body");
    assert_eq!(error.code, code, "{text}");
    assert!(!error.message.is_empty());
}

#[tokio::test]
async fn malformed_bodies_are_refused_and_nothing_is_stored() {
    let h = Harness::start_with(Arc::new(cairn_server::SystemClock), |c| {
        c.max_body_bytes = 4096
    })
    .await;
    let laptop = h.new_device(&h.new_account().await, "laptop").await;
    // A session with no device yet, so registration would be allowed.
    let fresh = h
        .client
        .sign_in_with_account_key(&laptop.account_key, None)
        .await
        .expect("sign in");
    let post_devices = || {
        h.http
            .post(h.url("/v1/devices"))
            .bearer_auth(&fresh.access_token)
    };

    expect_error(
        post_devices()
            .header("content-type", "application/json")
            .body("{\"name\": "),
        400,
        ErrorCode::InvalidJson,
    )
    .await;
    expect_error(
        post_devices()
            .header("content-type", "text/plain")
            .body(r#"{"name":"x","platform":"linux"}"#),
        415,
        ErrorCode::UnsupportedMediaType,
    )
    .await;
    expect_error(
        post_devices().body(r#"{"name":"x","platform":"linux"}"#),
        415,
        ErrorCode::UnsupportedMediaType,
    )
    .await;
    let huge = format!(r#"{{"name":"{}","platform":"linux"}}"#, "a".repeat(1 << 20));
    expect_error(
        post_devices()
            .header("content-type", "application/json")
            .body(huge),
        413,
        ErrorCode::PayloadTooLarge,
    )
    .await;
    expect_error(
        post_devices().json(&serde_json::json!({"name": 5, "platform": "linux"})),
        400,
        ErrorCode::BadRequest,
    )
    .await;
    for name in [
        "",
        "   ",
        "tab\there",
        "bell\u{7}",
        "rtl\u{202E}gpj.exe",
        &"n".repeat(101),
    ] {
        expect_error(
            post_devices().json(&serde_json::json!({"name": name, "platform": "linux"})),
            400,
            ErrorCode::InvalidDeviceName,
        )
        .await;
    }
    expect_error(
        post_devices().json(&serde_json::json!({"name": "ok", "platform": "../../etc"})),
        400,
        ErrorCode::InvalidPlatform,
    )
    .await;

    // Only the laptop exists; the fresh session is still without a device.
    let devices = h.client.devices(laptop.token()).await.expect("list");
    assert_eq!(devices.len(), 1);
    assert_eq!(
        h.client
            .me(&fresh.access_token)
            .await
            .expect("me")
            .device_id,
        None
    );
    h.shutdown().await;
}

#[tokio::test]
async fn hostile_device_ids_in_paths_are_refused() {
    let h = Harness::start().await;
    let laptop = h.new_device(&h.new_account().await, "laptop").await;
    // (`..` and `%2e%2e` segments are resolved away by the URL parser before
    // sending; it is covered by the 404 case below.)
    for id in [
        "...",
        "a.b",
        "%2e%2e%2e",
        "a%2Fb",
        "a%00b",
        "%0a",
        "x%20y",
        &"x".repeat(65),
    ] {
        for (method, suffix) in [
            (Method::POST, "/grant"),
            (Method::POST, "/published"),
            (Method::DELETE, ""),
        ] {
            let request = h
                .http
                .request(method.clone(), h.url(&format!("/v1/devices/{id}{suffix}")))
                .bearer_auth(laptop.token())
                .json(&serde_json::json!({"seq": 1}));
            expect_error(request, 400, ErrorCode::InvalidDeviceId).await;
        }
    }
    // Slashes never reach the handler: no route matches, still JSON.
    expect_error(
        h.http
            .post(h.url("/v1/devices/../../grant"))
            .bearer_auth(laptop.token()),
        404,
        ErrorCode::NotFound,
    )
    .await;
    // A well-formed id that does not exist.
    expect_error(
        h.http
            .post(h.url("/v1/devices/nosuchdevice/grant"))
            .bearer_auth(laptop.token()),
        404,
        ErrorCode::NotFound,
    )
    .await;
    assert_eq!(
        h.client.devices(laptop.token()).await.expect("list").len(),
        1
    );
    h.shutdown().await;
}

#[tokio::test]
async fn bad_or_missing_tokens_are_refused() {
    let h = Harness::start().await;
    let laptop = h.new_device(&h.new_account().await, "laptop").await;
    let grant_url = h.url(&format!("/v1/devices/{}/grant", laptop.device.id));
    expect_error(h.http.post(&grant_url), 401, ErrorCode::Unauthorized).await;
    expect_error(
        h.http.post(&grant_url).bearer_auth("cairn_at_forged"),
        401,
        ErrorCode::Unauthorized,
    )
    .await;
    expect_error(
        h.http
            .post(&grant_url)
            .header("authorization", laptop.token()),
        401,
        ErrorCode::Unauthorized,
    )
    .await;
    expect_error(
        h.http
            .post(&grant_url)
            .header("authorization", format!("Basic {}", laptop.token())),
        401,
        ErrorCode::Unauthorized,
    )
    .await;
    // The refresh token is not an access token.
    expect_error(
        h.http
            .post(&grant_url)
            .bearer_auth(&laptop.session.refresh_token),
        401,
        ErrorCode::Unauthorized,
    )
    .await;
    expect_error(
        h.http.get(h.url("/v1/devices")),
        401,
        ErrorCode::Unauthorized,
    )
    .await;
    expect_error(
        h.http.get(h.url("/v1/nothing-here")),
        404,
        ErrorCode::NotFound,
    )
    .await;
    expect_error(
        h.http.put(h.url("/v1/accounts")),
        405,
        ErrorCode::MethodNotAllowed,
    )
    .await;
    h.shutdown().await;
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_address() {
    let clock = Arc::new(ManualClock::starting_now());
    let h = Harness::start_with(clock.clone(), |c| {
        c.rate_limit.sign_in_burst = 3;
        c.rate_limit.sign_in_per_minute = 6;
    })
    .await;
    let key = h.new_account().await; // 1 of 3
    for _ in 0..2 {
        h.client
            .sign_in_with_account_key(&key, None)
            .await
            .expect("within the burst");
    }
    let sign_in = || {
        h.http
            .post(h.url("/v1/sessions"))
            .json(&serde_json::json!({"method": "account_key", "account_key": key}))
    };
    let response = sign_in().send().await.expect("sent");
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "10");
    let error: ApiError = response.json().await.expect("json");
    assert_eq!(error.code, ErrorCode::RateLimited);
    // Wrong keys count too, so guessing is slowed just the same.
    expect_error(
        h.http.post(h.url("/v1/accounts")),
        429,
        ErrorCode::RateLimited,
    )
    .await;

    // Ten seconds later one more attempt is allowed.
    clock.advance(Duration::from_secs(10));
    assert_eq!(sign_in().send().await.expect("sent").status().as_u16(), 201);
    assert_eq!(sign_in().send().await.expect("sent").status().as_u16(), 429);
    h.shutdown().await;
}

#[tokio::test]
async fn account_creation_can_be_disabled() {
    let h = Harness::start_with(Arc::new(cairn_server::SystemClock), |c| {
        c.providers.account_keys.enabled = false
    })
    .await;
    expect_error(
        h.http.post(h.url("/v1/accounts")),
        403,
        ErrorCode::ProviderDisabled,
    )
    .await;
    expect_error(
        h.http
            .post(h.url("/v1/auth/github/start"))
            .json(&serde_json::json!({
                "redirect_uri": "http://127.0.0.1:1/callback",
                "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
            })),
        403,
        ErrorCode::ProviderDisabled,
    )
    .await;
    h.shutdown().await;
}
