//! `juki bench` without a benchmark's name: every benchmark of every issue, one after another
//! in this process, at sizes fixed here (`--quick`: a short run of each), beside the peers
//! measured once at the start of the same run; then one table of every figure with each
//! issue's target and whether it was met, and the same as JSON.
//!
//! A benchmark that fails is reported in the table and the run goes on: one broken figure
//! should not hide the others. The run's exit status says whether every benchmark ran.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};

use crate::bench_drills::QUICK as QUICK_DRILLS;
use crate::figures::{BenchRun, Report};
use crate::peers::PgbenchOptions;

/// A size in the whole run and in the short one (`--quick`).
#[derive(Clone, Copy)]
struct Size {
    full: u64,
    quick: u64,
}

impl Size {
    const fn of(full: u64, quick: u64) -> Size {
        Size { full, quick }
    }

    fn at(self, quick: bool) -> u64 {
        if quick { self.quick } else { self.full }
    }
}

/// The sizes the suite runs each benchmark at, said before it starts (`Bench::plan`) and
/// given to it (`Bench::run`).
const LOG_ENTRIES: Size = Size::of(1_000_000, 100_000);
const REGISTRY_RESIDENTS: Size = Size::of(1_000_000, 20_000);
const LOOKUP_RESIDENTS: Size = Size::of(100_000, 10_000);
const LOOKUP_LOOKUPS: Size = Size::of(10_000, 2_000);
const DETECTION_RESIDENTS: Size = Size::of(1_000_000, 20_000);
const DETECTION_EDITS: Size = Size::of(10, 3);
const NETWORK_RATE: f64 = 50.0;
const NETWORK_SECONDS: Size = Size::of(20, 4);
const NETWORK_BIRTHS: Size = Size::of(60_000, 6_000);
const FEDERATION_TOWNS: usize = 200;
const FEDERATION_SECONDS: Size = Size::of(60, 5);
const SCALE_RESIDENTS: Size = Size::of(1_000_000, 40_000);
const SCALE_TOWNS: Size = Size::of(20, 4);
const PROVISION_RESIDENTS: Size = Size::of(6_000, 600);
const PROVISION_SECONDS: Size = Size::of(20, 3);

/// The rate the provision benchmark's open loop offers: issue 12's target.
const TARGET_OPEN_RATE: f64 = 10_000.0;

/// The benchmarks, in the order the suite runs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bench {
    Log,
    Registry,
    Lookup,
    Matching,
    Detection,
    Drills,
    Network,
    Federation,
    Scale,
    Provision,
}

impl Bench {
    pub const ALL: [Bench; 10] = [
        Bench::Log,
        Bench::Registry,
        Bench::Lookup,
        Bench::Matching,
        Bench::Detection,
        Bench::Drills,
        Bench::Network,
        Bench::Federation,
        Bench::Scale,
        Bench::Provision,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Bench::Log => "log",
            Bench::Registry => "registry",
            Bench::Lookup => "lookup",
            Bench::Matching => "matching",
            Bench::Detection => "detection",
            Bench::Drills => "drills",
            Bench::Network => "network",
            Bench::Federation => "federation",
            Bench::Scale => "scale",
            Bench::Provision => "provision",
        }
    }

    /// The benchmark named `name`.
    pub fn parse(name: &str) -> Option<Bench> {
        Bench::ALL.into_iter().find(|b| b.name() == name)
    }

    /// What it measures at the suite's sizes, said before it starts.
    fn plan(self, quick: bool) -> String {
        let n = |size: Size| crate::figures::number(size.at(quick) as f64);
        match self {
            Bench::Log => format!("{} entries", n(LOG_ENTRIES)),
            Bench::Registry => format!("{} residents", n(REGISTRY_RESIDENTS)),
            Bench::Lookup => format!(
                "{} residents, {} lookups per figure",
                n(LOOKUP_RESIDENTS),
                n(LOOKUP_LOOKUPS)
            ),
            Bench::Matching => "the labelled queries against their whole population".into(),
            Bench::Drills if quick => {
                format!("{} drills against a network of real processes", QUICK_DRILLS.len())
            }
            Bench::Drills => "every drill against a network of real processes".into(),
            Bench::Detection => {
                format!("{} residents, {} edits", n(DETECTION_RESIDENTS), n(DETECTION_EDITS))
            }
            Bench::Network => format!(
                "{NETWORK_RATE} changes/s for {} s, {} births ingested",
                n(NETWORK_SECONDS),
                n(NETWORK_BIRTHS)
            ),
            Bench::Federation => format!(
                "{FEDERATION_TOWNS} towns for {} s at the busiest hour's rate",
                n(FEDERATION_SECONDS)
            ),
            Bench::Scale => format!(
                "{} residents in {} towns (10 M: `juki bench scale`)",
                n(SCALE_RESIDENTS),
                n(SCALE_TOWNS)
            ),
            Bench::Provision => format!(
                "{} residents, {} s per lookup figure",
                n(PROVISION_RESIDENTS),
                n(PROVISION_SECONDS)
            ),
        }
    }

    fn run(self, quick: bool) -> Result<ExitCode> {
        let pick = |normal: u64, short: u64| if quick { short } else { normal };
        let at = |size: Size| size.at(quick);
        match self {
            Bench::Log => crate::bench_log::run(at(LOG_ENTRIES), 64, None),
            Bench::Registry => crate::bench_registry::run(at(REGISTRY_RESIDENTS), 1_000),
            Bench::Lookup => crate::bench_lookup::run(crate::bench_lookup::Options {
                residents: at(LOOKUP_RESIDENTS),
                lookups: at(LOOKUP_LOOKUPS) as usize,
                openssl_seconds: pick(3, 1),
            }),
            Bench::Matching => crate::bench_matching::run(),
            Bench::Drills => crate::bench_drills::run(if quick { &QUICK_DRILLS } else { &[] }),
            Bench::Detection => crate::bench_detection::run(crate::bench_detection::Options {
                residents: at(DETECTION_RESIDENTS),
                edits: at(DETECTION_EDITS) as usize,
                watch: Duration::from_millis(200),
                verify_every: Duration::from_secs(pick(120, 5)),
            }),
            Bench::Network => crate::bench_network::run(crate::bench_network::Options {
                rate: NETWORK_RATE,
                seconds: at(NETWORK_SECONDS),
                ingest: at(NETWORK_BIRTHS),
                replicate: at(NETWORK_BIRTHS),
                batch: 4096,
                poll: Duration::from_millis(5),
                openssl_seconds: pick(3, 1),
                dir: None,
            }),
            Bench::Federation => crate::bench_federation::run(crate::bench_federation::Options {
                towns: FEDERATION_TOWNS,
                rate: None,
                seconds: at(FEDERATION_SECONDS),
                dir: None,
            }),
            Bench::Scale => crate::bench_scale::run(crate::bench_scale::Options {
                residents: at(SCALE_RESIDENTS),
                towns: at(SCALE_TOWNS) as usize,
                lookups: pick(20_000, 2_000) as usize,
                verify: true,
                dir: None,
            }),
            Bench::Provision => crate::bench_provision::run(crate::bench_provision::Options {
                residents: at(PROVISION_RESIDENTS),
                connections: 32,
                seconds: at(PROVISION_SECONDS),
                open_rate: TARGET_OPEN_RATE,
                batch: pick(5_000, 1_000) as usize,
                matches: pick(200, 50) as usize,
                // The suite measured pgbench as a peer already.
                pg_scale: 0,
                pg_seconds: 0,
                pg_clients: 8,
                dir: None,
            }),
        }
    }
}

