//! The registry store: signed events applied in one transaction each, refusals that change
//! nothing, and `verify` naming every edit made to the database behind the log's back.

use registry_core::event::{Change, CodeBlock, Enrolment, Event, Genesis, Role};
use registry_core::time::Timestamp;
use registry_domain::{
    Address, ChangeInfo, ChangeReason, Date, HistoryNumber, IdentityRecordParts, MunicipalityCode,
    Name, NameReading, PersonName, RecordStatus, ResidentCode, Sex,
};
use registry_store::incremental::{Scope, Verifier};
use registry_store::verify::Difference;
use registry_store::{Registry, StoreError};
use tlog::note::{KeyKind, Note, Signer};

const NOW: u64 = 1_795_512_600;

fn achi() -> MunicipalityCode {
    MunicipalityCode::parse("204072").unwrap()
}

fn key(name: &str, seed: u8) -> Signer {
    Signer::from_seed(name, KeyKind::Ed25519, [seed; 32]).unwrap()
}

fn sign(event: &Event, signers: &[&Signer]) -> Vec<u8> {
    let mut note = Note::new(event.to_text()).unwrap();
    for signer in signers {
        note.sign(signer).unwrap();
    }
    note.to_bytes()
}

fn now() -> Timestamp {
    Timestamp::from_unix(NOW)
}

struct Fixture {
    _dir: tempfile::TempDir,
    registry: Registry,
    clerk: Signer,
    supervisor: Signer,
    admin: Signer,
    seed: u64,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let national = key("national.juki.test", 1);
        let admin = key("admin.204072.juki.test", 2);
        let clerk = key("op.204072.juki.test/tanaka", 3);
        let supervisor = key("op.204072.juki.test/suzuki", 4);
        let mut registry =
            Registry::create(&dir.path().join("registry.db"), achi(), &national.verifier())
                .unwrap();
        let genesis =
            Event::Genesis(Genesis { municipality: achi(), admin: admin.verifier(), time: now() });
        registry.submit(&sign(&genesis, &[&admin]), now()).unwrap();
        for (op, role) in [(&clerk, Role::Clerk), (&supervisor, Role::Supervisor)] {
            let enrol = Event::Enrolment(Enrolment {
                municipality: achi(),
                operator: op.verifier(),
                role,
                time: now(),
            });
            registry.submit(&sign(&enrol, &[&admin]), now()).unwrap();
        }
        let block = Event::CodeBlock(CodeBlock {
            municipality: achi(),
            first: 2_040_700_000,
            count: 10_000,
            time: now(),
        });
        registry.submit(&sign(&block, &[&national]), now()).unwrap();
        Fixture { _dir: dir, registry, clerk, supervisor, admin, seed: 0x9e37_79b9_7f4a_7c15 }
    }

    fn birth(&mut self, name: &str, reading: &str) -> IdentityRecordParts {
        let seed = &mut self.seed;
        let code = self
            .registry
            .draw_code(&mut || {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                *seed
            })
            .unwrap();
        let record = IdentityRecordParts {
            resident_code: code,
            name: Name::new(
                PersonName::new(name).unwrap(),
                NameReading::new(reading).unwrap(),
                None,
            ),
            birth_date: Date::parse("2026-11-20").unwrap(),
            sex: Sex::from_code(1).unwrap(),
            address: Address::new(achi(), "大字智里 1234番地").unwrap(),
            individual_number: None,
            latest_change: ChangeInfo::new(ChangeReason::Birth, Date::parse("2026-11-20").unwrap()),
            history_number: HistoryNumber::new(1).unwrap(),
            status: RecordStatus::Active,
        };
        let event = Event::Change(Change {
            municipality: achi(),
            record: record.clone(),
            previous_code: None,
            moved_to: None,
            move_out: None,
            activation: None,
            time: now(),
        });
        self.registry.submit(&sign(&event, &[&self.clerk]), now()).unwrap();
        record
    }

    fn change(
        &mut self,
        record: &IdentityRecordParts,
        reason: ChangeReason,
        edit: impl FnOnce(&mut Change),
        two: bool,
    ) -> Result<IdentityRecordParts, StoreError> {
        let mut next = record.clone();
        next.latest_change = ChangeInfo::new(reason, Date::parse("2026-11-24").unwrap());
        next.history_number = next.history_number.next().unwrap();
        if reason.family() == registry_domain::ReasonFamily::Deletion {
            next.status = RecordStatus::Closed { reason };
        }
        let mut change = Change {
            municipality: achi(),
            record: next,
            previous_code: None,
            moved_to: None,
            move_out: None,
            activation: None,
            time: now(),
        };
        edit(&mut change);
        let signers: Vec<&Signer> =
            if two { vec![&self.clerk, &self.supervisor] } else { vec![&self.clerk] };
        self.registry.submit(&sign(&Event::Change(change.clone()), &signers), now())?;
        Ok(change.record)
    }
}

