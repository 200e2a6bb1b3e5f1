//! Evidence: proof, checkable by anyone who holds a town's public keys, that a resident's record
//! is the one an enrolled operator signed and the town's witnessed log contains.
//!
//! A town's log holds a [`commitment`] to each signed event, never the event itself. An answer
//! that carries identity information carries, beside it, one c2sp.org/tlog-proof receipt per
//! event it rests on, each with the exact signed event in its `extra`:
//!
//! 1. the change that made the record,
//! 2. the enrolment of every operator who signed it,
//! 3. the town's genesis (index 0), which names the admin key that signs enrolments.
//!
//! [`verify`] checks every receipt against the town's witnessed checkpoint policy, recomputes
//! each leaf from the event bytes (so an edited event cannot be proven), and then the chain of
//! authority: the genesis names the admin key the verifier was configured with, the admin key
//! signed each enrolment, and enrolled operators — enough different people for the reason (a
//! sensitive change needs two, one a supervisor, as `rules::check_approval` says), enrolled
//! before the change in the log — signed the change.
//!
//! What inclusion cannot prove is absence: that no later event replaced this record, or that no
//! revocation preceded the change. Those are checked by the node before it serves (it replays its
//! own log) and by every upper tier, which replays the rules on the whole log.

use std::collections::BTreeSet;

use registry_domain::MunicipalityCode;
use tlog::Hash;
use tlog::checkpoint::Policy;
use tlog::note::{self, NoteError, VerifierKey, Verifiers};
use tlog::receipt::{Receipt, ReceiptError};

use crate::event::{Change, Event, Role};

/// The first line of every log entry of a registry.
pub const COMMITMENT_HEADER: &str = "juki.commitment/v1";

/// The public log entry for a signed event: its kind (the note's first line) and the SHA-256 of
/// its exact bytes. Tiles carry only these, so they hold no personal data; whoever holds the
/// event can recompute the entry and prove it is in the log.
pub fn commitment(note: &[u8]) -> Vec<u8> {
    commitment_hashed(note, &tlog::hash::sha256(note))
}

/// [`commitment`] of a note whose SHA-256 (`hash`) the caller has already computed.
pub fn commitment_hashed(note: &[u8], hash: &Hash) -> Vec<u8> {
    let kind = note.split(|&b| b == b'\n').next().unwrap_or(b"");
    let mut out = Vec::with_capacity(COMMITMENT_HEADER.len() + kind.len() + 47);
    out.extend_from_slice(COMMITMENT_HEADER.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(kind);
    out.push(b'\n');
    out.extend_from_slice(hash.to_base64().as_bytes());
    out.push(b'\n');
    out
}

/// The Merkle leaf hash of a signed event in its registry's log.
pub fn leaf(note: &[u8]) -> Hash {
    tlog::hash::leaf_hash(&commitment(note))
}

/// What a verifier must know of a town, from a source it trusts (the network's registration of
/// the town), never from the evidence itself.
#[derive(Clone, Debug)]
pub struct TownTrust {
    /// The town.
    pub municipality: MunicipalityCode,
    /// Its registry log's origin.
    pub origin: String,
    /// The log's key and the witnesses whose cosignatures a checkpoint must carry.
    pub policy: Policy,
    /// The admin key its genesis names.
    pub admin: VerifierKey,
}

/// A change proven by evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvenChange {
    /// Its index in the town's log.
    pub index: u64,
    /// The change.
    pub change: Change,
    /// Its exact signed bytes.
    pub note: Vec<u8>,
    /// The size of the witnessed checkpoint that includes it.
    pub checkpoint_size: u64,
    /// The distinct operators who signed it, with their roles.
    pub signers: Vec<(VerifierKey, Role)>,
}

