//! Running the real `cairn` binary from tests.

#![allow(clippy::unwrap_used)] // tests fail loudly by design
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub const CAIRN: &str = env!("CARGO_BIN_EXE_cairn");

pub fn cairn(data: &Path, args: &[&str]) -> Output {
    cairn_stdin(data, args, None)
}

/// Runs cairn with extra environment variables.
pub fn cairn_env(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(CAIRN)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("CAIRN_CREDENTIAL_STORE", "file")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run cairn")
}

pub fn cairn_stdin(data: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(CAIRN)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        // Tests keep sessions in files, never in the keychain of whoever
        // runs them (crates/cairn-client/tests/secret_service.rs covers it).
        .env("CAIRN_CREDENTIAL_STORE", "file")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cairn");
    {
        let mut input = child.stdin.take().expect("stdin");
        if let Some(bytes) = stdin {
            input.write_all(bytes).expect("write stdin");
        }
    }
    child.wait_with_output().expect("wait cairn")
}

/// Runs cairn and requires success; returns stdout.
pub fn ok(data: &Path, args: &[&str]) -> String {
    let out = cairn(data, args);
    assert!(
        out.status.success(),
        "cairn {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// The id a `cairn new` printed on its last line.
pub fn last_line(s: &str) -> String {
    s.lines().last().unwrap_or_default().trim().to_string()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A tmpfs mounted on a temporary directory, unmounted on drop. Tests of
/// full and read-only disks need a real file system in that state.
pub struct Tmpfs {
    pub dir: tempfile::TempDir,
}

impl Tmpfs {
    pub fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().expect("tempdir");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a tmpfs failed: the full-disk and read-only tests need root (CI runs as root)"
        );
        Tmpfs { dir }
    }

    pub fn remount(&self, opts: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{opts}")])
            .arg(self.dir.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "remount {opts} failed");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _status = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}