fn day() -> (Fixture, Vec<IdentityRecordParts>) {
    let mut f = Fixture::new();
    let a = f.birth("熊谷 一郎", "クマガイ イチロウ");
    let b = f.birth("熊谷 二郎", "クマガイ ジロウ");
    let c = f.birth("原 三郎", "ハラ サブロウ");
    let a = f
        .change(
            &a,
            ChangeReason::MoveWithin,
            |c| c.record.address = Address::new(achi(), "大字駒場 5番地").unwrap(),
            false,
        )
        .unwrap();
    let c = f.change(&c, ChangeReason::Death, |_| {}, true).unwrap();
    (f, vec![a, b, c])
}

#[test]
fn a_day_applies_and_verifies_clean() {
    let (f, records) = day();
    assert_eq!(f.registry.verify().unwrap(), vec![]);
    assert_eq!(f.registry.resident(records[0].resident_code).unwrap().unwrap(), records[0]);
    assert_eq!(f.registry.history(records[0].resident_code).unwrap().len(), 2);
    let found = f.registry.search(Some("くまがい"), None, 10).unwrap();
    assert_eq!(found.len(), 2, "hiragana finds the katakana readings");
    let found = f
        .registry
        .search(Some("クマガイ　ジロウ"), Some(Date::parse("2026-11-20").unwrap()), 10)
        .unwrap();
    assert_eq!(found, vec![records[1].clone()]);
}

/// Four-item matching over the store: candidates by any indexed key, the closed record left
/// out, and the matcher naming the one person the query describes.
#[test]
fn match_candidates_fetch_by_every_key() {
    let (f, records) = day();
    let codes = |keys: &matching::Keys| -> Vec<ResidentCode> {
        f.registry.match_candidates(keys, 10).unwrap().into_iter().map(|(c, _)| c).collect()
    };
    // 熊谷 二郎, asked with old kanji, hiragana and a 和暦 date.
    let query = matching::Query::parse(
        "熊谷　二郎",
        Some("くまがい じろう"),
        "令和8年11月20日",
        "男",
        "長野県下伊那郡阿智村大字智里一二三四番地",
    )
    .unwrap();
    let found = codes(&query.keys());
    assert!(found.contains(&records[1].resident_code), "{found:?}");
    assert!(!found.contains(&records[2].resident_code), "a closed record is no candidate");
    let ranked = matching::rank(&query, f.registry.match_candidates(&query.keys(), 10).unwrap());
    assert_eq!(ranked.best, Some(records[1].resident_code));
    // Each key alone finds its residents.
    let by_reading =
        matching::Query::parse("くまがい いちろう", None, "", "", "駒場5").unwrap().keys();
    assert_eq!(codes(&by_reading), vec![records[0].resident_code]);
    let by_address = matching::Query::parse("誰か", None, "", "", "阿智村智里1234").unwrap().keys();
    assert_eq!(codes(&by_address), vec![records[1].resident_code]);
    let by_birth = matching::Query::parse("誰か", None, "2026-11-20", "", "").unwrap().keys();
    let mut both = vec![records[0].resident_code, records[1].resident_code];
    both.sort();
    assert_eq!(codes(&by_birth), both);
    let elsewhere =
        matching::Query::parse("誰か", None, "", "", "北海道札幌市中央区智里1234").unwrap();
    assert_eq!(codes(&elsewhere.keys()), vec![], "another municipality's address");
}

