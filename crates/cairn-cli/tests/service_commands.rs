//! `cairn account create`, `login`, `devices`, `logout` against a real
//! dev service (embedded S3, account keys) on loopback.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::Path;
use std::process::Command;

use cairn_server::DevServer;

fn cairn(data_dir: &Path, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("CAIRN_CREDENTIAL_STORE", "file")
        .env_remove("CAIRN_ACCOUNT_KEY")
        .env("CAIRN_PASSPHRASE", "correct horse battery staple")
        .output()
        .expect("cairn runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn account_login_devices_logout() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let server_dir = tempfile::tempdir().expect("tempdir");
    let dev = runtime
        .block_on(DevServer::builder(server_dir.path()).start())
        .expect("dev server");
    let url = dev.url().to_owned();
    let laptop = tempfile::tempdir().expect("tempdir");
    let phone = tempfile::tempdir().expect("tempdir");

    let (ok, out, err) = cairn(laptop.path(), &["account", "create", "--server", &url]);
    assert!(ok, "{err}");
    let key = out.lines().last().expect("key on the last line").to_owned();
    assert!(key.starts_with("cairn_ak_"), "{out}");

    let (ok, _, err) = cairn(
        laptop.path(),
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
    assert!(ok, "{err}");
    let (ok, _, err) = cairn(
        phone.path(),
        &[
            "login",
            "--server",
            &url,
            "--account-key",
            &key,
            "--name",
            "phone",
        ],
    );
    assert!(ok, "{err}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(laptop.path().join("credentials.json"))
            .expect("credentials file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let (ok, out, err) = cairn(phone.path(), &["devices", "--json"]);
    assert!(ok, "{err}");
    let devices: Vec<serde_json::Value> = serde_json::from_str(&out).expect("a JSON array");
    assert_eq!(devices.len(), 2);
    let names: Vec<_> = devices
        .iter()
        .map(|d| d["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["laptop", "phone"]);
    assert_eq!(devices[1]["this_device"], true);

    // Logging in again resumes the same device instead of adding one.
    let (ok, _, err) = cairn(
        laptop.path(),
        &["login", "--server", &url, "--account-key", &key],
    );
    assert!(ok, "{err}");
    let (_, out, _) = cairn(laptop.path(), &["devices", "--json"]);
    assert_eq!(
        serde_json::from_str::<Vec<serde_json::Value>>(&out)
            .expect("json")
            .len(),
        2
    );

    let (ok, out, err) = cairn(laptop.path(), &["logout"]);
    assert!(ok && out.contains("signed out"), "{out}{err}");
    let (ok, _, err) = cairn(laptop.path(), &["devices"]);
    assert!(!ok && err.contains("not signed in"), "{err}");

    let (ok, _, err) = cairn(laptop.path(), &["login", "--server", &url]);
    assert!(!ok && err.contains("--account-key"), "{err}");
    let (ok, _, err) = cairn(
        laptop.path(),
        &["login", "--server", &url, "--account-key", "cairn_ak_wrong"],
    );
    assert!(!ok && err.contains("invalid_account_key"), "{err}");

    runtime.block_on(dev.shutdown()).expect("shutdown");
}
