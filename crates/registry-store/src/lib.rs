//! A municipality's registry on disk, in one SQLite database.
//!
//! The registry log is the truth. Each accepted event is stored twice in one transaction: its
//! exact signed bytes in `events` (private: it holds personal data), and a commitment to those
//! bytes as the public log entry in `log_entries` (see [`commitment`]), from which tiles and
//! checkpoints are derived by `tlog-store`. The tables `residents`, `history`, `operators`,
//! `code_blocks` and `retired_codes` are derived from the events and written in the same
//! transaction, for lookups and search.
//!
//! Validation never trusts the derived tables' copies of personal data: a resident's current
//! record is read back from the signed event that made it. [`Registry::verify`] replays the
//! whole log through the rules and reports every way the tables, the events and the log
//! entries differ from what the log says.

use std::path::Path;

use registry_core::event::{Event, Role};
use registry_core::rules::{Effect, Operator, Refusal, RegistryView, decide};
use registry_core::state::RegistryState;
use registry_core::time::Timestamp;
use registry_domain::{IdentityRecordParts, MunicipalityCode, RecordStatus, ResidentCode, fold};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use sha2::{Digest, Sha256};
use tlog::note::VerifierKey;
use tlog_store::entries::{self, EntryReader};

pub mod verify;

/// What went wrong in the registry store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The event was refused by the rules; nothing was written.
    #[error("refused: {0}")]
    Refused(#[from] Refusal),
    /// The database failed.
    #[error("registry database: {0}")]
    Database(#[from] rusqlite::Error),
    /// The log layer failed.
    #[error(transparent)]
    Log(#[from] tlog_store::Error),
    /// The stored data is inconsistent in a way that stops the operation.
    #[error("the registry's data is inconsistent: {0}; run `juki registry verify`")]
    Corrupt(String),
    /// The registry is not set up as expected.
    #[error("{0}")]
    Setup(String),
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS events (idx INTEGER PRIMARY KEY NOT NULL, note BLOB NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS operators (
    vkey TEXT PRIMARY KEY NOT NULL,
    role TEXT NOT NULL,
    enrolled_at INTEGER NOT NULL,
    enrolled_idx INTEGER NOT NULL,
    revoked_idx INTEGER
) STRICT;
CREATE TABLE IF NOT EXISTS code_blocks (
    idx INTEGER PRIMARY KEY NOT NULL,
    first INTEGER NOT NULL,
    count INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS residents (
    code TEXT PRIMARY KEY NOT NULL,
    history INTEGER NOT NULL,
    status TEXT NOT NULL,
    name TEXT NOT NULL,
    reading TEXT NOT NULL,
    former_name TEXT,
    former_reading TEXT,
    birth TEXT NOT NULL,
    sex INTEGER NOT NULL,
    address_municipality TEXT NOT NULL,
    address TEXT NOT NULL,
    individual_number TEXT,
    reason TEXT NOT NULL,
    effective TEXT NOT NULL,
    event_idx INTEGER NOT NULL,
    name_key TEXT NOT NULL,
    reading_key TEXT NOT NULL,
    address_key TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS residents_reading ON residents (reading_key);
CREATE INDEX IF NOT EXISTS residents_name ON residents (name_key);
CREATE INDEX IF NOT EXISTS residents_birth ON residents (birth);
CREATE INDEX IF NOT EXISTS residents_address ON residents (address_key);
CREATE TABLE IF NOT EXISTS history (
    code TEXT NOT NULL,
    number INTEGER NOT NULL,
    event_idx INTEGER NOT NULL,
    PRIMARY KEY (code, number)
) STRICT;
CREATE TABLE IF NOT EXISTS retired_codes (
    code TEXT PRIMARY KEY NOT NULL,
    replaced_by TEXT NOT NULL,
    event_idx INTEGER NOT NULL
) STRICT;
";

/// The public log entry for a signed event: its kind and the SHA-256 of its exact bytes.
/// Tiles carry only these, so they hold no personal data; whoever holds the event (the
/// resident, an upstream node) can recompute the entry and prove it is in the log.
pub fn commitment(note: &[u8]) -> Vec<u8> {
    let kind = note.split(|&b| b == b'\n').next().unwrap_or(b"");
    let mut out = b"juki.commitment/v1\n".to_vec();
    out.extend_from_slice(kind);
    out.push(b'\n');
    let digest: [u8; 32] = Sha256::digest(note).into();
    out.extend_from_slice(tlog::Hash(digest).to_base64().as_bytes());
    out.push(b'\n');
    out
}

/// An event accepted and durably applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// Its index in the registry log.
    pub index: u64,
    /// What it did.
    pub effect: Effect,
}

/// One municipality's registry database.
pub struct Registry {
    conn: Connection,
    municipality: MunicipalityCode,
    national: VerifierKey,
}

impl Registry {
    /// Creates the database for a new registry. It must not exist yet.
    pub fn create(
        path: &Path,
        municipality: MunicipalityCode,
        national: &VerifierKey,
    ) -> Result<Registry, StoreError> {
        if path.exists() {
            return Err(StoreError::Setup(format!("{} already exists", path.display())));
        }
        let conn = Connection::open(path)?;
        configure(&conn)?;
        conn.execute_batch(entries::SCHEMA)?;
        conn.execute_batch(SCHEMA)?;
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('municipality', ?1), ('national', ?2)",
            params![municipality.to_string(), national.to_string()],
        )?;
        Ok(Registry { conn, municipality, national: national.clone() })
    }

    /// Opens an existing registry database.
    pub fn open(path: &Path) -> Result<Registry, StoreError> {
        if !path.exists() {
            return Err(StoreError::Setup(format!(
                "{} does not exist; create the registry with `juki init municipal`",
                path.display()
            )));
        }
        let conn = Connection::open(path)?;
        configure(&conn)?;
        let meta = |key: &str| -> Result<String, StoreError> {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()?
                .ok_or_else(|| StoreError::Corrupt(format!("the meta table has no {key}")))
        };
        let municipality = MunicipalityCode::parse(&meta("municipality")?)
            .map_err(|e| StoreError::Corrupt(format!("meta municipality: {e}")))?;
        let national = VerifierKey::parse(&meta("national")?)
            .map_err(|e| StoreError::Corrupt(format!("meta national key: {e}")))?;
        Ok(Registry { conn, municipality, national })
    }

    /// The municipality.
    pub fn municipality(&self) -> MunicipalityCode {
        self.municipality
    }

    /// The national key that signs code blocks.
    pub fn national(&self) -> &VerifierKey {
        &self.national
    }

    /// The database connection (for the log's integration and for tests).
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Validates a signed event against the registry and, if it passes, appends it to the log
    /// and applies it, in one transaction that is durable when this returns.
    pub fn submit(&mut self, note: &[u8], now: Timestamp) -> Result<Applied, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let view = SqlView::new(&tx, self.municipality);
        let decided = decide(note, &view, &self.national, Some(now));
        if let Some(failure) = view.failure() {
            return Err(failure);
        }
        let effect = decided?;
        let index = append(&tx, note, &effect)?;
        tx.commit()?;
        Ok(Applied { index, effect })
    }

    /// Validates and applies many signed events in order, in one transaction (group commit):
    /// each is decided against the state left by the ones before it; refused ones are skipped
    /// and reported in their place. Everything accepted is durable when this returns; a
    /// database failure applies none of them.
    pub fn submit_many(
        &mut self,
        notes: &[&[u8]],
        now: Timestamp,
    ) -> Result<Vec<Result<Applied, Refusal>>, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut results = Vec::with_capacity(notes.len());
        for note in notes {
            let view = SqlView::new(&tx, self.municipality);
            let decided = decide(note, &view, &self.national, Some(now));
            if let Some(failure) = view.failure() {
                return Err(failure);
            }
            match decided {
                Ok(effect) => {
                    let index = append(&tx, note, &effect)?;
                    results.push(Ok(Applied { index, effect }));
                }
                Err(refusal) => results.push(Err(refusal)),
            }
        }
        tx.commit()?;
        Ok(results)
    }

    /// The current record of a resident, read from the signed event that made it.
    pub fn resident(&self, code: ResidentCode) -> Result<Option<IdentityRecordParts>, StoreError> {
        record_of(&self.conn, code)
    }

    /// Every snapshot of a resident's record, oldest first.
    pub fn history(&self, code: ResidentCode) -> Result<Vec<IdentityRecordParts>, StoreError> {
        let mut select =
            self.conn.prepare("SELECT event_idx FROM history WHERE code = ?1 ORDER BY number")?;
        let indexes: Vec<i64> =
            select.query_map([code.to_string()], |r| r.get(0))?.collect::<Result<_, _>>()?;
        indexes.into_iter().map(|idx| change_at(&self.conn, idx).map(|c| c.record)).collect()
    }

    /// Residents whose name or reading matches `text` (folded for width, kana and old kanji),
    /// optionally also by birth date; at most `limit`, current records only.
    pub fn search(
        &self,
        text: Option<&str>,
        birth: Option<registry_domain::Date>,
        limit: usize,
    ) -> Result<Vec<IdentityRecordParts>, StoreError> {
        let birth = birth.map(|b| b.to_string());
        let codes: Vec<String> = match text.map(fold::fold_for_match) {
            // A prefix of the folded name or reading, as two index range scans.
            Some(key) => {
                let end = format!("{key}\u{10FFFF}");
                let mut select = self.conn.prepare_cached(
                    "SELECT code, reading_key FROM residents
                       WHERE reading_key >= ?1 AND reading_key < ?2 AND (?3 IS NULL OR birth = ?3)
                     UNION
                     SELECT code, reading_key FROM residents
                       WHERE name_key >= ?1 AND name_key < ?2 AND (?3 IS NULL OR birth = ?3)
                     ORDER BY 2, 1 LIMIT ?4",
                )?;
                select
                    .query_map(params![key, end, birth, limit as i64], |r| r.get(0))?
                    .collect::<Result<_, _>>()?
            }
            None => {
                let mut select = self.conn.prepare_cached(
                    "SELECT code FROM residents WHERE (?1 IS NULL OR birth = ?1)
                     ORDER BY reading_key, code LIMIT ?2",
                )?;
                select
                    .query_map(params![birth, limit as i64], |r| r.get(0))?
                    .collect::<Result<_, _>>()?
            }
        };
        codes
            .into_iter()
            .filter_map(|code| ResidentCode::parse(&code).ok())
            .filter_map(|code| record_of(&self.conn, code).transpose())
            .collect()
    }

    /// The operators, with their roles and whether they are revoked.
    pub fn operators(&self) -> Result<Vec<Operator>, StoreError> {
        SqlView::new(&self.conn, self.municipality).try_operators()
    }

    /// A fresh resident code drawn at random from the pool (`random` supplies the randomness).
    pub fn draw_code(&self, random: &mut dyn FnMut() -> u64) -> Result<ResidentCode, StoreError> {
        let view = SqlView::new(&self.conn, self.municipality);
        let blocks: Vec<(u64, u64)> = {
            let mut select = self.conn.prepare("SELECT first, count FROM code_blocks")?;
            select
                .query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)))?
                .collect::<Result<_, _>>()?
        };
        let total: u64 = blocks.iter().map(|b| b.1).sum();
        if total == 0 {
            return Err(StoreError::Setup(
                "no resident-code block is allocated to this municipality; add one with \
                 `juki code-block add`"
                    .into(),
            ));
        }
        for _ in 0..256 {
            let mut pick = random() % total;
            let base = blocks
                .iter()
                .find_map(|&(first, count)| {
                    if pick < count {
                        Some(first + pick)
                    } else {
                        pick -= count;
                        None
                    }
                })
                .expect("pick < total");
            let code = ResidentCode::from_ten_digits(base)
                .map_err(|e| StoreError::Corrupt(format!("code block: {e}")))?;
            let used = view.code_ever_used(code);
            if let Some(failure) = view.failed.borrow_mut().take() {
                return Err(failure);
            }
            if !used {
                return Ok(code);
            }
        }
        Err(StoreError::Setup(
            "the code pool is nearly exhausted; ask the national node for another block".into(),
        ))
    }

    /// The number of events in the registry log.
    pub fn event_count(&self) -> Result<u64, StoreError> {
        Ok(self.conn.entry_count()?)
    }

    /// Replays the log and compares every derived table with it; empty when all agree.
    pub fn verify(&self) -> Result<Vec<verify::Difference>, StoreError> {
        verify::verify(&self.conn, self.municipality, &self.national)
    }

    /// Replays the whole log through the rules into a fresh state.
    pub fn replay(&self) -> Result<(RegistryState, Vec<verify::Difference>), StoreError> {
        verify::replay(&self.conn, self.municipality, &self.national)
    }
}

