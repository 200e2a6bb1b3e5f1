//! One conformance suite for every engine of the entry store: each case below runs against
//! SQLite (in a temporary directory) and against PostgreSQL (a database of its own on the server
//! `JUKI_TEST_PG_URL` names). Without that variable the PostgreSQL cases say they were skipped
//! and pass, unless `JUKI_TEST_PG_REQUIRED` is set, as `.ci/run` sets it: then a case that
//! cannot run fails. Each PostgreSQL case that ran appends its name to the file
//! `JUKI_TEST_PG_RAN` names, which `.ci/run` counts (see `store::test_database`).
//!
//! Covered: round trip, ranges outside the log, an oversized entry refusing its batch, reopen,
//! concurrent appenders on their own connections and through one group committer, migrations
//! applied once, and a child process killed in the middle of its appends: every append it was
//! told was durable survives, and the store reopens dense and appendable.

use std::collections::{BTreeMap, BTreeSet};

use store::test_database::TestDatabase;
use tlog_store::group_commit::GroupCommitter;

use tlog_store::Error;
use tlog_store::entries::{EntryReader as _, EntryStore, SqliteEntries};
use tlog_store::postgres::PostgresEntries;

/// Where a case's store lives, and how to open it again (a fresh connection each time).
trait Engine {
    type Store: EntryStore + Send + 'static;
    fn open(&self) -> Self::Store;
    /// How a child process names this store: `sqlite:PATH` or `postgres:URL`.
    fn location(&self) -> String;
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
    fn location(&self) -> String {
        format!("sqlite:{}", self.dir.path().join("entries.db").display())
    }
}

/// A database of its own on the test server, dropped when the case ends.
struct Postgres {
    database: TestDatabase,
}

impl Postgres {
    fn new(case: &str) -> Option<Postgres> {
        TestDatabase::new(&format!("entries_{case}")).map(|database| Postgres { database })
    }
}

