//! c2sp.org/tlog-tiles: tile coordinates, paths, partial tiles and entry bundles.
//!
//! A hash tile at level `L` and index `N` holds up to 256 consecutive node hashes of tree level
//! `8·L`; a level-0 tile holds leaf hashes and its entry bundle the entries themselves. A tree of
//! size `s` is fully described by its full tiles and, at each level, at most one partial tile of
//! width `floor(s / 256^L) mod 256`. Everything here is arithmetic and parsing; reading and
//! writing tiles belongs to the caller.

use std::fmt;

use crate::hash::{HASH_SIZE, Hash};
use crate::merkle::{NodeId, fold_range, range_nodes};

/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u64 = 256;
/// Tree levels spanned by one tile level.
pub const TILE_HEIGHT: u8 = 8;
/// The largest entry a bundle can carry (uint16 length prefix).
pub const MAX_ENTRY_SIZE: usize = u16::MAX as usize;
/// The highest tile level the specification allows.
pub const MAX_LEVEL: u8 = 63;

/// What a tile holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// Node hashes at tree level `8·level` (`tile/<L>/…`).
    Hashes {
        /// The tile level `L`.
        level: u8,
    },
    /// Log entries (`tile/entries/…`), parallel to level-0 hash tiles.
    Entries,
}

/// One tile or entry bundle: its kind, its index within the level and its width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    /// Hash tile of some level, or entry bundle.
    pub kind: TileKind,
    /// The tile's position in its level.
    pub index: u64,
    /// How many hashes or entries it holds: 1..=256, 256 for a full tile.
    pub width: u16,
}

/// A tile path that does not follow c2sp.org/tlog-tiles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TilePathError {
    /// The path does not start with `tile/`.
    #[error("a tile path starts with \"tile/\"")]
    NotATile,
    /// The level is not `entries` or a decimal from 0 to 63 without leading zeros.
    #[error("the tile level must be \"entries\" or a number from 0 to 63")]
    BadLevel,
    /// The index is not in the `x001/x234/067` form.
    #[error("the tile index must be three-digit groups, all but the last prefixed with 'x'")]
    BadIndex,
    /// The width of a partial tile is not a decimal from 1 to 255 without leading zeros.
    #[error("a partial tile's width must be a number from 1 to 255")]
    BadWidth,
}

impl TileId {
    /// A full tile.
    pub fn full(kind: TileKind, index: u64) -> TileId {
        TileId { kind, index, width: TILE_WIDTH as u16 }
    }

    /// Whether the tile holds all 256 hashes or entries.
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The hash tile level, or 0 for entry bundles (which sit beside level 0).
    pub fn level(&self) -> u8 {
        match self.kind {
            TileKind::Hashes { level } => level,
            TileKind::Entries => 0,
        }
    }

    /// The number of bytes a hash tile of this width has.
    pub fn hash_tile_len(&self) -> usize {
        usize::from(self.width) * HASH_SIZE
    }

    /// The tile's path below the log prefix, e.g. `tile/0/x001/x234/067.p/8`.
    pub fn path(&self) -> String {
        self.to_string()
    }

    /// Parses a tile path below the log prefix. Only the canonical form is accepted, so each
    /// tile has exactly one path (and `tile/../..` and friends are nothing).
    pub fn parse_path(path: &str) -> Result<TileId, TilePathError> {
        let rest = path.strip_prefix("tile/").ok_or(TilePathError::NotATile)?;
        let (level, rest) = rest.split_once('/').ok_or(TilePathError::BadLevel)?;
        let kind = if level == "entries" {
            TileKind::Entries
        } else {
            let level = parse_decimal(level, 2).ok_or(TilePathError::BadLevel)?;
            if level > u64::from(MAX_LEVEL) {
                return Err(TilePathError::BadLevel);
            }
            TileKind::Hashes { level: level as u8 }
        };
        let (index_part, width) = match rest.split_once(".p/") {
            Some((index, width)) => {
                let width = parse_decimal(width, 3).ok_or(TilePathError::BadWidth)?;
                if !(1..TILE_WIDTH).contains(&width) {
                    return Err(TilePathError::BadWidth);
                }
                (index, width as u16)
            }
            None => (rest, TILE_WIDTH as u16),
        };
        let index = parse_index(index_part).ok_or(TilePathError::BadIndex)?;
        Ok(TileId { kind, index, width })
    }
}

impl fmt::Display for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TileKind::Hashes { level } => write!(f, "tile/{level}/")?,
            TileKind::Entries => f.write_str("tile/entries/")?,
        }
        write_index(f, self.index)?;
        if !self.is_full() {
            write!(f, ".p/{}", self.width)?;
        }
        Ok(())
    }
}

