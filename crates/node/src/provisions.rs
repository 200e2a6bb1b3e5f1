//! Provision logs upstream: a town's provision log — every lookup, copy and provision, as salted
//! commitments — goes to its prefecture and to the national node like its registry log: batches
//! of entries ending at a checkpoint its witnesses cosigned, with the consistency proof from what
//! the receiver acknowledged. Each receiver keeps a verified copy (the entries and the tree's
//! right edge, in `mirrors/CODE/provisions.db`) and answers with a signed receipt, so a rooted
//! town cannot rewrite who read whose record: the copies upstream hold what its witnesses saw.
//!
//! The entries are the public commitments, never the records behind them: the copies hold no
//! personal data, and a commitment cannot be confirmed by guessing (the salt is secret).

use std::path::Path;

use anyhow::Result;
use rusqlite::{OptionalExtension as _, params};
use tlog::Hash;
use tlog::checkpoint::Policy;
use tlog::merkle::Frontier;
use tlog::note::VerifierKey;
use tlog_store::entries::{EntryReader as _, SqliteEntries};
use tlog_store::tiledir::TileDir;
use wire::Batch;
use wire::batch::BatchError;
use wire::errors::Code;

use crate::journal::Journal;
use crate::mirror::{Accepted, Refused};
use crate::outbox::BatchSource;

/// A town's own provision log as the source of its batches: the entries from the node database
/// and, at each batch's end, a checkpoint its witnesses cosigned.
pub struct ProvisionLog<'a> {
    /// The node database, which holds the entries and every witnessed checkpoint.
    pub journal: &'a Journal,
    /// The provision log's tiles and published checkpoint.
    pub tiles: TileDir,
    /// The log's origin.
    pub origin: &'a str,
    /// The provision key's verifier.
    pub vkey: VerifierKey,
}

impl BatchSource for ProvisionLog<'_> {
    fn events(&mut self, from: u64, to: u64) -> Result<Vec<Vec<u8>>> {
        Ok(self.journal.read_entries(from, to)?)
    }

    fn checkpoint(&mut self, acked: u64, limit: u64) -> Result<Option<(u64, Vec<u8>)>> {
        crate::outbox::witnessed_checkpoint(
            self.journal,
            &self.tiles,
            &self.vkey,
            self.origin,
            acked,
            limit,
        )
    }

    fn tiles(&self) -> &TileDir {
        &self.tiles
    }

    fn tiles_size(&self) -> Result<u64> {
        crate::logs::published_size(&self.tiles, &self.vkey, self.origin)
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
) STRICT;
";

/// A verified copy of a town's provision log at an upstream node.
pub struct ProvisionMirror {
    entries: SqliteEntries,
    origin: String,
    policy: Policy,
}

