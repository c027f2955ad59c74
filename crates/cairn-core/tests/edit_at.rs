//! Keystrokes placed at the editor's version of a note: a peer's change
//! merged between the keystroke and its arrival does not move the typed
//! text, and the editor is handed exactly the splices that bring it level.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use cairn_core::{CoreError, Splice, Store};
use proptest::prelude::*;

/// This device (with the editor) and one peer, both holding note `id`.
struct Pair {
    _dirs: [tempfile::TempDir; 2],
    here: Store,
    peer: Store,
    id: String,
}

impl Pair {
    fn new(body: &str) -> Pair {
        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let mut here = Store::open(dirs[0].path()).unwrap();
        let mut peer = Store::open(dirs[1].path()).unwrap();
        let id = here.create_note(body).unwrap();
        let all = here.save_note(&id).unwrap();
        peer.merge(&id, &all).unwrap();
        Pair {
            _dirs: dirs,
            here,
            peer,
            id,
        }
    }

    /// What the sync task does: the peer's changes merged here.
    fn deliver_to_here(&mut self) {
        let heads = self.here.heads(&self.id).unwrap();
        let bytes = self.peer.changes_after(&self.id, &heads).unwrap();
        self.here.merge(&self.id, &bytes).unwrap();
    }

    fn deliver_to_peer(&mut self) {
        let heads = self.peer.heads(&self.id).unwrap();
        let bytes = self.here.changes_after(&self.id, &heads).unwrap();
        self.peer.merge(&self.id, &bytes).unwrap();
    }

    fn body(&mut self) -> String {
        self.here.get(&self.id).unwrap().body
    }
}

/// The editor's side: its text (UTF-16, as CodeMirror counts) and the
/// heads that text is at, plus the splices typed since.
struct Editor {
    text: Vec<u16>,
    heads: Vec<String>,
    pending: Vec<Splice>,
}

impl Editor {
    fn open(store: &mut Store, id: &str) -> Editor {
        let note = store.get(id).unwrap();
        Editor {
            text: note.body.encode_utf16().collect(),
            heads: note.heads,
            pending: Vec::new(),
        }
    }

    fn splice(&mut self, index: usize, delete: usize, insert: &str) {
        apply(&mut self.text, index, delete, insert);
        self.pending.push(Splice {
            index,
            delete,
            insert: insert.to_string(),
        });
    }

    /// Sends what was typed; applies what came back, as the UI does.
    fn flush(&mut self, store: &mut Store, id: &str) {
        let splices = std::mem::take(&mut self.pending);
        let out = store.edit_at(id, &self.heads, &splices).unwrap();
        for r in &out.remote {
            apply(&mut self.text, r.index, r.delete, &r.insert);
        }
        self.heads = out.heads;
    }

    fn text(&self) -> String {
        String::from_utf16(&self.text).unwrap()
    }
}

fn apply(text: &mut Vec<u16>, index: usize, delete: usize, insert: &str) {
    text.splice(index..index + delete, insert.encode_utf16());
}

fn ins(index: usize, insert: &str) -> Splice {
    Splice {
        index,
        delete: 0,
        insert: insert.into(),
    }
}

/// Types `typed` at `cursor` in the editor; before the keystroke reaches
/// the store the peer's `peer_edit` is merged. Returns (body here, body
/// the editor shows afterwards, body on the peer once both have synced).
fn race(body: &str, cursor: usize, typed: &str, peer_edit: (usize, usize, &str)) -> String {
    let mut p = Pair::new(body);
    let mut ed = Editor::open(&mut p.here, &p.id);
    ed.splice(cursor, 0, typed);
    let (index, delete, insert) = peer_edit;
    p.peer
        .splice(&p.id, index, isize::try_from(delete).unwrap(), insert)
        .unwrap();
    p.deliver_to_here();
    ed.flush(&mut p.here, &p.id);
    let here = p.body();
    assert_eq!(ed.text(), here, "the editor shows what the store holds");
    p.deliver_to_peer();
    assert_eq!(p.peer.get(&p.id).unwrap().body, here, "both devices agree");
    here
}

#[test]
fn a_peer_insert_before_the_cursor_does_not_move_the_typed_text() {
    // The user typed "X" after "hello"; the peer put "Dear " in front.
    assert_eq!(
        race("hello world", 5, "X", (0, 0, "Dear ")),
        "Dear helloX world"
    );
}