/// A decimal of at most `max_digits` digits with no leading zeros.
fn parse_decimal(text: &str, max_digits: usize) -> Option<u64> {
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > max_digits || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if bytes.len() > 1 && bytes[0] == b'0' {
        return None;
    }
    text.parse().ok()
}

fn write_index(f: &mut fmt::Formatter<'_>, index: u64) -> fmt::Result {
    let mut groups = Vec::new();
    let mut n = index;
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    for (i, group) in groups.iter().rev().enumerate() {
        if i + 1 == groups.len() {
            write!(f, "{group:03}")?;
        } else {
            write!(f, "x{group:03}/")?;
        }
    }
    Ok(())
}

fn parse_index(text: &str) -> Option<u64> {
    let groups: Vec<&str> = text.split('/').collect();
    // u64::MAX has 20 digits: seven groups.
    if groups.len() > 7 {
        return None;
    }
    let mut index: u64 = 0;
    for (i, group) in groups.iter().enumerate() {
        let last = i + 1 == groups.len();
        let digits = if last { *group } else { group.strip_prefix('x')? };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let value: u64 = digits.parse().ok()?;
        // The first of several groups must not be zero: the canonical form has no leading zeros.
        if i == 0 && !last && value == 0 {
            return None;
        }
        index = index.checked_mul(1000)?.checked_add(value)?;
    }
    Some(index)
}

/// The number of hashes at tile level `level` in a tree of `size` leaves (whole tiles and the
/// partial one).
pub fn hashes_at_level(level: u8, size: u64) -> u64 {
    let shift = u32::from(level) * u32::from(TILE_HEIGHT);
    if shift >= 64 { 0 } else { size >> shift }
}

/// The width of the partial tile at `level` for a tree of `size` leaves, 0 if there is none.
pub fn partial_width(level: u8, size: u64) -> u16 {
    (hashes_at_level(level, size) % TILE_WIDTH) as u16
}

/// The tile at `level` and `index` as a tree of `size` leaves has it (full or partial), or `None`
/// when the tree has no such tile.
pub fn tile_for_size(kind: TileKind, index: u64, size: u64) -> Option<TileId> {
    let level = match kind {
        TileKind::Hashes { level } => level,
        TileKind::Entries => 0,
    };
    let count = hashes_at_level(level, size);
    let start = index.checked_mul(TILE_WIDTH)?;
    if start >= count {
        return None;
    }
    let width = (count - start).min(TILE_WIDTH) as u16;
    Some(TileId { kind, index, width })
}

/// The number of tile levels a tree of `size` leaves has (0 for the empty tree).
pub fn level_count(size: u64) -> u8 {
    (0..=MAX_LEVEL).take_while(|&level| hashes_at_level(level, size) > 0).count() as u8
}

/// Every hash tile of a tree of `size` leaves, level by level, left to right.
pub fn hash_tiles(size: u64) -> impl Iterator<Item = TileId> {
    (0..level_count(size)).flat_map(move |level| tiles_of_level(TileKind::Hashes { level }, size))
}

/// Every tile of one kind in a tree of `size` leaves, left to right.
pub fn tiles_of_level(kind: TileKind, size: u64) -> impl Iterator<Item = TileId> {
    let level = match kind {
        TileKind::Hashes { level } => level,
        TileKind::Entries => 0,
    };
    let count = hashes_at_level(level, size);
    (0..count.div_ceil(TILE_WIDTH)).filter_map(move |index| tile_for_size(kind, index, size))
}

/// Where a node's hash comes from: the tile holding the row of hashes under it, and which of
/// them (`2^(level mod 8)` consecutive hashes folded into one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeLocation {
    /// Tile level holding the row.
    pub tile_level: u8,
    /// Index of that tile.
    pub tile_index: u64,
    /// Offset of the first hash within the tile.
    pub offset: usize,
    /// Number of hashes to fold (a power of two, at most 128).
    pub count: usize,
}

/// Locates a perfect subtree's hash in the tiles.
pub fn locate_node(node: NodeId) -> NodeLocation {
    let tile_level = node.level / TILE_HEIGHT;
    let sub_level = node.level % TILE_HEIGHT;
    let first = node.index << sub_level;
    NodeLocation {
        tile_level,
        tile_index: first / TILE_WIDTH,
        offset: (first % TILE_WIDTH) as usize,
        count: 1 << sub_level,
    }
}

