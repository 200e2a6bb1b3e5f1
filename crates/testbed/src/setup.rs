//! Building a whole network in one directory, with the same commands an administrator and the
//! operators run (`juki pki`, `juki init municipal`, `juki key generate`, `juki operator
//! enroll`), and writing each node's `node.toml` and the network's `network.json`. Each
//! operator generates their own sealed key; the admin signs their enrolments offline into
//! files, which reach the town's node through its office API once it runs
//! ([`submit_enrolments`], called by `processes::Nodes::start`): no node needs the admin key.
//!
//! ```text
//! DIR/network.json             what scripts and tests need to drive the network
//! DIR/ca/                      the CA (ca.crt, ca.key, revoked.txt, crl.pem)
//! DIR/nodes/<name>/            a node's data directory, node.toml, tls/ (cert and key) and,
//!                              while it runs, node.report.json (its listeners' addresses);
//!                              nodes/signer holds the national key, nodes/national does not
//! DIR/witness/                 the witness: witness.toml, its key and state, and while it
//!                              runs witness.report.json
//! DIR/credentials/<town>/      a town's admin key, operators' keys, console certificate and
//!                              enrolments/ (the enrolments the admin signed offline)
//! DIR/credentials/agency/      the agency's certificate
//! DIR/credentials/monitor/     the national monitoring's certificate (reads alerts and
//!                              metrics, sends quarantine releases) and the national
//!                              administrator's key (sealed), which signs those releases
//! DIR/credentials/passphrases.json   the passphrases of the sealed keys (0600)
//! ```
//!
//! No port is chosen here: every node and the witness listen on `127.0.0.1:0`, and each reports
//! the addresses it got in its report file once it serves (`node::report::Report`). Every
//! peer is named in `node.toml` by a `report:PATH#LISTENER` URL, read again at every call, so
//! a restarted node is found at its new address. `network.json` holds `report:` URLs until
//! `processes::Nodes` has started the network; from then on it holds the real
//! `https://127.0.0.1:PORT` URLs, rewritten after every start (`Network::refresh`).
//!
//! Every directory made here is readable by its owner alone (0700).
//!
//! The keys a person would hold — the CA key, each town's admin key, the operators' keys — are
//! sealed, each with its own random passphrase kept in `DIR/credentials/passphrases.json`
//! (see `passphrases`), and handed to `juki` in a variable named with `--passphrase-env`. Keys
//! that sign unattended (node and provision keys, the national key in the signer's directory,
//! TLS keys, the witness key) are not sealed. A real deployment also keeps the admin keys and the CA offline.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};

use node::config::{Listen, NodeConfig, NodeRole, Peer, TlsConfig, Town};
use node::report::Report;

use crate::passphrases::{ADMIN_VARIABLE, CA_VARIABLE, NEW_VARIABLE, Passphrases, load_signer};

/// The towns of the demo: name, code.
pub const TOWNS: [(&str, &str); 3] =
    [("achi", "204072"), ("shimosuwa", "203611"), ("matsumoto", "202029")];

/// `network.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Network {
    /// The CA certificate.
    pub ca: PathBuf,
    /// The CA directory (revocation).
    pub ca_dir: PathBuf,
    /// Every node.
    pub nodes: Vec<NodeEntry>,
    /// Witnesses.
    pub witnesses: Vec<WitnessEntry>,
    /// The agency's client credential.
    pub agency: Credential,
    /// Each town's clerks: console certificate and operator keys.
    pub operators: Vec<TownOperators>,
    /// The national key's file (the national node's directory).
    pub national_key: PathBuf,
    /// The national monitoring's client credential.
    pub monitor: Credential,
    /// The national administrator's key (sealed): signs the release of a quarantined town.
    pub administrator_key: PathBuf,
    /// Each town as it is registered with the network: the keys with which its records'
    /// evidence is checked.
    pub towns: Vec<wire::trust::TownKeys>,
}

/// A node in `network.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeEntry {
    /// Its name.
    pub name: String,
    /// municipal, prefecture or national.
    pub role: String,
    /// Its code (none for national).
    pub code: Option<String>,
    /// The API clients use: a town's office API, or an upper node's inter-node API.
    pub api_url: String,
    /// The inter-node API.
    pub network_url: String,
    /// The public read endpoint.
    pub public_url: String,
    /// Its logs.
    pub logs: Vec<LogEntry>,
    /// Its node.toml.
    pub config: PathBuf,
    /// Where it reports its listeners' addresses while it runs.
    pub report: PathBuf,
}

/// A log in `network.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogEntry {
    /// The origin.
    pub origin: String,
    /// The tlog-tiles prefix (`<url>/checkpoint`, `<url>/tile/…`).
    pub url: String,
    /// The log's verifier key.
    pub vkey: String,
}

