//! The network under faults, with real node processes on loopback: the national node killed
//! and restarted in the middle of a busy day, the prefecture stopped for a while, a town's node
//! killed while it is sending. Afterwards every acknowledged change is present exactly once at
//! every tier, and the mirrors hold exactly the towns' events and residents.
//!
//! Also: `juki demo --exit` itself, whose scenario ends by checking that every tier agrees,
//! which leaves real addresses in network.json, no report behind, every directory and
//! database readable by its owner alone, and every key a person would hold sealed, with its
//! passphrase in the owner-only passphrases file the demo names.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::{Duration, Instant};

use support::{juki, ok, p};
use testbed::processes::Nodes;

const TOWNS: [(&str, &str); 3] =
    [("achi", "204072"), ("shimosuwa", "203611"), ("matsumoto", "202029")];

/// Starts the network's processes as the testbed does: each reports where it listens, and
/// network.json is rewritten with those addresses after every (re)start.
fn start_all(dir: &Path) -> Nodes {
    testbed::use_binary(env!("CARGO_BIN_EXE_juki"));
    let network = testbed::setup::Network::load(dir).expect("network.json");
    Nodes::start(&network).expect("starting the network")
}

fn build(dir: &Path) {
    let out = ok(&["demo", "--dir", p(dir), "--residents", "30", "--exit", "--no-drills"]);
    assert!(out.contains("ok    every tier agrees"), "{out}");
    assert!(!out.contains("FAIL"), "{out}");
}

fn lines(path: &Path) -> Vec<(String, u64)> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(code, index)| (code.to_owned(), index.parse().unwrap()))
        .collect()
}

fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what} did not happen within {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_demo_day_ends_with_every_tier_agreeing() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(&["demo", "--dir", p(dir.path()), "--residents", "90", "--exit"]);
    for step in [
        "register 90 synthetic residents",
        "a move from 下諏訪町 to 阿智村",
        "a wide-area copy (広域交付)",
        "the agency asks for the resident who moved",
        "every tier agrees",
        "the move notice (転入通知) is recorded at 下諏訪町",
        "the mirrors hold exactly the towns' events and residents",
    ] {
        assert!(out.contains(&format!("ok    {step}")), "missing step {step:?}:\n{out}");
    }
    assert!(!out.contains("FAIL"), "{out}");
    // The demo ends with the drills' table: every attack blocked or detected, nothing lost.
    let table = out.split_once("the Nagano drills").expect("the drills ran").1;
    for drill in testbed::drill::DRILLS {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("{} ", drill.name)))
            .unwrap_or_else(|| panic!("no row for {}:\n{table}", drill.name));
        assert!(row.contains("blocked") || row.contains("detected"), "{row}");
        assert!(row.contains(" none "), "{row}");
        assert!(!row.contains("MISSED") && !row.contains("BROKEN"), "{row}");
    }
    let network: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("network.json")).unwrap())
            .unwrap();
    let nodes = network["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 6);
    for node in nodes {
        for key in ["name", "role", "api_url", "logs"] {
            assert!(!node[key].is_null(), "network.json: a node without {key}");
        }
        // The addresses the nodes reported when they last ran, not report: URLs.
        for key in ["api_url", "network_url", "public_url"] {
            assert!(real_url(&node[key]), "network.json: {key} {}", node[key]);
        }
        for log in node["logs"].as_array().unwrap() {
            assert!(log["vkey"].as_str().unwrap().starts_with(log["origin"].as_str().unwrap()));
            assert!(real_url(&log["url"]), "network.json: a log at {}", log["url"]);
        }
    }
    for witness in network["witnesses"].as_array().unwrap() {
        let url = witness["url"].as_str().unwrap();
        assert!(url.starts_with("http://127.0.0.1:"), "network.json: the witness at {url}");
    }
    assert!(Path::new(network["ca"].as_str().unwrap()).exists());
    // Stopped cleanly: no report is left behind.
    let left = reports(dir.path());
    assert!(left.is_empty(), "reports left after the demo stopped: {left:?}");
    only_the_owner_reads(dir.path());
    the_keys_people_hold_are_sealed(dir.path(), &out);
}

