//! The node's provision log and its local bookkeeping, in `node.db`.
//!
//! Every provision of identity data (a certificate copy, a wide-area copy, a lookup, a move
//! certificate, an agency's query) and every code-block allocation is a record here, appended
//! before the answer leaves the node. The record itself stays private (`records`); the public
//! log entry is its commitment (`registry_store::commitment`), and each record carries a fresh
//! secret salt, so the provision log's tiles carry no personal data and no guessable hash,
//! and a resident who is shown a record (salt included) can check it is in the log.
//!
//! The same database keeps what the node must remember across restarts: the nonces of the
//! clerks' read requests it answered (until those requests are stale anyway), replication
//! acknowledgements (the durable outbox is the log itself, from the acknowledged size on),
//! alerts (and how far each sink has taken them), the national node's quarantines, allocations
//! and pending move notices.

use std::path::Path;

use anyhow::{Context as _, Result};
use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};
use tlog_store::entries::{self, EntryReader as _};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS records (
    idx INTEGER PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    resident TEXT,
    body BLOB NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS acks (
    log TEXT NOT NULL,
    upstream TEXT NOT NULL,
    size INTEGER NOT NULL,
    receipt BLOB NOT NULL,
    PRIMARY KEY (log, upstream)
) STRICT;
CREATE TABLE IF NOT EXISTS received (
    log TEXT NOT NULL,
    size INTEGER NOT NULL,
    checkpoint BLOB NOT NULL,
    PRIMARY KEY (log, size)
) STRICT;
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time INTEGER NOT NULL,
    kind TEXT NOT NULL,
    peer TEXT NOT NULL,
    detail TEXT NOT NULL,
    raised_by TEXT
) STRICT;
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time INTEGER NOT NULL,
    actor TEXT NOT NULL,
    outcome TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS attempts_by_actor ON attempts (actor, time);
