//! `custody::released`, case by case: each thing the evidence must show, broken alone, and the
//! refusal it gets — so that weakening any one check is noticed.

use registry_core::custody::{Certified, CustodyError, Shown, released};
use registry_core::event::{Change, Role};
use registry_core::evidence::ProvenChange;
use registry_core::moves::{ActivationCertificate, MoveOutCertificate, MoveWithdrawal, note_hash};
use registry_core::time::Timestamp;
use registry_domain::{
    Address, ChangeInfo, ChangeReason, Date, HistoryNumber, IdentityRecordParts, MunicipalityCode,
    Name, NameReading, PersonName, RecordStatus, ResidentCode, Sex,
};
use tlog::Hash;
use tlog::note::{KeyKind, Note, Signer};

fn key(name: &str, seed: u8) -> Signer {
    Signer::from_seed(name, KeyKind::Ed25519, [seed; 32]).unwrap()
}

fn national() -> Signer {
    key("national.juki.test", 1)
}

fn town(code: &str) -> MunicipalityCode {
    MunicipalityCode::parse(code).unwrap()
}

fn achi() -> MunicipalityCode {
    town("204072")
}

fn matsumoto() -> MunicipalityCode {
    town("202029")
}

fn resident() -> ResidentCode {
    ResidentCode::from_ten_digits(2_040_720_007).unwrap()
}

fn another() -> ResidentCode {
    ResidentCode::from_ten_digits(2_040_720_014).unwrap()
}

fn now() -> Timestamp {
    Timestamp::from_unix(1_795_512_600)
}

fn hash(text: &str) -> Hash {
    tlog::hash::sha256(text.as_bytes())
}

fn signed(text: &str, signer: &Signer) -> String {
    let mut note = Note::new(text).unwrap();
    note.sign(signer).unwrap();
    String::from_utf8(note.to_bytes()).unwrap()
}

/// A proven change of `code` at `town` with `history`, closed by `reason` or active.
fn proven(
    town: MunicipalityCode,
    code: ResidentCode,
    history: u32,
    closed: Option<ChangeReason>,
) -> ProvenChange {
    let reason = closed.unwrap_or(ChangeReason::MoveIn);
    let record = IdentityRecordParts {
        resident_code: code,
        name: Name::new(
            PersonName::new("熊谷 花子").unwrap(),
            NameReading::new("クマガイ ハナコ").unwrap(),
            None,
        ),
        birth_date: Date::parse("1990-04-01").unwrap(),
        sex: Sex::Female,
        address: Address::new(town, "1番地").unwrap(),
        individual_number: None,
        latest_change: ChangeInfo::new(reason, Date::parse("2026-11-24").unwrap()),
        history_number: HistoryNumber::new(history).unwrap(),
        status: match closed {
            Some(reason) => RecordStatus::Closed { reason },
            None => RecordStatus::Active,
        },
    };
    let change = Change {
        municipality: town,
        record,
        previous_code: None,
        moved_to: (closed == Some(ChangeReason::MoveOut)).then(matsumoto),
        move_out: None,
        activation: None,
        time: now(),
    };
    let note =
        signed(&registry_core::event::Event::Change(change.clone()).to_text(), &key("op", 9));
    ProvenChange {
        index: u64::from(history),
        change,
        note: note.into_bytes(),
        checkpoint_size: 100,
        signers: vec![(key("op", 9).verifier(), Role::Clerk)],
    }
}

/// `opened`, carrying a move-out certificate as `edit` leaves it, signed by `by`.
fn with_move_out(
    mut opened: ProvenChange,
    edit: impl FnOnce(&mut MoveOutCertificate),
    by: &Signer,
) -> ProvenChange {
    let mut certificate = MoveOutCertificate {
        from: achi(),
        to: matsumoto(),
        resident: resident(),
        event: hash("the move-out"),
        name: opened.change.record.name.clone(),
        birth: opened.change.record.birth_date,
        sex: opened.change.record.sex,
        moved_out: Date::parse("2026-11-24").unwrap(),
        time: now(),
    };
    edit(&mut certificate);
    opened.change.move_out = Some(signed(&certificate.to_text(), by));
    opened
}

