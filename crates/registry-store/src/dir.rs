//! A registry directory: one municipality's registry on a node.
//!
//! ```text
//! D/registry.toml   municipality, log origin, node key file, node and national verifier keys
//! D/registry.db     the registry (registry-store): signed events, log entries, derived tables
//! D/node.key        the node's checkpoint key, named after the origin (0600, not sealed: the
//!                   node signs checkpoints unattended)
//! D/tlog/           tiles and checkpoint of the registry log, servable as they are
//! ```
//!
//! The municipality's admin key and the operators' keys are never kept here: the admin key is
//! written to a separate file at `juki init municipal` and kept offline, and each operator holds
//! their own passphrase-sealed key file.
//!
//! Key names follow the origin's host (the origin up to its first `/`, `juki.local` for the
//! default origin `juki.local/registry/<code>`): the admin key is `admin.<code>.<host>`, an
//! operator's key `op.<code>.<host>/<handle>`, and a national key generated at init
//! `national.<host>`.

use std::fs;
use std::path::{Path, PathBuf};

use registry_domain::MunicipalityCode;
use serde::{Deserialize, Serialize};
use tlog::note::VerifierKey;
use tlog::receipt::Receipt;
use tlog_store::integrate::{Integration, NoteSigner, integrate};
use tlog_store::keys::check_log_key;
use tlog_store::source::TileHashReader;
use tlog_store::tiledir::TileDir;

use crate::{Registry, StoreError};

type Result<T> = std::result::Result<T, StoreError>;

fn setup(message: String) -> StoreError {
    StoreError::Setup(message)
}

/// The configuration file's name.
pub const CONFIG: &str = "registry.toml";
/// The database's name.
pub const DATABASE: &str = "registry.db";
/// The node key's file name.
pub const NODE_KEY: &str = "node.key";
/// The tile directory's name.
pub const TILES: &str = "tlog";

/// `registry.toml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// The municipality's code (全国地方公共団体コード).
    pub municipality: String,
    /// The registry log's origin line; also the node key's name.
    pub origin: String,
    /// The node's checkpoint key file, relative to the directory unless absolute.
    pub key: PathBuf,
    /// The node key's verifier key.
    pub vkey: String,
    /// The national key that signs resident-code blocks.
    pub national: String,
}

/// An opened registry directory.
pub struct RegistryDir {
    pub dir: PathBuf,
    pub config: RegistryConfig,
    pub municipality: MunicipalityCode,
}

/// Whether `dir` already holds (part of) a registry.
pub fn holds_registry(dir: &Path) -> bool {
    [CONFIG, DATABASE, NODE_KEY, TILES].iter().any(|name| dir.join(name).exists())
}

impl RegistryDir {
    /// Opens a registry directory made by `juki init municipal`.
    pub fn open(dir: &Path) -> Result<RegistryDir> {
        let path = dir.join(CONFIG);
        let text = fs::read_to_string(&path).map_err(|_| {
            setup(format!(
                "{} is not a registry directory (no {CONFIG}); create one with `juki init \
                 municipal`",
                dir.display()
            ))
        })?;
        let config: RegistryConfig = toml::from_str(&text)
            .map_err(|e| setup(format!("{} is malformed: {e}", path.display())))?;
        let municipality = MunicipalityCode::parse(&config.municipality)
            .map_err(|e| setup(format!("the municipality in {}: {e}", path.display())))?;
        Ok(RegistryDir { dir: dir.to_path_buf(), config, municipality })
    }

    /// Opens the registry database and checks it belongs to this directory's configuration.
    pub fn registry(&self) -> Result<Registry> {
        let registry = Registry::open(&self.dir.join(DATABASE))?;
        if registry.municipality() != self.municipality {
            return Err(setup(format!(
                "{} is the registry of {} but {CONFIG} says {}; the directory was altered",
                DATABASE,
                registry.municipality(),
                self.municipality
            )));
        }
        if registry.national().to_string() != self.config.national {
            return Err(setup(format!(
                "{DATABASE} and {CONFIG} name different national keys; the directory was altered"
            )));
        }
        Ok(registry)
    }

    /// The registry log's tiles and checkpoint.
    pub fn tiles(&self) -> TileDir {
        TileDir::new(self.dir.join(TILES))
    }

    /// The node's verifier key.
    pub fn vkey(&self) -> Result<VerifierKey> {
        VerifierKey::parse(&self.config.vkey)
            .map_err(|e| setup(format!("bad vkey in {CONFIG}: {e}")))
    }

