//! `cairn-server dev`: the binary itself on loopback, a restart that keeps
//! the URLs devices already hold working, and no way to put it on a
//! network.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

#[path = "support/harness.rs"]
mod harness;

use cairn_client::ServiceClient;
use cairn_server::DevServer;
#[cfg(unix)]
use harness::stop_with_sigterm;
use harness::{device_with_grant, get, put};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_the_store_where_devices_grants_point() {
    let dir = tempfile::tempdir().unwrap();
    let dev = DevServer::builder(dir.path()).start().await.unwrap();
    // ServiceClient installs the TLS crypto provider reqwest needs.
    let client = ServiceClient::new(dev.url()).unwrap();
    let http = reqwest::Client::new();
    let (laptop, grant) = device_with_grant(&client, "laptop").await;
    assert_eq!(
        put(&http, &grant.put.head, b"before the restart").await,
        200
    );
    let endpoint = dev.s3_endpoint().to_owned();
    dev.shutdown().await.unwrap();

    // The same data dir: the store comes back on the same address, so the
    // grant taken before the restart still reads and writes.
    let dev = DevServer::builder(dir.path()).start().await.unwrap();
    assert_eq!(dev.s3_endpoint(), endpoint);
    let (status, body) = get(&http, &grant.get.head).await;
    assert_eq!((status, body.as_slice()), (200, &b"before the restart"[..]));
    assert_eq!(put(&http, &grant.put.head, b"after the restart").await, 200);
    // And the session made before the restart is still good.
    let devices = ServiceClient::new(dev.url())
        .unwrap()
        .devices(laptop.token())
        .await
        .unwrap();
    assert_eq!(devices.len(), 1);
    dev.shutdown().await.unwrap();
}

#[tokio::test]
async fn dev_refuses_to_listen_beyond_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let err = DevServer::builder(dir.path())
        .listen(SocketAddr::from(([0, 0, 0, 0], 0)))
        .start()
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("loopback"), "{err}");
}

#[cfg(unix)]
#[test]
fn the_dev_binary_serves_sign_in_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn-server"))
        .args(["dev", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut url = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("cairn-server listening on ") {
            url = Some(rest.trim().to_owned());
            break;
        }
    }
    let url = url.expect("the service URL is printed");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let created = runtime.block_on(async {
        let client = ServiceClient::new(&url).unwrap();
        let key = client.create_account().await.unwrap().account_key;
        client.sign_in_with_account_key(&key, None).await.is_ok()
    });
    assert!(created, "account-key sign-in is on");
    assert!(dir.path().join("registry.sqlite3").exists());
    assert!(dir.path().join("s3/cairn").is_dir(), "the bucket exists");

    stop_with_sigterm(child);
}

/// Every file and directory `cairn-server dev` makes under its data dir
/// is its user's alone, even started with umask 022: the registry (and
/// its -wal and -shm), the store's credentials and port, the store's
/// directories and the objects in them. And a badly signed request to the
/// store is a client's mistake: it is not logged as an error.
#[cfg(unix)]
#[test]
fn the_dev_binary_keeps_its_files_private_under_umask_022_and_logs_refusals_quietly() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let log = root.path().join("stderr.log");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#"umask 022 && exec "$0" "$@""#)
        .arg(env!("CARGO_BIN_EXE_cairn-server"))
        .args(["dev", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut url = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        if let Some(rest) = line.unwrap().strip_prefix("cairn-server listening on ") {
            url = Some(rest.trim().to_owned());
            break;
        }
    }
    let url = url.expect("the service URL is printed");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = ServiceClient::new(&url).unwrap();
        let http = reqwest::Client::new();
        let (_, grant) = device_with_grant(&client, "laptop").await;
        assert_eq!(put(&http, &grant.put.head, b"an object").await, 200);
        // The same URL with its signature changed: refused by the store.
        let forged = url::Url::parse(&grant.put.head).unwrap();
        let pairs: Vec<(String, String)> = forged
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "X-Amz-Signature" {
                    "0".repeat(v.len())
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        let mut forged = forged.clone();
        forged.query_pairs_mut().clear().extend_pairs(pairs);
        assert_eq!(put(&http, forged.as_str(), b"forged").await, 403);
    });
    stop_with_sigterm(child);

    let mut seen = Vec::new();
    let mut pending = vec![data.clone()];
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        if meta.is_dir() {
            assert_eq!(mode, 0o700, "{}", path.display());
            for entry in std::fs::read_dir(&path).unwrap() {
                pending.push(entry.unwrap().path());
            }
        } else {
            assert_eq!(mode & 0o077, 0, "{} is {mode:o}", path.display());
        }
        seen.push(path.strip_prefix(&data).unwrap().display().to_string());
    }
    for expected in [
        "registry.sqlite3",
        "s3-credentials.json",
        "s3-port",
        "s3",
        "s3/cairn",
    ] {
        assert!(seen.iter().any(|s| s == expected), "{expected}: {seen:?}");
    }
    assert!(
        seen.iter()
            .any(|s| s.starts_with("s3/cairn/") && !s.ends_with("cairn")),
        "the object is on disk: {seen:?}"
    );

    let log = std::fs::read_to_string(&log).unwrap();
    assert!(!log.contains("ERROR"), "{log}");
}
