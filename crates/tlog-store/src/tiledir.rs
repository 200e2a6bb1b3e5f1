//! A log's public files in a directory: `checkpoint` and `tile/…`, laid out exactly as the
//! tlog-tiles URL space, so that any static file server can serve them.
//!
//! Every file is written under a temporary name, synced, and renamed into place, so a reader
//! (or a restart after a crash) sees either the old file or the whole new one. Tiles are
//! immutable: rewriting one writes the same bytes.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use tlog::tile::{TileId, TileKind, parse_bundle};

use crate::Error;

/// The directory holding a log's checkpoint and tiles.
#[derive(Clone, Debug)]
pub struct TileDir {
    root: PathBuf,
}

impl TileDir {
    /// The tile directory rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> TileDir {
        TileDir { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a tile lives. Tile paths are canonical and contain no `..`, so this never leaves
    /// the directory.
    pub fn tile_path(&self, tile: TileId) -> PathBuf {
        self.root.join(tile.path())
    }

    /// The checkpoint file.
    pub fn checkpoint_path(&self) -> PathBuf {
        self.root.join("checkpoint")
    }

    /// The current signed checkpoint, if the log has one.
    pub fn read_checkpoint(&self) -> Result<Option<Vec<u8>>, Error> {
        read_optional(&self.checkpoint_path())
    }

    /// Replaces the checkpoint, durably.
    pub fn write_checkpoint(&self, note: &[u8]) -> Result<(), Error> {
        fs::create_dir_all(&self.root).map_err(Error::io("creating", &self.root))?;
        write_atomic(&self.checkpoint_path(), note)?;
        sync_dir(&self.root)
    }

    /// The exact file of a tile, if present.
    pub fn read_tile(&self, tile: TileId) -> Result<Option<Vec<u8>>, Error> {
        read_optional(&self.tile_path(tile))
    }

    /// A tile as a reader asks for it. A partial tile that has been replaced by its full tile
    /// is cut from the full one: tiles only ever grow at the end, so the first `W` hashes (or
    /// entries) of the full tile are the partial tile of width `W`.
    pub fn read_tile_for_serving(&self, tile: TileId) -> Result<Option<Vec<u8>>, Error> {
        if let Some(bytes) = self.read_tile(tile)? {
            return Ok(Some(bytes));
        }
        if tile.is_full() {
            return Ok(None);
        }
        // The full tile, or else the narrowest wider partial tile that is still on disk.
        let mut wider = self.partial_tiles_of(tile.kind, tile.index)?;
        wider.retain(|t| t.width > tile.width);
        wider.sort_by_key(|t| t.width);
        let candidates = std::iter::once(TileId::full(tile.kind, tile.index)).chain(wider);
        for source in candidates {
            if let Some(bytes) = self.read_tile(source)? {
                return prefix_of(source, &bytes, tile).map(Some);
            }
        }
        Ok(None)
    }

    /// Writes a set of tiles: each to a temporary file, synced and renamed, then their
    /// directories synced. When this returns, every tile is durable.
    pub fn write_tiles(&self, tiles: &[(TileId, Vec<u8>)]) -> Result<(), Error> {
        let mut dirs = BTreeSet::new();
        for (tile, _) in tiles {
            let path = self.tile_path(*tile);
            let parent = path.parent().expect("tile paths have a parent").to_path_buf();
            if !dirs.contains(&parent) {
                fs::create_dir_all(&parent).map_err(Error::io("creating", &parent))?;
                dirs.insert(parent);
            }
        }
        use rayon::prelude::*;
        tiles
            .par_iter()
            .try_for_each(|(tile, bytes)| write_atomic(&self.tile_path(*tile), bytes))?;
        // Renames are durable once their directories are; directories up to the root too, as
        // create_dir_all may have made them.
        let mut all_dirs = BTreeSet::new();
        for dir in dirs {
            let mut at = dir.as_path();
            while at.starts_with(&self.root) {
                all_dirs.insert(at.to_path_buf());
                match at.parent() {
                    Some(parent) => at = parent,
                    None => break,
                }
            }
        }
        for dir in all_dirs {
            sync_dir(&dir)?;
        }
        Ok(())
    }

    /// Removes a tile file if present (used to drop partial tiles once their full tile exists).
    pub fn remove_tile(&self, tile: TileId) -> Result<(), Error> {
        let path = self.tile_path(tile);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("removing", path)(e)),
        }
    }

    /// The partial tiles stored for tile `index` of `kind`, whatever their widths.
    pub fn partial_tiles_of(&self, kind: TileKind, index: u64) -> Result<Vec<TileId>, Error> {
        let full = TileId::full(kind, index);
        let dir = PathBuf::from(format!("{}.p", self.tile_path(full).display()));
        let listing = match fs::read_dir(&dir) {
            Ok(listing) => listing,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("listing", dir)(e)),
        };
        let mut out = Vec::new();
        for item in listing {
            let item = item.map_err(Error::io("listing", &dir))?;
            let name = item.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Ok(tile) = TileId::parse_path(&format!("{}.p/{name}", full.path())) {
                out.push(tile);
            }
        }
        Ok(out)
    }
}

