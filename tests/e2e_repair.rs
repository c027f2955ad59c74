//! The app on a damaged store, in the real window: instead of the notes it
//! says which part is damaged and that nothing is lost, a button rebuilds
//! it, and the notes open with nothing missing.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use cairn_core::{NewNote, Store};
use cairn_scenarios::desktop::{Desktop, Launch};

#[tokio::test]
async fn a_damaged_search_index_is_repaired_from_the_window() {
    let data = tempfile::tempdir().expect("tempdir");
    let titles: Vec<String> = (0..12).map(|i| format!("Field notes {i}")).collect();
    {
        let mut store = Store::open(data.path()).unwrap();
        for t in &titles {
            store
                .create_note_with(NewNote {
                    body: format!("{t}\nthe granite ridge, walked again"),
                    ..Default::default()
                })
                .unwrap();
        }
        store.checkpoint().unwrap();
    }
    // A failing disk flipped a byte of the search index, and the app was
    // killed with the store open.
    cairn_core::damage::flip_page_of(&data.path().join("cairn.db"), "notes_fts_data").unwrap();
    cairn_core::damage::leave_crash_marker(data.path()).unwrap();

    let app = Desktop::launch(Launch::new(data.path())).await;
    app.wait_until(
        "the repair screen",
        "const s = document.getElementById('repair-screen'); \
         return !s.hidden && s.dataset.state === 'damaged' \
           && document.getElementById('app').hidden",
    )
    .await;
    let said = app
        .js("return document.getElementById('repair-what').textContent")
        .await;
    let said = said.as_str().unwrap();
    assert!(said.contains("the search index"), "{said}");
    assert!(said.contains("no note is lost"), "{said}");
    // The detail is behind "Details", not in the sentence.
    assert!(!said.contains("cairn.db"), "{said}");
    app.screenshot("20-repair-offered").await;

    app.click("#repair-btn").await;
    // The window starts afresh with the notes.
    app.wait_until(
        "the notes after the repair",
        "return document.body.dataset.ready === 'true' \
           && document.getElementById('repair-screen').hidden \
           && document.querySelectorAll('.note-row').length === 12",
    )
    .await;
    // Search works again: the index was rebuilt from the notes.
    app.type_into("#search", "granite").await;
    app.wait_until(
        "search over the rebuilt index",
        "return document.querySelectorAll('.note-row').length === 12 \
           && document.getElementById('list-status').textContent === '12 of 12'",
    )
    .await;
    app.screenshot("21-repaired").await;
    app.quit().await;

    let kept = cairn_core::damage::damaged_copy_kept(data.path());
    assert!(kept, "the damaged file is kept beside the repaired one");
    let check: String = rusqlite::Connection::open(data.path().join("cairn.db"))
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}
