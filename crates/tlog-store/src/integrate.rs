//! Integration: entries in, tiles and a signed checkpoint out.
//!
//! The integrator picks up where the last checkpoint left off. It rebuilds the right edge of the
//! tree at that size (the partial level-0 tile from the entries, the partial upper tiles from
//! disk) and checks it against the old checkpoint's root before it builds on it, so a tile
//! directory or an entries table that was changed behind the log's back stops it instead of
//! being signed over. New entries stream through in tile-aligned chunks; each full tile is
//! written once and rolled up into the level above. Before signing, the new root is recomputed
//! from the tiles just written and proven consistent with the old one by an RFC 9162 check, so
//! the log never signs a checkpoint it cannot prove consistent with its previous one.

use std::fs::{self, File};

use tlog::hash::{EMPTY_ROOT, Hash, leaf_hash};
use tlog::merkle::{fold_range, prove_consistency, range_nodes, tree_root, verify_consistency};
use tlog::tile::{
    TILE_WIDTH, TileId, TileKind, bundle_bytes, fold_perfect, hash_tile_bytes, hashes_at_level,
    level_count, parse_hash_tile, partial_width, tile_root,
};

use crate::Error;
use crate::entries::EntryReader;
use crate::source::TileHashReader;
use crate::tiledir::TileDir;

/// Entries read and hashed per step: a multiple of the tile width that bounds memory.
const CHUNK: u64 = 32 * TILE_WIDTH;

/// Opens the checkpoints a log signed.
pub trait CheckpointVerifier {
    /// Verifies a checkpoint this log signed and returns its size and root.
    fn open(&self, note: &[u8]) -> Result<(u64, Hash), Error>;
}

/// Signs the log's checkpoints and opens the ones it signed before.
pub trait CheckpointSigner: CheckpointVerifier {
    /// The log's origin line.
    fn origin(&self) -> &str;

    /// Signs a checkpoint body (`origin\nsize\nroot\n`) and returns the signed note.
    fn sign(&self, body: &str) -> Result<Vec<u8>, Error>;
}

/// What one integration did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Integration {
    /// The tree size of the previous checkpoint (0 if there was none).
    pub old_size: u64,
    /// The tree size of the checkpoint now published.
    pub size: u64,
    /// Its root hash.
    pub root: Hash,
    /// The signed checkpoint now in the tile directory.
    pub checkpoint: Vec<u8>,
}

/// The checkpoint body for a tree.
pub fn checkpoint_body(origin: &str, size: u64, root: &Hash) -> String {
    format!("{origin}\n{size}\n{}\n", root.to_base64())
}

/// Publishes a checkpoint as the log signed it, without cosignatures.
pub fn without_witnesses(integration: &Integration) -> Result<Vec<u8>, Error> {
    Ok(integration.checkpoint.clone())
}

