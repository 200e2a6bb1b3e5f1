//! `juki registry verify`: rebuild the registry from its log and report every difference.
//!
//! The events are replayed in log order through the same rules that admitted them, each after
//! checking it against its public log entry; the state that comes out is what the log says the
//! registry is. Every row of the derived tables is then compared with it, column by column, so
//! a field changed, a row deleted or inserted, or an event rewritten behind the log's back is
//! named — by resident code and field, never by value. The tables of moves (`move_ins`,
//! `move_notices`) and the log's kept right edge (the frontier in `meta`) are checked the same
//! way.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use registry_core::rules::{Effect, decide};
use registry_core::state::RegistryState;
use registry_domain::{MunicipalityCode, ResidentCode};
use rusqlite::Connection;
use tlog::note::VerifierKey;
use tlog_store::entries::EntryReader;

use crate::{ResidentRow, StoreError, commitment, frontier_of_entries};

/// One way the stored data differs from what the log says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// The resident concerned, if any.
    pub resident: Option<ResidentCode>,
    /// What differs (no personal data).
    pub what: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.resident {
            Some(code) => write!(f, "resident {code}: {}", self.what),
            None => f.write_str(&self.what),
        }
    }
}

pub(crate) fn general(what: impl Into<String>) -> Difference {
    Difference { resident: None, what: what.into() }
}

pub(crate) fn about(code: ResidentCode, what: impl Into<String>) -> Difference {
    Difference { resident: Some(code), what: what.into() }
}

/// Where each snapshot came from: log indexes by resident code, oldest first.
type Provenance = BTreeMap<ResidentCode, Vec<u64>>;

/// Replays the log into a fresh state; returns it with the differences found on the way
/// (events that do not match their log entries, or that the rules refuse).
pub fn replay(
    conn: &Connection,
    municipality: MunicipalityCode,
    national: &VerifierKey,
) -> Result<(RegistryState, Vec<Difference>), StoreError> {
    let replayed = replay_with_provenance(conn, municipality, national)?;
    Ok((replayed.state, replayed.differences))
}

/// What the log says the small tables hold, row by row, every column as text in table order
/// (`None` is NULL), as `append` writes them.
#[derive(Default)]
pub(crate) struct Tables {
    /// By verifier key: (vkey, role, enrolled_at, enrolled_idx, revoked_idx).
    pub(crate) operators: BTreeMap<String, Row>,
    /// (idx, first, count).
    pub(crate) code_blocks: BTreeSet<Row>,
    /// (code, replaced_by, event_idx).
    pub(crate) retired_codes: BTreeSet<Row>,
    /// (move_out, code, from_municipality, event_idx).
    pub(crate) move_ins: BTreeSet<Row>,
    /// (move_out, code, to_municipality, move_in, event_idx).
    pub(crate) move_notices: BTreeSet<Row>,
    /// The genesis's admin key.
    pub(crate) admin: Option<String>,
}

pub(crate) type Row = Vec<Option<String>>;

fn row(values: &[&dyn ToString]) -> Row {
    values.iter().map(|v| Some(v.to_string())).collect()
}

impl Tables {
    /// The rows event `idx`, decided as `effect`, writes.
    pub(crate) fn record(&mut self, idx: u64, effect: &Effect) {
        match effect {
            Effect::Genesis(genesis) => self.admin = Some(genesis.admin.to_string()),
            Effect::Enrol(e) => {
                let mut operator =
                    row(&[&e.operator, &e.role.code(), &(e.time.unix() as i64), &idx]);
                operator.push(None);
                self.operators.insert(e.operator.to_string(), operator);
            }
            Effect::Revoke(r) => {
                if let Some(operator) = self.operators.get_mut(&r.operator.to_string()) {
                    operator[4] = Some(idx.to_string());
                }
            }
            Effect::CodeBlock(block) => {
                self.code_blocks.insert(row(&[&idx, &block.first, &block.count]));
            }
            Effect::MoveNotice(n) => {
                let hashes = (n.event.to_base64(), n.move_in.to_base64());
                self.move_notices.insert(row(&[&hashes.0, &n.resident, &n.to, &hashes.1, &idx]));
            }
            Effect::MoveWithdrawal(w) => {
                self.move_ins.insert(row(&[&w.event.to_base64(), &w.resident, &w.from, &idx]));
            }
            Effect::Change { change, move_out, activation, .. } => {
                let code = change.record.resident_code;
                let consumed = move_out
                    .iter()
                    .map(|c| (c.event, c.from))
                    .chain(activation.iter().map(|c| (c.after, c.from)));
                for (followed, from) in consumed {
                    self.move_ins.insert(row(&[&followed.to_base64(), &code, &from, &idx]));
                }
                if let Some(previous) = change.previous_code {
                    self.retired_codes.insert(row(&[&previous, &code, &idx]));
                }
            }
        }
    }
}

