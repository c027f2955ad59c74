//! Grant load benchmark: one user with several devices, many concurrent
//! clients asking for grants over loopback HTTP. Bounded: a fixed number of
//! requests, and every request has a timeout.
//!
//! By default the service reuses grants within their issue window, as it
//! does in production, so the run mostly measures serving cached bytes.
//! With `grant_cache: false` the service is started with
//! `cache_grants = false` and presigns every grant (~400 URLs for 5
//! devices) afresh, which measures presigning itself.
//!
//! The registry is SQLite unless `registry_url` names a PostgreSQL
//! database; with `instances` above one, that many services share it (and
//! one embedded store) and the clients spread over them. After the grants,
//! one device reports publishes to the first instance while another listens
//! on a socket of the second: the time from report to frame is the event
//! latency (across instances when there are several).

use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_protocol::{
    AccountCreated, Device, DeviceName, Platform, PublishedRequest, RegisterDeviceRequest,
    ServiceEvent, Session, SignInRequest,
};
use futures_util::StreamExt;
use serde::Serialize;

use crate::config::Config;
use crate::{DevServer, RunningServer, ServerError, SystemClock};

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub clients: usize,
    pub requests: usize,
    pub devices: usize,
    /// Whether the service under test reuses grants ([`bench_grants_dev`]
    /// starts it so; with [`bench_grants`] the caller does, and this is
    /// only reported).
    pub grant_cache: bool,
    /// A PostgreSQL registry for [`bench_grants_dev`] (else SQLite in a
    /// temporary dir). Each run needs an empty database.
    pub registry_url: Option<String>,
    /// How many services [`bench_grants_dev`] starts on the registry.
    pub instances: usize,
    /// How many publishes the event latency is measured over.
    pub events: usize,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            clients: 100,
            requests: 10_000,
            devices: 5,
            grant_cache: true,
            registry_url: None,
            instances: 1,
            events: 200,
        }
    }
}

/// What one run measured; printed as one JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub bench: &'static str,
    /// "sqlite" or "postgres".
    pub registry: &'static str,
    pub instances: usize,
    pub clients: usize,
    pub devices: usize,
    pub requests: usize,
    pub grant_cache: bool,
    pub errors: usize,
    pub seconds: f64,
    pub throughput_rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Publish reported to one instance until the frame on another's
    /// socket; `None` with one instance (see `event_ms_*`).
    pub cross_instance_event_ms_p50: Option<f64>,
    pub cross_instance_event_ms_p99: Option<f64>,
    /// The same on one instance.
    pub event_ms_p50: Option<f64>,
    pub event_ms_p99: Option<f64>,
}

/// Runs the benchmark against services started for it with
/// `options.grant_cache`: a dev server (service and embedded store on
/// loopback, in a temporary dir), and `options.instances - 1` more
/// services on the same registry and store.
pub async fn bench_grants_dev(options: BenchOptions) -> Result<BenchReport, ServerError> {
    let dir = tempfile::tempdir().map_err(|e| ServerError::io(std::env::temp_dir(), e))?;
    let grant_cache = options.grant_cache;
    let registry_url = options.registry_url.clone();
    let tune = move |c: &mut Config| {
        // All the bench's devices sign in from one address.
        c.rate_limit.sign_in_burst = 1_000;
        c.cache_grants = grant_cache;
        c.registry_url = registry_url.clone();
    };
    let tune_dev = tune.clone();
    let dev = DevServer::builder(dir.path())
        .configure(move |c| tune_dev(c))
        .start()
        .await?;
    let mut more = Vec::new();
    let mut started = Ok(());
    for _ in 1..options.instances.max(1) {
        let mut config = Config::dev(
            dir.path().join("registry.sqlite3"),
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            dev.s3_config().clone(),
        );
        tune(&mut config);
        match RunningServer::start(config, Arc::new(SystemClock)).await {
            Ok(server) => more.push(server),
            Err(e) => {
                started = Err(e);
                break;
            }
        }
    }
    let report = match started {
        Ok(()) => {
            let mut urls = vec![dev.url().to_owned()];
            urls.extend(more.iter().map(|s| s.url().to_owned()));
            bench_grants(&urls, options).await
        }
        Err(e) => Err(e),
    };
    let mut stopped = Ok(());
    for server in more {
        stopped = stopped.and(server.shutdown().await);
    }
    stopped = stopped.and(dev.shutdown().await);
    let report = report?;
    stopped?;
    Ok(report)
}