#[test]
fn a_refused_event_changes_nothing() {
    let (mut f, records) = day();
    let before = f.registry.event_count().unwrap();
    let error = f.change(&records[1], ChangeReason::Death, |_| {}, false).unwrap_err();
    assert!(error.to_string().contains("needs two different operators"), "{error}");
    let error = f
        .change(
            &records[2],
            ChangeReason::MoveWithin,
            |c| c.record.status = RecordStatus::Active,
            false,
        )
        .unwrap_err();
    assert!(error.to_string().contains("closed record"), "{error}");
    assert_eq!(f.registry.event_count().unwrap(), before);
    assert_eq!(f.registry.verify().unwrap(), vec![]);
}

fn edit(f: &mut Fixture, sql: &str, params: &[&dyn rusqlite::ToSql]) {
    let changed = f.registry.connection().execute(sql, params).unwrap();
    assert_eq!(changed, 1, "{sql}");
}

#[test]
fn edits_behind_the_logs_back_are_named() {
    let (mut f, records) = day();
    let a = records[0].resident_code.to_string();
    let b = records[1].resident_code.to_string();

    edit(&mut f, "UPDATE residents SET address = '大字駒場 999番地' WHERE code = ?1", &[&a]);
    let found: Vec<String> = f.registry.verify().unwrap().iter().map(ToString::to_string).collect();
    assert_eq!(found, vec![format!("resident {a}: field address differs from the log")]);

    edit(&mut f, "DELETE FROM residents WHERE code = ?1", &[&b]);
    let found: Vec<String> = f.registry.verify().unwrap().iter().map(ToString::to_string).collect();
    assert!(
        found.contains(&format!(
            "resident {b}: is missing from the residents table (deleted behind the log's back)"
        )),
        "{found:?}"
    );

    let invented = ResidentCode::from_ten_digits(2_040_709_999).unwrap().to_string();
    edit(
        &mut f,
        "INSERT INTO residents SELECT ?1, history, status, name, reading, former_name, former_reading, birth, sex, address_municipality, address, individual_number, reason, effective, event_idx, name_key, reading_key, address_key FROM residents WHERE code = ?2",
        &[&invented, &a],
    );
    let found: Vec<String> = f.registry.verify().unwrap().iter().map(ToString::to_string).collect();
    assert!(found.contains(&format!("resident {invented}: is in the residents table but not in the log (inserted behind the log's back)")), "{found:?}");

    // Rewriting a stored event: its commitment in the log no longer matches.
    let idx: i64 = f
        .registry
        .connection()
        .query_row("SELECT event_idx FROM residents WHERE code = ?1", [&a], |r| r.get(0))
        .unwrap();
    edit(
        &mut f,
        "UPDATE events SET note = CAST(replace(CAST(note AS TEXT), '駒場', '駒場東') AS BLOB) WHERE idx = ?1",
        &[&idx],
    );
    let found: Vec<String> = f.registry.verify().unwrap().iter().map(ToString::to_string).collect();
    assert!(
        found.contains(&format!(
            "event {idx} does not match its log entry: it was rewritten behind the log's back"
        )),
        "{found:?}"
    );
}

#[test]
fn the_database_is_readable_by_its_owner_alone() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    let national = key("national", 9).verifier();
    let registry = Registry::create(&path, achi(), &national).unwrap();
    assert_eq!(mode(&path) & 0o777, 0o600, "created owner-only, whatever the umask");
    for wal in ["registry.db-wal", "registry.db-shm"] {
        let wal = dir.path().join(wal);
        if wal.exists() {
            assert_eq!(mode(&wal) & 0o077, 0, "{}: as the database", wal.display());
        }
    }
    drop(registry);
    // A database an older version left readable by others is made owner-only on opening.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    Registry::open(&path).unwrap();
    assert_eq!(mode(&path) & 0o777, 0o600);
}

