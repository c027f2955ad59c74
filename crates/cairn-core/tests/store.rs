//! The store seen from outside: notes in, notes out, through reopen,
//! corruption and merging.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use cairn_core::{CoreError, EventKind, ListQuery, ManualClock, Origin, Store, StoreOptions};
use std::sync::Arc;
use std::time::Duration;

fn open(dir: &std::path::Path, clock: &ManualClock) -> Store {
    Store::open_with(
        dir,
        StoreOptions {
            clock: Arc::new(clock.clone()),
            ..StoreOptions::default()
        },
    )
    .unwrap()
}

#[test]
fn notes_survive_reopen_with_list_search_and_tags() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_700_000_000_000);
    let (a, b);
    {
        let mut s = open(dir.path(), &clock);
        a = s.create_note("Groceries\nmilk and bread").unwrap();
        clock.advance(Duration::from_millis(1000));
        b = s.create_note("# Trip to Lisbon\npastéis de nata").unwrap();
        s.tag(&a, &["home".into()], &[]).unwrap();
        clock.advance(Duration::from_millis(1000));
        s.set_pinned(&a, true).unwrap();
        s.splice(&b, 16, 0, " in May").unwrap();
    }
    let mut s = open(dir.path(), &clock);
    let list = s.list(&ListQuery::default()).unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].id, a, "pinned note comes first");
    assert_eq!(list[1].title, "Trip to Lisbon in May");
    assert_eq!(
        s.get(&b).unwrap().body,
        "# Trip to Lisbon in May\npastéis de nata"
    );
    assert_eq!(
        s.search("pasteis", 10).unwrap()[0].id,
        b,
        "diacritics folded"
    );
    assert_eq!(s.search("lisb", 10).unwrap()[0].id, b, "prefix match");
    assert!(s.search("nothing-here", 10).unwrap().is_empty());
    let home = s
        .list(&ListQuery {
            tag: Some("home".into()),
            ..ListQuery::default()
        })
        .unwrap();
    assert_eq!(home.len(), 1);
    assert_eq!(home[0].id, a);
    assert_eq!(s.tags().unwrap(), vec![("home".to_string(), 1)]);
}

#[test]
fn trash_restore_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    let id = s.create_note("to be trashed").unwrap();
    s.trash(&id).unwrap();
    assert!(s.list(&ListQuery::default()).unwrap().is_empty());
    assert!(s.search("trashed", 10).unwrap().is_empty());
    let trash = s
        .list(&ListQuery {
            trashed: true,
            ..ListQuery::default()
        })
        .unwrap();
    assert_eq!(trash.len(), 1);
    s.restore(&id).unwrap();
    assert_eq!(s.list(&ListQuery::default()).unwrap().len(), 1);
    s.delete(&id).unwrap();
    assert!(s.list(&ListQuery::default()).unwrap().is_empty());
    assert!(matches!(s.get(&id), Err(CoreError::NoteDeleted { .. })));
    assert!(matches!(
        s.splice(&id, 0, 0, "x"),
        Err(CoreError::NoteDeleted { .. })
    ));
    // The document stays for sync, as a tombstone.
    assert_eq!(s.all_note_ids().unwrap(), vec![id]);
}

#[test]
fn unknown_ids_and_bad_edits_are_refused_without_change() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    let id = s.create_note("abc").unwrap();
    let missing = uuid_like();
    assert!(matches!(
        s.get(&missing),
        Err(CoreError::NoteNotFound { .. })
    ));
    assert!(matches!(
        s.splice(&id, 10, 0, "x"),
        Err(CoreError::Invalid { .. })
    ));
    assert!(matches!(
        s.tag(&id, &["two words".into()], &[]),
        Err(CoreError::Invalid { .. })
    ));
    assert_eq!(s.get(&id).unwrap().body, "abc");
    assert_eq!(s.history(&id).unwrap().len(), 1);
}

fn uuid_like() -> String {
    "00000000-0000-4000-8000-000000000000".to_string()
}

#[test]
fn history_lists_versions_reads_them_and_restores_as_new_change() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_000);
    let mut s = open(dir.path(), &clock);
    let id = s.create_note("one").unwrap();
    clock.advance(Duration::from_millis(10));
    s.set_body(&id, "one two").unwrap();
    s.tag(&id, &["x".into()], &[]).unwrap();
    clock.advance(Duration::from_millis(10));
    s.set_body(&id, "one two three").unwrap();
    let h = s.history(&id).unwrap();
    assert_eq!(h.len(), 4);
    assert!(h.iter().all(|v| v.local));
    assert_eq!(h[0].time_ms, 1_000);
    assert_eq!(h[3].time_ms, 1_020);
    assert_eq!(s.note_at(&id, &h[0].version).unwrap().body, "one");
    assert_eq!(s.note_at(&id, &h[1].version).unwrap().body, "one two");
    assert!(matches!(
        s.note_at(&id, "zz"),
        Err(CoreError::VersionNotFound { .. })
    ));
    s.restore_version(&id, &h[0].version).unwrap();
    let n = s.get(&id).unwrap();
    assert_eq!(n.body, "one");
    assert!(n.tags.is_empty());
    assert_eq!(s.history(&id).unwrap().len(), 5, "restore is a new change");
    assert_eq!(s.search("three", 10).unwrap().len(), 0);
}

