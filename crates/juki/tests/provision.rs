//! Identity provision to an agency against a running network of real node processes, tried as
//! an agency fishing beyond its purposes would: a purpose it does not hold, items its purpose
//! may not receive, a search its purpose may not make, more than its rate and its daily
//! quota, a resident outside its purpose's jurisdiction, a revoked and an expired certificate.
//! Each is refused with its code and recorded at
//! the national node; misses are recorded too. And root on the national node deleting or
//! altering a provision record is found.

mod support;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use support::{Running, ok, p};
use testbed::setup::{
    Network, PURPOSE_FOUR_ITEMS, PURPOSE_LOCAL, PURPOSE_NARROW, PURPOSE_RARE, PURPOSE_WHOLE,
};
use wire::errors::{Code, ErrorBody};
use wire::provide::{FourItems, ProvideRequest};
use wire::purposes::Item;

const AGENCY: &str = "urn:juki:agency:pension-service";

/// The demo's network running, with every tier agreeing.
fn start() -> Running {
    let running = Running::start();
    ok(&["network", "agree", "--dir", p(running.dir.path())]);
    running
}

/// What the tests read of the running network's databases.
trait Databases {
    fn node_db(&self, node: &str) -> rusqlite::Connection;
    fn residents(&self, n: usize) -> Vec<String>;
    fn residents_of(&self, town: &str, n: usize) -> Vec<String>;
    fn attempts(&self) -> Vec<(String, String, Option<String>)>;
}

impl Databases for Running {
    fn node_db(&self, node: &str) -> rusqlite::Connection {
        let path = self.dir.path().join("nodes").join(node).join("node.db");
        let db = rusqlite::Connection::open(path).unwrap();
        db.busy_timeout(Duration::from_secs(10)).unwrap();
        db
    }

    /// Active residents of 阿智村.
    fn residents(&self, n: usize) -> Vec<String> {
        self.residents_of("achi", n)
    }

