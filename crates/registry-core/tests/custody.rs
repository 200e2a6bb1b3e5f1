//! One active record per person, as a property: towns whose operators sign whatever they like
//! (every change signed by a clerk and a supervisor, so only the rules stand in the way), a
//! national signer that certifies on evidence the towns' logs hold — chosen by an adversary from
//! everything in those logs — and no sequence of accepted changes makes one code active in two
//! towns, or reopens a record without a certificate the signer issued.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use registry_core::custody::{self, Certified, Shown};
use registry_core::event::{Change, CodeBlock, Enrolment, Event, Genesis, Role};
use registry_core::evidence::ProvenChange;
use registry_core::moves::{ActivationCertificate, MoveOutCertificate, MoveWithdrawal, note_hash};
use registry_core::rules::{Effect, RegistryView as _, decide};
use registry_core::state::RegistryState;
use registry_core::time::Timestamp;
use registry_domain::{
    Address, ChangeInfo, ChangeReason, Date, HistoryNumber, IdentityRecordParts, MunicipalityCode,
    Name, NameReading, PersonName, ReasonFamily, RecordStatus, ResidentCode, Sex,
};
use tlog::note::{KeyKind, Note, Signer};

const NOW: u64 = 1_795_512_600; // 2026-11-24T09:30:00Z
const TOWNS: [&str; 3] = ["204072", "202029", "203611"];

fn key(name: &str, seed: u8) -> Signer {
    Signer::from_seed(name, KeyKind::Ed25519, [seed; 32]).unwrap()
}

fn national() -> Signer {
    key("national.juki.test", 1)
}

fn now() -> Timestamp {
    Timestamp::from_unix(NOW)
}

fn sign(text: &str, signers: &[&Signer]) -> Vec<u8> {
    let mut note = Note::new(text).unwrap();
    for signer in signers {
        note.sign(signer).unwrap();
    }
    note.to_bytes()
}

fn first_base(town: usize) -> u64 {
    1_000_000_000 * (town as u64 + 1)
}

/// A town whose two operators sign anything asked of them.
struct Town {
    code: MunicipalityCode,
    state: RegistryState,
    clerk: Signer,
    supervisor: Signer,
    /// Every change accepted, as evidence would prove it.
    changes: Vec<ProvenChange>,
    /// Every withdrawal recorded.
    withdrawals: Vec<MoveWithdrawal>,
    next_base: u64,
    size: u64,
}

impl Town {
    fn new(i: usize) -> Town {
        let code = MunicipalityCode::parse(TOWNS[i]).unwrap();
        let seed = 10 * (i as u8 + 1);
        let admin = key(&format!("admin.{code}.juki.test"), seed);
        let mut town = Town {
            code,
            state: RegistryState::new(code),
            clerk: key(&format!("op.{code}.juki.test/tanaka"), seed + 1),
            supervisor: key(&format!("op.{code}.juki.test/suzuki"), seed + 2),
            changes: Vec::new(),
            withdrawals: Vec::new(),
            next_base: first_base(i),
            size: 0,
        };
        let t = Timestamp::from_unix(NOW - 60);
        let genesis =
            Event::Genesis(Genesis { municipality: code, admin: admin.verifier(), time: t });
        town.submit(&sign(&genesis.to_text(), &[&admin])).unwrap();
        for (operator, role) in
            [(town.clerk.verifier(), Role::Clerk), (town.supervisor.verifier(), Role::Supervisor)]
        {
            let enrol = Event::Enrolment(Enrolment { municipality: code, operator, role, time: t });
            town.submit(&sign(&enrol.to_text(), &[&admin])).unwrap();
        }
        let block = Event::CodeBlock(CodeBlock {
            municipality: code,
            first: first_base(i),
            count: 1000,
            time: t,
        });
        town.submit(&sign(&block.to_text(), &[&national()])).unwrap();
        town
    }

    /// Decides a signed event by the rules and applies it when accepted.
    fn submit(&mut self, note: &[u8]) -> Option<Effect> {
        let effect = decide(note, &self.state, &national().verifier(), Some(now())).ok()?;
        self.state.apply(&effect);
        match &effect {
            Effect::Change { change, signers, .. } => self.changes.push(ProvenChange {
                index: self.size,
                change: change.clone(),
                note: note.to_vec(),
                checkpoint_size: self.size + 1,
                signers: signers.iter().map(|k| (k.clone(), Role::Clerk)).collect(),
            }),
            Effect::MoveWithdrawal(w) => self.withdrawals.push(w.clone()),
            _ => {}
        }
        self.size += 1;
        Some(effect)
    }

    fn change(&mut self, change: Change) -> Option<Effect> {
        let note = sign(&Event::Change(change).to_text(), &[&self.clerk, &self.supervisor]);
        self.submit(&note)
    }

