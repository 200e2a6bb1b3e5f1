//! The peers juki's figures are measured beside, in the same run: what a user would pick
//! instead, or the machine limit a path is bound by — `openssl speed ed25519` (signature
//! checks), `openssl speed sha256` (hashing), `pgbench -S` against the local PostgreSQL
//! (a database answering reads by primary key). Each runs the peer's own program and reads
//! its figure from the output; a peer that is not installed is reported, not faked.

use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, Result, ensure};

use crate::figures::{Peer, PeerFigure, line};

/// `openssl speed -seconds N ed25519`: Ed25519 verifications per second on one core.
pub fn openssl_ed25519_verify(seconds: u64) -> Result<f64> {
    ed25519_verify_rate(&openssl_speed(&["-seconds", &seconds.to_string(), "ed25519"])?)
}

/// The verify/s figure of `openssl speed ed25519`'s output:
/// `" 253 bits EdDSA (Ed25519)   0.0000s   0.0001s  32750.5  12155.6"` (sign, verify, sign/s,
/// verify/s).
fn ed25519_verify_rate(text: &str) -> Result<f64> {
    text.lines()
        .find(|l| l.contains("(Ed25519)"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse::<f64>().ok())
        .context("no Ed25519 verify/s figure in openssl speed's output")
}

/// `openssl speed -seconds N -bytes 8192 sha256`: bytes hashed per second on one core.
pub fn openssl_sha256(seconds: u64) -> Result<f64> {
    sha256_rate(&openssl_speed(&["-seconds", &seconds.to_string(), "-bytes", "8192", "sha256"])?)
}

/// The bytes per second of `openssl speed -bytes N sha256`'s output, whose figures are in
/// thousands of bytes per second: `"sha256         1547195.73k"`.
fn sha256_rate(text: &str) -> Result<f64> {
    text.lines()
        .find(|l| l.starts_with("sha256"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.strip_suffix('k'))
        .and_then(|v| v.parse::<f64>().ok())
        .map(|thousands| thousands * 1000.0)
        .context("no sha256 figure in openssl speed's output")
}

fn openssl_speed(args: &[&str]) -> Result<String> {
    let output = Command::new("openssl")
        .arg("speed")
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .context("openssl is not available; continuing without its figure")?;
    ensure!(output.status.success(), "openssl speed failed: {}", output.status);
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// How `pgbench -S` runs.
#[derive(Clone, Copy, Debug)]
pub struct PgbenchOptions {
    /// `pgbench -i -s` scale (100,000 accounts per unit).
    pub scale: u32,
    /// `pgbench -T` seconds.
    pub seconds: u64,
    /// `pgbench -c` clients.
    pub clients: usize,
}

/// What pgbench measured.
#[derive(Clone, Debug)]
pub struct Pgbench {
    pub tps: f64,
    pub latency_ms: f64,
    pub command: String,
}

/// `pgbench -S` (select by primary key) against the local PostgreSQL (127.0.0.1:5432, user
/// postgres) in a scratch database, created and dropped here; prints its line.
pub fn pgbench_select(options: PgbenchOptions) -> Result<Pgbench> {
    const DB: &str = "juki_bench";
    let connection = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"];
    let run = |program: &str, args: &[&str]| -> Result<String> {
        let output =
            Command::new(program).args(connection).args(args).output().with_context(|| {
                format!("running {program} (is PostgreSQL's client installed?)")
            })?;
        ensure!(
            output.status.success(),
            "{program} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    };
    println!("the peer: pgbench -S (select by primary key) against the local PostgreSQL");
    run("psql", &["-q", "-d", "postgres", "-c", &format!("DROP DATABASE IF EXISTS {DB}")])?;
    run("psql", &["-q", "-d", "postgres", "-c", &format!("CREATE DATABASE {DB}")])?;
    let measured = (|| {
        let scale = options.scale.to_string();
        let started = Instant::now();
        run("pgbench", &["-i", "-q", "-s", &scale, DB])?;
        println!(
            "  (pgbench -i -s {scale}: {} accounts loaded in {:.1} s, not counted)",
            u64::from(options.scale) * 100_000,
            started.elapsed().as_secs_f64()
        );
        let (clients, seconds) = (options.clients.to_string(), options.seconds.to_string());
        let threads = options.clients.min(2).to_string();
        let args = ["-S", "-c", &clients, "-j", &threads, "-T", &seconds, DB];
        let output = run("pgbench", &args)?;
        let field = |prefix: &str| -> Result<f64> {
            output
                .lines()
                .find_map(|l| l.trim().strip_prefix(prefix))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .with_context(|| format!("no `{prefix}` in pgbench's output"))
        };
        let command = format!("pgbench -S -c {clients} -j {threads} -T {seconds}");
        let pg =
            Pgbench { tps: field("tps = ")?, latency_ms: field("latency average = ")?, command };
        line(
            &format!("  {}", pg.command),
            pg.tps,
            "tx/s",
            &format!("latency average {:.3} ms; scale {scale}", pg.latency_ms),
        );
        anyhow::Ok(pg)
    })();
    run("psql", &["-q", "-d", "postgres", "-c", &format!("DROP DATABASE IF EXISTS {DB}")])?;
    measured
}

/// Every peer, measured one after another as `juki bench` starts (`seconds` each, pgbench
/// as `pg` says); a peer that could not be measured says why.
pub fn measure_all(seconds: u64, pg: PgbenchOptions) -> Vec<PeerFigure> {
    let seconds = seconds.max(1);
    let mut peers = Vec::new();
    for peer in Peer::ALL {
        let (command, unit, measured) = match peer {
            Peer::OpensslEd25519Verify => (
                format!("openssl speed -seconds {seconds} ed25519"),
                "verifies/s",
                openssl_ed25519_verify(seconds),
            ),
            Peer::OpensslSha256 => (
                format!("openssl speed -seconds {seconds} -bytes 8192 sha256"),
                "bytes/s",
                openssl_sha256(seconds),
            ),
            Peer::PgbenchSelect => {
                let measured = pgbench_select(pg);
                let command = measured.as_ref().map_or_else(
                    |_| format!("pgbench -S -c {} -T {}", pg.clients, pg.seconds),
                    |p| p.command.clone(),
                );
                (format!("{command}, scale {}", pg.scale), "tx/s", measured.map(|p| p.tps))
            }
        };
        match measured {
            Ok(value) => {
                if peer != Peer::PgbenchSelect {
                    line(peer.name(), value, unit, &format!("`{command}`"));
                }
                peers.push(PeerFigure {
                    peer,
                    command,
                    value: Some(value),
                    unit: unit.into(),
                    not_measured: None,
                })
            }
            Err(e) => {
                println!("{:<44} {:>14} {:<12} not measured: {e:#}", peer.name(), "-", unit);
                peers.push(PeerFigure {
                    peer,
                    command,
                    value: None,
                    unit: unit.into(),
                    not_measured: Some(format!("{e:#}")),
                })
            }
        }
    }
    // The peers' own lines are not juki's figures.
    let _ = crate::figures::take("peers");
    peers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_speed_figures_are_read_from_its_output() {
        let ed25519 = "Doing 253 bits sign Ed25519 ops for 1s: 32750 253 bits Ed25519 signs in 1.00s\n\
                       version: 3.0.19\n\
                       \x20                             sign    verify    sign/s verify/s\n\
                       \x20253 bits EdDSA (Ed25519)   0.0000s   0.0001s  32750.5  12155.6\n";
        assert_eq!(ed25519_verify_rate(ed25519).unwrap(), 12155.6);
        let sha256 = "The 'numbers' are in 1000s of bytes per second processed.\n\
                      type           8192 bytes\n\
                      sha256         1547195.73k\n";
        assert_eq!(sha256_rate(sha256).unwrap(), 1_547_195_730.0);
        // Another program's output, or a figure without its unit, is no figure.
        assert!(ed25519_verify_rate("sha256 1.0k").is_err());
        assert!(sha256_rate("sha256         1547195.73\n").is_err());
        assert!(sha256_rate(ed25519).is_err());
    }
}