#[test]
fn many_edits_compact_and_reload_identically() {
    let dir = tempfile::tempdir().unwrap();
    let id;
    let body;
    {
        let mut s = Store::open(dir.path()).unwrap();
        id = s.create_note("start").unwrap();
        for i in 0..600 {
            s.splice(&id, 5, 0, &format!("{}", i % 10)).unwrap();
        }
        body = s.get(&id).unwrap().body;
    }
    let conn = rusqlite::Connection::open(dir.path().join(cairn_core::DB_FILE)).unwrap();
    let chunks: i64 = conn
        .query_row(
            "SELECT count(*) FROM chunk WHERE note_id = ?1",
            [&id],
            |r| r.get(0),
        )
        .unwrap();
    assert!(chunks < 300, "chunks were compacted, {chunks} left");
    let mut s = Store::open(dir.path()).unwrap();
    assert_eq!(s.get(&id).unwrap().body, body);
    assert_eq!(s.history(&id).unwrap().len(), 601);
}

#[test]
fn corrupt_chunk_is_reported_and_other_notes_are_fine() {
    let dir = tempfile::tempdir().unwrap();
    let (good, bad);
    {
        let mut s = Store::open(dir.path()).unwrap();
        good = s.create_note("good note").unwrap();
        bad = s.create_note("bad note").unwrap();
    }
    let conn = rusqlite::Connection::open(dir.path().join(cairn_core::DB_FILE)).unwrap();
    conn.execute(
        "UPDATE chunk SET data = X'DEADBEEF00' WHERE note_id = ?1",
        [&bad],
    )
    .unwrap();
    drop(conn);
    let mut s = Store::open(dir.path()).unwrap();
    let err = s.get(&bad).unwrap_err();
    assert!(matches!(err, CoreError::CorruptNote { .. }), "{err}");
    assert!(
        err.to_string().contains(&bad),
        "error names the note: {err}"
    );
    assert_eq!(s.get(&good).unwrap().body, "good note");
    assert_eq!(s.list(&ListQuery::default()).unwrap().len(), 2);
    assert!(s.splice(&bad, 0, 0, "x").is_err());
}

#[test]
fn merging_between_stores_keeps_index_right_and_marks_origin() {
    let da = tempfile::tempdir().unwrap();
    let db = tempfile::tempdir().unwrap();
    let mut a = Store::open(da.path()).unwrap();
    let mut b = Store::open(db.path()).unwrap();
    let id = a.create_note("shared note").unwrap();
    a.take_events();
    assert!(b.merge(&id, &a.save_note(&id).unwrap()).unwrap());
    assert_eq!(b.take_events()[0].origin, Origin::Merged);
    a.splice(&id, 0, 0, "A ").unwrap();
    b.splice(&id, 11, 0, " B").unwrap();
    let from_a = a.changes_after(&id, &b.heads(&id).unwrap()).unwrap();
    let from_b = b.changes_after(&id, &a.heads(&id).unwrap()).unwrap();
    assert!(a.merge(&id, &from_b).unwrap());
    assert!(b.merge(&id, &from_a).unwrap());
    assert!(
        !b.merge(&id, &from_a).unwrap(),
        "second time changes nothing"
    );
    assert_eq!(a.get(&id).unwrap().body, "A shared note B");
    assert_eq!(b.get(&id).unwrap().body, "A shared note B");
    assert_eq!(a.heads(&id).unwrap(), b.heads(&id).unwrap());
    assert_eq!(b.search("shared", 5).unwrap()[0].title, "A shared note B");
    let ev = b.take_events();
    assert!(ev
        .iter()
        .any(|e| e.origin == Origin::Local && e.kind == EventKind::Updated));
    assert_eq!(ev.last().map(|e| e.origin), Some(Origin::Merged));
    let err = b.merge(&id, b"not automerge").unwrap_err();
    assert!(matches!(err, CoreError::BadChanges { .. }), "{err}");
    assert_eq!(b.get(&id).unwrap().body, "A shared note B");
    let err = b.merge("../etc", b"x").unwrap_err();
    assert!(matches!(err, CoreError::Invalid { .. }));
}

