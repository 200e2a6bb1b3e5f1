//! A municipality's node: the town office's API for clerks, the inter-node API (wide-area
//! copies for other towns, move notices from the national node, pulls by upstream nodes), the
//! public log endpoints, and the background work — integrating the logs, pushing batches to
//! the prefecture from the durable outbox, asking the national node for code blocks.
//!
//! Every change goes through `Registry::submit`, the same core as the local CLI: the clerk's
//! client signs, the node validates and appends.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use registry_core::rules::Effect;
use registry_domain::{MunicipalityCode, ResidentCode};
use registry_store::{Registry, StoreError};
use serde::{Deserialize, Serialize};
use tlog::note::{Signer, VerifierKey};
use tlog_store::integrate::{NoteSigner, checkpoint_body};
use tlog_store::tiledir::TileDir;

use super::config::{NodeConfig, Peer};
use super::documents::{Provision, RecordJson, copy_text};
use super::journal::Journal;
use super::outbox::{Answer, BatchSource, acknowledge, next_batch, root_at};
use super::protocol::Batch;
use super::{ApiError, Backoff, blocking, lock, unix_now};
use crate::registrydir::RegistryDir;

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
    /// The registry log's key: signs its checkpoints, copies and batch checkpoints.
    node_key: Signer,
    /// Its verifier key.
    vkey: VerifierKey,
    registry_signer: NoteSigner,
    provision_signer: NoteSigner,
    provision_tiles: TileDir,
    client: net::Client,
    witnesses: Witnesses,
}

/// The witnesses' clients: URL, client, cosignature key. Each client owns a small runtime,
/// which must not be dropped on an async worker thread (tokio panics, and a node that fails to
/// start would panic instead of saying why); they are dropped on a thread of their own.
struct Witnesses(Vec<(String, tlog_http::witness_client::WitnessClient, VerifierKey)>);

impl Drop for Witnesses {
    fn drop(&mut self) {
        let clients = std::mem::take(&mut self.0);
        if !clients.is_empty() {
            let _ = std::thread::spawn(move || drop(clients)).join();
        }
    }
}

impl Town {
    /// Opens the node's data directory.
    pub fn open(config: Arc<NodeConfig>) -> Result<Town> {
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
        let registry = dir.registry()?;
        let integrator = rusqlite::Connection::open(config.dir.join(crate::registrydir::DATABASE))?;
        tlog_store::entries::configure(&integrator)?;
        let journal = Journal::open(&config.dir.join(super::NODE_DB))?;
        let key_path = config.dir.join(&dir.config.key);
        let node_key = super::node_signer(&key_path, &config.origin)?;
        let registry_signer = dir.signer()?;
        let provision_origin = super::provision_origin(config.role, &config.origin);
        let provision_signer = NoteSigner::new(super::node_signer(
            &config.dir.join(super::PROVISION_KEY),
            &provision_origin,
        )?)?;
        let client = net::Client::new(&super::tls_files(&config))?;
        let witnesses = config
            .witnesses
            .iter()
            .map(|w| -> Result<_> {
                Ok((
                    w.url.clone(),
                    tlog_http::witness_client::WitnessClient::new(&w.url)?,
                    VerifierKey::parse(&w.vkey)?,
                ))
            })
            .collect::<Result<_>>()?;
        Ok(Town {
            witnesses: Witnesses(witnesses),
            identity: config.identity()?,
            code,
            provision_tiles: TileDir::new(config.dir.join(super::PROVISION_TILES)),
            config,
            dir,
            registry: Mutex::new(registry),
            integrator: Mutex::new(integrator),
            journal: Mutex::new(journal),
            vkey: node_key.verifier(),
            node_key,
            registry_signer,
            provision_signer,
            client,
        })
    }

    fn upstream(&self) -> &Peer {
        self.config.upstream.as_ref().expect("checked at load")
    }

    fn national(&self) -> &Peer {
        self.config.national.as_ref().expect("checked at load")
    }

