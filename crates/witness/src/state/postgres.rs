//! The witness's state in PostgreSQL, its schema made by the versioned migrations in
//! `migrations/postgres/` (tables `witness_latest` and `witness_evidence`, so a witness may
//! share a database with other components).
//!
//! Every method is one statement in its own implicit transaction: one round trip, and a
//! compare-and-swap that the server makes atomic (an `UPDATE … WHERE size = … AND root = …`
//! re-checks its condition on the row's latest version when another transaction updated it
//! first, so of two racing advances from one state exactly one changes a row).
//!
//! The client is `postgres`, the blocking face of `tokio-postgres`; the witness calls its state
//! from a blocking thread, never from the async runtime's.

use std::sync::Mutex;

use postgres::Client;

use super::{Cosigned, Tree, WitnessState, check_advance, parse_root};
use crate::WitnessError;

/// The migrations, in order.
const MIGRATIONS: &[store::Migration] =
    &[(1, include_str!("../../migrations/postgres/0001_witness_state.sql"))];

/// The witness's state in a PostgreSQL database.
pub struct PostgresState {
    client: Mutex<Client>,
}

impl PostgresState {
    /// Connects to `url` (a `postgres://` URL), refuses a server that would acknowledge a
    /// commit before it is durable, and applies the migrations not yet applied.
    pub fn open(url: &str) -> Result<PostgresState, WitnessError> {
        let mut client = store::postgres::connect(url)?;
        store::postgres::migrate(&mut client, super::sqlite::COMPONENT, MIGRATIONS)?;
        Ok(PostgresState { client: Mutex::new(client) })
    }

    fn client(&self) -> std::sync::MutexGuard<'_, Client> {
        self.client.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The migrations applied, in order.
    pub fn migrations(&self) -> Result<Vec<i32>, WitnessError> {
        Ok(store::postgres::applied(&mut self.client(), super::sqlite::COMPONENT)?)
    }
}

impl WitnessState for PostgresState {
    fn latest(&self, origin: &str) -> Result<Option<Tree>, WitnessError> {
        let row = self
            .client()
            .query_opt("SELECT size, root FROM witness_latest WHERE origin = $1", &[&origin])?;
        row.map(|row| {
            let size: i64 = row.get(0);
            let root: Vec<u8> = row.get(1);
            Ok((size as u64, parse_root(origin, &root)?))
        })
        .transpose()
    }

    fn advance(
        &self,
        origin: &str,
        expected: Option<Tree>,
        next: &Cosigned<'_>,
    ) -> Result<bool, WitnessError> {
        check_advance(origin, expected, next)?;
        let size = next.size as i64;
        let root = next.root.0.as_slice();
        let at = next.cosigned_at as i64;
        let changed = match expected {
            None => self.client().execute(
                "INSERT INTO witness_latest (origin, size, root, checkpoint, cosigned_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (origin) DO NOTHING",
                &[&origin, &size, &root, &next.checkpoint, &at],
            )?,
            Some((old_size, old_root)) => self.client().execute(
                "UPDATE witness_latest SET size = $2, root = $3, checkpoint = $4, cosigned_at = $5
                 WHERE origin = $1 AND size = $6 AND root = $7",
                &[
                    &origin,
                    &size,
                    &root,
                    &next.checkpoint,
                    &at,
                    &(old_size as i64),
                    &old_root.0.as_slice(),
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
        self.client().execute(
            "INSERT INTO witness_evidence (origin, checkpoint, reason, received_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (origin, sha256(checkpoint)) DO NOTHING",
            &[&origin, &checkpoint, &reason, &(received_at.min(i64::MAX as u64) as i64)],
        )?;
        Ok(())
    }

    fn evidence_count(&self, origin: &str) -> Result<u64, WitnessError> {
        let count: i64 = self
            .client()
            .query_one("SELECT count(*) FROM witness_evidence WHERE origin = $1", &[&origin])?
            .get(0);
        Ok(count as u64)
    }
}
