//! The registry's rules, fed signed events in memory: a day in a town, and every refusal —
//! illegal transitions, missing or wrong signatures, revoked or foreign operators, a missing
//! second operator — each leaving the state unchanged.

mod common;

use registry_core::event::{Change, CodeBlock, Enrolment, Event, Genesis, Revocation, Role};
use registry_core::rules::{Effect, Refusal, RegistryView as _, decide};
use registry_core::state::RegistryState;
use registry_core::time::Timestamp;
use registry_domain::{
    Address, ChangeInfo, ChangeReason, Date, HistoryNumber, IdentityRecordParts, MunicipalityCode,
    Name, NameReading, PersonName, RecordStatus, ResidentCode, Sex,
};
use tlog::note::{KeyKind, Note, Signer};

const NOW: u64 = 1_795_512_600; // 2026-11-24T09:30:00Z

fn achi() -> MunicipalityCode {
    MunicipalityCode::parse("204072").unwrap()
}

fn key(name: &str, seed: u8) -> Signer {
    Signer::from_seed(name, KeyKind::Ed25519, [seed; 32]).unwrap()
}

fn national() -> Signer {
    key("national.juki.test", 1)
}
fn admin() -> Signer {
    key("admin.204072.juki.test", 2)
}
fn clerk() -> Signer {
    key("op.204072.juki.test/tanaka", 3)
}
fn supervisor() -> Signer {
    key("op.204072.juki.test/suzuki", 4)
}
fn second_clerk() -> Signer {
    key("op.204072.juki.test/sato", 5)
}

fn sign(event: &Event, signers: &[&Signer]) -> Vec<u8> {
    let mut note = Note::new(event.to_text()).unwrap();
    for signer in signers {
        note.sign(signer).unwrap();
    }
    note.to_bytes()
}

/// A town with its admin, three operators, a national key and a code block.
struct Town {
    state: RegistryState,
    national: Signer,
    admin: Signer,
    clerk: Signer,
    supervisor: Signer,
    second_clerk: Signer,
    next_base: u64,
}

impl Town {
    fn new() -> Town {
        let mut town = Town {
            state: RegistryState::new(achi()),
            national: key("national.juki.test", 1),
            admin: key("admin.204072.juki.test", 2),
            clerk: key("op.204072.juki.test/tanaka", 3),
            supervisor: key("op.204072.juki.test/suzuki", 4),
            second_clerk: key("op.204072.juki.test/sato", 5),
            next_base: 2_040_720_000,
        };
        let t = Timestamp::from_unix(NOW - 60);
        let genesis =
            Event::Genesis(Genesis { municipality: achi(), admin: town.admin.verifier(), time: t });
        town.accept(&sign(&genesis, &[&admin()]));
        for (op, role) in [
            (town.clerk.verifier(), Role::Clerk),
            (town.supervisor.verifier(), Role::Supervisor),
            (town.second_clerk.verifier(), Role::Clerk),
        ] {
            let enrol =
                Event::Enrolment(Enrolment { municipality: achi(), operator: op, role, time: t });
            town.accept(&sign(&enrol, &[&admin()]));
        }
        let block = Event::CodeBlock(CodeBlock {
            municipality: achi(),
            first: 2_040_720_000,
            count: 1000,
            time: t,
        });
        town.accept(&sign(&block, &[&national()]));
        town
    }

    fn submit(&self, note: &[u8]) -> Result<Effect, Refusal> {
        decide(note, &self.state, &self.national.verifier(), Some(Timestamp::from_unix(NOW)))
    }

    fn accept(&mut self, note: &[u8]) -> Effect {
        let effect = self.submit(note).unwrap_or_else(|e| panic!("refused: {e}"));
        self.state.apply(&effect);
        effect
    }

    /// Submits a note that must be refused, and checks the state did not change.
    fn refuse(&self, note: &[u8]) -> Refusal {
        let before = self.state.clone();
        let refusal = self.submit(note).expect_err("must be refused");
        assert_eq!(self.state, before);
        refusal
    }

    fn new_code(&mut self) -> ResidentCode {
        self.next_base += 7;
        ResidentCode::from_ten_digits(self.next_base).unwrap()
    }
}

