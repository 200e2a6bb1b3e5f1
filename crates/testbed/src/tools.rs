//! `juki network`: tools that drive a network described by a `network.json` (as `juki demo`
//! writes it): a clerk's load of registrations, and the check that every tier agrees.

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use registry_domain::ChangeReason;
use rusqlite::{Connection, OpenFlags};

use crate::setup::{Network, TOWNS};
use crate::synthetic::{change, synthetic};

/// Registers `count` synthetic residents at `town` through its office API, one change at a
/// time (at most `rate` per second; 0: as fast as the node answers), retrying while the node
/// is unreachable (and looking for it at the address it reports, should it have been
/// restarted), and prints `CODE INDEX` for every acknowledged change.
pub async fn load(network: &Network, town: &str, count: u64, rate: f64, seed: u64) -> Result<()> {
    let mut network = network.clone();
    let mut clerk = crate::setup::clerk(&network, town)?;
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
                    if network.refresh() {
                        clerk = crate::setup::clerk(&network, town)?;
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