/// `opened`, carrying an activation certificate as `edit` leaves it, signed by `by`.
fn with_activation(
    mut opened: ProvenChange,
    edit: impl FnOnce(&mut ActivationCertificate),
    by: &Signer,
) -> ProvenChange {
    let mut certificate = ActivationCertificate {
        municipality: matsumoto(),
        resident: resident(),
        from: achi(),
        after: hash("the closure"),
        time: now(),
    };
    edit(&mut certificate);
    opened.change.activation = Some(signed(&certificate.to_text(), by));
    opened
}

fn check(
    last: Option<&Certified>,
    owner: Option<MunicipalityCode>,
    shown: Shown<'_>,
) -> Result<(), CustodyError> {
    released(last, owner, &shown, &national().verifier()).map(|_| ())
}

#[test]
fn a_code_never_certified_is_released_only_by_a_closure_in_its_block_s_town() {
    let closed = proven(achi(), resident(), 3, Some(ChangeReason::MoveOutAbroad));
    let shown = Shown { closed: &closed, opened: None, withdrawal: None };
    let released = released(None, Some(achi()), &shown, &national().verifier()).expect("released");
    assert_eq!((released.resident, released.from), (resident(), achi()));
    assert_eq!(released.after, note_hash(&closed.note));
    assert!(matches!(check(None, Some(matsumoto()), shown), Err(CustodyError::WrongTown { .. })));
    assert!(matches!(check(None, None, shown), Err(CustodyError::WrongTown { .. })));
    let active = proven(achi(), resident(), 3, None);
    let shown = Shown { closed: &active, opened: None, withdrawal: None };
    assert_eq!(check(None, Some(achi()), shown), Err(CustodyError::NotClosed(resident())));
}

/// A change made to a statement, for one case.
type Edit<T> = fn(&mut T);

fn shown<'a>(closed: &'a ProvenChange, withdrawal: &'a MoveWithdrawal) -> Shown<'a> {
    Shown { closed, opened: None, withdrawal: Some(withdrawal) }
}

#[test]
fn a_withdrawn_move_is_released_only_by_its_own_withdrawal_and_move_out() {
    let move_out = proven(achi(), resident(), 3, Some(ChangeReason::MoveOut));
    let event = note_hash(&move_out.note);
    let last = Certified::MovedOut { from: achi(), to: matsumoto(), event };
    let withdrawal = MoveWithdrawal {
        municipality: matsumoto(),
        resident: resident(),
        from: achi(),
        event,
        time: now(),
    };
    assert_eq!(check(Some(&last), None, shown(&move_out, &withdrawal)), Ok(()));
    let refused = Err(CustodyError::NotWithdrawn(resident()));
    let edits: [(&str, Edit<MoveWithdrawal>); 3] = [
        ("recorded by another town", |w| w.municipality = town("203611")),
        ("of another move-out", |w| w.event = hash("another move-out")),
        ("of another resident", |w| w.resident = another()),
    ];
    for (case, edit) in edits {
        let mut wrong = withdrawal.clone();
        edit(&mut wrong);
        assert_eq!(check(Some(&last), None, shown(&move_out, &wrong)), refused, "{case}");
    }
    // The closure shown must be that move-out, where it was made.
    let elsewhere = proven(matsumoto(), resident(), 3, Some(ChangeReason::MoveOut));
    assert_eq!(check(Some(&last), None, shown(&elsewhere, &withdrawal)), refused);
    let later = proven(achi(), resident(), 5, Some(ChangeReason::Death));
    assert_eq!(check(Some(&last), None, shown(&later, &withdrawal)), refused);
}

