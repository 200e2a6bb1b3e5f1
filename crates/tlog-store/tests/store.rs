//! Integration and verification of logs on disk: growth in uneven steps, agreement with an
//! in-memory tree, and refusal to sign over or verify data changed behind the log's back.

use std::fs;

use tlog::merkle::{MemoryTree, prove_inclusion, verify_inclusion};
use tlog::note::{KeyKind, Signer};
use tlog::tile::{TileId, TileKind};
use tlog::{Hash, leaf_hash};
use tlog_store::Error;
use tlog_store::entries::{EntryReader, SqliteEntries};
use tlog_store::integrate::{Integration, NoteSigner, integrate, rebuild, without_witnesses};
use tlog_store::source::{TileHashReader, TileSource};
use tlog_store::tiledir::TileDir;
use tlog_store::verify::{check_consistency, verify_tree};

const ORIGIN: &str = "juki.test/log";

struct Log {
    _dir: tempfile::TempDir,
    entries: SqliteEntries,
    tiles: TileDir,
    signer: NoteSigner,
    all: Vec<Vec<u8>>,
}

impl Log {
    fn new() -> Log {
        let dir = tempfile::tempdir().unwrap();
        let entries = SqliteEntries::open(&dir.path().join("entries.db")).unwrap();
        let tiles = TileDir::new(dir.path().join("tlog"));
        let signer =
            NoteSigner::new(Signer::from_seed(ORIGIN, KeyKind::Ed25519, [7; 32]).unwrap()).unwrap();
        Log { _dir: dir, entries, tiles, signer, all: Vec::new() }
    }

    fn append(&mut self, count: usize) {
        let batch: Vec<Vec<u8>> = (self.all.len()..self.all.len() + count)
            .map(|i| format!("entry {i} {}", "x".repeat(i % 37)).into_bytes())
            .collect();
        let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
        assert_eq!(self.entries.append(&refs).unwrap(), self.all.len() as u64);
        self.all.extend(batch);
    }

    fn integrate(&self) -> Result<Integration, Error> {
        integrate(&self.entries, &self.tiles, &self.signer, &mut without_witnesses)
    }

    fn expected_root(&self) -> Hash {
        let leaves: Vec<Hash> = self.all.iter().map(|e| leaf_hash(e)).collect();
        MemoryTree::from_leaves(&leaves).root()
    }
}

#[test]
fn a_log_grown_in_uneven_steps_verifies_at_every_checkpoint() {
    let mut log = Log::new();
    let first = log.integrate().unwrap();
    assert_eq!((first.size, first.root), (0, tlog::EMPTY_ROOT));
    let mut previous = (0, tlog::EMPTY_ROOT);
    for step in [1, 254, 1, 1, 255, 256, 300, 65_536 - 1068, 1, 4_000] {
        log.append(step);
        let done = log.integrate().unwrap();
        assert_eq!(done.size, log.all.len() as u64);
        assert_eq!(done.root, log.expected_root(), "root at size {}", done.size);
        let verified = verify_tree(&log.tiles, done.size, &done.root, &mut |_| {}).unwrap();
        assert_eq!(verified.entry_bundles, done.size.div_ceil(256));
        check_consistency(&log.tiles, previous, (done.size, done.root)).unwrap();
        previous = (done.size, done.root);
    }
    // Inclusion proofs from the tiles agree with the in-memory tree.
    let size = log.all.len() as u64;
    let reader = TileHashReader::new(&log.tiles, size);
    for index in [0, 1, 255, 256, 69_000, size - 1] {
        let proof = prove_inclusion(index, size, &reader).unwrap();
        verify_inclusion(&leaf_hash(&log.all[index as usize]), index, size, &proof, &previous.1)
            .unwrap();
    }
    // Nothing new: the same checkpoint stands.
    let again = log.integrate().unwrap();
    assert_eq!(again.old_size, again.size);
    assert_eq!(again.checkpoint, log.tiles.read_checkpoint().unwrap().unwrap());
}

#[test]
fn superseded_partial_tiles_are_removed_but_still_served() {
    let mut log = Log::new();
    log.append(10);
    log.integrate().unwrap();
    let partial = TileId { kind: TileKind::Hashes { level: 0 }, index: 0, width: 10 };
    assert!(log.tiles.read_tile(partial).unwrap().is_some());
    log.append(300);
    log.integrate().unwrap();
    assert!(log.tiles.read_tile(partial).unwrap().is_none(), "replaced by the full tile");
    let served = log.tiles.tiles(&[partial]).unwrap().remove(0);
    let leaves: Vec<u8> = log.all[..10].iter().flat_map(|e| leaf_hash(e).0).collect();
    assert_eq!(served, leaves);
}

#[test]
fn an_entry_rewritten_in_the_database_stops_the_next_checkpoint() {
    let mut log = Log::new();
    log.append(300);
    log.integrate().unwrap();
    log.entries
        .connection()
        .execute("UPDATE log_entries SET entry = x'00' WHERE idx = 290", [])
        .unwrap();
    log.append(5);
    let error = log.integrate().unwrap_err();
    assert!(matches!(error, Error::Corrupt(_)), "{error}");
    assert!(error.to_string().contains("do not reproduce the root"), "{error}");
}

#[test]
fn entries_deleted_from_the_database_stop_the_next_checkpoint() {
    let mut log = Log::new();
    log.append(20);
    log.integrate().unwrap();
    log.entries.connection().execute("DELETE FROM log_entries WHERE idx >= 15", []).unwrap();
    let error = log.integrate().unwrap_err();
    assert!(error.to_string().contains("were removed"), "{error}");
}

