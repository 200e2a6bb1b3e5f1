//! The replication protocol between tiers, as data: a batch of a municipality's signed events
//! with the consistency proof from the last acknowledged checkpoint, and the receipt the
//! upstream node signs once it has verified and durably applied it. Pure: no I/O.
//!
//! A batch travels as JSON. Events and checkpoints are carried as the exact signed texts (notes
//! are UTF-8), never re-encoded: the receiver verifies the bytes it received.

use serde::{Deserialize, Serialize};
use tlog::Hash;
use tlog::checkpoint::Policy;
use tlog::merkle::verify_consistency;
use tlog::note::{Note, Signer, VerifierKey, Verifiers, open};

/// The largest batch body a node accepts, in bytes: room for the most events a batch carries
/// (4,096) at 16 KiB each, far above any event's size (a birth is about 400 bytes, a move-in
/// with its certificate under 2 KiB). A web framework's default limit (2 MB) would refuse a
/// batch of 4,096 move-ins and stall the town's replication for good.
pub const MAX_BATCH_BYTES: usize = 64 << 20;

/// The receipt's first line.
pub const RECEIPT_HEADER: &str = "juki.receipt/v1";

/// Events of one municipality's registry log, `from..from + events.len()`, with the signed
/// checkpoint at the batch's end and a consistency proof from `from` to it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// The municipality whose log this is.
    pub municipality: String,
    /// The log size the sender believes the receiver has (its last acknowledged size).
    pub from: u64,
    /// The sender's signed checkpoint at `from + events.len()`, exactly as signed.
    pub checkpoint: String,
    /// The consistency proof from `from` to the checkpoint's size, base64 hashes.
    pub proof: Vec<String>,
    /// The signed events, exactly as signed.
    pub events: Vec<String>,
}

/// What the receiver checked a batch's checkpoint and proof against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedBatch {
    /// The checkpoint's tree size.
    pub size: u64,
    /// The checkpoint's root.
    pub root: Hash,
}

/// Why a batch is refused before any event in it is looked at.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BatchError {
    /// The checkpoint is not signed by the municipality's node key, or names another log.
    #[error("the batch's checkpoint does not verify with the key of {log}: {reason}")]
    Checkpoint {
        /// The log expected.
        log: String,
        /// What failed.
        reason: String,
    },
    /// The checkpoint does not cover exactly the batch's events.
    #[error(
        "the batch carries events {from}..{end} but its checkpoint is at size {size}; a batch's \
         checkpoint ends where its events end"
    )]
    SizeMismatch {
        /// The batch's first index.
        from: u64,
        /// One past its last.
        end: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The consistency proof does not connect the last acknowledged tree to the checkpoint.
    #[error(
        "the consistency proof from size {from} does not lead to the batch's checkpoint \
         (size {size}): {reason}"
    )]
    Inconsistent {
        /// The acknowledged size.
        from: u64,
        /// The checkpoint's size.
        size: u64,
        /// What failed.
        reason: String,
    },
    /// A proof hash is not base64 of 32 bytes.
    #[error("the consistency proof holds a malformed hash")]
    MalformedProof,
}

impl Batch {
    /// The index one past the batch's last event.
    pub fn end(&self) -> u64 {
        self.from + self.events.len() as u64
    }

    /// Verifies the checkpoint against the town's `policy` — its node key's signature and its
    /// witnesses' cosignatures, so that the tree replicated is the one the witnesses saw — and
    /// its origin, and that the proof connects `(from, from_root)` — the receiver's own tree —
    /// to it. The events themselves are checked by applying them (the receiver recomputes the
    /// root).
    pub fn check(
        &self,
        origin: &str,
        policy: &Policy,
        from_root: &Hash,
    ) -> Result<CheckedBatch, BatchError> {
        let verified = policy.verify_origin(self.checkpoint.as_bytes(), origin).map_err(|e| {
            BatchError::Checkpoint { log: origin.to_owned(), reason: e.to_string() }
        })?;
        let size = verified.checkpoint.size;
        let root = verified.checkpoint.root;
        if size != self.end() {
            return Err(BatchError::SizeMismatch { from: self.from, end: self.end(), size });
        }
        let proof = self
            .proof
            .iter()
            .map(|h| Hash::from_base64(h).map_err(|_| BatchError::MalformedProof))
            .collect::<Result<Vec<_>, _>>()?;
        if self.from > 0 {
            verify_consistency(self.from, size, &proof, from_root, &root).map_err(|e| {
                BatchError::Inconsistent { from: self.from, size, reason: e.to_string() }
            })?;
        } else if !proof.is_empty() {
            return Err(BatchError::Inconsistent {
                from: 0,
                size,
                reason: "a proof from the empty tree is empty".into(),
            });
        }
        Ok(CheckedBatch { size, root })
    }
}