/// A day with a row in every table: an operator enrolled and revoked, and a resident-code
/// change (a retired code).
fn a_day_in_every_table() -> Fixture {
    let (mut f, records) = day();
    let temp = key("op.204072.juki.test/temp", 5);
    let enrol = Event::Enrolment(Enrolment {
        municipality: achi(),
        operator: temp.verifier(),
        role: Role::Clerk,
        time: now(),
    });
    f.registry.submit(&sign(&enrol, &[&f.admin]), now()).unwrap();
    let revoke = Event::Revocation(registry_core::event::Revocation {
        municipality: achi(),
        operator: temp.verifier(),
        time: now(),
    });
    f.registry.submit(&sign(&revoke, &[&f.admin]), now()).unwrap();
    let seed = &mut f.seed;
    let fresh = f
        .registry
        .draw_code(&mut || {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed
        })
        .unwrap();
    let b = records[1].clone();
    f.change(
        &b,
        ChangeReason::ResidentCodeChange,
        |c| {
            c.previous_code = Some(b.resident_code);
            c.record.resident_code = fresh;
        },
        true,
    )
    .unwrap();
    f
}

/// The incremental verifier, on a connection of its own, as a town's self-check runs it.
struct Incremental {
    registry: Registry,
    verifier: Verifier,
}

/// The looks of one rolling pass in the tests: small, so that passes take several slices.
const LOOKS_PER_PASS: u64 = 3;

impl Incremental {
    fn new(f: &Fixture) -> Incremental {
        let registry = Registry::open(&f._dir.path().join("registry.db")).unwrap();
        let (verifier, stopped) = Verifier::build(&registry).unwrap();
        assert_eq!(stopped, vec![], "the replay stopped");
        Incremental { registry, verifier }
    }

    /// What the comparison a foreign write starts finds.
    fn whole(&mut self) -> Vec<Difference> {
        self.verifier.look(&self.registry, Scope::Whole).unwrap().differences
    }

    /// What the rolling sweep alone finds in the looks until a whole pass has begun and ended
    /// (at most two passes' looks: the edit may be just behind the cursor).
    fn sweep(&mut self) -> Vec<Difference> {
        let mut found = Vec::new();
        let mut ended = 0;
        for _ in 0..(2 * LOOKS_PER_PASS + 2) {
            let checked =
                self.verifier.look(&self.registry, Scope::Slice { looks: LOOKS_PER_PASS }).unwrap();
            found.extend(checked.differences);
            ended += usize::from(checked.pass_ended);
            if ended == 2 || !found.is_empty() {
                return found;
            }
        }
        panic!("no whole pass within {} looks", 2 * LOOKS_PER_PASS + 2);
    }
}

