//! The witness's state behind one trait, whatever the engine: for each log, the latest
//! checkpoint it cosigned, and the evidence of forks it kept.
//!
//! The state advances only by compare-and-swap ([`WitnessState::advance`]): a request reads
//! the latest, decides, and then advances from exactly what it read. Of two requests racing
//! from one state, one advances and the other finds the state moved, reads again and decides
//! again; so two cosignatures can never both rest on one old state.
//!
//! Engines: [`sqlite::SqliteState`] (a file; the default) and [`postgres::PostgresState`] (a
//! database server). Both pass one conformance suite (`tests/state_conformance.rs`).

pub mod postgres;
pub mod sqlite;

use tlog::Hash;

use crate::WitnessError;

/// A log's latest cosigned tree: its size and root.
pub type Tree = (u64, Hash);

/// A checkpoint the witness is about to cosign.
#[derive(Clone, Copy, Debug)]
pub struct Cosigned<'a> {
    /// The checkpoint's tree size.
    pub size: u64,
    /// The checkpoint's root hash.
    pub root: Hash,
    /// The checkpoint as received (a signed note), kept byte for byte.
    pub checkpoint: &'a [u8],
    /// When it is cosigned (POSIX seconds).
    pub cosigned_at: u64,
}

/// The witness's state, whatever the engine. Every method is one durable step: what it
/// reports done survives a crash.
pub trait WitnessState: Send + Sync {
    /// The latest cosigned tree of `origin`, if any.
    fn latest(&self, origin: &str) -> Result<Option<Tree>, WitnessError>;

    /// Makes `next` the latest of `origin` if the latest is still `expected` (`None`: nothing
    /// cosigned yet), and reports whether it did. `Ok(false)` changes nothing. A `next` smaller
    /// than `expected`, or too large to store, is refused with an error and changes nothing.
    fn advance(
        &self,
        origin: &str,
        expected: Option<Tree>,
        next: &Cosigned<'_>,
    ) -> Result<bool, WitnessError>;

    /// Keeps `checkpoint` as evidence against `origin` (once: keeping it again does nothing).
    fn keep_evidence(
        &self,
        origin: &str,
        checkpoint: &[u8],
        reason: &str,
        received_at: u64,
    ) -> Result<(), WitnessError>;

    /// How many evidence records are kept for `origin`.
    fn evidence_count(&self, origin: &str) -> Result<u64, WitnessError>;
}

/// Refuses what no engine may store: a tree smaller than the one it replaces, or a size or
/// time beyond a signed 64-bit column.
pub(crate) fn check_advance(
    origin: &str,
    expected: Option<Tree>,
    next: &Cosigned<'_>,
) -> Result<(), WitnessError> {
    if next.size > i64::MAX as u64 || next.cosigned_at > i64::MAX as u64 {
        return Err(WitnessError::OutOfRange(format!(
            "log {origin}: size {} or time {} does not fit the state",
            next.size, next.cosigned_at
        )));
    }
    if let Some((size, _)) = expected
        && next.size < size
    {
        return Err(WitnessError::Regression {
            origin: origin.to_owned(),
            from: size,
            to: next.size,
        });
    }
    Ok(())
}

pub(crate) fn parse_root(origin: &str, root: &[u8]) -> Result<Hash, WitnessError> {
    Hash::from_slice(root)
        .ok_or_else(|| WitnessError::Corrupt(format!("stored root for {origin} is not 32 bytes")))
}
