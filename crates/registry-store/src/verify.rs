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

use registry_core::rules::{Effect, RegistryView as _, decide};
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

fn general(what: impl Into<String>) -> Difference {
    Difference { resident: None, what: what.into() }
}

fn about(code: ResidentCode, what: impl Into<String>) -> Difference {
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
    let (state, _, differences) = replay_with_provenance(conn, municipality, national)?;
    Ok((state, differences))
}

fn replay_with_provenance(
    conn: &Connection,
    municipality: MunicipalityCode,
    national: &VerifierKey,
) -> Result<(RegistryState, Provenance, Vec<Difference>), StoreError> {
    let mut differences = Vec::new();
    let count = conn.entry_count()?;
    let mut state = RegistryState::new(municipality);
    let mut provenance: Provenance = BTreeMap::new();
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
    Ok((state, provenance, differences))
}

/// Replays the log and compares every derived table with it.
pub fn verify(
    conn: &Connection,
    municipality: MunicipalityCode,
    national: &VerifierKey,
) -> Result<Vec<Difference>, StoreError> {
    let (state, provenance, mut differences) =
        replay_with_provenance(conn, municipality, national)?;
    compare_residents(conn, &state, &provenance, &mut differences)?;
    compare_history(conn, &provenance, &mut differences)?;
    compare_operators(conn, &state, &mut differences)?;
    compare_blocks_and_codes(conn, &state, &mut differences)?;
    compare_moves(conn, &state, &mut differences)?;
    compare_frontier(conn, &mut differences)?;
    Ok(differences)
}

fn compare_moves(
    conn: &Connection,
    state: &RegistryState,
    differences: &mut Vec<Difference>,
) -> Result<(), StoreError> {
    let expected: BTreeSet<(String, String, String)> = state
        .move_ins()
        .iter()
        .map(|(hash, c)| (hash.to_base64(), c.resident.to_string(), c.from.to_string()))
        .collect();
    let mut select = conn.prepare("SELECT move_out, code, from_municipality FROM move_ins")?;
    let found: BTreeSet<(String, String, String)> = select
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (_, code, _) in found.symmetric_difference(&expected) {
        differences.push(Difference {
            resident: ResidentCode::parse(code).ok(),
            what: "the move_ins table (certificates used) differs from the log".into(),
        });
    }
    let expected: BTreeSet<(String, String, String, String)> = state
        .move_notices()
        .iter()
        .map(|(hash, n)| {
            (hash.to_base64(), n.resident.to_string(), n.to.to_string(), n.move_in.to_base64())
        })
        .collect();
    let mut select =
        conn.prepare("SELECT move_out, code, to_municipality, move_in FROM move_notices")?;
    let found: BTreeSet<(String, String, String, String)> = select
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    for (_, code, _, _) in found.symmetric_difference(&expected) {
        differences.push(Difference {
            resident: ResidentCode::parse(code).ok(),
            what: "the move_notices table differs from the log".into(),
        });
    }
    Ok(())
}

/// The right edge kept in `meta` must be the one the entries make.
fn compare_frontier(
    conn: &Connection,
    differences: &mut Vec<Difference>,
) -> Result<(), StoreError> {
    let size = conn.entry_count()?;
    let stored: Option<String> =
        conn.query_row("SELECT value FROM meta WHERE key = 'frontier'", [], |r| r.get(0)).ok();
    let Some(stored) = stored else {
        // A registry made before the frontier was kept: the next append writes it.
        return Ok(());
    };
    let expected = crate::to_hex(&frontier_of_entries(conn, size)?.to_bytes());
    if stored != expected {
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

fn compare_operators(
    conn: &Connection,
    state: &RegistryState,
    differences: &mut Vec<Difference>,
) -> Result<(), StoreError> {
    let expected: BTreeSet<(String, String, i64, bool)> = state
        .operators()
        .into_iter()
        .map(|o| (o.key.to_string(), o.role.code().to_owned(), o.enrolled.unix() as i64, o.revoked))
        .collect();
    let mut select =
        conn.prepare("SELECT vkey, role, enrolled_at, revoked_idx IS NOT NULL FROM operators")?;
    let found: BTreeSet<(String, String, i64, bool)> = select
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    for (vkey, ..) in found.difference(&expected) {
        differences
            .push(general(format!("operator {vkey} in the operators table differs from the log")));
    }
    for (vkey, ..) in expected.difference(&found) {
        differences.push(general(format!(
            "operator {vkey} of the log is missing or altered in the operators table"
        )));
    }
    let admin: Option<String> =
        conn.query_row("SELECT value FROM meta WHERE key = 'admin'", [], |r| r.get(0)).ok();
    if admin != state.admin().map(|k| k.to_string()) {
        differences.push(general("the admin key in the meta table differs from the log's genesis"));
    }
    Ok(())
}

fn compare_blocks_and_codes(
    conn: &Connection,
    state: &RegistryState,
    differences: &mut Vec<Difference>,
) -> Result<(), StoreError> {
    let expected: BTreeSet<(i64, i64)> =
        state.blocks().iter().map(|&(f, c)| (f as i64, c as i64)).collect();
    let mut select = conn.prepare("SELECT first, count FROM code_blocks")?;
    let found: BTreeSet<(i64, i64)> =
        select.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    if found != expected {
        differences.push(general("the code_blocks table differs from the code blocks in the log"));
    }
    let expected: BTreeSet<String> = state.retired().iter().map(ToString::to_string).collect();
    let mut select = conn.prepare("SELECT code FROM retired_codes")?;
    let found: BTreeSet<String> = select.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    for code in found.symmetric_difference(&expected) {
        differences.push(Difference {
            resident: ResidentCode::parse(code).ok(),
            what: "the retired-codes table differs from the log".into(),
        });
    }
    Ok(())
}