    /// The node's checkpoint signer, checked against the configured verifier key.
    pub fn signer(&self) -> Result<NoteSigner> {
        let path = self.dir.join(&self.config.key);
        let signer = tlog_store::keys::load_signer(&path, None)?;
        check_log_key(&signer.verifier(), &self.config.origin)?;
        if signer.verifier().to_string() != self.config.vkey {
            return Err(setup(format!(
                "{} is not the node key this registry was created with",
                path.display()
            )));
        }
        Ok(NoteSigner::new(signer)?)
    }

    /// A c2sp.org/tlog-proof receipt for each of `events` (`(index, signed note)`), the note in
    /// its `extra`, against the published checkpoint, whose witness cosignatures it carries.
    /// An event the checkpoint does not cover yet is [`StoreError::NotPublished`].
    pub fn receipts(&self, events: &[crate::LoggedEvent]) -> Result<Vec<Receipt>> {
        receipts(&self.tiles(), &self.vkey()?, &self.config.origin, events)
    }

    /// Integrates the registry log's new entries into the tiles and publishes a checkpoint
    /// signed by the node key.
    pub fn checkpoint(&self, registry: &mut Registry) -> Result<Integration> {
        let signer = self.signer()?;
        let tiles = self.tiles();
        let conn = &*registry.connection();
        Ok(integrate(conn, &tiles, &signer, &mut |i: &Integration| Ok(i.checkpoint.clone()))?)
    }
}

/// A c2sp.org/tlog-proof receipt for each of `events` (`(index, signed note)`), the note in its
/// `extra`, against the checkpoint published in `tiles` (verified with `vkey` for `origin`): a
/// town's own published checkpoint, or the town's checkpoint as an upstream mirror received it.
/// An event the checkpoint does not cover yet is [`StoreError::NotPublished`].
pub fn receipts(
    tiles: &TileDir,
    vkey: &VerifierKey,
    origin: &str,
    events: &[crate::LoggedEvent],
) -> Result<Vec<Receipt>> {
    use tlog_store::integrate::CheckpointVerifier as _;
    let (size, checkpoint) = match tiles.read_checkpoint()? {
        Some(note) => {
            (tlog_store::integrate::VerifyOnly::new(vkey.clone(), origin).open(&note)?.0, note)
        }
        None => (0, Vec::new()),
    };
    let hashes = TileHashReader::new(tiles, size);
    events
        .iter()
        .map(|(index, note)| {
            if *index >= size {
                return Err(StoreError::NotPublished { index: *index, size });
            }
            let proof = tlog::merkle::prove_inclusion(*index, size, &hashes)
                .map_err(|e| StoreError::Corrupt(format!("no inclusion proof: {e}")))?;
            Ok(Receipt {
                extra: Some(note.clone()),
                index: *index,
                proof,
                checkpoint: checkpoint.clone(),
            })
        })
        .collect()
}

/// Receipts made against one published checkpoint, kept for the lookups that follow: every
/// proof carries the genesis and an enrolment, and the checkpoint's size is read once per
/// checkpoint instead of once per lookup ([`receipts_with`]). Only a memo: the same checkpoint
/// bytes, opened with the same key, always have the same size, and the inclusion proofs of a
/// tree of one size are always the same hashes; whoever receives a receipt still checks it
/// against the checkpoint.
#[derive(Debug, Default)]
pub struct ReceiptCache {
    kept: std::sync::Mutex<Option<Kept>>,
    /// The checkpoint file's bytes as last read, with the stamp of the file they were read
    /// from: a lookup asks the file system for the stamp alone (one `stat`) and reads the file
    /// again only when it was replaced or changed.
    read: std::sync::Mutex<Option<(FileStamp, Vec<u8>)>>,
    /// The signature checks of the town's evidence that passed (see `evidence::Checked`).
    checked: registry_core::evidence::Checked,
}

/// Which file a path named when it was looked at, and its state: another file put in its
/// place (a rename), or the file changed, gives another stamp.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    #[cfg(unix)]
    device_and_inode: (u64, u64),
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl FileStamp {
    fn of(metadata: &std::fs::Metadata) -> FileStamp {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt as _;
        FileStamp {
            #[cfg(unix)]
            device_and_inode: (metadata.dev(), metadata.ino()),
            len: metadata.len(),
            modified: metadata.modified().ok(),
        }
    }
}

