//! `juki network`: tools that drive a network described by a `network.json` (as `juki demo`
//! writes it): a clerk's load of registrations, and the check that every tier agrees.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::Subcommand;
use registry_domain::ChangeReason;
use rusqlite::{Connection, OpenFlags};

use super::clerk::{Clerk, change, synthetic};
use super::setup::{Network, TOWNS};

#[derive(Subcommand)]
pub enum NetworkCommand {
    /// Register synthetic residents at one town through its office API, one change at a time,
    /// retrying while the node is unreachable; print `CODE INDEX` for every acknowledged change.
    Load {
        /// The network's directory (holding network.json).
        #[arg(long)]
        dir: PathBuf,
        /// The town's municipality code.
        #[arg(long)]
        town: String,
        /// How many residents.
        #[arg(long)]
        count: u64,
        /// Changes per second (0: as fast as the node answers).
        #[arg(long, default_value_t = 0.0)]
        rate: f64,
        /// A number that makes these residents' synthetic names differ from other loads'.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Wait until every tier agrees: each town's published checkpoint is the one the prefecture
    /// and the national node hold.
    Agree {
        /// The network's directory.
        #[arg(long)]
        dir: PathBuf,
        /// How long to wait for the checkpoints to agree (seconds).
        #[arg(long, default_value_t = 60)]
        within: u64,
    },
    /// Compare the databases: every mirror's events and residents must equal the town's own.
    /// Run it with the nodes stopped or idle.
    Compare {
        /// The network's directory.
        #[arg(long)]
        dir: PathBuf,
    },
}

pub fn run(command: NetworkCommand) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match command {
        NetworkCommand::Load { dir, town, count, rate, seed } => {
            let network = Network::load(&dir)?;
            runtime.block_on(load(&network, &town, count, rate, seed))?;
            Ok(ExitCode::SUCCESS)
        }
        NetworkCommand::Agree { dir, within } => {
            let network = Network::load(&dir)?;
            runtime.block_on(super::agree(&network, Duration::from_secs(within)))?;
            println!("checkpoints agree at every tier");
            Ok(ExitCode::SUCCESS)
        }
        NetworkCommand::Compare { dir } => {
            println!("databases agree: {}", compare_databases(&dir)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn load(network: &Network, town: &str, count: u64, rate: f64, seed: u64) -> Result<()> {
    let clerk = Clerk::new(network, town)?;
    let start = Instant::now();
    let mut stdout = std::io::stdout();
    for i in 0..count {
        if rate > 0.0 {
            let due = start + Duration::from_secs_f64(i as f64 / rate);
            tokio::time::sleep_until(due.into()).await;
        }
        let mut failures = 0u32;
        loop {
            let attempt = async {
                let code = clerk.fresh_code().await?;
                let record =
                    synthetic(code, clerk.code, seed * 1_000_000 + i, ChangeReason::Birth, None)?;
                let submitted = clerk.submit(change(clerk.code, record)).await?;
                anyhow::Ok((code, submitted.index))
            };
            match attempt.await {
                Ok((code, index)) => {
                    writeln!(stdout, "{code} {index}")?;
                    stdout.flush()?;
                    break;
                }
                Err(e) => {
                    failures += 1;
                    if failures == 1 || failures.is_multiple_of(50) {
                        eprintln!("change {i}: {e:#}; retrying");
                    }
                    if failures > 600 {
                        bail!("the town's node has not answered for a minute");
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
    Ok(())
}

fn open(path: &Path) -> Result<Connection> {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening {}", path.display()))
}

fn rows(conn: &Connection, sql: &str) -> Result<Vec<String>> {
    let mut select = conn.prepare(sql)?;
    let rows = select.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Compares every town's residents and events with the prefecture's and the national node's
/// mirrors; returns a summary.
pub fn compare_databases(dir: &Path) -> Result<String> {
    const RESIDENTS: &str = "SELECT code || '|' || history || '|' || status || '|' || reason || '|' || event_idx \
                             FROM residents ORDER BY code";
    const EVENTS: &str = "SELECT idx || '|' || hex(note) FROM events ORDER BY idx";
    let mut summary = Vec::new();
    for (name, code) in TOWNS {
        let own = open(&dir.join("nodes").join(name).join("registry.db"))?;
        let residents = rows(&own, RESIDENTS)?;
        let events = rows(&own, EVENTS)?;
        for upper in ["nagano", "national"] {
            let mirror = open(
                &dir.join("nodes").join(upper).join("mirrors").join(code).join("registry.db"),
            )?;
            if rows(&mirror, EVENTS)? != events {
                bail!("{upper}'s mirror of {code} holds other events than {name} itself");
            }
            if rows(&mirror, RESIDENTS)? != residents {
                bail!("{upper}'s mirror of {code} derives other residents than {name} itself");
            }
        }
        summary.push(format!("{name} {} events, {} residents", events.len(), residents.len()));
    }
    Ok(summary.join("; "))
}
