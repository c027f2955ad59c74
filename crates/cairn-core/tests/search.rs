//! Search as the app and the CLI ask it: exact matches, typos forgiven when
//! those are few, the passage that matched, and the trash.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use cairn_core::{Store, FUZZY_BELOW};

fn ids(found: &cairn_core::SearchResults) -> Vec<String> {
    found.hits.iter().map(|h| h.note.id.clone()).collect()
}

fn store_with(bodies: &[&str]) -> (tempfile::TempDir, Store, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let (s, ids) = cairn_core::testing::store_of(dir.path(), bodies).unwrap();
    (dir, s, ids)
}

#[test]
fn typos_find_the_word_meant() {
    let (_dir, s, n) = store_with(&[
        "Iceland trip\nWe saw the aurora over the fjord at midnight.",
        "Weekly meeting\nAgenda: budget, hiring.",
        "Groceries\nmilk, bread, eggs",
    ]);
    let found = s.search_notes("aurroa", false, 10).unwrap();
    assert_eq!(ids(&found), vec![n[0].clone()]);
    assert!(found.fuzzy);
    assert!(
        found.terms.contains(&"aurora".to_string()),
        "{:?}",
        found.terms
    );
    assert_eq!(
        found.hits[0].snippet,
        "We saw the aurora over the fjord at midnight."
    );

    let found = s.search_notes("meetng", false, 10).unwrap();
    assert_eq!(ids(&found), vec![n[1].clone()]);
    assert!(found.fuzzy);
    // Typed half-way, with a typo: the beginning of a word counts.
    assert_eq!(
        ids(&s.search_notes("meetn", false, 10).unwrap()),
        vec![n[1].clone()]
    );
    // Two words, one misspelt.
    assert_eq!(
        ids(&s.search_notes("budgte agenda", false, 10).unwrap()),
        vec![n[1].clone()]
    );
    // Short words are not "corrected" into other words.
    assert!(s.search_notes("mlk", false, 10).unwrap().hits.is_empty());
    // Too far from anything: nothing, and nothing claimed.
    let none = s.search_notes("xylophone", false, 10).unwrap();
    assert!(none.hits.is_empty() && !none.fuzzy);
}

#[test]
fn enough_exact_matches_leave_close_spellings_out() {
    let mut bodies: Vec<String> = (0..FUZZY_BELOW)
        .map(|i| format!("Note {i}\nthe garden in spring"))
        .collect();
    // One letter off "garden": found only when the exact search finds little.
    bodies.push("Other\nthe warden of the castle".into());
    bodies.push("Again\nthe gardenia blooms".into());
    let refs: Vec<&str> = bodies.iter().map(String::as_str).collect();
    let (_dir, s, n) = store_with(&refs);
    let found = s.search_notes("garden", false, 10).unwrap();
    assert!(!found.fuzzy);
    assert_eq!(found.terms, vec!["garden".to_string()]);
    let mut got = ids(&found);
    got.sort();
    // The prefix still matches "gardenia", as typing expects.
    let mut want: Vec<String> = n[..FUZZY_BELOW].to_vec();
    want.push(n[FUZZY_BELOW + 1].clone());
    want.sort();
    assert_eq!(got, want);
    // The exact hits come first, close ones after them.
    let (_dir2, s2, n2) = store_with(&["A\nthe garden", "B\nthe gardne"]);
    let found = s2.search_notes("gardne", false, 10).unwrap();
    assert_eq!(ids(&found), vec![n2[1].clone(), n2[0].clone()]);
    assert!(found.fuzzy);
}