    /// The next snapshot of `record` here for `reason`.
    fn next(&self, record: &IdentityRecordParts, reason: ChangeReason) -> Change {
        let mut record = record.clone();
        record.latest_change = ChangeInfo::new(reason, date());
        record.history_number = record.history_number.next().unwrap();
        record.status = if reason.family() == ReasonFamily::Deletion {
            RecordStatus::Closed { reason }
        } else {
            RecordStatus::Active
        };
        record.address = Address::new(self.code, "1番地").unwrap();
        change(self.code, record)
    }

    /// A record of `code` entering here for `reason`, after `known` if the person was known.
    fn entry(&self, code: ResidentCode, reason: ChangeReason) -> Change {
        let record = match self.state.resident(code) {
            Some(current) => {
                let mut next = self.next(&current, reason).record;
                next.status = RecordStatus::Active;
                next
            }
            None => IdentityRecordParts {
                resident_code: code,
                name: Name::new(
                    PersonName::new("熊谷 花子").unwrap(),
                    NameReading::new("クマガイ ハナコ").unwrap(),
                    None,
                ),
                birth_date: Date::parse("1990-04-01").unwrap(),
                sex: Sex::Female,
                address: Address::new(self.code, "1番地").unwrap(),
                individual_number: None,
                latest_change: ChangeInfo::new(reason, date()),
                history_number: HistoryNumber::FIRST,
                status: RecordStatus::Active,
            },
        };
        change(self.code, record)
    }
}

fn date() -> Date {
    Date::parse("2026-11-24").unwrap()
}

fn change(municipality: MunicipalityCode, record: IdentityRecordParts) -> Change {
    Change {
        municipality,
        record,
        previous_code: None,
        moved_to: None,
        move_out: None,
        activation: None,
        time: now(),
    }
}

/// The national signer: it certifies only what [`custody::released`] allows.
#[derive(Default)]
struct NationalSigner {
    last: BTreeMap<ResidentCode, Certified>,
    /// Every certificate it signed: move-out certificates and activation certificates.
    issued: BTreeSet<String>,
}

impl NationalSigner {
    fn owner(code: ResidentCode) -> Option<MunicipalityCode> {
        let base = code.ten_digits();
        (0..TOWNS.len())
            .find(|&i| base >= first_base(i) && base < first_base(i) + 1000)
            .map(|i| MunicipalityCode::parse(TOWNS[i]).unwrap())
    }

    fn move_out(&mut self, closed: &ProvenChange, opened: Option<&ProvenChange>) -> Option<String> {
        let code = closed.change.record.resident_code;
        let event = note_hash(&closed.note);
        let again = matches!(self.last.get(&code), Some(Certified::MovedOut { event: e, .. }) if *e == event);
        if !again {
            let shown = Shown { closed, opened, withdrawal: None };
            custody::released(
                self.last.get(&code),
                Self::owner(code),
                &shown,
                &national().verifier(),
            )
            .ok()?;
        }
        let certificate =
            MoveOutCertificate::from_move_out(&closed.note, &closed.change, now()).ok()?;
        self.last.insert(code, Certified::move_out(&certificate));
        let signed = String::from_utf8(sign(&certificate.to_text(), &[&national()])).unwrap();
        self.issued.insert(signed.clone());
        Some(signed)
    }

    fn activation(&mut self, town: MunicipalityCode, shown: &Shown<'_>) -> Option<String> {
        let code = shown.closed.change.record.resident_code;
        let released = custody::released(
            self.last.get(&code),
            Self::owner(code),
            shown,
            &national().verifier(),
        )
        .ok()?;
        let certificate = ActivationCertificate {
            municipality: town,
            resident: code,
            from: released.from,
            after: released.after,
            time: now(),
        };
        self.last.insert(code, Certified::activation(&certificate));
        let signed = String::from_utf8(sign(&certificate.to_text(), &[&national()])).unwrap();
        self.issued.insert(signed.clone());
        Some(signed)
    }

    fn withdrawal(&self, code: ResidentCode) -> Option<(MunicipalityCode, Vec<u8>)> {
        let Some(Certified::MovedOut { from, to, event }) = self.last.get(&code) else {
            return None;
        };
        let withdrawal = MoveWithdrawal {
            municipality: *to,
            resident: code,
            from: *from,
            event: *event,
            time: now(),
        };
        Some((*to, sign(&Event::MoveWithdrawal(withdrawal).to_text(), &[&national()])))
    }
}

