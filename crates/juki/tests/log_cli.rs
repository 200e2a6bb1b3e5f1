//! The `juki log` and `juki witness` commands end to end, as scripts and outside auditors use
//! them: real processes, real files, real HTTP on loopback.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use tlog_store::entries::{EntryReader as _, SqliteEntries};

mod support;
use support::{fails, juki, ok, p};

/// A key and a log directory in a temporary directory.
struct Fixture {
    dir: tempfile::TempDir,
    vkey: String,
}

impl Fixture {
    fn new(origin: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("log.key");
        let vkey = ok(&["key", "generate", "--name", origin, "--out", p(&key)]).trim().to_owned();
        ok(&[
            "log",
            "new",
            "--dir",
            p(&dir.path().join("log")),
            "--origin",
            origin,
            "--key",
            p(&key),
        ]);
        Fixture { dir, vkey }
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("log")
    }

    fn append_lines(&self, lines: &str) -> String {
        let mut child = juki()
            .args(["log", "append", "--dir", p(&self.log())])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(lines.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap()
    }
}

/// A server process whose first stdout line is `listening on URL…`; killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = juki().args(args).stdout(Stdio::piped()).spawn().unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        let url = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned();
        Server { child, url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Appends one generated line per number through `juki log append`'s stdin.
fn append_generated(log: &Path, numbers: std::ops::Range<u32>) {
    let mut child = juki()
        .args(["log", "append", "--quiet", "--dir", p(log)])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = std::io::BufWriter::new(child.stdin.take().unwrap());
    for i in numbers {
        writeln!(stdin, "resident-change {i:07} {}", "x".repeat((i % 64) as usize)).unwrap();
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_million_entries_are_appended_checkpointed_served_and_verified_whole() {
    let fixture = Fixture::new("juki.test/million");
    let log = fixture.log();
    append_generated(&log, 0..400_000);
    ok(&["log", "checkpoint", "--dir", p(&log)]);
    let earlier = fixture.dir.path().join("earlier.checkpoint");
    std::fs::copy(log.join("tlog/checkpoint"), &earlier).unwrap();
    append_generated(&log, 400_000..1_000_000);
    let checkpoint = ok(&["log", "checkpoint", "--dir", p(&log)]);
    assert!(checkpoint.starts_with("juki.test/million\n1000000\n"), "{checkpoint}");

    let server = Server::start(&["log", "serve", "--dir", p(&log), "--listen", "127.0.0.1:0"]);
    let report =
        ok(&["log", "verify", &server.url, "--vkey", &fixture.vkey, "--since", p(&earlier)]);
    assert!(report.contains("verified juki.test/million: 1000000 entries"), "{report}");
    assert!(report.contains("3907 entry bundles"), "{report}");
    assert!(report.contains("consistent with the earlier checkpoint at size 400000"), "{report}");
    // The same log verifies from its directory, as an auditor with a copy would.
    let report = ok(&["log", "verify", p(&log), "--vkey", &fixture.vkey]);
    assert!(report.contains("1000000 entries"), "{report}");
}

#[test]
fn receipts_and_consistency_proofs_come_from_the_cli() {
    let fixture = Fixture::new("juki.test/receipts");
    let log = fixture.log();
    let indexes = fixture.append_lines("alpha\nbeta\n\ngamma\n");
    assert_eq!(indexes, "0\n1\n2\n3\n", "an empty line is an entry too");
    ok(&["log", "checkpoint", "--dir", p(&log)]);
    let receipt = ok(&["log", "prove", "inclusion", "--dir", p(&log), "--index", "3"]);
    let path = fixture.dir.path().join("gamma.tlog-proof");
    std::fs::write(&path, &receipt).unwrap();
    let out = ok(&["log", "verify-receipt", p(&path), "--vkey", &fixture.vkey]);
    assert!(out.contains("entry 3 is in juki.test/receipts at size 4"), "{out}");

    let other = fixture.dir.path().join("other");
    std::fs::write(&other, "delta").unwrap();
    let error =
        fails(&["log", "verify-receipt", p(&path), "--vkey", &fixture.vkey, "--entry", p(&other)]);
    assert!(error.contains("does not verify"), "{error}");
    let tampered = receipt.replace("index 3", "index 2");
    std::fs::write(&path, tampered).unwrap();
    fails(&["log", "verify-receipt", p(&path), "--vkey", &fixture.vkey]);

    let proof = ok(&["log", "prove", "consistency", "--dir", p(&log), "--old", "1"]);
    assert_eq!(proof.lines().count(), 2, "{proof}");
    let error = fails(&["log", "prove", "consistency", "--dir", p(&log), "--old", "5"]);
    assert!(error.contains("never shrinks"), "{error}");
    let error = fails(&["log", "prove", "inclusion", "--dir", p(&log), "--index", "4"]);
    assert!(error.contains("not in the checkpointed tree"), "{error}");
}

#[test]
fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let fixture = Fixture::new("juki.test/bad");
    let log = fixture.log();
    fixture.append_lines("one\ntwo\n");
    ok(&["log", "checkpoint", "--dir", p(&log)]);
    let checkpoint = std::fs::read(log.join("tlog/checkpoint")).unwrap();

    // An oversized entry: nothing is appended.
    let big = fixture.dir.path().join("big");
    std::fs::write(&big, vec![b'x'; 65_536]).unwrap();
    let small = fixture.dir.path().join("small");
    std::fs::write(&small, b"fine").unwrap();
    let error = fails(&["log", "append", "--dir", p(&log), p(&small), p(&big)]);
    assert!(error.contains("at most 65535"), "{error}");
    assert_eq!(SqliteEntries::open(&log.join("entries.db")).unwrap().entry_count().unwrap(), 2);

    // A log directory cannot be created twice; a key must be named after the origin.
    let key = fixture.dir.path().join("log.key");
    let error =
        fails(&["log", "new", "--dir", p(&log), "--origin", "juki.test/bad", "--key", p(&key)]);
    assert!(error.contains("already holds a log"), "{error}");
    let error = fails(&[
        "log",
        "new",
        "--dir",
        p(&fixture.dir.path().join("x")),
        "--origin",
        "juki.test/other",
        "--key",
        p(&key),
    ]);
    assert!(error.contains("named after its origin"), "{error}");

    // Verification with the wrong key, a malformed or foreign earlier checkpoint, a
    // checkpoint that went backwards.
    let stranger = fixture.dir.path().join("stranger.key");
    let wrong = ok(&["key", "generate", "--name", "juki.test/bad", "--out", p(&stranger)]);
    let error = fails(&["log", "verify", p(&log), "--vkey", wrong.trim()]);
    assert!(error.contains("checkpoint"), "{error}");
    let error = fails(&["log", "verify", p(&log), "--vkey", "juki.test/bad+00000000+AAAA"]);
    assert!(error.contains("--vkey"), "{error}");
    let garbage = fixture.dir.path().join("garbage");
    std::fs::write(&garbage, "not a checkpoint\n").unwrap();
    let error = fails(&["log", "verify", p(&log), "--vkey", &fixture.vkey, "--since", p(&garbage)]);
    assert!(error.contains("earlier checkpoint"), "{error}");
    let later = fixture.dir.path().join("later");
    fixture.append_lines("three\n");
    ok(&["log", "checkpoint", "--dir", p(&log)]);
    std::fs::copy(log.join("tlog/checkpoint"), &later).unwrap();
    // Serve the older state: a copy of the log as it was at size 2.
    let old_copy = fixture.dir.path().join("old-copy");
    std::fs::create_dir_all(&old_copy).unwrap();
    std::fs::write(old_copy.join("checkpoint"), &checkpoint).unwrap();
    copy_dir(&log.join("tlog/tile"), &old_copy.join("tile"));
    let error =
        fails(&["log", "verify", p(&old_copy), "--vkey", &fixture.vkey, "--since", p(&later)]);
    assert!(error.contains("went backwards"), "{error}");

    // A tile of the wrong size, and a tampered entry bundle, are named.
    let tile = log.join("tlog/tile/0/000.p/3");
    let original = std::fs::read(&tile).unwrap();
    std::fs::write(&tile, &original[..90]).unwrap();
    let error = fails(&["log", "verify", p(&log), "--vkey", &fixture.vkey]);
    assert!(error.contains("tile/0/000.p/3 should be 96 bytes but is 90"), "{error}");
    std::fs::write(&tile, &original).unwrap();
    let bundle = log.join("tlog/tile/entries/000.p/3");
    let mut bytes = std::fs::read(&bundle).unwrap();
    bytes[3] ^= 0x20;
    std::fs::write(&bundle, &bytes).unwrap();
    let error = fails(&["log", "verify", p(&log), "--vkey", &fixture.vkey]);
    assert!(error.contains("entry 0 does not match"), "{error}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for item in std::fs::read_dir(from).unwrap() {
        let item = item.unwrap();
        let target = to.join(item.file_name());
        if item.file_type().unwrap().is_dir() {
            copy_dir(&item.path(), &target);
        } else {
            std::fs::copy(item.path(), target).unwrap();
        }
    }
}

#[test]
fn sealed_keys_need_their_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("sealed.key");
    let vkey = juki()
        .args([
            "key",
            "generate",
            "--name",
            "juki.test/sealed",
            "--out",
            p(&key),
            "--passphrase-env",
            "PASS",
        ])
        .env("PASS", "a long enough passphrase")
        .output()
        .unwrap();
    assert!(vkey.status.success(), "{}", String::from_utf8_lossy(&vkey.stderr));
    assert!(!std::fs::read_to_string(&key).unwrap().contains("PRIVATE+KEY"));
    let log = dir.path().join("log");
    let args = ["log", "new", "--dir", p(&log), "--origin", "juki.test/sealed", "--key", p(&key)];
    let error = juki().args(args).stdin(Stdio::null()).output().unwrap();
    assert!(!error.status.success());
    assert!(String::from_utf8_lossy(&error.stderr).contains("passphrase-protected"));
    let wrong = juki().args(args).env("JUKI_PASSPHRASE", "not the passphrase").output().unwrap();
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("wrong passphrase"));
    assert!(!log.join("log.toml").exists(), "a refused log new leaves nothing behind");
    let right =
        juki().args(args).env("JUKI_PASSPHRASE", "a long enough passphrase").output().unwrap();
    assert!(right.status.success(), "{}", String::from_utf8_lossy(&right.stderr));
    let error = fails(&["key", "generate", "--name", "juki.test/sealed", "--out", p(&key)]);
    assert!(error.contains("already exists"), "{error}");
}

/// The witness, its state in SQLite: cosigns a growing log through `juki log checkpoint`, keeps
/// its state across a restart, and refuses a fork of the same log, so the fork is never
/// published.
#[test]
fn witnessed_checkpoints_and_a_refused_fork() {
    witnessed_checkpoints_and_a_refused_fork_with("state = \"witness.db\"");
}

/// The same, with the witness's state in a PostgreSQL database of the test's own
/// (`storage = "postgres://…"`; skipped without `JUKI_TEST_PG_URL`).
#[test]
fn witnessed_checkpoints_and_a_refused_fork_on_postgres() {
    let Some(database) = store::test_database::TestDatabase::new("juki_witness_serve") else {
        return;
    };
    witnessed_checkpoints_and_a_refused_fork_with(&format!("storage = \"{}\"", database.url()));
}

/// The witness scenario, with `storage_line` choosing where the witness keeps its state.
fn witnessed_checkpoints_and_a_refused_fork_with(storage_line: &str) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let log_key = root.join("log.key");
    let origin = "juki.test/witnessed";
    let vkey = ok(&["key", "generate", "--name", origin, "--out", p(&log_key)]).trim().to_owned();
    let witness_key = root.join("witness.key");
    let witness_vkey = ok(&[
        "key",
        "generate",
        "--witness",
        "--name",
        "witness.juki.test/w1",
        "--out",
        p(&witness_key),
    ])
    .trim()
    .to_owned();
    let config = root.join("witness.toml");
    std::fs::write(
        &config,
        format!(
            "key = \"witness.key\"\nlisten = \"127.0.0.1:0\"\n{storage_line}\n\n[[log]]\norigin = \"{origin}\"\nvkeys = [\"{vkey}\"]\n"
        ),
    )
    .unwrap();
    let witness = Server::start(&["witness", "serve", "--config", p(&config)]);
    let spec = format!("{}={witness_vkey}", witness.url);

