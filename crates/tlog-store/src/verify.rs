//! Whole-log verification, as an independent auditor does it: every tile and every entry bundle
//! of a checkpointed tree is fetched and recomputed, and every hash is tied to the signed root.
//!
//! The upper tiles are checked first: the partial tile of each level (the right edge) must fold
//! into the checkpoint's root, and every full tile must hash to its entry one level up. Then the
//! level-0 tiles stream through in parallel batches: each entry bundle must hash, entry by entry,
//! to its level-0 tile, and each full level-0 tile to its hash at level 1. When this passes,
//! every entry the log serves is the one the signed root commits to.

use tlog::Hash;
use tlog::hash::leaf_hash;
use tlog::merkle::{prove_consistency, verify_consistency};
use tlog::tile::{
    TILE_WIDTH, TileId, TileKind, hashes_at_level, level_count, parse_bundle, parse_hash_tile,
    tile_for_size, tile_root, tiles_of_level,
};

use crate::Error;
use crate::integrate::root_of_rows;
use crate::source::{TileHashReader, TileSource};

/// Level-0 tiles fetched and checked per batch.
const BATCH_TILES: u64 = 64;

/// What a successful verification covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The tree size verified.
    pub size: u64,
    /// Its root.
    pub root: Hash,
    /// Hash tiles fetched and checked.
    pub hash_tiles: u64,
    /// Entry bundles fetched and checked.
    pub entry_bundles: u64,
    /// Bytes of entries hashed.
    pub entry_bytes: u64,
}

/// Recomputes the whole tree of `size` leaves from `source` and checks it against `root`.
/// `progress` is called with the number of leaves checked so far.
pub fn verify_tree(
    source: &dyn TileSource,
    size: u64,
    root: &Hash,
    progress: &mut dyn FnMut(u64),
) -> Result<Verified, Error> {
    let levels = level_count(size);
    let mut report =
        Verified { size, root: *root, hash_tiles: 0, entry_bundles: 0, entry_bytes: 0 };

    // All hashes of every level above 0, and the partial level-0 tile.
    let mut upper: Vec<Vec<Hash>> = vec![Vec::new()];
    for level in 1..levels {
        let ids: Vec<TileId> = tiles_of_level(TileKind::Hashes { level }, size).collect();
        let bytes = source.tiles(&ids)?;
        let mut row = Vec::with_capacity(hashes_at_level(level, size) as usize);
        for (id, bytes) in ids.iter().zip(bytes) {
            row.extend(parse_hash_tile(*id, &bytes).map_err(|e| Error::Corrupt(e.to_string()))?);
        }
        report.hash_tiles += ids.len() as u64;
        upper.push(row);
    }
    let mut rows: Vec<Vec<Hash>> = Vec::with_capacity(usize::from(levels));
    for level in 0..levels {
        let full = (hashes_at_level(level, size) / TILE_WIDTH * TILE_WIDTH) as usize;
        if level == 0 {
            let partial =
                match tile_for_size(TileKind::Hashes { level: 0 }, full as u64 / 256, size) {
                    Some(tile) => {
                        let bytes = source.tiles(&[tile])?.remove(0);
                        parse_hash_tile(tile, &bytes).map_err(|e| Error::Corrupt(e.to_string()))?
                    }
                    None => Vec::new(),
                };
            rows.push(partial);
        } else {
            rows.push(upper[usize::from(level)][full..].to_vec());
        }
    }
    if root_of_rows(&rows) != *root {
        return Err(Error::Corrupt(format!(
            "the right edge of the served tiles does not hash to the checkpoint's root (size {size})"
        )));
    }
    for level in 1..levels {
        let row = &upper[usize::from(level)];
        for (index, tile) in row.chunks_exact(TILE_WIDTH as usize).enumerate() {
            let parent = upper.get(usize::from(level) + 1).and_then(|r| r.get(index));
            if parent != Some(&tile_root(tile)) {
                return Err(Error::Corrupt(format!(
                    "{} does not hash to its entry in the level above",
                    TileId::full(TileKind::Hashes { level }, index as u64).path()
                )));
            }
        }
    }

    let level0_tiles = size.div_ceil(TILE_WIDTH);
    let level1: &[Hash] = upper.get(1).map_or(&[], Vec::as_slice);
    let mut first = 0;
    while first < level0_tiles {
        let last = (first + BATCH_TILES).min(level0_tiles);
        let mut ids = Vec::with_capacity(2 * (last - first) as usize);
        for index in first..last {
            let hashes = tile_for_size(TileKind::Hashes { level: 0 }, index, size)
                .expect("index is inside the tree");
            ids.push(hashes);
            ids.push(TileId { kind: TileKind::Entries, ..hashes });
        }
        let fetched = source.tiles(&ids)?;
        let checked: Vec<Result<u64, Error>> = {
            use rayon::prelude::*;
            ids.par_chunks(2)
                .zip(fetched.par_chunks(2))
                .map(|(ids, bytes)| check_level0_tile(ids[0], &bytes[0], &bytes[1], level1))
                .collect()
        };
        for result in checked {
            report.entry_bytes += result?;
        }
        report.hash_tiles += last - first;
        report.entry_bundles += last - first;
        progress((last * TILE_WIDTH).min(size));
        first = last;
    }
    Ok(report)
}

