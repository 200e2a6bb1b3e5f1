//! A registry's whole state in memory, built by applying accepted events in log order.
//!
//! This is what the log says the registry is. The store keeps the same state in indexed tables
//! for lookups; `juki registry verify` rebuilds this from the log and compares the two.

use std::collections::{BTreeMap, BTreeSet};

use registry_domain::{IdentityRecordParts, MunicipalityCode, ResidentCode};
use tlog::Hash;
use tlog::note::VerifierKey;

use crate::moves::MoveNotice;
use crate::rules::{CurrentEvent, Effect, Operator, RegistryView};

/// A certificate consumed here: whose it was, and the town of the closing event it follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Consumed {
    /// The resident.
    pub resident: ResidentCode,
    /// The town whose closing event (a move-out, or the record's last closure) it follows.
    pub from: MunicipalityCode,
}

/// The state of one municipality's registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryState {
    municipality: MunicipalityCode,
    admin: Option<VerifierKey>,
    operators: Vec<Operator>,
    /// Every snapshot of every record, oldest first, by the code it was recorded under.
    histories: BTreeMap<ResidentCode, Vec<IdentityRecordParts>>,
    /// Codes replaced by a resident-code change.
    retired: BTreeSet<ResidentCode>,
    /// Allocated blocks of ten-digit bases, `(first, count)`.
    blocks: Vec<(u64, u64)>,
    /// The event that made each current record.
    made: BTreeMap<ResidentCode, CurrentEvent>,
    /// The certificates consumed here (used by a move-in or an activation, or withdrawn), by
    /// the hash of the closing event they follow.
    move_ins: BTreeMap<Hash, Consumed>,
    /// The move-in notices recorded here, by the hash of the move-out they complete.
    move_notices: BTreeMap<Hash, MoveNotice>,
}

impl RegistryState {
    /// An empty registry for a municipality.
    pub fn new(municipality: MunicipalityCode) -> RegistryState {
        RegistryState {
            municipality,
            admin: None,
            operators: Vec::new(),
            histories: BTreeMap::new(),
            retired: BTreeSet::new(),
            blocks: Vec::new(),
            made: BTreeMap::new(),
            move_ins: BTreeMap::new(),
            move_notices: BTreeMap::new(),
        }
    }

    /// Applies an accepted event.
    pub fn apply(&mut self, effect: &Effect) {
        match effect {
            Effect::Genesis(genesis) => self.admin = Some(genesis.admin.clone()),
            Effect::Enrol(enrolment) => self.operators.push(Operator {
                key: enrolment.operator.clone(),
                role: enrolment.role,
                enrolled: enrolment.time,
                revoked: false,
            }),
            Effect::Revoke(revocation) => {
                for operator in &mut self.operators {
                    if operator.key == revocation.operator {
                        operator.revoked = true;
                    }
                }
            }
            Effect::CodeBlock(block) => self.blocks.push((block.first, block.count)),
            Effect::Change { change, note_hash, move_out, activation, .. } => {
                let code = change.record.resident_code;
                if let Some(certificate) = move_out {
                    let consumed = Consumed { resident: code, from: certificate.from };
                    self.move_ins.insert(certificate.event, consumed);
                }
                if let Some(certificate) = activation {
                    let consumed = Consumed { resident: code, from: certificate.from };
                    self.move_ins.insert(certificate.after, consumed);
                }
                if let Some(previous) = change.previous_code {
                    self.made.remove(&previous);
                }
                self.made.insert(
                    code,
                    CurrentEvent { note_hash: *note_hash, moved_to: change.moved_to },
                );
                if let Some(previous) = change.previous_code {
                    // The history moves to the new code; the old code is retired for good.
                    let mut history = self.histories.remove(&previous).unwrap_or_default();
                    history.push(change.record.clone());
                    self.histories.insert(change.record.resident_code, history);
                    self.retired.insert(previous);
                } else {
                    self.histories
                        .entry(change.record.resident_code)
                        .or_default()
                        .push(change.record.clone());
                }
            }
            Effect::MoveNotice(notice) => {
                self.move_notices.insert(notice.event, notice.clone());
            }
            Effect::MoveWithdrawal(withdrawal) => {
                let consumed = Consumed { resident: withdrawal.resident, from: withdrawal.from };
                self.move_ins.insert(withdrawal.event, consumed);
            }
        }
    }

    /// Every current record, by resident code.
    pub fn current(&self) -> impl Iterator<Item = &IdentityRecordParts> {
        self.histories.values().filter_map(|h| h.last())
    }

    /// A resident's snapshots, oldest first.
    pub fn history(&self, code: ResidentCode) -> Option<&[IdentityRecordParts]> {
        self.histories.get(&code).map(Vec::as_slice)
    }

    /// The allocated code blocks.
    pub fn blocks(&self) -> &[(u64, u64)] {
        &self.blocks
    }

    /// The codes retired by resident-code changes.
    pub fn retired(&self) -> &BTreeSet<ResidentCode> {
        &self.retired
    }

    /// The certificates consumed here, by the hash of the closing event each follows.
    pub fn move_ins(&self) -> &BTreeMap<Hash, Consumed> {
        &self.move_ins
    }

    /// The move-in notices recorded here, by the hash of the move-out each completes.
    pub fn move_notices(&self) -> &BTreeMap<Hash, MoveNotice> {
        &self.move_notices
    }
}

impl RegistryView for RegistryState {
    fn municipality(&self) -> MunicipalityCode {
        self.municipality
    }

    fn admin(&self) -> Option<VerifierKey> {
        self.admin.clone()
    }

    fn operators(&self) -> Vec<Operator> {
        self.operators.clone()
    }

    fn resident(&self, code: ResidentCode) -> Option<IdentityRecordParts> {
        self.histories.get(&code).and_then(|h| h.last()).cloned()
    }

    fn in_code_pool(&self, code: ResidentCode) -> bool {
        let base = code.ten_digits();
        self.blocks.iter().any(|&(first, count)| base >= first && base < first + count)
    }

    fn code_ever_used(&self, code: ResidentCode) -> bool {
        self.histories.contains_key(&code) || self.retired.contains(&code)
    }

    fn code_blocks(&self) -> Vec<(u64, u64)> {
        self.blocks.clone()
    }

    fn snapshot(&self, code: ResidentCode, number: u32) -> Option<IdentityRecordParts> {
        self.histories.get(&code)?.iter().find(|r| r.history_number.get() == number).cloned()
    }

    fn current_event(&self, code: ResidentCode) -> Option<CurrentEvent> {
        self.made.get(&code).copied()
    }

    fn move_out_used(&self, move_out: &Hash) -> bool {
        self.move_ins.contains_key(move_out)
    }

    fn move_notice_recorded(&self, move_out: &Hash) -> bool {
        self.move_notices.contains_key(move_out)
    }
}
