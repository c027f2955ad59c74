//! The service as it runs scaled out, on loopback: several `cairn-server
//! serve` processes (the real binary, each from its own config file) on
//! one throwaway PostgreSQL and one S3 server (the embedded s3s-fs one,
//! signatures checked), and a TCP load balancer in front of them that
//! sends each new connection to the first instance in its order that
//! accepts it, as a reverse proxy with health checks would.
//!
//! Everything runs on the system clock: these are separate processes.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_server::test_postgres::TestPostgres;
use cairn_server::{EmbeddedS3, SystemClock, DEV_BUCKET, DEV_REGION};
use tokio::net::{TcpListener, TcpStream};

const ACCESS_KEY: &str = "cairncluster";
const SECRET_KEY: &str = "cluster-secret-key-0123456789";

/// How the cluster is set up.
#[derive(Debug, Clone, Copy)]
pub struct ClusterOptions {
    pub instances: usize,
    /// Sign-in attempts per client address at once, across the cluster.
    pub sign_in_burst: u32,
    pub sign_in_per_minute: u32,
}

pub struct Cluster {
    runtime: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    _postgres: TestPostgres,
    registry_url: String,
    s3: Option<EmbeddedS3>,
    /// Each instance's fixed address, and its process while it runs.
    instances: Vec<(SocketAddr, Option<Child>)>,
    options: ClusterOptions,
}

/// The `cairn-server` binary built beside this test.
fn server_bin() -> PathBuf {
    let bin = crate::device::cairn_bin()
        .with_file_name(format!("cairn-server{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "the cairn-server binary is missing at {}: build it first (`cargo build --workspace --bins`)",
        bin.display()
    );
    bin
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

impl Cluster {
    pub fn start(options: ClusterOptions) -> Cluster {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let postgres = TestPostgres::start().expect("PostgreSQL starts");
        let registry_url = runtime.block_on(postgres.create_database()).unwrap();
        let s3 = runtime
            .block_on(EmbeddedS3::start(
                &dir.path().join("s3"),
                SocketAddr::from(([127, 0, 0, 1], 0)),
                DEV_BUCKET,
                ACCESS_KEY,
                SECRET_KEY,
                Arc::new(SystemClock),
            ))
            .expect("embedded S3 starts");
        let mut cluster = Cluster {
            runtime,
            dir,
            _postgres: postgres,
            registry_url,
            s3: Some(s3),
            instances: (0..options.instances)
                .map(|_| (free_addr(), None))
                .collect(),
            options,
        };
        for i in 0..options.instances {
            cluster.start_instance(i);
        }
        cluster
    }

    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    pub fn registry_url(&self) -> &str {
        &self.registry_url
    }

    pub fn instance_url(&self, i: usize) -> String {
        format!("http://{}", self.instances[i].0)
    }

    fn config_file(&self, i: usize) -> PathBuf {
        let s3 = self.s3.as_ref().unwrap();
        let path = self.dir.path().join(format!("instance-{i}.toml"));
        let text = format!(
            r#"listen = "{addr}"
registry_url = "{registry}"

[s3]
endpoint = "{endpoint}"
region = "{DEV_REGION}"
bucket = "{DEV_BUCKET}"
path_style = true
access_key_id = "{ACCESS_KEY}"
secret_access_key = "{SECRET_KEY}"

[rate_limit]
sign_in_burst = {burst}
sign_in_per_minute = {per_minute}

[providers.account_keys]
enabled = true
"#,
            addr = self.instances[i].0,
            registry = self.registry_url,
            endpoint = s3.endpoint(),
            burst = self.options.sign_in_burst,
            per_minute = self.options.sign_in_per_minute,
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Starts instance `i` on its address and waits until it serves.
    pub fn start_instance(&mut self, i: usize) {
        assert!(self.instances[i].1.is_none(), "instance {i} is running");
        let log = std::fs::File::create(self.log_path(i)).unwrap();
        let mut child = Command::new(server_bin())
            .arg("serve")
            .arg("--config")
            .arg(self.config_file(i))
            .env_remove("CAIRN_REGISTRY_URL")
            .env_remove("CAIRN_S3_SECRET_ACCESS_KEY")
            .env_remove("CAIRN_S3_ACCESS_KEY_ID")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(
            line.starts_with("cairn-server listening on "),
            "instance {i} did not start: {}",
            std::fs::read_to_string(self.log_path(i)).unwrap_or_default()
        );
        self.instances[i].1 = Some(child);
    }

    /// Stops instance `i` with SIGTERM, as a service manager does, and
    /// requires a clean exit.
    pub fn stop_instance(&mut self, i: usize) {
        let child = self.instances[i].1.take().expect("instance running");
        stop(child, i);
    }

    /// What instance `i` logged.
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.log_path(i)).unwrap_or_default()
    }

    fn log_path(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("instance-{i}.log"))
    }

    /// A load balancer over the instances in `order`.
    pub fn balancer(&self, order: &[usize]) -> Balancer {
        let upstreams = order.iter().map(|i| self.instances[*i].0).collect();
        self.runtime.block_on(Balancer::start(upstreams))
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

fn stop(mut child: Child, i: usize) {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "instance {i} still running after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "instance {i} stopped uncleanly: {status}");
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (i, (_, child)) in self.instances.iter_mut().enumerate() {
            if let Some(mut child) = child.take() {
                if std::thread::panicking() {
                    child.kill().ok();
                    child.wait().ok();
                } else {
                    stop(child, i);
                }
            }
        }
        if let Some(s3) = self.s3.take() {
            self.runtime.block_on(s3.shutdown());
        }
    }
}

/// Sends each new connection to the first upstream that accepts it.
pub struct Balancer {
    addr: SocketAddr,
    /// Which upstream each connection went to, in order.
    routed: Arc<Mutex<Vec<SocketAddr>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Balancer {
    async fn start(upstreams: Vec<SocketAddr>) -> Balancer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let routed = Arc::new(Mutex::new(Vec::new()));
        let log = routed.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let (upstreams, log) = (upstreams.clone(), log.clone());
                tokio::spawn(async move {
                    for upstream in upstreams {
                        if let Ok(mut server) = TcpStream::connect(upstream).await {
                            log.lock().unwrap().push(upstream);
                            // Ends when either side closes.
                            tokio::io::copy_bidirectional(&mut client, &mut server)
                                .await
                                .ok();
                            return;
                        }
                    }
                });
            }
        });
        Balancer { addr, routed, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The upstream of every connection so far.
    pub fn routed(&self) -> Vec<SocketAddr> {
        self.routed.lock().unwrap().clone()
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