struct Replayed {
    state: RegistryState,
    provenance: Provenance,
    tables: Tables,
    differences: Vec<Difference>,
}

fn replay_with_provenance(
    conn: &Connection,
    municipality: MunicipalityCode,
    national: &VerifierKey,
) -> Result<Replayed, StoreError> {
    let mut differences = Vec::new();
    let count = conn.entry_count()?;
    let mut state = RegistryState::new(municipality);
    let mut provenance: Provenance = BTreeMap::new();
    let mut tables = Tables::default();
    let mut select = conn.prepare("SELECT idx, note FROM events ORDER BY idx")?;
    let mut rows = select.query([])?;
    let mut expected = 0u64;
    while let Some(row) = rows.next()? {
        let idx = row.get::<_, i64>(0)? as u64;
        let note: Vec<u8> = row.get(1)?;
        while expected < idx.min(count) {
            differences.push(general(format!("event {expected} is missing from the events table")));
            expected += 1;
        }
        expected = idx + 1;
        if idx >= count {
            differences.push(general(format!(
                "event {idx} is in the events table but not in the log (inserted behind the log's back)"
            )));
            continue;
        }
        let entry = conn.read_entries(idx, idx + 1)?.remove(0);
        if entry != commitment(&note) {
            differences.push(general(format!(
                "event {idx} does not match its log entry: it was rewritten behind the log's back"
            )));
            continue;
        }
        match decide(&note, &state, national, None) {
            Ok(effect) => {
                if let Effect::Change { change, .. } = &effect {
                    let mut indexes = match change.previous_code {
                        Some(previous) => provenance.remove(&previous).unwrap_or_default(),
                        None => provenance.remove(&change.record.resident_code).unwrap_or_default(),
                    };
                    indexes.push(idx);
                    provenance.insert(change.record.resident_code, indexes);
                }
                tables.record(idx, &effect);
                state.apply(&effect);
            }
            Err(refusal) => {
                differences.push(general(format!("event {idx} breaks the rules: {refusal}")));
            }
        }
    }
    while expected < count {
        differences.push(general(format!("event {expected} is missing from the events table")));
        expected += 1;
    }
    Ok(Replayed { state, provenance, tables, differences })
}

/// Replays the log and compares every derived table with it, every row and every column.
pub fn verify(
    conn: &Connection,
    municipality: MunicipalityCode,
    national: &VerifierKey,
) -> Result<Vec<Difference>, StoreError> {
    let Replayed { state, provenance, tables, mut differences } =
        replay_with_provenance(conn, municipality, national)?;
    compare_residents(conn, &state, &provenance, &mut differences)?;
    compare_history(conn, &provenance, &mut differences)?;
    compare_small_tables(conn, &tables, &mut differences)?;
    compare_meta(conn, municipality, national, tables.admin.as_deref(), &mut differences)?;
    compare_frontier(conn, &mut differences)?;
    Ok(differences)
}

/// The small tables (operators, code blocks, retired codes, the moves' tables) against the rows
/// the log made, as `append` writes them.
pub(crate) fn compare_small_tables(
    conn: &Connection,
    tables: &Tables,
    differences: &mut Vec<Difference>,
) -> Result<(), StoreError> {
    let operators: BTreeSet<Row> = tables.operators.values().cloned().collect();
    for (table, columns, expected, code_column) in [
        ("operators", "vkey, role, enrolled_at, enrolled_idx, revoked_idx", &operators, None),
        ("code_blocks", "idx, first, count", &tables.code_blocks, None),
        ("retired_codes", "code, replaced_by, event_idx", &tables.retired_codes, Some(0)),
        ("move_ins", "move_out, code, from_municipality, event_idx", &tables.move_ins, Some(1)),
        (
            "move_notices",
            "move_out, code, to_municipality, move_in, event_idx",
            &tables.move_notices,
            Some(1),
        ),
    ] {
        compare_table(conn, table, columns, expected, code_column, differences)?;
    }
    Ok(())
}

/// The digest of a row rendered as text columns (`None` is NULL): what the incremental
/// verifier keeps of a row instead of the row.
pub(crate) fn row_digest<'a>(columns: impl IntoIterator<Item = Option<&'a str>>) -> tlog::Hash {
    let mut bytes = Vec::with_capacity(256);
    for column in columns {
        push_column(&mut bytes, column);
    }
    tlog::hash::sha256(&bytes)
}