/// Durability as for every log (WAL, `synchronous = FULL`), and a page cache large enough
/// that the indexes of a large town stay in memory.
fn configure(conn: &Connection) -> Result<(), StoreError> {
    entries::configure(conn)?;
    conn.execute_batch("PRAGMA cache_size = -262144;")?;
    Ok(())
}

/// Appends the event and its commitment and applies the effect to the derived tables.
fn append(tx: &Transaction<'_>, note: &[u8], effect: &Effect) -> Result<u64, StoreError> {
    let commitment = commitment(note);
    let index = entries::append_in(tx, &[&commitment])?;
    tx.execute("INSERT INTO events (idx, note) VALUES (?1, ?2)", params![index as i64, note])?;
    let idx = index as i64;
    match effect {
        Effect::Genesis(genesis) => {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('admin', ?1)",
                [genesis.admin.to_string()],
            )?;
        }
        Effect::Enrol(enrolment) => {
            tx.execute(
                "INSERT INTO operators (vkey, role, enrolled_at, enrolled_idx) VALUES (?1, ?2, ?3, ?4)",
                params![
                    enrolment.operator.to_string(),
                    enrolment.role.code(),
                    enrolment.time.unix() as i64,
                    idx
                ],
            )?;
        }
        Effect::Revoke(revocation) => {
            tx.execute(
                "UPDATE operators SET revoked_idx = ?1 WHERE vkey = ?2",
                params![idx, revocation.operator.to_string()],
            )?;
        }
        Effect::CodeBlock(block) => {
            tx.execute(
                "INSERT INTO code_blocks (idx, first, count) VALUES (?1, ?2, ?3)",
                params![idx, block.first as i64, block.count as i64],
            )?;
        }
        Effect::Change { change, .. } => {
            let record = &change.record;
            let code = record.resident_code.to_string();
            if let Some(previous) = change.previous_code {
                let previous = previous.to_string();
                tx.execute("DELETE FROM residents WHERE code = ?1", [&previous])?;
                tx.execute(
                    "UPDATE history SET code = ?1 WHERE code = ?2",
                    params![code, previous],
                )?;
                tx.execute(
                    "INSERT INTO retired_codes (code, replaced_by, event_idx) VALUES (?1, ?2, ?3)",
                    params![previous, code, idx],
                )?;
            }
            tx.execute(
                "INSERT INTO history (code, number, event_idx) VALUES (?1, ?2, ?3)",
                params![code, record.history_number.get(), idx],
            )?;
            let row = ResidentRow::of(record, index);
            tx.execute(
                "INSERT OR REPLACE INTO residents (code, history, status, name, reading,
                    former_name, former_reading, birth, sex, address_municipality, address,
                    individual_number, reason, effective, event_idx, name_key, reading_key,
                    address_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
                rusqlite::params_from_iter(row.values()),
            )?;
        }
    }
    Ok(index)
}

