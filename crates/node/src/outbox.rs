//! The sending side of replication: the durable outbox is the log itself, from the size the
//! upstream node last acknowledged with a signed receipt. Each round sends the next batch (at
//! most `max_batch` events) with the checkpoint at its end and the consistency proof from the
//! acknowledged size, and records the new acknowledgement only after verifying the receipt.

use anyhow::{Context as _, Result, bail};
use registry_store::Registry;
use tlog::Hash;
use tlog::merkle::{prove_consistency, tree_root};
use tlog::note::VerifierKey;
use tlog_store::source::TileHashReader;
use tlog_store::tiledir::TileDir;

use wire::api::BatchAnswer;
use wire::{Batch, Receipt};

use crate::config::Peer;
use crate::journal::Journal;

/// Where a batch's events and checkpoints come from.
pub trait BatchSource {
    /// The signed events `[from, to)`.
    fn events(&mut self, from: u64, to: u64) -> Result<Vec<Vec<u8>>>;
    /// A signed checkpoint of the log at a size in `(acked, limit]` (the largest available),
    /// or none when nothing new is checkpointed.
    fn checkpoint(&mut self, acked: u64, limit: u64) -> Result<Option<(u64, Vec<u8>)>>;
    /// The tiles of the log (the proof is read from them).
    fn tiles(&self) -> &TileDir;
    /// The size the tiles cover.
    fn tiles_size(&self) -> Result<u64>;
}

/// Builds the batch after `acked`, if there is anything to send.
pub fn next_batch(
    municipality: &str,
    source: &mut dyn BatchSource,
    acked: u64,
    max_batch: usize,
) -> Result<Option<Batch>> {
    let Some((size, checkpoint)) = source.checkpoint(acked, acked + max_batch as u64)? else {
        return Ok(None);
    };
    let covered = source.tiles_size()?;
    let reader = TileHashReader::new(source.tiles(), covered);
    let proof = if acked == 0 {
        Vec::new()
    } else {
        prove_consistency(acked, size, &reader)
            .map_err(|e| anyhow::anyhow!("cannot prove consistency from the tiles: {e}"))?
    };
    let events = source.events(acked, size)?;
    let events = events
        .into_iter()
        .map(|e| String::from_utf8(e).context("a stored event is not UTF-8"))
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(Batch {
        municipality: municipality.to_owned(),
        from: acked,
        checkpoint: String::from_utf8(checkpoint).context("a checkpoint is not UTF-8")?,
        proof: proof.iter().map(Hash::to_base64).collect(),
        events,
    }))
}

/// A town's own registry log as the source of its batches, as the municipal node sends them:
/// the events from the registry and, at the batch's end, a checkpoint its witnesses cosigned —
/// the published one, or one kept when it was published (the node integrates in steps of at
/// most one batch, so one ends within every batch's reach). Upstream nodes accept nothing else.
pub struct TownLog<'a> {
    /// The town's registry.
    pub registry: &'a Registry,
    /// The node database, with every witnessed checkpoint the town published.
    pub journal: &'a Journal,
    /// The registry log's tiles and published checkpoint.
    pub tiles: TileDir,
    /// The log's origin.
    pub origin: &'a str,
    /// The node key's verifier.
    pub vkey: VerifierKey,
}

impl BatchSource for TownLog<'_> {
    fn events(&mut self, from: u64, to: u64) -> Result<Vec<Vec<u8>>> {
        Ok(self.registry.events(from, to)?)
    }

    fn checkpoint(&mut self, acked: u64, limit: u64) -> Result<Option<(u64, Vec<u8>)>> {
        witnessed_checkpoint(self.journal, &self.tiles, &self.vkey, self.origin, acked, limit)
    }

    fn tiles(&self) -> &TileDir {
        &self.tiles
    }

    fn tiles_size(&self) -> Result<u64> {
        crate::logs::published_size(&self.tiles, &self.vkey, self.origin)
    }
}

