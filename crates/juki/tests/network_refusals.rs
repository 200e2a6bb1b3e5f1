//! Refusals on a real network: `juki demo --exit` builds the network (CA, national node,
//! Nagano, 阿智村, 下諏訪町, 松本市, an agency), the test starts every node again as a
//! `juki serve` process on loopback and attacks it the ways a stranger, a stolen or stale
//! credential, a confused clerk or a compromised town node would. Each refusal is checked for
//! its status and message, for leaving every town's log and every mirror exactly as they were,
//! and, where the attack reaches an upstream node, for the alert it records.
//!
//! One network serves every case (building it takes seconds); the cases run in order in one
//! test, each taking its own before-and-after picture.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use registry_core::event::{Change, Event};
use registry_core::moves::MoveOutCertificate;
use registry_core::time::Timestamp;
use registry_domain::{
    Address, ChangeInfo, ChangeReason, Date, HistoryNumber, IdentityRecordParts, MunicipalityCode,
    Name, NameReading, PersonName, RecordStatus, ResidentCode, Sex,
};
use rustls::AlertDescription;
use serde_json::{Value, json};
use support::p;
use tlog::Hash;
use tlog::note::{KeyKind, Note, Signer};

const ACHI: &str = "204072";
const SHIMOSUWA: &str = "203611";
const TOWNS: [(&str, &str); 3] =
    [("achi", ACHI), ("shimosuwa", SHIMOSUWA), ("matsumoto", "202029")];

type Reply = Result<net::Response, net::ClientError>;

/// A node as `network.json` lists it.
struct NodeInfo {
    name: String,
    api_url: String,
    network_url: String,
    public_url: String,
    config: PathBuf,
}

/// The running network; its node processes are stopped when it is dropped.
struct Network {
    dir: tempfile::TempDir,
    json: Value,
    nodes: Vec<NodeInfo>,
    /// The processes, started as the testbed starts them.
    procs: testbed::processes::Nodes,
}

impl Drop for Network {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let logs = self
                .nodes
                .iter()
                .map(|n| n.config.with_file_name("node.log"))
                .chain([self.root().join("witness/witness.log")]);
            for log in logs {
                eprintln!("--- the end of {}:", log.display());
                eprintln!("{}", testbed::processes::tail(&log, 20));
            }
        }
        self.procs.stop();
    }
}

impl Network {
    /// Builds a network with `juki demo --exit` and starts its nodes again (the witness
    /// first, then each node once the ones it calls have reported their addresses).
    fn start() -> Network {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let net_dir = dir.path().join("net");
        let output = support::run(&[
            "demo",
            "--dir",
            p(&net_dir),
            "--residents",
            "30",
            "--exit",
            "--no-drills",
        ]);
        let (stdout, stderr) =
            (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(!stderr.contains("panicked"), "juki demo panicked:\n{stdout}\n{stderr}");
        assert!(net_dir.join("network.json").exists(), "juki demo built no network:\n{stderr}");
        // The demo's own scenario is network_faults.rs's test; here it only builds the network
        // and fills it with residents, and the cases begin once every tier agrees.
        if !output.status.success() {
            eprintln!("juki demo reported a failed step; the network is used anyway:\n{stdout}");
        }
        testbed::use_binary(env!("CARGO_BIN_EXE_juki"));
        let network = testbed::setup::Network::load(&net_dir).expect("network.json");
        let procs = testbed::processes::Nodes::start(&network).expect("starting the network");
        // network.json now holds the addresses the nodes reported.
        let text = std::fs::read_to_string(net_dir.join("network.json")).expect("network.json");
        let json: Value = serde_json::from_str(&text).expect("network.json is JSON");
        let s = |v: &Value| v.as_str().expect("a string").to_owned();
        let nodes = json["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| NodeInfo {
                name: s(&n["name"]),
                api_url: s(&n["api_url"]),
                network_url: s(&n["network_url"]),
                public_url: s(&n["public_url"]),
                config: PathBuf::from(s(&n["config"])),
            })
            .collect::<Vec<_>>();
        Network { dir, json, nodes, procs }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("net")
    }

    fn node(&self, name: &str) -> &NodeInfo {
        self.nodes.iter().find(|n| n.name == name).unwrap_or_else(|| panic!("no node {name}"))
    }

    fn ca(&self) -> PathBuf {
        PathBuf::from(self.json["ca"].as_str().expect("ca"))
    }

    fn ca_dir(&self) -> PathBuf {
        PathBuf::from(self.json["ca_dir"].as_str().expect("ca_dir"))
    }

    fn operators(&self, code: &str) -> &Value {
        self.json["operators"]
            .as_array()
            .expect("operators")
            .iter()
            .find(|o| o["code"] == code)
            .unwrap_or_else(|| panic!("no operators of {code}"))
    }

    /// A client presenting `cert` and `key`.
    fn client(&self, cert: &Path, key: &Path) -> net::Client {
        net::Client::new(&net::TlsFiles {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            ca: self.ca(),
            crl: Some(self.ca_dir().join("crl.pem")),
        })
        .expect("a client")
    }

    /// A client with a node's own certificate.
    fn node_client(&self, name: &str) -> net::Client {
        let tls = self.root().join("nodes").join(name).join("tls");
        self.client(&tls.join("node.crt"), &tls.join("node.key"))
    }

    /// A client with a town's console certificate.
    fn console(&self, code: &str) -> net::Client {
        let console = &self.operators(code)["console"];
        let path = |k: &str| PathBuf::from(console[k].as_str().expect("a path"));
        self.client(&path("cert"), &path("key"))
    }

    /// A client with the agency's certificate.
    fn agency(&self) -> net::Client {
        let agency = &self.json["agency"];
        let path = |k: &str| PathBuf::from(agency[k].as_str().expect("a path"));
        self.client(&path("cert"), &path("key"))
    }

