//! The session kept in a real Secret Service: a private D-Bus session bus
//! and GNOME Keyring started for this test (no service activation, so
//! nothing else starts behind our back), checked from outside with
//! libsecret's `secret-tool`.
//!
//! One test function in its own binary: the D-Bus address and
//! `CAIRN_CREDENTIAL_STORE` are process-wide environment variables.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cairn_client::{
    default_credential_store, CredentialStore, FileCredentialStore, StoredCredentials,
    CREDENTIAL_STORE_VAR,
};
use cairn_protocol::{DeviceId, UserId};

const KEYRING_PASSWORD: &str = "test keyring password";

fn sample(token: &str) -> StoredCredentials {
    StoredCredentials {
        server_url: "http://127.0.0.1:1".to_owned(),
        user_id: UserId::new("key", "abc").unwrap(),
        device_id: Some(DeviceId::parse("d1").unwrap()),
        access_token: format!("access-{token}"),
        access_expires_at: 10,
        refresh_token: format!("refresh-{token}"),
        refresh_expires_at: 20,
        account_name: Some("octocat".into()),
    }
}

/// A session bus with only what this test starts on it.
struct Bus {
    daemon: Child,
    address: String,
}

impl Bus {
    fn start(dir: &Path) -> Bus {
        let socket = dir.join("bus");
        let config = dir.join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                socket.display()
            ),
        )
        .unwrap();
        let daemon = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .arg("--nofork")
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (package dbus-daemon; scripts/setup.sh installs it)");
        wait_for(|| socket.exists(), "the bus socket");
        Bus {
            daemon,
            address: format!("unix:path={}", socket.display()),
        }
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        // Already gone (stopped by the test) is fine here.
        if self.daemon.kill().is_ok() {
            self.daemon.wait().ok();
        }
    }
}

/// GNOME Keyring's Secret Service, its login keyring unlocked with a known
/// password and kept under `home`, so a restart finds what was stored.
struct Keyring {
    daemon: Child,
}

impl Keyring {
    fn start(bus: &Bus, home: &Path) -> Keyring {
        let mut daemon = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .env("HOME", home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_RUNTIME_DIR", runtime_dir(home))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon (package gnome-keyring; scripts/setup.sh installs it)");
        // --unlock reads the password up to end of input.
        let mut stdin = daemon.stdin.take().unwrap();
        stdin.write_all(KEYRING_PASSWORD.as_bytes()).unwrap();
        drop(stdin);
        wait_for(
            || name_has_owner(bus, "org.freedesktop.secrets"),
            "the Secret Service on the bus",
        );
        Keyring { daemon }
    }

    fn stop(mut self) {
        self.daemon.kill().unwrap();
        self.daemon.wait().unwrap();
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        // Already gone (stopped by the test) is fine here.
        if self.daemon.kill().is_ok() {
            self.daemon.wait().ok();
        }
    }
}

fn runtime_dir(home: &Path) -> PathBuf {
    let dir = home.join("run");
    std::fs::create_dir_all(&dir).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    dir
}

fn name_has_owner(bus: &Bus, name: &str) -> bool {
    Command::new("dbus-send")
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            &format!("string:{name}"),
        ])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"))
}

fn wait_for(mut done: impl FnMut() -> bool, what: &str) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What the Secret Service holds for this data dir, asked through libsecret
/// rather than through the code under test.
fn keyring_entry(bus: &Bus, data_dir: &Path) -> Option<String> {
    let out = Command::new("secret-tool")
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .args(["lookup", "service", "cairn", "username"])
        .arg(format!("session:{}", data_dir.display()))
        .output()
        .expect("secret-tool (package libsecret-tools; scripts/setup.sh installs it)");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
        .filter(|s| !s.is_empty())
}

fn file_text(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join("credentials.json")).unwrap()
}

