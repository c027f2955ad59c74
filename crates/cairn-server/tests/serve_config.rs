//! `cairn-server serve --config FILE`, the production path: the binary
//! reads a TOML file, takes its secrets from the environment, and serves
//! sign-in and grants against an S3 store it does not own (here the dev
//! server's embedded one, which checks signatures).

#![cfg(unix)] // stops the binary with SIGTERM
#![allow(clippy::unwrap_used)] // tests fail loudly by design

#[path = "support/harness.rs"]
mod harness;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use cairn_client::ServiceClient;
use cairn_server::config::Config;
use cairn_server::DevServer;
use harness::{device_with_grant, get, put, stop_with_sigterm};

/// A config with no secrets in it, as an operator would keep one.
fn write_config(dir: &Path, s3_endpoint: &str) -> std::path::PathBuf {
    let path = dir.join("cairn-server.toml");
    std::fs::write(
        &path,
        format!(
            r#"listen = "127.0.0.1:0"
registry_path = "{}"
grant_lifetime_secs = 3600

[s3]
endpoint = "{s3_endpoint}"
region = "us-east-1"
bucket = "cairn"
path_style = true

[providers.account_keys]
enabled = true
"#,
            dir.join("registry.sqlite3").display()
        ),
    )
    .unwrap();
    path
}

fn serve(config: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn-server"));
    cmd.arg("serve")
        .arg("--config")
        .arg(config)
        .env_remove("CAIRN_S3_SECRET_ACCESS_KEY")
        .env_remove("CAIRN_S3_ACCESS_KEY_ID");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

#[test]
fn the_example_config_is_valid_as_shipped() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("cairn-server.example.toml");
    let config = Config::load_with_env(&example, Vec::new()).unwrap();
    assert_eq!(config.grant_lifetime_secs, 7 * 24 * 3600);
    assert!(config.providers.account_keys.enabled);
    assert!(config.providers.github.is_some());
}

#[test]
fn serve_takes_its_secrets_from_the_environment_and_grants_work() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store_dir = tempfile::tempdir().unwrap();
    let store = runtime
        .block_on(DevServer::builder(store_dir.path()).start())
        .unwrap();
    let s3 = store.s3_config().clone();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &s3.endpoint);

    // Without the key pair anywhere: refused, naming what is missing.
    let out = serve(&config, &[]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("CAIRN_S3_ACCESS_KEY_ID") || stderr.contains("CAIRN_S3_SECRET_ACCESS_KEY"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("registry.sqlite3").exists(),
        "nothing created"
    );

    // With the key pair from the environment: it serves.
    let mut child = serve(
        &config,
        &[
            ("CAIRN_S3_ACCESS_KEY_ID", &s3.access_key_id),
            ("CAIRN_S3_SECRET_ACCESS_KEY", &s3.secret_access_key),
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = match lines.next() {
        Some(Ok(line)) => line
            .strip_prefix("cairn-server listening on ")
            .map(str::to_owned),
        _ => None,
    };
    let Some(url) = url else {
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        panic!("serve did not start: {stderr}");
    };

    runtime.block_on(async {
        let client = ServiceClient::new(&url).unwrap();
        let (_, grant) = device_with_grant(&client, "laptop").await;
        assert_eq!(
            grant.expires_at - grant.issued_at,
            3600,
            "the file's lifetime"
        );
        let http = reqwest::Client::new();
        assert_eq!(put(&http, &grant.put.head, b"through serve").await, 200);
        let (status, body) = get(&http, &grant.get.head).await;
        assert_eq!((status, body.as_slice()), (200, &b"through serve"[..]));
    });
    stop_with_sigterm(child);
    runtime.block_on(store.shutdown()).unwrap();
}

/// `cairn-server migrate` brings a PostgreSQL registry's schema up to date
/// and exits; run again, it has nothing to do.
#[test]
fn migrate_brings_the_registry_up_to_date_and_exits() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let registry_url = runtime
        .block_on(cairn_server::test_postgres::TestPostgres::shared().create_database())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "http://127.0.0.1:9");
    for _ in 0..2 {
        let out = Command::new(env!("CARGO_BIN_EXE_cairn-server"))
            .args(["migrate", "--config"])
            .arg(&config)
            .env("CAIRN_REGISTRY_URL", &registry_url)
            .env("CAIRN_S3_ACCESS_KEY_ID", "ak")
            .env("CAIRN_S3_SECRET_ACCESS_KEY", "sk")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("up to date"));
    }
    let tables: i64 = runtime.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&registry_url).await.unwrap();
        sqlx::query_scalar("SELECT COUNT(*) FROM cairn_schema_migrations")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    });
    // Every migration (0001_init, 0002_spaces, ...) recorded once despite
    // two runs.
    let migrations = std::fs::read_dir(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres"),
    )
    .unwrap()
    .count() as i64;
    assert!(migrations >= 5);
    assert_eq!(tables, migrations, "each migration recorded once");
    assert!(
        !dir.path().join("registry.sqlite3").exists(),
        "no SQLite file made"
    );
}