#[test]
fn hits_carry_the_passage_that_matched() {
    let long = format!(
        "Long note\n{}the password for the router is on the fridge{}",
        "nothing to see here, ".repeat(20),
        " and more".repeat(40)
    );
    let (_dir, s, _) = store_with(&[&long, "Router manual\nsee the back"]);
    let found = s.search_notes("router", false, 10).unwrap();
    assert_eq!(found.hits.len(), 2);
    for hit in &found.hits {
        if hit.note.title == "Long note" {
            assert!(
                hit.snippet.starts_with('…') && hit.snippet.ends_with('…'),
                "{}",
                hit.snippet
            );
            assert!(
                hit.snippet.contains("for the router is on the fridge"),
                "{}",
                hit.snippet
            );
        } else {
            // Only the title matched: the usual excerpt.
            assert_eq!(hit.snippet, "see the back");
        }
    }
}

#[test]
fn the_trash_is_searched_on_its_own() {
    let (_dir, mut s, n) =
        store_with(&["Old plan\nthe lighthouse project", "Live\nlighthouse visit"]);
    s.trash(&n[0]).unwrap();
    assert_eq!(
        ids(&s.search_notes("lighthouse", true, 10).unwrap()),
        vec![n[0].clone()]
    );
    assert_eq!(
        ids(&s.search_notes("lighthouse", false, 10).unwrap()),
        vec![n[1].clone()]
    );
    // Typos in the trash too.
    assert_eq!(
        ids(&s.search_notes("lighthuose", true, 10).unwrap()),
        vec![n[0].clone()]
    );
    // Deleted for good: gone from search, its text too.
    s.delete(&n[0]).unwrap();
    assert!(s
        .search_notes("lighthouse", true, 10)
        .unwrap()
        .hits
        .is_empty());
}

#[test]
fn edits_and_reopening_keep_the_passages_current() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let mut s = Store::open(dir.path()).unwrap();
        let id = s.create_note("Draft\nfirst version").unwrap();
        s.set_body(&id, "Draft\nsecond version with a kiwi")
            .unwrap();
        id
    };
    let s = Store::open(dir.path()).unwrap();
    let found = s.search_notes("kiwi", false, 10).unwrap();
    assert_eq!(found.hits[0].note.id, id);
    assert_eq!(found.hits[0].snippet, "second version with a kiwi");
    assert!(s.search_notes("first", false, 10).unwrap().hits.is_empty());
}

#[test]
fn notes_from_before_schema_7_show_their_passage_after_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    // The match far down, so the passage is not the excerpt.
    let body = format!(
        "Old\n{}the quince jam recipe",
        "apples and pears, ".repeat(20)
    );
    let id = {
        let (_s, ids) = cairn_core::testing::store_of(dir.path(), &[&body]).unwrap();
        ids[0].clone()
    };
    // Back to schema 6: the texts beside the index are not there yet.
    {
        let c = rusqlite::Connection::open(dir.path().join(cairn_core::DB_FILE)).unwrap();
        c.execute_batch(
            "DROP TABLE note_text;
             DROP TABLE attachment; DROP TABLE attachment_chunk; DROP TABLE blob_location;
             DROP TABLE blob_local; DROP TABLE blob_slot; DROP TABLE blob_wanted;
             DROP TABLE blob_error; DROP TABLE blob_slot_freed;
             DROP TABLE sharing_pin; DROP TABLE space_sync_self; DROP TABLE space_sync_peer;
             DROP TABLE space_doc; DROP TABLE space_key; DROP TABLE space_record; DROP TABLE space;
             DROP TABLE space_pending;
             ALTER TABLE doc DROP COLUMN state; ALTER TABLE doc DROP COLUMN unchecked;
             DROP TABLE blob_checked;
             PRAGMA user_version = 6;",
        )
        .unwrap();
    }
    let s = Store::open(dir.path()).unwrap();
    let found = s.search_notes("quince", false, 10).unwrap();
    assert_eq!(found.hits[0].note.id, id);
    assert!(!found.hits[0].note.excerpt.contains("quince"));
    assert!(
        found.hits[0]
            .snippet
            .ends_with("pears, the quince jam recipe"),
        "{}",
        found.hits[0].snippet
    );
}
