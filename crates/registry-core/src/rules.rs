//! The rules every registry event must pass before it is applied: who may sign it, and what
//! state change it may make. Pure: the caller supplies the registry's current state through
//! [`RegistryView`] and applies the returned [`Effect`].
//!
//! Authority follows the log's order, not the clocks in the events: an operator may sign once
//! the enrolment is in the log and is never again trusted once the revocation is, whatever
//! time a later event claims. A change's own time must not precede the enrolment, and at
//! admission (not on replay) it must be within [`MAX_CLOCK_SKEW`] of the node's clock, so a
//! stolen key cannot be used later to sign backdated changes. Events signed with offline keys
//! (enrolments, revocations, code blocks) carry no such window.
//!
//! Moves between municipalities ([`crate::moves`]) are authorised by the national key, like code
//! blocks: a move-in from another municipality must carry a move-out certificate it signed, and
//! a move-in notice must be signed by it. A certificate is opened over its exact signed bytes,
//! as embedded in the move-in, and is used at most once in a registry.
//!
//! One active record per person ([`crate::moves`], "One active record per person"): a change that
//! makes a record active under a code that is not fresh from this town's pool — other than a
//! move-in, which carries its move-out certificate — carries the national signer's activation
//! certificate, opened over its exact bytes and used at most once here. The signer issues one
//! only on evidence that the code's last record, wherever it is, is closed.

use std::collections::BTreeSet;

use registry_domain::{
    ChangeReason, IdentityRecordParts, MunicipalityCode, ReasonFamily, RecordStatus, ResidentCode,
};
use tlog::Hash;
use tlog::note::{self, NoteError, Prechecked, VerifierKey, Verifiers};

use crate::event::{Change, Event, EventError, Role};
use crate::moves::{
    ActivationCertificate, MoveNotice, MoveOutCertificate, MoveWithdrawal, note_hash,
};
use crate::time::Timestamp;

/// How far an event's time may be from the node's clock when it is admitted (seconds).
pub const MAX_CLOCK_SKEW: u64 = 600;

/// How long a move-out certificate may be used for a move-in after the national key signed it
/// (seconds): 30 days. A certificate found later is refused at admission; the town asks for a
/// new one, which the signer issues only while the move-out is still the resident's record.
pub const CERTIFICATE_VALIDITY: u64 = 30 * 86_400;

/// An operator as the log has recorded it so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operator {
    /// The operator's key.
    pub key: VerifierKey,
    /// What the operator may do.
    pub role: Role,
    /// When the enrolment was signed.
    pub enrolled: Timestamp,
    /// Whether a revocation is in the log.
    pub revoked: bool,
}

/// The change event that made a resident's current record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CurrentEvent {
    /// SHA-256 of its exact signed note ([`crate::moves::note_hash`]).
    pub note_hash: Hash,
    /// The municipality moved to, for a move-out.
    pub moved_to: Option<MunicipalityCode>,
}

/// What the rules need to know about one municipality's registry.
pub trait RegistryView {
    /// The municipality.
    fn municipality(&self) -> MunicipalityCode;
    /// The admin key, once the genesis event is in the log.
    fn admin(&self) -> Option<VerifierKey>;
    /// Every operator ever enrolled, revoked or not.
    fn operators(&self) -> Vec<Operator>;
    /// The current snapshot of a resident's record.
    fn resident(&self, code: ResidentCode) -> Option<IdentityRecordParts>;
    /// Whether a code lies in a block allocated to this municipality.
    fn in_code_pool(&self, code: ResidentCode) -> bool;
    /// Whether a code was ever given to anyone here (current, closed or replaced records).
    fn code_ever_used(&self, code: ResidentCode) -> bool;
    /// The code blocks allocated so far, as `(first, count)` of ten-digit bases.
    fn code_blocks(&self) -> Vec<(u64, u64)>;
    /// A resident's snapshot with the given history number.
    fn snapshot(&self, code: ResidentCode, number: u32) -> Option<IdentityRecordParts>;
    /// The change event that made a resident's current record.
    fn current_event(&self, code: ResidentCode) -> Option<CurrentEvent>;
    /// Whether a certificate that follows the closing event whose note has this hash was
    /// consumed here: used by a move-in (a move-out certificate's `event`) or an activation (an
    /// activation certificate's `after`), or withdrawn by the national signer.
    fn move_out_used(&self, move_out: &Hash) -> bool;
    /// Whether a move-in notice for the move-out whose note has this hash is recorded here.
    fn move_notice_recorded(&self, move_out: &Hash) -> bool;
}