impl ProvisionMirror {
    /// Opens (creating if needed) the copy at `path` of the log `origin`, whose checkpoints
    /// must satisfy `policy` (the town's provision key and its witness quorum).
    pub fn open(path: &Path, origin: &str, policy: Policy) -> Result<ProvisionMirror> {
        let mut entries = SqliteEntries::open(path)?;
        entries.connection().execute_batch(SCHEMA)?;
        Ok(ProvisionMirror { entries, origin: origin.to_owned(), policy })
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The right edge of the tree the copy holds.
    fn frontier(&mut self) -> Result<Frontier, Refused> {
        let bytes: Option<Vec<u8>> = self
            .entries
            .connection()
            .query_row("SELECT value FROM meta WHERE key = 'frontier'", [], |r| r.get(0))
            .optional()
            .map_err(|e| Refused::Internal(e.into()))?;
        match bytes {
            None => Ok(Frontier::new()),
            Some(bytes) => Frontier::from_bytes(&bytes).ok_or_else(|| {
                Refused::Internal(anyhow::anyhow!("the copy's stored right edge does not parse"))
            }),
        }
    }

    /// What the copy holds: size and root.
    pub fn head(&mut self) -> Result<(u64, Hash), Refused> {
        let frontier = self.frontier()?;
        Ok((frontier.size(), frontier.root()))
    }

    /// Verifies a batch and appends it: the checkpoint must carry the town's provision key and
    /// witness quorum, the proof must connect it to what the copy holds, and the entries must
    /// make exactly its root. A resend of what the copy holds must be the same entries.
    pub fn accept(&mut self, batch: &Batch) -> Result<Accepted, Refused> {
        let mut frontier = self.frontier()?;
        let (have, root) = (frontier.size(), frontier.root());
        let invalid = |kind: Code, message: String| Refused::Invalid { kind, message };
        if batch.end() <= have && !batch.events.is_empty() {
            let stored = self
                .entries
                .read_entries(batch.from, batch.end())
                .map_err(|e| Refused::Internal(e.into()))?;
            let same = stored.iter().zip(&batch.events).all(|(a, b)| a == b.as_bytes());
            if !same {
                return Err(invalid(
                    Code::Fork,
                    format!(
                        "a resent provision batch of {} at {}..{} holds other entries than the \
                         ones received: the town's log has two histories",
                        self.origin,
                        batch.from,
                        batch.end()
                    ),
                ));
            }
            return Ok(Accepted::Holds { size: have, root });
        }
        if batch.from != have {
            return Err(Refused::Behind { have, root });
        }
        let checked = batch.check(&self.origin, &self.policy, &root).map_err(|e| {
            let kind = match e {
                BatchError::Checkpoint { .. } => Code::BadCheckpoint,
                BatchError::Inconsistent { .. } => Code::InconsistentProof,
                _ => Code::MalformedBatch,
            };
            invalid(kind, e.to_string())
        })?;
        for entry in &batch.events {
            frontier.push(tlog::hash::leaf_hash(entry.as_bytes()));
        }
        if frontier.root() != checked.root {
            return Err(invalid(
                Code::WrongRoot,
                format!(
                    "the provision entries {}..{} of {} do not make the root of the checkpoint \
                     they end at",
                    batch.from,
                    batch.end(),
                    self.origin
                ),
            ));
        }
        let conn = self.entries.connection();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| Refused::Internal(e.into()))?;
        let entries: Vec<&[u8]> = batch.events.iter().map(|e| e.as_bytes()).collect();
        tlog_store::entries::append_in(&tx, &entries).map_err(|e| Refused::Internal(e.into()))?;
        let stored = (|| -> rusqlite::Result<()> {
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('frontier', ?1)",
                params![frontier.to_bytes()],
            )?;
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('checkpoint', ?1)",
                params![batch.checkpoint.as_bytes()],
            )?;
            tx.commit()
        })();
        stored.map_err(|e| Refused::Internal(e.into()))?;
        Ok(Accepted::Applied { size: checked.size, root: checked.root })
    }

    /// The last checkpoint received (witnessed), if any.
    pub fn checkpoint(&mut self) -> Result<Option<Vec<u8>>> {
        Ok(self
            .entries
            .connection()
            .query_row("SELECT value FROM meta WHERE key = 'checkpoint'", [], |r| r.get(0))
            .optional()?)
    }
}

/// A node's own records about `resident` with a time in `[from, to)`, each proven in its
/// provision log (`tiles`, whose published checkpoint `vkey` signs for `origin`): the
/// disclosure to the resident. Records beyond the published checkpoint are counted as pending.
pub fn disclose(
    journal: &crate::journal::Journal,
    tiles: &TileDir,
    vkey: &tlog::note::VerifierKey,
    origin: &str,
    node: &str,
    request: &wire::api::DisclosureRequest,
) -> Result<wire::api::ProvisionsDisclosed> {
    let records = journal.records_about(&request.resident, request.from, request.to)?;
    let size = crate::logs::published_size(tiles, vkey, origin)?;
    let (proven, pending): (Vec<_>, Vec<_>) =
        records.into_iter().partition(|(index, _)| *index < size);
    let receipts = registry_store::dir::receipts(tiles, vkey, origin, &proven)?;
    Ok(wire::api::ProvisionsDisclosed {
        node: node.to_owned(),
        origin: origin.to_owned(),
        receipts: receipts
            .iter()
            .map(|r| String::from_utf8(r.to_bytes()))
            .collect::<Result<_, _>>()?,
        pending: pending.len() as u64,
    })
}
