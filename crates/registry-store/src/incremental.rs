//! Incremental self-verification: what one replay of the log established, kept between looks,
//! so that a look replays only the events appended since and compares the tables with what
//! the log says they hold without replaying it again.
//!
//! [`Verifier::build`] replays the whole log once, by the same rules and with the same checks
//! as [`crate::verify::verify`], against a view of its own ([`KeptView`]), never the derived
//! tables. It keeps no personal data: for every event, the leaf hash its log entry must have
//! (which checks both the stored signed bytes and the entry); the log's right edge; for every
//! resident code, the log indexes of its snapshots and the digest of its `residents` row as
//! `append` writes it ([`ResidentRow::of`], rendered as the full comparison renders it); the
//! small tables' rows; and the admin key, operators, code blocks and consumed certificates the
//! rules ask for. A record the rules need is read back from its signed event, checked against
//! the kept leaf.
//!
//! Each [`Verifier::look`] reads one snapshot. It replays the events appended since the last
//! look (each checked against its log entry, decided by the rules), then compares either
//! everything ([`Scope::Whole`], what a foreign write calls for: read and hash, no replay) or a
//! slice of each large table ([`Scope::Slice`], the rolling sweep: a cursor over rowid ranges,
//! so that one pass over every row and every stored event takes a bounded number of looks and
//! finds what bypassed SQLite). Rows deleted anywhere are found where a table's pass ends,
//! where the small tables are compared too. Differences are named as the full verification
//! names them, by resident code and field, never by value.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use registry_core::event::Change;
use registry_core::moves::note_hash;
use registry_core::rules::{CurrentEvent, Effect, Operator, RegistryView, decide};
use registry_domain::{IdentityRecordParts, MunicipalityCode, ResidentCode};
use rusqlite::{Connection, OptionalExtension, params};
use tlog::Hash;
use tlog::merkle::Frontier;
use tlog::note::VerifierKey;
use tlog_store::entries::EntryReader;

use crate::verify::{
    Difference, Tables, about, compare_frontier_with, compare_meta, compare_small_tables, general,
    row_digest, stored_row_digest, text_row,
};
use crate::{Registry, ResidentRow, StoreError, commitment};

/// What a look compares after replaying the events appended since the last one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every row of every table and every stored event.
    Whole,
    /// The next slice of each large table (residents, history, events, log entries): a pass
    /// over each takes `looks` looks.
    Slice {
        /// Looks per pass (at least 1).
        looks: u64,
    },
}

/// What one look found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Checked {
    /// Every difference found (empty when all agree).
    pub differences: Vec<Difference>,
    /// The events replayed and checked so far.
    pub size: u64,
    /// A rolling pass over every table ended with this look (with [`Scope::Whole`]: always).
    pub pass_ended: bool,
}

/// A resident code as the log left it: the log index of the snapshot that made its current
/// record, and the digest of its `residents` row. The earlier snapshots, which most residents
/// lack, are kept apart ([`Verifier::earlier`]).
struct Kept {
    last: u64,
    row: Digest,
}

/// A row's digest as kept: SHA-256 truncated to 128 bits, which still takes 2^128 work to
/// match with another row.
type Digest = [u8; 16];

fn kept_digest(hash: &Hash) -> Digest {
    hash.0[..16].try_into().expect("16 of 32 bytes")
}

/// The large tables the rolling sweep walks through by rowid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Large {
    Residents,
    History,
    Events,
    Entries,
}

const LARGE: [Large; 4] = [Large::Residents, Large::History, Large::Events, Large::Entries];

/// The page cache of the verifier's connections, in KiB.
const PAGE_CACHE_KIB: u32 = 8192;

/// Every rowid.
const WHOLE: (i64, i64) = (i64::MIN, i64::MAX);

impl Large {
    fn table(self) -> &'static str {
        match self {
            Large::Residents => "residents",
            Large::History => "history",
            Large::Events => "events",
            Large::Entries => "log_entries",
        }
    }
}

