//! One conformance suite for every engine of the entry store: each case below runs against
//! SQLite (in a temporary directory) and against PostgreSQL (a database of its own on the server
//! `JUKI_TEST_PG_URL` names). Without that variable the PostgreSQL cases say they were skipped
//! and pass, unless `JUKI_TEST_PG_REQUIRED` is set, as `.ci/run` sets it: then a case that
//! cannot run fails. Each PostgreSQL case that ran appends its name to the file
//! `JUKI_TEST_PG_RAN` names, which `.ci/run` counts.

use std::collections::BTreeSet;

use tlog_store::Error;
use tlog_store::entries::{EntryReader as _, EntryStore, SqliteEntries};
use tlog_store::postgres::PostgresEntries;

/// Where a case's store lives, and how to open it again (a fresh connection each time).
trait Engine {
    type Store: EntryStore + Send + 'static;
    fn open(&self) -> Self::Store;
}

struct Sqlite {
    dir: tempfile::TempDir,
}

impl Sqlite {
    fn new(_case: &str) -> Option<Sqlite> {
        Some(Sqlite { dir: tempfile::tempdir().unwrap() })
    }
}

impl Engine for Sqlite {
    type Store = SqliteEntries;
    fn open(&self) -> SqliteEntries {
        SqliteEntries::open(&self.dir.path().join("entries.db")).unwrap()
    }
}

/// The line a PostgreSQL case prints when it does not run.
const SKIPPED: &str = "skipped: JUKI_TEST_PG_URL not set";

/// A database of its own on the test server, dropped when the case ends.
struct Postgres {
    server: String,
    database: String,
}

impl Postgres {
    fn new(case: &str) -> Option<Postgres> {
        let Ok(server) = std::env::var("JUKI_TEST_PG_URL") else {
            assert!(
                std::env::var_os("JUKI_TEST_PG_REQUIRED").is_none(),
                "JUKI_TEST_PG_REQUIRED is set but JUKI_TEST_PG_URL is not: the PostgreSQL \
                 conformance case {case} cannot run"
            );
            // Written past the test harness's capture, so that the skip shows in `cargo test`.
            let line = format!("{SKIPPED} (PostgreSQL conformance: {case})\n");
            let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
            return None;
        };
        if let Some(ran) = std::env::var_os("JUKI_TEST_PG_RAN") {
            use std::io::Write as _;
            let mut file = std::fs::OpenOptions::new().create(true).append(true).open(ran).unwrap();
            writeln!(file, "tlog-store {case}").unwrap();
        }
        let database = format!("juki_test_{case}_{}", std::process::id());
        let mut admin = postgres::Client::connect(&server, postgres::NoTls)
            .expect("connecting to JUKI_TEST_PG_URL");
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)")).unwrap();
        admin.batch_execute(&format!("CREATE DATABASE {database}")).unwrap();
        Some(Postgres { server, database })
    }

    fn url(&self) -> String {
        // The server's URL with its database replaced by this case's.
        let (base, _) = self.server.rsplit_once('/').expect("a postgres:// URL with a database");
        let query = self.server.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
        format!("{base}/{}{query}", self.database)
    }
}

impl Engine for Postgres {
    type Store = PostgresEntries;
    fn open(&self) -> PostgresEntries {
        PostgresEntries::open(&self.url()).unwrap()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.server, postgres::NoTls) {
            let _ = admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.database));
        }
    }
}

fn entry(i: usize) -> Vec<u8> {
    format!("entry {i}\n").into_bytes()
}

fn refs(entries: &[Vec<u8>]) -> Vec<&[u8]> {
    entries.iter().map(Vec::as_slice).collect()
}

fn appends_read_back_in_order(engine: &impl Engine) {
    let mut store = engine.open();
    assert_eq!(store.entry_count().unwrap(), 0);
    let first: Vec<Vec<u8>> = (0..3).map(entry).collect();
    let second: Vec<Vec<u8>> = (3..5).map(entry).collect();
    assert_eq!(store.append(&refs(&first)).unwrap(), 0);
    assert_eq!(store.append(&refs(&second)).unwrap(), 3);
    assert_eq!(store.entry_count().unwrap(), 5);
    let all: Vec<Vec<u8>> = (0..5).map(entry).collect();
    assert_eq!(store.read_entries(0, 5).unwrap(), all);
    assert_eq!(store.read_entries(2, 4).unwrap(), all[2..4].to_vec());
    assert_eq!(store.read_entries(5, 5).unwrap(), Vec::<Vec<u8>>::new());
    // An empty batch appends nothing and names where the next entry goes.
    assert_eq!(store.append(&[]).unwrap(), 5);
    assert_eq!(store.entry_count().unwrap(), 5);
}