#[derive(Clone, Debug)]
enum Step {
    Birth {
        town: usize,
    },
    Close {
        town: usize,
        pick: usize,
        how: usize,
    },
    CertifyMove {
        town: usize,
        closed: usize,
        opened: Option<usize>,
    },
    MoveIn {
        town: usize,
        certificate: usize,
    },
    Activate {
        target: usize,
        town: usize,
        closed: usize,
        opened: Option<usize>,
        withdrawal: Option<(usize, usize)>,
    },
    Reopen {
        town: usize,
        code: usize,
        certificate: Option<usize>,
        from_abroad: bool,
    },
    Withdraw {
        code: usize,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let town = 0..TOWNS.len();
    let pick = 0..64usize;
    prop_oneof![
        town.clone().prop_map(|town| Step::Birth { town }),
        (town.clone(), pick.clone(), 0..4usize).prop_map(|(town, pick, how)| Step::Close {
            town,
            pick,
            how
        }),
        (town.clone(), pick.clone(), proptest::option::of(pick.clone()))
            .prop_map(|(town, closed, opened)| Step::CertifyMove { town, closed, opened }),
        (town.clone(), pick.clone())
            .prop_map(|(town, certificate)| Step::MoveIn { town, certificate }),
        (
            town.clone(),
            town.clone(),
            pick.clone(),
            proptest::option::of(pick.clone()),
            proptest::option::of((town.clone(), pick.clone()))
        )
            .prop_map(|(target, town, closed, opened, withdrawal)| Step::Activate {
                target,
                town,
                closed,
                opened,
                withdrawal
            }),
        (town.clone(), pick.clone(), proptest::option::of(pick.clone()), any::<bool>()).prop_map(
            |(town, code, certificate, from_abroad)| Step::Reopen {
                town,
                code,
                certificate,
                from_abroad
            }
        ),
        pick.prop_map(|code| Step::Withdraw { code }),
    ]
}

fn nth<T>(items: &[T], i: usize) -> Option<&T> {
    if items.is_empty() { None } else { items.get(i % items.len()) }
}

struct World {
    towns: Vec<Town>,
    signer: NationalSigner,
    /// Every code ever given.
    codes: Vec<ResidentCode>,
    /// Every certificate the signer issued, in order, for the towns to present.
    certificates: Vec<String>,
}

impl World {
    fn run(&mut self, step: &Step) {
        match *step {
            Step::Birth { town } => {
                let t = &mut self.towns[town];
                t.next_base += 1;
                let code = ResidentCode::from_ten_digits(t.next_base).unwrap();
                let birth = t.entry(code, ChangeReason::Birth);
                if t.change(birth).is_some() {
                    self.codes.push(code);
                }
            }
            Step::Close { town, pick, how } => {
                let Some(&code) = nth(&self.codes, pick) else { return };
                let t = &mut self.towns[town];
                let Some(current) = t.state.resident(code) else { return };
                let reason = [
                    ChangeReason::MoveOut,
                    ChangeReason::MoveOutAbroad,
                    ChangeReason::Death,
                    ChangeReason::MoveOut,
                ][how];
                let mut closing = t.next(&current, reason);
                if reason == ChangeReason::MoveOut {
                    let to = (town + 1 + how / 3) % TOWNS.len();
                    closing.moved_to = Some(MunicipalityCode::parse(TOWNS[to]).unwrap());
                }
                t.change(closing);
            }
            Step::CertifyMove { town, closed, opened } => {
                let t = &self.towns[town];
                let Some(closed) = nth(&t.changes, closed) else { return };
                let opened = opened.and_then(|o| nth(&t.changes, o));
                if let Some(c) = self.signer.move_out(closed, opened) {
                    self.certificates.push(c);
                }
            }
            Step::MoveIn { town, certificate } => {
                let Some(signed) = nth(&self.certificates, certificate).cloned() else { return };
                let Ok(opened) = Note::parse(signed.as_bytes()) else { return };
                let Ok(c) = MoveOutCertificate::parse(opened.text()) else { return };
                let t = &mut self.towns[town];
                let mut move_in = t.entry(c.resident, ChangeReason::MoveIn);
                move_in.record.name = c.name.clone();
                move_in.record.birth_date = c.birth;
                move_in.record.sex = c.sex;
                move_in.move_out = Some(signed);
                t.change(move_in);
            }
            Step::Activate { target, town, closed, opened, withdrawal } => {
                let t = &self.towns[town];
                let Some(closed) = nth(&t.changes, closed) else { return };
                let opened = opened.and_then(|o| nth(&t.changes, o));
                let withdrawal = withdrawal.and_then(|(w, i)| nth(&self.towns[w].withdrawals, i));
                let shown = Shown { closed, opened, withdrawal };
                let target = self.towns[target].code;
                if let Some(c) = self.signer.activation(target, &shown) {
                    self.certificates.push(c);
                }
            }
            Step::Reopen { town, code, certificate, from_abroad } => {
                let Some(&code) = nth(&self.codes, code) else { return };
                let t = &mut self.towns[town];
                let reason = match t.state.resident(code) {
                    Some(_) if !from_abroad => ChangeReason::CancellationEntry,
                    _ => ChangeReason::MoveInFromAbroad,
                };
                let mut entry = t.entry(code, reason);
                entry.activation = certificate.and_then(|c| nth(&self.certificates, c)).cloned();
                t.change(entry);
            }
            Step::Withdraw { code } => {
                let Some(&code) = nth(&self.codes, code) else { return };
                if let Some((to, note)) = self.signer.withdrawal(code) {
                    let i = TOWNS.iter().position(|t| *t == to.to_string()).unwrap();
                    self.towns[i].submit(&note);
                }
            }
        }
    }

