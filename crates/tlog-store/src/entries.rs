//! Log entries in SQLite: the source of truth from which tiles and checkpoints are derived.
//!
//! Entries live in one table, `log_entries(idx, entry)`, in whatever database the caller opens:
//! a log's own `entries.db`, or a registry's database, where an entry is appended in the same
//! transaction as the state change it records ([`append_in`]). A committed entry is durable: the
//! database runs in WAL mode with `synchronous = FULL`.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use tlog::tile::MAX_ENTRY_SIZE;

use crate::Error;

/// Read access to the entries of one log, in index order.
pub trait EntryReader {
    /// The number of committed entries.
    fn entry_count(&self) -> Result<u64, Error>;

    /// The entries `[start, end)`, which must all exist.
    fn read_entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, Error>;
}

/// A log's entries that can be appended to, whatever the engine: SQLite
/// ([`SqliteEntries`]) or PostgreSQL ([`crate::postgres::PostgresEntries`]). Both pass one
/// conformance suite (`tests/conformance.rs`).
pub trait EntryStore: EntryReader {
    /// Appends `entries` in one transaction and returns the index of the first once they are
    /// durable. An empty batch appends nothing; a batch with an entry over 65,535 bytes is
    /// refused whole.
    fn append(&mut self, entries: &[&[u8]]) -> Result<u64, Error>;
}

/// The schema of the entries table. Safe to run on every open.
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS log_entries (
    idx INTEGER PRIMARY KEY NOT NULL CHECK (idx >= 0),
    entry BLOB NOT NULL CHECK (length(entry) <= 65535)
) STRICT;";

/// Applies the durability settings every connection that appends must use.
pub fn configure(conn: &Connection) -> Result<(), Error> {
    conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(Error::sqlite("busy timeout"))?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(Error::sqlite("enabling WAL"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Config(format!("the database refused WAL mode (it is in {mode} mode)")));
    }
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .map_err(Error::sqlite("setting synchronous = FULL"))?;
    Ok(())
}

/// Appends entries inside the caller's transaction and returns the index of the first. They
/// become durable when the caller commits.
pub fn append_in(tx: &Transaction<'_>, entries: &[&[u8]]) -> Result<u64, Error> {
    let first = count(tx)?;
    let mut insert = tx
        .prepare_cached("INSERT INTO log_entries (idx, entry) VALUES (?1, ?2)")
        .map_err(Error::sqlite("preparing the entry insert"))?;
    for (offset, entry) in entries.iter().enumerate() {
        if entry.len() > MAX_ENTRY_SIZE {
            return Err(Error::EntryTooLarge { index: offset, size: entry.len() });
        }
        let index = first + offset as u64;
        insert
            .execute(params![index as i64, entry])
            .map_err(Error::sqlite("inserting an entry"))?;
    }
    Ok(first)
}

/// Appends one entry at `index` inside the caller's transaction, for a caller that keeps the
/// log's size itself (a registry keeps its log's right edge, whose size is the entries' count):
/// `index` must be that size. An index already held is refused by the table's key, so an entry
/// is never overwritten.
pub fn insert_in(tx: &Transaction<'_>, index: u64, entry: &[u8]) -> Result<(), Error> {
    if entry.len() > MAX_ENTRY_SIZE {
        return Err(Error::EntryTooLarge { index: 0, size: entry.len() });
    }
    tx.prepare_cached("INSERT INTO log_entries (idx, entry) VALUES (?1, ?2)")
        .and_then(|mut insert| insert.execute(params![index as i64, entry]))
        .map_err(Error::sqlite("inserting an entry"))?;
    Ok(())
}

fn count(conn: &Connection) -> Result<u64, Error> {
    let max: Option<i64> = conn
        .prepare_cached("SELECT max(idx) FROM log_entries")
        .and_then(|mut select| select.query_row([], |row| row.get(0)))
        .optional()
        .map_err(Error::sqlite("counting entries"))?
        .flatten();
    Ok(max.map_or(0, |m| m as u64 + 1))
}

