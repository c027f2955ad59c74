//! The real cloud side on loopback: the embedded S3 server (s3s-fs,
//! signatures and expiry checked) and the Cairn service, started
//! in-process as separate parts so a test can stop the service while
//! storage stays up, or put a fault proxy between devices and storage.
//!
//! The registry is SQLite, or with `CAIRN_TEST_REGISTRY=postgres` a
//! database of its own in a throwaway PostgreSQL cluster (one per test
//! binary), as in the service's own tests.
//!
//! Both run on one manual clock, which stands still until a test moves it
//! ([`Cloud::advance`]): tokens and grants expire when the test says, not
//! after a wait. The clock's time is also written to a clock file that
//! every `cairn` a device runs reads (`CAIRN_CLOCK_FILE`), so devices
//! judge freshness by the same time.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cairn_protocol::{Clock, FileClock};
use cairn_server::config::{GithubConfig, S3Config};
use cairn_server::{Config, EmbeddedS3, ManualClock, RunningServer, DEV_BUCKET, DEV_REGION};

use cairn_server::test_postgres::test_registry_url;

use crate::fault_proxy::FaultProxy;

/// How a test wants the cloud set up.
#[derive(Debug, Clone, Default)]
pub struct CloudOptions {
    /// Put a [`FaultProxy`] between devices and S3 (seeded with this).
    pub proxy_seed: Option<u64>,
    pub grant_lifetime_secs: Option<u64>,
    pub access_token_ttl_secs: Option<u64>,
    pub refresh_token_ttl_secs: Option<u64>,
    /// Sign-in with GitHub through this provider (in tests, the OAuth2
    /// server of [`crate::oauth_server::OauthServer::github_config`]).
    pub github: Option<GithubConfig>,
}

pub struct Cloud {
    runtime: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    s3: Option<EmbeddedS3>,
    s3_addr: SocketAddr,
    service: Option<RunningServer>,
    service_addr: SocketAddr,
    config: Config,
    proxy: Option<FaultProxy>,
    clock: ManualClock,
}

const ACCESS_KEY: &str = "cairnscenario";
const SECRET_KEY: &str = "scenario-secret-key-0123456789";
/// Beside the cloud's data, the time its clock reads.
const CLOCK_FILE: &str = "clock";

impl Cloud {
    pub fn start() -> Cloud {
        Cloud::start_with(CloudOptions::default())
    }

    pub fn start_with(options: CloudOptions) -> Cloud {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = ManualClock::starting_now();
        FileClock::write(&dir.path().join(CLOCK_FILE), clock.now_ms()).expect("clock file");
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let s3 = runtime
            .block_on(EmbeddedS3::start(
                &dir.path().join("s3"),
                loopback,
                DEV_BUCKET,
                ACCESS_KEY,
                SECRET_KEY,
                Arc::new(clock.clone()),
            ))
            .expect("embedded S3 starts");
        let s3_addr: SocketAddr = s3
            .endpoint()
            .trim_start_matches("http://")
            .parse()
            .expect("S3 address");
        let proxy = options.proxy_seed.map(|seed| {
            let proxy = runtime.block_on(FaultProxy::start(seed));
            proxy.set_upstream(s3_addr);
            proxy
        });
        // The service presigns for whatever endpoint devices should use.
        let endpoint = match &proxy {
            Some(p) => p.endpoint(),
            None => s3.endpoint().to_owned(),
        };
        let s3_config = S3Config {
            endpoint,
            region: DEV_REGION.to_owned(),
            bucket: DEV_BUCKET.to_owned(),
            path_style: true,
            access_key_id: ACCESS_KEY.to_owned(),
            secret_access_key: SECRET_KEY.to_owned(),
        };
        let mut config = Config::dev(dir.path().join("registry.sqlite3"), loopback, s3_config);
        // Scenario tests sign in many devices from one address.
        config.rate_limit.sign_in_burst = 10_000;
        config.rate_limit.sign_in_per_minute = 10_000;
        if let Some(s) = options.grant_lifetime_secs {
            config.grant_lifetime_secs = s;
        }
        if let Some(s) = options.access_token_ttl_secs {
            config.access_token_ttl_secs = s;
        }
        if let Some(s) = options.refresh_token_ttl_secs {
            config.refresh_token_ttl_secs = s;
        }
        config.providers.github = options.github.clone();
        config.registry_url = runtime
            .block_on(test_registry_url())
            .expect("the test registry");
        let service = runtime
            .block_on(RunningServer::start(
                config.clone(),
                Arc::new(clock.clone()),
            ))
            .expect("service starts");
        let service_addr = service.local_addr();
        Cloud {
            runtime,
            dir,
            s3: Some(s3),
            s3_addr,
            service: Some(service),
            service_addr,
            config,
            proxy,
            clock,
        }
    }