    /// Integrates both logs. The registry checkpoint is published only once the witness
    /// quorum has cosigned it (the previous one stands otherwise).
    fn integrate(&self) -> Result<()> {
        {
            let conn = lock(&self.integrator);
            let conn = &*conn;
            let tiles = self.dir.tiles();
            let quorum = self.config.witness_quorum;
            let mut cosign = |integration: &tlog_store::integrate::Integration| {
                if self.witnesses.0.is_empty() {
                    return Ok(integration.checkpoint.clone());
                }
                let mut cosignatures = Vec::new();
                for (url, client, vkey) in &self.witnesses.0 {
                    match crate::log::ask_witness(&tiles, integration, client, vkey) {
                        Ok(signature) => cosignatures.push(signature),
                        Err(reason) => eprintln!("witness {url} did not cosign: {reason}"),
                    }
                }
                if cosignatures.len() < quorum {
                    return Err(tlog_store::Error::Config(format!(
                        "{} of the {quorum} witness cosignatures needed; size {} not published",
                        cosignatures.len(),
                        integration.size
                    )));
                }
                tlog::note::append_signatures(&integration.checkpoint, &cosignatures)
                    .map_err(|e| tlog_store::Error::Checkpoint(e.to_string()))
            };
            tlog_store::integrate::integrate(conn, &tiles, &self.registry_signer, &mut cosign)?;
        }
        let journal = lock(&self.journal);
        super::integrate_log(&*journal, &self.provision_tiles, &self.provision_signer)?;
        Ok(())
    }

    /// The batch after what the prefecture acknowledged.
    fn batch_from(&self, acked: u64) -> Result<Option<Batch>> {
        let mut registry = lock(&self.registry);
        let mut source = Own { town: self, registry: &mut registry, tiles: self.dir.tiles() };
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
            let covered = super::published_size(&tiles, &town.vkey, &town.config.origin)?;
            let (size, receipt) =
                acknowledge(answer, &batch, &town.config.origin, &vkey, &tiles, covered)?;
            lock(&town.journal).set_ack(&town.config.origin, &upstream.identity, size, &receipt)
        })
        .await??;
        Ok(true)
    }

    /// Asks the national node for a code block when the pool runs low.
    async fn top_up(self: &Arc<Self>) -> Result<()> {
        let town = self.clone();
        let (remaining, blocks) = tokio::task::spawn_blocking(move || -> Result<(u64, u64)> {
            let mut registry = lock(&town.registry);
            let remaining = registry.pool_remaining()?;
            let blocks: i64 =
                registry
                    .connection()
                    .query_row("SELECT count(*) FROM code_blocks", [], |r| r.get(0))?;
            Ok((remaining, blocks as u64))
        })
        .await??;
        if remaining >= self.config.pool_low {
            return Ok(());
        }
        let national = self.national().clone();
        let body = serde_json::to_vec(&BlockRequest { blocks })?;
        let response = crate::node::post(
            &self.client,
            &format!("{}/v1/code-blocks", national.url),
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
            match registry.submit(&response.body, crate::registrydir::now()?) {
                Ok(_) => Ok(()),
                // The block was already added (an answer to a repeated request).
                Err(StoreError::Refused(refusal)) if refusal.to_string().contains("overlaps") => {
                    Ok(())
                }
                Err(e) => Err(e).context("adding the national node's code block"),
            }
        })
        .await??;
        eprintln!("{}: added a resident-code block from the national node", self.config.name);
        Ok(())
    }
}

/// A code-block request: how many blocks the town holds, so that a repeated request gets the
/// block it missed rather than a new one.
#[derive(Serialize, Deserialize)]
pub struct BlockRequest {
    /// Blocks in the town's registry.
    pub blocks: u64,
}

/// The upstream node's answer to a batch, as JSON.
#[derive(Serialize, Deserialize)]
pub struct BatchAnswer {
    /// `applied` or `holds`.
    pub status: String,
    /// The size the receipt acknowledges.
    pub size: u64,
    /// The signed receipt.
    pub receipt: String,
}

/// Sends a batch to an upstream node and returns its answer.
pub async fn send_batch(client: &net::Client, upstream: &Peer, batch: &Batch) -> Result<Answer> {
    let response = crate::node::post(
        client,
        &format!("{}/v1/replicate", upstream.url),
        serde_json::to_vec(batch)?,
        Some(upstream.identity.as_str()),
    )
    .await?;
    let status = response.status;
    if status != axum::http::StatusCode::OK {
        bail!(
            "{} refused the batch {}..{}: {} {}",
            upstream.identity,
            batch.from,
            batch.end(),
            status,
            response.text()
        );
    }
    let answer: BatchAnswer = serde_json::from_slice(&response.body)
        .context("the upstream node's answer is malformed")?;
    Ok(match answer.status.as_str() {
        "applied" => Answer::Applied(answer.receipt.into_bytes()),
        "holds" => Answer::Holds(answer.size, answer.receipt.into_bytes()),
        other => bail!("the upstream node answered {other:?}"),
    })
}

