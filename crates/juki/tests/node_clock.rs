//! A node runs on the clock it is given: a municipal node run in this process with a
//! `node::clock::ManualClock` judges the freshness of a clerk's signed change by that clock,
//! not the machine's. A change signed now is refused as `stale-event` by a node whose clock
//! says tomorrow, and passes the freshness check once the clock is set back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use node::clock::{Clock as _, ManualClock, SystemClock};
use registry_domain::{ChangeReason, MunicipalityCode, ResidentCode};
use wire::errors::Code;

const ACHI: &str = "204072";

/// The code of a clerk's refusal.
fn code_of(error: &anyhow::Error) -> Option<Code> {
    error.downcast_ref::<client::Refused>().and_then(client::Refused::code)
}

#[test]
fn a_node_judges_freshness_by_the_clock_it_is_given() {
    testbed::use_binary(env!("CARGO_BIN_EXE_juki"));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let network = testbed::setup::create(&dir.path().join("net")).expect("a network");
    let entry = network.node("achi").expect("阿智村's node").clone();
    let mut config = node::config::NodeConfig::load(&entry.config).expect("its node.toml");
    // This node alone, without its witness: its checkpoints wait, its counter works.
    config.witnesses.clear();
    config.witness_quorum = 0;
    let report = config.report.clone().expect("the node reports its addresses");

    let tomorrow = SystemClock.unix() + 86_400;
    let clock = Arc::new(ManualClock::at(tomorrow));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = runtime.spawn(node::run(Arc::new(config), clock.clone(), async move {
        let _ = stopped.await;
    }));

    // Wait for what the node reports, not for a guessed moment.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !report.exists() {
        assert!(!served.is_finished(), "the node stopped before it served");
        assert!(Instant::now() < deadline, "the node reported no address within 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }

    // The operators' enrolments, signed offline by the admin, reach the node through its
    // office API (enrolments are not judged by the clock: the admin key signs them offline).
    let mut network = network;
    let submitted =
        testbed::setup::submit_enrolments(&mut network, Some(ACHI)).expect("the enrolments");
    assert_eq!(submitted, 2, "a clerk and a supervisor");
    let clerk = testbed::setup::clerk(&network, ACHI).expect("阿智村's clerk");
    let town = MunicipalityCode::parse(ACHI).unwrap();
    let resident = ResidentCode::from_ten_digits(2_040_700_001).unwrap();
    let birth = || {
        let record = testbed::synthetic::synthetic(resident, town, 1, ChangeReason::Birth, None)
            .expect("a record");
        testbed::synthetic::change(town, record)
    };

    let error = runtime.block_on(clerk.submit(birth())).expect_err("stale by the node's clock");
    assert_eq!(code_of(&error), Some(Code::StaleEvent), "{error:#}");

    // The node's clock now agrees with the clerk's: the change is fresh, and the rules judge it
    // on (no code block has reached this node, so the code is not in its pool).
    clock.set(SystemClock.unix());
    let error = runtime.block_on(clerk.submit(birth())).expect_err("no code block here");
    assert_eq!(code_of(&error), Some(Code::IllegalTransition), "{error:#}");

    let _ = stop.send(());
    runtime.block_on(served).expect("the node's task").expect("the node stopped cleanly");
    assert!(!report.exists(), "a node that stops cleanly removes its report");
}
