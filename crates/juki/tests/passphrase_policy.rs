//! The passphrase policy on the command line: every command that seals a new key (`juki key
//! generate`, also for an operator's own key, `juki init municipal`, `juki pki init-ca`) refuses a
//! passphrase that is too short, repeated, sequential, common or breached, or names its key,
//! with an error that says which rule it broke (and never the passphrase), and writes nothing.

mod support;

use std::path::Path;
use std::process::Output;

use support::{failed, juki, p, succeeded};

/// A passphrase every rule accepts.
const GOOD: &str = "plum blossom at the counter";

/// Runs `juki ARGS` with the passphrase in the variable `NEW_PW`.
fn with_passphrase(args: &[&str], passphrase: &str) -> Output {
    juki().args(args).env("NEW_PW", passphrase).output().expect("running juki")
}

/// Requires the command to fail, naming the variable and the rule but not the passphrase.
fn refused(args: &[&str], passphrase: &str, rule: &str) {
    let stderr = failed(args, &with_passphrase(args, passphrase));
    assert!(stderr.contains("the passphrase in NEW_PW cannot seal"), "{passphrase:?}: {stderr}");
    assert!(stderr.contains(rule), "{passphrase:?} should be refused as {rule:?}: {stderr}");
    assert!(!stderr.contains(passphrase.trim()), "the error repeats the passphrase: {stderr}");
}

/// The weak passphrases and the words of the rule that refuses each.
const WEAK: [(&str, &str); 6] = [
    ("short pass", "too short: use at least 12 characters"),
    ("aaaaaaaaaaaaaaaa", "repeats one character"),
    ("abababababababab", "repeats one character or a short group"),
    ("123456789012", "is a sequence"),
    ("iloveyoubaby", "list of common and breached passwords"),
    ("PasswordPassword", "list of common and breached passwords"),
];

#[test]
fn key_generate_refuses_weak_passphrases_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("operator.key");
    let name = "op.204072.juki.local/tanaka";
    let args = ["key", "generate", "--name", name, "--out", p(&key), "--passphrase-env", "NEW_PW"];
    let weak = WEAK.iter().copied().chain([
        ("tanaka at the counter", "contains the key's name or a word of it"),
        ("village 204072 winter", "contains the key's name or a word of it"),
        ("my operator key for today", "contains the key's name or a word of it"),
    ]);
    for (passphrase, rule) in weak {
        refused(&args, passphrase, rule);
        assert!(!key.exists(), "{passphrase:?}: no key file is written");
    }
    let vkey = succeeded(&args, with_passphrase(&args, GOOD));
    assert!(vkey.starts_with(name), "{vkey}");
    assert!(keyfile::is_sealed(&key).unwrap());
    assert!(keyfile::read(&key, Some(GOOD)).unwrap().starts_with("PRIVATE+KEY+"));
}

#[test]
fn init_municipal_refuses_a_weak_admin_passphrase_and_makes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, admin) = (tmp.path().join("achi"), tmp.path().join("admin.key"));
    let national = tmp.path().join("national.key");
    let args = [
        "init",
        "municipal",
        "--code",
        "204072",
        "--dir",
        p(&dir),
        "--admin-out",
        p(&admin),
        "--national-key-out",
        p(&national),
        "--passphrase-env",
        "NEW_PW",
    ];
    for (passphrase, rule) in WEAK.iter().copied().chain([
        ("the admin of the village", "contains the key's name"),
        ("national archive copies", "contains the key's name"),
    ]) {
        refused(&args, passphrase, rule);
        for made in [&dir, &admin, &national] {
            assert!(!made.exists(), "{passphrase:?}: {} was made", made.display());
        }
    }
    succeeded(&args, with_passphrase(&args, GOOD));
    assert!(keyfile::is_sealed(&admin).unwrap() && keyfile::is_sealed(&national).unwrap());
}

#[test]
fn operators_seal_their_own_keys_and_the_admin_makes_none() {
    let tmp = tempfile::tempdir().unwrap();
    let admin = tmp.path().join("admin.key");
    let make_admin = [
        "key",
        "generate",
        "--name",
        "admin.204072.juki.local",
        "--out",
        p(&admin),
        "--passphrase-env",
        "NEW_PW",
    ];
    succeeded(&make_admin, with_passphrase(&make_admin, GOOD));
    // The admin no longer generates an operator's key: an enrolment takes the verifier key
    // the operator made, and seals nothing.
    let key = tmp.path().join("suzuki.key");
    let old_way = [
        "operator",
        "enroll",
        "--admin-key",
        p(&admin),
        "--name",
        "suzuki",
        "--role",
        "supervisor",
        "--out",
        p(&key),
        "--passphrase-env",
        "NEW_PW",
    ];
    let stderr = failed(&old_way, &with_passphrase(&old_way, GOOD));
    assert!(stderr.contains("unexpected argument"), "{stderr}");
    assert!(!key.exists(), "no key file is written");
    // The operator makes it, sealed by the policy (`key_generate_refuses_weak_passphrases…`);
    // one written without a passphrase is named as not sealed.
    let plain = tmp.path().join("sato.key");
    let args = ["key", "generate", "--name", "op.204072.juki.local/sato", "--out", p(&plain)];
    let output = juki().args(args).output().unwrap();
    succeeded(&args, output.clone());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is NOT sealed") && stderr.contains("--passphrase-env"), "{stderr}");
    assert!(!keyfile::is_sealed(&plain).unwrap());
}

#[test]
fn pki_init_ca_refuses_a_weak_passphrase_and_makes_no_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = tmp.path().join("ca");
    let args = [
        "pki",
        "init-ca",
        "--dir",
        p(&ca),
        "--name",
        "Nagano network CA",
        "--passphrase-env",
        "NEW_PW",
    ];
    for (passphrase, rule) in WEAK.iter().copied().chain([("our nagano root key", "key's name")]) {
        refused(&args, passphrase, rule);
        assert!(!ca.exists(), "{passphrase:?}: no CA is made");
        assert_no_partial(tmp.path());
    }
    succeeded(&args, with_passphrase(&args, GOOD));
    assert!(keyfile::is_sealed(&ca.join("ca.key")).unwrap());
}

/// No half-made CA is left beside it.
fn assert_no_partial(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
