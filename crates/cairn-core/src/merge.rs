//! Taking in changes from other replicas: one note (`merge`), many in one
//! transaction (`merge_many`, and the sync engine's `merge_batch`).
//!
//! A first sync brings thousands of notes this device has never seen, and
//! loading each one's Automerge document is most of its cost. So new notes
//! are loaded on worker threads while this thread writes the ones already
//! loaded into SQLite, in entry order, inside the one transaction. Notes
//! this device has are merged here, skipping bytes it already stores.

use std::collections::HashSet;

use crate::error::{CoreError, Result};
use crate::model::{EventKind, StoreEvent};
use crate::note_doc::NoteState;
use crate::origin::Origin;
use crate::store::{read_new_note, sql_err, validate_note_id, Store};

/// Loads a peer's new note, turning a panic inside Automerge into an error
/// for that note. A worker that panicked would otherwise take the whole
/// merge down with it (the scope re-raises the panic), leave the store's
/// lock poisoned, and do the same again at the next sync of the same data.
fn load_guarded(id: &str, bytes: &[u8]) -> Result<NoteState> {
    std::panic::catch_unwind(|| read_new_note(id, bytes)).unwrap_or_else(|_| {
        Err(CoreError::BadChanges {
            id: id.to_string(),
            reason: "the document could not be loaded (Automerge failed on it)".into(),
        })
    })
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
    pub fn merge_many<D: AsRef<[u8]>>(&mut self, entries: &[(String, D)]) -> Result<usize> {
        let refs: Vec<(&str, &[u8])> = entries
            .iter()
            .map(|(id, b)| (id.as_str(), b.as_ref()))
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
        self.merge_batch_with(entries, &[], also)
    }

    /// `merge_batch`, with what a snapshot's digest says of some entries
    /// (`known[i]` for `entries[i]`; shorter or empty: nothing known). A
    /// note new here whose state is known is stored as its bytes came,
    /// its rows written from that state and marked unchecked
    /// (`crate::stored_state`), without loading its document. Entries for
    /// notes this device has are merged as always, whatever is known.
    pub(crate) fn merge_batch_with(
        &mut self,
        entries: &[(&str, &[u8])],
        known: &[Option<NoteState>],
        also: impl FnOnce(&mut Store) -> Result<()>,
    ) -> Result<usize> {
        if entries
            .iter()
            .any(|(id, _)| *id == crate::notebook_doc::NOTEBOOKS_DOC_ID)
        {
            // Every device starts the tree with the same genesis, so changes
            // to it can be merged here even when they arrive without it.
            self.ensure_tree()?;
        }
        if entries
            .iter()
            .any(|(id, _)| *id == crate::blob::index_doc::BLOB_INDEX_DOC_ID)
        {
            // The blob index too starts from one genesis everywhere.
            self.ensure_blob_index()?;
        }
        if entries
            .iter()
            .any(|(id, _)| *id == crate::device_actors::DEVICE_ACTORS_DOC_ID)
        {
            // And so do the device actors.
            self.ensure_device_actors()?;
        }
        for (id, _) in entries {
            if crate::space::tree::is_space_tree(id) {
                // A space's tree too (`space::tree`).
                self.ensure_tree_doc(id)?;
            }
            if crate::space::blob_index::is_space_blob_index(id) {
                // And a space's blob index (`space::blob_index`).
                self.ensure_space_blob_index_doc(id)?;
            }
        }
        let mut new = Vec::new();
        let mut seen = HashSet::new();
        let mut from_digest = HashSet::new();
        for (i, (id, bytes)) in entries.iter().enumerate() {
            validate_note_id(id)?;
            if !bytes.is_empty() && !self.doc_exists(id)? {
                // Only the first time a new note comes in this batch can
                // its state be the digest's: later ones are merges.
                if known.get(i).is_some_and(Option::is_some) && seen.insert(*id) {
                    from_digest.insert(i);
                }
                seen.insert(*id);
                new.push(i);
            }
        }
        let touched: Vec<&str> = entries.iter().map(|(id, _)| *id).collect();
        let is_new: HashSet<usize> = new.iter().copied().collect();
        // New notes are loaded on worker threads (most of a first sync's
        // cost) while this thread writes them, in entry order; those the
        // digest describes are taken from it instead.
        let changed = crate::bulk::pipeline(
            &new,
            |&i| match known.get(i) {
                Some(Some(state)) if from_digest.contains(&i) => Ok(state.clone()),
                _ => {
                    let (id, bytes) = entries[i];
                    load_guarded(id, bytes)
                }
            },
            |loads| {
                self.in_tx(&touched, |s| {
                    let changed = s.write_entries(entries, &is_new, loads)?;
                    for &i in &from_digest {
                        s.mark_unchecked(entries[i].0)?;
                    }
                    also(s)?;
                    Ok(changed)
                })
            },
        )?;
        for &i in new.iter().filter(|i| !from_digest.contains(i)) {
            self.count_load_of(entries[i].0);
        }
        if changed > 0
            && entries.iter().any(|(id, _)| {
                *id == crate::notebook_doc::NOTEBOOKS_DOC_ID
                    || crate::space::tree::is_space_tree(id)
            })
        {
            // A tree merged may hold again a notebook this member took out
            // of a share (`Store::retake_own_notebooks`).
            self.retake_own_notebooks()?;
        }
        Ok(changed)
    }

    /// Stores `entries` (inside a transaction): new notes from `loads`,
    /// the rest merged into their documents.
    fn write_entries(
        &mut self,
        entries: &[(&str, &[u8])],
        is_new: &HashSet<usize>,
        loads: &mut crate::bulk::Results<NoteState>,
    ) -> Result<usize> {
        let mut changed = 0;
        let mut inserted = HashSet::new();
        let mut fts = crate::store::SearchRows::default();
        for (i, (id, bytes)) in entries.iter().enumerate() {
            let loaded = is_new.contains(&i).then(|| loads.next());
            let did = match loaded {
                // The same note twice in one batch: the second is a merge.
                Some(state) if !inserted.contains(id) => {
                    let state = state?;
                    // The bytes loaded as they are, so they are stored as
                    // they are: re-saving every note of a first sync would
                    // double its cost.
                    self.insert_doc_deferred(id, bytes, &state, Origin::Merged, &mut fts)?;
                    self.events.push(StoreEvent {
                        note_id: id.to_string(),
                        origin: Origin::Merged,
                        kind: EventKind::Created,
                    });
                    inserted.insert(*id);
                    true
                }
                _ => {
                    // A merge rewrites the note's index row, which may be
                    // one of those held: they go in first.
                    fts.flush(&self.conn, &self.path)?;
                    self.merge_one(id, bytes)?
                }
            };
            if did {
                changed += 1;
            }
        }
        fts.finish(&self.conn, &self.path)?;
        Ok(changed)
    }

    fn merge_one(&mut self, id: &str, bytes: &[u8]) -> Result<bool> {
        if bytes.is_empty() {
            return Ok(false);
        }
        if !self.doc_exists(id)? {
            self.count_load_of(id);
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
        // Sizes first (SQLite knows a blob's length without reading it): most
        // incoming bytes match no chunk and not the whole in length, and
        // then no blob needs reading at all.
        let lens: Vec<(i64, usize)> = {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT id, length(data) FROM chunk WHERE note_id = ?1 ORDER BY id")
                .map_err(&err)?;
            let rows = stmt
                .query_map([id], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as usize)))
                .map_err(&err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(&err)?
        };
        let whole = lens.iter().map(|(_, n)| n).sum::<usize>() == bytes.len();
        let same_size: Vec<i64> = lens
            .iter()
            .filter(|(_, n)| *n == bytes.len())
            .map(|(chunk, _)| *chunk)
            .collect();
        if bytes.is_empty() || (!whole && same_size.is_empty()) {
            return Ok(false);
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT data FROM chunk WHERE id = ?1")
            .map_err(&err)?;
        let mut read =
            |chunk: i64| -> Result<Vec<u8>> { stmt.query_row([chunk], |r| r.get(0)).map_err(&err) };
        for chunk in same_size {
            if read(chunk)? == bytes {
                return Ok(true);
            }
        }
        if whole {
            let mut at = 0;
            for (chunk, n) in &lens {
                if read(*chunk)? != bytes[at..at + n] {
                    return Ok(false);
                }
                at += n;
            }
            return Ok(true);
        }
        Ok(false)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by design
mod tests {
    use super::*;
    use crate::ListQuery;

    fn store(dir: &std::path::Path) -> Store {
        crate::testing::open_scratch(dir).unwrap()
    }

    /// (id, whole document) for `n` new notes of a fresh store.
    fn notes(n: usize) -> Vec<(String, Vec<u8>)> {
        let dir = tempfile::tempdir().unwrap();
        let mut a = store(dir.path());
        (0..n)
            .map(|i| {
                let id = a.create_note(&format!("note {i}\nbody {i}")).unwrap();
                let bytes = a.save_note(&id).unwrap();
                (id, bytes)
            })
            .collect()
    }

    #[test]
    fn bytes_already_stored_are_skipped_without_loading_the_document() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = store(dir.path());
        let batch = notes(1);
        let (id, bytes) = &batch[0];
        assert!(b.merge(id, bytes).unwrap());
        b.cache.evict(id);
        assert!(!b.merge(id, bytes).unwrap());
        assert!(
            b.cache.get_mut(id).is_none(),
            "the document was loaded to find out what its stored bytes say"
        );
        // Different bytes of the same length are not taken for stored ones.
        let mut other = bytes.clone();
        let last = other.len() - 1;
        other[last] ^= 0xff;
        assert!(b.merge(id, &other).is_err());
    }

    #[test]
    fn a_batch_of_new_notes_is_stored_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = store(dir.path());
        let mut batch = notes(40);
        // A damaged note in the middle: the batch is refused, nothing kept.
        let good = batch[20].1.clone();
        batch[20].1 = b"not automerge".to_vec();
        let err = b.merge_many(&batch).unwrap_err();
        assert!(matches!(err, CoreError::BadChanges { .. }), "{err}");
        assert_eq!(b.count(false).unwrap(), 0);
        assert!(b.take_events().is_empty());
        // Repaired, with one note twice: every note once, in one go.
        batch[20].1 = good;
        batch.push(batch[3].clone());
        assert_eq!(b.merge_many(&batch).unwrap(), 40);
        let listed = b.list(&ListQuery::default()).unwrap();
        assert_eq!(listed.len(), 40);
        for (id, _) in &batch {
            let n = b.get(id).unwrap();
            assert!(n.body.starts_with("note "), "{}", n.body);
        }
        assert_eq!(b.take_events().len(), 40);
    }
}