/// Integrates every committed entry into the tiles and publishes a signed checkpoint. Safe to
/// run again after a crash at any point, and a no-op when nothing new was appended.
///
/// `cosign` sees the signed checkpoint after the tiles are durable and before anything is
/// published, and returns the note to publish: the log's checkpoint with the cosignatures its
/// witnesses returned. When it fails, nothing is published and the old checkpoint stands.
pub fn integrate(
    entries: &dyn EntryReader,
    tiles: &TileDir,
    signer: &dyn CheckpointSigner,
    cosign: &mut dyn FnMut(&Integration) -> Result<Vec<u8>, Error>,
) -> Result<Integration, Error> {
    let _lock = lock(tiles)?;
    fs::create_dir_all(tiles.root()).map_err(Error::io("creating", tiles.root()))?;

    let previous = tiles.read_checkpoint()?;
    let (old_size, old_root) = match &previous {
        Some(note) => signer.open(note)?,
        None => (0, EMPTY_ROOT),
    };
    let new_size = entries.entry_count()?;
    if new_size < old_size {
        return Err(Error::Corrupt(format!(
            "the checkpoint covers {old_size} entries but only {new_size} are stored: entries \
             were removed behind the log's back"
        )));
    }

    let mut edge = RightEdge::load(entries, tiles, old_size)?;
    if edge.root() != old_root {
        return Err(Error::Corrupt(format!(
            "the stored entries and tiles do not reproduce the root of the last checkpoint \
             (size {old_size}); refusing to sign over them"
        )));
    }
    if let (Some(note), true) = (&previous, new_size == old_size) {
        return Ok(Integration {
            old_size,
            size: old_size,
            root: old_root,
            checkpoint: note.clone(),
        });
    }

    extend(entries, tiles, &mut edge, new_size)?;
    let root = edge.root();

    // Read the new tree back from disk and prove it extends the old one.
    let reader = TileHashReader::new(tiles, new_size);
    let reread = tree_root(new_size, &reader).map_err(|e| Error::Corrupt(e.to_string()))?;
    if reread != root {
        return Err(Error::Corrupt(format!(
            "the tiles written for size {new_size} do not reproduce the computed root"
        )));
    }
    let proof = prove_consistency(old_size, new_size, &reader)
        .map_err(|e| Error::Corrupt(e.to_string()))?;
    verify_consistency(old_size, new_size, &proof, &old_root, &root).map_err(|e| {
        Error::Corrupt(format!("the new tree is not consistent with the last checkpoint: {e}"))
    })?;

    let checkpoint = signer.sign(&checkpoint_body(signer.origin(), new_size, &root))?;
    let mut integration = Integration { old_size, size: new_size, root, checkpoint };
    integration.checkpoint = cosign(&integration)?;
    tiles.write_checkpoint(&integration.checkpoint)?;
    remove_replaced_partials(tiles, old_size, new_size)?;
    Ok(integration)
}

/// [`integrate`] in steps of at most `step` new entries, each step's checkpoint cosigned and
/// published before the next, so that every size a reader may need — a replication batch of at
/// most `step` entries ends at one — has a published, witnessed checkpoint. Returns every
/// checkpoint published, oldest first (none when nothing new was appended).
pub fn integrate_in_steps(
    entries: &dyn EntryReader,
    tiles: &TileDir,
    signer: &dyn CheckpointSigner,
    cosign: &mut dyn FnMut(&Integration) -> Result<Vec<u8>, Error>,
    step: u64,
) -> Result<Vec<Integration>, Error> {
    if step == 0 {
        return Err(Error::Config("an integration step holds at least one entry".into()));
    }
    let total = entries.entry_count()?;
    let mut published = match tiles.read_checkpoint()? {
        Some(note) => signer.open(&note)?.0,
        None => 0,
    };
    let mut done = Vec::new();
    while published < total {
        let capped = Capped { entries, count: total.min(published + step) };
        let integration = integrate(&capped, tiles, signer, cosign)?;
        published = integration.size;
        done.push(integration);
    }
    Ok(done)
}

/// The first `count` entries of a log, as [`integrate_in_steps`] shows them to each step.
struct Capped<'a> {
    entries: &'a dyn EntryReader,
    count: u64,
}

impl EntryReader for Capped<'_> {
    fn entry_count(&self) -> Result<u64, Error> {
        Ok(self.entries.entry_count()?.min(self.count))
    }

    fn read_entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, Error> {
        if end > self.count {
            return Err(Error::Corrupt(format!("entries beyond {} were read", self.count)));
        }
        self.entries.read_entries(start, end)
    }
}

/// Takes the lock that serialises integrations and rebuilds of one tile directory. The lock
/// file sits beside the directory, so that a rebuild can replace the directory while holding it.
fn lock(tiles: &TileDir) -> Result<File, Error> {
    let root = tiles.root();
    let name = root.file_name().and_then(|n| n.to_str()).unwrap_or("tiles");
    let path = root.with_file_name(format!(".{name}.lock"));
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(Error::io("creating", parent))?;
    }
    let file = File::create(&path).map_err(Error::io("creating", &path))?;
    file.lock().map_err(Error::io("locking", &path))?;
    Ok(file)
}

