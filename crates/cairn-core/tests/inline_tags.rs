//! `#tags` written in a note's text: tags of the note in the list, the
//! tag filter and the tag counts, as the tag field's are.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use cairn_core::Store;

fn store_with(bodies: &[&str]) -> (tempfile::TempDir, Store, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let (s, ids) = cairn_core::testing::store_of(dir.path(), bodies).unwrap();
    (dir, s, ids)
}

#[test]
fn tags_written_in_the_text_are_tags_of_the_note() {
    let (_dir, mut s, n) = store_with(&[
        "Trip\nplanning the #summer holiday, #travel",
        "Work\nnothing tagged here, issue #42",
    ]);
    s.tag(&n[1], &["summer".to_string()], &[]).unwrap();
    let list = |s: &Store, tag: &str| -> Vec<String> {
        let mut ids: Vec<String> = s
            .list(&cairn_core::ListQuery {
                tag: Some(tag.into()),
                ..Default::default()
            })
            .unwrap()
            .into_iter()
            .map(|n| n.id)
            .collect();
        ids.sort();
        ids
    };
    let mut both = n.clone();
    both.sort();
    assert_eq!(list(&s, "summer"), both, "written and added alike");
    assert_eq!(list(&s, "travel"), vec![n[0].clone()]);
    assert!(list(&s, "42").is_empty());
    let row = &s.summaries(std::slice::from_ref(&n[0])).unwrap()[0];
    assert_eq!(row.tags, vec!["summer".to_string(), "travel".to_string()]);
    assert!(s.tags().unwrap().contains(&("travel".to_string(), 1)));
    // Taken out of the text, the tag goes.
    s.set_body(&n[0], "Trip\nplanning the #summer holiday")
        .unwrap();
    assert!(list(&s, "travel").is_empty());
    // The tag field's own tags are kept as they are: the text's are not
    // added to the document.
    assert!(s.get(&n[0]).unwrap().tags.is_empty());
}

#[test]
fn an_edit_answers_with_the_row_the_list_will_show() {
    let (_dir, mut s, n) = store_with(&["Trip\n"]);
    let note = s.get(&n[0]).unwrap();
    let out = s
        .edit_at(
            &n[0],
            &note.heads,
            &[cairn_core::Splice {
                index: 5,
                delete: 0,
                insert: "#summer".into(),
            }],
        )
        .unwrap();
    assert_eq!(out.summary.tags, vec!["summer".to_string()]);
    assert_eq!(s.summaries(&n).unwrap()[0].tags, out.summary.tags);
}
