//! Links and backlinks: links survive renames (the target's id is stored),
//! backlinks follow edits made on another device, an unresolved link finds
//! a note that takes its title later (here or merged), following an
//! unresolved link creates the note, and notebooks keep notes in place
//! through delete and restore.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use cairn_core::{ListQuery, Place, Store};

fn open(dir: &std::path::Path) -> Store {
    Store::open(dir).unwrap()
}

fn ids(v: &[cairn_core::Backlink]) -> Vec<String> {
    v.iter().map(|b| b.id.clone()).collect()
}

#[test]
fn links_survive_renaming_their_target() {
    let d = tempfile::tempdir().unwrap();
    let mut s = open(d.path());
    let plan = s.create_note("Plan\nthe plan").unwrap();
    let a = s
        .create_note("Diary\nsee [[Plan]] and [[Plan#Goals|goals]]")
        .unwrap();
    // Created with its links in the body: resolved at the first edit.
    s.splice(&a, 0, 0, "").unwrap();
    s.set_body(&a, "Diary\nsee [[Plan]] and [[Plan#Goals|goals]]!")
        .unwrap();
    let links = s.links(&a).unwrap();
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0].target_id.as_deref(), Some(plan.as_str()));
    s.set_body(&plan, "Roadmap\nthe plan, renamed").unwrap();
    let links = s.links(&a).unwrap();
    assert_eq!(links[0].text, "Plan");
    assert_eq!(links[0].target_id.as_deref(), Some(plan.as_str()));
    assert_eq!(links[0].target_title.as_deref(), Some("Roadmap"));
    assert_eq!(ids(&s.backlinks(&plan).unwrap()), vec![a.clone()]);
    // The body keeps the text as typed.
    assert!(s.get(&a).unwrap().body.contains("[[Plan]]"));
    // A new note that takes the old title does not steal the link.
    let imposter = s.create_note("Plan\nanother").unwrap();
    assert!(s.backlinks(&imposter).unwrap().is_empty());
    assert_eq!(ids(&s.backlinks(&plan).unwrap()), vec![a]);
}

#[test]
fn unresolved_links_resolve_when_the_title_appears_and_following_creates_it() {
    let d = tempfile::tempdir().unwrap();
    let mut s = open(d.path());
    let a = s.create_note("A").unwrap();
    s.set_body(&a, "A\nto [[Later]] and [[Nowhere]]").unwrap();
    let links = s.links(&a).unwrap();
    assert!(links.iter().all(|l| l.target_id.is_none()), "{links:?}");
    let later = s.create_note("later\n").unwrap(); // ASCII case ignored
    let links = s.links(&a).unwrap();
    assert_eq!(links[0].target_id.as_deref(), Some(later.as_str()));
    assert_eq!(ids(&s.backlinks(&later).unwrap()), vec![a.clone()]);
    // Following the dangling one makes the note, in the source's notebook.
    let nb = s.create_notebook("Inbox", None).unwrap();
    s.move_note(&a, Some(&nb)).unwrap();
    let (made, created) = s.follow_link(&a, "Nowhere").unwrap();
    assert!(created);
    assert_eq!(s.get(&made).unwrap().title, "Nowhere");
    assert_eq!(
        s.places(std::slice::from_ref(&made)).unwrap()[0]
            .1
            .as_deref(),
        Some(nb.as_str())
    );
    let (again, created) = s.follow_link(&a, "Nowhere").unwrap();
    assert_eq!((again.as_str(), created), (made.as_str(), false));
    assert_eq!(ids(&s.backlinks(&made).unwrap()), vec![a]);
}

#[test]
fn backlinks_follow_edits_made_on_another_device() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = open(da.path());
    let mut b = open(db.path());
    let target = a.create_note("Target\n").unwrap();
    let source = a.create_note("Source\nnothing yet").unwrap();
    for id in [&target, &source] {
        let bytes = a.save_note(id).unwrap();
        b.merge(id, &bytes).unwrap();
    }
    assert!(a.backlinks(&target).unwrap().is_empty());
    // B links, A merges: the backlink is there on A, in the merge's
    // transaction, with the id B resolved.
    let before = a.heads(&source).unwrap();
    b.set_body(&source, "Source\nnow [[Target]]").unwrap();
    let bytes = b.changes_after(&source, &before).unwrap();
    a.merge(&source, &bytes).unwrap();
    assert_eq!(ids(&a.backlinks(&target).unwrap()), vec![source.clone()]);
    assert_eq!(
        a.links(&source).unwrap()[0].target_id.as_deref(),
        Some(target.as_str())
    );
    // B removes it again: gone on A too.
    let before = a.heads(&source).unwrap();
    b.set_body(&source, "Source\nunlinked").unwrap();
    a.merge(&source, &b.changes_after(&source, &before).unwrap())
        .unwrap();
    assert!(a.backlinks(&target).unwrap().is_empty());
    // A note that B makes later, titled as A's dangling link, is found by
    // that link once merged.
    a.set_body(&source, "Source\n[[From B]]").unwrap();
    let from_b = b.create_note("From B\n").unwrap();
    a.merge(&from_b, &b.save_note(&from_b).unwrap()).unwrap();
    assert_eq!(ids(&a.backlinks(&from_b).unwrap()), vec![source]);
}