/// What applying an accepted event does.
// One effect exists per event, briefly, between the decision and the write: a change's size is
// not worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Start the registry with this admin key.
    Genesis(crate::event::Genesis),
    /// Enrol an operator.
    Enrol(crate::event::Enrolment),
    /// Revoke an operator.
    Revoke(crate::event::Revocation),
    /// Add a code block to the pool.
    CodeBlock(crate::event::CodeBlock),
    /// Store the new snapshot (and, for a code change, retire the previous code).
    Change {
        /// The change.
        change: Change,
        /// The operators whose signatures authorised it.
        signers: Vec<VerifierKey>,
        /// SHA-256 of the exact signed note ([`crate::moves::note_hash`]).
        note_hash: Hash,
        /// For a move-in from another municipality, the certificate it used (opened and
        /// checked), which cannot be used here again.
        move_out: Option<MoveOutCertificate>,
        /// For a change that made a record active under a code already used, the activation
        /// certificate it used (opened and checked), which cannot be used here again.
        activation: Option<ActivationCertificate>,
    },
    /// Record a move-in notice: the move-out it names is complete.
    MoveNotice(MoveNotice),
    /// Record the withdrawal of a move-out certificate: no move-in here may use it.
    MoveWithdrawal(MoveWithdrawal),
}

/// Why an event is refused. Messages name codes and reasons, never personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The note or its text is malformed.
    #[error("malformed event: {0}")]
    Malformed(String),
    /// The event is for another municipality.
    #[error("the event is for municipality {found}, but this registry is {expected}")]
    WrongMunicipality {
        /// This registry.
        expected: MunicipalityCode,
        /// The event's.
        found: MunicipalityCode,
    },
    /// A signature required is missing or does not verify.
    #[error("not signed as required: {0}")]
    Unsigned(String),
    /// A signer is not allowed to sign this event.
    #[error("not authorised: {0}")]
    Unauthorised(String),
    /// The change needs two different operators and has fewer.
    #[error("{reason} ({label}) needs two different operators; {signed} signed")]
    SecondOperatorMissing {
        /// The reason's code.
        reason: &'static str,
        /// Its Japanese label.
        label: &'static str,
        /// How many authorised operators signed.
        signed: usize,
    },
    /// A change that needs two operators is signed by two operators neither of whom is a
    /// supervisor.
    #[error("{reason} ({label}) needs a supervisor's approval; only clerks signed")]
    SupervisorMissing {
        /// The reason's code.
        reason: &'static str,
        /// Its Japanese label.
        label: &'static str,
    },
    /// The change is not a legal transition from the current record.
    #[error("illegal change: {0}")]
    IllegalTransition(String),
    /// The code block overlaps a block already allocated here (a repeated delivery of the same
    /// block is refused this way too).
    #[error("illegal change: the code block overlaps a block already allocated here")]
    CodeBlockOverlap,
    /// A move-in notice for this move-out is already recorded.
    #[error("illegal change: a move-in notice for this move-out is already recorded")]
    NoticeRecorded,
    /// A change makes a record active under a code already used without the national signer's
    /// activation certificate.
    #[error(
        "{reason} ({label}) makes resident {resident}'s record active under a code already used: \
         it needs the national signer's activation certificate (activation), which says the code \
         is active in no town"
    )]
    ActivationMissing {
        /// The reason's code.
        reason: &'static str,
        /// Its Japanese label.
        label: &'static str,
        /// The resident code.
        resident: ResidentCode,
    },
    /// The event's time is too far from the node's clock.
    #[error("the event was signed at {event}, but it is now {now}: sign it again")]
    Stale {
        /// The event's time.
        event: Timestamp,
        /// The node's time.
        now: Timestamp,
    },
}

/// Opens, checks and decides one signed event. `now` is the node's clock at admission, or
/// `None` when replaying the log (the freshness check applies only at admission).
pub fn decide(
    note_bytes: &[u8],
    view: &dyn RegistryView,
    national: &VerifierKey,
    now: Option<Timestamp>,
) -> Result<Effect, Refusal> {
    decide_prechecked(note_bytes, view, national, now, &Prechecked::none())
}

/// [`decide`], by the same rules, with some Ed25519 signatures already verified in a batch
/// ([`Prechecked`]): which keys must have signed, and whether they may, is decided here as
/// always; only the curve arithmetic of a signature checked ahead is not repeated.
pub fn decide_prechecked(
    note_bytes: &[u8],
    view: &dyn RegistryView,
    national: &VerifierKey,
    now: Option<Timestamp>,
    prechecked: &Prechecked,
) -> Result<Effect, Refusal> {
    decide_parsed(Parsed::parse(note_bytes)?, view, national, now, prechecked)
}