/// A row of the `residents` table, as text columns in table order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResidentRow {
    /// Column names and values, in table order; `None` is NULL.
    pub columns: Vec<(&'static str, Option<String>)>,
}

impl ResidentRow {
    /// The row the tables must hold for a record made by the event at `index`.
    pub fn of(record: &IdentityRecordParts, index: u64) -> ResidentRow {
        let former = record.name.former();
        let columns = vec![
            ("code", Some(record.resident_code.to_string())),
            ("history", Some(record.history_number.to_string())),
            (
                "status",
                Some(match record.status {
                    RecordStatus::Active => "active".to_owned(),
                    RecordStatus::Closed { reason } => format!("closed:{reason}"),
                }),
            ),
            ("name", Some(record.name.name().to_string())),
            ("reading", Some(record.name.reading().to_string())),
            ("former_name", former.map(|f| f.surname().to_string())),
            ("former_reading", former.map(|f| f.reading().to_string())),
            ("birth", Some(record.birth_date.to_string())),
            ("sex", Some(record.sex.to_string())),
            ("address_municipality", Some(record.address.municipality().to_string())),
            ("address", Some(record.address.rest().to_owned())),
            ("individual_number", record.individual_number.map(|n| n.to_string())),
            ("reason", Some(record.latest_change.reason().to_string())),
            ("effective", Some(record.latest_change.date().to_string())),
            ("event_idx", Some(index.to_string())),
            ("name_key", Some(fold::fold_for_match(record.name.name().as_str()))),
            ("reading_key", Some(fold::fold_for_match(record.name.reading().as_str()))),
            ("address_key", Some(record.address.match_key())),
        ];
        ResidentRow { columns }
    }

