//! Random offline edits for scenarios, and what they wrote, so a test can
//! check afterwards that nothing was lost.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::collections::BTreeSet;

use rand::rngs::StdRng;
use rand::Rng;

use crate::device::{Device, NotesView};

/// Positions where an insertion cannot split an earlier one: the start,
/// the end, and just after a space (every inserted token ends in one).
pub fn safe_positions(body: &str) -> Vec<usize> {
    let mut out = vec![0, body.encode_utf16().count()];
    let mut at = 0;
    for c in body.chars() {
        at += c.len_utf16();
        if c == ' ' {
            out.push(at);
        }
    }
    out
}

/// What random editing wrote, to check that nothing was lost.
#[derive(Default)]
pub struct Written {
    pub notes: BTreeSet<String>,
    pub tokens: Vec<String>,
}

/// `count` random edits on `device`'s store, offline: new notes, typing,
/// tags, trash and restore, pins.
pub fn random_edits(device: &Device, rng: &mut StdRng, count: usize, written: &mut Written) {
    let mut store = device.store();
    for step in 0..count {
        let token = format!("<{}-{step}>", device.name);
        let ids = store.all_note_ids().expect("ids");
        let action = rng.gen_range(0..10);
        if action < 2 || ids.is_empty() {
            let id = store
                .create_note(&format!("note {token} "))
                .expect("create");
            written.notes.insert(id);
            written.tokens.push(token);
            continue;
        }
        let id = &ids[rng.gen_range(0..ids.len())];
        match action {
            2..=5 => {
                let body = store.get(id).expect("note").body;
                let spots = safe_positions(&body);
                let at = spots[rng.gen_range(0..spots.len())];
                store.splice(id, at, 0, &format!("{token} ")).expect("type");
                written.tokens.push(token);
            }
            6 => {
                let tag = format!("t{}", rng.gen_range(0..4));
                store.tag(id, &[tag], &[]).expect("tag");
            }
            7 => {
                let tag = format!("t{}", rng.gen_range(0..4));
                store.tag(id, &[], &[tag]).expect("untag");
            }
            8 => {
                if store.get(id).expect("note").trashed {
                    store.restore(id).expect("restore");
                } else {
                    store.trash(id).expect("trash");
                }
            }
            _ => {
                let pinned = store.get(id).expect("note").pinned;
                store.set_pinned(id, !pinned).expect("pin");
            }
        }
    }
}

impl Written {
    /// Every note created and every piece of text typed is in `view`.
    pub fn assert_kept_in(&self, view: &NotesView, what: &str) {
        for id in &self.notes {
            assert!(view.contains_key(id), "{what}: note {id} was lost");
        }
        let bodies: String = view.values().map(|v| v.body.as_str()).collect();
        for token in &self.tokens {
            assert!(
                bodies.contains(token.as_str()),
                "{what}: typed text {token} was lost"
            );
        }
    }
}