fn file_mode(data_dir: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(data_dir.join("credentials.json"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn sessions_live_in_the_secret_service_and_fall_back_to_a_private_file() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let data = tmp.path().join("cairn");
    std::fs::create_dir_all(&home).unwrap();
    let bus = Bus::start(tmp.path());
    let keyring = Keyring::start(&bus, &home);
    std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &bus.address);
    std::env::remove_var(CREDENTIAL_STORE_VAR);
    let store = || default_credential_store(&data);

    // A session signed in before there was a keychain sits in the file;
    // it is read from there, and the next save moves it into the keychain.
    FileCredentialStore::new(data.join("credentials.json"))
        .save(&sample("one"))
        .unwrap();
    assert_eq!(store().load().unwrap(), Some(sample("one")));
    store().save(&sample("two")).unwrap();
    let in_keyring = keyring_entry(&bus, &data).expect("the session is in the keyring");
    assert!(in_keyring.contains("refresh-two"), "{in_keyring}");
    let pointer = file_text(&data);
    assert!(
        !pointer.contains("access-") && !pointer.contains("refresh-"),
        "no token left in the file: {pointer}"
    );
    assert!(pointer.contains("os-keychain"), "{pointer}");
    assert_eq!(store().load().unwrap(), Some(sample("two")));
    assert!(
        store().describe().contains("keychain"),
        "{}",
        store().describe()
    );

    // The keychain goes away: reading says so instead of "signed out", and
    // the file still points at the keychain, so nothing is lost.
    keyring.stop();
    let err = store().load().expect_err("the keychain is gone");
    assert!(err.to_string().contains("OS keychain"), "{err}");
    assert!(file_text(&data).contains("os-keychain"));

    // Insisting on the keychain refuses to save elsewhere.
    std::env::set_var(CREDENTIAL_STORE_VAR, "keychain");
    assert!(store().save(&sample("three")).is_err());
    assert!(
        file_text(&data).contains("os-keychain"),
        "the file is untouched"
    );

    // Nor does the default: a session that lives in the keychain is not
    // moved into a plain file because the keychain is away for a while.
    std::env::remove_var(CREDENTIAL_STORE_VAR);
    let err = store().save(&sample("four")).expect_err("keychain away");
    assert!(err.to_string().contains("OS keychain"), "{err}");
    assert!(
        file_text(&data).contains("os-keychain"),
        "the file is untouched"
    );

    // Reading the pointer with the keychain turned off says what it is.
    std::env::set_var(CREDENTIAL_STORE_VAR, "file");
    let err = store().load().expect_err("a pointer, not tokens");
    assert!(err.to_string().contains("kept in the OS keychain"), "{err}");
    std::env::remove_var(CREDENTIAL_STORE_VAR);

    // A new sign-in on a machine without a keychain keeps the session in a
    // file only this user can read.
    let headless = tmp.path().join("headless");
    default_credential_store(&headless)
        .save(&sample("four"))
        .unwrap();
    assert!(file_text(&headless).contains("refresh-four"));
    assert_eq!(file_mode(&headless), 0o600);
    assert_eq!(
        default_credential_store(&headless).load().unwrap(),
        Some(sample("four"))
    );

    // The keyring comes back from its files on disk, unlocked by the same
    // password, with the session as it was; the file's session moves in at
    // its next save.
    let keyring = Keyring::start(&bus, &home);
    assert_eq!(store().load().unwrap(), Some(sample("two")));
    store().save(&sample("five")).unwrap();
    assert!(keyring_entry(&bus, &data).is_some_and(|e| e.contains("refresh-five")));
    default_credential_store(&headless)
        .save(&sample("five"))
        .unwrap();
    assert!(keyring_entry(&bus, &headless).is_some_and(|e| e.contains("refresh-five")));
    assert!(!file_text(&headless).contains("refresh-"));

    // `file` never touches the keychain.
    let other = tmp.path().join("other");
    std::env::set_var(CREDENTIAL_STORE_VAR, "file");
    default_credential_store(&other)
        .save(&sample("six"))
        .unwrap();
    assert_eq!(keyring_entry(&bus, &other), None);
    assert!(file_text(&other).contains("refresh-six"));

    // A value that names no store is an error on every use.
    std::env::set_var(CREDENTIAL_STORE_VAR, "vault");
    let err = store().load().expect_err("misconfigured");
    assert!(err.to_string().contains("CAIRN_CREDENTIAL_STORE"), "{err}");

    // Signing out removes the entry and the file.
    std::env::remove_var(CREDENTIAL_STORE_VAR);
    store().clear().unwrap();
    assert_eq!(keyring_entry(&bus, &data), None);
    assert!(!data.join("credentials.json").exists());
    assert_eq!(store().load().unwrap(), None);
    drop(keyring);
}
