//! A log directory: `log.toml` (origin, key, witnesses), `entries.db` (the entries, the source
//! of truth) and `tlog/` (tiles and checkpoint, servable as they are).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};
use tlog::note::VerifierKey;
use tlog_store::entries::SqliteEntries;
use tlog_store::integrate::NoteSigner;
use tlog_store::tiledir::TileDir;

const CONFIG: &str = "log.toml";

/// A witness the log asks for cosignatures.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// The witness's submission prefix (`http://host:port`).
    pub url: String,
    /// The witness's cosignature verifier key.
    pub vkey: String,
}

/// `log.toml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// The log's origin line; also the name of its key.
    pub origin: String,
    /// The private key file that signs checkpoints.
    pub key: PathBuf,
    /// The verifier key of that key.
    pub vkey: String,
    /// How many of the witnesses must cosign before a checkpoint is published.
    #[serde(default)]
    pub witness_quorum: usize,
    /// Witnesses asked to cosign each checkpoint.
    #[serde(default)]
    pub witness: Vec<WitnessConfig>,
}

/// An opened log directory.
pub struct LogDir {
    pub dir: PathBuf,
    pub config: LogConfig,
}

impl LogDir {
    /// Creates a new log directory; refuses one that already holds a log.
    pub fn create(dir: &Path, config: LogConfig) -> Result<LogDir> {
        let path = dir.join(CONFIG);
        if path.exists() {
            bail!("{} already holds a log; choose an empty directory", dir.display());
        }
        // Owner-only (0700): the entries database is in it.
        keyfile::private::create_dir_all(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        let text = toml::to_string_pretty(&config)?;
        tlog_store::tiledir::write_atomic(&path, text.as_bytes())?;
        tlog_store::tiledir::sync_dir(dir)?;
        Ok(LogDir { dir: dir.to_path_buf(), config })
    }

    /// Opens an existing log directory.
    pub fn open(dir: &Path) -> Result<LogDir> {
        let path = dir.join(CONFIG);
        let text = fs::read_to_string(&path).with_context(|| {
            format!(
                "{} is not a log directory (no {CONFIG}); create one with `juki log new`",
                dir.display()
            )
        })?;
        let config: LogConfig =
            toml::from_str(&text).with_context(|| format!("{} is malformed", path.display()))?;
        Ok(LogDir { dir: dir.to_path_buf(), config })
    }

    /// The entries database.
    pub fn entries(&self) -> Result<SqliteEntries> {
        Ok(SqliteEntries::open(&self.dir.join("entries.db"))?)
    }

    /// The tiles and checkpoint.
    pub fn tiles(&self) -> TileDir {
        TileDir::new(self.dir.join("tlog"))
    }

    /// The log's verifier key.
    pub fn vkey(&self) -> Result<VerifierKey> {
        VerifierKey::parse(&self.config.vkey).with_context(|| format!("bad vkey in {CONFIG}"))
    }

    /// The checkpoint signer, checked against the configured verifier key.
    pub fn signer(&self, passphrase_env: Option<&str>) -> Result<NoteSigner> {
        let signer = crate::key::load_signer(&self.config.key, passphrase_env)?;
        check_log_key(&signer.verifier(), &self.config.origin)?;
        if signer.verifier().to_string() != self.config.vkey {
            bail!(
                "{} is not the key this log was created with ({})",
                self.config.key.display(),
                self.config.vkey
            );
        }
        Ok(NoteSigner::new(signer)?)
    }
}

/// A log key must be an Ed25519 note key named after the origin.
pub fn check_log_key(vkey: &VerifierKey, origin: &str) -> Result<()> {
    Ok(tlog_store::keys::check_log_key(vkey, origin)?)
}
