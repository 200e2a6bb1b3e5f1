//! Every drill of `juki drill` as an integration test against a network of real node processes:
//! the attack is blocked, or an alert with the right code reaches the national alert log within
//! five seconds (measured and printed); nothing acknowledged is lost; and afterwards the town
//! records a change that reaches every tier again (released by the national administrator
//! where the national node quarantined it).

mod support;

use support::{ok, p};
use testbed::drill::{ALERT_TARGET, Verdict};
use testbed::processes::Nodes;
use testbed::setup::Network;
use wire::errors::{Code, Severity};

/// Plays drill `name` on a network of its own, and checks its verdict and the code that blocked
/// or revealed it.
fn drill(name: &str, expected: Verdict, code: Option<Code>) {
    let dir = tempfile::tempdir().unwrap();
    ok(&["demo", "--dir", p(dir.path()), "--residents", "30", "--exit", "--no-drills"]);
    testbed::use_binary(env!("CARGO_BIN_EXE_juki"));
    let mut nodes = Nodes::start(&Network::load(dir.path()).unwrap()).unwrap();
    let network = nodes.network().clone();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let played = runtime.block_on(async {
        let stage = testbed::drill::Stage::new(&network)?;
        testbed::drill::play(&stage, testbed::drill::drill(name)?).await
    });
    nodes.stop();
    let played = played.unwrap();
    print!("{}", testbed::drill::table(std::slice::from_ref(&played)));
    assert_eq!(played.verdict, expected, "{name}");
    match &played.alert {
        Some((alert, took)) => {
            println!("{name}: the {} alert reached the national node in {took:?}", alert.kind);
            let code = code.expect("an alert's code");
            assert_eq!(alert.kind, code.as_str(), "{name}: {alert:?}");
            assert!(*took <= ALERT_TARGET, "{name}: the alert took {took:?}");
            assert_eq!(alert.severity, code.severity(), "{name}");
            assert!(!alert.detail.is_empty(), "{name}: an alert carries its evidence");
        }
        // Blocked without a refusal's code: a replayed batch is acknowledged, never applied.
        None => assert_eq!(played.refusal, code, "{name}"),
    }
    if played.verdict == Verdict::BlockedAndDetected {
        assert!(played.refusal.is_some(), "{name}: what blocked it");
    }
    // A critical alert about the town quarantined it; the administrator released it.
    let critical =
        played.alert.as_ref().is_some_and(|(a, _)| a.severity == Some(Severity::Critical));
    assert_eq!(played.quarantined, critical, "{name}: quarantine");
    assert_eq!(played.nothing_lost, Ok(()), "{name}: nothing acknowledged is lost");
    assert_eq!(played.works_again, Ok(()), "{name}: the network works again");
}

#[test]
fn a_planted_forged_checkpoint() {
    drill("forged-checkpoint", Verdict::Detected, Some(Code::ForgedPublication));
}

#[test]
fn a_resident_s_address_changed_in_the_database() {
    drill("edit-address", Verdict::Detected, Some(Code::Tampered));
}

#[test]
fn a_resident_deleted_from_the_database() {
    drill("delete-resident", Verdict::Detected, Some(Code::Tampered));
}

#[test]
fn a_fake_resident_inserted_into_the_database() {
    drill("insert-resident", Verdict::Detected, Some(Code::Tampered));
}

#[test]
fn an_old_signed_event_rewritten_in_the_database() {
    drill("edit-event", Verdict::Detected, Some(Code::Tampered));
}

#[test]
fn a_code_reused_after_its_rows_were_deleted() {
    drill("code-reuse", Verdict::BlockedAndDetected, Some(Code::Tampered));
}

#[test]
fn a_stolen_console_certificate_without_an_operator_key() {
    drill("stolen-certificate", Verdict::BlockedAndDetected, Some(Code::UnauthorisedEvent));
}

#[test]
fn a_stolen_console_certificate_reading_without_an_operator_key() {
    drill("stolen-certificate-read", Verdict::BlockedAndDetected, Some(Code::UnsignedRead));
}

#[test]
fn one_stolen_key_for_a_change_that_needs_two_people() {
    drill("one-key-for-two", Verdict::BlockedAndDetected, Some(Code::UnauthorisedEvent));
}