/// The hash of a perfect subtree from the row of hashes found with [`locate_node`].
pub fn fold_perfect(hashes: &[Hash]) -> Hash {
    debug_assert!(hashes.len().is_power_of_two());
    // A perfect, power-of-two row is its own aligned range.
    let mut row = hashes.to_vec();
    while row.len() > 1 {
        row = row.chunks_exact(2).map(|pair| crate::hash::node_hash(&pair[0], &pair[1])).collect();
    }
    row[0]
}

/// The Merkle tree hash of a full tile's 256 hashes: the hash one tile level up.
pub fn tile_root(hashes: &[Hash]) -> Hash {
    let nodes = range_nodes(0, hashes.len() as u64);
    let mut parts = Vec::with_capacity(nodes.len());
    for node in nodes {
        let start = node.first_leaf() as usize;
        let end = node.end_leaf() as usize;
        parts.push(fold_perfect(&hashes[start..end]));
    }
    fold_range(&parts)
}

/// A hash tile whose length is not what its width says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{tile} should be {expected} bytes but is {got}")]
pub struct TileSizeError {
    /// The tile.
    pub tile: TileId,
    /// What its width calls for.
    pub expected: usize,
    /// What it was.
    pub got: usize,
}

/// Splits a hash tile into its hashes, checking its length against its width.
pub fn parse_hash_tile(tile: TileId, bytes: &[u8]) -> Result<Vec<Hash>, TileSizeError> {
    if bytes.len() != tile.hash_tile_len() {
        return Err(TileSizeError { tile, expected: tile.hash_tile_len(), got: bytes.len() });
    }
    Ok(bytes
        .chunks_exact(HASH_SIZE)
        .map(|chunk| Hash::from_slice(chunk).expect("chunks are 32 bytes"))
        .collect())
}

/// Concatenates hashes into a hash tile.
pub fn hash_tile_bytes(hashes: &[Hash]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hashes.len() * HASH_SIZE);
    for hash in hashes {
        out.extend_from_slice(&hash.0);
    }
    out
}

/// An entry bundle that is not a sequence of the expected number of length-prefixed entries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// The bundle ended inside a length prefix or an entry.
    #[error("the entry bundle is truncated after {complete} entries")]
    Truncated {
        /// Entries read whole before the end.
        complete: usize,
    },
    /// The bundle has a different number of entries than its width.
    #[error("the entry bundle has {got} entries, expected {expected}")]
    WrongCount {
        /// The width of the bundle.
        expected: usize,
        /// Entries found.
        got: usize,
    },
    /// An entry is larger than a uint16 length can say.
    #[error("an entry of {0} bytes is larger than the 65,535 a bundle can hold")]
    EntryTooLarge(usize),
}

/// Appends one entry to a bundle under construction.
pub fn push_bundle_entry(bundle: &mut Vec<u8>, entry: &[u8]) -> Result<(), BundleError> {
    let len = u16::try_from(entry.len()).map_err(|_| BundleError::EntryTooLarge(entry.len()))?;
    bundle.extend_from_slice(&len.to_be_bytes());
    bundle.extend_from_slice(entry);
    Ok(())
}

/// Encodes entries as an entry bundle.
pub fn bundle_bytes<'a>(
    entries: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<u8>, BundleError> {
    let mut out = Vec::new();
    for entry in entries {
        push_bundle_entry(&mut out, entry)?;
    }
    Ok(out)
}