/// The first `tile.width` hashes or entries of a wider tile of the same kind and index.
fn prefix_of(source: TileId, bytes: &[u8], tile: TileId) -> Result<Vec<u8>, Error> {
    let corrupt = |why: String| Error::Corrupt(format!("{}: {why}", source.path()));
    match tile.kind {
        TileKind::Hashes { .. } => {
            if bytes.len() != source.hash_tile_len() {
                return Err(corrupt(format!(
                    "{} bytes instead of {}",
                    bytes.len(),
                    source.hash_tile_len()
                )));
            }
            Ok(bytes[..tile.hash_tile_len()].to_vec())
        }
        TileKind::Entries => {
            let entries = parse_bundle(bytes, usize::from(source.width))
                .map_err(|e| corrupt(e.to_string()))?;
            let len: usize = entries[..usize::from(tile.width)].iter().map(|e| 2 + e.len()).sum();
            Ok(bytes[..len].to_vec())
        }
    }
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("reading", path)(e)),
    }
}

/// Writes `bytes` to `path` through a synced temporary file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
    let mut file = File::create(&tmp).map_err(Error::io("creating", &tmp))?;
    file.write_all(bytes).map_err(Error::io("writing", &tmp))?;
    file.sync_all().map_err(Error::io("syncing", &tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(Error::io("renaming into place", path))
}

/// Makes the entries (creations, renames) of a directory durable.
pub fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(Error::io("syncing directory", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_tiles_are_cut_from_full_ones_when_gone() {
        let dir = tempfile::tempdir().unwrap();
        let tiles = TileDir::new(dir.path());
        let full: Vec<u8> = (0..=255u8).flat_map(|i| [i; 32]).collect();
        let level0 = TileKind::Hashes { level: 0 };
        tiles.write_tiles(&[(TileId::full(level0, 3), full.clone())]).unwrap();
        let partial = TileId { kind: level0, index: 3, width: 5 };
        assert_eq!(tiles.read_tile(partial).unwrap(), None);
        assert_eq!(tiles.read_tile_for_serving(partial).unwrap().unwrap(), full[..160]);

        let entries: Vec<Vec<u8>> = (0..256u32).map(|i| vec![7; (i % 5) as usize]).collect();
        let bundle = tlog::tile::bundle_bytes(entries.iter().map(Vec::as_slice)).unwrap();
        tiles.write_tiles(&[(TileId::full(TileKind::Entries, 0), bundle)]).unwrap();
        let cut = tiles
            .read_tile_for_serving(TileId { kind: TileKind::Entries, index: 0, width: 3 })
            .unwrap()
            .unwrap();
        assert_eq!(parse_bundle(&cut, 3).unwrap(), vec![&[][..], &[7][..], &[7, 7][..]]);
    }

    #[test]
    fn checkpoint_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let tiles = TileDir::new(dir.path().join("t"));
        assert_eq!(tiles.read_checkpoint().unwrap(), None);
        tiles.write_checkpoint(b"one").unwrap();
        tiles.write_checkpoint(b"two").unwrap();
        assert_eq!(tiles.read_checkpoint().unwrap().unwrap(), b"two");
        let leftovers: Vec<_> = fs::read_dir(tiles.root()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files are left behind");
    }
}