/// Every column of every table and every row: one edit at a time, each named by `verify`, by
/// the incremental verifier's comparison after a foreign write and by its rolling sweep alone,
/// and then undone (the next edit starts from a clean registry).
#[test]
fn every_single_edit_of_any_table_is_named() {
    let mut f = a_day_in_every_table();
    let mut incremental = Incremental::new(&f);
    assert_eq!(incremental.whole(), vec![]);
    assert_eq!(incremental.sweep(), vec![]);
    for table in ["operators", "retired_codes", "code_blocks", "history", "residents"] {
        let rows: i64 = f
            .registry
            .connection()
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap();
        assert!(rows > 0, "the day leaves {table} empty");
    }
    assert_eq!(f.registry.verify().unwrap(), vec![]);
    let tables: Vec<String> = {
        let conn = f.registry.connection();
        let mut select = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .unwrap();
        select.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    };
    let mut unnoticed = Vec::new();
    let mut tried = 0;
    for table in &tables {
        let conn = f.registry.connection();
        let columns: Vec<String> = {
            let select = conn.prepare(&format!("SELECT * FROM {table} LIMIT 0")).unwrap();
            select.column_names().map(str::to_owned).collect()
        };
        let rowids: Vec<i64> = {
            let mut select = conn.prepare(&format!("SELECT rowid FROM {table}")).unwrap();
            select.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
        };
        for &rowid in &rowids {
            for column in &columns {
                let conn = f.registry.connection();
                let old: rusqlite::types::Value = conn
                    .query_row(
                        &format!("SELECT {column} FROM {table} WHERE rowid = ?1"),
                        [rowid],
                        |r| r.get(0),
                    )
                    .unwrap();
                use rusqlite::types::Value;
                let new = match &old {
                    Value::Null => Value::Text("0".into()),
                    Value::Integer(n) => Value::Integer(n + 1),
                    Value::Real(x) => Value::Real(x + 1.0),
                    Value::Text(t) => {
                        // A changed character, the length kept where possible.
                        let mut chars: Vec<char> = t.chars().collect();
                        match chars.last_mut() {
                            Some(c) => *c = if *c == '1' { '2' } else { '1' },
                            None => chars.push('1'),
                        }
                        Value::Text(chars.into_iter().collect())
                    }
                    Value::Blob(b) => {
                        let mut b = b.clone();
                        match b.last_mut() {
                            Some(x) => *x ^= 1,
                            None => b.push(0),
                        }
                        Value::Blob(b)
                    }
                };
                let sql = format!("UPDATE {table} SET {column} = ?1 WHERE rowid = ?2");
                if conn.execute(&sql, rusqlite::params![new, rowid]).is_err() {
                    // A constraint refuses the edit: SQLite itself keeps it out.
                    continue;
                }
                tried += 1;
                let what = format!("{table}.{column} (row {rowid}) edited");
                unnoticed.extend(not_named_by(&f, &mut incremental, &what));
                // An INTEGER PRIMARY KEY is the rowid itself: the edit moved the row.
                let conn = f.registry.connection();
                let at: i64 = conn
                    .query_row(
                        &format!("SELECT count(*) FROM {table} WHERE rowid = ?1"),
                        [rowid],
                        |r| r.get(0),
                    )
                    .unwrap();
                let now_at =
                    if at == 1 { rusqlite::types::Value::Integer(rowid) } else { new.clone() };
                conn.execute(&sql, rusqlite::params![old, now_at]).unwrap();
            }
            // The row deleted, then put back.
            let conn = f.registry.connection();
            conn.execute_batch("DROP TABLE IF EXISTS temp.saved").unwrap();
            conn.execute(
                &format!("CREATE TEMP TABLE saved AS SELECT * FROM {table} WHERE rowid = {rowid}"),
                [],
            )
            .unwrap();
            conn.execute(&format!("DELETE FROM {table} WHERE rowid = ?1"), [rowid]).unwrap();
            tried += 1;
            unnoticed.extend(not_named_by(
                &f,
                &mut incremental,
                &format!("{table} row {rowid} deleted"),
            ));
            f.registry
                .connection()
                .execute(&format!("INSERT INTO {table} SELECT * FROM temp.saved"), [])
                .unwrap();
        }
        assert_eq!(f.registry.verify().unwrap(), vec![], "{table} restored");
        assert_eq!(incremental.whole(), vec![], "{table} restored");
        assert_eq!(incremental.sweep(), vec![], "{table} restored");
        // A row inserted: a copy of the first under another key, where the table has one.
        let conn = f.registry.connection();
        let columns: Vec<String> = {
            let select = conn.prepare(&format!("SELECT * FROM {table} LIMIT 0")).unwrap();
            select.column_names().map(str::to_owned).collect()
        };
        let first = conn
            .query_row(&format!("SELECT min(rowid) FROM {table}"), [], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .unwrap();
        let Some(first) = first else { continue };
        let inserted = (0..columns.len()).any(|key| {
            let values: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if i == key {
                        format!("CASE typeof({c}) WHEN 'integer' THEN {c} + 1000 WHEN 'text' THEN {c} || '9' ELSE {c} END")
                    } else {
                        c.clone()
                    }
                })
                .collect();
            let sql = format!(
                "INSERT INTO {table} SELECT {} FROM {table} WHERE rowid = ?1",
                values.join(", ")
            );
            conn.execute(&sql, [first]).is_ok()
        });
        assert!(inserted, "no row could be inserted into {table}");
        tried += 1;
        unnoticed.extend(not_named_by(
            &f,
            &mut incremental,
            &format!("a row inserted into {table}"),
        ));
        let conn = f.registry.connection();
        conn.execute(
            &format!("DELETE FROM {table} WHERE rowid = (SELECT max(rowid) FROM {table})"),
            [],
        )
        .unwrap();
        assert_eq!(f.registry.verify().unwrap(), vec![], "{table} restored");
    }
    assert!(tried > 100, "only {tried} edits were tried");
    assert!(unnoticed.is_empty(), "verify did not notice:\n{}", unnoticed.join("\n"));
}