fn ranges_outside_the_log_are_refused(engine: &impl Engine) {
    let mut store = engine.open();
    store.append(&refs(&(0..4).map(entry).collect::<Vec<_>>())).unwrap();
    assert!(matches!(store.read_entries(3, 2), Err(Error::Range { start: 3, end: 2, count: 4 })));
    assert!(matches!(store.read_entries(2, 6), Err(Error::Range { start: 2, end: 6, count: 4 })));
    assert!(matches!(store.read_entries(4, 5), Err(Error::Range { count: 4, .. })));
    assert_eq!(store.entry_count().unwrap(), 4);
}

fn an_oversized_entry_refuses_its_whole_batch(engine: &impl Engine) {
    let mut store = engine.open();
    store.append(&[b"kept".as_slice()]).unwrap();
    let too_large = vec![7u8; 65_536];
    let batch = [b"fine".as_slice(), too_large.as_slice()];
    assert!(matches!(store.append(&batch), Err(Error::EntryTooLarge { index: 1, size: 65_536 })));
    assert_eq!(store.entry_count().unwrap(), 1);
    assert_eq!(store.read_entries(0, 1).unwrap(), vec![b"kept".to_vec()]);
    // The largest entry allowed is accepted.
    let largest = vec![1u8; 65_535];
    assert_eq!(store.append(&[largest.as_slice()]).unwrap(), 1);
}

fn entries_survive_a_reopen(engine: &impl Engine) {
    {
        let mut store = engine.open();
        store.append(&refs(&(0..10).map(entry).collect::<Vec<_>>())).unwrap();
    }
    // Opened again (the migrations or schema run again: a no-op), everything is there.
    let mut store = engine.open();
    assert_eq!(store.entry_count().unwrap(), 10);
    assert_eq!(store.read_entries(0, 10).unwrap(), (0..10).map(entry).collect::<Vec<_>>());
    assert_eq!(store.append(&[b"next".as_slice()]).unwrap(), 10);
}

fn concurrent_appenders_get_dense_distinct_indexes(engine: &(impl Engine + Sync)) {
    const THREADS: usize = 4;
    const EACH: usize = 200;
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            scope.spawn(move || {
                let mut store = engine.open();
                for i in 0..EACH {
                    let body = format!("writer {t} entry {i}").into_bytes();
                    store.append(&[body.as_slice()]).unwrap();
                }
            });
        }
    });
    let store = engine.open();
    assert_eq!(store.entry_count().unwrap(), (THREADS * EACH) as u64);
    let read: BTreeSet<Vec<u8>> =
        store.read_entries(0, (THREADS * EACH) as u64).unwrap().into_iter().collect();
    let written: BTreeSet<Vec<u8>> = (0..THREADS)
        .flat_map(|t| (0..EACH).map(move |i| format!("writer {t} entry {i}").into_bytes()))
        .collect();
    assert_eq!(read, written, "every append is stored once, at its own index");
}

/// Every case, for one engine.
macro_rules! conformance {
    ($engine:ident, $module:ident) => {
        mod $module {
            use super::*;

            fn engine(case: &str) -> Option<$engine> {
                $engine::new(&format!("{}_{case}", stringify!($module)))
            }

            #[test]
            fn appends_read_back_in_order() {
                if let Some(e) = engine("round_trip") {
                    super::appends_read_back_in_order(&e);
                }
            }

            #[test]
            fn ranges_outside_the_log_are_refused() {
                if let Some(e) = engine("ranges") {
                    super::ranges_outside_the_log_are_refused(&e);
                }
            }

            #[test]
            fn an_oversized_entry_refuses_its_whole_batch() {
                if let Some(e) = engine("oversized") {
                    super::an_oversized_entry_refuses_its_whole_batch(&e);
                }
            }

            #[test]
            fn entries_survive_a_reopen() {
                if let Some(e) = engine("reopen") {
                    super::entries_survive_a_reopen(&e);
                }
            }

            #[test]
            fn concurrent_appenders_get_dense_distinct_indexes() {
                if let Some(e) = engine("concurrent") {
                    super::concurrent_appenders_get_dense_distinct_indexes(&e);
                }
            }
        }
    };
}

conformance!(Sqlite, sqlite);
conformance!(Postgres, postgres_engine);

#[test]
fn postgres_migrations_are_recorded_once() {
    let Some(engine) = Postgres::new("migrations") else { return };
    let first = engine.open();
    let second = engine.open();
    assert_eq!(first.migrations().unwrap(), vec![1]);
    assert_eq!(second.migrations().unwrap(), vec![1]);
}
