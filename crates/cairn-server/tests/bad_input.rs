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
    // One bucket per address across the sign-in endpoints: creating an
    // account is refused as well.
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

#[tokio::test]
async fn undecodable_device_ids_in_paths_get_json_errors() {
    let h = Harness::start().await;
    let laptop = h.new_device(&h.new_account().await, "laptop").await;
    // Percent-encoded bytes that are not UTF-8 once decoded: axum's own
    // `Path` answers these in plain text.
    for id in ["%FF", "%C3%28", "ok%80"] {
        for (method, suffix) in [
            (Method::POST, "/grant"),
            (Method::POST, "/published"),
            (Method::PATCH, ""),
            (Method::DELETE, ""),
        ] {
            let request = h
                .http
                .request(method.clone(), h.url(&format!("/v1/devices/{id}{suffix}")))
                .bearer_auth(laptop.token())
                .json(&serde_json::json!({"seq": 1, "name": "renamed"}));
            expect_error(request, 400, ErrorCode::InvalidDeviceId).await;
        }
    }
    let devices = h.client.devices(laptop.token()).await.expect("list");
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].name.as_str(), "laptop");
    h.shutdown().await;
}

#[tokio::test]
async fn a_plain_request_to_the_event_socket_gets_a_json_426() {
    let h = Harness::start().await;
    let laptop = h.new_device(&h.new_account().await, "laptop").await;
    let events = || h.http.get(h.url("/v1/events")).bearer_auth(laptop.token());

    let response = events().send().await.expect("sent");
    assert_eq!(response.status().as_u16(), 426);
    assert_eq!(response.headers()["upgrade"], "websocket");
    expect_error(events(), 426, ErrorCode::WebsocketRequired).await;
    // Half an upgrade: no key, then a version the service does not speak.
    let half = || {
        events()
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
    };
    expect_error(half(), 426, ErrorCode::WebsocketRequired).await;
    expect_error(
        half()
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-version", "8"),
        426,
        ErrorCode::WebsocketRequired,
    )
    .await;
    // The token is still checked first.
    expect_error(
        h.http.get(h.url("/v1/events")),
        401,
        ErrorCode::Unauthorized,
    )
    .await;
    h.shutdown().await;
}

#[tokio::test]
async fn a_token_in_the_query_string_is_refused_outside_the_event_socket() {
    let h = Harness::start().await;
    let laptop = h.new_device(&h.new_account().await, "laptop").await;
    let query = format!("access_token={}", laptop.token());
    expect_error(
        h.http.get(h.url(&format!("/v1/devices?{query}"))),
        401,
        ErrorCode::Unauthorized,
    )
    .await;
    expect_error(
        h.http
            .post(h.url(&format!("/v1/devices/{}/grant?{query}", laptop.device.id))),
        401,
        ErrorCode::Unauthorized,
    )
    .await;
    expect_error(
        h.http.get(h.url(&format!("/v1/me?{query}"))),
        401,
        ErrorCode::Unauthorized,
    )
    .await;
    // The same token in the header works.
    h.client
        .devices(laptop.token())
        .await
        .expect("header token");
    h.shutdown().await;
}

#[tokio::test]
async fn account_creation_refuses_a_body_and_stores_nothing() {
    let h = Harness::start_with(Arc::new(cairn_server::SystemClock), |c| {
        c.max_body_bytes = 4096
    })
    .await;
    let post = || h.http.post(h.url("/v1/accounts"));
    let json_body = |body: String| post().header("content-type", "application/json").body(body);
    assert_eq!(h.account_count().await, 0);

    expect_error(
        json_body(format!("{{\"pad\":\"{}\"}}", "a".repeat(1 << 20))),
        413,
        ErrorCode::PayloadTooLarge,
    )
    .await;
    expect_error(
        post().header("content-type", "text/plain").body("{}"),
        415,
        ErrorCode::UnsupportedMediaType,
    )
    .await;
    expect_error(post().body("hello"), 415, ErrorCode::UnsupportedMediaType).await;
    expect_error(json_body("{\"a\": ".into()), 400, ErrorCode::InvalidJson).await;
    for value in [r#"{"account_key":"mine"}"#, "[]", "0", r#""""#, "true"] {
        expect_error(json_body(value.into()), 400, ErrorCode::BadRequest).await;
    }
    assert_eq!(
        h.account_count().await,
        0,
        "a refused request stored an account"
    );

    // What clients send: nothing (the app), `null` (the bench), or `{}`.
    h.new_account().await;
    for accepted in [
        post().json(&()),
        post().json(&serde_json::json!({})),
        post().header("content-type", "text/plain"),
    ] {
        let response = accepted.send().await.expect("sent");
        assert_eq!(response.status().as_u16(), 201);
    }
    assert_eq!(h.account_count().await, 4);
    h.shutdown().await;
}

