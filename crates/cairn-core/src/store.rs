//! The local store: every note's Automerge document in SQLite, plus the
//! derived tables the list and search read.
//!
//! A write goes like this:
//!
//! 1. take the note's document from the cache (or load it from its chunks);
//! 2. apply the edit and close it into one Automerge change;
//! 3. in ONE SQLite transaction: append the change bytes as a chunk, fold
//!    the chunks into a fresh snapshot when they outgrow the last one, and
//!    rewrite the note's row in `notes`, `note_tags`, `notes_fts` and `note_text`;
//! 4. commit (WAL, `synchronous=FULL`), and only then report success.
//!
//! If step 3 or 4 fails, the transaction rolls back and the cached document
//! is dropped so the next read reloads what is really on disk: an edit is
//! either stored and acknowledged, or neither. Merges from peers go the same
//! way, many notes to one transaction.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};

use crate::clock::{Clock, SystemClock};
use crate::doc_cache::DocCache;
use crate::error::{CoreError, Result};
use crate::migrations;
use crate::model::{EventKind, ListQuery, NewNote, Note, StoreEvent};
use crate::note_doc::{excerpt_of, title_of, Flag, NoteDoc, NoteState};
use crate::origin::Origin;

/// The database file inside the data directory.
pub const DB_FILE: &str = "cairn.db";

/// Change chunks are folded into a new snapshot once they are larger than
/// the snapshot, but not before they reach this size: compacting a tiny
/// note after every keystroke would cost more than it saves.
const COMPACT_MIN_BYTES: i64 = 8 * 1024;

pub(crate) const CHUNK_SNAPSHOT: i64 = 0;
pub(crate) const CHUNK_CHANGES: i64 = 1;

/// How the store is opened.
#[derive(Clone)]
pub struct StoreOptions {
    pub clock: Arc<dyn Clock>,
    /// `synchronous=FULL`: each commit is fsynced before it returns. Off
    /// only for bulk work whose caller syncs at the end.
    pub durable: bool,
    /// How many loaded documents to keep in memory.
    pub cache_docs: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            clock: Arc::new(SystemClock),
            durable: true,
            cache_docs: 64,
        }
    }
}

pub struct Store {
    /// Declared before `conn`, so it is dropped first (see its Drop).
    pub(crate) checkpointer: Option<crate::checkpointer::Checkpointer>,
    pub(crate) conn: Connection,
    pub(crate) path: PathBuf,
    pub(crate) actor: Vec<u8>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) cache: DocCache,
    pub(crate) events: Vec<StoreEvent>,
    /// When set, every object published is sealed with it and every object
    /// read must be sealed with it.
    pub(crate) content_key: Option<crate::crypto::ContentKey>,
    /// The personal space's epoch keys, once a device was removed: the
    /// newest seals what is published, each opens its epoch's objects.
    pub(crate) personal_epochs:
        std::collections::BTreeMap<crate::space::epoch::Epoch, crate::space::epoch::EpochKey>,
    /// Whether this open ran the check for damage (see `open_marker`).
    pub(crate) checked_at_open: bool,
    /// Note documents loaded by this store since it was opened (from its
    /// own chunks, or a peer's new note): what a first sync from a
    /// snapshot's digest avoids, counted for the tests and benchmarks
    /// that show it.
    pub(crate) docs_loaded: std::sync::atomic::AtomicU64,
    /// Dropped after `conn`: the store counts as closed once SQLite is.
    pub(crate) _marker: crate::open_marker::OpenMarker,
}

/// Maps a SQLite error to the core error a user can act on.
pub(crate) fn sql_err<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl Fn(rusqlite::Error) -> CoreError + 'a {
    move |source| {
        if let rusqlite::Error::SqliteFailure(e, _) = &source {
            match e.code {
                rusqlite::ErrorCode::DiskFull => {
                    return CoreError::DiskFull {
                        path: path.to_path_buf(),
                    }
                }
                rusqlite::ErrorCode::ReadOnly => {
                    return CoreError::ReadOnly {
                        path: path.to_path_buf(),
                    }
                }
                rusqlite::ErrorCode::DatabaseCorrupt => {
                    // The next open checks the whole file and says which
                    // part is damaged; until then, say what failed.
                    crate::open_marker::request_check(path);
                    return CoreError::Corrupt {
                        path: path.to_path_buf(),
                        op,
                    };
                }
                _ => {}
            }
        }
        CoreError::Database {
            op,
            source: Box::new(source),
        }
    }
}

