//! `juki bench log`: durable appends, integration, proofs and whole-tree verification, beside
//! this machine's SHA-256 rate measured in the same run (this machine is shared and noisy, so
//! ratios mean more than absolute numbers), and where every benchmark builds (`work_dir`).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, ensure};
use tlog::hash::{Hash, leaf_hash, node_hash};
use tlog::merkle::{prove_consistency, prove_inclusion, verify_consistency, verify_inclusion};
use tlog::note::{KeyKind, Signer};
use tlog_store::entries::{EntryReader as _, SqliteEntries};
use tlog_store::group_commit::GroupCommitter;
use tlog_store::integrate::{NoteSigner, integrate, without_witnesses};
use tlog_store::source::TileHashReader;
use tlog_store::tiledir::TileDir;
use tlog_store::verify::verify_tree;

use crate::figures::{Aim, Target, goal, line, rate};

fn entry(i: u64) -> Vec<u8> {
    let mut e = vec![0u8; 256];
    e[..8].copy_from_slice(&i.to_be_bytes());
    for (j, byte) in e[8..].iter_mut().enumerate() {
        *byte = (i as u8).wrapping_mul(31).wrapping_add(j as u8);
    }
    e
}

/// This machine's single-core SHA-256 rate, as RFC 6962 node hashes per second and as leaf
/// hashes of 256-byte entries per second.
fn sha256_limits() -> (f64, f64) {
    let mut h = Hash([7; 32]);
    let n = 2_000_000u64;
    let start = Instant::now();
    for _ in 0..n {
        h = node_hash(&h, &h);
    }
    let nodes = rate(n, start.elapsed());
    std::hint::black_box(h);
    let e = entry(1);
    let m = 1_000_000u64;
    let start = Instant::now();
    let mut acc = 0u8;
    for _ in 0..m {
        acc ^= leaf_hash(std::hint::black_box(&e)).0[0];
    }
    std::hint::black_box(acc);
    (nodes, rate(m, start.elapsed()))
}

