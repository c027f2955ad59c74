//! Noticing a damaged database, and repairing what can be rebuilt.
//!
//! At open the store runs SQLite's `quick_check` (the structure of every
//! page, far cheaper than `integrity_check`) and FTS5's own check of the
//! search index, whose blobs `quick_check` cannot read. A damaged store
//! is refused with [`CoreError::Damaged`], naming the parts, rather than
//! opened: writing on top of a broken page spreads the damage.
//!
//! The search index and the note list (`notes`, `note_tags`) are derived
//! from the notes' documents, so [`Store::repair`] rebuilds them and loses
//! nothing: it builds a fresh database beside the damaged one, copies every
//! other table (the documents, sync state, settings) as it is, rebuilds the
//! derived tables from the documents, checks the result with
//! `integrity_check`, and only then swaps it in. The damaged file is kept
//! next to it. If a table that is not derived is damaged, nothing is
//! changed and the error says so.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::Connection;

use crate::doc_cache::DocCache;
use crate::error::{CoreError, Result};
use crate::migrations;
use crate::store::{sql_err, write_derived, Store, DB_FILE};

/// Tables rebuilt from the documents, with the words a user reads.
const DERIVED: &[(&str, &str)] = &[
    ("notes_fts", "the search index"),
    ("note_text", "the search index"),
    ("notes", "the note list"),
    ("note_tags", "the note list"),
    ("notebook", "the notebook list"),
    ("note_place", "the notebook list"),
    ("link", "the links between notes"),
    ("attachment", "the attachment list"),
    ("attachment_chunk", "the attachment list"),
    ("blob_location", "the attachment index"),
];

/// What a repair did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairReport {
    /// Notes whose list entry and search entry were rebuilt.
    pub notes_rebuilt: usize,
    /// Where the damaged database was kept.
    pub damaged_copy: PathBuf,
}

/// Is `table` one of the derived tables, or one of FTS5's shadow tables of
/// the search index (`notes_fts_data`, ...)?
fn derived_part(table: &str) -> Option<&'static str> {
    DERIVED
        .iter()
        .find(|(name, _)| table == *name || table.starts_with("notes_fts_"))
        .map(|(_, part)| *part)
}

/// The damaged parts of the database `conn` holds, in words; empty when it
/// is sound. The `bool` says whether every damaged part can be rebuilt.
pub(crate) fn check(conn: &Connection, path: &Path) -> Result<Option<(Vec<String>, bool)>> {
    let e = sql_err("checking the database", path);
    let whole = quick_check(conn, None).map_err(&e)?;
    let index_ok = fts_check(conn);
    if whole && index_ok {
        return Ok(None);
    }
    let mut parts: Vec<String> = Vec::new();
    let mut repairable = true;
    let mut add = |part: &str, rebuildable: bool| {
        if !parts.iter().any(|p| p == part) {
            parts.push(part.to_owned());
        }
        repairable &= rebuildable;
    };
    if !index_ok {
        add("the search index", true);
    }
    if !whole {
        // Which tables: quick_check names pages, not tables.
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(&e)?;
        let mut found = false;
        for table in tables {
            if quick_check(conn, Some(&table)).unwrap_or(false) {
                continue;
            }
            found = true;
            match derived_part(&table) {
                Some(part) => add(part, true),
                None => add(&format!("the notes themselves (table {table})"), false),
            }
        }
        if !found {
            // Damage no single table owns (free pages, the schema): a
            // rebuild writes every page afresh.
            add("the database file's free space", true);
        }
    }
    Ok(Some((parts, repairable)))
}

/// Refuses a database that has tables and does not check out.
pub(crate) fn refuse_if_damaged(conn: &Connection, path: &Path) -> Result<()> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sql_err("reading the schema version", path))?;
    if version == 0 {
        // A new, empty database: nothing to check yet.
        return Ok(());
    }
    match check(conn, path)? {
        None => Ok(()),
        Some((parts, repairable)) => Err(CoreError::Damaged {
            path: path.to_path_buf(),
            parts,
            repairable,
        }),
    }
}

