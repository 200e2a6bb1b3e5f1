//! The national monitoring against a network of real node processes: every alert reaches the
//! sinks a node is configured with — its JSON Lines file, and a webhook that fails once and is
//! delivered to again —, `/metrics` counts it, only the monitoring and the upper tiers read
//! either, and a quarantined town is released only by a national administrator's signed
//! decision for the alert that holds it.

mod support;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use client::monitor::Monitor;
use support::{ok, p};
use testbed::processes::Nodes;
use testbed::setup::Network;
use wire::errors::Code;
use wire::quarantine::{Release, ReleaseRequest};

const ACHI: &str = "204072";

/// A webhook receiver on a port the system gave it: answers the first request 500 (a sink that
/// is down), every later one 200, and hands each body it took to the test.
fn webhook() -> (String, mpsc::Receiver<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (send, bodies) = mpsc::channel();
    std::thread::spawn(move || {
        let mut answered = 0;
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut stream = stream;
            loop {
                let mut length = 0usize;
                let mut line = String::new();
                let mut started = false;
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    started = true;
                    if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap();
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                if !started {
                    break;
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                answered += 1;
                let status = if answered == 1 { "500 Internal Server Error" } else { "200 OK" };
                let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
                if stream.write_all(answer.as_bytes()).is_err() {
                    break;
                }
                if answered > 1 {
                    let _ = send.send(String::from_utf8(body).unwrap());
                }
            }
        }
    });
    (url, bodies)
}

fn files(network: &Network, cert: &Path, key: &Path) -> net::TlsFiles {
    net::TlsFiles {
        ca: network.ca.clone(),
        crl: Some(network.ca_dir.join("crl.pem")),
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
    }
}