/// Why evidence does not prove a record. Messages name indexes and keys, never personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// No receipts at all, or more than a record can need.
    #[error(
        "the evidence has {0} receipts; a record needs the change, its signers' enrolments and the genesis"
    )]
    Count(usize),
    /// A receipt does not parse.
    #[error("receipt {position} does not parse: {error}")]
    Malformed {
        /// Its position in the evidence.
        position: usize,
        /// Why.
        error: ReceiptError,
    },
    /// A receipt carries no event in its `extra`.
    #[error("receipt {0} carries no signed event")]
    NoEvent(usize),
    /// A receipt's event or proof does not match the town's witnessed checkpoint.
    #[error("the event at index {index} is not in the town's witnessed log: {error}")]
    NotInLog {
        /// The index it claims.
        index: u64,
        /// Why.
        error: ReceiptError,
    },
    /// An event does not parse.
    #[error("the event at index {index} does not parse: {detail}")]
    BadEvent {
        /// Its index.
        index: u64,
        /// Why.
        detail: String,
    },
    /// The first receipt is not a change of this town.
    #[error("the evidence's first event (index {0}) is not a change of this town")]
    NotAChange(u64),
    /// No genesis at index 0, or one of another town or admin key.
    #[error("the evidence carries no genesis at index 0 naming the town's registered admin key")]
    Genesis,
    /// An enrolment is not signed by the admin key, or is of another town.
    #[error("the enrolment at index {0} is not signed by the town's admin key")]
    Enrolment(u64),
    /// An operator signed the change before (in log order) being enrolled.
    #[error("operator {key} is enrolled at index {enrolled}, after the change at index {change}")]
    EnrolledAfter {
        /// The operator's key name.
        key: String,
        /// The enrolment's index.
        enrolled: u64,
        /// The change's index.
        change: u64,
    },
    /// A sensitive change whose signers include no supervisor.
    #[error("the change at index {0} needs a supervisor among its signers; none signed")]
    NoSupervisor(u64),
    /// The change carries fewer valid signatures of enrolled operators than its reason needs.
    #[error(
        "the change at index {index} is signed by {signed} enrolled operator(s); it needs {needed}"
    )]
    Unsigned {
        /// The change's index.
        index: u64,
        /// Valid signatures of distinct enrolled operators.
        signed: usize,
        /// How many its reason needs.
        needed: usize,
    },
}

/// Parses evidence: receipts as they travel (text).
pub fn parse(receipts: &[impl AsRef<[u8]>]) -> Result<Vec<Receipt>, EvidenceError> {
    receipts
        .iter()
        .enumerate()
        .map(|(position, bytes)| {
            Receipt::parse(bytes.as_ref())
                .map_err(|error| EvidenceError::Malformed { position, error })
        })
        .collect()
}

/// The town whose change the evidence's first receipt carries, as the event names it (not yet
/// verified: the caller picks that town's registration and verifies with it).
pub fn town_of(receipts: &[Receipt]) -> Option<MunicipalityCode> {
    let note = receipts.first()?.extra.as_deref()?;
    let event = Event::parse(note::Note::parse(note).ok()?.text()).ok()?;
    Some(event.municipality())
}

/// The most receipts a record's evidence may carry: the change, two signers' enrolments and the
/// genesis, with room for a note signed by more operators.
pub const MAX_RECEIPTS: usize = 16;

/// Signature checks that passed, kept by a verifier that checks many records of one town
/// (a node proving each record before it serves it), so that the Ed25519 arithmetic over the
/// same inputs is not repeated: a witnessed checkpoint, by its exact bytes (its size and root
/// as they were verified), and a note signed by one key — the genesis and the enrolments, by
/// the admin key —, by the SHA-256 of its exact bytes and the key. Only identical inputs are
/// skipped; every inclusion proof, every leaf recomputed from its event's bytes and the chain
/// of authority are checked on every call. A change's own signatures are remembered too, as
/// the keys that verified, by the SHA-256 of the change's exact bytes and of the keys it was
/// opened with (a key enrolled later changes that digest), for the most recently proven
/// changes only (two generations of [`Checked::CHANGES`]): a node proving a record it proved
/// recently repeats no curve arithmetic, and any other record costs one check per signature.
/// Keep one per town: a checkpoint is remembered under the `TownTrust` it was verified with.
#[derive(Debug, Default)]
pub struct Checked {
    kept: std::sync::Mutex<CheckedKept>,
}