#[test]
fn bytes_already_stored_are_recognised_and_new_ones_still_merge() {
    let da = tempfile::tempdir().unwrap();
    let db = tempfile::tempdir().unwrap();
    let mut a = Store::open(da.path()).unwrap();
    let mut b = Store::open(db.path()).unwrap();
    let id = a.create_note("first line").unwrap();
    let whole = a.save_note(&id).unwrap();
    // B stores A's bytes as they came; the same bytes again are nothing new.
    assert!(b.merge(&id, &whole).unwrap());
    assert!(!b.merge(&id, &whole).unwrap());
    // B's own change after them: A's bytes alone are still nothing new, the
    // pair in order neither, and A's next change is.
    b.splice(&id, 10, 0, " from B").unwrap();
    let b_change = b.changes_after(&id, &a.heads(&id).unwrap()).unwrap();
    assert!(!b.merge(&id, &whole).unwrap());
    assert!(!b.merge(&id, &[whole.clone(), b_change].concat()).unwrap());
    a.splice(&id, 0, 0, "A: ").unwrap();
    let a_change = a.changes_after(&id, &[]).unwrap();
    assert!(b.merge(&id, &a_change).unwrap());
    assert_eq!(b.get(&id).unwrap().body, "A: first line from B");
    // Bytes that merely start like stored ones are not taken for them.
    let mut damaged = whole.clone();
    damaged.push(0);
    assert!(b.merge(&id, &damaged).is_err());
    assert_eq!(b.get(&id).unwrap().body, "A: first line from B");
}

#[test]
fn newer_schema_is_refused_and_file_untouched() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = Store::open(dir.path()).unwrap();
        s.create_note("x").unwrap();
        s.checkpoint().unwrap();
    }
    let path = dir.path().join(cairn_core::DB_FILE);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", cairn_core::SCHEMA_VERSION + 5)
        .unwrap();
    drop(conn);
    let before = std::fs::read(&path).unwrap();
    let err = Store::open(dir.path()).err().unwrap();
    assert!(matches!(err, CoreError::SchemaTooNew { .. }), "{err}");
    assert!(err.to_string().contains("newer"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

/// The check for damage reads every page, so it runs when damage is likely:
/// the first open by this version, and after a process died with the
/// store open; not after a clean close, and not for a second open while
/// the first is still running.
#[test]
fn the_damage_check_runs_after_an_unclean_shutdown_only() {
    let dir = tempfile::tempdir().unwrap();
    let first = Store::open(dir.path()).unwrap();
    assert!(first.checked_at_open(), "first open by this version");
    let second = Store::open(dir.path()).unwrap();
    assert!(
        !second.checked_at_open(),
        "the first is still open and running"
    );
    drop(second);
    drop(first);
    assert!(
        !Store::open(dir.path()).unwrap().checked_at_open(),
        "closed cleanly"
    );

    // A process that died with the store open left its marker behind.
    cairn_core::damage::leave_crash_marker(dir.path()).unwrap();
    assert!(
        Store::open(dir.path()).unwrap().checked_at_open(),
        "after a crash"
    );
    assert!(
        !Store::open(dir.path()).unwrap().checked_at_open(),
        "once checked, the crash is dealt with"
    );
}

/// A note in the trash keeps its tags and pin as they were, and emptying
/// the trash deletes every trashed note and nothing else.
#[test]
fn trashed_notes_are_left_as_they_are_and_the_trash_empties() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    let kept = s.create_note("kept").unwrap();
    let gone: Vec<String> = (0..3)
        .map(|i| s.create_note(&format!("old {i}")).unwrap())
        .collect();
    for id in &gone {
        s.trash(id).unwrap();
    }
    let e = s.refuse_if_trashed(&gone[0]).unwrap_err();
    assert_eq!(e.code(), "note_trashed");
    s.refuse_if_trashed(&kept).unwrap();

    assert_eq!(s.empty_trash().unwrap(), 3);
    let trash = s
        .list(&cairn_core::ListQuery {
            trashed: true,
            ..Default::default()
        })
        .unwrap();
    assert!(trash.is_empty());
    assert_eq!(s.get(&kept).unwrap().body, "kept");
    assert_eq!(s.empty_trash().unwrap(), 0);
}

/// A new note left as it was is discarded; one with text, a tag or a pin
/// (from this device or merged from another) is kept.
#[test]
fn only_a_note_nothing_was_put_into_is_discarded() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    let blank = s.create_note("").unwrap();
    let spaces = s.create_note("  \n").unwrap();
    let typed = s.create_note("x").unwrap();
    let tagged = s.create_note("").unwrap();
    s.tag(&tagged, &["later".to_string()], &[]).unwrap();
    let pinned = s.create_note("").unwrap();
    s.set_pinned(&pinned, true).unwrap();

    assert!(s.discard_if_blank(&blank).unwrap());
    assert!(s.discard_if_blank(&spaces).unwrap());
    for kept in [&typed, &tagged, &pinned] {
        assert!(!s.discard_if_blank(kept).unwrap(), "{kept} was discarded");
    }
    // Once gone, asking again changes nothing.
    assert!(!s.discard_if_blank(&blank).unwrap());
    let left: Vec<String> = s
        .list(&Default::default())
        .unwrap()
        .into_iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(left.len(), 3);
    assert!(!left.contains(&blank) && !left.contains(&spaces));
}
