//! A damaged database is noticed at open and repaired with nothing lost.
//! One byte is flipped in a page of the search index, as a failing disk
//! or an interrupted copy would: every command then refuses to work on
//! the damaged file, naming the damaged part, until `cairn repair`
//! rebuilds the index from the notes' documents.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::path::Path;

use common::{cairn, last_line, ok, stderr};

fn damage_page_of(db: &Path, table: &str) {
    cairn_core::damage::flip_page_of(db, table).unwrap();
}

fn crashed_with_the_store_open(data: &Path) {
    cairn_core::damage::leave_crash_marker(data).unwrap();
}

fn note_ids(data: &Path) -> Vec<String> {
    let list: serde_json::Value = serde_json::from_str(&ok(data, &["list", "--json"])).unwrap();
    let mut ids: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_damaged_search_index_is_reported_at_open_and_repaired_losing_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let mut bodies = Vec::new();
    for i in 0..30 {
        let body = format!("Cairn note {i}\nwalked up granite ridge number {i}");
        last_line(&ok(data, &["new", &body]));
        bodies.push(body);
    }
    let tagged = last_line(&ok(data, &["new", "Tagged one\nthe summit log"]));
    // Ids are random: the note shown below may be this one.
    bodies.push("Tagged one\nthe summit log".to_owned());
    ok(data, &["tag", &tagged, "+hills"]);
    let before = note_ids(data);
    assert_eq!(before.len(), 31);

    damage_page_of(&data.join("cairn.db"), "notes_fts_data");
    crashed_with_the_store_open(data);

    // Reported at open, by every command, naming the part.
    for args in [
        &["list"][..],
        &["search", "granite"][..],
        &["new", "written onto a damaged file?"][..],
    ] {
        let out = cairn(data, args);
        assert!(!out.status.success(), "cairn {args:?} must refuse");
        let err = stderr(&out);
        assert!(err.contains("the search index"), "{args:?}: {err}");
        assert!(err.contains("cairn repair"), "{args:?}: {err}");
    }

    let out = ok(data, &["repair"]);
    assert!(out.contains("damaged: the search index"), "{out}");
    assert!(out.contains("31 notes"), "{out}");

    // Nothing lost: the same notes, their bodies and tags, and search works.
    assert_eq!(note_ids(data), before);
    let hits: serde_json::Value =
        serde_json::from_str(&ok(data, &["search", "granite", "--json"])).unwrap();
    assert_eq!(hits.as_array().unwrap().len(), 30);
    let hits: serde_json::Value =
        serde_json::from_str(&ok(data, &["search", "summit", "--json"])).unwrap();
    assert_eq!(hits.as_array().unwrap().len(), 1);
    let shown = ok(data, &["show", &before[0]]);
    assert!(bodies.iter().any(|b| shown.trim_end() == b), "{shown}");
    let listed = ok(data, &["list", "--tag", "hills"]);
    assert!(listed.contains(&tagged), "{listed}");
    // Writing works again.
    ok(data, &["new", "after the repair"]);

    let conn = rusqlite::Connection::open(data.join("cairn.db")).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    // The damaged file is kept beside it.
    let kept = cairn_core::damage::damaged_copy_kept(data);
    assert!(kept);
    // A sound store needs no repair.
    assert!(ok(data, &["repair"]).contains("nothing to repair"));
}

/// Damage that comes while the store is closed cleanly is not looked for at
/// open (the check reads every page); the first command that meets it says
/// so, and from then on every open checks and names the damaged part.
#[test]
fn damage_met_while_working_is_named_at_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    for i in 0..30 {
        ok(data, &["new", &format!("Ridge {i}\ngranite all the way")]);
    }
    damage_page_of(&data.join("cairn.db"), "notes_fts_data");

    let out = cairn(data, &["search", "granite"]);
    assert!(
        !out.status.success(),
        "a search on a damaged index must fail"
    );
    let err = stderr(&out);
    assert!(
        err.contains("is damaged") && err.contains("cairn repair"),
        "{err}"
    );
    assert!(
        !err.contains("malformed"),
        "SQLite's words are not the message: {err}"
    );

    for args in [&["list"][..], &["new", "written onto a damaged file?"][..]] {
        let out = cairn(data, args);
        assert!(!out.status.success(), "cairn {args:?} must refuse");
        let err = stderr(&out);
        assert!(err.contains("the search index"), "{args:?}: {err}");
    }
    assert!(ok(data, &["repair"]).contains("damaged: the search index"));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&ok(data, &["search", "granite", "--json"]))
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        30
    );
}