/// Wrong account keys from one address use up its sign-in attempts, but a
/// valid refresh from the same address still works: everyone behind one
/// address (a household, an office) keeps syncing. Refused refreshes are
/// what counts, and they are limited too.
#[tokio::test]
async fn failed_sign_ins_do_not_block_valid_refreshes_from_the_same_address() {
    let clock = Arc::new(ManualClock::starting_now());
    let h = Harness::start_with(clock.clone(), |c| {
        c.rate_limit.sign_in_burst = 3;
        c.rate_limit.sign_in_per_minute = 6;
    })
    .await;
    let key = h.new_account().await; // 1 of 3
    let session = h
        .client
        .sign_in_with_account_key(&key, None)
        .await
        .expect("sign in"); // 2 of 3
    let wrong = || {
        h.http
            .post(h.url("/v1/sessions"))
            .json(&serde_json::json!({"method": "account_key", "account_key": "cairn_ak_wrong"}))
    };
    expect_error(wrong(), 401, ErrorCode::InvalidAccountKey).await; // 3 of 3
    for _ in 0..20 {
        expect_error(wrong(), 429, ErrorCode::RateLimited).await;
    }

    // Valid refreshes from the same address go on, as often as needed.
    let mut session = session;
    for _ in 0..10 {
        session = h
            .client
            .refresh(&session.refresh_token)
            .await
            .expect("a valid refresh is never limited");
    }

    // A refused refresh counts: with the attempts spent, it is limited.
    let forged = || {
        h.http
            .post(h.url("/v1/sessions/refresh"))
            .json(&serde_json::json!({"refresh_token": "cairn_rt_forged"}))
    };
    let response = forged().send().await.expect("sent");
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "10");
    clock.advance(Duration::from_secs(10));
    expect_error(forged(), 401, ErrorCode::InvalidRefreshToken).await;
    expect_error(forged(), 429, ErrorCode::RateLimited).await;
    h.client
        .refresh(&session.refresh_token)
        .await
        .expect("still fine");
    h.shutdown().await;
}

#[tokio::test]
async fn github_sign_in_is_rate_limited_per_address() {
    // Neither call below reaches GitHub: `start` only builds a URL, and
    // `exchange` with a forged state stops at the registry.
    let clock = Arc::new(ManualClock::starting_now());
    let h = Harness::start_with(clock.clone(), |c| {
        c.rate_limit.sign_in_burst = 2;
        c.rate_limit.sign_in_per_minute = 6;
        c.providers.github = Some(cairn_server::config::GithubConfig::github_com(
            "cairn-test".to_owned(),
            "cairn-test-secret".to_owned(),
        ));
    })
    .await;
    let start = || {
        h.http
            .post(h.url("/v1/auth/github/start"))
            .json(&serde_json::json!({
                "redirect_uri": "http://127.0.0.1:1/callback",
                "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
            }))
    };
    let exchange = || {
        h.http
            .post(h.url("/v1/auth/github/exchange"))
            .json(&serde_json::json!({"code": "c", "state": "forged"}))
    };
    assert_eq!(start().send().await.expect("sent").status().as_u16(), 200);
    expect_error(exchange(), 400, ErrorCode::InvalidOauthState).await;
    expect_error(start(), 429, ErrorCode::RateLimited).await;
    expect_error(exchange(), 429, ErrorCode::RateLimited).await;

    clock.advance(Duration::from_secs(10));
    assert_eq!(start().send().await.expect("sent").status().as_u16(), 200);
    expect_error(exchange(), 429, ErrorCode::RateLimited).await;
    h.shutdown().await;
}