#[derive(Debug, Default)]
struct CheckedKept {
    /// Checkpoints verified, newest last: exact bytes, origin verified under, size, root.
    checkpoints: Vec<(Vec<u8>, String, u64, Hash)>,
    /// (SHA-256 of a note's bytes, the key's text) that passed.
    signed: std::collections::HashSet<(Hash, String)>,
    /// Genesis and enrolment events as parsed from their notes, by the SHA-256 of the note's
    /// bytes (parsing one parses the key it names, which decompresses the key's point).
    authority: std::collections::HashMap<Hash, Event>,
    /// The keys whose signatures on a change verified, by (SHA-256 of the change's note,
    /// SHA-256 of the keys it was opened with): the newer generation and the older one.
    changes: std::collections::HashMap<(Hash, Hash), Vec<VerifierKey>>,
    changes_older: std::collections::HashMap<(Hash, Hash), Vec<VerifierKey>>,
}

impl Checked {
    /// Checkpoints kept (a town's checkpoint changes with each batch; old ones are dropped).
    const CHECKPOINTS: usize = 4;
    /// Signed notes kept (a town's genesis and enrolments: a few dozen).
    const SIGNED: usize = 4096;
    /// Changes whose signers are kept, per generation (about 200 bytes each).
    pub const CHANGES: usize = 1 << 16;

    fn kept(&self) -> std::sync::MutexGuard<'_, CheckedKept> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn checkpoint(&self, bytes: &[u8], origin: &str) -> Option<(u64, Hash)> {
        let kept = self.kept();
        kept.checkpoints
            .iter()
            .find(|(b, o, _, _)| b == bytes && o == origin)
            .map(|(_, _, size, root)| (*size, *root))
    }

    fn keep_checkpoint(&self, bytes: &[u8], origin: &str, size: u64, root: Hash) {
        let mut kept = self.kept();
        if kept.checkpoints.len() >= Self::CHECKPOINTS {
            kept.checkpoints.remove(0);
        }
        kept.checkpoints.push((bytes.to_vec(), origin.to_owned(), size, root));
    }

    fn authority(&self, note: &[u8]) -> Option<Event> {
        self.kept().authority.get(&tlog::hash::sha256(note)).cloned()
    }

    fn keep_authority(&self, note: &[u8], event: &Event) {
        if matches!(event, Event::Genesis(_) | Event::Enrolment(_)) {
            let mut kept = self.kept();
            if kept.authority.len() >= Self::SIGNED {
                kept.authority.clear();
            }
            kept.authority.insert(tlog::hash::sha256(note), event.clone());
        }
    }

    /// The keys of `known` whose signatures on the change `note` verify, as [`note::open`]
    /// finds them (none when it carries no signature by a known key); remembered for these
    /// exact bytes and keys.
    fn change_signers(
        &self,
        note: &[u8],
        known: &Verifiers,
    ) -> Result<Vec<VerifierKey>, NoteError> {
        let mut keys = Vec::new();
        for key in known.keys() {
            keys.extend_from_slice(key.to_string().as_bytes());
            keys.push(b'\n');
        }
        let id = (tlog::hash::sha256(note), tlog::hash::sha256(&keys));
        {
            let kept = self.kept();
            if let Some(signers) = kept.changes.get(&id).or_else(|| kept.changes_older.get(&id)) {
                return Ok(signers.clone());
            }
        }
        let signers = opened_signers(note, known)?;
        let mut kept = self.kept();
        if kept.changes.len() >= Self::CHANGES {
            kept.changes_older = std::mem::take(&mut kept.changes);
        }
        kept.changes.insert(id, signers.clone());
        Ok(signers)
    }

    fn signed_by(&self, note: &[u8], key: &VerifierKey) -> bool {
        let id = (tlog::hash::sha256(note), key.to_string());
        if self.kept().signed.contains(&id) {
            return true;
        }
        if !signed_by(note, key) {
            return false;
        }
        let mut kept = self.kept();
        if kept.signed.len() >= Self::SIGNED {
            kept.signed.clear();
        }
        kept.signed.insert(id);
        true
    }
}

