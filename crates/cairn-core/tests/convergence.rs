//! Property: 3 to 5 replicas of one note, each in its own store, make random
//! concurrent edits (insert, delete, tag, trash) and swap changes in random
//! orders and groupings, some arriving before the changes they build on.
//! After a final full exchange every replica has the same text, tags, flags
//! and heads, on disk as well as in memory.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use cairn_core::{Store, StoreOptions};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    Insert {
        replica: usize,
        at: usize,
        text: String,
    },
    Delete {
        replica: usize,
        at: usize,
        len: usize,
    },
    Tag {
        replica: usize,
        tag: usize,
        add: bool,
    },
    Trash {
        replica: usize,
        trashed: bool,
    },
    /// Queue the changes `from` made since it last sent to `to`.
    Send {
        from: usize,
        to: usize,
    },
    /// Deliver one queued message (by position, so out of order).
    Deliver {
        to: usize,
        pick: usize,
    },
}

const TAGS: [&str; 4] = ["work", "home", "idea", "urgent"];

fn step() -> impl Strategy<Value = Step> {
    let r = 0usize..5;
    prop_oneof![
        4 => (r.clone(), any::<usize>(), "[a-z é😀\n]{1,6}")
            .prop_map(|(replica, at, text)| Step::Insert { replica, at, text }),
        2 => (r.clone(), any::<usize>(), 1usize..5)
            .prop_map(|(replica, at, len)| Step::Delete { replica, at, len }),
        1 => (r.clone(), 0usize..4, any::<bool>())
            .prop_map(|(replica, tag, add)| Step::Tag { replica, tag, add }),
        1 => (r.clone(), any::<bool>()).prop_map(|(replica, trashed)| Step::Trash { replica, trashed }),
        3 => (r.clone(), r.clone()).prop_map(|(from, to)| Step::Send { from, to }),
        3 => (r, any::<usize>()).prop_map(|(to, pick)| Step::Deliver { to, pick }),
    ]
}

struct Replica {
    _dir: tempfile::TempDir,
    store: Store,
    inbox: Vec<Vec<u8>>,
}

fn open(dir: &std::path::Path) -> Store {
    Store::open_with(
        dir,
        StoreOptions {
            durable: false,
            cache_docs: 4,
            ..StoreOptions::default()
        },
    )
    .unwrap()
}

/// Nearest UTF-16 index at or below `at` that is not inside a surrogate pair.
fn char_boundary(body: &str, at: usize) -> usize {
    let mut idx = 0;
    for c in body.chars() {
        let w = c.len_utf16();
        if idx + w > at {
            break;
        }
        idx += w;
    }
    idx
}

fn run(n: usize, steps: Vec<Step>) {
    let mut reps: Vec<Replica> = (0..n)
        .map(|_| {
            let dir = tempfile::tempdir().unwrap();
            let store = open(dir.path());
            Replica {
                _dir: dir,
                store,
                inbox: Vec::new(),
            }
        })
        .collect();
    let id = reps[0].store.create_note("shared start").unwrap();
    let seed = reps[0].store.save_note(&id).unwrap();
    for r in reps.iter_mut().skip(1) {
        r.store.merge(&id, &seed).unwrap();
    }
    // sent[from][to]: the heads of `from` when it last sent to `to`.
    let mut sent = vec![vec![Vec::<String>::new(); n]; n];
    for s in steps {
        match s {
            Step::Insert { replica, at, text } => {
                let st = &mut reps[replica % n].store;
                let body = st.get(&id).unwrap().body;
                let len = body.encode_utf16().count();
                let at = char_boundary(&body, at % (len + 1));
                st.splice(&id, at, 0, &text).unwrap();
            }
            Step::Delete { replica, at, len } => {
                let st = &mut reps[replica % n].store;
                let body = st.get(&id).unwrap().body;
                let total = body.encode_utf16().count();
                if total == 0 {
                    continue;
                }
                let start = char_boundary(&body, at % total);
                let end = char_boundary(&body, (start + len).min(total));
                if end > start {
                    st.splice(&id, start, (end - start) as isize, "").unwrap();
                }
            }
            Step::Tag { replica, tag, add } => {
                let st = &mut reps[replica % n].store;
                let t = vec![TAGS[tag].to_string()];
                if add {
                    st.tag(&id, &t, &[]).unwrap();
                } else {
                    st.tag(&id, &[], &t).unwrap();
                }
            }
            Step::Trash { replica, trashed } => {
                let st = &mut reps[replica % n].store;
                if trashed {
                    st.trash(&id).unwrap();
                } else {
                    st.restore(&id).unwrap();
                }
            }
            Step::Send { from, to } => {
                let (from, to) = (from % n, to % n);
                if from == to {
                    continue;
                }
                let bytes = reps[from]
                    .store
                    .changes_after(&id, &sent[from][to])
                    .unwrap();
                sent[from][to] = reps[from].store.heads(&id).unwrap();
                reps[to].inbox.push(bytes);
            }
            Step::Deliver { to, pick } => {
                let r = &mut reps[to % n];
                if r.inbox.is_empty() {
                    continue;
                }
                let msg = r.inbox.remove(pick % r.inbox.len());
                r.store.merge(&id, &msg).unwrap();
            }
        }
    }
    // Everything still in flight arrives, in reverse order, then a full
    // exchange against each peer's heads (what the sync engine does).
    for r in reps.iter_mut() {
        while let Some(msg) = r.inbox.pop() {
            r.store.merge(&id, &msg).unwrap();
        }
    }
    for _ in 0..2 {
        for from in 0..n {
            for to in 0..n {
                if from != to {
                    let heads = reps[to].store.heads(&id).unwrap();
                    let bytes = reps[from].store.changes_after(&id, &heads).unwrap();
                    reps[to].store.merge(&id, &bytes).unwrap();
                }
            }
        }
    }
    let want = reps[0].store.get(&id).unwrap();
    for r in reps.iter_mut() {
        let got = r.store.get(&id).unwrap();
        assert_eq!(got.body, want.body);
        let (mut a, mut b) = (got.tags.clone(), want.tags.clone());
        a.sort();
        b.sort();
        assert_eq!(a, b);
        assert_eq!(got.trashed, want.trashed);
        assert_eq!(got.heads, want.heads);
    }
    // And on disk: reopen every store and compare again.
    for r in reps.iter_mut() {
        let mut again = open(r._dir.path());
        let got = again.get(&id).unwrap();
        assert_eq!(got.body, want.body);
        assert_eq!(got.heads, want.heads);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]
    #[test]
    fn replicas_converge(n in 3usize..=5, steps in prop::collection::vec(step(), 1..120)) {
        run(n, steps);
    }
}