/// [`row_digest`] of the first `columns` columns of a row as the database holds it, each
/// rendered as [`text_row`] renders it, without allocating each one (`buffer` is reused).
pub(crate) fn stored_row_digest(
    row: &rusqlite::Row<'_>,
    columns: usize,
    buffer: &mut Vec<u8>,
) -> rusqlite::Result<tlog::Hash> {
    use rusqlite::types::ValueRef;
    buffer.clear();
    for i in 0..columns {
        match row.get_ref(i)? {
            ValueRef::Null => push_column(buffer, None),
            ValueRef::Integer(n) => {
                // As `to_string` renders it, without a string for each.
                use std::io::Write as _;
                let mut digits = [0u8; 20];
                let mut cursor = std::io::Cursor::new(&mut digits[..]);
                write!(cursor, "{n}").expect("an i64 has at most 20 characters");
                let length = cursor.position() as usize;
                push_bytes(buffer, &digits[..length]);
            }
            ValueRef::Real(x) => push_column(buffer, Some(&x.to_string())),
            // Valid UTF-8 is rendered as its bytes; anything else differs from every
            // rendering of a row the log made, as its lossy rendering does.
            ValueRef::Text(t) | ValueRef::Blob(t) => push_bytes(buffer, t),
        }
    }
    Ok(tlog::hash::sha256(buffer))
}

/// One column of a row's digest: a tag, and the text with its length.
fn push_column(bytes: &mut Vec<u8>, column: Option<&str>) {
    match column {
        None => bytes.push(0),
        Some(text) => push_bytes(bytes, text.as_bytes()),
    }
}

fn push_bytes(bytes: &mut Vec<u8>, text: &[u8]) {
    bytes.push(1);
    bytes.extend_from_slice(&(text.len() as u32).to_le_bytes());
    bytes.extend_from_slice(text);
}

/// Every column of a row as text (`None` is NULL).
pub(crate) fn text_row(row: &rusqlite::Row<'_>, columns: usize) -> rusqlite::Result<Row> {
    use rusqlite::types::ValueRef;
    (0..columns)
        .map(|i| {
            Ok(match row.get_ref(i)? {
                ValueRef::Null => None,
                ValueRef::Integer(n) => Some(n.to_string()),
                ValueRef::Real(x) => Some(x.to_string()),
                ValueRef::Text(t) | ValueRef::Blob(t) => {
                    Some(String::from_utf8_lossy(t).into_owned())
                }
            })
        })
        .collect()
}

/// A small table against the rows the log made: a row added, deleted or with any column
/// changed is named (by the resident code in `code_column`, where the table has one).
pub(crate) fn compare_table(
    conn: &Connection,
    table: &str,
    columns: &str,
    expected: &BTreeSet<Row>,
    code_column: Option<usize>,
    differences: &mut Vec<Difference>,
) -> Result<(), StoreError> {
    let width = columns.split(',').count();
    let mut select = conn.prepare(&format!("SELECT {columns} FROM {table}"))?;
    let found: BTreeSet<Row> =
        select.query_map([], |r| text_row(r, width))?.collect::<Result<_, _>>()?;
    let resident = |row: &Row| {
        code_column.and_then(|c| row[c].as_deref()).and_then(|c| ResidentCode::parse(c).ok())
    };
    for row in found.difference(expected) {
        differences.push(Difference {
            resident: resident(row),
            what: format!("the {table} table has a row the log did not make"),
        });
    }
    for row in expected.difference(&found) {
        differences.push(Difference {
            resident: resident(row),
            what: format!("the {table} table lacks a row the log made, or it was altered"),
        });
    }
    Ok(())
}

/// The meta table holds exactly the municipality and national key the registry was opened
/// with, the genesis's admin key and the log's right edge.
pub(crate) fn compare_meta(
    conn: &Connection,
    municipality: MunicipalityCode,
    national: &VerifierKey,
    admin: Option<&str>,
    differences: &mut Vec<Difference>,
) -> Result<(), StoreError> {
    let mut select = conn.prepare("SELECT key, value FROM meta")?;
    let found: BTreeMap<String, String> =
        select.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    let mut expected: BTreeMap<&str, Option<String>> = BTreeMap::new();
    expected.insert("municipality", Some(municipality.to_string()));
    expected.insert("national", Some(national.to_string()));
    expected.insert("admin", admin.map(str::to_owned));
    // The right edge's value is compared by `compare_frontier`.
    expected.insert("frontier", None);
    for key in found.keys().filter(|k| !expected.contains_key(k.as_str())) {
        differences
            .push(general(format!("the meta table has a key the registry never writes ({key:?})")));
    }
    for (key, want) in &expected {
        match (found.get(*key), want) {
            (None, Some(_)) => {
                differences.push(general(format!("the meta table lacks its {key} (deleted)")))
            }
            (Some(_), None) if *key == "admin" => differences
                .push(general("the meta table has an admin key but the log has no genesis")),
            (Some(value), Some(want)) if value != want => differences.push(general(format!(
                "the meta table's {key} differs from {}",
                if *key == "admin" { "the log's genesis" } else { "the registry's own" }
            ))),
            _ => {}
        }
    }
    Ok(())
}

