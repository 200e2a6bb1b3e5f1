//! Crash safety: `juki log append` and `juki log checkpoint` are killed with SIGKILL at random
//! moments, again and again. After every kill the log must hold every entry that was
//! acknowledged (its index printed), in its place, and must checkpoint and verify.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use tlog_store::entries::{EntryReader as _, SqliteEntries};

mod support;
use support::{juki, ok, p};

/// A small deterministic generator, seeded from the clock; the seed is printed so a failure
/// can be replayed with JUKI_CRASH_SEED.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn line(round: u32, j: u64) -> String {
    format!("round {round} line {j} {}", "p".repeat((j % 50) as usize))
}

/// Runs `juki log append` on an endless stream of lines and kills it after `delay`. Returns
/// the acknowledged (index, entry) pairs.
fn append_then_kill(log: &Path, round: u32, delay: Duration) -> Vec<(u64, Vec<u8>)> {
    let mut child = juki()
        .args(["log", "append", "--dir", p(log)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let mut j = 0u64;
        loop {
            let mut chunk = String::new();
            for _ in 0..64 {
                chunk.push_str(&line(round, j));
                chunk.push('\n');
                j += 1;
            }
            if stdin.write_all(chunk.as_bytes()).is_err() {
                return;
            }
        }
    });
    let stdout = child.stdout.take().unwrap();
    let (send, acks) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for ack in BufReader::new(stdout).lines() {
            let Ok(ack) = ack else { return };
            if send.send(ack.parse::<u64>().expect("an index per line")).is_err() {
                return;
            }
        }
    });
    std::thread::sleep(delay);
    child.kill().unwrap();
    child.wait().unwrap();
    writer.join().unwrap();
    reader.join().unwrap();
    // The k-th acknowledgement is for the k-th line written.
    acks.try_iter()
        .enumerate()
        .map(|(k, index)| (index, line(round, k as u64).into_bytes()))
        .collect()
}

fn check_acknowledged(log: &Path, acknowledged: &[(u64, Vec<u8>)]) {
    let store = SqliteEntries::open(&log.join("entries.db")).unwrap();
    let count = store.entry_count().unwrap();
    for (index, entry) in acknowledged {
        assert!(*index < count, "acknowledged entry {index} is missing (log has {count})");
        let stored = store.read_entries(*index, index + 1).unwrap().remove(0);
        assert_eq!(&stored, entry, "acknowledged entry {index} changed");
    }
}

#[test]
fn sigkill_during_appends_and_checkpoints_loses_nothing_acknowledged() {
    let seed =
        std::env::var("JUKI_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
        });
    println!("JUKI_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("log.key");
    let vkey = ok(&["key", "generate", "--name", "juki.test/crash", "--out", p(&key)]);
    let log = dir.path().join("log");
    ok(&["log", "new", "--dir", p(&log), "--origin", "juki.test/crash", "--key", p(&key)]);

    let mut acknowledged = Vec::new();
    let mut kills = 0;
    for round in 0..30u32 {
        // Sometimes a checkpoint runs beside the appends and is killed too.
        let checkpointer = (round % 3 == 2).then(|| {
            juki()
                .args(["log", "checkpoint", "--dir", p(&log)])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        });
        let delay = Duration::from_millis(5 + rng.below(60));
        let acked = append_then_kill(&log, round, delay);
        kills += 1;
        if let Some(mut checkpointer) = checkpointer {
            std::thread::sleep(Duration::from_millis(rng.below(20)));
            let _ = checkpointer.kill();
            checkpointer.wait().unwrap();
            kills += 1;
        }
        check_acknowledged(&log, &acked);
        acknowledged.extend(acked);
        if round % 5 == 4 {
            ok(&["log", "checkpoint", "--dir", p(&log)]);
            ok(&["log", "verify", p(&log), "--vkey", vkey.trim()]);
        }
    }
    assert!(
        acknowledged.len() > 1000,
        "the appends got going ({} acknowledged)",
        acknowledged.len()
    );
    let checkpoint = ok(&["log", "checkpoint", "--dir", p(&log)]);
    let report = ok(&["log", "verify", p(&log), "--vkey", vkey.trim()]);
    check_acknowledged(&log, &acknowledged);
    println!("{kills} kills, {} acknowledged entries, {report}", acknowledged.len());
    assert!(checkpoint.starts_with("juki.test/crash\n"));
}
