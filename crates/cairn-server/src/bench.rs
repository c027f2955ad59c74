//! Grant load benchmark: one user with several devices, many concurrent
//! clients asking for grants over loopback HTTP. Bounded: a fixed number of
//! requests, and every request has a timeout.
//!
//! By default the service reuses grants within their issue window, as it
//! does in production, so the run mostly measures serving cached bytes.
//! With `grant_cache: false` the service is started with
//! `cache_grants = false` and presigns every grant (~400 URLs for 5
//! devices) afresh, which measures presigning itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_protocol::{
    AccountCreated, Device, DeviceName, Platform, RegisterDeviceRequest, Session, SignInRequest,
};
use serde::Serialize;

use crate::{DevServer, ServerError};

#[derive(Debug, Clone, Copy)]
pub struct BenchOptions {
    pub clients: usize,
    pub requests: usize,
    pub devices: usize,
    /// Whether the service under test reuses grants ([`bench_grants_dev`]
    /// starts it so; with [`bench_grants`] the caller does, and this is
    /// only reported).
    pub grant_cache: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            clients: 100,
            requests: 10_000,
            devices: 5,
            grant_cache: true,
        }
    }
}

/// What one run measured; printed as one JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub bench: &'static str,
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
}

/// Runs the benchmark against a dev server (service and embedded store on
/// loopback, in a temporary dir) started for it with `options.grant_cache`.
pub async fn bench_grants_dev(options: BenchOptions) -> Result<BenchReport, ServerError> {
    let dir = tempfile::tempdir().map_err(|e| ServerError::io(std::env::temp_dir(), e))?;
    let grant_cache = options.grant_cache;
    let dev = DevServer::builder(dir.path())
        .configure(move |c| {
            // All the bench's devices sign in from one address.
            c.rate_limit.sign_in_burst = 1_000;
            c.cache_grants = grant_cache;
        })
        .start()
        .await?;
    let report = bench_grants(dev.url(), options).await;
    let stopped = dev.shutdown().await;
    let report = report?;
    stopped?;
    Ok(report)
}

/// Runs the benchmark against the service at `service_url` (account-key
/// sign-in must be on and its rate limit must allow `devices` sign-ins).
pub async fn bench_grants(
    service_url: &str,
    options: BenchOptions,
) -> Result<BenchReport, ServerError> {
    crate::tls::install_crypto_provider();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(options.clients)
        .build()
        .map_err(|e| ServerError::Internal(format!("http client: {e}")))?;
    let base = service_url.trim_end_matches('/').to_owned();
    let devices = setup_devices(&http, &base, options.devices).await?;
    let devices = Arc::new(devices);

    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..options.clients {
        let share = options.requests / options.clients
            + usize::from(client < options.requests % options.clients);
        let (http, base, devices) = (http.clone(), base.clone(), devices.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(share);
            let mut errors = 0usize;
            for i in 0..share {
                let (token, device) = &devices[(client + i) % devices.len()];
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
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1000.0
    };
    Ok(BenchReport {
        bench: "grants",
        clients: options.clients,
        devices: options.devices,
        requests: latencies.len(),
        grant_cache: options.grant_cache,
        errors,
        seconds,
        throughput_rps: latencies.len() as f64 / seconds.max(f64::EPSILON),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        max_ms: pct(1.0),
    })
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