/// A witness.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WitnessEntry {
    /// Its name.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// Its cosignature verifier key.
    pub vkey: String,
    /// Its configuration (`juki witness serve --config`).
    pub config: PathBuf,
    /// Where it reports its address while it runs.
    pub report: PathBuf,
}

/// A client certificate and key.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Credential {
    /// The identity URI.
    pub identity: String,
    /// The certificate.
    pub cert: PathBuf,
    /// The key.
    pub key: PathBuf,
}

/// A town's clerks.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TownOperators {
    /// The municipality code.
    pub code: String,
    /// The console certificate the clerks' client presents.
    pub console: Credential,
    /// The admin key (sealed; offline in real life: no node process needs it).
    pub admin_key: PathBuf,
    /// A clerk's operator key (sealed), which the clerk generated.
    pub clerk_key: PathBuf,
    /// A supervisor's operator key (sealed; the second person for sensitive changes), which
    /// the supervisor generated.
    pub supervisor_key: PathBuf,
    /// The operators' enrolments, signed offline with the admin key, in the order they are
    /// submitted to the town's node through its office API once it runs.
    #[serde(default)]
    pub enrolments: Vec<SignedEnrolment>,
}

/// An enrolment the admin signed offline, and whether the town's node has recorded it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SignedEnrolment {
    /// The operator's handle.
    pub handle: String,
    /// The signed `juki.enrol/v1` note.
    pub file: PathBuf,
    /// Whether the town's node has recorded it (it was submitted through the office API).
    pub submitted: bool,
}

impl NodeEntry {
    /// Takes this node's URLs from its report; returns whether they changed.
    pub fn take_urls(&mut self, report: &Report) -> Result<bool> {
        let network = report.url("network")?;
        let public = report.url("public")?;
        let api = if self.role == "municipal" { report.url("office")? } else { network.clone() };
        let changed =
            (&self.api_url, &self.network_url, &self.public_url) != (&api, &network, &public);
        for log in &mut self.logs {
            if let Some(path) = log.url.strip_prefix(&self.public_url) {
                log.url = format!("{public}{path}");
            }
        }
        (self.api_url, self.network_url, self.public_url) = (api, network, public);
        Ok(changed)
    }
}

impl Network {
    /// Reads `DIR/network.json`.
    pub fn load(dir: &Path) -> Result<Network> {
        let path = dir.join("network.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is malformed (or was written by an older juki: remove {} and build the \
                 network again)",
                path.display(),
                dir.display()
            )
        })
    }

    /// Writes `DIR/network.json` (through a temporary file and a rename: a reader sees the old
    /// file or the new one).
    pub fn save(&self) -> Result<()> {
        let path = self.dir()?.join("network.json");
        let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
        std::fs::write(&tmp, serde_json::to_string_pretty(self)?)
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// Takes the URLs of every node and witness from the reports they wrote (a process that is
    /// not running keeps the URLs it had). Returns whether anything changed.
    pub fn refresh(&mut self) -> bool {
        let mut changed = false;
        for node in &mut self.nodes {
            if let Ok(report) = Report::read(&node.report) {
                changed |= node.take_urls(&report).is_ok_and(|c| c);
            }
        }
        for witness in &mut self.witnesses {
            if let Ok(url) = Report::read(&witness.report).and_then(|r| r.url(WITNESS_LISTENER))
                && url != witness.url
            {
                witness.url = url;
                changed = true;
            }
        }
        changed
    }

    /// The network's directory (where the CA directory is).
    pub fn dir(&self) -> Result<PathBuf> {
        Ok(self.ca_dir.parent().context("the CA directory has a parent")?.to_path_buf())
    }

    /// A node by name.
    pub fn node(&self, name: &str) -> Result<&NodeEntry> {
        self.nodes.iter().find(|n| n.name == name).with_context(|| format!("no node {name}"))
    }

    /// A town's operators by code.
    pub fn town(&self, code: &str) -> Result<&TownOperators> {
        self.operators.iter().find(|o| o.code == code).with_context(|| format!("no town {code}"))
    }
}

/// Runs `juki ARGS`, capturing output; returns stdout.
fn juki(args: &[&str]) -> Result<String> {
    juki_with(args, &[])
}