/// Runs the benchmark against the services at `service_urls`, which share
/// one registry (account-key sign-in must be on and the rate limit must
/// allow `devices` sign-ins). Clients take the services in turn.
pub async fn bench_grants(
    service_urls: &[String],
    options: BenchOptions,
) -> Result<BenchReport, ServerError> {
    crate::tls::install_crypto_provider();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(options.clients)
        .build()
        .map_err(|e| ServerError::Internal(format!("http client: {e}")))?;
    let bases: Vec<String> = service_urls
        .iter()
        .map(|u| u.trim_end_matches('/').to_owned())
        .collect();
    let first = bases
        .first()
        .cloned()
        .ok_or_else(|| ServerError::Internal("bench: no service".to_owned()))?;
    let devices = setup_devices(&http, &first, options.devices.max(2)).await?;
    let devices = Arc::new(devices);
    let bases = Arc::new(bases);

    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..options.clients {
        let share = options.requests / options.clients
            + usize::from(client < options.requests % options.clients);
        let (http, bases, devices) = (http.clone(), bases.clone(), devices.clone());
        tasks.push(tokio::spawn(async move {
            let base = &bases[client % bases.len()];
            let mut latencies = Vec::with_capacity(share);
            let mut errors = 0usize;
            for i in 0..share {
                let (token, device) = &devices[(client + i) % options.devices.max(1)];
                let t = Instant::now();
                let ok = match http
                    .post(format!("{base}/v1/devices/{device}/grant"))
                    .bearer_auth(token)
                    .send()
                    .await
                {
                    // The whole body is read (a grant is ~160 KB of URLs); parsing
                    // it is the client's cost, not the service's.
                    Ok(r) if r.status().is_success() => {
                        r.bytes().await.is_ok_and(|b| !b.is_empty())
                    }
                    _ => false,
                };
                latencies.push(t.elapsed());
                errors += usize::from(!ok);
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::with_capacity(options.requests);
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task
            .await
            .map_err(|e| ServerError::Internal(format!("bench client: {e}")))?;
        latencies.extend(l);
        errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort();

    let listen_on = &bases[1 % bases.len()];
    let mut event_latencies =
        event_latencies(&http, &first, listen_on, &devices, options.events).await?;
    event_latencies.sort();
    let (event_p50, event_p99) = if event_latencies.is_empty() {
        (None, None)
    } else {
        (
            Some(percentile(&event_latencies, 0.50)),
            Some(percentile(&event_latencies, 0.99)),
        )
    };
    let across = bases.len() > 1;
    Ok(BenchReport {
        bench: "grants",
        registry: if options.registry_url.is_some() {
            "postgres"
        } else {
            "sqlite"
        },
        instances: bases.len(),
        clients: options.clients,
        devices: options.devices,
        requests: latencies.len(),
        grant_cache: options.grant_cache,
        errors,
        seconds,
        throughput_rps: latencies.len() as f64 / seconds.max(f64::EPSILON),
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        max_ms: percentile(&latencies, 1.0),
        cross_instance_event_ms_p50: event_p50.filter(|_| across),
        cross_instance_event_ms_p99: event_p99.filter(|_| across),
        event_ms_p50: event_p50.filter(|_| !across),
        event_ms_p99: event_p99.filter(|_| !across),
    })
}

/// The `p` quantile of sorted `latencies`, in milliseconds (0 if none).
fn percentile(latencies: &[Duration], p: f64) -> f64 {
    if latencies.is_empty() {
        return 0.0;
    }
    let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
    latencies[i].as_secs_f64() * 1000.0
}

/// How long each of `count` publishes, reported by the first device to
/// `publish_to`, takes to reach the second device's socket on `listen_on`.
async fn event_latencies(
    http: &reqwest::Client,
    publish_to: &str,
    listen_on: &str,
    devices: &[(String, String)],
    count: usize,
) -> Result<Vec<Duration>, ServerError> {
    let fail = |what: &str, e: String| ServerError::Internal(format!("bench events, {what}: {e}"));
    let [(publisher_token, publisher), (listener_token, _), ..] = devices else {
        return Err(fail("devices", "two are needed".to_owned()));
    };
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "{}/v1/events",
            listen_on.replacen("http", "ws", 1)
        ))
        .map_err(|e| fail("socket request", e.to_string()))?;
    let bearer = format!("Bearer {listener_token}")
        .parse()
        .map_err(|e: axum::http::header::InvalidHeaderValue| fail("header", e.to_string()))?;
    request.headers_mut().insert("authorization", bearer);
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|e| fail("connect", e.to_string()))?;
    let mut next_event = async || -> Result<ServiceEvent, ServerError> {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
                .await
                .map_err(|_| fail("socket", "no frame within 10 s".to_owned()))?
                .ok_or_else(|| fail("socket", "closed".to_owned()))?
                .map_err(|e| fail("socket", e.to_string()))?;
            if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
                return serde_json::from_str(text.as_str())
                    .map_err(|e| fail("event", e.to_string()));
            }
        }
    };
    if !matches!(next_event().await?, ServiceEvent::Subscribed { .. }) {
        return Err(fail("socket", "no subscribed message first".to_owned()));
    }
    let mut latencies = Vec::with_capacity(count);
    for seq in 1..=count as u64 {
        let t = Instant::now();
        let response = http
            .post(format!("{publish_to}/v1/devices/{publisher}/published"))
            .bearer_auth(publisher_token)
            .json(&PublishedRequest { seq })
            .send()
            .await
            .map_err(|e| fail("publish", e.to_string()))?;
        if !response.status().is_success() {
            return Err(fail("publish", response.status().to_string()));
        }
        loop {
            if let ServiceEvent::Published { seq: heard, .. } = next_event().await? {
                if heard == seq {
                    break;
                }
            }
        }
        latencies.push(t.elapsed());
    }
    Ok(latencies)
}