/// `juki bench log`: `total` entries, `writers` concurrent writers for the group-commit
/// figure, in `dir` (default: a temporary directory, removed afterwards).
pub fn run(total: u64, writers: usize, dir: Option<std::path::PathBuf>) -> Result<ExitCode> {
    ensure!(total >= 10_000, "--entries must be at least 10000");
    let work = work_dir(dir.as_deref())?;
    let root = work.path.clone();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("juki bench log: {total} entries of 256 bytes, {cores} cores, in {}", root.display());

    let (node_rate, leaf_rate) = sha256_limits();
    line("SHA-256, RFC 6962 node hashes (1 core)", node_rate, "hashes/s", "the limit");
    line("SHA-256, leaf hashes of 256-byte entries", leaf_rate, "hashes/s", "the limit");
    // Whole-tree verification hashes every entry once and about one node per entry (tile
    // roots), on every core.
    let verify_bound = cores as f64 / (1.0 / leaf_rate + 1.0 / node_rate);
    line("  => whole-tree verification bound", verify_bound, "leaves/s", "all cores");

    // Durable appends: many writers, one entry each, group commit.
    let db = root.join("entries.db");
    let group_count = (total / 10).min(200_000);
    let (committer, handle) = GroupCommitter::start(SqliteEntries::open(&db)?);
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..writers {
            let committer = committer.clone();
            let next = Arc::clone(&next);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= group_count {
                        return;
                    }
                    committer.append(vec![entry(i)]).expect("append");
                }
            });
        }
    });
    let group_elapsed = start.elapsed();
    drop(committer);
    handle.join().map_err(|_| anyhow::anyhow!("the commit thread panicked"))?;
    goal(
        &format!("durable append, {writers} writers, 1 entry each"),
        rate(group_count, group_elapsed),
        "entries/s",
        "group commit, fsync'd",
        Aim::of(2, Target::AtLeast(10_000.0)),
    );

    // Durable appends in batches, as `juki log append` sends them.
    let mut store = SqliteEntries::open(&db)?;
    let start = Instant::now();
    let mut at = group_count;
    while at < total {
        let end = (at + 4096).min(total);
        let batch: Vec<Vec<u8>> = (at..end).map(entry).collect();
        let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
        store.append(&refs)?;
        at = end;
    }
    line(
        "durable append, batches of 4,096",
        rate(total - group_count, start.elapsed()),
        "entries/s",
        "one fsync per batch",
    );
    ensure!(store.entry_count()? == total, "entries went missing");

    // Integration: tiles and a signed checkpoint.
    let tiles = TileDir::new(root.join("tlog"));
    let signer =
        NoteSigner::new(Signer::from_seed("bench.juki.test/log", KeyKind::Ed25519, [1; 32])?)?;
    let start = Instant::now();
    let done = integrate(&store, &tiles, &signer, &mut without_witnesses)?;
    line(
        "integration into tiles + checkpoint",
        rate(total, start.elapsed()),
        "entries/s",
        "tiles synced before the checkpoint",
    );

    // Proofs from the tiles on disk.
    let reader = TileHashReader::new(&tiles, done.size);
    let indexes: Vec<u64> =
        (0..20_000u64).map(|i| i.wrapping_mul(2_654_435_761) % done.size).collect();
    let start = Instant::now();
    let proofs: Vec<Vec<Hash>> = indexes
        .iter()
        .map(|&i| prove_inclusion(i, done.size, &reader))
        .collect::<Result<_, _>>()?;
    line(
        "inclusion proofs built from tile files",
        rate(indexes.len() as u64, start.elapsed()),
        "proofs/s",
        "",
    );
    // Concurrent writers append in no fixed order, so the leaves come from the store.
    let leaves: Vec<Hash> = indexes
        .iter()
        .map(|&i| Ok(leaf_hash(&store.read_entries(i, i + 1)?[0])))
        .collect::<Result<_>>()?;
    let start = Instant::now();
    for ((index, proof), leaf) in indexes.iter().zip(&proofs).zip(&leaves) {
        verify_inclusion(leaf, *index, done.size, proof, &done.root)?;
    }
    line("inclusion proofs verified", rate(indexes.len() as u64, start.elapsed()), "proofs/s", "");
    let olds: Vec<u64> = (1..=2_000u64).map(|i| i * (done.size / 2_001)).collect();
    let start = Instant::now();
    let cproofs: Vec<Vec<Hash>> =
        olds.iter().map(|&o| prove_consistency(o, done.size, &reader)).collect::<Result<_, _>>()?;
    line(
        "consistency proofs built from tile files",
        rate(olds.len() as u64, start.elapsed()),
        "proofs/s",
        "",
    );
    let old_roots: Vec<Hash> = olds
        .iter()
        .map(|&o| tlog::merkle::tree_root(o, &TileHashReader::new(&tiles, o)))
        .collect::<Result<_, _>>()?;
    let start = Instant::now();
    for ((old, proof), old_root) in olds.iter().zip(&cproofs).zip(&old_roots) {
        verify_consistency(*old, done.size, proof, old_root, &done.root)?;
    }
    line("consistency proofs verified", rate(olds.len() as u64, start.elapsed()), "proofs/s", "");

    // Whole-tree verification from the directory, as `juki log verify DIR` does it.
    let start = Instant::now();
    verify_tree(&tiles, done.size, &done.root, &mut |_| {})?;
    let verify_rate = rate(done.size, start.elapsed());
    goal(
        "whole-tree verification from a directory",
        verify_rate,
        "leaves/s",
        &format!("{:.0}% of the SHA-256 bound", 100.0 * verify_rate / verify_bound),
        Aim::of(2, Target::AtLeast(2_000_000.0)),
    );
    Ok(ExitCode::SUCCESS)
}

/// Where a benchmark builds: `dir`, which must be empty (made if missing), or a temporary
/// directory removed when this is dropped.
pub struct WorkDir {
    /// The directory, absolute.
    pub path: std::path::PathBuf,
    _temp: Option<TempDir>,
}

/// The [`WorkDir`] of a benchmark given `--dir` or not.
pub fn work_dir(dir: Option<&std::path::Path>) -> Result<WorkDir> {
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            ensure!(std::fs::read_dir(dir)?.next().is_none(), "{} is not empty", dir.display());
            Ok(WorkDir { path: std::path::absolute(dir)?, _temp: None })
        }
        None => {
            let temp = tempfile_dir()?;
            Ok(WorkDir { path: temp.path().to_path_buf(), _temp: Some(temp) })
        }
    }
}

pub fn tempfile_dir() -> Result<TempDir> {
    let mut suffix = [0u8; 8];
    keyfile::random_bytes(&mut suffix)?;
    let name: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let path = std::env::temp_dir().join(format!("juki-bench-{name}"));
    std::fs::create_dir(&path)?;
    Ok(TempDir(path))
}

/// A directory removed when dropped.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