impl Engine for Postgres {
    type Store = PostgresEntries;
    fn open(&self) -> PostgresEntries {
        PostgresEntries::open(&self.database.url()).unwrap()
    }
    fn location(&self) -> String {
        format!("postgres:{}", self.database.url())
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

/// Batches large enough for PostgreSQL's binary `COPY` path, between small ones.
fn large_batches_round_trip(engine: &impl Engine) {
    let mut store = engine.open();
    let all: Vec<Vec<u8>> = (0..3_005).map(entry).collect();
    assert_eq!(store.append(&refs(&all[..2])).unwrap(), 0);
    assert_eq!(store.append(&refs(&all[2..2_002])).unwrap(), 2);
    assert_eq!(store.append(&refs(&all[2_002..2_003])).unwrap(), 2_002);
    // A large batch with one oversized entry is refused whole.
    let mut bad: Vec<Vec<u8>> = all[2_003..3_003].to_vec();
    bad[999] = vec![0u8; 65_536];
    assert!(matches!(
        store.append(&refs(&bad)),
        Err(Error::EntryTooLarge { index: 999, size: 65_536 })
    ));
    assert_eq!(store.entry_count().unwrap(), 2_003);
    assert_eq!(store.append(&refs(&all[2_003..3_005])).unwrap(), 2_003);
    assert_eq!(store.read_entries(0, 3_005).unwrap(), all);
    // Binary entries, every byte value, and the largest allowed, through the large path too.
    let binary: Vec<Vec<u8>> =
        (0..300).map(|i| if i == 7 { vec![0xff; 65_535] } else { (0..=255u8).collect() }).collect();
    assert_eq!(store.append(&refs(&binary)).unwrap(), 3_005);
    assert_eq!(store.read_entries(3_005, 3_305).unwrap(), binary);
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

fn group_committed_appends_are_acknowledged_at_their_own_index(engine: &impl Engine) {
    const WRITERS: usize = 8;
    const EACH: usize = 100;
    let (committer, handle) = GroupCommitter::start(engine.open());
    let acknowledged: Vec<(u64, Vec<u8>)> = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let committer = committer.clone();
                scope.spawn(move || {
                    (0..EACH)
                        .map(|i| {
                            let body = format!("writer {w} entry {i}").into_bytes();
                            (committer.append(vec![body.clone()]).unwrap(), body)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        writers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    drop(committer);
    handle.join().unwrap();
    let store = engine.open();
    assert_eq!(store.entry_count().unwrap(), (WRITERS * EACH) as u64);
    let indexes: BTreeSet<u64> = acknowledged.iter().map(|(index, _)| *index).collect();
    assert_eq!(indexes.len(), WRITERS * EACH, "no two appends acknowledged at one index");
    for (index, body) in acknowledged {
        assert_eq!(store.read_entries(index, index + 1).unwrap(), vec![body]);
    }
}

/// The variable naming the store a child process appends to until it is killed.
const CHILD_VAR: &str = "JUKI_ENTRIES_CRASH_CHILD";

/// Runs this test binary again as a child whose writers append through a group committer in a
/// loop, printing each append once it is acknowledged; kills it (SIGKILL) once it has reported
/// enough, then checks that every acknowledged append is there, at its index, and that the
/// store reopens dense and takes the next append.
fn acknowledged_appends_survive_a_killed_process(engine: &impl Engine) {
    let mut acknowledged = BTreeMap::new();
    store::crash::kill_child_once("crash_child", CHILD_VAR, &engine.location(), |line| {
        if let Some(ack) = line.strip_prefix("acknowledged ") {
            let (index, body) = ack.split_once(' ').unwrap();
            acknowledged.insert(index.parse::<u64>().unwrap(), body.as_bytes().to_vec());
        }
        acknowledged.len() >= 300
    });
    let mut store = engine.open();
    let count = store.entry_count().unwrap();
    let last = *acknowledged.keys().next_back().unwrap();
    assert!(count > last, "entry {last} was acknowledged but the log holds {count}");
    let all = store.read_entries(0, count).unwrap();
    for (index, body) in &acknowledged {
        assert_eq!(&all[*index as usize], body, "acknowledged entry {index}");
    }
    let distinct: BTreeSet<&Vec<u8>> = all.iter().collect();
    assert_eq!(distinct.len(), all.len(), "no entry stored twice");
    assert_eq!(store.append(&[b"after the crash".as_slice()]).unwrap(), count);
}

/// The child process of [`acknowledged_appends_survive_a_killed_process`].
#[test]
#[ignore = "the child process of the crash cases, run by them"]
fn crash_child() {
    let location = std::env::var(CHILD_VAR).expect("run by a crash case");
    let committer = match location.split_once(':') {
        Some(("sqlite", path)) => {
            GroupCommitter::start(SqliteEntries::open(path.as_ref()).unwrap()).0
        }
        Some(("postgres", url)) => GroupCommitter::start(PostgresEntries::open(url).unwrap()).0,
        _ => panic!("unknown store location {location}"),
    };
    std::thread::scope(|scope| {
        for w in 0..4 {
            let committer = committer.clone();
            scope.spawn(move || {
                for i in 0.. {
                    let body = format!("writer-{w}-entry-{i}");
                    let index = committer.append(vec![body.clone().into_bytes()]).unwrap();
                    // One write per line, so that writers' lines do not interleave.
                    let line = format!("acknowledged {index} {body}\n");
                    print!("{line}");
                }
            });
        }
    });
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
            fn large_batches_round_trip() {
                if let Some(e) = engine("large") {
                    super::large_batches_round_trip(&e);
                }
            }

            #[test]
            fn entries_survive_a_reopen() {
                if let Some(e) = engine("reopen") {
                    super::entries_survive_a_reopen(&e);
                }
            }

            #[test]
            fn group_committed_appends_are_acknowledged_at_their_own_index() {
                if let Some(e) = engine("group_commit") {
                    super::group_committed_appends_are_acknowledged_at_their_own_index(&e);
                }
            }

            #[test]
            fn acknowledged_appends_survive_a_killed_process() {
                if let Some(e) = engine("crash") {
                    super::acknowledged_appends_survive_a_killed_process(&e);
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
    let mut first = engine.open();
    first.append(&[b"kept".as_slice()]).unwrap();
    let second = engine.open();
    assert_eq!(first.migrations().unwrap(), vec![1]);
    assert_eq!(second.migrations().unwrap(), vec![1]);
    assert_eq!(
        second.read_entries(0, 1).unwrap(),
        vec![b"kept".to_vec()],
        "migrating again kept the rows"
    );
}