/// Runs `juki ARGS` with the variables `env` set (the passphrases it needs, each in the
/// variable its `--passphrase-env` names: never on the command line); returns stdout.
fn juki_with(args: &[&str], env: &[(&str, &str)]) -> Result<String> {
    let exe = crate::binary().context("finding the juki binary")?;
    let output = Command::new(exe)
        .args(args)
        .env_remove("JUKI_PASSPHRASE")
        .envs(env.iter().copied())
        .output()
        .with_context(|| format!("running juki {}", args.join(" ")))?;
    if !output.status.success() {
        bail!("juki {} failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn p(path: &Path) -> &str {
    path.to_str().expect("demo paths are UTF-8")
}

/// Any free port on loopback: the process that binds it reports which it got.
const ANY_PORT: SocketAddr =
    SocketAddr::V4(std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 0));

/// A node's report file in its directory.
pub const NODE_REPORT: &str = "node.report.json";
/// The witness's report file in its directory.
pub const WITNESS_REPORT: &str = "witness.report.json";
/// The witness's listener in its report (`juki witness serve`).
pub const WITNESS_LISTENER: &str = "witness";

/// A `report:` URL naming `listener` in the report at `report`.
fn report_url(report: &Path, listener: &str) -> String {
    format!("{}{}#{listener}", node::report::REPORT_SCHEME, report.display())
}

/// Creates a directory (and its missing parents) readable by its owner alone.
fn private_dir(dir: &Path) -> Result<()> {
    keyfile::private::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

fn field<'a>(output: &'a str, key: &str) -> Result<&'a str> {
    output
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(' ')))
        .with_context(|| format!("no {key} in the command's output"))
}

/// Creates the network in `dir` (which must not hold one yet).
pub fn create(dir: &Path) -> Result<Network> {
    create_with(dir, catalogue(now_unix()))
}