    /// A client without a certificate.
    fn anonymous(&self) -> net::Client {
        net::Client::anonymous(self.ca(), Some(self.ca_dir().join("crl.pem"))).expect("a client")
    }

    /// Runs `juki ARGS --passphrase-env CA_PASSPHRASE` with the sealed CA key's passphrase
    /// from the network's passphrases file in that variable.
    fn with_ca(&self, args: &[&str]) -> std::process::Output {
        let ca_key = self.ca_dir().join("ca.key");
        let passphrase = testbed::passphrases::Passphrases::load(&self.root())
            .and_then(|p| p.required(&ca_key))
            .expect("the CA key's passphrase");
        support::juki()
            .args(args)
            .args(["--passphrase-env", "CA_PASSPHRASE"])
            .env("CA_PASSPHRASE", passphrase.as_str())
            .output()
            .expect("running juki")
    }

    /// [`Network::with_ca`], which must succeed; returns stdout.
    fn ok_with_ca(&self, args: &[&str]) -> String {
        support::succeeded(args, self.with_ca(args))
    }

    /// [`Network::with_ca`], which must fail; returns stderr.
    fn fails_with_ca(&self, args: &[&str]) -> String {
        support::failed(args, &self.with_ca(args))
    }

    /// An operator key of a town (`clerk_key`, `supervisor_key`), opened with its passphrase
    /// from the network's passphrases file.
    fn operator_key(&self, code: &str, which: &str) -> Signer {
        let path = PathBuf::from(self.operators(code)[which].as_str().expect("a key path"));
        testbed::passphrases::load_signer(&self.root(), &path).expect("an operator key")
    }

    /// Waits until every node answers on its inter-node API.
    async fn wait_up(&self) {
        let client = self.node_client("national");
        let deadline = Instant::now() + Duration::from_secs(30);
        for node in &self.nodes {
            loop {
                let reply = get(&client, &format!("{}/v1/status", node.network_url)).await;
                match reply {
                    Ok(_) => break,
                    Err(_) if Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => panic!("{} does not answer after 30 s: {e}", node.name),
                }
            }
        }
    }

    /// What every tier holds of every town's registry log: the town's own checkpoint (after it
    /// integrated everything it recorded: a pull integrates first) and the checkpoints of its
    /// mirrors at the prefecture and the national node.
    async fn picture(&self) -> BTreeMap<String, String> {
        let puller = self.node_client("nagano");
        let public = self.anonymous();
        let mut picture = BTreeMap::new();
        for (name, code) in TOWNS {
            let batch = pull(&puller, self.node(name), 0).await;
            picture.insert(
                format!("{name}: own"),
                batch["checkpoint"].as_str().expect("a checkpoint").to_owned(),
            );
            for upper in ["nagano", "national"] {
                let url = format!("{}/mirrors/{code}/checkpoint", self.node(upper).public_url);
                let body = get(&public, &url).await.expect("a mirror checkpoint").body;
                picture.insert(
                    format!("{name}: at {upper}"),
                    String::from_utf8(body).expect("a checkpoint is text"),
                );
            }
        }
        picture
    }

