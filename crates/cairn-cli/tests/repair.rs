//! A damaged database is noticed at open and repaired with nothing lost.
//! One byte is flipped in a page of the search index, as a failing disk
//! or an interrupted copy would: every command then refuses to work on
//! the damaged file, naming the damaged part, until `cairn repair`
//! rebuilds the index from the notes' documents.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use common::{cairn, last_line, ok, stderr};

/// Flips a byte in the b-tree header of the first page of `table`.
fn damage_page_of(db: &Path, table: &str) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let page: i64 = conn
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = ?1",
            [table],
            |r| r.get(0),
        )
        .unwrap();
    let page_size: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(conn);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(db)
        .unwrap();
    // Byte 0 of a b-tree page is its type (2, 5, 10 or 13); 0xFF is none.
    let offset = (page - 1) * page_size;
    file.seek(SeekFrom::Start(offset as u64)).unwrap();
    let mut kind = [0u8];
    file.read_exact(&mut kind).unwrap();
    assert!(
        matches!(kind[0], 2 | 5 | 10 | 13),
        "a b-tree page: {kind:?}"
    );
    file.seek(SeekFrom::Start(offset as u64)).unwrap();
    file.write_all(&[0xFF]).unwrap();
    file.sync_all().unwrap();
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
    ok(data, &["tag", &tagged, "+hills"]);
    let before = note_ids(data);
    assert_eq!(before.len(), 31);

    damage_page_of(&data.join("cairn.db"), "notes_fts_data");

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
    let kept = std::fs::read_dir(data)
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("cairn.db.damaged-")
        });
    assert!(kept);
    // A sound store needs no repair.
    assert!(ok(data, &["repair"]).contains("nothing to repair"));
}