#[test]
fn a_certified_record_is_released_only_by_a_closure_after_the_change_that_used_the_certificate() {
    let event = hash("the move-out");
    let moved = Certified::MovedOut { from: achi(), to: matsumoto(), event };
    let activated = Certified::Activated { town: matsumoto(), after: hash("the closure") };
    let closed = proven(matsumoto(), resident(), 4, Some(ChangeReason::Death));
    let move_in = with_move_out(proven(matsumoto(), resident(), 2, None), |_| {}, &national());
    let activation = with_activation(proven(matsumoto(), resident(), 2, None), |_| {}, &national());
    for (last, opened) in [(&moved, &move_in), (&activated, &activation)] {
        let shown = Shown { closed: &closed, opened: Some(opened), withdrawal: None };
        assert_eq!(check(Some(last), None, shown), Ok(()));
        // No opening shown; a closure in another town; a closure before the opening.
        let none = Shown { closed: &closed, opened: None, withdrawal: None };
        assert_eq!(check(Some(last), None, none), Err(CustodyError::NotOpened(resident())));
        let there = proven(achi(), resident(), 4, Some(ChangeReason::Death));
        let shown = Shown { closed: &there, opened: Some(opened), withdrawal: None };
        assert!(matches!(check(Some(last), None, shown), Err(CustodyError::WrongTown { .. })));
        let before = proven(matsumoto(), resident(), 2, Some(ChangeReason::Death));
        let shown = Shown { closed: &before, opened: Some(opened), withdrawal: None };
        assert_eq!(check(Some(last), None, shown), Err(CustodyError::ClosedBefore(resident())));
    }

    // Each way the opening shown is not the one that used the last certificate.
    let not_opened = Err(CustodyError::NotOpened(resident()));
    let mut elsewhere = move_in.clone();
    elsewhere.change.municipality = achi();
    let mut someone_else = move_in.clone();
    someone_else.change.record.resident_code = another();
    let cases: Vec<(&str, &Certified, ProvenChange)> = vec![
        ("an opening in another town", &moved, elsewhere),
        ("an opening of another resident", &moved, someone_else),
        ("no certificate carried", &moved, proven(matsumoto(), resident(), 2, None)),
        ("an activation where a move-in was certified", &moved, activation.clone()),
        (
            "a certificate of another move-out",
            &moved,
            with_move_out(
                proven(matsumoto(), resident(), 2, None),
                |c| c.event = hash("x"),
                &national(),
            ),
        ),
        (
            "a certificate to another town",
            &moved,
            with_move_out(
                proven(matsumoto(), resident(), 2, None),
                |c| c.to = town("203611"),
                &national(),
            ),
        ),
        (
            "a certificate of another resident",
            &moved,
            with_move_out(
                proven(matsumoto(), resident(), 2, None),
                |c| c.resident = another(),
                &national(),
            ),
        ),
        (
            "a certificate not signed by the national key",
            &moved,
            with_move_out(proven(matsumoto(), resident(), 2, None), |_| {}, &key("forger", 7)),
        ),
        ("a move-in where an activation was certified", &activated, move_in.clone()),
        (
            "an activation after another closure",
            &activated,
            with_activation(
                proven(matsumoto(), resident(), 2, None),
                |c| c.after = hash("y"),
                &national(),
            ),
        ),
        (
            "an activation for another town",
            &activated,
            with_activation(
                proven(matsumoto(), resident(), 2, None),
                |c| c.municipality = town("203611"),
                &national(),
            ),
        ),
        (
            "an activation of another resident",
            &activated,
            with_activation(
                proven(matsumoto(), resident(), 2, None),
                |c| c.resident = another(),
                &national(),
            ),
        ),
        (
            "an activation not signed by the national key",
            &activated,
            with_activation(proven(matsumoto(), resident(), 2, None), |_| {}, &key("forger", 7)),
        ),
    ];
    for (case, last, opened) in cases {
        let shown = Shown { closed: &closed, opened: Some(&opened), withdrawal: None };
        assert_eq!(check(Some(last), None, shown), not_opened, "{case}");
    }
}
