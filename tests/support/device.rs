//! A device in a scenario: its own data dir, driven through the real
//! `cairn` binary (sign-in, sync, status) and read or edited through the
//! core store in-process while no `cairn` runs on it.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use cairn_core::Store;
use rand::seq::SliceRandom;
use rand::Rng;

use crate::cloud::Cloud;

/// The `cairn` binary built beside this test (`scripts/test.sh` builds
/// every binary before `cargo test`).
pub fn cairn_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/<test> -> target/debug/cairn
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join(format!("cairn{}", std::env::consts::EXE_SUFFIX)))
        .expect("target dir");
    assert!(
        bin.exists(),
        "the cairn binary is missing at {}: build it first (`cargo build -p cairn-cli`, \
         or run scripts/test.sh, which builds every binary before the tests)",
        bin.display()
    );
    bin
}

fn command(data: &Path, args: &[&str], env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(cairn_bin());
    cmd.arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("CAIRN_ACCOUNT_KEY")
        .env_remove("CAIRN_DATA_DIR")
        // Sessions in files, never in the keychain of whoever runs the
        // tests; the scenarios read them back through `device::credentials`.
        .env("CAIRN_CREDENTIAL_STORE", "file")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Where the tests' devices keep their sessions: a file, as `command`
/// tells every `cairn` it starts.
pub fn credential_store(data: &Path) -> cairn_client::FileCredentialStore {
    cairn_client::FileCredentialStore::new(data.join("credentials.json"))
}

/// A fresh account on the service at `server`, made by the `cairn` of the
/// device whose data dir is `device`; returns its key.
pub fn create_account_at(server: &str, device: &Path, env: &[(String, String)]) -> String {
    let out = run_cairn(device, &["account", "create", "--server", server], env);
    assert!(
        out.status.success(),
        "account create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .expect("the key on the last line")
        .trim()
        .to_owned()
}

pub fn run_cairn(data: &Path, args: &[&str], env: &[(String, String)]) -> Output {
    command(data, args, env).output().expect("cairn runs")
}

/// What one `cairn sync` said.
#[derive(Debug)]
pub struct SyncRun {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl SyncRun {
    /// Requests the round reported ("... (N requests, ...)").
    pub fn requests(&self) -> Option<u64> {
        let line = self.stdout.lines().find(|l| l.contains(" requests, "))?;
        let open = line.rfind('(')?;
        line[open + 1..].split(' ').next()?.parse().ok()
    }

    /// Nothing published, nothing merged.
    pub fn up_to_date(&self) -> bool {
        self.success && self.stdout.trim_start().starts_with("up to date")
    }

    pub fn merged_notes(&self) -> usize {
        self.stdout
            .split("merged ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}

/// One note as every device must end up seeing it; the core's tests judge
/// convergence by the same view.
pub use cairn_core::testing::{NoteView, StoreView as NotesView};

/// Every scenario user's passphrase.
pub const PASSPHRASE: &str = "correct horse battery staple";

pub struct Device {
    pub name: String,
    dir: tempfile::TempDir,
    /// Signing in to a cloud adds its clock file.
    env: Mutex<Vec<(String, String)>>,
}

impl Device {
    /// A device of a user whose passphrase (for end-to-end encryption)
    /// is [`PASSPHRASE`].
    pub fn new(name: &str) -> Device {
        Device {
            name: name.to_owned(),
            dir: tempfile::tempdir().expect("tempdir"),
            env: Mutex::new(vec![("CAIRN_PASSPHRASE".to_owned(), PASSPHRASE.to_owned())]),
        }
    }

    /// Every `cairn` this device runs gets `key=value` in its environment.
    pub fn with_env(self, key: &str, value: &str) -> Device {
        self.set_env(key, value);
        self
    }

    fn set_env(&self, key: &str, value: &str) {
        let mut env = self.env.lock().expect("env");
        env.retain(|(k, _)| k != key);
        env.push((key.to_owned(), value.to_owned()));
    }

    fn env(&self) -> Vec<(String, String)> {
        self.env.lock().expect("env").clone()
    }

    /// This device's `cairn` processes read `cloud`'s clock.
    pub fn use_clock_of(&self, cloud: &Cloud) {
        self.set_env(
            cairn_client::CLOCK_FILE_ENV,
            &cloud.clock_file().display().to_string(),
        );
    }

    /// The session `cairn` keeps for this device, loaded in this process
    /// on `cloud`'s clock (no `cairn` may refresh it meanwhile).
    pub fn session(&self, cloud: &Cloud) -> Arc<cairn_client::Session> {
        let session =
            cairn_client::Session::load(Box::new(credential_store(self.dir())), cloud.clock())
                .expect("credentials readable")
                .expect("signed in");
        Arc::new(session)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn run(&self, args: &[&str]) -> Output {
        run_cairn(self.dir(), args, &self.env())
    }

    /// Runs `cairn` with `key=value` added to the environment for this
    /// command only.
    pub fn run_with_env(&self, args: &[&str], key: &str, value: &str) -> Output {
        let mut env = self.env();
        env.push((key.to_owned(), value.to_owned()));
        run_cairn(self.dir(), args, &env)
    }

    /// Runs `cairn` and requires success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{}: cairn {args:?} failed: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts `cairn` without waiting (to kill it).
    pub fn spawn(&self, args: &[&str]) -> Child {
        command(self.dir(), args, &self.env())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cairn starts")
    }

    pub fn login(&self, cloud: &Cloud, key: &str) {
        self.use_clock_of(cloud);
        self.login_at(&cloud.url(), key);
    }

    /// Signs in to the service at `server` (on this machine's clock).
    pub fn login_at(&self, server: &str, key: &str) {
        self.ok(&[
            "login",
            "--server",
            server,
            "--account-key",
            key,
            "--name",
            &self.name,
        ]);
    }

    pub fn sync(&self) -> SyncRun {
        let out = self.run(&["sync"]);
        SyncRun {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `cairn sync` that must succeed.
    pub fn sync_ok(&self) -> SyncRun {
        let run = self.sync();
        assert!(
            run.success,
            "{}: cairn sync failed:\n{}{}",
            self.name, run.stdout, run.stderr
        );
        run
    }

    pub fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["status", "--json"])).expect("status is JSON")
    }

    /// The grant `cairn sync` keeps beside the credentials.
    pub fn grant(&self) -> cairn_protocol::Grant {
        let bytes = std::fs::read(self.dir().join("grant.json")).expect("a grant (sync first)");
        serde_json::from_slice(&bytes).expect("grant JSON")
    }

    pub fn device_id(&self) -> String {
        self.grant().device_id.as_str().to_owned()
    }

    /// The real HTTP transport over this device's grant, for reading and
    /// writing objects exactly as the device would.
    pub fn transport(&self, cloud: &Cloud) -> cairn_client::HttpTransport {
        cairn_client::HttpTransport::new(self.grant(), cloud.runtime().handle().clone())
            .expect("transport")
    }

    /// The content key login unlocked on this device.
    pub fn content_key(&self) -> cairn_core::crypto::ContentKey {
        cairn_client::encryption::load_content_key(self.dir())
            .expect("key file readable")
            .expect("a content key (log in first)")
    }

    /// The device's store, opened in this process (no `cairn` may run on
    /// it meanwhile).
    pub fn store(&self) -> Store {
        Store::open(self.dir()).expect("store opens")
    }

    /// The store for bulk writes: commits are not fsynced one by one.
    pub fn bulk_store(&self) -> Store {
        cairn_core::testing::open_scratch(self.dir()).expect("store opens")
    }

    /// Every note, trashed ones included, with its Automerge heads.
    pub fn notes(&self) -> NotesView {
        cairn_core::testing::view_of(&mut self.store()).expect("notes read")
    }

    /// The note ids `cairn list --json` shows (trash excluded).
    pub fn listed_ids(&self) -> Vec<String> {
        let list: Vec<serde_json::Value> =
            serde_json::from_str(&self.ok(&["list", "--json"])).expect("list is JSON");
        let mut ids: Vec<String> = list
            .iter()
            .map(|n| n["id"].as_str().expect("id").to_owned())
            .collect();
        ids.sort();
        ids
    }
}

/// Runs `cairn sync` on every device, in random order, pass after pass,
/// until a whole pass moves nothing and every device says its changes are
/// on all devices. Returns the number of passes; panics after `max_passes`.
pub fn settle(devices: &[&Device], rng: &mut impl Rng, max_passes: usize) -> usize {
    for pass in 1..=max_passes {
        let mut order: Vec<&&Device> = devices.iter().collect();
        order.shuffle(rng);
        let mut quiet = true;
        for d in order {
            quiet &= d.sync_ok().up_to_date();
        }
        if quiet && devices.iter().all(|d| d.status()["on_all_devices"] == true) {
            return pass;
        }
    }
    panic!("sync did not settle in {max_passes} passes");
}

/// Every device holds the same notes: ids, Automerge heads, bodies, tags,
/// trash and pin state. Returns the common view.
pub fn assert_converged(devices: &[&Device]) -> NotesView {
    let views: Vec<NotesView> = devices.iter().map(|d| d.notes()).collect();
    let named: Vec<(&str, &NotesView)> = devices
        .iter()
        .map(|d| d.name.as_str())
        .zip(views.iter())
        .collect();
    cairn_core::testing::assert_same_views(&named);
    for d in &devices[1..] {
        assert_eq!(
            d.listed_ids(),
            devices[0].listed_ids(),
            "`cairn list` differs on {}",
            d.name
        );
    }
    views.into_iter().next().unwrap_or_default()
}
