//! The network's processes: every node and witness of a network directory started as a real
//! `juki serve` / `juki witness serve` process, logging beside its configuration, and stopped
//! together.
//!
//! No port is guessed: each process binds port 0 and reports the addresses it got in its
//! report file (`node::report::Report`). [`Nodes`] starts the witnesses first and waits for
//! each report (a town asks its witness to cosign from its first checkpoint on), then the
//! national node, the prefecture and the towns in that order, waiting for each report (so that
//! a node's peers already serve when it first calls them), and rewrites `network.json` with the
//! real URLs after every start.
//!
//! A node left running by an earlier run (its report names a live `juki … serve` process: a
//! demo that was killed with SIGKILL leaves its nodes behind) is stopped before the node is
//! started again, so two processes never serve one node's databases; a report left by a node
//! that is gone is removed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use node::report::Report;

use crate::setup::Network;

/// How long a process may take from its start to its report.
pub const START_WITHIN: Duration = Duration::from_secs(60);
/// How long a process may take to stop after SIGTERM before it is killed.
pub const STOP_WITHIN: Duration = Duration::from_secs(10);

/// The network's processes, and the network with the URLs they reported. Dropping it stops
/// them (SIGTERM, then SIGKILL after [`STOP_WITHIN`]).
pub struct Nodes {
    network: Network,
    children: Vec<Process>,
}

/// A running process of the network.
struct Process {
    name: String,
    child: Child,
}

/// What a process of the network is: how to start it, where it logs and reports.
struct Spec {
    args: &'static [&'static str],
    config: PathBuf,
    log: PathBuf,
    report: PathBuf,
}

impl Nodes {
    /// Starts every witness and node of `network` (see the module's documentation), each
    /// logging to `node.log` / `witness.log` beside its configuration, writes `network.json`
    /// with the URLs they reported, and submits the operators' enrolments that no town has
    /// recorded yet through the towns' office APIs (`setup::submit_enrolments`).
    pub fn start(network: &Network) -> Result<Nodes> {
        let mut nodes = Nodes { network: network.clone(), children: Vec::new() };
        let names: Vec<String> = network
            .witnesses
            .iter()
            .map(|w| w.name.clone())
            .chain(network.nodes.iter().map(|n| n.name.clone()))
            .collect();
        for name in names {
            nodes.spawn(&name)?;
        }
        nodes.save()?;
        // The enrolments the admin signed offline reach the towns through their office APIs.
        crate::setup::submit_enrolments(&mut nodes.network, None)?;
        Ok(nodes)
    }

    /// The network, with the URLs its processes reported when they started.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// Starts the node or witness `name` (again), waits for its report and rewrites
    /// `network.json`. One still running is left as it is.
    pub fn start_one(&mut self, name: &str) -> Result<()> {
        if self.children.iter().any(|p| p.name == name) {
            return Ok(());
        }
        self.spawn(name)?;
        self.save()
    }

    /// The process ids, by name.
    pub fn pids(&self) -> Vec<(String, u32)> {
        self.children.iter().map(|p| (p.name.clone(), p.child.id())).collect()
    }

    /// Kills `name` with SIGKILL (an acknowledged write must survive that) and waits for it.
    pub fn kill(&mut self, name: &str) {
        if let Some(at) = self.children.iter().position(|p| p.name == name) {
            let mut process = self.children.remove(at);
            let _ = process.child.kill();
            let _ = process.child.wait();
        }
    }

    /// Stops `name` with SIGTERM (it stops serving and removes its report), killing it if it
    /// has not exited after [`STOP_WITHIN`].
    pub fn stop_one(&mut self, name: &str) {
        if let Some(at) = self.children.iter().position(|p| p.name == name) {
            let process = self.children.remove(at);
            stop_all(vec![process]);
        }
    }

    /// Stops every process: SIGTERM to all, then each is waited for until [`STOP_WITHIN`] has
    /// passed and killed if it is still running.
    pub fn stop(&mut self) {
        // The towns first, the witness last: the reverse of the start.
        let mut children = std::mem::take(&mut self.children);
        children.reverse();
        stop_all(children);
    }

    fn spec(&self, name: &str) -> Result<Spec> {
        if let Some(witness) = self.network.witnesses.iter().find(|w| w.name == name) {
            let dir = witness.config.parent().context("witness.toml has a directory")?;
            return Ok(Spec {
                args: &["witness", "serve"],
                config: witness.config.clone(),
                log: dir.join("witness.log"),
                report: witness.report.clone(),
            });
        }
        let node = self.network.node(name)?;
        let dir = node.config.parent().context("node.toml has a directory")?;
        Ok(Spec {
            args: &["serve"],
            config: node.config.clone(),
            log: dir.join("node.log"),
            report: node.report.clone(),
        })
    }

