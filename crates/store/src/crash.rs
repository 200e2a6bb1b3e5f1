//! The killed-process crash case the conformance suites share: a test binary runs itself
//! again as a child (one of its `#[ignore]`d tests, told where its store is by an environment
//! variable), reads what the child reports as acknowledged on its standard output, kills it
//! with SIGKILL in mid-write, and reads whatever it reported before it died. The suite then
//! reopens the store and checks that everything reported survived.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

/// Runs the ignored test `child` of this test binary with `var` set to `location`, hands each
/// line it prints to `line` until that returns `true`, kills the child (SIGKILL) and hands
/// `line` every line it printed before it died.
pub fn kill_child_once(child: &str, var: &str, location: &str, mut line: impl FnMut(&str) -> bool) {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut process = Command::new(exe)
        .args(["--exact", child, "--ignored", "--nocapture", "--test-threads=1"])
        .env(var, location)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the child test process starts");
    let mut lines = BufReader::new(process.stdout.take().expect("its standard output")).lines();
    loop {
        let read = lines.next().expect("the child reports until it is killed");
        if line(&read.expect("a line of the child's output")) {
            break;
        }
    }
    process.kill().expect("the child is killed");
    process.wait().expect("the killed child is reaped");
    // Whatever it printed before it died had been acknowledged.
    for read in lines {
        line(&read.expect("a line of the child's output"));
    }
}
