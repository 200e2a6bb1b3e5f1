//! People, not keys: a sensitive change needs two different people, one of them a supervisor;
//! a record closed by death stays closed; a person returning is the person who left; every
//! correction changes what it exists for, from the state it needs. Each case is one edit away
//! from an accepted one.

mod common;

use registry_core::event::{Change, CodeBlock, Enrolment, Event, Genesis, Role};
use registry_core::rules::{Effect, Refusal, decide};
use registry_core::state::RegistryState;
use registry_core::time::Timestamp;
use registry_domain::{
    Address, ChangeInfo, ChangeReason, Date, HistoryNumber, IdentityRecordParts, IndividualNumber,
    MunicipalityCode, Name, NameReading, PersonName, ReasonFamily, RecordStatus, ResidentCode, Sex,
};
use tlog::note::{KeyKind, Note, Signer};

use ChangeReason as R;

const NOW: u64 = 1_795_512_600;
const FIRST: u64 = 2_040_720_000;

fn achi() -> MunicipalityCode {
    MunicipalityCode::parse("204072").unwrap()
}

fn key(name: &str, seed: u8) -> Signer {
    Signer::from_seed(name, KeyKind::Ed25519, [seed; 32]).unwrap()
}

fn national() -> Signer {
    key("national.juki.test", 1)
}

fn now() -> Timestamp {
    Timestamp::from_unix(NOW)
}