/// The node's own registry log as the source of batches.
struct Own<'a> {
    town: &'a Town,
    registry: &'a mut Registry,
    tiles: TileDir,
}

impl BatchSource for Own<'_> {
    fn events(&mut self, from: u64, to: u64) -> Result<Vec<Vec<u8>>> {
        Ok(self.registry.events(from, to)?)
    }

    fn checkpoint(&mut self, acked: u64, limit: u64) -> Result<Option<(u64, Vec<u8>)>> {
        let Some(note) = self.tiles.read_checkpoint()? else { return Ok(None) };
        let size = self.tiles_size()?;
        if size <= acked {
            return Ok(None);
        }
        if size <= limit {
            return Ok(Some((size, note)));
        }
        // Too much for one batch: sign a checkpoint of the prefix (the node key signs any
        // size of its own tree; the root is read from the tiles).
        let root = root_at(&self.tiles, size, limit)?;
        let body = checkpoint_body(&self.town.config.origin, limit, &root);
        Ok(Some((limit, super::sign_text(body, &self.town.node_key)?)))
    }

    fn tiles(&self) -> &TileDir {
        &self.tiles
    }

    fn tiles_size(&self) -> Result<u64> {
        super::published_size(&self.tiles, &self.town.vkey, &self.town.config.origin)
    }
}

type Shared = Arc<Town>;

fn clerk(town: &Town, peer: &net::Peer) -> Result<(), ApiError> {
    let expected = pki::Identity::console(&town.code.to_string()).map_err(|e| anyhow!(e))?;
    if peer.identity != expected {
        let detail = format!("a {} certificate at the office API of {}", peer.identity, town.code);
        lock(&town.journal).alert("wrong-peer", &peer.identity.to_uri(), &detail)?;
        return Err(ApiError::forbidden(format!(
            "this is the office API of {}: only its consoles ({}) may use it, not {}",
            town.code,
            expected.to_uri(),
            peer.identity.to_uri()
        )));
    }
    Ok(())
}

fn parse_resident(text: &str) -> Result<ResidentCode, ApiError> {
    ResidentCode::parse(text).map_err(|e| ApiError::bad(format!("resident code: {e}")))
}

#[derive(Serialize)]
struct Submitted {
    index: u64,
    kind: &'static str,
    resident: Option<String>,
}

async fn submit_event(
    State(town): State<Shared>,
    peer: net::Peer,
    body: Bytes,
) -> Result<Json<Submitted>, ApiError> {
    clerk(&town, &peer)?;
    blocking(move || {
        let mut registry = lock(&town.registry);
        let applied = match registry.submit(&body, crate::registrydir::now()?) {
            Ok(applied) => applied,
            Err(StoreError::Refused(refusal)) => {
                use registry_core::rules::Refusal;
                // A signature that does not verify, a key without authority or another town's
                // event at a town's own counter is how a forgery looks: record it.
                if matches!(
                    refusal,
                    Refusal::Unsigned(_)
                        | Refusal::Unauthorised(_)
                        | Refusal::WrongMunicipality { .. }
                ) {
                    lock(&town.journal).alert(
                        "unauthorised-event",
                        &peer.identity.to_uri(),
                        &refusal.to_string(),
                    )?;
                }
                return Err(ApiError::refused(format!("refused: {refusal}")));
            }
            Err(other) => return Err(anyhow::Error::from(other).into()),
        };
        let (kind, resident) = match &applied.effect {
            Effect::Genesis(_) => ("genesis", None),
            Effect::Enrol(_) => ("enrolment", None),
            Effect::Revoke(_) => ("revocation", None),
            Effect::CodeBlock(_) => ("code-block", None),
            Effect::Change { change, .. } => {
                ("change", Some(change.record.resident_code.to_string()))
            }
            Effect::MoveNotice(notice) => ("move-notice", Some(notice.resident.to_string())),
        };
        Ok(Json(Submitted { index: applied.index, kind, resident }))
    })
    .await
}

async fn fresh_code(State(town): State<Shared>, peer: net::Peer) -> Result<String, ApiError> {
    clerk(&town, &peer)?;
    blocking(move || {
        let registry = lock(&town.registry);
        let code = crate::resident::draw_code(&registry).map_err(|e| {
            ApiError(axum::http::StatusCode::SERVICE_UNAVAILABLE, format!("no code available: {e}"))
        })?;
        Ok(format!("{code}\n"))
    })
    .await
}