/// Checks one level-0 tile against its entry bundle and, when full, against level 1. Returns
/// the number of entry bytes hashed.
fn check_level0_tile(
    tile: TileId,
    tile_bytes: &[u8],
    bundle_bytes: &[u8],
    level1: &[Hash],
) -> Result<u64, Error> {
    let hashes = parse_hash_tile(tile, tile_bytes).map_err(|e| Error::Corrupt(e.to_string()))?;
    let entries = parse_bundle(bundle_bytes, usize::from(tile.width)).map_err(|e| {
        Error::Corrupt(format!("{}: {e}", TileId { kind: TileKind::Entries, ..tile }.path()))
    })?;
    let mut bytes = 0;
    for (offset, (entry, hash)) in entries.iter().zip(&hashes).enumerate() {
        if leaf_hash(entry) != *hash {
            return Err(Error::Corrupt(format!(
                "entry {} does not match its leaf hash in {}",
                tile.index * TILE_WIDTH + offset as u64,
                tile.path()
            )));
        }
        bytes += entry.len() as u64;
    }
    if tile.is_full() && level1.get(tile.index as usize) != Some(&tile_root(&hashes)) {
        return Err(Error::Corrupt(format!(
            "{} does not hash to its entry in level 1",
            tile.path()
        )));
    }
    Ok(bytes)
}

/// Proves from `source` that the tree `(new_size, new_root)` extends `(old_size, old_root)`, and
/// checks the proof with the RFC 9162 algorithm. Returns the proof.
pub fn check_consistency(
    source: &dyn TileSource,
    (old_size, old_root): (u64, Hash),
    (new_size, new_root): (u64, Hash),
) -> Result<Vec<Hash>, Error> {
    if old_size > new_size {
        return Err(Error::Corrupt(format!(
            "the earlier checkpoint has size {old_size}, larger than the current {new_size}: the \
             log went backwards"
        )));
    }
    let reader = TileHashReader::new(source, new_size);
    let proof = prove_consistency(old_size, new_size, &reader).map_err(|e| match e {
        tlog::merkle::BuildError::Read(e) => e,
        other => Error::Corrupt(other.to_string()),
    })?;
    verify_consistency(old_size, new_size, &proof, &old_root, &new_root).map_err(|e| {
        Error::Corrupt(format!(
            "the log at size {new_size} is not consistent with the earlier checkpoint at size \
             {old_size}: {e}"
        ))
    })?;
    Ok(proof)
}

/// Checks that the first `size` entries in the entries database are the ones the published
/// tiles commit to: a node's self-check that nothing in its database was changed behind the
/// log's back. Returns the number of entries checked.
pub fn check_entries(
    entries: &dyn crate::entries::EntryReader,
    source: &dyn TileSource,
    size: u64,
) -> Result<u64, Error> {
    let stored = entries.entry_count()?;
    if stored < size {
        return Err(Error::Corrupt(format!(
            "the entries database holds {stored} entries but the checkpoint covers {size}"
        )));
    }
    let tiles = size.div_ceil(TILE_WIDTH);
    let mut first = 0;
    while first < tiles {
        let last = (first + BATCH_TILES).min(tiles);
        let ids: Vec<TileId> = (first..last)
            .map(|index| {
                tile_for_size(TileKind::Hashes { level: 0 }, index, size).expect("inside the tree")
            })
            .collect();
        let fetched = source.tiles(&ids)?;
        let start = first * TILE_WIDTH;
        let batch = entries.read_entries(start, (last * TILE_WIDTH).min(size))?;
        let mut leaves = Vec::with_capacity(batch.len());
        for (id, bytes) in ids.iter().zip(&fetched) {
            leaves.extend(parse_hash_tile(*id, bytes).map_err(|e| Error::Corrupt(e.to_string()))?);
        }
        let mismatch = {
            use rayon::prelude::*;
            batch.par_iter().zip(&leaves).position_first(|(entry, leaf)| leaf_hash(entry) != *leaf)
        };
        if let Some(offset) = mismatch {
            let index = start + offset as u64;
            return Err(Error::Corrupt(format!(
                "entry {index} in the entries database does not match its leaf in {}: it was \
                 changed behind the log's back",
                ids[offset / TILE_WIDTH as usize].path()
            )));
        }
        first = last;
    }
    Ok(size)
}
