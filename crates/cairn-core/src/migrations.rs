//! Numbered schema migrations, embedded in the binary. `PRAGMA user_version`
//! holds the number of the last one applied. A database from a newer Cairn
//! is refused rather than guessed at.

use std::path::Path;

use rusqlite::Connection;

use crate::error::{CoreError, Result};

/// (version, SQL) in order. Append only; never edit a released migration.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_sync.sql")),
    (3, include_str!("../migrations/0003_contentless_fts.sql")),
    (4, include_str!("../migrations/0004_notebooks_links.sql")),
    (5, include_str!("../migrations/0005_peer_error_code.sql")),
    (
        6,
        include_str!("../migrations/0006_unrecorded_snapshot_slots.sql"),
    ),
    (7, include_str!("../migrations/0007_note_text.sql")),
    (8, include_str!("../migrations/0008_attachments.sql")),
    (9, include_str!("../migrations/0009_sharing_pins.sql")),
    (10, include_str!("../migrations/0010_spaces.sql")),
    (11, include_str!("../migrations/0011_space_sync.sql")),
    (12, include_str!("../migrations/0012_space_pending.sql")),
    (13, include_str!("../migrations/0013_search_prefixes.sql")),
    (14, include_str!("../migrations/0014_note_state.sql")),
    (15, include_str!("../migrations/0015_space_chunks.sql")),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 15;

/// The last schema that added to the derived tables (7: the notes' text
/// and the tags written in it; 4:
/// links and notebooks): a store migrated from before it has its derived
/// tables filled from the documents at open. (8's attachment tables need
/// no filling: no store from before it holds an attachment; 13 rebuilds
/// the search index from the rows of 7 in SQL.)
pub(crate) const DERIVED_SCHEMA: i64 = 7;

/// Brings the schema up to date; returns the version the file had (0 for
/// a new one).
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<i64> {
    migrate_to(conn, path, SCHEMA_VERSION)
}

fn migrate_to(conn: &mut Connection, path: &Path, target: i64) -> Result<i64> {
    let db = |op| {
        move |source| CoreError::Database {
            op,
            source: Box::new(source),
        }
    };
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db("reading the schema version"))?;
    if current > SCHEMA_VERSION {
        return Err(CoreError::SchemaTooNew {
            path: path.to_path_buf(),
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for (version, sql) in MIGRATIONS
        .iter()
        .filter(|(v, _)| *v > current && *v <= target)
    {
        let tx = conn.transaction().map_err(db("starting a migration"))?;
        tx.execute_batch(sql).map_err(db("applying a migration"))?;
        tx.pragma_update(None, "user_version", version)
            .map_err(db("recording the schema version"))?;
        tx.commit().map_err(db("committing a migration"))?;
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_and_end_at_schema_version() {
        for (i, (v, _)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*v, i as i64 + 1);
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.0), Some(SCHEMA_VERSION));
    }

    #[test]
    fn migrate_from_empty_and_again_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut c = Connection::open(&path).unwrap();
        migrate(&mut c, &path).unwrap();
        migrate(&mut c, &path).unwrap();
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let n: i64 = c
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name='notes_fts'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn the_search_index_survives_becoming_contentless() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut c = Connection::open(&path).unwrap();
        migrate_to(&mut c, &path, 2).unwrap();
        c.execute_batch(
            "INSERT INTO doc(note_id, snapshot_len, changes_len, deleted) VALUES ('n1', 0, 0, 0);
             INSERT INTO notes(id, title, excerpt, tags, pinned, trashed, created, modified, size)
               VALUES ('n1', 'Granite', '', '[]', 0, 0, 1, 1, 5);
             INSERT INTO notes_fts(rowid, title, body, tags)
               SELECT rowid, 'Granite', 'steps up the hill', 'walks' FROM notes;",
        )
        .unwrap();
        // Up to the schema before the index is filled again from
        // `note_text`, which this store from schema 2 never had.
        migrate_to(&mut c, &path, 12).unwrap();
        let found = |q: &str| -> i64 {
            c.query_row(
                "SELECT count(*) FROM notes_fts WHERE notes_fts MATCH ?1",
                [q],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert_eq!(found("hill"), 1);
        assert_eq!(found("walks"), 1);
        // A contentless index can still drop a note's entry by rowid.
        c.execute(
            "DELETE FROM notes_fts WHERE rowid = (SELECT rowid FROM notes WHERE id = 'n1')",
            [],
        )
        .unwrap();
        assert_eq!(found("hill"), 0);
    }

    #[test]
    fn the_search_index_is_rebuilt_with_prefixes_from_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut c = Connection::open(&path).unwrap();
        migrate_to(&mut c, &path, 12).unwrap();
        c.execute_batch(
            "INSERT INTO doc(note_id, snapshot_len, changes_len, deleted) VALUES ('n1', 0, 0, 0);
             INSERT INTO notes(id, title, excerpt, tags, pinned, trashed, created, modified, size)
               VALUES ('n1', 'Granite', '', '[\"walks\",\"hills\"]', 0, 0, 1, 1, 5);
             INSERT INTO note_text(rowid, body)
               SELECT rowid, 'Granite\nsteps up the kitchen garden' FROM notes;
             INSERT INTO notes_fts(rowid, title, body, tags)
               SELECT rowid, 'Granite', 'Granite\nsteps up the kitchen garden', 'walks hills' FROM notes;",
        )
        .unwrap();
        migrate(&mut c, &path).unwrap();
        let found = |q: &str| -> i64 {
            c.query_row(
                "SELECT count(*) FROM notes_fts WHERE notes_fts MATCH ?1",
                [q],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert_eq!(found("\"kitchen\" \"ga\"*"), 1);
        assert_eq!(found("\"gar\"*"), 1);
        assert_eq!(found("\"kitchen\" \"garden\""), 1);
        assert_eq!(found("granite"), 1);
        assert_eq!(found("tags:hills"), 1);
        assert_eq!(found("tags:walks"), 1);
        assert_eq!(found("\"gx\"*"), 0);
        let sql: String = c
            .query_row(
                "SELECT sql FROM sqlite_master WHERE name = 'notes_fts'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(sql.contains("prefix"), "{sql}");
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut c = Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let err = migrate(&mut c, &path).unwrap_err();
        assert!(matches!(err, CoreError::SchemaTooNew { .. }), "{err}");
    }
}