/// The CA key, each town's admin key and its operators' keys are sealed: none opens without
/// its passphrase or with a wrong one, each opens with the one in the passphrases file, which
/// the demo names and only its owner can read. Keys that sign unattended are not sealed.
fn the_keys_people_hold_are_sealed(dir: &Path, out: &str) {
    let file = dir.join("credentials/passphrases.json");
    assert!(out.contains(&file.display().to_string()), "the demo names {}:\n{out}", file.display());
    assert_eq!(fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let passphrases: BTreeMap<String, String> =
        serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
    let mut held = vec!["ca/ca.key".to_owned(), "credentials/monitor/administrator.key".to_owned()];
    for (name, _) in TOWNS {
        for key in ["admin", "clerk", "supervisor"] {
            held.push(format!("credentials/{name}/{key}.key"));
        }
    }
    held.sort();
    assert_eq!(passphrases.keys().collect::<Vec<_>>(), held.iter().collect::<Vec<_>>());
    let wrong = "a wrong passphrase of good length";
    for key in &held {
        let path = dir.join(key);
        let passphrase = &passphrases[key];
        assert!(keyfile::is_sealed(&path).unwrap(), "{key} is sealed");
        let text = fs::read_to_string(&path).unwrap();
        assert!(!text.contains("PRIVATE"), "{key} holds its secret in the clear");
        assert!(
            matches!(keyfile::read(&path, None), Err(keyfile::KeyFileError::NeedsPassphrase(_))),
            "{key} opens without its passphrase"
        );
        assert!(
            matches!(
                keyfile::read(&path, Some(wrong)),
                Err(keyfile::KeyFileError::WrongPassphrase(_))
            ),
            "{key} opens with a wrong passphrase"
        );
        let secret = keyfile::read(&path, Some(passphrase)).expect("opens with its passphrase");
        assert!(
            secret.starts_with("PRIVATE+KEY+") || secret.starts_with("-----BEGIN PRIVATE KEY-----"),
            "{key} holds a key"
        );
        keyfile::policy::check(passphrase, &[]).expect("a passphrase the policy accepts");
    }
    let clerk = dir.join("credentials/achi/clerk.key");
    let signer = testbed::passphrases::load_signer(dir, &clerk).unwrap();
    assert!(signer.name().starts_with("op.204072."), "{}", signer.name());
    // The keys that sign unattended are not sealed, and readable by their owner alone.
    for key in [
        "nodes/achi/node.key",
        "nodes/achi/provisions.key",
        "nodes/signer/national.key",
        "nodes/national/node.key",
        "nodes/nagano/tls/node.key",
        "credentials/achi/console.key",
        "witness/witness.key",
    ] {
        let path = dir.join(key);
        assert!(!keyfile::is_sealed(&path).unwrap(), "{key} signs unattended");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600, "{key}");
    }
    // No passphrase is written anywhere else: not in network.json, not in a node's log.
    let mut elsewhere = vec![dir.join("network.json"), dir.join("witness/witness.log")];
    elsewhere.extend(TOWNS.iter().map(|(name, _)| dir.join("nodes").join(name).join("node.log")));
    for path in elsewhere {
        let text = fs::read_to_string(&path).unwrap_or_default();
        for (key, passphrase) in &passphrases {
            assert!(
                !text.contains(passphrase.as_str()),
                "{key}'s passphrase in {}",
                path.display()
            );
        }
    }
}

/// Whether a network.json URL is a real `https://127.0.0.1:PORT…` one.
fn real_url(url: &serde_json::Value) -> bool {
    url.as_str().and_then(|u| u.strip_prefix("https://127.0.0.1:")).is_some_and(|rest| {
        rest.split('/').next().is_some_and(|port| port.parse::<u16>().is_ok_and(|p| p != 0))
    })
}

/// The report files of the network in `dir` (of the processes that run, or were killed).
fn reports(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = fs::read_dir(dir.join("nodes"))
        .unwrap()
        .map(|e| e.unwrap().path().join("node.report.json"))
        .chain([dir.join("witness/witness.report.json")])
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found
}