/// One account, `count` sessions each with its own device.
async fn setup_devices(
    http: &reqwest::Client,
    base: &str,
    count: usize,
) -> Result<Vec<(String, String)>, ServerError> {
    let fail = |what: &str, e: String| ServerError::Internal(format!("bench setup, {what}: {e}"));
    let account: AccountCreated = post_json(http, &format!("{base}/v1/accounts"), None, &())
        .await
        .map_err(|e| fail("create account", e))?;
    let mut devices = Vec::new();
    for n in 0..count {
        let session: Session = post_json(
            http,
            &format!("{base}/v1/sessions"),
            None,
            &SignInRequest::AccountKey {
                account_key: account.account_key.clone(),
                device_id: None,
            },
        )
        .await
        .map_err(|e| fail("sign in", e))?;
        let name = DeviceName::parse(&format!("bench device {n}"))
            .map_err(|e| fail("name", e.to_string()))?;
        let device: Device = post_json(
            http,
            &format!("{base}/v1/devices"),
            Some(&session.access_token),
            &RegisterDeviceRequest {
                name,
                platform: Platform::current(),
            },
        )
        .await
        .map_err(|e| fail("register device", e))?;
        devices.push((session.access_token, device.id.to_string()));
    }
    Ok(devices)
}

async fn post_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: &impl Serialize,
) -> Result<T, String> {
    let mut request = http.post(url).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!(
            "{status}: {}",
            response.text().await.unwrap_or_default()
        ));
    }
    response.json().await.map_err(|e| e.to_string())
}