/// Splits an entry bundle into exactly `expected` entries, with nothing left over.
pub fn parse_bundle(bytes: &[u8], expected: usize) -> Result<Vec<&[u8]>, BundleError> {
    let mut entries = Vec::with_capacity(expected.min(TILE_WIDTH as usize));
    let mut rest = bytes;
    while !rest.is_empty() {
        if entries.len() == expected {
            // Count what follows without trusting it, for the message.
            let extra = parse_bundle(rest, usize::MAX).map(|e| e.len()).unwrap_or(1);
            return Err(BundleError::WrongCount { expected, got: expected + extra });
        }
        let Some((len, tail)) = rest.split_first_chunk::<2>() else {
            return Err(BundleError::Truncated { complete: entries.len() });
        };
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len {
            return Err(BundleError::Truncated { complete: entries.len() });
        }
        entries.push(&tail[..len]);
        rest = &tail[len..];
    }
    if entries.len() != expected {
        return Err(BundleError::WrongCount { expected, got: entries.len() });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile(level: u8, index: u64, width: u16) -> TileId {
        TileId { kind: TileKind::Hashes { level }, index, width }
    }

    #[test]
    fn paths_follow_the_spec_examples() {
        assert_eq!(tile(0, 1234067, 256).path(), "tile/0/x001/x234/067");
        assert_eq!(tile(0, 0, 256).path(), "tile/0/000");
        assert_eq!(tile(2, 0, 1).path(), "tile/2/000.p/1");
        assert_eq!(
            TileId { kind: TileKind::Entries, index: 273, width: 112 }.path(),
            "tile/entries/273.p/112"
        );
        assert_eq!(tile(0, 1000, 256).path(), "tile/0/x001/000");
    }

    #[test]
    fn paths_round_trip_and_only_canonical_forms_parse() {
        for id in [
            tile(0, 0, 256),
            tile(63, u64::MAX, 255),
            tile(1, 1000, 17),
            TileId { kind: TileKind::Entries, index: 999_999, width: 1 },
        ] {
            assert_eq!(TileId::parse_path(&id.path()), Ok(id));
        }
        for bad in [
            "tile/../..",
            "tile/0/../000",
            "tile/0/000/",
            "tile/00/000",
            "tile/64/000",
            "tile/-1/000",
            "tile/0/0",
            "tile/0/0000",
            "tile/0/x000/001",
            "tile/0/001/002",
            "tile/0/x1/002",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/08",
            "tile/0/000.p/",
            "tile/entries/000.p/1/2",
            "tile/0/x999/x999/x999/x999/x999/x999/x999/999",
            "tiles/0/000",
            "tile/0/000\0",
            "tile/0/+12",
            "",
        ] {
            assert!(TileId::parse_path(bad).is_err(), "{bad:?} must not parse");
        }
    }

    #[test]
    fn tiles_of_the_spec_example_size_70000() {
        let tiles: Vec<String> = hash_tiles(70_000).map(|t| t.path()).collect();
        assert_eq!(tiles.len(), 273 + 1 + 2 + 1);
        assert_eq!(tiles[272], "tile/0/272");
        assert_eq!(tiles[273], "tile/0/273.p/112");
        assert_eq!(tiles[274..], ["tile/1/000", "tile/1/001.p/17", "tile/2/000.p/1"]);
        let at_256: Vec<String> = hash_tiles(256).map(|t| t.path()).collect();
        assert_eq!(at_256, ["tile/0/000", "tile/1/000.p/1"]);
        assert_eq!(hash_tiles(0).count(), 0);
        assert_eq!(partial_width(0, 70_000), 112);
        assert_eq!(partial_width(1, 70_000), 17);
        assert_eq!(partial_width(2, 70_000), 1);
    }

    #[test]
    fn bundles_round_trip_and_reject_damage() {
        let entries: Vec<&[u8]> = vec![b"", b"a", &[7u8; 300]];
        let bytes = bundle_bytes(entries.iter().copied()).unwrap();
        assert_eq!(parse_bundle(&bytes, 3).unwrap(), entries);
        assert_eq!(parse_bundle(&bytes, 2), Err(BundleError::WrongCount { expected: 2, got: 3 }));
        assert_eq!(parse_bundle(&bytes, 4), Err(BundleError::WrongCount { expected: 4, got: 3 }));
        assert_eq!(
            parse_bundle(&bytes[..bytes.len() - 1], 3),
            Err(BundleError::Truncated { complete: 2 })
        );
        assert_eq!(bundle_bytes([&vec![0u8; 65_536][..]]), Err(BundleError::EntryTooLarge(65_536)));
    }

    #[test]
    fn node_locations_and_folds_match_the_tree() {
        let leaves: Vec<Hash> = (0..1024u64).map(|i| crate::leaf_hash(&i.to_le_bytes())).collect();
        let tree = crate::merkle::MemoryTree::from_leaves(&leaves);
        use crate::merkle::HashReader;
        for node in [
            NodeId { level: 0, index: 300 },
            NodeId { level: 3, index: 33 },
            NodeId { level: 7, index: 5 },
            NodeId { level: 8, index: 2 },
            NodeId { level: 9, index: 1 },
        ] {
            let loc = locate_node(node);
            let row: Vec<Hash> = (0..loc.count)
                .map(|i| {
                    let id = NodeId {
                        level: loc.tile_level * 8,
                        index: loc.tile_index * 256 + (loc.offset + i) as u64,
                    };
                    tree.read_hashes(&[id]).unwrap()[0]
                })
                .collect();
            assert_eq!(fold_perfect(&row), tree.read_hashes(&[node]).unwrap()[0], "{node:?}");
        }
        let level1 = tree.read_hashes(&[NodeId { level: 8, index: 1 }]).unwrap()[0];
        assert_eq!(tile_root(&leaves[256..512]), level1);
    }
}