fn date(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn newborn(code: ResidentCode, born: &str) -> IdentityRecordParts {
    IdentityRecordParts {
        resident_code: code,
        name: Name::new(
            PersonName::new("熊谷 花子").unwrap(),
            NameReading::new("クマガイ ハナコ").unwrap(),
            None,
        ),
        birth_date: date(born),
        sex: Sex::from_code(2).unwrap(),
        address: Address::new(achi(), "大字智里 1234番地").unwrap(),
        individual_number: None,
        latest_change: ChangeInfo::new(ChangeReason::Birth, date(born)),
        history_number: HistoryNumber::new(1).unwrap(),
        status: RecordStatus::Active,
    }
}

/// The next snapshot of `record` for `reason` on `effective`, as a change event.
fn next(record: &IdentityRecordParts, reason: ChangeReason, effective: &str) -> Change {
    let mut record = record.clone();
    record.latest_change = ChangeInfo::new(reason, date(effective));
    record.history_number = record.history_number.next().unwrap();
    record.status = if reason.family() == registry_domain::ReasonFamily::Deletion {
        RecordStatus::Closed { reason }
    } else {
        RecordStatus::Active
    };
    Change {
        municipality: achi(),
        record,
        previous_code: None,
        moved_to: None,
        move_out: None,
        activation: None,
        time: Timestamp::from_unix(NOW),
    }
}

fn change(c: Change) -> Event {
    Event::Change(c)
}

#[test]
fn events_round_trip_through_their_text() {
    let town = Town::new();
    let code = ResidentCode::from_ten_digits(2_040_720_001).unwrap();
    let mut record = newborn(code, "2026-11-20");
    record.name = Name::new(
        PersonName::new("山田 太郎").unwrap(),
        NameReading::new("ヤマダ タロウ").unwrap(),
        Some(registry_domain::FormerSurname::new(
            PersonName::new("佐藤").unwrap(),
            NameReading::new("サトウ").unwrap(),
        )),
    );
    let event = change(Change {
        municipality: achi(),
        record,
        previous_code: None,
        moved_to: None,
        move_out: None,
        activation: None,
        time: Timestamp::from_unix(NOW),
    });
    let text = event.to_text();
    assert!(text.starts_with("juki.change/v1\nmunicipality 204072\n"), "{text}");
    assert_eq!(Event::parse(&text).unwrap(), event);
    // A name keeps the code points it was registered with: the compatibility ideograph
    // 神 U+FA19 and a decomposed ガ survive the text, and differ from 神 U+795E and ガ.
    for (written, other) in [("\u{FA19}田 一", "\u{795E}田 一"), ("カ\u{3099}ク 一", "ガク 一")]
    {
        let Event::Change(mut c) = event.clone() else { unreachable!() };
        c.record.name =
            Name::new(PersonName::new(written).unwrap(), c.record.name.reading().clone(), None);
        let parsed = Event::parse(&Event::Change(c.clone()).to_text()).unwrap();
        let Event::Change(parsed) = parsed else { unreachable!() };
        assert_eq!(parsed.record.name.name().as_str(), written);
        assert_ne!(parsed.record.name.name(), &PersonName::new(other).unwrap());
    }
    let enrol = Event::Enrolment(Enrolment {
        municipality: achi(),
        operator: town.clerk.verifier(),
        role: Role::Clerk,
        time: Timestamp::from_unix(NOW),
    });
    assert_eq!(Event::parse(&enrol.to_text()).unwrap(), enrol);
    // Non-canonical spellings are refused, so the signed bytes are the only encoding.
    for (from, to) in [
        ("municipality 204072", "municipality 204072 "),
        ("history 1", "history 01"),
        ("effective 2026-11-20", "effective 2026-11-20T00:00:00Z"),
        ("sex 2", "sex 女"),
    ] {
        let edited = text.replacen(from, to, 1);
        assert_ne!(edited, text, "{from:?} is in the event");
        assert!(Event::parse(&edited).is_err(), "{to:?} must be refused");
    }
}

#[test]
fn a_day_in_the_town() {
    let mut town = Town::new();
    let (clerk, supervisor, second) = (clerk(), supervisor(), second_clerk());

    // A birth, signed by one clerk.
    let code = town.new_code();
    let birth = newborn(code, "2026-11-20");
    town.accept(&sign(
        &change(Change {
            municipality: achi(),
            record: birth.clone(),
            previous_code: None,
            moved_to: None,
            move_out: None,
            activation: None,
            time: Timestamp::from_unix(NOW),
        }),
        &[&clerk],
    ));

    // A move within the town: only the address changes.
    let mut moved = next(&birth, ChangeReason::MoveWithin, "2026-11-22");
    moved.record.address = Address::new(achi(), "大字駒場 5番地").unwrap();
    town.accept(&sign(&change(moved.clone()), &[&clerk]));

    // A name change needs two operators.
    let mut renamed = next(&moved.record, ChangeReason::NameChange, "2026-11-23");
    renamed.record.name = Name::new(
        PersonName::new("熊谷 花").unwrap(),
        NameReading::new("クマガイ ハナ").unwrap(),
        None,
    );
    let refusal = town.refuse(&sign(&change(renamed.clone()), &[&clerk]));
    assert!(matches!(refusal, Refusal::SecondOperatorMissing { signed: 1, .. }), "{refusal}");
    let refusal = town.refuse(&sign(&change(renamed.clone()), &[&clerk, &clerk]));
    assert!(
        matches!(refusal, Refusal::SecondOperatorMissing { signed: 1, .. }),
        "the same operator twice is one"
    );
    town.accept(&sign(&change(renamed.clone()), &[&clerk, &supervisor]));

    // A move out closes the record; nothing but a cancellation changes it after that.
    let mut out = next(&renamed.record, ChangeReason::MoveOut, "2026-11-24");
    out.moved_to = Some(MunicipalityCode::parse("202029").unwrap());
    // Two clerks are two people, but a sensitive change needs a supervisor among them.
    assert!(matches!(
        town.refuse(&sign(&change(out.clone()), &[&clerk, &second])),
        Refusal::SupervisorMissing { reason: "move-out", .. }
    ));
    town.accept(&sign(&change(out.clone()), &[&second, &supervisor]));
    let mut late = next(&out.record, ChangeReason::MoveWithin, "2026-11-24");
    late.record.status = RecordStatus::Active;
    late.record.address = Address::new(achi(), "大字駒場 6番地").unwrap();
    let refusal = town.refuse(&sign(&change(late), &[&clerk]));
    assert!(refusal.to_string().contains("closed record"), "{refusal}");

    // The move out was a mistake: a cancellation (two operators) reopens it, with the national
    // signer's activation certificate that the code is active nowhere.
    let reopened = next(&out.record, ChangeReason::CancellationEntry, "2026-11-24");
    assert!(matches!(
        town.refuse(&sign(&change(reopened.clone()), &[&clerk, &supervisor])),
        Refusal::ActivationMissing { reason: "cancellation-entry", .. }
    ));
    let (reopened, _) = common::with_activation(&town.state, reopened, &national());
    town.accept(&sign(&Event::Change(reopened.clone()), &[&clerk, &supervisor]));
    let current = town.state.resident(code).unwrap();
    assert!(matches!(current.status, RecordStatus::Active));
    assert_eq!(current.history_number.get(), 5);

    // A resident-code change: a fresh code from the pool, the history moves with it.
    let new_code = town.new_code();
    let mut recoded = next(&reopened.record, ChangeReason::ResidentCodeChange, "2026-11-24");
    recoded.record.resident_code = new_code;
    recoded.previous_code = Some(code);
    town.accept(&sign(&change(recoded.clone()), &[&clerk, &supervisor]));
    assert!(town.state.resident(code).is_none());
    assert_eq!(town.state.history(new_code).unwrap().len(), 6);

    // A death closes it, with two operators.
    let died = next(&recoded.record, ChangeReason::Death, "2026-11-24");
    town.accept(&sign(&change(died), &[&supervisor, &second]));
    assert!(!town.state.resident(new_code).unwrap().status.eq(&RecordStatus::Active));
}

#[test]
fn illegal_transitions_are_refused() {
    let mut town = Town::new();
    let clerk = clerk();
    let supervisor = supervisor();
    let code = town.new_code();
    let birth = newborn(code, "2026-11-20");
    let born = Change {
        municipality: achi(),
        record: birth.clone(),
        previous_code: None,
        moved_to: None,
        move_out: None,
        activation: None,
        time: Timestamp::from_unix(NOW),
    };
    town.accept(&sign(&change(born.clone()), &[&clerk]));

    // The same birth again (a replay): already registered / wrong history number.
    let refusal = town.refuse(&sign(&change(born.clone()), &[&clerk]));
    assert!(matches!(refusal, Refusal::IllegalTransition(_)), "{refusal}");
    // A code outside the pool; a code already used.
    let outside = ResidentCode::from_ten_digits(1_111_111_111).unwrap();
    let refusal = town.refuse(&sign(
        &change(Change { record: newborn(outside, "2026-11-20"), ..born.clone() }),
        &[&clerk],
    ));
    assert!(refusal.to_string().contains("not in a block"), "{refusal}");
    // A correction of someone who does not exist.
    let ghost = town.new_code();
    let refusal = town.refuse(&sign(
        &change(next(&newborn(ghost, "2026-11-20"), ChangeReason::MoveWithin, "2026-11-21")),
        &[&clerk],
    ));
    assert!(refusal.to_string().contains("needs an existing record"), "{refusal}");
    // A move within that changes the name too.
    let mut sneaky = next(&birth, ChangeReason::MoveWithin, "2026-11-21");
    sneaky.record.address = Address::new(achi(), "大字駒場 7番地").unwrap();
    sneaky.record.name = Name::new(
        PersonName::new("別人 太郎").unwrap(),
        NameReading::new("ベツジン タロウ").unwrap(),
        None,
    );
    let refusal = town.refuse(&sign(&change(sneaky), &[&clerk]));
    assert!(refusal.to_string().contains("may not change the name"), "{refusal}");
    // A move within to another town's address.
    let mut away = next(&birth, ChangeReason::MoveWithin, "2026-11-21");
    away.record.address =
        Address::new(MunicipalityCode::parse("202029").unwrap(), "中央1丁目").unwrap();
    let refusal = town.refuse(&sign(&change(away), &[&clerk]));
    assert!(refusal.to_string().contains("must have an address in 204072"), "{refusal}");
    // A death that leaves the record open; a move out with no destination.
    let mut undead = next(&birth, ChangeReason::Death, "2026-11-21");
    undead.record.status = RecordStatus::Active;
    let refusal = town.refuse(&sign(&change(undead), &[&clerk, &supervisor]));
    assert!(refusal.to_string().contains("closes"), "{refusal}");
    let nowhere = next(&birth, ChangeReason::MoveOut, "2026-11-21");
    let refusal = town.refuse(&sign(&change(nowhere), &[&clerk, &supervisor]));
    assert!(refusal.to_string().contains("moved-to"), "{refusal}");
    // A change signed against an older state (stale history number).
    let mut stale = next(&birth, ChangeReason::MoveWithin, "2026-11-21");
    stale.record.address = Address::new(achi(), "大字駒場 8番地").unwrap();
    town.accept(&sign(&change(stale.clone()), &[&clerk]));
    let refusal = town.refuse(&sign(&change(stale), &[&clerk]));
    assert!(refusal.to_string().contains("history number 3"), "{refusal}");
}

#[test]
fn signatures_and_authority_are_enforced() {
    let mut town = Town::new();
    let (clerk, supervisor) = (clerk(), supervisor());
    let code = town.new_code();
    let born = change(Change {
        municipality: achi(),
        record: newborn(code, "2026-11-20"),
        previous_code: None,
        moved_to: None,
        move_out: None,
        activation: None,
        time: Timestamp::from_unix(NOW),
    });

    // Unsigned, signed by a stranger, signed by another town's operator.
    let unsigned = Note::new(born.to_text()).unwrap();
    assert!(
        Note::parse(&unsigned.to_bytes()).is_err() || town.submit(&unsigned.to_bytes()).is_err()
    );
    let stranger = key("op.204072.juki.test/stranger", 9);
    assert!(matches!(town.refuse(&sign(&born, &[&stranger])), Refusal::Unsigned(_)));
    let foreign = key("op.202029.juki.test/ito", 10);
    assert!(matches!(town.refuse(&sign(&born, &[&foreign])), Refusal::Unsigned(_)));
    // A signature that does not verify: the text changed after signing.
    let signed = sign(&born, &[&clerk]);
    let tampered = String::from_utf8(signed.clone()).unwrap().replacen("熊谷", "熊野", 1);
    assert!(matches!(town.refuse(tampered.as_bytes()), Refusal::Unsigned(_)));
    // Another municipality's event.
    let other = Event::Change(Change {
        municipality: MunicipalityCode::parse("203611").unwrap(),
        record: newborn(code, "2026-11-20"),
        previous_code: None,
        moved_to: None,
        move_out: None,
        activation: None,
        time: Timestamp::from_unix(NOW),
    });
    assert!(matches!(town.refuse(&sign(&other, &[&clerk])), Refusal::WrongMunicipality { .. }));
    // Signed long ago (a backdated or replayed note).
    let old = change(Change {
        time: Timestamp::from_unix(NOW - 7200),
        ..match &born {
            Event::Change(c) => c.clone(),
            _ => unreachable!(),
        }
    });
    assert!(matches!(town.refuse(&sign(&old, &[&clerk])), Refusal::Stale { .. }));
    // Enrolment by anyone but the admin; code blocks by anyone but the national key.
    let enrol = Event::Enrolment(Enrolment {
        municipality: achi(),
        operator: stranger.verifier(),
        role: Role::Clerk,
        time: Timestamp::from_unix(NOW),
    });
    assert!(matches!(town.refuse(&sign(&enrol, &[&clerk])), Refusal::Unsigned(_)));
    let block = Event::CodeBlock(CodeBlock {
        municipality: achi(),
        first: 1,
        count: 10,
        time: Timestamp::from_unix(NOW),
    });
    assert!(matches!(town.refuse(&sign(&block, &[&admin()])), Refusal::Unsigned(_)));

    // A revoked operator can sign nothing more, whatever time the event claims.
    let admin = admin();
    let revoke = Event::Revocation(Revocation {
        municipality: achi(),
        operator: clerk.verifier(),
        time: Timestamp::from_unix(NOW),
    });
    town.accept(&sign(&revoke, &[&admin]));
    let refusal = town.refuse(&sign(&born, &[&clerk]));
    assert!(refusal.to_string().contains("revoked"), "{refusal}");
    // Even beside a valid signature.
    let refusal = town.refuse(&sign(&born, &[&supervisor, &clerk]));
    assert!(refusal.to_string().contains("revoked"), "{refusal}");
    town.accept(&sign(&born, &[&supervisor]));
    // Revoking twice, or a second genesis, is refused.
    assert!(matches!(town.refuse(&sign(&revoke, &[&admin])), Refusal::IllegalTransition(_)));
    let genesis = Event::Genesis(Genesis {
        municipality: achi(),
        admin: stranger.verifier(),
        time: Timestamp::from_unix(NOW),
    });
    assert!(matches!(town.refuse(&sign(&genesis, &[&stranger])), Refusal::IllegalTransition(_)));
}

#[test]
fn blocks_retired_codes_and_cancellations_follow_the_log() {
    let mut town = Town::new();
    let (clerk, supervisor) = (clerk(), supervisor());
    // An overlapping block is refused; a block signed offline long ago is not stale.
    let overlap = Event::CodeBlock(CodeBlock {
        municipality: achi(),
        first: 2_040_720_500,
        count: 1000,
        time: Timestamp::from_unix(NOW - 86_400),
    });
    let refusal = town.refuse(&sign(&overlap, &[&national()]));
    assert!(refusal.to_string().contains("overlaps"), "{refusal}");
    let later = Event::CodeBlock(CodeBlock {
        municipality: achi(),
        first: 2_040_730_000,
        count: 1000,
        time: Timestamp::from_unix(NOW - 86_400),
    });
    town.accept(&sign(&later, &[&national()]));

    // A code retired by a code change is never used again, not even by a move-in.
    let code = town.new_code();
    let birth = newborn(code, "2026-11-20");
    town.accept(&sign(
        &change(Change {
            municipality: achi(),
            record: birth.clone(),
            previous_code: None,
            moved_to: None,
            move_out: None,
            activation: None,
            time: Timestamp::from_unix(NOW),
        }),
        &[&clerk],
    ));
    let mut recoded = next(&birth, ChangeReason::ResidentCodeChange, "2026-11-21");
    recoded.record.resident_code = town.new_code();
    recoded.previous_code = Some(code);
    town.accept(&sign(&change(recoded.clone()), &[&clerk, &supervisor]));
    let mut returning = newborn(code, "1990-01-01");
    returning.latest_change = ChangeInfo::new(ChangeReason::MoveInFromAbroad, date("2026-11-22"));
    let refusal = town.refuse(&sign(
        &change(Change {
            municipality: achi(),
            record: returning,
            previous_code: None,
            moved_to: None,
            move_out: None,
            activation: None,
            time: Timestamp::from_unix(NOW),
        }),
        &[&clerk],
    ));
    assert!(refusal.to_string().contains("retired"), "{refusal}");

    // A cancellation of a correction restores the record as it was, and nothing else.
    let mut corrected = next(&recoded.record, ChangeReason::ClericalCorrection, "2026-11-22");
    corrected.record.sex = Sex::from_code(1).unwrap();
    town.accept(&sign(&change(corrected.clone()), &[&clerk, &supervisor]));
    let mut wrong = next(&corrected.record, ChangeReason::CancellationCorrection, "2026-11-23");
    wrong.record.address = Address::new(achi(), "大字駒場 9番地").unwrap();
    let refusal = town.refuse(&sign(&change(wrong), &[&clerk, &supervisor]));
    assert!(refusal.to_string().contains("restores the record"), "{refusal}");
    let mut undo = next(&corrected.record, ChangeReason::CancellationCorrection, "2026-11-23");
    undo.record.sex = recoded.record.sex;
    town.accept(&sign(&change(undo), &[&clerk, &supervisor]));
}
