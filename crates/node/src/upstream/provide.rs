//! Identity provision to agencies, at the national and prefecture nodes: by 住民票コード, by
//! the four basic items, and in batches, each under a purpose of the signed catalogue.
//!
//! Every request is judged before anything is read: the agency's certificate (the handshake
//! already refused a revoked or expired one), its purpose in the catalogue, the items and
//! search that purpose allows, its rate and daily quota. A refusal is recorded as an attempt
//! (who, when, which code, which purpose) and counted by the behaviour rules. Whose record it
//! is can only be judged once it is found: a resident whose record a town outside the
//! purpose's jurisdiction (`within`) keeps is refused (`out-of-jurisdiction`, recorded and
//! alerted, nothing of the record provided), and a search ranks and names only the
//! jurisdiction's candidates. A lookup that finds nobody is recorded as a miss. A provision is recorded in the provision log before
//! the answer leaves, with the purpose and the items provided; the answer carries only those
//! items, with the node's signed statement and the proof of the event they come from (see
//! `wire::provide`). A lookup by code that needs no lock another holds, and nothing written
//! but its record, is judged on the async runtime's thread (`Hub::provide_now`); any other
//! request on a blocking thread (`Hub::provide`).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::anyhow;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use registry_domain::{RecordStatus, ResidentCode};
use wire::documents::Provision;
use wire::errors::{Code, ErrorBody};
use wire::provide::{
    BatchLine, ProvideRequest, Provided, ProvidedRecord, Seal, Statement, StatementBatch,
};
use wire::purposes::{Catalogue, Denied, Item, Purpose, items_text};

use super::{Hub, Shared, lock};
use crate::http::{ApiError, JsonBody, blocking};
use crate::proof::NotProven;
use crate::quota::{Over, Quotas};

/// Most lines one batch may hold.
pub const MAX_BATCH_LINES: usize = 100_000;
/// Most candidates fetched from each town for one match.
const MATCH_CANDIDATES: usize = 50;
/// Most candidates an answer names (each a provision of its code).
const MATCH_SHOWN: usize = 5;
/// Most bytes one batch may hold.
pub const MAX_BATCH_BYTES: usize = 32 << 20;

/// What the node provides under: the catalogue (if it has a valid one) and what each agency
/// used of it.
pub struct Provider {
    catalogue: Option<Catalogue>,
    quotas: std::sync::Mutex<Quotas>,
}

impl Provider {
    /// Reads the catalogue `node.toml` names, which must be signed by one of the national
    /// administrators it lists; none configured is a node that provides nothing.
    pub fn load(config: &crate::config::NodeConfig) -> anyhow::Result<Provider> {
        let catalogue = match &config.catalogue {
            None => None,
            Some(path) => {
                let path = config.dir.join(path);
                let note = std::fs::read(&path).map_err(|e| {
                    anyhow!("cannot read the catalogue of purposes {}: {e}", path.display())
                })?;
                let administrators: tlog::note::Verifiers = config
                    .administrators
                    .iter()
                    .map(|k| tlog::note::VerifierKey::parse(k))
                    .collect::<Result<_, _>>()?;
                let opened = tlog::note::open(&note, &administrators).map_err(|e| {
                    anyhow!(
                        "the catalogue of purposes {} is not signed by a national administrator \
                         this node lists ({e}); sign it with `juki purposes sign`",
                        path.display()
                    )
                })?;
                Some(Catalogue::parse(opened.text())?)
            }
        };
        Ok(Provider { catalogue, quotas: std::sync::Mutex::new(Quotas::default()) })
    }

    /// The purposes `agency` holds.
    pub fn purposes_of(&self, agency: &str) -> Vec<&Purpose> {
        self.catalogue
            .iter()
            .flat_map(|c| c.purposes.iter())
            .filter(|p| p.agency == agency)
            .collect()
    }
}

/// What one request was, once judged.
enum Asked {
    Code(ResidentCode),
    Query(wire::provide::FourItems),
}

/// How a judgment takes the node's locks: waiting for them (on a blocking thread), or never
/// waiting (on the async runtime's own thread, which hands the request to a blocking thread
/// when a lock is held — by a batch being applied to a mirror, say).
#[derive(Clone, Copy)]
enum Locks {
    Wait,
    Never,
}

