//! A municipality's registry on disk, in one SQLite database.
//!
//! The registry log is the truth. Each accepted event is stored twice in one transaction: its
//! exact signed bytes in `events` (private: it holds personal data), and a commitment to those
//! bytes as the public log entry in `log_entries` (see [`commitment`]), from which tiles and
//! checkpoints are derived by `tlog-store`. The tables `residents`, `history`, `operators`,
//! `code_blocks`, `retired_codes`, `move_ins` (the certificates consumed here: used by a move-in
//! or an activation, or withdrawn) and
//! `move_notices` are derived from the events and written in the same transaction, for lookups
//! and search. The same transaction keeps the log's right edge (a [`Frontier`], in `meta`), so
//! the root of the log at its current size costs no more than reading one row.
//!
//! Events enter in two ways: [`Registry::submit`] admits what the municipality's operators and
//! the national node sign now (with the freshness check), and [`Registry::replicate`] applies a
//! batch another node's registry already accepted, all or nothing, and lets the caller compare
//! the new root with that node's signed checkpoint before anything is committed.
//!
//! Validation never trusts the derived tables' copies of personal data: a resident's current
//! record is read back from the signed event that made it. [`Registry::verify`] replays the
//! whole log through the rules and reports every way the tables, the events and the log
//! entries differ from what the log says; [`incremental::Verifier`] keeps what one replay
//! established, so that a running node verifies only what was appended since and compares its
//! tables without replaying again.

use std::cell::RefCell;
use std::path::Path;

use registry_core::event::{Event, Role};
use registry_core::evidence::commitment_hashed;
use registry_core::moves::note_hash;
use registry_core::rules::{
    CurrentEvent, Effect, Operator, Parsed, Refusal, RegistryView, decide, decide_parsed,
};
use registry_core::state::RegistryState;
use registry_core::time::Timestamp;
use registry_domain::{IdentityRecordParts, MunicipalityCode, RecordStatus, ResidentCode, fold};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use tlog::Hash;
use tlog::merkle::Frontier;
use tlog::note::{Prechecked, VerifierKey, Verifiers};
use tlog_store::entries::{self, EntryReader};

pub mod dir;
pub mod incremental;
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
    /// No unused resident code is left in the pool.
    #[error("{0}")]
    PoolEmpty(String),
    /// An event of a replicated batch was refused; nothing of the batch was applied.
    #[error(
        "event {position} of the batch (log index {index}) is refused: {refusal}; nothing of the \
         batch was applied"
    )]
    BatchRefused {
        /// Its position in the batch, from 0.
        position: usize,
        /// The log index it would have had.
        index: u64,
        /// Why.
        refusal: Refusal,
    },
    /// An event is not yet covered by the published (witnessed) checkpoint, so it cannot be
    /// proven yet.
    #[error(
        "event {index} is not yet in the published checkpoint (size {size}); try again shortly"
    )]
    NotPublished {
        /// The event's index.
        index: u64,
        /// The published checkpoint's size.
        size: u64,
    },
    /// Events were asked for outside the log.
    #[error("events {from}..{to} are not in the log, which holds {size} events")]
    Range {
        /// The first index asked for.
        from: u64,
        /// The end asked for (exclusive).
        to: u64,
        /// The log's size.
        size: u64,
    },
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
CREATE TABLE IF NOT EXISTS move_ins (
    move_out TEXT PRIMARY KEY NOT NULL,
    code TEXT NOT NULL,
    from_municipality TEXT NOT NULL,
    event_idx INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS move_notices (
    move_out TEXT PRIMARY KEY NOT NULL,
    code TEXT NOT NULL,
    to_municipality TEXT NOT NULL,
    move_in TEXT NOT NULL,
    event_idx INTEGER NOT NULL
) STRICT;
";

pub use registry_core::evidence::commitment;

/// An event as the log holds it: its index and its exact signed bytes.
pub type LoggedEvent = (u64, Vec<u8>);

/// An event accepted and durably applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// Its index in the registry log.
    pub index: u64,
    /// What it did.
    pub effect: Effect,
}

/// A replicated batch, applied inside a transaction that is not committed yet: compare
/// [`Replication::size`] and [`Replication::root`] with the sender's signed checkpoint, then
/// [`Replication::commit`]. Dropped without committing, it rolls everything back.
pub struct Replication<'a> {
    tx: Transaction<'a>,
    frontier: Frontier,
    applied: Vec<Applied>,
}

impl Replication<'_> {
    /// The log's size with the batch applied.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The log's Merkle root with the batch applied.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// What each event of the batch did, in order.
    pub fn applied(&self) -> &[Applied] {
        &self.applied
    }

    /// Commits the batch; it is durable when this returns.
    pub fn commit(self) -> Result<Replicated, StoreError> {
        let (size, root) = (self.size(), self.root());
        self.tx.commit()?;
        Ok(Replicated { size, root, applied: self.applied })
    }
}

/// A committed replicated batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replicated {
    /// The log's new size.
    pub size: u64,
    /// The log's new root.
    pub root: Hash,
    /// What each event of the batch did, in order.
    pub applied: Vec<Applied>,
}

/// Creates the database file readable by its owner alone (0600, and so its `-wal` and `-shm`
/// files) before SQLite opens it, or makes an existing one so.
fn private_file(path: &Path) -> Result<(), StoreError> {
    keyfile::private::prepare_file(path).map_err(|e| {
        StoreError::Setup(format!(
            "cannot make {} readable by its owner alone: {e}; check the directory's owner and \
             permissions",
            path.display()
        ))
    })
}