/// A signed acknowledgement: the receiver holds the log `log` up to `size` with root `root`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The receiving node's identity URI.
    pub receiver: String,
    /// The log's origin.
    pub log: String,
    /// The size acknowledged.
    pub size: u64,
    /// The root at that size.
    pub root: Hash,
    /// When it was signed (POSIX seconds).
    pub time: u64,
}

/// Why a receipt is not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReceiptError {
    /// Not signed by the expected upstream key.
    #[error("the receipt is not signed by the upstream node's key: {0}")]
    Signature(String),
    /// Not a receipt.
    #[error("malformed receipt: {0}")]
    Malformed(&'static str),
    /// It acknowledges something else than what was sent.
    #[error("the receipt acknowledges {found} but {expected} was sent")]
    Mismatch {
        /// What was sent.
        expected: String,
        /// What the receipt says.
        found: String,
    },
}

impl Receipt {
    /// The receipt's text.
    pub fn to_text(&self) -> String {
        format!(
            "{RECEIPT_HEADER}\nreceiver {}\nlog {}\nsize {}\nroot {}\ntime {}\n",
            self.receiver,
            self.log,
            self.size,
            self.root.to_base64(),
            self.time
        )
    }

    /// Signs the receipt.
    pub fn sign(&self, signer: &Signer) -> Result<Vec<u8>, tlog::note::NoteError> {
        let mut note = Note::new(self.to_text())?;
        note.sign(signer)?;
        Ok(note.to_bytes())
    }

