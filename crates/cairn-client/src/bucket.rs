//! Object storage over HTTP through a grant's presigned URLs and nothing
//! else: no credentials, no service in the path.
//!
//! Transient failures (connection errors, timeouts, 5xx, a body cut short)
//! are retried a few times with exponential backoff and jitter; a 403 means
//! the grant no longer works (expired or revoked) and is not retried.
//!
//! One [`Bucket`] (one HTTP client, one connection pool) serves every
//! round of a device; the grant is passed per request, since it is
//! renewed while the client stays.

use std::time::Duration;

use backon::BackoffBuilder;
use cairn_core::sync::{Body, Fetched, Spill, TransportError, TransportErrorKind};
use cairn_protocol::{BlobSlot, DeviceId, DeviceKey, Grant, ObjectUrls, SpaceGrant};
use reqwest::StatusCode;

/// How many times one request is tried again before the round gives up
/// on it.
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

/// The presigned URLs of a grant, whichever stream it is for: the
/// personal one ([`Grant`]) or a shared space's ([`SpaceGrant`]).
pub trait ObjectGrant: Send + Sync {
    fn own_device(&self) -> &str;
    /// Where this device writes; `None` when it may not (a viewer).
    fn put_urls(&self) -> Option<&ObjectUrls>;
    /// Where `device` (this one or a peer) is read.
    fn get_urls(&self, device: &str) -> Option<&ObjectUrls>;
}

impl ObjectGrant for Grant {
    fn own_device(&self) -> &str {
        self.device_id.as_str()
    }
    fn put_urls(&self) -> Option<&ObjectUrls> {
        Some(&self.put)
    }
    fn get_urls(&self, device: &str) -> Option<&ObjectUrls> {
        read_urls(
            device,
            (&self.device_id, &self.get),
            self.peers.iter().map(|p| (&p.device_id, &p.get)),
        )
    }
}

/// The read URLs of `device`: this device's own (`own`) or a peer's.
fn read_urls<'a>(
    device: &str,
    own: (&DeviceId, &'a ObjectUrls),
    mut peers: impl Iterator<Item = (&'a DeviceId, &'a ObjectUrls)>,
) -> Option<&'a ObjectUrls> {
    if device == own.0.as_str() {
        return Some(own.1);
    }
    peers
        .find(|(id, _)| id.as_str() == device)
        .map(|(_, urls)| urls)
}

impl ObjectGrant for SpaceGrant {
    fn own_device(&self) -> &str {
        self.device_id.as_str()
    }
    fn put_urls(&self) -> Option<&ObjectUrls> {
        self.put.as_ref()
    }
    fn get_urls(&self, device: &str) -> Option<&ObjectUrls> {
        read_urls(
            device,
            (&self.device_id, &self.get),
            self.peers.iter().map(|p| (&p.device_id, &p.get)),
        )
    }
}

/// A device's HTTP client for object storage. Cheap to clone: clones share
/// the connection pool.
#[derive(Clone)]
pub struct Bucket {
    http: reqwest::Client,
    retry_base: Duration,
}