/// A signed event read ahead of its decision: the note parsed, its text parsed as an event, and
/// the hash of its exact bytes. None of it depends on the registry, so a replica reads a whole
/// batch this way on every core before deciding the events one by one, in log order
/// ([`decide_parsed`]); nothing is trusted yet.
#[derive(Clone, Debug)]
pub struct Parsed {
    note: note::Note,
    event: Event,
    hash: Hash,
}

impl Parsed {
    /// Reads a signed event; a note or an event that does not parse is refused as
    /// [`Refusal::Malformed`], as [`decide`] refuses it.
    pub fn parse(note_bytes: &[u8]) -> Result<Parsed, Refusal> {
        let note = note::Note::parse(note_bytes).map_err(|e| Refusal::Malformed(e.to_string()))?;
        let event =
            Event::parse(note.text()).map_err(|e: EventError| Refusal::Malformed(e.to_string()))?;
        Ok(Parsed { note, event, hash: note_hash(note_bytes) })
    }

    /// The note, its signatures not yet verified.
    pub fn note(&self) -> &note::Note {
        &self.note
    }

    /// The event its text states, not yet decided.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// SHA-256 of the exact signed bytes ([`crate::moves::note_hash`]).
    pub fn hash(&self) -> Hash {
        self.hash
    }
}

/// [`decide_prechecked`] of an event already read with [`Parsed::parse`].
pub fn decide_parsed(
    parsed: Parsed,
    view: &dyn RegistryView,
    national: &VerifierKey,
    now: Option<Timestamp>,
    prechecked: &Prechecked,
) -> Result<Effect, Refusal> {
    let Parsed { note: parsed, event, hash } = parsed;
    if event.municipality() != view.municipality() {
        return Err(Refusal::WrongMunicipality {
            expected: view.municipality(),
            found: event.municipality(),
        });
    }
    // Changes are signed at the counter and must arrive fresh. Enrolments, revocations and
    // code blocks are signed with offline keys whose authority does not depend on time.
    if let (Event::Change(change), Some(now)) = (&event, now)
        && change.time.unix().abs_diff(now.unix()) > MAX_CLOCK_SKEW
    {
        return Err(Refusal::Stale { event: change.time, now });
    }
    match event {
        Event::Genesis(genesis) => {
            if view.admin().is_some() {
                return Err(Refusal::IllegalTransition(
                    "the registry already has its genesis".into(),
                ));
            }
            require_signature(
                &parsed,
                prechecked,
                &genesis.admin,
                "the admin key named in the genesis",
            )?;
            Ok(Effect::Genesis(genesis))
        }
        Event::Enrolment(enrolment) => {
            let admin = admin(view)?;
            require_signature(&parsed, prechecked, &admin, "the municipality's admin key")?;
            if view.operators().iter().any(|o| o.key == enrolment.operator) {
                return Err(Refusal::IllegalTransition(format!(
                    "the operator key {} is already enrolled (or was revoked): use a new key",
                    enrolment.operator
                )));
            }
            Ok(Effect::Enrol(enrolment))
        }
        Event::Revocation(revocation) => {
            let admin = admin(view)?;
            require_signature(&parsed, prechecked, &admin, "the municipality's admin key")?;
            match view.operators().iter().find(|o| o.key == revocation.operator) {
                Some(o) if !o.revoked => Ok(Effect::Revoke(revocation)),
                Some(_) => {
                    Err(Refusal::IllegalTransition("the operator is already revoked".into()))
                }
                None => Err(Refusal::IllegalTransition("no such operator is enrolled here".into())),
            }
        }
        Event::CodeBlock(block) => {
            admin(view)?;
            require_signature(&parsed, prechecked, national, "the national key")?;
            let end = block.first + block.count;
            if view
                .code_blocks()
                .iter()
                .any(|&(first, count)| block.first < first + count && first < end)
            {
                return Err(Refusal::CodeBlockOverlap);
            }
            Ok(Effect::CodeBlock(block))
        }
        Event::Change(change) => {
            admin(view)?;
            let signers = authorised_signers(parsed, prechecked, view, change.time)?;
            // The transition is judged before the number of people: a change that lacks only
            // its second person is then known to be otherwise acceptable (what a proposal
            // waiting for approval must be).
            let (move_out, activation) = check_transition(&change, view, national, now)?;
            let roles: Vec<Role> = signers.iter().map(|(_, role)| *role).collect();
            check_approval(change.reason(), &roles)?;
            let signers = signers.into_iter().map(|(key, _)| key).collect();
            Ok(Effect::Change { change, signers, note_hash: hash, move_out, activation })
        }
        Event::MoveNotice(notice) => {
            admin(view)?;
            require_signature(&parsed, prechecked, national, "the national key")?;
            check_notice(&notice, view)?;
            Ok(Effect::MoveNotice(notice))
        }
        Event::MoveWithdrawal(withdrawal) => {
            admin(view)?;
            require_signature(&parsed, prechecked, national, "the national key")?;
            if view.move_out_used(&withdrawal.event) {
                return Err(illegal(format!(
                    "the move-out certificate for resident {} (move-out event {}) was already \
                     used or withdrawn here: the move cannot be withdrawn",
                    withdrawal.resident, withdrawal.event
                )));
            }
            Ok(Effect::MoveWithdrawal(withdrawal))
        }
    }
}