/// [`create`], with `purposes` as the catalogue the national administrator signs for the
/// upper tiers (a benchmark raises the rates, so that it measures the node, not the limit).
pub fn create_with(dir: &Path, purposes: wire::purposes::Catalogue) -> Result<Network> {
    let dir = std::path::absolute(dir)?;
    if dir.join("network.json").exists() {
        bail!("{} already holds a network", dir.display());
    }
    private_dir(&dir)?;
    let mut passphrases = Passphrases::load(&dir)?;
    let (new, ca_var, admin_var) = (NEW_VARIABLE, CA_VARIABLE, ADMIN_VARIABLE);
    let ca_dir = dir.join("ca");
    let ca_key = ca_dir.join("ca.key");
    if !ca_dir.exists() {
        let ca_name = "juki demo network CA";
        let ca_passphrase = passphrases.draw(&ca_key, &[ca_name])?;
        juki_with(
            &["pki", "init-ca", "--dir", p(&ca_dir), "--name", ca_name, "--passphrase-env", new],
            &[(new, &ca_passphrase)],
        )?;
    }
    let ca_passphrase = passphrases.required(&ca_key)?;
    let nodes_dir = dir.join("nodes");
    let creds = dir.join("credentials");
    let issue = |role: &str, code: Option<&str>, hosts: bool, out: &Path| -> Result<()> {
        private_dir(out.parent().expect("has a parent"))?;
        let mut args = vec!["pki", "issue", "--ca", p(&ca_dir), "--role", role, "--out", p(out)];
        args.extend(["--passphrase-env", ca_var]);
        if let Some(code) = code {
            args.extend(["--code", code]);
        }
        if hosts {
            args.extend(["--host", "127.0.0.1", "--host", "localhost"]);
        }
        juki_with(&args, &[(ca_var, &ca_passphrase)])?;
        Ok(())
    };

    // The national signer, the one holder of the national key (its own process; its own
    // machine or an HSM in a deployment), and its issuance log's key.
    let signer_dir = nodes_dir.join("signer");
    private_dir(&signer_dir)?;
    let national_key = signer_dir.join(node::signer::NATIONAL_KEY);
    let national_vkey =
        juki(&["key", "generate", "--name", "national.juki.local", "--out", p(&national_key)])?
            .trim()
            .to_owned();
    let signer_origin = "juki.local/signer".to_owned();
    let signer_node_vkey = juki(&[
        "key",
        "generate",
        "--name",
        &signer_origin,
        "--out",
        p(&signer_dir.join("node.key")),
    ])?
    .trim()
    .to_owned();
    issue("signer", None, true, &signer_dir.join("tls/node"))?;

    // The national node and its keys (the national key is not among them).
    let national_dir = nodes_dir.join("national");
    private_dir(&national_dir)?;
    let national_origin = "juki.local/national".to_owned();
    let national_node_vkey = juki(&[
        "key",
        "generate",
        "--name",
        &national_origin,
        "--out",
        p(&national_dir.join("node.key")),
    ])?
    .trim()
    .to_owned();
    issue("national", None, true, &national_dir.join("tls/node"))?;

    // The prefecture.
    let pref_dir = nodes_dir.join("nagano");
    private_dir(&pref_dir)?;
    let pref_origin = "juki.local/prefecture/20".to_owned();
    let pref_vkey =
        juki(&["key", "generate", "--name", &pref_origin, "--out", p(&pref_dir.join("node.key"))])?
            .trim()
            .to_owned();
    issue("prefecture", Some("20"), true, &pref_dir.join("tls/node"))?;

    // The towns.
    let mut towns = Vec::new();
    let mut operators = Vec::new();
    for (name, code) in TOWNS {
        let town_dir = nodes_dir.join(name);
        let cred = creds.join(name);
        private_dir(&cred)?;
        let admin = cred.join("admin.key");
        // The words `juki init municipal` refuses in the passphrase: the keys' names.
        let admin_name = format!("admin.{code}.juki.local");
        let admin_names = [admin_name.as_str(), "national.juki.local", name];
        let admin_passphrase = passphrases.draw(&admin, &admin_names)?;
        let out = juki_with(
            &[
                "init",
                "municipal",
                "--code",
                code,
                "--dir",
                p(&town_dir),
                "--admin-out",
                p(&admin),
                "--national-vkey",
                &national_vkey,
                "--passphrase-env",
                new,
            ],
            &[(new, &admin_passphrase)],
        )?;
        let origin = field(&out, "origin")?.to_owned();
        let vkey = field(&out, "node-vkey")?.to_owned();
        let admin_vkey = field(&out, "admin-vkey")?.to_owned();
        juki(&[
            "key",
            "generate",
            "--name",
            &format!("{origin}/provisions"),
            "--out",
            p(&town_dir.join(node::logs::PROVISION_KEY)),
        ])?;
        issue("municipal", Some(code), true, &town_dir.join("tls/node"))?;
        let console = cred.join("console");
        issue("console", Some(code), false, &console)?;
        let clerk = cred.join("clerk.key");
        let supervisor = cred.join("supervisor.key");
        let enrolments_dir = cred.join("enrolments");
        private_dir(&enrolments_dir)?;
        let mut enrolments = Vec::new();
        for (handle, role, key) in
            [("tanaka", "clerk", &clerk), ("suzuki", "supervisor", &supervisor)]
        {
            // The operator generates their own key, sealed with their own passphrase, and
            // hands the admin only its verifier key.
            let key_name = format!("op.{code}.juki.local/{handle}");
            let passphrase = passphrases.draw(key, &[key_name.as_str()])?;
            let vkey = juki_with(
                &["key", "generate", "--name", &key_name, "--out", p(key), "--passphrase-env", new],
                &[(new, &passphrase)],
            )?
            .trim()
            .to_owned();
            // The admin signs the enrolment offline; it reaches the node through the office
            // API once the node runs (`submit_enrolments`).
            let file = enrolments_dir.join(format!("{handle}.enrol"));
            juki_with(
                &[
                    "operator",
                    "enroll",
                    "--admin-key",
                    p(&admin),
                    "--admin-passphrase-env",
                    admin_var,
                    "--vkey",
                    &vkey,
                    "--role",
                    role,
                    "--out",
                    p(&file),
                ],
                &[(admin_var, &admin_passphrase)],
            )?;
            enrolments.push(SignedEnrolment { handle: handle.to_owned(), file, submitted: false });
        }
        operators.push(TownOperators {
            code: code.to_owned(),
            console: Credential {
                identity: format!("urn:juki:console:{code}"),
                cert: console.with_extension("crt"),
                key: console.with_extension("key"),
            },
            admin_key: admin,
            clerk_key: clerk,
            supervisor_key: supervisor,
            enrolments,
        });
        towns.push((name, code, origin, vkey, admin_vkey, town_dir));
    }
    let agency = creds.join("agency/pension");
    issue("agency", Some("pension-service"), false, &agency)?;
    // The national monitoring's certificate, and the national administrator's own key, sealed:
    // with it they sign the release of a town the national node quarantined.
    let monitor = creds.join("monitor/monitor");
    issue("monitor", None, false, &monitor)?;
    let administrator_key = creds.join("monitor/administrator.key");
    let administrator_name = "administrator.national.juki.local";
    let administrator_passphrase = passphrases.draw(&administrator_key, &[administrator_name])?;
    let administrator_vkey = juki_with(
        &[
            "key",
            "generate",
            "--name",
            administrator_name,
            "--out",
            p(&administrator_key),
            "--passphrase-env",
            new,
        ],
        &[(new, &administrator_passphrase)],
    )?
    .trim()
    .to_owned();

    // The witness: it cosigns each town's registry and provision checkpoints, the prefecture's
    // and the national node's provision checkpoints and the signer's, after checking
    // consistency.
    let witness_dir = dir.join("witness");
    private_dir(&witness_dir)?;
    let witness_vkey = juki(&[
        "key",
        "generate",
        "--witness",
        "--name",
        "witness.juki.local",
        "--out",
        p(&witness_dir.join("witness.key")),
    ])?
    .trim()
    .to_owned();
    let mut witness_toml = format!(
        "key = \"witness.key\"\nlisten = \"{ANY_PORT}\"\nstate = \"witness.db\"\n\
         report = \"{WITNESS_REPORT}\"\n"
    );
    let mut witnessed = vec![
        (signer_origin.clone(), signer_node_vkey.clone()),
        (pref_origin.clone(), pref_vkey.clone()),
        (national_origin.clone(), national_node_vkey.clone()),
    ];
    for (_, _, origin, vkey, _, town_dir) in &towns {
        witnessed.push((origin.clone(), vkey.clone()));
        witnessed.push((format!("{origin}/provisions"), provision_vkey(town_dir)?));
    }
    for (origin, vkey) in &witnessed {
        witness_toml.push_str(&format!("\n[[log]]\norigin = \"{origin}\"\nvkeys = [\"{vkey}\"]\n"));
    }
    let witness_config = witness_dir.join("witness.toml");
    std::fs::write(&witness_config, witness_toml)?;
    let witness_report = witness_dir.join(WITNESS_REPORT);
    let witness = WitnessEntry {
        name: "witness".into(),
        url: report_url(&witness_report, WITNESS_LISTENER),
        vkey: witness_vkey,
        config: witness_config,
        report: witness_report,
    };

    // Addresses and configurations.
    let tls = |node_dir: &Path| TlsConfig {
        ca: ca_dir.join("ca.crt"),
        cert: node_dir.join("tls/node.crt"),
        key: node_dir.join("tls/node.key"),
        crl: ca_dir.join("crl.pem"),
    };
    let upper_listen = Listen { office: None, network: ANY_PORT, public: ANY_PORT };
    let town_listen = Listen { office: Some(ANY_PORT), network: ANY_PORT, public: ANY_PORT };
    let report = |node_dir: &Path| node_dir.join(NODE_REPORT);
    let national_peer = Peer {
        url: report_url(&report(&national_dir), "network"),
        identity: "urn:juki:national".into(),
        vkey: national_node_vkey.clone(),
    };
    let signer_peer = Peer {
        url: report_url(&report(&signer_dir), "network"),
        identity: "urn:juki:signer".into(),
        vkey: signer_node_vkey.clone(),
    };
    let pref_peer = Peer {
        url: report_url(&report(&pref_dir), "network"),
        identity: "urn:juki:prefecture:20".into(),
        vkey: pref_vkey.clone(),
    };
    let town_entries: Vec<Town> = towns
        .iter()
        .map(|(_, code, origin, vkey, admin, town_dir)| {
            Ok(Town {
                code: code.to_string(),
                origin: origin.clone(),
                vkey: vkey.clone(),
                url: report_url(&report(town_dir), "network"),
                admin: admin.clone(),
                witnesses: vec![witness.vkey.clone()],
                quorum: 1,
                provisions: provision_vkey(town_dir)?,
                public: report_url(&report(town_dir), "public"),
            })
        })
        .collect::<Result<_>>()?;
    let base = |name: &str, role, code: Option<&str>, dir: &Path, origin: &str, listen: Listen| {
        NodeConfig {
            name: name.to_owned(),
            role,
            code: code.map(str::to_owned),
            dir: dir.to_path_buf(),
            origin: origin.to_owned(),
            tls: tls(dir),
            listen,
            upstream: None,
            national: None,
            signer: None,
            national_key: national_vkey.clone(),
            towns: Vec::new(),
            prefectures: Vec::new(),
            pool_low: 200,
            interval_ms: 50,
            max_batch: 4096,
            stuck_after_ms: 60_000,
            heartbeat_ms: 1_000,
            heartbeat_missing_ms: 10_000,
            watch_ms: 200,
            verify_every_ms: 60_000,
            provision_publish_ms: 1_000,
            witnesses: Vec::new(),
            witness_quorum: 0,
            administrators: Vec::new(),
            catalogue: None,
            // The demo runs at any hour: its counters are open all week, day and night (the
            // default is a town office's weekday hours).
            behaviour: node::behaviour::Rules {
                office_hours: "00:00-24:00".into(),
                office_days: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                    .map(str::to_owned)
                    .to_vec(),
                ..node::behaviour::Rules::default()
            },
            // Every node's alerts, also as JSON Lines beside its database.
            alerts: node::config::AlertSinks {
                jsonl: Some(dir.join("alerts.jsonl")),
                webhook: None,
            },
            report: Some(report(dir)),
            manifest: None,
            source: None,
            binary: None,
        }
    };
    let mut configs = Vec::new();
    let mut signer =
        base("signer", NodeRole::Signer, None, &signer_dir, &signer_origin, upper_listen.clone());
    signer.towns = town_entries.clone();
    signer.witnesses =
        vec![node::config::Witness { url: witness.url.clone(), vkey: witness.vkey.clone() }];
    signer.witness_quorum = 1;
    configs.push(signer);
    let mut national = base(
        "national",
        NodeRole::National,
        None,
        &national_dir,
        &national_origin,
        upper_listen.clone(),
    );
    national.towns = town_entries.clone();
    national.witnesses =
        vec![node::config::Witness { url: witness.url.clone(), vkey: witness.vkey.clone() }];
    national.witness_quorum = 1;
    national.prefectures = vec![pref_peer.clone()];
    national.signer = Some(signer_peer);
    national.administrators = vec![administrator_vkey.clone()];
    configs.push(national);
    let mut pref = base(
        "nagano",
        NodeRole::Prefecture,
        Some("20"),
        &pref_dir,
        &pref_origin,
        upper_listen.clone(),
    );
    pref.towns = town_entries.clone();
    pref.witnesses =
        vec![node::config::Witness { url: witness.url.clone(), vkey: witness.vkey.clone() }];
    pref.witness_quorum = 1;
    pref.upstream = Some(national_peer.clone());
    pref.administrators = vec![administrator_vkey.clone()];
    configs.push(pref);
    // The upper tiers provide identity information under the catalogue of purposes the
    // national administrator signs.
    let catalogue_text = creds.join("monitor/purposes.txt");
    std::fs::write(&catalogue_text, purposes.text())?;
    for config in
        configs.iter_mut().filter(|c| matches!(c.role, NodeRole::National | NodeRole::Prefecture))
    {
        let signed = config.dir.join(CATALOGUE);
        juki_with(
            &[
                "purposes",
                "sign",
                "--in",
                p(&catalogue_text),
                "--key",
                p(&administrator_key),
                "--passphrase-env",
                new,
                "--out",
                p(&signed),
            ],
            &[(new, &administrator_passphrase)],
        )?;
        config.catalogue = Some(PathBuf::from(CATALOGUE));
    }
    for (name, code, origin, _, _, town_dir) in &towns {
        let mut town =
            base(name, NodeRole::Municipal, Some(code), town_dir, origin, town_listen.clone());
        town.upstream = Some(pref_peer.clone());
        town.witnesses =
            vec![node::config::Witness { url: witness.url.clone(), vkey: witness.vkey.clone() }];
        town.witness_quorum = 1;
        town.national = Some(national_peer.clone());
        town.towns = town_entries.iter().filter(|t| t.code != *code).cloned().collect();
        configs.push(town);
    }

    // Every node runs from a signed baseline manifest: a town's signed by its admin, the
    // others' by the national administrator (`sign_manifest`, once the files are written).
    for config in &mut configs {
        let key = match config.role {
            NodeRole::Municipal => towns
                .iter()
                .find(|(_, code, ..)| Some(code.to_string()) == config.code)
                .map(|(_, _, _, _, admin, _)| admin.clone())
                .context("a town's admin key")?,
            _ => administrator_vkey.clone(),
        };
        config.manifest =
            Some(node::config::ManifestConfig { file: config.dir.join(MANIFEST), key });
    }
    let mut nodes = Vec::new();
    for config in &configs {
        let path = config.dir.join("node.toml");
        std::fs::write(&path, toml::to_string_pretty(config)?)?;
        let report = report(&config.dir);
        // Until the node runs, its URLs say where it will report them.
        let public = report_url(&report, "public");
        let logs = match config.role {
            NodeRole::Municipal => {
                let town = town_entries
                    .iter()
                    .find(|t| Some(&t.code) == config.code.as_ref())
                    .expect("a town");
                let provisions = provision_vkey(&config.dir)?;
                vec![
                    LogEntry {
                        origin: town.origin.clone(),
                        url: format!("{public}/registry"),
                        vkey: town.vkey.clone(),
                    },
                    LogEntry {
                        origin: format!("{}/provisions", town.origin),
                        url: format!("{public}/provisions"),
                        vkey: provisions,
                    },
                ]
            }
            NodeRole::Prefecture => vec![LogEntry {
                origin: pref_origin.clone(),
                url: format!("{public}/provisions"),
                vkey: pref_vkey.clone(),
            }],
            NodeRole::National => vec![LogEntry {
                origin: national_origin.clone(),
                url: format!("{public}/provisions"),
                vkey: national_node_vkey.clone(),
            }],
            NodeRole::Signer => vec![LogEntry {
                origin: signer_origin.clone(),
                url: format!("{public}/issuance"),
                vkey: signer_node_vkey.clone(),
            }],
        };
        let network_url = report_url(&report, "network");
        nodes.push(NodeEntry {
            name: config.name.clone(),
            role: match config.role {
                NodeRole::Municipal => "municipal",
                NodeRole::Prefecture => "prefecture",
                NodeRole::National => "national",
                NodeRole::Signer => "signer",
            }
            .into(),
            code: config.code.clone(),
            api_url: match config.listen.office {
                Some(_) => report_url(&report, "office"),
                None => network_url.clone(),
            },
            network_url,
            public_url: public,
            logs,
            config: path,
            report,
        });
    }
    let network = Network {
        ca: ca_dir.join("ca.crt"),
        ca_dir,
        nodes,
        witnesses: vec![witness],
        agency: Credential {
            identity: "urn:juki:agency:pension-service".into(),
            cert: agency.with_extension("crt"),
            key: agency.with_extension("key"),
        },
        operators,
        national_key,
        monitor: Credential {
            identity: "urn:juki:monitor".into(),
            cert: monitor.with_extension("crt"),
            key: monitor.with_extension("key"),
        },
        administrator_key,
        towns: town_entries.iter().map(Town::keys).collect(),
    };
    network.save()?;
    for node in &network.nodes {
        sign_manifest(&network, &node.name)?;
    }
    Ok(network)
}