fn until<T>(what: &str, mut found: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = found() {
            return value;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{what} within 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn code_of(error: &anyhow::Error) -> Option<Code> {
    error.downcast_ref::<client::Refused>().and_then(client::Refused::code)
}

#[test]
fn alerts_reach_every_sink_the_metrics_count_them_and_only_an_administrator_releases_a_town() {
    let dir = tempfile::tempdir().unwrap();
    ok(&["demo", "--dir", p(dir.path()), "--residents", "30", "--exit", "--no-drills"]);
    // The national node's alerts also go to a webhook.
    let (url, bodies) = webhook();
    let config = dir.path().join("nodes/national/node.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replace("[alerts]\n", &format!("[alerts]\nwebhook = \"{url}\"\n"));
    assert!(text.contains("webhook"), "the demo's node.toml has an [alerts] table:\n{text}");
    std::fs::write(&config, text).unwrap();
    testbed::use_binary(env!("CARGO_BIN_EXE_juki"));
    // The administrator signs the national node's manifest over the changed node.toml.
    let network = Network::load(dir.path()).unwrap();
    testbed::setup::sign_manifest(&network, "national").unwrap();
    let mut nodes = Nodes::start(&network).unwrap();
    let network = nodes.network().clone();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let national = network.node("national").unwrap().network_url.clone();
    let monitor =
        Monitor::new(&files(&network, &network.monitor.cert, &network.monitor.key)).unwrap();
    let agency = Monitor::new(&files(&network, &network.agency.cert, &network.agency.key)).unwrap();

    // An agency reading the national node's alerts or metrics is refused, and that is an alert.
    for read in [
        runtime.block_on(agency.alerts(&national, "urn:juki:national", 0)).map(|_| ()),
        runtime.block_on(agency.metrics(&national, "urn:juki:national")).map(|_| ()),
    ] {
        assert_eq!(code_of(&read.unwrap_err()), Some(Code::WrongPeer));
    }
    let alerts = runtime.block_on(monitor.alerts(&national, "urn:juki:national", 0)).unwrap();
    let refused: Vec<_> = alerts.iter().filter(|a| a.kind == "wrong-peer").collect();
    assert_eq!(refused.len(), 2, "{alerts:?}");
    assert_eq!(refused[0].severity, Some(wire::errors::Severity::Warning));

    // The JSON Lines file beside the national node's database.
    let jsonl = dir.path().join("nodes/national/alerts.jsonl");
    let lines = until("two lines in the alert file", || {
        let text = std::fs::read_to_string(&jsonl).unwrap_or_default();
        let lines: Vec<serde_json::Value> =
            text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        (lines.iter().filter(|l| l["kind"] == "wrong-peer").count() == 2).then_some(lines)
    });
    for line in lines.iter().filter(|l| l["kind"] == "wrong-peer") {
        assert_eq!(line["node"], "urn:juki:national");
        assert_eq!(line["severity"], "warning");
        assert_eq!(line["peer"], "urn:juki:agency:pension-service");
    }
    // The webhook answered the first delivery 500: the same alerts came again.
    let delivered = bodies.recv_timeout(Duration::from_secs(30)).expect("a webhook delivery");
    let delivered: serde_json::Value = serde_json::from_str(&delivered).unwrap();
    assert_eq!(delivered["node"], "urn:juki:national");
    let kinds: Vec<&str> = delivered["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"wrong-peer"), "{delivered}");

    // The metrics count them.
    let metrics = runtime.block_on(monitor.metrics(&national, "urn:juki:national")).unwrap();
    assert!(
        metrics.contains(
            "juki_alerts_total{kind=\"wrong-peer\",severity=\"warning\",raised_by=\"self\"} 2"
        ),
        "{metrics}"
    );
    let achi_url = network.node("achi").unwrap().network_url.clone();
    let town_metrics = runtime
        .block_on(monitor.metrics(&achi_url, &format!("urn:juki:municipal:{ACHI}")))
        .unwrap();
    assert!(town_metrics.contains("juki_registry_events "), "{town_metrics}");
    assert!(town_metrics.contains("juki_selfcheck_tampered 0"), "{town_metrics}");

    // A critical alert about 阿智村 (its database edited behind its log's back) quarantines it.
    let stage = testbed::drill::Stage::new(&network).unwrap();
    let db = rusqlite::Connection::open(dir.path().join("nodes/achi/registry.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    // A write that changes no value: still a write by someone other than the node.
    let written = db
        .execute(
            "UPDATE residents SET code = code WHERE rowid = (SELECT min(rowid) FROM residents)",
            [],
        )
        .unwrap();
    assert_eq!(written, 1);
    let held = until("a quarantine of 阿智村", || {
        let held = runtime.block_on(monitor.quarantines(&national)).unwrap();
        held.into_iter().find(|q| q.town == ACHI && q.released.is_none())
    });
    assert_eq!(held.kind, "foreign-write");
    runtime.block_on(stage.settled()).unwrap();
    let held = runtime.block_on(monitor.quarantines(&national)).unwrap();
    let held = held.into_iter().find(|q| q.town == ACHI && q.released.is_none()).unwrap();

    // Releases the national node refuses: from a console's certificate; signed by a key that
    // is not an administrator's (the town's own admin key); for another alert.
    let release = Release {
        town: ACHI.into(),
        alert: held.alert,
        time: testbed::synthetic::now().unix(),
        reason: "restored".into(),
    };
    let passphrases = dir.path();
    let administrator =
        testbed::passphrases::load_signer(passphrases, &network.administrator_key).unwrap();
    let town_admin =
        testbed::passphrases::load_signer(passphrases, &network.town(ACHI).unwrap().admin_key)
            .unwrap();
    let console = network.town(ACHI).unwrap().console.clone();
    let from_console = Monitor::new(&files(&network, &console.cert, &console.key)).unwrap();
    let refused = runtime.block_on(from_console.release(&national, &release, &administrator));
    assert_eq!(code_of(&refused.unwrap_err()), Some(Code::WrongPeer));
    let refused = runtime.block_on(monitor.release(&national, &release, &town_admin));
    assert_eq!(code_of(&refused.unwrap_err()), Some(Code::BadRelease));
    let other = Release { alert: held.alert + 1000, ..release.clone() };
    let refused = runtime.block_on(monitor.release(&national, &other, &administrator));
    assert_eq!(code_of(&refused.unwrap_err()), Some(Code::BadRelease));
    let unsigned = ReleaseRequest { release: release.text() };
    let refused = runtime.block_on(monitor.send_release(&national, &unsigned));
    assert!(refused.is_err(), "an unsigned release");
    let still = runtime.block_on(monitor.quarantines(&national)).unwrap();
    assert!(still.iter().any(|q| q.town == ACHI && q.released.is_none()), "{still:?}");
    let alerts = runtime.block_on(monitor.alerts(&national, "urn:juki:national", 0)).unwrap();
    assert!(alerts.iter().filter(|a| a.kind == "bad-release").count() >= 2, "{alerts:?}");

    // While it is held, a change at 阿智村 is recorded there and held at the prefecture.
    let clerk = testbed::setup::clerk(&network, ACHI).unwrap();
    runtime
        .block_on(async {
            let code = clerk.fresh_code().await?;
            let record = testbed::synthetic::synthetic(
                code,
                clerk.code,
                7,
                registry_domain::ChangeReason::Birth,
                None,
            )?;
            clerk.submit(testbed::synthetic::change(clerk.code, record)).await
        })
        .unwrap();
    let checkpoint = |url: String| {
        let client = net::Client::anonymous(network.ca.clone(), None).unwrap();
        runtime.block_on(client::call_get(&client, &url, None)).unwrap().body
    };
    let town_public = network.node("achi").unwrap().public_url.clone();
    let mirror = |node: &str| {
        format!("{}/mirrors/{ACHI}/checkpoint", network.node(node).unwrap().public_url)
    };
    let before = checkpoint(mirror("national"));
    let published = until("the prefecture holds the town's new checkpoint", || {
        let own = checkpoint(format!("{town_public}/registry/checkpoint"));
        (own != before && checkpoint(mirror("nagano")) == own).then_some(own)
    });
    // The prefecture's forwarder tries again and again; the national node applies none of it.
    let watched = Instant::now();
    while watched.elapsed() < Duration::from_secs(1) {
        assert_eq!(checkpoint(mirror("national")), before, "a quarantined town's batch applied");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_ne!(published, before);

    // The administrator's release for the alert that holds it: the change arrives.
    let released = runtime.block_on(monitor.release(&national, &release, &administrator)).unwrap();
    assert_eq!(released.released_by.as_deref(), Some("administrator.national.juki.local"));
    runtime.block_on(testbed::demo::agree(&network, Duration::from_secs(30))).unwrap();
    let metrics = runtime.block_on(monitor.metrics(&national, "urn:juki:national")).unwrap();
    assert!(metrics.contains(&format!("juki_quarantined{{town=\"{ACHI}\"}} 0")), "{metrics}");

    // The same, on the command line.
    let root = p(dir.path());
    let table = ok(&["alerts", "--dir", root]);
    assert!(table.contains("wrong-peer") && table.contains("warning"), "{table}");
    assert!(table.contains("foreign-write") && table.contains("critical"), "{table}");
    assert!(table.contains(&format!("urn:juki:municipal:{ACHI}")), "{table}");
    let json = ok(&["alerts", "--dir", root, "--json", "--after", &held.alert.to_string()]);
    for line in json.lines() {
        let alert: wire::api::Alert = serde_json::from_str(line).unwrap();
        assert!(alert.id > held.alert, "{line}");
    }
    let town_table = ok(&["alerts", "--dir", root, "--node", "achi"]);
    assert!(town_table.contains("foreign-write"), "{town_table}");
    let list = ok(&["quarantine", "list", "--dir", root]);
    assert!(list.contains(&format!("{ACHI}  released")), "{list}");
    assert!(list.contains("administrator.national.juki.local"), "{list}");
    let refused = support::fails(&[
        "quarantine",
        "release",
        "--dir",
        root,
        "--town",
        ACHI,
        "--reason",
        "again",
    ]);
    assert!(refused.contains("not quarantined"), "{refused}");
    let drills = ok(&["drill", "--list"]);
    for drill in testbed::drill::DRILLS {
        assert!(drills.contains(drill.name), "{drills}");
    }
    let unknown = support::fails(&["drill", "--dir", root, "no-such-drill"]);
    assert!(unknown.contains("no drill"), "{unknown}");
    nodes.stop();
}