    /// Waits until every mirror holds what its town holds; returns that picture.
    async fn agreed(&self) -> BTreeMap<String, String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        // A case whose alert is critical quarantined the town it concerns at the national node
        // (nothing of it applied there since); the administrator, having looked, releases it.
        let stage = testbed::drill::Stage::new(self.procs.network()).expect("the monitoring");
        loop {
            for (_, code) in TOWNS {
                stage.release(code, "the refusal case was reviewed").await.expect("a release");
            }
            let picture = self.picture().await;
            let differ: Vec<&str> = TOWNS
                .iter()
                .filter(|(name, _)| {
                    let own = &picture[&format!("{name}: own")];
                    ["nagano", "national"]
                        .iter()
                        .any(|u| &picture[&format!("{name}: at {u}")] != own)
                })
                .map(|(name, _)| *name)
                .collect();
            if differ.is_empty() {
                return picture;
            }
            assert!(
                Instant::now() < deadline,
                "the mirrors of {differ:?} do not agree: {picture:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The alerts a node recorded.
    /// The alerts `node` raised itself (those its towns report to it arrive on their own
    /// schedule, and are counted where they were raised).
    async fn alerts(&self, node: &str) -> Vec<Value> {
        let client = self.node_client("national");
        let body = get(&client, &format!("{}/v1/alerts", self.node(node).network_url))
            .await
            .expect("the alerts")
            .body;
        let all = serde_json::from_slice::<Vec<Value>>(&body).expect("alerts are a JSON list");
        all.into_iter().filter(|alert| alert.get("raised_by").is_none()).collect()
    }

    /// The alerts of every node, by name.
    /// Waits until the handshakes refused since `before` are each one `tls-refused` alert at
    /// the node they were tried at (`expected`: the node and why), raised once per source
    /// address and reason, and checks that no other alert was raised anywhere.
    async fn refused_handshakes(
        &self,
        before: &BTreeMap<String, Vec<Value>>,
        expected: &[(&str, &str)],
    ) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = self.every_alert().await;
            let new: Vec<(&String, &Value)> = now
                .iter()
                .flat_map(|(node, alerts)| {
                    alerts[before[node].len()..].iter().map(move |a| (node, a))
                })
                .collect();
            let seen = |(node, why): &(&str, &str)| {
                new.iter().any(|(n, a)| {
                    n.as_str() == *node
                        && a["kind"] == "tls-refused"
                        && a["detail"].as_str().is_some_and(|d| d.contains(why))
                        && a["peer"].as_str().is_some_and(|p| p.starts_with("tcp:"))
                })
            };
            if expected.iter().all(seen) {
                assert_eq!(new.len(), expected.len(), "only the refused handshakes: {new:#?}");
                return;
            }
            assert!(Instant::now() < deadline, "expected {expected:?}, found {new:#?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn every_alert(&self) -> BTreeMap<String, Vec<Value>> {
        let mut all = BTreeMap::new();
        for node in &self.nodes {
            all.insert(node.name.clone(), self.alerts(&node.name).await);
        }
        all
    }

    /// A fresh code from a town's pool.
    async fn fresh_code(&self, code: &str, name: &str) -> ResidentCode {
        let reply =
            post(&self.console(code), &format!("{}/v1/codes", self.node(name).api_url), vec![])
                .await
                .expect("a fresh code");
        let fresh: Value = serde_json::from_slice(&reply.body).expect("a JSON answer");
        ResidentCode::parse(fresh["code"].as_str().expect("a code")).expect("a resident code")
    }
}

async fn get(client: &net::Client, url: &str) -> Reply {
    client.get(url, &net::Expect::Any).await
}

async fn post(client: &net::Client, url: &str, body: Vec<u8>) -> Reply {
    let content_type =
        if body.first() == Some(&b'{') { "application/json" } else { "text/plain; charset=utf-8" };
    client.post(url, body, content_type, &net::Expect::Any).await
}

async fn post_json(client: &net::Client, url: &str, value: &Value) -> Reply {
    post(client, url, serde_json::to_vec(value).expect("JSON")).await
}

/// Pulls a town's batch from `from` as its prefecture does.
async fn pull(prefecture: &net::Client, town: &NodeInfo, from: u64) -> Value {
    let url = format!("{}/v1/replication/batch?from={from}", town.network_url);
    let reply =
        get(prefecture, &url).await.unwrap_or_else(|e| panic!("pulling from {}: {e}", town.name));
    serde_json::from_slice(&reply.body).expect("a batch")
}

/// Requires an HTTP refusal with `status` whose JSON error body carries `code` (see
/// docs/ERRORS.md); returns the message.
#[track_caller]
fn refused(reply: Reply, status: u16, code: &str) -> String {
    match reply {
        Err(net::ClientError::Status { status: got, body, .. }) => {
            assert_eq!(got.as_u16(), status, "the refusal's status (message: {body})");
            let error: Value = serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("the refusal is not a JSON error body ({e}): {body}"));
            assert_eq!(error["code"], code, "the refusal's code: {body}");
            assert!(
                wire::errors::Code::parse(code).is_some_and(|c| c.status() == status),
                "{code} is a code of the reference, answered with {status}"
            );
            assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
            error["message"].as_str().unwrap_or_default().to_owned()
        }
        Err(e) => panic!("expected {status}, the call failed otherwise: {e}"),
        Ok(r) => panic!(
            "expected {status}, the node answered {}: {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        ),
    }
}

/// Requires that a call got no HTTP answer at all: the server ended the connection in or right
/// after the handshake. (Whether the client sees the server's TLS alert or only a closed
/// connection depends on how far it got with sending the request; [`handshake_alert`] reads the
/// alert itself.)
#[track_caller]
fn no_answer(reply: Reply) {
    match reply {
        Err(net::ClientError::Tls { .. } | net::ClientError::Request { .. }) => {}
        Err(e) => panic!("expected a refused connection, got: {e}"),
        Ok(r) => panic!("expected a refused connection, the node answered {}", r.status),
    }
}

/// Connects to the listener of `url` with raw TLS, presenting `identity` (certificate and key
/// files, or none), sends a request and reads: returns the TLS alert with which the server
/// ended the connection. Panics if it answered instead.
fn handshake_alert(
    network: &Network,
    url: &str,
    identity: Option<(&Path, &Path)>,
) -> rustls::AlertDescription {
    use std::io::{Read as _, Write as _};
    let read = |path: &Path| std::fs::read_to_string(path).expect("a PEM file");
    let roots = pki::tls::certs_from_pem(&read(&network.ca())).expect("the CA certificate");
    let crls = pki::tls::crls_from_pem(&read(&network.ca_dir().join("crl.pem"))).expect("the CRL");
    let config = match identity {
        Some((cert, key)) => pki::tls::client_config(
            pki::tls::certs_from_pem(&read(cert)).expect("a certificate"),
            pki::tls::key_from_pem(&read(key)).expect("a key"),
            &roots,
            crls,
        ),
        None => pki::tls::anonymous_client_config(&roots, crls),
    }
    .expect("a TLS client configuration");
    let address = url.strip_prefix("https://").expect("an https URL");
    let host = address.rsplit_once(':').expect("host:port").0;
    let name = rustls::pki_types::ServerName::try_from(host.to_owned()).expect("a server name");
    let mut connection = rustls::ClientConnection::new(config, name).expect("a TLS client");
    let mut socket = std::net::TcpStream::connect(address).expect("connecting");
    socket.set_read_timeout(Some(Duration::from_secs(10))).expect("a read timeout");
    let mut tls = rustls::Stream::new(&mut connection, &mut socket);
    let request = format!("GET /v1/status HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    // The client's side of a TLS 1.3 handshake ends before the server has checked the client's
    // certificate: the request may be written, and the answer is the server's alert.
    let written = tls.write_all(request.as_bytes());
    let mut answer = Vec::new();
    let error = match written.and_then(|()| tls.read_to_end(&mut answer)) {
        Err(error) => error,
        Ok(_) => panic!("{url} answered: {}", String::from_utf8_lossy(&answer)),
    };
    match error.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::AlertReceived(alert)) => *alert,
        _ => panic!("{url}: the connection failed without a TLS alert: {error}"),
    }
}

/// The new alerts since `before`; requires exactly `count`, each of `kind`, from `peer`, with a
/// detail containing `detail`.
#[track_caller]
fn new_alerts(
    before: &[Value],
    after: &[Value],
    count: usize,
    (kind, peer, detail): (&str, &str, &str),
) {
    // The same alert raised again within a minute is counted on its first row (`repeats`).
    let repeats = |alert: &Value| alert["repeats"].as_u64().unwrap_or(0);
    let without_repeats = |alerts: &[Value]| -> Vec<Value> {
        alerts
            .iter()
            .map(|a| {
                let mut a = a.clone();
                a.as_object_mut().expect("an alert").remove("repeats");
                a
            })
            .collect()
    };
    assert_eq!(without_repeats(&after[..before.len()]), without_repeats(before), "alerts are kept");
    let occurrences = |alerts: &[Value]| alerts.iter().map(|a| 1 + repeats(a)).sum::<u64>();
    let raised = occurrences(after) - occurrences(before);
    let changed: Vec<&Value> = after
        .iter()
        .enumerate()
        .filter(|(i, a)| before.get(*i).is_none_or(|b| repeats(b) != repeats(a)))
        .map(|(_, a)| a)
        .collect();
    assert_eq!(raised, count as u64, "{count} new alerts: {changed:#?}");
    for alert in changed {
        assert_eq!(alert["kind"], kind, "{alert:#?}");
        assert_eq!(alert["peer"], peer, "{alert:#?}");
        let text = alert["detail"].as_str().expect("a detail");
        assert!(text.contains(detail), "the alert says {detail:?}: {text}");
    }
}

/// The clock as events write it.
fn now() -> Timestamp {
    let seconds = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).expect("time").as_secs();
    Timestamp::from_unix(seconds)
}