#[test]
fn a_town_sending_changes_for_another_town() {
    drill("foreign-town", Verdict::BlockedAndDetected, Some(Code::WrongSender));
}

#[test]
fn a_replayed_batch() {
    drill("replayed-batch", Verdict::Blocked, None);
}

#[test]
fn a_certificate_of_the_wrong_role() {
    drill("wrong-role", Verdict::BlockedAndDetected, Some(Code::WrongPeer));
}

#[test]
fn a_client_without_a_certificate() {
    drill("no-certificate", Verdict::BlockedAndDetected, Some(Code::TlsRefused));
}

#[test]
fn an_agency_s_bulk_reads() {
    drill("agency-bulk", Verdict::Detected, Some(Code::ReadBurst));
}

#[test]
fn an_agency_walking_the_code_space() {
    drill("code-walking", Verdict::Detected, Some(Code::CodeWalking));
}

#[test]
fn an_agency_reading_outside_its_purpose_s_jurisdiction() {
    drill("out-of-jurisdiction", Verdict::BlockedAndDetected, Some(Code::OutOfJurisdiction));
}

#[test]
fn an_insider_s_bulk_lookups() {
    drill("insider-bulk", Verdict::Detected, Some(Code::ReadBurst));
}

/// An insider at 阿智村's console at night: ten lookups outside the office's hours are an
/// `off-hours` alert about her operator key at the national node within five seconds. (The
/// demo's counters are open day and night; here 阿智村 keeps an office's hours, placed twelve
/// hours from now.)
#[test]
fn an_insider_s_lookups_outside_office_hours() {
    let dir = tempfile::tempdir().unwrap();
    ok(&["demo", "--dir", p(dir.path()), "--residents", "30", "--exit", "--no-drills"]);
    let config = dir.path().join("nodes/achi/node.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let hour = (now.as_secs() / 3600 + 9 + 12) % 24;
    let hours = format!("office_hours = \"{hour:02}:00-{:02}:00\"", hour + 1);
    assert!(text.contains("office_hours = \"00:00-24:00\""), "{text}");
    std::fs::write(&config, text.replace("office_hours = \"00:00-24:00\"", &hours)).unwrap();
    testbed::use_binary(env!("CARGO_BIN_EXE_juki"));
    // The town's admin signs its manifest over the changed node.toml.
    let network = Network::load(dir.path()).unwrap();
    testbed::setup::sign_manifest(&network, "achi").unwrap();
    let mut nodes = Nodes::start(&network).unwrap();
    let network = nodes.network().clone();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let monitor = client::monitor::Monitor::new(&net::TlsFiles {
        ca: network.ca.clone(),
        crl: Some(network.ca_dir.join("crl.pem")),
        cert: network.monitor.cert.clone(),
        key: network.monitor.key.clone(),
    })
    .unwrap();
    let national = network.node("national").unwrap().network_url.clone();
    let clerk = testbed::setup::clerk(&network, "204072").unwrap();
    let clerk_name =
        testbed::passphrases::load_signer(dir.path(), &network.town("204072").unwrap().clerk_key)
            .unwrap()
            .name()
            .to_owned();
    let db = rusqlite::Connection::open(dir.path().join("nodes/achi/registry.db")).unwrap();
    let codes: Vec<String> = db
        .prepare("SELECT code FROM residents LIMIT 10")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(codes.len(), 10);
    let started = std::time::Instant::now();
    let took = runtime.block_on(async {
        for code in &codes {
            let code = registry_domain::ResidentCode::parse(code).unwrap();
            clerk.lookup(code, "address confirmation").await.unwrap();
        }
        loop {
            let alerts = monitor.alerts(&national, "urn:juki:national", 0).await.unwrap();
            if let Some(alert) = alerts.iter().find(|a| a.kind == "off-hours") {
                assert_eq!(alert.raised_by.as_deref(), Some("urn:juki:municipal:204072"));
                // The clerk is the actor: her operator key, not the console she sat at.
                assert_eq!(alert.peer, clerk_name);
                return started.elapsed();
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(30), "{alerts:?}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    });
    nodes.stop();
    println!("off-hours: the alert reached the national node {took:?} after the first lookup");
    assert!(took <= ALERT_TARGET, "{took:?}");
}

#[test]
fn a_fork_shown_to_the_national_node() {
    drill("fork", Verdict::BlockedAndDetected, Some(Code::Fork));
}
