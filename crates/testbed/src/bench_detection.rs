//! `juki bench detection`: how soon a town's self-check finds a direct edit of its registry
//! database, and what the self-check costs while nothing happens, at a town of many residents.
//!
//! The self-check is the node's own (`node::selfcheck::SelfCheck`, as a town node runs it every
//! `watch_ms`): each look asks the counter's connection whether anyone else committed
//! (SQLite's `data_version`) and, when someone did or every `verify_every_ms`, verifies the
//! whole registry on its own connection. Here it runs on a thread of its own, as in the node;
//! the edits are made from another connection, at random moments of its cycle, as root on the
//! node makes them with `sqlite3`. The alert's trip to the national node (about 100–400 ms in
//! `network_attacks::an_edit_of_a_towns_database_…`) is not included.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use registry_core::time::Timestamp;
use registry_store::Registry;

use crate::bench_log::{line, tempfile_dir};
use crate::bench_registry::percentile;

/// The targets.
const TARGET: Duration = Duration::from_secs(5);
const AIM: Duration = Duration::from_secs(1);
const TARGET_CPU: f64 = 0.05;

/// `juki bench detection`'s options.
pub struct Options {
    /// Residents in the town's registry.
    pub residents: u64,
    /// Edits made and found.
    pub edits: usize,
    /// The self-check's period (the node's `watch_ms`).
    pub watch: Duration,
    /// The whole verification's period when nothing else wrote (`verify_every_ms`).
    pub verify_every: Duration,
}

/// What the watching thread saw at one look.
struct Seen {
    at: Instant,
    foreign_write: bool,
    alert: bool,
    restored: bool,
}