    let log = root.join("log");
    ok(&[
        "log",
        "new",
        "--dir",
        p(&log),
        "--origin",
        origin,
        "--key",
        p(&log_key),
        "--witness",
        &spec,
        "--quorum",
        "1",
    ]);
    let append = |dir: &Path, text: &str| {
        let mut child = juki()
            .args(["log", "append", "--quiet", "--dir", p(dir)])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        assert!(child.wait().unwrap().success());
    };
    append(&log, "a\nb\nc\n");
    let checkpoint = ok(&["log", "checkpoint", "--dir", p(&log)]);
    assert!(checkpoint.contains("— witness.juki.test/w1 "), "{checkpoint}");
    let verified = ok(&[
        "log",
        "verify",
        p(&log),
        "--vkey",
        &vkey,
        "--witness",
        &witness_vkey,
        "--quorum",
        "1",
    ]);
    assert!(verified.contains("cosigned by witness.juki.test/w1"), "{verified}");
    // Someone with the log's key copies the log here, to fork it later.
    let fork = root.join("fork");
    copy_dir(&log, &fork);

    // The witness restarts with its state; the log grows and is cosigned again.
    drop(witness);
    let config_text = std::fs::read_to_string(&config).unwrap();
    let port = spec.rsplit(':').next().unwrap().split('=').next().unwrap().to_owned();
    std::fs::write(&config, config_text.replace("127.0.0.1:0", &format!("127.0.0.1:{port}")))
        .unwrap();
    let _witness = Server::start(&["witness", "serve", "--config", p(&config)]);
    append(&log, &"d\n".repeat(600));
    let checkpoint = ok(&["log", "checkpoint", "--dir", p(&log)]);
    assert!(checkpoint.starts_with(&format!("{origin}\n603\n")), "{checkpoint}");
    assert!(checkpoint.contains("— witness.juki.test/w1 "), "{checkpoint}");