fn read(conn: &Connection, start: u64, end: u64) -> Result<Vec<Vec<u8>>, Error> {
    if start > end {
        return Err(Error::Range { start, end, count: count(conn)? });
    }
    let mut select = conn
        .prepare_cached(
            "SELECT idx, entry FROM log_entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
        )
        .map_err(Error::sqlite("preparing the entry read"))?;
    let mut rows = select
        .query(params![start as i64, end as i64])
        .map_err(Error::sqlite("reading entries"))?;
    let mut out = Vec::with_capacity((end - start) as usize);
    while let Some(row) = rows.next().map_err(Error::sqlite("reading entries"))? {
        let idx: i64 = row.get(0).map_err(Error::sqlite("reading an entry index"))?;
        if idx as u64 != start + out.len() as u64 {
            return Err(Error::Corrupt(format!(
                "the entries table has a gap: entry {} is missing",
                start + out.len() as u64
            )));
        }
        out.push(row.get(1).map_err(Error::sqlite("reading an entry"))?);
    }
    if out.len() as u64 != end - start {
        return Err(Error::Range { start, end, count: count(conn)? });
    }
    Ok(out)
}

/// A log's own entry database.
pub struct SqliteEntries {
    conn: Connection,
}

impl SqliteEntries {
    /// Opens (creating if needed) the entry database at `path`, readable by its owner alone
    /// (0600, and so its `-wal` and `-shm` files).
    pub fn open(path: &Path) -> Result<SqliteEntries, Error> {
        keyfile::private::prepare_file(path).map_err(Error::io("creating", path))?;
        let conn = Connection::open(path).map_err(|source| Error::Sqlite {
            context: format!("opening {}", path.display()),
            source,
        })?;
        configure(&conn)?;
        conn.execute_batch(SCHEMA).map_err(Error::sqlite("creating the entries table"))?;
        Ok(SqliteEntries { conn })
    }

    /// Appends entries in one transaction and returns the index of the first once they are
    /// durable. An empty batch appends nothing.
    pub fn append(&mut self, entries: &[&[u8]]) -> Result<u64, Error> {
        EntryStore::append(self, entries)
    }

    /// The underlying connection, for callers that keep other tables beside the entries.
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl EntryStore for SqliteEntries {
    fn append(&mut self, entries: &[&[u8]]) -> Result<u64, Error> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(Error::sqlite("starting an append"))?;
        let first = append_in(&tx, entries)?;
        tx.commit().map_err(Error::sqlite("committing an append"))?;
        Ok(first)
    }
}

impl EntryReader for SqliteEntries {
    fn entry_count(&self) -> Result<u64, Error> {
        count(&self.conn)
    }

    fn read_entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, Error> {
        read(&self.conn, start, end)
    }
}

impl EntryReader for Connection {
    fn entry_count(&self) -> Result<u64, Error> {
        count(self)
    }

    fn read_entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, Error> {
        read(self, start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_are_numbered_in_order_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteEntries::open(&dir.path().join("e.db")).unwrap();
        assert_eq!(store.entry_count().unwrap(), 0);
        assert_eq!(store.append(&[b"a", b"b"]).unwrap(), 0);
        assert_eq!(store.append(&[]).unwrap(), 2);
        assert_eq!(store.append(&[b"c"]).unwrap(), 2);
        assert_eq!(store.entry_count().unwrap(), 3);
        assert_eq!(store.read_entries(1, 3).unwrap(), vec![b"b".to_vec(), b"c".to_vec()]);
        assert!(matches!(store.read_entries(2, 4), Err(Error::Range { .. })));
    }

    #[test]
    fn an_oversized_entry_fails_the_whole_batch() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteEntries::open(&dir.path().join("e.db")).unwrap();
        let big = vec![0u8; 65_536];
        assert!(matches!(
            store.append(&[b"ok", &big]),
            Err(Error::EntryTooLarge { index: 1, size: 65_536 })
        ));
        assert_eq!(store.entry_count().unwrap(), 0, "nothing of a refused batch is kept");
    }

    #[test]
    fn committed_entries_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.db");
        SqliteEntries::open(&path).unwrap().append(&[b"x"]).unwrap();
        let store = SqliteEntries::open(&path).unwrap();
        assert_eq!(store.read_entries(0, 1).unwrap(), vec![b"x".to_vec()]);
    }
}