CREATE TABLE IF NOT EXISTS quarantines (
    town TEXT NOT NULL,
    alert INTEGER NOT NULL,
    kind TEXT NOT NULL,
    since INTEGER NOT NULL,
    released INTEGER,
    released_by TEXT,
    release BLOB,
    PRIMARY KEY (town, alert)
) STRICT;
CREATE TABLE IF NOT EXISTS reported_alerts (
    node TEXT NOT NULL,
    id INTEGER NOT NULL,
    note BLOB NOT NULL,
    PRIMARY KEY (node, id)
) STRICT;
CREATE TABLE IF NOT EXISTS allocations (
    first INTEGER PRIMARY KEY NOT NULL,
    municipality TEXT NOT NULL,
    count INTEGER NOT NULL,
    note BLOB NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS pending (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    resident TEXT NOT NULL,
    reason TEXT NOT NULL,
    proposed_by TEXT NOT NULL,
    time INTEGER NOT NULL,
    note BLOB NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending'
) STRICT;
CREATE TABLE IF NOT EXISTS allocation_times (
    first INTEGER PRIMARY KEY NOT NULL,
    municipality TEXT NOT NULL,
    time INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS unsigned_notices (
    move_in TEXT PRIMARY KEY NOT NULL,
    town TEXT NOT NULL,
    idx INTEGER NOT NULL,
    resident TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS custody (
    resident TEXT PRIMARY KEY NOT NULL,
    note BLOB NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS read_nonces (
    nonce TEXT PRIMARY KEY NOT NULL,
    expires INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS read_nonces_by_expiry ON read_nonces (expires);
CREATE TABLE IF NOT EXISTS notices (
    move_in TEXT PRIMARY KEY NOT NULL,
    municipality TEXT NOT NULL,
    note BLOB NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0
) STRICT;
";

/// `node.db`.
pub struct Journal {
    conn: Connection,
    /// The behaviour rules, fed by every read, miss, change and refusal recorded here.
    watch: Option<crate::behaviour::Watch>,
}

pub use wire::api::Alert;

/// Seconds within which the same alert (kind, peer and detail) raised again is counted as a
/// repeat of the first instead of recorded anew.
pub const REPEAT_WINDOW: u64 = 60;

impl Journal {
    /// Opens (creating if needed) `node.db` at `path`, readable by its owner alone (0600).
    pub fn open(path: &Path) -> Result<Journal> {
        keyfile::private::prepare_file(path).with_context(|| {
            format!("cannot make the node database {} readable by its owner alone", path.display())
        })?;
        let conn = Connection::open(path)
            .with_context(|| format!("cannot open the node database {}", path.display()))?;
        entries::configure(&conn)?;
        conn.execute_batch(entries::SCHEMA)?;
        conn.execute_batch(SCHEMA)?;
        // Added since node databases were first made: who raised a reported alert.
        let has_raised_by: bool = conn.query_row(
            "SELECT count(*) FROM pragma_table_info('alerts') WHERE name = 'raised_by'",
            [],
            |r| r.get(0),
        )?;
        if !has_raised_by {
            conn.execute_batch("ALTER TABLE alerts ADD COLUMN raised_by TEXT")?;
        }
        // And how often an alert repeated within `REPEAT_WINDOW` of its first.
        let has_repeats: bool = conn.query_row(
            "SELECT count(*) FROM pragma_table_info('alerts') WHERE name = 'repeats'",
            [],
            |r| r.get(0),
        )?;
        if !has_repeats {
            conn.execute_batch(
                "ALTER TABLE alerts ADD COLUMN repeats INTEGER NOT NULL DEFAULT 0;
                 ALTER TABLE alerts ADD COLUMN last INTEGER;",
            )?;
        }
        conn.execute_batch("CREATE INDEX IF NOT EXISTS alerts_by_kind ON alerts (kind, peer)")?;
        // Who a provision went to, under which purpose, when: quotas, statistics and a
        // resident's disclosure read them without opening every record. And the purpose of a
        // refused request.
        add_column(&conn, "records", "actor", "TEXT")?;
        add_column(&conn, "records", "purpose", "TEXT")?;
        add_column(&conn, "records", "time", "INTEGER")?;
        add_column(&conn, "attempts", "purpose", "TEXT")?;
        conn.execute_batch(
            "CREATE INDEX IF NOT EXISTS records_by_actor ON records (actor, purpose, time);
             CREATE INDEX IF NOT EXISTS records_by_resident ON records (resident, time);
             DROP INDEX IF EXISTS records_resident;",
        )?;
        // (`records_resident`, on the resident alone, is the prefix of `records_by_resident`:
        // one index fewer to write in each recorded provision's transaction.)
        Ok(Journal { conn, watch: None })
    }

    /// Appends a record to the provision log, salted with a fresh secret so that its public
    /// commitment cannot be confirmed by guessing; durable when this returns. Returns its index.
    pub fn record(&mut self, provision: &wire::documents::Provision<'_>) -> Result<u64> {
        let record = Salted::of(provision)?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let index = record.append_in(&tx)?;
        tx.commit()?;
        Ok(index)
    }

    /// How many provisions went to `actor` under `purpose` since `since` (POSIX seconds).
    pub fn provided_since(&self, actor: &str, purpose: &str, since: u64) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM records WHERE actor = ?1 AND purpose = ?2 AND time >= ?3",
            params![actor, purpose, since as i64],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// A request of `actor` refused with `code` (under `purpose`, if it named one): recorded
    /// as an attempt (who, when, why — never what was asked for) and counted by the behaviour
    /// rules as a refusal.
    pub fn refused(
        &mut self,
        time: u64,
        actor: &str,
        code: wire::errors::Code,
        purpose: Option<&str>,
    ) -> Result<()> {
        self.attempt(time, actor, code, purpose)?;
        self.observe(time, actor, crate::behaviour::Act::Refused)
    }

    /// [`Journal::refused`], for a refusal that is an alert about `actor` too: recorded as an
    /// attempt and as an alert with `detail` (which names no resident), and counted once by
    /// the behaviour rules as a refusal.
    pub fn refused_alerted(
        &mut self,
        time: u64,
        actor: &str,
        code: wire::errors::Code,
        purpose: Option<&str>,
        detail: &str,
    ) -> Result<()> {
        self.attempt(time, actor, code, purpose)?;
        // The alert counts the refusal of a peer as it records it; any other, count here.
        if !counts_as_refusal(code) {
            self.observe(time, actor, crate::behaviour::Act::Refused)?;
        }
        self.alert(time, code, actor, detail)
    }

    fn attempt(
        &mut self,
        time: u64,
        actor: &str,
        code: wire::errors::Code,
        purpose: Option<&str>,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO attempts (time, actor, outcome, purpose) VALUES (?1, ?2, ?3, ?4)",
            params![time as i64, actor, code.as_str(), purpose],
        )?;
        Ok(())
    }

    /// Provisions per `(actor, purpose)` with a time in `[from, to)`: the yearly statistics.
    pub fn provision_counts(&self, from: u64, to: u64) -> Result<Vec<(String, String, u64)>> {
        let mut select = self.conn.prepare(
            "SELECT actor, purpose, count(*) FROM records
             WHERE actor IS NOT NULL AND time >= ?1 AND time < ?2
             GROUP BY actor, purpose ORDER BY actor, purpose",
        )?;
        let clamp = |t: u64| i64::try_from(t).unwrap_or(i64::MAX);
        let rows = select.query_map(params![clamp(from), clamp(to)], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The private records about `resident` with a time in `[from, to)`: `(index, body)`.
    pub fn records_about(&self, resident: &str, from: u64, to: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        let mut select = self.conn.prepare(
            "SELECT idx, body FROM records WHERE resident = ?1 AND time >= ?2 AND time < ?3
             ORDER BY idx",
        )?;
        let clamp = |t: u64| i64::try_from(t).unwrap_or(i64::MAX);
        let rows = select.query_map(params![resident, clamp(from), clamp(to)], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Compares the private records with index in `[from, to)` with the provision log's
    /// public entries: each entry must be the commitment of the record kept at its index, and
    /// the number of records must be the log's size. Returns what differs (indexes only, never
    /// a record's content): a record deleted, altered or added behind the log's back.
    pub fn verify_records(&self, from: u64, to: u64) -> Result<Vec<String>> {
        // One read snapshot: the recorder appends on a connection of its own, and a record
        // committed between two of these reads must not look like one added behind the log.
        let snapshot = self.conn.unchecked_transaction()?;
        let findings = self.verify_records_in(from, to);
        snapshot.finish()?;
        findings
    }

    fn verify_records_in(&self, from: u64, to: u64) -> Result<Vec<String>> {
        let mut findings = Vec::new();
        let size = self.conn.entry_count()?;
        let kept: u64 =
            self.conn.query_row("SELECT count(*) FROM records", [], |r| r.get::<_, i64>(0))? as u64;
        if kept != size {
            findings.push(format!("{kept} private records for a provision log of {size} entries"));
        }
        let to = to.min(size);
        if from >= to {
            return Ok(findings);
        }
        let entries = self.conn.read_entries(from, to)?;
        let mut select = self
            .conn
            .prepare("SELECT idx, body FROM records WHERE idx >= ?1 AND idx < ?2 ORDER BY idx")?;
        let mut rows = select.query(params![from as i64, to as i64])?;
        let mut expected = from;
        while let Some(row) = rows.next()? {
            let idx = row.get::<_, i64>(0)? as u64;
            let body: Vec<u8> = row.get(1)?;
            if idx > expected {
                findings.push(format!("records {expected}..{idx} are missing"));
            }
            expected = idx + 1;
            if entries[(idx - from) as usize] != registry_store::commitment(&body) {
                findings.push(format!("record {idx} is not the one its log entry commits to"));
            }
        }
        if expected < to {
            findings.push(format!("records {expected}..{to} are missing"));
        }
        Ok(findings)
    }

    /// Appends a record of `kind` about `resident` to the provision log; returns its index.
    pub fn append(&mut self, kind: &str, resident: Option<&str>, body: &[u8]) -> Result<u64> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let index = record_in(&tx, kind, resident, body)?;
        tx.commit()?;
        Ok(index)
    }

    /// Uses a read request's nonce: `true` the first time, `false` if it was used before and is
    /// still kept. A nonce is kept until `expires` (POSIX seconds: when its request is stale
    /// anyway); those expired at `now` are forgotten here.
    pub fn use_nonce(&mut self, nonce: &str, expires: u64, now: u64) -> Result<bool> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM read_nonces WHERE expires < ?1", [now as i64])?;
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO read_nonces (nonce, expires) VALUES (?1, ?2)",
            params![nonce, expires as i64],
        )?;
        tx.commit()?;
        Ok(inserted == 1)
    }

    /// The private provision records about `resident`, oldest first: `(index, kind, body)`.
    pub fn records_of(&self, resident: &str) -> Result<Vec<(u64, String, String)>> {
        let mut select = self
            .conn
            .prepare("SELECT idx, kind, body FROM records WHERE resident = ?1 ORDER BY idx")?;
        let rows = select.query_map([resident], |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                r.get(1)?,
                String::from_utf8_lossy(&r.get::<_, Vec<u8>>(2)?).into_owned(),
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records a certificate the national key signed for `resident` in the issuance log and,
    /// in the same transaction, as the signer's last certificate for the code (custody).
    pub fn append_certified(&mut self, kind: &str, resident: &str, note: &[u8]) -> Result<u64> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let index = record_in(&tx, kind, Some(resident), note)?;
        tx.execute(
            "INSERT OR REPLACE INTO custody (resident, note) VALUES (?1, ?2)",
            params![resident, note],
        )?;
        tx.commit()?;
        Ok(index)
    }

    /// The signer's last certificate for a resident code, as signed.
    pub fn certified(&self, resident: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .query_row("SELECT note FROM custody WHERE resident = ?1", [resident], |r| r.get(0))
            .optional()?)
    }

    /// The town a code's ten-digit base was allocated to.
    pub fn owner_of(&self, base: u64) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT municipality FROM allocations WHERE first <= ?1 AND ?1 < first + count",
                [base as i64],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Queues a proposed change for approval; returns its number.
    pub fn propose(&mut self, pending: &wire::api::PendingChange) -> Result<u64> {
        self.conn.execute(
            "INSERT INTO pending (resident, reason, proposed_by, time, note) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                pending.resident,
                pending.reason,
                pending.proposed_by,
                pending.time as i64,
                pending.note.as_bytes()
            ],
        )?;
        Ok(self.conn.last_insert_rowid() as u64)
    }

    /// The changes waiting for approval, oldest first.
    pub fn pending(&self) -> Result<Vec<wire::api::PendingChange>> {
        let mut select = self.conn.prepare(
            "SELECT id, resident, reason, proposed_by, time, note FROM pending
             WHERE state = 'pending' ORDER BY id",
        )?;
        let rows = select.query_map([], |r| {
            Ok(wire::api::PendingChange {
                id: r.get::<_, i64>(0)? as u64,
                resident: r.get(1)?,
                reason: r.get(2)?,
                proposed_by: r.get(3)?,
                time: r.get::<_, i64>(4)? as u64,
                note: String::from_utf8_lossy(&r.get::<_, Vec<u8>>(5)?).into_owned(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One change waiting for approval.
    pub fn pending_change(&self, id: u64) -> Result<Option<wire::api::PendingChange>> {
        Ok(self.pending()?.into_iter().find(|p| p.id == id))
    }

    /// Marks a proposal as done (`approved`) or given up (`withdrawn`).
    pub fn settle(&mut self, id: u64, state: &str) -> Result<()> {
        self.conn
            .execute("UPDATE pending SET state = ?2 WHERE id = ?1", params![id as i64, state])?;
        Ok(())
    }

    /// What `upstream` acknowledged of `log`: the size and the signed receipt.
    pub fn ack(&self, log: &str, upstream: &str) -> Result<Option<(u64, Vec<u8>)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT size, receipt FROM acks WHERE log = ?1 AND upstream = ?2",
                [log, upstream],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
            )
            .optional()?)
    }

    /// Records an acknowledgement (durably).
    pub fn set_ack(&mut self, log: &str, upstream: &str, size: u64, receipt: &[u8]) -> Result<()> {
        self.conn.execute(
            "INSERT INTO acks (log, upstream, size, receipt) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (log, upstream) DO UPDATE SET size = excluded.size, receipt = excluded.receipt",
            params![log, upstream, size as i64, receipt],
        )?;
        Ok(())
    }

    /// Keeps a downstream log's signed checkpoint (a mirror forwards batches ending at these).
    pub fn keep_checkpoint(&mut self, log: &str, size: u64, checkpoint: &[u8]) -> Result<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO received (log, size, checkpoint) VALUES (?1, ?2, ?3)",
            params![log, size as i64, checkpoint],
        )?;
        Ok(())
    }

    /// The largest kept checkpoint of `log` with a size in `(above, at_most]`.
    pub fn kept_checkpoint(
        &self,
        log: &str,
        above: u64,
        at_most: u64,
    ) -> Result<Option<(u64, Vec<u8>)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT size, checkpoint FROM received WHERE log = ?1 AND size > ?2 AND size <= ?3
                 ORDER BY size DESC LIMIT 1",
                params![log, above as i64, at_most as i64],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
            )
            .optional()?)
    }

    /// Judges what every actor does by `rules` from now on (see `behaviour`).
    pub fn watch_with(&mut self, rules: crate::behaviour::Rules) -> Result<()> {
        self.watch = Some(crate::behaviour::Watch::new(rules)?);
        Ok(())
    }

    /// `actor` did `act`: fed to the behaviour rules, whose findings are recorded as alerts.
    pub fn observe(&mut self, time: u64, actor: &str, act: crate::behaviour::Act) -> Result<()> {
        // A handshake refused for the client's certificate is a refusal like any other:
        // recorded as an attempt (the address, when, why).
        if let crate::behaviour::Act::TlsRefused(why) = act {
            self.conn.execute(
                "INSERT INTO attempts (time, actor, outcome) VALUES (?1, ?2, ?3)",
                params![
                    time as i64,
                    actor,
                    format!("{}: {why}", wire::errors::Code::TlsRefused.as_str())
                ],
            )?;
        }
        let Some(watch) = self.watch.as_mut() else { return Ok(()) };
        for finding in watch.observe(time, actor, act) {
            self.alert(time, finding.code, &finding.actor, &finding.detail)?;
        }
        Ok(())
    }

    /// A lookup of a code with no resident by `actor`: recorded as an attempt (never the code
    /// asked for) and counted by the behaviour rules.
    pub fn missed(&mut self, time: u64, actor: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO attempts (time, actor, outcome) VALUES (?1, ?2, 'no-resident')",
            params![time as i64, actor],
        )?;
        self.observe(time, actor, crate::behaviour::Act::Miss)
    }

    /// The lookups that found no resident, by actor (the metrics' `lookup_misses`).
    pub fn misses(&self) -> Result<Vec<(String, u64)>> {
        let mut select = self.conn.prepare(
            "SELECT actor, count(*) FROM attempts WHERE outcome = 'no-resident'
                 GROUP BY actor ORDER BY actor",
        )?;
        let rows = select.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records an alert and reports it on stderr.
    pub fn alert(
        &mut self,
        time: u64,
        kind: wire::errors::Code,
        peer: &str,
        detail: &str,
    ) -> Result<()> {
        self.alert_numbered(time, kind, peer, detail).map(|_| ())
    }

    /// [`Journal::alert`], returning the alert's number (that of the alert it repeats, when
    /// the same alert was raised within [`REPEAT_WINDOW`] before: it counts the repeat).
    pub fn alert_numbered(
        &mut self,
        time: u64,
        kind: wire::errors::Code,
        peer: &str,
        detail: &str,
    ) -> Result<u64> {
        // A refusal of a peer counts towards its repeated refusals.
        if counts_as_refusal(kind)
            && let Some(watch) = self.watch.as_mut()
        {
            let findings = watch.observe(time, peer, crate::behaviour::Act::Refused);
            for finding in findings {
                self.alert(time, finding.code, &finding.actor, &finding.detail)?;
            }
        }
        // The same refusal again and again (a peer retrying, a client hammering) is one alert
        // that counts its repeats, not a flood that buries the others. What concerns the
        // node's own integrity is never folded: each such finding is news.
        if kind.family() != wire::errors::Family::Integrity {
            let repeated = self
                .conn
                .query_row(
                    "SELECT id FROM alerts WHERE kind = ?1 AND peer = ?2 AND detail = ?3
                     AND raised_by IS NULL AND time >= ?4 ORDER BY id DESC LIMIT 1",
                    params![kind.as_str(), peer, detail, time.saturating_sub(REPEAT_WINDOW) as i64],
                    |r| r.get::<_, i64>(0),
                )
                .optional()?;
            if let Some(id) = repeated {
                self.conn.execute(
                    "UPDATE alerts SET repeats = repeats + 1, last = ?2 WHERE id = ?1",
                    params![id, time as i64],
                )?;
                return Ok(id as u64);
            }
        }
        let kind = kind.as_str();
        eprintln!("ALERT {kind} from {peer}: {detail}");
        self.conn.execute(
            "INSERT INTO alerts (time, kind, peer, detail) VALUES (?1, ?2, ?3, ?4)",
            params![time as i64, kind, peer, detail],
        )?;
        Ok(self.conn.last_insert_rowid() as u64)
    }

    /// Quarantines `town` after alert number `alert` of `kind` (national node), unless it is
    /// already held; returns whether this started a quarantine.
    pub fn quarantine(&mut self, town: &str, alert: u64, kind: &str, time: u64) -> Result<bool> {
        if self.quarantined(town)?.is_some() {
            return Ok(false);
        }
        self.conn.execute(
            "INSERT OR IGNORE INTO quarantines (town, alert, kind, since) VALUES (?1, ?2, ?3, ?4)",
            params![town, alert as i64, kind, time as i64],
        )?;
        eprintln!("QUARANTINE {town} after alert {alert} ({kind})");
        Ok(true)
    }

    /// The quarantine holding `town`, if one does.
    pub fn quarantined(&self, town: &str) -> Result<Option<wire::quarantine::Quarantine>> {
        Ok(self
            .conn
            .query_row(
                "SELECT town, alert, kind, since, released, released_by FROM quarantines
                 WHERE town = ?1 AND released IS NULL",
                [town],
                quarantine_row,
            )
            .optional()?)
    }

    /// Every quarantine, held or released, oldest first.
    pub fn quarantines(&self) -> Result<Vec<wire::quarantine::Quarantine>> {
        let mut select = self.conn.prepare(
            "SELECT town, alert, kind, since, released, released_by FROM quarantines
             ORDER BY since, town",
        )?;
        let rows = select.query_map([], quarantine_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Releases `town` from the quarantine of alert `alert`, keeping the signed decision;
    /// returns whether that quarantine held.
    pub fn release(
        &mut self,
        town: &str,
        alert: u64,
        time: u64,
        by: &str,
        note: &[u8],
    ) -> Result<bool> {
        let released = self.conn.execute(
            "UPDATE quarantines SET released = ?3, released_by = ?4, release = ?5
             WHERE town = ?1 AND alert = ?2 AND released IS NULL",
            params![town, alert as i64, time as i64, by, note],
        )?;
        Ok(released == 1)
    }

    /// How many alerts of each kind this node holds, by who raised them (`None`: this node),
    /// their repeats counted.
    pub fn alert_counts(&self) -> Result<Vec<(String, Option<String>, u64)>> {
        let mut select = self.conn.prepare(
            "SELECT kind, raised_by, count(*) + sum(repeats) FROM alerts
             GROUP BY kind, raised_by ORDER BY 1, 2",
        )?;
        let rows =
            select.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The alerts this node raised after number `after`, oldest first, with their numbers (the
    /// reports a node sends upstream; those reported to it are not sent on).
    pub fn alerts_after(&self, after: u64, limit: usize) -> Result<Vec<(u64, Alert)>> {
        let mut select = self.conn.prepare(
            "SELECT id, time, kind, peer, detail, raised_by, repeats FROM alerts \
             WHERE id > ?1 AND raised_by IS NULL ORDER BY id LIMIT ?2",
        )?;
        let rows = select.query_map(params![after as i64, limit as i64], numbered_alert)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Keeps a signed alert report from another node once, and records it as an alert here;
    /// returns its number here when it was new.
    pub fn keep_report(
        &mut self,
        report: &wire::alert::AlertReport,
        note: &[u8],
    ) -> Result<Option<u64>> {
        let tx = self.conn.transaction()?;
        let added = tx.execute(
            "INSERT OR IGNORE INTO reported_alerts (node, id, note) VALUES (?1, ?2, ?3)",
            params![report.node, report.id as i64, note],
        )?;
        let mut number = None;
        if added == 1 {
            tx.execute(
                "INSERT INTO alerts (time, kind, peer, detail, raised_by)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    report.time as i64,
                    report.kind.as_str(),
                    report.peer,
                    format!("{} (its alert {})", report.detail, report.id),
                    report.node
                ],
            )?;
            number = Some(tx.last_insert_rowid() as u64);
            eprintln!(
                "ALERT {} reported by {}: {}",
                report.kind.as_str(),
                report.node,
                report.detail
            );
        }
        tx.commit()?;
        Ok(number)
    }

    /// The highest alert number kept from `node` (0: none).
    pub fn reports_held(&self, node: &str) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT coalesce(max(id), 0) FROM reported_alerts WHERE node = ?1",
            [node],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// The number of the last alert recorded here (0: none).
    pub fn last_alert(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT coalesce(max(id), 0) FROM alerts", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    /// Every alert, oldest first.
    pub fn alerts(&self) -> Result<Vec<Alert>> {
        self.alerts_since(0)
    }

    /// Every alert numbered above `after` — raised here or reported to this node —, oldest
    /// first.
    pub fn alerts_since(&self, after: u64) -> Result<Vec<Alert>> {
        let mut select = self.conn.prepare(
            "SELECT id, time, kind, peer, detail, raised_by, repeats FROM alerts WHERE id > ?1 ORDER BY id",
        )?;
        let rows =
            select.query_map([after as i64], |r| numbered_alert(r).map(|(_, alert)| alert))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The national node's allocations: the end of the highest block (the next free base).
    pub fn next_free_base(&self) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT coalesce(max(first + count), 0) FROM allocations",
            [],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// When the latest block was allocated to `municipality` (POSIX seconds), if any was.
    pub fn last_allocation(&self, municipality: &str) -> Result<Option<u64>> {
        Ok(self
            .conn
            .query_row(
                "SELECT max(time) FROM allocation_times WHERE municipality = ?1",
                [municipality],
                |r| r.get::<_, Option<i64>>(0),
            )?
            .map(|t| t as u64))
    }

    /// Records when block `first` was allocated.
    pub fn allocated_at(&mut self, municipality: &str, first: u64, time: u64) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO allocation_times (first, municipality, time) VALUES (?1, ?2, ?3)",
            params![first as i64, municipality, time as i64],
        )?;
        Ok(())
    }

    /// Every block allocated so far, as `(first, count)`.
    pub fn allocated(&self) -> Result<Vec<(u64, u64)>> {
        let mut select = self.conn.prepare("SELECT first, count FROM allocations")?;
        let rows = select
            .query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The signed blocks allocated to a municipality, in allocation order.
    pub fn allocations_of(&self, municipality: &str) -> Result<Vec<Vec<u8>>> {
        let mut select = self
            .conn
            .prepare("SELECT note FROM allocations WHERE municipality = ?1 ORDER BY first")?;
        let rows = select.query_map([municipality], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records an allocation and its provision-log record in one transaction.
    pub fn allocate(
        &mut self,
        municipality: &str,
        first: u64,
        count: u64,
        note: &[u8],
    ) -> Result<u64> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO allocations (first, municipality, count, note) VALUES (?1, ?2, ?3, ?4)",
            params![first as i64, municipality, count as i64, note],
        )?;
        let index = record_in(&tx, "code-block", None, note)?;
        tx.commit()?;
        Ok(index)
    }

    /// Queues a move notice for delivery (idempotent per move-in) and logs it.
    pub fn queue_notice(
        &mut self,
        move_in: &str,
        municipality: &str,
        note: &[u8],
        resident: &str,
    ) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO notices (move_in, municipality, note) VALUES (?1, ?2, ?3)",
            params![move_in, municipality, note],
        )?;
        if inserted == 1 {
            record_in(&tx, "move-notice", Some(resident), note)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Queues a move notice to be signed: the move-in (its hash) at log index `index` of
    /// `town`'s log, of `resident`.
    pub fn queue_unsigned_notice(
        &mut self,
        move_in: &str,
        town: &str,
        index: u64,
        resident: &str,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO unsigned_notices (move_in, town, idx, resident)
             SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1 FROM notices WHERE move_in = ?1)",
            params![move_in, town, index as i64, resident],
        )?;
        Ok(())
    }

    /// Move notices waiting to be signed: `(move_in, town, index, resident)`.
    pub fn unsigned_notices(&self) -> Result<Vec<(String, String, u64, String)>> {
        let mut select = self
            .conn
            .prepare("SELECT move_in, town, idx, resident FROM unsigned_notices ORDER BY rowid")?;
        let rows = select
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64, r.get(3)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A queued notice is signed (and queued for delivery).
    pub fn unsigned_notice_done(&mut self, move_in: &str) -> Result<()> {
        self.conn.execute("DELETE FROM unsigned_notices WHERE move_in = ?1", [move_in])?;
        Ok(())
    }

    /// Notices not yet delivered: `(move_in, municipality, note)`.
    pub fn pending_notices(&self) -> Result<Vec<(String, String, Vec<u8>)>> {
        let mut select = self.conn.prepare(
            "SELECT move_in, municipality, note FROM notices WHERE delivered = 0 ORDER BY rowid",
        )?;
        let rows = select.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Marks a notice delivered.
    pub fn notice_delivered(&mut self, move_in: &str) -> Result<()> {
        self.conn.execute("UPDATE notices SET delivered = 1 WHERE move_in = ?1", [move_in])?;
        Ok(())
    }
}

/// A rolling check of the provision log's private records against its public entries: every
/// look compares the records appended since the last and the next slice of the older ones,
/// and their count, so that a record deleted or altered in `node.db` is found within one pass.
#[derive(Default)]
pub struct RecordCheck {
    /// Records below this were compared at least once.
    checked: u64,
    /// Where the rolling slice goes next.
    next: u64,
    /// What the last look found (an alert is raised when it changes).
    last: Vec<String>,
}

/// How many older records one look compares.
pub const RECORD_SLICE: u64 = 8192;

impl RecordCheck {
    /// One look: a `tampered` alert, raised by `node`, when what differs changed since the
    /// last look. Returns what differs now.
    pub fn look(&mut self, journal: &mut Journal, time: u64, node: &str) -> Result<Vec<String>> {
        let size = journal.conn.entry_count()?;
        let mut findings = journal.verify_records(self.checked, size)?;
        self.checked = size;
        if self.next >= size {
            self.next = 0;
        }
        let end = (self.next + RECORD_SLICE).min(size);
        for finding in journal.verify_records(self.next, end)? {
            if !findings.contains(&finding) {
                findings.push(finding);
            }
        }
        self.next = end;
        if findings != self.last && !findings.is_empty() {
            let detail = format!("the provision log's private records: {}", findings.join("; "));
            journal.alert(time, wire::errors::Code::Tampered, node, &detail)?;
        }
        self.last = findings.clone();
        Ok(findings)
    }
}

/// Whether an alert of `kind` is a refusal of a peer, which the behaviour rules count towards
/// its repeated refusals when the alert is recorded.
fn counts_as_refusal(kind: wire::errors::Code) -> bool {
    matches!(kind.family(), wire::errors::Family::Identity | wire::errors::Family::Rules)
}

/// Adds `column` to `table` unless a newer node made it already.
fn add_column(conn: &Connection, table: &str, column: &str, declaration: &str) -> Result<()> {
    let present: bool = conn.query_row(
        "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2",
        [table, column],
        |r| r.get(0),
    )?;
    if !present {
        conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {declaration}"))?;
    }
    Ok(())
}

/// Another connection to `node.db` at `path` (which [`Journal::open`] made), to read the
/// provision log's entries without the journal: integrating them into tiles, say.
pub fn connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)
        .with_context(|| format!("cannot open the node database {}", path.display()))?;
    entries::configure(&conn)?;
    Ok(conn)
}

/// A provision record, salted and written out, with what `records` keeps beside it (who
/// received it, under which purpose, when).
struct Salted {
    kind: String,
    resident: String,
    body: Vec<u8>,
    actor: String,
    purpose: String,
    time: u64,
}

impl Salted {
    /// The record of `provision`, salted with a fresh secret.
    fn of(provision: &wire::documents::Provision<'_>) -> Result<Salted> {
        let mut salt = [0u8; 32];
        getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("no random salt: {e}"))?;
        Ok(Salted {
            kind: provision.kind.to_owned(),
            resident: provision.resident.to_owned(),
            body: provision.to_text(&salt).into_bytes(),
            actor: provision.to.to_owned(),
            purpose: provision.purpose.to_owned(),
            time: provision.time,
        })
    }

    /// Appends it inside `tx` (see [`record_in`]); returns its index.
    fn append_in(&self, tx: &rusqlite::Transaction<'_>) -> Result<u64> {
        let to = To { actor: &self.actor, purpose: &self.purpose, time: self.time };
        record_to_in(tx, &self.kind, Some(&self.resident), &self.body, Some(to))
    }
}

/// The most records one transaction of the [`Recorder`] takes; bounds any one commit.
pub const RECORDER_BATCH: usize = 4096;

/// The shortest time between the starts of two of the [`Recorder`]'s commits.
const RECORDER_PACE: std::time::Duration = std::time::Duration::from_millis(1);

/// One writer's records waiting for the recorder, and where its answer goes.
struct Queued {
    records: Vec<Salted>,
    reply: tokio::sync::oneshot::Sender<std::result::Result<Vec<u64>, String>>,
}

/// A provision record queued for the [`Recorder`]: its index once the transaction holding it
/// has committed, awaited ([`Recording::durable`]) or waited for ([`Recording::wait`]).
#[must_use = "a provision is recorded only once its recording is durable"]
pub struct Recording {
    answer: tokio::sync::oneshot::Receiver<std::result::Result<Vec<u64>, String>>,
}

impl Recording {
    /// The record's index, once durable (for async callers: no thread waits meanwhile).
    pub async fn durable(self) -> Result<u64> {
        Recording::index(self.answer.await)
    }

    /// The record's index, once durable, blocking this thread (never call it on an async
    /// runtime's thread).
    pub fn wait(self) -> Result<u64> {
        Recording::index(self.answer.blocking_recv())
    }

    fn index(
        answer: std::result::Result<
            std::result::Result<Vec<u64>, String>,
            tokio::sync::oneshot::error::RecvError,
        >,
    ) -> Result<u64> {
        match answer.map_err(|_| anyhow::anyhow!("the provision recorder has stopped"))? {
            Ok(indexes) => {
                indexes.first().copied().context("the recorder answered without an index")
            }
            Err(message) => Err(anyhow::anyhow!("recording provisions failed: {message}")),
        }
    }
}

/// Group commit for the provision log: many writers, one transaction (one fsync) per batch.
///
/// A thread owns a connection of its own to `node.db`; it takes every record queued, appends
/// them all in one `IMMEDIATE` transaction (each as [`Journal::record`] appends one), commits
/// with `synchronous = FULL`, and only then answers each writer with its record's index. While
/// a commit is in flight new records queue up, so the batch grows with the load and one fsync
/// serves all of it. The journal's own connection writes the same log (allocations,
/// certificates): SQLite's write lock serialises the two, each waiting its busy timeout, and
/// every index is the log's size inside the transaction that appends it, so indexes stay
/// dense whichever connection writes.
///
/// Its commits never copy the WAL back into the database (its connection's automatic
/// checkpoints are off): a second thread, on a connection of its own, checkpoints `PASSIVE`ly
/// every [`CHECKPOINT_EVERY`] — without waiting for the writer or taking its lock —, so that no
/// writer waits for a checkpoint's copying and fsync. (Under load, the automatic checkpoint of
/// every thousand pages ran many times a second inside a commit that answers were waiting
/// for.) The checkpointer ends with the recording thread.
#[derive(Clone)]
pub struct Recorder {
    queue: std::sync::mpsc::Sender<Queued>,
    checkpointed: std::sync::Arc<std::sync::Mutex<Option<WalCheckpoint>>>,
}

/// What one of the [`Recorder`]'s checkpoints found: the WAL's frames, and how many of them
/// are now in the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalCheckpoint {
    pub frames: u64,
    pub copied: u64,
}

/// How often the [`Recorder`]'s checkpointer copies the WAL into `node.db`.
pub const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

impl Recorder {
    /// Starts the recording thread on a new connection to `node.db` at `path` (which
    /// [`Journal::open`] made). The thread ends when every handle is dropped.
    pub fn start(path: &Path) -> Result<(Recorder, std::thread::JoinHandle<()>)> {
        let conn = connection(path)?;
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0")
            .context("turning the recorder's automatic checkpoints off")?;
        let checkpointed = std::sync::Arc::new(std::sync::Mutex::new(None));
        let stop = Recorder::start_checkpointer(connection(path)?, checkpointed.clone())?;
        let (queue, queued) = std::sync::mpsc::channel::<Queued>();
        let handle = std::thread::Builder::new()
            .name("provision-recorder".into())
            .spawn(move || {
                // Dropped when this thread ends, which ends the checkpointer.
                let _stop = stop;
                let mut conn = conn;
                let mut last_commit: Option<std::time::Instant> = None;
                while let Ok(first) = queued.recv() {
                    // Commits are paced: one begins at most every `RECORDER_PACE`, so that
                    // under load each fsync serves more records (the wait is at most that
                    // long, and only right after another commit).
                    if let Some(since) = last_commit.map(|at| at.elapsed())
                        && since < RECORDER_PACE
                    {
                        std::thread::sleep(RECORDER_PACE - since);
                    }
                    last_commit = Some(std::time::Instant::now());
                    let mut batch = vec![first];
                    let mut count = batch[0].records.len();
                    while count < RECORDER_BATCH {
                        match queued.try_recv() {
                            Ok(next) => {
                                count += next.records.len();
                                batch.push(next);
                            }
                            Err(_) => break,
                        }
                    }
                    match append_all(&mut conn, &batch) {
                        Ok(indexes) => {
                            for (writer, indexes) in batch.into_iter().zip(indexes) {
                                let _ = writer.reply.send(Ok(indexes));
                            }
                        }
                        Err(error) => {
                            // Nothing of the batch was committed; every writer in it is told.
                            let message = format!("{error:#}");
                            for writer in batch {
                                let _ = writer.reply.send(Err(message.clone()));
                            }
                        }
                    }
                }
            })
            .context("starting the provision recorder")?;
        Ok((Recorder { queue, checkpointed }, handle))
    }

    /// Starts the thread that checkpoints `node.db` on `conn` every [`CHECKPOINT_EVERY`] until
    /// the sender it returns is dropped, keeping what each pass found in `checkpointed`.
    fn start_checkpointer(
        conn: Connection,
        checkpointed: std::sync::Arc<std::sync::Mutex<Option<WalCheckpoint>>>,
    ) -> Result<std::sync::mpsc::Sender<()>> {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("node-db-checkpointer".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_EVERY)
                {
                    // PASSIVE copies what no reader still needs, waiting for nobody; a pass
                    // that finds another checkpoint running (SQLITE_BUSY) leaves it to the next.
                    let pass = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                        Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
                    });
                    if let Ok((0, frames, copied)) = pass {
                        let found = WalCheckpoint {
                            frames: u64::try_from(frames).unwrap_or(0),
                            copied: u64::try_from(copied).unwrap_or(0),
                        };
                        *checkpointed.lock().unwrap_or_else(|e| e.into_inner()) = Some(found);
                    }
                }
            })
            .context("starting the node database's checkpointer")?;
        Ok(stop)
    }

    /// What the checkpointer's last pass found (`None` before its first).
    pub fn last_checkpoint(&self) -> Option<WalCheckpoint> {
        *self.checkpointed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends a record of `provision` to the provision log, salted as [`Journal::record`]
    /// salts it; returns its index once the transaction holding it has committed (durable).
    /// Blocks this thread (never call it on an async runtime's thread; see [`Recorder::enqueue`]).
    pub fn record(&self, provision: &wire::documents::Provision<'_>) -> Result<u64> {
        self.enqueue(provision)?.wait()
    }

    /// Queues a record of `provision`, salted as [`Journal::record`] salts it, without
    /// waiting: the answer that names it must not leave before [`Recording::durable`].
    pub fn enqueue(&self, provision: &wire::documents::Provision<'_>) -> Result<Recording> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let records = vec![Salted::of(provision)?];
        self.queue
            .send(Queued { records, reply })
            .map_err(|_| anyhow::anyhow!("the provision recorder has stopped"))?;
        Ok(Recording { answer })
    }
}

