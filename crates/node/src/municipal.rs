//! A municipality's node: the town office's API for clerks, the inter-node API (wide-area
//! copies for other towns, move notices from the national node, pulls by upstream nodes), the
//! public log endpoints, and the background work — integrating the logs, pushing batches to
//! the prefecture from the durable outbox, asking the national node for code blocks.
//!
//! Every change goes through `Registry::submit`, the same core as the local CLI: the clerk's
//! client signs, the node validates and appends. Every read of personal data is a clerk's signed
//! read request (`wire::read`), checked before anything is read and kept, with the clerk's key,
//! in the provision record of every resident provided, appended before the answer leaves.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::IntoResponse as _;
use registry_core::event::Event;
use registry_core::evidence::TownTrust;
use registry_core::rules::{Effect, Refusal};
use registry_domain::{MunicipalityCode, ResidentCode};
use registry_store::{Registry, StoreError};
use tlog::note::{Signer, VerifierKey};
use tlog_store::integrate::NoteSigner;
use tlog_store::tiledir::TileDir;

use registry_store::dir::RegistryDir;
use tlog_http::witness_client::WitnessSet;
use wire::Batch;
use wire::api::{
    BlockRequest, CopyRequest, FreshCode, FromSize, FromTown, PendingChange, Proposed,
    ProvenRecord, Status, Submitted,
};
use wire::documents::{CopyFile, Provision, RecordJson, copy_text};
use wire::read::{ReadKind, ReadRefusal, SignedRead};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wire::api::Alert;
use wire::errors::ErrorBody;

use crate::clock::Clock;
use crate::config::{NodeConfig, Peer};
use crate::http::{ApiError, JsonBody, QueryOf, blocking, relay_refusal, unreachable};
use crate::journal::Journal;
use crate::listeners::{Listener, Listeners};
use crate::outbox::{TownLog, acknowledge, next_batch, send_batch};
use crate::proof::{NotProven, Proven, gather, prove_gathered};
use crate::task::{Backoff, lock, rounds};

mod disclose;
use wire::errors::Code;

/// A municipal node's state.
pub struct Town {
    config: Arc<NodeConfig>,
    code: MunicipalityCode,
    identity: pki::Identity,
    dir: RegistryDir,
    registry: Mutex<Registry>,
    /// A second connection to the registry database, for integration: the log's tiles are
    /// built (and the witnesses asked) without holding up the counter.
    integrator: Mutex<rusqlite::Connection>,
    journal: Mutex<Journal>,
    /// Records provisions in `node.db`'s provision log, many requests to one commit.
    recorder: crate::journal::Recorder,
    /// The registry log's key: signs its checkpoints, copies and batch checkpoints.
    node_key: Signer,
    /// Its verifier key.
    vkey: VerifierKey,
    registry_signer: NoteSigner,
    provision_signer: NoteSigner,
    provision_tiles: TileDir,
    /// The provision log's origin and key.
    provision_origin: String,
    provision_vkey: VerifierKey,
    client: net::Client,
    witnesses: WitnessSet,
    /// The node's runtime: integration runs on a blocking thread and asks the witnesses
    /// through it.
    runtime: tokio::runtime::Handle,
    clock: Arc<dyn Clock>,
    /// The town's own registration — its node key, witnesses and the admin key of the genesis
    /// read once at start — against which it checks what it serves.
    trust: TownTrust,
    /// Receipts made against the published checkpoint, for the next proofs.
    receipts: registry_store::dir::ReceiptCache,
    /// Signalled when an event is appended: the idle sender starts its round.
    appended: tokio::sync::Notify,
    /// Set once the published registry checkpoint is known to carry its witness quorum: from
    /// then on every one published is cosigned before it is, and none needs checking again.
    witnessed: std::sync::atomic::AtomicBool,
    /// The registry's self-verification, on a connection of its own.
    check: Mutex<crate::selfcheck::SelfCheck>,
    /// The rolling check of the provision log's private records against its entries.
    records: Mutex<crate::journal::RecordCheck>,
    /// Set while the registry's tables differ from its log: the town records no change.
    tampered: std::sync::atomic::AtomicBool,
    /// Set when the counter saw another connection's write before the self-check did, until a
    /// verification after it: the town records no change meanwhile.
    unverified_write: std::sync::atomic::AtomicBool,
    /// The events the last whole self-verification covered without a difference (none before
    /// the first, or while the tables differ from the log).
    verified: Mutex<Option<u64>>,
    /// When the node started: the pusher's failures are timed from it.
    started: std::time::Instant,
    /// Whether the pusher has failed, since when, and whether that was alerted.
    pusher: Mutex<crate::crosscheck::PusherWatch>,
    /// When the prefecture last acknowledged a batch (POSIX seconds), since the start.
    pushed: Mutex<Option<u64>>,
    /// The node's signed baseline manifest, checked at start, until its watch takes it.
    baseline: Mutex<Option<crate::manifest::Baseline>>,
    /// The SHA-256 of that manifest, for the heartbeats.
    manifest_digest: Option<String>,
    /// The witnesses whose refusal to cosign was alerted, until they cosign again.
    refusing: Mutex<std::collections::BTreeSet<String>>,
    /// The difference of the published tiles last alerted, until they agree again.
    tiles_differ: Mutex<Option<String>>,
}

impl crate::alerting::Alerting for Town {
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

impl crate::alerting::Reporting for Town {
    fn node_key(&self) -> &Signer {
        &self.node_key
    }
    fn client(&self) -> &net::Client {
        &self.client
    }
}

impl Town {
    /// Opens the node's data directory.
    pub fn open(config: Arc<NodeConfig>, clock: Arc<dyn Clock>) -> Result<Town> {
        let dir = RegistryDir::open(&config.dir)?;
        let code = dir.municipality;
        if config.code.as_deref() != Some(code.to_string().as_str()) {
            bail!(
                "node.toml says {:?} but the registry in {} is {code}",
                config.code,
                config.dir.display()
            );
        }
        if dir.config.origin != config.origin {
            bail!("node.toml's origin is not the registry's ({})", dir.config.origin);
        }
        if dir.config.national != config.national_key {
            bail!("node.toml's national key is not the registry's");
        }
        // The self-check's connection is opened first, so that opening it is no write the
        // counter's connection could take for another writer's.
        let check = crate::selfcheck::SelfCheck::new(
            dir.registry()?,
            Duration::from_millis(config.watch_ms),
            Duration::from_millis(config.verify_every_ms),
        );
        let registry = dir.registry()?;
        let trust = own_trust(&config, &dir, &registry)?;
        // A town's manifest is signed by its admin key, as its genesis names it.
        let baseline = crate::manifest::load(&config, Some(&trust.admin))?;
        let integrator =
            rusqlite::Connection::open(config.dir.join(registry_store::dir::DATABASE))?;
        tlog_store::entries::configure(&integrator)?;
        let mut journal = Journal::open(&config.dir.join(crate::logs::NODE_DB))?;
        journal.watch_with(config.behaviour.clone())?;
        // The thread ends with the node: when the last handle is dropped.
        let (recorder, _) =
            crate::journal::Recorder::start(&config.dir.join(crate::logs::NODE_DB))?;
        let key_path = config.dir.join(&dir.config.key);
        let node_key = tlog_store::keys::load_log_signer(&key_path, &config.origin)?;
        let registry_signer = dir.signer()?;
        let provision_origin = crate::logs::provision_origin(config.role, &config.origin);
        let provision_key = tlog_store::keys::load_log_signer(
            &config.dir.join(crate::logs::PROVISION_KEY),
            &provision_origin,
        )?;
        let provision_vkey = provision_key.verifier();
        let provision_signer = NoteSigner::new(provision_key)?;
        let client = net::Client::new(&config.tls_files())?;
        let witnesses = WitnessSet::new(
            config
                .witnesses
                .iter()
                .map(|w| Ok((crate::report::resolve_url(&w.url)?, VerifierKey::parse(&w.vkey)?)))
                .collect::<Result<Vec<_>>>()?,
            config.witness_quorum,
        )?;
        Ok(Town {
            trust,
            receipts: Default::default(),
            appended: tokio::sync::Notify::new(),
            witnessed: Default::default(),
            check: Mutex::new(check),
            records: Mutex::new(crate::journal::RecordCheck::default()),
            tampered: Default::default(),
            unverified_write: Default::default(),
            verified: Mutex::new(None),
            started: std::time::Instant::now(),
            pusher: Default::default(),
            pushed: Mutex::new(None),
            manifest_digest: baseline.as_ref().map(|b| b.digest().to_owned()),
            baseline: Mutex::new(baseline),
            refusing: Default::default(),
            tiles_differ: Default::default(),
            witnesses,
            runtime: tokio::runtime::Handle::current(),
            clock,
            identity: config.identity()?,
            code,
            provision_tiles: TileDir::new(config.dir.join(crate::logs::PROVISION_TILES)),
            config,
            dir,
            registry: Mutex::new(registry),
            integrator: Mutex::new(integrator),
            journal: Mutex::new(journal),
            recorder,
            vkey: node_key.verifier(),
            node_key,
            registry_signer,
            provision_signer,
            provision_origin,
            provision_vkey,
            client,
        })
    }