    fn values(&self) -> Vec<rusqlite::types::Value> {
        use rusqlite::types::Value;
        self.columns
            .iter()
            .map(|(name, value)| match (name, value) {
                (_, None) => Value::Null,
                (&"history" | &"sex" | &"event_idx", Some(v)) => {
                    Value::Integer(v.parse().expect("numeric column"))
                }
                (_, Some(v)) => Value::Text(v.clone()),
            })
            .collect()
    }
}

/// The change event stored at `idx`.
fn change_at(conn: &Connection, idx: i64) -> Result<registry_core::event::Change, StoreError> {
    let note: Vec<u8> = conn
        .query_row("SELECT note FROM events WHERE idx = ?1", [idx], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::Corrupt(format!("event {idx} is missing")))?;
    let parsed = tlog::note::Note::parse(&note)
        .map_err(|e| StoreError::Corrupt(format!("event {idx} is not a signed note: {e}")))?;
    match Event::parse(parsed.text()) {
        Ok(Event::Change(change)) => Ok(change),
        Ok(_) => Err(StoreError::Corrupt(format!("event {idx} is not a change"))),
        Err(e) => Err(StoreError::Corrupt(format!("event {idx} does not parse: {e}"))),
    }
}

fn record_of(
    conn: &Connection,
    code: ResidentCode,
) -> Result<Option<IdentityRecordParts>, StoreError> {
    let idx: Option<i64> = conn
        .query_row("SELECT event_idx FROM residents WHERE code = ?1", [code.to_string()], |r| {
            r.get(0)
        })
        .optional()?;
    let Some(idx) = idx else { return Ok(None) };
    let change = change_at(conn, idx)?;
    if change.record.resident_code != code {
        return Err(StoreError::Corrupt(format!(
            "the residents table points resident {code} at an event for another resident"
        )));
    }
    Ok(Some(change.record))
}