impl Locks {
    /// `mutex`'s guard; `None` when another holds it and these locks never wait.
    fn take<T>(self, mutex: &std::sync::Mutex<T>) -> Option<std::sync::MutexGuard<'_, T>> {
        match self {
            Locks::Wait => Some(lock(mutex)),
            Locks::Never => match mutex.try_lock() {
                Ok(guard) => Some(guard),
                Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => None,
            },
        }
    }

    /// `rwlock`'s read guard; `None` when a writer holds it and these locks never wait.
    fn read<T>(self, rwlock: &std::sync::RwLock<T>) -> Option<std::sync::RwLockReadGuard<'_, T>> {
        match self {
            Locks::Wait => Some(rwlock.read().unwrap_or_else(|e| e.into_inner())),
            Locks::Never => match rwlock.try_read() {
                Ok(guard) => Some(guard),
                Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => None,
            },
        }
    }
}

/// The provisions `agency` received under `purpose` since `since`, as the quota counts them
/// (a count that cannot be read admits nothing more today).
fn used_since(
    journal: &crate::journal::Journal,
    agency: &str,
    purpose: &Purpose,
    since: u64,
) -> u32 {
    journal
        .provided_since(agency, &purpose.code, since)
        .map_or(u32::MAX, |n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// What the search of the mirrors for a code found.
enum Found {
    Proven(crate::proof::Proven),
    /// No town here has the code.
    Absent,
    /// A lock was held, or a proof has to be made again under one (never under [`Locks::Wait`]).
    Busy,
}

impl Hub {
    /// Judges and answers one request of `agency` (its verified identity URI).
    pub(super) fn provide(
        &self,
        agency: &str,
        request: ProvideRequest,
    ) -> Result<Answer, ApiError> {
        let time = self.clock.unix();
        let purpose_code = request.purpose.clone();
        let refuse = |code: Code, message: String| -> ApiError {
            if let Err(e) = lock(&self.journal).refused(time, agency, code, Some(&purpose_code)) {
                return e.into();
            }
            ApiError::new(code, message)
        };
        let Some(catalogue) = &self.provider.catalogue else {
            return Err(refuse(Code::NoCatalogue, "this node has no catalogue of purposes".into()));
        };
        let asked = match (request.resident, request.query) {
            (Some(code), None) => Asked::Code(
                ResidentCode::parse(&code)
                    .map_err(|e| refuse(Code::BadRequest, format!("resident code: {e}")))?,
            ),
            (None, Some(query)) => Asked::Query(query),
            _ => {
                return Err(refuse(
                    Code::BadRequest,
                    "a request names either `resident` (a 住民票コード) or `query` (the four \
                     basic items), not both and not neither"
                        .into(),
                ));
            }
        };
        let purpose = catalogue.held(agency, &request.purpose).ok_or_else(|| {
            refuse(
                Code::PurposeNotHeld,
                format!(
                    "{agency} holds no purpose {:?} in the catalogue issued at {}",
                    request.purpose.chars().take(40).collect::<String>(),
                    catalogue.issued
                ),
            )
        })?;
        let wanted = request.items.unwrap_or_else(|| purpose.items.clone());
        let search = matches!(asked, Asked::Query(_));
        purpose.allows(&wanted, search).map_err(|denied| match denied {
            Denied::NotHeld => refuse(Code::PurposeNotHeld, "purpose not held".into()),
            Denied::Items(beyond) => refuse(
                Code::ItemsNotAllowed,
                format!("purpose {} may not receive: {}", request.purpose, items_text(&beyond)),
            ),
            Denied::NoSearch => refuse(
                Code::ItemsNotAllowed,
                format!(
                    "purpose {} may not search by the four basic items; ask by 住民票コード",
                    request.purpose
                ),
            ),
        })?;
        let admitted = lock(&self.provider.quotas).admit(agency, purpose, time, |since| {
            used_since(&lock(&self.journal), agency, purpose, since)
        });
        match admitted {
            Ok(()) => {}
            Err(Over::Rate) => {
                return Err(refuse(
                    Code::RateLimited,
                    format!(
                        "more than {} requests a minute under {}",
                        purpose.per_minute, purpose.code
                    ),
                ));
            }
            Err(Over::Day) => {
                return Err(refuse(
                    Code::QuotaExceeded,
                    format!("more than {} requests today under {}", purpose.per_day, purpose.code),
                ));
            }
        }
        match asked {
            Asked::Code(code) => self
                .provide_code(agency, purpose, &wanted, code, time)
                .map(|u| Answer::Provided(Box::new(u))),
            Asked::Query(query) => self.provide_match(agency, purpose, &wanted, &query, time),
        }
    }

    /// Matches the four items against every town here: the candidates, best first, each
    /// returned code recorded as a provision of it, and the confident match provided.
    fn provide_match(
        &self,
        agency: &str,
        purpose: &Purpose,
        items: &BTreeSet<Item>,
        asked: &wire::provide::FourItems,
        time: u64,
    ) -> Result<Answer, ApiError> {
        let reading = (!asked.reading.trim().is_empty()).then_some(asked.reading.as_str());
        let query =
            matching::Query::parse(&asked.name, reading, &asked.birth, &asked.sex, &asked.address)
                .map_err(|e| {
                    if let Err(failed) = lock(&self.journal).refused(
                        time,
                        agency,
                        Code::BadRequest,
                        Some(&purpose.code),
                    ) {
                        return failed.into();
                    }
                    ApiError::bad(format!("the four items: {e}"))
                })?;
        let keys = query.keys();
        // Every town's candidates; a person who moved is one candidate, their active record.
        let mut found: std::collections::BTreeMap<
            ResidentCode,
            registry_domain::IdentityRecordParts,
        > = std::collections::BTreeMap::new();
        for mirror in self.mirrors.values() {
            let candidates = lock(mirror)
                .registry
                .match_candidates(&keys, MATCH_CANDIDATES)
                .map_err(|e| anyhow!("the candidates of a match: {e}"))?;
            for (code, record) in candidates {
                let keep = match found.get(&code) {
                    None => true,
                    Some(kept) => kept.status != RecordStatus::Active,
                };
                if keep {
                    found.insert(code, record);
                }
            }
        }
        // Only the purpose's jurisdiction is searched: a candidate whose record a town outside
        // it keeps is never ranked, named or recorded, so a search does not reveal them.
        found.retain(|_, record| purpose.covers(record.address.municipality()));
        let ranked = matching::rank(&query, found);
        // The confident match, proven; one whose record has left the jurisdiction since its
        // candidates were read is not named either.
        let mut left = None;
        let best = match ranked.best {
            Some(best) => match self.find_proven(best)? {
                Some(proven) if purpose.covers(proven.record.address.municipality()) => {
                    Some(proven)
                }
                Some(_) => {
                    left = Some(best);
                    None
                }
                None => None,
            },
            None => None,
        };
        let node = self.identity.to_uri();
        let mut candidates = Vec::new();
        for candidate in ranked.candidates.iter().filter(|c| Some(c.code) != left).take(MATCH_SHOWN)
        {
            // A code handed out is a provision of it, recorded like any other.
            let resident = candidate.code.to_string();
            lock(&self.journal).record(&Provision {
                kind: "match-candidate",
                resident: &resident,
                by: &node,
                to: agency,
                source: None,
                purpose: &purpose.code,
                items: Some("code"),
                time,
                operator: None,
                request: None,
            })?;
            let items = serde_json::to_value(candidate.items)
                .ok()
                .and_then(|v| v.as_object().cloned())
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
                .collect();
            candidates.push(wire::provide::MatchedCandidate {
                code: resident,
                score: candidate.score,
                items,
            });
        }
        let provided = match (ranked.best, best) {
            (_, Some(proven)) => {
                lock(&self.journal).observe(time, agency, crate::behaviour::Act::Read)?;
                Some(self.provided(agency, purpose, items, &proven, time)?.wait(self)?)
            }
            (Some(_), None) => None,
            (None, _) => {
                // No confident match is a miss: recorded and counted, like a code that is
                // nobody's.
                lock(&self.journal).missed(time, agency)?;
                None
            }
        };
        Ok(Answer::Matched(Box::new(wire::provide::Matched { provided, candidates })))
    }

    /// The record of `code` where the resident is active (else the latest closed one), proven
    /// against that town's witnessed checkpoint; `None` when no town here has the code.
    pub(super) fn find_proven(
        &self,
        code: ResidentCode,
    ) -> Result<Option<crate::proof::Proven>, ApiError> {
        match self.find_proven_taking(code, Locks::Wait)? {
            Found::Proven(proven) => Ok(Some(proven)),
            Found::Absent => Ok(None),
            Found::Busy => Err(anyhow!("a mirror's lock was busy where the search waits").into()),
        }
    }

    /// [`Hub::find_proven`], taking the mirrors' locks as `locks` says: [`Found::Busy`] when
    /// it would have to wait for one, or to prove again under one, under [`Locks::Never`].
    fn find_proven_taking(&self, code: ResidentCode, locks: Locks) -> Result<Found, ApiError> {
        let mut found: Option<crate::proof::Proven> = None;
        // Only the towns whose replicas hold a record of the code (the index never lacks one).
        let Some(towns) = locks.read(&self.residence).map(|residence| residence.towns(code)) else {
            return Ok(Found::Busy);
        };
        let replicas = towns.into_iter().filter_map(|slot| {
            let town = self.slots.get(usize::from(slot))?;
            Some((town, self.mirrors.get(town)?))
        });
        for (town, mirror) in replicas {
            // The events are read under the mirror's lock; the proving (receipts against the
            // witnessed checkpoint, the evidence's checks) runs without it, so that lookups of
            // one town run side by side.
            let gathered = {
                let Some(mirror) = locks.take(mirror) else { return Ok(Found::Busy) };
                crate::proof::gather(&mirror.registry, code).map(|events| (events, mirror.prover()))
            };
            let proven = match gathered.and_then(|(events, prover)| prover.prove(events, code)) {
                Ok(proven) => proven,
                Err(NotProven::NoResident) => continue,
                Err(_) if matches!(locks, Locks::Never) => return Ok(Found::Busy),
                // A batch applied meanwhile may have replaced the tiles that proof read: prove
                // again under the lock, where nothing moves, before concluding anything.
                Err(_) => match lock(mirror).prove(code) {
                    Ok(proven) => proven,
                    Err(NotProven::NoResident) => continue,
                    Err(other) => return Err(self.unproven(town, other)),
                },
            };
            // A code is active in one town at most (the mirrors apply a move-in only with the
            // signer's certificate, which custody gives out once): the active record ends the
            // search.
            if proven.record.status == RecordStatus::Active {
                return Ok(Found::Proven(proven));
            }
            if found.is_none() {
                found = Some(proven);
            }
        }
        Ok(found.map_or(Found::Absent, Found::Proven))
    }

    /// A lookup by code judged on the async runtime's own thread, when it can be without
    /// waiting for a lock or writing anything but the provision's record: the answer the
    /// blocking path would give, or `None` — a lock another holds, a refusal or a miss to
    /// record, a record to prove again — before anything was counted, so that the blocking
    /// path ([`Hub::provide`]) judges the request again from its start. The one write it
    /// may make is an alert a behaviour rule raises on this read, as that path would.
    pub(super) fn provide_now(
        &self,
        peer: &net::Peer,
        request: &ProvideRequest,
    ) -> Option<Result<Unsigned, ApiError>> {
        let time = self.clock.unix();
        if peer.identity.role != pki::Role::Agency || request.query.is_some() {
            return None;
        }
        let agency = peer.identity.to_uri();
        let code = ResidentCode::parse(request.resident.as_deref()?).ok()?;
        let purpose = self.provider.catalogue.as_ref()?.held(&agency, &request.purpose)?;
        let wanted = request.items.clone().unwrap_or_else(|| purpose.items.clone());
        purpose.allows(&wanted, false).ok()?;
        let Ok(Found::Proven(proven)) = self.find_proven_taking(code, Locks::Never) else {
            return None;
        };
        if !purpose.covers(proven.record.address.municipality()) {
            return None;
        }
        // Counted only from here, where nothing sends the request back.
        let mut quotas = Locks::Never.take(&self.provider.quotas)?;
        let mut journal = Locks::Never.take(&self.journal)?;
        quotas
            .admit(&agency, purpose, time, |since| used_since(&journal, &agency, purpose, since))
            .ok()?;
        drop(quotas);
        let observed = journal.observe(time, &agency, crate::behaviour::Act::Read);
        drop(journal);
        Some(
            observed
                .map_err(ApiError::from)
                .and_then(|()| self.provided(&agency, purpose, &wanted, &proven, time)),
        )
    }

    /// Provides the `items` of resident `code` under `purpose`, recorded first.
    fn provide_code(
        &self,
        agency: &str,
        purpose: &Purpose,
        items: &BTreeSet<Item>,
        code: ResidentCode,
        time: u64,
    ) -> Result<Unsigned, ApiError> {
        let Some(proven) = self.find_proven(code)? else {
            // A miss is an attempt: recorded, and counted (code walking).
            lock(&self.journal).missed(time, agency)?;
            return Err(ApiError::new(Code::NoResident, format!("no resident {code}")));
        };
        if !purpose.covers(proven.record.address.municipality()) {
            return Err(self.out_of_jurisdiction(agency, purpose, time));
        }
        lock(&self.journal).observe(time, agency, crate::behaviour::Act::Read)?;
        self.provided(agency, purpose, items, &proven, time)
    }

    /// Refuses a request under `purpose` for a resident whose record a town outside its
    /// jurisdiction keeps: nothing of the record is provided or recorded as provided; the
    /// refusal is an attempt and an alert about the agency, which names neither the resident
    /// nor their town.
    fn out_of_jurisdiction(&self, agency: &str, purpose: &Purpose, time: u64) -> ApiError {
        let detail = format!(
            "{agency} asked under purpose {} for a resident outside the purpose's jurisdiction",
            purpose.code
        );
        let recorded = lock(&self.journal).refused_alerted(
            time,
            agency,
            Code::OutOfJurisdiction,
            Some(&purpose.code),
            &detail,
        );
        if let Err(e) = recorded {
            return e.into();
        }
        let places: Vec<String> =
            purpose.within.iter().map(|place| format!("{place} {}", place.name())).collect();
        ApiError::new(
            Code::OutOfJurisdiction,
            format!(
                "purpose {} concerns the residents of {} alone; the resident asked for is not one \
                 of them, and nothing of their record was provided",
                purpose.code,
                places.join(", ")
            ),
        )
    }

    /// Queues the record of the provision of `proven`'s `items` and builds its answer, which
    /// is signed (and may leave) once that record is durable ([`Unsigned`]).
    fn provided(
        &self,
        agency: &str,
        purpose: &Purpose,
        items: &BTreeSet<Item>,
        proven: &crate::proof::Proven,
        time: u64,
    ) -> Result<Unsigned, ApiError> {
        let change =
            proven.receipts.first().ok_or_else(|| anyhow!("a proof without its change"))?;
        let event = change.extra.as_deref().ok_or_else(|| anyhow!("a change without its event"))?;
        let hash = tlog::hash::sha256(event);
        let kind = String::from_utf8_lossy(event.split(|&b| b == b'\n').next().unwrap_or(b""))
            .into_owned();
        let town = tlog::note::Note::parse(&change.checkpoint)
            .ok()
            .and_then(|note| tlog::checkpoint::Checkpoint::parse(note.text()).ok())
            .map(|checkpoint| checkpoint.origin)
            .ok_or_else(|| anyhow!("a proof whose checkpoint names no origin"))?;
        let resident = proven.record.resident_code.to_string();
        let node = self.identity.to_uri();
        let items_line = items_text(items);
        let provision = Provision {
            kind: "identity",
            resident: &resident,
            by: &node,
            to: agency,
            source: None,
            purpose: &purpose.code,
            items: Some(&items_line),
            time,
            operator: None,
            request: None,
        };
        let recording = self.recorder.enqueue(&provision)?;
        let record = ProvidedRecord::of(&proven.record, items);
        let statement = Statement {
            node,
            // The record's index, known once it is durable.
            provision: 0,
            to: agency.to_owned(),
            purpose: purpose.code.clone(),
            time,
            town,
            index: change.index,
            event: hash.to_base64(),
            kind,
            record: record.clone(),
        };
        let proof = tlog::receipt::Receipt { extra: None, ..change.clone() };
        let whole = Item::ALL.iter().all(|item| items.contains(item));
        Ok(Unsigned {
            recording,
            statement,
            record,
            proof: String::from_utf8(proof.to_bytes()).map_err(anyhow::Error::from)?,
            evidence: if whole { proven.texts()? } else { Vec::new() },
        })
    }
}

/// A provision decided and proven, its record queued in the provision log: the answer, which
/// names that record in its signed statement and so is signed only once the record is
/// durable — nothing leaves before its provision is recorded.
pub(super) struct Unsigned {
    recording: crate::journal::Recording,
    statement: Statement,
    record: ProvidedRecord,
    proof: String,
    evidence: Vec<String>,
}

impl Unsigned {
    /// The answer, once its record is durable and its statement sealed (no thread waits
    /// meanwhile).
    pub(super) async fn durable(self, hub: &Hub) -> Result<Provided, ApiError> {
        let Unsigned { recording, mut statement, record, proof, evidence } = self;
        statement.provision = recording.durable().await?;
        let text = statement.text();
        let seal = hub.sealer.seal(text.clone())?.await.map_err(|_| sealer_stopped())??;
        Ok(Provided { record, statement: text, seal, proof, evidence })
    }

    /// The answer, once its record is durable and its statement sealed, blocking this thread
    /// (a batch's workers).
    fn wait(self, hub: &Hub) -> Result<Provided, ApiError> {
        let Unsigned { recording, mut statement, record, proof, evidence } = self;
        statement.provision = recording.wait()?;
        let text = statement.text();
        let seal =
            hub.sealer.seal(text.clone())?.blocking_recv().map_err(|_| sealer_stopped())??;
        Ok(Provided { record, statement: text, seal, proof, evidence })
    }
}

fn sealer_stopped() -> ApiError {
    anyhow!("the statement sealer has stopped").into()
}

/// A statement waiting for its seal, and where the seal goes.
type ToSeal = (String, tokio::sync::oneshot::Sender<Result<Seal, ApiError>>);

/// Signs statements in batches (see `wire::provide`): a task takes every statement waiting,
/// builds their tree, signs one `juki.provided-batch/v1` note with the node's key and gives
/// each statement its seal. While it signs, new statements wait, so a batch grows with the
/// load and one signature serves all of it; alone, a statement is a batch of one.
pub(super) struct Sealer {
    queue: tokio::sync::mpsc::UnboundedSender<ToSeal>,
}

impl Sealer {
    /// The most statements one batch takes.
    const BATCH: usize = 4096;

    /// Starts the sealing task on `runtime`, signing as `node` (its identity URI) with `key`.
    pub(super) fn start(
        runtime: &tokio::runtime::Handle,
        node: String,
        key: tlog::note::Signer,
    ) -> Sealer {
        let (queue, mut waiting) = tokio::sync::mpsc::unbounded_channel::<ToSeal>();
        runtime.spawn(async move {
            let mut batch = Vec::new();
            while waiting.recv_many(&mut batch, Sealer::BATCH).await > 0 {
                // The answers one commit made durable were woken together: let them run and
                // queue their statements before this batch is cut.
                tokio::task::yield_now().await;
                while batch.len() < Sealer::BATCH {
                    match waiting.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let taken = std::mem::take(&mut batch);
                Sealer::seal_batch(&node, &key, taken);
            }
        });
        Sealer { queue }
    }

    /// Queues `statement` (its text) for sealing; its seal arrives on the receiver.
    fn seal(
        &self,
        statement: String,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<Seal, ApiError>>, ApiError> {
        let (reply, sealed) = tokio::sync::oneshot::channel();
        self.queue.send((statement, reply)).map_err(|_| sealer_stopped())?;
        Ok(sealed)
    }

    /// Signs one batch and answers each of its statements.
    fn seal_batch(node: &str, key: &tlog::note::Signer, batch: Vec<ToSeal>) {
        let texts: Vec<&str> = batch.iter().map(|(text, _)| text.as_str()).collect();
        let (signed, tree) = StatementBatch::of(node, &texts);
        let note = crate::logs::sign_text(signed.text(), key)
            .map_err(|e| e.to_string())
            .and_then(|note| String::from_utf8(note).map_err(|e| e.to_string()));
        for (index, (_, reply)) in batch.into_iter().enumerate() {
            let seal = note
                .clone()
                .and_then(|note| Seal::new(note, index as u64, &tree))
                .map_err(|e| anyhow!("sealing a statement: {e}").into());
            let _ = reply.send(seal);
        }
    }
}

/// One request's answer.
pub(super) enum Answer {
    Provided(Box<Unsigned>),
    // Made by the four-item search, which this node does not serve yet.
    Matched(Box<wire::provide::Matched>),
}

/// The agency's verified identity, or the refusal (and alert) of any other peer.
fn agency_of(hub: &Hub, peer: &net::Peer) -> Result<String, ApiError> {
    let uri = peer.identity.to_uri();
    if peer.identity.role != pki::Role::Agency {
        let detail = "identity information is provided to agencies alone";
        lock(&hub.journal).alert(hub.clock.unix(), Code::WrongPeer, &uri, detail)?;
        return Err(ApiError::new(Code::WrongPeer, detail));
    }
    Ok(uri)
}

#[utoipa::path(
    post,
    path = "/v1/provide",
    tag = "provision",
    summary = "An agency asks for a resident's identity information by 住民票コード, under a purpose of the catalogue",
    request_body(content = ProvideRequest),
    responses((status = 200, body = Provided, description = "The items the purpose may receive, the node's signed statement of them and the proof of the event they come from (and, when the purpose may receive every item, the event's whole evidence)"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md; it is recorded"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
pub(super) async fn provide(
    State(hub): State<Shared>,
    peer: net::Peer,
    JsonBody(request): JsonBody<ProvideRequest>,
) -> Result<Json<Provided>, ApiError> {
    // A lookup that needs no lock another holds and nothing written but its record is judged
    // here, on the runtime's thread: its reads are a few cached pages, and handing it to a
    // blocking thread and back cost more than the judging (a fifth of the node's CPU per
    // lookup in `juki bench provision`). Any other is judged again, from its start, on a
    // blocking thread, a few at a time. The wait for the record's commit holds neither a
    // thread nor a slot.
    let unsigned = if let Some(now) = hub.provide_now(&peer, &request) {
        now?
    } else {
        let _slot = hub.provision_slots.acquire().await.map_err(anyhow::Error::from)?;
        let hub = hub.clone();
        blocking(move || {
            let agency = agency_of(&hub, &peer)?;
            if request.query.is_some() {
                return Err(ApiError::bad("a search by the four items goes to /v1/provide/match"));
            }
            match hub.provide(&agency, request)? {
                Answer::Provided(unsigned) => Ok(*unsigned),
                Answer::Matched(_) => Err(anyhow!("a lookup by code answered with a match").into()),
            }
        })
        .await?
    };
    unsigned.durable(&hub).await.map(Json)
}

#[utoipa::path(
    post,
    path = "/v1/provide/match",
    tag = "provision",
    summary = "An agency asks by the four basic items (氏名, 生年月日, 性別, 住所) under a purpose that may search: the ranked candidates and the confident match, provided",
    request_body(content = ProvideRequest),
    responses((status = 200, body = wire::provide::Matched, description = "The candidates, best first, with how each item matched (each code named is a recorded provision), and the confident match's items with their statement and proof"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md; it is recorded"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
pub(super) async fn provide_match(
    State(hub): State<Shared>,
    peer: net::Peer,
    JsonBody(request): JsonBody<ProvideRequest>,
) -> Result<Json<wire::provide::Matched>, ApiError> {
    blocking(move || {
        let agency = agency_of(&hub, &peer)?;
        if request.query.is_none() {
            return Err(ApiError::bad(
                "a match names `query`, the four basic items; a lookup by code goes to /v1/provide",
            ));
        }
        match hub.provide(&agency, request)? {
            Answer::Matched(matched) => Ok(Json(*matched)),
            Answer::Provided(_) => Err(anyhow!("a match answered with a lookup").into()),
        }
    })
    .await
}

#[utoipa::path(
    post,
    path = "/v1/provide/batch",
    tag = "provision",
    summary = "An agency's batch: JSON Lines of provision requests (by code or by the four items), answered as a stream of JSON Lines in request order",
    request_body(content = String, content_type = "application/jsonl", description = "One ProvideRequest per line"),
    responses((status = 200, body = BatchLine, content_type = "application/jsonl", description = "One BatchLine per request line, streamed as each is answered"), (status = "4XX", body = ErrorBody, description = "The batch as a whole is refused: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node failed"))
)]
pub(super) async fn provide_batch(
    State(hub): State<Shared>,
    peer: net::Peer,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let agency = {
        let (hub, peer) = (hub.clone(), peer.clone());
        blocking(move || agency_of(&hub, &peer)).await?
    };
    let body = axum::body::to_bytes(body, MAX_BATCH_BYTES).await.map_err(|_| {
        ApiError::bad(format!("a batch holds at most {MAX_BATCH_BYTES} bytes; split it"))
    })?;
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::bad("a batch is UTF-8 JSON Lines"))?;
    let count = text.lines().filter(|l| !l.trim().is_empty()).count();
    if count > MAX_BATCH_LINES {
        return Err(ApiError::bad(format!(
            "a batch holds at most {MAX_BATCH_LINES} requests, this one {count}; split it"
        )));
    }
    let (send, receive) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(64);
    tokio::task::spawn_blocking(move || answer_lines(&hub, &agency, &text, &send));
    let stream = futures_util::stream::unfold(receive, |mut receive| async move {
        receive.recv().await.map(|line| (line, receive))
    });
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/jsonl")],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}

/// Threads answering the lines of one batch: their provisions share the provision log's
/// commits, as separate requests do.
const BATCH_WORKERS: usize = 8;
/// How far ahead of the last line sent a batch's lines are answered.
const BATCH_AHEAD: usize = 64;

/// Answers each line of a batch and sends the answers in request order. Several lines are
/// answered at once, each recorded before its answer is sent; when the agency goes away,
/// no further line is taken (the lines already answered are recorded, the rest not read).
fn answer_lines(
    hub: &Hub,
    agency: &str,
    text: &str,
    send: &tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
) {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let lines: Vec<(u64, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(number, line)| (number as u64 + 1, line))
        .collect();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let sent = std::sync::Mutex::new(0usize);
    let moved = std::sync::Condvar::new();
    std::thread::scope(|scope| {
        let (done, answered) = std::sync::mpsc::channel::<(usize, Vec<u8>)>();
        for _ in 0..BATCH_WORKERS.min(lines.len()) {
            let done = done.clone();
            let (lines, next, stop, sent, moved) = (&lines, &next, &stop, &sent, &moved);
            scope.spawn(move || {
                loop {
                    let at = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(number, line)) = lines.get(at) else { return };
                    // Not too far ahead of what the agency has taken.
                    let mut taken = lock(sent);
                    while at >= *taken + BATCH_AHEAD && !stop.load(Ordering::Relaxed) {
                        taken = moved.wait(taken).unwrap_or_else(|e| e.into_inner());
                    }
                    drop(taken);
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    if done.send((at, answer_line(hub, agency, number, line))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done);
        let mut waiting = BTreeMap::new();
        let mut count = 0usize;
        for (at, bytes) in answered.iter() {
            waiting.insert(at, bytes);
            while let Some(bytes) = waiting.remove(&count) {
                if send.blocking_send(Ok(bytes)).is_err() {
                    // The agency went away.
                    stop.store(true, Ordering::Relaxed);
                    moved.notify_all();
                    return;
                }
                count += 1;
                *lock(&sent) = count;
                moved.notify_all();
            }
        }
    });
}

/// One line of a batch, answered: its `BatchLine` as JSON, with its newline.
fn answer_line(hub: &Hub, agency: &str, number: u64, line: &str) -> Vec<u8> {
    let mut answer = BatchLine { line: number, provided: None, matched: None, error: None };
    let outcome = serde_json::from_str::<ProvideRequest>(line)
        .map_err(|e| ApiError::bad(format!("line {number} is not a request: {e}")))
        .and_then(|request| hub.provide(agency, request));
    match outcome {
        Ok(Answer::Provided(unsigned)) => match unsigned.wait(hub) {
            Ok(provided) => answer.provided = Some(provided),
            Err(error) => answer.error = Some(error.body()),
        },
        Ok(Answer::Matched(matched)) => answer.matched = Some(*matched),
        Err(error) => answer.error = Some(error.body()),
    }
    let mut bytes = serde_json::to_vec(&answer).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

#[utoipa::path(
    get,
    path = "/v1/purposes",
    tag = "provision",
    summary = "The purposes the asking agency holds in the catalogue, with their items and bounds",
    responses((status = 200, body = Vec<wire::api::PurposeJson>, description = "The agency's purposes"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"))
)]
pub(super) async fn purposes(
    State(hub): State<Shared>,
    peer: net::Peer,
) -> Result<Json<Vec<wire::api::PurposeJson>>, ApiError> {
    blocking(move || {
        let agency = agency_of(&hub, &peer)?;
        Ok(Json(
            hub.provider.purposes_of(&agency).into_iter().map(wire::api::PurposeJson::of).collect(),
        ))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_s_judging_never_waits_for_a_lock_and_the_blocking_path_always_does() {
        let mutex = std::sync::Mutex::new(7);
        {
            let _held = lock(&mutex);
            assert!(Locks::Never.take(&mutex).is_none(), "a held lock sends the request back");
        }
        assert_eq!(Locks::Never.take(&mutex).map(|guard| *guard), Some(7));
        assert_eq!(Locks::Wait.take(&mutex).map(|guard| *guard), Some(7));
        // A lock poisoned by a panicking holder is taken, as `lock` takes it.
        let poisoned = std::sync::Arc::new(std::sync::Mutex::new(8));
        let holder = poisoned.clone();
        let _ = std::thread::spawn(move || {
            let _guard = holder.lock().unwrap();
            panic!("poisoning the lock");
        })
        .join();
        assert!(poisoned.is_poisoned());
        assert_eq!(Locks::Never.take(&poisoned).map(|guard| *guard), Some(8));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn statements_queued_together_are_sealed_by_one_signature_and_each_verifies() {
        let node = "urn:juki:national";
        let key =
            tlog::note::Signer::from_seed(node, tlog::note::KeyKind::Ed25519, [3; 32]).unwrap();
        let keys: tlog::note::Verifiers = [key.verifier()].into_iter().collect();
        let sealer = Sealer::start(&tokio::runtime::Handle::current(), node.to_owned(), key);
        let texts: Vec<String> =
            (0..50).map(|i| format!("juki.provided/v1\nprovision {i}\n")).collect();
        let waiting: Vec<_> = texts.iter().map(|t| sealer.seal(t.clone()).unwrap()).collect();
        let mut batches = std::collections::BTreeSet::new();
        for (text, sealed) in texts.iter().zip(waiting) {
            let seal = sealed.await.unwrap().unwrap();
            seal.verify(text, node, &keys).unwrap();
            assert!(seal.verify(&texts[0].replace('0', "00"), node, &keys).is_err());
            batches.insert(seal.batch);
        }
        // Queued before the sealer ran: one batch, one signature.
        assert_eq!(batches.len(), 1);
        let batch = batches.into_iter().next().unwrap();
        let opened = tlog::note::open(batch.as_bytes(), &keys).unwrap();
        assert_eq!(StatementBatch::parse(opened.text()).unwrap().size, 50);
    }
}