/// One municipality's registry database.
pub struct Registry {
    conn: Connection,
    municipality: MunicipalityCode,
    national: VerifierKey,
    /// The database's `data_version` as this connection last saw it: it changes when another
    /// connection commits ([`Registry::written_by_others`]).
    data_version: i64,
    /// Operators' keys as parsed from their text (parsing one decompresses its point, which
    /// every proof would otherwise repeat for every operator of the town).
    parsed_keys: std::sync::Mutex<std::collections::HashMap<String, VerifierKey>>,
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
        private_file(path)?;
        let conn = Connection::open(path)?;
        configure(&conn)?;
        conn.execute_batch(entries::SCHEMA)?;
        conn.execute_batch(SCHEMA)?;
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('municipality', ?1), ('national', ?2)",
            params![municipality.to_string(), national.to_string()],
        )?;
        save_frontier(&conn, &Frontier::new())?;
        let data_version = data_version(&conn)?;
        Ok(Registry {
            conn,
            municipality,
            national: national.clone(),
            data_version,
            parsed_keys: Default::default(),
        })
    }

    /// Opens an existing registry database.
    pub fn open(path: &Path) -> Result<Registry, StoreError> {
        if !path.exists() {
            return Err(StoreError::Setup(format!(
                "{} does not exist; create the registry with `juki init municipal`",
                path.display()
            )));
        }
        private_file(path)?;
        let conn = Connection::open(path)?;
        configure(&conn)?;
        // Tables added since the registry was created.
        conn.execute_batch(SCHEMA)?;
        let meta = |key: &str| -> Result<String, StoreError> {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()?
                .ok_or_else(|| StoreError::Corrupt(format!("the meta table has no {key}")))
        };
        let municipality = MunicipalityCode::parse(&meta("municipality")?)
            .map_err(|e| StoreError::Corrupt(format!("meta municipality: {e}")))?;
        let national = VerifierKey::parse(&meta("national")?)
            .map_err(|e| StoreError::Corrupt(format!("meta national key: {e}")))?;
        let data_version = data_version(&conn)?;
        Ok(Registry { conn, municipality, national, data_version, parsed_keys: Default::default() })
    }

    /// Another connection to the same database, configured as this one.
    fn reopen(&self) -> Result<Connection, StoreError> {
        let path = self.conn.path().ok_or_else(|| {
            StoreError::Setup("the registry database has no path to open again".into())
        })?;
        let conn = Connection::open(path)?;
        configure(&conn)?;
        Ok(conn)
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
        view.take_failure()?;
        drop(view);
        let effect = decided?;
        let mut frontier = load_frontier(&tx)?;
        let index = append(&tx, note, &effect, Derived::of(note, &effect), &mut frontier)?;
        save_frontier(&tx, &frontier)?;
        tx.commit()?;
        Ok(Applied { index, effect })
    }

    /// Decides a signed event against the registry as [`Registry::submit`] would, and applies
    /// nothing: how a change proposed for approval is checked before it is queued.
    pub fn check(&mut self, note: &[u8], now: Timestamp) -> Result<Effect, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let view = SqlView::new(&tx, self.municipality);
        let decided = decide(note, &view, &self.national, Some(now));
        view.take_failure()?;
        drop(view);
        tx.rollback()?;
        Ok(decided?)
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
        let mut frontier = load_frontier(&tx)?;
        let mut results = Vec::with_capacity(notes.len());
        // Admission checks every signature singly and strictly (see `replicate` for batches).
        let view = SqlView::new(&tx, self.municipality);
        for note in notes {
            let decided = decide(note, &view, &self.national, Some(now));
            view.take_failure()?;
            match decided {
                Ok(effect) => {
                    let derived = Derived::of(note, &effect);
                    let index = append(&tx, note, &effect, derived, &mut frontier)?;
                    view.applied(&effect);
                    results.push(Ok(Applied { index, effect }));
                }
                Err(refusal) => results.push(Err(refusal)),
            }
        }
        save_frontier(&tx, &frontier)?;
        tx.commit()?;
        Ok(results)
    }

    /// Applies a batch of signed events that the municipality's own registry already accepted
    /// (a replica at a prefecture or the national node), in order, in one transaction: each is
    /// decided by the same rules against the state the ones before it left, without the
    /// freshness check (a replica applies old events). All or nothing: the first refusal rolls
    /// the whole batch back and names the event's position in the batch
    /// ([`StoreError::BatchRefused`]).
    ///
    /// The batch's signatures are verified together first, on every core ([`Prechecked`]):
    /// what a replica applies was admitted, signature by signature, by the strict single check
    /// at the municipality's own node.
    ///
    /// Nothing is committed when this returns: check the returned [`Replication`]'s size and
    /// root against the sender's signed checkpoint, then commit it; drop it to roll back.
    pub fn replicate(&mut self, notes: &[&[u8]]) -> Result<Replication<'_>, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut frontier = load_frontier(&tx)?;
        let mut applied = Vec::with_capacity(notes.len());
        let view = SqlView::new(&tx, self.municipality);
        // On every core: each event read, and what it writes that depends only on its bytes;
        // then the signatures checked together.
        let read = read_ahead(notes);
        let prechecked = precheck(&read, &view, &self.national);
        view.take_failure()?;
        // In log order, on one core: the rules against the state the events before left.
        for (position, (note, (parsed, derived))) in notes.iter().zip(read).enumerate() {
            let decided = parsed
                .and_then(|parsed| decide_parsed(parsed, &view, &self.national, None, &prechecked));
            view.take_failure()?;
            let effect = decided.map_err(|refusal| StoreError::BatchRefused {
                position,
                index: frontier.size(),
                refusal,
            })?;
            let index = append(&tx, note, &effect, derived, &mut frontier)?;
            view.applied(&effect);
            applied.push(Applied { index, effect });
        }
        drop(view);
        save_frontier(&tx, &frontier)?;
        Ok(Replication { tx, frontier, applied })
    }

    /// The number of events in the registry log.
    pub fn log_size(&self) -> Result<u64, StoreError> {
        Ok(self.conn.entry_count()?)
    }

    /// The Merkle root of the registry log at its current size (from the kept right edge; rebuilt
    /// from the entries if it is missing or stale).
    pub fn log_root(&self) -> Result<Hash, StoreError> {
        Ok(load_frontier(&self.conn)?.root())
    }

    /// The exact signed events `from..to` of the log, for sending upstream.
    pub fn events(&self, from: u64, to: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let size = self.log_size()?;
        if from > to || to > size {
            return Err(StoreError::Range { from, to, size });
        }
        let mut select = self.conn.prepare_cached(
            "SELECT idx, note FROM events WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
        )?;
        let mut rows = select.query(params![from as i64, to as i64])?;
        let mut notes = Vec::with_capacity((to - from) as usize);
        while let Some(row) = rows.next()? {
            let idx = row.get::<_, i64>(0)? as u64;
            if idx != from + notes.len() as u64 {
                break;
            }
            notes.push(row.get(1)?);
        }
        if notes.len() as u64 != to - from {
            return Err(StoreError::Corrupt(format!(
                "event {} is missing from the events table",
                from + notes.len() as u64
            )));
        }
        Ok(notes)
    }

    /// How many code blocks the national key has allocated to this registry.
    pub fn code_block_count(&self) -> Result<u64, StoreError> {
        Ok(SqlView::new(&self.conn, self.municipality).try_blocks()?.len() as u64)
    }

    /// How many codes of the allocated blocks have not been given to anyone here yet (every
    /// code of a block minus those of current, closed and retired records): when it runs low,
    /// ask the national node for another block.
    pub fn pool_remaining(&self) -> Result<u64, StoreError> {
        let blocks: Vec<(u64, u64)> = SqlView::new(&self.conn, self.municipality).try_blocks()?;
        let mut remaining = 0u64;
        for (first, count) in blocks {
            // Codes are eleven digits, the ten-digit base and a check digit, so the codes of a
            // block are a range of the text primary keys: from the first base's ten digits
            // (a prefix sorts first) up to the end base's.
            let low = format!("{first:010}");
            let end = first + count;
            let high = if end < 10_000_000_000 { format!("{end:010}") } else { ":".to_owned() };
            let used: i64 = self.conn.row(
                "SELECT (SELECT count(*) FROM residents WHERE code >= ?1 AND code < ?2)
                      + (SELECT count(*) FROM retired_codes WHERE code >= ?1 AND code < ?2)",
                params![low, high],
                |r| r.get(0),
            )?;
            remaining += count.saturating_sub(used as u64);
        }
        Ok(remaining)
    }

    /// The event that made a resident's current record: its log index and exact signed note
    /// (for the national node, a move-out to certify).
    pub fn current_event(&self, code: ResidentCode) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        current_note(&self.conn, code)
    }

    /// The signed events a resident's record rests on, in the order evidence carries them
    /// (`registry_core::evidence`): the change that made the current record, the enrolment of
    /// each operator whose signature it carries, and the genesis. `None` if no resident has
    /// the code. Nothing here is trusted: the caller proves each event against the witnessed
    /// checkpoint and checks the chain of signatures.
    pub fn evidence_events(
        &self,
        code: ResidentCode,
    ) -> Result<Option<Vec<LoggedEvent>>, StoreError> {
        // One read transaction for its few statements: one snapshot, and the WAL's read lock
        // taken once instead of once per statement.
        let snapshot =
            self.conn.is_autocommit().then(|| self.conn.unchecked_transaction()).transpose()?;
        let Some((idx, note)) = current_note(&self.conn, code)? else { return Ok(None) };
        let events = self.evidence_events_of(idx, note)?;
        if let Some(snapshot) = snapshot {
            snapshot.commit()?;
        }
        Ok(Some(events))
    }

    /// The log index of the latest change of resident `code` that carried a certificate of the
    /// national signer (a move-in's move-out certificate, or an activation certificate): the
    /// change that opened the record here with the signer's word.
    pub fn last_certified_entry(&self, code: ResidentCode) -> Result<Option<u64>, StoreError> {
        let mut select = self
            .conn
            .prepare_cached("SELECT event_idx FROM history WHERE code = ?1 ORDER BY number DESC")?;
        let indexes: Vec<i64> =
            select.query_map([code.to_string()], |r| r.get(0))?.collect::<Result<_, _>>()?;
        for idx in indexes {
            let change = change_at(&self.conn, idx)?;
            if change.move_out.is_some() || change.activation.is_some() {
                return Ok(Some(idx as u64));
            }
        }
        Ok(None)
    }

    /// The log index and exact note of the event that consumed the certificate following the
    /// closing event whose note has this hash (a move-in, an activation or a withdrawal).
    pub fn consumed_by(&self, followed: &Hash) -> Result<Option<LoggedEvent>, StoreError> {
        let idx: Option<i64> = self
            .conn
            .row(
                "SELECT event_idx FROM move_ins WHERE move_out = ?1",
                [followed.to_base64()],
                |r| r.get(0),
            )
            .optional()?;
        idx.map(|idx| Ok((idx as u64, event_note(&self.conn, idx)?))).transpose()
    }

    /// The signed events the event at log index `idx` rests on, in the order evidence carries
    /// them: that event, the enrolments of the operators who signed it, and the genesis.
    pub fn evidence_events_at(&self, idx: u64) -> Result<Vec<LoggedEvent>, StoreError> {
        let note = event_note(&self.conn, idx as i64)?;
        self.evidence_events_of(idx, note)
    }

    /// An operator's key from its text in `operators`, parsed once.
    fn parsed_key(&self, vkey: &str) -> Result<VerifierKey, StoreError> {
        let mut parsed = self.parsed_keys.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(key) = parsed.get(vkey) {
            return Ok(key.clone());
        }
        let key = VerifierKey::parse(vkey)
            .map_err(|e| StoreError::Corrupt(format!("an operator's key does not parse: {e}")))?;
        if parsed.len() >= 4096 {
            parsed.clear();
        }
        parsed.insert(vkey.to_owned(), key.clone());
        Ok(key)
    }

    fn evidence_events_of(&self, idx: u64, note: Vec<u8>) -> Result<Vec<LoggedEvent>, StoreError> {
        let mut events = vec![(idx, note)];
        let mut select = self.conn.prepare_cached("SELECT vkey, enrolled_idx FROM operators")?;
        let operators: Vec<(String, i64)> =
            select.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        let mut known = tlog::note::Verifiers::new();
        let mut enrolled = Vec::with_capacity(operators.len());
        for (vkey, enrolled_idx) in operators {
            let key = self.parsed_key(&vkey)?;
            enrolled.push((*key.public_key(), enrolled_idx));
            known.push(key);
        }
        // The signers are found by the name and id each signature line gives, without checking
        // the signatures: whoever proves the events checks them.
        if let Ok(parsed) = tlog::note::Note::parse(&events[0].1) {
            let mut seen = std::collections::BTreeSet::new();
            for signature in parsed.signatures() {
                let Ok(key) = known.lookup(&signature.name, signature.id) else { continue };
                let at = enrolled.iter().find(|(public, _)| public == key.public_key());
                if let Some(&(_, enrolled_idx)) = at
                    && seen.insert(enrolled_idx)
                {
                    events.push((enrolled_idx as u64, event_note(&self.conn, enrolled_idx)?));
                }
            }
        }
        events.push((0, event_note(&self.conn, 0)?));
        Ok(events)
    }

    /// Whether a move-in here already used a certificate for the move-out whose signed note has
    /// this hash.
    pub fn move_out_used(&self, move_out: &Hash) -> Result<bool, StoreError> {
        exists(&self.conn, "SELECT EXISTS (SELECT 1 FROM move_ins WHERE move_out = ?1)", move_out)
    }

    /// Whether a move-in notice is recorded here for the move-out whose signed note has this
    /// hash.
    pub fn move_notice_recorded(&self, move_out: &Hash) -> Result<bool, StoreError> {
        exists(
            &self.conn,
            "SELECT EXISTS (SELECT 1 FROM move_notices WHERE move_out = ?1)",
            move_out,
        )
    }

    /// Calls `each` with the code of every resident this registry holds a record of (active
    /// or closed), in no particular order.
    pub fn each_resident_code(&self, mut each: impl FnMut(ResidentCode)) -> Result<(), StoreError> {
        let mut select = self.conn.prepare("SELECT code FROM residents")?;
        let mut rows = select.query([])?;
        while let Some(row) = rows.next()? {
            let text: String = row.get(0)?;
            let code = ResidentCode::parse(&text)
                .map_err(|e| StoreError::Corrupt(format!("a resident code does not parse: {e}")))?;
            each(code);
        }
        Ok(())
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

    /// Residents whose name or reading matches `text` (folded for width, kana and old kanji;
    /// the reading also for small kana and vowel length), optionally also by birth date; at
    /// most `limit`, current records only.
    pub fn search(
        &self,
        text: Option<&str>,
        birth: Option<registry_domain::Date>,
        limit: usize,
    ) -> Result<Vec<IdentityRecordParts>, StoreError> {
        let birth = birth.map(|b| b.to_string());
        let codes: Vec<String> = match text {
            // A prefix of the folded name or reading, as two index range scans.
            Some(text) => {
                let (key, reading) = (fold::fold_for_match(text), fold::fold_reading(text));
                let (end, reading_end) =
                    (format!("{key}\u{10FFFF}"), format!("{reading}\u{10FFFF}"));
                let mut select = self.conn.prepare_cached(
                    "SELECT code, reading_key FROM residents
                       WHERE reading_key >= ?5 AND reading_key < ?6 AND (?3 IS NULL OR birth = ?3)
                     UNION
                     SELECT code, reading_key FROM residents
                       WHERE name_key >= ?1 AND name_key < ?2 AND (?3 IS NULL OR birth = ?3)
                     ORDER BY 2, 1 LIMIT ?4",
                )?;
                select
                    .query_map(params![key, end, birth, limit as i64, reading, reading_end], |r| {
                        r.get(0)
                    })?
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

    /// Candidates for a four-item match ([`matching::rank`]): the active residents whose
    /// `name_key` or `reading_key` starts with the query's, whose birth date is the query's, or
    /// whose `address_key` starts with the query's (in the query's municipality, when it names
    /// one) — a union of four index scans, each bounded by `limit`, so at most `4 × limit`
    /// residents, each read from the signed event that made its current record, as
    /// [`Registry::resident`] reads it. The national node asks each town's mirror and merges.
    pub fn match_candidates(
        &self,
        keys: &matching::Keys,
        limit: usize,
    ) -> Result<Vec<(ResidentCode, IdentityRecordParts)>, StoreError> {
        let end = |key: &str| format!("{key}\u{10FFFF}");
        let name_end = end(&keys.name_key);
        let reading_end = keys.reading_key.as_deref().map(end);
        let address_end = keys.address_key.as_deref().map(end);
        let birth = keys.birth.map(|b| b.to_string());
        let municipality = keys.municipality.map(|m| m.to_string());
        let mut select = self.conn.prepare_cached(
            "SELECT code FROM (SELECT code FROM residents
                 WHERE name_key >= ?1 AND name_key < ?2 AND status = 'active' LIMIT ?10)
             UNION
             SELECT code FROM (SELECT code FROM residents
                 WHERE ?3 IS NOT NULL AND reading_key >= ?3 AND reading_key < ?4
                   AND status = 'active' LIMIT ?10)
             UNION
             SELECT code FROM (SELECT code FROM residents
                 WHERE ?5 IS NOT NULL AND birth = ?5 AND status = 'active' LIMIT ?10)
             UNION
             SELECT code FROM (SELECT code FROM residents
                 WHERE ?6 IS NOT NULL AND address_key >= ?6 AND address_key < ?7
                   AND (?8 IS NULL OR address_municipality = ?8) AND status = 'active'
                 LIMIT ?10)
             ORDER BY code LIMIT ?9",
        )?;
        let codes: Vec<String> = select
            .query_map(
                params![
                    keys.name_key,
                    name_end,
                    keys.reading_key,
                    reading_end,
                    birth,
                    keys.address_key,
                    address_end,
                    municipality,
                    (limit * 4) as i64,
                    limit as i64,
                ],
                |r| r.get(0),
            )?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(codes.len());
        for text in codes {
            let code = ResidentCode::parse(&text).map_err(|_| {
                StoreError::Corrupt("the residents table holds a malformed resident code".into())
            })?;
            if let Some(record) = record_of(&self.conn, code)? {
                out.push((code, record));
            }
        }
        Ok(out)
    }

    /// The operators, with their roles and whether they are revoked.
    pub fn operators(&self) -> Result<Vec<Operator>, StoreError> {
        SqlView::new(&self.conn, self.municipality).try_operators()
    }

    /// A fresh resident code drawn at random from the pool with the operating system's random
    /// generator, so that codes cannot be predicted from one another.
    pub fn draw_fresh_code(&self) -> Result<ResidentCode, StoreError> {
        let mut bytes = vec![0u8; 8 * 256];
        getrandom::fill(&mut bytes)
            .map_err(|e| StoreError::Setup(format!("the system's random generator failed: {e}")))?;
        let mut chunks = bytes.chunks_exact(8);
        self.draw_code(&mut || {
            let chunk = chunks.next().unwrap_or(&[0; 8]);
            u64::from_le_bytes(chunk.try_into().expect("eight bytes"))
        })
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
            return Err(StoreError::PoolEmpty(
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
            view.take_failure()?;
            if !used {
                return Ok(code);
            }
        }
        Err(StoreError::PoolEmpty(
            "the code pool is nearly exhausted; ask the national node for another block".into(),
        ))
    }

    /// The number of events in the registry log.
    pub fn event_count(&self) -> Result<u64, StoreError> {
        Ok(self.conn.entry_count()?)
    }

    /// Replays the log and compares every derived table with it; empty when all agree. It reads
    /// one snapshot (a read transaction), so a node appending meanwhile on another connection
    /// is not mistaken for an edit.
    pub fn verify(&self) -> Result<Vec<verify::Difference>, StoreError> {
        let snapshot = self.conn.unchecked_transaction()?;
        let differences = verify::verify(&snapshot, self.municipality, &self.national)?;
        snapshot.rollback()?;
        Ok(differences)
    }

    /// Whether another connection — another process, or another handle in this one — has
    /// committed to the database since the last call (or since this one was opened). While a
    /// node runs it is its registry's only writer, through one connection: a commit by anyone
    /// else is a write behind the log's back, whatever it changed (SQLite's `data_version`,
    /// which this connection's own commits leave as it is). An edit of the file's bytes that
    /// bypasses SQLite is not seen here; [`Registry::verify`] finds what it changed.
    pub fn written_by_others(&mut self) -> Result<bool, StoreError> {
        let now = data_version(&self.conn)?;
        let changed = now != self.data_version;
        self.data_version = now;
        Ok(changed)
    }

    /// Replays the whole log through the rules into a fresh state.
    pub fn replay(&self) -> Result<(RegistryState, Vec<verify::Difference>), StoreError> {
        verify::replay(&self.conn, self.municipality, &self.national)
    }
}

/// One-row statements and writes through the connection's statement cache: the hot paths run
/// the same few statements for every event, and parsing their SQL would cost more than running
/// them.
trait Cached {
    /// `query_row` through a cached statement.
    fn row<T, P: rusqlite::Params, F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T>;
    /// `execute` through a cached statement.
    fn run<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
}

impl Cached for Connection {
    fn row<T, P: rusqlite::Params, F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    fn run<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }
}

/// Durability as for every log (WAL, `synchronous = FULL`), and a page cache large enough
/// that the indexes of a large town stay in memory.
fn data_version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("PRAGMA data_version", [], |r| r.get(0))?)
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    entries::configure(conn)?;
    conn.execute_batch("PRAGMA cache_size = -262144;")?;
    // Every statement of the hot paths stays prepared (see [`Cached`]).
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// The log's right edge, as kept in `meta` (hex of [`Frontier::to_bytes`]); rebuilt from the
/// entries if it is missing or does not match the entries' count.
fn load_frontier(conn: &Connection) -> Result<Frontier, StoreError> {
    let size = conn.entry_count()?;
    let stored: Option<String> =
        conn.row("SELECT value FROM meta WHERE key = 'frontier'", [], |r| r.get(0)).optional()?;
    if let Some(frontier) =
        stored.as_deref().and_then(from_hex).and_then(|b| Frontier::from_bytes(&b))
        && frontier.size() == size
    {
        return Ok(frontier);
    }
    frontier_of_entries(conn, size)
}

/// The right edge of the first `size` entries, computed from them.
fn frontier_of_entries(conn: &Connection, size: u64) -> Result<Frontier, StoreError> {
    const CHUNK: u64 = 4096;
    let mut frontier = Frontier::new();
    let mut start = 0;
    while start < size {
        let end = (start + CHUNK).min(size);
        for entry in conn.read_entries(start, end)? {
            frontier.push(tlog::leaf_hash(&entry));
        }
        start = end;
    }
    Ok(frontier)
}

fn save_frontier(conn: &Connection, frontier: &Frontier) -> Result<(), StoreError> {
    conn.run(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('frontier', ?1)",
        [to_hex(&frontier.to_bytes())],
    )?;
    Ok(())
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

fn exists(conn: &Connection, query: &str, hash: &Hash) -> Result<bool, StoreError> {
    Ok(conn.row(query, [hash.to_base64()], |r| r.get(0))?)
}

/// What an event writes that depends only on its own bytes: its log entry (the commitment),
/// the entry's leaf hash and, for a change, the `residents` row of its record (but for the
/// index). A replica computes these for a whole batch on every core ([`read_ahead`]).
struct Derived {
    entry: Vec<u8>,
    leaf: Hash,
    resident: Option<Vec<rusqlite::types::Value>>,
}

impl Derived {
    /// What `note` writes; `hash` is its SHA-256 and `record` the record it makes, if it is a
    /// change.
    fn new(note: &[u8], hash: &Hash, record: Option<&IdentityRecordParts>) -> Derived {
        let entry = commitment_hashed(note, hash);
        let leaf = tlog::leaf_hash(&entry);
        let resident = record.map(|record| ResidentRow::of(record, 0).into_values());
        Derived { entry, leaf, resident }
    }

    /// What `note`, decided as `effect`, writes.
    fn of(note: &[u8], effect: &Effect) -> Derived {
        let record = match effect {
            Effect::Change { change, .. } => Some(&change.record),
            _ => None,
        };
        Derived::new(note, &note_hash(note), record)
    }
}

/// Each note of a batch read ([`Parsed::parse`]) with what it writes ([`Derived`]), on every
/// core.
fn read_ahead(notes: &[&[u8]]) -> Vec<(Result<Parsed, Refusal>, Derived)> {
    use rayon::prelude::*;
    notes
        .par_iter()
        .with_min_len(64)
        .map(|note| {
            let parsed = Parsed::parse(note);
            let derived = match &parsed {
                Ok(parsed) => {
                    let record = match parsed.event() {
                        Event::Change(change) => Some(&change.record),
                        _ => None,
                    };
                    Derived::new(note, &parsed.hash(), record)
                }
                // Refused when it is decided: nothing of it is written.
                Err(_) => Derived::new(note, &note_hash(note), None),
            };
            (parsed, derived)
        })
        .collect()
}

/// Appends the event and its commitment, extends the frontier, and applies the effect to the
/// derived tables. `derived` is what [`Derived::of`] gives for `note` and `effect`.
fn append(
    tx: &Transaction<'_>,
    note: &[u8],
    effect: &Effect,
    derived: Derived,
    frontier: &mut Frontier,
) -> Result<u64, StoreError> {
    // The kept right edge's size is the entries' count (`load_frontier`), and only this
    // transaction appends.
    let index = frontier.size();
    entries::insert_in(tx, index, &derived.entry)?;
    frontier.push(derived.leaf);
    tx.run("INSERT INTO events (idx, note) VALUES (?1, ?2)", params![index as i64, note])?;
    let idx = index as i64;
    match effect {
        Effect::Genesis(genesis) => {
            tx.run(
                "INSERT INTO meta (key, value) VALUES ('admin', ?1)",
                [genesis.admin.to_string()],
            )?;
        }
        Effect::Enrol(enrolment) => {
            tx.run(
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
            tx.run(
                "UPDATE operators SET revoked_idx = ?1 WHERE vkey = ?2",
                params![idx, revocation.operator.to_string()],
            )?;
        }
        Effect::CodeBlock(block) => {
            tx.run(
                "INSERT INTO code_blocks (idx, first, count) VALUES (?1, ?2, ?3)",
                params![idx, block.first as i64, block.count as i64],
            )?;
        }
        Effect::MoveNotice(notice) => {
            tx.run(
                "INSERT INTO move_notices (move_out, code, to_municipality, move_in, event_idx)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    notice.event.to_base64(),
                    notice.resident.to_string(),
                    notice.to.to_string(),
                    notice.move_in.to_base64(),
                    idx
                ],
            )?;
        }
        Effect::MoveWithdrawal(withdrawal) => {
            tx.run(
                "INSERT INTO move_ins (move_out, code, from_municipality, event_idx)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    withdrawal.event.to_base64(),
                    withdrawal.resident.to_string(),
                    withdrawal.from.to_string(),
                    idx
                ],
            )?;
        }
        Effect::Change { change, move_out, activation, .. } => {
            let record = &change.record;
            let code = record.resident_code.to_string();
            let consumed = move_out
                .iter()
                .map(|c| (c.event, c.from))
                .chain(activation.iter().map(|c| (c.after, c.from)));
            for (followed, from) in consumed {
                tx.run(
                    "INSERT INTO move_ins (move_out, code, from_municipality, event_idx)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![followed.to_base64(), code, from.to_string(), idx],
                )?;
            }
            if let Some(previous) = change.previous_code {
                let previous = previous.to_string();
                tx.run("DELETE FROM residents WHERE code = ?1", [&previous])?;
                tx.run("UPDATE history SET code = ?1 WHERE code = ?2", params![code, previous])?;
                tx.run(
                    "INSERT INTO retired_codes (code, replaced_by, event_idx) VALUES (?1, ?2, ?3)",
                    params![previous, code, idx],
                )?;
            }
            tx.run(
                "INSERT INTO history (code, number, event_idx) VALUES (?1, ?2, ?3)",
                params![code, record.history_number.get(), idx],
            )?;
            let mut row = match derived.resident {
                Some(row) => row,
                None => ResidentRow::of(record, index).into_values(),
            };
            row[ResidentRow::EVENT_IDX] = rusqlite::types::Value::Integer(idx);
            tx.run(
                "INSERT OR REPLACE INTO residents (code, history, status, name, reading,
                    former_name, former_reading, birth, sex, address_municipality, address,
                    individual_number, reason, effective, event_idx, name_key, reading_key,
                    address_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
                rusqlite::params_from_iter(row),
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
    /// The position of the `event_idx` column.
    const EVENT_IDX: usize = 14;

    /// The table's columns, in table order: the names [`ResidentRow::of`] gives.
    pub(crate) const COLUMNS: [&'static str; 18] = [
        "code",
        "history",
        "status",
        "name",
        "reading",
        "former_name",
        "former_reading",
        "birth",
        "sex",
        "address_municipality",
        "address",
        "individual_number",
        "reason",
        "effective",
        "event_idx",
        "name_key",
        "reading_key",
        "address_key",
    ];

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
            ("reading_key", Some(fold::fold_reading(record.name.reading().as_str()))),
            ("address_key", Some(record.address.match_key())),
        ];
        debug_assert!(columns.iter().map(|c| c.0).eq(Self::COLUMNS));
        ResidentRow { columns }
    }

    fn into_values(self) -> Vec<rusqlite::types::Value> {
        use rusqlite::types::Value;
        self.columns
            .into_iter()
            .map(|(name, value)| match (name, value) {
                (_, None) => Value::Null,
                ("history" | "sex" | "event_idx", Some(v)) => {
                    Value::Integer(v.parse().expect("numeric column"))
                }
                (_, Some(v)) => Value::Text(v),
            })
            .collect()
    }
}

/// The change event stored at `idx`.
fn change_at(conn: &Connection, idx: i64) -> Result<registry_core::event::Change, StoreError> {
    let note: Vec<u8> = conn
        .row("SELECT note FROM events WHERE idx = ?1", [idx], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::Corrupt(format!("event {idx} is missing")))?;
    change_of(idx, &note)
}

/// The change event in `note`, stored at `idx`.
fn change_of(idx: i64, note: &[u8]) -> Result<registry_core::event::Change, StoreError> {
    let parsed = tlog::note::Note::parse(note)
        .map_err(|e| StoreError::Corrupt(format!("event {idx} is not a signed note: {e}")))?;
    match Event::parse(parsed.text()) {
        Ok(Event::Change(change)) => Ok(change),
        Ok(_) => Err(StoreError::Corrupt(format!("event {idx} is not a change"))),
        Err(e) => Err(StoreError::Corrupt(format!("event {idx} does not parse: {e}"))),
    }
}

/// The signed note stored at log index `idx`.
fn event_note(conn: &Connection, idx: i64) -> Result<Vec<u8>, StoreError> {
    conn.row("SELECT note FROM events WHERE idx = ?1", [idx], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::Corrupt(format!("event {idx} is missing")))
}

/// The log index and exact note of the event that made a resident's current record.
fn current_note(
    conn: &Connection,
    code: ResidentCode,
) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
    let idx: Option<i64> = conn
        .row("SELECT event_idx FROM residents WHERE code = ?1", [code.to_string()], |r| r.get(0))
        .optional()?;
    let Some(idx) = idx else { return Ok(None) };
    let note: Vec<u8> = conn
        .row("SELECT note FROM events WHERE idx = ?1", [idx], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::Corrupt(format!("event {idx} is missing")))?;
    Ok(Some((idx as u64, note)))
}

fn record_of(
    conn: &Connection,
    code: ResidentCode,
) -> Result<Option<IdentityRecordParts>, StoreError> {
    let Some((idx, note)) = current_note(conn, code)? else { return Ok(None) };
    let change = change_of(idx as i64, &note)?;
    if change.record.resident_code != code {
        return Err(StoreError::Corrupt(format!(
            "the residents table points resident {code} at an event for another resident"
        )));
    }
    Ok(Some(change.record))
}

/// The Ed25519 signatures of a batch by every key that may sign one of its events (the
/// operators, the admin key, the national key, and the keys the batch's own genesis and
/// enrolments name), verified together on every core ([`Prechecked`]). Whether a key may sign
/// an event is still decided by the rules, event by event; a signature left out is verified
/// singly when the rules open its note.
fn precheck(
    read: &[(Result<Parsed, Refusal>, Derived)],
    view: &SqlView<'_>,
    national: &VerifierKey,
) -> Prechecked {
    use rayon::prelude::*;
    let mut keys: Verifiers = view.operators().into_iter().map(|o| o.key).collect();
    keys.extend(view.admin());
    keys.push(national.clone());
    for (parsed, _) in read {
        let named = match parsed.as_ref().map(Parsed::event) {
            Ok(Event::Genesis(genesis)) => &genesis.admin,
            Ok(Event::Enrolment(enrolment)) => &enrolment.operator,
            _ => continue,
        };
        if !keys.keys().contains(named) {
            keys.push(named.clone());
        }
    }
    let notes: Vec<&tlog::note::Note> =
        read.iter().filter_map(|(parsed, _)| parsed.as_ref().ok().map(Parsed::note)).collect();
    // Chunks as large as the batch equation takes, but at least one for every core.
    let chunk = notes.len().div_ceil(rayon::current_num_threads()).clamp(1, tlog::precheck::CHUNK);
    notes
        .par_chunks(chunk)
        .map(|chunk| Prechecked::check_notes(chunk.iter().copied(), &keys))
        .reduce(Prechecked::none, Prechecked::merge)
}

/// The registry as the rules see it, read from the tables inside the current transaction.
/// The rules' view cannot fail, so the first read failure is kept in `failed` and the caller
/// aborts the transaction with it after deciding ([`SqlView::take_failure`]).
///
/// Within one transaction the admin key, the operators and the code blocks are read once and
/// kept: only the events that change them (genesis, enrolment, revocation, code block) clear
/// them, through [`SqlView::applied`], which the writer calls after applying each event.
struct SqlView<'a> {
    conn: &'a Connection,
    municipality: MunicipalityCode,
    failed: RefCell<Option<StoreError>>,
    admin: RefCell<Option<Option<VerifierKey>>>,
    operators: RefCell<Option<Vec<Operator>>>,
    blocks: RefCell<Option<Vec<(u64, u64)>>>,
}