/// The file of a node's signed baseline manifest, beside its `node.toml`.
pub const MANIFEST: &str = "manifest";

/// The signed catalogue of purposes in an upper node's directory.
pub const CATALOGUE: &str = "purposes.note";

/// Now, in POSIX seconds (when the catalogue is issued).
pub(crate) fn now_unix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Signs node `name`'s baseline manifest (again) over its files as they are, with the key of
/// the person who signs it — the town's admin key, else the national administrator's —, as
/// that person would after a meant change (`juki manifest sign --replace`).
pub fn sign_manifest(network: &Network, name: &str) -> Result<()> {
    let node = network.node(name)?;
    let key = match node.role.as_str() {
        "municipal" => &network.town(node.code.as_deref().context("a town has a code")?)?.admin_key,
        _ => &network.administrator_key,
    };
    let passphrase = Passphrases::load(&network.dir()?)?.required(key)?;
    let dir = node.config.parent().context("node.toml has a directory")?;
    let binary = crate::binary().context("finding the juki binary")?;
    juki_with(
        &[
            "manifest",
            "sign",
            "--config",
            p(&node.config),
            "--key",
            p(key),
            "--passphrase-env",
            ADMIN_VARIABLE,
            "--binary",
            p(&binary),
            "--out",
            p(&dir.join(MANIFEST)),
            "--replace",
        ],
        &[(ADMIN_VARIABLE, &passphrase)],
    )?;
    Ok(())
}