    /// Active residents of the town whose node is `town`.
    fn residents_of(&self, town: &str, n: usize) -> Vec<String> {
        let path = self.dir.path().join("nodes").join(town).join("registry.db");
        let db = rusqlite::Connection::open(path).unwrap();
        db.busy_timeout(Duration::from_secs(10)).unwrap();
        let mut select = db
            .prepare("SELECT code FROM residents WHERE status = 'active' ORDER BY code LIMIT ?1")
            .unwrap();
        select.query_map([n as i64], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    }

    /// The national node's attempts: `(actor, outcome, purpose)`, oldest first.
    fn attempts(&self) -> Vec<(String, String, Option<String>)> {
        let db = self.node_db("national");
        let mut select =
            db.prepare("SELECT actor, outcome, purpose FROM attempts ORDER BY id").unwrap();
        select
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }
}

/// The error code of a refused answer.
fn code(answer: &net::Answer) -> Code {
    ErrorBody::parse(&answer.body)
        .unwrap_or_else(|| panic!("an error body: {}", answer.text()))
        .code
}

#[test]
fn an_agency_is_refused_outside_its_catalogue_and_every_refusal_is_recorded() {
    let running = start();
    let (network, runtime) = (&running.network, &running.runtime);
    let agency = testbed::setup::agency(network).unwrap();
    let codes = running.residents(3);
    let resident = codes[0].as_str();
    let refused = |purpose: &str, items: Option<&[Item]>| {
        runtime.block_on(agency.provide(resident, purpose, items)).unwrap().expect_err("refused")
    };

    // Within its purpose: only the purpose's items, checked against the town's log.
    let record = runtime
        .block_on(agency.provide(resident, PURPOSE_FOUR_ITEMS, None))
        .unwrap()
        .expect("provided");
    assert_eq!(record.resident.as_deref(), Some(resident));
    assert!(record.name.is_some() && record.address.is_some());
    assert!(
        record.reading.is_none() && record.individual_number.is_none() && record.reason.is_none()
    );
    let narrowed = runtime
        .block_on(agency.provide(resident, PURPOSE_FOUR_ITEMS, Some(&[Item::Code, Item::Address])))
        .unwrap()
        .expect("provided");
    assert!(narrowed.name.is_none() && narrowed.address.is_some());

    // A purpose it does not hold; items beyond its purpose; a search its purpose may not make.
    assert_eq!(code(&refused("ZEIMU-CHOSA", None)), Code::PurposeNotHeld);
    assert_eq!(
        code(&refused(PURPOSE_FOUR_ITEMS, Some(&[Item::Code, Item::IndividualNumber]))),
        Code::ItemsNotAllowed
    );
    let search = ProvideRequest {
        purpose: PURPOSE_NARROW.into(),
        items: None,
        resident: None,
        query: Some(FourItems { name: "熊谷 花子".into(), ..FourItems::default() }),
    };
    let mut lines = Vec::new();
    runtime.block_on(agency.batch(&[search], |line| lines.push(line))).unwrap().expect("a batch");
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].error.as_ref().map(|e| e.code), Some(Code::ItemsNotAllowed));

    // A batch from a CSV file, answered line by line in order, each checked by the client.
    let csv = running.dir.path().join("codes.csv");
    std::fs::write(
        &csv,
        format!("resident\n{}\n{}\n99999999999\n{}\n", codes[0], codes[1], codes[2]),
    )
    .unwrap();
    let answered = ok(&[
        "agency",
        "batch",
        "--dir",
        p(running.dir.path()),
        "--purpose",
        PURPOSE_FOUR_ITEMS,
        p(&csv),
    ]);
    let lines: Vec<serde_json::Value> =
        answered.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4, "{answered}");
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["line"], i + 1);
    }
    assert_eq!(lines[0]["provided"]["record"]["resident"], codes[0].as_str());
    assert_eq!(lines[1]["provided"]["record"]["resident"], codes[1].as_str());
    assert_eq!(lines[2]["error"]["code"], "bad-request", "not a resident code: {}", lines[2]);
    assert_eq!(lines[3]["provided"]["record"]["resident"], codes[2].as_str());

    // A search by the four items, as an agency clerk types them: the registered person is a
    // candidate, and each code named is a recorded provision.
    let (name, birth, sex, address): (String, String, i64, String) = {
        let db =
            rusqlite::Connection::open(running.dir.path().join("nodes/achi/registry.db")).unwrap();
        db.query_row(
            "SELECT name, birth, sex, address FROM residents WHERE code = ?1",
            [resident],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap()
    };
    let search = ProvideRequest {
        purpose: PURPOSE_FOUR_ITEMS.into(),
        items: None,
        resident: None,
        query: Some(FourItems {
            name: name.replace(' ', "　"),
            reading: String::new(),
            birth: birth.replace('-', "/"),
            sex: sex.to_string(),
            address,
        }),
    };
    let mut lines = Vec::new();
    runtime.block_on(agency.batch(&[search], |line| lines.push(line))).unwrap().expect("a batch");
    let matched = lines[0].matched.as_ref().unwrap_or_else(|| panic!("a match: {:?}", lines[0]));
    assert!(matched.candidates.iter().any(|c| c.code == resident), "{matched:?}");
    let match_records = matched.candidates.len() as u64 + u64::from(matched.provided.is_some());
    if let Some(provided) = &matched.provided {
        let code = provided.record.resident.as_deref().unwrap();
        assert!(matched.candidates.iter().any(|c| c.code == code));
    }

    // A purpose for 松本市's residents alone: 阿智村's resident is refused, recorded and
    // alerted at the national node (naming neither the resident nor their town), and a
    // search under it never names them; 松本市's resident is provided.
    assert_eq!(code(&refused(PURPOSE_LOCAL, None)), Code::OutOfJurisdiction);
    let local = running.residents_of("matsumoto", 1);
    let record = runtime
        .block_on(agency.provide(&local[0], PURPOSE_LOCAL, None))
        .unwrap()
        .expect("a resident of the purpose's town is provided");
    assert!(record.address.is_some() && record.birth.is_none());
    let outside = ProvideRequest {
        purpose: PURPOSE_LOCAL.into(),
        items: None,
        resident: None,
        query: Some(FourItems { name: name.clone(), birth: birth.clone(), ..FourItems::default() }),
    };
    let mut lines = Vec::new();
    runtime.block_on(agency.batch(&[outside], |line| lines.push(line))).unwrap().expect("a batch");
    let matched = lines[0].matched.as_ref().unwrap_or_else(|| panic!("a match: {:?}", lines[0]));
    assert!(!matched.candidates.iter().any(|c| c.code == resident), "{matched:?}");
    let alerts: Vec<String> = running
        .node_db("national")
        .prepare("SELECT detail FROM alerts WHERE kind = 'out-of-jurisdiction'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!alerts.is_empty(), "the refusal is an alert");
    assert!(alerts.iter().all(|d| !d.contains(resident) && !d.contains("204072")), "{alerts:?}");

    // A code nobody holds: a miss, recorded.
    let nobody = registry_domain::ResidentCode::from_ten_digits(1_234_567_890).unwrap().to_string();
    assert!(!codes.contains(&nobody));
    let missed = runtime.block_on(agency.provide(&nobody, PURPOSE_NARROW, None)).unwrap();
    assert_eq!(code(&missed.expect_err("a miss")), Code::NoResident);

    // The rate: five a minute. Eleven requests cross at most one minute's boundary, so one
    // of them is refused.
    let rated = (0..11)
        .map(|_| runtime.block_on(agency.provide(resident, PURPOSE_NARROW, None)).unwrap())
        .find_map(Result::err)
        .expect("a request over the rate");
    assert_eq!(code(&rated), Code::RateLimited);
    // The quota: three a day. Seven requests cross at most one day's boundary.
    let over = (0..7)
        .map(|_| runtime.block_on(agency.provide(resident, PURPOSE_RARE, None)).unwrap())
        .find_map(Result::err)
        .expect("a request over the quota");
    assert_eq!(code(&over), Code::QuotaExceeded);

    // Every refusal is recorded at the national node: who, why, under which purpose.
    let attempts = running.attempts();
    for (outcome, purpose) in [
        ("purpose-not-held", Some("ZEIMU-CHOSA")),
        ("items-not-allowed", Some(PURPOSE_FOUR_ITEMS)),
        ("items-not-allowed", Some(PURPOSE_NARROW)),
        ("no-resident", None),
        ("rate-limited", Some(PURPOSE_NARROW)),
        ("quota-exceeded", Some(PURPOSE_RARE)),
        ("out-of-jurisdiction", Some(PURPOSE_LOCAL)),
    ] {
        assert!(
            attempts
                .iter()
                .any(|(actor, o, p)| actor == AGENCY && o == outcome && p.as_deref() == purpose),
            "{outcome} {purpose:?} not recorded: {attempts:?}"
        );
    }
    // And every provision, with its purpose and items, never more.
    let db = running.node_db("national");
    let provided: Vec<(String, String)> = db
        .prepare("SELECT purpose, body FROM records WHERE actor = ?1 ORDER BY idx")
        .unwrap()
        .query_map([AGENCY], |r| {
            Ok((r.get(0)?, String::from_utf8(r.get::<_, Vec<u8>>(1)?).unwrap()))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(provided.iter().any(|(purpose, body)| purpose == PURPOSE_FOUR_ITEMS
        && body.contains("\nitems code name birth sex address\n")));
    assert!(
        provided.iter().any(|(purpose, body)| purpose == PURPOSE_FOUR_ITEMS
            && body.contains("\nitems code address\n"))
    );
    assert_eq!(provided.iter().filter(|(purpose, _)| purpose == PURPOSE_RARE).count(), 3);

    // The year's statistics per agency and purpose, signed by the node, name no resident.
    let year = japan_year();
    let national = running.dir.path().join("nodes/national");
    let stats = ok(&["purposes", "stats", "--node", p(&national), "--year", &year.to_string()]);
    assert!(stats.starts_with("juki.provision-stats/v1\nnode urn:juki:national\n"), "{stats}");
    let count = |purpose: &str| {
        stats
            .lines()
            .find_map(|l| l.strip_prefix(&format!("count {AGENCY} {purpose} ")))
            .and_then(|n| n.parse::<u64>().ok())
    };
    assert_eq!(count(PURPOSE_RARE), Some(3), "{stats}");
    assert_eq!(
        count(PURPOSE_FOUR_ITEMS),
        Some(5 + match_records),
        "two alone, three in the batch, the match's: {stats}"
    );
    assert!(!stats.contains(resident), "no resident in the statistics");

    // A revoked and an expired certificate of the agency: refused in the handshake, recorded.
    let root = running.dir.path();
    let ca = network.ca_dir.clone();
    let prefix = root.join("extra/agency-2");
    std::fs::create_dir_all(prefix.parent().unwrap()).unwrap();
    ok_with_ca(
        root,
        &[
            "pki",
            "issue",
            "--ca",
            p(&ca),
            "--role",
            "agency",
            "--code",
            "pension-service",
            "--out",
            p(&prefix),
        ],
    );
    let second = agency_with(network, &prefix.with_extension("crt"), &prefix.with_extension("key"));
    assert!(runtime.block_on(second.purposes()).unwrap().is_ok(), "a new certificate works");
    ok_with_ca(
        root,
        &["pki", "revoke", "--ca", p(&ca), "--cert", p(&prefix.with_extension("crt"))],
    );
    // The node rereads the CRL about every second; a new client makes a new connection.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let again =
            agency_with(network, &prefix.with_extension("crt"), &prefix.with_extension("key"));
        if runtime.block_on(again.purposes()).is_err() {
            break;
        }
        assert!(Instant::now() < deadline, "the revoked certificate still works");
        std::thread::sleep(Duration::from_millis(100));
    }
    let key = testbed::passphrases::read_key(root, &ca.join("ca.key")).unwrap();
    let real_ca =
        pki::Ca::load(&std::fs::read_to_string(ca.join("ca.crt")).unwrap(), &key).unwrap();
    let day = Duration::from_secs(86_400);
    let past = pki::Validity {
        not_before: SystemTime::now() - 10 * day,
        not_after: SystemTime::now() - day,
    };
    let identity = pki::Identity::agency("pension-service").unwrap();
    let (cert, key) = real_ca.issue(&identity, &[], past).unwrap();
    let expired = root.join("extra/agency-expired");
    std::fs::write(expired.with_extension("crt"), cert).unwrap();
    std::fs::write(expired.with_extension("key"), key.as_bytes()).unwrap();
    let stale =
        agency_with(network, &expired.with_extension("crt"), &expired.with_extension("key"));
    assert!(runtime.block_on(stale.purposes()).is_err(), "an expired certificate is refused");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let handshakes: Vec<String> = running
            .attempts()
            .into_iter()
            .filter(|(actor, outcome, _)| {
                actor.starts_with("tcp:") && outcome.starts_with("tls-refused")
            })
            .map(|(_, outcome, _)| outcome)
            .collect();
        if handshakes.iter().any(|o| o.contains("revoked"))
            && handshakes.iter().any(|o| o.contains("expired"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "refused handshakes not recorded: {handshakes:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_deleted_or_altered_provision_record_is_found() {
    let running = start();
    let (network, runtime) = (&running.network, &running.runtime);
    let agency = testbed::setup::agency(network).unwrap();
    for resident in running.residents(4) {
        runtime
            .block_on(agency.provide(&resident, PURPOSE_WHOLE, None))
            .unwrap()
            .expect("provided");
    }
    let tampered = |db: &rusqlite::Connection| -> Vec<String> {
        db.prepare("SELECT detail FROM alerts WHERE kind = 'tampered' ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let db = running.node_db("national");
    let before = tampered(&db).len();
    let last: i64 = db
        .query_row("SELECT max(idx) FROM records WHERE actor = ?1", [AGENCY], |r| r.get(0))
        .unwrap();
    // Root edits who a provision went to.
    let body: Vec<u8> =
        db.query_row("SELECT body FROM records WHERE idx = ?1", [last], |r| r.get(0)).unwrap();
    let edited = String::from_utf8(body).unwrap().replace("pension-service", "pension-servicf");
    db.execute(
        "UPDATE records SET body = ?2 WHERE idx = ?1",
        rusqlite::params![last, edited.into_bytes()],
    )
    .unwrap();
    let found = wait_for(|| tampered(&db).len() > before, "the altered record");
    assert!(
        tampered(&db).iter().any(|d| d.contains(&format!("record {last} is not"))),
        "{found:?}"
    );
    // Root deletes a provision record.
    let before = tampered(&db).len();
    db.execute("DELETE FROM records WHERE idx = ?1", [last - 1]).unwrap();
    wait_for(|| tampered(&db).len() > before, "the deleted record");
    assert!(
        tampered(&db).iter().any(|d| d.contains("missing") || d.contains("private records for"))
    );
    drop(running.nodes);
}

/// This year in Japan time.
fn japan_year() -> u64 {
    let now =
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() + 9 * 3600;
    let mut days = now / 86_400;
    let mut year = 1970;
    loop {
        let length = if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) { 366 } else { 365 };
        if days < length {
            return year;
        }
        days -= length;
        year += 1;
    }
}

/// Waits (polling what the node recorded) until `done`, for at most 30 seconds.
fn wait_for(mut done: impl FnMut() -> bool, what: &str) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(30), "{what} was not found");
        std::thread::sleep(Duration::from_millis(100));
    }
    started.elapsed()
}

/// The network's agency with other TLS files.
fn agency_with(network: &Network, cert: &Path, key: &Path) -> client::agency::Agency {
    let mut copy = network.clone();
    copy.agency.cert = cert.to_path_buf();
    copy.agency.key = key.to_path_buf();
    testbed::setup::agency(&copy).unwrap()
}

/// `juki ARGS` with the CA key's passphrase, as the network's CA operator runs it.
fn ok_with_ca(root: &Path, args: &[&str]) -> String {
    let network = Network::load(root).unwrap();
    let ca_key = network.ca_dir.join("ca.key");
    let passphrase =
        testbed::passphrases::Passphrases::load(root).unwrap().required(&ca_key).unwrap();
    let output = support::juki()
        .args(args)
        .args(["--passphrase-env", "CA_PASSPHRASE"])
        .env("CA_PASSPHRASE", passphrase.as_str())
        .output()
        .unwrap();
    support::succeeded(args, output)
}

#[test]
fn a_disclosure_lists_exactly_the_provisions_made_and_every_receipt_verifies() {
    let running = start();
    let (network, runtime, root) = (&running.network, &running.runtime, running.dir.path());
    let agency = testbed::setup::agency(network).unwrap();
    let clerk = testbed::setup::clerk(network, "204072").unwrap();
    let residents = running.residents(2);
    let (resident, other) = (&residents[0], &residents[1]);
    let resident_code = registry_domain::ResidentCode::parse(resident).unwrap();
    // Until every record of the period is in a witnessed checkpoint; with the number of
    // disclosures it took (each one a read the town records, listed by the next).
    let disclose = |n: usize| {
        let started = Instant::now();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let out = root.join(format!("disclosure-{n}-{}", started.elapsed().as_millis()));
            let written = runtime
                .block_on(testbed::disclosure::disclose(
                    network,
                    "204072",
                    resident_code,
                    0,
                    u64::MAX,
                    &out,
                ))
                .unwrap();
            if written.pending == 0 {
                return (written, attempts);
            }
            assert!(started.elapsed() < Duration::from_secs(30), "records stay pending");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let (before, _) = disclose(0);

    // A known sequence: three provisions of the resident to the agency, one of another
    // resident, one refusal, and a clerk's lookup at the counter.
    for purpose in [PURPOSE_WHOLE, PURPOSE_FOUR_ITEMS, PURPOSE_WHOLE] {
        runtime.block_on(agency.provide(resident, purpose, None)).unwrap().expect("provided");
    }
    runtime.block_on(agency.provide(other, PURPOSE_WHOLE, None)).unwrap().expect("provided");
    let refused = runtime.block_on(agency.provide(resident, "ZEIMU-CHOSA", None)).unwrap();
    assert_eq!(code(&refused.expect_err("refused")), Code::PurposeNotHeld);
    runtime.block_on(clerk.lookup(resident_code, "窓口での本人確認")).unwrap();

    let (after, attempts) = disclose(1);
    // What was disclosed before is disclosed again, unchanged.
    for old in &before.provisions {
        assert!(
            after
                .provisions
                .iter()
                .any(|p| p.origin == old.origin && p.index == old.index && p.record == old.record),
            "provision {} of {} disappeared",
            old.index,
            old.node
        );
    }
    let new: Vec<_> = after
        .provisions
        .iter()
        .filter(|p| !before.provisions.iter().any(|o| o.origin == p.origin && o.index == p.index))
        .collect();
    let field = |record: &str, name: &str| {
        record
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
            .map(str::to_owned)
    };
    let mut seen: Vec<(String, String, Option<String>)> = new
        .iter()
        .map(|p| (p.node.clone(), field(&p.record, "kind").unwrap(), field(&p.record, "purpose")))
        .collect();
    seen.sort();
    let mut expected = vec![
        ("urn:juki:national".to_owned(), "identity".to_owned(), Some(PURPOSE_WHOLE.to_owned())),
        (
            "urn:juki:national".to_owned(),
            "identity".to_owned(),
            Some(PURPOSE_FOUR_ITEMS.to_owned()),
        ),
        ("urn:juki:national".to_owned(), "identity".to_owned(), Some(PURPOSE_WHOLE.to_owned())),
        (
            "urn:juki:municipal:204072".to_owned(),
            "lookup".to_owned(),
            Some("窓口での本人確認".to_owned()),
        ),
    ];
    // A disclosure is itself a read of the record, recorded at the town: the last one made
    // before the sequence, and those made after it but before the one listed (while records
    // were still pending publication).
    for _ in 0..attempts {
        expected.push((
            "urn:juki:municipal:204072".to_owned(),
            "disclosure".to_owned(),
            Some("開示 (the resident's own disclosure)".to_owned()),
        ));
    }
    expected.sort();
    assert_eq!(seen, expected, "exactly the provisions made, no more and no fewer");
    for p in &new {
        assert_eq!(field(&p.record, "resident").as_deref(), Some(resident.as_str()));
    }

    // Every receipt verifies with the command a resident would run.
    for provision in &after.provisions {
        let policy = testbed::disclosure::provision_policy(network, &provision.origin).unwrap();
        let (vkey, witness) = (policy.log_keys[0].to_string(), policy.witnesses[0].to_string());
        let out = ok(&[
            "log",
            "verify-receipt",
            "--commitment",
            p(&provision.receipt),
            "--vkey",
            &vkey,
            "--origin",
            &provision.origin,
            "--witness",
            &witness,
            "--quorum",
            "1",
        ]);
        assert!(out.contains("receipt verified"), "{out}");
    }
    // A receipt whose record was altered does not.
    let altered = root.join("altered.receipt");
    let text = std::fs::read_to_string(&new[0].receipt).unwrap();
    let mut receipt = tlog::receipt::Receipt::parse(text.as_bytes()).unwrap();
    let record = String::from_utf8(receipt.extra.take().unwrap()).unwrap();
    receipt.extra = Some(record.replace("\ntime ", "\ntime 1").into_bytes());
    std::fs::write(&altered, receipt.to_bytes()).unwrap();
    let policy = testbed::disclosure::provision_policy(network, &new[0].origin).unwrap();
    support::fails(&[
        "log",
        "verify-receipt",
        "--commitment",
        p(&altered),
        "--vkey",
        &policy.log_keys[0].to_string(),
        "--origin",
        &new[0].origin,
    ]);

    // And the command at the counter writes the same disclosure.
    let out_dir = root.join("disclosure-cli");
    let printed =
        ok(&["disclose", "--dir", p(root), "--town", "204072", "--out", p(&out_dir), resident]);
    assert!(printed.contains("every receipt verified"), "{printed}");
    assert!(out_dir.join("disclosure.txt").exists());
}
