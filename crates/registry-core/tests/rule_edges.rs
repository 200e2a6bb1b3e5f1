//! The rules at their edges: every boundary met exactly (a change signed on the second of the
//! freshness window or of the operator's enrolment, a code block that touches another), and
//! every field a rule compares changed on its own. Each refused case is one edit away from an
//! accepted one, so a rule that is weakened lets a case through and a rule that is tightened
//! refuses one; accepted cases are checked for their exact effect, refused ones for the exact
//! kind of refusal.

mod common;

use registry_core::event::{Change, CodeBlock, Enrolment, Event, Genesis, Role};
use registry_core::moves::note_hash;
use registry_core::rules::{Effect, Refusal, decide};
use registry_core::state::RegistryState;
use registry_core::time::Timestamp;
use registry_domain::{
    Address, ChangeInfo, ChangeReason, Date, FormerSurname, HistoryNumber, IdentityRecordParts,
    IndividualNumber, MunicipalityCode, Name, NameReading, PersonName, ReasonFamily, RecordStatus,
    ResidentCode, Sex,
};
use tlog::note::{KeyKind, Note, Signer};

use ChangeReason as R;
use Field as F;

const NOW: u64 = 1_795_512_600; // 2026-11-24T09:30:00Z
/// When the town's operators were enrolled: an hour before `NOW`.
const ENROLLED: u64 = NOW - 3600;
/// The town's code block: `FIRST..FIRST + 1000`.
const FIRST: u64 = 2_040_720_000;

fn achi() -> MunicipalityCode {
    MunicipalityCode::parse("204072").unwrap()
}