/// Submits every enrolment the admin signed offline that town nodes have not recorded yet (of
/// town `only`, or of every town), each through its town's office API with the town's console
/// certificate (`juki office submit`), and records in `network.json` that it was. The towns'
/// nodes must be running. Returns how many were submitted.
pub fn submit_enrolments(network: &mut Network, only: Option<&str>) -> Result<usize> {
    let mut submitted = 0;
    for t in 0..network.operators.len() {
        if only.is_some_and(|code| code != network.operators[t].code) {
            continue;
        }
        for e in 0..network.operators[t].enrolments.len() {
            let town = &network.operators[t];
            let enrolment = &town.enrolments[e];
            if enrolment.submitted {
                continue;
            }
            let node = network
                .nodes
                .iter()
                .find(|n| n.code.as_deref() == Some(town.code.as_str()))
                .with_context(|| format!("no node for town {}", town.code))?;
            let url = node::report::resolve_url(&node.api_url)?;
            let crl = network.ca_dir.join("crl.pem");
            juki(&[
                "office",
                "submit",
                "--town",
                &town.code,
                "--node",
                &url,
                "--console-cert",
                p(&town.console.cert),
                "--console-key",
                p(&town.console.key),
                "--ca",
                p(&network.ca),
                "--crl",
                p(&crl),
                p(&enrolment.file),
            ])?;
            network.operators[t].enrolments[e].submitted = true;
            network.save()?;
            submitted += 1;
        }
    }
    Ok(submitted)
}

