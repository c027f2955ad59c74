//! What every test of replicas needs, in one place: a store opened for
//! speed, and the view of a store that replicas must agree on once sync
//! has settled. The in-memory scenarios (this crate's tests) and the
//! scenarios over the real service (the workspace's tests/) both judge
//! convergence by [`view_of`] and [`assert_same_views`]. Behind
//! `test-support`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::Result;
use crate::store::{Store, StoreOptions};

/// A store for tests: commits are not fsynced one by one (nothing here
/// survives a power cut anyway, and tests write a lot).
pub fn open_scratch(dir: &Path) -> Result<Store> {
    Store::open_with(
        dir,
        StoreOptions {
            durable: false,
            ..StoreOptions::default()
        },
    )
}

/// A scratch store holding one note per body, and their ids in order.
pub fn store_of(dir: &Path, bodies: &[&str]) -> Result<(Store, Vec<String>)> {
    let mut store = open_scratch(dir)?;
    let ids = bodies
        .iter()
        .map(|b| store.create_note(b))
        .collect::<Result<Vec<_>>>()?;
    Ok((store, ids))
}

/// One note as every replica must end up seeing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteView {
    /// Sorted, so equal documents give equal views.
    pub heads: Vec<String>,
    pub body: String,
    pub tags: Vec<String>,
    pub trashed: bool,
    pub pinned: bool,
}

/// Every note of a store, trashed ones included, by id.
pub type StoreView = BTreeMap<String, NoteView>;

/// The view of every note `store` holds.
pub fn view_of(store: &mut Store) -> Result<StoreView> {
    let mut ids = store.all_note_ids()?;
    ids.sort();
    ids.into_iter()
        .map(|id| {
            let note = store.get(&id)?;
            let mut heads = note.heads.clone();
            heads.sort();
            let view = NoteView {
                heads,
                body: note.body,
                tags: note.tags,
                trashed: note.trashed,
                pinned: note.pinned,
            };
            Ok((id, view))
        })
        .collect()
}

/// Panics, saying where they part, unless every named view is the same.
pub fn assert_same_views(views: &[(&str, &StoreView)]) {
    let Some(((first_name, first), rest)) = views.split_first() else {
        return;
    };
    for (name, view) in rest {
        if view == first {
            continue;
        }
        let only_first: Vec<_> = first.keys().filter(|k| !view.contains_key(*k)).collect();
        let only_other: Vec<_> = view.keys().filter(|k| !first.contains_key(*k)).collect();
        let differ: Vec<_> = first
            .iter()
            .filter_map(|(k, v)| {
                view.get(k)
                    .filter(|w| *w != v)
                    .map(|w| format!("{k}: {v:?} / {w:?}"))
            })
            .collect();
        panic!(
            "{first_name} and {name} differ: only on {first_name}: {only_first:?}; \
             only on {name}: {only_other:?}; different: {differ:?}"
        );
    }
}