#[test]
fn a_changed_tile_or_bundle_fails_verification_and_names_it() {
    let mut log = Log::new();
    log.append(600);
    let done = log.integrate().unwrap();

    let tile = TileId::full(TileKind::Hashes { level: 0 }, 1);
    let path = log.tiles.tile_path(tile);
    let original = fs::read(&path).unwrap();
    let mut changed = original.clone();
    changed[40] ^= 1;
    fs::write(&path, &changed).unwrap();
    let error = verify_tree(&log.tiles, done.size, &done.root, &mut |_| {}).unwrap_err();
    assert!(error.to_string().contains("tile/0/001"), "{error}");
    fs::write(&path, &original[..8000]).unwrap();
    let error = verify_tree(&log.tiles, done.size, &done.root, &mut |_| {}).unwrap_err();
    assert!(error.to_string().contains("should be 8192 bytes"), "{error}");
    fs::write(&path, &original).unwrap();

    let bundle = TileId::full(TileKind::Entries, 0);
    let path = log.tiles.tile_path(bundle);
    let mut changed = fs::read(&path).unwrap();
    let last = changed.len() - 1;
    changed[last] ^= 1;
    fs::write(&path, &changed).unwrap();
    let error = verify_tree(&log.tiles, done.size, &done.root, &mut |_| {}).unwrap_err();
    assert!(error.to_string().contains("entry 255 does not match"), "{error}");
}

#[test]
fn a_checkpoint_signed_by_another_key_is_not_built_on() {
    let mut log = Log::new();
    log.append(3);
    log.integrate().unwrap();
    let impostor = Signer::from_seed(ORIGIN, KeyKind::Ed25519, [8; 32]).unwrap();
    let forged = tlog::checkpoint::sign(
        &tlog::checkpoint::Checkpoint::new(ORIGIN, 3, log.expected_root()),
        &impostor,
    )
    .unwrap();
    log.tiles.write_checkpoint(&forged).unwrap();
    log.append(1);
    let error = log.integrate().unwrap_err();
    assert!(error.to_string().contains("does not verify with its key"), "{error}");
    assert_eq!(log.entries.entry_count().unwrap(), 4);
}

#[test]
fn lost_tiles_are_rebuilt_from_the_entries() {
    let mut log = Log::new();
    log.append(70_000);
    let done = log.integrate().unwrap();
    log.append(10);
    fs::remove_dir_all(log.tiles.root().join("tile/1")).unwrap();
    let error = log.integrate().unwrap_err();
    assert!(error.to_string().contains("rebuild the tiles"), "{error}");

    assert_eq!(rebuild(&log.entries, &log.tiles, &log.signer).unwrap(), 70_000);
    verify_tree(&log.tiles, done.size, &done.root, &mut |_| {}).unwrap();
    assert_eq!(log.tiles.read_checkpoint().unwrap().unwrap(), done.checkpoint);
    let next = log.integrate().unwrap();
    assert_eq!((next.size, next.root), (70_010, log.expected_root()));

    // The whole directory gone, and a crash that left only the replaced copy behind.
    let root = log.tiles.root().to_path_buf();
    fs::rename(&root, root.with_file_name("tlog.replaced")).unwrap();
    assert_eq!(rebuild(&log.entries, &log.tiles, &log.signer).unwrap(), 70_010);
    assert!(!root.with_file_name("tlog.replaced").exists());
    verify_tree(&log.tiles, next.size, &next.root, &mut |_| {}).unwrap();
}

#[test]
fn a_rebuild_never_blesses_changed_entries() {
    let mut log = Log::new();
    log.append(600);
    log.integrate().unwrap();
    log.entries
        .connection()
        .execute("UPDATE log_entries SET entry = x'01' WHERE idx = 3", [])
        .unwrap();
    let before =
        fs::read(log.tiles.tile_path(TileId::full(TileKind::Hashes { level: 0 }, 0))).unwrap();
    let error = rebuild(&log.entries, &log.tiles, &log.signer).unwrap_err();
    assert!(error.to_string().contains("were changed"), "{error}");
    let after =
        fs::read(log.tiles.tile_path(TileId::full(TileKind::Hashes { level: 0 }, 0))).unwrap();
    assert_eq!(before, after, "the old tiles stand");
}

#[test]
fn integrating_in_steps_publishes_a_cosigned_checkpoint_at_every_step() {
    let mut log = Log::new();
    log.append(3);
    log.integrate().unwrap();
    log.append(600);
    let mut cosigned = Vec::new();
    let mut cosign = |i: &Integration| {
        cosigned.push((i.old_size, i.size));
        Ok(i.checkpoint.clone())
    };
    let steps = tlog_store::integrate::integrate_in_steps(
        &log.entries,
        &log.tiles,
        &log.signer,
        &mut cosign,
        256,
    )
    .unwrap();
    let sizes: Vec<(u64, u64)> = steps.iter().map(|i| (i.old_size, i.size)).collect();
    assert_eq!(sizes, [(3, 259), (259, 515), (515, 603)]);
    assert_eq!(cosigned, sizes, "every step's checkpoint is cosigned before the next");
    let leaves: Vec<Hash> = log.all.iter().map(|e| leaf_hash(e)).collect();
    for step in &steps {
        assert_eq!(step.root, MemoryTree::from_leaves(&leaves[..step.size as usize]).root());
    }
    assert_eq!(log.tiles.read_checkpoint().unwrap().unwrap(), steps[2].checkpoint);
    // Nothing new: no step.
    let again = tlog_store::integrate::integrate_in_steps(
        &log.entries,
        &log.tiles,
        &log.signer,
        &mut without_witnesses,
        256,
    )
    .unwrap();
    assert!(again.is_empty());
    assert!(matches!(
        tlog_store::integrate::integrate_in_steps(
            &log.entries,
            &log.tiles,
            &log.signer,
            &mut without_witnesses,
            0
        ),
        Err(Error::Config(_))
    ));
}