    // The fork: the same key and origin, the same first three entries, then others. The
    // witness refuses it (409: the size it cosigned, then the same size with another root),
    // so with a quorum of 1 the fork is never published.
    append(&fork, &"forged\n".repeat(600));
    let error = fails(&["log", "checkpoint", "--dir", p(&fork)]);
    assert!(error.contains("not published"), "{error}");
    let published = std::fs::read_to_string(fork.join("tlog/checkpoint")).unwrap();
    assert!(
        published.starts_with(&format!("{origin}\n3\n")),
        "the fork's last checkpoint stands: {published}"
    );
    // What the fork serves is still only the cosigned tree of size 3: the forged entries
    // never reach a published checkpoint.
    let served = ok(&[
        "log",
        "verify",
        p(&fork),
        "--vkey",
        &vkey,
        "--witness",
        &witness_vkey,
        "--quorum",
        "1",
    ]);
    assert!(served.contains(": 3 entries"), "{served}");
}

#[test]
fn lost_tiles_are_rebuilt_and_changed_entries_are_not_blessed() {
    let fixture = Fixture::new("juki.test/rebuild");
    let log = fixture.log();
    append_generated(&log, 0..1_000);
    ok(&["log", "checkpoint", "--dir", p(&log)]);
    std::fs::remove_dir_all(log.join("tlog/tile")).unwrap();
    let error = fails(&["log", "verify", p(&log), "--vkey", &fixture.vkey]);
    assert!(error.contains("no such tile"), "{error}");
    let out = ok(&["log", "rebuild", "--dir", p(&log)]);
    assert!(out.contains("at size 1000"), "{out}");
    ok(&["log", "verify", p(&log), "--vkey", &fixture.vkey]);

    let mut entries = SqliteEntries::open(&log.join("entries.db")).unwrap();
    entries.connection().execute("UPDATE log_entries SET entry = x'00' WHERE idx = 7", []).unwrap();
    let error = fails(&["log", "verify", p(&log), "--vkey", &fixture.vkey]);
    assert!(error.contains("entry 7 in the entries database does not match"), "{error}");
    let error = fails(&["log", "rebuild", "--dir", p(&log)]);
    assert!(error.contains("changed behind the log's back"), "{error}");
}
