//! The prefecture and national nodes: they mirror municipalities' registries, verify every
//! batch before acknowledging it with a signed receipt, forward what they hold (prefecture →
//! national) from the same durable outbox the towns use, and pull from a town directly when
//! its batches stop arriving. The national node also allocates resident-code blocks, certifies
//! move-outs (転出証明書情報) and tells the old town when the move-in is recorded (転入通知).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use registry_core::event::Event;
use registry_domain::{MunicipalityCode, RecordStatus, ResidentCode};
use tlog::hash::Hash;
use tlog::note::{Signer, VerifierKey};
use tlog_store::integrate::NoteSigner;
use tlog_store::tiledir::TileDir;

use wire::api::{BatchAnswer, BlockRequest, FromTown, Status};
use wire::documents::Provision;
use wire::{Batch, Receipt};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wire::api::Alert;
use wire::errors::ErrorBody;

use crate::clock::Clock;
use crate::config::{NodeConfig, NodeRole, Peer};
use crate::http::{ApiError, JsonBody, QueryOf, blocking};
use crate::journal::Journal;
use crate::listeners::{Listener, Listeners};
use crate::mirror::{Accepted, Forward, Mirror, Refused};
use crate::outbox::{acknowledge, next_batch, send_batch};
use crate::policy;

mod disclose;
mod provide;
use crate::proof::NotProven;
use crate::task::{Backoff, lock};
use wire::errors::Code;

/// Every how many heartbeat periods an upper node fetches the checkpoint each town serves on
/// its public endpoint.
const PUBLICATION_EVERY: u64 = 5;

/// A prefecture or national node's state.
pub struct Hub {
    config: Arc<NodeConfig>,
    identity: pki::Identity,
    mirrors: BTreeMap<String, Mutex<Mirror>>,
    /// The towns of `mirrors`, in its order: a [`crate::residence::TownSlot`] is a position here.
    slots: Vec<String>,
    /// Which towns' replicas hold each resident code, so that a lookup reads only those.
    residence: std::sync::RwLock<crate::residence::Residence>,
    /// Verified copies of the towns' provision logs, for towns whose provision key is known.
    provision_mirrors: BTreeMap<String, Mutex<crate::provisions::ProvisionMirror>>,
    /// When each town's last batch arrived (pushed or pulled).
    heard: Mutex<BTreeMap<String, Instant>>,
    /// Signalled when a town's batch is applied: its idle forwarder starts its round.
    arrived: BTreeMap<String, tokio::sync::Notify>,
    /// Move notices whose delivery fails: since when, and whether that was alerted.
    failing_notices: Mutex<BTreeMap<String, (Instant, bool)>>,
    journal: Mutex<Journal>,
    /// Records provisions in `node.db`'s provision log, many requests to one commit.
    recorder: crate::journal::Recorder,
    /// Provision requests judged and proven at once (the rest wait without a thread): about
    /// two per core keeps the cores busy without a thread per connection.
    provision_slots: tokio::sync::Semaphore,
    /// `node.db` again, from which the provision log is integrated into its tiles.
    provision_entries: Mutex<rusqlite::Connection>,
    /// Taken by a batch that moves someone in (national node): it is applied alone, so that
    /// the check that nobody is active in two towns sees a settled picture. Other batches of
    /// different towns are applied in parallel, each under its mirror's lock.
    apply: Mutex<()>,
    node_key: Signer,
    /// Signs the provision statements, many to a signature.
    sealer: provide::Sealer,
    provision_signer: NoteSigner,
    provision_tiles: TileDir,
    /// The witnesses that cosign the provision log's checkpoints before they are published.
    witnesses: tlog_http::witness_client::WitnessSet,
    /// The node's runtime: integration runs on a blocking thread and asks the witnesses
    /// through it.
    runtime: tokio::runtime::Handle,
    /// The national signer, at the national node (it holds the national key; this node never
    /// does).
    signer: Option<Peer>,
    client: net::Client,
    clock: Arc<dyn Clock>,
    /// What the node concluded so far from each town's heartbeats (see `crosscheck`).
    watches: Mutex<BTreeMap<String, crate::crosscheck::TownWatch>>,
    /// When the node started: heartbeats are timed from it.
    started: Instant,
    /// The catalogue of purposes it provides under, and what agencies used of it.
    provider: provide::Provider,
    /// The rolling check of the provision log's private records against its entries.
    records: Mutex<crate::journal::RecordCheck>,
}

impl crate::alerting::Alerting for Hub {
    fn config(&self) -> &NodeConfig {
        &self.config
    }
    fn journal(&self) -> &Mutex<Journal> {
        &self.journal
    }
    fn identity(&self) -> &pki::Identity {
        &self.identity
    }
}

impl crate::alerting::Reporting for Hub {
    fn node_key(&self) -> &Signer {
        &self.node_key
    }
    fn client(&self) -> &net::Client {
        &self.client
    }
}

impl Hub {
    /// Opens the node's directory.
    pub fn open(config: Arc<NodeConfig>, clock: Arc<dyn Clock>) -> Result<Hub> {
        keyfile::private::create_dir_all(&config.dir)?;
        let mut journal = Journal::open(&config.dir.join(crate::logs::NODE_DB))?;
        journal.watch_with(config.behaviour.clone())?;
        // The thread ends with the node: when the last handle is dropped.
        let (recorder, _) =
            crate::journal::Recorder::start(&config.dir.join(crate::logs::NODE_DB))?;
        let national = config.national_key();
        let mut mirrors = BTreeMap::new();
        let mut provision_mirrors = BTreeMap::new();
        for town in &config.towns {
            let mut mirror = Mirror::open(&config.dir.join("mirrors"), town, &national)?;
            mirror.recover(&journal)?;
            mirrors.insert(town.code.clone(), Mutex::new(mirror));
            if let Some(policy) = town.provision_policy()? {
                let path = config.dir.join("mirrors").join(&town.code).join("provisions.db");
                let origin = format!("{}/provisions", town.origin);
                let copy = crate::provisions::ProvisionMirror::open(&path, &origin, policy)?;
                provision_mirrors.insert(town.code.clone(), Mutex::new(copy));
            }
        }
        let key_path = config.dir.join("node.key");
        let node_key = tlog_store::keys::load_log_signer(&key_path, &config.origin)?;
        let provision_signer =
            NoteSigner::new(tlog_store::keys::load_log_signer(&key_path, &config.origin)?)?;
        let signer = match config.role {
            NodeRole::National => config.signer.clone(),
            _ => None,
        };
        let witnesses = tlog_http::witness_client::WitnessSet::new(
            config
                .witnesses
                .iter()
                .map(|w| Ok((crate::report::resolve_url(&w.url)?, VerifierKey::parse(&w.vkey)?)))
                .collect::<Result<Vec<_>>>()?,
            config.witness_quorum,
        )?;
        let slots: Vec<String> = mirrors.keys().cloned().collect();
        let mut held = Vec::new();
        for (slot, mirror) in mirrors.values().enumerate() {
            let slot = crate::residence::TownSlot::try_from(slot)
                .map_err(|_| anyhow::anyhow!("more towns than a node can mirror"))?;
            lock(mirror).registry.each_resident_code(|code| held.push((code, slot)))?;
        }
        let residence = crate::residence::Residence::build(held);
        let arrived =
            mirrors.keys().map(|code| (code.clone(), tokio::sync::Notify::new())).collect();
        // Every town's first heartbeat is awaited from now.
        let watches = mirrors
            .keys()
            .map(|code| (code.clone(), crate::crosscheck::TownWatch::new(0)))
            .collect();
        let sealer = provide::Sealer::start(
            &tokio::runtime::Handle::current(),
            config.identity()?.to_uri(),
            tlog_store::keys::load_log_signer(&key_path, &config.origin)?,
        );
        Ok(Hub {
            sealer,
            identity: config.identity()?,
            mirrors,
            slots,
            residence: std::sync::RwLock::new(residence),
            provision_mirrors,
            heard: Mutex::new(BTreeMap::new()),
            arrived,
            failing_notices: Mutex::new(BTreeMap::new()),
            journal: Mutex::new(journal),
            recorder,
            provision_slots: tokio::sync::Semaphore::new(
                2 * std::thread::available_parallelism().map_or(1, |n| n.get()),
            ),
            provision_entries: Mutex::new(crate::journal::connection(
                &config.dir.join(crate::logs::NODE_DB),
            )?),
            apply: Mutex::new(()),
            node_key,
            provision_signer,
            provision_tiles: TileDir::new(config.dir.join(crate::logs::PROVISION_TILES)),
            witnesses,
            runtime: tokio::runtime::Handle::current(),
            signer,
            client: net::Client::new(&config.tls_files())?,
            clock,
            watches: Mutex::new(watches),
            started: Instant::now(),
            provider: provide::Provider::load(&config)?,
            records: Mutex::new(crate::journal::RecordCheck::default()),
            config,
        })
    }