#[test]
fn deleting_a_notebook_trashes_its_notes_and_restoring_one_puts_it_back() {
    let d = tempfile::tempdir().unwrap();
    let mut s = open(d.path());
    let work = s.create_notebook("Work", None).unwrap();
    let proj = s.create_notebook("Projects", Some(&work)).unwrap();
    let deep = s.create_notebook("Deep", Some(&proj)).unwrap();
    let n1 = s.create_note("one").unwrap();
    let n2 = s.create_note("two").unwrap();
    let n3 = s.create_note("three").unwrap();
    s.move_note(&n1, Some(&work)).unwrap();
    s.move_note(&n2, Some(&deep)).unwrap();
    assert_eq!(s.find_notebook("Work/Projects/Deep").unwrap(), deep);
    let tree = s.notebooks().unwrap();
    let paths: Vec<(&str, usize, usize)> = tree
        .iter()
        .map(|n| (n.path.as_str(), n.notes, n.notes_total))
        .collect();
    assert_eq!(
        paths,
        vec![
            ("Work", 1, 2),
            ("Work/Projects", 0, 1),
            ("Work/Projects/Deep", 1, 1)
        ]
    );
    assert_eq!(s.unfiled_count().unwrap(), 1);
    assert_eq!(
        s.list_place(&Place::Notebook(work.clone()), true)
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        s.list_place(&Place::Notebook(work.clone()), false)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(s.list_place(&Place::Unfiled, false).unwrap()[0].id, n3);
    // Into its own descendant: refused, nothing changed.
    let err = s.move_notebook(&work, Some(&deep)).unwrap_err();
    assert_eq!(err.code(), "notebook_cycle");
    assert_eq!(s.notebooks().unwrap(), tree);
    // Delete Projects: Deep goes with it, n2 to the trash.
    assert_eq!(s.delete_notebook(&proj).unwrap(), 1);
    assert_eq!(s.notebooks().unwrap().len(), 1);
    assert!(s.get(&n2).unwrap().trashed);
    assert_eq!(
        s.list(&ListQuery {
            trashed: true,
            ..ListQuery::default()
        })
        .unwrap()
        .len(),
        1
    );
    assert_eq!(
        s.move_note(&n3, Some(&deep)).unwrap_err().code(),
        "notebook_deleted"
    );
    // Restore n2: Deep and Projects are back, n2 in Deep.
    s.restore(&n2).unwrap();
    assert_eq!(s.find_notebook("Work/Projects/Deep").unwrap(), deep);
    assert_eq!(
        s.places(std::slice::from_ref(&n2)).unwrap()[0].1.as_deref(),
        Some(deep.as_str())
    );
    // Reopened from disk, the same.
    drop(s);
    let s = open(d.path());
    assert_eq!(s.notebooks().unwrap().len(), 3);
}

#[test]
fn the_tree_document_is_not_a_note() {
    let d = tempfile::tempdir().unwrap();
    let mut s = open(d.path());
    s.create_notebook("Work", None).unwrap();
    assert!(s.list(&ListQuery::default()).unwrap().is_empty());
    assert_eq!(s.count(false).unwrap(), 0);
    assert!(s.get(cairn_core::NOTEBOOKS_DOC_ID).is_err());
    assert_eq!(
        s.create_notebook("a/b", None).unwrap_err().code(),
        "invalid_input"
    );
}

/// A store written before links existed (schema 3) gets its link rows from
/// the documents when this version first opens it: backlinks of old notes
/// show at once, not only after each note is edited again.
#[test]
fn notes_from_before_links_have_their_backlinks_after_the_upgrade() {
    let d = tempfile::tempdir().unwrap();
    let (plan, diary) = {
        let mut s = open(d.path());
        let plan = s.create_note("Plan\nthe plan").unwrap();
        let diary = s.create_note("Diary\nsee [[Plan]]").unwrap();
        (plan, diary)
    };
    // Take the file back to schema 3: what 0004 and later added is gone.
    {
        let c = rusqlite::Connection::open(d.path().join(cairn_core::DB_FILE)).unwrap();
        c.execute_batch(
            "DROP TABLE link; DROP TABLE note_place; DROP TABLE notebook;
             DROP INDEX notes_by_title;
             ALTER TABLE sync_peer DROP COLUMN last_error_code;
             ALTER TABLE sync_self DROP COLUMN unrecorded_snapshot_slots;
             DROP TABLE note_text;
             DROP TABLE attachment; DROP TABLE attachment_chunk; DROP TABLE blob_location;
             DROP TABLE blob_local; DROP TABLE blob_slot; DROP TABLE blob_wanted;
             DROP TABLE blob_error; DROP TABLE blob_slot_freed;
             DROP TABLE sharing_pin; DROP TABLE space_sync_self; DROP TABLE space_sync_peer;
             DROP TABLE space_doc; DROP TABLE space_key; DROP TABLE space_record; DROP TABLE space;
             DROP TABLE space_pending;
             ALTER TABLE doc DROP COLUMN state; ALTER TABLE doc DROP COLUMN unchecked;
             DROP TABLE blob_checked;
             PRAGMA user_version = 3;",
        )
        .unwrap();
    }
    let s = open(d.path());
    assert_eq!(ids(&s.backlinks(&plan).unwrap()), vec![diary.clone()]);
    assert_eq!(s.links(&diary).unwrap().len(), 1);
}
