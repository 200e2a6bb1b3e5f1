//! Reading a log's published files from wherever they are: a directory here, HTTP elsewhere
//! (the `tlog-http` crate), behind one trait, so that proofs and verification work the same on
//! both.

use std::collections::BTreeMap;

use tlog::Hash;
use tlog::merkle::{HashReader, NodeId};
use tlog::tile::{TileId, TileKind, fold_perfect, locate_node, parse_hash_tile, tile_for_size};

use crate::Error;
use crate::tiledir::TileDir;

/// How many tiles a directory reads on the calling thread; more are read on every core.
const SMALL_READ: usize = 8;

/// Where a log's checkpoint and tiles can be read.
pub trait TileSource: Sync {
    /// The latest signed checkpoint, as served.
    fn checkpoint(&self) -> Result<Vec<u8>, Error>;

    /// The bytes of each tile, in order. Every tile must exist.
    fn tiles(&self, tiles: &[TileId]) -> Result<Vec<Vec<u8>>, Error>;
}

impl TileSource for TileDir {
    fn checkpoint(&self) -> Result<Vec<u8>, Error> {
        self.read_checkpoint()?.ok_or_else(|| Error::Fetch {
            what: self.checkpoint_path().display().to_string(),
            reason: "the log has no checkpoint yet (run `juki log checkpoint`)".into(),
        })
    }

    fn tiles(&self, tiles: &[TileId]) -> Result<Vec<Vec<u8>>, Error> {
        use rayon::prelude::*;
        let read = |tile: &TileId| {
            self.read_tile_for_serving(*tile)?.ok_or_else(|| Error::Fetch {
                what: tile.path(),
                reason: "no such tile in the log directory".into(),
            })
        };
        // A proof reads a few tiles: handing them to other threads costs more than reading.
        if tiles.len() <= SMALL_READ {
            return tiles.iter().map(read).collect();
        }
        tiles.par_iter().map(read).collect()
    }
}

/// Perfect-subtree hashes of the tree of one size, read from its tiles.
pub struct TileHashReader<'a, S: ?Sized> {
    source: &'a S,
    size: u64,
}

impl<'a, S: TileSource + ?Sized> TileHashReader<'a, S> {
    /// A reader for the tree of `size` leaves served by `source`.
    pub fn new(source: &'a S, size: u64) -> Self {
        TileHashReader { source, size }
    }
}

impl<S: TileSource + ?Sized> HashReader for TileHashReader<'_, S> {
    type Error = Error;

    fn read_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, Error> {
        let locations: Vec<_> = nodes.iter().map(|node| locate_node(*node)).collect();
        let mut needed: BTreeMap<(u8, u64), TileId> = BTreeMap::new();
        for (node, loc) in nodes.iter().zip(&locations) {
            let kind = TileKind::Hashes { level: loc.tile_level };
            let tile = tile_for_size(kind, loc.tile_index, self.size)
                .filter(|tile| loc.offset + loc.count <= usize::from(tile.width))
                .ok_or_else(|| {
                    Error::Corrupt(format!(
                        "node {}/{} is not part of a tree of size {}",
                        node.level, node.index, self.size
                    ))
                })?;
            needed.insert((loc.tile_level, loc.tile_index), tile);
        }
        let ids: Vec<TileId> = needed.values().copied().collect();
        let bytes = self.source.tiles(&ids)?;
        let mut rows = BTreeMap::new();
        for (id, bytes) in ids.iter().zip(bytes) {
            let hashes = parse_hash_tile(*id, &bytes).map_err(|e| Error::Corrupt(e.to_string()))?;
            rows.insert((id.level(), id.index), hashes);
        }
        Ok(locations
            .iter()
            .map(|loc| {
                let row = &rows[&(loc.tile_level, loc.tile_index)];
                fold_perfect(&row[loc.offset..loc.offset + loc.count])
            })
            .collect())
    }
}