    /// How long a town may be silent or its replication stuck.
    fn limits(&self) -> crate::crosscheck::Limits {
        crate::crosscheck::Limits {
            missing_ms: self.config.heartbeat_missing_ms,
            stuck_ms: self.config.stuck_after_ms,
        }
    }

    /// Milliseconds since the node started.
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// What this node's mirror of `town` covers (its published size) and, if that reaches
    /// `size` (> 0), its root at `size`. Read from the mirror's tiles without its lock; a read
    /// that races with an integration gives no root this time.
    fn mirror_view(&self, town: &crate::config::Town, size: u64) -> Result<(u64, Option<Hash>)> {
        let tiles = crate::mirror::tiles_of(&self.config.dir.join("mirrors"), &town.code);
        let vkey = VerifierKey::parse(&town.vkey)?;
        let mirrored = crate::logs::published_size(&tiles, &vkey, &town.origin)?;
        if size == 0 || size > mirrored {
            return Ok((mirrored, None));
        }
        let reader = tlog_store::source::TileHashReader::new(&tiles, mirrored);
        Ok((mirrored, tlog::merkle::tree_root(size, &reader).ok()))
    }

    /// A town's heartbeat: verified with the town's node key, compared with the mirror (see
    /// [`crate::crosscheck`]); each finding is an alert about the town. A fork is also the
    /// answer.
    fn take_heartbeat(
        &self,
        town: &crate::config::Town,
        node: &str,
        note: &[u8],
    ) -> Result<wire::heartbeat::HeartbeatTaken, ApiError> {
        let vkey = VerifierKey::parse(&town.vkey).map_err(anyhow::Error::from)?;
        let known: tlog::note::Verifiers = [vkey].into_iter().collect();
        let opened = match tlog::note::open(note, &known) {
            Ok(opened) => opened,
            Err(e) => {
                let message = format!("a heartbeat is not signed by {node}'s key: {e}");
                self.alert(Code::Unsigned, node, &message, None)?;
                return Err(ApiError::new(Code::Unsigned, message));
            }
        };
        let heartbeat = wire::heartbeat::Heartbeat::parse(opened.text())
            .map_err(|e| ApiError::bad(e.to_string()))?;
        if heartbeat.node != node {
            let message = format!("{node} sent a heartbeat in the name of {}", heartbeat.node);
            self.alert(Code::WrongSender, node, &message, None)?;
            return Err(ApiError::new(Code::WrongSender, message));
        }
        let (mirrored, root) = self.mirror_view(town, heartbeat.registry.size)?;
        let now = self.now_ms();
        let findings = lock(&self.watches)
            .entry(town.code.clone())
            .or_insert_with(|| crate::crosscheck::TownWatch::new(now))
            .heartbeat(&heartbeat, (now, self.clock.unix()), self.limits(), mirrored, root);
        let mut fork = None;
        for finding in findings {
            self.alert(finding.code, node, &finding.detail, Some(&town.code))?;
            if finding.code == Code::Fork {
                fork = Some(finding.detail);
            }
        }
        match fork {
            Some(detail) => Err(ApiError::new(Code::Fork, detail)),
            None => Ok(wire::heartbeat::HeartbeatTaken { mirrored }),
        }
    }

    /// Fetches the registry checkpoint `town` serves on its public endpoint and compares it
    /// with its heartbeats and the mirror (see [`crate::crosscheck::TownWatch::served`]). A
    /// town that cannot be reached is for the heartbeats to notice.
    async fn look_at_publication(self: &Arc<Self>, town: &crate::config::Town) -> Result<()> {
        if town.public.is_empty() {
            return Ok(());
        }
        let url = format!("{}/registry/checkpoint", crate::report::resolve_url(&town.public)?);
        let identity = pki::Identity::new(pki::Role::Municipal, Some(&town.code))?.to_uri();
        let answer = crate::http::get(&self.client, &url, Some(&identity)).await?;
        if !answer.status.is_success() {
            return Ok(());
        }
        let (hub, town) = (self.clone(), town.clone());
        tokio::task::spawn_blocking(move || -> Result<()> {
            use tlog_store::integrate::CheckpointVerifier as _;
            let vkey = VerifierKey::parse(&town.vkey)?;
            let served = tlog_store::integrate::VerifyOnly::new(vkey, &town.origin)
                .open(&answer.body)
                .map(|(size, root)| wire::heartbeat::LogHead { size, root })
                .map_err(|e| e.to_string());
            let size = served.as_ref().map_or(0, |head| head.size);
            let (_, root) = hub.mirror_view(&town, size)?;
            let now = hub.now_ms();
            let findings = lock(&hub.watches)
                .entry(town.code.clone())
                .or_insert_with(|| crate::crosscheck::TownWatch::new(now))
                .served(served, root);
            for finding in findings {
                hub.alert(finding.code, &identity, &finding.detail, Some(&town.code))?;
            }
            Ok(())
        })
        .await?
    }

    /// Every `heartbeat_ms`: a town silent for longer than `heartbeat_missing_ms`, or whose
    /// claimed size the mirror has not reached within `stuck_after_ms`, is an alert.
    fn look_at_towns(&self) -> Result<()> {
        let limits = self.limits();
        for town in &self.config.towns {
            let (mirrored, _) = self.mirror_view(town, 0)?;
            let now = self.now_ms();
            let findings = lock(&self.watches)
                .entry(town.code.clone())
                .or_insert_with(|| crate::crosscheck::TownWatch::new(now))
                .tick(now, mirrored, limits);
            let uri = pki::Identity::new(pki::Role::Municipal, Some(&town.code))?.to_uri();
            for finding in findings {
                self.alert(finding.code, &uri, &finding.detail, Some(&town.code))?;
            }
        }
        Ok(())
    }

    /// Integrates the provision log; its checkpoint is published only once the witness quorum
    /// has cosigned it.
    fn integrate(&self) -> Result<()> {
        // On a connection of its own: the witnesses' round trip and the tiles' writes do not
        // hold up the requests that need the journal meanwhile.
        let entries = lock(&self.provision_entries);
        let mut cosign = |integration: &tlog_store::integrate::Integration| {
            self.runtime.block_on(self.witnesses.cosign(&self.provision_tiles, integration))
        };
        tlog_store::integrate::integrate(
            &*entries,
            &self.provision_tiles,
            &self.provision_signer,
            &mut cosign,
        )?;
        Ok(())
    }

    /// Records an alert; at the national node, a critical one quarantines the town it concerns
    /// (`about`: the town whose batch it was raised on, if any; see
    /// [`crate::policy::quarantine_subject`]).
    fn alert(&self, kind: Code, peer: &str, detail: &str, about: Option<&str>) -> Result<()> {
        let mut journal = lock(&self.journal);
        let number = journal.alert_numbered(self.clock.unix(), kind, peer, detail)?;
        self.quarantine_after(&mut journal, number, kind, peer, None, about)
    }

    /// At the national node: quarantines the town that alert `number` concerns, if it is
    /// critical and concerns one.
    fn quarantine_after(
        &self,
        journal: &mut Journal,
        number: u64,
        kind: Code,
        peer: &str,
        raised_by: Option<&str>,
        about: Option<&str>,
    ) -> Result<()> {
        if self.config.role != NodeRole::National {
            return Ok(());
        }
        let about = about.and_then(|code| MunicipalityCode::parse(code).ok());
        if let Some(town) = crate::policy::quarantine_subject(kind, peer, raised_by, about.as_ref())
        {
            journal.quarantine(&town.to_string(), number, kind.as_str(), self.clock.unix())?;
        }
        Ok(())
    }

    /// Refuses what a quarantined town sends or asks for (national node): it is held, not
    /// applied, until an administrator releases the town.
    fn not_quarantined(&self, town: &str) -> Result<(), ApiError> {
        if self.config.role != NodeRole::National {
            return Ok(());
        }
        match lock(&self.journal).quarantined(town)? {
            None => Ok(()),
            Some(q) => Err(ApiError::new(
                Code::Quarantined,
                format!(
                    "{town} is quarantined since alert {} ({}): nothing of it is applied until a \
                     national administrator releases it",
                    q.alert, q.kind
                ),
            )),
        }
    }

