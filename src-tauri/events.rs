//! Store writes reach the UI as one `notes-changed` event per burst.
//!
//! Whoever writes to the store (a command, later the sync runner merging a
//! peer's changes) hands the store's events to the `Notifier`. A background
//! thread waits for the first one, keeps collecting until the writes pause
//! for `QUIET` (or `MAX_DELAY` has passed, so a long burst still shows up),
//! then emits them deduplicated, in first-seen order. A change to the
//! notebook tree's document sets the batch's `notebooks` flag instead.

use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use cairn_core::{Origin, StoreEvent, BLOB_INDEX_DOC_ID, NOTEBOOKS_DOC_ID};
use serde::Serialize;
use tauri::{AppHandle, Emitter};

pub const NOTES_CHANGED: &str = "notes-changed";
/// GitHub sign-in is waiting for the browser (payload: the page to open).
pub const GITHUB_STARTED: &str = "github-sign-in-started";
const QUIET: Duration = Duration::from_millis(8);
const MAX_DELAY: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct NoteChange {
    pub note_id: String,
    pub origin: Origin,
}

/// One event per burst of store writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct NotesChanged {
    pub changes: Vec<NoteChange>,
    /// The notebook tree changed (here or merged from another device).
    pub notebooks: bool,
}

/// The sending side, cheap to clone.
#[derive(Clone)]
pub struct Notifier(Sender<Vec<StoreEvent>>);

impl Notifier {
    pub fn send(&self, events: Vec<StoreEvent>) {
        if events.is_empty() {
            return;
        }
        // The receiver lives as long as the app; if it is gone the app is
        // shutting down and nobody is left to tell.
        if self.0.send(events).is_err() {
            eprintln!("cairn-desktop: event batcher stopped; UI not told of a change");
        }
    }
}

pub fn spawn_batcher(app: AppHandle) -> Notifier {
    let (tx, rx) = channel();
    std::thread::Builder::new()
        .name("cairn-events".into())
        .spawn(move || {
            while let Some(batch) = next_burst(&rx) {
                if let Err(e) = app.emit(NOTES_CHANGED, batch) {
                    eprintln!("cairn-desktop: could not emit {NOTES_CHANGED}: {e}");
                }
            }
        })
        .map_or_else(
            |e| eprintln!("cairn-desktop: could not start the event thread: {e}"),
            drop,
        );
    Notifier(tx)
}

/// Blocks for the next burst; `None` once every sender is gone.
fn next_burst(rx: &Receiver<Vec<StoreEvent>>) -> Option<NotesChanged> {
    let first = rx.recv().ok()?;
    let started = Instant::now();
    let mut out = NotesChanged {
        changes: Vec::new(),
        notebooks: false,
    };
    add(&mut out, first);
    loop {
        let left = MAX_DELAY.saturating_sub(started.elapsed());
        if left.is_zero() {
            break;
        }
        match rx.recv_timeout(QUIET.min(left)) {
            Ok(events) => add(&mut out, events),
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    Some(out)
}

fn add(out: &mut NotesChanged, events: Vec<StoreEvent>) {
    for e in events {
        // The tree is one document among the notes; the UI reads it as
        // the sidebar, not as a row of the list.
        if e.note_id == NOTEBOOKS_DOC_ID {
            out.notebooks = true;
            continue;
        }
        // The blob index is not a note either: where attachments are in
        // storage, nothing the list shows.
        if e.note_id == BLOB_INDEX_DOC_ID {
            continue;
        }
        let change = NoteChange {
            note_id: e.note_id,
            origin: e.origin,
        };
        if !out.changes.contains(&change) {
            out.changes.push(change);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use cairn_core::EventKind;

    fn ev(id: &str, origin: Origin) -> StoreEvent {
        StoreEvent {
            note_id: id.into(),
            origin,
            kind: EventKind::Updated,
        }
    }

    #[test]
    fn a_burst_becomes_one_deduplicated_batch() {
        let (tx, rx) = channel();
        tx.send(vec![ev("a", Origin::Local), ev("a", Origin::Local)])
            .unwrap();
        tx.send(vec![ev("b", Origin::Merged), ev("a", Origin::Local)])
            .unwrap();
        drop(tx);
        let batch = next_burst(&rx).unwrap();
        assert_eq!(
            batch.changes,
            vec![
                NoteChange {
                    note_id: "a".into(),
                    origin: Origin::Local
                },
                NoteChange {
                    note_id: "b".into(),
                    origin: Origin::Merged
                },
            ]
        );
        assert!(next_burst(&rx).is_none());
    }

    #[test]
    fn batches_serialize_as_the_ui_expects() {
        let (tx, rx) = channel();
        tx.send(vec![ev("n1", Origin::Merged)]).unwrap();
        drop(tx);
        let v = serde_json::to_value(next_burst(&rx).unwrap()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"changes": [{"note_id": "n1", "origin": "merged"}], "notebooks": false})
        );
    }

    #[test]
    fn a_change_to_the_notebook_tree_is_a_flag_not_a_row() {
        let (tx, rx) = channel();
        tx.send(vec![
            ev(NOTEBOOKS_DOC_ID, Origin::Merged),
            ev("n1", Origin::Local),
        ])
        .unwrap();
        drop(tx);
        let batch = next_burst(&rx).unwrap();
        assert!(batch.notebooks);
        assert_eq!(
            batch.changes,
            vec![NoteChange {
                note_id: "n1".into(),
                origin: Origin::Local
            }]
        );
    }
}