/// The registry as the rules see it, read from the tables inside the current transaction.
/// The rules' view cannot fail, so the first read failure is kept in `failed` and the caller
/// aborts the transaction with it after deciding.
struct SqlView<'a> {
    conn: &'a Connection,
    municipality: MunicipalityCode,
    failed: std::cell::RefCell<Option<StoreError>>,
}

impl<'a> SqlView<'a> {
    fn new(conn: &'a Connection, municipality: MunicipalityCode) -> SqlView<'a> {
        SqlView { conn, municipality, failed: std::cell::RefCell::new(None) }
    }

    fn note<T: Default>(&self, result: Result<T, StoreError>) -> T {
        result.unwrap_or_else(|error| {
            self.failed.borrow_mut().get_or_insert(error);
            T::default()
        })
    }

    /// The first read failure, if any.
    fn failure(self) -> Option<StoreError> {
        self.failed.into_inner()
    }
}

impl SqlView<'_> {
    fn try_operators(&self) -> Result<Vec<Operator>, StoreError> {
        let mut select = self.conn.prepare_cached(
            "SELECT vkey, role, enrolled_at, revoked_idx IS NOT NULL FROM operators ORDER BY enrolled_idx",
        )?;
        let rows: Vec<(String, String, i64, bool)> = select
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|(vkey, role, enrolled, revoked)| {
                Ok(Operator {
                    key: VerifierKey::parse(&vkey)
                        .map_err(|e| StoreError::Corrupt(format!("operators table: {e}")))?,
                    role: role.parse::<Role>().map_err(|()| {
                        StoreError::Corrupt("operators table: unknown role".into())
                    })?,
                    enrolled: Timestamp::from_unix(enrolled as u64),
                    revoked,
                })
            })
            .collect()
    }
}