/// Town `code`'s clerk at its console, as the network directory describes it (the sealed key
/// opened with its passphrase from the network's passphrases file).
pub fn clerk(network: &Network, code: &str) -> Result<client::office::Clerk> {
    operator(network, code, |town| &town.clerk_key)
}

/// Town `code`'s supervisor at a console of their own: they approve what a clerk proposes.
pub fn supervisor(network: &Network, code: &str) -> Result<client::office::Clerk> {
    operator(network, code, |town| &town.supervisor_key)
}

/// One operator of town `code`, with the key `key` picks, at the town's console.
fn operator(
    network: &Network,
    code: &str,
    key: impl Fn(&TownOperators) -> &PathBuf,
) -> Result<client::office::Clerk> {
    let town: &TownOperators = network.town(code)?;
    console_clerk(network, code, load_signer(&network.dir()?, key(town))?)
}

/// The operator holding `operator` at town `code`'s console, as the network directory
/// describes the console (its certificate, the town's office API, every town's registration).
pub fn console_clerk(
    network: &Network,
    code: &str,
    operator: tlog::note::Signer,
) -> Result<client::office::Clerk> {
    let town: &TownOperators = network.town(code)?;
    let node = network
        .nodes
        .iter()
        .find(|n| n.code.as_deref() == Some(code))
        .context("no such town node")?;
    let files = net::TlsFiles {
        cert: town.console.cert.clone(),
        key: town.console.key.clone(),
        ca: network.ca.clone(),
        crl: Some(network.ca_dir.join("crl.pem")),
    };
    // A report: URL (the network has not been started by `processes` yet) is read from the
    // node's report.
    let url = node::report::resolve_url(&node.api_url)?;
    client::office::Clerk::new(
        registry_domain::MunicipalityCode::parse(code)?,
        &url,
        &files,
        operator,
        &network.towns,
    )
}