/// The right edge kept in `meta` must be the one the entries make.
fn compare_frontier(
    conn: &Connection,
    differences: &mut Vec<Difference>,
) -> Result<(), StoreError> {
    let size = conn.entry_count()?;
    compare_frontier_with(conn, &frontier_of_entries(conn, size)?, differences)
}

/// The right edge kept in `meta` must be `expected`, the one the entries make.
pub(crate) fn compare_frontier_with(
    conn: &Connection,
    expected: &tlog::merkle::Frontier,
    differences: &mut Vec<Difference>,
) -> Result<(), StoreError> {
    let stored: Option<String> =
        conn.query_row("SELECT value FROM meta WHERE key = 'frontier'", [], |r| r.get(0)).ok();
    let Some(stored) = stored else {
        differences.push(general("the meta table lacks the log's right edge (frontier)"));
        return Ok(());
    };
    if stored != crate::to_hex(&expected.to_bytes()) {
        differences.push(general(
            "the log's right edge kept in the meta table (frontier) differs from the log's entries",
        ));
    }
    Ok(())
}

fn compare_residents(
    conn: &Connection,
    state: &RegistryState,
    provenance: &Provenance,
    differences: &mut Vec<Difference>,
) -> Result<(), StoreError> {
    let expected: BTreeMap<String, ResidentRow> = state
        .current()
        .map(|record| {
            let index = *provenance[&record.resident_code].last().expect("a snapshot");
            (record.resident_code.to_string(), ResidentRow::of(record, index))
        })
        .collect();
    let mut select = conn.prepare("SELECT * FROM residents ORDER BY code")?;
    let names: Vec<String> = select.column_names().map(|n| n.to_string()).collect();
    let mut rows = select.query([])?;
    let mut seen = BTreeSet::new();
    while let Some(row) = rows.next()? {
        let mut values: BTreeMap<String, Option<String>> = BTreeMap::new();
        for (i, name) in names.iter().enumerate() {
            use rusqlite::types::ValueRef;
            let value = match row.get_ref(i)? {
                ValueRef::Null => None,
                ValueRef::Integer(n) => Some(n.to_string()),
                ValueRef::Real(x) => Some(x.to_string()),
                ValueRef::Text(t) | ValueRef::Blob(t) => {
                    Some(String::from_utf8_lossy(t).into_owned())
                }
            };
            values.insert(name.clone(), value);
        }
        let code_text = values.get("code").cloned().flatten().unwrap_or_default();
        let Ok(code) = ResidentCode::parse(&code_text) else {
            differences.push(general(
                "the residents table has a row whose code is not a valid resident code",
            ));
            continue;
        };
        seen.insert(code_text.clone());
        let Some(want) = expected.get(&code_text) else {
            differences.push(about(
                code,
                "is in the residents table but not in the log (inserted behind the log's back)",
            ));
            continue;
        };
        for (column, value) in &want.columns {
            if values.get(*column) != Some(value) {
                differences.push(about(code, format!("field {column} differs from the log")));
            }
        }
    }
    for (code, _) in expected.iter().filter(|(code, _)| !seen.contains(*code)) {
        let code = ResidentCode::parse(code).expect("from the state");
        differences.push(about(
            code,
            "is missing from the residents table (deleted behind the log's back)",
        ));
    }
    Ok(())
}

fn compare_history(
    conn: &Connection,
    provenance: &Provenance,
    differences: &mut Vec<Difference>,
) -> Result<(), StoreError> {
    let mut expected = BTreeSet::new();
    for (code, indexes) in provenance {
        for (n, idx) in indexes.iter().enumerate() {
            expected.insert((code.to_string(), n as i64 + 1, *idx as i64));
        }
    }
    let mut select = conn.prepare("SELECT code, number, event_idx FROM history")?;
    let found: BTreeSet<(String, i64, i64)> = select
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let name = |code: &str| ResidentCode::parse(code).ok();
    for (code, number, _) in found.difference(&expected) {
        differences.push(Difference {
            resident: name(code),
            what: format!("history entry {number} is not the one the log made"),
        });
    }
    for (code, number, _) in expected.difference(&found) {
        differences.push(Difference {
            resident: name(code),
            what: format!("history entry {number} is missing"),
        });
    }
    Ok(())
}
