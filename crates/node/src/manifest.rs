//! A node's files against its signed baseline manifest (`wire::manifest`): which files a node
//! runs from, their digests, the manifest signed over them (`juki manifest sign`), the check
//! at start — a node whose files differ refuses to start, naming them — and the re-hash while
//! it runs, whose differences are a `manifest-changed` alert.
//!
//! The manifest is signed offline by a person's key, never by a key on the node: a town's by
//! its admin key (the one its genesis names, so root on the town cannot swap it without
//! forking its log), the other nodes' by the national administrator's. Root on a node can
//! change a file, but not sign the change.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use sha2::Digest as _;
use tlog::note::VerifierKey;
use wire::errors::Code;
use wire::manifest::Manifest;

use crate::clock::Clock;
use crate::config::NodeConfig;
use crate::task::lock;

/// The key files a node's data directory may hold: all that exist are listed.
const KEY_FILES: &[&str] = &["node.key", crate::logs::PROVISION_KEY, crate::signer::NATIONAL_KEY];

/// How often a running node looks at its files (a file whose size, inode and change time are
/// unchanged is not hashed again, except at every [`FULL_EVERY`]th look).
pub const LOOK_EVERY: Duration = Duration::from_secs(2);

/// Every this many looks, every file is hashed again whatever its metadata says.
const FULL_EVERY: u64 = 150;

/// The SHA-256 of a file, in lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The files the node described by `config` runs from: its binary (if known), its
/// configuration file, its TLS certificate, key and CA, and the key files in its directory.
pub fn files_of(config: &NodeConfig) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = config.binary.iter().chain(&config.source).cloned().collect();
    files.extend([config.tls.cert.clone(), config.tls.key.clone(), config.tls.ca.clone()]);
    files.extend(KEY_FILES.iter().map(|name| config.dir.join(name)).filter(|p| p.exists()));
    files.iter().map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone())).collect()
}

fn text_of(path: &Path) -> Result<String> {
    path.to_str()
        .map(str::to_owned)
        .with_context(|| format!("{} is not a UTF-8 path", path.display()))
}

/// The manifest of the node `config` describes, signed at `time` with `key`.
pub fn sign(config: &NodeConfig, key: &tlog::note::Signer, time: u64) -> Result<Vec<u8>> {
    let files = files_of(config)
        .iter()
        .map(|path| Ok((text_of(path)?, sha256_file(path)?)))
        .collect::<Result<Vec<_>>>()?;
    let manifest = Manifest { node: config.identity()?.to_uri(), time, files };
    crate::logs::sign_text(manifest.text()?, key)
}

/// A file's size, inode and change time: unchanged, the file was not written.
type Stamp = (u64, u64, i64, i64);

fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt as _;
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.ino(), m.ctime(), m.ctime_nsec()))
}

/// A running node's baseline: the verified manifest and what its files were last seen as.
pub struct Baseline {
    manifest: Manifest,
    digest: String,
    seen: BTreeMap<String, (Option<Stamp>, Option<String>)>,
    looks: u64,
    /// The files found different at the last look.
    differing: Vec<String>,
}

impl Baseline {
    /// The SHA-256 (hex) of the signed manifest, as the node's heartbeat carries it.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Hashes the listed files again (only those whose metadata changed, unless `full`);
    /// returns the files that differ from the manifest.
    fn look(&mut self, full: bool) -> Vec<String> {
        let mut actual = BTreeMap::new();
        for (path, _) in &self.manifest.files {
            let now = stamp(Path::new(path));
            let seen = self.seen.get(path);
            let digest = match seen {
                Some((before, digest)) if !full && now.is_some() && *before == now => {
                    digest.clone()
                }
                _ => sha256_file(Path::new(path)).ok(),
            };
            self.seen.insert(path.clone(), (now, digest.clone()));
            actual.insert(path.clone(), digest);
        }
        self.manifest.differences(&actual)
    }

    /// One look while the node runs: the detail of a `manifest-changed` alert when the files
    /// that differ are not those that differed at the last look (and some do).
    pub fn recheck(&mut self) -> Option<String> {
        self.looks += 1;
        let differing = self.look(self.looks.is_multiple_of(FULL_EVERY));
        if differing == self.differing {
            return None;
        }
        self.differing = differing.clone();
        (!differing.is_empty()).then(|| {
            format!(
                "{} file(s) differ from the signed manifest: {}",
                differing.len(),
                differing.join(", ")
            )
        })
    }
}

/// The node's baseline, if `config` names a manifest: its signature checked with the
/// configured key (which, for a town, must be `admin`, the key its genesis names), the node it
/// names, every file the node runs from listed, and every listed file as the manifest says.
/// Anything else is an error that names what differs: the node must not start.
pub fn load(config: &NodeConfig, admin: Option<&VerifierKey>) -> Result<Option<Baseline>> {
    let Some(settings) = &config.manifest else { return Ok(None) };
    let key = VerifierKey::parse(&settings.key)?;
    if let Some(admin) = admin
        && admin.to_string() != key.to_string()
    {
        bail!(
            "a town's manifest is signed by the admin key its genesis names; node.toml names another"
        );
    }
    let bytes = std::fs::read(&settings.file)
        .with_context(|| format!("cannot read the manifest {}", settings.file.display()))?;
    let known: tlog::note::Verifiers = [key].into_iter().collect();
    let opened = tlog::note::open(&bytes, &known).with_context(|| {
        format!("the manifest {} is not signed by manifest.key", settings.file.display())
    })?;
    let manifest = Manifest::parse(opened.text())?;
    let identity = config.identity()?.to_uri();
    if manifest.node != identity {
        bail!("the manifest describes {}, not this node ({identity})", manifest.node);
    }
    for path in files_of(config) {
        if !manifest.lists(&text_of(&path)?) {
            bail!("the manifest does not list {}, which the node runs from", path.display());
        }
    }
    let digest = {
        let mut hasher = sha2::Sha256::new();
        hasher.update(&bytes);
        hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
    };
    let mut baseline =
        Baseline { manifest, digest, seen: BTreeMap::new(), looks: 0, differing: Vec::new() };
    let differing = baseline.look(true);
    if !differing.is_empty() {
        bail!(
            "these files differ from the signed manifest {}: {} (if the change was meant, have \
             the manifest signed again with `juki manifest sign`)",
            settings.file.display(),
            differing.join(", ")
        );
    }
    Ok(Some(baseline))
}

/// Looks at the node's files every [`LOOK_EVERY`] while it runs; a difference is a
/// `manifest-changed` alert about the node itself (once for the same files).
pub fn spawn<N: crate::alerting::Alerting>(
    node: Arc<N>,
    mut baseline: Baseline,
    clock: Arc<dyn Clock>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(LOOK_EVERY).await;
            let node = node.clone();
            let clock = clock.clone();
            let looked = tokio::task::spawn_blocking(move || {
                if let Some(detail) = baseline.recheck() {
                    let identity = node.identity().to_uri();
                    let recorded = lock(node.journal()).alert(
                        clock.unix(),
                        Code::ManifestChanged,
                        &identity,
                        &detail,
                    );
                    if let Err(e) = recorded {
                        eprintln!("recording a manifest-changed alert failed: {e:#}");
                    }
                }
                baseline
            })
            .await;
            match looked {
                Ok(back) => baseline = back,
                Err(e) => {
                    eprintln!("the manifest look failed: {e}");
                    return;
                }
            }
        }
    })
}
