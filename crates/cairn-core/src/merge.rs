//! Taking in changes from other replicas: one note (`merge`), many in one
//! transaction (`merge_many`, and the sync engine's `merge_batch`).
//!
//! A first sync brings thousands of notes this device has never seen, and
//! loading each one's Automerge document is most of its cost. So new notes
//! are loaded on worker threads while this thread writes the ones already
//! loaded into SQLite, in entry order, inside the one transaction. Notes
//! this device has are merged here, skipping bytes it already stores.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc::{self, Receiver};

use crate::error::{CoreError, Result};
use crate::model::{EventKind, StoreEvent};
use crate::note_doc::NoteState;
use crate::origin::Origin;
use crate::store::{read_new_note, sql_err, validate_note_id, Store};

/// Documents being loaded on worker threads, handed out by entry index.
struct Loads {
    results: Receiver<(usize, Result<NoteState>)>,
    /// Entry indexes being loaded and not handed out yet.
    pending: HashSet<usize>,
    /// Loaded out of order, waiting for their turn.
    early: HashMap<usize, Result<NoteState>>,
}

impl Loads {
    /// The loaded state for entry `i`, waiting for it if needed; None when
    /// entry `i` was not sent to be loaded (its note exists already).
    fn take(&mut self, i: usize) -> Option<Result<NoteState>> {
        if !self.pending.remove(&i) {
            return None;
        }
        if let Some(r) = self.early.remove(&i) {
            return Some(r);
        }
        while let Ok((j, r)) = self.results.recv() {
            if j == i {
                return Some(r);
            }
            self.early.insert(j, r);
        }
        Some(Err(CoreError::Invalid {
            what: "merge",
            reason: "a worker loading notes stopped".into(),
        }))
    }
}

impl Store {
    /// Merges changes from another replica of the note (the sync engine's
    /// entry point). Unknown notes are created. Returns whether anything new
    /// was applied. Bad bytes are refused and change nothing.
    pub fn merge(&mut self, id: &str, bytes: &[u8]) -> Result<bool> {
        Ok(self.merge_many(&[(id.to_string(), bytes.to_vec())])? > 0)
    }

    /// Merges changes for many notes in one transaction: all of them are
    /// stored, or none. Returns how many notes changed.
    pub fn merge_many(&mut self, entries: &[(String, Vec<u8>)]) -> Result<usize> {
        let refs: Vec<(&str, &[u8])> = entries
            .iter()
            .map(|(id, b)| (id.as_str(), b.as_slice()))
            .collect();
        self.merge_batch(&refs, |_| Ok(()))
    }

    /// Merges `entries` and then runs `also` in the same transaction (the
    /// sync engine records how far it read a peer there). All or nothing.
    pub(crate) fn merge_batch(
        &mut self,
        entries: &[(&str, &[u8])],
        also: impl FnOnce(&mut Store) -> Result<()>,
    ) -> Result<usize> {
        let mut new = Vec::new();
        for (i, (id, bytes)) in entries.iter().enumerate() {
            validate_note_id(id)?;
            if !bytes.is_empty() && !self.doc_exists(id)? {
                new.push(i);
            }
        }
        let touched: Vec<&str> = entries.iter().map(|(id, _)| *id).collect();
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(1, 8)
            .min(new.len().max(1));
        std::thread::scope(|scope| {
            let (tx, rx) = mpsc::channel();
            for w in 0..workers {
                let tx = tx.clone();
                let new = &new;
                // Worker w takes every workers-th new entry, so results
                // arrive roughly in the order they are written.
                scope.spawn(move || {
                    for &i in new.iter().skip(w).step_by(workers) {
                        let (id, bytes) = entries[i];
                        if tx.send((i, read_new_note(id, bytes))).is_err() {
                            break; // the transaction failed; stop loading
                        }
                    }
                });
            }
            drop(tx);
            let mut loads = Loads {
                results: rx,
                pending: new.iter().copied().collect(),
                early: HashMap::new(),
            };
            self.in_tx(&touched, |s| {
                let changed = s.write_entries(entries, &mut loads)?;
                also(s)?;
                Ok(changed)
            })
            // Dropping `loads` here makes the workers' next send fail, so an
            // early error does not wait for every note to load.
        })
    }

    /// Stores `entries` (inside a transaction): new notes from `loads`,
    /// the rest merged into their documents.
    fn write_entries(&mut self, entries: &[(&str, &[u8])], loads: &mut Loads) -> Result<usize> {
        let mut changed = 0;
        let mut inserted = HashSet::new();
        for (i, (id, bytes)) in entries.iter().enumerate() {
            let did = match loads.take(i) {
                // The same note twice in one batch: the second is a merge.
                Some(state) if !inserted.contains(id) => {
                    let state = state?;
                    // The bytes loaded as they are, so they are stored as
                    // they are: re-saving every note of a first sync would
                    // double its cost.
                    self.insert_doc(id, bytes, &state, Origin::Merged)?;
                    self.events.push(StoreEvent {
                        note_id: id.to_string(),
                        origin: Origin::Merged,
                        kind: EventKind::Created,
                    });
                    inserted.insert(*id);
                    true
                }
                _ => self.merge_one(id, bytes)?,
            };
            if did {
                changed += 1;
            }
        }
        Ok(changed)
    }

    fn merge_one(&mut self, id: &str, bytes: &[u8]) -> Result<bool> {
        if bytes.is_empty() {
            return Ok(false);
        }
        if !self.doc_exists(id)? {
            let state = read_new_note(id, bytes)?;
            self.insert_doc(id, bytes, &state, Origin::Merged)?;
            self.events.push(StoreEvent {
                note_id: id.to_string(),
                origin: Origin::Merged,
                kind: EventKind::Created,
            });
            return Ok(true);
        }
        if self.already_stored(id, bytes)? {
            return Ok(false);
        }
        let doc = self.doc_mut(id)?;
        let before = doc.heads();
        doc.merge_bytes(bytes)?;
        if doc.heads() == before {
            return Ok(false);
        }
        self.write_changes(id, Origin::Merged)?;
        Ok(true)
    }

    /// Whether `bytes` are, byte for byte, one of this note's stored chunks
    /// or all of them in order, and so hold no change we lack.
    ///
    /// Why it pays: a device stores a peer's bytes for a new note as they
    /// came, and every device republishes what it merged. So the same bytes
    /// come back often (a peer's republished snapshot, a second peer during
    /// a first sync), and comparing them costs a read of a few kilobytes
    /// where loading and merging the document costs milliseconds per note.
    fn already_stored(&self, id: &str, bytes: &[u8]) -> Result<bool> {
        let err = sql_err("reading a note's chunks", &self.path);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT data FROM chunk WHERE note_id = ?1 ORDER BY id")
            .map_err(&err)?;
        let mut rows = stmt.query([id]).map_err(&err)?;
        // How much of `bytes` the chunks so far spell out, in order.
        let mut prefix = Some(0usize);
        while let Some(row) = rows.next().map_err(&err)? {
            let data = row
                .get_ref(0)
                .and_then(|v| v.as_blob().map_err(Into::into))
                .map_err(&err)?;
            if data == bytes {
                return Ok(true);
            }
            prefix = prefix.and_then(|at| {
                let end = at.checked_add(data.len())?;
                (bytes.get(at..end) == Some(data)).then_some(end)
            });
        }
        Ok(prefix == Some(bytes.len()) && !bytes.is_empty())
    }
}
