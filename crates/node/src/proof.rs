//! Proving a record before it is served: the events it rests on, their receipts against the
//! witnessed checkpoint the tiles hold, and the same check every client runs
//! (`registry_core::evidence::verify`). Shared by a town serving its own residents and the
//! national node serving agencies from its mirrors.

use registry_core::evidence::{self, TownTrust};
use registry_domain::{IdentityRecordParts, ResidentCode};
use registry_store::dir::ReceiptCache;
use registry_store::{Registry, StoreError};
use tlog::receipt::Receipt;
use tlog_store::tiledir::TileDir;

/// A record ready to be served: the record as its proven change states it, and the receipts
/// that prove it.
pub struct Proven {
    /// The record.
    pub record: IdentityRecordParts,
    /// The evidence.
    pub receipts: Vec<Receipt>,
}

impl Proven {
    /// The receipts as they travel: their text.
    pub fn texts(&self) -> anyhow::Result<Vec<String>> {
        self.receipts.iter().map(|r| Ok(String::from_utf8(r.to_bytes())?)).collect()
    }
}

/// Why a record cannot be served.
#[derive(Debug)]
pub enum NotProven {
    /// No resident has the code here.
    NoResident,
    /// Its latest event is beyond the witnessed checkpoint.
    NotYet {
        /// The event's index.
        index: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// What is stored does not prove itself: edited behind the log's back. The detail names
    /// indexes and keys, never personal data.
    Tampered(String),
    /// This node failed.
    Internal(anyhow::Error),
}

impl From<StoreError> for NotProven {
    /// What a store failure means for proving: an event beyond the published checkpoint is not
    /// proven yet, a corrupt store is tampered with, anything else is this node's failure.
    fn from(error: StoreError) -> NotProven {
        match error {
            StoreError::NotPublished { index, size } => NotProven::NotYet { index, size },
            StoreError::Corrupt(detail) => NotProven::Tampered(detail),
            e => NotProven::Internal(e.into()),
        }
    }
}

/// Proves resident `code`'s current record in `registry`, against the checkpoint in `tiles`,
/// by `trust`; `cache` keeps the receipts made against that checkpoint for the next proofs.
pub fn prove(
    registry: &Registry,
    tiles: &TileDir,
    cache: &ReceiptCache,
    trust: &TownTrust,
    code: ResidentCode,
) -> Result<Proven, NotProven> {
    prove_gathered(gather(registry, code)?, tiles, cache, trust, code)
}

/// The events resident `code`'s current record rests on, read from `registry`: the only part
/// of [`prove`] that needs the registry, so that a caller can let it go before the proving.
pub fn gather(
    registry: &Registry,
    code: ResidentCode,
) -> Result<Vec<registry_store::LoggedEvent>, NotProven> {
    registry.evidence_events(code)?.ok_or(NotProven::NoResident)
}

/// [`prove`] of events already [`gather`]ed.
pub fn prove_gathered(
    events: Vec<registry_store::LoggedEvent>,
    tiles: &TileDir,
    cache: &ReceiptCache,
    trust: &TownTrust,
    code: ResidentCode,
) -> Result<Proven, NotProven> {
    let proven = prove_events(tiles, cache, trust, events)?;
    if proven.record.resident_code != code {
        return Err(NotProven::Tampered(
            "the current event of a resident is another resident's".into(),
        ));
    }
    Ok(proven)
}

/// Proves the change at log index `index` of `registry` (whatever record is current now), as
/// [`prove`] does: how the national node shows the signer a move-in it asks a notice for.
pub fn prove_at(
    registry: &Registry,
    tiles: &TileDir,
    cache: &ReceiptCache,
    trust: &TownTrust,
    index: u64,
) -> Result<Proven, NotProven> {
    let events = registry.evidence_events_at(index)?;
    prove_events(tiles, cache, trust, events)
}

fn prove_events(
    tiles: &TileDir,
    cache: &ReceiptCache,
    trust: &TownTrust,
    events: Vec<registry_store::LoggedEvent>,
) -> Result<Proven, NotProven> {
    let vkey = trust.policy.log_keys.first().ok_or_else(|| {
        NotProven::Internal(anyhow::anyhow!("the town's registration names no log key"))
    })?;
    let receipts = registry_store::dir::receipts_with(tiles, vkey, &trust.origin, &events, cache)?;
    match evidence::verify_with(&receipts, trust, cache.checked()) {
        Ok(proven) => Ok(Proven { record: proven.change.record, receipts }),
        Err(e) => Err(NotProven::Tampered(e.to_string())),
    }
}