/// `juki bench`'s options.
pub struct Options {
    /// The short run.
    pub quick: bool,
    /// The benchmarks to run (empty: every one).
    pub only: Vec<Bench>,
    /// Where the JSON goes.
    pub json: PathBuf,
}

/// Runs the suite; prints progress, every benchmark's lines, then the table; writes the JSON.
pub fn run(options: Options) -> Result<ExitCode> {
    let benches: Vec<Bench> =
        if options.only.is_empty() { Bench::ALL.to_vec() } else { options.only.clone() };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = Instant::now();
    let started_unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    println!(
        "juki bench{}: {} benchmarks ({}), {cores} cores, load average {}",
        if options.quick { " --quick" } else { "" },
        benches.len(),
        benches.iter().map(|b| b.name()).collect::<Vec<_>>().join(", "),
        load_average().map_or_else(|| "unknown".into(), |l| format!("{l:.2}"))
    );
    println!();
    println!("== [0/{}] peers, measured once for the whole run", benches.len());
    let peers = crate::peers::measure_all(
        if options.quick { 1 } else { 3 },
        if options.quick {
            PgbenchOptions { scale: 5, seconds: 3, clients: 8 }
        } else {
            PgbenchOptions { scale: 100, seconds: 20, clients: 8 }
        },
    );
    let mut report = Report {
        quick: options.quick,
        started_unix,
        cores,
        peers,
        benches: vec![],
        figures: vec![],
    };
    for (i, bench) in benches.iter().enumerate() {
        println!();
        println!(
            "== [{}/{}] {} ({}); {:.0} s into the run",
            i + 1,
            benches.len(),
            bench.name(),
            bench.plan(options.quick),
            started.elapsed().as_secs_f64()
        );
        let began = Instant::now();
        let outcome = bench.run(options.quick);
        let seconds = began.elapsed().as_secs_f64();
        let failed = match outcome {
            Ok(code) if code == ExitCode::SUCCESS => None,
            Ok(code) => Some(format!("ended with {code:?}")),
            Err(e) => Some(format!("{e:#}")),
        };
        if let Some(why) = &failed {
            println!("!! {} failed after {seconds:.0} s: {why}", bench.name());
        }
        report.figures.extend(crate::figures::take(bench.name()));
        report.benches.push(BenchRun {
            name: bench.name().into(),
            seconds,
            failed,
            load_average: load_average(),
        });
    }
    println!();
    println!(
        "== every figure, {:.0} s in all (this machine is shared: the load average after each \
         benchmark is in the JSON)",
        started.elapsed().as_secs_f64()
    );
    print!("{}", report.table());
    let json = serde_json::to_vec_pretty(&report)?;
    std::fs::write(&options.json, json)
        .with_context(|| format!("writing {}", options.json.display()))?;
    println!("the same as JSON: {}", options.json.display());
    let failed = report.benches.iter().filter(|b| b.failed.is_some()).count();
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The machine's load average over the last minute (`/proc/loadavg`).
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().and_then(|v| v.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bench_is_named_once_and_parses_back() {
        for bench in Bench::ALL {
            assert_eq!(Bench::parse(bench.name()), Some(bench));
            assert!(!bench.plan(true).is_empty() && !bench.plan(false).is_empty());
        }
        assert_eq!(Bench::parse("nope"), None);
    }
}