/// What a [`ReceiptCache`] holds: one checkpoint, as published and opened, and proofs of
/// inclusion in its tree.
#[derive(Debug)]
struct Kept {
    checkpoint: Vec<u8>,
    key: VerifierKey,
    origin: String,
    size: u64,
    proofs: std::collections::HashMap<u64, Vec<tlog::Hash>>,
}

impl ReceiptCache {
    /// How many proofs are kept for one checkpoint, at most (then they are forgotten).
    const PROOFS: usize = 4096;

    fn kept(&self) -> std::sync::MutexGuard<'_, Option<Kept>> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The checkpoint published in `tiles`, read again only when its file's stamp changed
    /// (a checkpoint is replaced by a rename, so each new one is a new file).
    fn checkpoint(&self, tiles: &TileDir) -> Result<Option<Vec<u8>>> {
        let path = tiles.checkpoint_path();
        let stamp = match std::fs::metadata(&path) {
            Ok(metadata) => FileStamp::of(&metadata),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(_) => return Ok(tiles.read_checkpoint()?),
        };
        let mut read = self.read.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((kept, bytes)) = read.as_ref()
            && *kept == stamp
        {
            return Ok(Some(bytes.clone()));
        }
        let Some(bytes) = tiles.read_checkpoint()? else { return Ok(None) };
        // Stamped before the read: a replacement in between is read again next time.
        *read = Some((stamp, bytes.clone()));
        Ok(Some(bytes))
    }

    /// The signature checks of this town's evidence that passed, for
    /// `evidence::verify_with`.
    pub fn checked(&self) -> &registry_core::evidence::Checked {
        &self.checked
    }
}

/// [`receipts`], remembering in `cache` the published checkpoint's size and the inclusion
/// proofs made against it.
pub fn receipts_with(
    tiles: &TileDir,
    vkey: &VerifierKey,
    origin: &str,
    events: &[crate::LoggedEvent],
    cache: &ReceiptCache,
) -> Result<Vec<Receipt>> {
    use tlog_store::integrate::CheckpointVerifier as _;
    let Some(checkpoint) = cache.checkpoint(tiles)? else {
        return receipts(tiles, vkey, origin, events);
    };
    // The checkpoint's size, and the proofs kept for it.
    let same =
        |kept: &Kept| kept.checkpoint == checkpoint && kept.key == *vkey && kept.origin == origin;
    let (size, mut proofs): (Option<u64>, Vec<Option<Vec<tlog::Hash>>>) = {
        let kept = cache.kept();
        match kept.as_ref().filter(|kept| same(kept)) {
            Some(kept) => (
                Some(kept.size),
                events.iter().map(|(index, _)| kept.proofs.get(index).cloned()).collect(),
            ),
            None => (None, vec![None; events.len()]),
        }
    };
    let size = match size {
        Some(size) => size,
        None => {
            let size =
                tlog_store::integrate::VerifyOnly::new(vkey.clone(), origin).open(&checkpoint)?.0;
            *cache.kept() = Some(Kept {
                checkpoint: checkpoint.clone(),
                key: vkey.clone(),
                origin: origin.to_owned(),
                size,
                proofs: Default::default(),
            });
            size
        }
    };
    let hashes = TileHashReader::new(tiles, size);
    let mut made = Vec::new();
    for ((index, _), proof) in events.iter().zip(proofs.iter_mut()) {
        if *index >= size {
            return Err(StoreError::NotPublished { index: *index, size });
        }
        if proof.is_none() {
            let new = tlog::merkle::prove_inclusion(*index, size, &hashes)
                .map_err(|e| StoreError::Corrupt(format!("no inclusion proof: {e}")))?;
            made.push((*index, new.clone()));
            *proof = Some(new);
        }
    }
    if !made.is_empty() {
        let mut kept = cache.kept();
        if let Some(kept) = kept.as_mut().filter(|kept| same(kept)) {
            if kept.proofs.len() + made.len() > ReceiptCache::PROOFS {
                kept.proofs.clear();
            }
            kept.proofs.extend(made);
        }
    }
    Ok(events
        .iter()
        .zip(proofs)
        .map(|((index, note), proof)| Receipt {
            extra: Some(note.clone()),
            index: *index,
            proof: proof.expect("made above"),
            checkpoint: checkpoint.clone(),
        })
        .collect())
}

/// The host part of an origin (up to the first `/`), used in key names.
pub fn origin_host(origin: &str) -> &str {
    origin.split('/').next().unwrap_or(origin)
}