impl RegistryView for SqlView<'_> {
    fn municipality(&self) -> MunicipalityCode {
        self.municipality
    }

    fn admin(&self) -> Option<VerifierKey> {
        let read = || -> Result<Option<VerifierKey>, StoreError> {
            let text: Option<String> = self
                .conn
                .query_row("SELECT value FROM meta WHERE key = 'admin'", [], |r| r.get(0))
                .optional()?;
            text.map(|t| {
                VerifierKey::parse(&t)
                    .map_err(|e| StoreError::Corrupt(format!("meta admin key: {e}")))
            })
            .transpose()
        };
        self.note(read())
    }

    fn operators(&self) -> Vec<Operator> {
        self.note(self.try_operators())
    }

    fn resident(&self, code: ResidentCode) -> Option<IdentityRecordParts> {
        self.note(record_of(self.conn, code))
    }

    fn in_code_pool(&self, code: ResidentCode) -> bool {
        let base = code.ten_digits() as i64;
        self.note(
            self.conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM code_blocks WHERE ?1 >= first AND ?1 < first + count)",
                    [base],
                    |r| r.get(0),
                )
                .map_err(StoreError::from),
        )
    }

    fn code_ever_used(&self, code: ResidentCode) -> bool {
        let code = code.to_string();
        self.note(
            self.conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM residents WHERE code = ?1)
                         OR EXISTS (SELECT 1 FROM retired_codes WHERE code = ?1)",
                    [code],
                    |r| r.get(0),
                )
                .map_err(StoreError::from),
        )
    }

    fn code_blocks(&self) -> Vec<(u64, u64)> {
        let read = || -> Result<Vec<(u64, u64)>, StoreError> {
            let mut select = self.conn.prepare_cached("SELECT first, count FROM code_blocks")?;
            let rows = select
                .query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)))?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        };
        self.note(read())
    }

    fn snapshot(&self, code: ResidentCode, number: u32) -> Option<IdentityRecordParts> {
        let read = || -> Result<Option<IdentityRecordParts>, StoreError> {
            let idx: Option<i64> = self
                .conn
                .query_row(
                    "SELECT event_idx FROM history WHERE code = ?1 AND number = ?2",
                    params![code.to_string(), number],
                    |r| r.get(0),
                )
                .optional()?;
            idx.map(|idx| change_at(self.conn, idx).map(|c| c.record)).transpose()
        };
        self.note(read())
    }
}
