//! `juki bench matching`: the four-item matcher over its labelled set — every query of
//! `crates/matching/tests/data/queries.tsv` ranked against the whole population of
//! `registered.tsv` (`matching::evaluation`) — its recall and precision against issue 12's
//! targets, and how many queries it ranks per second on one core against that population.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;

use crate::figures::{Aim, Target, goal, line, rate};

const REGISTERED: &str = include_str!("../../matching/tests/data/registered.tsv");
const QUERIES: &str = include_str!("../../matching/tests/data/queries.tsv");

/// The targets, in percent.
const TARGET_RECALL: f64 = 99.0;
const TARGET_PRECISION: f64 = 99.9;

pub fn run() -> Result<ExitCode> {
    let started = Instant::now();
    let evaluation = matching::evaluation::evaluate(REGISTERED, QUERIES)?;
    let took = started.elapsed();
    let total = evaluation.total;
    println!(
        "juki bench matching: {} queries ({} of registered people) against {} residents, each \
         ranked against all of them",
        total.queries, total.positive, evaluation.residents
    );
    goal(
        "four-item match: recall",
        total.recall() * 100.0,
        "%",
        &format!("{} of {} registered people named", total.found, total.positive),
        Aim::of(12, Target::AtLeast(TARGET_RECALL)),
    );
    goal(
        "four-item match: precision",
        total.precision() * 100.0,
        "%",
        &format!("{} of {} confident matches right", total.found, total.confident),
        Aim::of(12, Target::AtLeast(TARGET_PRECISION)),
    );
    line(
        "queries ranked against the population",
        rate(total.queries as u64, took),
        "queries/s",
        &format!("one core, {} residents each", evaluation.residents),
    );
    for miss in &evaluation.misses {
        println!("  {miss}");
    }
    Ok(ExitCode::SUCCESS)
}