    /// No code is active in two towns, and every record that became active under a code not
    /// fresh in its town carried a certificate the signer issued.
    fn check(&self) -> Result<(), TestCaseError> {
        for code in &self.codes {
            let active: Vec<_> = self
                .towns
                .iter()
                .filter(|t| {
                    t.state.resident(*code).is_some_and(|r| r.status == RecordStatus::Active)
                })
                .map(|t| t.code)
                .collect();
            prop_assert!(active.len() <= 1, "resident {code} is active in {active:?}");
        }
        for town in &self.towns {
            for proven in &town.changes {
                let change = &proven.change;
                let certificate = change.move_out.as_ref().or(change.activation.as_ref());
                let fresh = change.reason() == ChangeReason::Birth;
                if change.reason().family() == ReasonFamily::Entry && !fresh {
                    prop_assert!(
                        certificate.is_some_and(|c| self.signer.issued.contains(c)),
                        "{} at {} without a certificate the signer issued",
                        change.reason().code(),
                        town.code
                    );
                }
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_code_is_ever_active_in_two_towns(steps in proptest::collection::vec(step(), 1..80)) {
        let mut world = World {
            towns: (0..TOWNS.len()).map(Town::new).collect(),
            signer: NationalSigner::default(),
            codes: Vec::new(),
            certificates: Vec::new(),
        };
        for step in &steps {
            world.run(step);
            world.check()?;
        }
    }
}

fn status(world: &World, town: usize, code: ResidentCode) -> Option<RecordStatus> {
    world.towns[town].state.resident(code).map(|r| r.status)
}

/// The property's steps reach what they are for: moves, reopenings and withdrawals happen.
#[test]
fn the_steps_reach_moves_reopenings_and_withdrawals() {
    let mut world = World {
        towns: (0..TOWNS.len()).map(Town::new).collect(),
        signer: NationalSigner::default(),
        codes: Vec::new(),
        certificates: Vec::new(),
    };
    // Born in town 0, moved to town 1 (certified, moved in), moved out abroad there, back from
    // abroad in town 2 with an activation certificate.
    for step in [
        Step::Birth { town: 0 },
        Step::Close { town: 0, pick: 0, how: 0 },
        Step::CertifyMove { town: 0, closed: 1, opened: None },
        Step::MoveIn { town: 1, certificate: 0 },
        Step::Close { town: 1, pick: 0, how: 1 },
        Step::Activate { target: 2, town: 1, closed: 1, opened: Some(0), withdrawal: None },
        Step::Reopen { town: 2, code: 0, certificate: Some(1), from_abroad: true },
    ] {
        world.run(&step);
        world.check().unwrap();
    }
    let code = world.codes[0];
    assert_eq!(status(&world, 2, code), Some(RecordStatus::Active));
    // A second activation for the same closure is refused: the record is active in town 2.
    let shown = Shown {
        closed: &world.towns[1].changes[1],
        opened: Some(&world.towns[1].changes[0]),
        withdrawal: None,
    };
    assert!(world.signer.activation(world.towns[0].code, &shown).is_none());

    // Moved out of town 2 to town 0, certified; the move is withdrawn at town 0 before the
    // move-in, and the move-out is cancelled at town 2.
    for step in [
        Step::Close { town: 2, pick: 0, how: 0 },
        Step::CertifyMove { town: 2, closed: 1, opened: Some(0) },
        Step::Withdraw { code: 0 },
        Step::Activate { target: 2, town: 2, closed: 1, opened: None, withdrawal: Some((0, 0)) },
        Step::Reopen { town: 2, code: 0, certificate: Some(3), from_abroad: false },
        // The withdrawn certificate no longer moves anyone into town 0.
        Step::MoveIn { town: 0, certificate: 2 },
    ] {
        world.run(&step);
        world.check().unwrap();
    }
    assert_eq!(world.certificates.len(), 4);
    assert_eq!(world.towns[0].withdrawals.len(), 1);
    assert_eq!(status(&world, 2, code), Some(RecordStatus::Active));
    assert_eq!(
        world.towns[2].changes.last().unwrap().change.reason(),
        ChangeReason::CancellationEntry
    );
    assert!(matches!(status(&world, 0, code), Some(RecordStatus::Closed { .. })));
}