fn admin(view: &dyn RegistryView) -> Result<VerifierKey, Refusal> {
    view.admin().ok_or_else(|| {
        Refusal::IllegalTransition("the registry has no genesis yet (run `juki init`)".into())
    })
}

/// The note must carry a valid signature by `key`.
fn require_signature(
    parsed: &note::Note,
    prechecked: &Prechecked,
    key: &VerifierKey,
    who: &str,
) -> Result<(), Refusal> {
    let known: Verifiers = [key.clone()].into_iter().collect();
    match note::open_parsed(parsed.clone(), &known, prechecked) {
        Ok(_) => Ok(()),
        Err(NoteError::NotSigned) => Err(Refusal::Unsigned(format!("no signature by {who}"))),
        Err(e) => Err(Refusal::Unsigned(format!("{who}: {e}"))),
    }
}

/// Whether the people who signed a change (`roles`: one entry per distinct person) are enough
/// for its reason: one operator, or — for a sensitive change (消除, death, corrections, code
/// changes, cancellations) — two different people, one of them a supervisor.
pub fn check_approval(reason: ChangeReason, roles: &[Role]) -> Result<(), Refusal> {
    if !reason.needs_two_operators() {
        return if roles.is_empty() {
            Err(Refusal::SecondOperatorMissing {
                reason: reason.code(),
                label: reason.label(),
                signed: 0,
            })
        } else {
            Ok(())
        };
    }
    if roles.len() < 2 {
        return Err(Refusal::SecondOperatorMissing {
            reason: reason.code(),
            label: reason.label(),
            signed: roles.len(),
        });
    }
    if !roles.contains(&Role::Supervisor) {
        return Err(Refusal::SupervisorMissing { reason: reason.code(), label: reason.label() });
    }
    Ok(())
}

/// The operators whose valid signatures are on the note and who may sign at `time`, one per
/// person: keys enrolled under the same name (`op.CODE.HOST/HANDLE`) are one person, however
/// many keys the admin gave them, and so is one key enrolled under several names.
fn authorised_signers(
    parsed: note::Note,
    prechecked: &Prechecked,
    view: &dyn RegistryView,
    time: Timestamp,
) -> Result<Vec<(VerifierKey, Role)>, Refusal> {
    let operators = view.operators();
    let known: Verifiers = operators.iter().map(|o| o.key.clone()).collect();
    let opened = match note::open_parsed(parsed, &known, prechecked) {
        Ok(opened) => opened,
        Err(NoteError::NotSigned) => {
            return Err(Refusal::Unsigned(
                "no signature by an operator enrolled in this municipality".into(),
            ));
        }
        Err(e) => return Err(Refusal::Unsigned(e.to_string())),
    };
    let mut signers = Vec::new();
    let mut seen = BTreeSet::new();
    let mut seen_keys = BTreeSet::new();
    for verified in opened.verified() {
        let operator =
            operators.iter().find(|o| o.key == verified.key).expect("opened with these keys");
        if operator.revoked {
            return Err(Refusal::Unauthorised(format!(
                "operator {} is revoked",
                operator.key.name()
            )));
        }
        if time < operator.enrolled {
            return Err(Refusal::Unauthorised(format!(
                "operator {} signed before being enrolled",
                operator.key.name()
            )));
        }
        let key = &operator.key;
        let person = !seen_keys.contains(key.public_key()) && !seen.contains(key.name());
        seen_keys.insert(*key.public_key());
        seen.insert(key.name().to_owned());
        if person {
            signers.push((key.clone(), operator.role));
        }
    }
    Ok(signers)
}

fn illegal(message: impl Into<String>) -> Refusal {
    Refusal::IllegalTransition(message.into())
}

/// The certificates a change used, opened and checked.
type Used = (Option<MoveOutCertificate>, Option<ActivationCertificate>);

