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
//! The modules, from the edges in: `config` (node.toml), `report` (the addresses a node reports
//! and the `report:` peer URLs that read them), `clock` (the one clock, injected), `logs` (signing
//! notes and integrating the node's logs), `task` (back-off, locks), `http` (errors as HTTP
//! answers, calls to peers), `listeners` (binding and serving), `journal` (node.db: the provision
//! log, acknowledgements, alerts), `outbox` (sending batches and checking receipts), `mirror` (an
//! upper node's replica of one town), `provisions` (a town's provision log sent upstream, and
//! the upper nodes' verified copies of it), `policy` (pure decisions), `crosscheck` (an upper
//! node's pure conclusions from towns' heartbeats), `manifest` (the node's files against its
//! signed baseline), `publication` (a town's look at the
//! checkpoint it publishes), `proof` (a record proven before it is served), and the roles: `municipal` and
//! `upstream` (their APIs and background work), and `signer` (the
//! national key, apart from the national node). The roles import the modules below them and never
//! each other.
#![forbid(unsafe_code)]

pub mod alerting;
pub mod behaviour;
pub mod clock;
pub mod config;
pub mod crosscheck;
pub mod http;
pub mod journal;
pub mod listeners;
pub mod logs;
pub mod manifest;
pub mod mirror;
pub mod municipal;
pub mod openapi;
pub mod outbox;
pub mod policy;
pub mod proof;
pub mod provisions;
pub mod publication;
pub mod quota;
pub mod report;
pub mod residence;
pub mod selfcheck;
pub mod signer;
pub mod task;
pub mod upstream;

use std::sync::Arc;

use anyhow::{Context as _, Result};

use config::{NodeConfig, NodeRole};

/// Runs the node `config` describes until SIGINT or SIGTERM, on a runtime of its own: what
/// `juki serve --config FILE` does. Every listener's address is reported on stderr and, when
/// the configuration names one, in its `report` file, once the node serves.
pub fn serve(mut config: NodeConfig) -> Result<()> {
    // The manifest, if any, must list the binary the node runs as.
    config.binary = Some(std::env::current_exe().context("finding the node's own binary")?);
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
        NodeRole::Signer => signer::run(config, clock, shutdown).await,
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