/// Which of the full verification, the incremental comparison and the rolling sweep did not
/// name the edit `what`.
fn not_named_by(f: &Fixture, incremental: &mut Incremental, what: &str) -> Vec<String> {
    let mut unnoticed = Vec::new();
    if f.registry.verify().map(|d| d.is_empty()).unwrap_or(false) {
        unnoticed.push(format!("{what}: not named by the full verification"));
    }
    if incremental.whole().is_empty() {
        unnoticed.push(format!("{what}: not named by the comparison after a foreign write"));
    }
    if incremental.sweep().is_empty() {
        unnoticed.push(format!("{what}: not named by the rolling sweep"));
    }
    unnoticed
}

#[test]
fn a_write_by_another_connection_is_seen_and_its_own_are_not() {
    let (mut f, records) = day();
    assert!(!f.registry.written_by_others().unwrap(), "nothing written since it was opened");
    f.change(
        &records[1],
        ChangeReason::MoveWithin,
        |c| c.record.address = Address::new(achi(), "大字駒場 7番地").unwrap(),
        false,
    )
    .unwrap();
    assert!(!f.registry.written_by_others().unwrap(), "its own commit");
    let path = f._dir.path().join("registry.db");
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute("UPDATE residents SET address = address || '1'", []).unwrap();
    assert!(f.registry.written_by_others().unwrap(), "another connection's commit");
    assert!(!f.registry.written_by_others().unwrap(), "seen once");
    // Reading is not writing.
    let _: i64 = other.query_row("SELECT count(*) FROM residents", [], |r| r.get(0)).unwrap();
    assert!(!f.registry.written_by_others().unwrap());
}

/// An edit of the database file's bytes, as root makes it with an editor: SQLite's
/// `data_version` does not move, so no foreign write is seen, and the rolling sweep alone
/// finds it within one pass (of a verifier whose connection had the page cached).
#[test]
fn an_edit_of_the_files_bytes_is_found_by_the_rolling_sweep_within_one_pass() {
    let (mut f, records) = day();
    let path = f._dir.path().join("registry.db");
    let mut counter = Registry::open(&path).unwrap();
    let mut incremental = Incremental::new(&f);
    // Everything into the database file itself, so that its bytes are the rows.
    f.registry.connection().execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    // (A checkpoint that resets the WAL counts as a change for other connections.)
    counter.written_by_others().unwrap();
    assert_eq!(incremental.sweep(), vec![], "the pages are now in the verifier's cache");

    // The resident's address in the residents table's page (a one-page table here).
    let (page_size, root): (i64, i64) = {
        let conn = f.registry.connection();
        let page_size = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        let root = conn
            .query_row("SELECT rootpage FROM sqlite_master WHERE name = 'residents'", [], |r| {
                r.get(0)
            })
            .unwrap();
        (page_size, root)
    };
    let address = records[0].address.rest().to_owned();
    assert_eq!(address, "大字駒場 5番地");
    let mut bytes = std::fs::read(&path).unwrap();
    let page = ((root - 1) * page_size) as usize..(root * page_size) as usize;
    let at = bytes[page.clone()]
        .windows(address.len())
        .position(|w| w == address.as_bytes())
        .expect("the address in the residents page")
        + page.start;
    let five = at + address.find('5').unwrap();
    bytes[five] = b'6';
    std::fs::write(&path, &bytes).unwrap();
    assert!(!counter.written_by_others().unwrap(), "the edit bypassed SQLite's data_version");

    let code = records[0].resident_code;
    let mut looks = 0;
    let found = loop {
        let checked = incremental
            .verifier
            .look(&incremental.registry, Scope::Slice { looks: LOOKS_PER_PASS })
            .unwrap();
        looks += 1;
        if !checked.differences.is_empty() {
            break checked.differences;
        }
        assert!(looks <= LOOKS_PER_PASS + 1, "not found within one pass");
    };
    let found: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert_eq!(found, vec![format!("resident {code}: field address differs from the log")]);
}
