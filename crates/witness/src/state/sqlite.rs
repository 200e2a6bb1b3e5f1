//! The witness's state in a SQLite file (WAL, `synchronous = FULL`, readable by its owner
//! alone), its schema made by the versioned migrations in `migrations/sqlite/`.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use super::{Cosigned, Tree, WitnessState, check_advance, parse_root};
use crate::WitnessError;

/// The migrations, in order.
const MIGRATIONS: &[store::Migration] =
    &[(1, include_str!("../../migrations/sqlite/0001_witness_state.sql"))];

/// The name the migrations are recorded under in `schema_migrations`.
pub(crate) const COMPONENT: &str = "witness";

/// The witness's state in a SQLite file.
pub struct SqliteState {
    db: Mutex<Connection>,
}

impl SqliteState {
    /// Opens (creating if needed) the state database at `path`.
    pub fn open(path: &Path) -> Result<SqliteState, WitnessError> {
        keyfile::private::prepare_file(path).map_err(|e| {
            WitnessError::Config(format!(
                "cannot create the state database {} readable by its owner alone: {e}",
                path.display()
            ))
        })?;
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(WitnessError::Config(format!(
                "the state database refused WAL mode (it is in {mode} mode)"
            )));
        }
        conn.execute_batch("PRAGMA synchronous = FULL;")?;
        store::sqlite::migrate(&mut conn, COMPONENT, MIGRATIONS)?;
        Ok(SqliteState { db: Mutex::new(conn) })
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The migrations applied, in order.
    pub fn migrations(&self) -> Result<Vec<i32>, WitnessError> {
        Ok(store::sqlite::applied(&self.db(), COMPONENT)?)
    }
}

impl WitnessState for SqliteState {
    fn latest(&self, origin: &str) -> Result<Option<Tree>, WitnessError> {
        let row: Option<(i64, Vec<u8>)> = self
            .db()
            .query_row("SELECT size, root FROM latest WHERE origin = ?1", [origin], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?;
        row.map(|(size, root)| Ok((size as u64, parse_root(origin, &root)?))).transpose()
    }

    fn advance(
        &self,
        origin: &str,
        expected: Option<Tree>,
        next: &Cosigned<'_>,
    ) -> Result<bool, WitnessError> {
        check_advance(origin, expected, next)?;
        let db = self.db();
        // One statement, so atomic on its own: it writes only if the row is still `expected`.
        let changed = match expected {
            None => db.execute(
                "INSERT INTO latest (origin, size, root, checkpoint, cosigned_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (origin) DO NOTHING",
                params![
                    origin,
                    next.size as i64,
                    next.root.0.as_slice(),
                    next.checkpoint,
                    next.cosigned_at as i64
                ],
            )?,
            Some((size, root)) => db.execute(
                "UPDATE latest SET size = ?2, root = ?3, checkpoint = ?4, cosigned_at = ?5
                 WHERE origin = ?1 AND size = ?6 AND root = ?7",
                params![
                    origin,
                    next.size as i64,
                    next.root.0.as_slice(),
                    next.checkpoint,
                    next.cosigned_at as i64,
                    size as i64,
                    root.0.as_slice()
                ],
            )?,
        };
        Ok(changed == 1)
    }

    fn keep_evidence(
        &self,
        origin: &str,
        checkpoint: &[u8],
        reason: &str,
        received_at: u64,
    ) -> Result<(), WitnessError> {
        self.db().execute(
            "INSERT OR IGNORE INTO evidence (origin, checkpoint, reason, received_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![origin, checkpoint, reason, received_at.min(i64::MAX as u64) as i64],
        )?;
        Ok(())
    }

    fn evidence_count(&self, origin: &str) -> Result<u64, WitnessError> {
        let count: i64 = self.db().query_row(
            "SELECT count(*) FROM evidence WHERE origin = ?1",
            [origin],
            |r| r.get(0),
        )?;
        Ok(count as u64)
    }
}
