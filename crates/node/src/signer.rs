//! The national signer: the one holder of the national key, apart from the national node. It
//! signs a move-out certificate (転出証明書情報), a move notice (転入通知) or a resident-code
//! block only after checking the evidence itself — the operator-signed event with its proof
//! to the town's witnessed checkpoint, against the town's registration — or, for a block, its
//! own allocation policy (no overlap, placed at random). Every statement it signs is an entry
//! in its issuance log, whose tiles it publishes, so anyone can audit what the national key
//! signed. Only the national node may ask it. Root on the national node can delay a
//! certificate; it cannot mint one.
//!
//! One active record per person: the signer keeps its last certificate for every code
//! (custody, in its journal beside the issuance log) and certifies a move-out or an activation
//! only when `registry_core::custody::released` says the evidence shows the code closed in the
//! one town where that certificate (or, if none, the code's block) says it may be active. A move
//! already certified is undone only by a withdrawal, an event for the town moved to, which the
//! signer signs while the move-out certificate is its last word on the code.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use registry_core::custody::{self, Certified, Shown};
use registry_core::event::{CodeBlock, Event};
use registry_core::evidence::{self, ProvenChange, TownTrust};
use registry_core::moves::{ActivationCertificate, MoveOutCertificate, MoveWithdrawal, note_hash};
use registry_domain::{MunicipalityCode, ResidentCode};
use tlog_http::witness_client::WitnessSet;
use tlog_store::integrate::NoteSigner;
use tlog_store::tiledir::TileDir;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wire::api::{
    Alert, SignActivation, SignCodeBlock, SignMoveNotice, SignMoveOut, SignWithdrawal, Status,
};
use wire::errors::{Code, ErrorBody};

use crate::clock::Clock;
use crate::config::NodeConfig;
use crate::http::{ApiError, JsonBody, blocking};
use crate::journal::Journal;
use crate::listeners::{Listener, Listeners};
use crate::policy::{self, Allocation};
use crate::task::{Backoff, lock};

/// The national key's file in the signer's directory.
pub const NATIONAL_KEY: &str = "national.key";
/// The shortest time between two new code blocks for one town (seconds). A block holds 100,000
/// codes; the largest towns register a few hundred births and move-ins a day.
pub const BLOCK_INTERVAL: u64 = 3600;
/// The issuance log's tiles, beside `node.db`.
pub const ISSUANCE_TILES: &str = "issuance";

/// The signer's state.
pub struct Issuer {
    config: Arc<NodeConfig>,
    identity: pki::Identity,
    national: tlog::note::Signer,
    journal: Mutex<Journal>,
    log_signer: NoteSigner,
    log_vkey: tlog::note::VerifierKey,
    tiles: TileDir,
    towns: BTreeMap<MunicipalityCode, TownTrust>,
    clock: Arc<dyn Clock>,
    /// The witnesses that cosign the issuance log's checkpoints before they are published.
    witnesses: WitnessSet,
    /// The signer's runtime: integration runs on a blocking thread and asks the witnesses
    /// through it.
    runtime: tokio::runtime::Handle,
}

/// The signer's state, as its handlers share it.
pub type Shared = Arc<Issuer>;

impl crate::alerting::Alerting for Issuer {
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

impl Issuer {
    /// Opens the signer's directory: the national key, the issuance log, the towns'
    /// registrations.
    pub fn open(config: Arc<NodeConfig>, clock: Arc<dyn Clock>) -> Result<Issuer> {
        keyfile::private::create_dir_all(&config.dir)?;
        let national = tlog_store::keys::load_signer(&config.dir.join(NATIONAL_KEY), None)?;
        if national.verifier() != config.national_key() {
            bail!("{NATIONAL_KEY} is not the national key named in node.toml");
        }
        let mut journal = Journal::open(&config.dir.join(crate::logs::NODE_DB))?;
        journal.watch_with(config.behaviour.clone())?;
        let log_key =
            tlog_store::keys::load_log_signer(&config.dir.join("node.key"), &config.origin)?;
        let log_vkey = log_key.verifier();
        let log_signer = NoteSigner::new(log_key)?;
        let mut towns = BTreeMap::new();
        for town in &config.towns {
            let trust = town.keys().trust()?;
            towns.insert(trust.municipality, trust);
        }
        let witnesses = WitnessSet::new(
            config
                .witnesses
                .iter()
                .map(|w| {
                    Ok((
                        crate::report::resolve_url(&w.url)?,
                        tlog::note::VerifierKey::parse(&w.vkey)?,
                    ))
                })
                .collect::<Result<Vec<_>>>()?,
            config.witness_quorum,
        )?;
        Ok(Issuer {
            witnesses,
            runtime: tokio::runtime::Handle::current(),
            identity: config.identity()?,
            national,
            journal: Mutex::new(journal),
            log_signer,
            log_vkey,
            tiles: TileDir::new(config.dir.join(ISSUANCE_TILES)),
            towns,
            clock,
            config,
        })
    }