#[derive(Deserialize)]
struct Purpose {
    purpose: Option<String>,
}

fn purpose(purpose: Option<String>) -> Result<String, ApiError> {
    match purpose {
        Some(p) if !p.trim().is_empty() && p.len() <= 200 && !p.contains('\n') => Ok(p),
        _ => Err(ApiError::bad(
            "every read needs a declared purpose (purpose=…, one line, at most 200 bytes)",
        )),
    }
}

async fn lookup(
    State(town): State<Shared>,
    peer: net::Peer,
    Path(code): Path<String>,
    Query(query): Query<Purpose>,
) -> Result<Json<RecordJson>, ApiError> {
    clerk(&town, &peer)?;
    let code = parse_resident(&code)?;
    let purpose = purpose(query.purpose)?;
    blocking(move || {
        let record = lock(&town.registry)
            .resident(code)
            .map_err(anyhow::Error::from)?
            .ok_or_else(|| ApiError::not_found(format!("no resident {code} in {}", town.code)))?;
        let provision = Provision {
            kind: "lookup",
            resident: &code.to_string(),
            by: &town.identity.to_uri(),
            to: &peer.identity.to_uri(),
            source: None,
            purpose: &purpose,
            time: unix_now(),
        };
        lock(&town.journal).append(
            "lookup",
            Some(&code.to_string()),
            provision.to_text().as_bytes(),
        )?;
        Ok(Json(RecordJson::of(&record)))
    })
    .await
}

/// A request for a certificate copy.
#[derive(Serialize, Deserialize)]
pub struct CopyRequest {
    /// The resident.
    pub resident: String,
    /// The town that keeps the record, when it is another (広域交付).
    #[serde(default)]
    pub municipality: Option<String>,
    /// Why.
    pub purpose: String,
    /// For a wide-area request between nodes: the console that asked.
    #[serde(default)]
    pub requested_by: Option<String>,
}

/// Issues a copy of one of this town's residents and logs the provision first.
fn issue_copy(
    town: &Town,
    code: ResidentCode,
    to: &str,
    purpose: &str,
    kind: &str,
) -> Result<Vec<u8>, ApiError> {
    let record = lock(&town.registry)
        .resident(code)
        .map_err(anyhow::Error::from)?
        .ok_or_else(|| ApiError::not_found(format!("no resident {code} in {}", town.code)))?;
    let time = unix_now();
    let provision = Provision {
        kind,
        resident: &code.to_string(),
        by: &town.identity.to_uri(),
        to,
        source: None,
        purpose,
        time,
    };
    let index = lock(&town.journal).append(
        kind,
        Some(&code.to_string()),
        provision.to_text().as_bytes(),
    )?;
    Ok(super::sign_text(copy_text(&town.code.to_string(), &record, index, time), &town.node_key)?)
}

async fn copy(
    State(town): State<Shared>,
    peer: net::Peer,
    Json(request): Json<CopyRequest>,
) -> Result<Bytes, ApiError> {
    clerk(&town, &peer)?;
    let code = parse_resident(&request.resident)?;
    let purpose = purpose(Some(request.purpose.clone()))?;
    let here = town.code.to_string();
    let keeper = request.municipality.clone().unwrap_or_else(|| here.clone());
    if keeper == here {
        let to = peer.identity.to_uri();
        return blocking(move || issue_copy(&town, code, &to, &purpose, "copy").map(Bytes::from))
            .await;
    }
    // 広域交付: fetch the copy from the town that keeps the record, verify its signature,
    // and log the issuance here too.
    let other = town
        .config
        .town(&keeper)
        .ok_or_else(|| ApiError::bad(format!("{keeper} is not a town this node knows")))?
        .clone();
    let forwarded = CopyRequest {
        resident: code.to_string(),
        municipality: None,
        purpose: purpose.clone(),
        requested_by: Some(peer.identity.to_uri()),
    };
    let identity = pki::Identity::municipal(&other.code).map_err(|e| anyhow!(e))?.to_uri();
    let response = crate::node::post(
        &town.client,
        &format!("{}/v1/wide-area/copies", other.url),
        serde_json::to_vec(&forwarded).map_err(|e| anyhow!(e))?,
        Some(identity.as_str()),
    )
    .await
    .map_err(|e| ApiError(axum::http::StatusCode::BAD_GATEWAY, format!("{keeper}: {e}")))?;
    if !response.status.is_success() {
        return Err(ApiError(response.status, format!("{keeper} refused: {}", response.text())));
    }
    let vkey = VerifierKey::parse(&other.vkey).map_err(|e| anyhow!(e))?;
    let mut known = tlog::note::Verifiers::new();
    known.push(vkey);
    let opened = tlog::note::open(&response.body, &known).map_err(|e| {
        ApiError(
            axum::http::StatusCode::BAD_GATEWAY,
            format!("{keeper}'s copy is not signed by its node key: {e}"),
        )
    })?;
    if !opened.text().starts_with(super::documents::COPY) {
        return Err(ApiError(
            axum::http::StatusCode::BAD_GATEWAY,
            format!("{keeper} did not send a copy"),
        ));
    }
    let to = peer.identity.to_uri();
    blocking(move || {
        let provision = Provision {
            kind: "wide-area-copy",
            resident: &code.to_string(),
            by: &town.identity.to_uri(),
            to: &to,
            source: Some(identity.as_str()),
            purpose: &purpose,
            time: unix_now(),
        };
        lock(&town.journal).append(
            "wide-area-copy",
            Some(&code.to_string()),
            provision.to_text().as_bytes(),
        )?;
        Ok(Bytes::from(response.body))
    })
    .await
}