fn date(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn sign(event: &Event, signers: &[&Signer]) -> Vec<u8> {
    let mut note = Note::new(event.to_text()).unwrap();
    for signer in signers {
        note.sign(signer).unwrap();
    }
    note.to_bytes()
}

/// A town with two clerks (one of them enrolled twice, under one name), a supervisor and a
/// code block.
struct Town {
    state: RegistryState,
    tanaka: Signer,
    tanaka_again: Signer,
    sato: Signer,
    suzuki: Signer,
    next_base: u64,
}

impl Town {
    fn new() -> Town {
        let admin = key("admin.204072.juki.test", 2);
        let mut town = Town {
            state: RegistryState::new(achi()),
            tanaka: key("op.204072.juki.test/tanaka", 3),
            tanaka_again: key("op.204072.juki.test/tanaka", 5),
            sato: key("op.204072.juki.test/sato", 6),
            suzuki: key("op.204072.juki.test/suzuki", 4),
            next_base: FIRST,
        };
        let t = Timestamp::from_unix(NOW - 3600);
        let genesis =
            Event::Genesis(Genesis { municipality: achi(), admin: admin.verifier(), time: t });
        town.accept(&sign(&genesis, &[&admin]));
        for (operator, role) in [
            (town.tanaka.verifier(), Role::Clerk),
            (town.tanaka_again.verifier(), Role::Clerk),
            (town.sato.verifier(), Role::Clerk),
            (town.suzuki.verifier(), Role::Supervisor),
        ] {
            let enrol =
                Event::Enrolment(Enrolment { municipality: achi(), operator, role, time: t });
            town.accept(&sign(&enrol, &[&admin]));
        }
        let block = Event::CodeBlock(CodeBlock {
            municipality: achi(),
            first: FIRST,
            count: 1000,
            time: t,
        });
        town.accept(&sign(&block, &[&national()]));
        town
    }

    fn submit(&self, note: &[u8]) -> Result<Effect, Refusal> {
        decide(note, &self.state, &national().verifier(), Some(now()))
    }

    fn accept(&mut self, note: &[u8]) -> Effect {
        let effect = self.submit(note).unwrap_or_else(|e| panic!("refused: {e}"));
        self.state.apply(&effect);
        effect
    }

    /// Signs `change` by the clerk tanaka and the supervisor suzuki.
    fn signed(&self, change: &Change) -> Vec<u8> {
        let (change, _) = common::with_activation(&self.state, change.clone(), &national());
        sign(&Event::Change(change), &[&self.tanaka, &self.suzuki])
    }

    /// Enters a resident (職権記載) with or without an individual number.
    fn enter(&mut self, number: bool) -> IdentityRecordParts {
        self.next_base += 7;
        let record = IdentityRecordParts {
            resident_code: ResidentCode::from_ten_digits(self.next_base).unwrap(),
            name: Name::new(
                PersonName::new("熊谷 花子").unwrap(),
                NameReading::new("クマガイ ハナコ").unwrap(),
                None,
            ),
            birth_date: date("1990-04-01"),
            sex: Sex::Female,
            address: Address::new(achi(), "大字智里 1234番地").unwrap(),
            individual_number: number
                .then(|| IndividualNumber::from_eleven_digits(12_345_678_901).unwrap()),
            latest_change: ChangeInfo::new(R::ExOfficioEntry, date("2026-11-20")),
            history_number: HistoryNumber::FIRST,
            status: RecordStatus::Active,
        };
        self.accept(&self.signed(&change(record.clone())));
        record
    }

    /// Applies `reason` to `record` (edited by `edit`) and returns the new record.
    fn then(
        &mut self,
        record: &IdentityRecordParts,
        reason: ChangeReason,
        edit: impl FnOnce(&mut IdentityRecordParts),
    ) -> IdentityRecordParts {
        let next = next(record, reason, edit);
        self.accept(&self.signed(&change(next.clone())));
        next
    }

    fn illegal(&self, record: IdentityRecordParts, case: &str) {
        let result = self.submit(&self.signed(&change(record)));
        assert!(
            matches!(result, Err(Refusal::IllegalTransition(_))),
            "{case} must be refused as an illegal transition: {result:?}"
        );
    }

    fn accepted(&self, record: IdentityRecordParts, case: &str) {
        let result = self.submit(&self.signed(&change(record)));
        assert!(matches!(result, Ok(Effect::Change { .. })), "{case} must be accepted: {result:?}");
    }
}

/// The change recording `record` (a move-out goes to 松本市).
fn change(record: IdentityRecordParts) -> Change {
    let moved_to = (record.latest_change.reason() == R::MoveOut)
        .then(|| MunicipalityCode::parse("202029").unwrap());
    Change {
        municipality: achi(),
        record,
        previous_code: None,
        moved_to,
        move_out: None,
        activation: None,
        time: now(),
    }
}

/// The next snapshot of `record` for `reason`, edited by `edit`.
fn next(
    record: &IdentityRecordParts,
    reason: ChangeReason,
    edit: impl FnOnce(&mut IdentityRecordParts),
) -> IdentityRecordParts {
    let mut record = record.clone();
    record.latest_change = ChangeInfo::new(reason, date("2026-11-23"));
    record.history_number = record.history_number.next().unwrap();
    record.status = if reason.family() == ReasonFamily::Deletion {
        RecordStatus::Closed { reason }
    } else {
        RecordStatus::Active
    };
    edit(&mut record);
    record
}

#[test]
fn a_sensitive_change_needs_two_people_one_a_supervisor() {
    let mut town = Town::new();
    let resident = town.enter(true);
    let death = Event::Change(change(next(&resident, R::Death, |_| {})));
    let cases: [(&str, Vec<&Signer>, Result<(), Refusal>); 5] = [
        (
            "two clerks",
            vec![&town.tanaka, &town.sato],
            Err(Refusal::SupervisorMissing { reason: "death", label: "死亡" }),
        ),
        (
            "one person with two keys",
            vec![&town.tanaka, &town.tanaka_again],
            Err(Refusal::SecondOperatorMissing { reason: "death", label: "死亡", signed: 1 }),
        ),
        (
            "the supervisor alone",
            vec![&town.suzuki],
            Err(Refusal::SecondOperatorMissing { reason: "death", label: "死亡", signed: 1 }),
        ),
        ("a clerk and the supervisor", vec![&town.tanaka, &town.suzuki], Ok(())),
        (
            "the supervisor and a clerk with two keys",
            vec![&town.suzuki, &town.tanaka, &town.tanaka_again],
            Ok(()),
        ),
    ];
    for (case, signers, expected) in cases {
        let result = town.submit(&sign(&death, &signers)).map(|_| ());
        assert_eq!(result, expected, "{case}");
    }
    // A change for one operator is signed by any one.
    let moved = Event::Change(change(next(&resident, R::MoveWithin, |r| {
        r.address = Address::new(achi(), "大字駒場 483番地").unwrap();
    })));
    assert!(town.submit(&sign(&moved, &[&town.sato])).is_ok());
    // The people counted are the distinct names: the effect names one key per person.
    let Ok(Effect::Change { signers, .. }) =
        town.submit(&sign(&death, &[&town.tanaka, &town.tanaka_again, &town.suzuki]))
    else {
        panic!("accepted")
    };
    assert_eq!(signers, [town.tanaka.verifier(), town.suzuki.verifier()]);
}

#[test]
fn a_change_lacking_only_its_second_person_is_otherwise_acceptable() {
    // What one operator signs and proposes is judged as a change first: only a change that is
    // otherwise acceptable is refused for lack of its second person (and may wait for one).
    let mut town = Town::new();
    let resident = town.enter(true);
    let death = Event::Change(change(next(&resident, R::Death, |_| {})));
    assert_eq!(
        town.submit(&sign(&death, &[&town.tanaka])).map(|_| ()),
        Err(Refusal::SecondOperatorMissing { reason: "death", label: "死亡", signed: 1 })
    );
    // A death that leaves the record open is illegal however many people sign it, and is
    // refused as illegal.
    let moving = Event::Change(change(next(&resident, R::Death, |r| {
        r.status = RecordStatus::Active;
    })));
    assert!(
        matches!(town.submit(&sign(&moving, &[&town.tanaka])), Err(Refusal::IllegalTransition(_))),
        "an illegal change is refused as illegal, not as one lacking a second person"
    );
}

#[test]
fn a_record_closed_by_death_or_ex_officio_is_never_reopened_by_a_move_in() {
    for closing in [
        R::Death,
        R::ExOfficioDeletion,
        R::ExOfficioDeletionNaturalisation,
        R::ExOfficioDeletionNationalityLoss,
    ] {
        let mut town = Town::new();
        let resident = town.enter(true);
        let closed = town.then(&resident, closing, |_| {});
        town.illegal(
            next(&closed, R::MoveInFromAbroad, |_| {}),
            &format!("back from abroad after {closing}"),
        );
    }
    // Moved abroad: back from abroad, the same person.
    let mut town = Town::new();
    let resident = town.enter(true);
    let abroad = town.then(&resident, R::MoveOutAbroad, |_| {});
    town.accepted(next(&abroad, R::MoveInFromAbroad, |_| {}), "back from abroad");
    town.illegal(
        next(&abroad, R::MoveInFromAbroad, |r| r.birth_date = date("1991-04-01")),
        "back from abroad with another date of birth",
    );
    town.illegal(
        next(&abroad, R::MoveInFromAbroad, |r| r.sex = Sex::Male),
        "back from abroad as another sex",
    );
    // A domestic move-out is not undone by a move-in from abroad: the person lives elsewhere.
    let mut town = Town::new();
    let resident = town.enter(true);
    let left = town.then(&resident, R::MoveOut, |_| {});
    town.illegal(next(&left, R::MoveInFromAbroad, |_| {}), "from abroad after a domestic move-out");
    // After its own entry was cancelled, an entry may be made again.
    let mut town = Town::new();
    let resident = town.enter(true);
    let cancelled = town.then(&resident, R::CancellationDeletion, |_| {});
    town.accepted(
        next(&cancelled, R::MoveInFromAbroad, |_| {}),
        "entered again after a cancellation",
    );
}

#[test]
fn a_cancellation_of_an_entry_follows_an_entry() {
    let mut town = Town::new();
    let resident = town.enter(true);
    town.accepted(next(&resident, R::CancellationDeletion, |_| {}), "cancelling the entry");
    let moved = town.then(&resident, R::MoveWithin, |r| {
        r.address = Address::new(achi(), "大字駒場 483番地").unwrap();
    });
    town.illegal(next(&moved, R::CancellationDeletion, |_| {}), "cancelling a move within");
}

#[test]
fn every_correction_changes_what_it_is_for() {
    let mut town = Town::new();
    let numbered = town.enter(true);
    let unnumbered = town.enter(false);
    let other_number = |r: &mut IdentityRecordParts| {
        r.individual_number = Some(IndividualNumber::from_eleven_digits(98_765_432_104).unwrap());
    };
    for reason in [R::IndividualNumberChange, R::IndividualNumberExOfficioCorrection] {
        town.accepted(
            next(&numbered, reason, other_number),
            &format!("{reason} to another number"),
        );
        town.illegal(next(&numbered, reason, |_| {}), &format!("{reason} to the same number"));
    }
    let entry = R::IndividualNumberExOfficioEntry;
    town.accepted(next(&unnumbered, entry, other_number), "a number entered where none is");
    town.illegal(next(&numbered, entry, other_number), "a number entered over another");
    town.illegal(next(&unnumbered, entry, |_| {}), "an entry that enters nothing");
    town.illegal(
        next(&numbered, entry, |r| r.individual_number = None),
        "an entry that removes the number",
    );
    for reason in [R::MinorCorrection, R::ExOfficioCorrection, R::ClericalCorrection] {
        town.illegal(next(&numbered, reason, |_| {}), &format!("{reason} changing nothing"));
        town.accepted(
            next(&numbered, reason, |r| r.birth_date = date("1990-04-02")),
            &format!("{reason} of the date of birth"),
        );
    }
}