    /// Integrates the issuance log; its checkpoint is published only once the witness quorum
    /// has cosigned it, so that what the national key signed cannot be shown one way to one
    /// auditor and another way to another.
    fn integrate(&self) -> Result<()> {
        let journal = lock(&self.journal);
        let mut cosign = |integration: &tlog_store::integrate::Integration| {
            self.runtime.block_on(self.witnesses.cosign(&self.tiles, integration))
        };
        tlog_store::integrate::integrate(&*journal, &self.tiles, &self.log_signer, &mut cosign)?;
        Ok(())
    }

    /// The registered town `text` names.
    fn registered(&self, text: &str) -> Result<MunicipalityCode, ApiError> {
        let municipality = MunicipalityCode::parse(text)
            .map_err(|e| ApiError::bad(format!("municipality: {e}")))?;
        if !self.towns.contains_key(&municipality) {
            return Err(ApiError::new(
                Code::NotServed,
                format!("{municipality} is not a town registered with the signer"),
            ));
        }
        Ok(municipality)
    }

    /// Only the national node asks; anyone else is recorded.
    fn national_only(&self, peer: &net::Peer) -> Result<(), ApiError> {
        if peer.identity.role == pki::Role::National {
            return Ok(());
        }
        let detail = format!("a {} certificate asked the national signer", peer.identity);
        lock(&self.journal).alert(
            self.clock.unix(),
            Code::WrongPeer,
            &peer.identity.to_uri(),
            &detail,
        )?;
        Err(ApiError::new(Code::WrongPeer, "only the national node asks the national signer"))
    }

    /// Verifies evidence against the registration of the town its change names. A failure is
    /// an alert: the national node (or the path to it) sent what no town's log holds.
    fn verify(
        &self,
        texts: &[String],
        peer: &net::Peer,
    ) -> Result<registry_core::evidence::ProvenChange, ApiError> {
        let receipts = evidence::parse(texts)
            .map_err(|e| ApiError::new(Code::BadEvidence, format!("the evidence: {e}")))?;
        let trust = evidence::town_of(&receipts).and_then(|town| self.towns.get(&town));
        let outcome = match trust {
            Some(trust) => evidence::verify(&receipts, trust).map_err(|e| e.to_string()),
            None => Err("the evidence names no registered town".to_owned()),
        };
        outcome.or_else(|detail| {
            let detail = format!("evidence that does not prove itself: {detail}");
            lock(&self.journal).alert(
                self.clock.unix(),
                Code::BadEvidence,
                &peer.identity.to_uri(),
                &detail,
            )?;
            Err(ApiError::new(Code::BadEvidence, detail))
        })
    }

    /// The signer's last certificate for `code`, as custody reads it.
    fn last(&self, code: ResidentCode) -> Result<Option<Certified>, ApiError> {
        let Some(note) = lock(&self.journal).certified(&code.to_string())? else {
            return Ok(None);
        };
        let corrupt = |e: String| anyhow::anyhow!("the signer's custody of {code}: {e}");
        let parsed = tlog::note::Note::parse(&note).map_err(|e| corrupt(e.to_string()))?;
        let text = parsed.text();
        let certified = if text.starts_with(registry_core::moves::MOVE_OUT) {
            MoveOutCertificate::parse(text).map(|c| Certified::move_out(&c))
        } else {
            ActivationCertificate::parse(text).map(|c| Certified::activation(&c))
        };
        Ok(Some(certified.map_err(|e| corrupt(e.to_string()))?))
    }

    /// The town `code`'s block was allocated to by this signer.
    fn owner(&self, code: ResidentCode) -> Result<Option<MunicipalityCode>, ApiError> {
        let owner = lock(&self.journal).owner_of(code.ten_digits())?;
        Ok(owner.and_then(|o| MunicipalityCode::parse(&o).ok()))
    }

