//! One node of the juki network — a municipality, a prefecture or the national centre —
//! over mutual TLS, as a library: the binary's `juki serve` only loads the configuration and
//! calls [`serve`].
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
//! The modules, from the edges in: `config` (node.toml), `clock` (the one clock, injected),
//! `http` (errors as HTTP answers, calls to peers),
//! `listeners` (binding and serving), `journal` (node.db: the provision log,
//! acknowledgements, alerts), `outbox` (sending batches and checking receipts), `mirror` (an
//! upper node's replica of one town), and the roles: `municipal` and `upstream` (their APIs and
//! background work). The roles import the modules below them and never each other.
#![forbid(unsafe_code)]

pub mod clock;
pub mod config;
pub mod http;
pub mod journal;
pub mod listeners;
pub mod mirror;
pub mod municipal;
pub mod openapi;
pub mod outbox;
pub mod policy;
pub mod upstream;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
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

/// Runs the node `config` describes until SIGINT or SIGTERM, on a runtime of its own: what
/// `juki serve --config FILE` does. Every listener's address is reported on stderr and, when
/// the configuration names one, in its `report` file, once the node serves.
pub fn serve(config: NodeConfig) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run(Arc::new(config), Arc::new(clock::SystemClock), shutdown_signal()))
}

/// Runs the node until `shutdown` resolves.
pub async fn run(
    config: Arc<NodeConfig>,
    clock: Arc<dyn clock::Clock>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    match config.role {
        NodeRole::Municipal => municipal::run(config, clock, shutdown).await,
        NodeRole::Prefecture | NodeRole::National => upstream::run(config, clock, shutdown).await,
    }
}

/// Resolves on the first SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
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