#[test]
fn a_peer_insert_after_the_cursor_stays_after_it() {
    assert_eq!(race("hello world", 5, "X", (11, 0, "!")), "helloX world!");
    assert_eq!(
        race("hello world", 5, "X", (6, 0, "big ")),
        "helloX big world"
    );
}

#[test]
fn a_peer_insert_at_the_cursor_keeps_both_texts_whole() {
    let got = race("hello world", 5, "XYZ", (5, 0, "PEER"));
    assert!(
        got == "helloXYZPEER world" || got == "helloPEERXYZ world",
        "{got:?}"
    );
}

#[test]
fn a_peer_delete_before_the_cursor_does_not_move_the_typed_text() {
    // The peer removed "hello "; "X" was typed after "brave".
    assert_eq!(
        race("hello brave world", 11, "X", (0, 6, "")),
        "braveX world"
    );
}

#[test]
fn a_peer_delete_around_the_cursor_keeps_the_typed_text() {
    // The peer removed "brave" while "X" was typed inside it.
    assert_eq!(
        race("hello brave world", 8, "X", (6, 5, "")),
        "hello X world"
    );
}

#[test]
fn a_local_delete_removes_what_the_user_saw_even_after_a_peer_insert() {
    let mut p = Pair::new("hello brave world");
    let mut ed = Editor::open(&mut p.here, &p.id);
    // The user selects "brave " and deletes it; the peer meanwhile puts
    // "Oh, " at the start.
    ed.splice(6, 6, "");
    p.peer.splice(&p.id, 0, 0, "Oh, ").unwrap();
    p.deliver_to_here();
    ed.flush(&mut p.here, &p.id);
    assert_eq!(p.body(), "Oh, hello world");
    assert_eq!(ed.text(), "Oh, hello world");
}

#[test]
fn a_batch_of_several_splices_lands_as_typed() {
    // Typing, a backspace and more typing, sent as one batch after the
    // peer's edit came in.
    let mut p = Pair::new("abc");
    let mut ed = Editor::open(&mut p.here, &p.id);
    ed.splice(3, 0, "de");
    ed.splice(4, 1, "");
    ed.splice(4, 0, "E");
    p.peer.splice(&p.id, 0, 0, ">> ").unwrap();
    p.deliver_to_here();
    ed.flush(&mut p.here, &p.id);
    assert_eq!(p.body(), ">> abcdE");
    assert_eq!(ed.text(), ">> abcdE");
}

#[test]
fn the_old_way_shifts_the_typed_text() {
    // The same race with the splice applied to the note as it is now: the
    // typed text lands inside the word, which is what edit_at prevents.
    let mut p = Pair::new("hello world");
    p.peer.splice(&p.id, 0, 0, "Dear ").unwrap();
    p.deliver_to_here();
    p.here.splice(&p.id, 5, 0, "X").unwrap();
    assert_eq!(p.body(), "Dear Xhello world");
}

#[test]
fn a_catch_up_writes_nothing_and_returns_the_peer_changes_in_utf16() {
    let mut p = Pair::new("😀 é");
    let mut ed = Editor::open(&mut p.here, &p.id);
    p.peer.splice(&p.id, 2, 0, "→").unwrap();
    p.peer.splice(&p.id, 5, 0, "😺").unwrap();
    p.deliver_to_here();
    let heads_before = p.here.heads(&p.id).unwrap();
    let out = p.here.edit_at(&p.id, &ed.heads, &[]).unwrap();
    assert_eq!(out.heads, heads_before, "nothing was written");
    assert!(!out.remote.is_empty());
    for r in &out.remote {
        apply(&mut ed.text, r.index, r.delete, &r.insert);
    }
    assert_eq!(ed.text(), "😀→ é😺");
    assert_eq!(out.summary.title, "😀→ é😺");
    // Level already: nothing more to apply.
    let again = p.here.edit_at(&p.id, &out.heads, &[]).unwrap();
    assert!(again.remote.is_empty());
}

#[test]
fn an_edit_at_the_current_heads_has_nothing_remote_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (id, heads) = {
        let mut s = Store::open(dir.path()).unwrap();
        let id = s.create_note("Title").unwrap();
        let heads = s.get(&id).unwrap().heads;
        let out = s.edit_at(&id, &heads, &[ins(5, " here")]).unwrap();
        assert!(out.remote.is_empty());
        assert_eq!(out.summary.title, "Title here");
        assert_ne!(out.heads, heads);
        (id, out.heads)
    };
    let mut s = Store::open(dir.path()).unwrap();
    let note = s.get(&id).unwrap();
    assert_eq!(note.body, "Title here");
    assert_eq!(note.heads, heads);
}

