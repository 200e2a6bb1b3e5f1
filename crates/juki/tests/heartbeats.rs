//! Cross-checks between tiers against running nodes: each town's signed heartbeats reach its
//! prefecture and the national node, which compare them with what they mirror; a town looks
//! at the checkpoint it publishes. Each test plays an attack or a failure and reads the alert
//! where root on the town cannot erase it.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::{ok, p};
use testbed::processes::Nodes;
use testbed::setup::Network;
use tlog_store::integrate::CheckpointVerifier as _;
use wire::errors::Code;

const ACHI: &str = "204072";
const ACHI_URI: &str = "urn:juki:municipal:204072";

/// A network built by `juki demo --exit` and started again, as an attacker finds it running.
/// Fields drop in order: the nodes are stopped before their directory is removed.
struct Running {
    nodes: Nodes,
    runtime: tokio::runtime::Runtime,
    network: Network,
    dir: tempfile::TempDir,
}

impl Running {
    /// Starts the demo's network with `settings` (`key = value` lines of `node.toml`)
    /// replaced in the nodes named.
    fn start_with(settings: &[(&str, &str, &str)]) -> Running {
        Running::start_on(tempfile::tempdir().unwrap(), settings)
    }

    /// [`Running::start_with`] in `dir`, which may hold the demo's network already.
    fn start_on(dir: tempfile::TempDir, settings: &[(&str, &str, &str)]) -> Running {
        if !dir.path().join("network.json").exists() {
            ok(&["demo", "--dir", p(dir.path()), "--residents", "30", "--exit", "--no-drills"]);
        }
        for (node, from, to) in settings {
            let path = dir.path().join("nodes").join(node).join("node.toml");
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.contains(from), "{node}: {from} in {text}");
            std::fs::write(&path, text.replace(from, to)).unwrap();
        }
        testbed::use_binary(env!("CARGO_BIN_EXE_juki"));
        let network = Network::load(dir.path()).unwrap();
        // The administrators sign the manifests over the changed node.toml files.
        for (node, ..) in settings {
            testbed::setup::sign_manifest(&network, node).unwrap();
        }
        let nodes = Nodes::start(&network).unwrap();
        let network = nodes.network().clone();
        Running { dir, network, runtime: tokio::runtime::Runtime::new().unwrap(), nodes }
    }
}

/// Who raised the alerts a node holds about 阿智村.
#[derive(Clone, Copy, Debug)]
enum By {
    /// The node itself (at 阿智村: about itself).
    Itself,
    /// 阿智村, which reported them.
    Achi,
}