impl Bucket {
    pub fn new() -> Result<Self, TransportError> {
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .user_agent(concat!("cairn/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(env_millis(TIMEOUT_ENV).unwrap_or(Duration::from_secs(120)))
            .build()
            .map_err(|e| TransportError::new(TransportErrorKind::Rejected, e.to_string()))?;
        Ok(Bucket {
            http,
            retry_base: env_millis(RETRY_BASE_ENV).unwrap_or(Duration::from_millis(200)),
        })
    }

    /// Shorter retry waits, for tests that inject many faults.
    pub fn with_retry_base(mut self, base: Duration) -> Self {
        self.retry_base = base;
        self
    }

    fn url_for<G: ObjectGrant + ?Sized>(
        grant: &G,
        device: &str,
        key: DeviceKey,
        write: bool,
    ) -> Result<String, TransportError> {
        let urls = if write {
            grant.put_urls()
        } else {
            grant.get_urls(device)
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

    /// A request that got no answer. The error's text names the presigned
    /// URL, signature and all: that never goes into a message.
    fn network(e: reqwest::Error, what: &str) -> TransportError {
        let (kind, reason) = if e.is_timeout() {
            (TransportErrorKind::Offline, "timed out")
        } else if e.is_connect() {
            (TransportErrorKind::Offline, "cannot connect")
        } else {
            (TransportErrorKind::Unavailable, "connection failed")
        };
        let e = e.without_url();
        TransportError::new(kind, format!("{what}: {reason}: {e}"))
    }

    /// Runs `attempt` until it succeeds, fails for good, or runs out of
    /// tries. Only a transient failure is tried again.
    async fn with_retries<T, F, Fut>(&self, mut attempt: F) -> Result<T, TransportError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, TransportError>>,
    {
        let mut delays =
            crate::retry_policy(self.retry_base, MAX_RETRY_DELAY, Some(RETRIES)).build();
        loop {
            match attempt().await {
                Err(e)
                    if matches!(
                        e.kind,
                        TransportErrorKind::Unavailable | TransportErrorKind::Offline
                    ) =>
                {
                    match delays.next() {
                        Some(delay) => tokio::time::sleep(delay).await,
                        None => return Err(e),
                    }
                }
                other => return other,
            }
        }
    }

    /// The presigned URL of a blob slot of `device` (this one or a peer).
    fn blob_url(
        grant: &Grant,
        device: &str,
        slot: BlobSlot,
        write: bool,
    ) -> Result<String, TransportError> {
        let urls = if write {
            grant.blob_put.as_ref()
        } else if device == grant.device_id.as_str() {
            grant.blob_get.as_ref()
        } else {
            grant
                .peers
                .iter()
                .find(|p| p.device_id.as_str() == device)
                .and_then(|p| p.blob_get.as_ref())
        };
        Self::slot_url(urls, device, slot)
    }

    /// The presigned URL of a blob slot of `device` in a shared space:
    /// this device's own (no PUT for a viewer) or another member's device.
    fn space_blob_url(
        grant: &SpaceGrant,
        device: &str,
        slot: BlobSlot,
        write: bool,
    ) -> Result<String, TransportError> {
        let urls = if write {
            grant.blob_put.as_ref()
        } else if device == grant.device_id.as_str() {
            Some(&grant.blob_get)
        } else {
            grant
                .peers
                .iter()
                .find(|p| p.device_id.as_str() == device)
                .map(|p| &p.blob_get)
        };
        Self::slot_url(urls, device, slot)
    }

    fn slot_url(
        urls: Option<&cairn_protocol::BlobUrls>,
        device: &str,
        slot: BlobSlot,
    ) -> Result<String, TransportError> {
        urls.and_then(|u| u.url(slot)).ok_or_else(|| {
            TransportError::new(
                TransportErrorKind::Unauthorized,
                format!(
                    "the grant has no URL for {device}/{}; refresh it",
                    slot.relative()
                ),
            )
        })
    }

    /// Writes one of this device's blob slots whole (an empty body empties
    /// it).
    pub async fn put_blob(
        &self,
        grant: &Grant,
        slot: BlobSlot,
        body: bytes::Bytes,
    ) -> Result<(), TransportError> {
        let url = Self::blob_url(grant, grant.device_id.as_str(), slot, true)?;
        let what = format!("uploading {}", slot.relative());
        self.put_url(&url, &what, body).await
    }

    /// Writes one of this device's blob slots in a shared space whole.
    pub async fn put_space_blob(
        &self,
        grant: &SpaceGrant,
        slot: BlobSlot,
        body: bytes::Bytes,
    ) -> Result<(), TransportError> {
        let url = Self::space_blob_url(grant, grant.device_id.as_str(), slot, true)?;
        let what = format!("uploading a shared notebook's {}", slot.relative());
        self.put_url(&url, &what, body).await
    }

    /// Reads `len` bytes at `offset` of a blob slot of `device`.
    pub async fn get_blob_range(
        &self,
        grant: &Grant,
        device: &str,
        slot: BlobSlot,
        offset: u64,
        len: u64,
    ) -> Result<bytes::Bytes, TransportError> {
        let url = Self::blob_url(grant, device, slot, false)?;
        let what = format!("reading {device}/{}", slot.relative());
        self.get_range_url(&url, &what, offset, len).await
    }

    /// Reads `len` bytes at `offset` of a blob slot of `device` in a
    /// shared space.
    pub async fn get_space_blob_range(
        &self,
        grant: &SpaceGrant,
        device: &str,
        slot: BlobSlot,
        offset: u64,
        len: u64,
    ) -> Result<bytes::Bytes, TransportError> {
        let url = Self::space_blob_url(grant, device, slot, false)?;
        let what = format!("reading a shared notebook's {device}/{}", slot.relative());
        self.get_range_url(&url, &what, offset, len).await
    }

    async fn get_range_url(
        &self,
        url: &str,
        what: &str,
        offset: u64,
        len: u64,
    ) -> Result<bytes::Bytes, TransportError> {
        let range = format!("bytes={offset}-{}", offset + len.saturating_sub(1));
        self.with_retries(|| {
            let req = self
                .http
                .get(url)
                .header(reqwest::header::RANGE, range.as_str());
            async move {
                let resp = req.send().await.map_err(|e| Self::network(e, what))?;
                let status = resp.status();
                if status == StatusCode::NOT_FOUND || status == StatusCode::RANGE_NOT_SATISFIABLE {
                    return Err(TransportError::new(
                        TransportErrorKind::Rejected,
                        format!("{what}: the attachment is not in storage (HTTP {status})"),
                    ));
                }
                if !status.is_success() {
                    return Err(Self::classify(status, what));
                }
                let body = resp.bytes().await.map_err(|e| Self::network(e, what))?;
                // A short body is a cut connection: read it again. (A
                // storage that ignored the range would send the whole
                // slot: also not what was asked for.)
                if body.len() as u64 != len {
                    return Err(TransportError::new(
                        TransportErrorKind::Unavailable,
                        format!("{what}: got {} of {len} bytes", body.len()),
                    ));
                }
                Ok(body)
            }
        })
        .await
    }

    async fn put_url(
        &self,
        url: &str,
        what: &str,
        body: bytes::Bytes,
    ) -> Result<(), TransportError> {
        let len = body.len() as u64;
        self.put_with(url, what, len, || reqwest::Body::from(body.clone()))
            .await
    }

    /// Uploads `len` bytes to a presigned URL, with a body made afresh by
    /// `body` for each attempt.
    async fn put_with(
        &self,
        url: &str,
        what: &str,
        len: u64,
        body: impl Fn() -> reqwest::Body,
    ) -> Result<(), TransportError> {
        self.with_retries(|| {
            // Presigned PUTs need the length up front: no chunked upload.
            let req = self
                .http
                .put(url)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .header(reqwest::header::CONTENT_LENGTH, len)
                .body(body());
            async move {
                let resp = req.send().await.map_err(|e| Self::network(e, what))?;
                if resp.status().is_success() {
                    Ok(())
                } else {
                    Err(Self::classify(resp.status(), what))
                }
            }
        })
        .await
    }

    /// Writes one of this device's own objects.
    pub async fn put<G: ObjectGrant + ?Sized>(
        &self,
        grant: &G,
        key: DeviceKey,
        body: Body,
    ) -> Result<(), TransportError> {
        let url = Self::url_for(grant, grant.own_device(), key, true)?;
        let what = format!("uploading {}", key.relative());
        match body {
            Body::Bytes(b) => self.put_url(&url, &what, bytes::Bytes::from(b)).await,
            Body::Spilled(spill) => self.put_spilled(&url, &what, spill).await,
        }
    }

    /// Uploads an object its writer sealed into a file (a snapshot), read
    /// from the file as it goes out, from the start again on each attempt.
    async fn put_spilled(&self, url: &str, what: &str, spill: Spill) -> Result<(), TransportError> {
        self.put_with(url, what, spill.len(), || {
            reqwest::Body::wrap_stream(file_chunks(spill.clone()))
        })
        .await
    }

    /// Reads an object of `device` into an unlinked file in `dir` as it
    /// arrives, rather than into memory: a snapshot is as large as the
    /// account, and the store opens it a chunk at a time from the file
    /// (`cairn_core::sync::snapshot_apply`). The file goes away with the
    /// last handle to it, whatever happens to the process.
    pub async fn get_spilled<G: ObjectGrant + ?Sized>(
        &self,
        grant: &G,
        device: &str,
        key: DeviceKey,
        dir: &std::path::Path,
    ) -> Result<Fetched, TransportError> {
        self.get_into(grant, device, key, None, Some(dir)).await
    }

    /// Reads an object of `device` (this one or a peer).
    pub async fn get<G: ObjectGrant + ?Sized>(
        &self,
        grant: &G,
        device: &str,
        key: DeviceKey,
        if_none_match: Option<&str>,
    ) -> Result<Fetched, TransportError> {
        self.get_into(grant, device, key, if_none_match, None).await
    }

    /// A GET, its body kept in memory or, with `spill`, written to a file
    /// there.
    async fn get_into<G: ObjectGrant + ?Sized>(
        &self,
        grant: &G,
        device: &str,
        key: DeviceKey,
        if_none_match: Option<&str>,
        spill: Option<&std::path::Path>,
    ) -> Result<Fetched, TransportError> {
        let url = Self::url_for(grant, device, key, false)?;
        let what = format!("reading {device}/{}", key.relative());
        self.with_retries(|| {
            let mut req = self.http.get(&url);
            if let Some(e) = if_none_match {
                req = req.header(reqwest::header::IF_NONE_MATCH, e);
            }
            let what = &what;
            async move {
                let resp = req.send().await.map_err(|e| Self::network(e, what))?;
                let status = resp.status();
                if status == StatusCode::NOT_MODIFIED {
                    return Ok(Fetched::NotModified);
                }
                if status == StatusCode::NOT_FOUND {
                    return Ok(Fetched::Missing);
                }
                if !status.is_success() {
                    return Err(Self::classify(status, what));
                }
                let etag = resp
                    .headers()
                    .get(reqwest::header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let expected = resp.content_length();
                // A body cut short is a transient fault: read it again.
                let cut_short = |len: u64| {
                    expected.is_some_and(|n| n != len).then(|| {
                        TransportError::new(
                            TransportErrorKind::Unavailable,
                            format!("{what}: body cut short"),
                        )
                    })
                };
                if let Some(dir) = spill {
                    let body = Self::body_to_file(resp, dir, what).await?;
                    return match cut_short(body.len()) {
                        Some(e) => Err(e),
                        None => Ok(Fetched::Spilled { body, etag }),
                    };
                }
                let body = resp.bytes().await.map_err(|e| Self::network(e, what))?;
                match cut_short(body.len() as u64) {
                    Some(e) => Err(e),
                    None => Ok(Fetched::Found {
                        // Takes the buffer over rather than copying it.
                        body: Vec::from(body),
                        etag,
                    }),
                }
            }
        })
        .await
    }

    /// Writes a response's body to an unlinked file in `dir` as it comes.
    async fn body_to_file(
        mut resp: reqwest::Response,
        dir: &std::path::Path,
        what: &str,
    ) -> Result<cairn_core::sync::Spill, TransportError> {
        let local = |e: std::io::Error| {
            TransportError::new(
                TransportErrorKind::Rejected,
                format!("{what}: writing the download to {}: {e}", dir.display()),
            )
        };
        let mut file = tempfile::tempfile_in(dir).map_err(local)?;
        let mut len = 0u64;
        // Each chunk's write goes to the page cache: short enough not to
        // hold up the runtime.
        while let Some(chunk) = resp.chunk().await.map_err(|e| Self::network(e, what))? {
            std::io::Write::write_all(&mut file, &chunk).map_err(local)?;
            len += chunk.len() as u64;
        }
        cairn_core::sync::Spill::new(file, len).map_err(local)
    }
}

/// Bytes read from an upload's file per piece of its body.
const UPLOAD_READ_LEN: u64 = 1 << 20;

/// `spill`'s bytes from the start, a piece at a time, each read on a
/// blocking thread (it is a file on disk, not a socket).
fn file_chunks(
    spill: Spill,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
    futures_util::stream::try_unfold((spill, 0u64), |(spill, at)| async move {
        if at >= spill.len() {
            return Ok(None);
        }
        let (spill, piece) = tokio::task::spawn_blocking(move || {
            let mut piece = vec![0u8; (spill.len() - at).min(UPLOAD_READ_LEN) as usize];
            let mut got = 0;
            while got < piece.len() {
                match spill.read_at(at + got as u64, &mut piece[got..])? {
                    0 => {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "the file to upload is shorter than it was written",
                        ))
                    }
                    n => got += n,
                }
            }
            Ok((spill, piece))
        })
        .await
        .map_err(std::io::Error::other)??;
        let next = at + piece.len() as u64;
        Ok(Some((bytes::Bytes::from(piece), (spill, next))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_protocol::{DeviceId, ObjectUrls, UserId};

    /// A grant whose every URL is presigned for a port nobody listens on.
    fn grant_to_nowhere() -> (Grant, String) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let secret = "X-Amz-Signature=5ec2e7d00d";
        let urls = ObjectUrls::build(|key| {
            Ok::<_, ()>(format!(
                "http://127.0.0.1:{port}/bucket/{}?X-Amz-Credential=AKIA&{secret}",
                key.relative()
            ))
        })
        .unwrap();
        let grant = Grant {
            user_id: UserId::parse("key:someone").unwrap(),
            device_id: DeviceId::parse("me").unwrap(),
            issued_at: 0,
            expires_at: i64::MAX,
            prefix: "users/key:someone/devices/me/".into(),
            put: urls.clone(),
            get: urls,
            peers: Vec::new(),
            blob_put: None,
            blob_get: None,
        };
        (grant, format!("127.0.0.1:{port}"))
    }

    #[tokio::test]
    async fn a_dead_network_is_offline_and_its_message_names_no_url() {
        let (grant, address) = grant_to_nowhere();
        let bucket = Bucket::new().unwrap().with_retry_base(Duration::ZERO);
        let errors = [
            bucket
                .get(&grant, "me", DeviceKey::Head, None)
                .await
                .unwrap_err(),
            bucket
                .put(&grant, DeviceKey::Head, b"x".to_vec().into())
                .await
                .unwrap_err(),
        ];
        for e in errors {
            assert_eq!(e.kind, TransportErrorKind::Offline, "{e}");
            let text = e.to_string();
            for secret in ["X-Amz", "AKIA", "http", address.as_str()] {
                assert!(!text.contains(secret), "{secret} in {text:?}");
            }
        }
    }
}