/// Whether `quick_check` finds nothing wrong. Some damage (a root page
/// that is no b-tree page) makes the check itself fail as corrupt: that
/// is an answer too.
fn quick_check(conn: &Connection, table: Option<&str>) -> rusqlite::Result<bool> {
    match run_quick_check(conn, table) {
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::DatabaseCorrupt =>
        {
            Ok(false)
        }
        other => other,
    }
}

fn run_quick_check(conn: &Connection, table: Option<&str>) -> rusqlite::Result<bool> {
    let sql = match table {
        // The name is from sqlite_master; quoted as an identifier.
        Some(t) => format!("PRAGMA quick_check(\"{}\")", t.replace('"', "\"\"")),
        None => "PRAGMA quick_check".to_owned(),
    };
    let mut stmt = conn.prepare(&sql)?;
    let lines: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(lines == ["ok"])
}

/// FTS5's check of the search index's own structure.
fn fts_check(conn: &Connection) -> bool {
    conn.execute(
        "INSERT INTO notes_fts(notes_fts) VALUES ('integrity-check')",
        [],
    )
    .is_ok()
}

impl Store {
    /// Rebuilds the search index and the note list of the store in `dir`
    /// from the notes' documents, keeping the damaged file beside it.
    /// Nothing else may have the store open meanwhile.
    pub fn repair(dir: &Path) -> Result<RepairReport> {
        let path = dir.join(DB_FILE);
        let fresh = dir.join(format!("{DB_FILE}.repairing"));
        let open_err = |reason: String| CoreError::Open {
            path: path.clone(),
            reason,
        };
        if !path.exists() {
            return Err(open_err("there is no database to repair".into()));
        }
        for leftover in [
            fresh.clone(),
            sibling(&fresh, "-wal"),
            sibling(&fresh, "-shm"),
        ] {
            remove_if_present(&leftover)?;
        }

        let notes_rebuilt = {
            let old = Connection::open(&path).map_err(sql_err("opening the database", &path))?;
            let version: i64 = old
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(sql_err("reading the schema version", &path))?;
            if let Some((parts, false)) = check(&old, &path)? {
                return Err(CoreError::Damaged {
                    path,
                    parts,
                    repairable: false,
                });
            }
            drop(old);

            crate::private_files::prepare_file(&fresh).map_err(|e| open_err(e.to_string()))?;
            let mut conn = Connection::open(&fresh)
                .map_err(sql_err("creating the repaired database", &fresh))?;
            conn.pragma_update(None, "foreign_keys", "OFF")
                .map_err(sql_err("creating the repaired database", &fresh))?;
            migrations::migrate(&mut conn, &fresh)?;
            let now: i64 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(sql_err("reading the schema version", &fresh))?;
            if now != version {
                return Err(open_err(format!(
                    "the damaged database has schema version {version}; open it once with a \
                     Cairn of that version, or repair it with one"
                )));
            }
            copy_sources(&conn, &path, &fresh)?;
            let actor = read_actor(&conn, &fresh)?;
            let mut store = Store {
                // Built in one go and then moved into place: nothing to
                // checkpoint meanwhile.
                checkpointer: None,
                conn,
                path: fresh.clone(),
                actor,
                clock: Arc::new(crate::clock::SystemClock),
                cache: DocCache::new(1),
                events: Vec::new(),
                content_key: None,
                personal_epochs: std::collections::BTreeMap::new(),
                checked_at_open: false,
                docs_loaded: std::sync::atomic::AtomicU64::new(0),
                // A file being built, never opened by anyone else.
                _marker: crate::open_marker::OpenMarker::unmarked(),
            };
            let rebuilt = store.rebuild_derived()?;
            let ok: String = store
                .conn
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .map_err(sql_err("checking the repaired database", &fresh))?;
            if ok != "ok" {
                return Err(open_err(format!(
                    "the rebuilt database did not check out: {ok}"
                )));
            }
            rebuilt
        };

        // The old file must not be open elsewhere: a writer there would go
        // on writing into the copy we set aside.
        if sibling(&path, "-wal").exists() {
            remove_if_present(&fresh)?;
            return Err(open_err(
                "it is open in another Cairn (the app, or a `cairn sync --watch`); close that \
                 first"
                    .into(),
            ));
        }
        let stamp = unix_seconds();
        let damaged_copy = dir.join(format!("{DB_FILE}.damaged-{stamp}"));
        std::fs::hard_link(&path, &damaged_copy).map_err(|e| open_err(e.to_string()))?;
        std::fs::rename(&fresh, &path).map_err(|e| open_err(e.to_string()))?;
        Ok(RepairReport {
            notes_rebuilt,
            damaged_copy,
        })
    }