/// How many alerts of `kind` about 阿智村 `node` holds, raised `by`.
fn alerts_about_achi(root: &Path, node: &str, kind: Code, by: By) -> i64 {
    let db = rusqlite::Connection::open(root.join("nodes").join(node).join("node.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    let filter = match by {
        By::Itself => "peer = ?2 AND raised_by IS NULL",
        By::Achi => "raised_by = ?2",
    };
    db.query_row(
        &format!("SELECT count(*) FROM alerts WHERE kind = ?1 AND {filter}"),
        rusqlite::params![kind.as_str(), ACHI_URI],
        |r| r.get(0),
    )
    .unwrap()
}

/// Waits until `node` holds an alert of `kind` about 阿智村 raised `by`; returns how long that
/// took.
fn until_alert(root: &Path, node: &str, kind: Code, by: By, within: Duration) -> Duration {
    let started = Instant::now();
    while alerts_about_achi(root, node, kind, by) == 0 {
        assert!(started.elapsed() < within, "no {kind} alert ({by:?}) at {node} after {within:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    started.elapsed()
}

/// 阿智村's registry log: its origin and its node key, as root on the town holds it.
fn achi_log(network: &Network, root: &Path) -> (String, tlog::note::Signer) {
    let origin = network.towns.iter().find(|t| t.municipality == ACHI).unwrap().origin.clone();
    let key = tlog_store::keys::load_log_signer(&root.join("nodes/achi/node.key"), &origin);
    (origin, key.unwrap())
}

/// A checkpoint of `origin` for `size` and `root`, signed with `key`.
fn checkpoint(origin: &str, size: u64, root: tlog::Hash, key: &tlog::note::Signer) -> Vec<u8> {
    let text = format!("{origin}\n{size}\n{}\n", root.to_base64());
    node::logs::sign_text(text, key).unwrap()
}

/// The size and root of the checkpoint 阿智村 publishes, read from its tile directory.
fn published(root: &Path, origin: &str, key: &tlog::note::Signer) -> Option<(u64, tlog::Hash)> {
    let note = std::fs::read(root.join("nodes/achi/tlog/checkpoint")).ok()?;
    tlog_store::integrate::VerifyOnly::new(key.verifier(), origin).open(&note).ok()
}

/// One more birth at 阿智村, acknowledged by its node.
fn a_change(running: &Running) {
    running
        .runtime
        .block_on(testbed::tools::load(&running.network, ACHI, 1, 100.0, 7))
        .expect("a change is acknowledged");
}

/// The drill of the forged checkpoint: root on 阿智村's node plants a checkpoint signed with
/// the stolen node key, for a size its log never reached, in the tile directory it publishes.
/// Before, publication stopped silently while changes were still acknowledged. Now the town
/// finds it at its next look, alerts, and publishes its witnessed checkpoint again; the alert
/// reaches the national node within five seconds, and the next change is published.
#[test]
fn a_planted_forged_checkpoint_is_an_alert_at_the_national_node_and_publication_recovers() {
    let running = Running::start_with(&[]);
    let root = running.dir.path();
    let (origin, key) = achi_log(&running.network, root);
    let (size, true_root) = published(root, &origin, &key).expect("a published checkpoint");
    assert_eq!(alerts_about_achi(root, "national", Code::ForgedPublication, By::Achi), 0);

    let forged = checkpoint(&origin, size + 5, tlog::Hash([0x5a; 32]), &key);
    std::fs::write(root.join("nodes/achi/tlog/checkpoint"), forged).unwrap();
    let took =
        until_alert(root, "national", Code::ForgedPublication, By::Achi, Duration::from_secs(30));
    println!("a planted forged checkpoint: the alert reached the national node in {took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(alerts_about_achi(root, "achi", Code::ForgedPublication, By::Itself) > 0);
    assert_eq!(published(root, &origin, &key), Some((size, true_root)), "republished");

    // Publication goes on: the next change is in a witnessed, published checkpoint.
    a_change(&running);
    let started = Instant::now();
    while published(root, &origin, &key).is_none_or(|(s, _)| s <= size) {
        assert!(started.elapsed() < Duration::from_secs(30), "publication stopped");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A leaf hash changed in the tile at the published size: the tiles no longer reproduce the
    // witnessed root, which is an alert too; once the tile is restored, they agree again.
    let (size, _) = published(root, &origin, &key).unwrap();
    assert!(size < 256, "the demo's town fits in one tile");
    let tile = root.join(format!("nodes/achi/tlog/tile/0/000.p/{size}"));
    let original = std::fs::read(&tile).unwrap();
    let mut edited = original.clone();
    edited[0] ^= 1;
    let before = alerts_about_achi(root, "national", Code::ForgedPublication, By::Achi);
    std::fs::write(&tile, &edited).unwrap();
    let started = Instant::now();
    while alerts_about_achi(root, "national", Code::ForgedPublication, By::Achi) == before {
        assert!(started.elapsed() < Duration::from_secs(30), "no alert for an edited tile");
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("an edited tile: the alert reached the national node in {:?}", started.elapsed());
    std::fs::write(&tile, &original).unwrap();

    // The town's integrity was in doubt: the national node quarantined it until the
    // administrator's release; then every tier agrees.
    let released = running.runtime.block_on(async {
        let stage = testbed::drill::Stage::new(&running.network)?;
        stage.settled().await?;
        stage.release(ACHI, "the planted checkpoint was replaced by the witnessed one").await
    });
    assert!(released.unwrap(), "the national node quarantined the town");
    ok(&["network", "agree", "--dir", p(root)]);
}

/// 阿智村's node stops: its prefecture and the national node hear no heartbeat from it and
/// say so, once, within `heartbeat_missing_ms` and a beat.
#[test]
fn a_stopped_town_is_missing_at_both_upper_nodes() {
    let missing = ("heartbeat_missing_ms = 10000", "heartbeat_missing_ms = 2000");
    let mut running = Running::start_with(&[
        ("nagano", missing.0, missing.1),
        ("national", missing.0, missing.1),
    ]);
    let root = running.dir.path().to_path_buf();
    // Beating: nothing missing.
    std::thread::sleep(Duration::from_secs(3));
    for node in ["nagano", "national"] {
        assert_eq!(alerts_about_achi(&root, node, Code::HeartbeatMissing, By::Itself), 0, "{node}");
    }
    running.nodes.stop_one("achi");
    for node in ["nagano", "national"] {
        let took =
            until_alert(&root, node, Code::HeartbeatMissing, By::Itself, Duration::from_secs(15));
        println!("{node}: heartbeat-missing {took:?} after the town stopped");
    }
    std::thread::sleep(Duration::from_secs(3));
    for node in ["nagano", "national"] {
        assert_eq!(alerts_about_achi(&root, node, Code::HeartbeatMissing, By::Itself), 1, "{node}");
    }
    // Back up, the town beats and replicates again.
    running.nodes.start_one("achi").unwrap();
    a_change(&running);
    ok(&["network", "agree", "--dir", p(&root)]);
}

/// The prefecture stops while 阿智村 records a change: the town's batches fail for longer
/// than `stuck_after_ms`, which is an alert at the town, reported to the national node
/// directly. Once the prefecture is back, the batch arrives and every tier agrees.
#[test]
fn a_stopped_prefecture_is_replication_stuck_at_the_town() {
    let mut running =
        Running::start_with(&[("achi", "stuck_after_ms = 60000", "stuck_after_ms = 2000")]);
    let root = running.dir.path().to_path_buf();
    running.nodes.stop_one("nagano");
    a_change(&running);
    let took =
        until_alert(&root, "achi", Code::ReplicationStuck, By::Itself, Duration::from_secs(30));
    println!("replication-stuck at the town {took:?} after the change");
    until_alert(&root, "national", Code::ReplicationStuck, By::Achi, Duration::from_secs(10));
    running.nodes.start_one("nagano").unwrap();
    ok(&["network", "agree", "--dir", p(&root)]);
    assert_eq!(alerts_about_achi(&root, "achi", Code::ReplicationStuck, By::Itself), 1, "once");
}

/// A fork shown to the national node: root on 阿智村, holding its node key, signs a heartbeat
/// that states another tree for a size the national node mirrors — two checkpoints for one
/// size. The national node answers `fork`, records it and quarantines the town.
#[test]
fn a_second_tree_for_one_size_shown_to_the_national_node_is_a_fork() {
    let running = Running::start_with(&[]);
    let root = running.dir.path();
    let network = &running.network;
    let (_, key) = achi_log(network, root);
    ok(&["network", "agree", "--dir", p(root)]);
    let mirror =
        std::fs::read(root.join("nodes/national/mirrors").join(ACHI).join("tlog/checkpoint"))
            .expect("the national node mirrors the town");
    let text = String::from_utf8(mirror).unwrap();
    let size: u64 = text.lines().nth(1).unwrap().parse().unwrap();
    let heartbeat = wire::heartbeat::Heartbeat {
        node: ACHI_URI.into(),
        time: 1_764_806_400,
        registry: wire::heartbeat::LogHead { size, root: tlog::Hash([0x5a; 32]) },
        provisions: wire::heartbeat::LogHead { size: 0, root: tlog::Hash([0; 32]) },
        alerts: 0,
        manifest: None,
        verified: None,
        acked: None,
        pushed: None,
    };
    let note = node::logs::sign_text(heartbeat.text(), &key).unwrap();
    let town = root.join("nodes/achi");
    let files = net::TlsFiles {
        cert: town.join("tls/node.crt"),
        key: town.join("tls/node.key"),
        ca: network.ca.clone(),
        crl: Some(network.ca_dir.join("crl.pem")),
    };
    let url = node::report::resolve_url(&network.node("national").unwrap().network_url).unwrap();
    let answer = running.runtime.block_on(async {
        let client = net::Client::new(&files).unwrap();
        let expect = net::Expect::named(Some("urn:juki:national")).unwrap();
        client.post_answer(&format!("{url}/v1/heartbeats"), note, &expect).await.unwrap()
    });
    let body = wire::errors::ErrorBody::parse(&answer.body).expect("an error body");
    assert_eq!(body.code, Code::Fork, "{body}");
    assert_eq!(alerts_about_achi(root, "national", Code::Fork, By::Itself), 1);
    let held = running.runtime.block_on(async {
        let stage = testbed::drill::Stage::new(network)?;
        stage.release(ACHI, "the forged heartbeat was the test's own").await
    });
    assert!(held.unwrap(), "the fork quarantined the town");
}

/// Root on 阿智村 edits the running node's `node.toml`: the node's look at its files finds it
/// different from the manifest its admin signed, and the alert reaches the national node. The
/// node, restarted on the edited file, refuses to start and names it; once the admin has
/// signed a new manifest it starts, and the national node notices the new manifest in its
/// heartbeats.
#[test]
fn an_edited_configuration_is_manifest_changed_and_stops_the_next_start() {
    let mut running = Running::start_with(&[]);
    let root = running.dir.path().to_path_buf();
    let config = root.join("nodes/achi/node.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("# an attacker was here\n");
    std::fs::write(&config, &text).unwrap();
    let took =
        until_alert(&root, "national", Code::ManifestChanged, By::Achi, Duration::from_secs(30));
    println!("an edited node.toml: the alert reached the national node in {took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");

    running.nodes.stop_one("achi");
    let refused = running.nodes.start_one("achi").expect_err("a node with changed files");
    let message = format!("{refused:#}");
    assert!(message.contains("differ from the signed manifest"), "{message}");
    assert!(message.contains("node.toml"), "{message}");

    testbed::setup::sign_manifest(&running.network, "achi").unwrap();
    running.nodes.start_one("achi").unwrap();
    until_alert(&root, "national", Code::ManifestChanged, By::Itself, Duration::from_secs(10));
}

/// A fork shown to the witness: the witness's record of 阿智村's log is made to hold a larger
/// tree than the town's (as after someone showed it another history). At the town's next
/// change the witness refuses to cosign; the town alerts `witness-refused`, which reaches the
/// national node, and publishes nothing the witness did not cosign. Once the witness's record
/// is the town's history again, changes are witnessed and replicated as before.
#[test]
fn a_witness_that_refuses_to_cosign_is_an_alert_at_the_national_node() {
    let running = Running::start_with(&[]);
    let root = running.dir.path();
    let (origin, key) = achi_log(&running.network, root);
    let witness = rusqlite::Connection::open(root.join("witness/witness.db")).unwrap();
    witness.busy_timeout(Duration::from_secs(10)).unwrap();
    let (size, saved_root): (i64, Vec<u8>) = witness
        .query_row("SELECT size, root FROM latest WHERE origin = ?1", [&origin], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    witness
        .execute(
            "UPDATE latest SET size = size + 1000, root = zeroblob(32) WHERE origin = ?1",
            [&origin],
        )
        .unwrap();
    a_change(&running);
    let took =
        until_alert(root, "national", Code::WitnessRefused, By::Achi, Duration::from_secs(30));
    println!("a witness's refusal reached the national node {took:?} after the change");
    assert!(published(root, &origin, &key).is_some_and(|(s, _)| s as i64 <= size));

    witness
        .execute(
            "UPDATE latest SET size = ?2, root = ?3 WHERE origin = ?1",
            rusqlite::params![&origin, size, saved_root],
        )
        .unwrap();
    a_change(&running);
    let released = running.runtime.block_on(async {
        let stage = testbed::drill::Stage::new(&running.network)?;
        stage.settled().await?;
        stage.release(ACHI, "the witness's record was restored").await
    });
    assert!(released.unwrap(), "the national node quarantined the town");
    ok(&["network", "agree", "--dir", p(root)]);
    assert_eq!(alerts_about_achi(root, "achi", Code::WitnessRefused, By::Itself), 1, "once");
}

/// Root on 阿智村, holding its node key and TLS key, answers the national node's look at the
/// town's public endpoint with a checkpoint of another tree for a size the national node
/// mirrors (as a hijacked or forged endpoint would, to show readers another history). The
/// national node compares it with its mirror: a fork.
#[test]
fn a_public_endpoint_serving_another_tree_is_a_fork_at_the_national_node() {
    let dir = tempfile::tempdir().unwrap();
    ok(&["demo", "--dir", p(dir.path()), "--residents", "30", "--exit", "--no-drills"]);
    let root = dir.path().to_path_buf();
    let network = Network::load(&root).unwrap();
    let (origin, key) = achi_log(&network, &root);
    // The size the national node mirrors: the demo's last checkpoint of the town.
    let mirrored =
        std::fs::read_to_string(root.join("nodes/national/mirrors/204072/tlog/checkpoint"))
            .unwrap();
    let size: u64 = mirrored.lines().nth(1).unwrap().parse().unwrap();
    let forged = checkpoint(&origin, size, tlog::Hash([0x5a; 32]), &key);

    // The forged endpoint, with the town's own certificate.
    let server = tokio::runtime::Runtime::new().unwrap();
    let town = root.join("nodes/achi");
    let files = net::TlsFiles {
        cert: town.join("tls/node.crt"),
        key: town.join("tls/node.key"),
        ca: network.ca.clone(),
        crl: None,
    };
    let url = server.block_on(async {
        let tls = files.server_config(pki::ClientAuth::None).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let app = axum::Router::new().route(
            "/registry/checkpoint",
            axum::routing::get(move || {
                let forged = forged.clone();
                async move { forged }
            }),
        );
        tokio::spawn(net::serve(listener, app, tls, std::future::pending()));
        url
    });
    // The national node's configuration points at it (its administrator re-signs).
    let config = std::fs::read_to_string(root.join("nodes/national/node.toml")).unwrap();
    let line = config
        .lines()
        .find(|l| l.starts_with("public = ") && l.contains("/nodes/achi/"))
        .expect("the national node knows 阿智村's public endpoint")
        .to_owned();
    let running = Running::start_on(dir, &[("national", &line, &format!("public = \"{url}\""))]);
    let took = until_alert(&root, "national", Code::Fork, By::Itself, Duration::from_secs(30));
    println!("a public endpoint serving another tree: fork at the national node after {took:?}");
    drop(running);
    drop(server);
}
