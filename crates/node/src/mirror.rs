//! A municipality's registry as an upstream node keeps it: a full replica
//! (`registry_store::Registry`) that every event must pass again — signatures, the enrolment
//! chain, authority and each state transition, by the same rules as the town's own node — and
//! the town's log rebuilt from those events, whose root must equal the town's signed checkpoint
//! before anything is committed.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use registry_core::evidence::TownTrust;
use registry_domain::MunicipalityCode;
use registry_store::Registry;
use registry_store::dir::ReceiptCache;
use tlog::Hash;
use tlog::note::VerifierKey;
use tlog_store::integrate::{CheckpointSigner, CheckpointVerifier, VerifyOnly, integrate};
use tlog_store::tiledir::TileDir;

use wire::errors::Code;
use wire::{Batch, BatchError};

use crate::config::Town;
use crate::journal::Journal;
use crate::outbox::{BatchSource, root_at};

/// One mirrored municipality.
pub struct Mirror {
    /// The municipality.
    pub code: MunicipalityCode,
    /// Its registry log's origin.
    pub origin: String,
    /// Its node key.
    pub vkey: VerifierKey,
    /// The town as it was registered with the network: what its checkpoints must carry (the
    /// node key's signature and the witness quorum) and the admin key its genesis must name,
    /// never taken from the town's first batch.
    pub trust: Arc<TownTrust>,
    /// The replica.
    pub registry: Registry,
    /// The replica's tiles; their checkpoint is the town's own, as received.
    pub tiles: TileDir,
    /// Receipts made against that checkpoint, for the next proofs.
    pub receipts: Arc<ReceiptCache>,
}

/// What proving a record of a mirror needs besides its registry, so that a record whose
/// events were gathered under the mirror's lock is proven without it (see `Mirror::prover`).
pub struct Prover {
    tiles: TileDir,
    receipts: Arc<ReceiptCache>,
    trust: Arc<TownTrust>,
}

impl Prover {
    /// Proves resident `code`'s record from its `events` ([`crate::proof::gather`]ed from the
    /// replica), against the town's witnessed checkpoint the tiles hold now.
    pub fn prove(
        &self,
        events: Vec<registry_store::LoggedEvent>,
        code: registry_domain::ResidentCode,
    ) -> Result<crate::proof::Proven, crate::proof::NotProven> {
        crate::proof::prove_gathered(events, &self.tiles, &self.receipts, &self.trust, code)
    }
}

/// What became of an accepted batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// Applied: the replica now holds the log up to `size`.
    Applied {
        /// The new size.
        size: u64,
        /// Its root.
        root: Hash,
    },
    /// Nothing to apply: the replica already holds the batch (a resend).
    Holds {
        /// What the replica holds.
        size: u64,
        /// Its root.
        root: Hash,
    },
}

/// Why a batch is refused.
#[derive(Debug)]
pub enum Refused {
    /// The batch starts beyond or before what the replica holds without being a resend of it:
    /// the sender should send from `have`.
    Behind {
        /// What the replica holds.
        have: u64,
        /// Its root.
        root: Hash,
    },
    /// The batch is invalid: forged, inconsistent, or breaking the rules. Recorded as an alert.
    Invalid {
        /// A stable alert kind.
        kind: Code,
        /// What was wrong (codes and sizes, no personal data).
        message: String,
    },
    /// This node failed.
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for Refused {
    fn from(error: anyhow::Error) -> Refused {
        Refused::Internal(error)
    }
}

/// The town's received checkpoint, used as the "signature" when the replica integrates its
/// tiles: integration succeeds only if the tree built from the replica's entries has exactly
/// the received checkpoint's size and root.
struct Received<'a> {
    note: &'a [u8],
    verifier: VerifyOnly,
    origin: &'a str,
}

impl CheckpointVerifier for Received<'_> {
    fn open(&self, note: &[u8]) -> Result<(u64, Hash), tlog_store::Error> {
        self.verifier.open(note)
    }
}

impl CheckpointSigner for Received<'_> {
    fn origin(&self) -> &str {
        self.origin
    }

    fn sign(&self, body: &str) -> Result<Vec<u8>, tlog_store::Error> {
        let note = tlog::note::Note::parse(self.note)
            .map_err(|e| tlog_store::Error::Checkpoint(e.to_string()))?;
        if note.text() != body {
            return Err(tlog_store::Error::Checkpoint(format!(
                "the replica's tree ({}) is not the town's checkpoint ({})",
                body.replace('\n', " "),
                note.text().replace('\n', " ")
            )));
        }
        Ok(self.note.to_vec())
    }
}

/// Where the replica of `code` under `dir` keeps its tiles.
pub fn tiles_of(dir: &Path, code: &str) -> TileDir {
    TileDir::new(dir.join(code).join("tlog"))
}

