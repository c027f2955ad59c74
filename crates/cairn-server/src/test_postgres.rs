//! A throwaway PostgreSQL for tests: Debian's `postgresql` package run as
//! a private cluster in a temporary directory, on a random loopback port,
//! with its unix socket inside that directory and `fsync=off`. Each test
//! takes a database of its own ([`TestPostgres::create_database`]).
//!
//! PostgreSQL refuses to run as root, so as root the cluster runs as the
//! `postgres` user (`runuser`), in a directory that user owns. A missing
//! server is an error, never a reason to skip a test.
//!
//! The cluster stops when the handle is dropped, and also when the test
//! process ends however it ends: a watchdog process holds the read end of
//! a pipe whose write end only this process has, and stops the cluster
//! when the pipe closes. That lets one cluster serve a whole test binary
//! ([`TestPostgres::shared`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use sqlx::Connection;

/// Where Debian installs the server: `/usr/lib/postgresql/<major>/bin`.
const DEBIAN_PREFIX: &str = "/usr/lib/postgresql";

#[derive(Debug, thiserror::Error)]
pub enum TestPostgresError {
    #[error("no PostgreSQL server under {DEBIAN_PREFIX} (install Debian's postgresql package: scripts/setup.sh test)")]
    NotInstalled,
    #[error("{what}: {detail}")]
    Failed { what: String, detail: String },
    #[error("creating a test database: {0}")]
    Database(#[from] sqlx::Error),
}

fn failed(what: &str, detail: impl std::fmt::Display) -> TestPostgresError {
    TestPostgresError::Failed {
        what: what.to_owned(),
        detail: detail.to_string(),
    }
}

pub struct TestPostgres {
    dir: tempfile::TempDir,
    port: u16,
    /// Closing it stops the cluster (see the module docs).
    watchdog_pipe: Mutex<Option<ChildStdin>>,
    watchdog: Mutex<Option<Child>>,
    databases: AtomicU64,
}

impl TestPostgres {
    /// Creates and starts a cluster.
    pub fn start() -> Result<TestPostgres, TestPostgresError> {
        let bin = server_bin()?;
        let dir = tempfile::Builder::new()
            .prefix("cairn-pg-")
            .tempdir()
            .map_err(|e| failed("temporary directory", e))?;
        let as_root = rustix::process::geteuid().is_root();
        if as_root {
            chown_to_postgres(dir.path())?;
        }
        let data = dir.path().join("data");
        run(
            as_root,
            Command::new(bin.join("initdb")).arg("-D").arg(&data).args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ]),
            "initdb",
        )?;
        // A port that was free a moment ago; another taker in between makes
        // the start fail, and the next try picks another.
        let mut last = None;
        for _ in 0..3 {
            let port = free_port()?;
            let options = format!(
                "-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} \
                 -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
                 -c max_connections=400 -c shared_buffers=32MB",
                dir.path().display()
            );
            let started = run(
                as_root,
                Command::new(bin.join("pg_ctl"))
                    .arg("-D")
                    .arg(&data)
                    .arg("-l")
                    .arg(dir.path().join("server.log"))
                    .args(["-w", "-t", "60", "-o", &options, "start"]),
                "pg_ctl start",
            );
            match started {
                Ok(()) => {
                    let (pipe, watchdog) = watchdog(as_root, &bin, dir.path())?;
                    return Ok(TestPostgres {
                        dir,
                        port,
                        watchdog_pipe: Mutex::new(Some(pipe)),
                        watchdog: Mutex::new(Some(watchdog)),
                        databases: AtomicU64::new(0),
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
        Err(last.unwrap_or_else(|| failed("pg_ctl start", log)))
    }

    /// One cluster for the whole test process, started on first use.
    pub fn shared() -> &'static TestPostgres {
        static SHARED: OnceLock<TestPostgres> = OnceLock::new();
        SHARED.get_or_init(|| match TestPostgres::start() {
            Ok(pg) => pg,
            Err(e) => panic!("the test PostgreSQL did not start: {e}"),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `name` in this cluster.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// A new, empty database; returns its URL.
    pub async fn create_database(&self) -> Result<String, TestPostgresError> {
        let n = self.databases.fetch_add(1, Ordering::Relaxed);
        let name = format!("cairn_test_{}_{n}", std::process::id());
        let mut conn = sqlx::PgConnection::connect(&self.url("postgres")).await?;
        // The name is made here from numbers alone.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(self.url(&name))
    }

    /// Where the cluster lives (its log is `server.log` there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the cluster now and waits for it.
    fn stop(&self) {
        let pipe = self
            .watchdog_pipe
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        drop(pipe);
        let watchdog = self
            .watchdog
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(mut watchdog) = watchdog {
            if let Err(e) = watchdog.wait() {
                eprintln!("waiting for the test PostgreSQL to stop: {e}");
            }
        }
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The newest server Debian installed.
fn server_bin() -> Result<PathBuf, TestPostgresError> {
    let entries = std::fs::read_dir(DEBIAN_PREFIX).map_err(|_| TestPostgresError::NotInstalled)?;
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let major: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").exists().then_some((major, bin))
        })
        .max_by_key(|(major, _)| *major)
        .map(|(_, bin)| bin)
        .ok_or(TestPostgresError::NotInstalled)
}

/// Runs `command` (as `postgres` when we are root) and requires success.
fn run(as_root: bool, command: &mut Command, what: &str) -> Result<(), TestPostgresError> {
    let mut command = if as_root {
        let mut wrapped = Command::new("runuser");
        wrapped
            .args(["-u", "postgres", "--"])
            .arg(command.get_program())
            .args(command.get_args());
        wrapped
    } else {
        std::mem::replace(command, Command::new("true"))
    };
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| failed(what, e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(failed(
            what,
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ))
    }
}

fn chown_to_postgres(dir: &Path) -> Result<(), TestPostgresError> {
    let id = |flag: &str| -> Result<u32, TestPostgresError> {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .map_err(|e| failed("id postgres", e))?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| {
                failed(
                    "id postgres",
                    "no postgres user (install the postgresql package)",
                )
            })
    };
    std::os::unix::fs::chown(dir, Some(id("-u")?), Some(id("-g")?))
        .map_err(|e| failed("chown to postgres", e))
}

fn free_port() -> Result<u16, TestPostgresError> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| failed("picking a port", e))?;
    let port = listener
        .local_addr()
        .map_err(|e| failed("picking a port", e))?
        .port();
    Ok(port)
}

/// Starts the process that stops the cluster (and removes its directory)
/// once its stdin closes.
fn watchdog(
    as_root: bool,
    bin: &Path,
    dir: &Path,
) -> Result<(ChildStdin, Child), TestPostgresError> {
    let pg_ctl = bin.join("pg_ctl");
    let data = dir.join("data");
    let stop = if as_root {
        "runuser -u postgres -- \"$0\" -D \"$1\" -m fast -w stop"
    } else {
        "\"$0\" -D \"$1\" -m fast -w stop"
    };
    let script = format!("cat >/dev/null; {stop} >/dev/null 2>&1; rm -rf \"$2\"");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(&pg_ctl)
        .arg(&data)
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| failed("starting the watchdog", e))?;
    let mut pipe = child
        .stdin
        .take()
        .ok_or_else(|| failed("starting the watchdog", "no stdin"))?;
    // Nothing to say; the pipe only has to stay open.
    pipe.flush()
        .map_err(|e| failed("starting the watchdog", e))?;
    Ok((pipe, child))
}

/// Set to `postgres` to run tests on a PostgreSQL registry.
pub const REGISTRY_ENV: &str = "CAIRN_TEST_REGISTRY";

/// A registry URL for one test when the tests run on PostgreSQL (`None`:
/// SQLite). Any other value of the variable is refused, not ignored.
pub async fn test_registry_url() -> Result<Option<String>, TestPostgresError> {
    match std::env::var(REGISTRY_ENV).as_deref() {
        Err(_) | Ok("") | Ok("sqlite") => Ok(None),
        Ok("postgres") => Ok(Some(TestPostgres::shared().create_database().await?)),
        Ok(other) => Err(failed(
            REGISTRY_ENV,
            format!("{other:?}: use sqlite or postgres"),
        )),
    }
}