/// The state machine: whether `change` may follow the resident's current record. Returns the
/// move-out certificate a move-in carries and the activation certificate a reactivation
/// carries, opened and checked.
fn check_transition(
    change: &Change,
    view: &dyn RegistryView,
    national: &VerifierKey,
    now: Option<Timestamp>,
) -> Result<Used, Refusal> {
    let record = &change.record;
    let reason = change.reason();
    let here = view.municipality();
    let closes = matches!(record.status, RecordStatus::Closed { .. });
    // The status the reason leads to.
    let must_close = reason.family() == ReasonFamily::Deletion;
    if closes != must_close {
        return Err(illegal(format!(
            "{} ({}) {} the record",
            reason.code(),
            reason.label(),
            if must_close { "closes" } else { "leaves open" }
        )));
    }
    if record.address.municipality() != here && !closes {
        return Err(illegal(format!(
            "a resident of {here} must have an address in {here}; the record says {}",
            record.address.municipality()
        )));
    }
    if record.latest_change.date() < record.birth_date {
        return Err(illegal("the change takes effect before the resident was born"));
    }
    match (reason == ChangeReason::MoveOut, change.moved_to) {
        (true, None) => {
            return Err(illegal("a move-out names the municipality moved to (moved-to)"));
        }
        (true, Some(to)) if to == here => {
            return Err(illegal("a move-out goes to another municipality; use move-within"));
        }
        (false, Some(_)) => return Err(illegal("only a move-out names a municipality moved to")),
        _ => {}
    }
    match (reason == ChangeReason::MoveIn, &change.move_out) {
        (true, None) => {
            return Err(illegal(
                "a move-in from another municipality (国内転入) carries the move-out certificate \
                 (move-out) the national node issued; a move-in from abroad is \
                 move-in-from-abroad",
            ));
        }
        (false, Some(_)) => {
            return Err(illegal("only a move-in (国内転入) carries a move-out certificate"));
        }
        _ => {}
    }
    let code_change = matches!(
        reason,
        ChangeReason::ResidentCodeChange | ChangeReason::ResidentCodeExOfficioEntry
    );
    if change.previous_code.is_some() != code_change {
        return Err(illegal(
            "previous-resident is given with, and only with, a resident-code change",
        ));
    }

    // The record this change follows.
    let current = match change.previous_code {
        Some(previous) => {
            let current = view
                .resident(previous)
                .ok_or_else(|| illegal("no resident has the code being replaced"))?;
            fresh_code(record.resident_code, view)?;
            Some(current)
        }
        None => view.resident(record.resident_code),
    };
    if current.is_none() && reason.family() != ReasonFamily::Entry {
        return Err(illegal(format!(
            "{} ({}) needs an existing record, and there is none",
            reason.code(),
            reason.label()
        )));
    }
    let expected_history = current.as_ref().map_or(1, |c| c.history_number.get() + 1);
    if record.history_number.get() != expected_history {
        return Err(illegal(format!(
            "the change must create history number {expected_history}, not {}: it was signed \
             against another state of the record",
            record.history_number
        )));
    }

    let allowed = match (reason.family(), &current) {
        (ReasonFamily::Entry, None) => {
            if reason.is_cancellation() {
                return Err(illegal("a cancellation needs an existing record"));
            }
            if matches!(reason, ChangeReason::MoveIn | ChangeReason::MoveInFromAbroad) {
                // A person moving in keeps the code they have; it need not come from our pool,
                // but a code retired here (replaced by a code change) is never used again.
                if view.code_ever_used(record.resident_code) {
                    return Err(illegal("the resident code was retired here and is never reused"));
                }
                Ok(())
            } else {
                fresh_code(record.resident_code, view)
            }
        }
        (ReasonFamily::Entry, Some(current)) => match current.status {
            RecordStatus::Active => Err(illegal("the resident is already registered here")),
            RecordStatus::Closed { .. } if reason.is_cancellation() => {
                if let Some(made) = view.current_event(current.resident_code)
                    && view.move_notice_recorded(&made.note_hash)
                {
                    return Err(illegal(
                        "the move-out was completed by a move-in notice (転入通知) and can no \
                         longer be cancelled here",
                    ));
                }
                same_identity(current, record, "a cancellation of a deletion")
            }
            RecordStatus::Closed { reason: closed }
                if matches!(reason, ChangeReason::MoveIn | ChangeReason::MoveInFromAbroad) =>
            {
                check_return(reason, closed, current, record)
            }
            RecordStatus::Closed { .. } => Err(illegal(
                "a closed record changes only by a cancellation (異動の取消し) or a move back in",
            )),
        },
        (_, None) => Err(illegal(format!(
            "{} ({}) needs an existing record, and there is none",
            reason.code(),
            reason.label()
        ))),
        (_, Some(current)) if !matches!(current.status, RecordStatus::Active) => {
            Err(illegal("a closed record changes only by a cancellation (異動の取消し)"))
        }
        (ReasonFamily::Deletion, Some(current))
            if reason == ChangeReason::CancellationDeletion
                && current.latest_change.reason().family() != ReasonFamily::Entry =>
        {
            Err(illegal(
                "cancellation-deletion (異動の取消し（減）) undoes an entry; the latest change is not one",
            ))
        }
        (ReasonFamily::Deletion, Some(current)) => same_identity(current, record, "a deletion"),
        (ReasonFamily::Correction, Some(current))
            if reason == ChangeReason::CancellationCorrection =>
        {
            // Undoing the latest correction brings back the snapshot before it.
            let before = current
                .history_number
                .get()
                .checked_sub(1)
                .and_then(|n| view.snapshot(current.resident_code, n))
                .ok_or_else(|| illegal("there is no earlier snapshot to return to"))?;
            if current.latest_change.reason().family() != ReasonFamily::Correction {
                return Err(illegal(
                    "cancellation-correction undoes a correction; the latest change is not one",
                ));
            }
            same_identity(&before, record, "a cancellation of a correction").map_err(|_| {
                illegal("a cancellation of a correction restores the record as it was before it")
            })
        }
        (ReasonFamily::Correction, Some(current)) => check_correction(reason, current, record),
    };
    allowed?;
    // One active record per person: a record becomes active under a code that is not fresh from
    // this town's pool only with the signer's word that the code is active nowhere. A move-in
    // has it in its move-out certificate; anything else carries an activation certificate.
    let fresh_here = current.is_none()
        && view.in_code_pool(record.resident_code)
        && !view.code_ever_used(record.resident_code);
    let needs_activation =
        reason.family() == ReasonFamily::Entry && reason != ChangeReason::MoveIn && !fresh_here;
    let activation = match (needs_activation, change.activation.as_deref()) {
        (true, None) => {
            return Err(Refusal::ActivationMissing {
                reason: reason.code(),
                label: reason.label(),
                resident: record.resident_code,
            });
        }
        (false, Some(_)) => {
            return Err(illegal(
                "only a change that makes a record active under a code already used carries an \
                 activation certificate",
            ));
        }
        (true, Some(certificate)) => {
            Some(check_activation(certificate, record, view, national, now)?)
        }
        (false, None) => None,
    };
    let move_out = change
        .move_out
        .as_deref()
        .map(|certificate| check_certificate(certificate, record, view, national, now))
        .transpose()?;
    Ok((move_out, activation))
}

