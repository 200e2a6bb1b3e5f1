//! One conformance suite for every engine of the witness's state: each case below runs against
//! SQLite (a file in a temporary directory) and against PostgreSQL (a database of its own on the
//! server `JUKI_TEST_PG_URL` names; without it the PostgreSQL cases print
//! `skipped: JUKI_TEST_PG_URL not set`, see `store::test_database`).
//!
//! Covered: the compare-and-swap (from nothing, from the latest, from a stale state), racing
//! advances from one state on separate connections (exactly one wins, every round), refused
//! input changing nothing, evidence kept once, state across a reopen, migrations applied once,
//! and a child process killed while it advances: every advance it reported survives.

use std::path::PathBuf;
use std::sync::Barrier;

use store::test_database::TestDatabase;
use tlog::Hash;
use witness::WitnessError;
use witness::state::postgres::PostgresState;
use witness::state::sqlite::SqliteState;
use witness::state::{Cosigned, WitnessState};

/// Where a case's state lives, and how to open it again (a fresh connection each time).
trait Engine: Sync {
    type State: WitnessState + 'static;
    fn open(&self) -> Self::State;
    fn migrations(state: &Self::State) -> Vec<i32>;
    /// How a child process names this state: `sqlite:PATH` or `postgres:URL`.
    fn location(&self) -> String;
}

struct Sqlite {
    dir: tempfile::TempDir,
}

impl Sqlite {
    fn new(_case: &str) -> Option<Sqlite> {
        Some(Sqlite { dir: tempfile::tempdir().unwrap() })
    }
    fn path(&self) -> PathBuf {
        self.dir.path().join("witness.db")
    }
}

impl Engine for Sqlite {
    type State = SqliteState;
    fn open(&self) -> SqliteState {
        SqliteState::open(&self.path()).unwrap()
    }
    fn migrations(state: &SqliteState) -> Vec<i32> {
        state.migrations().unwrap()
    }
    fn location(&self) -> String {
        format!("sqlite:{}", self.path().display())
    }
}

struct Postgres {
    database: TestDatabase,
}

impl Postgres {
    fn new(case: &str) -> Option<Postgres> {
        TestDatabase::new(&format!("witness_{case}")).map(|database| Postgres { database })
    }
}

impl Engine for Postgres {
    type State = PostgresState;
    fn open(&self) -> PostgresState {
        PostgresState::open(&self.database.url()).unwrap()
    }
    fn migrations(state: &PostgresState) -> Vec<i32> {
        state.migrations().unwrap()
    }
    fn location(&self) -> String {
        format!("postgres:{}", self.database.url())
    }
}

fn open_location(location: &str) -> Box<dyn WitnessState> {
    match location.split_once(':') {
        Some(("sqlite", path)) => Box::new(SqliteState::open(path.as_ref()).unwrap()),
        Some(("postgres", url)) => Box::new(PostgresState::open(url).unwrap()),
        _ => panic!("unknown state location {location}"),
    }
}

const ORIGIN: &str = "juki.test/log";

fn root(tag: u64) -> Hash {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&tag.to_be_bytes());
    Hash(bytes)
}

fn tree(size: u64, tag: u64) -> (u64, Hash) {
    (size, root(tag))
}

fn cosigned(size: u64, tag: u64) -> Cosigned<'static> {
    Cosigned { size, root: root(tag), checkpoint: b"checkpoint\n", cosigned_at: 1_750_000_000 }
}

