//! `juki demo` and its processes: SIGTERM to a running demo stops every node and the witness
//! it started; a demo killed with SIGKILL leaves its nodes behind, and the next demo on the
//! same directory stops them before it starts the network again, so it never finds a stale
//! node.

mod support;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{juki, p};
use testbed::processes::{Signal, alive, signal};

/// What the demo prints once its scenario is over and the network keeps running.
const RUNNING: &str = "the network keeps running";

/// A running `juki demo` (without `--exit`) and the lines it printed.
struct Demo {
    dir: std::path::PathBuf,
    child: Child,
    lines: mpsc::Receiver<String>,
    printed: Vec<String>,
}

impl Demo {
    /// Starts `juki demo --dir DIR --residents 30` and waits until it says the network keeps
    /// running.
    fn start(dir: &Path) -> Demo {
        let mut child = juki()
            .args(["demo", "--dir", p(dir), "--residents", "30", "--no-drills"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting juki demo");
        let stdout = child.stdout.take().expect("its stdout");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut demo = Demo { dir: dir.to_path_buf(), child, lines, printed: Vec::new() };
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match demo.lines.recv_timeout(left) {
                Ok(line) => {
                    let running = line.contains(RUNNING);
                    demo.printed.push(line);
                    if running {
                        break;
                    }
                }
                Err(e) => panic!(
                    "juki demo did not say {RUNNING:?} ({e}); it printed:\n{}",
                    demo.printed.join("\n")
                ),
            }
        }
        let out = demo.printed.join("\n");
        assert!(!out.contains("FAIL"), "{out}");
        demo
    }

    /// Waits for the demo to exit; returns whether it exited successfully.
    fn wait(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for the demo") {
                return status.success();
            }
            assert!(
                Instant::now() < deadline,
                "juki demo has not exited {within:?} after the signal; it printed:\n{}",
                self.printed.join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Demo {
    /// A failed test leaves no process behind: the demo and whatever its reports name.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            for (_, pid) in reported_pids(&self.dir) {
                let _ = signal(pid, Signal::Kill);
            }
        }
    }
}

/// The pids in the network's report files: every node and the witness.
fn reported_pids(dir: &Path) -> Vec<(String, u32)> {
    let mut reports: Vec<_> = std::fs::read_dir(dir.join("nodes"))
        .expect("the nodes' directories")
        .map(|e| e.expect("a directory entry").path().join("node.report.json"))
        .collect();
    reports.push(dir.join("witness/witness.report.json"));
    reports
        .iter()
        .filter_map(|path| {
            let report = node::report::Report::read(path).ok()?;
            Some((path.display().to_string(), report.pid))
        })
        .collect()
}

/// Requires that none of `pids` is alive within `within`.
fn all_gone(pids: &[(String, u32)], within: Duration) {
    let deadline = Instant::now() + within;
    for (what, pid) in pids {
        while alive(*pid) {
            assert!(Instant::now() < deadline, "{what}: pid {pid} is still running");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn sigterm_stops_every_process_and_a_restarted_demo_finds_no_stale_node() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let dir = tmp.path().join("demo");

    // A demo killed outright leaves its nodes behind …
    let mut first = Demo::start(&dir);
    let left_behind = reported_pids(&dir);
    assert_eq!(left_behind.len(), 7, "six nodes and the witness: {left_behind:?}");
    signal(first.child.id(), Signal::Kill).expect("SIGKILL to the demo");
    assert!(!first.wait(Duration::from_secs(10)), "killed");
    for (what, pid) in &left_behind {
        assert!(alive(*pid), "{what}: pid {pid} outlives a SIGKILLed demo");
    }

    // … and the next demo on the directory stops them before it starts the network again.
    let mut second = Demo::start(&dir);
    all_gone(&left_behind, Duration::from_secs(1));
    let out = second.printed.join("\n");
    assert!(out.contains("left running by an earlier run"), "{out}");
    assert!(out.contains("reusing the network"), "{out}");
    let running = reported_pids(&dir);
    for (what, pid) in &running {
        assert!(alive(*pid), "{what}: pid {pid} runs");
        assert!(!left_behind.iter().any(|(_, old)| old == pid), "{what}: a new process");
    }

    // SIGTERM to the demo stops every process it started, each of which removes its report.
    signal(second.child.id(), Signal::Term).expect("SIGTERM to the demo");
    assert!(second.wait(Duration::from_secs(60)), "the demo exits 0 after a clean stop");
    all_gone(&running, Duration::from_secs(10));
    for (report, _) in &running {
        assert!(!Path::new(report).exists(), "{report} is removed by a clean stop");
    }
}
