//! `juki bench`: figures for juki's hot paths, each beside the machine limit it is bound by,
//! measured in the same run (this machine is shared and noisy, so ratios mean more than
//! absolute numbers).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Subcommand;

/// `juki bench`: every benchmark and one table, or one benchmark with its own options.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: Option<BenchCommand>,
    /// A short run: every benchmark at a small size (about three minutes in all).
    #[arg(long, global = true)]
    quick: bool,
    /// Only these benchmarks, comma-separated (log, registry, lookup, matching, detection,
    /// drills, network, federation, scale, provision) [default: every one].
    #[arg(long, value_delimiter = ',', value_parser = parse_bench)]
    only: Vec<testbed::bench_suite::Bench>,
    /// Where the run's figures go as JSON.
    #[arg(long, default_value = "juki-bench.json")]
    json: std::path::PathBuf,
}

fn parse_bench(name: &str) -> Result<testbed::bench_suite::Bench, String> {
    testbed::bench_suite::Bench::parse(name).ok_or_else(|| {
        let names: Vec<&str> = testbed::bench_suite::Bench::ALL.iter().map(|b| b.name()).collect();
        format!("no benchmark `{name}`: choose from {}", names.join(", "))
    })
}

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Transparency-log figures: durable appends, integration, proofs, whole-tree verification,
    /// and this machine's SHA-256 rate as the bound.
    Log {
        /// Entries in the benchmark log (256 bytes each).
        #[arg(long, default_value_t = 1_000_000)]
        entries: u64,
        /// Concurrent writers for the group-commit figure.
        #[arg(long, default_value_t = 64)]
        writers: usize,
        /// Where to build the log (default: a temporary directory, removed afterwards).
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// Registry figures: signed changes validated and durably applied, and lookup latency by
    /// resident code and by name reading, beside this machine's Ed25519 verification rate.
    Registry {
        /// Residents registered before the lookups are measured.
        #[arg(long, default_value_t = 1_000_000)]
        residents: u64,
        /// Changes per transaction (group commit).
        #[arg(long, default_value_t = 1_000)]
        batch: usize,
    },
    /// Lookup figures: lookups per second and p50/p99 latency without proofs
    /// (`Registry::resident`), proven as a node serves them (`node::proof::prove`), and the
    /// client's check alone (`evidence::verify`), in the same run, beside this machine's Ed25519
    /// verification rate and the signature checks a proof costs.
    Lookup {
        /// Residents registered (and integrated into a witnessed checkpoint) before the lookups.
        #[arg(long, default_value_t = 100_000)]
        residents: u64,
        /// Lookups of random residents measured for each figure.
        #[arg(long, default_value_t = 10_000)]
        lookups: usize,
        /// Seconds `openssl speed` runs.
        #[arg(long, default_value_t = 3)]
        openssl_seconds: u64,
    },
    /// Matching figures: the four-item matcher's recall and precision over its labelled
    /// queries against their whole population, and queries ranked per second.
    Matching,
    /// Drill figures: the auditors' attacks against a network of real processes, the time from
    /// each attack to its alert at the national node, and how many drills passed.
    Drills {
        /// Only these drills (default: every one).
        names: Vec<String>,
    },
    /// Detection figures: the time from a direct edit of a town's registry database to the
    /// self-check's alerts, and the self-check's CPU cost while nothing happens.
    Detection {
        /// Residents in the town's registry.
        #[arg(long, default_value_t = 1_000_000)]
        residents: u64,
        /// Edits made and found.
        #[arg(long, default_value_t = 10)]
        edits: usize,
        /// The self-check's period (a town's `watch_ms`).
        #[arg(long, default_value_t = 200)]
        watch_ms: u64,
        /// Seconds one rolling re-verification pass over every table takes (`verify_every_ms`).
        #[arg(long, default_value_t = 120)]
        verify_every: u64,
    },
    /// Network figures: propagation latency town → national (p50/p99) under a steady load, and
    /// the national node's rate of verified changes ingested (in process and end to end through
    /// real nodes on loopback), beside this machine's Ed25519 verification rate.
    Network {
        /// Changes per second submitted across the three towns while propagation is measured
        /// (default: about 5× the whole country's busiest hour; the run prints why).
        #[arg(long, default_value_t = 50.0)]
        rate: f64,
        /// How long that load runs, in seconds.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Births loaded into the towns for the end-to-end ingest figure (0: skip it).
        #[arg(long, default_value_t = 60_000)]
        ingest: u64,
        /// Births replicated in process for the national node's ingest figure, spread over the
        /// three towns, and as many again for one town alone (0: skip it).
        #[arg(long, default_value_t = 60_000)]
        replicate: u64,
        /// Events per batch in process (the nodes send at most 4,096).
        #[arg(long, default_value_t = 4096)]
        batch: usize,
        /// Milliseconds between polls of the upper nodes' mirror checkpoints.
        #[arg(long, default_value_t = 5)]
        poll_ms: u64,
        /// Seconds `openssl speed ed25519` runs.
        #[arg(long, default_value_t = 3)]
        openssl_seconds: u64,
        /// Where to build the network (default: a temporary directory, removed afterwards).
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// Federation figures: the national node fed by many municipal nodes at once (each a task
    /// of this process with its own keys, registry, log and tiles) at the busiest hour's rate
    /// of changes (derived from the year's moves and printed), and the time from a town's
    /// acknowledgement to the national replica's commit (p50/p99).
    Federation {
        /// Municipal nodes.
        #[arg(long, default_value_t = 200)]
        towns: usize,
        /// Changes per second across the towns [default: the busiest hour's, as printed].
        #[arg(long)]
        rate: Option<f64>,
        /// How long the load runs, in seconds.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Where to build the towns (default: a temporary directory, removed afterwards).
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// Scale figures: a national node holding millions of residents (SQLite replicas): the
    /// bulk load with every signature verified, disk per resident, and, from a fresh process,
    /// the serving memory, proven lookup latency and whole-log verification time.
    Scale {
        /// Residents across the towns.
        #[arg(long, default_value_t = 10_000_000)]
        residents: u64,
        /// Towns they live in.
        #[arg(long, default_value_t = 20)]
        towns: usize,
        /// Proven lookups of random residents measured.
        #[arg(long, default_value_t = 20_000)]
        lookups: usize,
        /// Skip the whole-log verification.
        #[arg(long)]
        no_verify: bool,
        /// Where to build (default: a temporary directory, removed afterwards).
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// The serving half of `juki bench scale`, in a process of its own (its memory is a
    /// node's); prints its figures as JSON.
    #[command(hide = true)]
    ScaleProbe {
        #[arg(long)]
        dir: std::path::PathBuf,
        #[arg(long)]
        lookups: usize,
        #[arg(long)]
        no_verify: bool,
    },
    /// Provision figures: lookups by 住民票コード per second and p50/p99 latency at the national
    /// node over mutual-TLS HTTP with keep-alive (every provision durably recorded), a streamed
    /// batch, the four-item search where the node serves it, beside `pgbench -S` against the
    /// local PostgreSQL in the same run. About four minutes; `--quick` well under one (fewer
    /// residents, 3 s per figure, a small batch, pgbench at scale 5).
    Provision {
        /// Residents loaded across the three towns [default: 6000; --quick: 600].
        #[arg(long)]
        residents: Option<u64>,
        /// Concurrent client connections, each one request at a time, kept alive.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Seconds each lookup figure is measured, after 1 s of warm-up [default: 20; --quick: 3].
        #[arg(long)]
        seconds: Option<u64>,
        /// Lookups per second offered by the open loop, whose p99 is judged against the
        /// target (0: skip it).
        #[arg(long, default_value_t = 10_000.0)]
        open_rate: f64,
        /// Lines of the batch (0: skip it) [default: 5000; --quick: 1000].
        #[arg(long)]
        batch: Option<usize>,
        /// Four-item searches measured, when the node serves them (0: skip).
        #[arg(long, default_value_t = 200)]
        matches: usize,
        /// `pgbench -i -s` scale (0: no pgbench) [default: 100; --quick: 5].
        #[arg(long)]
        pg_scale: Option<u32>,
        /// `pgbench -T` seconds [default: 20; --quick: 3].
        #[arg(long)]
        pg_seconds: Option<u64>,
        /// `pgbench -c` clients.
        #[arg(long, default_value_t = 8)]
        pg_clients: usize,
        /// Where to build the network (default: a temporary directory, removed afterwards).
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
}

pub fn run(args: BenchArgs) -> Result<ExitCode> {
    let quick = args.quick;
    let Some(command) = args.command else {
        return testbed::bench_suite::run(testbed::bench_suite::Options {
            quick,
            only: args.only,
            json: args.json,
        });
    };
    match command {
        BenchCommand::Log { entries, writers, dir } => {
            testbed::bench_log::run(entries, writers, dir)
        }
        BenchCommand::Registry { residents, batch } => {
            testbed::bench_registry::run(residents, batch)
        }
        BenchCommand::Lookup { residents, lookups, openssl_seconds } => {
            testbed::bench_lookup::run(testbed::bench_lookup::Options {
                residents,
                lookups,
                openssl_seconds,
            })
        }
        BenchCommand::Matching => testbed::bench_matching::run(),
        BenchCommand::Drills { names } => {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            testbed::bench_drills::run(&names)
        }
        BenchCommand::Detection { residents, edits, watch_ms, verify_every } => {
            testbed::bench_detection::run(testbed::bench_detection::Options {
                residents,
                edits,
                watch: Duration::from_millis(watch_ms),
                verify_every: Duration::from_secs(verify_every),
            })
        }
        BenchCommand::Network {
            rate,
            seconds,
            ingest,
            replicate,
            batch,
            poll_ms,
            openssl_seconds,
            dir,
        } => testbed::bench_network::run(testbed::bench_network::Options {
            rate,
            seconds,
            ingest,
            replicate,
            batch,
            poll: Duration::from_millis(poll_ms),
            openssl_seconds,
            dir,
        }),
        BenchCommand::Federation { towns, rate, seconds, dir } => {
            testbed::bench_federation::run(testbed::bench_federation::Options {
                towns,
                rate,
                seconds,
                dir,
            })
        }
        BenchCommand::Scale { residents, towns, lookups, no_verify, dir } => {
            testbed::bench_scale::run(testbed::bench_scale::Options {
                residents,
                towns,
                lookups,
                verify: !no_verify,
                dir,
            })
        }
        BenchCommand::ScaleProbe { dir, lookups, no_verify } => {
            testbed::bench_scale::probe(&dir, lookups, !no_verify)
        }
        BenchCommand::Provision {
            residents,
            connections,
            seconds,
            open_rate,
            batch,
            matches,
            pg_scale,
            pg_seconds,
            pg_clients,
            dir,
        } => {
            let pick = |given: Option<u64>, normal: u64, short: u64| {
                given.unwrap_or(if quick { short } else { normal })
            };
            testbed::bench_provision::run(testbed::bench_provision::Options {
                residents: pick(residents, 6_000, 600),
                connections,
                seconds: pick(seconds, 20, 3),
                open_rate,
                batch: pick(batch.map(|b| b as u64), 5_000, 1_000) as usize,
                matches: if quick { matches.min(50) } else { matches },
                pg_scale: pick(pg_scale.map(u64::from), 100, 5) as u32,
                pg_seconds: pick(pg_seconds, 20, 3),
                pg_clients,
                dir,
            })
        }
    }
}
