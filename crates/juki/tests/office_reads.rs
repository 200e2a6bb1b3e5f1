//! Every read of personal data at a town office is a read request signed by the clerk's own
//! operator key, checked by the node before it reads anything and recorded, naming the clerk
//! and carrying the signed request, before the answer leaves — against a running network of
//! real node processes. A read without a clerk's signature, by a revoked operator, by another
//! town's operator, a replayed or a stale request: each refused by its code, recorded as an
//! alert, nothing served. A wide-area copy is recorded at both towns naming the same clerk,
//! `juki resident show|search` leave the same records as the clerk's client, and an offline
//! read of a stopped town's directory is recorded there and published when the node runs.

mod support;

use std::path::Path;

use client::office::Clerk;
use registry_core::event::{Event, Revocation};
use registry_domain::{MunicipalityCode, ResidentCode};
use support::{Running, p};
use tlog::note::Note;
use wire::errors::Code;
use wire::read::ReadKind;

const ACHI: &str = "204072";
const SHIMOSUWA: &str = "203611";
const MATSUMOTO: &str = "202029";

/// The code of a refusal.
fn code_of(error: &anyhow::Error) -> Option<Code> {
    error.downcast_ref::<client::Refused>().and_then(client::Refused::code)
}

fn node_db(dir: &Path, node: &str) -> rusqlite::Connection {
    let db = rusqlite::Connection::open(dir.join("nodes").join(node).join("node.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    db
}

/// The alerts a node recorded: `(kind, peer, detail)`, oldest first.
fn alerts(dir: &Path, node: &str) -> Vec<(String, String, String)> {
    let db = node_db(dir, node);
    let mut select = db.prepare("SELECT kind, peer, detail FROM alerts ORDER BY id").unwrap();
    select
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The provision records a town's node keeps about `resident`: `(kind, body)`, oldest first.
fn provisions(dir: &Path, node: &str, resident: ResidentCode) -> Vec<(String, String)> {
    let db = node_db(dir, node);
    let mut select =
        db.prepare("SELECT kind, body FROM records WHERE resident = ?1 ORDER BY idx").unwrap();
    select
        .query_map([resident.to_string()], |r| {
            Ok((r.get(0)?, String::from_utf8(r.get::<_, Vec<u8>>(1)?).unwrap()))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The value of field `key` in a provision record, unescaped.
fn field(body: &str, key: &str) -> Option<String> {
    let value = body.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))?;
    Some(value.replace("\\n", "\n").replace("\\\\", "\\"))
}

/// Active residents of a town registered by a birth.
fn residents(dir: &Path, node: &str, n: usize) -> Vec<ResidentCode> {
    let db = rusqlite::Connection::open(dir.join("nodes").join(node).join("registry.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    let mut select = db
        .prepare("SELECT code FROM residents WHERE status = 'active' ORDER BY event_idx LIMIT ?1")
        .unwrap();
    select
        .query_map([n as i64], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|c| ResidentCode::parse(&c.unwrap()).unwrap())
        .collect()
}

/// A lookup request by `clerk` for `code`, as its client would make it.
fn lookup_request(clerk: &Clerk, code: ResidentCode) -> wire::read::ReadRequest {
    let mut request = clerk.read_request(ReadKind::Lookup, "窓口での本人確認").unwrap();
    request.resident = Some(code);
    request
}

#[test]
fn every_office_read_is_signed_by_the_clerk_and_recorded_before_it_leaves() {
    let mut running = Running::start();
    let (root, network, runtime) = (running.dir.path(), &running.network, &running.runtime);
    let achi: Clerk = testbed::setup::clerk(network, ACHI).unwrap();
    let codes = residents(root, "achi", 3);
    let code = codes[0];
    let town = network.town(ACHI).unwrap();
    let clerk_key = testbed::passphrases::load_signer(root, &town.clerk_key).unwrap();
    let clerk_vkey = clerk_key.verifier().to_string();

    // A lookup signed by the clerk: the node records it, naming her key and keeping her signed
    // request, before the answer leaves.
    let request = lookup_request(&achi, code);
    let note = achi.sign_read(&request).unwrap();
    let before = provisions(root, "achi", code).len();
    let record = runtime.block_on(achi.lookup_signed(code, note.clone())).expect("the lookup");
    assert_eq!(record.resident_code, code);
    let records = provisions(root, "achi", code);
    assert_eq!(records.len(), before + 1);
    let (kind, body) = records.last().unwrap();
    assert_eq!(kind, "lookup");
    assert_eq!(field(body, "operator").as_deref(), Some(clerk_vkey.as_str()));
    assert_eq!(field(body, "to").as_deref(), Some("urn:juki:console:204072"));
    assert_eq!(field(body, "purpose").as_deref(), Some("窓口での本人確認"));
    assert_eq!(field(body, "request").unwrap().as_bytes(), note.as_slice(), "the signed request");
    // The request the record keeps proves who read whom, why: it verifies with the clerk's key.
    let kept = field(body, "request").unwrap();
    let known: tlog::note::Verifiers = std::iter::once(clerk_key.verifier()).collect();
    let opened = tlog::note::open(kept.as_bytes(), &known).expect("signed by the clerk");
    let kept = wire::read::ReadRequest::parse(opened.text()).unwrap();
    assert_eq!((kept.resident, kept.kind), (Some(code), ReadKind::Lookup));

    // The same request again: refused as a replay, alerted, nothing served or recorded.
    let alerts_before = alerts(root, "achi").len();
    let error = runtime.block_on(achi.lookup_signed(code, note)).expect_err("a replay");
    assert_eq!(code_of(&error), Some(Code::ReadReplayed), "{error:#}");
    // A stale request, signed ten minutes ago.
    let mut stale = lookup_request(&achi, code);
    stale.time -= 600;
    let error = runtime
        .block_on(achi.lookup_signed(code, achi.sign_read(&stale).unwrap()))
        .expect_err("a stale request");
    assert_eq!(code_of(&error), Some(Code::StaleRead), "{error:#}");
    // No signature: the request's text alone, a request whose text was changed after it was
    // signed, and the old GET without a request.
    let text = lookup_request(&achi, code).text();
    let error = runtime
        .block_on(achi.lookup_signed(code, text.clone().into_bytes()))
        .expect_err("an unsigned request");
    assert_eq!(code_of(&error), Some(Code::UnsignedRead), "{error:#}");
    let signed = String::from_utf8(achi.sign_read(&lookup_request(&achi, code)).unwrap()).unwrap();
    let edited = signed.replace("窓口での本人確認", "窓口での本人確認 ");
    let error = runtime
        .block_on(achi.lookup_signed(code, edited.into_bytes()))
        .expect_err("an edited request");
    assert_eq!(code_of(&error), Some(Code::UnsignedRead), "{error:#}");
    let console_files = net::TlsFiles {
        cert: town.console.cert.clone(),
        key: town.console.key.clone(),
        ca: network.ca.clone(),
        crl: Some(network.ca_dir.join("crl.pem")),
    };
    let office = node::report::resolve_url(
        &network.nodes.iter().find(|n| n.code.as_deref() == Some(ACHI)).unwrap().api_url,
    )
    .unwrap();
    let get = runtime
        .block_on(client::call_get(
            &net::Client::new(&console_files).unwrap(),
            &format!("{office}/v1/residents/{code}"),
            Some("urn:juki:municipal:204072"),
        ))
        .unwrap();
    assert_eq!(get.status.as_u16(), 401);
    let body = wire::errors::ErrorBody::parse(&get.body).expect("an error body");
    assert_eq!(body.code, Code::UnsignedRead);
    // Another town's operator at 阿智村's console: her key is not enrolled here.
    let shimosuwa_key =
        testbed::passphrases::load_signer(root, &network.town(SHIMOSUWA).unwrap().clerk_key)
            .unwrap();
    let stranger = testbed::setup::console_clerk(network, ACHI, shimosuwa_key).unwrap();
    let error = runtime.block_on(stranger.lookup(code, "確認")).expect_err("another town's");
    assert_eq!(code_of(&error), Some(Code::UnsignedRead), "{error:#}");
    // A copy request sent as a lookup: malformed, no attack.
    let mut copy = achi.read_request(ReadKind::Copy, "確認").unwrap();
    copy.resident = Some(code);
    let error = runtime
        .block_on(achi.lookup_signed(code, achi.sign_read(&copy).unwrap()))
        .expect_err("a copy request is no lookup");
    assert_eq!(code_of(&error), Some(Code::BadRequest), "{error:#}");
    assert_eq!(provisions(root, "achi", code).len(), before + 1, "nothing more was recorded");
    let raised: Vec<_> = alerts(root, "achi")[alerts_before..]
        .iter()
        .map(|(kind, peer, _)| (kind.clone(), peer.clone()))
        .collect();
    let console = "urn:juki:console:204072".to_owned();
    for expected in [
        Code::ReadReplayed,
        Code::StaleRead,
        Code::UnsignedRead,
        Code::UnsignedRead,
        Code::UnsignedRead,
        Code::UnsignedRead,
    ] {
        let expected = (expected.as_str().to_owned(), console.clone());
        assert!(raised.contains(&expected), "{expected:?} in {raised:?}");
    }
    assert!(
        raised.iter().any(|(kind, _)| kind == Code::RepeatedRefusals.as_str()),
        "six refusals within a minute are counted: {raised:?}"
    );

    // A lookup of a code with no resident is an attempt counted against the clerk, not the
    // console.
    let missing =
        (0..10).filter_map(|d| ResidentCode::parse(&format!("9999999999{d}")).ok()).next().unwrap();
    let error = runtime.block_on(achi.lookup(missing, "確認")).expect_err("no such resident");
    assert_eq!(code_of(&error), Some(Code::NoResident), "{error:#}");
    let actor: String = node_db(root, "achi")
        .query_row("SELECT actor FROM attempts ORDER BY id DESC LIMIT 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(actor, clerk_key.name());

    // A wide-area copy (広域交付): 松本市's clerk asks for a copy of 阿智村's resident. Her signed
    // request travels verbatim; both towns record the provision naming her.
    let matsumoto: Clerk = testbed::setup::clerk(network, MATSUMOTO).unwrap();
    let matsumoto_vkey =
        testbed::passphrases::load_signer(root, &network.town(MATSUMOTO).unwrap().clerk_key)
            .unwrap()
            .verifier()
            .to_string();
    let wide = codes[1];
    let (_, copy) =
        runtime.block_on(matsumoto.copy(wide, Some(ACHI), "広域交付")).expect("a wide-area copy");
    assert_eq!(copy.record.resident_code, wide);
    let at_keeper = provisions(root, "achi", wide);
    let at_requester = provisions(root, "matsumoto", wide);
    let (kind, keeper_body) = at_keeper.last().expect("recorded where the record is kept");
    assert_eq!(kind, "wide-area-copy");
    let (kind, requester_body) = at_requester.last().expect("recorded where it was asked for");
    assert_eq!(kind, "wide-area-copy");
    for body in [keeper_body, requester_body] {
        assert_eq!(field(body, "operator").as_deref(), Some(matsumoto_vkey.as_str()), "{body}");
        assert_eq!(field(body, "purpose").as_deref(), Some("広域交付"));
    }
    assert_eq!(field(keeper_body, "request"), field(requester_body, "request"), "one request");
    assert_eq!(field(keeper_body, "to").as_deref(), Some("urn:juki:municipal:202029"));
    assert_eq!(field(requester_body, "to").as_deref(), Some("urn:juki:console:202029"));
    assert_eq!(field(requester_body, "source").as_deref(), Some("urn:juki:municipal:204072"));
    // The clerk's request names its keeper and her town: 阿智村 would refuse it from any other
    // town's node, and refuses it again from 松本市's (the nonce is spent).
    let kept = field(keeper_body, "request").unwrap();
    let request =
        wire::read::ReadRequest::parse(Note::parse(kept.as_bytes()).unwrap().text()).unwrap();
    assert_eq!(request.keeper, Some(MunicipalityCode::parse(ACHI).unwrap()));
    assert_eq!(request.town, MunicipalityCode::parse(MATSUMOTO).unwrap());
    let error = runtime
        .block_on(matsumoto.copy_signed(wide, request.keeper, kept.into_bytes()))
        .expect_err("a replayed copy request");
    assert_eq!(code_of(&error), Some(Code::ReadReplayed), "{error:#}");

    // `juki resident show` and `juki resident search` are the same signed, recorded reads.
    let passphrases = testbed::passphrases::Passphrases::load(root).unwrap();
    let passphrase = passphrases.required(&town.clerk_key).unwrap();
    // As `juki office` calls a node — its URL, the console's certificate, the CA — with the
    // town's registration, or through a network directory.
    let registration = running.dir.path().join("achi-registration.json");
    let keys = network.towns.iter().find(|t| t.municipality == ACHI).unwrap();
    std::fs::write(&registration, serde_json::to_vec(keys).unwrap()).unwrap();
    let crl = network.ca_dir.join("crl.pem");
    let by_console = [
        "--node",
        office.as_str(),
        "--town",
        ACHI,
        "--console-cert",
        p(&town.console.cert),
        "--console-key",
        p(&town.console.key),
        "--ca",
        p(&network.ca),
        "--crl",
        p(&crl),
        "--registration",
        p(&registration),
    ];
    let by_network = ["--network", p(root), "--town", ACHI];
    let cli = |place: &[&str], args: &[&str]| {
        let mut all = vec!["resident", args[0]];
        all.extend_from_slice(place);
        all.extend(["--key", p(&town.clerk_key), "--purpose", "窓口での確認"]);
        all.extend_from_slice(&args[1..]);
        support::succeeded(
            &all,
            support::juki()
                .args(&all)
                .env("JUKI_PASSPHRASE", passphrase.as_str())
                .output()
                .unwrap(),
        )
    };
    let shown_code = codes[2];
    let before = provisions(root, "achi", shown_code).len();
    let shown = cli(&by_console, &["show", "--code", &shown_code.to_string()]);
    assert!(shown.contains(&format!("resident-code {shown_code}")), "{shown}");
    let records = provisions(root, "achi", shown_code);
    assert_eq!(records.len(), before + 1);
    assert_eq!(records.last().unwrap().0, "lookup");
    assert_eq!(field(&records.last().unwrap().1, "operator").as_deref(), Some(clerk_vkey.as_str()));
    let reading = shown
        .lines()
        .find_map(|l| l.strip_prefix("reading "))
        .expect("the reading is shown")
        .split(['　', ' '])
        .next()
        .unwrap()
        .to_owned();
    let found = cli(&by_network, &["search", "--reading", &reading, "--limit", "100"]);
    assert!(found.lines().any(|l| l.starts_with(&shown_code.to_string())), "{found}");
    for line in found.lines() {
        let resident = ResidentCode::parse(line.split_whitespace().next().unwrap()).unwrap();
        let (kind, body) = provisions(root, "achi", resident).pop().expect("recorded");
        assert_eq!(kind, "search", "each resident found is a provision");
        assert_eq!(field(&body, "operator").as_deref(), Some(clerk_vkey.as_str()));
    }

    // A revoked operator reads nothing: the admin revokes 阿智村's supervisor offline, the
    // revocation reaches the node through the office API, and the supervisor's next lookup is
    // refused.
    let supervisor: Clerk = testbed::setup::supervisor(network, ACHI).unwrap();
    runtime.block_on(supervisor.lookup(code, "確認")).expect("enrolled, not yet revoked");
    let admin = testbed::passphrases::load_signer(root, &town.admin_key).unwrap();
    let supervisor_key =
        testbed::passphrases::load_signer(root, &town.supervisor_key).unwrap().verifier();
    let revocation = Event::Revocation(Revocation {
        municipality: MunicipalityCode::parse(ACHI).unwrap(),
        operator: supervisor_key,
        time: registry_core::time::Timestamp::from_unix(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
        ),
    });
    let mut note = Note::new(revocation.to_text()).unwrap();
    note.sign(&admin).unwrap();
    runtime.block_on(achi.submit_note(note.to_bytes())).expect("the revocation is recorded");
    let before = provisions(root, "achi", code).len();
    let error = runtime.block_on(supervisor.lookup(code, "確認")).expect_err("revoked");
    assert_eq!(code_of(&error), Some(Code::RevokedReader), "{error:#}");
    assert_eq!(provisions(root, "achi", code).len(), before, "nothing recorded or served");
    assert!(alerts(root, "achi").iter().any(|(kind, _, _)| kind == "revoked-reader"));

    // Offline, for the registry directory's own administration: with 阿智村's node stopped, the
    // clerk's read of its directory is recorded, naming her, in the directory's node.db, and the
    // node publishes it, witnessed, when it runs again.
    running.nodes.stop_one("achi");
    let achi_dir = root.join("nodes/achi");
    let entries = || -> u64 {
        node_db(root, "achi")
            .query_row("SELECT count(*) FROM log_entries", [], |r| r.get::<_, i64>(0))
            .unwrap() as u64
    };
    let logged = entries();
    let offline_code = codes[1];
    let before = provisions(root, "achi", offline_code).len();
    let args = [
        "resident",
        "show",
        "--dir",
        p(&achi_dir),
        "--key",
        p(&town.clerk_key),
        "--purpose",
        "住民票の照合",
        "--code",
        &offline_code.to_string(),
    ]
    .map(str::to_owned);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let shown = support::succeeded(
        &args,
        support::juki().args(&args).env("JUKI_PASSPHRASE", passphrase.as_str()).output().unwrap(),
    );
    assert!(shown.contains(&format!("resident-code {offline_code}")), "{shown}");
    let records = provisions(root, "achi", offline_code);
    assert_eq!(records.len(), before + 1);
    let (kind, body) = records.last().unwrap();
    assert_eq!(kind, "lookup");
    assert_eq!(field(body, "to").as_deref(), Some("offline"));
    assert_eq!(field(body, "operator").as_deref(), Some(clerk_vkey.as_str()));
    assert_eq!(entries(), logged + 1, "one entry in the provision log");
    running.nodes.start_one("achi").unwrap();
    let checkpoint = achi_dir.join(node::logs::PROVISION_TILES).join("checkpoint");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let size: u64 = std::fs::read_to_string(&checkpoint)
            .ok()
            .and_then(|text| text.lines().nth(1).and_then(|l| l.parse().ok()))
            .unwrap_or(0);
        if size > logged {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the offline read is not published");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