    /// Releases a quarantined town on a national administrator's signed decision, sent by the
    /// monitoring. A decision not signed by an administrator's key, or for another alert than
    /// the one holding the town, is a `bad-release` alert: releasing a compromised town is
    /// what an attacker would want.
    fn release(
        &self,
        peer: &net::Peer,
        note: &[u8],
    ) -> Result<wire::quarantine::Quarantine, ApiError> {
        let uri = peer.identity.to_uri();
        if peer.identity.role != pki::Role::Monitor {
            let message = format!("{uri} may not release a quarantine: the monitoring sends them");
            lock(&self.journal).alert(self.clock.unix(), Code::WrongPeer, &uri, &message)?;
            return Err(ApiError::new(Code::WrongPeer, message));
        }
        let refuse = |message: String| -> ApiError {
            if let Err(e) = self.alert(Code::BadRelease, &uri, &message, None) {
                return e.into();
            }
            ApiError::new(Code::BadRelease, message)
        };
        let administrators: tlog::note::Verifiers = self
            .config
            .administrators
            .iter()
            .map(|k| VerifierKey::parse(k))
            .collect::<Result<_, _>>()
            .map_err(anyhow::Error::from)?;
        let opened = tlog::note::open(note, &administrators).map_err(|e| {
            refuse(format!("the release is not signed by a national administrator's key: {e}"))
        })?;
        let signer = opened.verified().first().map(|s| s.key.name().to_owned()).unwrap_or_default();
        let decision = wire::quarantine::Release::parse(opened.text())
            .map_err(|e| ApiError::bad(e.to_string()))?;
        let mut journal = lock(&self.journal);
        let Some(held) = journal.quarantined(&decision.town)? else {
            return Err(ApiError::new(
                Code::NotPending,
                format!("{} is not quarantined: there is nothing to release", decision.town),
            ));
        };
        if held.alert != decision.alert {
            drop(journal);
            return Err(refuse(format!(
                "the release of {} names alert {}, but alert {} holds it",
                decision.town, decision.alert, held.alert
            )));
        }
        journal.release(&decision.town, decision.alert, self.clock.unix(), &signer, note)?;
        eprintln!("RELEASED {} from alert {} by {signer}", decision.town, decision.alert);
        drop(journal);
        if let Some(arrived) = self.arrived.get(&decision.town) {
            arrived.notify_one();
        }
        Ok(wire::quarantine::Quarantine {
            released: Some(self.clock.unix()),
            released_by: Some(signer),
            ..held
        })
    }

    /// Who may send batches for `code`: its own node at a prefecture, its prefecture at the
    /// national node.
    fn sender_of(&self, code: &MunicipalityCode) -> Result<pki::Identity> {
        Ok(match self.config.role {
            NodeRole::Prefecture => pki::Identity::municipal(&code.to_string())?,
            _ => pki::Identity::prefecture(&code.prefecture().to_string())?,
        })
    }

    /// Verifies and applies a batch; returns the answer to send.
    fn receive(&self, batch: &Batch, peer: &str) -> Result<(StatusCode, BatchAnswer), ApiError> {
        // Batches of different towns are verified and applied in parallel, each under its own
        // mirror's lock. At the national node a batch that moves someone in is applied alone,
        // so that the check that nobody is active in two towns sees a settled picture.
        let _apply = (self.signer.is_some() && has_move_in(batch)).then(|| lock(&self.apply));
        let mirror = self.mirrors.get(&batch.municipality).ok_or_else(|| {
            ApiError::new(
                Code::NotServed,
                format!("this node does not mirror {}", batch.municipality),
            )
        })?;
        self.not_quarantined(&batch.municipality)?;
        let moves = self.moves_in(batch)?;
        let mut mirror = lock(mirror);
        let origin = mirror.origin.clone();
        let outcome = mirror.accept(batch, &self.journal);
        let (applied, size, root) = match outcome {
            Ok(Accepted::Applied { size, root }) => (true, size, root),
            Ok(Accepted::Holds { size, root }) => (false, size, root),
            Err(Refused::Behind { have, root }) => (false, have, root),
            Err(Refused::Invalid { kind, message }) => {
                self.alert(
                    kind,
                    peer,
                    &format!("{}: {message}", batch.municipality),
                    Some(&batch.municipality),
                )?;
                return Err(ApiError::new(
                    kind,
                    format!(
                        "batch {}..{} of {} refused; nothing was applied: {message}",
                        batch.from,
                        batch.end(),
                        batch.municipality
                    ),
                ));
            }
            Err(Refused::Internal(e)) => return Err(e.into()),
        };
        if applied {
            self.note_residents(&batch.municipality, batch, &mirror)?;
        }
        drop(mirror);
        if applied {
            lock(&self.heard).insert(batch.municipality.clone(), Instant::now());
            if let Some(arrived) = self.arrived.get(&batch.municipality) {
                arrived.notify_one();
            }
            if self.signer.is_some() {
                self.queue_notices(batch, &moves)?;
            }
        }
        self.answer(origin, applied, size, root)
    }

    /// Notes in the residence index the codes of the records `batch`, just applied to
    /// `town`'s replica (`mirror`, still locked, so that no lookup reads the replica's new
    /// records before they are indexed and misses them), created: its changes' codes. Were an
    /// event not to parse here (the replica verified and applied it), the town's codes are
    /// read again from the replica, so that the index never lacks one.
    fn note_residents(&self, town: &str, batch: &Batch, mirror: &Mirror) -> Result<()> {
        // `slots` holds the mirrors' codes in their map's (sorted) order.
        let Ok(slot) = self.slots.binary_search_by(|t| t.as_str().cmp(town)) else { return Ok(()) };
        let slot = crate::residence::TownSlot::try_from(slot)?;
        let (mut codes, mut unparsed) = (Vec::new(), false);
        for text in &batch.events {
            let event = tlog::note::Note::parse(text.as_bytes())
                .ok()
                .and_then(|note| registry_core::event::Event::parse(note.text()).ok());
            match event {
                Some(registry_core::event::Event::Change(change)) => {
                    codes.push(change.record.resident_code)
                }
                Some(_) => {}
                None => unparsed = true,
            }
        }
        let mut residence = self.residence.write().unwrap_or_else(|e| e.into_inner());
        codes.into_iter().for_each(|code| residence.insert(code, slot));
        if unparsed {
            mirror.registry.each_resident_code(|code| residence.insert(code, slot))?;
        }
        Ok(())
    }

    /// The answer to a batch of log `origin`: applied or held, up to `size` with `root`, with
    /// this node's signed receipt.
    fn answer(
        &self,
        origin: String,
        applied: bool,
        size: u64,
        root: tlog::Hash,
    ) -> Result<(StatusCode, BatchAnswer), ApiError> {
        let receipt = Receipt {
            receiver: self.identity.to_uri(),
            log: origin,
            size,
            root,
            time: self.clock.unix(),
        };
        let receipt = receipt.sign(&self.node_key).map_err(|e| anyhow!(e))?;
        let receipt = String::from_utf8(receipt).map_err(|e| anyhow!(e))?;
        let answer = if applied {
            BatchAnswer::Applied { size, receipt }
        } else {
            BatchAnswer::Holds { size, receipt }
        };
        Ok((StatusCode::OK, answer))
    }

    /// Verifies and appends a batch of a town's provision log to this node's copy; returns the
    /// answer to send. An invalid batch is an alert.
    fn receive_provisions(
        &self,
        batch: &Batch,
        peer: &str,
    ) -> Result<(StatusCode, BatchAnswer), ApiError> {
        let copy = self.provision_mirrors.get(&batch.municipality).ok_or_else(|| {
            ApiError::new(
                Code::NotServed,
                format!("this node keeps no copy of {}'s provision log", batch.municipality),
            )
        })?;
        self.not_quarantined(&batch.municipality)?;
        let mut copy = lock(copy);
        let origin = copy.origin().to_owned();
        let (applied, size, root) = match copy.accept(batch) {
            Ok(Accepted::Applied { size, root }) => (true, size, root),
            Ok(Accepted::Holds { size, root }) => (false, size, root),
            Err(Refused::Behind { have, root }) => (false, have, root),
            Err(Refused::Invalid { kind, message }) => {
                self.alert(kind, peer, &message, Some(&batch.municipality))?;
                return Err(ApiError::new(
                    kind,
                    format!(
                        "provision batch {}..{} of {} refused; nothing was kept: {message}",
                        batch.from,
                        batch.end(),
                        batch.municipality
                    ),
                ));
            }
            Err(Refused::Internal(e)) => return Err(e.into()),
        };
        drop(copy);
        self.answer(origin, applied, size, root)
    }

