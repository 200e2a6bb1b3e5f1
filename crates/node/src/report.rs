//! A node's report: the file in which a node (or a witness) says, once it serves, which address
//! each of its listeners got, and the `report:PATH#LISTENER` peer URLs that read it, so that no
//! port is ever guessed.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

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

/// The scheme of a peer URL that names the peer's report file instead of an address:
/// `report:PATH#LISTENER` is the address the peer reports for that listener in the report it
/// wrote at `PATH` (see [`Report`]), as `https://ADDR` (or `http://ADDR` for a
/// listener the report names as plain HTTP, a witness's). A network on one machine whose
/// nodes bind port 0 names its peers this way; a deployment names them by host and port.
pub const REPORT_SCHEME: &str = "report:";

/// The `https://host:port` base of a peer URL, read from the peer's report when the URL is a
/// `report:` one (so it is read again at every call: a restarted peer is found at its new
/// address).
pub fn resolve_url(url: &str) -> Result<String> {
    let Some(rest) = url.strip_prefix(REPORT_SCHEME) else {
        return Ok(url.trim_end_matches('/').to_owned());
    };
    let (path, listener) = rest
        .rsplit_once('#')
        .with_context(|| format!("{url:?} names no listener (report:PATH#LISTENER)"))?;
    let report = Report::read(Path::new(path))
        .with_context(|| format!("resolving the peer URL {url:?}: is that peer running?"))?;
    report.url(listener)
}
