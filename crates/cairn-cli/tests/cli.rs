//! The `cairn` commands end to end, and what they do with bad input.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;
use common::*;

#[test]
fn new_list_show_edit_tag_search_history() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path();
    let id = last_line(&ok(data, &["new", "Shopping\nmilk"]));
    let out = cairn_stdin(data, &["new"], Some("From stdin\nbody".as_bytes()));
    assert!(out.status.success());
    let id2 = last_line(&String::from_utf8(out.stdout).unwrap());
    assert_ne!(id, id2);
    assert_eq!(ok(data, &["show", &id]), "Shopping\nmilk");
    let out = cairn_stdin(
        data,
        &["edit", &id],
        Some("Shopping list\nmilk\neggs".as_bytes()),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(ok(data, &["show", &id]), "Shopping list\nmilk\neggs");
    ok(data, &["tag", &id, "+home", "food"]);
    ok(data, &["tag", &id, "-food"]);
    let shown: serde_json::Value =
        serde_json::from_str(&ok(data, &["show", &id, "--json"])).unwrap();
    assert_eq!(shown["tags"], serde_json::json!(["home"]));
    let listed: serde_json::Value =
        serde_json::from_str(&ok(data, &["list", "--tag", "home", "--json"])).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], id);
    let found: serde_json::Value =
        serde_json::from_str(&ok(data, &["search", "egg", "--json"])).unwrap();
    assert_eq!(found[0]["id"], id);
    let hist: serde_json::Value =
        serde_json::from_str(&ok(data, &["history", &id, "--json"])).unwrap();
    let versions = hist.as_array().unwrap();
    assert_eq!(versions.len(), 4);
    let first = versions[0]["version"].as_str().unwrap();
    assert_eq!(ok(data, &["show", &id, "--at", first]), "Shopping\nmilk");
    ok(data, &["trash", &id]);
    assert!(!ok(data, &["list"]).contains(&id));
    assert!(ok(data, &["list", "--trashed"]).contains(&id));
    // A trashed note keeps its tags as they were, and says why.
    let refused = cairn(data, &["tag", &id, "+later"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("in the trash"),
        "{}",
        stderr(&refused)
    );
    ok(data, &["restore", &id]);
    assert!(ok(data, &["list"]).contains(&id));
    ok(data, &["delete", &id2]);
    assert!(!ok(data, &["list"]).contains(&id2));
}

#[test]
fn unknown_id_and_bad_stdin_fail_clearly_and_change_nothing() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path();
    let id = last_line(&ok(data, &["new", "keep me"]));
    let missing = "00000000-0000-4000-8000-000000000000";
    for args in [
        vec!["show", missing],
        vec!["trash", missing],
        vec!["history", missing],
        vec!["tag", missing, "+x"],
    ] {
        let out = cairn(data, &args);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            stderr(&out).contains("no note with id"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let out = cairn_stdin(data, &["edit", &id], Some(b"caf\xe9 latin-1\n"));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not valid UTF-8"), "{}", stderr(&out));
    let out = cairn_stdin(data, &["new"], Some(b"\xff"));
    assert!(!out.status.success());
    assert_eq!(ok(data, &["show", &id]), "keep me");
    assert_eq!(ok(data, &["list"]).lines().count(), 1);
    let out = cairn(data, &["show", &id, "--at", "not-a-version"]);
    assert!(stderr(&out).contains("no version"), "{}", stderr(&out));
}

#[test]
fn corrupt_chunk_names_the_note_and_leaves_the_rest() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path();
    let good = last_line(&ok(data, &["new", "good"]));
    let bad = last_line(&ok(data, &["new", "bad"]));
    let conn = rusqlite::Connection::open(data.join("cairn.db")).unwrap();
    conn.execute(
        "UPDATE chunk SET data = X'856F4A83000000' WHERE note_id = ?1",
        [&bad],
    )
    .unwrap();
    drop(conn);
    let out = cairn(data, &["show", &bad]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("corrupt") && err.contains(&bad), "{err}");
    assert_eq!(ok(data, &["show", &good]), "good");
    let out = cairn_stdin(data, &["edit", &bad], Some(b"new text"));
    assert!(!out.status.success());
}