impl Mirror {
    /// Opens the replica of `town` under `dir`, creating it when new.
    pub fn open(dir: &Path, town: &Town, national: &VerifierKey) -> Result<Mirror> {
        let code = MunicipalityCode::parse(&town.code)?;
        let vkey = VerifierKey::parse(&town.vkey)?;
        let tiles = tiles_of(dir, &town.code);
        let dir = dir.join(&town.code);
        // Owner-only (0700), as the database in it (Registry::create makes it 0600).
        keyfile::private::create_dir_all(&dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("registry.db");
        let registry = if path.exists() {
            Registry::open(&path)?
        } else {
            Registry::create(&path, code, national)?
        };
        let trust = Arc::new(town.keys().trust()?);
        Ok(Mirror {
            code,
            origin: town.origin.clone(),
            vkey,
            trust,
            registry,
            tiles,
            receipts: Arc::new(ReceiptCache::default()),
        })
    }

    /// Resident `code`'s record in the replica, proven against the town's witnessed checkpoint
    /// as the mirror received it.
    pub fn prove(
        &self,
        code: registry_domain::ResidentCode,
    ) -> Result<crate::proof::Proven, crate::proof::NotProven> {
        crate::proof::prove(&self.registry, &self.tiles, &self.receipts, &self.trust, code)
    }

    /// What proving a record needs besides the replica, to prove without the mirror's lock.
    pub fn prover(&self) -> Prover {
        Prover {
            tiles: self.tiles.clone(),
            receipts: self.receipts.clone(),
            trust: self.trust.clone(),
        }
    }

    /// The evidence of the change that opened resident `code`'s record here with the national
    /// signer's last certificate, if one did (for the signer's custody check).
    pub fn opened_evidence(
        &self,
        code: registry_domain::ResidentCode,
    ) -> Result<Option<Vec<String>>, crate::proof::NotProven> {
        use crate::proof::NotProven;
        let index = self.registry.last_certified_entry(code)?;
        index
            .map(|index| {
                let proven = crate::proof::prove_at(
                    &self.registry,
                    &self.tiles,
                    &self.receipts,
                    &self.trust,
                    index,
                )?;
                proven.texts().map_err(NotProven::Internal)
            })
            .transpose()
    }

    /// One receipt proving the withdrawal of the move-out certificate for the move-out whose
    /// note has hash `event`, if this town's log records one.
    pub fn withdrawal_receipt(&self, event: &Hash) -> Result<Option<String>> {
        let Some((index, note)) = self.registry.consumed_by(event)? else { return Ok(None) };
        let text = tlog::note::Note::parse(&note)?.text().to_owned();
        if !text.starts_with(registry_core::moves::MOVE_WITHDRAWAL) {
            return Ok(None);
        }
        let receipts =
            registry_store::dir::receipts(&self.tiles, &self.vkey, &self.origin, &[(index, note)])?;
        Ok(Some(String::from_utf8(receipts[0].to_bytes())?))
    }

    /// What the replica holds: size and root.
    pub fn head(&self) -> Result<(u64, Hash)> {
        Ok((self.registry.log_size()?, self.registry.log_root()?))
    }

    /// The size the replica's tiles cover (its last integrated checkpoint).
    pub fn tiles_size(&self) -> Result<u64> {
        crate::logs::published_size(&self.tiles, &self.vkey, &self.origin)
    }

    /// Verifies and applies a batch, all or nothing. The node database is locked only to keep
    /// the verified checkpoint, so that batches of different towns are applied in parallel.
    pub fn accept(
        &mut self,
        batch: &Batch,
        journal: &std::sync::Mutex<Journal>,
    ) -> Result<Accepted, Refused> {
        let (have, root) = self.head()?;
        if batch.end() <= have && !batch.events.is_empty() {
            return self.resend(batch, have, root);
        }
        if batch.from != have {
            return Err(Refused::Behind { have, root });
        }
        if have == 0 {
            self.check_genesis(batch)?;
        }
        let checked =
            batch.check(&self.origin, &self.trust.policy, &root).map_err(|e| Refused::Invalid {
                kind: match e {
                    BatchError::Checkpoint { .. } => Code::BadCheckpoint,
                    BatchError::Inconsistent { .. } => Code::InconsistentProof,
                    _ => Code::MalformedBatch,
                },
                message: e.to_string(),
            })?;
        let notes: Vec<&[u8]> = batch.events.iter().map(|e| e.as_bytes()).collect();
        let replication = self.registry.replicate(&notes).map_err(|e| match e {
            registry_store::StoreError::BatchRefused { position, index, refusal } => {
                Refused::Invalid {
                    kind: Code::RefusedEvent,
                    message: format!(
                        "event {position} of the batch (log index {index}) is refused: {refusal}"
                    ),
                }
            }
            other => Refused::Internal(other.into()),
        })?;
        if replication.size() != checked.size || replication.root() != checked.root {
            let message = format!(
                "the events do not reproduce the town's checkpoint: they give size {} root {}, \
                 the checkpoint says size {} root {}",
                replication.size(),
                replication.root().to_base64(),
                checked.size,
                checked.root.to_base64()
            );
            drop(replication);
            return Err(Refused::Invalid { kind: Code::WrongRoot, message });
        }
        // Kept before the commit: after a crash in between, the checkpoint is there for a
        // size the replica may not hold, which is harmless (it is used only once held).
        crate::task::lock(journal).keep_checkpoint(
            &self.origin,
            checked.size,
            batch.checkpoint.as_bytes(),
        )?;
        replication.commit().map_err(|e| Refused::Internal(e.into()))?;
        self.integrate(batch.checkpoint.as_bytes())?;
        Ok(Accepted::Applied { size: checked.size, root: checked.root })
    }

    /// A batch the replica already holds: the same events (its checkpoint is the tree held
    /// here, and each event is the one held at its index) are a harmless resend; another
    /// checkpoint at that size is a fork, and other events under the held checkpoint are
    /// refused like events that do not reproduce their checkpoint.
    fn resend(&self, batch: &Batch, have: u64, root: Hash) -> Result<Accepted, Refused> {
        let verified =
            self.trust.policy.verify_origin(batch.checkpoint.as_bytes(), &self.origin).map_err(
                |e| Refused::Invalid {
                    kind: Code::BadCheckpoint,
                    message: format!("the resent batch's checkpoint does not verify: {e}"),
                },
            )?;
        let end = batch.end();
        let size = verified.checkpoint.size;
        if size != end {
            let error = BatchError::SizeMismatch { from: batch.from, end, size };
            return Err(Refused::Invalid {
                kind: Code::MalformedBatch,
                message: error.to_string(),
            });
        }
        let ours = if end == have { root } else { root_at(&self.tiles, self.tiles_size()?, end)? };
        if verified.checkpoint.root != ours {
            return Err(Refused::Invalid {
                kind: Code::Fork,
                message: format!(
                    "a batch for {} ending at {end} carries a checkpoint that is not the tree \
                     this node holds: the town's node signed two different histories",
                    self.code
                ),
            });
        }
        // The checkpoint is the tree held here; the events must be the ones it covers.
        let held = self.registry.events(batch.from, end).map_err(anyhow::Error::from)?;
        if let Some(i) = held.iter().zip(&batch.events).position(|(h, e)| h != e.as_bytes()) {
            return Err(Refused::Invalid {
                kind: Code::WrongRoot,
                message: format!(
                    "event {i} of the resent batch (log index {}) is not the event this node \
                     holds there: the events do not reproduce the town's checkpoint",
                    batch.from + i as u64
                ),
            });
        }
        Ok(Accepted::Holds { size: have, root })
    }

    /// A town's first batch starts with the genesis that names the admin key the town was
    /// registered with; another is refused (a town cannot re-key its own enrolments by sending
    /// a new genesis to a new mirror).
    fn check_genesis(&self, batch: &Batch) -> Result<(), Refused> {
        let Some(first) = batch.events.first() else { return Ok(()) };
        let genesis = tlog::note::Note::parse(first.as_bytes())
            .ok()
            .and_then(|note| registry_core::event::Event::parse(note.text()).ok());
        match genesis {
            Some(registry_core::event::Event::Genesis(g))
                if g.admin == self.trust.admin && g.municipality == self.code =>
            {
                Ok(())
            }
            _ => Err(Refused::Invalid {
                kind: Code::WrongGenesis,
                message: format!(
                    "the first event of {}'s log is not the genesis naming the admin key the \
                     town was registered with",
                    self.code
                ),
            }),
        }
    }

    /// Writes the replica's tiles up to the received checkpoint.
    fn integrate(&mut self, checkpoint: &[u8]) -> Result<()> {
        let received = Received {
            note: checkpoint,
            verifier: VerifyOnly::new(self.vkey.clone(), &self.origin),
            origin: &self.origin,
        };
        let conn = &*self.registry.connection();
        integrate(conn, &self.tiles, &received, &mut |i| Ok(i.checkpoint.clone()))
            .context("integrating the replica's tiles")?;
        Ok(())
    }

    /// After a crash between applying a batch and integrating it, integrates up to the newest
    /// kept checkpoint that matches the replica.
    pub fn recover(&mut self, journal: &Journal) -> Result<()> {
        let (size, _) = self.head()?;
        if self.tiles_size()? == size {
            return Ok(());
        }
        if let Some((kept, note)) = journal.kept_checkpoint(&self.origin, 0, size)?
            && kept == size
        {
            self.integrate(&note)?;
        }
        Ok(())
    }
}

/// A mirror as the source of the batches a prefecture forwards to the national node.
pub struct Forward<'a> {
    /// The mirror.
    pub mirror: &'a mut Mirror,
    /// The node database with the kept checkpoints.
    pub journal: &'a Journal,
}

impl BatchSource for Forward<'_> {
    fn events(&mut self, from: u64, to: u64) -> Result<Vec<Vec<u8>>> {
        Ok(self.mirror.registry.events(from, to)?)
    }

    fn checkpoint(&mut self, acked: u64, limit: u64) -> Result<Option<(u64, Vec<u8>)>> {
        let covered = self.mirror.tiles_size()?;
        self.journal.kept_checkpoint(&self.mirror.origin, acked, limit.min(covered))
    }

    fn tiles(&self) -> &TileDir {
        &self.mirror.tiles
    }

    fn tiles_size(&self) -> Result<u64> {
        self.mirror.tiles_size()
    }
}