    /// Parses a receipt's text.
    pub fn parse(text: &str) -> Result<Receipt, ReceiptError> {
        let mut lines =
            text.strip_suffix('\n').ok_or(ReceiptError::Malformed("no final newline"))?.split('\n');
        if lines.next() != Some(RECEIPT_HEADER) {
            return Err(ReceiptError::Malformed("not a juki.receipt/v1"));
        }
        let mut field = |key: &'static str| -> Result<&str, ReceiptError> {
            lines
                .next()
                .and_then(|line| line.strip_prefix(key))
                .and_then(|rest| rest.strip_prefix(' '))
                .ok_or(ReceiptError::Malformed("fields are receiver, log, size, root, time"))
        };
        let receiver = field("receiver")?.to_owned();
        let log = field("log")?.to_owned();
        let size = field("size")?.parse().map_err(|_| ReceiptError::Malformed("bad size"))?;
        let root =
            Hash::from_base64(field("root")?).map_err(|_| ReceiptError::Malformed("bad root"))?;
        let time = field("time")?.parse().map_err(|_| ReceiptError::Malformed("bad time"))?;
        if lines.next().is_some() {
            return Err(ReceiptError::Malformed("unexpected lines"));
        }
        let receipt = Receipt { receiver, log, size, root, time };
        if receipt.to_text() != text {
            return Err(ReceiptError::Malformed("not in canonical form"));
        }
        Ok(receipt)
    }

    /// Opens a signed receipt with the upstream node's key and checks it acknowledges exactly
    /// `log` at `size` with `root`.
    pub fn verify(
        note: &[u8],
        upstream: &VerifierKey,
        log: &str,
        size: u64,
        root: &Hash,
    ) -> Result<Receipt, ReceiptError> {
        let mut known = Verifiers::new();
        known.push(upstream.clone());
        let opened = open(note, &known).map_err(|e| ReceiptError::Signature(e.to_string()))?;
        let receipt = Receipt::parse(opened.text())?;
        let expected = format!("{log} at size {size} (root {})", root.to_base64());
        let found =
            format!("{} at size {} (root {})", receipt.log, receipt.size, receipt.root.to_base64());
        if expected != found {
            return Err(ReceiptError::Mismatch { expected, found });
        }
        Ok(receipt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tlog::hash::leaf_hash;
    use tlog::merkle::{MemoryTree, prove_consistency};
    use tlog::note::KeyKind;

    fn signer(name: &str, seed: u8) -> Signer {
        Signer::from_seed(name, KeyKind::Ed25519, [seed; 32]).unwrap()
    }

    /// A town's policy without witnesses: its node key alone.
    fn alone(key: &Signer) -> Policy {
        Policy { log_keys: vec![key.verifier()], witnesses: Vec::new(), quorum: 0 }
    }

    fn tree(n: usize) -> MemoryTree {
        let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(format!("e{i}").as_bytes())).collect();
        MemoryTree::from_leaves(&leaves)
    }

    fn batch(from: u64, to: u64, key: &Signer) -> (Batch, Hash) {
        let full = tree(to as usize);
        let old = tree(from as usize);
        let proof = prove_consistency(from, to, &full).unwrap();
        let cp = tlog::checkpoint::Checkpoint::new("juki.local/registry/204072", to, full.root());
        let checkpoint = String::from_utf8(tlog::checkpoint::sign(&cp, key).unwrap()).unwrap();
        let events = (from..to).map(|i| format!("e{i}")).collect();
        let batch = Batch {
            municipality: "204072".into(),
            from,
            checkpoint,
            proof: proof.iter().map(Hash::to_base64).collect(),
            events,
        };
        (batch, old.root())
    }

    #[test]
    fn a_batch_with_a_good_proof_checks() {
        let key = signer("juki.local/registry/204072", 1);
        let (batch, old_root) = batch(3, 7, &key);
        let checked = batch.check("juki.local/registry/204072", &alone(&key), &old_root).unwrap();
        assert_eq!(checked.size, 7);
        assert_eq!(checked.root, tree(7).root());
    }

    #[test]
    fn a_proof_from_another_tree_is_refused() {
        let key = signer("juki.local/registry/204072", 1);
        let (batch, _) = batch(3, 7, &key);
        let forked = leaf_hash(b"not the receiver's tree");
        assert!(matches!(
            batch.check("juki.local/registry/204072", &alone(&key), &forked),
            Err(BatchError::Inconsistent { from: 3, size: 7, .. })
        ));
    }

    #[test]
    fn a_checkpoint_by_another_key_or_log_is_refused() {
        let key = signer("juki.local/registry/204072", 1);
        let other = signer("juki.local/registry/204072", 2);
        let (batch, old_root) = batch(0, 4, &other);
        assert!(matches!(
            batch.check("juki.local/registry/204072", &alone(&key), &old_root),
            Err(BatchError::Checkpoint { .. })
        ));
        let (batch, old_root) = self::batch(0, 4, &key);
        assert!(matches!(
            batch.check("juki.local/registry/203611", &alone(&key), &old_root),
            Err(BatchError::Checkpoint { .. })
        ));
    }

    #[test]
    fn a_checkpoint_without_its_witness_quorum_is_refused() {
        let key = signer("juki.local/registry/204072", 1);
        let witness =
            Signer::from_seed("witness.juki.test", KeyKind::Cosignature, [9; 32]).unwrap();
        let policy = Policy {
            log_keys: vec![key.verifier()],
            witnesses: vec![witness.verifier()],
            quorum: 1,
        };
        let (mut batch, old_root) = batch(3, 7, &key);
        assert!(matches!(
            batch.check("juki.local/registry/204072", &policy, &old_root),
            Err(BatchError::Checkpoint { .. })
        ));
        let text = tlog::note::Note::parse(batch.checkpoint.as_bytes()).unwrap().text().to_owned();
        let cosignature = tlog::cosignature::cosign(&witness, &text, 1_700_000_000).unwrap();
        batch.checkpoint = String::from_utf8(
            tlog::note::append_signatures(batch.checkpoint.as_bytes(), &[cosignature]).unwrap(),
        )
        .unwrap();
        let checked = batch.check("juki.local/registry/204072", &policy, &old_root).unwrap();
        assert_eq!(checked.size, 7);
    }

    #[test]
    fn a_checkpoint_that_does_not_end_with_the_events_is_refused() {
        let key = signer("juki.local/registry/204072", 1);
        let (mut batch, old_root) = batch(3, 7, &key);
        batch.events.pop();
        assert_eq!(
            batch.check("juki.local/registry/204072", &alone(&key), &old_root),
            Err(BatchError::SizeMismatch { from: 3, end: 6, size: 7 })
        );
    }

    #[test]
    fn receipts_round_trip_and_bind_what_was_sent() {
        let key = signer("juki.local/prefecture/20", 3);
        let root = tree(5).root();
        let receipt = Receipt {
            receiver: "urn:juki:prefecture:20".into(),
            log: "juki.local/registry/204072".into(),
            size: 5,
            root,
            time: 1_700_000_000,
        };
        let note = receipt.sign(&key).unwrap();
        let log = "juki.local/registry/204072";
        assert_eq!(Receipt::verify(&note, &key.verifier(), log, 5, &root).unwrap(), receipt);
        assert!(matches!(
            Receipt::verify(&note, &key.verifier(), log, 6, &root),
            Err(ReceiptError::Mismatch { .. })
        ));
        let stranger = signer("juki.local/prefecture/20", 4);
        assert!(matches!(
            Receipt::verify(&note, &stranger.verifier(), log, 5, &root),
            Err(ReceiptError::Signature(_))
        ));
        assert!(Receipt::parse("juki.receipt/v1\nreceiver x\n").is_err());
    }
}