    fn upstream(&self) -> &Peer {
        self.config.upstream.as_ref().expect("checked at load")
    }

    fn national(&self) -> &Peer {
        self.config.national.as_ref().expect("checked at load")
    }

    /// The resident's current record with its evidence, checked as any client would check it
    /// before anything is served: an event edited, a table pointing at the wrong event or a
    /// proof that does not reach the witnessed checkpoint is refused as `tampered` and recorded
    /// as an alert. A change newer than the published checkpoint is integrated (and witnessed)
    /// first. Runs on a blocking thread.
    /// [`Town::prove`] for a read by `reader`: a miss is recorded as an attempt and a read is
    /// counted, both by the behaviour rules.
    fn prove_for(&self, reader: &str, code: ResidentCode) -> Result<Proven, ApiError> {
        let proven = self.prove(code);
        let time = self.clock.unix();
        match &proven {
            Err(refused) if refused.code == Code::NoResident => {
                lock(&self.journal).missed(time, reader)?
            }
            Ok(_) => lock(&self.journal).observe(time, reader, crate::behaviour::Act::Read)?,
            Err(_) => {}
        }
        proven
    }

    fn prove(&self, code: ResidentCode) -> Result<Proven, ApiError> {
        let tiles = self.dir.tiles();
        // The registry is locked only to read the events: the counter does not wait for the
        // proofs and signature checks.
        let attempt = || {
            let events = gather(&lock(&self.registry), code)?;
            prove_gathered(events, &tiles, &self.receipts, &self.trust, code)
        };
        let mut outcome = attempt();
        if let Err(NotProven::NotYet { .. }) = outcome {
            self.integrate()?;
            outcome = attempt();
        }
        match outcome {
            Ok(proven) => Ok(proven),
            Err(NotProven::NoResident) => {
                Err(ApiError::new(Code::NoResident, format!("no resident {code} in {}", self.code)))
            }
            Err(NotProven::NotYet { index, size }) => Err(ApiError::new(
                Code::NotYetProven,
                format!(
                    "event {index} is not yet in a witnessed checkpoint of {} (size {size})",
                    self.code
                ),
            )),
            Err(NotProven::Tampered(detail)) => Err(self.tampered(&detail)),
            Err(NotProven::Internal(e)) => Err(e.into()),
        }
    }

    /// Records a `tampered` alert (its detail names indexes, never personal data) and returns
    /// the refusal.
    fn tampered(&self, detail: &str) -> ApiError {
        let recorded = lock(&self.journal).alert(
            self.clock.unix(),
            Code::Tampered,
            &self.identity.to_uri(),
            detail,
        );
        if let Err(e) = recorded {
            eprintln!("recording a tampered alert failed: {e:#}");
        }
        ApiError::new(
            Code::Tampered,
            format!("{} refuses to serve what does not match its witnessed log", self.code),
        )
    }

    /// Whether the town may record a change: not while its tables differ from its log (a
    /// change decided against edited tables would make the edit part of the log's history).
    ///
    /// Asked on the counter's connection, `registry`, under its lock, right before the change:
    /// a write by anyone else since the self-check last looked holds the counter until the
    /// self-check has verified the tables (a code struck off by a deleted row and reused at
    /// once must not slip between two looks).
    fn records_changes(&self, registry: &mut Registry) -> Result<(), ApiError> {
        use std::sync::atomic::Ordering;
        if registry.written_by_others().map_err(anyhow::Error::from)? {
            self.unverified_write.store(true, Ordering::SeqCst);
        }
        if self.unverified_write.load(Ordering::SeqCst) {
            return Err(ApiError::new(
                Code::Tampered,
                format!(
                    "{}'s registry database was written by another connection; it records no \
                     change until its self-check has verified the tables against the log",
                    self.code
                ),
            ));
        }
        if self.tampered.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(ApiError::new(
                Code::Tampered,
                format!(
                    "{}'s registry tables differ from its log; it records no change until they \
                     are restored",
                    self.code
                ),
            ));
        }
        Ok(())
    }