fn today() -> Date {
    Date::parse(&now().date_text()).expect("today")
}

/// A resident's record in `town`, first registered for `reason` today.
fn record(code: ResidentCode, town: &str, reason: ChangeReason) -> IdentityRecordParts {
    let town = MunicipalityCode::parse(town).expect("a town");
    IdentityRecordParts {
        resident_code: code,
        name: Name::new(
            PersonName::new("山田 花子").expect("a name"),
            NameReading::new("ヤマダ\u{3000}ハナコ").expect("a reading"),
            None,
        ),
        birth_date: Date::new(1990, 4, 1).expect("a date"),
        sex: Sex::from_code(2).expect("a sex"),
        address: Address::new(town, "大字智里 3番地").expect("an address"),
        individual_number: None,
        latest_change: ChangeInfo::new(reason, today()),
        history_number: HistoryNumber::new(1).expect("1"),
        status: RecordStatus::Active,
    }
}

fn change(town: &str, record: IdentityRecordParts) -> Change {
    Change {
        municipality: MunicipalityCode::parse(town).expect("a town"),
        record,
        previous_code: None,
        moved_to: None,
        move_out: None,
        activation: None,
        time: now(),
    }
}

/// Signs a change as a town's clerks do (with the supervisor when two operators are needed).
fn sign(change: Change, clerk: &Signer, supervisor: &Signer) -> Vec<u8> {
    let two = change.reason().needs_two_operators();
    let mut note = Note::new(Event::Change(change).to_text()).expect("a note");
    note.sign(clerk).expect("signing");
    if two {
        note.sign(supervisor).expect("signing");
    }
    note.to_bytes()
}

#[test]
fn the_network_refuses_what_it_must_and_changes_nothing() {
    let started = Instant::now();
    let network = Network::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(cases(&network));
    eprintln!("the refusal cases took {:.1} s", started.elapsed().as_secs_f64());
}