pub fn run(options: Options) -> Result<ExitCode> {
    ensure!(
        (1_000..=registry_core::event::MAX_BLOCK).contains(&options.residents),
        "--residents must be 1000 to {} (one code block)",
        registry_core::event::MAX_BLOCK
    );
    ensure!(options.edits >= 1, "--edits must be at least 1");
    let temp = tempfile_dir()?;
    let now = Timestamp::from_unix(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs(),
    );
    println!(
        "juki bench detection: a town of {} residents, {} edits, watch every {} ms, whole \
         verification every {} s, in {}",
        options.residents,
        options.edits,
        options.watch.as_millis(),
        options.verify_every.as_secs(),
        temp.path().display()
    );
    let first = 1_000_000_000u64;
    let town = crate::bench_lookup::build(temp.path(), options.residents, first, now)?;
    let database = town.database.clone();

    // The larger part of a whole verification: the replay of the log through the rules, every
    // signature checked.
    let started = Instant::now();
    let (_, differences) = Registry::open(&database)?.replay()?;
    let replay = started.elapsed();
    ensure!(differences.is_empty(), "the freshly built registry does not replay cleanly");
    line(
        "replay through the rules alone",
        replay.as_secs_f64() * 1e3,
        "ms",
        &format!(
            "{:.1} µs per event, every signature checked; a whole verification adds the tables",
            replay.as_secs_f64() * 1e6 / (options.residents + 3) as f64
        ),
    );

    // The whole verification, once, as the node runs it at start.
    let mut check =
        node::selfcheck::SelfCheck::new(Registry::open(&database)?, options.verify_every);
    let mut counter = Registry::open(&database)?;
    let started = Instant::now();
    let look = check.look(&mut counter)?;
    let whole = started.elapsed();
    ensure!(look.verified == Some(0), "the freshly built registry does not verify: {look:?}");
    line(
        "whole verification (replay + every table)",
        whole.as_secs_f64() * 1e3,
        "ms",
        &format!(
            "{:.1} µs per resident; what a look costs after a foreign write",
            whole.as_secs_f64() * 1e6 / options.residents as f64
        ),
    );

    // A look while nothing happens (just after the whole verification, so none is due): the
    // question whether anyone else wrote.
    let looks = 20_000;
    let started = Instant::now();
    for _ in 0..looks {
        let look = check.look(&mut counter)?;
        ensure!(look.verified.is_none(), "a look ran a verification while nothing happened");
    }
    let idle = started.elapsed() / looks;
    line(
        "an idle look (has anyone else written?)",
        idle.as_secs_f64() * 1e6,
        "µs",
        "PRAGMA data_version on the counter's connection",
    );
    let cpu = idle.as_secs_f64() / options.watch.as_secs_f64()
        + whole.as_secs_f64() / options.verify_every.as_secs_f64();
    line(
        "self-check CPU at steady state",
        cpu * 100.0,
        "% of 1 core",
        &format!(
            "idle looks every {} ms + a whole verification every {} s; target < {:.0} %: {}",
            options.watch.as_millis(),
            options.verify_every.as_secs(),
            TARGET_CPU * 100.0,
            if cpu < TARGET_CPU { "met" } else { "NOT MET" }
        ),
    );

    // Edits at random moments of the watcher's cycle, from another connection.
    let stop = Arc::new(AtomicBool::new(false));
    let (sender, seen) = mpsc::channel::<Seen>();
    let watcher = {
        let stop = stop.clone();
        let watch = options.watch;
        std::thread::spawn(move || -> Result<()> {
            while !stop.load(Ordering::SeqCst) {
                // As the node does: the foreign write is alerted at once, before the
                // verification it starts.
                let foreign_write = counter.written_by_others()?;
                if foreign_write {
                    let _ = sender.send(Seen {
                        at: Instant::now(),
                        foreign_write,
                        alert: false,
                        restored: false,
                    });
                }
                let look = check.look_after(foreign_write)?;
                let at = Instant::now();
                if look.alert.is_some() || look.restored {
                    let _ = sender.send(Seen {
                        at,
                        foreign_write: false,
                        alert: look.alert.is_some(),
                        restored: look.restored,
                    });
                }
                std::thread::sleep(watch);
            }
            Ok(())
        })
    };
    let editor = rusqlite::Connection::open(&database)?;
    editor.busy_timeout(Duration::from_secs(30))?;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut random = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut to_foreign, mut to_alert) = (Vec::new(), Vec::new());
    for _ in 0..options.edits {
        std::thread::sleep(Duration::from_millis(random() % options.watch.as_millis() as u64));
        let code =
            registry_domain::ResidentCode::from_ten_digits(first + random() % options.residents)?
                .to_string();
        let edited = Instant::now();
        editor.execute("UPDATE residents SET address = address || '1' WHERE code = ?1", [&code])?;
        let (mut foreign, mut alerted) = (None, None);
        while alerted.is_none() {
            let s = seen.recv_timeout(Duration::from_secs(600))?;
            if s.foreign_write && foreign.is_none() {
                foreign = Some(s.at.saturating_duration_since(edited));
            }
            if s.alert {
                alerted = Some(s.at.saturating_duration_since(edited));
            }
        }
        to_foreign.push(foreign.unwrap_or_default());
        to_alert.push(alerted.unwrap_or_default());
        editor.execute(
            "UPDATE residents SET address = substr(address, 1, length(address) - 1) \
             WHERE code = ?1",
            [&code],
        )?;
        while !seen.recv_timeout(Duration::from_secs(600))?.restored {}
    }
    stop.store(true, Ordering::SeqCst);
    watcher.join().map_err(|_| anyhow::anyhow!("the watcher panicked"))??;
    to_foreign.sort();
    to_alert.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let show = |what: &str, v: &[Duration], note: &str| {
        println!(
            "{what:<44} {:>8.1} ms p50 {:>8.1} ms max   {note}",
            ms(percentile(v, 0.5)),
            ms(*v.last().expect("edits"))
        );
    };
    show("edit → foreign-write alert", &to_foreign, "at the next look");
    let worst = *to_alert.last().expect("edits");
    show(
        "edit → tampered alert (with its evidence)",
        &to_alert,
        &format!(
            "the next look + a whole verification; target <= {} s: {}, aim <= {} s: {}",
            TARGET.as_secs(),
            if worst <= TARGET { "met" } else { "NOT MET" },
            AIM.as_secs(),
            if worst <= AIM { "met" } else { "not met" }
        ),
    );
    println!(
        "  (an edit that bypasses SQLite — the file's bytes — is not a foreign write: the whole \
         verification every {} s finds it)",
        options.verify_every.as_secs()
    );
    Ok(ExitCode::SUCCESS)
}