/// Appends every record of `batch` in one `IMMEDIATE` transaction and commits it; returns each
/// writer's indexes.
fn append_all(conn: &mut Connection, batch: &[Queued]) -> Result<Vec<Vec<u64>>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut indexes = Vec::with_capacity(batch.len());
    for writer in batch {
        indexes.push(
            writer.records.iter().map(|record| record.append_in(&tx)).collect::<Result<_>>()?,
        );
    }
    tx.commit()?;
    Ok(indexes)
}

/// Appends a record to the provision log inside `tx`: its commitment as the public entry, the
/// record itself in `records`. Returns its index.
fn record_in(
    tx: &rusqlite::Transaction<'_>,
    kind: &str,
    resident: Option<&str>,
    body: &[u8],
) -> Result<u64> {
    record_to_in(tx, kind, resident, body, None)
}

/// Who received a provision, under which purpose, when: the `records` columns quotas,
/// statistics and disclosures read.
struct To<'a> {
    actor: &'a str,
    purpose: &'a str,
    time: u64,
}

/// [`record_in`], with who received it (one row written whole).
fn record_to_in(
    tx: &rusqlite::Transaction<'_>,
    kind: &str,
    resident: Option<&str>,
    body: &[u8],
    to: Option<To<'_>>,
) -> Result<u64> {
    let index = entries::append_in(tx, &[&registry_store::commitment(body)])?;
    tx.prepare_cached(
        "INSERT INTO records (idx, kind, resident, body, actor, purpose, time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        index as i64,
        kind,
        resident,
        body,
        to.as_ref().map(|to| to.actor),
        to.as_ref().map(|to| to.purpose),
        to.as_ref().map(|to| to.time as i64)
    ])?;
    Ok(index)
}