    /// The national node's check that a move-in does not make anyone active in two towns:
    /// returns the batch's move-ins `(index in batch, code)`.
    fn moves_in(&self, batch: &Batch) -> Result<Vec<(usize, ResidentCode)>, ApiError> {
        if self.signer.is_none() {
            return Ok(Vec::new());
        }
        let moves = policy::move_ins(&batch.events);
        let town = MunicipalityCode::parse(&batch.municipality).map_err(|e| anyhow!(e))?;
        let decision = policy::one_active_town(town, &moves, |code| -> Result<_, ApiError> {
            for (other, mirror) in &self.mirrors {
                if *other == batch.municipality {
                    continue;
                }
                let record = lock(mirror).registry.resident(code).map_err(anyhow::Error::from)?;
                if matches!(record, Some(r) if r.status == RecordStatus::Active) {
                    return Ok(Some(other.clone()));
                }
            }
            Ok(None)
        })?;
        if let Err(denied) = decision {
            self.alert(
                denied.code,
                &batch.municipality,
                &denied.message,
                Some(&batch.municipality),
            )?;
            return Err(ApiError::new(
                denied.code,
                format!("batch refused; nothing was applied: {}", denied.message),
            ));
        }
        Ok(moves)
    }

    /// Queues the move notices (転入通知) the batch's move-ins call for; the signer signs each
    /// on the evidence of the move-in before it is delivered.
    fn queue_notices(&self, batch: &Batch, moves: &[(usize, ResidentCode)]) -> Result<()> {
        let mut journal = lock(&self.journal);
        for &(i, code) in moves {
            let key = tlog::hash::sha256(batch.events[i].as_bytes()).to_base64();
            let index = batch.from + i as u64;
            journal.queue_unsigned_notice(&key, &batch.municipality, index, &code.to_string())?;
        }
        Ok(())
    }

    /// Asks the signer for a code block for `town`, which holds `held` blocks.
    async fn code_block(&self, town: &str, held: u64) -> Result<Vec<u8>, ApiError> {
        let request = wire::api::SignCodeBlock { municipality: town.to_owned(), held };
        self.ask_signer("/v1/sign/code-block", &request).await
    }

