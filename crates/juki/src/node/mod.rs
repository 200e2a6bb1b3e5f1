//! `juki serve`: one node of the network — a municipality, a prefecture or the national
//! centre — over mutual TLS.
//!
//! Every listener is TLS 1.3 with certificates from the network's CA; all but the public one
//! demand a client certificate, and a peer is whoever its verified certificate names
//! (`net::Peer`), never what a request says. Listeners:
//!
//! - `office` (municipal only): the town office's clerks, consoles of this town only.
//! - `network`: other nodes and agencies.
//! - `public`: the C2SP read endpoints (checkpoints and tiles), server TLS only, so that anyone
//!   can verify the logs.
//!
//! The modules: `config` (node.toml), `protocol` (batches and receipts, pure), `journal`
//! (node.db: the provision log, acknowledgements, alerts), `outbox` (sending batches),
//! `mirror` (an upstream node's replica of one town), `municipal` and `upstream` (the roles'
//! APIs and background work), `documents` (copies and provision records).

pub mod config;
pub mod documents;
pub mod journal;
pub mod mirror;
pub mod municipal;
pub mod outbox;
pub mod protocol;
pub mod upstream;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tlog_store::integrate::{Integration, NoteSigner, integrate};
use tlog_store::tiledir::TileDir;

use config::{NodeConfig, NodeRole};

/// The node's provision log: tiles beside `node.db`.
pub const PROVISION_TILES: &str = "provisions";
/// The node database.
pub const NODE_DB: &str = "node.db";
/// The provision log's key in a municipal node's directory (a prefecture's or the national
/// node's provision log is signed with its node key).
pub const PROVISION_KEY: &str = "provisions.key";

/// Seconds since 1970 by the node's clock.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The node's clock as events and certificates write it.
pub fn timestamp_now() -> registry_core::time::Timestamp {
    registry_core::time::Timestamp::from_unix(unix_now())
}

/// Signs `text` as a note with one signature.
pub fn sign_text(text: impl Into<String>, signer: &tlog::note::Signer) -> Result<Vec<u8>> {
    let mut note = tlog::note::Note::new(text)?;
    note.sign(signer)?;
    Ok(note.to_bytes())
}

/// The size of a log's published checkpoint in `tiles` (0 before the first), verified with
/// the log's key.
pub fn published_size(
    tiles: &TileDir,
    vkey: &tlog::note::VerifierKey,
    origin: &str,
) -> Result<u64> {
    use tlog_store::integrate::CheckpointVerifier as _;
    let Some(note) = tiles.read_checkpoint()? else { return Ok(0) };
    Ok(tlog_store::integrate::VerifyOnly::new(vkey.clone(), origin).open(&note)?.0)
}

/// The provision log's origin for a node whose main origin is `origin`.
pub fn provision_origin(role: NodeRole, origin: &str) -> String {
    match role {
        NodeRole::Municipal => format!("{origin}/provisions"),
        _ => origin.to_owned(),
    }
}

/// An API error: a status and a message for the caller (no personal data).
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl ApiError {
    /// 400: the request is malformed.
    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError(StatusCode::BAD_REQUEST, message.into())
    }

    /// 403: this peer may not do this.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError(StatusCode::FORBIDDEN, message.into())
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError(StatusCode::NOT_FOUND, message.into())
    }

    /// 422: refused by the rules.
    pub fn refused(message: impl Into<String>) -> ApiError {
        ApiError(StatusCode::UNPROCESSABLE_ENTITY, message.into())
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> ApiError {
        // Internal errors name files and database failures, never request data.
        eprintln!("internal error: {error:#}");
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("the node failed: {error}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut message = self.1;
        message.push('\n');
        (self.0, [(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")], message)
            .into_response()
    }
}

/// Runs blocking work (SQLite, signing, fsync) off the async executor.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("a task failed: {e}")))?
}

/// Locks a mutex, recovering from poisoning (state is only changed in committed transactions).
pub fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The TLS files of a node.
pub fn tls_files(config: &NodeConfig) -> net::TlsFiles {
    net::TlsFiles {
        cert: config.tls.cert.clone(),
        key: config.tls.key.clone(),
        ca: config.tls.ca.clone(),
        crl: Some(config.tls.crl.clone()),
    }
}

/// Integrates a log kept in `entries` into `tiles` with `signer`, if anything is new.
pub fn integrate_log(
    entries: &dyn tlog_store::entries::EntryReader,
    tiles: &TileDir,
    signer: &NoteSigner,
) -> Result<Integration> {
    Ok(integrate(entries, tiles, signer, &mut |i: &Integration| Ok(i.checkpoint.clone()))?)
}

/// Loads an unattended node key (not sealed) named after `origin`.
pub fn node_signer(path: &Path, origin: &str) -> Result<tlog::note::Signer> {
    let signer = crate::key::load_signer(path, None)?;
    crate::logdir::check_log_key(&signer.verifier(), origin)
        .with_context(|| format!("{} is not this node's key", path.display()))?;
    Ok(signer)
}

/// `juki serve --config FILE`.
pub fn serve(config_path: PathBuf) -> Result<std::process::ExitCode> {
    let config = NodeConfig::load(&config_path)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match config.role {
            NodeRole::Municipal => municipal::run(Arc::new(config), shutdown).await,
            NodeRole::Prefecture | NodeRole::National => {
                upstream::run(Arc::new(config), shutdown).await
            }
        }
    })?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// Back-off for a failing background task: doubles from `interval` up to ten seconds.
pub struct Backoff {
    base: Duration,
    current: Duration,
}

impl Backoff {
    /// Starts at `base`.
    pub fn new(base: Duration) -> Backoff {
        Backoff { base, current: base }
    }

    /// After a success.
    pub fn reset(&mut self) -> Duration {
        self.current = self.base;
        self.base
    }

    /// After a failure: the delay before the next attempt.
    pub fn fail(&mut self) -> Duration {
        self.current = (self.current * 2).min(Duration::from_secs(10));
        self.current
    }
}

/// An answer from another node or a client call: status and body, whatever the status.
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body (for an error status, its beginning).
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn expect(identity: Option<&str>) -> Result<net::Expect> {
    Ok(match identity {
        Some(uri) => net::Expect::Identity(
            pki::Identity::from_uri(uri).with_context(|| format!("{uri:?} as an expected peer"))?,
        ),
        None => net::Expect::Any,
    })
}

fn answer(result: Result<net::Response, net::ClientError>) -> Result<Answer> {
    match result {
        Ok(response) => Ok(Answer { status: response.status, body: response.body }),
        Err(net::ClientError::Status { status, body, .. }) => {
            Ok(Answer { status, body: body.into_bytes() })
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET url` from a server whose certificate names `identity` (any node of the network when
/// `None`).
pub async fn get(client: &net::Client, url: &str, identity: Option<&str>) -> Result<Answer> {
    answer(client.get(url, &expect(identity)?).await)
}

/// `POST url` with `body` to a server whose certificate names `identity`.
pub async fn post(
    client: &net::Client,
    url: &str,
    body: Vec<u8>,
    identity: Option<&str>,
) -> Result<Answer> {
    let content_type =
        if body.first() == Some(&b'{') { "application/json" } else { "text/plain; charset=utf-8" };
    answer(client.post(url, body, content_type, &expect(identity)?).await)
}