/// Requires every directory under `dir` and every database (`*.db` and its `-wal`/`-shm`) to
/// be readable by its owner alone.
fn only_the_owner_reads(dir: &Path) {
    let mut checked = (0, 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = fs::symlink_metadata(&path).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        if meta.is_dir() {
            if path != dir {
                assert_eq!(mode & 0o077, 0, "{} is mode {mode:o}", path.display());
                checked.0 += 1;
            }
            stack.extend(fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if name.ends_with(".db") || name.ends_with(".db-wal") || name.ends_with(".db-shm") {
            assert_eq!(mode & 0o077, 0, "{} is mode {mode:o}", path.display());
            checked.1 += 1;
        }
    }
    // The CA, the credentials, six nodes with their mirrors and tiles, the witness.
    assert!(checked.0 > 20 && checked.1 >= 12, "checked {checked:?} (directories, databases)");
}

#[test]
fn acknowledged_changes_survive_killed_and_stopped_nodes_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let mut nodes = start_all(dir.path());
    ok(&["network", "agree", "--dir", p(dir.path()), "--within", "60"]);

    // A busy day: three clerks registering at once.
    let per_town = 300;
    let mut loads = Vec::new();
    for (i, (name, code)) in TOWNS.iter().enumerate() {
        let out = dir.path().join(format!("acked-{name}.txt"));
        let child = juki()
            .args([
                "network",
                "load",
                "--dir",
                p(dir.path()),
                "--town",
                code,
                "--count",
                &per_town.to_string(),
                "--seed",
            ])
            .arg((i + 1).to_string())
            .stdout(fs::File::create(&out).unwrap())
            .stderr(fs::File::create(dir.path().join(format!("load-{name}.log"))).unwrap())
            .spawn()
            .unwrap();
        loads.push((out, child));
    }
    let acked = |n: usize| {
        let loads = &loads;
        move || loads.iter().all(|(out, _)| lines(out).len() >= n)
    };

    wait_for("50 changes per town", Duration::from_secs(60), acked(50));
    nodes.kill("national");
    std::thread::sleep(Duration::from_millis(700));
    nodes.start_one("national").expect("restarting the national node");

    wait_for("100 changes per town", Duration::from_secs(60), acked(100));
    nodes.kill("nagano");
    wait_for("150 changes per town", Duration::from_secs(60), acked(150));
    std::thread::sleep(Duration::from_secs(2));
    nodes.start_one("nagano").expect("restarting the prefecture");

    wait_for("200 changes per town", Duration::from_secs(60), acked(200));
    nodes.kill("achi");
    std::thread::sleep(Duration::from_millis(500));
    nodes.start_one("achi").expect("restarting 阿智村");

    for (out, child) in &mut loads {
        let status = child.wait().unwrap();
        assert!(status.success(), "a clerk's load failed; see {}", out.display());
    }
    ok(&["network", "agree", "--dir", p(dir.path()), "--within", "90"]);
    drop(nodes);
    let compared = ok(&["network", "compare", "--dir", p(dir.path())]);
    assert!(compared.contains("databases agree"), "{compared}");

    for (name, code) in TOWNS {
        let acked = lines(&dir.path().join(format!("acked-{name}.txt")));
        assert_eq!(acked.len(), per_town, "{name}: every change was acknowledged once");
        for tier in [
            format!("nodes/{name}/registry.db"),
            format!("nodes/nagano/mirrors/{code}/registry.db"),
            format!("nodes/national/mirrors/{code}/registry.db"),
        ] {
            let conn = rusqlite::Connection::open(dir.path().join(&tier)).unwrap();
            let duplicates: i64 = conn
                .query_row("SELECT count(*) - count(DISTINCT note) FROM events", [], |r| r.get(0))
                .unwrap();
            assert_eq!(duplicates, 0, "{tier}: an event applied twice");
            for (resident, index) in &acked {
                let (idx, history): (i64, i64) = conn
                    .query_row(
                        "SELECT event_idx, history FROM residents WHERE code = ?1",
                        [resident],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .unwrap_or_else(|e| {
                        panic!("{tier}: acknowledged resident {resident} is missing: {e}")
                    });
                assert_eq!((idx as u64, history), (*index, 1), "{tier}: {resident}");
            }
        }
    }
}

#[test]
fn a_node_that_exits_before_it_reports_is_named_with_its_log() {
    let dir = tempfile::tempdir().unwrap();
    testbed::use_binary(env!("CARGO_BIN_EXE_juki"));
    let network = testbed::setup::create(dir.path()).expect("building a network");
    // The prefecture cannot start: its TLS key is gone.
    let key = dir.path().join("nodes/nagano/tls/node.key");
    fs::remove_file(&key).unwrap();
    let error = match Nodes::start(&network) {
        Ok(_) => panic!("the network started without the prefecture's key"),
        Err(e) => format!("{e:#}"),
    };
    let log = dir.path().join("nodes/nagano/node.log");
    assert!(error.contains("nagano"), "{error}");
    assert!(error.contains("exited"), "{error}");
    assert!(error.contains(&log.display().to_string()), "the error names the log: {error}");
    assert!(error.contains("node.key"), "the error shows the log's tail: {error}");
    // What had started before it is stopped again: its report is gone.
    let left = reports(dir.path());
    assert!(left.is_empty(), "reports left after a failed start: {left:?}");
}