/// Runs one statement through the connection's statement cache: every
/// note written runs the same dozen statements, and preparing each one
/// anew cost more than running it.
pub(crate) fn exec(
    conn: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(p)
}

impl Store {
    /// Opens (creating if needed) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Store> {
        Self::open_with(dir, StoreOptions::default())
    }

    pub fn open_with(dir: &Path, options: StoreOptions) -> Result<Store> {
        crate::private_files::create_dir_all(dir).map_err(|e| open_io_error(dir, e))?;
        let path = dir.join(DB_FILE);
        // 0600 before SQLite opens it, which gives -wal and -shm its mode.
        crate::private_files::prepare_file(&path).map_err(|e| open_io_error(dir, e))?;
        for suffix in ["-wal", "-shm"] {
            let mut side = path.clone().into_os_string();
            side.push(suffix);
            crate::private_files::restrict_if_present(Path::new(&side))
                .map_err(|e| open_io_error(dir, e))?;
        }
        let mut conn = Connection::open(&path).map_err(|e| classify_open_error(&path, e))?;
        let setup = |conn: &Connection| -> rusqlite::Result<()> {
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(
                None,
                "synchronous",
                if options.durable { "FULL" } else { "OFF" },
            )?;
            conn.pragma_update(None, "foreign_keys", "ON")?;
            // Checkpoints run on a thread of their own (`checkpointer.rs`).
            conn.pragma_update(
                None,
                "wal_autocheckpoint",
                crate::checkpointer::BACKSTOP_PAGES,
            )?;
            // The write path alone runs about fifteen statements per note;
            // rusqlite's default of 16 cached would evict them in turn.
            conn.set_prepared_statement_cache_capacity(64);
            Ok(())
        };
        setup(&conn).map_err(|e| match sql_err("opening the database", &path)(e) {
            CoreError::Database { source, .. } => classify_open_error(&path, *source),
            other => other,
        })?;
        // Checked when damage is likely (an unclean shutdown, damage met
        // while running), not at every open: the check reads every page.
        let previous = crate::open_marker::previous(&path);
        let marker = crate::open_marker::mark_open(&path);
        let checked_at_open = previous.needs_check;
        if checked_at_open {
            crate::repair::refuse_if_damaged(&conn, &path)?;
            previous.forget();
        }
        let migrated_from = migrations::migrate(&mut conn, &path)?;
        let actor = load_or_make_actor(&conn, &path)?;
        let checkpointer = crate::checkpointer::Checkpointer::start(&path, options.durable);
        let mut store = Store {
            checkpointer,
            conn,
            path,
            actor,
            clock: options.clock,
            cache: DocCache::new(options.cache_docs),
            events: Vec::new(),
            content_key: None,
            personal_epochs: std::collections::BTreeMap::new(),
            checked_at_open,
            docs_loaded: std::sync::atomic::AtomicU64::new(0),
            _marker: marker,
        };
        if (1..migrations::DERIVED_SCHEMA).contains(&migrated_from) {
            // Notes written before a derived table existed (links and
            // notebooks, the text searches show): it is filled from the
            // documents, once.
            store.rebuild_derived()?;
        }
        Ok(store)
    }

    /// How many note documents this store loaded since it was opened: its
    /// own (to open, edit or merge them) and peers' new notes (to store
    /// them). A first sync through a snapshot's digest loads none. The
    /// reserved documents (notebook tree, blob index, device actors) are
    /// not counted: they are always loaded, three at most.
    pub fn note_documents_loaded(&self) -> u64 {
        self.docs_loaded.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Counts a load of document `id`, if it is a note's.
    pub(crate) fn count_load_of(&self, id: &str) {
        if !crate::reserved_doc::is_reserved(id) {
            self.docs_loaded
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Whether this open checked the file for damage: after an unclean
    /// shutdown, or when damage was met while running.
    pub fn checked_at_open(&self) -> bool {
        self.checked_at_open
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This device's Automerge actor id, hex.
    pub fn actor_hex(&self) -> String {
        hex::encode(&self.actor)
    }

    /// Turns per-commit fsync on or off (bulk imports turn it off and call
    /// `checkpoint` at the end).
    pub fn set_durable(&mut self, durable: bool) -> Result<()> {
        self.conn
            .pragma_update(None, "synchronous", if durable { "FULL" } else { "OFF" })
            .map_err(sql_err("setting durability", &self.path))?;
        if let Some(c) = &self.checkpointer {
            c.set_durable(durable);
        }
        Ok(())
    }

    /// Flushes the WAL into the database file (synced, when durable).
    ///
    /// The background checkpoint may hold the checkpoint lock at that
    /// moment, and SQLite then reports the checkpoint as busy rather than
    /// waiting: it is tried again, since a bulk write's durability rests
    /// on this one.
    pub fn checkpoint(&mut self) -> Result<()> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let busy: i64 = self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
                .map_err(sql_err("checkpointing", &self.path))?;
            if busy == 0 {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err(CoreError::Invalid {
                    what: "checkpoint",
                    reason: "the database stayed busy for 10 seconds".into(),
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Turns end-to-end encryption of synced objects on (or off).
    pub fn set_content_key(&mut self, key: Option<crate::crypto::ContentKey>) {
        self.content_key = key;
    }

    pub fn content_key(&self) -> Option<&crate::crypto::ContentKey> {
        self.content_key.as_ref()
    }

    /// Sets every key of the personal space (`crate::account_keys`): the
    /// content key and the epoch keys after it.
    pub fn set_account_keys(&mut self, keys: Option<&crate::account_keys::AccountKeys>) {
        self.content_key = keys.map(|k| k.content().clone());
        self.personal_epochs = keys.map(|k| k.epoch_keys()).unwrap_or_default();
    }

    /// What the personal stream seals and opens with.
    pub fn personal_keys(&self) -> crate::sync::personal_object::PersonalKeys {
        crate::sync::personal_object::PersonalKeys {
            content: self.content_key.clone(),
            epochs: self.personal_epochs.clone(),
        }
    }

    /// What happened since the last call, oldest first.
    pub fn take_events(&mut self) -> Vec<StoreEvent> {
        std::mem::take(&mut self.events)
    }

    // ---------------------------------------------------------------- writes

    /// Creates a note with this body; returns its id.
    pub fn create_note(&mut self, body: &str) -> Result<String> {
        self.create_note_with(NewNote {
            body: body.to_string(),
            ..NewNote::default()
        })
    }

    /// Creates a note with all its fields (an import keeps its dates).
    pub fn create_note_with(&mut self, new: NewNote) -> Result<String> {
        let id = uuid::Uuid::new_v4().to_string();
        let now = self.clock.now_ms();
        let created = new.created_ms.unwrap_or(now);
        let mut doc = NoteDoc::create(&id, &self.actor, &new.body, created)?;
        if !new.tags.is_empty() || new.pinned || new.trashed || new.modified_ms.is_some() {
            for t in &new.tags {
                doc.add_tag(&validate_tag(t)?)?;
            }
            if new.pinned {
                doc.set_flag(Flag::Pinned, true)?;
            }
            let modified = new.modified_ms.unwrap_or(created);
            doc.set_flag(Flag::Trashed, new.trashed)?;
            doc.set_modified(modified)?;
            doc.commit_local(modified)?;
        }
        let snapshot = doc.save();
        let state = doc.state(None)?;
        self.in_tx(&[&id], |s| {
            s.insert_doc(&id, &snapshot, &state, Origin::Local)?;
            s.events.push(StoreEvent {
                note_id: id.clone(),
                origin: Origin::Local,
                kind: EventKind::Created,
            });
            Ok(())
        })?;
        self.cache.insert(doc);
        Ok(id)
    }

    /// Replaces the body, stored as a minimal diff of the old one.
    pub fn set_body(&mut self, id: &str, body: &str) -> Result<bool> {
        self.edit(id, |d| d.set_body(body))
    }

    /// Splices the body at a UTF-16 index (the editor's unit).
    pub fn splice(&mut self, id: &str, index: usize, delete: isize, insert: &str) -> Result<bool> {
        self.edit(id, |d| d.splice(index, delete, insert))
    }

    /// Adds and removes tags in one change.
    pub fn tag(&mut self, id: &str, add: &[String], remove: &[String]) -> Result<bool> {
        let add: Vec<String> = add.iter().map(|t| validate_tag(t)).collect::<Result<_>>()?;
        let remove: Vec<String> = remove
            .iter()
            .map(|t| validate_tag(t))
            .collect::<Result<_>>()?;
        self.edit(id, |d| {
            for t in &remove {
                d.remove_tag(t)?;
            }
            for t in &add {
                d.add_tag(t)?;
            }
            Ok(())
        })
    }

    pub fn set_pinned(&mut self, id: &str, pinned: bool) -> Result<bool> {
        self.edit(id, |d| d.set_flag(Flag::Pinned, pinned))
    }

    /// A note in the trash keeps the tags and pin it had; changing them
    /// there would only surprise whoever restores it. The app and the CLI
    /// ask this before tagging or pinning; `tag` and `set_pinned` stay
    /// plain edits, since a merge may bring either to a trashed note anyway.
    pub fn refuse_if_trashed(&mut self, id: &str) -> Result<()> {
        if self.doc_mut(id)?.state(None)?.trashed {
            return Err(CoreError::NoteTrashed { id: id.to_string() });
        }
        Ok(())
    }

    /// Deletes every note in the trash for good; returns how many. Each
    /// deletion syncs like any edit, so the other devices empty it too.
    pub fn empty_trash(&mut self) -> Result<usize> {
        let trashed: Vec<String> = self
            .list(&ListQuery {
                trashed: true,
                ..ListQuery::default()
            })?
            .into_iter()
            .map(|n| n.id)
            .collect();
        for id in &trashed {
            self.delete(id)?;
        }
        Ok(trashed.len())
    }

    pub fn trash(&mut self, id: &str) -> Result<bool> {
        self.edit(id, |d| d.set_flag(Flag::Trashed, true))
    }

    /// Brings a note back from the trash, into its notebook (which comes
    /// back too if it was deleted; see `notebooks.rs`).
    pub fn restore(&mut self, id: &str) -> Result<bool> {
        let changed = self.edit(id, |d| d.set_flag(Flag::Trashed, false))?;
        self.revive_place(id)?;
        Ok(changed)
    }

    /// Deletes a note nothing was ever put into (no text, no tag, no pin):
    /// what a "new note" left as it was becomes. Returns whether it went.
    /// The check and the deletion are one store call, so text merged from
    /// another device in the meantime keeps the note.
    pub fn discard_if_blank(&mut self, id: &str) -> Result<bool> {
        let state = self.doc_mut(id)?.state(None)?;
        let blank = !state.deleted
            && state.body.trim().is_empty()
            && state.tags.is_empty()
            && !state.pinned;
        if !blank {
            return Ok(false);
        }
        self.delete(id)?;
        Ok(true)
    }

    /// Deletes a note for good: the body is cleared and a tombstone set, so
    /// the deletion reaches other devices like any edit and the text is
    /// gone from the note's current state. (Its history still holds the
    /// text until the document is dropped everywhere.)
    pub fn delete(&mut self, id: &str) -> Result<bool> {
        self.edit(id, |d| {
            d.set_body("")?;
            // Its attachments go with it (and their chunks, at the next
            // garbage collection).
            for (key, _) in d.state(None)?.attachments {
                if let Some(att) = key.strip_prefix(crate::blob::record::KEY_PREFIX) {
                    d.remove_attachment(att)?;
                }
            }
            d.set_flag(Flag::Deleted, true)
        })
    }

    /// Applies one local edit as one change.
    pub(crate) fn edit(
        &mut self,
        id: &str,
        apply: impl FnOnce(&mut NoteDoc) -> Result<()>,
    ) -> Result<bool> {
        let now = self.clock.now_ms();
        let doc = self.doc_mut(id)?;
        if doc.state(None)?.deleted {
            return Err(CoreError::NoteDeleted { id: id.to_string() });
        }
        if let Err(e) = apply(doc) {
            // Drop whatever was staged; the stored document is unchanged.
            doc.doc_mut().rollback();
            return Err(e);
        }
        // Links typed in this edit get their target's id in the same change.
        if let Err(e) = self.stage_links(id) {
            self.doc_mut(id)?.doc_mut().rollback();
            return Err(e);
        }
        let doc = self.doc_mut(id)?;
        if !doc.commit_local(now)? {
            return Ok(false);
        }
        self.in_tx(&[id], |s| s.write_changes(id, Origin::Local))?;
        Ok(true)
    }

    /// Runs `f` in one SQLite transaction. On any error the transaction is
    /// rolled back, the events it queued are dropped and the documents it
    /// touched leave the cache (they may hold changes that were not stored).
    pub(crate) fn in_tx<T>(
        &mut self,
        touched: &[&str],
        f: impl FnOnce(&mut Store) -> Result<T>,
    ) -> Result<T> {
        let path = self.path.clone();
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(sql_err("starting a write", &path))?;
        let events_before = self.events.len();
        let result = f(self).and_then(|v| {
            self.conn
                .execute_batch("COMMIT")
                .map_err(sql_err("committing a write", &path))
                .map(|()| v)
        });
        if result.is_ok() {
            if let Some(c) = &self.checkpointer {
                c.wrote();
            }
        }
        if result.is_err() {
            if !self.conn.is_autocommit() {
                if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                    eprintln!("warning: rollback failed: {e}");
                }
            }
            self.events.truncate(events_before);
            for id in touched {
                self.cache.evict(id);
            }
        }
        result
    }

    /// Stores a new document (inside a transaction).
    pub(crate) fn insert_doc(
        &mut self,
        id: &str,
        snapshot: &[u8],
        state: &NoteState,
        origin: Origin,
    ) -> Result<()> {
        let mut fts = SearchRows::default();
        self.insert_doc_deferred(id, snapshot, state, origin, &mut fts)?;
        fts.flush(&self.conn, &self.path)
    }

    /// `insert_doc` for a bulk write: the note's search index row joins
    /// `fts`, which the caller flushes (see [`SearchRows`]).
    pub(crate) fn insert_doc_deferred(
        &mut self,
        id: &str,
        snapshot: &[u8],
        state: &NoteState,
        origin: Origin,
        fts: &mut SearchRows,
    ) -> Result<()> {
        let path = self.path.clone();
        exec(
            &self.conn,
            "INSERT INTO doc(note_id, snapshot_len, changes_len, deleted) VALUES (?1, ?2, 0, ?3)",
            params![id, snapshot.len() as i64, state.deleted],
        )
        .map_err(sql_err("storing a note", &path))?;
        exec(
            &self.conn,
            "INSERT INTO chunk(note_id, kind, origin, data) VALUES (?1, ?2, ?3, ?4)",
            params![id, CHUNK_SNAPSHOT, origin.to_sql(), snapshot],
        )
        .map_err(sql_err("storing a note", &path))?;
        write_derived_rows(&self.conn, id, state, &path, Some(fts))?;
        fts.flush_if_full(&self.conn, &path)
    }

    /// Writes the cached document's new changes and derived rows (inside a
    /// transaction).
    pub(crate) fn write_changes(&mut self, id: &str, origin: Origin) -> Result<()> {
        let path = self.path.clone();
        let Some(doc) = self.cache.get_mut(id) else {
            return Err(CoreError::NoteNotFound { id: id.to_string() });
        };
        let bytes = doc.take_incremental();
        let state = doc.state(None)?;
        let tx = &self.conn;
        let (snapshot_len, changes_len): (i64, i64) = tx
            .prepare_cached("SELECT snapshot_len, changes_len FROM doc WHERE note_id = ?1")
            .and_then(|mut st| st.query_row([id], |r| Ok((r.get(0)?, r.get(1)?))))
            .map_err(sql_err("reading a note's size", &path))?;
        let changes_len = changes_len + bytes.len() as i64;
        if changes_len > snapshot_len.max(COMPACT_MIN_BYTES) {
            // Fold: one snapshot replaces all chunks of this note.
            let snapshot = doc.save();
            exec(tx, "DELETE FROM chunk WHERE note_id = ?1", [id])
                .map_err(sql_err("compacting a note", &path))?;
            exec(
                tx,
                "INSERT INTO chunk(note_id, kind, origin, data) VALUES (?1, ?2, ?3, ?4)",
                params![id, CHUNK_SNAPSHOT, origin.to_sql(), snapshot],
            )
            .map_err(sql_err("compacting a note", &path))?;
            exec(
                tx,
                "UPDATE doc SET snapshot_len = ?2, changes_len = 0, deleted = ?3 WHERE note_id = ?1",
                params![id, snapshot.len() as i64, state.deleted],
            )
            .map_err(sql_err("compacting a note", &path))?;
        } else {
            exec(
                tx,
                "INSERT INTO chunk(note_id, kind, origin, data) VALUES (?1, ?2, ?3, ?4)",
                params![id, CHUNK_CHANGES, origin.to_sql(), bytes],
            )
            .map_err(sql_err("storing a change", &path))?;
            exec(
                tx,
                "UPDATE doc SET changes_len = ?2, deleted = ?3 WHERE note_id = ?1",
                params![id, changes_len, state.deleted],
            )
            .map_err(sql_err("storing a change", &path))?;
        }
        write_derived(tx, id, &state, &path)?;
        self.events.push(StoreEvent {
            note_id: id.to_string(),
            origin,
            kind: if state.deleted {
                EventKind::Deleted
            } else {
                EventKind::Updated
            },
        });
        Ok(())
    }

    // ----------------------------------------------------------------- docs

    pub(crate) fn doc_exists(&self, id: &str) -> Result<bool> {
        self.conn
            .query_row("SELECT 1 FROM doc WHERE note_id = ?1", [id], |_| Ok(()))
            .optional()
            .map(|r| r.is_some())
            .map_err(sql_err("looking up a note", &self.path))
    }

    /// The note's document, loaded into the cache if needed.
    pub(crate) fn doc_mut(&mut self, id: &str) -> Result<&mut NoteDoc> {
        if self.cache.get_mut(id).is_none() {
            let doc = self.load_doc(id)?;
            let state = if self.is_unchecked(id)? {
                Some(doc.state(None)?)
            } else {
                None
            };
            self.cache.insert(doc);
            if let Some(state) = state {
                self.check_against_document(id, &state)?;
            }
        }
        self.cache
            .get_mut(id)
            .ok_or_else(|| CoreError::NoteNotFound { id: id.to_string() })
    }

    fn load_doc(&self, id: &str) -> Result<NoteDoc> {
        self.count_load_of(id);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT kind, data FROM chunk WHERE note_id = ?1 ORDER BY id")
            .map_err(sql_err("reading a note", &self.path))?;
        let rows: Vec<(i64, Vec<u8>)> = stmt
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(sql_err("reading a note", &self.path))?;
        match rows.first() {
            None => Err(CoreError::NoteNotFound { id: id.to_string() }),
            Some((kind, _)) if *kind != CHUNK_SNAPSHOT => Err(CoreError::CorruptNote {
                id: id.to_string(),
                reason: "first chunk is not a snapshot".into(),
            }),
            Some(_) => {
                let chunks: Vec<Vec<u8>> = rows.into_iter().map(|(_, d)| d).collect();
                NoteDoc::load(id, &self.actor, &chunks)
            }
        }
    }

    /// The note as the editor opens it.
    pub fn get(&mut self, id: &str) -> Result<Note> {
        if crate::reserved_doc::is_reserved(id) {
            // The notebook tree, the blob index and the device actors are
            // stored like notes but are not notes.
            return Err(CoreError::NoteNotFound { id: id.to_string() });
        }
        let doc = self.doc_mut(id)?;
        let state = doc.state(None)?;
        if state.deleted {
            return Err(CoreError::NoteDeleted { id: id.to_string() });
        }
        let heads = doc.heads().iter().map(|h| h.to_string()).collect();
        Ok(note_from_state(id, state, heads))
    }
}

/// Reads a note that came from a peer and is new here. The load is strict
/// (a partial or damaged document is an error); the document's own hash
/// check is skipped because the object it came in was already checked
/// against its SHA-256 (and opened with its AEAD tag when encrypted).
pub(crate) fn read_new_note(id: &str, bytes: &[u8]) -> Result<NoteState> {
    let bad = |reason: String| CoreError::BadChanges {
        id: id.to_string(),
        reason,
    };
    let doc = automerge::AutoCommit::load_with_options(
        bytes,
        automerge::LoadOptions::new()
            .text_encoding(crate::note_doc::ENCODING)
            .on_partial_load(automerge::OnPartialLoad::Error)
            .verification_mode(automerge::VerificationMode::DontCheck),
    )
    .map_err(|e| bad(e.to_string()))?;
    let doc = NoteDoc::from_doc(id, doc).map_err(|e| bad(e.to_string()))?;
    doc.state(None)
}

pub(crate) fn note_from_state(id: &str, s: NoteState, heads: Vec<String>) -> Note {
    Note {
        id: id.to_string(),
        title: title_of(&s.body),
        body: s.body,
        tags: s.tags,
        pinned: s.pinned,
        trashed: s.trashed,
        created_ms: s.created_ms,
        modified_ms: s.modified_ms,
        heads,
    }
}

/// Rewrites the derived rows of one document from its state: the tree's
/// `notebook` rows for the notebook tree, a note's rows otherwise.
pub(crate) fn write_derived(tx: &Connection, id: &str, s: &NoteState, path: &Path) -> Result<()> {
    write_derived_rows(tx, id, s, path, None)
}

/// Search index rows of new notes, written together.
///
/// FTS5 flushes what it holds in memory to a new on-disk segment whenever
/// a statement of the transaction opens a savepoint, as the inserts into
/// the tables with foreign keys do. Written note by note, the index of a
/// bulk load became one tiny segment per note, and much of the load's
/// SQLite time went into flushing and merging them. Written in runs, each
/// run is one segment.
#[derive(Default)]
pub(crate) struct SearchRows {
    rows: Vec<(i64, String, String, String)>,
    bytes: usize,
    /// Rows written by this batch so far, every run counted.
    written: usize,
}

/// A batch that wrote this many rows leaves its index merged into one
/// segment (`finish`).
const OPTIMIZE_AFTER_ROWS: usize = 500;

/// A run is flushed once its text reaches this size: a few segments for a
/// first sync of 10,000 notes, and bounded memory however many there are.
const SEARCH_RUN_BYTES: usize = 8 << 20;

impl SearchRows {
    fn push(&mut self, rowid: i64, title: String, body: &str, tags: String) {
        self.bytes += title.len() + body.len() + tags.len();
        self.rows.push((rowid, title, body.to_string(), tags));
    }

    fn flush_if_full(&mut self, tx: &Connection, path: &Path) -> Result<()> {
        if self.bytes >= SEARCH_RUN_BYTES {
            self.flush(tx, path)?;
        }
        Ok(())
    }

    /// Writes the rows held (inside the transaction that wrote the notes).
    pub(crate) fn flush(&mut self, tx: &Connection, path: &Path) -> Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let e = sql_err("updating the search index", path);
        let mut stmt = tx
            .prepare_cached(
                "INSERT INTO notes_fts(rowid, title, body, tags) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(&e)?;
        for (rowid, title, body, tags) in self.rows.drain(..) {
            stmt.execute(params![rowid, title, body, tags])
                .map_err(&e)?;
            self.written += 1;
        }
        self.bytes = 0;
        Ok(())
    }

    /// Writes the rows held, and after a large batch merges the index into
    /// one segment. FTS5 writes a large run as big segments of its lowest
    /// level, where every few edits afterwards would merge them again: a
    /// slow keystroke now and then. Merged once here, they sit above the
    /// level edits write to.
    pub(crate) fn finish(&mut self, tx: &Connection, path: &Path) -> Result<()> {
        self.flush(tx, path)?;
        if self.written >= OPTIMIZE_AFTER_ROWS {
            tx.execute("INSERT INTO notes_fts(notes_fts) VALUES('optimize')", [])
                .map_err(sql_err("merging the search index", path))?;
            self.written = 0;
        }
        Ok(())
    }
}

/// `write_derived`; `fresh` when the document is new here, so it has no
/// rows to replace (a bulk load then skips a lookup and four deletes per
/// note), and its search index row joins the run given.
pub(crate) fn write_derived_rows(
    tx: &Connection,
    id: &str,
    s: &NoteState,
    path: &Path,
    fresh: Option<&mut SearchRows>,
) -> Result<()> {
    if id == crate::notebook_doc::NOTEBOOKS_DOC_ID {
        return crate::notebooks::write_tree(tx, Some(&s.notebooks), path);
    }
    if crate::space::tree::is_space_tree(id) {
        // A shared notebook's tree: the rows come from every tree.
        return crate::notebooks::write_tree(tx, None, path);
    }
    if id == crate::blob::index_doc::BLOB_INDEX_DOC_ID {
        return crate::blob::transfer::write_locations(tx, &s.chunk_locations, path);
    }
    if id == crate::device_actors::DEVICE_ACTORS_DOC_ID
        || crate::space::blob_index::is_space_blob_index(id)
    {
        // Read from the document when asked; nothing derived to keep.
        return Ok(());
    }
    let is_fresh = fresh.is_some();
    crate::stored_state::write_state_row(tx, id, s, path)?;
    write_note_rows(tx, id, s, path, fresh)?;
    crate::blob::attach::write_note_attachments(tx, id, s, path)?;
    crate::backlinks::write_note_links(tx, id, s, path, is_fresh)
}

/// Rewrites the `notes`, `note_tags`, `notes_fts` and `note_text` rows of one note.
fn write_note_rows(
    tx: &Connection,
    id: &str,
    s: &NoteState,
    path: &Path,
    deferred: Option<&mut SearchRows>,
) -> Result<()> {
    let e = sql_err("updating the notes index", path);
    let fresh = deferred.is_some();
    let old_rowid: Option<i64> = if fresh {
        None
    } else {
        tx.prepare_cached("SELECT rowid FROM notes WHERE id = ?1")
            .and_then(|mut st| st.query_row([id], |r| r.get(0)).optional())
            .map_err(&e)?
    };
    if let Some(rowid) = old_rowid {
        exec(tx, "DELETE FROM notes_fts WHERE rowid = ?1", [rowid]).map_err(&e)?;
        if s.deleted {
            exec(tx, "DELETE FROM note_text WHERE rowid = ?1", [rowid]).map_err(&e)?;
        }
    }
    if s.deleted {
        exec(tx, "DELETE FROM notes WHERE id = ?1", [id]).map_err(&e)?;
        return Ok(());
    }
    let tags = crate::inline_tags::row_tags(s);
    let tags_json = serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into());
    let title = title_of(&s.body);
    let size = s.body.encode_utf16().count() as i64;
    let rowid: i64 = tx
        .prepare_cached(
            "INSERT INTO notes(id, title, excerpt, tags, pinned, trashed, created, modified, size)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT(id) DO UPDATE SET title=excluded.title, excerpt=excluded.excerpt,
               tags=excluded.tags, pinned=excluded.pinned, trashed=excluded.trashed,
               created=excluded.created, modified=excluded.modified, size=excluded.size
             RETURNING rowid",
        )
        .and_then(|mut st| {
            st.query_row(
                params![
                    id,
                    title,
                    excerpt_of(&s.body),
                    tags_json,
                    s.pinned,
                    s.trashed,
                    s.created_ms,
                    s.modified_ms,
                    size
                ],
                |r| r.get(0),
            )
        })
        .map_err(&e)?;
    if !fresh {
        exec(tx, "DELETE FROM note_tags WHERE note_id = ?1", [id]).map_err(&e)?;
    }
    for t in &tags {
        exec(
            tx,
            "INSERT OR IGNORE INTO note_tags(tag, note_id) VALUES (?1, ?2)",
            params![t, id],
        )
        .map_err(&e)?;
    }
    match deferred {
        Some(run) => run.push(rowid, title, &s.body, tags.join(" ")),
        None => {
            exec(
                tx,
                "INSERT INTO notes_fts(rowid, title, body, tags) VALUES (?1, ?2, ?3, ?4)",
                params![rowid, title, s.body, tags.join(" ")],
            )
            .map_err(&e)?;
        }
    }
    exec(
        tx,
        "INSERT OR REPLACE INTO note_text(rowid, body) VALUES (?1, ?2)",
        params![rowid, s.body],
    )
    .map_err(&e)?;
    Ok(())
}

fn load_or_make_actor(conn: &Connection, path: &Path) -> Result<Vec<u8>> {
    let existing: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'actor'", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(sql_err("reading the device id", path))?;
    if let Some(hex_actor) = existing {
        return hex::decode(&hex_actor).map_err(|e| CoreError::Open {
            path: path.to_path_buf(),
            reason: format!("stored actor id is not hex: {e}"),
        });
    }
    let actor = uuid::Uuid::new_v4().as_bytes().to_vec();
    conn.execute(
        "INSERT INTO meta(key, value) VALUES ('actor', ?1)",
        [hex::encode(&actor)],
    )
    .map_err(sql_err("storing the device id", path))?;
    Ok(actor)
}

fn open_io_error(dir: &Path, e: std::io::Error) -> CoreError {
    match e.kind() {
        std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied => {
            CoreError::ReadOnly {
                path: dir.to_path_buf(),
            }
        }
        std::io::ErrorKind::StorageFull => CoreError::DiskFull {
            path: dir.to_path_buf(),
        },
        _ => CoreError::Open {
            path: dir.to_path_buf(),
            reason: e.to_string(),
        },
    }
}

fn classify_open_error(path: &Path, source: rusqlite::Error) -> CoreError {
    // SQLite says only "unable to open"; find out whether the folder can be
    // written at all, so the user hears the real reason.
    let probe = path.with_extension("probe");
    let readonly = match std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)
    {
        Ok(_) => {
            if let Err(e) = std::fs::remove_file(&probe) {
                warn_leftover_probe(&probe, &e);
            }
            false
        }
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied
        ),
    };
    if readonly {
        return CoreError::ReadOnly {
            path: path.to_path_buf(),
        };
    }
    match &source {
        rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::NotADatabase => {
            CoreError::Open {
                path: path.to_path_buf(),
                reason: "the file is not a Cairn database (or it is damaged)".into(),
            }
        }
        _ => CoreError::Open {
            path: path.to_path_buf(),
            reason: source.to_string(),
        },
    }
}

fn warn_leftover_probe(path: &Path, e: &std::io::Error) {
    eprintln!("warning: could not remove {}: {e}", path.display());
}

/// Tags are short single-line labels.
pub fn validate_tag(tag: &str) -> Result<String> {
    let t = tag.trim().trim_start_matches('#').trim();
    if t.is_empty()
        || t.chars().count() > 64
        || t.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(CoreError::Invalid {
            what: "tag",
            reason: format!("{tag:?}: a tag is 1 to 64 characters with no spaces"),
        });
    }
    Ok(t.to_string())
}

/// Note ids are UUIDs; anything else from outside is refused.
pub fn validate_note_id(id: &str) -> Result<()> {
    uuid::Uuid::parse_str(id)
        .map(|_| ())
        .map_err(|_| CoreError::Invalid {
            what: "note id",
            reason: format!("{id:?} is not a note id"),
        })
}
