//! Binding and serving a node's listeners. A listener may be configured with port 0: the node
//! binds it, and reports the address it got — on stderr as `listening NAME ADDR` lines and, if
//! `node.toml` names a `report` file, as JSON written there atomically once every listener is
//! bound — so that nobody has to guess a free port.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use axum::Router;
use serde::{Deserialize, Serialize};

use crate::config::NodeConfig;

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

/// What a node (or a witness, `juki witness serve`) reports once it serves: each listener's
/// bound address.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Report {
    /// The node's identity URI.
    pub identity: String,
    /// The process id.
    pub pid: u32,
    /// Listener name → bound address.
    pub listeners: BTreeMap<String, SocketAddr>,
    /// The listeners that speak plain HTTP (a witness's `witness` listener); every other one
    /// is TLS. Left out of the JSON when empty.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub plain_http: BTreeSet<String>,
}

impl Report {
    /// Reads a report file.
    pub fn read(path: &Path) -> Result<Report> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the node report {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is malformed", path.display()))
    }

    /// A listener's address.
    pub fn addr(&self, name: &str) -> Result<SocketAddr> {
        self.listeners
            .get(name)
            .copied()
            .with_context(|| format!("the node reports no {name} listener"))
    }

    /// A listener's base URL: `https://ADDR`, or `http://ADDR` for a plain-HTTP one.
    pub fn url(&self, name: &str) -> Result<String> {
        let addr = self.addr(name)?;
        let scheme = if self.plain_http.contains(name) { "http" } else { "https" };
        Ok(format!("{scheme}://{addr}"))
    }

    /// Writes the report to `path` through a synced temporary file and a rename, so that a
    /// reader sees the whole report or none.
    pub fn write(&self, path: &Path) -> Result<()> {
        use std::io::Write as _;
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut file = tempfile_in(dir)?;
        file.1.write_all(serde_json::to_string_pretty(self)?.as_bytes())?;
        file.1.sync_all()?;
        std::fs::rename(&file.0, path)
            .with_context(|| format!("writing the node report {}", path.display()))?;
        Ok(())
    }
}

fn tempfile_in(dir: &Path) -> Result<(std::path::PathBuf, std::fs::File)> {
    let path = dir.join(format!(".report.{}.tmp", std::process::id()));
    let file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    Ok((path, file))
}

/// The node's listeners, bound and ready.
pub struct Listeners {
    servers: Vec<(tokio::net::TcpListener, Router, Arc<pki::ReloadableServerConfig>)>,
    report: Report,
}

impl Listeners {
    /// Binds every listener with its TLS configuration, and watches the TLS files (rotation,
    /// new revocation lists) for all of them.
    pub async fn bind(config: &NodeConfig, listeners: Vec<Listener>) -> Result<Listeners> {
        let files = crate::tls_files(config);
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
        Ok(Listeners { servers, report })
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
            tasks.push(tokio::spawn(async move {
                let signal = async move {
                    let _ = stopped.wait_for(|s| *s).await;
                };
                if let Err(e) = net::serve(listener, router, tls, signal).await {
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
