//! PostgreSQL plumbing every store shares: a durable connection and versioned migrations.
//!
//! The client is `postgres`, the blocking face of `tokio-postgres` (0.7.18 or later, with
//! postgres-protocol 0.6.12 or later): call it from a thread of its own, never from an async
//! runtime's thread.

use postgres::{Client, NoTls};

use crate::{Error, Migration, check_numbering};

/// Connects to `url` (a `postgres://` URL) and refuses a server that would acknowledge a commit
/// before it is durable (`synchronous_commit = off`).
pub fn connect(url: &str) -> Result<Client, Error> {
    let mut client = Client::connect(url, NoTls).map_err(Error::postgres("connecting"))?;
    let synchronous: String = client
        .query_one("SHOW synchronous_commit", &[])
        .map_err(Error::postgres("reading synchronous_commit"))?
        .get(0);
    if synchronous == "off" {
        return Err(Error::NotDurable);
    }
    Ok(client)
}

/// The advisory lock key migrations hold ("juki" in ASCII).
const MIGRATION_LOCK: i64 = 0x6a75_6b69;

/// Applies every migration of `component` not yet recorded, each in its own transaction with
/// its record in `schema_migrations`. Two nodes (or connections) migrating one database at once
/// are serialised by a session advisory lock: the second waits, then finds every migration
/// recorded (`CREATE TABLE IF NOT EXISTS` alone races).
pub fn migrate(
    client: &mut Client,
    component: &'static str,
    migrations: &[Migration],
) -> Result<(), Error> {
    check_numbering(component, migrations);
    client
        .batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
        .map_err(Error::postgres("taking the migration lock"))?;
    let migrated = migrate_locked(client, component, migrations);
    let unlocked = client
        .batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
        .map_err(Error::postgres("releasing the migration lock"));
    migrated.and(unlocked)?;
    let newest = applied(client, component)?.last().copied().unwrap_or(0);
    if newest > migrations.len() as i32 {
        return Err(Error::NewerSchema { component, version: newest });
    }
    Ok(())
}

fn migrate_locked(
    client: &mut Client,
    component: &'static str,
    migrations: &[Migration],
) -> Result<(), Error> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 component TEXT NOT NULL,
                 version INTEGER NOT NULL,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                 PRIMARY KEY (component, version)
             )",
        )
        .map_err(Error::postgres("creating schema_migrations"))?;
    for (version, sql) in migrations {
        let mut tx = client.transaction().map_err(Error::postgres("starting a migration"))?;
        let applied = tx
            .query_opt(
                "SELECT 1 FROM schema_migrations WHERE component = $1 AND version = $2",
                &[&component, version],
            )
            .map_err(Error::postgres("reading schema_migrations"))?
            .is_some();
        if !applied {
            tx.batch_execute(sql).map_err(Error::postgres("applying a migration"))?;
            tx.execute(
                "INSERT INTO schema_migrations (component, version) VALUES ($1, $2)",
                &[&component, version],
            )
            .map_err(Error::postgres("recording a migration"))?;
        }
        tx.commit().map_err(Error::postgres("committing a migration"))?;
    }
    Ok(())
}

/// The versions of `component`'s migrations applied, in order.
pub fn applied(client: &mut Client, component: &str) -> Result<Vec<i32>, Error> {
    Ok(client
        .query(
            "SELECT version FROM schema_migrations WHERE component = $1 ORDER BY version",
            &[&component],
        )
        .map_err(Error::postgres("reading schema_migrations"))?
        .iter()
        .map(|row| row.get(0))
        .collect())
}