async fn wide_area_copy(
    State(town): State<Shared>,
    peer: net::Peer,
    Json(request): Json<CopyRequest>,
) -> Result<Bytes, ApiError> {
    if peer.identity.role != pki::Role::Municipal || peer.identity == town.identity {
        return Err(ApiError::forbidden("wide-area copies are asked for by other towns' nodes"));
    }
    let code = parse_resident(&request.resident)?;
    let purpose = purpose(Some(request.purpose))?;
    let to = match request.requested_by {
        Some(console) => format!("{} via {console}", peer.identity.to_uri()),
        None => peer.identity.to_uri(),
    };
    blocking(move || issue_copy(&town, code, &to, &purpose, "wide-area-copy").map(Bytes::from))
        .await
}

#[derive(Deserialize)]
struct From {
    from: String,
}

async fn move_out_certificate(
    State(town): State<Shared>,
    peer: net::Peer,
    Path(code): Path<String>,
    Query(query): Query<From>,
) -> Result<Bytes, ApiError> {
    clerk(&town, &peer)?;
    let code = parse_resident(&code)?;
    let from =
        MunicipalityCode::parse(&query.from).map_err(|e| ApiError::bad(format!("from: {e}")))?;
    let national = town.national().clone();
    let response = crate::node::get(
        &town.client,
        &format!("{}/v1/move-outs/{code}?from={from}", national.url),
        Some(national.identity.as_str()),
    )
    .await
    .map_err(|e| {
        ApiError(axum::http::StatusCode::BAD_GATEWAY, format!("the national node: {e}"))
    })?;
    if !response.status.is_success() {
        return Err(ApiError(response.status, response.text()));
    }
    Ok(Bytes::from(response.body))
}

async fn move_notice(
    State(town): State<Shared>,
    peer: net::Peer,
    body: Bytes,
) -> Result<&'static str, ApiError> {
    if peer.identity.role != pki::Role::National {
        return Err(ApiError::forbidden("move notices come from the national node"));
    }
    blocking(move || {
        let mut registry = lock(&town.registry);
        match registry.submit(&body, crate::registrydir::now()?) {
            Ok(_) => Ok("recorded\n"),
            Err(StoreError::Refused(refusal)) if refusal.to_string().contains("already") => {
                Ok("already recorded\n")
            }
            Err(StoreError::Refused(refusal)) => {
                Err(ApiError::refused(format!("refused: {refusal}")))
            }
            Err(e) => Err(anyhow::Error::from(e).into()),
        }
    })
    .await
}

#[derive(Deserialize)]
struct FromSize {
    from: u64,
}

async fn pull(
    State(town): State<Shared>,
    peer: net::Peer,
    Query(query): Query<FromSize>,
) -> Result<Json<Batch>, ApiError> {
    let allowed = peer.identity.to_uri() == town.upstream().identity
        || peer.identity.role == pki::Role::National;
    if !allowed {
        return Err(ApiError::forbidden("only this town's upstream nodes may pull its events"));
    }
    blocking(move || {
        town.integrate()?;
        match town.batch_from(query.from)? {
            Some(batch) => Ok(Json(batch)),
            None => Err(ApiError(axum::http::StatusCode::NO_CONTENT, "nothing new".into())),
        }
    })
    .await
}

