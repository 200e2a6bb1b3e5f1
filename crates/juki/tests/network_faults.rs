//! The network under faults, with real node processes on loopback: the national node killed
//! and restarted in the middle of a busy day, the prefecture stopped for a while, a town's node
//! killed while it is sending. Afterwards every acknowledged change is present exactly once at
//! every tier, and the mirrors hold exactly the towns' events and residents.
//!
//! Also: `juki demo --exit` itself, whose scenario ends by checking that every tier agrees.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::{juki, ok, p};

const TOWNS: [(&str, &str); 3] =
    [("achi", "204072"), ("shimosuwa", "203611"), ("matsumoto", "202029")];

/// The network's node processes, killed when dropped.
struct Nodes {
    dir: PathBuf,
    children: BTreeMap<String, Child>,
}

impl Nodes {
    fn start_all(dir: &Path) -> Nodes {
        let mut nodes = Nodes { dir: dir.to_path_buf(), children: BTreeMap::new() };
        let witness = dir.join("witness");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(witness.join("witness.log"))
            .unwrap();
        let child = juki()
            .args(["witness", "serve", "--config", p(&witness.join("witness.toml"))])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting the witness");
        nodes.children.insert("witness".to_owned(), child);
        for name in ["national", "nagano", "achi", "shimosuwa", "matsumoto"] {
            nodes.start(name);
        }
        nodes
    }

    fn start(&mut self, name: &str) {
        let node_dir = self.dir.join("nodes").join(name);
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node_dir.join("node.log"))
            .unwrap();
        let child = juki()
            .args(["serve", "--config", p(&node_dir.join("node.toml"))])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting a node");
        self.children.insert(name.to_owned(), child);
    }

    /// SIGKILL: whatever a node acknowledged must survive it.
    fn kill(&mut self, name: &str) {
        if let Some(mut child) = self.children.remove(name) {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in self.children.values_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn build(dir: &Path) {
    let out = ok(&["demo", "--dir", p(dir), "--residents", "30", "--exit"]);
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
        "every tier agrees",
        "the move notice (転入通知) is recorded at 下諏訪町",
        "the mirrors hold exactly the towns' events and residents",
    ] {
        assert!(out.contains(&format!("ok    {step}")), "missing step {step:?}:\n{out}");
    }
    assert!(!out.contains("FAIL"), "{out}");
    let network: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("network.json")).unwrap())
            .unwrap();
    let nodes = network["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 5);
    for node in nodes {
        for key in ["name", "role", "api_url", "logs"] {
            assert!(!node[key].is_null(), "network.json: a node without {key}");
        }
        for log in node["logs"].as_array().unwrap() {
            assert!(log["vkey"].as_str().unwrap().starts_with(log["origin"].as_str().unwrap()));
        }
    }
    assert!(Path::new(network["ca"].as_str().unwrap()).exists());
}

#[test]
fn acknowledged_changes_survive_killed_and_stopped_nodes_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let mut nodes = Nodes::start_all(dir.path());
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
    nodes.start("national");

    wait_for("100 changes per town", Duration::from_secs(60), acked(100));
    nodes.kill("nagano");
    wait_for("150 changes per town", Duration::from_secs(60), acked(150));
    std::thread::sleep(Duration::from_secs(2));
    nodes.start("nagano");

    wait_for("200 changes per town", Duration::from_secs(60), acked(200));
    nodes.kill("achi");
    std::thread::sleep(Duration::from_millis(500));
    nodes.start("achi");

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