/// The admin key's name.
pub fn admin_key_name(municipality: MunicipalityCode, origin: &str) -> String {
    format!("admin.{municipality}.{}", origin_host(origin))
}

/// An operator key's name.
pub fn operator_key_name(municipality: MunicipalityCode, origin: &str, handle: &str) -> String {
    format!("op.{municipality}.{}/{handle}", origin_host(origin))
}

/// Whether `handle` can be an operator's handle: 1 to 32 lower-case ASCII letters, digits,
/// '.', '_' or '-', starting with a letter or digit.
pub fn is_valid_handle(handle: &str) -> bool {
    (1..=32).contains(&handle.len())
        && handle.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
        && handle.as_bytes()[0].is_ascii_alphanumeric()
}

/// What an operator key's name (`op.CODE.HOST/HANDLE`) says: the municipality, the host of
/// its registry's origin and the operator's handle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorKeyName {
    /// The municipality the operator works for.
    pub municipality: MunicipalityCode,
    /// The host of the registry log's origin.
    pub host: String,
    /// The operator's handle.
    pub handle: String,
}

impl OperatorKeyName {
    /// Reads an operator key's name; `None` if it is not of the form `op.CODE.HOST/HANDLE`
    /// with a valid municipality code and handle.
    pub fn parse(name: &str) -> Option<OperatorKeyName> {
        let rest = name.strip_prefix("op.")?;
        let (code, rest) = rest.split_once('.')?;
        let (host, handle) = rest.split_once('/')?;
        if host.is_empty() || host.contains('/') || !is_valid_handle(handle) {
            return None;
        }
        let municipality = MunicipalityCode::parse(code).ok()?;
        if municipality.to_string() != code {
            return None;
        }
        Some(OperatorKeyName { municipality, host: host.to_owned(), handle: handle.to_owned() })
    }

    /// The name of the admin key that enrols this operator (`admin.CODE.HOST`).
    pub fn admin_key_name(&self) -> String {
        format!("admin.{}.{}", self.municipality, self.host)
    }
}

/// The national key's name, when init generates it.
pub fn national_key_name(origin: &str) -> String {
    format!("national.{}", origin_host(origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_checkpoint_is_read_again_whenever_its_file_is_replaced_or_changed() {
        let dir = tempfile::tempdir().unwrap();
        let tiles = TileDir::new(dir.path());
        let cache = ReceiptCache::default();
        assert_eq!(cache.checkpoint(&tiles).unwrap(), None);
        tiles.write_checkpoint(b"first\n").unwrap();
        assert_eq!(cache.checkpoint(&tiles).unwrap().unwrap(), b"first\n");
        assert_eq!(cache.checkpoint(&tiles).unwrap().unwrap(), b"first\n");
        // Replaced by a rename, as a log publishes: same length, other bytes.
        tiles.write_checkpoint(b"other\n").unwrap();
        assert_eq!(cache.checkpoint(&tiles).unwrap().unwrap(), b"other\n");
        // Rewritten in place by someone else, longer.
        std::fs::write(tiles.checkpoint_path(), b"in place, longer\n").unwrap();
        assert_eq!(cache.checkpoint(&tiles).unwrap().unwrap(), b"in place, longer\n");
        std::fs::remove_file(tiles.checkpoint_path()).unwrap();
        assert_eq!(cache.checkpoint(&tiles).unwrap(), None);
    }

    #[test]
    fn operator_key_names_are_read_back() {
        let code = MunicipalityCode::parse("204072").unwrap();
        let name = operator_key_name(code, "juki.local/registry/204072", "tanaka");
        let parsed = OperatorKeyName::parse(&name).expect("a name made here");
        assert_eq!(parsed.municipality, code);
        assert_eq!((parsed.host.as_str(), parsed.handle.as_str()), ("juki.local", "tanaka"));
        assert_eq!(parsed.admin_key_name(), admin_key_name(code, "juki.local/registry/204072"));
        for bad in [
            "admin.204072.juki.local",
            "op.204072.juki.local",
            "op.204072.juki.local/",
            "op.204072.juki.local/Tanaka",
            "op.204071.juki.local/tanaka",
            "op.20407.juki.local/tanaka",
            "op.204072./tanaka",
            "op.204072.juki.local/a/b",
            "op.204072.juki.local/-x",
        ] {
            assert_eq!(OperatorKeyName::parse(bad), None, "{bad}");
        }
    }
}