    /// Starts `name` and waits for its report; takes its URLs from it.
    fn spawn(&mut self, name: &str) -> Result<()> {
        let spec = self.spec(name)?;
        clear_stale(name, &spec.report)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&spec.log)
            .with_context(|| format!("opening {}", spec.log.display()))?;
        let child = Command::new(crate::binary()?)
            .args(spec.args)
            .arg("--config")
            .arg(&spec.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {name} ({})", spec.config.display()))?;
        let mut process = Process { name: name.to_owned(), child };
        let report = match wait_for_report(&mut process, &spec, START_WITHIN) {
            Ok(report) => report,
            Err(e) => {
                stop_all(vec![process]);
                return Err(e);
            }
        };
        self.children.push(process);
        if let Some(witness) = self.network.witnesses.iter_mut().find(|w| w.name == name) {
            witness.url = report.url(crate::setup::WITNESS_LISTENER)?;
        } else if let Some(node) = self.network.nodes.iter_mut().find(|n| n.name == name) {
            node.take_urls(&report).with_context(|| format!("{name}'s report"))?;
        }
        Ok(())
    }

    fn save(&self) -> Result<()> {
        self.network.save()
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits until the process writes its report (one naming its own pid: a report left by an
/// earlier process does not count).
fn wait_for_report(process: &mut Process, spec: &Spec, within: Duration) -> Result<Report> {
    let deadline = Instant::now() + within;
    let pid = process.child.id();
    loop {
        if let Ok(report) = Report::read(&spec.report)
            && report.pid == pid
        {
            return Ok(report);
        }
        if let Some(status) = process.child.try_wait()? {
            bail!(
                "{} (pid {pid}) exited ({status}) before it reported its addresses; the end of \
                 its log {}:\n{}",
                process.name,
                spec.log.display(),
                tail(&spec.log, 20)
            );
        }
        if Instant::now() > deadline {
            bail!(
                "{} (pid {pid}) has not reported its addresses in {} after {} s; the end of \
                 its log {}:\n{}",
                process.name,
                spec.report.display(),
                within.as_secs(),
                spec.log.display(),
                tail(&spec.log, 20)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The last `lines` lines of a log.
pub fn tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Sends SIGTERM to every process, waits for each until [`STOP_WITHIN`] has passed, then kills
/// the ones still running.
fn stop_all(mut processes: Vec<Process>) {
    for process in &processes {
        let _ = signal(process.child.id(), Signal::Term);
    }
    let deadline = Instant::now() + STOP_WITHIN;
    for process in &mut processes {
        loop {
            match process.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None) => {
                    eprintln!(
                        "{} (pid {}) did not stop within {} s of SIGTERM; killing it",
                        process.name,
                        process.child.id(),
                        STOP_WITHIN.as_secs()
                    );
                    let _ = process.child.kill();
                    let _ = process.child.wait();
                    break;
                }
            }
        }
    }
}

/// A signal to send.
#[derive(Clone, Copy, Debug)]
pub enum Signal {
    /// SIGTERM: stop gracefully.
    Term,
    /// SIGKILL.
    Kill,
}

/// Sends `sig` to the process `pid`.
pub fn signal(pid: u32, sig: Signal) -> std::io::Result<()> {
    let pid = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .ok_or_else(|| std::io::Error::other(format!("{pid} is not a process id")))?;
    let sig = match sig {
        Signal::Term => rustix::process::Signal::TERM,
        Signal::Kill => rustix::process::Signal::KILL,
    };
    rustix::process::kill_process(pid, sig).map_err(std::io::Error::from)
}

/// Whether `pid` is a running process (not gone, not a zombie waiting for its parent).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !matches!(rest.trim_start().chars().next(), Some('Z' | 'X'))),
        Err(_) => false,
    }
}

/// Whether `pid` runs `juki … serve` (a node or a witness).
fn is_juki_server(pid: u32) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { return false };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let program = args.first().map(|a| Path::new(std::str::from_utf8(a).unwrap_or("")));
    program.and_then(Path::file_name).is_some_and(|n| n == "juki")
        && args.iter().any(|a| *a == b"serve")
}

/// Stops the process a report names if it is still a running `juki … serve` (a node left
/// behind by an earlier run), and removes the stale report.
fn clear_stale(name: &str, report_path: &Path) -> Result<()> {
    let Ok(report) = Report::read(report_path) else {
        let _ = std::fs::remove_file(report_path);
        return Ok(());
    };
    let pid = report.pid;
    if pid != std::process::id() && alive(pid) && is_juki_server(pid) {
        println!("stopping {name} (pid {pid}), left running by an earlier run");
        let _ = signal(pid, Signal::Term);
        let deadline = Instant::now() + STOP_WITHIN;
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if alive(pid) {
            let _ = signal(pid, Signal::Kill);
            let deadline = Instant::now() + STOP_WITHIN;
            while alive(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        if alive(pid) {
            bail!(
                "{name} is still running from an earlier run (pid {pid}, see {}) and does not \
                 stop; stop it (kill -9 {pid}) and start again",
                report_path.display()
            );
        }
    }
    match std::fs::remove_file(report_path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing the stale {}", report_path.display())),
    }
}