async fn cases(network: &Network) {
    network.wait_up().await;
    let achi = network.node("achi");
    let shimosuwa = network.node("shimosuwa");
    let nagano = network.node("nagano");
    let national = network.node("national");
    let replicate = format!("{}/v1/replicate", nagano.network_url);
    let achi_events = format!("{}/v1/events", achi.api_url);
    let achi_status = format!("{}/v1/status", achi.api_url);

    let mut picture = network.agreed().await;
    let achi_clerk = network.operator_key(ACHI, "clerk_key");
    let achi_supervisor = network.operator_key(ACHI, "supervisor_key");

    // A real batch: everything 阿智村 has recorded, pulled as its prefecture may.
    let batch = pull(&network.node_client("nagano"), achi, 0).await;
    let events: Vec<String> = batch["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e.as_str().expect("an event").to_owned())
        .collect();
    let size = events.len() as u64;
    assert!(size >= 5, "阿智村 has a registry with residents ({size} events)");
    assert!(
        picture["achi: at nagano"].contains(&format!("\n{size}\n")),
        "the prefecture holds 阿智村's log at size {size}: {}",
        picture["achi: at nagano"]
    );

    // A valid birth at 阿智村, signed by its clerk: what each wrong caller tries to record.
    let code = network.fresh_code(ACHI, "achi").await;
    let birth =
        sign(change(ACHI, record(code, ACHI, ChangeReason::Birth)), &achi_clerk, &achi_supervisor);

    // 1. No client certificate: refused in the handshake, before any handler runs.
    {
        let alerts = network.every_alert().await;
        let anonymous = network.anonymous();
        no_answer(get(&anonymous, &achi_status).await);
        no_answer(post(&anonymous, &achi_events, birth.clone()).await);
        no_answer(post_json(&anonymous, &replicate, &batch).await);
        for url in [&achi.api_url, &achi.network_url, &nagano.network_url] {
            let alert = handshake_alert(network, url, None);
            assert_eq!(alert, AlertDescription::CertificateRequired, "{url}");
        }
        // No handler ran; each node whose handshake was refused raised one alert.
        network
            .refused_handshakes(
                &alerts,
                &[("achi", "no client certificate"), ("nagano", "no client certificate")],
            )
            .await;
        assert_eq!(network.picture().await, picture, "nothing changed");
    }

    // 2. A revoked console certificate: it works, it is revoked, it stops working.
    {
        let extra = network.root().join("extra");
        std::fs::create_dir_all(&extra).expect("a directory");
        let prefix = extra.join("console-2");
        let ca = network.ca_dir();
        network.ok_with_ca(&[
            "pki",
            "issue",
            "--ca",
            p(&ca),
            "--role",
            "console",
            "--code",
            ACHI,
            "--out",
            p(&prefix),
        ]);
        let (cert, key) = (prefix.with_extension("crt"), prefix.with_extension("key"));
        let alerts = network.every_alert().await;
        let reply = get(&network.client(&cert, &key), &achi_status).await;
        assert!(reply.is_ok(), "the new console certificate works: {:?}", reply.err());
        let out = network.ok_with_ca(&["pki", "revoke", "--ca", p(&ca), "--cert", p(&cert)]);
        assert!(out.contains("revoked"), "{out}");
        // The node rereads the CRL about every second; a new client makes a new connection.
        let deadline = Instant::now() + Duration::from_secs(15);
        let reply = loop {
            let reply = get(&network.client(&cert, &key), &achi_status).await;
            if reply.is_err() || Instant::now() > deadline {
                break reply;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        no_answer(reply);
        no_answer(post(&network.client(&cert, &key), &achi_events, birth.clone()).await);
        let alert = handshake_alert(network, &achi.api_url, Some((&cert, &key)));
        assert_eq!(alert, AlertDescription::CertificateRevoked);
        let reply = get(&network.console(ACHI), &achi_status).await;
        assert!(reply.is_ok(), "the town's own console still works: {:?}", reply.err());
        network.refused_handshakes(&alerts, &[("achi", "a revoked certificate")]).await;
        assert_eq!(network.picture().await, picture, "nothing changed");
    }

    // 3. An expired certificate, and one from another CA naming the right console.
    {
        let alerts = network.every_alert().await;
        let ca = network.ca_dir();
        let prefix = network.root().join("extra/console-expired");
        let stderr = network.fails_with_ca(&[
            "pki",
            "issue",
            "--ca",
            p(&ca),
            "--role",
            "console",
            "--code",
            ACHI,
            "--out",
            p(&prefix),
            "--days",
            "0",
        ]);
        assert!(stderr.contains("--days 0 is out of range"), "{stderr}");
        let read = |name: &str| std::fs::read_to_string(ca.join(name)).expect("the CA's files");
        let ca_key = testbed::passphrases::read_key(&network.root(), &ca.join("ca.key"))
            .expect("the sealed CA key, opened with its passphrase");
        let real_ca = pki::Ca::load(&read("ca.crt"), &ca_key).expect("the CA");
        let day = Duration::from_secs(86_400);
        let past = pki::Validity {
            not_before: SystemTime::now() - 10 * day,
            not_after: SystemTime::now() - day,
        };
        let console = pki::Identity::console(ACHI).expect("an identity");
        let (cert, key) = real_ca.issue(&console, &[], past).expect("an expired certificate");
        let expired = write_pair(&prefix, &cert, &key);
        no_answer(get(&network.client(&expired.0, &expired.1), &achi_status).await);
        no_answer(post(&network.client(&expired.0, &expired.1), &achi_events, birth.clone()).await);
        let alert = handshake_alert(network, &achi.api_url, Some((&expired.0, &expired.1)));
        assert_eq!(alert, AlertDescription::CertificateExpired);
        let (rogue, _, _) = pki::Ca::init("juki demo network CA").expect("another CA");
        let (cert, key) =
            rogue.issue(&console, &[], pki::Validity::days(1)).expect("a rogue certificate");
        let forged = write_pair(&network.root().join("extra/console-rogue"), &cert, &key);
        no_answer(get(&network.client(&forged.0, &forged.1), &achi_status).await);
        no_answer(post(&network.client(&forged.0, &forged.1), &achi_events, birth.clone()).await);
        let alert = handshake_alert(network, &achi.api_url, Some((&forged.0, &forged.1)));
        // Its issuer has the network CA's name but not its key: the signature does not verify.
        assert_eq!(alert, AlertDescription::DecryptError);
        network
            .refused_handshakes(
                &alerts,
                &[("achi", "an expired certificate"), ("achi", "a certificate another CA issued")],
            )
            .await;
        assert_eq!(network.picture().await, picture, "nothing changed");
    }

    // 4. The wrong role, another town: the office API is for this town's consoles only, and
    // batches come only from the town's own node.
    {
        let agency = network.agency();
        let other_console = network.console(SHIMOSUWA);
        for (client, who) in [
            (&agency, "urn:juki:agency:pension-service"),
            (&other_console, "urn:juki:console:203611"),
        ] {
            let alerts = network.alerts("achi").await;
            refused(post(client, &achi_events, birth.clone()).await, 403, "wrong-peer");
            refused(get(client, &achi_status).await, 403, "wrong-peer");
            let lookup = format!("{}/v1/residents/{code}", achi.api_url);
            refused(get(client, &lookup).await, 403, "wrong-peer");
            let after = network.alerts("achi").await;
            new_alerts(&alerts, &after, 3, ("wrong-peer", who, "at the office API of 204072"));
        }
        let alerts = network.alerts("nagano").await;
        refused(post_json(&network.console(ACHI), &replicate, &batch).await, 403, "wrong-sender");
        new_alerts(
            &alerts,
            &network.alerts("nagano").await,
            1,
            ("wrong-sender", "urn:juki:console:204072", "may not send batches for 204072"),
        );
        // A town's node may not skip its prefecture.
        let alerts = network.alerts("national").await;
        refused(
            post_json(
                &network.node_client("achi"),
                &format!("{}/v1/replicate", national.network_url),
                &batch,
            )
            .await,
            403,
            "wrong-sender",
        );
        new_alerts(
            &alerts,
            &network.alerts("national").await,
            1,
            ("wrong-sender", "urn:juki:municipal:204072", "may not send batches"),
        );
        assert_eq!(network.picture().await, picture, "nothing changed");
    }

    // 5. Town B's node sends a batch of town A's; town B's clerks record a change for town A.
    {
        let alerts = network.alerts("nagano").await;
        refused(
            post_json(&network.node_client("shimosuwa"), &replicate, &batch).await,
            403,
            "wrong-sender",
        );
        new_alerts(
            &alerts,
            &network.alerts("nagano").await,
            1,
            ("wrong-sender", "urn:juki:municipal:203611", "may not send batches for 204072"),
        );
        let foreign = sign(
            change(ACHI, record(code, ACHI, ChangeReason::Birth)),
            &network.operator_key(SHIMOSUWA, "clerk_key"),
            &network.operator_key(SHIMOSUWA, "supervisor_key"),
        );
        let alerts = network.alerts("shimosuwa").await;
        refused(
            post(&network.console(SHIMOSUWA), &format!("{}/v1/events", shimosuwa.api_url), foreign)
                .await,
            422,
            "wrong-municipality",
        );
        let after = network.alerts("shimosuwa").await;
        let detail = "the event is for municipality 204072";
        new_alerts(&alerts, &after, 1, ("unauthorised-event", "urn:juki:console:203611", detail));
        assert_eq!(network.picture().await, picture, "nothing changed");
    }

    // 6. Replays: the batch 阿智村 already delivered is held, not applied twice; a replay with
    // altered events or a truncated one is refused and recorded.
    {
        let achi_node = network.node_client("achi");
        let alerts = network.alerts("nagano").await;
        let reply = post_json(&achi_node, &replicate, &batch).await.expect("a resend is answered");
        let answer: Value = serde_json::from_slice(&reply.body).expect("a JSON answer");
        assert_eq!(answer["status"], "holds", "{answer}");
        assert_eq!(answer["size"], size, "{answer}");
        assert!(answer["receipt"].as_str().is_some_and(|r| r.starts_with("juki.receipt/v1\n")));
        assert_eq!(network.alerts("nagano").await, alerts, "a resend is no attack");
        assert_eq!(network.picture().await, picture, "nothing was applied twice");

        let mut swapped = batch.clone();
        let list = swapped["events"].as_array_mut().expect("events");
        list.swap(size as usize - 1, size as usize - 2);
        refused(post_json(&achi_node, &replicate, &swapped).await, 422, "wrong-root");
        let after = network.alerts("nagano").await;
        new_alerts(
            &alerts,
            &after,
            1,
            ("wrong-root", "urn:juki:municipal:204072", "is not the event this node holds"),
        );

        let alerts = after;
        let mut truncated = batch.clone();
        truncated["events"].as_array_mut().expect("events").pop();
        refused(post_json(&achi_node, &replicate, &truncated).await, 422, "malformed-batch");
        new_alerts(
            &alerts,
            &network.alerts("nagano").await,
            1,
            (
                "malformed-batch",
                "urn:juki:municipal:204072",
                &format!("checkpoint is at size {size}"),
            ),
        );
        assert_eq!(network.picture().await, picture, "nothing changed");
    }

    // The checkpoint the forged batch of case 7 carries (阿智村's next, as it turns out).
    let predicted: String;
    // 7. The attacker holds 阿智村's node key. A checkpoint it signs alone, without the
    // witness's cosignature, is refused however valid the rest; with the witness's key stolen
    // too, a batch whose consistency proof does not lead from what the prefecture holds to the
    // batch's checkpoint is refused: the checkpoint is validly signed and cosigned and the
    // event is valid, only the proof is wrong.
    {
        let node_key = {
            let path = network.root().join("nodes/achi/node.key");
            let text = std::fs::read_to_string(path).expect("achi's node key");
            Signer::parse(text.trim()).expect("an unsealed node key")
        };
        let leaves: Vec<Hash> = events
            .iter()
            .map(|e| e.as_bytes())
            .chain([birth.as_slice()])
            .map(|e| tlog::hash::leaf_hash(&registry_store::commitment(e)))
            .collect();
        let held = tlog::merkle::MemoryTree::from_leaves(&leaves[..size as usize]);
        let tree = tlog::merkle::MemoryTree::from_leaves(&leaves);
        let origin = format!("juki.local/registry/{ACHI}");
        let town_checkpoint = batch["checkpoint"].as_str().expect("a checkpoint");
        assert_eq!(
            Note::parse(town_checkpoint.as_bytes()).expect("a note").text(),
            tlog::checkpoint::Checkpoint::new(&origin, size, held.root()).to_text(),
            "the leaves are computed as the town's log computes them"
        );
        let checkpoint = tlog::checkpoint::Checkpoint::new(&origin, size + 1, tree.root());
        predicted = checkpoint.to_text();
        let signed = tlog::checkpoint::sign(&checkpoint, &node_key).expect("signing");
        let mut proof =
            tlog::merkle::prove_consistency(size, size + 1, &tree).expect("a consistency proof");
        tlog::merkle::verify_consistency(size, size + 1, &proof, &held.root(), &tree.root())
            .expect("the honest proof verifies");
        let unwitnessed = json!({
            "municipality": ACHI,
            "from": size,
            "checkpoint": String::from_utf8(signed.clone()).expect("text"),
            "proof": proof.iter().map(Hash::to_base64).collect::<Vec<_>>(),
            "events": [String::from_utf8(birth.clone()).expect("text")],
        });
        let alerts = network.alerts("nagano").await;
        refused(
            post_json(&network.node_client("achi"), &replicate, &unwitnessed).await,
            422,
            "bad-checkpoint",
        );
        new_alerts(
            &alerts,
            &network.alerts("nagano").await,
            1,
            ("bad-checkpoint", "urn:juki:municipal:204072", "witness cosignatures"),
        );
        assert_eq!(network.picture().await, picture, "nothing changed");

        let witness_key = {
            let path = network.root().join("witness/witness.key");
            let text = std::fs::read_to_string(path).expect("the witness's key");
            Signer::parse(text.trim()).expect("an unsealed witness key")
        };
        let cosignature =
            tlog::cosignature::cosign(&witness_key, &checkpoint.to_text(), now().unix())
                .expect("cosigning");
        let cosigned = tlog::note::append_signatures(&signed, &[cosignature]).expect("a note");
        proof[0] = Hash([0x42; 32]);
        let forged = json!({
            "municipality": ACHI,
            "from": size,
            "checkpoint": String::from_utf8(cosigned).expect("text"),
            "proof": proof.iter().map(Hash::to_base64).collect::<Vec<_>>(),
            "events": [String::from_utf8(birth.clone()).expect("text")],
        });
        let alerts = network.alerts("nagano").await;
        refused(
            post_json(&network.node_client("achi"), &replicate, &forged).await,
            422,
            "inconsistent-proof",
        );
        new_alerts(
            &alerts,
            &network.alerts("nagano").await,
            1,
            ("inconsistent-proof", "urn:juki:municipal:204072", "consistency proof"),
        );
        assert_eq!(network.picture().await, picture, "nothing changed");
    }

    // 8. A move-in with no move-out behind it: without a certificate, and with one signed by a
    // key that is not the national key.
    {
        let code = network.fresh_code(SHIMOSUWA, "shimosuwa").await;
        let moving_in = record(code, ACHI, ChangeReason::MoveIn);
        let bare = sign(change(ACHI, moving_in.clone()), &achi_clerk, &achi_supervisor);
        let console = network.console(ACHI);
        let alerts = network.alerts("achi").await;
        refused(post(&console, &achi_events, bare).await, 422, "illegal-transition");
        assert_eq!(network.alerts("achi").await, alerts, "a clerk's mistake is no attack");
        let certificate = MoveOutCertificate {
            from: MunicipalityCode::parse(SHIMOSUWA).expect("a town"),
            to: MunicipalityCode::parse(ACHI).expect("a town"),
            resident: code,
            event: tlog::hash::sha256(b"a move-out that never happened"),
            name: moving_in.name.clone(),
            birth: moving_in.birth_date,
            sex: moving_in.sex,
            moved_out: today(),
            time: now(),
        };
        let national_vkey = {
            let path = network.json["national_key"].as_str().expect("national_key");
            let text = std::fs::read_to_string(path).expect("the national key");
            Signer::parse(text.trim()).expect("the national key").verifier()
        };
        let impostor =
            Signer::from_seed(national_vkey.name(), KeyKind::Ed25519, [7; 32]).expect("a key");
        assert_ne!(impostor.verifier(), national_vkey);
        let mut note = Note::new(certificate.to_text()).expect("a note");
        note.sign(&impostor).expect("signing");
        let mut forged_in = change(ACHI, moving_in);
        forged_in.move_out = Some(String::from_utf8(note.to_bytes()).expect("text"));
        let forged_in = sign(forged_in, &achi_clerk, &achi_supervisor);
        refused(post(&console, &achi_events, forged_in).await, 422, "unsigned");
        let after = network.alerts("achi").await;
        let detail = "the move-out certificate has no signature by the national key";
        new_alerts(&alerts, &after, 1, ("unauthorised-event", "urn:juki:console:204072", detail));
        assert_eq!(network.picture().await, picture, "nothing changed");
    }

    // 9. Malformed requests: a body that is not the route's JSON, a code that is not one, a
    // clerk's signed read without a declared purpose. Each is a JSON error body with its code;
    // nothing changes and nothing is an alert.
    {
        let console = network.console(ACHI);
        let alerts = network.alerts("achi").await;
        let copies = format!("{}/v1/copies", achi.api_url);
        refused(post(&console, &copies, b"{not json".to_vec()).await, 400, "bad-request");
        refused(
            post(&network.node_client("achi"), &replicate, b"{\"municipality\": 5}".to_vec()).await,
            400,
            "bad-request",
        );
        let lookup = format!("{}/v1/residents/{code}", achi.api_url);
        let mut request = wire::read::ReadRequest {
            town: MunicipalityCode::parse(ACHI).expect("a town"),
            operator: achi_clerk.verifier(),
            kind: wire::read::ReadKind::Lookup,
            resident: Some(code),
            keeper: None,
            text: None,
            birth: None,
            limit: None,
            purpose: " ".to_owned(),
            time: now().unix(),
            nonce: client::office::read_nonce().expect("a nonce"),
        };
        let signed = request.sign(&achi_clerk).expect("signed");
        refused(post(&console, &lookup, signed.clone()).await, 400, "purpose-required");
        request.purpose = "check".to_owned();
        request.nonce = client::office::read_nonce().expect("a nonce");
        let signed = request.sign(&achi_clerk).expect("signed");
        let bad_code = format!("{}/v1/residents/12345", achi.api_url);
        refused(post(&console, &bad_code, signed).await, 400, "bad-request");
        assert_eq!(network.alerts("achi").await, alerts, "a malformed request is no attack");
        assert_eq!(network.picture().await, picture, "nothing changed");
    }

    // 10. Alert reports: a town reports only its own alerts, under its own name and node key;
    // the national node keeps each once, where the town cannot take it back.
    {
        let reports = format!("{}/v1/alerts/reports", national.network_url);
        let node_key = {
            let path = network.root().join("nodes/achi/node.key");
            let text = std::fs::read_to_string(path).expect("achi's node key");
            Signer::parse(text.trim()).expect("an unsealed node key")
        };
        let report = |node: &str, id: u64, key: &Signer| -> Value {
            let text = wire::alert::AlertReport {
                node: node.to_owned(),
                id,
                time: now().unix(),
                kind: wire::errors::Code::Tampered,
                peer: node.to_owned(),
                detail: "a drill".into(),
            }
            .text();
            let mut note = Note::new(text).expect("a note");
            note.sign(key).expect("signed");
            json!({ "alerts": [String::from_utf8(note.to_bytes()).expect("UTF-8")] })
        };
        let achi_uri = "urn:juki:municipal:204072";
        let stranger = Signer::from_seed("stranger", KeyKind::Ed25519, [9; 32]).expect("a key");
        let achi_node = network.node_client("achi");
        let alerts = network.alerts("national").await;
        // Not a town's node: a console.
        refused(
            post_json(&network.console(ACHI), &reports, &report(achi_uri, 1_000_000, &node_key))
                .await,
            403,
            "wrong-sender",
        );
        // 阿智村's node, but not its key.
        refused(
            post_json(&achi_node, &reports, &report(achi_uri, 1_000_000, &stranger)).await,
            422,
            "unsigned",
        );
        // 阿智村's node and key, in 松本市's name.
        refused(
            post_json(
                &achi_node,
                &reports,
                &report("urn:juki:municipal:202029", 1_000_000, &node_key),
            )
            .await,
            403,
            "wrong-sender",
        );
        // Each is an alert at the national node.
        let after = network.alerts("national").await;
        assert_eq!(&after[..alerts.len()], &alerts[..], "alerts are kept");
        let new: Vec<(&str, &str)> = after[alerts.len()..]
            .iter()
            .map(|a| (a["kind"].as_str().unwrap_or(""), a["peer"].as_str().unwrap_or("")))
            .collect();
        assert_eq!(
            new,
            [
                ("wrong-sender", "urn:juki:console:204072"),
                ("unsigned", achi_uri),
                ("wrong-sender", achi_uri),
            ],
            "{:#?}",
            &after[alerts.len()..]
        );
        // Alerts are read by the upper tiers alone: not by a town's node, a console or an
        // agency, and each attempt is an alert.
        let national_alerts = format!("{}/v1/alerts", national.network_url);
        let alerts = network.alerts("national").await;
        let readers = [
            (&achi_node, achi_uri),
            (&network.console(ACHI), "urn:juki:console:204072"),
            (&network.agency(), "urn:juki:agency:pension-service"),
        ];
        for (client, _) in readers {
            refused(get(client, &national_alerts).await, 403, "wrong-peer");
        }
        let after = network.alerts("national").await;
        let new: Vec<(&str, &str)> = after[alerts.len()..]
            .iter()
            .map(|a| (a["kind"].as_str().unwrap_or(""), a["peer"].as_str().unwrap_or("")))
            .collect();
        let expected: Vec<(&str, &str)> =
            readers.iter().map(|&(_, who)| ("wrong-peer", who)).collect();
        assert_eq!(new, expected);
        // Its own, twice: kept once.
        for _ in 0..2 {
            let reply = post_json(&achi_node, &reports, &report(achi_uri, 1_000_000, &node_key))
                .await
                .expect("kept");
            let held: Value = serde_json::from_slice(&reply.body).expect("JSON");
            assert_eq!(held["held"], 1_000_000, "{held}");
        }
        let body =
            get(&network.node_client("national"), &format!("{}/v1/alerts", national.network_url))
                .await
                .expect("the alerts")
                .body;
        let all: Vec<Value> = serde_json::from_slice(&body).expect("a JSON list");
        let kept: Vec<&Value> = all
            .iter()
            .filter(|a| a["raised_by"] == achi_uri && a["detail"] == "a drill (its alert 1000000)")
            .collect();
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!(kept[0]["kind"], "tampered");
    }

    // Control: the birth every case above tried to record is valid; 阿智村's own console
    // records it, and it reaches every tier.
    {
        let reply = post(&network.console(ACHI), &achi_events, birth).await.expect("recorded");
        let answer: Value = serde_json::from_slice(&reply.body).expect("JSON");
        assert_eq!(answer["index"], size, "{answer}");
        let now = network.agreed().await;
        assert_ne!(now["achi: own"], picture["achi: own"], "阿智村's log grew");
        assert_eq!(
            Note::parse(now["achi: own"].as_bytes()).expect("a checkpoint").text(),
            predicted,
            "case 7's checkpoint and event were 阿智村's true next ones: only its proof was wrong"
        );
        picture.insert("achi: own".into(), now["achi: own"].clone());
        picture.insert("achi: at nagano".into(), now["achi: own"].clone());
        picture.insert("achi: at national".into(), now["achi: own"].clone());
        assert_eq!(now, picture, "only 阿智村's log changed");
    }
}

/// Writes a certificate and key as PREFIX.crt and PREFIX.key.
fn write_pair(prefix: &Path, cert: &str, key: &str) -> (PathBuf, PathBuf) {
    let (cert_path, key_path) = (prefix.with_extension("crt"), prefix.with_extension("key"));
    std::fs::write(&cert_path, cert).expect("writing the certificate");
    std::fs::write(&key_path, key).expect("writing the key");
    (cert_path, key_path)
}