#[test]
fn a_tag_set_here_meanwhile_does_not_stop_the_edit() {
    // The list's tag button made a change of this device's own that the
    // editor's heads do not cover.
    let mut p = Pair::new("hello");
    let mut ed = Editor::open(&mut p.here, &p.id);
    p.here.tag(&p.id, &["work".into()], &[]).unwrap();
    p.peer.splice(&p.id, 0, 0, "> ").unwrap();
    p.deliver_to_here();
    ed.splice(5, 0, "!");
    ed.flush(&mut p.here, &p.id);
    assert_eq!(p.body(), "> hello!");
    assert_eq!(ed.text(), "> hello!");
    assert_eq!(p.here.get(&p.id).unwrap().tags, vec!["work".to_string()]);
    // The history is one line of this device's changes plus the peer's.
    p.deliver_to_peer();
    assert_eq!(p.peer.get(&p.id).unwrap().body, "> hello!");
}

#[test]
fn an_edit_on_a_version_this_device_rewrote_meanwhile_is_refused_and_changes_nothing() {
    let mut p = Pair::new("hello");
    let ed = Editor::open(&mut p.here, &p.id);
    p.here.set_body(&p.id, "goodbye").unwrap();
    let heads = p.here.heads(&p.id).unwrap();
    let err = p
        .here
        .edit_at(&p.id, &ed.heads, &[ins(5, "!")])
        .unwrap_err();
    assert!(
        matches!(err, CoreError::Invalid { what: "edit", .. }),
        "{err}"
    );
    assert_eq!(p.body(), "goodbye");
    assert_eq!(p.here.heads(&p.id).unwrap(), heads);
}

#[test]
fn bad_splices_and_unknown_heads_are_refused_and_change_nothing() {
    let mut p = Pair::new("hello");
    let heads = p.here.heads(&p.id).unwrap();
    let err = p.here.edit_at(&p.id, &heads, &[ins(6, "x")]).unwrap_err();
    assert!(
        matches!(err, CoreError::Invalid { what: "splice", .. }),
        "{err}"
    );
    // The first splice was fine, the second is not: neither is kept.
    let err = p
        .here
        .edit_at(
            &p.id,
            &heads,
            &[
                ins(0, "ok "),
                Splice {
                    index: 2,
                    delete: 99,
                    insert: String::new(),
                },
            ],
        )
        .unwrap_err();
    assert!(
        matches!(err, CoreError::Invalid { what: "splice", .. }),
        "{err}"
    );
    assert_eq!(p.body(), "hello");
    let unknown = vec!["ab".repeat(32)];
    let err = p.here.edit_at(&p.id, &unknown, &[ins(0, "x")]).unwrap_err();
    assert!(matches!(err, CoreError::VersionNotFound { .. }), "{err}");
    let err = p
        .here
        .edit_at(&p.id, &["not hex".into()], &[ins(0, "x")])
        .unwrap_err();
    assert!(
        matches!(err, CoreError::Invalid { what: "heads", .. }),
        "{err}"
    );
    // Also on a fork: a peer change came in, then a bad splice.
    p.peer.splice(&p.id, 0, 0, "> ").unwrap();
    p.deliver_to_here();
    let err = p.here.edit_at(&p.id, &heads, &[ins(9, "x")]).unwrap_err();
    assert!(
        matches!(err, CoreError::Invalid { what: "splice", .. }),
        "{err}"
    );
    assert_eq!(p.body(), "> hello");
    assert_eq!(p.here.get(&p.id).unwrap().heads.len(), 1);
}

// ---------------------------------------------------------------- property

#[derive(Debug, Clone)]
enum Step {
    /// The user types `text` at a point (a fraction of the text).
    Type(u16, String),
    /// The user deletes up to `len` units from a point.
    Delete(u16, u8),
    /// The editor's queued splices reach the store.
    Flush,
    /// The peer types or deletes.
    PeerType(u16, String),
    PeerDelete(u16, u8),
    /// The sync task merges the peer's changes here, or publishes ours.
    DeliverHere,
    DeliverPeer,
}

fn at(frac: u16, len: usize) -> usize {
    usize::from(frac) * len / usize::from(u16::MAX)
}

