//! `juki synth` as a user runs it: registry directories that `juki registry verify` accepts,
//! whose residents a search finds by their realistic names; JSON Lines that are the same for
//! the same seed, with valid, unique codes; and refusals that write nothing.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Output};

use registry_domain::ResidentCode;

fn juki(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_juki"))
        .env_remove("JUKI_PASSPHRASE")
        .args(args)
        .output()
        .expect("running juki")
}

fn ok(args: &[&str]) -> String {
    let output = juki(args);
    assert!(
        output.status.success(),
        "juki {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

#[test]
fn synth_writes_registries_that_verify() {
    let temp = tempfile::tempdir().unwrap();
    let out = temp.path().join("japan");
    let printed = ok(&[
        "synth",
        "--towns",
        "202011,204072",
        "--residents",
        "601",
        "--seed",
        "3",
        "--as-of",
        "2025-10-01",
        "--out",
        path(&out),
    ]);
    assert!(printed.contains("202011 長野市 301 residents"), "{printed}");
    assert!(printed.contains("204072 阿智村 300 residents"), "{printed}");
    assert!(printed.contains("601 residents registered"), "{printed}");
    for town in ["202011", "204072"] {
        let dir = out.join(town);
        let verified = ok(&["registry", "verify", "--dir", path(&dir)]);
        // Genesis, four clerks' enrolments, the code block, then one birth per resident.
        let events = 6 + if town == "202011" { 301 } else { 300 };
        assert!(verified.contains(&format!("{events} events replayed")), "{town}: {verified}");
        assert!(verified.contains("match the tiles and the checkpoint"), "{town}: {verified}");
    }
    for key in ["national.key", "admin.202011.key", "op.202011.clerk0.key", "op.204072.clerk3.key"]
    {
        assert!(out.join("keys").join(key).is_file(), "{key}");
    }

    // The residents are the ones --format jsonl prints for the same seed: a search by one's
    // reading finds it in the registry.
    let lines = ok(&[
        "synth",
        "--towns",
        "202011,204072",
        "--residents",
        "601",
        "--seed",
        "3",
        "--as-of",
        "2025-10-01",
        "--format",
        "jsonl",
    ]);
    let first: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    let found = ok(&[
        "resident",
        "search",
        "--dir",
        path(&out.join("202011")),
        "--key",
        path(&out.join("keys/op.202011.clerk0.key")),
        "--purpose",
        "synthetic population check",
        "--reading",
        first["reading"].as_str().unwrap(),
    ]);
    assert!(found.contains(first["resident"].as_str().unwrap()), "{found}");

    // The same --out again is refused and changes nothing.
    let again = juki(&["synth", "--towns", "202011", "--residents", "5", "--out", path(&out)]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a registry"));
    ok(&["registry", "verify", "--dir", path(&out.join("202011"))]);
}

#[test]
fn jsonl_is_deterministic_with_valid_unique_codes() {
    let args = [
        "synth",
        "--towns",
        "131016,011002,204072",
        "--residents",
        "3000",
        "--seed",
        "11",
        "--as-of",
        "2025-10-01",
        "--format",
        "jsonl",
    ];
    let a = ok(&args);
    let b = ok(&args);
    assert_eq!(a, b, "the same seed made other people");
    let mut codes = HashSet::new();
    let mut towns = HashSet::new();
    for line in a.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        let code = record["resident"].as_str().unwrap();
        ResidentCode::parse(code).expect("a valid check digit");
        assert!(codes.insert(code.to_owned()), "code {code} twice");
        towns.insert(record["municipality"].as_str().unwrap().to_owned());
        assert!(record["birth"].as_str().unwrap() <= "2025-10-01");
        assert!(record["name"].as_str().unwrap().contains(' '));
    }
    assert_eq!(codes.len(), 3000);
    assert_eq!(towns.len(), 3);
    let other = ok(&[
        "synth",
        "--towns",
        "131016,011002,204072",
        "--residents",
        "3000",
        "--seed",
        "12",
        "--as-of",
        "2025-10-01",
        "--format",
        "jsonl",
    ]);
    assert_ne!(a, other);
}

#[test]
fn bad_arguments_are_refused_and_write_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let out = temp.path().join("nothing");
    for args in [
        vec!["synth", "--towns", "999999", "--out", path(&out)],
        vec!["synth", "--towns", "202011,202011", "--out", path(&out)],
        vec!["synth", "--towns", "202011", "--as-of", "9999-01-01", "--out", path(&out)],
        vec!["synth", "--towns", "202011", "--residents", "20000000", "--out", path(&out)],
    ] {
        let output = juki(&args);
        assert!(!output.status.success(), "{args:?} succeeded");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with("error:"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!out.exists(), "{args:?} wrote {}", out.display());
    }
}