/// The network's agency, calling the national node.
pub fn agency(network: &Network) -> Result<client::agency::Agency> {
    let files = net::TlsFiles {
        cert: network.agency.cert.clone(),
        key: network.agency.key.clone(),
        ca: network.ca.clone(),
        crl: Some(network.ca_dir.join("crl.pem")),
    };
    let national = network.node("national")?;
    let url = node::report::resolve_url(&national.network_url)?;
    let node_key = &national.logs.first().context("the national node's log")?.vkey;
    client::agency::Agency::new(
        &url,
        &files,
        &network.agency.identity,
        "urn:juki:national",
        node_key,
        &network.towns,
    )
}

/// The agency's purposes in the network's catalogue of lawful purposes.
pub const PURPOSE_WHOLE: &str = "NENKIN-GENKYO";
/// A purpose that may receive the four basic items and the code, not the 個人番号 nor the
/// reading or the change.
pub const PURPOSE_FOUR_ITEMS: &str = "NENKIN-JUSHO";
/// A narrow purpose with a small rate (five a minute).
pub const PURPOSE_NARROW: &str = "NENKIN-SHOKAI";
/// A purpose with a small daily quota (three a day).
pub const PURPOSE_RARE: &str = "KYOSAI-SHIBO";
/// A purpose whose jurisdiction is one town: a pension office's own area, 松本市 alone.
pub const PURPOSE_LOCAL: &str = "NENKIN-MATSUMOTO";
/// The town whose residents [`PURPOSE_LOCAL`] concerns (松本市).
pub const PURPOSE_LOCAL_TOWN: &str = "202029";

/// The catalogue of purposes the national administrator signs for the network: the pension
/// service's five purposes, one of them for 松本市's residents alone.
pub fn catalogue(issued: u64) -> wire::purposes::Catalogue {
    use wire::purposes::{Item, Purpose};
    let agency = "urn:juki:agency:pension-service".to_owned();
    wire::purposes::Catalogue {
        issued,
        purposes: vec![
            Purpose {
                code: PURPOSE_WHOLE.into(),
                agency: agency.clone(),
                law: "住民基本台帳法 別表第一 第九十二号 (国民年金法による年金である給付の支給: 現況確認)".into(),
                items: Item::ALL.into_iter().collect(),
                search: true,
                per_minute: 100_000,
                per_day: 10_000_000,
                within: Vec::new(),
            },
            Purpose {
                code: PURPOSE_FOUR_ITEMS.into(),
                agency: agency.clone(),
                law: "住民基本台帳法 別表第一 第九十二号 (国民年金法による年金である給付の支給: 住所の確認)".into(),
                items: [Item::Code, Item::Name, Item::Birth, Item::Sex, Item::Address]
                    .into_iter()
                    .collect(),
                search: true,
                per_minute: 100_000,
                per_day: 10_000_000,
                within: Vec::new(),
            },
            Purpose {
                code: PURPOSE_NARROW.into(),
                agency: agency.clone(),
                law: "住民基本台帳法 別表第一 第九十三号 (厚生年金保険法による保険給付の支給: 照会)".into(),
                items: [Item::Code, Item::Name].into_iter().collect(),
                search: false,
                per_minute: 5,
                per_day: 100_000,
                within: Vec::new(),
            },
            Purpose {
                code: PURPOSE_RARE.into(),
                agency: agency.clone(),
                law: "住民基本台帳法 別表第一 第九十四号 (共済組合の年金給付: 死亡の確認)".into(),
                items: [Item::Code, Item::Status, Item::Change].into_iter().collect(),
                search: false,
                per_minute: 1000,
                per_day: 3,
                within: Vec::new(),
            },
            Purpose {
                code: PURPOSE_LOCAL.into(),
                agency,
                law: "住民基本台帳法 別表第一 第九十二号 (国民年金法による年金である給付の支給: 松本年金事務所の管轄)".into(),
                items: [Item::Code, Item::Name, Item::Address].into_iter().collect(),
                search: true,
                per_minute: 1000,
                per_day: 100_000,
                within: vec![wire::purposes::Place::Municipality(
                    registry_domain::MunicipalityCode::parse(PURPOSE_LOCAL_TOWN)
                        .expect("a municipality code"),
                )],
            },
        ],
    }
}

/// The verifier key of the provision log whose key is in a town node's directory.
fn provision_vkey(town_dir: &Path) -> Result<String> {
    let key = std::fs::read_to_string(town_dir.join(node::logs::PROVISION_KEY))?;
    Ok(tlog::note::Signer::parse(key.trim())?.verifier().to_string())
}