fn matsumoto() -> MunicipalityCode {
    MunicipalityCode::parse("202029").unwrap()
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

/// A town with its admin, a clerk and a supervisor enrolled an hour ago, and one code block.
struct Town {
    state: RegistryState,
    admin: Signer,
    clerk: Signer,
    supervisor: Signer,
    next_base: u64,
}

impl Town {
    fn new() -> Town {
        let mut town = Town {
            state: RegistryState::new(achi()),
            admin: key("admin.204072.juki.test", 2),
            clerk: key("op.204072.juki.test/tanaka", 3),
            supervisor: key("op.204072.juki.test/suzuki", 4),
            next_base: FIRST,
        };
        let t = Timestamp::from_unix(ENROLLED);
        let genesis =
            Event::Genesis(Genesis { municipality: achi(), admin: town.admin.verifier(), time: t });
        town.accept(&sign(&genesis, &[&town.admin]));
        for (operator, role) in
            [(town.clerk.verifier(), Role::Clerk), (town.supervisor.verifier(), Role::Supervisor)]
        {
            let enrol =
                Event::Enrolment(Enrolment { municipality: achi(), operator, role, time: t });
            town.accept(&sign(&enrol, &[&town.admin]));
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

    /// Decides a note at `NOW` without applying it.
    fn submit(&self, note: &[u8]) -> Result<Effect, Refusal> {
        decide(note, &self.state, &national().verifier(), Some(now()))
    }

    fn accept(&mut self, note: &[u8]) -> Effect {
        let effect = self.submit(note).unwrap_or_else(|e| panic!("refused: {e}"));
        self.state.apply(&effect);
        effect
    }

    fn new_code(&mut self) -> ResidentCode {
        self.next_base += 7;
        ResidentCode::from_ten_digits(self.next_base).unwrap()
    }

    /// Signs a change by the clerk and the supervisor.
    fn signed(&self, change: &Change) -> Vec<u8> {
        let (change, _) = common::with_activation(&self.state, change.clone(), &national());
        sign(&Event::Change(change), &[&self.clerk, &self.supervisor])
    }

    /// Submits `change` signed by both operators, and checks it is accepted with exactly the
    /// effect it should have.
    fn assert_accepted(&self, change: &Change, case: &str) {
        let note = self.signed(change);
        let (change, activation) =
            common::with_activation(&self.state, change.clone(), &national());
        let expected = Effect::Change {
            change,
            signers: vec![self.clerk.verifier(), self.supervisor.verifier()],
            note_hash: note_hash(&note),
            move_out: None,
            activation,
        };
        assert_eq!(self.submit(&note), Ok(expected), "{case} must be accepted");
    }

    /// Submits `change` signed by both operators, and checks it is refused as an illegal
    /// transition.
    fn assert_illegal(&self, change: &Change, case: &str) {
        let result = self.submit(&self.signed(change));
        assert!(
            matches!(result, Err(Refusal::IllegalTransition(_))),
            "{case} must be refused as an illegal transition: {result:?}"
        );
    }

    /// Enters a new resident (職権記載) and returns the record.
    fn enter(&mut self, former: bool) -> IdentityRecordParts {
        let record = resident(self.new_code(), former);
        let entry = Change {
            municipality: achi(),
            record: record.clone(),
            previous_code: None,
            moved_to: None,
            move_out: None,
            activation: None,
            time: now(),
        };
        self.accept(&self.signed(&entry));
        record
    }
}

fn former_surname(name: &str, reading: &str) -> FormerSurname {
    FormerSurname::new(PersonName::new(name).unwrap(), NameReading::new(reading).unwrap())
}

/// An adult entered by the mayor's authority, with an individual number and, if `former`, a
/// former surname.
fn resident(code: ResidentCode, former: bool) -> IdentityRecordParts {
    IdentityRecordParts {
        resident_code: code,
        name: Name::new(
            PersonName::new("熊谷 花子").unwrap(),
            NameReading::new("クマガイ ハナコ").unwrap(),
            former.then(|| former_surname("原", "ハラ")),
        ),
        birth_date: date("1990-04-01"),
        sex: Sex::Female,
        address: Address::new(achi(), "大字智里 1234番地").unwrap(),
        individual_number: Some(IndividualNumber::from_eleven_digits(12_345_678_901).unwrap()),
        latest_change: ChangeInfo::new(R::ExOfficioEntry, date("2026-11-20")),
        history_number: HistoryNumber::FIRST,
        status: RecordStatus::Active,
    }
}

/// The next snapshot of `record` for `reason` on `effective`, as a change event signed now.
fn next(record: &IdentityRecordParts, reason: ChangeReason, effective: &str) -> Change {
    let mut record = record.clone();
    record.latest_change = ChangeInfo::new(reason, date(effective));
    record.history_number = record.history_number.next().unwrap();
    record.status = if reason.family() == ReasonFamily::Deletion {
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
        time: now(),
    }
}

/// One field of a record changed on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    /// The name (氏名), not its reading.
    Name,
    /// The reading of the name, not the name.
    Reading,
    /// A former surname (旧氏) where none was recorded.
    FormerAdded,
    /// The recorded former surname replaced by another.
    FormerReplaced,
    /// The recorded former surname removed.
    FormerRemoved,
    Birth,
    Sex,
    /// Another address in the town.
    Address,
    /// Another individual number (個人番号).
    Number,
    /// A fresh resident code, replacing the current one.
    Code,
}

/// Every field a change can touch.
const FIELDS: [Field; 10] = [
    F::Name,
    F::Reading,
    F::FormerAdded,
    F::FormerReplaced,
    F::FormerRemoved,
    F::Birth,
    F::Sex,
    F::Address,
    F::Number,
    F::Code,
];
/// The identity fields of a record with a former surname, each of which can change alone.
const IDENTITY: [Field; 8] = [
    F::Name,
    F::Reading,
    F::FormerReplaced,
    F::FormerRemoved,
    F::Birth,
    F::Sex,
    F::Address,
    F::Number,
];

impl Field {
    fn is_former(self) -> bool {
        matches!(self, F::FormerAdded | F::FormerReplaced | F::FormerRemoved)
    }

    /// Changes this field of `change`'s record; a code change takes `fresh`.
    fn apply(self, change: &mut Change, fresh: ResidentCode) {
        let record = &mut change.record;
        let name = &record.name;
        match self {
            F::Name => {
                record.name = Name::new(
                    PersonName::new("熊谷 花").unwrap(),
                    name.reading().clone(),
                    name.former().cloned(),
                )
            }
            F::Reading => {
                record.name = Name::new(
                    name.name().clone(),
                    NameReading::new("クマタニ ハナコ").unwrap(),
                    name.former().cloned(),
                )
            }
            F::FormerAdded | F::FormerReplaced => {
                assert_eq!(name.former().is_some(), self == F::FormerReplaced, "{self:?}");
                record.name = Name::new(
                    name.name().clone(),
                    name.reading().clone(),
                    Some(former_surname("森", "モリ")),
                )
            }
            F::FormerRemoved => {
                assert!(name.former().is_some(), "{self:?}");
                record.name = Name::new(name.name().clone(), name.reading().clone(), None)
            }
            F::Birth => record.birth_date = date("1990-04-02"),
            F::Sex => record.sex = if record.sex == Sex::Female { Sex::Male } else { Sex::Female },
            F::Address => record.address = Address::new(achi(), "大字駒場 5番地").unwrap(),
            F::Number => {
                record.individual_number =
                    Some(IndividualNumber::from_eleven_digits(98_765_432_109).unwrap())
            }
            F::Code => {
                change.previous_code = Some(record.resident_code);
                record.resident_code = fresh;
            }
        }
    }
}

#[test]
fn a_change_is_fresh_to_the_second_of_the_window() {
    let mut town = Town::new();
    let code = town.new_code();
    let entry_at = |offset: i64| Change {
        municipality: achi(),
        record: resident(code, false),
        previous_code: None,
        moved_to: None,
        move_out: None,
        activation: None,
        time: Timestamp::from_unix(NOW.checked_add_signed(offset).unwrap()),
    };
    for (offset, fresh) in [(-601, false), (-600, true), (600, true), (601, false)] {
        let change = entry_at(offset);
        let note = sign(&Event::Change(change.clone()), &[&town.clerk]);
        let accepted = Effect::Change {
            change: change.clone(),
            signers: vec![town.clerk.verifier()],
            note_hash: note_hash(&note),
            move_out: None,
            activation: None,
        };
        let expected = if fresh {
            Ok(accepted.clone())
        } else {
            Err(Refusal::Stale { event: change.time, now: now() })
        };
        assert_eq!(town.submit(&note), expected, "signed {offset}s from now");
        // On replay the window does not apply.
        assert_eq!(decide(&note, &town.state, &national().verifier(), None), Ok(accepted));
    }
}

#[test]
fn an_operator_signs_from_the_second_of_enrolment() {
    let mut town = Town::new();
    let sato = key("op.204072.juki.test/sato", 5);
    let enrolled = Timestamp::from_unix(NOW - 300);
    let enrolment = Enrolment {
        municipality: achi(),
        operator: sato.verifier(),
        role: Role::Clerk,
        time: enrolled,
    };
    let note = sign(&Event::Enrolment(enrolment.clone()), &[&town.admin]);
    assert_eq!(town.accept(&note), Effect::Enrol(enrolment));
    let code = town.new_code();
    let entry_at = |time: u64| {
        Event::Change(Change {
            municipality: achi(),
            record: resident(code, false),
            previous_code: None,
            moved_to: None,
            move_out: None,
            activation: None,
            time: Timestamp::from_unix(time),
        })
    };

    let at_enrolment = entry_at(enrolled.unix());
    let note = sign(&at_enrolment, &[&sato]);
    let Event::Change(change) = at_enrolment else { unreachable!() };
    let expected = Effect::Change {
        change,
        signers: vec![sato.verifier()],
        note_hash: note_hash(&note),
        move_out: None,
        activation: None,
    };
    assert_eq!(town.submit(&note), Ok(expected));

    // A second earlier, alone or beside an operator who may sign then.
    let before = entry_at(enrolled.unix() - 1);
    for signers in [vec![&sato], vec![&town.clerk, &sato]] {
        let result = town.submit(&sign(&before, &signers));
        assert!(matches!(result, Err(Refusal::Unauthorised(_))), "{result:?}");
    }
    // The operators enrolled earlier may sign at that second.
    let note = sign(&before, &[&town.clerk]);
    let Event::Change(change) = before else { unreachable!() };
    let expected = Effect::Change {
        change,
        signers: vec![town.clerk.verifier()],
        note_hash: note_hash(&note),
        move_out: None,
        activation: None,
    };
    assert_eq!(town.submit(&note), Ok(expected));
}

#[test]
fn code_blocks_may_touch_but_not_overlap() {
    let town = Town::new();
    let cases = [
        (FIRST - 1000, 1000, true),  // ends where the block begins
        (FIRST + 1000, 1000, true),  // begins where the block ends
        (FIRST - 1000, 1001, false), // its last code is the block's first
        (FIRST + 999, 1000, false),  // its first code is the block's last
        (FIRST + 100, 10, false),    // inside the block
        (FIRST - 1000, 3000, false), // around the block
        (FIRST, 1000, false),        // the same block again
    ];
    for (first, count, accepted) in cases {
        let block = CodeBlock { municipality: achi(), first, count, time: now() };
        let note = sign(&Event::CodeBlock(block.clone()), &[&national()]);
        let expected =
            if accepted { Ok(Effect::CodeBlock(block)) } else { Err(Refusal::CodeBlockOverlap) };
        assert_eq!(town.submit(&note), expected, "{first} + {count}");
    }
}

#[test]
fn only_a_move_out_names_a_municipality_moved_to_and_never_this_one() {
    let mut town = Town::new();
    let record = town.enter(false);
    let cases = [
        (R::MoveOut, Some(matsumoto()), true),
        (R::MoveOut, Some(achi()), false),
        (R::MoveOut, None, false),
        (R::MoveOutAbroad, None, true),
        (R::MoveOutAbroad, Some(matsumoto()), false),
        (R::Death, Some(matsumoto()), false),
        (R::MoveWithin, Some(matsumoto()), false),
    ];
    for (reason, moved_to, accepted) in cases {
        let mut change = next(&record, reason, "2026-11-23");
        if reason == R::MoveWithin {
            F::Address.apply(&mut change, record.resident_code);
        }
        change.moved_to = moved_to;
        let case = format!("{reason} to {moved_to:?}");
        if accepted {
            town.assert_accepted(&change, &case);
        } else {
            town.assert_illegal(&change, &case);
        }
    }
    // The move within, without a municipality moved to.
    let mut within = next(&record, R::MoveWithin, "2026-11-23");
    F::Address.apply(&mut within, record.resident_code);
    town.assert_accepted(&within, "a move within");
}

#[test]
fn a_closed_record_reopens_only_by_a_cancellation_or_a_move_back_in() {
    let mut town = Town::new();
    let record = town.enter(false);
    let abroad = next(&record, R::MoveOutAbroad, "2026-11-21");
    town.accept(&town.signed(&abroad));
    // Every entry but a move-in (国内転入, which carries a certificate: see tests/moves.rs).
    let cases = [
        (R::Birth, false),
        (R::ExOfficioEntry, false),
        (R::ExOfficioEntryNaturalisation, false),
        (R::ExOfficioEntryNationalityLoss, false),
        (R::CancellationEntry, true),
        (R::MoveInFromAbroad, true),
    ];
    for (reason, accepted) in cases {
        // The same person at the same address: only the reason decides.
        let change = next(&abroad.record, reason, "2026-11-23");
        if accepted {
            town.assert_accepted(&change, reason.code());
        } else {
            town.assert_illegal(&change, reason.code());
        }
    }
    // Back from abroad at a new address.
    let mut back = next(&abroad.record, R::MoveInFromAbroad, "2026-11-23");
    F::Address.apply(&mut back, record.resident_code);
    town.assert_accepted(&back, "a move back in at a new address");
    // Nor does a correction reopen it.
    let mut corrected = next(&abroad.record, R::ExOfficioCorrection, "2026-11-23");
    F::Address.apply(&mut corrected, record.resident_code);
    town.assert_illegal(&corrected, "a correction of a closed record");
}

#[test]
fn deletions_and_cancellations_keep_every_identity_field() {
    let mut town = Town::new();
    // A deletion of an active record.
    let active = town.enter(true);
    let death = next(&active, R::Death, "2026-11-23");
    // A cancellation of a deletion.
    let moved = town.enter(true);
    let abroad = next(&moved, R::MoveOutAbroad, "2026-11-21");
    town.accept(&town.signed(&abroad));
    let reopen = next(&abroad.record, R::CancellationEntry, "2026-11-23");
    // A cancellation of a correction: the record as it was before it.
    let corrected = town.enter(true);
    let mut clerical = next(&corrected, R::ClericalCorrection, "2026-11-21");
    F::Sex.apply(&mut clerical, corrected.resident_code);
    town.accept(&town.signed(&clerical));
    let mut undo = next(&clerical.record, R::CancellationCorrection, "2026-11-23");
    undo.record.sex = corrected.sex;

    for (what, change) in
        [("a death", death), ("a cancellation-entry", reopen), ("a cancellation-correction", undo)]
    {
        town.assert_accepted(&change, what);
        for field in IDENTITY {
            let mut edited = change.clone();
            field.apply(&mut edited, change.record.resident_code);
            town.assert_illegal(&edited, &format!("{what} that changes the {field:?}"));
        }
    }
}

/// For each correction: the change it is for, made in every case, and the fields it may change
/// beside it. Any other field changed beside it is refused.
const CORRECTIONS: [(ChangeReason, &[Field], &[Field]); 12] = [
    (R::MoveWithin, &[F::Address], &[]),
    (R::NameChange, &[F::Name], &[F::Reading, F::FormerAdded, F::FormerReplaced, F::FormerRemoved]),
    (R::FormerSurnameEntry, &[F::FormerAdded], &[]),
    (R::FormerSurnameChange, &[F::FormerReplaced], &[]),
    (R::FormerSurnameDeletion, &[F::FormerRemoved], &[]),
    (R::IndividualNumberChange, &[F::Number], &[]),
    (R::IndividualNumberExOfficioCorrection, &[F::Number], &[]),
    (R::ResidentCodeChange, &[F::Code], &[]),
    (R::ResidentCodeExOfficioEntry, &[F::Code], &[]),
    (R::MinorCorrection, &[], &IDENTITY_AND_FORMER),
    (R::ExOfficioCorrection, &[], &IDENTITY_AND_FORMER),
    (R::ClericalCorrection, &[], &IDENTITY_AND_FORMER),
];
/// Every field but the resident code.
const IDENTITY_AND_FORMER: [Field; 9] = [
    F::Name,
    F::Reading,
    F::FormerAdded,
    F::FormerReplaced,
    F::FormerRemoved,
    F::Birth,
    F::Sex,
    F::Address,
    F::Number,
];

/// Whether the record before the change has a former surname.
#[derive(Clone, Copy, Debug)]
enum Before {
    Former,
    NoFormer,
}

/// Submits `reason` changing `fields` of a resident's record, and checks the outcome.
fn check_correction(
    town: &Town,
    residents: (&IdentityRecordParts, &IdentityRecordParts),
    fresh: ResidentCode,
    (reason, before, fields, accepted): (ChangeReason, Before, &[Field], bool),
) {
    let record = match before {
        Before::Former => residents.0,
        Before::NoFormer => residents.1,
    };
    let mut change = next(record, reason, "2026-11-23");
    for field in fields {
        field.apply(&mut change, fresh);
    }
    let case = format!("{reason} changing {fields:?} of a record with {before:?}");
    if accepted {
        town.assert_accepted(&change, &case);
    } else {
        town.assert_illegal(&change, &case);
    }
}

#[test]
fn each_correction_changes_its_own_fields_and_no_other() {
    let mut town = Town::new();
    let with_former = town.enter(true);
    let without_former = town.enter(false);
    let residents = (&with_former, &without_former);
    let fresh = town.new_code();
    let before = |fields: &[Field]| {
        if fields.contains(&F::FormerAdded) { Before::NoFormer } else { Before::Former }
    };
    for (reason, made, may_also) in CORRECTIONS {
        if !made.is_empty() {
            check_correction(&town, residents, fresh, (reason, before(made), made, true));
        }
        for field in FIELDS {
            if made.contains(&field) || (field.is_former() && made.iter().any(|f| f.is_former())) {
                continue;
            }
            let fields = [made, &[field]].concat();
            let accepted = may_also.contains(&field);
            check_correction(&town, residents, fresh, (reason, before(&fields), &fields, accepted));
        }
    }
}

#[test]
fn a_correction_makes_the_change_it_is_for_from_the_state_it_needs() {
    let mut town = Town::new();
    let with_former = town.enter(true);
    let without_former = town.enter(false);
    let fresh = town.new_code();
    use Before::{Former, NoFormer};
    let cases: [(ChangeReason, Before, &[Field], bool); 14] = [
        // Nothing changed.
        (R::MoveWithin, NoFormer, &[], false),
        (R::NameChange, NoFormer, &[], false),
        (R::FormerSurnameEntry, NoFormer, &[], false),
        (R::FormerSurnameChange, Former, &[], false),
        (R::FormerSurnameDeletion, NoFormer, &[], false),
        // The name is the name and its reading; a former surname alone is not a name change.
        (R::NameChange, NoFormer, &[F::Reading], true),
        (R::NameChange, Former, &[F::FormerReplaced], false),
        (R::NameChange, NoFormer, &[F::FormerAdded], false),
        // A former surname is entered where none is, changed or deleted where one is.
        (R::FormerSurnameEntry, Former, &[F::FormerReplaced], false),
        (R::FormerSurnameEntry, Former, &[F::FormerRemoved], false),
        (R::FormerSurnameChange, NoFormer, &[F::FormerAdded], false),
        (R::FormerSurnameChange, Former, &[F::FormerRemoved], false),
        (R::FormerSurnameDeletion, NoFormer, &[F::FormerAdded], false),
        (R::FormerSurnameDeletion, Former, &[F::FormerReplaced], false),
    ];
    for case in cases {
        check_correction(&town, (&with_former, &without_former), fresh, case);
    }
}