/// Streams entries from the edge's size up to `end` into the tiles, in tile-aligned chunks,
/// and writes the partial tiles at `end`. Every tile written is durable when this returns.
fn extend(
    entries: &dyn EntryReader,
    tiles: &TileDir,
    edge: &mut RightEdge,
    end: u64,
) -> Result<(), Error> {
    let mut start = edge.size;
    while start < end {
        let stop = (start - start % CHUNK + CHUNK).min(end);
        let batch = entries.read_entries(start, stop)?;
        let hashes = {
            use rayon::prelude::*;
            batch.par_iter().map(|entry| leaf_hash(entry)).collect::<Vec<_>>()
        };
        let mut written = Vec::new();
        for (entry, hash) in batch.into_iter().zip(hashes) {
            edge.push_leaf(entry, hash, &mut written)?;
        }
        tiles.write_tiles(&written)?;
        start = stop;
    }
    tiles.write_tiles(&edge.partial_tiles(end)?)
}

/// Rebuilds every tile of the checkpointed tree from the entries into a fresh directory, which
/// then replaces the tile directory; returns the checkpoint's size. The rebuilt tree must
/// reproduce the checkpoint's root, so this repairs lost or damaged tiles but never blesses
/// entries that were changed. Entries appended after the checkpoint are left for the next
/// integration.
pub fn rebuild(
    entries: &dyn EntryReader,
    tiles: &TileDir,
    verifier: &dyn CheckpointVerifier,
) -> Result<u64, Error> {
    let _lock = lock(tiles)?;
    let root = tiles.root();
    let name = root.file_name().and_then(|n| n.to_str()).unwrap_or("tiles").to_owned();
    let fresh = TileDir::new(root.with_file_name(format!("{name}.rebuild")));
    let replaced = root.with_file_name(format!("{name}.replaced"));
    // A crash between the two renames below leaves the checkpoint in the replaced directory.
    let note = match tiles.read_checkpoint()? {
        Some(note) => Some(note),
        None => TileDir::new(&replaced).read_checkpoint()?,
    };
    let (size, expected) = match &note {
        Some(note) => verifier.open(note)?,
        None => (0, EMPTY_ROOT),
    };
    let stored = entries.entry_count()?;
    if stored < size {
        return Err(Error::Corrupt(format!(
            "the checkpoint covers {size} entries but only {stored} are stored: entries were \
             removed behind the log's back"
        )));
    }
    if fresh.root().exists() {
        fs::remove_dir_all(fresh.root()).map_err(Error::io("removing", fresh.root()))?;
    }
    fs::create_dir_all(fresh.root()).map_err(Error::io("creating", fresh.root()))?;
    let mut edge = RightEdge::load(entries, &fresh, 0)?;
    extend(entries, &fresh, &mut edge, size)?;
    if edge.root() != expected {
        return Err(Error::Corrupt(format!(
            "the stored entries do not reproduce the root of the checkpoint (size {size}): they \
             were changed behind the log's back; the tiles were not replaced"
        )));
    }
    if let Some(note) = &note {
        fresh.write_checkpoint(note)?;
    }
    if root.exists() {
        fs::rename(root, &replaced).map_err(Error::io("moving aside", root))?;
    }
    fs::rename(fresh.root(), root).map_err(Error::io("moving into place", root))?;
    if let Some(parent) = root.parent() {
        crate::tiledir::sync_dir(parent)?;
    }
    if replaced.exists() {
        fs::remove_dir_all(&replaced).map_err(Error::io("removing", &replaced))?;
    }
    Ok(size)
}

