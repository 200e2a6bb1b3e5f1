//! `node.toml`: what one node of the network is, where it listens, whom it trusts.
//!
//! Paths are relative to the configuration file's directory. Every peer is named by the
//! identity its certificate must carry (`urn:juki:…`) and, where it signs logs or receipts, by
//! its verifier key; nothing here is a secret except the key files it points at.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};
use tlog::note::VerifierKey;

/// A node's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// A municipality's registry node.
    Municipal,
    /// A prefecture's node: mirrors its municipalities, forwards to the national node.
    Prefecture,
    /// The national node: mirrors every municipality, answers agencies, and asks the signer
    /// for code blocks, move-out certificates and move notices.
    National,
    /// The national signer: holds the national key and signs only on evidence it checks.
    Signer,
}

/// `node.toml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// A short name for people (`achi`, `nagano`, `national`).
    pub name: String,
    /// What this node is.
    pub role: NodeRole,
    /// The municipality code (municipal) or prefecture number (prefecture); none for national.
    #[serde(default)]
    pub code: Option<String>,
    /// The data directory.
    pub dir: PathBuf,
    /// The node's log origin; its node key (`node.key` in the data directory) is named after it.
    pub origin: String,
    /// TLS material.
    pub tls: TlsConfig,
    /// Where it listens.
    pub listen: Listen,
    /// The node this one replicates to (municipal: its prefecture; prefecture: the national node).
    #[serde(default)]
    pub upstream: Option<Peer>,
    /// The national node (municipal: code blocks and move certificates).
    #[serde(default)]
    pub national: Option<Peer>,
    /// The national key that signs code blocks, move certificates and move notices.
    pub national_key: String,
    /// Municipalities this node knows: for an upstream node the ones it mirrors (and, for the
    /// national node, where move notices go); for a municipality, the towns it may ask for a
    /// wide-area copy.
    #[serde(default)]
    pub towns: Vec<Town>,
    /// The national signer (national node: code blocks, move-out certificates, move notices).
    #[serde(default)]
    pub signer: Option<Peer>,
    /// Prefecture nodes the national node accepts batches from.
    #[serde(default)]
    pub prefectures: Vec<Peer>,
    /// Witnesses that cosign the node's registry checkpoints before they are published.
    #[serde(default)]
    pub witnesses: Vec<Witness>,
    /// How many of them must cosign.
    #[serde(default)]
    pub witness_quorum: usize,
    /// How many unused codes a municipality keeps in its pool before it asks for a new block.
    #[serde(default = "default_pool_low")]
    pub pool_low: u64,
    /// How often (milliseconds) an idle node integrates its logs and pushes upstream; a new
    /// change (a town) or a town's new batch (a prefecture) starts a round at once.
    #[serde(default = "default_interval")]
    pub interval_ms: u64,
    /// The most events one batch carries.
    #[serde(default = "default_batch")]
    pub max_batch: usize,
    /// How long (milliseconds) a move notice may fail to reach its town before the national
    /// node raises a `notice-stuck` alert.
    #[serde(default = "default_stuck_after")]
    pub stuck_after_ms: u64,
    /// How often (milliseconds) a town sends its signed heartbeat to its prefecture and the
    /// national node, and an upper node looks for silent or stuck towns.
    #[serde(default = "default_heartbeat")]
    pub heartbeat_ms: u64,
    /// How long (milliseconds) an upper node waits for a town's heartbeat before it raises a
    /// `heartbeat-missing` alert.
    #[serde(default = "default_heartbeat_missing")]
    pub heartbeat_missing_ms: u64,
    /// How often (milliseconds) a town checks whether anything but itself wrote to its
    /// registry database (which starts a verification at once).
    #[serde(default = "default_watch")]
    pub watch_ms: u64,
    /// How long (milliseconds) one pass of a town's rolling re-verification takes: each look
    /// (every `watch_ms`) compares the next slice of every table and of the stored events with
    /// what its log says, whatever the watch saw (an edit of the file's bytes that bypasses
    /// SQLite is found this way, within one pass).
    #[serde(default = "default_verify_every")]
    pub verify_every_ms: u64,
    /// How often (milliseconds) a prefecture or national node integrates its own provision
    /// log, has the witnesses cosign it and publishes its checkpoint. Each provision is
    /// durable in the log before its answer leaves; this is only how soon it is also in a
    /// published, witnessed checkpoint (a disclosure waits for that).
    #[serde(default = "default_provision_publish")]
    pub provision_publish_ms: u64,
    /// National administrators' verifier keys: a release of a quarantined town must be signed
    /// by one of them (national node).
    #[serde(default)]
    pub administrators: Vec<String>,
    /// The catalogue of lawful purposes, signed by a national administrator (one of
    /// `administrators`), under which the node provides identity information to agencies
    /// (national and prefecture nodes). A path relative to the node's directory. Without one
    /// the node provides nothing (`no-catalogue`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalogue: Option<PathBuf>,
    /// Where the node's alerts go besides its journal and the upper tiers.
    #[serde(default)]
    pub alerts: AlertSinks,
    /// The behaviour rules: bursts, code walking, office hours, repeated refusals.
    #[serde(default)]
    pub behaviour: crate::behaviour::Rules,
    /// Where the node writes the addresses its listeners got (JSON, see
    /// `listeners::Report`) once it serves, and removes them when it stops.
    #[serde(default)]
    pub report: Option<PathBuf>,
    /// The node's signed baseline manifest: the node starts only if every file it runs from
    /// has the digest it lists, and re-hashes them while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<ManifestConfig>,
    /// The file this configuration was read from (set by [`NodeConfig::load`]).
    #[serde(skip)]
    pub source: Option<PathBuf>,
    /// The binary the node runs as (set by `serve`): the manifest must list it.
    #[serde(skip)]
    pub binary: Option<PathBuf>,
}

