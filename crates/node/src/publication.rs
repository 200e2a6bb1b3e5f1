//! A town's look at what it publishes: the checkpoint on its public endpoint must be one its
//! own log produced and its witnesses cosigned — one of the checkpoints the node kept in its
//! journal as it published them. A checkpoint planted in the tile directory (a forged one, one
//! for a size never witnessed, one with another root signed by a stolen node key) is found at
//! the next look and replaced by the latest kept one, so that publication and integration go
//! on from the log instead of stopping. The tiles at the published size must reproduce its
//! root too (the hashes a reader's proofs for the newest entries rest on); tiles that do not
//! are reported, not repaired.

use anyhow::Result;
use tlog::note::VerifierKey;
use tlog_store::integrate::{CheckpointVerifier as _, VerifyOnly};
use tlog_store::tiledir::TileDir;

use crate::journal::Journal;

/// What a look found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Look {
    /// The published checkpoint is a kept one (or none is kept yet: nothing to compare).
    Agrees,
    /// It is not: why (sizes and roots only), and the size of the kept checkpoint published
    /// in its place (none if it could not be).
    Forged { detail: String, restored: Option<u64> },
    /// The checkpoint is a kept one, but the tiles at its size do not reproduce its root.
    TilesDiffer { detail: String },
}

/// Compares the checkpoint published in `tiles` with the witnessed checkpoints of `origin`
/// kept in `journal`, and publishes the latest kept one again if it is not one of them. The
/// caller holds the lock under which its integrations publish and keep checkpoints.
pub fn check(tiles: &TileDir, journal: &Journal, vkey: &VerifierKey, origin: &str) -> Result<Look> {
    let Some((_, latest)) = journal.kept_checkpoint(origin, 0, i64::MAX as u64)? else {
        return Ok(Look::Agrees);
    };
    let verifier = VerifyOnly::new(vkey.clone(), origin);
    let detail = match tiles.read_checkpoint()? {
        None => "no checkpoint is published".to_owned(),
        Some(note) => match verifier.open(&note) {
            Err(_) => "the published checkpoint does not verify under the node key".to_owned(),
            Ok((size, root)) => {
                let kept = journal
                    .kept_checkpoint(origin, size.saturating_sub(1), size)?
                    .filter(|(kept, _)| *kept == size);
                match kept.map(|(_, note)| verifier.open(&note)).transpose() {
                    Ok(Some((_, kept_root))) if kept_root == root => {
                        return Ok(tiles_look(tiles, size, &root));
                    }
                    Ok(Some((_, kept_root))) => format!(
                        "the published checkpoint of size {size} has root {}; the witnessed one \
                         has {}",
                        root.to_base64(),
                        kept_root.to_base64()
                    ),
                    _ => format!("the published checkpoint of size {size} was never witnessed"),
                }
            }
        },
    };
    let restored = match verifier.open(&latest) {
        Ok((size, _)) => {
            tiles.write_checkpoint(&latest)?;
            Some(size)
        }
        Err(_) => None,
    };
    Ok(Look::Forged { detail, restored })
}

/// Whether the tiles of `tiles` reproduce `root` at `size`.
fn tiles_look(tiles: &TileDir, size: u64, root: &tlog::Hash) -> Look {
    let reader = tlog_store::source::TileHashReader::new(tiles, size);
    match tlog::merkle::tree_root(size, &reader) {
        Ok(read) if read == *root => Look::Agrees,
        Ok(read) => Look::TilesDiffer {
            detail: format!(
                "the published tiles give root {} at size {size}; the witnessed checkpoint has {}",
                read.to_base64(),
                root.to_base64()
            ),
        },
        Err(e) => Look::TilesDiffer {
            detail: format!("the published tiles of size {size} cannot be read: {e}"),
        },
    }
}
