//! Tile paths and entry bundles: parsing never panics; paths that parse are canonical.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlog::tile::{TileId, parse_bundle, parse_hash_tile};

fuzz_target!(|data: &[u8]| {
    if let Ok(path) = std::str::from_utf8(data)
        && let Ok(tile) = TileId::parse_path(path)
    {
        assert_eq!(tile.path(), path);
        let _ = parse_hash_tile(tile, data);
    }
    let width = data.first().map_or(1, |&b| usize::from(b).max(1));
    if let Ok(entries) = parse_bundle(data, width) {
        let rebuilt = tlog::tile::bundle_bytes(entries.iter().copied()).unwrap();
        assert_eq!(rebuilt, data);
    }
});