/// An activation certificate: signed by the national key, for this resident here, following
/// the event that closed the record here when it names this town, at admission no older than
/// [`CERTIFICATE_VALIDITY`], and not used here before.
fn check_activation(
    certificate: &str,
    record: &IdentityRecordParts,
    view: &dyn RegistryView,
    national: &VerifierKey,
    now: Option<Timestamp>,
) -> Result<ActivationCertificate, Refusal> {
    let here = view.municipality();
    let text = open_national(certificate, national, "the activation certificate")?;
    let certificate = ActivationCertificate::parse(&text)
        .map_err(|e| Refusal::Malformed(format!("the activation certificate: {e}")))?;
    if certificate.municipality != here {
        return Err(illegal(format!(
            "the activation certificate is for {}, not {here}",
            certificate.municipality
        )));
    }
    let code = record.resident_code;
    if certificate.resident != code {
        return Err(illegal(format!(
            "the activation certificate is for resident {}, not {code}",
            certificate.resident
        )));
    }
    if certificate.from == here
        && view.current_event(code).map(|made| made.note_hash) != Some(certificate.after)
    {
        return Err(illegal(format!(
            "the activation certificate follows event {} here, but resident {code}'s record here \
             was made by another event: ask for a certificate for the record as it is",
            certificate.after
        )));
    }
    if let Some(now) = now
        && now.unix() > certificate.time.unix().saturating_add(CERTIFICATE_VALIDITY)
    {
        return Err(illegal(
            "the activation certificate is more than 30 days old: ask the national signer for a \
             new one",
        ));
    }
    if view.move_out_used(&certificate.after) {
        return Err(illegal(format!(
            "a certificate following event {} was already used here; a certificate is used once",
            certificate.after
        )));
    }
    Ok(certificate)
}