/// `[manifest]`: where the node's signed baseline manifest is and whose key signs it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestConfig {
    /// The signed manifest (`juki manifest sign`).
    pub file: PathBuf,
    /// The verifier key it must be signed with: a town's admin key (the one its genesis
    /// names: a town checks that it is), the national administrator's for the other nodes.
    pub key: String,
}

/// `[alerts]`: the sinks a node's alerts are delivered to, each at least once and in order,
/// from where it last took them (kept in the journal across restarts). Every alert the node
/// holds goes, those other nodes reported to it included.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSinks {
    /// A JSON Lines file the node appends one line per alert to (and syncs), for a log
    /// shipper to follow.
    #[serde(default)]
    pub jsonl: Option<PathBuf>,
    /// A URL (`http://` or `https://`) the node POSTs `{"node": …, "alerts": [...]}` to; a
    /// 2xx answer takes them.
    #[serde(default)]
    pub webhook: Option<String>,
}

fn default_pool_low() -> u64 {
    200
}

fn default_interval() -> u64 {
    50
}

fn default_batch() -> usize {
    4096
}

fn default_stuck_after() -> u64 {
    60_000
}

fn default_heartbeat() -> u64 {
    1_000
}

fn default_heartbeat_missing() -> u64 {
    10_000
}

fn default_watch() -> u64 {
    200
}

fn default_verify_every() -> u64 {
    120_000
}

fn default_provision_publish() -> u64 {
    1_000
}

/// TLS files.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The network CA's certificate.
    pub ca: PathBuf,
    /// This node's certificate chain.
    pub cert: PathBuf,
    /// Its private key (PKCS#8 PEM).
    pub key: PathBuf,
    /// The CA's revocation list, reloaded when it changes.
    pub crl: PathBuf,
}

/// Listening addresses.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listen {
    /// The town office's network (clerks; mutual TLS, console certificates of this town).
    #[serde(default)]
    pub office: Option<SocketAddr>,
    /// The inter-node network (mutual TLS).
    pub network: SocketAddr,
    /// The public read endpoints (checkpoints and tiles; server TLS only).
    pub public: SocketAddr,
}

