//! The registry in one SQLite file (rusqlite), for `cairn-server dev` and
//! installs of one instance.
//!
//! Queries are small and indexed, so handlers call the registry directly
//! while holding a mutex for microseconds; a pool would buy nothing with
//! one SQLite file. The schema comes from numbered migrations
//! (`migrations/sqlite/`), `PRAGMA user_version` holding the last one
//! applied; a registry from a newer release is refused.

mod accounts;
mod devices;
mod key_envelopes;
mod oauth;
mod sessions;
mod sharing_identities;
mod sign_in_limits;
mod space_labels;
mod spaces;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use rusqlite::Connection;

use super::Registry;
use crate::ServerError;

/// (version, SQL) in order. Append only; never edit a released migration.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/sqlite/0002_shared_state.sql"),
    ),
    (3, include_str!("../../migrations/sqlite/0003_spaces.sql")),
    (
        4,
        include_str!("../../migrations/sqlite/0004_sharing_identities.sql"),
    ),
    (
        5,
        include_str!("../../migrations/sqlite/0005_space_labels.sql"),
    ),
    (
        6,
        include_str!("../../migrations/sqlite/0006_identity_successors.sql"),
    ),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 6;

/// Handle to the registry database.
pub struct SqliteRegistry {
    conn: Mutex<Connection>,
}

impl SqliteRegistry {
    /// Opens (creating if needed) the registry at `path` and brings its
    /// schema up to date.
    pub fn open(path: &Path) -> Result<SqliteRegistry, ServerError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::private_files::create_dir_all(dir).map_err(|e| ServerError::io(dir, e))?;
        }
        // Created 0600 first: SQLite gives -wal and -shm the same mode.
        crate::private_files::prepare_file(path).map_err(|e| ServerError::io(path, e))?;
        let conn = Connection::open(path)?;
        SqliteRegistry::init(conn)
    }

    /// A registry that lives as long as the handle, for tests.
    #[cfg(test)]
    pub fn in_memory() -> Result<SqliteRegistry, ServerError> {
        SqliteRegistry::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<SqliteRegistry, ServerError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&mut conn)?;
        Ok(SqliteRegistry {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, ServerError> {
        self.conn
            .lock()
            .map_err(|_| ServerError::Internal("registry lock poisoned".to_owned()))
    }
}

/// Applies the migrations the database lacks, each in its own transaction.
/// `BEGIN IMMEDIATE` takes the write lock before reading the version, so
/// two processes opening one file at once apply each migration once.
fn migrate(conn: &mut Connection) -> Result<(), ServerError> {
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if current > SCHEMA_VERSION {
            return Err(ServerError::RegistryTooNew {
                found: current,
                supported: SCHEMA_VERSION,
            });
        }
        let Some((version, sql)) = MIGRATIONS.iter().find(|(v, _)| *v > current) else {
            return Ok(());
        };
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(version, "registry migrated");
    }
}

#[async_trait]
impl Registry for SqliteRegistry {
    async fn ping(&self) -> Result<(), ServerError> {
        self.conn()?.query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{AccountStore, DeviceStore};

    /// The registry's schema before numbered migrations, as releases up to
    /// then created it (user_version 0).
    const UNVERSIONED_SCHEMA: &str = include_str!("../../migrations/sqlite/0001_init.sql");

    #[test]
    fn migrations_are_numbered_in_order_and_end_at_schema_version() {
        for (i, (v, _)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*v, i as i64 + 1);
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.0), Some(SCHEMA_VERSION));
    }

    #[tokio::test]
    async fn a_registry_from_before_migrations_is_taken_over_with_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.sqlite3");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(UNVERSIONED_SCHEMA).unwrap();
            conn.execute_batch(
                "INSERT INTO accounts (user_id, provider, account_key_hash, created_at)
                   VALUES ('key:abcdefabcdefabcd', 'key', 'h1', 1);
                 INSERT INTO devices (id, user_id, name, platform, created_at)
                   VALUES ('dev000000001', 'key:abcdefabcdefabcd', 'laptop', 'linux', 2);",
            )
            .unwrap();
        }
        let registry = SqliteRegistry::open(&path).unwrap();
        let user = registry.account_by_key_hash("h1").await.unwrap().unwrap();
        assert_eq!(user.as_str(), "key:abcdefabcdefabcd");
        let devices = registry.devices_of(&user).await.unwrap();
        assert_eq!(devices.len(), 1);
        // What migration 2 added works on the old rows.
        registry
            .record_published(&user, &devices[0].id, 9)
            .await
            .unwrap();
        assert_eq!(
            registry.published_seqs(&user).await.unwrap(),
            vec![(devices[0].id.clone(), 9)]
        );
        let version: i64 = registry
            .conn()
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        drop(registry);
        // Opening again applies nothing more.
        SqliteRegistry::open(&path).unwrap();
    }

    #[test]
    fn a_registry_from_a_newer_release_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.sqlite3");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let err = SqliteRegistry::open(&path).err().unwrap();
        assert!(matches!(err, ServerError::RegistryTooNew { .. }), "{err}");
    }
}
