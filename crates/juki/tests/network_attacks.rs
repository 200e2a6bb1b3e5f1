//! The auditors' attacks against a running network of real node processes, made the way an
//! attacker with a root shell on a town's node would make them — editing `registry.db` behind
//! the log's back, re-signing with a stolen operator key — each refused with its error code and
//! recorded as an alert, and never served as data to anyone.

mod support;

use std::path::Path;

use client::office::Clerk;
use registry_core::event::Event;
use registry_domain::ResidentCode;
use support::{ok, p};
use testbed::processes::Nodes;
use testbed::setup::Network;
use tlog::note::Note;
use wire::errors::Code;

const ACHI: &str = "204072";
const MATSUMOTO: &str = "202029";

/// The code of a refusal, whether the node or the client itself refused.
fn code_of(error: &anyhow::Error) -> Option<Code> {
    error.downcast_ref::<client::Refused>().and_then(client::Refused::code)
}

fn registry_db(dir: &Path, town: &str) -> rusqlite::Connection {
    let db = rusqlite::Connection::open(dir.join("nodes").join(town).join("registry.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    db
}

/// The alert kinds a node has recorded.
fn alerts(dir: &Path, node: &str) -> Vec<String> {
    let db = rusqlite::Connection::open(dir.join("nodes").join(node).join("node.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    let mut select = db.prepare("SELECT kind FROM alerts ORDER BY id").unwrap();
    select.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
}

/// An active resident of 阿智村 registered by a birth, with the log index of its current event.
fn a_resident(dir: &Path) -> (ResidentCode, i64) {
    let db = registry_db(dir, "achi");
    let (code, idx): (String, i64) = db
        .query_row(
            "SELECT code, event_idx FROM residents WHERE status = 'active' AND reason = 'birth' \
             ORDER BY event_idx LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    (ResidentCode::parse(&code).unwrap(), idx)
}

#[test]
fn a_forged_record_at_a_town_is_served_to_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    ok(&["demo", "--dir", p(root), "--residents", "30", "--exit"]);
    testbed::use_binary(env!("CARGO_BIN_EXE_juki"));
    let nodes = Nodes::start(&Network::load(root).unwrap()).unwrap();
    let network = nodes.network().clone();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let achi: Clerk = testbed::setup::clerk(&network, ACHI).unwrap();
    let matsumoto: Clerk = testbed::setup::clerk(&network, MATSUMOTO).unwrap();
    let (code, idx) = a_resident(root);

    // Before: the record is served with evidence that every client checks.
    runtime.block_on(async {
        let record = achi.lookup(code, "本人確認").await.expect("the lookup");
        assert_eq!(record.resident, code.to_string());
        let (_, copy) = achi.copy(code, None, "本人の請求").await.expect("the copy");
        assert_eq!(copy.record.resident_code, code);
        let (_, wide) = matsumoto.copy(code, Some(ACHI), "広域交付").await.expect("a wide copy");
        assert_eq!(wide.record.resident_code, code);
    });
    // The event is replicated: every tier holds it.
    ok(&["network", "agree", "--dir", p(root)]);
    let before = alerts(root, "achi").len();

    // The attack: root on 阿智村's node, holding a clerk's key too, rewrites the resident's
    // address in the stored event and signs it again, so that every signature still verifies.
    let db = registry_db(root, "achi");
    let note: Vec<u8> =
        db.query_row("SELECT note FROM events WHERE idx = ?1", [idx], |r| r.get(0)).unwrap();
    let parsed = Note::parse(&note).unwrap();
    let Event::Change(mut change) = Event::parse(parsed.text()).unwrap() else {
        panic!("a birth is a change")
    };
    change.record.address =
        registry_domain::Address::new(change.record.address.municipality(), "大字智里 9999番地")
            .unwrap();
    let clerk_key = network.town(ACHI).unwrap().clerk_key.clone();
    // The clerk's key is sealed: the attacker has its passphrase too.
    let stolen = testbed::passphrases::load_signer(root, &clerk_key).unwrap();
    let mut forged = Note::new(Event::Change(change).to_text()).unwrap();
    forged.sign(&stolen).unwrap();
    db.execute(
        "UPDATE events SET note = ?1 WHERE idx = ?2",
        rusqlite::params![forged.to_bytes(), idx],
    )
    .unwrap();

    // Nobody is served the forged address: not the town's own clerk, not the copy, not the
    // other town's wide-area copy.
    runtime.block_on(async {
        let lookup = achi.lookup(code, "本人確認").await.expect_err("a forged lookup");
        assert_eq!(code_of(&lookup), Some(Code::Tampered), "{lookup:#}");
        let copy = achi.copy(code, None, "本人の請求").await.expect_err("a forged copy");
        assert_eq!(code_of(&copy), Some(Code::Tampered), "{copy:#}");
        let wide = matsumoto.copy(code, Some(ACHI), "広域交付").await.expect_err("a forged copy");
        assert_eq!(code_of(&wide), Some(Code::Tampered), "{wide:#}");
    });
    let raised = alerts(root, "achi");
    assert!(
        raised[before..].iter().filter(|kind| *kind == Code::Tampered.as_str()).count() >= 3,
        "every refused serving is an alert at the town: {raised:?}"
    );

    // The same against a derived table: the resident's row pointed at another resident's event.
    db.execute("UPDATE events SET note = ?1 WHERE idx = ?2", rusqlite::params![note, idx]).unwrap();
    runtime.block_on(async {
        achi.lookup(code, "本人確認").await.expect("the restored event is served again");
    });
    let other: i64 = db
        .query_row(
            "SELECT event_idx FROM residents WHERE code != ?1 AND reason = 'birth' LIMIT 1",
            [code.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    db.execute(
        "UPDATE residents SET event_idx = ?1 WHERE code = ?2",
        rusqlite::params![other, code.to_string()],
    )
    .unwrap();
    runtime.block_on(async {
        let lookup = achi.lookup(code, "本人確認").await.expect_err("another's record");
        assert_eq!(code_of(&lookup), Some(Code::Tampered), "{lookup:#}");
    });
    drop(nodes);
}