    /// Asks the national signer: its answer (a signed statement), or its refusal relayed.
    async fn ask_signer(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<Vec<u8>, ApiError> {
        let signer = self.signer.as_ref().ok_or_else(|| {
            ApiError::new(Code::NationalOnly, "only the national node asks the national signer")
        })?;
        let response = crate::http::post(
            &self.client,
            &signer.endpoint(path)?,
            serde_json::to_vec(body).map_err(|e| anyhow!(e))?,
            Some(signer.identity.as_str()),
        )
        .await
        .map_err(|e| crate::http::unreachable("the national signer", &e))?;
        if !response.status.is_success() {
            return Err(crate::http::relay_refusal("the national signer", &response));
        }
        Ok(response.body)
    }

    /// The refusal for a record of `town`'s mirror that cannot be proven: not yet witnessed
    /// here, or — an alert — a mirror that does not prove itself.
    fn unproven(&self, town: &str, error: NotProven) -> ApiError {
        match error {
            NotProven::NoResident => ApiError::new(Code::NoResident, "no such resident"),
            NotProven::NotYet { index, size } => ApiError::new(
                Code::NotYetProven,
                format!(
                    "event {index} of {town} is beyond its witnessed checkpoint here (size {size})"
                ),
            ),
            NotProven::Tampered(detail) => {
                let detail = format!("the mirror of {town}: {detail}");
                let uri = self.identity.to_uri();
                if let Err(e) =
                    lock(&self.journal).alert(self.clock.unix(), Code::Tampered, &uri, &detail)
                {
                    return e.into();
                }
                ApiError::new(
                    Code::Tampered,
                    "the national node refuses to serve what does not match a town's witnessed log",
                )
            }
            NotProven::Internal(e) => e.into(),
        }
    }

    /// The evidence of resident `code`'s current record in town `from`'s mirror, for the
    /// signer to certify a move-out to `to`.
    fn move_out_evidence(
        &self,
        from: &str,
        code: ResidentCode,
    ) -> Result<(Vec<String>, Option<Vec<String>>), ApiError> {
        let mirror = self.mirrors.get(from).ok_or_else(|| {
            ApiError::new(Code::NotServed, format!("{from} is not a town this node mirrors"))
        })?;
        let mirror = lock(mirror);
        let proven = mirror.prove(code).and_then(|proven| {
            Ok((proven.texts().map_err(NotProven::Internal)?, mirror.opened_evidence(code)?))
        });
        match proven {
            Ok(proven) => Ok(proven),
            Err(NotProven::NoResident) => Err(ApiError::new(
                Code::NoMoveOut,
                format!("{from} has recorded no move-out of {code}"),
            )),
            Err(NotProven::NotYet { .. }) => Err(ApiError::new(
                Code::NoMoveOut,
                format!("{from}'s move-out of {code} is not yet witnessed here"),
            )),
            Err(other) => Err(self.unproven(from, other)),
        }
    }

    /// Certifies a move-out found in town `from`'s mirror for the town asking: the signer
    /// checks the evidence and signs; the provision is recorded here.
    async fn certify(
        self: &Arc<Self>,
        from: &str,
        code: ResidentCode,
        to: &pki::Identity,
    ) -> Result<Vec<u8>, ApiError> {
        let to_code = to
            .code
            .clone()
            .ok_or_else(|| ApiError::new(Code::WrongPeer, "move-outs are certified to towns"))?;
        let evidence = {
            let hub = self.clone();
            let from = from.to_owned();
            blocking(move || hub.move_out_evidence(&from, code)).await?
        };
        let (evidence, opened) = evidence;
        let request = wire::api::SignMoveOut { evidence, to: to_code, opened };
        let signed = self.ask_signer("/v1/sign/move-out", &request).await?;
        self.record_certificate("move-out-certificate", code, to, from, "転入 (move-in)").await?;
        Ok(signed)
    }

    /// The activation certificate for resident `code` to become active at `town`: the national
    /// node shows the signer, from its mirrors, the change that closed the code's record and the
    /// change that opened it there; when that closure is a move-out whose certificate was never
    /// used, it first has the signer withdraw the certificate at the town moved to.
    async fn activation(
        self: &Arc<Self>,
        code: ResidentCode,
        town: &pki::Identity,
    ) -> Result<Vec<u8>, ApiError> {
        let municipality = town
            .code
            .clone()
            .ok_or_else(|| ApiError::new(Code::WrongPeer, "activations are certified to towns"))?;
        let candidates = {
            let hub = self.clone();
            blocking(move || hub.closures(code)).await?
        };
        if candidates.is_empty() {
            return Err(ApiError::new(
                Code::StillActive,
                format!("no town's mirror here shows resident {code}'s record closed"),
            ));
        }
        let mut refusal = None;
        for candidate in &candidates {
            let request = wire::api::SignActivation {
                municipality: municipality.clone(),
                closed: candidate.closed.clone(),
                opened: candidate.opened.clone(),
                withdrawal: candidate.withdrawal.clone(),
            };
            match self.ask_signer("/v1/sign/activation", &request).await {
                Ok(signed) => {
                    let purpose = "記載 (entry under a code already used)";
                    let from = &candidate.town;
                    self.record_certificate("activation-certificate", code, town, from, purpose)
                        .await?;
                    return Ok(signed);
                }
                Err(e) => refusal = Some(e),
            }
        }
        // A certified move-out never used: withdraw its certificate where it would be used.
        for candidate in &candidates {
            let (Some((to, event)), None) = (&candidate.moved_out, &candidate.withdrawal) else {
                continue;
            };
            // Already consumed there (used by a move-in, or withdrawn but not yet mirrored
            // with its proof): nothing to withdraw; the signer's refusal stands.
            let consumed = match self.mirrors.get(to) {
                Some(mirror) => {
                    lock(mirror).registry.consumed_by(event).map_err(anyhow::Error::from)?.is_some()
                }
                None => true,
            };
            if consumed {
                continue;
            }
            let request =
                wire::api::SignWithdrawal { resident: code.to_string(), event: event.to_base64() };
            let Ok(withdrawal) = self.ask_signer("/v1/sign/withdrawal", &request).await else {
                continue;
            };
            let target = self.config.town(to).cloned().ok_or_else(|| {
                ApiError::new(Code::NotServed, format!("{to} is not a town this node knows"))
            })?;
            // A refusal means the town consumed the certificate already (a withdrawal delivered
            // before, or a move-in): what its witnessed log says decides on the next request.
            if let Err(e) = self.deliver_event(&target, withdrawal).await {
                eprintln!("{}: the withdrawal for {to}: {e:#}", self.config.name);
            }
            let _ = self.pull(to).await;
            return Err(ApiError::new(
                Code::NotYetProven,
                format!(
                    "the move-out certificate of resident {code} is withdrawn at {to}; ask again \
                     once {to}'s witnessed log holds the withdrawal"
                ),
            ));
        }
        Err(refusal.expect("at least one candidate was asked"))
    }

    /// Every mirror whose record of `code` is closed, with the evidence the signer needs.
    fn closures(&self, code: ResidentCode) -> Result<Vec<Closure>, ApiError> {
        let mut found = Vec::new();
        for (town, mirror) in &self.mirrors {
            let mirror = lock(mirror);
            let proven = match mirror.prove(code) {
                Ok(proven) => proven,
                Err(NotProven::NoResident) => continue,
                Err(other) => return Err(self.unproven(town, other)),
            };
            if proven.record.status == RecordStatus::Active {
                continue;
            }
            let opened = match mirror.opened_evidence(code) {
                Ok(opened) => opened,
                Err(NotProven::Internal(e)) => return Err(e.into()),
                Err(e) => {
                    return Err(ApiError::new(
                        Code::NotYetProven,
                        format!("the change that opened the record at {town} is not proven: {e:?}"),
                    ));
                }
            };
            let made = mirror.registry.current_event(code).map_err(anyhow::Error::from)?;
            drop(mirror);
            let moved_out = made.and_then(|(_, note)| {
                let text = tlog::note::Note::parse(&note).ok()?.text().to_owned();
                let Ok(Event::Change(change)) = Event::parse(&text) else { return None };
                change.moved_to.map(|to| (to.to_string(), registry_core::moves::note_hash(&note)))
            });
            let withdrawal = match &moved_out {
                Some((to, event)) => match self.mirrors.get(to) {
                    Some(target) => lock(target).withdrawal_receipt(event)?,
                    None => None,
                },
                None => None,
            };
            found.push(Closure {
                town: town.clone(),
                closed: proven.texts()?,
                opened,
                withdrawal,
                moved_out,
            });
        }
        Ok(found)
    }

    /// Records in the provision log a certificate of `kind` about resident `code` handed to
    /// town `to`, from what town `from`'s log shows.
    async fn record_certificate(
        self: &Arc<Self>,
        kind: &'static str,
        code: ResidentCode,
        to: &pki::Identity,
        from: &str,
        purpose: &'static str,
    ) -> Result<(), ApiError> {
        let hub = self.clone();
        let (from, to) = (from.to_owned(), to.to_uri());
        blocking(move || {
            let provision = Provision {
                kind,
                resident: &code.to_string(),
                by: &hub.identity.to_uri(),
                to: &to,
                source: Some(&from),
                purpose,
                items: None,
                time: hub.clock.unix(),
                operator: None,
                request: None,
            };
            hub.recorder.record(&provision)?;
            Ok(())
        })
        .await
    }

    /// Pulls a town's new events directly from its node.
    async fn pull(self: &Arc<Self>, code: &str) -> Result<bool> {
        let town = self.config.town(code).ok_or_else(|| anyhow!("unknown town {code}"))?.clone();
        let have = {
            let mirror = lock(self.mirrors.get(code).expect("mirrored"));
            mirror.head()?.0
        };
        let identity = pki::Identity::municipal(code)?.to_uri();
        let response = crate::http::get(
            &self.client,
            &town.endpoint(&format!("/v1/replication/batch?from={have}"))?,
            Some(identity.as_str()),
        )
        .await?;
        if response.status == StatusCode::NO_CONTENT {
            return Ok(false);
        }
        if !response.status.is_success() {
            bail!("{code} refused the pull: {} {}", response.status, response.text());
        }
        let batch: Batch = serde_json::from_slice(&response.body).context("the pulled batch")?;
        if batch.municipality != code {
            bail!("{code} sent a batch for {}", batch.municipality);
        }
        let hub = self.clone();
        let peer = identity.clone();
        let result = tokio::task::spawn_blocking(move || hub.receive(&batch, &peer)).await?;
        match result {
            Ok((status, _)) => Ok(status == StatusCode::OK),
            Err(error) => bail!("{error}"),
        }
    }

    /// Sends one town's next batch to the national node and records its receipt.
    async fn forward_town(self: &Arc<Self>, code: String, upstream: &Peer) -> Result<bool> {
        let hub = self.clone();
        let identity = upstream.identity.clone();
        let max = self.config.max_batch;
        let batch = tokio::task::spawn_blocking(move || -> Result<Option<Batch>> {
            let mut mirror = lock(hub.mirrors.get(&code).expect("mirrored"));
            let journal = lock(&hub.journal);
            let acked = journal.ack(&mirror.origin, &identity)?.map_or(0, |(s, _)| s);
            let mut source = Forward { mirror: &mut mirror, journal: &journal };
            next_batch(&code, &mut source, acked, max)
        })
        .await??;
        let Some(batch) = batch else { return Ok(false) };
        let answer = send_batch(&self.client, upstream, &batch).await?;
        let hub = self.clone();
        let upstream = upstream.clone();
        tokio::task::spawn_blocking(move || -> Result<()> {
            let mirror = lock(hub.mirrors.get(&batch.municipality).expect("mirrored"));
            let vkey = VerifierKey::parse(&upstream.vkey)?;
            let covered = mirror.tiles_size()?;
            let (size, receipt) =
                acknowledge(answer, &batch, &mirror.origin, &vkey, &mirror.tiles, covered)?;
            lock(&hub.journal).set_ack(&mirror.origin, &upstream.identity, size, &receipt)
        })
        .await??;
        Ok(true)
    }

    /// Has the signer sign the queued move notices, on the evidence of each move-in in the new
    /// town's mirror.
    async fn sign_notices(self: &Arc<Self>) -> Result<()> {
        let unsigned = { lock(&self.journal).unsigned_notices()? };
        let mut failure = None;
        for (key, town, index, resident) in unsigned {
            // One notice that cannot be signed yet holds up no other.
            if let Err(e) = self.sign_notice(&key, &town, index, &resident).await {
                failure = failure.or(Some(e));
            }
        }
        failure.map_or(Ok(()), Err)
    }

    /// Has the signer sign one queued notice, and queues it for delivery.
    async fn sign_notice(
        self: &Arc<Self>,
        key: &str,
        town: &str,
        index: u64,
        resident: &str,
    ) -> Result<()> {
        let town = town.to_owned();
        let hub = self.clone();
        let evidence = tokio::task::spawn_blocking(move || -> Result<Vec<String>> {
            let mirror = lock(hub.mirrors.get(&town).context("a mirrored town")?);
            let trust = mirror.trust.clone();
            match crate::proof::prove_at(
                &mirror.registry,
                &mirror.tiles,
                &mirror.receipts,
                &trust,
                index,
            ) {
                Ok(proven) => proven.texts(),
                Err(e) => bail!("the move-in at {index} of {town} is not proven: {e:?}"),
            }
        })
        .await??;
        let request = wire::api::SignMoveNotice { evidence };
        let signed = self
            .ask_signer("/v1/sign/move-notice", &request)
            .await
            .map_err(|e| anyhow!("the signer refused a move notice: {e}"))?;
        let note = tlog::note::Note::parse(&signed)?;
        let Event::MoveNotice(notice) = Event::parse(note.text())? else {
            bail!("the signer answered a move notice with something else");
        };
        let from = notice.municipality.to_string();
        let mut journal = lock(&self.journal);
        journal.queue_notice(key, &from, &signed, resident)?;
        journal.unsigned_notice_done(key)?;
        Ok(())
    }

    /// Delivers queued move notices, each town's on its own: a town that is down or refuses
    /// holds up its own notices, never another town's.
    async fn deliver_notices(self: &Arc<Self>) -> Result<()> {
        let mut failure = self.sign_notices().await.err();
        let pending = { lock(&self.journal).pending_notices()? };
        let mut stuck = std::collections::BTreeSet::new();
        for (key, town, note) in pending {
            if stuck.contains(&town) {
                continue;
            }
            let Some(target) = self.config.town(&town).cloned() else { continue };
            match self.deliver_notice(&target, &key, note).await {
                Ok(()) => {
                    lock(&self.failing_notices).remove(&key);
                }
                Err(e) => {
                    self.notice_failed(&key, &town, &e)?;
                    stuck.insert(town);
                    failure = failure.or(Some(e));
                }
            }
        }
        failure.map_or(Ok(()), Err)
    }

    /// Records a failed delivery of notice `key` to `town`: once it has failed for longer than
    /// `stuck_after_ms`, an alert (once per notice).
    fn notice_failed(&self, key: &str, town: &str, error: &anyhow::Error) -> Result<()> {
        let mut failing = lock(&self.failing_notices);
        let (since, alerted) = failing.entry(key.to_owned()).or_insert((Instant::now(), false));
        if *alerted || since.elapsed() < Duration::from_millis(self.config.stuck_after_ms) {
            return Ok(());
        }
        *alerted = true;
        let detail = format!(
            "a move notice for {town} has not been delivered for {} s: {error:#}",
            since.elapsed().as_secs()
        );
        lock(&self.journal).alert(self.clock.unix(), Code::NoticeStuck, town, &detail)?;
        Ok(())
    }

    /// Delivers one move notice to the town it is for.
    async fn deliver_notice(
        &self,
        target: &crate::config::Town,
        key: &str,
        note: Vec<u8>,
    ) -> Result<()> {
        self.deliver_event(target, note).await?;
        lock(&self.journal).notice_delivered(key)?;
        Ok(())
    }

    /// Delivers an event the national key signed (a move notice, a withdrawal) to its town.
    async fn deliver_event(&self, target: &crate::config::Town, note: Vec<u8>) -> Result<()> {
        let identity = pki::Identity::municipal(&target.code)?.to_uri();
        let response = crate::http::post(
            &self.client,
            &target.endpoint("/v1/move-notices")?,
            note,
            Some(identity.as_str()),
        )
        .await?;
        if !response.status.is_success() {
            bail!(
                "{} refused a national event: {} {}",
                target.code,
                response.status,
                response.text()
            );
        }
        Ok(())
    }
}

/// A town whose mirror shows a resident's record closed, and the evidence of it.
struct Closure {
    town: String,
    closed: Vec<String>,
    opened: Option<Vec<String>>,
    withdrawal: Option<String>,
    /// For a move-out, the town moved to and the move-out's note hash.
    moved_out: Option<(String, tlog::Hash)>,
}

/// Whether a batch may hold a move-in.
fn has_move_in(batch: &Batch) -> bool {
    batch.events.iter().any(|e| policy::may_be_move_in(e))
}

/// A prefecture or national node's state, as its handlers share it.
pub type Shared = Arc<Hub>;

/// The network listener's routes, each with its OpenAPI description: replication, status and
/// alerts, and at the national node code blocks, move-out certificates and agencies' requests.
pub fn network_routes(national: bool) -> OpenApiRouter<Shared> {
    let routes = OpenApiRouter::new()
        .routes(routes!(replicate))
        .routes(routes!(replicate_provisions))
        .routes(routes!(status))
        .routes(routes!(alerts))
        .routes(routes!(alert_reports))
        .routes(routes!(heartbeat))
        .routes(routes!(metrics))
        .routes(routes!(provide::provide))
        .routes(routes!(provide::provide_match))
        .routes(routes!(provide::provide_batch))
        .routes(routes!(provide::purposes))
        .routes(routes!(disclose::disclose));
    if !national {
        return routes;
    }
    routes
        .routes(routes!(quarantines))
        .routes(routes!(release))
        .routes(routes!(code_blocks))
        .routes(routes!(move_outs))
        .routes(routes!(activations))
}

/// The public listener's own routes (beside the provision log's tlog-tiles endpoints).
pub fn public_routes() -> OpenApiRouter<Shared> {
    OpenApiRouter::new().routes(routes!(mirror_checkpoint))
}

/// A batch as it arrives, or the refusal of one that is not valid JSON.
fn parse_batch(body: &[u8]) -> Result<Batch, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad(format!("the batch is not valid JSON: {e}")))
}

