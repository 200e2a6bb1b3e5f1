//! What every end-to-end test of the `juki` command shares: running the real binary with no
//! passphrase inherited from the environment, and checking that it succeeded, or failed the
//! way a user should see it fail.
// Each test binary uses only some of these.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// The `juki` binary, with no passphrase variables inherited from the environment.
pub fn juki() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_juki"));
    command.env_remove("JUKI_PASSPHRASE").env_remove("JUKI_APPROVE_PASSPHRASE");
    command
}

/// Runs juki and returns its output, whatever the exit status.
pub fn run(args: &[&str]) -> Output {
    juki().args(args).output().expect("running juki")
}

/// Requires that `output` (of `juki args`) succeeded; returns stdout.
pub fn succeeded(args: &[&str], output: Output) -> String {
    assert!(
        output.status.success(),
        "juki {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// Requires that `output` (of `juki args`) failed with an error message and no panic;
/// returns stderr.
pub fn failed(args: &[&str], output: &Output) -> String {
    assert!(!output.status.success(), "juki {args:?} should have failed");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(stderr.contains("error: "), "an error says so: {stderr}");
    assert!(!stderr.contains("panicked"), "no panics: {stderr}");
    stderr
}

/// Runs juki, requires success and returns stdout.
pub fn ok(args: &[&str]) -> String {
    succeeded(args, run(args))
}

/// Runs juki, requires failure, and returns stderr.
pub fn fails(args: &[&str]) -> String {
    failed(args, &run(args))
}

/// A path as a command-line argument.
pub fn p(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// A network built by `juki demo --exit` (30 residents, no drills) and started again, as an
/// attacker or an agency finds it running. Fields drop in order: the nodes are stopped before
/// their directory is removed.
pub struct Running {
    pub nodes: testbed::processes::Nodes,
    pub runtime: tokio::runtime::Runtime,
    pub network: testbed::setup::Network,
    pub dir: tempfile::TempDir,
}

impl Running {
    pub fn start() -> Running {
        Running::start_with(|_| {})
    }

    /// [`Running::start`], with `prepare` run on the network's directory before its nodes start.
    pub fn start_with(prepare: impl FnOnce(&Path)) -> Running {
        let dir = tempfile::tempdir().unwrap();
        ok(&["demo", "--dir", p(dir.path()), "--residents", "30", "--exit", "--no-drills"]);
        prepare(dir.path());
        testbed::use_binary(env!("CARGO_BIN_EXE_juki"));
        let network = testbed::setup::Network::load(dir.path()).unwrap();
        let nodes = testbed::processes::Nodes::start(&network).unwrap();
        let network = nodes.network().clone();
        Running { dir, network, runtime: tokio::runtime::Runtime::new().unwrap(), nodes }
    }
}
