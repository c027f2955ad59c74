//! `cairn-server dev`: the whole sync setup on loopback with no cloud
//! account. An embedded S3 server (s3s-fs, signatures checked) stores into
//! `{data}/s3`, the registry lives in `{data}/registry.sqlite3`, and
//! account-key sign-in is on.
//!
//! ```no_run
//! # async fn demo() -> Result<(), cairn_server::ServerError> {
//! let dev = cairn_server::DevServer::builder("/tmp/cairn-dev").start().await?;
//! println!("service at {}, store at {}", dev.url(), dev.s3_endpoint());
//! dev.shutdown().await
//! # }
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::{Config, S3Config};
use crate::embedded_s3::EmbeddedS3;
use crate::private_files;
use crate::serve::RunningServer;
use crate::tokens::new_id;
use crate::{Clock, ServerError, SystemClock};

pub const DEV_BUCKET: &str = "cairn";
pub const DEV_REGION: &str = "us-east-1";

type Configure = Box<dyn FnOnce(&mut Config) + Send>;

/// Options for [`DevServer`]; start with [`DevServer::builder`].
pub struct DevServerBuilder {
    data_dir: PathBuf,
    listen: SocketAddr,
    s3_listen: SocketAddr,
    clock: Arc<dyn Clock>,
    configure: Vec<Configure>,
}

impl DevServerBuilder {
    /// Where the service listens (default `127.0.0.1:0`, a free port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Where the embedded S3 server listens (default `127.0.0.1:0`).
    pub fn s3_listen(mut self, addr: SocketAddr) -> Self {
        self.s3_listen = addr;
        self
    }

    /// The clock the service and the store read (sessions, rate limits,
    /// grant issue time, presigned URL expiry).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Adjusts the config before the service starts (lifetimes, limits,
    /// providers).
    pub fn configure(mut self, f: impl FnOnce(&mut Config) + Send + 'static) -> Self {
        self.configure.push(Box::new(f));
        self
    }

    pub async fn start(self) -> Result<DevServer, ServerError> {
        loopback_only(self.s3_listen)?;
        let dir = &self.data_dir;
        private_files::create_dir_all(dir).map_err(|e| ServerError::io(dir, e))?;
        let credentials = DevCredentials::load_or_create(&dir.join("s3-credentials.json"))?;
        let s3 = start_store(dir, self.s3_listen, &credentials, self.clock.clone()).await?;
        let s3_config = S3Config {
            endpoint: s3.endpoint().to_owned(),
            region: DEV_REGION.to_owned(),
            bucket: DEV_BUCKET.to_owned(),
            path_style: true,
            access_key_id: credentials.access_key_id.clone(),
            secret_access_key: credentials.secret_access_key.clone(),
        };
        let mut config = Config::dev(dir.join("registry.sqlite3"), self.listen, s3_config.clone());
        for f in self.configure {
            f(&mut config);
        }
        if let Err(e) = loopback_only(config.listen) {
            s3.shutdown().await;
            return Err(e);
        }
        let service = match RunningServer::start(config, self.clock).await {
            Ok(service) => service,
            Err(e) => {
                s3.shutdown().await;
                return Err(e);
            }
        };
        Ok(DevServer {
            service,
            s3,
            s3_config,
            data_dir: self.data_dir,
        })
    }
}

/// The service plus its embedded store, running.
pub struct DevServer {
    service: RunningServer,
    s3: EmbeddedS3,
    s3_config: S3Config,
    data_dir: PathBuf,
}

impl DevServer {
    pub fn builder(data_dir: impl Into<PathBuf>) -> DevServerBuilder {
        DevServerBuilder {
            data_dir: data_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            s3_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            clock: Arc::new(SystemClock),
            configure: Vec::new(),
        }
    }

    /// The service's base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        self.service.url()
    }

    /// The embedded S3 server's endpoint, `http://127.0.0.1:PORT`.
    pub fn s3_endpoint(&self) -> &str {
        self.s3.endpoint()
    }

    /// Endpoint, bucket, region and the credentials the store accepts.
    pub fn s3_config(&self) -> &S3Config {
        &self.s3_config
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Stops the service, then the store.
    pub async fn shutdown(self) -> Result<(), ServerError> {
        let result = self.service.shutdown().await;
        self.s3.shutdown().await;
        result
    }

    /// Runs until the service stops (it does not stop by itself; use this
    /// with a signal that calls [`DevServer::shutdown`] on another path).
    pub async fn wait(self) -> Result<(), ServerError> {
        let result = self.service.wait().await;
        self.s3.shutdown().await;
        result
    }
}

/// Account creation is open in the dev setup: never offer it to a network.
fn loopback_only(addr: SocketAddr) -> Result<(), ServerError> {
    if addr.ip().is_loopback() {
        return Ok(());
    }
    Err(ServerError::Config(format!(
        "cairn-server dev serves loopback only, not {addr}; \
         use `cairn-server serve` with a config to serve a network"
    )))
}

/// Starts the embedded store, on the port it had before when `listen`
/// leaves the port open. A device's grant names the store's address, so
/// after a restart on a new port every device would hold URLs that lead
/// nowhere until its grant nears expiry; the port is kept in the data dir
/// beside the credentials for the same reason.
async fn start_store(
    dir: &Path,
    listen: SocketAddr,
    credentials: &DevCredentials,
    clock: Arc<dyn Clock>,
) -> Result<EmbeddedS3, ServerError> {
    let port_file = dir.join("s3-port");
    let root = dir.join("s3");
    let start = |addr: SocketAddr| {
        EmbeddedS3::start(
            &root,
            addr,
            DEV_BUCKET,
            &credentials.access_key_id,
            &credentials.secret_access_key,
            clock.clone(),
        )
    };
    let remembered = std::fs::read_to_string(&port_file)
        .ok()
        .and_then(|text| text.trim().parse::<u16>().ok())
        .filter(|port| *port != 0 && listen.port() == 0);
    let s3 = match remembered {
        Some(port) => match start(SocketAddr::new(listen.ip(), port)).await {
            Ok(s3) => s3,
            Err(e) => {
                tracing::warn!(
                    port,
                    error = %e,
                    "the embedded store could not listen on its previous port; devices \
                     signed in before need a new grant (sign in again) to reach it"
                );
                start(listen).await?
            }
        },
        None => start(listen).await?,
    };
    let port = s3.port().to_string();
    private_files::write(&port_file, port.as_bytes())
        .map_err(|e| ServerError::io(&port_file, e))?;
    Ok(s3)
}

/// The store's credentials, kept in the data dir so URLs presigned before
/// a restart stay valid after it.
#[derive(Serialize, Deserialize)]
struct DevCredentials {
    access_key_id: String,
    secret_access_key: String,
}

impl DevCredentials {
    fn load_or_create(path: &Path) -> Result<DevCredentials, ServerError> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                // An older version wrote it with the umask's mode.
                private_files::prepare_file(path).map_err(|e| ServerError::io(path, e))?;
                serde_json::from_str(&text)
                    .map_err(|e| ServerError::Config(format!("{}: {e}", path.display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let credentials = DevCredentials {
                    access_key_id: format!("cairndev{}", new_id(6)),
                    secret_access_key: new_id(20),
                };
                let text = serde_json::to_string_pretty(&credentials)
                    .map_err(|e| ServerError::Internal(e.to_string()))?;
                private_files::write(path, text.as_bytes())
                    .map_err(|e| ServerError::io(path, e))?;
                Ok(credentials)
            }
            Err(e) => Err(ServerError::io(path, e)),
        }
    }
}