fn advances_only_from_the_state_it_expects(engine: &impl Engine) {
    let state = engine.open();
    assert_eq!(state.latest(ORIGIN).unwrap(), None);
    assert!(state.advance(ORIGIN, None, &cosigned(5, 1)).unwrap());
    assert_eq!(state.latest(ORIGIN).unwrap(), Some(tree(5, 1)));
    // From nothing again: the state is no longer nothing.
    assert!(!state.advance(ORIGIN, None, &cosigned(6, 2)).unwrap());
    // From a stale size, or the right size with another root.
    assert!(!state.advance(ORIGIN, Some(tree(4, 1)), &cosigned(6, 2)).unwrap());
    assert!(!state.advance(ORIGIN, Some(tree(5, 9)), &cosigned(6, 2)).unwrap());
    assert_eq!(state.latest(ORIGIN).unwrap(), Some(tree(5, 1)));
    // From the latest: it advances, and to the same size too (a new root is the caller's
    // decision; the state only guards the swap).
    assert!(state.advance(ORIGIN, Some(tree(5, 1)), &cosigned(9, 2)).unwrap());
    assert_eq!(state.latest(ORIGIN).unwrap(), Some(tree(9, 2)));
    // Another log is untouched by all of it.
    assert_eq!(state.latest("juki.test/other").unwrap(), None);
}