/// Drops partial tiles whose full tile now exists (the spec allows it; readers that still ask
/// for them are served a prefix of the full tile).
fn remove_replaced_partials(tiles: &TileDir, old_size: u64, new_size: u64) -> Result<(), Error> {
    for level in 0..level_count(old_size) {
        if partial_width(level, old_size) == 0 {
            continue;
        }
        let index = hashes_at_level(level, old_size) / TILE_WIDTH;
        if hashes_at_level(level, new_size) < (index + 1) * TILE_WIDTH {
            continue;
        }
        let mut kinds = vec![TileKind::Hashes { level }];
        if level == 0 {
            kinds.push(TileKind::Entries);
        }
        for kind in kinds {
            for partial in tiles.partial_tiles_of(kind, index)? {
                tiles.remove_tile(partial)?;
            }
        }
    }
    Ok(())
}

/// The unfinished right edge of the tree: at each tile level, the hashes of the tile being
/// filled, and the entries of the level-0 tile being filled.
struct RightEdge {
    rows: Vec<Vec<Hash>>,
    open_entries: Vec<Vec<u8>>,
    /// Leaves in the tree so far.
    size: u64,
}

impl RightEdge {
    /// The right edge of the tree of `size` leaves: level 0 recomputed from the entries, the
    /// levels above read from the partial tiles on disk.
    fn load(entries: &dyn EntryReader, tiles: &TileDir, size: u64) -> Result<RightEdge, Error> {
        let mut rows = Vec::new();
        let open_start = size - size % TILE_WIDTH;
        let open_entries = entries.read_entries(open_start, size)?;
        rows.push(open_entries.iter().map(|e| leaf_hash(e)).collect());
        for level in 1..level_count(size) {
            let width = partial_width(level, size);
            if width == 0 {
                rows.push(Vec::new());
                continue;
            }
            let tile = TileId {
                kind: TileKind::Hashes { level },
                index: hashes_at_level(level, size) / TILE_WIDTH,
                width,
            };
            let bytes = tiles.read_tile_for_serving(tile)?.ok_or_else(|| {
                Error::Corrupt(format!(
                    "{} is missing; rebuild the tiles from the entries",
                    tile.path()
                ))
            })?;
            rows.push(parse_hash_tile(tile, &bytes).map_err(|e| Error::Corrupt(e.to_string()))?);
        }
        Ok(RightEdge { rows, open_entries, size })
    }

    fn push_leaf(
        &mut self,
        entry: Vec<u8>,
        hash: Hash,
        written: &mut Vec<(TileId, Vec<u8>)>,
    ) -> Result<(), Error> {
        self.open_entries.push(entry);
        self.size += 1;
        if self.open_entries.len() as u64 == TILE_WIDTH {
            let index = self.size / TILE_WIDTH - 1;
            let bundle = bundle_bytes(self.open_entries.iter().map(Vec::as_slice))
                .map_err(|e| Error::Corrupt(e.to_string()))?;
            written.push((TileId::full(TileKind::Entries, index), bundle));
            self.open_entries.clear();
        }
        self.push_hash(0, hash, written);
        Ok(())
    }

    fn push_hash(&mut self, level: u8, hash: Hash, written: &mut Vec<(TileId, Vec<u8>)>) {
        if self.rows.len() == usize::from(level) {
            self.rows.push(Vec::new());
        }
        let row = &mut self.rows[usize::from(level)];
        row.push(hash);
        if row.len() as u64 == TILE_WIDTH {
            let index = hashes_at_level(level, self.size) / TILE_WIDTH - 1;
            let full = std::mem::take(row);
            written.push((TileId::full(TileKind::Hashes { level }, index), hash_tile_bytes(&full)));
            self.push_hash(level + 1, tile_root(&full), written);
        }
    }