/// Verifies evidence for a record of `trust`'s town: see the module documentation.
pub fn verify(receipts: &[Receipt], trust: &TownTrust) -> Result<ProvenChange, EvidenceError> {
    verify_checked(receipts, trust, None)
}

/// [`verify`], skipping the signature checks `checked` holds as passed and keeping those that
/// pass (see [`Checked`]).
pub fn verify_with(
    receipts: &[Receipt],
    trust: &TownTrust,
    checked: &Checked,
) -> Result<ProvenChange, EvidenceError> {
    verify_checked(receipts, trust, Some(checked))
}

fn verify_checked(
    receipts: &[Receipt],
    trust: &TownTrust,
    remembered: Option<&Checked>,
) -> Result<ProvenChange, EvidenceError> {
    let signed = |note: &[u8], key: &VerifierKey| match remembered {
        Some(checked) => checked.signed_by(note, key),
        None => signed_by(note, key),
    };
    if receipts.is_empty() || receipts.len() > MAX_RECEIPTS {
        return Err(EvidenceError::Count(receipts.len()));
    }
    let mut events = Vec::with_capacity(receipts.len());
    // The receipts of one answer usually share one checkpoint: its signatures are checked once,
    // and each further receipt under the same bytes checks only its inclusion proof.
    let mut checked: Vec<(&[u8], u64, Hash)> = Vec::new();
    for (position, receipt) in receipts.iter().enumerate() {
        let note = receipt.extra.as_deref().ok_or(EvidenceError::NoEvent(position))?;
        let leaf = leaf(note);
        let not_in_log = |error| EvidenceError::NotInLog { index: receipt.index, error };
        let known = checked
            .iter()
            .find(|(bytes, _, _)| *bytes == receipt.checkpoint)
            .map(|(_, size, root)| (*size, *root))
            .or_else(|| {
                let kept = remembered?.checkpoint(&receipt.checkpoint, &trust.origin)?;
                checked.push((&receipt.checkpoint, kept.0, kept.1));
                Some(kept)
            });
        let size = match known {
            Some((size, root)) => {
                tlog::merkle::verify_inclusion(&leaf, receipt.index, size, &receipt.proof, &root)
                    .map_err(|e| not_in_log(ReceiptError::Inclusion(e)))?;
                size
            }
            None => {
                let verified = receipt
                    .verify_origin(&leaf, &trust.policy, &trust.origin)
                    .map_err(not_in_log)?;
                let (size, root) = (verified.checkpoint.size, verified.checkpoint.root);
                if let Some(remembered) = remembered {
                    remembered.keep_checkpoint(&receipt.checkpoint, &trust.origin, size, root);
                }
                checked.push((&receipt.checkpoint, size, root));
                size
            }
        };
        let event = match remembered.and_then(|checked| checked.authority(note)) {
            Some(event) => event,
            None => {
                let bad = |detail: String| EvidenceError::BadEvent { index: receipt.index, detail };
                let parsed = note::Note::parse(note).map_err(|e| bad(e.to_string()))?;
                let event = Event::parse(parsed.text()).map_err(|e| bad(e.to_string()))?;
                if let Some(checked) = remembered {
                    checked.keep_authority(note, &event);
                }
                event
            }
        };
        events.push((receipt.index, note, event, size));
    }

    // The genesis names the admin key the verifier was told of.
    let genesis = events.iter().any(|(index, note, event, _)| {
        *index == 0
            && matches!(event, Event::Genesis(g)
                if g.municipality == trust.municipality && g.admin == trust.admin)
            && signed(note, &trust.admin)
    });
    if !genesis {
        return Err(EvidenceError::Genesis);
    }

    // Operators enrolled by the admin key.
    let mut operators: Vec<(VerifierKey, Role, u64)> = Vec::new();
    for (index, note, event, _) in &events {
        if let Event::Enrolment(enrolment) = event {
            if enrolment.municipality != trust.municipality || !signed(note, &trust.admin) {
                return Err(EvidenceError::Enrolment(*index));
            }
            operators.push((enrolment.operator.clone(), enrolment.role, *index));
        }
    }

    let (index, note, event, checkpoint_size) = &events[0];
    let Event::Change(change) = event else { return Err(EvidenceError::NotAChange(*index)) };
    if change.municipality != trust.municipality {
        return Err(EvidenceError::NotAChange(*index));
    }
    let known: Verifiers = operators.iter().map(|(key, _, _)| key.clone()).collect();
    let verified = match remembered {
        Some(checked) => checked.change_signers(note, &known),
        None => opened_signers(note, &known),
    }
    .map_err(|e| EvidenceError::BadEvent { index: *index, detail: e.to_string() })?;
    // One per person: keys enrolled under one name are one person.
    let mut seen = BTreeSet::new();
    let mut seen_keys = BTreeSet::new();
    let mut signers = Vec::new();
    for verified in &verified {
        let (key, role, enrolled) =
            operators.iter().find(|(key, _, _)| key == verified).expect("opened with these keys");
        if enrolled >= index {
            return Err(EvidenceError::EnrolledAfter {
                key: key.name().to_owned(),
                enrolled: *enrolled,
                change: *index,
            });
        }
        let person = !seen_keys.contains(key.public_key()) && !seen.contains(key.name());
        seen_keys.insert(*key.public_key());
        seen.insert(key.name().to_owned());
        if person {
            signers.push((key.clone(), *role));
        }
    }
    let roles: Vec<Role> = signers.iter().map(|(_, role)| *role).collect();
    match crate::rules::check_approval(change.reason(), &roles) {
        Ok(()) => {}
        Err(crate::rules::Refusal::SupervisorMissing { .. }) => {
            return Err(EvidenceError::NoSupervisor(*index));
        }
        Err(_) => {
            let needed = if change.reason().needs_two_operators() { 2 } else { 1 };
            return Err(EvidenceError::Unsigned { index: *index, signed: signers.len(), needed });
        }
    }
    Ok(ProvenChange {
        index: *index,
        change: change.clone(),
        note: note.to_vec(),
        checkpoint_size: *checkpoint_size,
        signers,
    })
}

