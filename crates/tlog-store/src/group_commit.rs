//! Group commit: many writers, one transaction per batch, one acknowledgement per entry.
//!
//! Writers hand entries to a dedicated thread that owns the database connection. The thread
//! takes everything queued, appends it in one transaction, commits (one fsync), and only then
//! tells each writer its entry's index. While a commit is in flight new entries queue up, so the
//! batch size grows with the load and the cost of an fsync is shared by everything in it.

use std::sync::mpsc;
use std::thread;

use crate::Error;
use crate::entries::EntryStore;
#[cfg(test)]
use crate::entries::SqliteEntries;

/// The most entries one transaction takes; bounds the latency of any one commit.
pub const MAX_BATCH: usize = 16_384;

struct Request {
    entries: Vec<Vec<u8>>,
    reply: mpsc::SyncSender<Result<u64, String>>,
}

/// A handle to the committing thread. Clone it to share it between writers.
#[derive(Clone)]
pub struct GroupCommitter {
    queue: mpsc::Sender<Request>,
}

impl GroupCommitter {
    /// Starts the committing thread, which owns `store` (any engine's) until every handle is
    /// dropped.
    pub fn start<S: EntryStore + Send + 'static>(
        mut store: S,
    ) -> (GroupCommitter, thread::JoinHandle<()>) {
        let (queue, requests) = mpsc::channel::<Request>();
        let handle = thread::Builder::new()
            .name("tlog-group-commit".into())
            .spawn(move || {
                while let Ok(first) = requests.recv() {
                    let mut batch = vec![first];
                    let mut count = batch[0].entries.len();
                    while count < MAX_BATCH {
                        match requests.try_recv() {
                            Ok(next) => {
                                count += next.entries.len();
                                batch.push(next);
                            }
                            Err(_) => break,
                        }
                    }
                    let refs: Vec<&[u8]> =
                        batch.iter().flat_map(|r| r.entries.iter().map(Vec::as_slice)).collect();
                    match store.append(&refs) {
                        Ok(first_index) => {
                            let mut next = first_index;
                            for request in &batch {
                                let _ = request.reply.send(Ok(next));
                                next += request.entries.len() as u64;
                            }
                        }
                        Err(error) => {
                            // Nothing of the batch was committed; every writer in it is told.
                            let message = error.to_string();
                            for request in &batch {
                                let _ = request.reply.send(Err(message.clone()));
                            }
                        }
                    }
                }
            })
            .expect("spawning the group-commit thread");
        (GroupCommitter { queue }, handle)
    }

    /// Appends entries as one unit and returns the index of the first once they are durable.
    pub fn append(&self, entries: Vec<Vec<u8>>) -> Result<u64, Error> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.queue.send(Request { entries, reply }).map_err(|_| Error::WriterStopped)?;
        match answer.recv() {
            Ok(Ok(index)) => Ok(index),
            Ok(Err(message)) => Err(Error::Config(format!("append failed: {message}"))),
            Err(_) => Err(Error::WriterStopped),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entries::EntryReader;

    #[test]
    fn concurrent_writers_get_distinct_indexes_for_their_own_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.db");
        let (committer, handle) = GroupCommitter::start(SqliteEntries::open(&path).unwrap());
        let writers: Vec<_> = (0..8u8)
            .map(|w| {
                let committer = committer.clone();
                thread::spawn(move || {
                    (0..50u8)
                        .map(|i| (committer.append(vec![vec![w, i]]).unwrap(), vec![w, i]))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let acknowledged: Vec<(u64, Vec<u8>)> =
            writers.into_iter().flat_map(|w| w.join().unwrap()).collect();
        drop(committer);
        handle.join().unwrap();
        let store = SqliteEntries::open(&path).unwrap();
        assert_eq!(store.entry_count().unwrap(), 400);
        for (index, entry) in acknowledged {
            assert_eq!(store.read_entries(index, index + 1).unwrap()[0], entry);
        }
    }
}