    /// Whether the evidence shows `code` closed everywhere; a refusal is an alert, since a
    /// request for a person active elsewhere is how a second record looks.
    fn released(&self, shown: &Shown<'_>, peer: &net::Peer) -> Result<custody::Released, ApiError> {
        let code = shown.closed.change.record.resident_code;
        let last = self.last(code)?;
        custody::released(last.as_ref(), self.owner(code)?, shown, &self.national.verifier())
            .or_else(|e| {
                let detail = e.to_string();
                lock(&self.journal).alert(
                    self.clock.unix(),
                    Code::StillActive,
                    &peer.identity.to_uri(),
                    &detail,
                )?;
                Err(ApiError::new(Code::StillActive, detail))
            })
    }

    /// Verifies optional evidence (see [`Issuer::verify`]).
    fn verify_optional(
        &self,
        texts: Option<&[String]>,
        peer: &net::Peer,
    ) -> Result<Option<ProvenChange>, ApiError> {
        texts.map(|texts| self.verify(texts, peer)).transpose()
    }

    /// Verifies one receipt of a withdrawal in the log of the town it names.
    fn verify_withdrawal(&self, text: &str, peer: &net::Peer) -> Result<MoveWithdrawal, ApiError> {
        let receipts = evidence::parse(&[text])
            .map_err(|e| ApiError::new(Code::BadEvidence, format!("the withdrawal: {e}")))?;
        let trust = evidence::town_of(&receipts).and_then(|town| self.towns.get(&town));
        let outcome = match trust {
            Some(trust) => {
                evidence::verify_national(&receipts[0], trust, &self.national.verifier())
                    .map_err(|e| e.to_string())
                    .and_then(|(_, event)| match event {
                        Event::MoveWithdrawal(w) => Ok(w),
                        _ => Err("the event proven is not a withdrawal".to_owned()),
                    })
            }
            None => Err("the withdrawal names no registered town".to_owned()),
        };
        outcome.or_else(|detail| {
            let detail = format!("a withdrawal that does not prove itself: {detail}");
            lock(&self.journal).alert(
                self.clock.unix(),
                Code::BadEvidence,
                &peer.identity.to_uri(),
                &detail,
            )?;
            Err(ApiError::new(Code::BadEvidence, detail))
        })
    }

    /// Signs a certificate for `code` with the national key and records it, in one transaction,
    /// in the issuance log and as the signer's last word on the code.
    fn certify(&self, kind: &str, code: ResidentCode, text: String) -> Result<Vec<u8>, ApiError> {
        let signed = crate::logs::sign_text(text, &self.national)?;
        lock(&self.journal).append_certified(kind, &code.to_string(), &signed)?;
        Ok(signed)
    }