/// A point between tokens (never inside one), so that a token found split
/// at the end was split by a misplaced keystroke, not by the steps.
fn boundary(frac: u16, text: &[u16]) -> usize {
    let mut depth = 0i32;
    let mut points = vec![0];
    for (i, c) in text.iter().enumerate() {
        match char::from_u32(u32::from(*c)) {
            Some('[' | '<') => depth += 1,
            Some(']' | '>') => depth -= 1,
            _ => {}
        }
        if depth == 0 {
            points.push(i + 1);
        }
    }
    points[at(frac, points.len() - 1)]
}

fn token() -> impl Strategy<Value = String> {
    // BMP letters of one and two UTF-8 bytes, each one UTF-16 unit.
    proptest::collection::vec(prop::sample::select(vec!['a', 'b', 'é', '→', ' ']), 1..5)
        .prop_map(|c| c.into_iter().collect())
}

fn step(deletes: bool) -> impl Strategy<Value = Step> {
    let d = if deletes { 2 } else { 0 };
    prop_oneof![
        4 => (any::<u16>(), token()).prop_map(|(f, t)| Step::Type(f, t)),
        d => (any::<u16>(), 1u8..6).prop_map(|(f, n)| Step::Delete(f, n)),
        3 => Just(Step::Flush),
        3 => (any::<u16>(), token()).prop_map(|(f, t)| Step::PeerType(f, t)),
        d => (any::<u16>(), 1u8..6).prop_map(|(f, n)| Step::PeerDelete(f, n)),
        3 => Just(Step::DeliverHere),
        2 => Just(Step::DeliverPeer),
    ]
}

/// Runs the steps; returns the final text every side agrees on, and the
/// tokens each side typed (in brackets, so they can be found whole).
fn run(steps: &[Step]) -> (String, Vec<String>) {
    let mut p = Pair::new("start");
    let mut ed = Editor::open(&mut p.here, &p.id);
    let mut typed = Vec::new();
    for (n, s) in steps.iter().enumerate() {
        match s {
            Step::Type(f, t) => {
                let t = format!("[{t}{n}]");
                ed.splice(boundary(*f, &ed.text), 0, &t);
                typed.push(t);
            }
            Step::Delete(f, len) => {
                let i = at(*f, ed.text.len());
                let len = usize::from(*len).min(ed.text.len() - i);
                ed.splice(i, len, "");
            }
            Step::Flush => {
                ed.flush(&mut p.here, &p.id);
                assert_eq!(ed.text(), p.body(), "after step {n}");
            }
            Step::PeerType(f, t) => {
                let t = format!("<{t}{n}>");
                let body: Vec<u16> = p.peer.get(&p.id).unwrap().body.encode_utf16().collect();
                p.peer.splice(&p.id, boundary(*f, &body), 0, &t).unwrap();
                typed.push(t);
            }
            Step::PeerDelete(f, len) => {
                let body = p.peer.get(&p.id).unwrap().body.encode_utf16().count();
                let i = at(*f, body);
                let len = usize::from(*len).min(body - i);
                p.peer
                    .splice(&p.id, i, isize::try_from(len).unwrap(), "")
                    .unwrap();
            }
            Step::DeliverHere => p.deliver_to_here(),
            Step::DeliverPeer => p.deliver_to_peer(),
        }
    }
    ed.flush(&mut p.here, &p.id);
    p.deliver_to_here();
    p.deliver_to_peer();
    // A last catch-up brings the editor level with the peer's final changes.
    ed.flush(&mut p.here, &p.id);
    let here = p.body();
    assert_eq!(ed.text(), here, "the editor shows what the store holds");
    assert_eq!(p.peer.get(&p.id).unwrap().body, here, "both devices agree");
    (here, typed)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    /// Any interleaving of typing, peer edits and sync: the editor always
    /// shows what the store holds, and both devices converge.
    #[test]
    fn editor_and_store_agree_under_any_interleaving(steps in proptest::collection::vec(step(true), 1..40)) {
        run(&steps);
    }

    /// Without deletes, every token typed on either side is in the final
    /// text whole: no keystroke was split or moved into another's text.
    #[test]
    fn every_typed_token_stays_whole(steps in proptest::collection::vec(step(false), 1..40)) {
        let (text, typed) = run(&steps);
        for t in &typed {
            prop_assert!(text.contains(t.as_str()), "{t:?} is not whole in {text:?}");
        }
    }
}