/// The witnessed checkpoint a batch after `acked` ends at, of a log published in `tiles` whose
/// every witnessed checkpoint `journal` keeps: the published one if it is within `limit`, or a
/// kept one (the node integrates in steps of at most one batch, so one ends within every
/// batch's reach).
pub fn witnessed_checkpoint(
    journal: &Journal,
    tiles: &TileDir,
    vkey: &VerifierKey,
    origin: &str,
    acked: u64,
    limit: u64,
) -> Result<Option<(u64, Vec<u8>)>> {
    let Some(note) = tiles.read_checkpoint()? else { return Ok(None) };
    let size = crate::logs::published_size(tiles, vkey, origin)?;
    if size <= acked {
        return Ok(None);
    }
    if size <= limit {
        return Ok(Some((size, note)));
    }
    if let Some(kept) = journal.kept_checkpoint(origin, acked, limit)? {
        return Ok(Some(kept));
    }
    // Published in a larger step than one batch (before steps were kept): the next kept
    // checkpoint, or the published one, in one larger batch.
    Ok(Some(journal.kept_checkpoint(origin, acked, size)?.map_or((size, note), |kept| kept)))
}

/// The root of the tree of `size` leaves, read from tiles covering `covered`.
pub fn root_at(tiles: &TileDir, covered: u64, size: u64) -> Result<Hash> {
    let reader = TileHashReader::new(tiles, covered);
    tree_root(size, &reader).map_err(|e| anyhow::anyhow!("cannot read the root at {size}: {e}"))
}

/// Checks an upstream answer against what the log holds and returns the new acknowledged size
/// with the receipt to keep.
pub fn acknowledge(
    answer: BatchAnswer,
    batch: &Batch,
    log: &str,
    upstream: &VerifierKey,
    tiles: &TileDir,
    covered: u64,
) -> Result<(u64, Vec<u8>)> {
    match answer {
        BatchAnswer::Applied { receipt, .. } => {
            let receipt = receipt.into_bytes();
            let root = root_at(tiles, covered, batch.end())?;
            Receipt::verify(&receipt, upstream, log, batch.end(), &root)
                .context("the upstream node's receipt")?;
            Ok((batch.end(), receipt))
        }
        BatchAnswer::Holds { size, receipt } => {
            let receipt = receipt.into_bytes();
            if size > covered {
                // Upstream is ahead of what this node has checkpointed (it pulled from the
                // town directly): nothing before `covered` needs sending.
                let opened = Receipt::parse(
                    tlog::note::Note::parse(&receipt)
                        .context("the upstream node's receipt")?
                        .text(),
                )?;
                if opened.log != log || opened.size != size {
                    bail!("the upstream node's receipt does not match its answer");
                }
                return Ok((covered, receipt));
            }
            let root = root_at(tiles, covered, size)?;
            Receipt::verify(&receipt, upstream, log, size, &root).context(
                "the upstream node holds a tree that is not this log's: its receipt does not match",
            )?;
            Ok((size, receipt))
        }
    }
}

/// Sends a batch to an upstream node and returns its answer.
pub async fn send_batch(
    client: &net::Client,
    upstream: &Peer,
    batch: &Batch,
) -> Result<BatchAnswer> {
    send_batch_to(client, upstream, "/v1/replicate", batch).await
}

/// Sends a batch to an upstream node's route `path` and returns its answer.
pub async fn send_batch_to(
    client: &net::Client,
    upstream: &Peer,
    path: &str,
    batch: &Batch,
) -> Result<BatchAnswer> {
    let response = crate::http::post(
        client,
        &upstream.endpoint(path)?,
        serde_json::to_vec(batch)?,
        Some(upstream.identity.as_str()),
    )
    .await?;
    let status = response.status;
    if status != axum::http::StatusCode::OK {
        bail!(
            "{} refused the batch {}..{}: {} {}",
            upstream.identity,
            batch.from,
            batch.end(),
            status,
            response.text()
        );
    }
    serde_json::from_slice(&response.body).context("the upstream node's answer is malformed")
}