fn racing_advances_from_one_state_have_exactly_one_winner(engine: &impl Engine) {
    const RACERS: usize = 6;
    const ROUNDS: u64 = 15;
    let states: Vec<_> = (0..RACERS).map(|_| engine.open()).collect();
    let mut expected = None;
    for round in 0..ROUNDS {
        let barrier = Barrier::new(RACERS);
        let won: Vec<bool> = std::thread::scope(|scope| {
            let racers: Vec<_> = states
                .iter()
                .enumerate()
                .map(|(k, state)| {
                    let barrier = &barrier;
                    scope.spawn(move || {
                        let next = cosigned(round * 10 + 1 + k as u64, round * 100 + k as u64);
                        barrier.wait();
                        state.advance(ORIGIN, expected, &next).unwrap()
                    })
                })
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let winners: Vec<usize> = (0..RACERS).filter(|&k| won[k]).collect();
        assert_eq!(winners.len(), 1, "round {round}: exactly one advance wins, not {winners:?}");
        let k = winners[0] as u64;
        let latest = states[0].latest(ORIGIN).unwrap();
        assert_eq!(latest, Some(tree(round * 10 + 1 + k, round * 100 + k)));
        expected = latest;
    }
}

fn refused_input_changes_nothing(engine: &impl Engine) {
    let state = engine.open();
    assert!(state.advance(ORIGIN, None, &cosigned(10, 1)).unwrap());
    // Backwards.
    assert!(matches!(
        state.advance(ORIGIN, Some(tree(10, 1)), &cosigned(9, 2)),
        Err(WitnessError::Regression { from: 10, to: 9, .. })
    ));
    // Too large for the state's columns.
    assert!(matches!(
        state.advance(ORIGIN, Some(tree(10, 1)), &cosigned(u64::MAX, 2)),
        Err(WitnessError::OutOfRange(_))
    ));
    let late = Cosigned { cosigned_at: u64::MAX, ..cosigned(11, 2) };
    assert!(matches!(
        state.advance(ORIGIN, Some(tree(10, 1)), &late),
        Err(WitnessError::OutOfRange(_))
    ));
    assert_eq!(state.latest(ORIGIN).unwrap(), Some(tree(10, 1)));
    assert!(state.advance(ORIGIN, Some(tree(10, 1)), &cosigned(11, 2)).unwrap());
}

fn evidence_is_kept_once_per_checkpoint(engine: &impl Engine) {
    let state = engine.open();
    assert_eq!(state.evidence_count(ORIGIN).unwrap(), 0);
    state.keep_evidence(ORIGIN, b"fork A", "a second tree", 1).unwrap();
    state.keep_evidence(ORIGIN, b"fork A", "a second tree", 2).unwrap();
    assert_eq!(state.evidence_count(ORIGIN).unwrap(), 1);
    state.keep_evidence(ORIGIN, b"fork B", "a second tree", 3).unwrap();
    // A large checkpoint is kept too (PostgreSQL keys it by digest).
    let large = vec![b'x'; 16_384];
    state.keep_evidence(ORIGIN, &large, "a second tree", 4).unwrap();
    state.keep_evidence(ORIGIN, &large, "a second tree", 5).unwrap();
    assert_eq!(state.evidence_count(ORIGIN).unwrap(), 3);
    assert_eq!(state.evidence_count("juki.test/other").unwrap(), 0);
}

fn state_survives_a_reopen(engine: &impl Engine) {
    {
        let state = engine.open();
        assert!(state.advance(ORIGIN, None, &cosigned(3, 1)).unwrap());
        state.keep_evidence(ORIGIN, b"fork", "a second tree", 1).unwrap();
    }
    let state = engine.open();
    assert_eq!(state.latest(ORIGIN).unwrap(), Some(tree(3, 1)));
    assert_eq!(state.evidence_count(ORIGIN).unwrap(), 1);
}

fn migrations_apply_once<G: Engine>(engine: &G) {
    let first = engine.open();
    assert!(first.advance(ORIGIN, None, &cosigned(1, 1)).unwrap());
    let second = engine.open();
    assert_eq!(G::migrations(&first), vec![1]);
    assert_eq!(G::migrations(&second), vec![1]);
    assert_eq!(second.latest(ORIGIN).unwrap(), Some(tree(1, 1)), "migrating again kept the rows");
}

/// The variable naming the state a child process advances until it is killed.
const CHILD_VAR: &str = "JUKI_WITNESS_CRASH_CHILD";

/// Runs this test binary again as a child that advances the state in a loop, printing each
/// advance once it is committed; kills it (SIGKILL) once it has reported enough, and checks
/// that the state reopens with at least the last advance reported.
fn reported_advances_survive_a_killed_process(engine: &impl Engine) {
    let mut reported = 0u64;
    store::crash::kill_child_once("crash_child", CHILD_VAR, &engine.location(), |line| {
        if let Some(size) = line.strip_prefix("advanced ") {
            reported = reported.max(size.parse().unwrap());
        }
        reported >= 100
    });
    let state = engine.open();
    let (size, root_hash) = state.latest(ORIGIN).unwrap().expect("the state survived");
    assert!(size >= reported, "reported size {reported} but the state holds {size}");
    assert_eq!(root_hash, root(size), "the latest row is whole");
    assert!(state.advance(ORIGIN, Some((size, root_hash)), &cosigned(size + 1, size + 1)).unwrap());
}

/// The child process of [`reported_advances_survive_a_killed_process`].
#[test]
#[ignore = "the child process of the crash cases, run by them"]
fn crash_child() {
    let location = std::env::var(CHILD_VAR).expect("run by a crash case");
    let state = open_location(&location);
    let mut latest = state.latest(ORIGIN).unwrap();
    loop {
        let size = latest.map_or(1, |(size, _)| size + 1);
        assert!(state.advance(ORIGIN, latest, &cosigned(size, size)).unwrap());
        println!("advanced {size}");
        latest = Some(tree(size, size));
    }
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
            fn advances_only_from_the_state_it_expects() {
                if let Some(e) = engine("cas") {
                    super::advances_only_from_the_state_it_expects(&e);
                }
            }

            #[test]
            fn racing_advances_from_one_state_have_exactly_one_winner() {
                if let Some(e) = engine("race") {
                    super::racing_advances_from_one_state_have_exactly_one_winner(&e);
                }
            }

            #[test]
            fn refused_input_changes_nothing() {
                if let Some(e) = engine("refused") {
                    super::refused_input_changes_nothing(&e);
                }
            }

            #[test]
            fn evidence_is_kept_once_per_checkpoint() {
                if let Some(e) = engine("evidence") {
                    super::evidence_is_kept_once_per_checkpoint(&e);
                }
            }

            #[test]
            fn state_survives_a_reopen() {
                if let Some(e) = engine("reopen") {
                    super::state_survives_a_reopen(&e);
                }
            }

            #[test]
            fn migrations_apply_once() {
                if let Some(e) = engine("migrations") {
                    super::migrations_apply_once(&e);
                }
            }

            #[test]
            fn reported_advances_survive_a_killed_process() {
                if let Some(e) = engine("crash") {
                    super::reported_advances_survive_a_killed_process(&e);
                }
            }
        }
    };
}

conformance!(Sqlite, sqlite);
conformance!(Postgres, postgres);