/// Another node.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    /// Its inter-node API, `https://host:port`.
    pub url: String,
    /// The identity its certificate must carry.
    pub identity: String,
    /// Its node key (receipts, checkpoints).
    pub vkey: String,
}

/// A witness.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Witness {
    /// Its tlog-witness submission prefix (`<url>/add-checkpoint`).
    pub url: String,
    /// Its cosignature verifier key.
    pub vkey: String,
}

/// A municipality known to this node.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Town {
    /// Its code.
    pub code: String,
    /// Its registry log's origin.
    pub origin: String,
    /// Its node key.
    pub vkey: String,
    /// Its inter-node API.
    pub url: String,
    /// The admin key its genesis names, as the town was registered with the network.
    pub admin: String,
    /// The witnesses whose cosignatures its registry checkpoints carry.
    #[serde(default)]
    pub witnesses: Vec<String>,
    /// How many of them must have cosigned.
    #[serde(default)]
    pub quorum: usize,
    /// The key of its provision log (`ORIGIN/provisions`), whose checkpoints carry the same
    /// witnesses: an upper node keeps a verified copy of that log when it is given.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub provisions: String,
    /// Its public listener (`https://host:port`, or a `report:` URL): an upper node fetches
    /// the registry checkpoint it serves there (`/registry/checkpoint`) and compares it with
    /// the town's heartbeats and its mirror.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub public: String,
}

impl Peer {
    /// The URL of `path` (`/v1/…`) at this peer.
    pub fn endpoint(&self, path: &str) -> Result<String> {
        Ok(format!("{}{path}", crate::report::resolve_url(&self.url)?))
    }
}

impl Town {
    /// Its registration, with which the evidence of its records is checked.
    pub fn keys(&self) -> wire::trust::TownKeys {
        wire::trust::TownKeys {
            municipality: self.code.clone(),
            origin: self.origin.clone(),
            vkey: self.vkey.clone(),
            witnesses: self.witnesses.clone(),
            quorum: self.quorum,
            admin: self.admin.clone(),
        }
    }

    /// The policy its provision log's checkpoints must satisfy (its provision key and its
    /// witness quorum), if its provision key is registered.
    pub fn provision_policy(&self) -> Result<Option<tlog::checkpoint::Policy>> {
        if self.provisions.is_empty() {
            return Ok(None);
        }
        let mut policy = self.keys().trust()?.policy;
        policy.log_keys = vec![tlog::note::VerifierKey::parse(&self.provisions)?];
        Ok(Some(policy))
    }

    /// The URL of `path` (`/v1/…`) at this town's inter-node API.
    pub fn endpoint(&self, path: &str) -> Result<String> {
        Ok(format!("{}{path}", crate::report::resolve_url(&self.url)?))
    }
}

impl NodeConfig {
    /// The node's TLS files: its certificate and key, the network's CA and the CRL.
    pub fn tls_files(&self) -> net::TlsFiles {
        net::TlsFiles {
            cert: self.tls.cert.clone(),
            key: self.tls.key.clone(),
            ca: self.tls.ca.clone(),
            crl: Some(self.tls.crl.clone()),
        }
    }