impl tlog_store::entries::EntryReader for Journal {
    fn entry_count(&self) -> Result<u64, tlog_store::Error> {
        self.conn.entry_count()
    }

    fn read_entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, tlog_store::Error> {
        self.conn.read_entries(start, end)
    }
}

/// A quarantine row (`town, alert, kind, since, released, released_by`).
fn quarantine_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<wire::quarantine::Quarantine> {
    Ok(wire::quarantine::Quarantine {
        town: r.get(0)?,
        alert: r.get::<_, i64>(1)? as u64,
        kind: r.get(2)?,
        since: r.get::<_, i64>(3)? as u64,
        released: r.get::<_, Option<i64>>(4)?.map(|t| t as u64),
        released_by: r.get(5)?,
    })
}

/// An alert row (`id, time, kind, peer, detail, raised_by, repeats`) with its number.
fn numbered_alert(r: &rusqlite::Row<'_>) -> rusqlite::Result<(u64, Alert)> {
    let id = r.get::<_, i64>(0)? as u64;
    let kind: String = r.get(2)?;
    let severity = wire::errors::Code::parse(&kind).and_then(wire::errors::Code::severity);
    Ok((
        id,
        Alert {
            id,
            time: r.get::<_, i64>(1)? as u64,
            kind,
            severity,
            peer: r.get(3)?,
            detail: r.get(4)?,
            raised_by: r.get(5)?,
            repeats: r.get::<_, i64>(6)? as u64,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refusal repeated within a minute is one alert counting its repeats; after the window,
    /// or with another detail, it is a new one; what concerns the node's integrity never folds.
    #[test]
    fn a_repeated_alert_counts_its_repeats_and_integrity_findings_never_fold() {
        use wire::errors::Code;
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(&dir.path().join("node.db")).unwrap();
        let peer = "urn:juki:agency:pension-service";
        let first = journal.alert_numbered(1000, Code::WrongPeer, peer, "reads alerts").unwrap();
        for t in [1001, 1030, 1000 + REPEAT_WINDOW] {
            assert_eq!(
                journal.alert_numbered(t, Code::WrongPeer, peer, "reads alerts").unwrap(),
                first
            );
        }
        let other = journal.alert_numbered(1001, Code::WrongPeer, peer, "reads metrics").unwrap();
        assert_ne!(other, first);
        let later = journal
            .alert_numbered(1061 + REPEAT_WINDOW, Code::WrongPeer, peer, "reads alerts")
            .unwrap();
        assert!(later > other);
        let town = "urn:juki:municipal:204072";
        let a = journal.alert_numbered(1000, Code::ForeignWrite, town, "written").unwrap();
        let b = journal.alert_numbered(1000, Code::ForeignWrite, town, "written").unwrap();
        assert_ne!(a, b, "every write behind the log's back is news");
        let alerts = journal.alerts().unwrap();
        assert_eq!(alerts[0].repeats, 3);
        assert_eq!(alerts.iter().map(|a| a.repeats).sum::<u64>(), 3);
        let counts = journal.alert_counts().unwrap();
        assert!(counts.contains(&("wrong-peer".to_owned(), None, 6)), "{counts:?}");
    }

    /// A refusal that is an alert too is recorded as an attempt and as one alert counting its
    /// repeats, and counted once towards the peer's repeated refusals.
    #[test]
    fn a_refusal_alerted_is_an_attempt_and_an_alert_counted_once() {
        use wire::errors::Code;
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(&dir.path().join("node.db")).unwrap();
        journal.watch_with(crate::behaviour::Rules::default()).unwrap();
        let agency = "urn:juki:agency:nagano-prefecture";
        let detail = "a resident outside the purpose's jurisdiction";
        let refuse = |journal: &mut Journal, t: u64| {
            journal
                .refused_alerted(t, agency, Code::OutOfJurisdiction, Some("KENZEI"), detail)
                .unwrap()
        };
        let per_minute = crate::behaviour::Rules::default().refusals_per_minute;
        for t in 0..u64::from(per_minute) {
            refuse(&mut journal, 1000 + t);
        }
        let kinds = |journal: &Journal| -> Vec<(String, u64)> {
            journal.alerts().unwrap().into_iter().map(|a| (a.kind, a.repeats)).collect()
        };
        assert_eq!(
            kinds(&journal),
            vec![("out-of-jurisdiction".to_owned(), u64::from(per_minute) - 1)],
            "as many refusals as the rule allows: one alert, no repeated-refusals"
        );
        let attempts: i64 = journal
            .conn
            .query_row(
                "SELECT count(*) FROM attempts WHERE actor = ?1 AND outcome = ?2 AND purpose = ?3",
                params![agency, "out-of-jurisdiction", "KENZEI"],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(attempts, i64::from(per_minute));
        refuse(&mut journal, 1000 + u64::from(per_minute));
        assert!(kinds(&journal).iter().any(|(kind, _)| kind == "repeated-refusals"));
    }

    /// A read request's nonce is answered once while it is kept, and forgotten once expired.
    #[test]
    fn a_nonce_is_used_once_until_it_expires() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(&dir.path().join("node.db")).unwrap();
        let nonce = "5f0c1e9a7d3b4c2a8e6f1d0b9a7c5e3f";
        assert!(journal.use_nonce(nonce, 1300, 1000).unwrap());
        assert!(!journal.use_nonce(nonce, 1300, 1001).unwrap());
        assert!(!journal.use_nonce(nonce, 1300, 1300).unwrap());
        assert!(journal.use_nonce("0".repeat(32).as_str(), 1600, 1300).unwrap());
        // Expired: forgotten (its request would be stale anyway).
        assert!(journal.use_nonce(nonce, 1700, 1301).unwrap());
    }

    /// A national node's provision of `resident`'s code and name to `agency`, `second`s into
    /// the tests' day.
    fn identity_provision<'a>(
        resident: &'a str,
        agency: &'a str,
        second: u64,
    ) -> wire::documents::Provision<'a> {
        wire::documents::Provision {
            kind: "identity",
            resident,
            by: "urn:juki:national",
            to: agency,
            source: None,
            purpose: "NENKIN-GENKYO",
            items: Some("code name"),
            time: 1_795_512_600 + second,
            operator: None,
            request: None,
        }
    }

    /// The recorder's commits never checkpoint; its checkpointer thread copies the WAL into
    /// the database behind them, and catches up once the writing stops.
    #[test]
    fn the_recorder_s_checkpointer_copies_the_wal_its_commits_leave() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.db");
        let _journal = Journal::open(&path).unwrap();
        let (recorder, handle) = Recorder::start(&path).unwrap();
        let recordings: Vec<Recording> = (0..2000u64)
            .map(|i| {
                let resident = format!("{:011}", 10_000_000 + i * 7919);
                let agency = "urn:juki:agency:pension-service";
                recorder.enqueue(&identity_provision(&resident, agency, i)).unwrap()
            })
            .collect();
        for recording in recordings {
            recording.wait().unwrap();
        }
        // The checkpointer reports each pass; wait for one that found the WAL all copied.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let caught_up = loop {
            match recorder.last_checkpoint() {
                Some(pass) if pass.frames > 0 && pass.copied == pass.frames => break pass,
                _ if std::time::Instant::now() > deadline => {
                    panic!("no checkpoint copied the WAL: {:?}", recorder.last_checkpoint())
                }
                _ => std::thread::sleep(CHECKPOINT_EVERY),
            }
        };
        assert!(caught_up.frames >= 2, "{caught_up:?}");
        // A reader of the database alone (the WAL set aside) sees every record.
        drop(recorder);
        handle.join().unwrap();
        let copy = dir.path().join("copy.db");
        std::fs::copy(&path, &copy).unwrap();
        let conn = Connection::open(&copy).unwrap();
        let records: i64 =
            conn.query_row("SELECT count(*) FROM records", [], |r| r.get(0)).unwrap();
        assert_eq!(records, 2000);
    }

    /// Writers recording at once through the recorder, while the journal's own connection
    /// appends to the same log: every index is distinct, the log is dense, every record is
    /// the one its entry commits to, and each writer's record is at the index it was told.
    #[test]
    fn concurrent_recorders_get_distinct_dense_indexes_committed_to_by_their_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.db");
        let journal = std::sync::Arc::new(std::sync::Mutex::new(Journal::open(&path).unwrap()));
        let (recorder, handle) = Recorder::start(&path).unwrap();
        let (writers, each) = (8u64, 40u64);
        let threads: Vec<_> = (0..writers)
            .map(|w| {
                let (recorder, journal) = (recorder.clone(), journal.clone());
                std::thread::spawn(move || {
                    let mut told = Vec::new();
                    for i in 0..each {
                        let agency = format!("urn:juki:agency:writer-{w}");
                        let resident = format!("{:011}", w * 1000 + i);
                        let provision = identity_provision(&resident, &agency, i);
                        told.push((recorder.record(&provision).unwrap(), resident, agency));
                        // Another writer of the same log, on the journal's connection.
                        if i % 10 == 0 {
                            let note = format!("allocation {w} {i}");
                            journal
                                .lock()
                                .unwrap()
                                .append("code-block", None, note.as_bytes())
                                .unwrap();
                        }
                    }
                    told
                })
            })
            .collect();
        let told: Vec<(u64, String, String)> =
            threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        drop(recorder);
        handle.join().unwrap();
        let journal = journal.lock().unwrap();
        let size = journal.entry_count().unwrap();
        let allocations = writers * each.div_ceil(10);
        assert_eq!(size, writers * each + allocations);
        let mut indexes: Vec<u64> = told.iter().map(|(index, _, _)| *index).collect();
        indexes.sort_unstable();
        indexes.dedup();
        assert_eq!(indexes.len() as u64, writers * each, "every writer told a distinct index");
        assert!(indexes.iter().all(|&index| index < size));
        assert_eq!(journal.verify_records(0, size).unwrap(), Vec::<String>::new());
        for (index, resident, agency) in told {
            let (kept, actor, purpose): (String, String, String) = journal
                .conn
                .query_row(
                    "SELECT resident, actor, purpose FROM records WHERE idx = ?1",
                    [index as i64],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .unwrap();
            assert_eq!((kept, actor, purpose), (resident, agency, "NENKIN-GENKYO".to_owned()));
        }
        assert_eq!(
            journal.provided_since("urn:juki:agency:writer-3", "NENKIN-GENKYO", 0).unwrap(),
            each
        );
    }

    /// The question a public tile must not answer: "was resident X looked up by Y for Z?".
    #[test]
    fn a_provision_s_public_entry_cannot_be_confirmed_by_guessing() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(&dir.path().join("node.db")).unwrap();
        let provision = wire::documents::Provision {
            kind: "lookup",
            resident: "20407200072",
            by: "urn:juki:municipal:204072",
            to: "urn:juki:console:204072",
            source: None,
            purpose: "窓口での本人確認",
            items: None,
            time: 1_795_512_600,
            operator: Some("op.204072.achi.example/tanaka+1a2b3c4d+AQ"),
            request: Some("juki.read/v1\ntown 204072\n\n— op.204072.achi.example/tanaka AAAA\n"),
        };
        let first = journal.record(&provision).unwrap();
        let second = journal.record(&provision).unwrap();
        let entries = journal.read_entries(first, second + 1).unwrap();
        assert_ne!(entries[0], entries[1], "the same provision twice commits differently");
        // Every salt the guesser could try is one of 2^256; here: the all-zero one.
        let guessed = registry_store::commitment(provision.to_text(&[0; 32]).as_bytes());
        assert!(!entries.contains(&guessed));
        // The record itself, as the node keeps it (and shows a resident), proves its entry.
        let body: Vec<u8> = journal
            .conn
            .query_row("SELECT body FROM records WHERE idx = ?1", [first as i64], |r| r.get(0))
            .unwrap();
        assert_eq!(registry_store::commitment(&body), entries[0]);
        assert!(String::from_utf8(body).unwrap().contains("\nsalt "));
    }
}
