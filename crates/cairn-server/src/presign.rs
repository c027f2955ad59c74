//! Presigning a device's keys with aws-sdk-s3.
//!
//! A grant holds one URL per key: 67 PUTs and 67 GETs for the device's own
//! prefix and 67 GETs per peer, plus the blob slots of each (256 per device
//! and access, carried compactly as one template and the signatures). Presigning is pure computation (no request
//! is sent), but at ~400 signatures per grant it is the service's main
//! cost, so URL sets are cached per (prefix, access, issue time). All
//! grants issued within one reuse window share their issue time and so
//! their URLs; the expiry a client sees is exact (issue time + lifetime),
//! only up to one window earlier than it would otherwise be. Without the
//! cache (`cache_grants = false`, for benchmarks) every set is presigned
//! afresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, RequestChecksumCalculation};
use aws_sdk_s3::presigning::PresigningConfig;
use cairn_protocol::key_layout::device_prefix;
use cairn_protocol::{
    space_device_prefix, BlobSlot, BlobUrls, DeviceId, DeviceKey, ObjectUrls, SpaceId, UserId,
};
use tokio::sync::OnceCell;

use crate::config::S3Config;
use crate::ServerError;

/// What a URL lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    Put,
    Get,
}

/// (device prefix, access, issue time).
type CacheKey = (String, Access, i64);

/// Everything presigned for one device prefix and one access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceUrls {
    pub objects: ObjectUrls,
    pub blobs: BlobUrls,
}

/// Presigns URL sets for device prefixes; cheap to share.
pub struct Presigner {
    client: aws_sdk_s3::Client,
    bucket: String,
    lifetime_secs: i64,
    reuse_secs: i64,
    /// `None` when caching is off.
    cache: Option<UrlCache>,
}

/// When a grant was issued and when its URLs stop working (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantWindow {
    pub issued_at: i64,
    pub expires_at: i64,
}

impl Presigner {
    pub fn new(s3: &S3Config, lifetime_secs: u64, reuse_secs: u64, cache: bool) -> Presigner {
        let credentials = Credentials::new(
            s3.access_key_id.clone(),
            s3.secret_access_key.clone(),
            None,
            None,
            "cairn-config",
        );
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(s3.region.clone()))
            .endpoint_url(s3.endpoint.clone())
            .force_path_style(s3.path_style)
            .credentials_provider(credentials)
            // Otherwise the SDK bakes a checksum of an empty body into
            // presigned PUTs, and every real upload would fail it.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .build();
        Presigner {
            client: aws_sdk_s3::Client::from_conf(config),
            bucket: s3.bucket.clone(),
            lifetime_secs: i64::try_from(lifetime_secs).unwrap_or(i64::MAX),
            reuse_secs: i64::try_from(reuse_secs.max(1)).unwrap_or(1),
            cache: cache.then(Mutex::default),
        }
    }

    /// The issue time and expiry of a grant asked for at `now_secs`.
    pub fn window(&self, now_secs: i64) -> GrantWindow {
        let issued_at = now_secs - now_secs.rem_euclid(self.reuse_secs);
        GrantWindow {
            issued_at,
            expires_at: issued_at.saturating_add(self.lifetime_secs),
        }
    }

    /// URLs for every key of `device`'s prefix, issued at `window`.
    pub async fn device_urls(
        &self,
        user: &UserId,
        device: &DeviceId,
        access: Access,
        window: GrantWindow,
    ) -> Result<Arc<DeviceUrls>, ServerError> {
        self.prefix_urls(device_prefix(user, device), access, window)
            .await
    }

    /// URLs for every key of `device`'s prefix in shared space `space`.
    pub async fn space_device_urls(
        &self,
        space: &SpaceId,
        user: &UserId,
        device: &DeviceId,
        access: Access,
        window: GrantWindow,
    ) -> Result<Arc<DeviceUrls>, ServerError> {
        self.prefix_urls(space_device_prefix(space, user, device), access, window)
            .await
    }

    /// URLs for every key below `prefix` (a device prefix, ending in `/`).
    async fn prefix_urls(
        &self,
        prefix: String,
        access: Access,
        window: GrantWindow,
    ) -> Result<Arc<DeviceUrls>, ServerError> {
        let Some(cache) = &self.cache else {
            return Ok(Arc::new(self.presign_all(&prefix, access, window).await?));
        };
        let cell = cache_cell(cache, (prefix.clone(), access, window.issued_at))?;
        // Concurrent grants for the same device wait for one presigning run
        // instead of each doing it.
        let urls = cell
            .get_or_try_init(|| async {
                self.presign_all(&prefix, access, window)
                    .await
                    .map(Arc::new)
            })
            .await?;
        Ok(urls.clone())
    }

    async fn presign_all(
        &self,
        prefix: &str,
        access: Access,
        window: GrantWindow,
    ) -> Result<DeviceUrls, ServerError> {
        let mut urls = Vec::new();
        for key in DeviceKey::all() {
            urls.push(
                self.presign(&format!("{prefix}{}", key.relative()), access, window)
                    .await?,
            );
        }
        let mut urls = urls.into_iter();
        let objects = ObjectUrls::build(|key| {
            urls.next().ok_or_else(|| ServerError::Presign {
                key: key.relative(),
                message: "missing URL".to_owned(),
            })
        })?;
        let mut slots = Vec::with_capacity(cairn_protocol::BLOB_SLOTS as usize);
        for slot in BlobSlot::all() {
            slots.push(
                self.presign(&format!("{prefix}{}", slot.relative()), access, window)
                    .await?,
            );
        }
        let blobs = BlobUrls::compact(&slots).map_err(|e| ServerError::Presign {
            key: "blob/*".to_owned(),
            message: e.to_string(),
        })?;
        Ok(DeviceUrls { objects, blobs })
    }

    /// One presigned URL for `key`.
    pub async fn presign(
        &self,
        key: &str,
        access: Access,
        window: GrantWindow,
    ) -> Result<String, ServerError> {
        let fail = |message: String| ServerError::Presign {
            key: key.to_owned(),
            message,
        };
        let start = UNIX_EPOCH + Duration::from_secs(u64::try_from(window.issued_at).unwrap_or(0));
        let lifetime =
            Duration::from_secs(u64::try_from(window.expires_at - window.issued_at).unwrap_or(0));
        let config = PresigningConfig::builder()
            .start_time(start)
            .expires_in(lifetime)
            .build()
            .map_err(|e| fail(e.to_string()))?;
        let request = match access {
            Access::Put => self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .presigned(config)
                .await
                .map_err(|e| fail(format!("{e:?}")))?,
            Access::Get => self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .presigned(config)
                .await
                .map_err(|e| fail(format!("{e:?}")))?,
        };
        Ok(request.uri().to_owned())
    }
}

type UrlCache = Mutex<HashMap<CacheKey, Arc<OnceCell<Arc<DeviceUrls>>>>>;

fn cache_cell(
    cache: &UrlCache,
    key: CacheKey,
) -> Result<Arc<OnceCell<Arc<DeviceUrls>>>, ServerError> {
    let mut cache = cache
        .lock()
        .map_err(|_| ServerError::Internal("presign cache lock poisoned".to_owned()))?;
    let issued_at = key.2;
    if !cache.contains_key(&key) {
        // Entries of earlier windows are never asked for again.
        cache.retain(|k, _| k.2 >= issued_at);
    }
    Ok(cache.entry(key).or_default().clone())
}
