//! Binding and serving a node's listeners. A listener may be configured with port 0: the node
//! binds it, and reports the address it got — on stderr as `listening NAME ADDR` lines and, if
//! `node.toml` names a `report` file, as JSON written there atomically once every listener is
//! bound — so that nobody has to guess a free port.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use axum::Router;

use crate::config::NodeConfig;
use crate::report::Report;

/// One listener to bind: its name (`office`, `network`, `public`), address, routes and
/// whether it demands a client certificate.
pub struct Listener {
    /// `office`, `network` or `public`.
    pub name: &'static str,
    /// Where to bind (port 0: any free port).
    pub addr: SocketAddr,
    /// What it serves.
    pub router: Router,
    /// Mutual TLS or server TLS only.
    pub auth: pki::ClientAuth,
}

/// The node's listeners, bound and ready.
pub struct Listeners {
    servers: Vec<(tokio::net::TcpListener, Router, Arc<pki::ReloadableServerConfig>)>,
    report: Report,
    /// Told of handshakes refused for the client's certificate.
    refused: Option<net::RefusalHook>,
}

impl Listeners {
    /// Binds every listener with its TLS configuration, and watches the TLS files (rotation,
    /// new revocation lists) for all of them.
    pub async fn bind(config: &NodeConfig, listeners: Vec<Listener>) -> Result<Listeners> {
        let files = config.tls_files();
        let mut servers = Vec::new();
        let mut configs = Vec::new();
        let mut bound = BTreeMap::new();
        for listener in listeners {
            let tls = files.server_config(listener.auth)?;
            let socket = tokio::net::TcpListener::bind(listener.addr).await.with_context(|| {
                format!("cannot listen on {} ({} listener)", listener.addr, listener.name)
            })?;
            bound.insert(listener.name.to_owned(), socket.local_addr()?);
            configs.push(tls.clone());
            servers.push((socket, listener.router, tls));
        }
        net::watch(files, configs, Duration::from_secs(1));
        let report = Report {
            identity: config.identity()?.to_uri(),
            pid: std::process::id(),
            listeners: bound,
            plain_http: BTreeSet::new(),
        };
        Ok(Listeners { servers, report, refused: None })
    }

    /// Tells `observe` of every handshake refused for the client's certificate, with the
    /// client's address as the actor (`tcp:ADDRESS`), for the behaviour rules' `tls-refused`.
    /// `observe` runs on a blocking thread.
    pub fn watched_by(
        mut self,
        observe: impl Fn(String, crate::behaviour::Act) + Send + Sync + 'static,
    ) -> Listeners {
        let observe = Arc::new(observe);
        self.refused =
            Some(Arc::new(move |remote: std::net::SocketAddr, why: net::HandshakeRefusal| {
                let observe = observe.clone();
                let actor = format!("tcp:{}", remote.ip());
                tokio::task::spawn_blocking(move || {
                    observe(actor, crate::behaviour::Act::TlsRefused(why.describe()))
                });
            }));
        self
    }

    /// What the node reports: the addresses it got.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Announces the bound addresses (stderr, and the configured report file), then serves
    /// until `shutdown`.
    pub async fn run(
        self,
        config: &NodeConfig,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        for (name, addr) in &self.report.listeners {
            eprintln!("{}: listening {name} https://{addr}", config.name);
        }
        if let Some(path) = &config.report {
            self.report.write(path)?;
        }
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        for (listener, router, tls) in self.servers {
            let mut stopped = stopped.clone();
            let refused = self.refused.clone();
            tasks.push(tokio::spawn(async move {
                let signal = async move {
                    let _ = stopped.wait_for(|s| *s).await;
                };
                if let Err(e) = net::serve_watched(listener, router, tls, signal, refused).await {
                    eprintln!("a listener failed: {e}");
                }
            }));
        }
        shutdown.await;
        let _ = stop.send(true);
        for task in tasks {
            let _ = task.await;
        }
        if let Some(path) = &config.report {
            let _ = std::fs::remove_file(path);
        }
        Ok(())
    }
}