/// A person returning to a town whose record here is closed: a move-in (国内転入) follows a
/// move-out, domestic or abroad; a move-in from abroad follows a move abroad; either may enter
/// again after its own entry was cancelled (異動の取消し（減）). A record closed by death or ex
/// officio is never reopened this way (only a cancellation, with two people, undoes
/// those), and the person who returns is the one who left: same date of birth and sex.
fn check_return(
    reason: ChangeReason,
    closed: ChangeReason,
    current: &IdentityRecordParts,
    next: &IdentityRecordParts,
) -> Result<(), Refusal> {
    let may_return = closed == ChangeReason::CancellationDeletion
        || match reason {
            ChangeReason::MoveIn => {
                matches!(closed, ChangeReason::MoveOut | ChangeReason::MoveOutAbroad)
            }
            _ => closed == ChangeReason::MoveOutAbroad,
        };
    if !may_return {
        return Err(illegal(format!(
            "a record closed by {} ({}) is not reopened by {} ({})",
            closed.code(),
            closed.label(),
            reason.code(),
            reason.label()
        )));
    }
    if current.birth_date != next.birth_date || current.sex != next.sex {
        return Err(illegal(
            "a person returning keeps the date of birth and sex of the record they left",
        ));
    }
    Ok(())
}

/// A move-in's certificate: signed by the national key, for a move from elsewhere to here of
/// this resident with this identity, not before the move-in, at admission no older than
/// [`CERTIFICATE_VALIDITY`], and not used here before.
fn check_certificate(
    certificate: &str,
    record: &IdentityRecordParts,
    view: &dyn RegistryView,
    national: &VerifierKey,
    now: Option<Timestamp>,
) -> Result<MoveOutCertificate, Refusal> {
    let here = view.municipality();
    let text = open_national(certificate, national, "the move-out certificate")?;
    let certificate = MoveOutCertificate::parse(&text)
        .map_err(|e| Refusal::Malformed(format!("the move-out certificate: {e}")))?;
    if certificate.from == here {
        return Err(illegal(format!(
            "the move-out certificate is for a move out of {here} itself, not into it"
        )));
    }
    if certificate.to != here {
        return Err(illegal(format!(
            "the move-out certificate is for a move to {}, not to {here}",
            certificate.to
        )));
    }
    if certificate.resident != record.resident_code {
        return Err(illegal(format!(
            "the move-out certificate is for resident {}, not {}",
            certificate.resident, record.resident_code
        )));
    }
    let name = &record.name;
    for (field, same) in [
        ("name", certificate.name.name() == name.name()),
        ("reading", certificate.name.reading() == name.reading()),
        ("former surname", certificate.name.former() == name.former()),
        ("date of birth", certificate.birth == record.birth_date),
        ("sex", certificate.sex == record.sex),
    ] {
        if !same {
            return Err(illegal(format!(
                "the {field} differs from the move-out certificate's: a person moving in keeps \
                 the identity recorded where they moved out (correct it afterwards if needed)"
            )));
        }
    }
    if record.latest_change.date() < certificate.moved_out {
        return Err(illegal("the move-in takes effect before the move-out it follows"));
    }
    if let Some(now) = now
        && now.unix() > certificate.time.unix().saturating_add(CERTIFICATE_VALIDITY)
    {
        return Err(illegal(
            "the move-out certificate is more than 30 days old: ask the national node for a new one",
        ));
    }
    if view.move_out_used(&certificate.event) {
        return Err(illegal(format!(
            "the move-out certificate for resident {} (move-out event {}) was already used for \
             a move-in here, or withdrawn; a certificate is used once",
            certificate.resident, certificate.event
        )));
    }
    Ok(certificate)
}

/// The text of `what`, a note that must carry a valid signature by the national key.
fn open_national(note: &str, national: &VerifierKey, what: &str) -> Result<String, Refusal> {
    let known: Verifiers = [national.clone()].into_iter().collect();
    match note::open(note.as_bytes(), &known) {
        Ok(opened) => Ok(opened.text().to_owned()),
        Err(NoteError::NotSigned) => {
            Err(Refusal::Unsigned(format!("{what} has no signature by the national key")))
        }
        Err(e) => Err(Refusal::Unsigned(format!("{what}: {e}"))),
    }
}

/// A move-in notice: it names the move-out that closed the resident's current record here,
/// to the municipality the notice says, and none was recorded for it before.
fn check_notice(notice: &MoveNotice, view: &dyn RegistryView) -> Result<(), Refusal> {
    let code = notice.resident;
    let record = view
        .resident(code)
        .ok_or_else(|| illegal(format!("no resident {code} was ever recorded here")))?;
    if record.status != (RecordStatus::Closed { reason: ChangeReason::MoveOut }) {
        return Err(illegal(format!(
            "resident {code}'s record here is not closed by a move-out (国内転出); a move-in \
             notice completes a move-out"
        )));
    }
    let made = view.current_event(code).ok_or_else(|| {
        illegal(format!("the event that made resident {code}'s record is not known here"))
    })?;
    if made.moved_to != Some(notice.to) {
        return Err(illegal(format!(
            "resident {code} moved out to {}, but the notice is of a move-in at {}",
            made.moved_to.map_or_else(|| "nowhere".to_owned(), |m| m.to_string()),
            notice.to
        )));
    }
    if made.note_hash != notice.event {
        return Err(illegal(format!(
            "the notice names move-out event {}, but resident {code}'s record was closed by \
             event {}",
            notice.event, made.note_hash
        )));
    }
    if view.move_notice_recorded(&notice.event) {
        return Err(Refusal::NoticeRecorded);
    }
    Ok(())
}

