//! Under umask 022, every file and directory the `cairn` binary creates is
//! its user's alone: the store (`cairn.db` and its -wal and -shm), the
//! session's credentials file, the cached grant, the content key. Another
//! local user must not read note titles or the tokens.

#![cfg(unix)]
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_server::DevServer;

/// Runs `cairn` under umask 022, as a login shell would have it.
fn cairn(data_dir: &Path, args: &[&str]) -> String {
    let output = Command::new("sh")
        .arg("-c")
        .arg(r#"umask 022 && exec "$0" "$@""#)
        .arg(env!("CARGO_BIN_EXE_cairn"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("CAIRN_CREDENTIAL_STORE", "file")
        .env_remove("CAIRN_ACCOUNT_KEY")
        .env("CAIRN_PASSPHRASE", "correct horse battery staple")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cairn {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Every path under `root` with its permission bits.
fn walk(root: &Path) -> Vec<(PathBuf, bool, u32)> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                pending.push(entry.unwrap().path());
            }
        }
        found.push((path, meta.is_dir(), meta.permissions().mode() & 0o777));
    }
    found
}

#[test]
fn everything_the_cli_creates_is_private_under_umask_022() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server_dir = tempfile::tempdir().unwrap();
    let dev = runtime
        .block_on(DevServer::builder(server_dir.path()).start())
        .unwrap();
    let url = dev.url().to_owned();
    let root = tempfile::tempdir().unwrap();
    // A data dir the CLI creates itself, two levels deep.
    let data = root.path().join("profile/cairn");

    cairn(&data, &["new", "Private title\nsecret body"]);
    let key = cairn(&data, &["account", "create", "--server", &url]);
    let key = key.lines().last().unwrap().to_owned();
    cairn(
        &data,
        &[
            "login",
            "--server",
            &url,
            "--account-key",
            &key,
            "--name",
            "laptop",
        ],
    );
    cairn(&data, &["sync"]);
    cairn(&data, &["list"]);

    let found = walk(&data);
    let names: Vec<String> = found
        .iter()
        .map(|(p, _, _)| p.strip_prefix(&data).unwrap().display().to_string())
        .collect();
    assert!(names.iter().any(|n| n == "cairn.db"), "{names:?}");
    assert!(
        names.iter().filter(|n| !n.starts_with("cairn.db")).count() >= 2,
        "credentials and grant files too: {names:?}"
    );
    for (path, is_dir, mode) in &found {
        if *is_dir {
            assert_eq!(*mode, 0o700, "{}", path.display());
        } else {
            assert_eq!(mode & 0o077, 0, "{} is {mode:o}", path.display());
        }
    }
    assert_eq!(
        std::fs::metadata(root.path().join("profile"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700,
        "the parent the CLI created too"
    );
    runtime.block_on(dev.shutdown()).unwrap();
}

/// A store left readable by an older version is narrowed when opened, its
/// -wal and -shm included.
#[test]
fn an_existing_readable_store_is_narrowed_at_open() {
    let data = tempfile::tempdir().unwrap();
    cairn(data.path(), &["new", "old note"]);
    let db = data.path().join("cairn.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    cairn(data.path(), &["list"]);
    assert_eq!(
        std::fs::metadata(&db).unwrap().permissions().mode() & 0o777,
        0o600
    );
}
