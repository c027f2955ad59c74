//! The sync engine's storage, over HTTP through a grant's presigned URLs
//! and nothing else: no credentials, no service in the path.
//!
//! Transient failures (connection errors, timeouts, 5xx, a body cut short)
//! are retried a few times, waiting as the client's one retry policy says
//! (`retry_policy.rs`: exponential backoff with jitter); a 403 means
//! the grant no longer works (expired or revoked) and is not retried.

use std::time::Duration;

use backon::BackoffBuilder;
use cairn_core::sync::{Fetched, Transport, TransportError, TransportErrorKind};
use cairn_protocol::{DeviceKey, Grant};
use reqwest::StatusCode;

/// How many times one request is retried before the round gives up on it.
const RETRIES: usize = 3;
/// The longest wait between two tries of one request.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);
/// Overrides the per-request timeout (milliseconds); scenario tests that
/// inject stalls set it short.
pub const TIMEOUT_ENV: &str = "CAIRN_SYNC_TIMEOUT_MS";
/// Overrides the first retry wait (milliseconds).
pub const RETRY_BASE_ENV: &str = "CAIRN_SYNC_RETRY_BASE_MS";

fn env_millis(name: &str) -> Option<Duration> {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_millis)
}

pub struct HttpTransport {
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
    grant: Grant,
    retry_base: Duration,
    /// Requests made, retries included.
    pub requests: u64,
}

impl HttpTransport {
    /// `runtime` runs the requests; call the transport's methods from a
    /// blocking thread (e.g. inside `spawn_blocking`), never from async code.
    pub fn new(grant: Grant, runtime: tokio::runtime::Handle) -> Result<Self, TransportError> {
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .user_agent(concat!("cairn/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(env_millis(TIMEOUT_ENV).unwrap_or(Duration::from_secs(120)))
            .build()
            .map_err(|e| TransportError::new(TransportErrorKind::Rejected, e.to_string()))?;
        Ok(HttpTransport {
            http,
            runtime,
            grant,
            retry_base: env_millis(RETRY_BASE_ENV).unwrap_or(Duration::from_millis(200)),
            requests: 0,
        })
    }

    /// Shorter retry waits, for tests that inject many faults.
    pub fn with_retry_base(mut self, base: Duration) -> Self {
        self.retry_base = base;
        self
    }

    pub fn grant(&self) -> &Grant {
        &self.grant
    }

    fn url_for(&self, device: &str, key: DeviceKey, write: bool) -> Result<String, TransportError> {
        let urls = if write {
            Some(&self.grant.put)
        } else if device == self.grant.device_id.as_str() {
            Some(&self.grant.get)
        } else {
            self.grant
                .peers
                .iter()
                .find(|p| p.device_id.as_str() == device)
                .map(|p| &p.get)
        };
        urls.and_then(|u| u.url(key))
            .map(str::to_owned)
            .ok_or_else(|| {
                TransportError::new(
                    TransportErrorKind::Unauthorized,
                    format!(
                        "the grant has no URL for {device}/{}; refresh it",
                        key.relative()
                    ),
                )
            })
    }

    fn classify(status: StatusCode, what: &str) -> TransportError {
        let kind = if status == StatusCode::FORBIDDEN || status == StatusCode::UNAUTHORIZED {
            TransportErrorKind::Unauthorized
        } else if status.is_server_error()
            || status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT
        {
            TransportErrorKind::Unavailable
        } else {
            TransportErrorKind::Rejected
        };
        let hint = match kind {
            TransportErrorKind::Unauthorized => {
                " (the grant expired or was revoked; sign in again)"
            }
            _ => "",
        };
        TransportError::new(kind, format!("{what}: HTTP {status}{hint}"))
    }

    fn network(e: &reqwest::Error, what: &str) -> TransportError {
        let reason = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "cannot connect"
        } else {
            "connection failed"
        };
        TransportError::new(
            TransportErrorKind::Unavailable,
            format!("{what}: {reason}: {e}"),
        )
    }

    /// Runs `attempt` until it succeeds, fails for good, or runs out of tries.
    fn with_retries<T>(
        &mut self,
        mut attempt: impl FnMut(&mut Self) -> Result<T, TransportError>,
    ) -> Result<T, TransportError> {
        let mut delays =
            crate::retry_policy(self.retry_base, MAX_RETRY_DELAY, Some(RETRIES)).build();
        loop {
            self.requests += 1;
            match attempt(self) {
                Err(e) if e.kind == TransportErrorKind::Unavailable => match delays.next() {
                    Some(delay) => std::thread::sleep(delay),
                    None => return Err(e),
                },
                other => return other,
            }
        }
    }
}

impl Transport for HttpTransport {
    fn put(&mut self, key: DeviceKey, body: Vec<u8>) -> Result<(), TransportError> {
        let url = self.url_for(self.grant.device_id.as_str(), key, true)?;
        let what = format!("uploading {}", key.relative());
        self.with_retries(|t| {
            let req = t
                .http
                .put(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(body.clone());
            t.runtime.block_on(async {
                let resp = req.send().await.map_err(|e| Self::network(&e, &what))?;
                if resp.status().is_success() {
                    Ok(())
                } else {
                    Err(Self::classify(resp.status(), &what))
                }
            })
        })
    }

    fn get(
        &mut self,
        device: &str,
        key: DeviceKey,
        if_none_match: Option<&str>,
    ) -> Result<Fetched, TransportError> {
        let url = self.url_for(device, key, false)?;
        let what = format!("reading {device}/{}", key.relative());
        let etag = if_none_match.map(str::to_owned);
        self.with_retries(|t| {
            let mut req = t.http.get(&url);
            if let Some(e) = &etag {
                req = req.header(reqwest::header::IF_NONE_MATCH, e);
            }
            t.runtime.block_on(async {
                let resp = req.send().await.map_err(|e| Self::network(&e, &what))?;
                let status = resp.status();
                if status == StatusCode::NOT_MODIFIED {
                    return Ok(Fetched::NotModified);
                }
                if status == StatusCode::NOT_FOUND {
                    return Ok(Fetched::Missing);
                }
                if !status.is_success() {
                    return Err(Self::classify(status, &what));
                }
                let etag = resp
                    .headers()
                    .get(reqwest::header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let expected = resp.content_length();
                // A body cut short is a transient fault: read it again.
                let body = resp.bytes().await.map_err(|e| Self::network(&e, &what))?;
                if expected.is_some_and(|n| n != body.len() as u64) {
                    return Err(TransportError::new(
                        TransportErrorKind::Unavailable,
                        format!("{what}: body cut short"),
                    ));
                }
                Ok(Fetched::Found {
                    body: body.to_vec(),
                    etag,
                })
            })
        })
    }
}