/// What the replay established, kept between looks.
pub struct Verifier {
    municipality: MunicipalityCode,
    national: VerifierKey,
    /// The leaf hash of every event checked, by log index.
    leaves: Vec<Hash>,
    /// The log's right edge after them.
    frontier: Frontier,
    residents: HashMap<ResidentCode, Kept>,
    /// The log indexes of the snapshots before the last, oldest first (history number =
    /// position + 1), of the residents that have any.
    earlier: HashMap<ResidentCode, Vec<u64>>,
    /// How many snapshots the residents have (the `history` table's rows).
    snapshot_count: usize,
    retired: HashSet<ResidentCode>,
    /// Certificates consumed here (move-ins, activations, withdrawals), by the hash they follow.
    consumed: HashSet<Hash>,
    /// Move-in notices recorded here, by the move-out's hash.
    notices: HashSet<Hash>,
    /// The small tables' rows.
    tables: Tables,
    admin: Option<VerifierKey>,
    operators: Vec<Operator>,
    blocks: Vec<(u64, u64)>,
    /// The next rowid of each large table's pass.
    cursors: [i64; 4],
    /// Which large tables' passes ended since the last whole pass ended.
    ended: [bool; 4],
    /// A second connection to the database, for the stored events and log entries while the
    /// derived tables are compared whole.
    helper: Mutex<Connection>,
}

impl Verifier {
    /// Replays the registry's whole log in one snapshot. A difference met on the way (an event
    /// that does not match its entry, or that the rules refuse) stops the replay there; each
    /// look tries again from it. The verifier's connection (`registry`'s, and a second one
    /// it opens) is given a small page cache: a look reads each page once.
    pub fn build(registry: &Registry) -> Result<(Verifier, Vec<Difference>), StoreError> {
        let mut verifier = Verifier {
            municipality: registry.municipality,
            national: registry.national.clone(),
            leaves: Vec::new(),
            frontier: Frontier::new(),
            residents: HashMap::default(),
            earlier: HashMap::default(),
            snapshot_count: 0,
            retired: HashSet::new(),
            consumed: HashSet::new(),
            notices: HashSet::new(),
            tables: Tables::default(),
            admin: None,
            operators: Vec::new(),
            blocks: Vec::new(),
            cursors: [0; 4],
            ended: [false; 4],
            helper: Mutex::new(registry.reopen()?),
        };
        // Each look reads each page it compares once: a large page cache would only hold
        // memory (and pages that an edit of the file's bytes has made stale).
        for conn in [&registry.conn, &*verifier.helper.lock().expect("not shared yet")] {
            conn.execute_batch(&format!("PRAGMA cache_size = -{PAGE_CACHE_KIB}"))?;
        }
        let snapshot = registry.conn.unchecked_transaction()?;
        let stopped = verifier.catch_up(&snapshot)?;
        snapshot.rollback()?;
        Ok((verifier, stopped.into_iter().collect()))
    }

