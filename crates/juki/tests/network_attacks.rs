//! The auditors' attacks against a running network of real node processes, made the way an
//! attacker with a root shell on a town's node would make them — editing `registry.db` behind
//! the log's back, re-signing with a stolen operator key — each refused with its error code and
//! recorded as an alert, and never served as data to anyone. Among them the attacks on people,
//! not keys: an enrolment not signed by the town's admin key handed in at the counter, and a
//! sensitive change approved by its proposer, with her own key or a second one in her name.

mod support;

use std::path::Path;

use client::office::Clerk;
use registry_core::event::{Change, Enrolment, Event, Role};
use registry_domain::ResidentCode;
use support::{Running, ok, p};
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

/// The alert kinds a node has recorded, each as often as it was raised (an alert raised
/// again within a minute is kept once, counting its repeats).
fn alerts(dir: &Path, node: &str) -> Vec<String> {
    let db = rusqlite::Connection::open(dir.join("nodes").join(node).join("node.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    let mut select = db.prepare("SELECT kind, repeats FROM alerts ORDER BY id").unwrap();
    let rows: Vec<(String, i64)> = select
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows.into_iter().flat_map(|(kind, n)| std::iter::repeat_n(kind, n as usize + 1)).collect()
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
    let running = Running::start();
    let (root, network, runtime) = (running.dir.path(), &running.network, &running.runtime);
    let achi: Clerk = testbed::setup::clerk(network, ACHI).unwrap();
    let matsumoto: Clerk = testbed::setup::clerk(network, MATSUMOTO).unwrap();
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
}

/// The national node's TLS files, as root on it holds them.
fn national_files(network: &Network) -> net::TlsFiles {
    let dir = network.node("national").unwrap().config.parent().unwrap().to_path_buf();
    net::TlsFiles {
        cert: dir.join("tls/node.crt"),
        key: dir.join("tls/node.key"),
        ca: network.ca.clone(),
        crl: Some(network.ca_dir.join("crl.pem")),
    }
}

#[test]
fn an_agency_is_never_handed_a_record_the_town_did_not_sign() {
    let running = Running::start();
    let (root, network, runtime) = (running.dir.path(), &running.network, &running.runtime);
    let agency = testbed::setup::agency(network).unwrap();
    let (code, idx) = a_resident(root);
    ok(&["network", "agree", "--dir", p(root)]);
    let whole = testbed::setup::PURPOSE_WHOLE;

    // Honest answers: records proven to 阿智村's witnessed checkpoint.
    let record = runtime.block_on(async {
        agency.provide(&code.to_string(), whole, None).await.unwrap().expect("an answer")
    });
    assert_eq!(record.resident, Some(code.to_string()));
    let other = {
        let db = registry_db(root, "achi");
        let other: String = db
            .query_row(
                "SELECT code FROM residents WHERE code != ?1 AND status = 'active' LIMIT 1",
                [code.to_string()],
                |r| r.get(0),
            )
            .unwrap();
        other
    };
    let honest = runtime.block_on(raw_provision(network, &code.to_string(), whole));
    let neighbour = runtime.block_on(raw_provision(network, &other, whole));
    let narrow = runtime.block_on(raw_provision(network, &code.to_string(), "NENKIN-JUSHO"));
    assert!(narrow["evidence"].is_null(), "a narrower purpose gets no event: {narrow}");
    assert!(narrow["record"]["reading"].is_null(), "nor items beyond it: {narrow}");

    // Root on the national node, holding its TLS key, answers the agency itself. Every lie is
    // refused by the agency's client: another address under the true statement and evidence,
    // another resident's answer for this code, the true answer with an edited event, a
    // narrower answer whose proof is another event's.
    let mut moved = honest.clone();
    moved["record"]["address"] = "大字智里 9999番地".into();
    let mut edited = honest.clone();
    edited["evidence"][0] = forge_first_event(&honest["evidence"][0]).into();
    let mut elsewhere = narrow.clone();
    elsewhere["proof"] = neighbour["proof"].clone();
    // The statement's text edited where nothing else repeats it (its time): only its seal
    // says it is not what the node signed.
    let mut restated = narrow.clone();
    let statement = narrow["statement"].as_str().unwrap();
    let time = statement.lines().find(|l| l.starts_with("time ")).unwrap();
    restated["statement"] = statement.replacen(time, "time 1", 1).into();
    for (what, lie) in [
        ("another address", moved),
        ("another resident's answer", neighbour.clone()),
        ("an edited event", edited),
        ("another event's proof", elsewhere),
        ("an edited statement under its seal", restated),
    ] {
        let url = runtime.block_on(fake_national(&national_files(network), lie));
        let national = network.node("national").unwrap();
        let lied_to = client::agency::Agency::new(
            &url,
            &agency_files(network),
            &network.agency.identity,
            "urn:juki:national",
            &national.logs[0].vkey,
            &network.towns,
        )
        .unwrap();
        let narrower = ["another event's proof", "an edited statement under its seal"];
        let purpose = if narrower.contains(&what) { "NENKIN-JUSHO" } else { whole };
        let refused =
            runtime.block_on(lied_to.provide(&code.to_string(), purpose, None)).expect_err(what);
        assert_eq!(code_of(&refused), Some(Code::BadEvidence), "{what}: {refused:#}");
    }

    // Root on the national node edits its mirror of 阿智村: the national node refuses to
    // serve it and records an alert.
    let db = rusqlite::Connection::open(
        root.join("nodes/national/mirrors").join(ACHI).join("registry.db"),
    )
    .unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    let note: Vec<u8> =
        db.query_row("SELECT note FROM events WHERE idx = ?1", [idx], |r| r.get(0)).unwrap();
    let edited = String::from_utf8(note).unwrap().replacen("番地", "番地 ", 1);
    db.execute(
        "UPDATE events SET note = ?1 WHERE idx = ?2",
        rusqlite::params![edited.into_bytes(), idx],
    )
    .unwrap();
    let answer = runtime.block_on(async {
        agency.provide(&code.to_string(), whole, None).await.unwrap().expect_err("refused")
    });
    let body = wire::errors::ErrorBody::parse(&answer.body).expect("an error body");
    assert_eq!(body.code, Code::Tampered, "{body}");
    assert!(alerts(root, "national").iter().any(|kind| kind == Code::Tampered.as_str()));
}

/// The agency's TLS files.
fn agency_files(network: &Network) -> net::TlsFiles {
    net::TlsFiles {
        cert: network.agency.cert.clone(),
        key: network.agency.key.clone(),
        ca: network.ca.clone(),
        crl: Some(network.ca_dir.join("crl.pem")),
    }
}

/// The national node's whole answer to the agency for `resident` under `purpose`.
async fn raw_provision(network: &Network, resident: &str, purpose: &str) -> serde_json::Value {
    let url = node::report::resolve_url(&network.node("national").unwrap().network_url).unwrap();
    let client = net::Client::new(&agency_files(network)).unwrap();
    let request = serde_json::json!({ "resident": resident, "purpose": purpose });
    let answer = client::call_post(
        &client,
        &format!("{url}/v1/provide"),
        serde_json::to_vec(&request).unwrap(),
        Some("urn:juki:national"),
    )
    .await
    .unwrap();
    assert!(answer.status.is_success(), "{}", answer.text());
    serde_json::from_slice(&answer.body).unwrap()
}

/// A receipt whose event has one byte of its address changed (its proof left as it was).
fn forge_first_event(receipt: &serde_json::Value) -> String {
    let mut parsed = tlog::receipt::Receipt::parse(receipt.as_str().unwrap().as_bytes()).unwrap();
    let event = String::from_utf8(parsed.extra.take().unwrap()).unwrap();
    parsed.extra = Some(event.replacen("番地", "番地 ", 1).into_bytes());
    String::from_utf8(parsed.to_bytes()).unwrap()
}

/// A server with the national node's own certificate that answers every provision request
/// with `answer`; returns its URL. It serves until the runtime stops.
async fn fake_national(files: &net::TlsFiles, answer: serde_json::Value) -> String {
    let tls = files.server_config(pki::ClientAuth::Required).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/v1/provide",
        axum::routing::post(move || {
            let answer = answer.clone();
            async move { axum::Json(answer) }
        }),
    );
    tokio::spawn(net::serve(listener, app, tls, std::future::pending()));
    url
}

/// The change that made resident `code`'s current record at 阿智村, and the death that would
/// follow it (not yet signed by anyone), stamped now.
fn a_death(root: &Path, code: ResidentCode) -> (Change, Change) {
    let current = registry_db(root, "achi")
        .query_row(
            "SELECT e.note FROM residents r JOIN events e ON e.idx = r.event_idx WHERE r.code = ?1",
            [code.to_string()],
            |r| r.get::<_, Vec<u8>>(0),
        )
        .unwrap();
    let Event::Change(current) = Event::parse(Note::parse(&current).unwrap().text()).unwrap()
    else {
        panic!("a change")
    };
    let mut death = current.clone();
    death.record.latest_change = registry_domain::ChangeInfo::new(
        registry_domain::ChangeReason::Death,
        current.record.latest_change.date(),
    );
    death.record.history_number = death.record.history_number.next().unwrap();
    death.record.status =
        registry_domain::RecordStatus::Closed { reason: registry_domain::ChangeReason::Death };
    death.time = registry_core::time::Timestamp::from_unix(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
    );
    (current, death)
}

#[test]
fn a_sensitive_change_needs_a_second_person_at_another_console() {
    let running = Running::start();
    let (root, network, runtime) = (running.dir.path(), &running.network, &running.runtime);
    let clerk = testbed::setup::clerk(network, ACHI).unwrap();
    let supervisor = testbed::setup::supervisor(network, ACHI).unwrap();
    let (code, _) = a_resident(root);
    let record = runtime.block_on(clerk.lookup(code, "死亡届の受理")).unwrap();
    let (current, death) = a_death(root, code);
    assert_eq!(current.record.resident_code.to_string(), record.resident);
    let before = alerts(root, "achi").len();
    runtime.block_on(async {
        // One clerk alone cannot record a death, neither directly nor by approving their own
        // proposal.
        let direct = clerk.submit(death.clone()).await.expect_err("needs approval");
        assert!(direct.to_string().contains("propose"), "{direct:#}");
        let id = clerk.propose(death.clone()).await.expect("proposed");
        let own = clerk.approve(id, |_| Ok(())).await.expect_err("one person");
        assert_eq!(code_of(&own), Some(Code::SecondOperatorMissing), "{own:#}");
        // An approval of another text than the one proposed is refused, and is an alert.
        let mut swapped = death.clone();
        swapped.record.address =
            registry_domain::Address::new(swapped.record.address.municipality(), "大字智里 1番地")
                .unwrap();
        let mut note = Note::new(Event::Change(swapped).to_text()).unwrap();
        let supervisor_key =
            testbed::passphrases::load_signer(root, &network.town(ACHI).unwrap().supervisor_key)
                .unwrap();
        note.sign(&supervisor_key).unwrap();
        let url = node::report::resolve_url(&network.node("achi").unwrap().api_url).unwrap();
        let console = net::Client::new(&net::TlsFiles {
            cert: network.town(ACHI).unwrap().console.cert.clone(),
            key: network.town(ACHI).unwrap().console.key.clone(),
            ca: network.ca.clone(),
            crl: Some(network.ca_dir.join("crl.pem")),
        })
        .unwrap();
        let answer = client::call_post(
            &console,
            &format!("{url}/v1/pending/{id}/approve"),
            note.to_bytes(),
            Some("urn:juki:municipal:204072"),
        )
        .await
        .unwrap();
        let body = wire::errors::ErrorBody::parse(&answer.body).expect("an error body");
        assert_eq!(body.code, Code::ApprovalMismatch, "{body}");
        // Nothing that needs one operator waits in the queue; nothing unknown is approved.
        let mut moved = current.clone();
        moved.record.latest_change = registry_domain::ChangeInfo::new(
            registry_domain::ChangeReason::MoveWithin,
            current.record.latest_change.date(),
        );
        moved.record.history_number = moved.record.history_number.next().unwrap();
        moved.record.address =
            registry_domain::Address::new(moved.record.address.municipality(), "大字駒場 1番地")
                .unwrap();
        moved.time = death.time;
        let single = clerk.propose(moved).await.expect_err("no approval needed");
        assert_eq!(code_of(&single), Some(Code::NoApprovalNeeded), "{single:#}");
        let unknown = supervisor.approve(id + 1000, |_| Ok(())).await.expect_err("no such one");
        assert!(unknown.to_string().contains("waits for approval"), "{unknown:#}");
        // The supervisor, at their own console, reviews and approves: recorded once.
        let pending = supervisor.pending().await.unwrap();
        assert_eq!(pending.iter().map(|p| p.id).collect::<Vec<_>>(), [id]);
        assert_eq!(pending[0].reason, "death");
        let submitted = supervisor
            .approve(id, |change| {
                anyhow::ensure!(change.record.resident_code == code, "not this resident");
                Ok(())
            })
            .await
            .expect("approved");
        assert_eq!(submitted.resident, Some(code.to_string()));
        assert!(supervisor.pending().await.unwrap().is_empty());
        let again = supervisor.approve(id, |_| Ok(())).await.expect_err("approved once");
        assert!(again.to_string().contains("waits for approval"), "{again:#}");
    });
    let raised = alerts(root, "achi");
    assert!(
        raised[before..].iter().any(|kind| kind == Code::ApprovalMismatch.as_str()),
        "{raised:?}"
    );
}

#[test]
fn the_whole_national_node_cannot_mint_what_the_towns_accept() {
    let running = Running::start();
    let (root, network, runtime) = (running.dir.path(), &running.network, &running.runtime);
    ok(&["network", "agree", "--dir", p(root)]);

    // Every key in the national node's directory: none is the national key.
    let national_vkey =
        tlog_store::keys::load_signer(&network.national_key, None).unwrap().verifier();
    let mut keys = 0;
    let mut stack = vec![root.join("nodes/national")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(signer) = tlog_store::keys::load_signer(&path, None) {
                keys += 1;
                assert_ne!(
                    signer.verifier(),
                    national_vkey,
                    "{} is the national key",
                    path.display()
                );
            }
        }
    }
    assert!(keys >= 1, "the national node's own key is there, and it is not the national key");

    // With the national node's certificate, the signer is asked to sign what no town's
    // witnessed log holds, or what the evidence does not show: refused, and alerts there.
    let signer_url =
        node::report::resolve_url(&network.node("signer").unwrap().network_url).unwrap();
    let as_national = net::Client::new(&national_files(network)).unwrap();
    let ask = |path: &str, body: serde_json::Value| {
        let (client, url) = (&as_national, format!("{signer_url}{path}"));
        runtime.block_on(async move {
            client::call_post(
                client,
                &url,
                serde_json::to_vec(&body).unwrap(),
                Some("urn:juki:signer"),
            )
            .await
            .unwrap()
        })
    };
    let code_of_answer =
        |answer: &net::Answer| wire::errors::ErrorBody::parse(&answer.body).map(|b| b.code);
    let (code, _) = a_resident(root);
    let honest =
        runtime.block_on(raw_provision(network, &code.to_string(), testbed::setup::PURPOSE_WHOLE));
    // A birth is no move-out.
    let birth = ask(
        "/v1/sign/move-out",
        serde_json::json!({
            "evidence": honest["evidence"], "to": MATSUMOTO
        }),
    );
    assert_eq!(code_of_answer(&birth), Some(Code::NoMoveOut), "{}", birth.text());
    // A move-out made up in an edited event: not in 阿智村's witnessed log.
    let mut forged = honest["evidence"].clone();
    let receipt = tlog::receipt::Receipt::parse(forged[0].as_str().unwrap().as_bytes()).unwrap();
    let event = String::from_utf8(receipt.extra.clone().unwrap()).unwrap();
    let moved_out = event.replacen("reason birth", "reason move-out", 1).replacen(
        "status active",
        "status closed",
        1,
    );
    let receipt = tlog::receipt::Receipt { extra: Some(moved_out.into_bytes()), ..receipt };
    forged[0] = String::from_utf8(receipt.to_bytes()).unwrap().into();
    let made_up =
        ask("/v1/sign/move-out", serde_json::json!({ "evidence": forged, "to": MATSUMOTO }));
    assert_eq!(code_of_answer(&made_up), Some(Code::BadEvidence), "{}", made_up.text());
    // A move notice for a birth: no move-in.
    let notice = ask("/v1/sign/move-notice", serde_json::json!({ "evidence": honest["evidence"] }));
    assert_eq!(code_of_answer(&notice), Some(Code::NoMoveOut), "{}", notice.text());
    // Code blocks in bulk: the town got its block when the network started; another within
    // the hour is refused, however the national node asks.
    let block = ask("/v1/sign/code-block", serde_json::json!({ "municipality": ACHI, "held": 1 }));
    assert_eq!(code_of_answer(&block), Some(Code::TooSoon), "{}", block.text());
    // Anyone but the national node is refused outright.
    let as_town = net::Client::new(&net::TlsFiles {
        cert: root.join("nodes/achi/tls/node.crt"),
        key: root.join("nodes/achi/tls/node.key"),
        ca: network.ca.clone(),
        crl: Some(network.ca_dir.join("crl.pem")),
    })
    .unwrap();
    let by_town = runtime
        .block_on(client::call_post(
            &as_town,
            &format!("{signer_url}/v1/sign/code-block"),
            serde_json::to_vec(&serde_json::json!({ "municipality": ACHI, "held": 1 })).unwrap(),
            Some("urn:juki:signer"),
        ))
        .unwrap();
    assert_eq!(code_of_answer(&by_town), Some(Code::WrongPeer), "{}", by_town.text());
    let raised = alerts(root, "signer");
    for kind in [Code::BadEvidence, Code::TooSoon, Code::WrongPeer] {
        assert!(raised.iter().any(|k| k == kind.as_str()), "{kind} at the signer: {raised:?}");
    }
    // What the national key signed (the demo's code blocks, certificate and notice) is in the
    // signer's issuance log, which anyone can verify from outside, witness cosignature included.
    let issuance = &network.node("signer").unwrap().logs[0];
    let witness = &network.witnesses[0].vkey;
    let ca = network.ca.to_str().unwrap();
    let verified = ok(&[
        "log",
        "verify",
        &issuance.url,
        "--vkey",
        &issuance.vkey,
        "--witness",
        witness,
        "--quorum",
        "1",
        "--ca",
        ca,
    ]);
    let entries: u64 = verified
        .split_once(": ")
        .and_then(|(_, rest)| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a size in {verified}"));
    assert!(entries >= 5, "three blocks, a certificate and a notice at least: {verified}");
    assert!(verified.contains("cosigned by witness.juki.local"), "{verified}");
}

/// Resident `code`'s current change at `town`, as its registry holds it.
fn current_change(dir: &Path, town: &str, code: ResidentCode) -> registry_core::event::Change {
    let note: Vec<u8> = registry_db(dir, town)
        .query_row(
            "SELECT e.note FROM residents r JOIN events e ON e.idx = r.event_idx WHERE r.code = ?1",
            [code.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    match Event::parse(Note::parse(&note).unwrap().text()).unwrap() {
        Event::Change(change) => change,
        other => panic!("not a change: {other:?}"),
    }
}

/// The next change of `current` for `reason`, at `town`, signed now.
fn next_change(
    current: &registry_core::event::Change,
    reason: registry_domain::ChangeReason,
) -> registry_core::event::Change {
    let mut next = current.clone();
    next.record.latest_change =
        registry_domain::ChangeInfo::new(reason, current.record.latest_change.date());
    next.record.history_number = next.record.history_number.next().unwrap();
    next.record.status = if reason.family() == registry_domain::ReasonFamily::Deletion {
        registry_domain::RecordStatus::Closed { reason }
    } else {
        registry_domain::RecordStatus::Active
    };
    next.moved_to = None;
    next.move_out = None;
    next.activation = None;
    next.time = registry_core::time::Timestamp::from_unix(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
    );
    next
}

/// How many towns hold `code`'s record active.
fn active_in(dir: &Path, code: ResidentCode) -> Vec<&'static str> {
    ["achi", "matsumoto", "shimosuwa"]
        .into_iter()
        .filter(|town| {
            registry_db(dir, town)
                .query_row(
                    "SELECT count(*) FROM residents WHERE code = ?1 AND status = 'active'",
                    [code.to_string()],
                    |r| r.get::<_, i64>(0),
                )
                .unwrap()
                > 0
        })
        .collect()
}

#[test]
fn one_key_cannot_give_a_person_a_second_record() {
    let running = Running::start();
    let (root, network, runtime) = (running.dir.path(), &running.network, &running.runtime);
    let achi = testbed::setup::clerk(network, ACHI).unwrap();
    let achi_supervisor = testbed::setup::supervisor(network, ACHI).unwrap();
    let matsumoto = testbed::setup::clerk(network, MATSUMOTO).unwrap();
    let (code, _) = a_resident(root);
    let living = current_change(root, "achi", code);

    // 松本市's clerk, alone, registers 阿智村's living resident as moving in from abroad.
    let before = alerts(root, "matsumoto").len();
    let mut second = next_change(&living, registry_domain::ChangeReason::MoveInFromAbroad);
    second.municipality = matsumoto.code;
    second.record.address =
        registry_domain::Address::new(matsumoto.code, "中央1丁目 2番3号").unwrap();
    second.record.history_number = registry_domain::HistoryNumber::FIRST;
    let refused = runtime.block_on(matsumoto.submit(second.clone())).expect_err("a second record");
    assert_eq!(code_of(&refused), Some(Code::ActivationMissing), "{refused:#}");
    assert!(alerts(root, "matsumoto").len() > before, "the attempt is an alert");
    // Nor will the national signer certify it: the person is active in 阿智村.
    let refused = runtime.block_on(matsumoto.activation(code)).expect_err("active elsewhere");
    assert_eq!(code_of(&refused), Some(Code::StillActive), "{refused:#}");
    assert_eq!(active_in(root, code), ["achi"]);

    // 阿智村 records a move-out to 松本市, and the certificate is issued.
    let mut out = next_change(&living, registry_domain::ChangeReason::MoveOut);
    out.moved_to = Some(matsumoto.code);
    runtime.block_on(async {
        let id = achi.propose(out.clone()).await.unwrap();
        achi_supervisor.approve(id, |_| Ok(())).await.unwrap();
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let certificate = loop {
        if let Some(c) = runtime.block_on(matsumoto.move_out_certificate(code, ACHI)).unwrap() {
            break c;
        }
        assert!(std::time::Instant::now() < deadline, "no certificate after 60 s");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };

    // The move-out was a mistake. Cancelling it while the certificate could still move the
    // person into 松本市 is refused; the signer first withdraws the certificate there.
    let closed = current_change(root, "achi", code);
    let cancel = next_change(&closed, registry_domain::ChangeReason::CancellationEntry);
    let refused = runtime
        .block_on(async {
            let id = achi.propose(cancel.clone()).await?;
            achi_supervisor.approve(id, |_| Ok(())).await
        })
        .expect_err("no activation certificate");
    assert_eq!(code_of(&refused), Some(Code::ActivationMissing), "{refused:#}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let activation = loop {
        if let Some(c) = runtime.block_on(achi.activation(code)).unwrap() {
            break c;
        }
        assert!(std::time::Instant::now() < deadline, "no activation certificate after 60 s");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let withdrawals: i64 = registry_db(root, "matsumoto")
        .query_row(
            "SELECT count(*) FROM move_ins m JOIN events e ON e.idx = m.event_idx \
             WHERE m.code = ?1 AND e.note LIKE 'juki.move-withdrawal/v1%'",
            [code.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(withdrawals, 1, "松本市 recorded the withdrawal");
    let mut cancel = cancel;
    cancel.activation = Some(activation.clone());
    runtime.block_on(async {
        let id = achi.propose(cancel.clone()).await.unwrap();
        achi_supervisor.approve(id, |_| Ok(())).await.unwrap();
    });
    assert_eq!(active_in(root, code), ["achi"]);

    // The withdrawn certificate moves nobody into 松本市 now; the activation certificate,
    // used once, reopens nothing again; and the signer certifies no second activation.
    let mut move_in = second.clone();
    move_in.record.latest_change = registry_domain::ChangeInfo::new(
        registry_domain::ChangeReason::MoveIn,
        move_in.record.latest_change.date(),
    );
    move_in.move_out = Some(certificate);
    let refused = runtime.block_on(matsumoto.submit(move_in)).expect_err("withdrawn");
    assert_eq!(code_of(&refused), Some(Code::IllegalTransition), "{refused:#}");
    assert!(refused.to_string().contains("withdrawn"), "{refused:#}");
    let mut again = second.clone();
    again.activation = Some(activation);
    let refused = runtime.block_on(matsumoto.submit(again)).expect_err("another town's");
    assert_eq!(code_of(&refused), Some(Code::IllegalTransition), "{refused:#}");
    let refused = runtime.block_on(matsumoto.activation(code)).expect_err("active at 阿智村");
    assert_eq!(code_of(&refused), Some(Code::StillActive), "{refused:#}");
    assert_eq!(active_in(root, code), ["achi"]);
}

/// `juki office WHAT ARGS` at 阿智村's console (its certificate, the network's CA and CRL),
/// with the variables `env` set.
fn office(
    network: &Network,
    what: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let town = network.town(ACHI).unwrap();
    let url = node::report::resolve_url(&network.node("achi").unwrap().api_url).unwrap();
    let crl = network.ca_dir.join("crl.pem");
    support::juki()
        .args(["office", what, "--town", ACHI, "--node", &url])
        .args(["--console-cert", p(&town.console.cert), "--console-key", p(&town.console.key)])
        .args(["--ca", p(&network.ca), "--crl", p(&crl)])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// How many events 阿智村's registry holds.
fn event_count(root: &Path) -> i64 {
    registry_db(root, "achi").query_row("SELECT count(*) FROM events", [], |r| r.get(0)).unwrap()
}

#[test]
fn enrolments_need_the_admin_key_and_approvals_another_person() {
    let running = Running::start();
    let (root, network, runtime) = (running.dir.path(), &running.network, &running.runtime);
    let town = network.town(ACHI).unwrap();
    let passphrases = testbed::passphrases::Passphrases::load(root).unwrap();
    let work = tempfile::tempdir().unwrap();
    let file = |name: &str| work.path().join(name);
    let before = alerts(root, "achi").len();
    let events = event_count(root);

    // A rogue supervisor's enrolment, signed by a key other than 阿智村's admin key and handed
    // in at the counter with the console's certificate: one made under the admin key's name,
    // and a stolen clerk's key.
    let rogue = ok(&[
        "key",
        "generate",
        "--name",
        "op.204072.juki.local/rogue",
        "--out",
        p(&file("rogue.key")),
    ]);
    let rogue = rogue.trim();
    let fake_admin = file("admin.key");
    ok(&["key", "generate", "--name", "admin.204072.juki.local", "--out", p(&fake_admin)]);
    let forged = file("forged.enrol");
    ok(&[
        "operator",
        "enroll",
        "--admin-key",
        p(&fake_admin),
        "--vkey",
        rogue,
        "--role",
        "supervisor",
        "--out",
        p(&forged),
    ]);
    let stolen = file("stolen.enrol");
    {
        let clerk = testbed::passphrases::load_signer(root, &town.clerk_key).unwrap();
        let enrolment = Event::Enrolment(Enrolment {
            municipality: registry_domain::MunicipalityCode::parse(ACHI).unwrap(),
            operator: tlog::note::VerifierKey::parse(rogue).unwrap(),
            role: Role::Supervisor,
            time: registry_core::time::Timestamp::from_unix(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs(),
            ),
        });
        let mut note = Note::new(enrolment.to_text()).unwrap();
        note.sign(&clerk).unwrap();
        std::fs::write(&stolen, note.to_bytes()).unwrap();
    }
    for enrolment in [&forged, &stolen] {
        let args = ["office", "submit", p(enrolment)];
        let error = support::failed(&args, &office(network, "submit", &[p(enrolment)], &[]));
        assert!(
            error.contains("[unsigned]")
                && error.contains("no signature by the municipality's admin key"),
            "{error}"
        );
    }
    assert_eq!(event_count(root), events, "nothing was recorded");
    let raised = alerts(root, "achi");
    assert_eq!(
        raised[before..].iter().filter(|k| *k == Code::UnauthorisedEvent.as_str()).count(),
        2,
        "each forged enrolment is an alert: {raised:?}"
    );
    let rogue_rows: i64 = registry_db(root, "achi")
        .query_row("SELECT count(*) FROM operators WHERE vkey = ?1", [rogue], |r| r.get(0))
        .unwrap();
    assert_eq!(rogue_rows, 0, "the rogue supervisor is not enrolled");

    // One person enrolled twice: the admin signs, offline, a second key that Tanaka generated
    // in her own name, as a supervisor's, and it reaches the node through the office API.
    let second = file("tanaka-again.key");
    let second_vkey =
        ok(&["key", "generate", "--name", "op.204072.juki.local/tanaka", "--out", p(&second)]);
    let enrolment = file("tanaka-again.enrol");
    let admin_passphrase = passphrases.required(&town.admin_key).unwrap();
    let args = [
        "operator",
        "enroll",
        "--admin-key",
        p(&town.admin_key),
        "--admin-passphrase-env",
        "ADMIN_PW",
        "--vkey",
        second_vkey.trim(),
        "--role",
        "supervisor",
        "--out",
        p(&enrolment),
    ];
    support::succeeded(
        &args,
        support::juki().args(args).env("ADMIN_PW", admin_passphrase.as_str()).output().unwrap(),
    );
    let recorded = support::succeeded(&[], office(network, "submit", &[p(&enrolment)], &[]));
    assert!(recorded.contains(" enrolment event "), "{recorded}");

    // Tanaka proposes a death at her console. Neither her own key nor her second key approves
    // it, each from a session of its own; Suzuki, the supervisor, does.
    let clerk = testbed::setup::clerk(network, ACHI).unwrap();
    let (code, _) = a_resident(root);
    let (_, death) = a_death(root, code);
    let id = runtime.block_on(clerk.propose(death)).unwrap().to_string();
    let resident = code.to_string();
    let approve = ["--id", id.as_str(), "--resident", resident.as_str(), "--key"];
    let tanaka_passphrase = passphrases.required(&town.clerk_key).unwrap();
    let events = event_count(root);
    let own = office(
        network,
        "approve",
        &[&approve[..], &[p(&town.clerk_key)]].concat(),
        &[("JUKI_PASSPHRASE", tanaka_passphrase.as_str())],
    );
    let error = support::failed(&["office", "approve"], &own);
    assert!(error.contains("already signed this proposal"), "{error}");
    let twice = office(network, "approve", &[&approve[..], &[p(&second)]].concat(), &[]);
    let error = support::failed(&["office", "approve"], &twice);
    assert!(error.contains("[second-operator-missing]"), "{error}");
    assert_eq!(event_count(root), events, "nothing was recorded");
    // Another resident's code is not what the supervisor approves.
    let suzuki = [("JUKI_PASSPHRASE", passphrases.required(&town.supervisor_key).unwrap())];
    let suzuki: Vec<(&str, &str)> = suzuki.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let other = registry_db(root, "achi")
        .query_row(
            "SELECT code FROM residents WHERE status = 'active' AND code != ?1 LIMIT 1",
            [&resident],
            |r| r.get::<_, String>(0),
        )
        .unwrap();
    let wrong = office(
        network,
        "approve",
        &["--id", &id, "--resident", &other, "--key", p(&town.supervisor_key)],
        &suzuki,
    );
    let error = support::failed(&["office", "approve"], &wrong);
    assert!(error.contains("it was not approved"), "{error}");
    assert_eq!(event_count(root), events, "nothing was recorded");
    let listed = support::succeeded(&[], office(network, "pending", &[], &[]));
    assert!(listed.contains(&format!("id {id} resident {resident} reason death")), "{listed}");
    let approved =
        office(network, "approve", &[&approve[..], &[p(&town.supervisor_key)]].concat(), &suzuki);
    let out = support::succeeded(&["office", "approve"], approved);
    assert!(out.contains("proposed-by op.204072.juki.local/tanaka"), "{out}");
    assert!(out.contains("approved-by op.204072.juki.local/suzuki"), "{out}");
    assert_eq!(event_count(root), events + 1, "recorded once");
    let record = runtime.block_on(clerk.lookup(code, "確認")).unwrap();
    assert_eq!(record.status, "closed");
    let listed = support::succeeded(&[], office(network, "pending", &[], &[]));
    assert!(!listed.contains(&format!("id {id} ")), "{listed}");
}

/// A node's status, asked with the national node's certificate.
fn status_of(
    network: &Network,
    runtime: &tokio::runtime::Runtime,
    node: &str,
) -> wire::api::Status {
    let url = node::report::resolve_url(&network.node(node).unwrap().network_url).unwrap();
    let client = net::Client::new(&national_files(network)).unwrap();
    let identity = match node {
        "nagano" => "urn:juki:prefecture:20".to_owned(),
        _ => "urn:juki:national".to_owned(),
    };
    let answer = runtime
        .block_on(client::call_get(&client, &format!("{url}/v1/status"), Some(identity.as_str())))
        .unwrap();
    serde_json::from_slice(&answer.body).unwrap()
}

#[test]
fn a_town_cannot_rewrite_who_read_whose_record() {
    let running = Running::start();
    let (root, network, runtime) = (running.dir.path(), &running.network, &running.runtime);
    let clerk = testbed::setup::clerk(network, ACHI).unwrap();
    let (code, _) = a_resident(root);
    runtime.block_on(clerk.lookup(code, "窓口での本人確認")).unwrap();
    let achi_dir = root.join("nodes/achi");
    let journal = rusqlite::Connection::open(achi_dir.join("node.db")).unwrap();
    journal.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    let recorded = journal
        .query_row("SELECT count(*) FROM log_entries", [], |r| r.get::<_, i64>(0))
        .unwrap() as u64;
    assert!(recorded >= 1, "the lookup is in 阿智村's provision log");
    let origin = format!("{}/provisions", network.node("achi").unwrap().logs[0].origin);

    // The town's provision log reaches both upper tiers, witnessed, and each keeps a copy.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let held = |node: &str| status_of(network, runtime, node).logs.get(&origin).copied();
    while held("nagano") < Some(recorded) || held("national") < Some(recorded) {
        assert!(std::time::Instant::now() < deadline, "the copies upstream stay behind");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let entries: Vec<Vec<u8>> = journal
        .prepare("SELECT entry FROM log_entries ORDER BY idx")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let have = held("national").unwrap();

    // Root on 阿智村, with its node's certificate and provision key, rewrites the history the
    // national node holds (the lookup "never happened"), and then offers a checkpoint of its own
    // making, without the witness's cosignature: both refused, both alerts.
    let files = net::TlsFiles {
        cert: achi_dir.join("tls/node.crt"),
        key: achi_dir.join("tls/node.key"),
        ca: network.ca.clone(),
        crl: Some(network.ca_dir.join("crl.pem")),
    };
    let as_achi = net::Client::new(&files).unwrap();
    let url = node::report::resolve_url(&network.node("national").unwrap().network_url).unwrap();
    let send = |batch: serde_json::Value| {
        let answer = runtime
            .block_on(client::call_post(
                &as_achi,
                &format!("{url}/v1/replicate/provisions"),
                serde_json::to_vec(&batch).unwrap(),
                Some("urn:juki:national"),
            ))
            .unwrap();
        wire::errors::ErrorBody::parse(&answer.body).map(|b| b.code)
    };
    let key = tlog_store::keys::load_log_signer(&achi_dir.join("provisions.key"), &origin).unwrap();
    let checkpoint_of = |leaves: &[Vec<u8>]| {
        let hashes: Vec<tlog::Hash> = leaves.iter().map(|e| tlog::hash::leaf_hash(e)).collect();
        let checkpoint = tlog::checkpoint::Checkpoint {
            origin: origin.clone(),
            size: leaves.len() as u64,
            root: tlog::merkle::root_of_leaves(&hashes),
            extensions: Vec::new(),
        };
        let mut note = Note::new(checkpoint.to_text()).unwrap();
        note.sign(&key).unwrap();
        String::from_utf8(note.to_bytes()).unwrap()
    };
    let before = alerts(root, "national").len();
    let mut rewritten: Vec<Vec<u8>> = entries[..have as usize].to_vec();
    rewritten[0] = registry_store::commitment(b"juki.provision/v1\nnothing to see here\n");
    let text = |e: &Vec<u8>| String::from_utf8(e.clone()).unwrap();
    let forged = serde_json::json!({
        "municipality": ACHI, "from": 0, "checkpoint": checkpoint_of(&rewritten),
        "proof": [], "events": rewritten.iter().map(text).collect::<Vec<_>>(),
    });
    assert_eq!(send(forged), Some(Code::Fork));
    let mut extended: Vec<Vec<u8>> = entries[..have as usize].to_vec();
    extended.push(registry_store::commitment(b"juki.provision/v1\nan invented lookup\n"));
    let unwitnessed = serde_json::json!({
        "municipality": ACHI, "from": have, "checkpoint": checkpoint_of(&extended),
        "proof": [], "events": [text(extended.last().unwrap())],
    });
    // The fork quarantined 阿智村 at the national node: nothing more of it is even looked at
    // until the national administrator releases it.
    assert_eq!(send(unwitnessed.clone()), Some(Code::Quarantined));
    let released = runtime.block_on(async {
        testbed::drill::Stage::new(network)?.release(ACHI, "the fork was investigated").await
    });
    assert!(released.unwrap(), "the fork quarantined the town");
    assert_eq!(send(unwitnessed), Some(Code::BadCheckpoint));
    let raised = alerts(root, "national");
    assert!(raised[before..].iter().any(|k| k == Code::Fork.as_str()), "{raised:?}");
    assert!(raised[before..].iter().any(|k| k == Code::BadCheckpoint.as_str()), "{raised:?}");
    assert_eq!(held("national"), Some(have), "the national node's copy is unchanged");

    // The upper tiers' own provision logs (agencies' reads, certificates) are witnessed too.
    for node in ["nagano", "national"] {
        let log = &network.node(node).unwrap().logs[0];
        let policy = tlog::checkpoint::Policy {
            log_keys: vec![tlog::note::VerifierKey::parse(&log.vkey).unwrap()],
            witnesses: vec![tlog::note::VerifierKey::parse(&network.witnesses[0].vkey).unwrap()],
            quorum: 1,
        };
        let tiles = root.join("nodes").join(node).join("provisions");
        // The national node has answered the demo's agency: its log is not empty.
        let note = match std::fs::read(tiles.join("checkpoint")) {
            Ok(note) => note,
            Err(_) if node == "nagano" => continue,
            Err(e) => panic!("{node} has published no provision checkpoint: {e}"),
        };
        let verified = policy
            .verify_origin(&note, &log.origin)
            .unwrap_or_else(|e| panic!("{node}'s provision checkpoint is not witnessed: {e}"));
        assert!(node == "nagano" || verified.checkpoint.size > 0);
    }
}

#[test]
fn a_move_notice_that_cannot_be_delivered_is_an_alert_and_is_retried() {
    let mut running = Running::start_with(|root| {
        let path = root.join("nodes/national/node.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("stuck_after_ms = 60000"), "{text}");
        std::fs::write(&path, text.replace("stuck_after_ms = 60000", "stuck_after_ms = 500"))
            .unwrap();
        testbed::use_binary(env!("CARGO_BIN_EXE_juki"));
        testbed::setup::sign_manifest(&Network::load(root).unwrap(), "national").unwrap();
    });
    let root = running.dir.path().to_path_buf();
    let network = running.network.clone();
    let achi = testbed::setup::clerk(&network, ACHI).unwrap();
    let achi_supervisor = testbed::setup::supervisor(&network, ACHI).unwrap();
    let matsumoto = testbed::setup::clerk(&network, MATSUMOTO).unwrap();
    let (code, _) = a_resident(&root);
    let living = current_change(&root, "achi", code);
    let mut out = next_change(&living, registry_domain::ChangeReason::MoveOut);
    out.moved_to = Some(matsumoto.code);
    running.runtime.block_on(async {
        let id = achi.propose(out.clone()).await.unwrap();
        achi_supervisor.approve(id, |_| Ok(())).await.unwrap();
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let certificate = loop {
        if let Some(c) =
            running.runtime.block_on(matsumoto.move_out_certificate(code, ACHI)).unwrap()
        {
            break c;
        }
        assert!(std::time::Instant::now() < deadline, "no certificate after 60 s");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };

    // 阿智村's node goes down; the move-in in 松本市 calls for a notice it cannot receive.
    running.nodes.stop_one("achi");
    let mut move_in = next_change(&living, registry_domain::ChangeReason::MoveIn);
    move_in.municipality = matsumoto.code;
    move_in.record.address =
        registry_domain::Address::new(matsumoto.code, "中央1丁目 2番3号").unwrap();
    move_in.record.history_number = registry_domain::HistoryNumber::FIRST;
    move_in.move_out = Some(certificate);
    running.runtime.block_on(matsumoto.submit(move_in)).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !alerts(&root, "national").iter().any(|k| k == Code::NoticeStuck.as_str()) {
        assert!(std::time::Instant::now() < deadline, "no notice-stuck alert after 60 s");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let raised = alerts(&root, "national");
    let stuck = raised.iter().filter(|k| *k == Code::NoticeStuck.as_str()).count();
    assert_eq!(stuck, 1, "one alert per stuck notice: {raised:?}");

    // Back up, the town receives the notice: the move is complete there.
    running.nodes.start_one("achi").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let recorded: i64 = registry_db(&root, "achi")
            .query_row(
                "SELECT count(*) FROM move_notices WHERE code = ?1",
                [code.to_string()],
                |r| r.get(0),
            )
            .unwrap();
        if recorded == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the notice is not delivered after 60 s");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// How many alerts of `kind` that 阿智村 raised the national node keeps.
fn reported_at_national(dir: &Path, kind: Code) -> i64 {
    let db =
        rusqlite::Connection::open(dir.join("nodes").join("national").join("node.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    db.query_row(
        "SELECT count(*) FROM alerts WHERE kind = ?1 AND raised_by = ?2",
        rusqlite::params![kind.as_str(), format!("urn:juki:municipal:{ACHI}")],
        |r| r.get(0),
    )
    .unwrap()
}

/// Waits until the national node keeps one more `tampered` alert from 阿智村 than `before`;
/// returns how long that took.
fn until_reported(dir: &Path, before: i64) -> std::time::Duration {
    let started = std::time::Instant::now();
    loop {
        if reported_at_national(dir, Code::Tampered) > before {
            return started.elapsed();
        }
        if started.elapsed() > std::time::Duration::from_secs(30) {
            let db = rusqlite::Connection::open(dir.join("nodes/national/node.db")).unwrap();
            let mut select = db.prepare("SELECT kind, detail FROM alerts").unwrap();
            let national: Vec<(String, String)> = select
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let log = std::fs::read_dir(dir.join("nodes/achi"))
                .unwrap()
                .filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
                .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n");
            panic!(
                "no tampered alert from {ACHI} reached the national node in 30 s: at {ACHI} {:?}; \
                 at the national node {national:?}; {ACHI}'s log:\n{log}",
                alerts(dir, "achi")
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The Nagano drill on the database: root on 阿智村's node edits `registry.db` behind the log's
/// back — an address changed to divert a pension, a resident deleted to strike them off the
/// roll, a resident invented, an old event's bytes rewritten. Each is found by the town's own
/// self-check, reported to the national node (where root on the town cannot erase it) within
/// five seconds, and the town records no change on the edited tables; once the edit is
/// undone, it records changes again and every tier agrees.
#[test]
fn an_edit_of_a_towns_database_is_an_alert_at_the_national_node_within_seconds() {
    let running = Running::start();
    let (root, network, runtime) = (running.dir.path(), &running.network, &running.runtime);
    let achi: Clerk = testbed::setup::clerk(network, ACHI).unwrap();
    let (code, _) = a_resident(root);
    let resident = code.to_string();
    ok(&["network", "agree", "--dir", p(root)]);
    let db = registry_db(root, "achi");
    let invented = {
        let n: i64 = db
            .query_row("SELECT max(CAST(substr(code, 1, 10) AS INTEGER)) FROM residents", [], |r| {
                r.get(0)
            })
            .unwrap();
        ResidentCode::from_ten_digits(n as u64 + 1).unwrap().to_string()
    };
    let edits: [(&str, &str, &str); 4] = [
        (
            "an address changed",
            "UPDATE residents SET address = '大字智里 9999番地' WHERE code = ?1",
            "UPDATE residents SET address = (SELECT address FROM saved) WHERE code = ?1",
        ),
        (
            "a resident deleted",
            "DELETE FROM residents WHERE code = ?1",
            "INSERT INTO residents SELECT * FROM saved",
        ),
        (
            "a resident invented",
            "INSERT INTO residents SELECT * FROM saved",
            "DELETE FROM residents WHERE code = ?1",
        ),
        (
            "an old event's bytes rewritten",
            "UPDATE events SET note = CAST(replace(CAST(note AS TEXT), '大字', '字') AS BLOB) \
             WHERE idx = (SELECT event_idx FROM residents WHERE code = ?1)",
            "UPDATE events SET note = (SELECT note FROM saved_event) \
             WHERE idx = (SELECT event_idx FROM residents WHERE code = ?1)",
        ),
    ];
    // Each change after an undo moves the resident to an address not used before.
    let mut attempt = 100;
    for (what, attack, undo) in edits {
        let target = if what == "a resident invented" { &invented } else { &resident };
        db.execute_batch("DROP TABLE IF EXISTS temp.saved; DROP TABLE IF EXISTS temp.saved_event")
            .unwrap();
        db.execute(
            "CREATE TEMP TABLE saved AS SELECT * FROM residents WHERE code = ?1",
            [&resident],
        )
        .unwrap();
        db.execute("UPDATE temp.saved SET code = ?1", [target]).unwrap();
        db.execute(
            "CREATE TEMP TABLE saved_event AS SELECT note FROM events \
             WHERE idx = (SELECT event_idx FROM residents WHERE code = ?1)",
            [&resident],
        )
        .unwrap();
        let before = reported_at_national(root, Code::Tampered);
        let writes_before = reported_at_national(root, Code::ForeignWrite);
        let current = current_change(root, "achi", code);

        let run = |sql: &str| {
            if sql.contains("?1") { db.execute(sql, [target]) } else { db.execute(sql, []) }
        };
        assert_eq!(run(attack).unwrap(), 1, "{what}");
        let took = until_reported(root, before);
        println!("{what}: the tampered alert reached the national node in {took:?}");
        assert!(took < std::time::Duration::from_secs(5), "{what}: {took:?}");
        assert!(reported_at_national(root, Code::ForeignWrite) > writes_before, "{what}");

        // The town records no change on edited tables.
        let refused = runtime.block_on(async {
            let mut next = next_change(&current, registry_domain::ChangeReason::MoveWithin);
            next.record.address =
                registry_domain::Address::new(next.record.address.municipality(), "大字智里 1番地")
                    .unwrap();
            achi.submit(next).await
        });
        if let Err(error) = refused {
            assert_eq!(code_of(&error), Some(Code::Tampered), "{what}: {error:#}");
        } else {
            panic!("{what}: a change was recorded on edited tables");
        }

        if what == "a resident deleted" {
            // The struck-off resident's code, reused by a birth: the town's tables no longer
            // know it, but the town records nothing on them.
            let mut birth = current.clone();
            birth.record.history_number = registry_domain::HistoryNumber::new(1).unwrap();
            birth.record.latest_change = registry_domain::ChangeInfo::new(
                registry_domain::ChangeReason::Birth,
                current.record.latest_change.date(),
            );
            let reused = runtime.block_on(achi.submit(birth)).expect_err("a reused code");
            assert_eq!(code_of(&reused), Some(Code::Tampered), "{reused:#}");
        }
        assert_eq!(run(undo).unwrap(), 1, "{what}: undone");
        // Once the tables agree with the log again, the town records changes again.
        let started = std::time::Instant::now();
        loop {
            let status = runtime.block_on(async {
                let current = current_change(root, "achi", code);
                let mut next = next_change(&current, registry_domain::ChangeReason::MoveWithin);
                next.record.address = registry_domain::Address::new(
                    next.record.address.municipality(),
                    &format!("大字智里 {}番地", {
                        attempt += 1;
                        attempt
                    }),
                )
                .unwrap();
                achi.submit(next).await
            });
            match status {
                Ok(_) => break,
                Err(error) if code_of(&error) == Some(Code::Tampered) => {
                    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{what}");
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(error) => panic!("{what}: after the undo: {error:#}"),
            }
        }
    }
    // The national node quarantined the town at the first edit; once it is restored and every
    // alert of it has arrived, the national administrator releases it.
    let quarantines = runtime.block_on(async {
        let stage = testbed::drill::Stage::new(network)?;
        stage.settled().await?;
        stage.release(ACHI, "restored from the log").await
    });
    assert!(quarantines.unwrap(), "the national node quarantined the tampered town");
    // Nothing acknowledged was lost: every tier agrees.
    ok(&["network", "agree", "--dir", p(root)]);
}

/// A normal busy day raises no alert: the three towns' clerks register residents for two
/// minutes, at about the country's busiest-hour rate per town, their checkpoints are witnessed
/// and replicated, every tier agrees — and no node, the signer included, has recorded a single
/// alert (a self-check that cried wolf would bury the real ones).
#[test]
fn a_normal_busy_day_raises_no_alert() {
    let running = Running::start();
    let (root, network, runtime) = (running.dir.path(), &running.network, &running.runtime);
    let (seconds, rate) = (120u64, 5.0);
    let count = seconds * rate as u64;
    runtime.block_on(async {
        let (a, b, c) = tokio::join!(
            testbed::tools::load(network, ACHI, count, rate, 1),
            testbed::tools::load(network, MATSUMOTO, count, rate, 2),
            testbed::tools::load(network, "203611", count, rate, 3),
        );
        a.and(b).and(c).expect("the day's changes are acknowledged");
    });
    ok(&["network", "agree", "--dir", p(root)]);
    let nodes: Vec<String> = std::fs::read_dir(root.join("nodes"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("node.db").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(nodes.len() >= 6, "{nodes:?}");
    for node in &nodes {
        assert_eq!(
            alerts(root, node),
            Vec::<String>::new(),
            "{node} raised alerts on a normal day"
        );
    }
}

/// Root edits 阿智村's database while its node is stopped (a maintenance window): a resident's
/// rows deleted, to strike them off and reuse their code. The node verifies its tables against
/// its log before it serves anyone, so the very first change it is offered — a birth under the
/// struck-off code — is refused, and the `tampered` alert reaches the national node.
#[test]
fn an_edit_made_while_the_town_was_stopped_is_found_before_it_serves() {
    let mut running = Running::start();
    let root = running.dir.path().to_path_buf();
    ok(&["network", "agree", "--dir", p(&root)]);
    let (code, _) = a_resident(&root);
    let current = current_change(&root, "achi", code);
    let before = reported_at_national(&root, Code::Tampered);
    running.nodes.stop_one("achi");
    let db = registry_db(&root, "achi");
    assert_eq!(db.execute("DELETE FROM residents WHERE code = ?1", [code.to_string()]).unwrap(), 1);
    db.execute("DELETE FROM history WHERE code = ?1", [code.to_string()]).unwrap();
    drop(db);
    running.nodes.start_one("achi").unwrap();
    let network = running.nodes.network().clone();
    let achi: Clerk = testbed::setup::clerk(&network, ACHI).unwrap();
    let mut birth = current.clone();
    birth.record.history_number = registry_domain::HistoryNumber::new(1).unwrap();
    birth.record.latest_change = registry_domain::ChangeInfo::new(
        registry_domain::ChangeReason::Birth,
        current.record.latest_change.date(),
    );
    birth.time = testbed::synthetic::now();
    let reused = running.runtime.block_on(achi.submit(birth)).expect_err("a reused code");
    assert_eq!(code_of(&reused), Some(Code::Tampered), "{reused:#}");
    let took = until_reported(&root, before);
    println!("the tampered alert reached the national node {took:?} after the town served");
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
}