    /// Signs `text` with the national key and records it in the issuance log first.
    fn issue(&self, kind: &str, resident: Option<&str>, text: String) -> Result<Vec<u8>, ApiError> {
        let signed = crate::logs::sign_text(text, &self.national)?;
        lock(&self.journal).append(kind, resident, &signed)?;
        Ok(signed)
    }
}

/// The signer's routes (the national node only), each with its OpenAPI description.
pub fn network_routes() -> OpenApiRouter<Shared> {
    OpenApiRouter::new()
        .routes(routes!(sign_move_out))
        .routes(routes!(sign_move_notice))
        .routes(routes!(sign_activation))
        .routes(routes!(sign_withdrawal))
        .routes(routes!(sign_code_block))
        .routes(routes!(status))
        .routes(routes!(alerts))
        .routes(routes!(metrics))
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "signer",
    summary = "The signer's metrics in the Prometheus text format (for the national node and the monitoring)",
    responses((status = 200, body = String, content_type = "application/openmetrics-text", description = "Alerts by kind and severity"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn metrics(
    State(issuer): State<Shared>,
    peer: net::Peer,
) -> Result<axum::response::Response, ApiError> {
    crate::http::blocking(move || {
        crate::http::may_watch(&peer, "metrics", &issuer.journal, issuer.clock.as_ref())?;
        let text = crate::alerting::metrics(&crate::task::lock(&issuer.journal), |_| {})?;
        Ok(crate::http::metrics_response(text))
    })
    .await
}

#[utoipa::path(
    get,
    path = "/v1/status",
    tag = "signer",
    summary = "The signer's status (no personal data): its issuance log's size and its alerts' count",
    responses((status = 200, body = Status, description = "The signer's status"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn status(State(issuer): State<Shared>, _peer: net::Peer) -> Result<Json<Status>, ApiError> {
    blocking(move || {
        let size =
            crate::logs::published_size(&issuer.tiles, &issuer.log_vkey, &issuer.config.origin)?;
        let alerts = lock(&issuer.journal).alerts()?.len();
        Ok(Json(Status {
            name: issuer.config.name.clone(),
            identity: issuer.identity.to_uri(),
            logs: [(issuer.config.origin.clone(), size)].into_iter().collect(),
            acked: None,
            pool: None,
            events: None,
            verified: None,
            alerts,
        }))
    })
    .await
}

#[utoipa::path(
    get,
    path = "/v1/alerts",
    tag = "signer",
    summary = "The alerts the signer recorded",
    responses((status = 200, body = Vec<Alert>, description = "Every alert after `after`, oldest first"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn alerts(
    State(issuer): State<Shared>,
    peer: net::Peer,
    crate::http::QueryOf(query): crate::http::QueryOf<wire::api::AlertsQuery>,
) -> Result<Json<Vec<Alert>>, ApiError> {
    blocking(move || {
        crate::http::alerts_for(&peer, query.after, &issuer.journal, issuer.clock.as_ref())
            .map(Json)
    })
    .await
}

#[utoipa::path(
    post,
    path = "/v1/sign/move-out",
    tag = "signer",
    summary = "Certify a move-out (転出証明書情報) on the evidence of the town's witnessed log",
    request_body(content = SignMoveOut),
    responses((status = 200, body = String, content_type = "text/plain", description = "The certificate (juki.move-out/v1), signed by the national key"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn sign_move_out(
    State(issuer): State<Shared>,
    peer: net::Peer,
    JsonBody(request): JsonBody<SignMoveOut>,
) -> Result<Bytes, ApiError> {
    issuer.national_only(&peer)?;
    let to = MunicipalityCode::parse(&request.to)
        .map_err(|e| ApiError::bad(format!("the town moved to: {e}")))?;
    blocking(move || {
        let proven = issuer.verify(&request.evidence, &peer)?;
        let opened = issuer.verify_optional(request.opened.as_deref(), &peer)?;
        let change = &proven.change;
        let code = change.record.resident_code;
        policy::certify_move_out(change.municipality, code, Some(change), to)
            .map_err(|d| ApiError::new(d.code, d.message))?;
        // The same move certified again (a certificate lost on the way) is the same statement;
        // anything else needs the code closed everywhere.
        let event = note_hash(&proven.note);
        let again =
            matches!(issuer.last(code)?, Some(Certified::MovedOut { event: e, .. }) if e == event);
        if !again {
            let shown = Shown { closed: &proven, opened: opened.as_ref(), withdrawal: None };
            issuer.released(&shown, &peer)?;
        }
        let certificate =
            MoveOutCertificate::from_move_out(&proven.note, change, issuer.clock.timestamp())
                .map_err(|e| ApiError::new(Code::IllegalTransition, e.to_string()))?;
        let signed = issuer.certify("move-out-certificate", code, certificate.to_text())?;
        Ok(Bytes::from(signed))
    })
    .await
}

#[utoipa::path(
    post,
    path = "/v1/sign/activation",
    tag = "signer",
    summary = "Certify that a code is active in no town, so a town may make a record active under it",
    request_body(content = SignActivation),
    responses((status = 200, body = String, content_type = "text/plain", description = "The certificate (juki.activation/v1), signed by the national key"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn sign_activation(
    State(issuer): State<Shared>,
    peer: net::Peer,
    JsonBody(request): JsonBody<SignActivation>,
) -> Result<Bytes, ApiError> {
    issuer.national_only(&peer)?;
    let municipality = issuer.registered(&request.municipality)?;
    blocking(move || {
        let closed = issuer.verify(&request.closed, &peer)?;
        let opened = issuer.verify_optional(request.opened.as_deref(), &peer)?;
        let withdrawal = request
            .withdrawal
            .as_deref()
            .map(|w| issuer.verify_withdrawal(w, &peer))
            .transpose()?;
        let shown =
            Shown { closed: &closed, opened: opened.as_ref(), withdrawal: withdrawal.as_ref() };
        let released = issuer.released(&shown, &peer)?;
        let certificate = ActivationCertificate {
            municipality,
            resident: released.resident,
            from: released.from,
            after: released.after,
            time: issuer.clock.timestamp(),
        };
        let signed =
            issuer.certify("activation-certificate", released.resident, certificate.to_text())?;
        Ok(Bytes::from(signed))
    })
    .await
}

#[utoipa::path(
    post,
    path = "/v1/sign/withdrawal",
    tag = "signer",
    summary = "Withdraw the move-out certificate that is the signer's last word on a code: an event for the town moved to",
    request_body(content = SignWithdrawal),
    responses((status = 200, body = String, content_type = "text/plain", description = "The withdrawal (juki.move-withdrawal/v1), signed by the national key"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn sign_withdrawal(
    State(issuer): State<Shared>,
    peer: net::Peer,
    JsonBody(request): JsonBody<SignWithdrawal>,
) -> Result<Bytes, ApiError> {
    issuer.national_only(&peer)?;
    let code = ResidentCode::parse(&request.resident)
        .map_err(|e| ApiError::bad(format!("resident code: {e}")))?;
    let event = tlog::Hash::from_base64(&request.event)
        .map_err(|_| ApiError::bad("event: the standard base64 of a SHA-256 hash"))?;
    blocking(move || {
        let Some(Certified::MovedOut { from, to, event: certified }) = issuer.last(code)? else {
            return Err(ApiError::new(
                Code::StillActive,
                format!("the signer's last word on {code} is not a move-out certificate"),
            ));
        };
        if certified != event {
            return Err(ApiError::new(
                Code::StillActive,
                format!("the signer's last move-out certificate for {code} is of another move-out"),
            ));
        }
        let withdrawal = MoveWithdrawal {
            municipality: to,
            resident: code,
            from,
            event,
            time: issuer.clock.timestamp(),
        };
        let signed = issuer.issue(
            "move-withdrawal",
            Some(&code.to_string()),
            Event::MoveWithdrawal(withdrawal).to_text(),
        )?;
        Ok(Bytes::from(signed))
    })
    .await
}

#[utoipa::path(
    post,
    path = "/v1/sign/move-notice",
    tag = "signer",
    summary = "Sign the move notice (転入通知) of a move-in, on the evidence of the new town's witnessed log",
    request_body(content = SignMoveNotice),
    responses((status = 200, body = String, content_type = "text/plain", description = "The notice (juki.move-notice/v1), signed by the national key"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn sign_move_notice(
    State(issuer): State<Shared>,
    peer: net::Peer,
    JsonBody(request): JsonBody<SignMoveNotice>,
) -> Result<Bytes, ApiError> {
    issuer.national_only(&peer)?;
    blocking(move || {
        let proven = issuer.verify(&request.evidence, &peer)?;
        let notice = policy::move_notice(&proven.note, &proven.change, issuer.clock.timestamp())
            .ok_or_else(|| {
                ApiError::new(
                    Code::NoMoveOut,
                    "the change proven is not a move-in with a certificate",
                )
            })?;
        // The certificate the move-in carries must be the national key's own.
        let known: tlog::note::Verifiers = [issuer.national.verifier()].into_iter().collect();
        let certificate = proven.change.move_out.as_deref().unwrap_or_default();
        tlog::note::open(certificate.as_bytes(), &known).map_err(|e| {
            ApiError::new(Code::Unsigned, format!("the move-in's certificate: {e}"))
        })?;
        let resident = notice.resident.to_string();
        let signed =
            issuer.issue("move-notice", Some(&resident), Event::MoveNotice(notice).to_text())?;
        Ok(Bytes::from(signed))
    })
    .await
}

#[utoipa::path(
    post,
    path = "/v1/sign/code-block",
    tag = "signer",
    summary = "Allocate and sign a resident-code block for a town, placed at random where no block is",
    request_body(content = SignCodeBlock),
    responses((status = 200, body = String, content_type = "text/plain", description = "The block (juki.code-block/v1), signed by the national key"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
async fn sign_code_block(
    State(issuer): State<Shared>,
    peer: net::Peer,
    JsonBody(request): JsonBody<SignCodeBlock>,
) -> Result<Bytes, ApiError> {
    issuer.national_only(&peer)?;
    let municipality = issuer.registered(&request.municipality)?;
    blocking(move || {
        let town = municipality.to_string();
        let mut journal = lock(&issuer.journal);
        let allocated = journal.allocations_of(&town)?;
        // Every draw the placement may need, taken from the system's generator at once.
        let mut bytes = [0u8; 8 * 64];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
        let mut draws = bytes.chunks_exact(8).map(|c| {
            u64::from_le_bytes(c.try_into().expect("chunks of eight bytes"))
        });
        let taken = journal.allocated()?;
        let free = policy::random_free_base(&mut || draws.next().unwrap_or(0), &taken);
        let free = free.ok_or_else(|| {
            ApiError::new(Code::PoolEmpty, "no free code block was found in 64 draws")
        })?;
        match policy::allocate_block(request.held, allocated.len(), free) {
            // The town did not receive (or did not record) a block already allocated to it.
            Allocation::Again(i) => Ok(Bytes::from(allocated[i].clone())),
            Allocation::New { first, count } => {
                // A bounded rate: one new block per town per interval, so that whoever holds
                // the national node cannot mint codes in bulk through the signer.
                let now = issuer.clock.unix();
                if let Some(last) = journal.last_allocation(&town)?
                    && now < last + BLOCK_INTERVAL
                {
                    let detail = format!(
                        "a new code block for {town} {} s after the last (at most one per {BLOCK_INTERVAL} s)",
                        now - last
                    );
                    journal.alert(now, Code::TooSoon, &peer.identity.to_uri(), &detail)?;
                    return Err(ApiError::new(Code::TooSoon, detail));
                }
                let block = Event::CodeBlock(CodeBlock {
                    municipality,
                    first,
                    count,
                    time: issuer.clock.timestamp(),
                });
                let note = crate::logs::sign_text(block.to_text(), &issuer.national)?;
                journal.allocate(&town, first, count, &note)?;
                journal.allocated_at(&town, first, now)?;
                Ok(Bytes::from(note))
            }
        }
    })
    .await
}

/// Runs the signer until `shutdown` resolves.
pub async fn run(
    config: Arc<NodeConfig>,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let baseline = tokio::task::block_in_place(|| crate::manifest::load(&config, None))?;
    let issuer =
        Arc::new(tokio::task::block_in_place(|| Issuer::open(config.clone(), clock.clone()))?);
    {
        let issuer = issuer.clone();
        // A witness that cannot be reached yet delays publication; it does not stop the signer.
        if let Err(e) = tokio::task::spawn_blocking(move || issuer.integrate()).await? {
            eprintln!("{}: the issuance log's checkpoint is not published yet: {e:#}", config.name);
        }
    }
    let (network, _) = network_routes().split_for_parts();
    let public = tlog_http::server::router(issuer.tiles.clone(), "/issuance");
    let servers = Listeners::bind(
        &config,
        vec![
            Listener {
                name: "network",
                addr: config.listen.network,
                router: network.with_state(issuer.clone()),
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
    .await
    .context("binding the signer's listeners")?
    .watched_by({
        let issuer = issuer.clone();
        move |actor, act| {
            let recorded =
                crate::task::lock(&issuer.journal).observe(issuer.clock.unix(), &actor, act);
            if let Err(e) = recorded {
                eprintln!("{}: recording a refused handshake failed: {e:#}", issuer.config.name);
            }
        }
    });
    eprintln!("{} ({}) serving", config.name, issuer.identity.to_uri());
    let interval = Duration::from_millis(config.interval_ms);
    // Its alerts to the sinks (the monitoring reads them on its network listener too).
    let mut sinks = crate::alerting::spawn_sinks(issuer.clone());
    if let Some(baseline) = baseline {
        sinks.push(crate::manifest::spawn(issuer.clone(), baseline, clock));
    }
    let background = {
        let issuer = issuer.clone();
        tokio::spawn(async move {
            let mut backoff = Backoff::new(interval);
            loop {
                let issuer2 = issuer.clone();
                let delay = match tokio::task::spawn_blocking(move || issuer2.integrate()).await {
                    Ok(Ok(())) => backoff.reset(),
                    Ok(Err(e)) => {
                        eprintln!("{}: issuance log: {e:#}", issuer.config.name);
                        backoff.fail()
                    }
                    Err(_) => backoff.fail(),
                };
                tokio::time::sleep(delay).await;
            }
        })
    };
    let result = servers.run(&config, shutdown).await;
    background.abort();
    for sink in sinks {
        sink.abort();
    }
    result
}