/// Verifies one receipt for an event the national key signed (a move-out withdrawal, a move
/// notice, a code block) in `trust`'s town's witnessed log; returns its index and the event.
pub fn verify_national(
    receipt: &Receipt,
    trust: &TownTrust,
    national: &VerifierKey,
) -> Result<(u64, Event), EvidenceError> {
    let note = receipt.extra.as_deref().ok_or(EvidenceError::NoEvent(0))?;
    receipt
        .verify_origin(&leaf(note), &trust.policy, &trust.origin)
        .map_err(|error| EvidenceError::NotInLog { index: receipt.index, error })?;
    let bad = |detail: String| EvidenceError::BadEvent { index: receipt.index, detail };
    let parsed = note::Note::parse(note).map_err(|e| bad(e.to_string()))?;
    let event = Event::parse(parsed.text()).map_err(|e| bad(e.to_string()))?;
    if event.municipality() != trust.municipality {
        return Err(bad(format!("it is an event of {}", event.municipality())));
    }
    if !signed_by(note, national) {
        return Err(bad("it is not signed by the national key".into()));
    }
    Ok((receipt.index, event))
}

/// The keys of `known` whose signatures on `note` verify (each once, in signature order), or
/// none when it carries no signature by a known key; [`note::open`]'s error for anything else.
fn opened_signers(note: &[u8], known: &Verifiers) -> Result<Vec<VerifierKey>, NoteError> {
    match note::open(note, known) {
        Ok(opened) => Ok(opened.verified().iter().map(|v| v.key.clone()).collect()),
        Err(NoteError::NotSigned) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

fn signed_by(note: &[u8], key: &VerifierKey) -> bool {
    let known: Verifiers = [key.clone()].into_iter().collect();
    note::open(note, &known).is_ok()
}