    /// The events replayed and checked.
    pub fn size(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// One look at `registry` (a connection of the verifier's own): the events appended since
    /// are replayed, then `scope` is compared, all in one snapshot. Cached pages are dropped
    /// first, so that what is compared is what the file holds now, even where an edit of its
    /// bytes bypassed SQLite.
    pub fn look(&mut self, registry: &Registry, scope: Scope) -> Result<Checked, StoreError> {
        registry.conn.execute_batch("PRAGMA shrink_memory")?;
        let snapshot = registry.conn.unchecked_transaction()?;
        let checked = self.look_in(&snapshot, scope);
        snapshot.rollback()?;
        checked
    }

    fn look_in(&mut self, conn: &Connection, scope: Scope) -> Result<Checked, StoreError> {
        if let Some(stopped) = self.catch_up(conn)? {
            // The kept state is behind the tables: comparing them would name every later row.
            return Ok(Checked {
                differences: vec![stopped],
                size: self.size(),
                pass_ended: false,
            });
        }
        let mut differences = Vec::new();
        compare_meta(
            conn,
            self.municipality,
            &self.national,
            self.tables.admin.as_deref(),
            &mut differences,
        )?;
        compare_frontier_with(conn, &self.frontier, &mut differences)?;
        let pass_ended = match scope {
            Scope::Whole => {
                let size = self.size() as i64;
                // The stored events and the log entries the log holds, on the helper's
                // connection and another core meanwhile: they are the same in its snapshot,
                // which is no older (nothing but appends changes them).
                let logs = std::thread::scope(|threads| {
                    let logs = threads.spawn(|| self.compare_logs_on_helper(size));
                    let tables = self.compare_tables_whole(conn, &mut differences);
                    let logs = logs.join().map_err(|_| {
                        StoreError::Corrupt("the comparison of the log's rows panicked".into())
                    })?;
                    tables.and(logs)
                })?;
                differences.extend(logs);
                // Events beyond the log, in this snapshot.
                self.compare_log_rows(conn, Large::Events, size, i64::MAX, &mut differences)?;
                true
            }
            Scope::Slice { looks } => self.sweep(conn, looks.max(1), &mut differences)?,
        };
        Ok(Checked { differences, size: self.size(), pass_ended })
    }

    /// Every row of the derived tables.
    fn compare_tables_whole(
        &self,
        conn: &Connection,
        differences: &mut Vec<Difference>,
    ) -> Result<(), StoreError> {
        let present = self.compare_residents(conn, i64::MIN, i64::MAX, differences)?;
        // Codes are the table's key: as many kept codes present as kept means none missing.
        if present != self.residents.len() {
            self.missing_residents(conn, differences)?;
        }
        let matched = self.compare_history(conn, WHOLE, differences, None)?;
        self.missing_history(conn, matched, differences)?;
        compare_small_tables(conn, &self.tables, differences)
    }

    /// The stored events and log entries `0..size`, in a snapshot of the helper's connection.
    fn compare_logs_on_helper(&self, size: i64) -> Result<Vec<Difference>, StoreError> {
        let helper = self.helper.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        helper.execute_batch("PRAGMA shrink_memory")?;
        let snapshot = helper.unchecked_transaction()?;
        let mut differences = Vec::new();
        for large in [Large::Events, Large::Entries] {
            self.compare_log_rows(&snapshot, large, 0, size, &mut differences)?;
        }
        snapshot.rollback()?;
        Ok(differences)
    }

    /// The next slice of every large table; returns whether every table's pass has ended
    /// since the last time it returned so.
    fn sweep(
        &mut self,
        conn: &Connection,
        looks: u64,
        differences: &mut Vec<Difference>,
    ) -> Result<bool, StoreError> {
        for (n, large) in LARGE.into_iter().enumerate() {
            let max: i64 = conn
                .prepare_cached(&format!("SELECT coalesce(max(rowid), -1) FROM {}", large.table()))?
                .query_row([], |r| r.get(0))?;
            let width = ((max + 1) as u64).div_ceil(looks).max(1) as i64;
            let from = self.cursors[n];
            self.compare_large(conn, large, (from, from + width), differences)?;
            self.cursors[n] = from + width;
            if self.cursors[n] > max {
                self.pass_end(conn, large, differences)?;
                if large == Large::Residents {
                    compare_small_tables(conn, &self.tables, differences)?;
                }
                self.cursors[n] = 0;
                self.ended[n] = true;
            }
        }
        let whole = self.ended.iter().all(|&e| e);
        if whole {
            self.ended = [false; 4];
        }
        Ok(whole)
    }

    /// Compares the rows of `large` whose rowid is in `from..to`.
    fn compare_large(
        &self,
        conn: &Connection,
        large: Large,
        (from, to): (i64, i64),
        differences: &mut Vec<Difference>,
    ) -> Result<(), StoreError> {
        match large {
            Large::Residents => self.compare_residents(conn, from, to, differences).map(drop),
            Large::History => self.compare_history(conn, (from, to), differences, None).map(drop),
            Large::Events | Large::Entries => {
                self.compare_log_rows(conn, large, from, to, differences)
            }
        }
    }

    /// At the end of a table's pass: rows the log made that are not in the table anywhere.
    /// A table's rows are counted (its key is unique, and a row the log did not make is named
    /// by its slice), and only when they are fewer than the log made are the missing ones
    /// looked for by key.
    fn pass_end(
        &self,
        conn: &Connection,
        large: Large,
        differences: &mut Vec<Difference>,
    ) -> Result<(), StoreError> {
        let count = |table: &str| -> Result<usize, StoreError> {
            let count: i64 = conn
                .prepare_cached(&format!("SELECT count(*) FROM {table}"))?
                .query_row([], |r| r.get(0))?;
            Ok(count as usize)
        };
        match large {
            Large::Residents if count("residents")? != self.residents.len() => {
                self.missing_residents(conn, differences)
            }
            Large::History if count("history")? != self.snapshot_count => {
                let matched = self.compare_history(conn, WHOLE, &mut Vec::new(), None)?;
                self.missing_history(conn, matched, differences)
            }
            // Gaps in the log's rows are found within each slice.
            _ => Ok(()),
        }
    }

    /// Residents the log made whose row is not in the table.
    fn missing_residents(
        &self,
        conn: &Connection,
        differences: &mut Vec<Difference>,
    ) -> Result<(), StoreError> {
        // The codes from the key's index, in order (without a string for each).
        let mut select = conn.prepare_cached("SELECT code FROM residents ORDER BY code")?;
        let mut rows = select.query([])?;
        let mut present = Vec::with_capacity(self.residents.len());
        while let Some(row) = rows.next()? {
            if let rusqlite::types::ValueRef::Text(code) = row.get_ref(0)?
                && let Some(code) =
                    std::str::from_utf8(code).ok().and_then(|c| ResidentCode::parse(c).ok())
            {
                present.push(code);
            }
        }
        present.sort_unstable();
        let mut missing: Vec<ResidentCode> = self
            .residents
            .keys()
            .filter(|code| present.binary_search(code).is_err())
            .copied()
            .collect();
        missing.sort();
        for code in missing {
            differences.push(about(
                code,
                "is missing from the residents table (deleted behind the log's back)",
            ));
        }
        Ok(())
    }

    /// History entries the log made that are not in the table, when only `matched` of them
    /// matched (a row's code and number are its key: as many matched as made means none
    /// missing).
    fn missing_history(
        &self,
        conn: &Connection,
        matched: usize,
        differences: &mut Vec<Difference>,
    ) -> Result<(), StoreError> {
        if matched == self.snapshot_count {
            return Ok(());
        }
        let mut keys = HashSet::new();
        self.compare_history(conn, WHOLE, &mut Vec::new(), Some(&mut keys))?;
        let mut missing: Vec<(ResidentCode, usize)> = self
            .residents
            .keys()
            .flat_map(|code| {
                let count = 1 + self.earlier.get(code).map_or(0, Vec::len);
                (1..=count).map(move |number| (*code, number))
            })
            .filter(|key| !keys.contains(key))
            .collect();
        missing.sort();
        for (code, number) in missing {
            differences.push(about(code, format!("history entry {number} is missing")));
        }
        Ok(())
    }

    /// Compares the residents rows in the rowid range; returns how many carry a code the log
    /// made.
    fn compare_residents(
        &self,
        conn: &Connection,
        from: i64,
        to: i64,
        differences: &mut Vec<Difference>,
    ) -> Result<usize, StoreError> {
        let mut select = conn.prepare_cached(&format!(
            "SELECT {} FROM residents WHERE rowid >= ?1 AND rowid < ?2",
            ResidentRow::COLUMNS.join(", ")
        ))?;
        let mut rows = select.query(params![from, to])?;
        let mut present = 0;
        let mut buffer = Vec::with_capacity(512);
        while let Some(row) = rows.next()? {
            let code = match row.get_ref(0)? {
                rusqlite::types::ValueRef::Text(code) => std::str::from_utf8(code).ok(),
                _ => None,
            };
            let Some(code) = code.and_then(|c| ResidentCode::parse(c).ok()) else {
                differences.push(general(
                    "the residents table has a row whose code is not a valid resident code",
                ));
                continue;
            };
            let Some(kept) = self.residents.get(&code) else {
                differences.push(about(
                    code,
                    "is in the residents table but not in the log (inserted behind the log's back)",
                ));
                continue;
            };
            present += 1;
            if kept_digest(&stored_row_digest(row, ResidentRow::COLUMNS.len(), &mut buffer)?)
                == kept.row
            {
                continue;
            }
            let values = text_row(row, ResidentRow::COLUMNS.len())?;
            // Named field by field against the row rebuilt from the event that made it.
            let idx = kept.last;
            match self.checked_change(conn, idx)? {
                Some(change) => {
                    let want = ResidentRow::of(&change.record, idx);
                    for ((column, want), found) in want.columns.iter().zip(&values) {
                        if want != found {
                            differences
                                .push(about(code, format!("field {column} differs from the log")));
                        }
                    }
                }
                None => differences.push(rewritten(idx)),
            }
        }
        Ok(present)
    }

    /// Compares the history rows in the rowid range; returns how many match (and their keys
    /// in `keys`, when given).
    fn compare_history(
        &self,
        conn: &Connection,
        (from, to): (i64, i64),
        differences: &mut Vec<Difference>,
        mut keys: Option<&mut HashSet<(ResidentCode, usize)>>,
    ) -> Result<usize, StoreError> {
        let mut select = conn.prepare_cached(
            "SELECT code, number, event_idx FROM history WHERE rowid >= ?1 AND rowid < ?2",
        )?;
        let mut rows = select.query(params![from, to])?;
        let mut matched = 0;
        while let Some(row) = rows.next()? {
            let code = match row.get_ref(0)? {
                rusqlite::types::ValueRef::Text(code) => std::str::from_utf8(code).ok(),
                _ => None,
            };
            let code = code.and_then(|code| ResidentCode::parse(code).ok());
            let (number, idx): (i64, i64) = (row.get(1)?, row.get(2)?);
            let made = code
                .zip(usize::try_from(number).ok())
                .and_then(|(code, number)| self.snapshot(code, number));
            match (code, made) {
                (Some(code), Some(made)) if made as i64 == idx => {
                    matched += 1;
                    if let Some(keys) = keys.as_deref_mut() {
                        keys.insert((code, number as usize));
                    }
                }
                _ => differences.push(Difference {
                    resident: code,
                    what: format!("history entry {number} is not the one the log made"),
                }),
            }
        }
        Ok(matched)
    }

    /// Compares the stored events or the log entries in the index range with the kept leaves.
    fn compare_log_rows(
        &self,
        conn: &Connection,
        large: Large,
        from: i64,
        to: i64,
        differences: &mut Vec<Difference>,
    ) -> Result<(), StoreError> {
        let size = self.size() as i64;
        let sql = match large {
            Large::Events => {
                "SELECT idx, note FROM events WHERE idx >= ?1 AND idx < ?2 ORDER BY idx"
            }
            _ => "SELECT idx, entry FROM log_entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
        };
        let mut select = conn.prepare_cached(sql)?;
        let mut rows = select.query(params![from, to])?;
        let mut expected = from.max(0);
        let end = to.min(size);
        let missing = |from: i64, to: i64, differences: &mut Vec<Difference>| {
            for idx in from..to {
                differences.push(general(match large {
                    Large::Events => format!("event {idx} is missing from the events table"),
                    _ => format!(
                        "the log entry of event {idx} is missing (deleted behind the log's back)"
                    ),
                }));
            }
        };
        while let Some(row) = rows.next()? {
            let idx: i64 = row.get(0)?;
            let bytes = match row.get_ref(1)? {
                rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => b,
                _ => &[][..],
            };
            missing(expected, idx.min(end), differences);
            expected = expected.max(idx + 1);
            if idx >= size {
                differences.push(general(format!(
                    "event {idx} is in the events table but not in the log (inserted behind the log's back)"
                )));
                continue;
            }
            let leaf = match large {
                Large::Events => tlog::leaf_hash(&commitment(bytes)),
                _ => tlog::leaf_hash(bytes),
            };
            if leaf != self.leaves[idx as usize] {
                differences.push(rewritten(idx as u64));
            }
        }
        missing(expected, end, differences);
        Ok(())
    }

    /// Replays the events appended since the last look. Returns the difference that stopped
    /// it, if any: the event is tried again at the next look.
    fn catch_up(&mut self, conn: &Connection) -> Result<Option<Difference>, StoreError> {
        const CHUNK: u64 = 4096;
        let size = conn.entry_count()?;
        if size < self.size() {
            return Ok(Some(general(format!(
                "the log holds {size} entries but {} were checked: entries were deleted behind \
                 the log's back",
                self.size()
            ))));
        }
        while self.size() < size {
            let (from, to) = (self.size(), (self.size() + CHUNK).min(size));
            let notes = read_range(conn, "SELECT idx, note FROM events", from, to)?;
            let entries = read_range(conn, "SELECT idx, entry FROM log_entries", from, to)?;
            for ((idx, note), (_, entry)) in notes.into_iter().zip(entries) {
                let Some(note) = note else {
                    return Ok(Some(general(format!(
                        "event {idx} is missing from the events table"
                    ))));
                };
                let Some(entry) = entry else {
                    return Ok(Some(general(format!(
                        "the log entry of event {idx} is missing (deleted behind the log's back)"
                    ))));
                };
                if entry != commitment(&note) {
                    return Ok(Some(rewritten(idx)));
                }
                let view = KeptView { kept: self, conn, failed: RefCell::new(None) };
                let decided = decide(&note, &view, &self.national, None);
                match view.failed.into_inner() {
                    Some(Failure::Rewritten(old)) => return Ok(Some(rewritten(old))),
                    Some(Failure::Store(error)) => return Err(error),
                    None => {}
                }
                match decided {
                    Ok(effect) => self.apply(idx, tlog::leaf_hash(&entry), &effect),
                    Err(refusal) => {
                        return Ok(Some(general(format!(
                            "event {idx} breaks the rules: {refusal}"
                        ))));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Keeps what the event at `idx`, decided as `effect`, makes.
    fn apply(&mut self, idx: u64, leaf: Hash, effect: &Effect) {
        self.leaves.push(leaf);
        self.frontier.push(leaf);
        self.tables.record(idx, effect);
        match effect {
            Effect::Genesis(genesis) => self.admin = Some(genesis.admin.clone()),
            Effect::Enrol(enrolment) => self.operators.push(Operator {
                key: enrolment.operator.clone(),
                role: enrolment.role,
                enrolled: enrolment.time,
                revoked: false,
            }),
            Effect::Revoke(revocation) => {
                for operator in &mut self.operators {
                    if operator.key == revocation.operator {
                        operator.revoked = true;
                    }
                }
            }
            Effect::CodeBlock(block) => self.blocks.push((block.first, block.count)),
            Effect::Change { change, move_out, activation, .. } => {
                let code = change.record.resident_code;
                self.consumed.extend(move_out.iter().map(|c| c.event));
                self.consumed.extend(activation.iter().map(|c| c.after));
                let before = match change.previous_code {
                    Some(previous) => {
                        self.retired.insert(previous);
                        self.residents.remove(&previous)
                    }
                    None => self.residents.remove(&code),
                };
                let before_key = change.previous_code.unwrap_or(code);
                let mut earlier = self.earlier.remove(&before_key).unwrap_or_default();
                earlier.extend(before.map(|kept| kept.last));
                if !earlier.is_empty() {
                    self.earlier.insert(code, earlier);
                }
                self.snapshot_count += 1;
                let row = ResidentRow::of(&change.record, idx);
                let row = kept_digest(&row_digest(row.columns.iter().map(|(_, v)| v.as_deref())));
                self.residents.insert(code, Kept { last: idx, row });
            }
            Effect::MoveNotice(notice) => {
                self.notices.insert(notice.event);
            }
            Effect::MoveWithdrawal(withdrawal) => {
                self.consumed.insert(withdrawal.event);
            }
        }
    }

    /// The log indexes of a resident's snapshots, oldest first (none for a code the log did
    /// not make).
    fn snapshots(&self, code: ResidentCode) -> Vec<u64> {
        let Some(kept) = self.residents.get(&code) else { return Vec::new() };
        let mut snapshots = self.earlier.get(&code).cloned().unwrap_or_default();
        snapshots.push(kept.last);
        snapshots
    }

    /// The log index of a resident's snapshot with this history number.
    fn snapshot(&self, code: ResidentCode, number: usize) -> Option<u64> {
        let kept = self.residents.get(&code)?;
        let earlier = self.earlier.get(&code).map_or(&[][..], Vec::as_slice);
        let position = number.checked_sub(1)?;
        match position.cmp(&earlier.len()) {
            std::cmp::Ordering::Less => Some(earlier[position]),
            std::cmp::Ordering::Equal => Some(kept.last),
            std::cmp::Ordering::Greater => None,
        }
    }

    /// The change stored at `idx`, if its bytes are still those the log holds (`None` if they
    /// were rewritten or deleted).
    fn checked_change(&self, conn: &Connection, idx: u64) -> Result<Option<Change>, StoreError> {
        let Some(note) = self.checked_note(conn, idx)? else { return Ok(None) };
        crate::change_of(idx as i64, &note).map(Some)
    }

    /// The signed event stored at `idx`, if its bytes are still those the log holds.
    fn checked_note(&self, conn: &Connection, idx: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let note: Option<Vec<u8>> = conn
            .prepare_cached("SELECT note FROM events WHERE idx = ?1")?
            .query_row([idx as i64], |r| r.get(0))
            .optional()?;
        Ok(note.filter(|note| {
            self.leaves.get(idx as usize) == Some(&tlog::leaf_hash(&commitment(note)))
        }))
    }
}

/// An event whose stored bytes, or whose log entry, are not what the log holds.
fn rewritten(idx: u64) -> Difference {
    general(format!(
        "event {idx} does not match its log entry: it was rewritten behind the log's back"
    ))
}

/// A stored event's bytes or a log entry.
type Blob = Vec<u8>;

/// `query` (`SELECT idx, column FROM table`) for the indexes `from..to`, each with its value or
/// `None` where the row is missing.
fn read_range(
    conn: &Connection,
    query: &str,
    from: u64,
    to: u64,
) -> Result<Vec<(u64, Option<Blob>)>, StoreError> {
    let mut select =
        conn.prepare_cached(&format!("{query} WHERE idx >= ?1 AND idx < ?2 ORDER BY idx"))?;
    let mut found: HashMap<u64, Vec<u8>> = select
        .query_map(params![from as i64, to as i64], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    Ok((from..to).map(|idx| (idx, found.remove(&idx))).collect())
}

/// Why the view could not answer.
enum Failure {
    /// The signed event at this index is not what the log holds.
    Rewritten(u64),
    /// The database failed.
    Store(StoreError),
}

/// The registry as the rules see it, from what the verifier kept and the signed events it
/// checks against the kept leaves: never from the derived tables. The rules' view cannot fail,
/// so the first failure is kept and the event's decision is set aside for it.
struct KeptView<'a> {
    kept: &'a Verifier,
    conn: &'a Connection,
    failed: RefCell<Option<Failure>>,
}

impl KeptView<'_> {
    /// The change at `idx` with its note's hash.
    fn change(&self, idx: u64) -> Option<(Change, Hash)> {
        let fail = |failure| {
            self.failed.borrow_mut().get_or_insert(failure);
            None
        };
        match self.kept.checked_note(self.conn, idx) {
            Ok(Some(note)) => match crate::change_of(idx as i64, &note) {
                Ok(change) => Some((change, note_hash(&note))),
                Err(error) => fail(Failure::Store(error)),
            },
            Ok(None) => fail(Failure::Rewritten(idx)),
            Err(error) => fail(Failure::Store(error)),
        }
    }

    fn last(&self, code: ResidentCode) -> Option<u64> {
        self.kept.residents.get(&code).map(|kept| kept.last)
    }
}

impl RegistryView for KeptView<'_> {
    fn municipality(&self) -> MunicipalityCode {
        self.kept.municipality
    }

    fn admin(&self) -> Option<VerifierKey> {
        self.kept.admin.clone()
    }

    fn operators(&self) -> Vec<Operator> {
        self.kept.operators.clone()
    }

    fn resident(&self, code: ResidentCode) -> Option<IdentityRecordParts> {
        let idx = self.last(code)?;
        self.change(idx).map(|(change, _)| change.record)
    }

    fn in_code_pool(&self, code: ResidentCode) -> bool {
        let base = code.ten_digits();
        self.kept.blocks.iter().any(|&(first, count)| base >= first && base < first + count)
    }

    fn code_ever_used(&self, code: ResidentCode) -> bool {
        self.kept.residents.contains_key(&code) || self.kept.retired.contains(&code)
    }

    fn code_blocks(&self) -> Vec<(u64, u64)> {
        self.kept.blocks.clone()
    }

    fn snapshot(&self, code: ResidentCode, number: u32) -> Option<IdentityRecordParts> {
        // History numbers count up from 1, so the snapshot is at its number's position; any
        // other is looked for among them all, as the in-memory state does.
        let at = self.kept.snapshot(code, number as usize);
        if let Some(record) = at.and_then(|idx| self.change(idx)).map(|(c, _)| c.record)
            && record.history_number.get() == number
        {
            return Some(record);
        }
        self.kept
            .snapshots(code)
            .into_iter()
            .filter_map(|idx| self.change(idx).map(|(c, _)| c.record))
            .find(|record| record.history_number.get() == number)
    }

    fn current_event(&self, code: ResidentCode) -> Option<CurrentEvent> {
        let idx = self.last(code)?;
        self.change(idx)
            .map(|(change, note_hash)| CurrentEvent { note_hash, moved_to: change.moved_to })
    }

    fn move_out_used(&self, move_out: &Hash) -> bool {
        self.kept.consumed.contains(move_out)
    }

    fn move_notice_recorded(&self, move_out: &Hash) -> bool {
        self.kept.notices.contains(move_out)
    }
}