/// What a node reports about itself (no personal data).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Status {
    /// The node's name.
    pub name: String,
    /// Its identity URI.
    pub identity: String,
    /// Log origin → size of its published checkpoint (and, upstream, of each mirror).
    pub logs: std::collections::BTreeMap<String, u64>,
    /// For a municipality: the size its prefecture acknowledged.
    pub acked: Option<u64>,
    /// For a municipality: unused codes in its pool.
    pub pool: Option<u64>,
    /// For a municipality: events in its registry log, published or not yet.
    pub events: Option<u64>,
    /// Alerts recorded.
    pub alerts: usize,
}

async fn status(State(town): State<Shared>, _peer: net::Peer) -> Result<Json<Status>, ApiError> {
    blocking(move || {
        let mut logs = std::collections::BTreeMap::new();
        logs.insert(
            town.config.origin.clone(),
            super::published_size(&town.dir.tiles(), &town.vkey, &town.config.origin)?,
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
            alerts: journal.alerts()?.len(),
        }))
    })
    .await
}

async fn alerts(
    State(town): State<Shared>,
    _peer: net::Peer,
) -> Result<Json<Vec<super::journal::Alert>>, ApiError> {
    blocking(move || Ok(Json(lock(&town.journal).alerts()?))).await
}

/// The office API's status: like every office endpoint, for this town's consoles only.
async fn office_status(
    State(town): State<Shared>,
    peer: net::Peer,
) -> Result<Json<Status>, ApiError> {
    clerk(&town, &peer)?;
    status(State(town), peer).await
}

/// The office API's alerts: for this town's consoles only.
async fn office_alerts(
    State(town): State<Shared>,
    peer: net::Peer,
) -> Result<Json<Vec<super::journal::Alert>>, ApiError> {
    clerk(&town, &peer)?;
    alerts(State(town), peer).await
}

/// Runs a municipal node until `shutdown`.
pub async fn run(
    config: Arc<NodeConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let town = Arc::new(tokio::task::block_in_place(|| Town::open(config.clone()))?);
    {
        let town = town.clone();
        // A witness that cannot be reached yet delays publication; it does not stop the node.
        if let Err(e) = tokio::task::spawn_blocking(move || town.integrate()).await? {
            eprintln!("{}: the first checkpoint is not published yet: {e:#}", config.name);
        }
    }

    let office = Router::new()
        .route("/v1/events", post(submit_event))
        .route("/v1/codes", post(fresh_code))
        .route("/v1/residents/{code}", get(lookup))
        .route("/v1/copies", post(copy))
        .route("/v1/move-outs/{code}", get(move_out_certificate))
        .route("/v1/status", get(office_status))
        .route("/v1/alerts", get(office_alerts))
        .with_state(town.clone());
    let network = Router::new()
        .route("/v1/wide-area/copies", post(wide_area_copy))
        .route("/v1/move-notices", post(move_notice))
        .route("/v1/replication/batch", get(pull))
        .route("/v1/status", get(status))
        .route("/v1/alerts", get(alerts))
        .with_state(town.clone());
    let public = tlog_http::server::router(town.dir.tiles(), "/registry")
        .merge(tlog_http::server::router(town.provision_tiles.clone(), "/provisions"));

    let listen = &config.listen;
    let office_addr = listen.office.expect("checked at load");
    let servers = super::upstream::Listeners::bind(
        &config,
        &[
            (office_addr, office, pki::ClientAuth::Required),
            (listen.network, network, pki::ClientAuth::Required),
            (listen.public, public, pki::ClientAuth::None),
        ],
    )
    .await?;
    eprintln!(
        "{} ({}) serving: office https://{office_addr}, network https://{}, public https://{}",
        config.name,
        town.identity.to_uri(),
        listen.network,
        listen.public
    );

    let interval = Duration::from_millis(config.interval_ms);
    let pusher = {
        let town = town.clone();
        tokio::spawn(async move {
            let mut backoff = Backoff::new(interval);
            loop {
                let delay = match town.push().await {
                    Ok(true) => Duration::ZERO,
                    Ok(false) => backoff.reset(),
                    Err(e) => {
                        eprintln!("{}: replication to the prefecture: {e:#}", town.config.name);
                        backoff.fail()
                    }
                };
                tokio::time::sleep(delay).await;
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
    servers.run(shutdown).await;
    pusher.abort();
    topper.abort();
    Ok(())
}