/// A code for a new record: from this municipality's pool and never used here.
fn fresh_code(code: ResidentCode, view: &dyn RegistryView) -> Result<(), Refusal> {
    if !view.in_code_pool(code) {
        return Err(illegal(format!(
            "the resident code is not in a block allocated to {}",
            view.municipality()
        )));
    }
    if view.code_ever_used(code) {
        return Err(illegal("the resident code was already given to someone"));
    }
    Ok(())
}

/// The identity fields (everything but the code, status, history and change) are unchanged.
fn same_identity(
    current: &IdentityRecordParts,
    next: &IdentityRecordParts,
    what: &str,
) -> Result<(), Refusal> {
    if current.name != next.name
        || current.birth_date != next.birth_date
        || current.sex != next.sex
        || current.address != next.address
        || current.individual_number != next.individual_number
    {
        return Err(illegal(format!("{what} does not change the identity fields")));
    }
    Ok(())
}

/// Which fields each correction may change.
fn check_correction(
    reason: ChangeReason,
    current: &IdentityRecordParts,
    next: &IdentityRecordParts,
) -> Result<(), Refusal> {
    use ChangeReason as R;
    let changed = |field: &str| -> bool {
        match field {
            "name" => {
                current.name.name() != next.name.name()
                    || current.name.reading() != next.name.reading()
            }
            "former" => current.name.former() != next.name.former(),
            "birth" => current.birth_date != next.birth_date,
            "sex" => current.sex != next.sex,
            "address" => current.address != next.address,
            "individual-number" => current.individual_number != next.individual_number,
            "code" => current.resident_code != next.resident_code,
            _ => unreachable!("known fields"),
        }
    };
    let allowed: &[&str] = match reason {
        R::MoveWithin => &["address"],
        R::NameChange => &["name", "former"],
        R::FormerSurnameEntry | R::FormerSurnameChange | R::FormerSurnameDeletion => &["former"],
        R::IndividualNumberChange
        | R::IndividualNumberExOfficioCorrection
        | R::IndividualNumberExOfficioEntry => &["individual-number"],
        R::ResidentCodeChange | R::ResidentCodeExOfficioEntry => &["code"],
        R::MinorCorrection
        | R::ExOfficioCorrection
        | R::ClericalCorrection
        | R::CancellationCorrection => {
            &["name", "former", "birth", "sex", "address", "individual-number"]
        }
        other => return Err(illegal(format!("{} is not a correction", other.code()))),
    };
    for field in ["name", "former", "birth", "sex", "address", "individual-number", "code"] {
        if changed(field) && !allowed.contains(&field) {
            return Err(illegal(format!(
                "{} ({}) may not change the {field} field",
                reason.code(),
                reason.label()
            )));
        }
    }
    // Every correction changes something. A reason that may change one field alone (an
    // address, a number, a code, a former surname) must therefore change that field; a name
    // change, which may also change the former surname, must change the name itself.
    let fields = ["name", "former", "birth", "sex", "address", "individual-number", "code"];
    if !fields.iter().any(|field| changed(field)) {
        return Err(illegal(format!(
            "{} ({}) changes nothing: a correction changes a field",
            reason.code(),
            reason.label()
        )));
    }
    if reason == R::NameChange && !changed("name") {
        return Err(illegal("name-change (氏名の変更) must change the name field"));
    }
    match reason {
        R::IndividualNumberExOfficioEntry
            if current.individual_number.is_some() || next.individual_number.is_none() =>
        {
            Err(illegal("an individual number is entered ex officio where none is recorded"))
        }
        R::FormerSurnameEntry
            if current.name.former().is_some() || next.name.former().is_none() =>
        {
            Err(illegal("a former surname is entered where none is recorded"))
        }
        R::FormerSurnameDeletion if next.name.former().is_some() => {
            Err(illegal("a deletion of the former surname leaves none"))
        }
        R::FormerSurnameChange
            if current.name.former().is_none() || next.name.former().is_none() =>
        {
            Err(illegal("a change of former surname needs one before and after"))
        }
        _ => Ok(()),
    }
}
