//! `juki bench drills`: the auditors' attacks (`juki drill`) against a network of real node
//! processes, as `juki demo --residents 30 --exit --no-drills` leaves it: for each drill that
//! an alert reveals, the time from the attack to the alert in the national alert log, against
//! issue 11's five seconds; and how many drills passed (blocked or detected in time, nothing
//! acknowledged lost, the town working again).

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context as _, Result, ensure};

use crate::drill::{ALERT_TARGET, DRILLS};
use crate::figures::{Aim, Target, goal, ms};
use crate::processes::Nodes;
use crate::setup::Network;

/// The drills the short run plays: a root's edit of a town's database, a stolen operator's
/// certificate, an agency walking codes.
pub const QUICK: [&str; 3] = ["edit-address", "stolen-certificate", "code-walking"];

/// Plays `names` (empty: every drill).
pub fn run(names: &[&str]) -> Result<ExitCode> {
    let work = crate::bench_log::work_dir(None)?;
    let dir = work.path.join("network");
    let names: Vec<String> = if names.is_empty() {
        DRILLS.iter().map(|d| d.name.to_owned()).collect()
    } else {
        names.iter().map(|n| (*n).to_owned()).collect()
    };
    println!("juki bench drills: {} drills against a network in {}", names.len(), dir.display());
    let started = Instant::now();
    demo(&dir)?;
    let mut nodes = Nodes::start(&Network::load(&dir)?)?;
    let network = nodes.network().clone();
    println!(
        "  (the demo's network built and started in {:.1} s, not counted)",
        started.elapsed().as_secs_f64()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let played = runtime.block_on(crate::drill::run(&network, &names));
    nodes.stop();
    let (_, played) = played?;
    println!();
    print!("{}", crate::drill::table(&played));
    for p in &played {
        if let Some((alert, took)) = &p.alert {
            goal(
                &format!("drill {}: attack → national alert", p.drill.name),
                ms(*took),
                "ms",
                &format!("{} ({})", alert.kind, p.verdict),
                // At most the target: below it by the smallest step the clock shows.
                Aim::of(11, Target::Below(ms(ALERT_TARGET) + 0.001)),
            );
        }
    }
    let passed = played.iter().filter(|p| p.passed()).count();
    goal(
        "drills passed",
        passed as f64,
        "drills",
        &format!("of {}: blocked or detected in time, nothing lost, working again", played.len()),
        Aim::of(11, Target::AtLeast(played.len() as f64)),
    );
    Ok(ExitCode::SUCCESS)
}

/// `juki demo --dir DIR --residents 30 --exit --no-drills`: the network the drills play on.
fn demo(dir: &Path) -> Result<()> {
    let output = Command::new(crate::binary()?)
        .arg("demo")
        .arg("--dir")
        .arg(dir)
        .args(["--residents", "30", "--exit", "--no-drills"])
        .output()
        .context("running juki demo")?;
    ensure!(
        output.status.success(),
        "juki demo failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}