    /// Moves the cloud's clock, and every device's with it.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
        FileClock::write(&self.clock_file(), self.clock.now_ms()).expect("clock file");
    }

    /// Moves the clock to just past `t` (Unix seconds), if it is not past
    /// it already.
    pub fn advance_past(&self, t: i64) {
        let left = (t + 1).saturating_mul(1000) - self.clock.now_ms();
        if left > 0 {
            self.advance(Duration::from_millis(left.unsigned_abs()));
        }
    }

    /// The cloud's time, Unix seconds.
    pub fn now_secs(&self) -> i64 {
        self.clock.now_secs()
    }

    /// The cloud's clock, for clients run in-process.
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::new(self.clock.clone())
    }

    /// The file `cairn` processes read the cloud's time from.
    pub fn clock_file(&self) -> PathBuf {
        self.dir.path().join(CLOCK_FILE)
    }

    /// The service's URL (stays the same across a stop and start).
    pub fn url(&self) -> String {
        format!("http://{}", self.service_addr)
    }

    pub fn proxy(&self) -> &FaultProxy {
        self.proxy
            .as_ref()
            .expect("the cloud was started with a proxy")
    }

    /// Where the S3 server keeps the bucket's objects on disk.
    /// Everything the service and the storage keep: S3 objects and the
    /// registry database.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn bucket_dir(&self) -> PathBuf {
        self.dir.path().join("s3").join(DEV_BUCKET)
    }

    pub fn s3_addr(&self) -> SocketAddr {
        self.s3_addr
    }

    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    /// Every directory that holds the registry's data: the cloud's own
    /// (the SQLite file, and the bucket), and the PostgreSQL cluster's
    /// (tables and write-ahead log) when the registry is PostgreSQL.
    pub fn stored_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.dir.path().to_path_buf()];
        if self.config.registry_url.is_some() {
            dirs.push(
                cairn_server::test_postgres::TestPostgres::shared()
                    .dir()
                    .to_path_buf(),
            );
        }
        dirs
    }

    /// Stops the service; storage stays up.
    pub fn stop_service(&mut self) {
        if let Some(service) = self.service.take() {
            self.runtime
                .block_on(service.shutdown())
                .expect("service stops");
        }
    }

    /// Starts the service again on the same address and registry.
    pub fn start_service(&mut self) {
        let mut config = self.config.clone();
        config.listen = self.service_addr;
        let service = self
            .runtime
            .block_on(RunningServer::start(config, Arc::new(self.clock.clone())))
            .expect("service restarts");
        self.service = Some(service);
    }

    /// A fresh account; returns its key.
    pub fn create_account(&self, device: &Path) -> String {
        let clock = (
            cairn_client::CLOCK_FILE_ENV.to_owned(),
            self.clock_file().display().to_string(),
        );
        crate::device::create_account_at(&self.url(), device, &[clock])
    }
}

impl Drop for Cloud {
    fn drop(&mut self) {
        if let Some(service) = self.service.take() {
            self.runtime.block_on(service.shutdown()).ok();
        }
        if let Some(s3) = self.s3.take() {
            self.runtime.block_on(s3.shutdown());
        }
    }
}
