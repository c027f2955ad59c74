//! Kill `cairn` with SIGKILL while it writes, again and again, then check
//! that every edit whose command returned is there and the database is
//! sound.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;
use common::*;

use rand::{Rng, SeedableRng};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn sigkill_mid_write_loses_nothing_acknowledged() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path();
    let note = last_line(&ok(data, &["new", "log\n"]));
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let mut created = Vec::new(); // (id, text) of acknowledged `new`s
    let mut last_body: Option<String> = None; // last acknowledged edit of `note`
    let mut killed = 0;
    let mut body = String::from("log\n");
    for i in 0..120 {
        let edit = i % 2 == 0;
        let len = if edit {
            rng.gen_range(0..40)
        } else {
            rng.gen_range(0..3000)
        };
        let text = format!("entry {i} {}", "x".repeat(len));
        let mut cmd = Command::new(CAIRN);
        cmd.arg("--data-dir").arg(data);
        let candidate = format!("{body}{text}\n");
        if edit {
            cmd.args(["edit", &note]);
        } else {
            cmd.args(["new", &text]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            if edit {
                stdin.write_all(candidate.as_bytes()).unwrap();
            }
        }
        // Kill about half the commands at a random moment of their run.
        if rng.gen_bool(0.5) {
            std::thread::sleep(Duration::from_micros(rng.gen_range(0..15_000)));
            if child.kill().is_ok() {
                killed += 1;
            }
        }
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            if edit {
                body = candidate.clone();
                last_body = Some(candidate);
            } else {
                created.push((last_line(&String::from_utf8(out.stdout).unwrap()), text));
            }
        } else if edit {
            // The edit may or may not have landed before the kill; either
            // way the store must hold one of the two bodies. Continue from
            // whatever is stored.
            let stored = ok(data, &["show", &note]);
            assert!(
                stored == body || stored == candidate,
                "torn edit: {stored:?}"
            );
            body = stored;
        }
    }
    assert!(killed > 20, "only {killed} kills");
    assert!(
        created.len() > 10,
        "only {} acknowledged creates",
        created.len()
    );
    for (id, text) in &created {
        assert_eq!(&ok(data, &["show", id]), text);
    }
    if let Some(b) = last_body {
        let stored = ok(data, &["show", &note]);
        assert!(
            stored.starts_with(b.trim_end()) || stored == b,
            "lost an acknowledged edit"
        );
    }
    assert_eq!(ok(data, &["show", &note]), body);
    let conn = rusqlite::Connection::open(data.join("cairn.db")).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}
