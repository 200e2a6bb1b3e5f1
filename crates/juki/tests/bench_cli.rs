//! `juki bench` as a user runs it: the suite prints one table of every figure with each
//! target's verdict and the peers measured in the same run, and writes the same as JSON; an
//! unknown benchmark is refused with the names to choose from.

use std::process::{Command, Output};

fn juki(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_juki")).args(args).output().expect("running juki")
}

#[test]
fn the_suite_prints_one_table_and_writes_it_as_json() {
    let temp = tempfile::tempdir().unwrap();
    let json = temp.path().join("figures.json");
    let output = juki(&["bench", "--quick", "--only", "log", "--json", json.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "juki bench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The table: the peers first, then the log's figures with the targets.
    let table = stdout.split("== every figure").nth(1).expect("the table follows the run");
    for expected in [
        "openssl ed25519 verify",
        "pgbench -S",
        "durable append, 64 writers, 1 entry each",
        "#2 >= 10,000",
        "whole-tree verification from a directory",
        "#2 >= 2,000,000",
        "targets met: ",
    ] {
        assert!(table.contains(expected), "no `{expected}` in the table:\n{table}");
    }

    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).expect("the JSON parses");
    assert_eq!(report["quick"], true);
    assert_eq!(report["benches"][0]["name"], "log");
    assert!(report["benches"][0].get("failed").is_none(), "{report:#}");
    // Every peer was measured or says why not (a machine without PostgreSQL says so).
    let peers = report["peers"].as_array().unwrap();
    assert_eq!(peers.len(), 3);
    for peer in peers {
        assert!(
            peer["value"].as_f64().is_some_and(|v| v > 0.0) || peer["not_measured"].is_string(),
            "{peer:#}"
        );
    }
    let figures = report["figures"].as_array().unwrap();
    assert!(figures.iter().all(|f| f["bench"] == "log"));
    let verification = figures
        .iter()
        .find(|f| f["name"] == "whole-tree verification from a directory")
        .expect("the verification figure");
    assert_eq!(verification["issue"], 2);
    assert_eq!(verification["target"]["at-least"], 2_000_000.0);
    assert!(verification["value"].as_f64().unwrap() > 0.0);
}

#[test]
fn an_unknown_benchmark_is_refused_with_the_choices() {
    let temp = tempfile::tempdir().unwrap();
    let json = temp.path().join("figures.json");
    let output = juki(&["bench", "--only", "log,nope", "--json", json.to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no benchmark `nope`"), "{stderr}");
    assert!(stderr.contains("log, registry, lookup"), "{stderr}");
    assert!(!json.exists(), "a refused run wrote its JSON");
}
