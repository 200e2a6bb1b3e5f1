//! Versioned migrations for SQLite: `schema_migrations(component, version)` records what was
//! applied; each migration runs once, in an immediate transaction together with its record, so
//! two processes opening one database at once apply it once.

use rusqlite::{Connection, TransactionBehavior, params};

use crate::{Error, Migration, check_numbering};

const TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    component TEXT NOT NULL,
    version INTEGER NOT NULL,
    applied_at INTEGER NOT NULL,
    PRIMARY KEY (component, version)
) STRICT";

/// Applies every migration of `component` not yet recorded in `conn`'s database.
pub fn migrate(
    conn: &mut Connection,
    component: &'static str,
    migrations: &[Migration],
) -> Result<(), Error> {
    check_numbering(component, migrations);
    conn.execute_batch(TABLE).map_err(Error::sqlite("creating schema_migrations"))?;
    for (version, sql) in migrations {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(Error::sqlite("starting a migration"))?;
        let applied: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE component = ?1 AND version = ?2)",
                params![component, version],
                |row| row.get(0),
            )
            .map_err(Error::sqlite("reading schema_migrations"))?;
        if !applied {
            tx.execute_batch(sql).map_err(Error::sqlite("applying a migration"))?;
            tx.execute(
                "INSERT INTO schema_migrations (component, version, applied_at)
                 VALUES (?1, ?2, unixepoch())",
                params![component, version],
            )
            .map_err(Error::sqlite("recording a migration"))?;
        }
        tx.commit().map_err(Error::sqlite("committing a migration"))?;
    }
    let newest = applied(conn, component)?.last().copied().unwrap_or(0);
    if newest > migrations.len() as i32 {
        return Err(Error::NewerSchema { component, version: newest });
    }
    Ok(())
}

/// The versions of `component`'s migrations applied, in order.
pub fn applied(conn: &Connection, component: &str) -> Result<Vec<i32>, Error> {
    let mut statement = conn
        .prepare("SELECT version FROM schema_migrations WHERE component = ?1 ORDER BY version")
        .map_err(Error::sqlite("reading schema_migrations"))?;
    let versions = statement
        .query_map([component], |row| row.get(0))
        .and_then(|rows| rows.collect())
        .map_err(Error::sqlite("reading schema_migrations"))?;
    Ok(versions)
}
