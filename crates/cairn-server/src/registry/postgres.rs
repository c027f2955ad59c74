//! The registry on PostgreSQL (sqlx, runtime queries), for several
//! instances on one database.
//!
//! The schema comes from numbered migrations (`migrations/postgres/`),
//! recorded in `cairn_schema_migrations`. They run under a session-level
//! advisory lock, so instances started together apply each migration once
//! and the later ones wait for it; a database from a newer release is
//! refused.

mod accounts;
mod devices;
mod key_envelopes;
mod oauth;
mod sessions;
mod sharing_identities;
mod sign_in_limits;
mod space_labels;
mod spaces;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection};

use super::Registry;
use crate::ServerError;

/// (version, SQL) in order. Append only; never edit a released migration.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (2, include_str!("../../migrations/postgres/0002_spaces.sql")),
    (
        3,
        include_str!("../../migrations/postgres/0003_sharing_identities.sql"),
    ),
    (
        4,
        include_str!("../../migrations/postgres/0004_space_labels.sql"),
    ),
    (
        5,
        include_str!("../../migrations/postgres/0005_identity_successors.sql"),
    ),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 5;

/// The advisory lock migrations hold: any constant the database's other
/// users do not take (here "cairnreg" in ASCII).
const MIGRATION_LOCK: i64 = 0x6361_6972_6e72_6567;

/// A connection idle longer than this is pinged before it is used again
/// (one that stood idle may have been dropped by the database or a
/// firewall). sqlx pings on every use by default, which doubles the round
/// trips of every query.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(30);

/// How long a request waits for a free connection before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the event listener's connection calls itself, so an operator (or
/// a test) can find it in `pg_stat_activity`.
pub const LISTENER_APPLICATION_NAME: &str = "cairn-server events";

pub struct PostgresRegistry {
    pool: PgPool,
    options: PgConnectOptions,
}

impl PostgresRegistry {
    /// Connects to the database at `url` (`postgres://user:password@host/db`)
    /// with a pool of `pool_size` connections (the event listener has one
    /// more of its own), and brings its schema up to date.
    pub async fn connect(url: &str, pool_size: u32) -> Result<PostgresRegistry, ServerError> {
        // The URL may hold a password: errors name neither.
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| ServerError::Config(format!("registry_url is not usable: {e}")))?
            .application_name("cairn-server");
        let pool = PgPoolOptions::new()
            .max_connections(pool_size.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > PING_WHEN_IDLE_FOR {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options.clone())
            .await?;
        migrate(&pool).await?;
        Ok(PostgresRegistry { pool, options })
    }

    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A pool of one connection for LISTEN, apart from the handlers' pool
    /// so that a busy service never starves its own notifications.
    pub(crate) fn listener_pool(&self) -> PgPool {
        PgPoolOptions::new()
            .max_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_lazy_with(
                self.options
                    .clone()
                    .application_name(LISTENER_APPLICATION_NAME),
            )
    }
}

async fn migrate(pool: &PgPool) -> Result<(), ServerError> {
    let mut conn = pool.acquire().await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *conn)
        .await?;
    let applied = apply_migrations(&mut conn).await;
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *conn)
        .await;
    if unlocked.is_err() {
        // A lock left on a pooled connection would block the next start:
        // closing the connection releases it.
        conn.close_on_drop();
    }
    applied?;
    unlocked?;
    Ok(())
}

async fn apply_migrations(conn: &mut PgConnection) -> Result<(), ServerError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS cairn_schema_migrations (
            version BIGINT PRIMARY KEY,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )
    .execute(&mut *conn)
    .await?;
    let current: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM cairn_schema_migrations")
            .fetch_one(&mut *conn)
            .await?;
    if current > SCHEMA_VERSION {
        return Err(ServerError::RegistryTooNew {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let mut tx = conn.begin().await?;
        sqlx::raw_sql(*sql).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO cairn_schema_migrations (version) VALUES ($1)")
            .bind(version)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(version, "registry migrated");
    }
    Ok(())
}

#[async_trait]
impl Registry for PostgresRegistry {
    async fn ping(&self) -> Result<(), ServerError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