/// Records a batch from a peer that may not send it as an alert, and returns its refusal.
async fn wrong_sender(hub: &Shared, peer_uri: &str, message: String) -> ApiError {
    let hub = hub.clone();
    let (peer, detail) = (peer_uri.to_owned(), message.clone());
    let _ = blocking(move || Ok(hub.alert(Code::WrongSender, &peer, &detail, None)?)).await;
    ApiError::new(Code::WrongSender, message)
}

#[utoipa::path(
    post,
    path = "/v1/replicate",
    tag = "upstream-network",
    summary = "A town's batch (from its own node at the prefecture, from its prefecture at the national node)",
    request_body(content = Batch),
    responses((status = 200, body = BatchAnswer, description = "Verified and applied, or already held; with a signed receipt"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn replicate(State(hub): State<Shared>, peer: net::Peer, body: Bytes) -> Response {
    let batch = match parse_batch(&body) {
        Ok(batch) => batch,
        Err(refused) => return refused.into_response(),
    };
    let Ok(code) = MunicipalityCode::parse(&batch.municipality) else {
        return ApiError::bad("the batch's municipality is not a municipality code")
            .into_response();
    };
    let sender = match hub.sender_of(&code) {
        Ok(sender) => sender,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let peer_uri = peer.identity.to_uri();
    if peer.identity != sender || !hub.mirrors.contains_key(&batch.municipality) {
        let message = format!(
            "{peer_uri} may not send batches for {code}: this node accepts them only from {}",
            sender.to_uri()
        );
        return wrong_sender(&hub, &peer_uri, message).await.into_response();
    }
    match blocking(move || hub.receive(&batch, &peer_uri)).await {
        Ok((status, answer)) => (status, Json(answer)).into_response(),
        Err(error) => error.into_response(),
    }
}

#[utoipa::path(
    post,
    path = "/v1/code-blocks",
    tag = "national",
    summary = "A town asks for a resident-code block (national node)",
    request_body(content = BlockRequest),
    responses((status = 200, body = String, content_type = "text/plain", description = "The block (juki.code-block/v1), signed by the national key"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn code_blocks(
    State(hub): State<Shared>,
    peer: net::Peer,
    JsonBody(request): JsonBody<BlockRequest>,
) -> Result<Bytes, ApiError> {
    if peer.identity.role != pki::Role::Municipal {
        return Err(ApiError::new(Code::WrongPeer, "code blocks are allocated to municipal nodes"));
    }
    let town = peer.identity.code.clone().unwrap_or_default();
    if hub.config.town(&town).is_none() {
        return Err(ApiError::new(
            Code::NotServed,
            format!("{town} is not a town this node serves"),
        ));
    }
    hub.not_quarantined(&town)?;
    hub.code_block(&town, request.blocks).await.map(Bytes::from)
}

#[utoipa::path(
    get,
    path = "/v1/move-outs/{code}",
    tag = "national",
    summary = "A town asks for the certificate of a move-out recorded in another town (national node)",
    params(("code" = String, Path, description = "The resident's 住民票コード (11 digits)"), FromTown),
    responses((status = 200, body = String, content_type = "text/plain", description = "The certificate (juki.move-out/v1), signed by the national key"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn move_outs(
    State(hub): State<Shared>,
    peer: net::Peer,
    Path(code): Path<String>,
    QueryOf(query): QueryOf<FromTown>,
) -> Result<Bytes, ApiError> {
    if peer.identity.role != pki::Role::Municipal {
        return Err(ApiError::new(Code::WrongPeer, "move-out certificates go to municipal nodes"));
    }
    let code =
        ResidentCode::parse(&code).map_err(|e| ApiError::bad(format!("resident code: {e}")))?;
    hub.not_quarantined(peer.identity.code.as_deref().unwrap_or_default())?;
    match hub.certify(&query.from, code, &peer.identity).await {
        Ok(certificate) => Ok(Bytes::from(certificate)),
        Err(ApiError { code: Code::NoMoveOut, .. }) if hub.mirrors.contains_key(&query.from) => {
            // The move-out may not have reached this node yet: pull it from the town.
            let _ = hub.pull(&query.from).await;
            hub.certify(&query.from, code, &peer.identity).await.map(Bytes::from)
        }
        Err(e) => Err(e),
    }
}

#[utoipa::path(
    post,
    path = "/v1/activations",
    tag = "national",
    summary = "A town asks for the activation certificate that a resident code is active in no town (national node)",
    request_body(content = wire::api::ActivationRequest),
    responses((status = 200, body = String, content_type = "text/plain", description = "The certificate (juki.activation/v1), signed by the national key"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn activations(
    State(hub): State<Shared>,
    peer: net::Peer,
    JsonBody(request): JsonBody<wire::api::ActivationRequest>,
) -> Result<Bytes, ApiError> {
    if peer.identity.role != pki::Role::Municipal {
        return Err(ApiError::new(
            Code::WrongPeer,
            "activation certificates go to municipal nodes",
        ));
    }
    let code = ResidentCode::parse(&request.resident)
        .map_err(|e| ApiError::bad(format!("resident code: {e}")))?;
    hub.not_quarantined(peer.identity.code.as_deref().unwrap_or_default())?;
    hub.activation(code, &peer.identity).await.map(Bytes::from)
}

#[utoipa::path(
    post,
    path = "/v1/replicate/provisions",
    tag = "upstream-network",
    summary = "A town's provision-log batch, from the town's own node (at its prefecture and at the national node)",
    request_body(content = Batch),
    responses((status = 200, body = BatchAnswer, description = "Verified and kept, or already held; with a signed receipt"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn replicate_provisions(State(hub): State<Shared>, peer: net::Peer, body: Bytes) -> Response {
    let batch = match parse_batch(&body) {
        Ok(batch) => batch,
        Err(refused) => return refused.into_response(),
    };
    let peer_uri = peer.identity.to_uri();
    // Only the town's own node sends its provision log, to both upper tiers.
    let sender = pki::Identity::municipal(&batch.municipality).map(|i| i.to_uri()).ok();
    if sender.as_deref() != Some(peer_uri.as_str()) {
        let message = format!(
            "{peer_uri} may not send the provision log of {}: only that town's node does",
            batch.municipality
        );
        return wrong_sender(&hub, &peer_uri, message).await.into_response();
    }
    match blocking(move || hub.receive_provisions(&batch, &peer_uri)).await {
        Ok((status, answer)) => (status, Json(answer)).into_response(),
        Err(error) => error.into_response(),
    }
}

#[utoipa::path(
    get,
    path = "/v1/status",
    tag = "upstream-network",
    summary = "The node's status (no personal data)",
    responses((status = 200, body = Status, description = "The node's status"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn status(State(hub): State<Shared>, _peer: net::Peer) -> Result<Json<Status>, ApiError> {
    blocking(move || {
        let mut logs = BTreeMap::new();
        for mirror in hub.mirrors.values() {
            let mirror = lock(mirror);
            logs.insert(mirror.origin.clone(), mirror.tiles_size()?);
        }
        for copy in hub.provision_mirrors.values() {
            let mut copy = lock(copy);
            let (size, _) = copy.head().map_err(|e| match e {
                Refused::Internal(e) => e,
                _ => anyhow!("the provision copy's head"),
            })?;
            logs.insert(copy.origin().to_owned(), size);
        }
        let journal = lock(&hub.journal);
        Ok(Json(Status {
            name: hub.config.name.clone(),
            identity: hub.identity.to_uri(),
            logs,
            acked: None,
            pool: None,
            events: None,
            verified: None,
            alerts: journal.alerts()?.len(),
        }))
    })
    .await
}

#[utoipa::path(
    get,
    path = "/v1/alerts",
    tag = "upstream-network",
    summary = "The alerts the node recorded (for the upper tiers and the monitoring)",
    params(wire::api::AlertsQuery),
    responses((status = 200, body = Vec<Alert>, description = "Every alert after `after`, oldest first"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn alerts(
    State(hub): State<Shared>,
    peer: net::Peer,
    QueryOf(query): QueryOf<wire::api::AlertsQuery>,
) -> Result<Json<Vec<crate::journal::Alert>>, ApiError> {
    blocking(move || {
        crate::http::alerts_for(&peer, query.after, &hub.journal, hub.clock.as_ref()).map(Json)
    })
    .await
}

#[utoipa::path(
    post,
    path = "/v1/alerts/reports",
    tag = "upstream-network",
    summary = "A town reports the alerts it raised, each signed with its node key; they are kept here, where the town cannot erase them",
    request_body(content = wire::alert::AlertReports),
    responses((status = 200, body = wire::alert::AlertsHeld, description = "Kept (each report once); the highest alert number held from this town"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn alert_reports(
    State(hub): State<Shared>,
    peer: net::Peer,
    body: Bytes,
) -> Result<Json<wire::alert::AlertsHeld>, ApiError> {
    let reports: wire::alert::AlertReports = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad(format!("the alert reports are not valid JSON: {e}")))?;
    let node = peer.identity.to_uri();
    // The sender's key, from the towns (and, at the national node, the prefectures) this node
    // was configured with: only they report here.
    let vkey = match peer.identity.role {
        pki::Role::Municipal => peer
            .identity
            .code
            .as_deref()
            .and_then(|code| hub.config.towns.iter().find(|t| t.code == code))
            .map(|town| town.vkey.as_str()),
        pki::Role::Prefecture => {
            hub.config.prefectures.iter().find(|p| p.identity == node).map(|p| p.vkey.as_str())
        }
        _ => None,
    };
    let vkey = vkey.map(VerifierKey::parse).transpose().map_err(anyhow::Error::from)?;
    let Some(vkey) = vkey else {
        return Err(wrong_sender(
            &hub,
            &node,
            format!("{node} is not a town or prefecture that reports to this node"),
        )
        .await);
    };
    blocking(move || {
        let known: tlog::note::Verifiers = [vkey].into_iter().collect();
        // A report under another key or in another node's name is how a forgery looks.
        let forged = |code: Code, message: String| -> ApiError {
            if let Err(e) = hub.alert(code, &node, &message, None) {
                return e.into();
            }
            ApiError::new(code, message)
        };
        for note in &reports.alerts {
            let opened = tlog::note::open(note.as_bytes(), &known).map_err(|e| {
                forged(
                    Code::Unsigned,
                    format!("an alert report is not signed by {node}'s key: {e}"),
                )
            })?;
            let report = wire::alert::AlertReport::parse(opened.text())
                .map_err(|e| ApiError::bad(e.to_string()))?;
            if report.node != node {
                return Err(forged(
                    Code::WrongSender,
                    format!("{node} sent an alert report in the name of {}", report.node),
                ));
            }
            let mut journal = lock(&hub.journal);
            if let Some(number) = journal.keep_report(&report, note.as_bytes())? {
                hub.quarantine_after(
                    &mut journal,
                    number,
                    report.kind,
                    &report.peer,
                    Some(&report.node),
                    None,
                )?;
            }
        }
        Ok(Json(wire::alert::AlertsHeld { held: lock(&hub.journal).reports_held(&node)? }))
    })
    .await
}

#[utoipa::path(
    post,
    path = "/v1/heartbeats",
    tag = "upstream-network",
    summary = "A town's signed heartbeat (its witnessed checkpoints, last alert, self-check and replication), compared with what this node mirrors",
    request_body(content = String, content_type = "text/plain", description = "A juki.heartbeat/v1 note signed with the town's node key, exactly as signed"),
    responses((status = 200, body = wire::heartbeat::HeartbeatTaken, description = "Taken: what this node's mirror holds of the town"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md (`fork`: the heartbeat states another root than the mirror's for a size it holds)"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn heartbeat(
    State(hub): State<Shared>,
    peer: net::Peer,
    body: Bytes,
) -> Result<Json<wire::heartbeat::HeartbeatTaken>, ApiError> {
    let node = peer.identity.to_uri();
    let town = match peer.identity.role {
        pki::Role::Municipal => {
            peer.identity.code.as_deref().and_then(|code| hub.config.town(code)).cloned()
        }
        _ => None,
    };
    let Some(town) = town else {
        return Err(
            wrong_sender(&hub, &node, format!("{node} is not a town this node mirrors")).await
        );
    };
    blocking(move || hub.take_heartbeat(&town, &node, &body).map(Json)).await
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "upstream-network",
    summary = "The node's metrics in the Prometheus text format (for the upper tiers and the monitoring)",
    responses((status = 200, body = String, content_type = "application/openmetrics-text", description = "Alerts by kind, severity and the node that raised them; quarantines"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn metrics(State(hub): State<Shared>, peer: net::Peer) -> Result<Response, ApiError> {
    blocking(move || {
        crate::http::may_watch(&peer, "metrics", &hub.journal, hub.clock.as_ref())?;
        let text = crate::alerting::metrics(&lock(&hub.journal), |_| {})?;
        Ok(crate::http::metrics_response(text))
    })
    .await
}

#[utoipa::path(
    get,
    path = "/v1/quarantine",
    tag = "national",
    summary = "The towns the national node quarantined after a critical alert, held or released (for the upper tiers and the monitoring)",
    responses((status = 200, body = Vec<wire::quarantine::Quarantine>, description = "Every quarantine, oldest first"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn quarantines(
    State(hub): State<Shared>,
    peer: net::Peer,
) -> Result<Json<Vec<wire::quarantine::Quarantine>>, ApiError> {
    blocking(move || {
        crate::http::may_watch(&peer, "quarantines", &hub.journal, hub.clock.as_ref())?;
        Ok(Json(lock(&hub.journal).quarantines()?))
    })
    .await
}

#[utoipa::path(
    post,
    path = "/v1/quarantine/release",
    tag = "national",
    summary = "A national administrator releases a quarantined town with a signed decision (sent from the monitoring)",
    request_body(content = wire::quarantine::ReleaseRequest),
    responses((status = 200, body = wire::quarantine::Quarantine, description = "Released: the town's batches and requests are applied again"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn release(
    State(hub): State<Shared>,
    peer: net::Peer,
    JsonBody(request): JsonBody<wire::quarantine::ReleaseRequest>,
) -> Result<Json<wire::quarantine::Quarantine>, ApiError> {
    blocking(move || hub.release(&peer, request.release.as_bytes()).map(Json)).await
}

/// A mirror's latest checkpoint as received from the town, for comparison by anyone.
#[utoipa::path(
    get,
    path = "/mirrors/{code}/checkpoint",
    tag = "upstream-public",
    summary = "A mirror's latest checkpoint as received from the town, for comparison by anyone",
    params(("code" = String, Path, description = "The municipality code")),
    responses((status = 200, body = String, content_type = "text/plain", description = "The town's signed checkpoint, with its witnesses' cosignatures"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn mirror_checkpoint(
    State(hub): State<Shared>,
    Path(code): Path<String>,
) -> Result<Bytes, ApiError> {
    if !hub.mirrors.contains_key(&code) {
        return Err(ApiError::new(Code::NotServed, format!("{code} is not mirrored here")));
    }
    // Read from the tile directory without the mirror's lock, which a batch holds while it
    // is verified: the checkpoint file is replaced atomically.
    let tiles = crate::mirror::tiles_of(&hub.config.dir.join("mirrors"), &code);
    blocking(move || {
        tiles
            .read_checkpoint()
            .map_err(anyhow::Error::from)?
            .map(Bytes::from)
            .ok_or_else(|| ApiError::new(Code::NoCheckpoint, "no checkpoint yet"))
    })
    .await
}

/// Runs a prefecture or national node until `shutdown`.
pub async fn run(
    config: Arc<NodeConfig>,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let baseline = tokio::task::block_in_place(|| crate::manifest::load(&config, None))?;
    let hub = Arc::new(tokio::task::block_in_place(|| Hub::open(config.clone(), clock.clone()))?);
    {
        let hub = hub.clone();
        // A witness that cannot be reached yet delays publication; it does not stop the node.
        if let Err(e) = tokio::task::spawn_blocking(move || hub.integrate()).await? {
            eprintln!(
                "{}: the provision log's checkpoint is not published yet: {e:#}",
                config.name
            );
        }
    }
    let (network, _) = network_routes(config.role == NodeRole::National).split_for_parts();
    let network = network
        .layer(axum::extract::DefaultBodyLimit::max(wire::MAX_BATCH_BYTES))
        .with_state(hub.clone());
    let (mirrors, _) = public_routes().split_for_parts();
    let public = tlog_http::server::router(hub.provision_tiles.clone(), "/provisions")
        .merge(mirrors.with_state(hub.clone()));
    let servers = Listeners::bind(
        &config,
        vec![
            Listener {
                name: "network",
                addr: config.listen.network,
                router: network,
                auth: pki::ClientAuth::Required,
            },
            Listener {
                name: "public",
                addr: config.listen.public,
                router: public,
                auth: pki::ClientAuth::None,
            },
        ],
    )
    .await?
    .watched_by({
        let hub = hub.clone();
        move |actor, act| {
            let recorded = crate::task::lock(&hub.journal).observe(hub.clock.unix(), &actor, act);
            if let Err(e) = recorded {
                eprintln!("{}: recording a refused handshake failed: {e:#}", hub.config.name);
            }
        }
    });
    eprintln!(
        "{} ({}) serving; mirroring {} towns",
        config.name,
        hub.identity.to_uri(),
        hub.mirrors.len()
    );

    let interval = Duration::from_millis(config.interval_ms);
    // Its own alerts, signed, to the national node (a prefecture), and to the sinks.
    let mut tasks = crate::alerting::spawn(hub.clone(), config.upstream.iter().cloned().collect());
    if let Some(baseline) = baseline {
        tasks.push(crate::manifest::spawn(hub.clone(), baseline, clock));
    }
    {
        let hub = hub.clone();
        tasks.push(tokio::spawn(async move {
            let mut backoff = Backoff::new(interval);
            // The provision log is published every `provision_publish_ms`: each publication
            // rewrites its partial tiles and asks the witnesses, whatever it adds.
            let publish_every = Duration::from_millis(hub.config.provision_publish_ms);
            let mut published: Option<Instant> = None;
            loop {
                if published.is_none_or(|at| at.elapsed() >= publish_every) {
                    published = Some(Instant::now());
                    let integrated = {
                        let hub = hub.clone();
                        tokio::task::spawn_blocking(move || hub.integrate()).await
                    };
                    if let Ok(Err(e)) = integrated {
                        eprintln!("{}: provision log: {e:#}", hub.config.name);
                    }
                }
                let delay = match hub.deliver_notices().await {
                    Ok(()) => backoff.reset(),
                    Err(e) => {
                        eprintln!("{}: move notices: {e:#}", hub.config.name);
                        backoff.fail()
                    }
                };
                tokio::time::sleep(delay).await;
            }
        }));
    }
    if let Some(upstream) = config.upstream.clone() {
        // Forwarding to the national node: each town's batches in order, the towns
        // independently of one another, so that one town's batch being verified, written or
        // sent never holds up another's.
        for code in hub.mirrors.keys() {
            let (hub, upstream, code) = (hub.clone(), upstream.clone(), code.clone());
            tasks.push(tokio::spawn(async move {
                // Idle: the next round starts when the town's next batch is applied.
                let round = || {
                    let (hub, upstream, code) = (hub.clone(), upstream.clone(), code.clone());
                    async move { hub.forward_town(code, &upstream).await }
                };
                let failed = |e: &anyhow::Error| {
                    eprintln!("{}: forwarding {code} to the national node: {e:#}", hub.config.name)
                };
                crate::task::rounds(interval, Some(&hub.arrived[&code]), round, failed).await
            }));
        }
    }
    {
        // The towns' heartbeats: silence and stuck replication.
        let hub = hub.clone();
        tasks.push(tokio::spawn(async move {
            let every = Duration::from_millis(hub.config.heartbeat_ms);
            for beat in 1u64.. {
                tokio::time::sleep(every).await;
                let looked = {
                    let hub = hub.clone();
                    tokio::task::spawn_blocking(move || hub.look_at_towns()).await
                };
                if let Ok(Err(e)) = looked {
                    eprintln!("{}: heartbeats: {e:#}", hub.config.name);
                }
                // Its own provision records against its provision log.
                let checked = {
                    let hub = hub.clone();
                    tokio::task::spawn_blocking(move || {
                        let node = hub.identity.to_uri();
                        let mut journal = lock(&hub.journal);
                        lock(&hub.records).look(&mut journal, hub.clock.unix(), &node)
                    })
                    .await
                };
                if let Ok(Err(e)) = checked {
                    eprintln!("{}: provision records: {e:#}", hub.config.name);
                }
                // What each town serves publicly, every few beats.
                if beat.is_multiple_of(PUBLICATION_EVERY) {
                    for town in &hub.config.towns {
                        if let Err(e) = hub.look_at_publication(town).await {
                            eprintln!(
                                "{}: {}'s public checkpoint: {e:#}",
                                hub.config.name, town.code
                            );
                        }
                    }
                }
            }
        }));
    }
    {
        // Catch-up: a town whose batches have not arrived for a while is pulled directly.
        let hub = hub.clone();
        tasks.push(tokio::spawn(async move {
            let quiet = Duration::from_secs(3);
            let mut failing: HashSet<String> = HashSet::new();
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                for code in hub.mirrors.keys() {
                    let last = lock(&hub.heard).get(code).copied();
                    if last.is_some_and(|t| t.elapsed() < quiet) {
                        continue;
                    }
                    match hub.pull(code).await {
                        Ok(_) => {
                            failing.remove(code);
                        }
                        Err(e) => {
                            if failing.insert(code.clone()) {
                                eprintln!("{}: pulling from {code}: {e:#}", hub.config.name);
                            }
                        }
                    }
                }
            }
        }));
    }
    let served = servers.run(&config, shutdown).await;
    for task in tasks {
        task.abort();
    }
    served
}