    /// Reads a configuration file and resolves its paths against the file's directory.
    pub fn load(path: &Path) -> Result<NodeConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the node configuration {}", path.display()))?;
        let mut config: NodeConfig =
            toml::from_str(&text).with_context(|| format!("{} is malformed", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        resolve(&mut config.dir);
        resolve(&mut config.tls.ca);
        resolve(&mut config.tls.cert);
        resolve(&mut config.tls.key);
        resolve(&mut config.tls.crl);
        if let Some(report) = &mut config.report {
            resolve(report);
        }
        if let Some(jsonl) = &mut config.alerts.jsonl {
            resolve(jsonl);
        }
        if let Some(manifest) = &mut config.manifest {
            resolve(&mut manifest.file);
        }
        config.source = Some(std::path::absolute(path)?);
        let resolve_url = |url: &mut String| {
            if let Some(rest) = url.strip_prefix(crate::report::REPORT_SCHEME)
                && !rest.starts_with('/')
            {
                *url = format!("{}{}", crate::report::REPORT_SCHEME, base.join(rest).display());
            }
        };
        for peer in
            config.upstream.iter_mut().chain(&mut config.national).chain(&mut config.prefectures)
        {
            resolve_url(&mut peer.url);
        }
        for town in &mut config.towns {
            resolve_url(&mut town.url);
            resolve_url(&mut town.public);
        }
        for witness in &mut config.witnesses {
            resolve_url(&mut witness.url);
        }
        config.check().with_context(|| format!("in {}", path.display()))?;
        Ok(config)
    }

    /// Checks what the types cannot: the role's required parts and the keys.
    pub fn check(&self) -> Result<()> {
        VerifierKey::parse(&self.national_key).context("national_key is not a verifier key")?;
        for town in &self.towns {
            registry_domain::MunicipalityCode::parse(&town.code)
                .with_context(|| format!("towns: {:?} is not a municipality code", town.code))?;
            VerifierKey::parse(&town.vkey)
                .with_context(|| format!("towns: the vkey of {} is malformed", town.code))?;
        }
        for witness in &self.witnesses {
            let vkey = VerifierKey::parse(&witness.vkey)
                .with_context(|| format!("the witness {} has a malformed vkey", witness.url))?;
            if vkey.kind() != tlog::note::KeyKind::Cosignature {
                bail!("the witness {}'s vkey is not a cosignature key", witness.url);
            }
        }
        if let Some(manifest) = &self.manifest {
            VerifierKey::parse(&manifest.key).context("manifest.key is not a verifier key")?;
        }
        if self.witness_quorum > self.witnesses.len() {
            bail!("witness_quorum is larger than the number of witnesses");
        }
        for peer in
            self.upstream.iter().chain(&self.national).chain(&self.signer).chain(&self.prefectures)
        {
            VerifierKey::parse(&peer.vkey)
                .with_context(|| format!("the vkey of {} is malformed", peer.identity))?;
            pki::Identity::from_uri(&peer.identity)
                .with_context(|| format!("{:?} is not an identity URI", peer.identity))?;
        }
        match self.role {
            NodeRole::Municipal => {
                let Some(code) = &self.code else { bail!("a municipal node needs its code") };
                registry_domain::MunicipalityCode::parse(code)
                    .with_context(|| format!("{code:?} is not a municipality code"))?;
                if self.listen.office.is_none() {
                    bail!("a municipal node needs listen.office for the town office's clerks");
                }
                if self.upstream.is_none() || self.national.is_none() {
                    bail!("a municipal node needs [upstream] (its prefecture) and [national]");
                }
            }
            NodeRole::Prefecture => {
                let Some(code) = &self.code else { bail!("a prefecture node needs its number") };
                code.parse::<registry_domain::PrefectureCode>()
                    .with_context(|| format!("{code:?} is not a prefecture number"))?;
                if self.upstream.is_none() {
                    bail!("a prefecture node needs [upstream] (the national node)");
                }
            }
            NodeRole::National => {
                if self.code.is_some() {
                    bail!("the national node has no code");
                }
                if self.signer.is_none() {
                    bail!("the national node needs [signer] (the national key's holder)");
                }
            }
            NodeRole::Signer => {
                if self.code.is_some() {
                    bail!("the national signer has no code");
                }
            }
        }
        Ok(())
    }

    /// This node's identity, as its certificate must carry it.
    pub fn identity(&self) -> Result<pki::Identity> {
        let role = match self.role {
            NodeRole::Municipal => pki::Role::Municipal,
            NodeRole::Prefecture => pki::Role::Prefecture,
            NodeRole::National => pki::Role::National,
            NodeRole::Signer => pki::Role::Signer,
        };
        Ok(pki::Identity::new(role, self.code.as_deref())?)
    }

    /// The national key.
    pub fn national_key(&self) -> VerifierKey {
        VerifierKey::parse(&self.national_key).expect("checked at load")
    }

    /// A known town.
    pub fn town(&self, code: &str) -> Option<&Town> {
        self.towns.iter().find(|t| t.code == code)
    }
}
