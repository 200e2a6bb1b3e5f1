//! Log entries in PostgreSQL: the same store as [`crate::entries::SqliteEntries`], on a
//! database server, for the upper tiers.
//!
//! One table, `log_entries(idx, entry)`, made by the versioned migrations under
//! `migrations/postgres/` (recorded in `schema_migrations`, each applied once, in order, in its
//! own transaction, by `store::postgres::migrate`). An append takes the table's `SHARE ROW EXCLUSIVE` lock, which conflicts
//! with itself and not with readers, so appenders on different connections queue and every
//! index is the log's size inside the transaction that writes it: dense, never overlapping. A
//! committed append is durable (the server's `synchronous_commit`, on by default; a node checks
//! it at open, since `off` would acknowledge what a crash can lose).
//!
//! Batches of [`COPY_FROM`] entries or more go in by binary `COPY`, smaller ones by one
//! `INSERT` of two arrays.
//!
//! The client is `postgres`, the blocking face of `tokio-postgres`: call it from a thread of
//! its own, never from an async runtime's thread.

use postgres::Client;
use tlog::tile::MAX_ENTRY_SIZE;

use crate::Error;
use crate::entries::{EntryReader, EntryStore};

/// The migrations, in order: (version, SQL).
const MIGRATIONS: &[store::Migration] =
    &[(1, include_str!("../migrations/postgres/0001_log_entries.sql"))];

/// A log's entries in a PostgreSQL database.
pub struct PostgresEntries {
    // Behind a lock so that reads (`&self`) may use the connection too.
    client: std::sync::Mutex<Client>,
}

impl PostgresEntries {
    /// Connects to `url` (a `postgres://` URL), refuses a server that would acknowledge a
    /// commit before it is durable, and applies the migrations not yet applied.
    pub fn open(url: &str) -> Result<PostgresEntries, Error> {
        let mut client = store::postgres::connect(url)?;
        store::postgres::migrate(&mut client, COMPONENT, MIGRATIONS)?;
        Ok(PostgresEntries { client: std::sync::Mutex::new(client) })
    }

    fn client(&self) -> std::sync::MutexGuard<'_, Client> {
        self.client.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The migrations applied, in order.
    pub fn migrations(&self) -> Result<Vec<i32>, Error> {
        Ok(store::postgres::applied(&mut self.client(), COMPONENT)?)
    }
}

/// The name this store's migrations are recorded under in `schema_migrations`.
const COMPONENT: &str = "tlog-store";

fn count(client: &mut impl postgres::GenericClient) -> Result<u64, Error> {
    let max: Option<i64> = client
        .query_one("SELECT max(idx) FROM log_entries", &[])
        .map_err(Error::postgres("counting entries"))?
        .get(0);
    Ok(max.map_or(0, |m| m as u64 + 1))
}

impl EntryReader for PostgresEntries {
    fn entry_count(&self) -> Result<u64, Error> {
        count(&mut *self.client())
    }

    fn read_entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, Error> {
        let mut client = self.client();
        if start > end {
            return Err(Error::Range { start, end, count: count(&mut *client)? });
        }
        let rows = client
            .query(
                "SELECT idx, entry FROM log_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx",
                &[&(start as i64), &(end as i64)],
            )
            .map_err(Error::postgres("reading entries"))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let idx: i64 = row.get(0);
            if idx as u64 != start + out.len() as u64 {
                return Err(Error::Corrupt(format!(
                    "the entries table has a gap: entry {} is missing",
                    start + out.len() as u64
                )));
            }
            out.push(row.get(1));
        }
        if out.len() as u64 != end - start {
            return Err(Error::Range { start, end, count: count(&mut *client)? });
        }
        Ok(out)
    }
}

/// From this many entries on, an append streams them with a binary `COPY` (no statement to
/// parse, no arrays to build on the server) instead of one `INSERT … unnest(…)`: group commit
/// makes batches this large under load, and bulk loads are.
pub const COPY_FROM: usize = 256;

/// Streams `entries`, numbered from `first`, into `log_entries` with `COPY … (FORMAT binary)`.
fn copy_in(tx: &mut postgres::Transaction<'_>, first: u64, entries: &[&[u8]]) -> Result<(), Error> {
    use postgres::binary_copy::BinaryCopyInWriter;
    use postgres::types::Type;
    let sink = tx
        .copy_in("COPY log_entries (idx, entry) FROM STDIN (FORMAT binary)")
        .map_err(Error::postgres("starting a copy of entries"))?;
    let mut writer = BinaryCopyInWriter::new(sink, &[Type::INT8, Type::BYTEA]);
    for (k, entry) in entries.iter().enumerate() {
        let index = (first + k as u64) as i64;
        writer.write(&[&index, entry]).map_err(Error::postgres("copying entries"))?;
    }
    writer.finish().map_err(Error::postgres("finishing a copy of entries"))?;
    Ok(())
}

impl EntryStore for PostgresEntries {
    fn append(&mut self, entries: &[&[u8]]) -> Result<u64, Error> {
        if let Some((index, entry)) =
            entries.iter().enumerate().find(|(_, e)| e.len() > MAX_ENTRY_SIZE)
        {
            return Err(Error::EntryTooLarge { index, size: entry.len() });
        }
        let mut client = self.client();
        let mut tx = client.transaction().map_err(Error::postgres("starting an append"))?;
        tx.batch_execute("LOCK TABLE log_entries IN SHARE ROW EXCLUSIVE MODE")
            .map_err(Error::postgres("locking the entries"))?;
        let first = count(&mut tx)?;
        if entries.len() >= COPY_FROM {
            copy_in(&mut tx, first, entries)?;
        } else if !entries.is_empty() {
            let indexes: Vec<i64> = (0..entries.len()).map(|k| (first + k as u64) as i64).collect();
            let bodies: Vec<&[u8]> = entries.to_vec();
            tx.execute(
                "INSERT INTO log_entries (idx, entry) SELECT * FROM unnest($1::BIGINT[], $2::BYTEA[])",
                &[&indexes, &bodies],
            )
            .map_err(Error::postgres("inserting entries"))?;
        }
        tx.commit().map_err(Error::postgres("committing an append"))?;
        Ok(first)
    }
}