impl<'a> SqlView<'a> {
    fn new(conn: &'a Connection, municipality: MunicipalityCode) -> SqlView<'a> {
        SqlView {
            conn,
            municipality,
            failed: RefCell::new(None),
            admin: RefCell::new(None),
            operators: RefCell::new(None),
            blocks: RefCell::new(None),
        }
    }

    fn note<T: Default>(&self, result: Result<T, StoreError>) -> T {
        result.unwrap_or_else(|error| {
            self.failed.borrow_mut().get_or_insert(error);
            T::default()
        })
    }

    /// A read kept for the transaction: `read` runs once, and again after [`SqlView::applied`]
    /// cleared it. A failed read is not kept.
    fn kept<T: Clone + Default>(
        &self,
        cell: &RefCell<Option<T>>,
        read: impl FnOnce() -> Result<T, StoreError>,
    ) -> T {
        if let Some(value) = cell.borrow().as_ref() {
            return value.clone();
        }
        match read() {
            Ok(value) => {
                *cell.borrow_mut() = Some(value.clone());
                value
            }
            Err(error) => self.note(Err(error)),
        }
    }

    /// The first read failure since the last call, as an error.
    fn take_failure(&self) -> Result<(), StoreError> {
        match self.failed.borrow_mut().take() {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }

    /// Forgets what `effect`, just written, changed.
    fn applied(&self, effect: &Effect) {
        match effect {
            Effect::Genesis(_) => *self.admin.borrow_mut() = None,
            Effect::Enrol(_) | Effect::Revoke(_) => *self.operators.borrow_mut() = None,
            Effect::CodeBlock(_) => *self.blocks.borrow_mut() = None,
            Effect::Change { .. } | Effect::MoveNotice(_) | Effect::MoveWithdrawal(_) => {}
        }
    }
}

impl SqlView<'_> {
    fn try_blocks(&self) -> Result<Vec<(u64, u64)>, StoreError> {
        let mut select = self.conn.prepare_cached("SELECT first, count FROM code_blocks")?;
        let rows = select
            .query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn try_current_event(&self, code: ResidentCode) -> Result<Option<CurrentEvent>, StoreError> {
        let Some((idx, note)) = current_note(self.conn, code)? else { return Ok(None) };
        let change = change_of(idx as i64, &note)?;
        if change.record.resident_code != code {
            return Err(StoreError::Corrupt(format!(
                "the residents table points resident {code} at an event for another resident"
            )));
        }
        Ok(Some(CurrentEvent { note_hash: note_hash(&note), moved_to: change.moved_to }))
    }

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
                    key: parse_key(&vkey)
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

/// Parses a stored verifier key, remembering the last few thousand: every event is decided
/// against the operators and the admin key, and decoding a key (its curve point and ID) costs
/// more than reading it. A pure function of the text, so the memo never goes stale.
fn parse_key(text: &str) -> Result<VerifierKey, tlog::note::KeyError> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    const KEPT: usize = 4096;
    thread_local! {
        static PARSED: RefCell<HashMap<String, VerifierKey>> = RefCell::new(HashMap::new());
    }
    if let Some(key) = PARSED.with(|p| p.borrow().get(text).cloned()) {
        return Ok(key);
    }
    let key = VerifierKey::parse(text)?;
    PARSED.with(|p| {
        let mut parsed = p.borrow_mut();
        if parsed.len() >= KEPT {
            parsed.clear();
        }
        parsed.insert(text.to_owned(), key.clone());
    });
    Ok(key)
}

impl RegistryView for SqlView<'_> {
    fn municipality(&self) -> MunicipalityCode {
        self.municipality
    }

    fn admin(&self) -> Option<VerifierKey> {
        let read = || -> Result<Option<VerifierKey>, StoreError> {
            let text: Option<String> = self
                .conn
                .row("SELECT value FROM meta WHERE key = 'admin'", [], |r| r.get(0))
                .optional()?;
            text.map(|t| {
                parse_key(&t).map_err(|e| StoreError::Corrupt(format!("meta admin key: {e}")))
            })
            .transpose()
        };
        self.kept(&self.admin, read)
    }

    fn operators(&self) -> Vec<Operator> {
        self.kept(&self.operators, || self.try_operators())
    }

    fn resident(&self, code: ResidentCode) -> Option<IdentityRecordParts> {
        self.note(record_of(self.conn, code))
    }

    fn in_code_pool(&self, code: ResidentCode) -> bool {
        let base = code.ten_digits();
        self.code_blocks().iter().any(|&(first, count)| base >= first && base - first < count)
    }

    fn code_ever_used(&self, code: ResidentCode) -> bool {
        let code = code.to_string();
        self.note(
            self.conn
                .row(
                    "SELECT EXISTS (SELECT 1 FROM residents WHERE code = ?1)
                         OR EXISTS (SELECT 1 FROM retired_codes WHERE code = ?1)",
                    [code],
                    |r| r.get(0),
                )
                .map_err(StoreError::from),
        )
    }

    fn code_blocks(&self) -> Vec<(u64, u64)> {
        self.kept(&self.blocks, || self.try_blocks())
    }

    fn snapshot(&self, code: ResidentCode, number: u32) -> Option<IdentityRecordParts> {
        let read = || -> Result<Option<IdentityRecordParts>, StoreError> {
            let idx: Option<i64> = self
                .conn
                .row(
                    "SELECT event_idx FROM history WHERE code = ?1 AND number = ?2",
                    params![code.to_string(), number],
                    |r| r.get(0),
                )
                .optional()?;
            idx.map(|idx| change_at(self.conn, idx).map(|c| c.record)).transpose()
        };
        self.note(read())
    }

    fn current_event(&self, code: ResidentCode) -> Option<CurrentEvent> {
        self.note(self.try_current_event(code))
    }

    fn move_out_used(&self, move_out: &Hash) -> bool {
        self.note(exists(
            self.conn,
            "SELECT EXISTS (SELECT 1 FROM move_ins WHERE move_out = ?1)",
            move_out,
        ))
    }

    fn move_notice_recorded(&self, move_out: &Hash) -> bool {
        self.note(exists(
            self.conn,
            "SELECT EXISTS (SELECT 1 FROM move_notices WHERE move_out = ?1)",
            move_out,
        ))
    }
}
