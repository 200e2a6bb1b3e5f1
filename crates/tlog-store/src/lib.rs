//! Durable storage for transparency logs.
//!
//! The entries are the source of truth, kept in SQLite ([`entries`]) and appended with group
//! commit ([`group_commit`]). The integrator ([`integrate`]) derives immutable tiles and a signed
//! checkpoint from them into a directory ([`tiledir`]); both can be rebuilt from the entries at
//! any time. [`source`] reads a log's tiles from wherever they are served, and [`verify`] checks
//! a whole log from them, as an outside auditor would.
//!
//! Crash safety rests on three rules: an entry is acknowledged only after its transaction
//! commits; every tile and checkpoint file is written to a temporary name, synced and renamed
//! into place; and the checkpoint is written only after every tile it covers is durable. A crash
//! anywhere leaves the old checkpoint or the new one, and the next integration starts again from
//! whichever it finds.
#![forbid(unsafe_code)]

pub mod entries;
pub mod group_commit;
pub mod integrate;
pub mod keys;
pub mod postgres;
pub mod source;
pub mod tiledir;
pub mod verify;

use std::path::PathBuf;

/// What went wrong in log storage.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A database operation failed.
    #[error("{context}: {source}")]
    Sqlite {
        /// What was being done.
        context: String,
        /// The database's error.
        source: rusqlite::Error,
    },
    /// A PostgreSQL operation failed.
    #[error("{context}: {source}")]
    Postgres {
        /// What was being done.
        context: String,
        /// The server's or the driver's error.
        source: ::postgres::Error,
    },
    /// Connecting to or migrating a database failed.
    #[error(transparent)]
    Store(#[from] store::Error),
    /// A file operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// An entry is too large for an entry bundle.
    #[error("entry {index} of the batch is {size} bytes; entries are limited to 65,535 bytes")]
    EntryTooLarge {
        /// Position in the batch.
        index: usize,
        /// Its size.
        size: usize,
    },
    /// A range of entries that does not exist was asked for.
    #[error("entries {start}..{end} were asked for, but the log has {count}")]
    Range {
        /// First index asked for.
        start: u64,
        /// One past the last.
        end: u64,
        /// Entries in the log.
        count: u64,
    },
    /// Stored data contradicts itself: tiles, entries or checkpoint do not agree.
    #[error("the log's data is inconsistent: {0}")]
    Corrupt(String),
    /// The log's configuration or key is unusable.
    #[error("{0}")]
    Config(String),
    /// A checkpoint or note failed to parse or verify.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// A tile or checkpoint could not be fetched from where the log is served.
    #[error("fetching {what}: {reason}")]
    Fetch {
        /// The tile path or URL.
        what: String,
        /// Why it failed.
        reason: String,
    },
    /// The group committer has stopped (its thread ended after an earlier error).
    #[error("the log's writer has stopped after an earlier error; reopen the log")]
    WriterStopped,
}

impl Error {
    /// An adapter for `map_err` that names what was being done.
    pub(crate) fn sqlite(context: &'static str) -> impl FnOnce(rusqlite::Error) -> Error {
        move |source| Error::Sqlite { context: context.to_owned(), source }
    }

    /// An adapter for `map_err` on PostgreSQL operations.
    pub(crate) fn postgres(context: &'static str) -> impl FnOnce(::postgres::Error) -> Error {
        move |source| Error::Postgres { context: context.to_owned(), source }
    }

    /// An adapter for `map_err` on file operations.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { action, path, source }
    }
}