    /// Rewrites every note's derived rows from its document.
    pub(crate) fn rebuild_derived(&mut self) -> Result<usize> {
        let ids: Vec<String> = self
            .conn
            .prepare("SELECT note_id FROM doc WHERE deleted = 0 ORDER BY note_id")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(sql_err("listing the notes", &self.path))?;
        let mut states = Vec::with_capacity(ids.len());
        for id in &ids {
            let state = self.doc_mut(id)?.state(None)?;
            // One document in memory at a time, whatever the store's size.
            self.cache.evict(id);
            states.push((id.clone(), state));
        }
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction()
            .map_err(sql_err("rebuilding the notes index", &path))?;
        for (id, state) in &states {
            write_derived(&tx, id, state, &path)?;
        }
        tx.commit()
            .map_err(sql_err("rebuilding the notes index", &path))?;
        Ok(states.iter().filter(|(_, s)| !s.deleted).count())
    }
}

/// Copies every table that is not derived from the damaged database into
/// the fresh one, row for row (AUTOINCREMENT counters included, since sync
/// compares chunk ids with what it published).
fn copy_sources(conn: &Connection, old: &Path, fresh: &Path) -> Result<()> {
    let e = sql_err("copying the notes into the repaired database", fresh);
    conn.execute("ATTACH DATABASE ?1 AS damaged", [old.to_string_lossy()])
        .map_err(&e)?;
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM damaged.sqlite_master WHERE type = 'table'
             AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(&e)?;
    let tx = conn.unchecked_transaction().map_err(&e)?;
    for table in tables.iter().filter(|t| derived_part(t).is_none()) {
        let quoted = format!("\"{}\"", table.replace('"', "\"\""));
        tx.execute(&format!("DELETE FROM main.{quoted}"), [])
            .map_err(&e)?;
        tx.execute(
            &format!("INSERT INTO main.{quoted} SELECT * FROM damaged.{quoted}"),
            [],
        )
        .map_err(&e)?;
    }
    let has_sequence: bool = tx
        .query_row(
            "SELECT count(*) FROM damaged.sqlite_master WHERE name = 'sqlite_sequence'",
            [],
            |r| r.get::<_, i64>(0).map(|n| n > 0),
        )
        .map_err(&e)?;
    if has_sequence {
        tx.execute_batch(
            "DELETE FROM main.sqlite_sequence;
             INSERT INTO main.sqlite_sequence SELECT * FROM damaged.sqlite_sequence;",
        )
        .map_err(&e)?;
    }
    tx.commit().map_err(&e)?;
    conn.execute("DETACH DATABASE damaged", []).map_err(&e)?;
    Ok(())
}

fn read_actor(conn: &Connection, path: &Path) -> Result<Vec<u8>> {
    let hex_actor: String = conn
        .query_row("SELECT value FROM meta WHERE key = 'actor'", [], |r| {
            r.get(0)
        })
        .map_err(sql_err("reading the device id", path))?;
    hex::decode(&hex_actor).map_err(|e| CoreError::Open {
        path: path.to_path_buf(),
        reason: format!("stored actor id is not hex: {e}"),
    })
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(CoreError::Open {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }),
    }
}

/// Seconds since the epoch, to name the damaged copy.
fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
