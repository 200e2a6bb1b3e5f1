//! The node's own logs: where they live, their origins, and the three things every role does
//! with them — sign a note, read the published size, integrate new entries into tiles.

use anyhow::Result;
use tlog_store::integrate::{Integration, NoteSigner, integrate};
use tlog_store::tiledir::TileDir;

use crate::config::NodeRole;

/// The node's provision log: tiles beside `node.db`.
pub const PROVISION_TILES: &str = "provisions";

/// The node database.
pub const NODE_DB: &str = "node.db";

/// The provision log's key in a municipal node's directory (a prefecture's or the national
/// node's provision log is signed with its node key).
pub const PROVISION_KEY: &str = "provisions.key";

/// Signs `text` as a note with one signature.
pub fn sign_text(text: impl Into<String>, signer: &tlog::note::Signer) -> Result<Vec<u8>> {
    let mut note = tlog::note::Note::new(text)?;
    note.sign(signer)?;
    Ok(note.to_bytes())
}

/// The size of a log's published checkpoint in `tiles` (0 before the first), verified with
/// the log's key.
pub fn published_size(
    tiles: &TileDir,
    vkey: &tlog::note::VerifierKey,
    origin: &str,
) -> Result<u64> {
    use tlog_store::integrate::CheckpointVerifier as _;
    let Some(note) = tiles.read_checkpoint()? else { return Ok(0) };
    Ok(tlog_store::integrate::VerifyOnly::new(vkey.clone(), origin).open(&note)?.0)
}

/// The provision log's origin for a node whose main origin is `origin`.
pub fn provision_origin(role: NodeRole, origin: &str) -> String {
    match role {
        NodeRole::Municipal => format!("{origin}/provisions"),
        _ => origin.to_owned(),
    }
}

/// Integrates a log kept in `entries` into `tiles` with `signer`, if anything is new.
pub fn integrate_log(
    entries: &dyn tlog_store::entries::EntryReader,
    tiles: &TileDir,
    signer: &NoteSigner,
) -> Result<Integration> {
    Ok(integrate(entries, tiles, signer, &mut |i: &Integration| Ok(i.checkpoint.clone()))?)
}
