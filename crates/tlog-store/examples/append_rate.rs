//! Durable appends per second on each engine of the entry store, through one group committer
//! with many writers and in large batches, printed (never asserted):
//!
//! ```text
//! cargo run --release -p tlog-store --example append_rate -- [ENTRIES] [WRITERS] [POSTGRES_URL]
//! ```
//!
//! SQLite runs in a temporary directory; PostgreSQL (when a URL is given, e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`) in a scratch database `juki_append_rate`
//! made on that server and dropped afterwards.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tlog_store::entries::{EntryStore, SqliteEntries};
use tlog_store::group_commit::GroupCommitter;
use tlog_store::postgres::PostgresEntries;

fn entry(i: u64) -> Vec<u8> {
    let mut e = vec![0u8; 256];
    e[..8].copy_from_slice(&i.to_be_bytes());
    e
}

/// Appends `count` entries of 256 bytes from `writers` threads through one group committer,
/// then `count` more in batches of 4,096, and prints both rates.
fn measure<S: EntryStore + Send + 'static>(
    engine: &str,
    open: impl Fn() -> S,
    count: u64,
    writers: usize,
) {
    let (committer, handle) = GroupCommitter::start(open());
    let next = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..writers {
            let committer = committer.clone();
            let next = &next;
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        return;
                    }
                    committer.append(vec![entry(i)]).expect("append");
                }
            });
        }
    });
    let grouped = count as f64 / start.elapsed().as_secs_f64();
    drop(committer);
    handle.join().expect("the commit thread");
    let mut store = open();
    let start = Instant::now();
    let mut at = count;
    while at < 2 * count {
        let end = (at + 4096).min(2 * count);
        let batch: Vec<Vec<u8>> = (at..end).map(entry).collect();
        let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
        store.append(&refs).expect("append");
        at = end;
    }
    let batched = count as f64 / start.elapsed().as_secs_f64();
    assert_eq!(store.entry_count().expect("count"), 2 * count, "entries went missing");
    println!("{engine:<12} {writers} writers, group commit {grouped:>10.0} entries/s");
    println!("{engine:<12} batches of 4,096          {batched:>10.0} entries/s");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count: u64 = args.first().map_or(20_000, |a| a.parse().expect("ENTRIES is a number"));
    let writers: usize = args.get(1).map_or(64, |a| a.parse().expect("WRITERS is a number"));
    println!("append_rate: {count} entries of 256 bytes per figure, durable (fsync'd) commits");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("entries.db");
    measure("sqlite", || SqliteEntries::open(&path).expect("open"), count, writers);
    if let Some(server) = args.get(2) {
        let mut admin = postgres::Client::connect(server, postgres::NoTls).expect("connect");
        admin.batch_execute("DROP DATABASE IF EXISTS juki_append_rate WITH (FORCE)").unwrap();
        admin.batch_execute("CREATE DATABASE juki_append_rate").unwrap();
        let (base, _) = server.rsplit_once('/').expect("a postgres:// URL with a database");
        let url = format!("{base}/juki_append_rate");
        measure("postgresql", || PostgresEntries::open(&url).expect("open"), count, writers);
        admin.batch_execute("DROP DATABASE juki_append_rate WITH (FORCE)").unwrap();
    }
}