    /// One look of the self-check: a write to the registry by anyone but this node is a
    /// `foreign-write` alert and starts a comparison of every table at once; otherwise the
    /// look verifies the events appended since and the next slice of the rolling sweep (a pass
    /// per `verify_every_ms`). Differences are a `tampered` alert (once for the same
    /// differences) and stop the town recording changes until they agree again. Runs on a
    /// blocking thread.
    fn self_check(&self) -> Result<()> {
        let mut check = lock(&self.check);
        // The counter waits only for the question whether anyone else wrote (or whether it
        // found so itself, right before a change).
        // Marked under the counter's lock, so that no change slips in before the verdict.
        let foreign = {
            let mut registry = lock(&self.registry);
            if registry.written_by_others()? {
                self.unverified_write.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            self.unverified_write.load(std::sync::atomic::Ordering::SeqCst)
        };
        if foreign {
            // At once, before the verification, which takes longer the larger the town.
            self.raise(
                Code::ForeignWrite,
                "the registry database was written by another connection while the node ran",
            );
        }
        let look = check.look_after(foreign)?;
        drop(check);
        if look.verified.is_some() {
            *lock(&self.verified) = look.covered;
        }
        match look.verified {
            Some(0) => {
                if look.restored {
                    eprintln!("{}: the registry agrees with its log again", self.config.name);
                }
                self.tampered.store(false, std::sync::atomic::Ordering::SeqCst);
            }
            Some(_) => self.tampered.store(true, std::sync::atomic::Ordering::SeqCst),
            None => {}
        }
        if foreign && look.verified.is_some() {
            // Verified after the write: the counter follows the verdict now.
            self.unverified_write.store(false, std::sync::atomic::Ordering::SeqCst);
        }
        if let Some(summary) = look.alert {
            self.raise(Code::Tampered, &summary);
        }
        Ok(())
    }

    /// Records an alert raised by the node itself.
    fn raise(&self, code: Code, detail: &str) {
        let recorded =
            lock(&self.journal).alert(self.clock.unix(), code, &self.identity.to_uri(), detail);
        if let Err(e) = recorded {
            eprintln!("{}: recording a {} alert failed: {e:#}", self.config.name, code.as_str());
        }
    }

    /// Integrates both logs (see [`Town::integrate_logs`]); a witness that refuses to cosign
    /// is a `witness-refused` alert, once until it cosigns again.
    fn integrate(&self) -> Result<()> {
        let integrated = self.integrate_logs();
        let answers = self.witnesses.last_answers();
        let mut refusing = lock(&self.refusing);
        for (witness, refusal) in answers {
            match refusal {
                Some(reason) if refusing.insert(witness.clone()) => {
                    let detail = format!("the witness {witness} refused to cosign: {reason}");
                    self.raise(Code::WitnessRefused, &detail);
                }
                Some(_) => {}
                None => {
                    refusing.remove(&witness);
                }
            }
        }
        integrated
    }

    /// Integrates both logs. The registry checkpoint is published only once the witness
    /// quorum has cosigned it (the previous one stands otherwise).
    fn integrate_logs(&self) -> Result<()> {
        {
            let conn = lock(&self.integrator);
            let conn = &*conn;
            let tiles = self.dir.tiles();
            let mut cosign = |integration: &tlog_store::integrate::Integration| {
                self.runtime.block_on(self.witnesses.cosign(&tiles, integration))
            };
            let published = tlog_store::integrate::integrate_in_steps(
                conn,
                &tiles,
                &self.registry_signer,
                &mut cosign,
                self.config.max_batch as u64,
            )?;
            let published: Vec<_> = if published.is_empty() {
                self.cosign_unwitnessed(&tiles, &mut cosign)?.into_iter().collect()
            } else {
                published
            };
            // Every witnessed checkpoint is kept: a batch ends at one, whatever the upstream
            // acknowledged before. Kept under the integrator's lock, so that the look at the
            // published checkpoint never sees one published and not yet kept.
            let mut journal = lock(&self.journal);
            for integration in &published {
                journal.keep_checkpoint(
                    &self.config.origin,
                    integration.size,
                    &integration.checkpoint,
                )?;
            }
        }
        // The provision log is witnessed like the registry log, in the same steps, and every
        // witnessed checkpoint is kept for the batches that carry it upstream.
        let published = {
            let journal = lock(&self.journal);
            let mut cosign = |integration: &tlog_store::integrate::Integration| {
                self.runtime.block_on(self.witnesses.cosign(&self.provision_tiles, integration))
            };
            tlog_store::integrate::integrate_in_steps(
                &*journal,
                &self.provision_tiles,
                &self.provision_signer,
                &mut cosign,
                self.config.max_batch as u64,
            )?
        };
        let mut journal = lock(&self.journal);
        for integration in &published {
            journal.keep_checkpoint(
                &self.provision_origin,
                integration.size,
                &integration.checkpoint,
            )?;
        }
        Ok(())
    }

    /// A registry checkpoint published without its witnesses' cosignatures — by the offline
    /// tools, before the town joined the network — is cosigned now and published again, so that
    /// no batch carries it upstream, where it would be refused as a forgery. Returns it once
    /// cosigned; nothing when the published checkpoint already carries its quorum. Called
    /// under the integrator's lock.
    fn cosign_unwitnessed(
        &self,
        tiles: &TileDir,
        cosign: &mut dyn FnMut(
            &tlog_store::integrate::Integration,
        ) -> Result<Vec<u8>, tlog_store::Error>,
    ) -> Result<Option<tlog_store::integrate::Integration>> {
        use std::sync::atomic::Ordering;
        use tlog_store::integrate::CheckpointVerifier as _;
        if self.witnessed.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let Some(note) = tiles.read_checkpoint()? else { return Ok(None) };
        if self.trust.policy.verify(&note).is_ok() {
            self.witnessed.store(true, Ordering::SeqCst);
            return Ok(None);
        }
        let (size, root) =
            tlog_store::integrate::VerifyOnly::new(self.vkey.clone(), &self.config.origin)
                .open(&note)?;
        // From size 0: a witness that knows the log answers with its own size, and is asked
        // again from there.
        let mut integration =
            tlog_store::integrate::Integration { old_size: 0, size, root, checkpoint: note };
        integration.checkpoint = cosign(&integration)?;
        tiles.write_checkpoint(&integration.checkpoint)?;
        self.witnessed.store(true, Ordering::SeqCst);
        Ok(Some(integration))
    }

    /// Sends the provision log's next batch to `upstream` (the prefecture, then the national
    /// node): returns whether anything was sent.
    async fn push_provisions(self: &Arc<Self>, upstream: Peer) -> Result<bool> {
        let town = self.clone();
        let identity = upstream.identity.clone();
        let batch = tokio::task::spawn_blocking(move || -> Result<Option<Batch>> {
            let journal = lock(&town.journal);
            let acked = journal.ack(&town.provision_origin, &identity)?.map_or(0, |(s, _)| s);
            let mut source = crate::provisions::ProvisionLog {
                journal: &journal,
                tiles: town.provision_tiles.clone(),
                origin: &town.provision_origin,
                vkey: town.provision_vkey.clone(),
            };
            next_batch(&town.code.to_string(), &mut source, acked, town.config.max_batch)
        })
        .await??;
        let Some(batch) = batch else { return Ok(false) };
        let answer = crate::outbox::send_batch_to(
            &self.client,
            &upstream,
            "/v1/replicate/provisions",
            &batch,
        )
        .await?;
        let town = self.clone();
        tokio::task::spawn_blocking(move || -> Result<()> {
            let vkey = VerifierKey::parse(&upstream.vkey)?;
            let tiles = &town.provision_tiles;
            let log_vkey = town.provision_vkey.clone();
            let covered = crate::logs::published_size(tiles, &log_vkey, &town.provision_origin)?;
            let (size, receipt) =
                acknowledge(answer, &batch, &town.provision_origin, &vkey, tiles, covered)?;
            lock(&town.journal).set_ack(&town.provision_origin, &upstream.identity, size, &receipt)
        })
        .await??;
        Ok(true)
    }

    /// The batch after what the prefecture acknowledged.
    fn batch_from(&self, acked: u64) -> Result<Option<Batch>> {
        let registry = lock(&self.registry);
        let journal = lock(&self.journal);
        let mut source = TownLog {
            registry: &registry,
            journal: &journal,
            tiles: self.dir.tiles(),
            origin: &self.config.origin,
            vkey: self.vkey.clone(),
        };
        next_batch(&self.code.to_string(), &mut source, acked, self.config.max_batch)
    }

    fn acked(&self) -> Result<u64> {
        let journal = lock(&self.journal);
        Ok(journal.ack(&self.config.origin, &self.upstream().identity)?.map_or(0, |(s, _)| s))
    }

    /// One round of replication: returns whether anything was sent.
    async fn push(self: &Arc<Self>) -> Result<bool> {
        let town = self.clone();
        let batch = tokio::task::spawn_blocking(move || -> Result<Option<Batch>> {
            town.integrate()?;
            let acked = town.acked()?;
            town.batch_from(acked)
        })
        .await??;
        let Some(batch) = batch else { return Ok(false) };
        let upstream = self.upstream().clone();
        let answer = send_batch(&self.client, &upstream, &batch).await?;
        let town = self.clone();
        tokio::task::spawn_blocking(move || -> Result<()> {
            let vkey = VerifierKey::parse(&upstream.vkey)?;
            let tiles = town.dir.tiles();
            let covered = crate::logs::published_size(&tiles, &town.vkey, &town.config.origin)?;
            let (size, receipt) =
                acknowledge(answer, &batch, &town.config.origin, &vkey, &tiles, covered)?;
            lock(&town.journal).set_ack(&town.config.origin, &upstream.identity, size, &receipt)?;
            *lock(&town.pushed) = Some(town.clock.unix());
            Ok(())
        })
        .await??;
        Ok(true)
    }

    /// After a round of the pusher: one that failed for longer than `stuck_after_ms` is a
    /// `replication-stuck` alert (once, until a round succeeds).
    fn pushed(&self, succeeded: bool) {
        let mut pusher = lock(&self.pusher);
        if succeeded {
            pusher.succeeded();
            return;
        }
        let now = self.started.elapsed().as_millis() as u64;
        if let Some(finding) = pusher.failed(now, self.config.stuck_after_ms) {
            drop(pusher);
            self.raise(finding.code, &finding.detail);
        }
    }

    /// One look at the published registry checkpoint (see [`crate::publication`]): one the
    /// log did not produce is a `forged-publication` alert, and the latest witnessed checkpoint
    /// is published again. Skipped while an integration runs. Runs on a blocking thread.
    fn check_publication(&self) -> Result<()> {
        let Ok(_integrating) = self.integrator.try_lock() else { return Ok(()) };
        let tiles = self.dir.tiles();
        let look = crate::publication::check(
            &tiles,
            &lock(&self.journal),
            &self.vkey,
            &self.config.origin,
        )?;
        match look {
            crate::publication::Look::Forged { detail, restored } => {
                let restored = match restored {
                    Some(size) => {
                        format!("the witnessed checkpoint of size {size} is published again")
                    }
                    None => "no witnessed checkpoint could be published again".to_owned(),
                };
                self.raise(Code::ForgedPublication, &format!("{detail}; {restored}"));
            }
            crate::publication::Look::TilesDiffer { detail } => {
                // Once for the same difference: tiles are not repaired here.
                let mut alerted = lock(&self.tiles_differ);
                if alerted.as_deref() != Some(detail.as_str()) {
                    self.raise(Code::ForgedPublication, &detail);
                    *alerted = Some(detail);
                }
            }
            crate::publication::Look::Agrees => *lock(&self.tiles_differ) = None,
        }
        Ok(())
    }

    /// The town's heartbeat, signed with its node key: its latest witnessed checkpoints, its
    /// last alert, what its self-check covered and its replication. Runs on a blocking thread.
    fn heartbeat(&self) -> Result<Vec<u8>> {
        use tlog_store::integrate::CheckpointVerifier as _;
        let journal = lock(&self.journal);
        let head = |origin: &str, vkey: &VerifierKey| -> Result<wire::heartbeat::LogHead> {
            let (size, root) = match journal.kept_checkpoint(origin, 0, i64::MAX as u64)? {
                Some((_, note)) => {
                    tlog_store::integrate::VerifyOnly::new(vkey.clone(), origin).open(&note)?
                }
                None => (0, tlog::hash::EMPTY_ROOT),
            };
            Ok(wire::heartbeat::LogHead { size, root })
        };
        let heartbeat = wire::heartbeat::Heartbeat {
            node: self.identity.to_uri(),
            time: self.clock.unix(),
            registry: head(&self.config.origin, &self.vkey)?,
            provisions: head(&self.provision_origin, &self.provision_vkey)?,
            alerts: journal.last_alert()?,
            manifest: self.manifest_digest.clone(),
            verified: *lock(&self.verified),
            acked: journal.ack(&self.config.origin, &self.upstream().identity)?.map(|(s, _)| s),
            pushed: *lock(&self.pushed),
        };
        crate::logs::sign_text(heartbeat.text(), &self.node_key)
    }

    /// Sends the town's heartbeat to its prefecture and the national node; returns, for each,
    /// the failure if it was not taken.
    async fn send_heartbeats(self: &Arc<Self>) -> Result<Vec<(String, Option<String>)>> {
        let town = self.clone();
        let note = tokio::task::spawn_blocking(move || town.heartbeat()).await??;
        let send = |peer: Peer| {
            let (client, note) = (&self.client, note.clone());
            async move {
                let sent = async {
                    let url = peer.endpoint("/v1/heartbeats")?;
                    let answer =
                        crate::http::post(client, &url, note, Some(peer.identity.as_str())).await?;
                    if !answer.status.is_success() {
                        bail!("refused: {}", answer.text());
                    }
                    Ok(())
                };
                let failure: Result<()> = sent.await;
                (peer.identity.clone(), failure.err().map(|e| format!("{e:#}")))
            }
        };
        let (prefecture, national) =
            tokio::join!(send(self.upstream().clone()), send(self.national().clone()));
        Ok(vec![prefecture, national])
    }

    /// Asks the national node for a code block when the pool runs low.
    async fn top_up(self: &Arc<Self>) -> Result<()> {
        let town = self.clone();
        let (remaining, blocks) = tokio::task::spawn_blocking(move || -> Result<(u64, u64)> {
            let registry = lock(&town.registry);
            Ok((registry.pool_remaining()?, registry.code_block_count()?))
        })
        .await??;
        if remaining >= self.config.pool_low {
            return Ok(());
        }
        let national = self.national().clone();
        let body = serde_json::to_vec(&BlockRequest { blocks })?;
        let response = crate::http::post(
            &self.client,
            &national.endpoint("/v1/code-blocks")?,
            body,
            Some(national.identity.as_str()),
        )
        .await?;
        if !response.status.is_success() {
            bail!("the national node refused a code block: {}", response.text());
        }
        let town = self.clone();
        tokio::task::spawn_blocking(move || -> Result<()> {
            let mut registry = lock(&town.registry);
            town.records_changes(&mut registry).map_err(|e| anyhow!("{}", e.message))?;
            match registry.submit(&response.body, town.clock.timestamp()) {
                Ok(_) => {
                    town.appended.notify_one();
                    Ok(())
                }
                // The block was already added (an answer to a repeated request).
                Err(StoreError::Refused(Refusal::CodeBlockOverlap)) => Ok(()),
                Err(e) => Err(e).context("adding the national node's code block"),
            }
        })
        .await??;
        eprintln!("{}: added a resident-code block from the national node", self.config.name);
        Ok(())
    }
}

/// The town's own registration: its node key, its witnesses and quorum from `node.toml`, and
/// the admin key of the genesis at index 0, read once at start.
fn own_trust(config: &NodeConfig, dir: &RegistryDir, registry: &Registry) -> Result<TownTrust> {
    let genesis = registry.events(0, 1)?.pop().context("the registry has no genesis")?;
    let note = tlog::note::Note::parse(&genesis)?;
    let Ok(Event::Genesis(genesis)) = Event::parse(note.text()) else {
        bail!("the registry's first event is not its genesis");
    };
    Ok(TownTrust {
        municipality: dir.municipality,
        origin: config.origin.clone(),
        policy: tlog::checkpoint::Policy {
            log_keys: vec![dir.vkey()?],
            witnesses: config
                .witnesses
                .iter()
                .map(|w| VerifierKey::parse(&w.vkey))
                .collect::<Result<_, _>>()?,
            quorum: config.witness_quorum,
        },
        admin: genesis.admin,
    })
}

/// A municipal node's state, as its handlers share it.
pub type Shared = Arc<Town>;

/// The office listener's routes (this town's consoles), each with its OpenAPI description.
pub fn office_routes() -> OpenApiRouter<Shared> {
    OpenApiRouter::new()
        .routes(routes!(submit_event))
        .routes(routes!(propose, pending))
        .routes(routes!(approve))
        .routes(routes!(fresh_code))
        .routes(routes!(lookup, unsigned_lookup))
        .routes(routes!(search))
        .routes(routes!(disclose::disclose))
        .routes(routes!(copy))
        .routes(routes!(move_out_certificate))
        .routes(routes!(activation_certificate))
        .routes(routes!(office_status))
        .routes(routes!(office_alerts))
}

/// The network listener's routes (other nodes), each with its OpenAPI description.
pub fn network_routes() -> OpenApiRouter<Shared> {
    OpenApiRouter::new()
        .routes(routes!(wide_area_copy))
        .routes(routes!(move_notice))
        .routes(routes!(pull))
        .routes(routes!(status))
        .routes(routes!(alerts))
        .routes(routes!(metrics))
}

fn clerk(town: &Town, peer: &net::Peer) -> Result<(), ApiError> {
    let expected = pki::Identity::console(&town.code.to_string()).map_err(|e| anyhow!(e))?;
    if peer.identity != expected {
        let detail = format!("a {} certificate at the office API of {}", peer.identity, town.code);
        lock(&town.journal).alert(
            town.clock.unix(),
            Code::WrongPeer,
            &peer.identity.to_uri(),
            &detail,
        )?;
        return Err(ApiError::new(
            Code::WrongPeer,
            format!(
                "this is the office API of {}: only its consoles ({}) may use it, not {}",
                town.code,
                expected.to_uri(),
                peer.identity.to_uri()
            ),
        ));
    }
    Ok(())
}

fn parse_resident(text: &str) -> Result<ResidentCode, ApiError> {
    ResidentCode::parse(text).map_err(|e| ApiError::bad(format!("resident code: {e}")))
}

#[utoipa::path(
    post,
    path = "/v1/events",
    tag = "office",
    summary = "Submit a signed event at the town office (a change, an enrolment, a revocation)",
    request_body(content = String, content_type = "text/plain", description = "A signed event (a signed note), exactly as signed"),
    responses((status = 200, body = Submitted, description = "Validated and durably appended"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn submit_event(
    State(town): State<Shared>,
    peer: net::Peer,
    body: Bytes,
) -> Result<Json<Submitted>, ApiError> {
    clerk(&town, &peer)?;
    blocking(move || admit(&town, &body, &peer).map(Json)).await
}

/// Validates a signed event and appends it; a refusal that looks like a forgery is an alert.
fn admit(town: &Town, body: &[u8], peer: &net::Peer) -> Result<Submitted, ApiError> {
    {
        let mut registry = lock(&town.registry);
        town.records_changes(&mut registry)?;
        let applied = match registry.submit(body, town.clock.timestamp()) {
            Ok(applied) => applied,
            Err(StoreError::Refused(refusal)) => {
                // A signature that does not verify, a key without authority or another town's
                // event at a town's own counter is how a forgery looks: record it.
                let refused = ApiError::refusal(&refusal);
                if refused.code.is_alert() {
                    lock(&town.journal).alert(
                        town.clock.unix(),
                        Code::UnauthorisedEvent,
                        &peer.identity.to_uri(),
                        &refusal.to_string(),
                    )?;
                }
                return Err(refused);
            }
            Err(other) => return Err(anyhow::Error::from(other).into()),
        };
        town.appended.notify_one();
        // A change is counted against the operator who signed it first (who proposed it), an
        // event signed by no operator against the console that handed it in.
        let actor = match &applied.effect {
            Effect::Change { signers, .. } => signers.first().map(|k| k.name().to_owned()),
            _ => None,
        }
        .unwrap_or_else(|| peer.identity.to_uri());
        lock(&town.journal).observe(town.clock.unix(), &actor, crate::behaviour::Act::Change)?;
        let (kind, resident) = match &applied.effect {
            Effect::Genesis(_) => ("genesis", None),
            Effect::Enrol(_) => ("enrolment", None),
            Effect::Revoke(_) => ("revocation", None),
            Effect::CodeBlock(_) => ("code-block", None),
            Effect::Change { change, .. } => {
                ("change", Some(change.record.resident_code.to_string()))
            }
            Effect::MoveNotice(notice) => ("move-notice", Some(notice.resident.to_string())),
            Effect::MoveWithdrawal(w) => ("move-withdrawal", Some(w.resident.to_string())),
        };
        Ok(Submitted { index: applied.index, kind: kind.to_owned(), resident })
    }
}

#[utoipa::path(
    post,
    path = "/v1/pending",
    tag = "office",
    summary = "Propose a sensitive change signed by one operator; it waits for a second person's approval",
    request_body(content = String, content_type = "text/plain", description = "A change signed by the proposing operator alone, exactly as signed"),
    responses((status = 200, body = Proposed, description = "Queued for approval"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn propose(
    State(town): State<Shared>,
    peer: net::Peer,
    body: Bytes,
) -> Result<Json<Proposed>, ApiError> {
    clerk(&town, &peer)?;
    blocking(move || {
        // Everything but the second person is checked now: the proposal is queued only if the
        // one thing it lacks is an approval.
        let checked = lock(&town.registry).check(&body, town.clock.timestamp());
        match checked {
            Err(StoreError::Refused(Refusal::SecondOperatorMissing { signed: 1, .. })) => {}
            Ok(_) => {
                return Err(ApiError::new(
                    Code::NoApprovalNeeded,
                    "this change needs one operator: submit it to /v1/events",
                ));
            }
            Err(StoreError::Refused(refusal)) => return Err(ApiError::refusal(&refusal)),
            Err(other) => return Err(anyhow::Error::from(other).into()),
        }
        let note = tlog::note::Note::parse(&body).map_err(|e| ApiError::bad(e.to_string()))?;
        let Ok(Event::Change(change)) = Event::parse(note.text()) else {
            return Err(ApiError::bad("a proposal is a change"));
        };
        let pending = PendingChange {
            id: 0,
            resident: change.record.resident_code.to_string(),
            reason: change.reason().code().to_owned(),
            proposed_by: note.signatures().first().map(|s| s.name.clone()).unwrap_or_default(),
            time: town.clock.unix(),
            note: String::from_utf8(body.to_vec()).map_err(|e| ApiError::bad(e.to_string()))?,
        };
        let id = lock(&town.journal).propose(&pending)?;
        Ok(Json(Proposed { id }))
    })
    .await
}

#[utoipa::path(
    get,
    path = "/v1/pending",
    tag = "office",
    summary = "The changes waiting for a second person's approval",
    responses((status = 200, body = Vec<PendingChange>, description = "Oldest first"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn pending(
    State(town): State<Shared>,
    peer: net::Peer,
) -> Result<Json<Vec<PendingChange>>, ApiError> {
    clerk(&town, &peer)?;
    blocking(move || Ok(Json(lock(&town.journal).pending()?))).await
}

#[utoipa::path(
    post,
    path = "/v1/pending/{id}/approve",
    tag = "office",
    summary = "Approve a proposed change: the same change, signed also by the approver",
    params(("id" = u64, Path, description = "The proposal's number")),
    request_body(content = String, content_type = "text/plain", description = "The proposed change's text with the proposer's and the approver's signatures"),
    responses((status = 200, body = Submitted, description = "Validated and durably appended"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn approve(
    State(town): State<Shared>,
    peer: net::Peer,
    Path(id): Path<u64>,
    body: Bytes,
) -> Result<Json<Submitted>, ApiError> {
    clerk(&town, &peer)?;
    blocking(move || {
        let proposal = lock(&town.journal).pending_change(id)?.ok_or_else(|| {
            ApiError::new(Code::NotPending, format!("no change {id} waits for approval"))
        })?;
        let proposed =
            tlog::note::Note::parse(proposal.note.as_bytes()).map_err(anyhow::Error::from)?;
        let approved = tlog::note::Note::parse(&body).map_err(|e| ApiError::bad(e.to_string()))?;
        if approved.text() != proposed.text() {
            let detail = format!("an approval of change {id} carries another text");
            lock(&town.journal).alert(
                town.clock.unix(),
                Code::ApprovalMismatch,
                &peer.identity.to_uri(),
                &detail,
            )?;
            return Err(ApiError::new(Code::ApprovalMismatch, detail));
        }
        let submitted = admit(&town, &body, &peer)?;
        lock(&town.journal).settle(id, "approved")?;
        Ok(Json(submitted))
    })
    .await
}

#[utoipa::path(
    post,
    path = "/v1/codes",
    tag = "office",
    summary = "Draw a fresh resident code from the town's pool",
    responses((status = 200, body = FreshCode, description = "A code no event has used"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn fresh_code(
    State(town): State<Shared>,
    peer: net::Peer,
) -> Result<Json<FreshCode>, ApiError> {
    clerk(&town, &peer)?;
    blocking(move || {
        let registry = lock(&town.registry);
        let code = registry.draw_fresh_code().map_err(|e| match e {
            StoreError::PoolEmpty(message) => ApiError::new(Code::PoolEmpty, message),
            other => ApiError::from(anyhow::Error::from(other)),
        })?;
        Ok(Json(FreshCode { code: code.to_string() }))
    })
    .await
}

fn purpose(purpose: Option<String>) -> Result<String, ApiError> {
    match purpose {
        Some(p) if !p.trim().is_empty() && p.len() <= 200 && !p.contains('\n') => Ok(p),
        _ => Err(ApiError::new(
            Code::PurposeRequired,
            "every read needs a declared purpose (one line, at most 200 bytes)",
        )),
    }
}

impl Town {
    /// Admits a clerk's signed read request at this town's office, before anything is read:
    /// signed by the operator key it names, that key enrolled in this town's registry and not
    /// revoked, fresh by the node's clock, its nonce never answered before. A refusal is
    /// recorded as an alert about the console that sent it (and counted by the behaviour
    /// rules). Runs on a blocking thread.
    fn admit_read(&self, note: &[u8], peer: &net::Peer) -> Result<SignedRead, ApiError> {
        let now = self.clock.unix();
        let operators = lock(&self.registry).operators().map_err(anyhow::Error::from)?;
        let opened = wire::read::open_at_home(note, self.code, &operators, now);
        self.answer_once(opened, peer, now)
    }

    /// Uses an opened request's nonce; records any refusal as an alert about `peer`.
    fn answer_once(
        &self,
        opened: Result<SignedRead, ReadRefusal>,
        peer: &net::Peer,
        now: u64,
    ) -> Result<SignedRead, ApiError> {
        let read = opened
            .map_err(|refusal| self.refuse_read(refusal.code(), &refusal.to_string(), peer, now))?;
        let expires = read.request.time + wire::read::FRESHNESS;
        if lock(&self.journal).use_nonce(&read.request.nonce, expires, now)? {
            return Ok(read);
        }
        let detail = format!(
            "a read request signed by {} at {} was sent again (nonce {}): a request is answered \
             once",
            read.reader(),
            read.request.time,
            read.request.nonce
        );
        Err(self.refuse_read(Code::ReadReplayed, &detail, peer, now))
    }

    /// Records a refused read as an alert about `peer` and returns the refusal.
    fn refuse_read(&self, code: Code, detail: &str, peer: &net::Peer, now: u64) -> ApiError {
        let recorded = lock(&self.journal).alert(now, code, &peer.identity.to_uri(), detail);
        if let Err(e) = recorded {
            eprintln!("{}: recording a refused read failed: {e:#}", self.config.name);
        }
        ApiError::new(code, format!("{} read nothing: {detail}", self.code))
    }

    /// Records the provision of `code`'s record to the clerk whose signed request `read` is,
    /// through `to` (the console, or the requesting town's node), before it leaves. Returns
    /// its index in the provision log.
    fn record_read(
        &self,
        kind: &str,
        code: ResidentCode,
        to: &str,
        source: Option<&str>,
        read: &SignedRead,
    ) -> Result<u64, ApiError> {
        let operator = read.request.operator.to_string();
        let provision = Provision {
            kind,
            resident: &code.to_string(),
            by: &self.identity.to_uri(),
            to,
            source,
            purpose: &read.request.purpose,
            items: None,
            time: self.clock.unix(),
            operator: Some(&operator),
            request: Some(&read.note),
        };
        Ok(self.recorder.record(&provision)?)
    }
}

/// The request `read` must be of `kind` (and, for a lookup or a copy, of resident `code`).
fn read_of(read: &SignedRead, kind: ReadKind, code: Option<ResidentCode>) -> Result<(), ApiError> {
    if read.request.kind != kind || (code.is_some() && read.request.resident != code) {
        return Err(ApiError::bad(format!(
            "the signed read request is not a {}{}",
            kind.as_str(),
            if code.is_some() { " of the resident in the path" } else { "" }
        )));
    }
    purpose(Some(read.request.purpose.clone())).map(|_| ())
}

#[utoipa::path(
    post,
    path = "/v1/residents/{code}",
    tag = "office",
    summary = "Look a resident up with the clerk's signed read request (recorded in the provision log, naming the clerk, before the answer leaves)",
    params(("code" = String, Path, description = "The resident's 住民票コード (11 digits)")),
    request_body(content = String, content_type = "text/plain", description = "The clerk's read request (juki.read/v1, kind lookup, this resident), signed by their operator key, exactly as signed"),
    responses((status = 200, body = ProvenRecord, description = "The resident's current record and its evidence"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn lookup(
    State(town): State<Shared>,
    peer: net::Peer,
    Path(code): Path<String>,
    body: Bytes,
) -> Result<Json<ProvenRecord>, ApiError> {
    clerk(&town, &peer)?;
    let code = parse_resident(&code)?;
    blocking(move || {
        let read = town.admit_read(&body, &peer)?;
        read_of(&read, ReadKind::Lookup, Some(code))?;
        let proven = town.prove_for(read.reader(), code)?;
        town.record_read("lookup", code, &peer.identity.to_uri(), None, &read)?;
        Ok(Json(ProvenRecord { record: RecordJson::of(&proven.record), evidence: proven.texts()? }))
    })
    .await
}

#[utoipa::path(
    get,
    path = "/v1/residents/{code}",
    tag = "office",
    summary = "Refused: a read without the clerk's signed request (unsigned-read, recorded as an alert)",
    params(("code" = String, Path, description = "The resident's 住民票コード (11 digits)")),
    responses((status = "4XX", body = ErrorBody, description = "Always `unsigned-read` (401): a lookup is a POST of the clerk's signed read request"), (status = "5XX", body = ErrorBody, description = "The node failed"))
)]
async fn unsigned_lookup(
    State(town): State<Shared>,
    peer: net::Peer,
    Path(_code): Path<String>,
) -> Result<Json<ProvenRecord>, ApiError> {
    clerk(&town, &peer)?;
    blocking(move || {
        let refusal = ReadRefusal::Unsigned(
            "a lookup without a clerk's signed read request (a GET); a lookup is a POST of \
             juki.read/v1 signed by the clerk's operator key"
                .to_owned(),
        );
        Err(town.refuse_read(refusal.code(), &refusal.to_string(), &peer, town.clock.unix()))
    })
    .await
}

#[utoipa::path(
    post,
    path = "/v1/searches",
    tag = "office",
    summary = "Search residents by name or reading and birth date with the clerk's signed read request (every resident returned is a provision record naming the clerk)",
    request_body(content = String, content_type = "text/plain", description = "The clerk's read request (juki.read/v1, kind search), signed by their operator key, exactly as signed"),
    responses((status = 200, body = Vec<ProvenRecord>, description = "The residents found (current records, at most the request's limit), each with its evidence"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn search(
    State(town): State<Shared>,
    peer: net::Peer,
    body: Bytes,
) -> Result<Json<Vec<ProvenRecord>>, ApiError> {
    clerk(&town, &peer)?;
    blocking(move || {
        let read = town.admit_read(&body, &peer)?;
        read_of(&read, ReadKind::Search, None)?;
        let request = &read.request;
        let limit = request.limit.unwrap_or(1) as usize;
        let found = lock(&town.registry)
            .search(request.text.as_deref(), request.birth, limit)
            .map_err(anyhow::Error::from)?;
        // Every record is proven before any is recorded or served.
        let proven = found
            .iter()
            .map(|record| town.prove_for(read.reader(), record.resident_code))
            .collect::<Result<Vec<_>, _>>()?;
        let to = peer.identity.to_uri();
        let mut answer = Vec::with_capacity(proven.len());
        for proven in proven {
            town.record_read("search", proven.record.resident_code, &to, None, &read)?;
            answer.push(ProvenRecord {
                record: RecordJson::of(&proven.record),
                evidence: proven.texts()?,
            });
        }
        Ok(Json(answer))
    })
    .await
}

/// Issues a copy of one of this town's residents, with the record's evidence, once the node
/// has checked what it is about to serve, and records the provision — naming the clerk whose
/// signed request `read` is — first.
fn issue_copy(
    town: &Town,
    code: ResidentCode,
    to: &str,
    kind: &str,
    read: &SignedRead,
) -> Result<CopyFile, ApiError> {
    let proven = town.prove_for(read.reader(), code)?;
    let record = &proven.record;
    let time = town.clock.unix();
    let index = town.record_read(kind, code, to, None, read)?;
    let copy = crate::logs::sign_text(
        copy_text(&town.code.to_string(), record, index, time),
        &town.node_key,
    )?;
    Ok(CopyFile {
        copy: String::from_utf8(copy).map_err(anyhow::Error::from)?,
        evidence: proven.texts()?,
    })
}

#[utoipa::path(
    post,
    path = "/v1/copies",
    tag = "office",
    summary = "Issue a certificate copy (住民票の写し) with the clerk's signed read request, of this town's resident or, fetched from the keeping town, another's (広域交付)",
    request_body(content = CopyRequest),
    responses((status = 200, body = CopyFile, description = "The copy, signed by the keeping town's node key (juki.copy/v1), with the evidence of its record"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn copy(
    State(town): State<Shared>,
    peer: net::Peer,
    JsonBody(request): JsonBody<CopyRequest>,
) -> Result<Json<CopyFile>, ApiError> {
    clerk(&town, &peer)?;
    let read = {
        let (town, peer) = (town.clone(), peer.clone());
        blocking(move || {
            let read = town.admit_read(request.request.as_bytes(), &peer)?;
            read_of(&read, ReadKind::Copy, None)?;
            Ok(read)
        })
        .await?
    };
    let code = read.request.resident.ok_or_else(|| ApiError::bad("a copy names a resident"))?;
    let to = peer.identity.to_uri();
    let Some(keeper) = read.request.keeper.map(|k| k.to_string()) else {
        return blocking(move || issue_copy(&town, code, &to, "copy", &read).map(Json)).await;
    };
    // 広域交付: the clerk's signed request goes to the town that keeps the record, verbatim;
    // that town checks it, records its provision naming the clerk and signs the copy; this
    // town verifies the copy and records its own provision naming the same clerk.
    let other = town
        .config
        .town(&keeper)
        .ok_or_else(|| {
            ApiError::new(Code::NotServed, format!("{keeper} is not a town this node knows"))
        })?
        .clone();
    let forwarded = CopyRequest { request: read.note.clone() };
    let identity = pki::Identity::municipal(&other.code).map_err(|e| anyhow!(e))?.to_uri();
    let response = crate::http::post(
        &town.client,
        &other.endpoint("/v1/wide-area/copies")?,
        serde_json::to_vec(&forwarded).map_err(|e| anyhow!(e))?,
        Some(identity.as_str()),
    )
    .await
    .map_err(|e| unreachable(&keeper, &e))?;
    if !response.status.is_success() {
        return Err(relay_refusal(&keeper, &response));
    }
    // The keeping town's copy is used only if its signature and evidence check out against
    // the keys the town was registered with.
    let trust = other.keys().trust().map_err(|e| anyhow!(e))?;
    let file: CopyFile = serde_json::from_slice(&response.body).map_err(|e| {
        ApiError::new(Code::PeerForged, format!("{keeper} did not send a copy: {e}"))
    })?;
    match wire::documents::verify_copy(&file, &trust) {
        Ok(verified) if verified.record.resident_code == code => {}
        Ok(_) => {
            let detail = format!("a wide-area copy from {keeper} is of another resident");
            lock(&town.journal).alert(town.clock.unix(), Code::PeerForged, &identity, &detail)?;
            return Err(ApiError::new(Code::PeerForged, detail));
        }
        Err(e) => {
            let detail = format!("a wide-area copy from {keeper} does not verify: {e}");
            lock(&town.journal).alert(town.clock.unix(), Code::PeerForged, &identity, &detail)?;
            return Err(ApiError::new(Code::PeerForged, detail));
        }
    }
    blocking(move || {
        town.record_read("wide-area-copy", code, &to, Some(identity.as_str()), &read)?;
        Ok(Json(file))
    })
    .await
}

#[utoipa::path(
    post,
    path = "/v1/wide-area/copies",
    tag = "municipal-network",
    summary = "Another town's node forwards its clerk's signed request for a copy of one of this town's residents (広域交付)",
    request_body(content = CopyRequest),
    responses((status = 200, body = CopyFile, description = "The copy, signed by this town's node key, with the evidence of its record"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn wide_area_copy(
    State(town): State<Shared>,
    peer: net::Peer,
    JsonBody(request): JsonBody<CopyRequest>,
) -> Result<Json<CopyFile>, ApiError> {
    let requester = match (&peer.identity.role, &peer.identity.code) {
        (pki::Role::Municipal, Some(code)) if peer.identity != town.identity => {
            MunicipalityCode::parse(code).map_err(|e| anyhow!(e))?
        }
        _ => {
            return Err(ApiError::new(
                Code::WrongPeer,
                "wide-area copies are asked for by other towns' nodes",
            ));
        }
    };
    blocking(move || {
        // This town does not hold the requesting town's registry: it checks that the clerk's
        // key signed the request it names, that the request is the requesting town's (which
        // the peer's certificate proves) for a resident of this town, and that the key's name
        // names that town; that the key is enrolled there and not revoked is what the
        // requesting node checked, and both records name the clerk and that node.
        let now = town.clock.unix();
        let opened = wire::read::open_from(request.request.as_bytes(), requester, town.code, now)
            .and_then(|read| {
                let named = registry_store::dir::OperatorKeyName::parse(read.reader());
                if named.is_some_and(|n| n.municipality == requester) {
                    Ok(read)
                } else {
                    Err(ReadRefusal::Unsigned(format!(
                        "the key {} is not named as an operator key of {requester}",
                        read.reader()
                    )))
                }
            });
        let read = town.answer_once(opened, &peer, now)?;
        read_of(&read, ReadKind::Copy, None)?;
        let code = read.request.resident.ok_or_else(|| ApiError::bad("a copy names a resident"))?;
        issue_copy(&town, code, &peer.identity.to_uri(), "wide-area-copy", &read).map(Json)
    })
    .await
}

#[utoipa::path(
    get,
    path = "/v1/move-outs/{code}",
    tag = "office",
    summary = "Fetch the national key's move-out certificate (転出証明書情報) for a resident moving in",
    params(("code" = String, Path, description = "The resident's 住民票コード (11 digits)"), FromTown),
    responses((status = 200, body = String, content_type = "text/plain", description = "The certificate (juki.move-out/v1), signed by the national key"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn move_out_certificate(
    State(town): State<Shared>,
    peer: net::Peer,
    Path(code): Path<String>,
    QueryOf(query): QueryOf<FromTown>,
) -> Result<Bytes, ApiError> {
    clerk(&town, &peer)?;
    let code = parse_resident(&code)?;
    let from =
        MunicipalityCode::parse(&query.from).map_err(|e| ApiError::bad(format!("from: {e}")))?;
    let national = town.national().clone();
    let response = crate::http::get(
        &town.client,
        &national.endpoint(&format!("/v1/move-outs/{code}?from={from}"))?,
        Some(national.identity.as_str()),
    )
    .await
    .map_err(|e| unreachable("the national node", &e))?;
    if !response.status.is_success() {
        return Err(relay_refusal("the national node", &response));
    }
    Ok(Bytes::from(response.body))
}

#[utoipa::path(
    post,
    path = "/v1/activations/{code}",
    tag = "office",
    summary = "Fetch the national signer's activation certificate: the code is active in no town, so a record may become active under it here",
    params(("code" = String, Path, description = "The resident's 住民票コード (11 digits)")),
    responses((status = 200, body = String, content_type = "text/plain", description = "The certificate (juki.activation/v1), signed by the national key"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn activation_certificate(
    State(town): State<Shared>,
    peer: net::Peer,
    Path(code): Path<String>,
) -> Result<Bytes, ApiError> {
    clerk(&town, &peer)?;
    let code = parse_resident(&code)?;
    let national = town.national().clone();
    let request = wire::api::ActivationRequest { resident: code.to_string() };
    let response = crate::http::post(
        &town.client,
        &national.endpoint("/v1/activations")?,
        serde_json::to_vec(&request).map_err(|e| anyhow::anyhow!(e))?,
        Some(national.identity.as_str()),
    )
    .await
    .map_err(|e| unreachable("the national node", &e))?;
    if !response.status.is_success() {
        return Err(relay_refusal("the national node", &response));
    }
    Ok(Bytes::from(response.body))
}

#[utoipa::path(
    post,
    path = "/v1/move-notices",
    tag = "municipal-network",
    summary = "The national node delivers a move-in notice (転入通知) or a move-out certificate's withdrawal",
    request_body(content = String, content_type = "text/plain", description = "The notice (juki.move-notice/v1) or withdrawal (juki.move-withdrawal/v1), signed by the national key"),
    responses((status = 200, body = String, content_type = "text/plain", description = "recorded, or already recorded"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn move_notice(
    State(town): State<Shared>,
    peer: net::Peer,
    body: Bytes,
) -> Result<&'static str, ApiError> {
    if peer.identity.role != pki::Role::National {
        return Err(ApiError::new(Code::WrongPeer, "move notices come from the national node"));
    }
    blocking(move || {
        let mut registry = lock(&town.registry);
        town.records_changes(&mut registry)?;
        match registry.submit(&body, town.clock.timestamp()) {
            Ok(_) => {
                town.appended.notify_one();
                Ok("recorded\n")
            }
            Err(StoreError::Refused(Refusal::NoticeRecorded)) => Ok("already recorded\n"),
            Err(StoreError::Refused(refusal)) => Err(ApiError::refusal(&refusal)),
            Err(e) => Err(anyhow::Error::from(e).into()),
        }
    })
    .await
}

#[utoipa::path(
    get,
    path = "/v1/replication/batch",
    tag = "municipal-network",
    summary = "An upstream node pulls the town's next batch",
    params(FromSize),
    responses((status = 200, body = Batch, description = "The next batch after `from`"), (status = 204, description = "Nothing new"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn pull(
    State(town): State<Shared>,
    peer: net::Peer,
    QueryOf(query): QueryOf<FromSize>,
) -> Result<axum::response::Response, ApiError> {
    let allowed = peer.identity.to_uri() == town.upstream().identity
        || peer.identity.role == pki::Role::National;
    if !allowed {
        return Err(ApiError::new(
            Code::WrongPeer,
            "only this town's upstream nodes may pull its events",
        ));
    }
    blocking(move || {
        town.integrate()?;
        Ok(match town.batch_from(query.from)? {
            Some(batch) => Json(batch).into_response(),
            // Nothing new: no content, and no error.
            None => axum::http::StatusCode::NO_CONTENT.into_response(),
        })
    })
    .await
}

#[utoipa::path(
    get,
    path = "/v1/status",
    tag = "municipal-network",
    summary = "The node's status (no personal data)",
    responses((status = 200, body = Status, description = "The node's status"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn status(State(town): State<Shared>, _peer: net::Peer) -> Result<Json<Status>, ApiError> {
    blocking(move || {
        let mut logs = std::collections::BTreeMap::new();
        logs.insert(
            town.config.origin.clone(),
            crate::logs::published_size(&town.dir.tiles(), &town.vkey, &town.config.origin)?,
        );
        let (pool, events) = {
            let registry = lock(&town.registry);
            let pool = registry.pool_remaining().map_err(anyhow::Error::from)?;
            (pool, registry.log_size().map_err(anyhow::Error::from)?)
        };
        let journal = lock(&town.journal);
        let acked = journal.ack(&town.config.origin, &town.upstream().identity)?.map(|(s, _)| s);
        Ok(Json(Status {
            name: town.config.name.clone(),
            identity: town.identity.to_uri(),
            logs,
            acked,
            pool: Some(pool),
            events: Some(events),
            verified: *lock(&town.verified),
            alerts: journal.alerts()?.len(),
        }))
    })
    .await
}

#[utoipa::path(
    get,
    path = "/v1/alerts",
    tag = "municipal-network",
    summary = "The alerts the node recorded (for the upper tiers and the monitoring)",
    params(wire::api::AlertsQuery),
    responses((status = 200, body = Vec<Alert>, description = "Every alert after `after`, oldest first"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn alerts(
    State(town): State<Shared>,
    peer: net::Peer,
    QueryOf(query): QueryOf<wire::api::AlertsQuery>,
) -> Result<Json<Vec<crate::journal::Alert>>, ApiError> {
    blocking(move || {
        crate::http::alerts_for(&peer, query.after, &town.journal, town.clock.as_ref()).map(Json)
    })
    .await
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "municipal-network",
    summary = "The node's metrics in the Prometheus text format (for the upper tiers and the monitoring)",
    responses((status = 200, body = String, content_type = "application/openmetrics-text", description = "Alerts by kind and severity; the registry's size and what its self-check last covered"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn metrics(
    State(town): State<Shared>,
    peer: net::Peer,
) -> Result<axum::response::Response, ApiError> {
    blocking(move || {
        crate::http::may_watch(&peer, "metrics", &town.journal, town.clock.as_ref())?;
        let events = lock(&town.registry).event_count().map_err(anyhow::Error::from)?;
        let verified = *lock(&town.verified);
        let tampered = town.tampered.load(std::sync::atomic::Ordering::SeqCst);
        let text = crate::alerting::metrics(&lock(&town.journal), |registry| {
            use prometheus_client::metrics::gauge::Gauge;
            let gauge = |value: i64| {
                let gauge = Gauge::<i64>::default();
                gauge.set(value);
                gauge
            };
            registry.register(
                "registry_events",
                "Events in the registry log",
                gauge(events as i64),
            );
            if let Some(verified) = verified {
                registry.register(
                    "selfcheck_verified_events",
                    "Events the last clean self-verification covered",
                    gauge(verified as i64),
                );
            }
            registry.register(
                "selfcheck_tampered",
                "1 while the registry's tables differ from its log (the town records no change)",
                gauge(i64::from(tampered)),
            );
        })?;
        Ok(crate::http::metrics_response(text))
    })
    .await
}

/// The office API's status: like every office endpoint, for this town's consoles only.
#[utoipa::path(
    get,
    path = "/v1/status",
    tag = "office",
    summary = "The node's status (no personal data)",
    responses((status = 200, body = Status, description = "The node's status"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn office_status(
    State(town): State<Shared>,
    peer: net::Peer,
) -> Result<Json<Status>, ApiError> {
    clerk(&town, &peer)?;
    status(State(town), peer).await
}

/// The office API's alerts: for this town's consoles only.
#[utoipa::path(
    get,
    path = "/v1/alerts",
    tag = "office",
    summary = "The alerts the node recorded",
    responses((status = 200, body = Vec<Alert>, description = "Every alert, oldest first"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn office_alerts(
    State(town): State<Shared>,
    peer: net::Peer,
) -> Result<Json<Vec<crate::journal::Alert>>, ApiError> {
    clerk(&town, &peer)?;
    blocking(move || Ok(Json(lock(&town.journal).alerts()?))).await
}

/// Runs a municipal node until `shutdown`.
pub async fn run(
    config: Arc<NodeConfig>,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let town = Arc::new(tokio::task::block_in_place(|| Town::open(config.clone(), clock))?);
    {
        let town = town.clone();
        // A witness that cannot be reached yet delays publication; it does not stop the node.
        if let Err(e) = tokio::task::spawn_blocking(move || town.integrate()).await? {
            eprintln!("{}: the first checkpoint is not published yet: {e:#}", config.name);
        }
    }
    {
        // The registry's tables are verified against its log before the node serves anyone: an
        // edit made while it was stopped (a code struck off, then reused) must never become
        // the basis of a signed change. A difference is a `tampered` alert, shipped upstream
        // once the node runs, and the town records no change until it is restored.
        let town = town.clone();
        tokio::task::spawn_blocking(move || {
            lock(&town.check).wait_built()?;
            town.self_check()
        })
        .await??;
    }

    let (office, _) = office_routes().split_for_parts();
    let office = office.with_state(town.clone());
    let (network, _) = network_routes().split_for_parts();
    let network = network.with_state(town.clone());
    let public = tlog_http::server::router(town.dir.tiles(), "/registry")
        .merge(tlog_http::server::router(town.provision_tiles.clone(), "/provisions"));

    let listen = &config.listen;
    let servers = Listeners::bind(
        &config,
        vec![
            Listener {
                name: "office",
                addr: listen.office.expect("checked at load"),
                router: office,
                auth: pki::ClientAuth::Required,
            },
            Listener {
                name: "network",
                addr: listen.network,
                router: network,
                auth: pki::ClientAuth::Required,
            },
            Listener {
                name: "public",
                addr: listen.public,
                router: public,
                auth: pki::ClientAuth::None,
            },
        ],
    )
    .await?
    .watched_by({
        let town = town.clone();
        move |actor, act| {
            let recorded = crate::task::lock(&town.journal).observe(town.clock.unix(), &actor, act);
            if let Err(e) = recorded {
                eprintln!("{}: recording a refused handshake failed: {e:#}", town.config.name);
            }
        }
    });
    eprintln!("{} ({}) serving", config.name, town.identity.to_uri());

    let interval = Duration::from_millis(config.interval_ms);
    let pusher = {
        let town = town.clone();
        tokio::spawn(async move {
            // Idle: the next round starts when a change is appended.
            let round = || {
                let town = town.clone();
                async move {
                    let pushed = town.push().await;
                    town.pushed(pushed.is_ok());
                    pushed
                }
            };
            let failed = |e: &anyhow::Error| {
                eprintln!("{}: replication to the prefecture: {e:#}", town.config.name)
            };
            rounds(interval, Some(&town.appended), round, failed).await
        })
    };
    // The provision log and the alerts go to the prefecture and to the national node, each on
    // its own: one that is down holds up its own copy only.
    let mut senders = Vec::new();
    for upstream in [town.upstream().clone(), town.national().clone()] {
        let (provisions, to) = (town.clone(), upstream.clone());
        senders.push(tokio::spawn(async move {
            let town = provisions;
            let round = || {
                let (town, to) = (town.clone(), to.clone());
                async move { town.push_provisions(to).await }
            };
            let failed = |e: &anyhow::Error| {
                eprintln!("{}: the provision log to {}: {e:#}", town.config.name, to.identity)
            };
            rounds(interval, None, round, failed).await
        }));
    }
    // The alerts, signed, to the prefecture and the national node, and to the sinks.
    senders.extend(crate::alerting::spawn(
        town.clone(),
        vec![town.upstream().clone(), town.national().clone()],
    ));
    let watcher = {
        let town = town.clone();
        tokio::spawn(async move {
            let every = Duration::from_millis(town.config.watch_ms);
            loop {
                let checked = {
                    let town = town.clone();
                    tokio::task::spawn_blocking(move || {
                        town.check_publication()?;
                        {
                            let node = town.identity.to_uri();
                            let mut journal = lock(&town.journal);
                            lock(&town.records).look(&mut journal, town.clock.unix(), &node)?;
                        }
                        town.self_check()
                    })
                    .await
                };
                match checked {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => eprintln!("{}: self-check: {e:#}", town.config.name),
                    Err(e) => eprintln!("{}: self-check: {e}", town.config.name),
                }
                tokio::time::sleep(every).await;
            }
        })
    };
    if let Some(baseline) = lock(&town.baseline).take() {
        senders.push(crate::manifest::spawn(town.clone(), baseline, town.clock.clone()));
    }
    let heartbeats = {
        let town = town.clone();
        tokio::spawn(async move {
            let every = Duration::from_millis(town.config.heartbeat_ms);
            // A peer's failure is logged when it starts, not at every beat.
            let mut failing = std::collections::BTreeSet::new();
            loop {
                match town.send_heartbeats().await {
                    Ok(outcomes) => {
                        for (peer, failure) in outcomes {
                            match failure {
                                Some(e) if failing.insert(peer.clone()) => {
                                    eprintln!("{}: heartbeat to {peer}: {e}", town.config.name)
                                }
                                Some(_) => {}
                                None => {
                                    failing.remove(&peer);
                                }
                            }
                        }
                    }
                    Err(e) => eprintln!("{}: heartbeat: {e:#}", town.config.name),
                }
                tokio::time::sleep(every).await;
            }
        })
    };
    let topper = {
        let town = town.clone();
        tokio::spawn(async move {
            let mut backoff = Backoff::new(Duration::from_millis(500));
            loop {
                let delay = match town.top_up().await {
                    Ok(()) => backoff.reset(),
                    Err(e) => {
                        eprintln!("{}: code block: {e:#}", town.config.name);
                        backoff.fail()
                    }
                };
                tokio::time::sleep(delay).await;
            }
        })
    };
    let served = servers.run(&config, shutdown).await;
    pusher.abort();
    heartbeats.abort();
    topper.abort();
    watcher.abort();
    for sender in senders {
        sender.abort();
    }
    served
}