#[test]
fn newer_schema_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path();
    ok(data, &["new", "x"]);
    let conn = rusqlite::Connection::open(data.join("cairn.db")).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let out = cairn(data, &["list"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("schema version 99"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn import_export_round_trip_keeps_text_tags_and_dates() {
    let src = tempfile::tempdir().unwrap();
    std::fs::write(
        src.path().join("a.md"),
        "---\ncreated: 2021-03-04T05:06:07.890Z\nmodified: 2022-01-02T03:04:05.000Z\ntags: [travel, ideas]\npinned: true\n---\n# Lisbon\n\nTrams, tiles — and pastéis 😀\n",
    )
    .unwrap();
    std::fs::write(src.path().join("b.md"), "Plain note without front matter").unwrap();
    std::fs::write(src.path().join("ignored.txt"), "not markdown").unwrap();
    let d = tempfile::tempdir().unwrap();
    let out = ok(d.path(), &["import", src.path().to_str().unwrap()]);
    assert!(out.contains("imported 2 notes"), "{out}");
    let exp = tempfile::tempdir().unwrap();
    ok(d.path(), &["export", exp.path().to_str().unwrap()]);
    // Import the export into a fresh store and export again: same notes.
    let d2 = tempfile::tempdir().unwrap();
    ok(d2.path(), &["import", exp.path().to_str().unwrap()]);
    let list1: serde_json::Value =
        serde_json::from_str(&ok(d.path(), &["list", "--json"])).unwrap();
    let list2: serde_json::Value =
        serde_json::from_str(&ok(d2.path(), &["list", "--json"])).unwrap();
    let strip = |v: &serde_json::Value| -> Vec<serde_json::Value> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|n| {
                let mut n = n.clone();
                n.as_object_mut().unwrap().remove("id");
                n
            })
            .collect()
    };
    assert_eq!(strip(&list1), strip(&list2));
    let lisbon = list2
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["title"] == "Lisbon")
        .unwrap();
    assert_eq!(lisbon["tags"], serde_json::json!(["ideas", "travel"]));
    assert_eq!(lisbon["created_ms"], 1_614_834_367_890i64);
    assert_eq!(lisbon["modified_ms"], 1_641_092_645_000i64);
    assert_eq!(lisbon["pinned"], true);
    let body = ok(d2.path(), &["show", lisbon["id"].as_str().unwrap()]);
    assert_eq!(body, "# Lisbon\n\nTrams, tiles — and pastéis 😀\n");
}

#[test]
fn full_disk_is_reported_and_acknowledged_notes_survive() {
    let fs = Tmpfs::mount("1m");
    let data = fs.dir.path().join("store");
    let mut acknowledged = Vec::new();
    let big = "lorem ipsum dolor sit amet ".repeat(400);
    let mut failure = None;
    for i in 0..400 {
        let out = cairn(&data, &["new", &format!("note {i}\n{big}")]);
        if out.status.success() {
            acknowledged.push(last_line(&String::from_utf8(out.stdout).unwrap()));
        } else {
            failure = Some(stderr(&out));
            break;
        }
    }
    let err = failure.expect("the 1 MB disk never filled up");
    assert!(err.contains("disk is full"), "{err}");
    assert!(!acknowledged.is_empty());
    fs.remount("size=64m");
    for id in &acknowledged {
        assert!(ok(&data, &["show", id]).starts_with("note "));
    }
    let conn = rusqlite::Connection::open(data.join("cairn.db")).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn read_only_disk_is_reported_and_nothing_changes() {
    let fs = Tmpfs::mount("16m");
    let data = fs.dir.path().join("store");
    let id = last_line(&ok(&data, &["new", "written before"]));
    fs.remount("ro");
    let out = cairn(&data, &["new", "after"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("read-only"), "{}", stderr(&out));
    let out = cairn_stdin(&data, &["edit", &id], Some(b"changed"));
    assert!(!out.status.success());
    fs.remount("rw");
    assert_eq!(ok(&data, &["show", &id]), "written before");
    assert_eq!(ok(&data, &["list"]).lines().count(), 1);
}