    /// The partial tiles of the tree at its current size.
    fn partial_tiles(&self, size: u64) -> Result<Vec<(TileId, Vec<u8>)>, Error> {
        debug_assert_eq!(size, self.size);
        let mut out = Vec::new();
        for (level, row) in self.rows.iter().enumerate() {
            if row.is_empty() {
                continue;
            }
            let level = level as u8;
            let tile = TileId {
                kind: TileKind::Hashes { level },
                index: hashes_at_level(level, size) / TILE_WIDTH,
                width: row.len() as u16,
            };
            out.push((tile, hash_tile_bytes(row)));
        }
        if !self.open_entries.is_empty() {
            let tile = TileId {
                kind: TileKind::Entries,
                index: size / TILE_WIDTH,
                width: self.open_entries.len() as u16,
            };
            let bundle = bundle_bytes(self.open_entries.iter().map(Vec::as_slice))
                .map_err(|e| Error::Corrupt(e.to_string()))?;
            out.push((tile, bundle));
        }
        Ok(out)
    }

    /// The root of the tree: the perfect subtrees of every row, largest first, folded.
    fn root(&self) -> Hash {
        root_of_rows(&self.rows)
    }
}

/// The root of a tree given the partial row of each tile level (level 0 first).
pub fn root_of_rows(rows: &[Vec<Hash>]) -> Hash {
    let mut parts = Vec::new();
    for row in rows.iter().rev() {
        for node in range_nodes(0, row.len() as u64) {
            parts.push(fold_perfect(&row[node.first_leaf() as usize..node.end_leaf() as usize]));
        }
    }
    fold_range(&parts)
}

/// A [`CheckpointSigner`] holding the log's Ed25519 note key, whose name is the origin.
pub struct NoteSigner {
    signer: tlog::note::Signer,
    policy: tlog::checkpoint::Policy,
}

impl NoteSigner {
    /// Wraps the log's key. Its name must be the log's origin and its kind Ed25519 (0x01).
    pub fn new(signer: tlog::note::Signer) -> Result<NoteSigner, Error> {
        if signer.kind() != tlog::note::KeyKind::Ed25519 {
            return Err(Error::Config(
                "a log signs checkpoints with an Ed25519 key, not a witness cosignature key".into(),
            ));
        }
        let policy = tlog::checkpoint::Policy {
            log_keys: vec![signer.verifier()],
            witnesses: Vec::new(),
            quorum: 0,
        };
        Ok(NoteSigner { signer, policy })
    }
}

impl CheckpointSigner for NoteSigner {
    fn origin(&self) -> &str {
        self.signer.name()
    }

    fn sign(&self, body: &str) -> Result<Vec<u8>, Error> {
        let checkpoint = tlog::checkpoint::Checkpoint::parse(body)
            .map_err(|e| Error::Checkpoint(e.to_string()))?;
        tlog::checkpoint::sign(&checkpoint, &self.signer)
            .map_err(|e| Error::Checkpoint(e.to_string()))
    }
}

impl CheckpointVerifier for NoteSigner {
    fn open(&self, note: &[u8]) -> Result<(u64, Hash), Error> {
        open_own(&self.policy, note, self.origin())
    }
}

/// A [`CheckpointVerifier`] from the log's verifier key alone, for work that needs no signing.
pub struct VerifyOnly {
    policy: tlog::checkpoint::Policy,
    origin: String,
}

impl VerifyOnly {
    /// Opens checkpoints of `origin` signed by `vkey`.
    pub fn new(vkey: tlog::note::VerifierKey, origin: &str) -> VerifyOnly {
        let policy =
            tlog::checkpoint::Policy { log_keys: vec![vkey], witnesses: Vec::new(), quorum: 0 };
        VerifyOnly { policy, origin: origin.to_owned() }
    }
}

impl CheckpointVerifier for VerifyOnly {
    fn open(&self, note: &[u8]) -> Result<(u64, Hash), Error> {
        open_own(&self.policy, note, &self.origin)
    }
}

fn open_own(
    policy: &tlog::checkpoint::Policy,
    note: &[u8],
    origin: &str,
) -> Result<(u64, Hash), Error> {
    let verified = policy.verify_origin(note, origin).map_err(|e| {
        Error::Checkpoint(format!("the log's own checkpoint does not verify with its key: {e}"))
    })?;
    Ok((verified.checkpoint.size, verified.checkpoint.root))
}