/// Behind a reverse proxy every request comes from the proxy's address:
/// with the proxy trusted, each client behind it gets its own bucket, and
/// without it a forged `X-Forwarded-For` buys no extra attempts.
#[tokio::test]
async fn the_rate_limit_sees_through_trusted_proxies_only() {
    let create = |h: &Harness, client: &str| {
        h.http
            .post(h.url("/v1/accounts"))
            .header("x-forwarded-for", client.to_owned())
            .send()
    };

    // The test connects from 127.0.0.1, standing in for the proxy.
    let h = Harness::start_with(Arc::new(ManualClock::starting_now()), |c| {
        c.rate_limit.sign_in_burst = 2;
        c.rate_limit.sign_in_per_minute = 1;
        c.trusted_proxies = vec!["127.0.0.1/32".parse().expect("net")];
    })
    .await;
    for _ in 0..2 {
        let r = create(&h, "198.51.100.1").await.expect("sent");
        assert_eq!(r.status().as_u16(), 201);
    }
    let r = create(&h, "198.51.100.1").await.expect("sent");
    assert_eq!(r.status().as_u16(), 429, "that client's burst is spent");
    // Another client behind the same proxy still gets in; one that writes
    // a forged address on the left is still counted as what the proxy saw.
    let r = create(&h, "198.51.100.2").await.expect("sent");
    assert_eq!(r.status().as_u16(), 201);
    let r = create(&h, "203.0.113.77, 198.51.100.1")
        .await
        .expect("sent");
    assert_eq!(r.status().as_u16(), 429);
    h.shutdown().await;

    // No trusted proxy: the header is the client's own word, and ignored.
    let h = Harness::start_with(Arc::new(ManualClock::starting_now()), |c| {
        c.rate_limit.sign_in_burst = 2;
        c.rate_limit.sign_in_per_minute = 1;
    })
    .await;
    for n in 0..2 {
        let r = create(&h, &format!("198.51.100.{n}")).await.expect("sent");
        assert_eq!(r.status().as_u16(), 201);
    }
    let r = create(&h, "198.51.100.9").await.expect("sent");
    assert_eq!(r.status().as_u16(), 429);
    let error: ApiError = r.json().await.expect("json");
    assert_eq!(error.code, ErrorCode::RateLimited);
    h.shutdown().await;
}

/// Key envelope generations count changes one by one, within what the
/// registry stores: a jump to 2^63 or beyond, which used to be stored
/// negative and then lock every later passphrase change, is refused.
#[tokio::test]
async fn key_envelope_generations_grow_by_exactly_one() {
    let h = Harness::start().await;
    let laptop = h.new_device(&h.new_account().await, "laptop").await;
    let put = |expected: u64, generation: u64| {
        h.http
            .put(h.url("/v1/key-envelope"))
            .bearer_auth(laptop.token())
            .json(&serde_json::json!({
                "expected_generation": expected,
                "generation": generation,
                "envelope": "{}"
            }))
    };
    for (expected, generation) in [
        (0, 1u64 << 63),
        (0, u64::MAX),
        (0, 2),
        (0, 0),
        (1u64 << 63, (1u64 << 63) + 1),
        (u64::MAX, u64::MAX),
    ] {
        expect_error(put(expected, generation), 400, ErrorCode::BadRequest).await;
    }
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(status(put(0, 1).send().await.expect("sent")), 200);
    expect_error(put(1, 1u64 << 63), 400, ErrorCode::BadRequest).await;
    expect_error(put(1, 3), 400, ErrorCode::BadRequest).await;
    assert_eq!(status(put(1, 2).send().await.expect("sent")), 200);
    // A stale writer is told to re-read, not that its numbers are wrong.
    expect_error(put(1, 2), 409, ErrorCode::Conflict).await;
    // The passphrase can still be changed: the stored generation is sane.
    let stored = h
        .client
        .key_envelope(laptop.token())
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.generation, 2);
    assert_eq!(status(put(2, 3).send().await.expect("sent")), 200);
    h.shutdown().await;
}

/// No envelope stored is a plain 404 in words a person reads, not a
/// missing route.
#[tokio::test]
async fn a_missing_key_envelope_is_not_called_a_missing_route() {
    let h = Harness::start().await;
    let laptop = h.new_device(&h.new_account().await, "laptop").await;
    let response = h
        .http
        .get(h.url("/v1/key-envelope"))
        .bearer_auth(laptop.token())
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 404);
    let error: ApiError = response.json().await.expect("json");
    assert_eq!(error.code, ErrorCode::NotFound);
    assert_eq!(error.message, "this account has no key envelope yet");
    h.shutdown().await;
}

/// A device name must show something: zero-width and other invisible
/// characters alone are as empty as spaces.
#[tokio::test]
async fn invisible_device_names_are_refused() {
    let h = Harness::start().await;
    let key = h.new_account().await;
    let fresh = h
        .client
        .sign_in_with_account_key(&key, None)
        .await
        .expect("sign in");
    for name in [
        "\u{200B}",
        "\u{200B}\u{200C}\u{200D}",
        "\u{2060}\u{FEFF}",
        " \u{200B} ",
        "\u{00AD}\u{180E}",
    ] {
        expect_error(
            h.http
                .post(h.url("/v1/devices"))
                .bearer_auth(&fresh.access_token)
                .json(&serde_json::json!({"name": name, "platform": "linux"})),
            400,
            ErrorCode::InvalidDeviceName,
        )
        .await;
    }
    // Visible text with a zero-width joiner inside (an emoji) is fine.
    let response = h
        .http
        .post(h.url("/v1/devices"))
        .bearer_auth(&fresh.access_token)
        .json(
            &serde_json::json!({"name": "\u{1F469}\u{200D}\u{1F4BB} laptop", "platform": "linux"}),
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 201);
    h.shutdown().await;
}
