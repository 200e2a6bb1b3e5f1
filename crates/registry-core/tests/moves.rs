//! Moves between towns, fed through the rules in memory: a move-out in 阿智村, the national
//! key's certificate, the move-in in 松本市 and the notice back to 阿智村; and every way a
//! certificate or a notice can be wrong, each refused with the state unchanged.

mod common;

use registry_core::event::{Change, CodeBlock, Enrolment, Event, Genesis, Role};
use registry_core::moves::{CertifyError, MoveNotice, MoveOutCertificate, note_hash};
use registry_core::rules::{Effect, Refusal, RegistryView as _, decide};
use registry_core::state::RegistryState;
use registry_core::time::Timestamp;
use registry_domain::{
    Address, ChangeInfo, ChangeReason, Date, FormerSurname, HistoryNumber, IdentityRecordParts,
    MunicipalityCode, Name, NameReading, PersonName, ReasonFamily, RecordStatus, ResidentCode, Sex,
};
use tlog::note::{KeyKind, Note, Signer};

const NOW: u64 = 1_795_512_600; // 2026-11-24T09:30:00Z

fn key(name: &str, seed: u8) -> Signer {
    Signer::from_seed(name, KeyKind::Ed25519, [seed; 32]).unwrap()
}

fn national() -> Signer {
    key("national.juki.test", 1)
}

fn now() -> Timestamp {
    Timestamp::from_unix(NOW)
}

fn municipality(code: &str) -> MunicipalityCode {
    MunicipalityCode::parse(code).unwrap()
}

fn achi_code() -> MunicipalityCode {
    municipality("204072")
}

fn matsumoto_code() -> MunicipalityCode {
    municipality("202029")
}

fn date(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn sign_text(text: &str, signers: &[&Signer]) -> Vec<u8> {
    let mut note = Note::new(text).unwrap();
    for signer in signers {
        note.sign(signer).unwrap();
    }
    note.to_bytes()
}

fn sign(event: &Event, signers: &[&Signer]) -> Vec<u8> {
    sign_text(&event.to_text(), signers)
}

/// A town with its admin, a clerk and a supervisor, and a block of codes.
struct Town {
    state: RegistryState,
    code: MunicipalityCode,
    clerk: Signer,
    supervisor: Signer,
    next_base: u64,
}

impl Town {
    fn new(code: MunicipalityCode, seed: u8, first: u64) -> Town {
        let admin = key(&format!("admin.{code}.juki.test"), seed);
        let mut town = Town {
            state: RegistryState::new(code),
            code,
            clerk: key(&format!("op.{code}.juki.test/tanaka"), seed + 1),
            supervisor: key(&format!("op.{code}.juki.test/suzuki"), seed + 2),
            next_base: first,
        };
        let t = Timestamp::from_unix(NOW - 60);
        town.accept(&sign(
            &Event::Genesis(Genesis { municipality: code, admin: admin.verifier(), time: t }),
            &[&admin],
        ));
        for (operator, role) in
            [(town.clerk.verifier(), Role::Clerk), (town.supervisor.verifier(), Role::Supervisor)]
        {
            let enrol = Event::Enrolment(Enrolment { municipality: code, operator, role, time: t });
            town.accept(&sign(&enrol, &[&admin]));
        }
        let block = Event::CodeBlock(CodeBlock { municipality: code, first, count: 1000, time: t });
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

    fn refuse(&self, note: &[u8]) -> Refusal {
        let before = self.state.clone();
        let refusal = self.submit(note).expect_err("must be refused");
        assert_eq!(self.state, before);
        refusal
    }

    /// Signs a change by both operators.
    fn signed(&self, change: &Change) -> Vec<u8> {
        let (change, _) = common::with_activation(&self.state, change.clone(), &national());
        sign(&Event::Change(change), &[&self.clerk, &self.supervisor])
    }

    /// A birth here; returns the change.
    fn birth(&mut self, name: &str, reading: &str) -> Change {
        self.next_base += 7;
        let code = ResidentCode::from_ten_digits(self.next_base).unwrap();
        let born = date("1990-04-01");
        let record = IdentityRecordParts {
            resident_code: code,
            name: Name::new(
                PersonName::new(name).unwrap(),
                NameReading::new(reading).unwrap(),
                None,
            ),
            birth_date: born,
            sex: Sex::Female,
            address: Address::new(self.code, "大字智里 1234番地").unwrap(),
            individual_number: None,
            latest_change: ChangeInfo::new(ChangeReason::Birth, born),
            history_number: HistoryNumber::FIRST,
            status: RecordStatus::Active,
        };
        let change = Change {
            municipality: self.code,
            record,
            previous_code: None,
            moved_to: None,
            move_out: None,
            activation: None,
            time: now(),
        };
        self.accept(&self.signed(&change));
        change
    }

    /// The next snapshot of `record` here for `reason`.
    fn next(&self, record: &IdentityRecordParts, reason: ChangeReason, effective: &str) -> Change {
        let mut record = record.clone();
        record.latest_change = ChangeInfo::new(reason, date(effective));
        record.history_number = record.history_number.next().unwrap();
        record.status = if reason.family() == ReasonFamily::Deletion {
            RecordStatus::Closed { reason }
        } else {
            RecordStatus::Active
        };
        Change {
            municipality: self.code,
            record,
            previous_code: None,
            moved_to: None,
            move_out: None,
            activation: None,
            time: now(),
        }
    }

    /// Records a move-out to `to`; returns the change and its exact signed note.
    fn move_out(
        &mut self,
        record: &IdentityRecordParts,
        to: MunicipalityCode,
    ) -> (Change, Vec<u8>) {
        let mut change = self.next(record, ChangeReason::MoveOut, "2026-11-20");
        change.moved_to = Some(to);
        let note = self.signed(&change);
        self.accept(&note);
        (change, note)
    }

    /// The move-in here of the person in `record`, carrying `certificate`.
    fn move_in(&self, record: &IdentityRecordParts, certificate: Option<&[u8]>) -> Change {
        let history = match self.state.resident(record.resident_code) {
            Some(current) => current.history_number.next().unwrap(),
            None => HistoryNumber::FIRST,
        };
        let mut record = record.clone();
        record.address = Address::new(self.code, "中央1丁目 2番3号").unwrap();
        record.latest_change = ChangeInfo::new(ChangeReason::MoveIn, date("2026-11-22"));
        record.history_number = history;
        record.status = RecordStatus::Active;
        Change {
            municipality: self.code,
            record,
            previous_code: None,
            moved_to: None,
            move_out: certificate.map(|c| String::from_utf8(c.to_vec()).unwrap()),
            activation: None,
            time: now(),
        }
    }
}

/// The certificate for a move-out note, signed by `signer`.
fn certify(note: &[u8], change: &Change, signer: &Signer) -> (MoveOutCertificate, Vec<u8>) {
    let certificate = MoveOutCertificate::from_move_out(note, change, now()).unwrap();
    let signed = sign_text(&certificate.to_text(), &[signer]);
    (certificate, signed)
}

fn notice(certificate: &MoveOutCertificate, move_in: &[u8]) -> Event {
    Event::MoveNotice(MoveNotice {
        municipality: certificate.from,
        resident: certificate.resident,
        to: certificate.to,
        event: certificate.event,
        move_in: note_hash(move_in),
        time: now(),
    })
}

#[test]
fn certificates_and_notices_round_trip_through_their_text() {
    let mut achi = Town::new(achi_code(), 10, 2_040_720_000);
    let born = achi.birth("熊谷 花子", "クマガイ ハナコ");
    let mut record = born.record.clone();
    record.name = Name::new(
        record.name.name().clone(),
        record.name.reading().clone(),
        Some(FormerSurname::new(PersonName::new("原").unwrap(), NameReading::new("ハラ").unwrap())),
    );
    let mut out = achi.next(&record, ChangeReason::MoveOut, "2026-11-20");
    out.moved_to = Some(matsumoto_code());
    let note = achi.signed(&out);
    let certificate = MoveOutCertificate::from_move_out(&note, &out, now()).unwrap();
    assert_eq!(certificate.event, tlog::hash::sha256(&note));
    assert_eq!((certificate.from, certificate.to), (achi_code(), matsumoto_code()));
    assert_eq!(certificate.name, record.name);
    assert_eq!(certificate.moved_out, date("2026-11-20"));
    let text = certificate.to_text();
    assert!(text.starts_with("juki.move-out/v1\nfrom 204072\nto 202029\nresident "), "{text}");
    assert!(text.contains("\nformer-name 原\nformer-reading ハラ\n"), "{text}");
    assert_eq!(MoveOutCertificate::parse(&text).unwrap(), certificate);
    let event = certificate.event.to_base64();
    let hex = certificate.event.to_hex();
    for (from, to) in [
        ("sex 2", "sex 女"),
        ("moved-out 2026-11-20", "moved-out 2026-11-20T00:00:00Z"),
        (event.as_str(), hex.as_str()),
        ("from 204072\n", ""),
        ("former-reading ハラ\n", ""),
        ("time ", "extra 1\ntime "),
    ] {
        let edited = text.replacen(from, to, 1);
        assert_ne!(edited, text, "{from:?} is in the certificate");
        assert!(MoveOutCertificate::parse(&edited).is_err(), "{to:?} must be refused");
    }
    // The same hash with the unused low bit of its last base64 digit set is not its one
    // spelling.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut loose = event.clone().into_bytes();
    let digit = ALPHABET.iter().position(|&c| c == loose[42]).unwrap();
    loose[42] = ALPHABET[digit ^ 1];
    let loose = String::from_utf8(loose).unwrap();
    assert!(MoveOutCertificate::parse(&text.replacen(&event, &loose, 1)).is_err());

    let notice = notice(&certificate, b"the move-in note");
    let text = notice.to_text();
    assert!(text.starts_with("juki.move-notice/v1\nmunicipality 204072\nresident "), "{text}");
    assert_eq!(Event::parse(&text).unwrap(), notice);
    assert_eq!(notice.municipality(), achi_code());
    assert!(Event::parse(&text.replacen("to 202029", "to 20202", 1)).is_err());
    // A change carries a certificate as one escaped field, and parses back to the same bytes.
    let signed = sign_text(&certificate.to_text(), &[&national()]);
    let mut matsumoto = Town::new(matsumoto_code(), 20, 2_020_290_000);
    let change = matsumoto.move_in(&out.record, Some(&signed));
    let text = Event::Change(change.clone()).to_text();
    assert!(text.contains("\nmove-out juki.move-out/v1\\nfrom 204072\\n"), "{text}");
    assert_eq!(Event::parse(&text).unwrap(), Event::Change(change.clone()));
    matsumoto.accept(&matsumoto.signed(&change));
}

#[test]
fn only_a_move_out_it_was_given_is_certified() {
    let mut achi = Town::new(achi_code(), 10, 2_040_720_000);
    let born = achi.birth("熊谷 花子", "クマガイ ハナコ");
    let birth_note = achi.signed(&born);
    assert_eq!(
        MoveOutCertificate::from_move_out(&birth_note, &born, now()),
        Err(CertifyError::NotAMoveOut("birth"))
    );
    assert!(matches!(
        MoveOutCertificate::from_move_out(b"not a note", &born, now()),
        Err(CertifyError::NotANote(_))
    ));
    let (out, note) = achi.move_out(&born.record, matsumoto_code());
    assert_eq!(
        MoveOutCertificate::from_move_out(&birth_note, &out, now()),
        Err(CertifyError::NotThisChange),
        "the note must be the change's own"
    );
    let abroad = achi.next(&born.record, ChangeReason::MoveOutAbroad, "2026-11-20");
    let abroad_note = achi.signed(&abroad);
    assert_eq!(
        MoveOutCertificate::from_move_out(&abroad_note, &abroad, now()),
        Err(CertifyError::NotAMoveOut("move-out-abroad"))
    );
    MoveOutCertificate::from_move_out(&note, &out, now()).unwrap();
}

#[test]
fn a_move_between_two_towns_completes_with_the_notice() {
    let mut achi = Town::new(achi_code(), 10, 2_040_720_000);
    let mut matsumoto = Town::new(matsumoto_code(), 20, 2_020_290_000);
    let born = achi.birth("熊谷 花子", "クマガイ ハナコ");
    let code = born.record.resident_code;
    let (out, out_note) = achi.move_out(&born.record, matsumoto_code());
    let (certificate, signed) = certify(&out_note, &out, &national());

    let move_in = matsumoto.move_in(&out.record, Some(&signed));
    let move_in_note = matsumoto.signed(&move_in);
    let effect = matsumoto.accept(&move_in_note);
    let Effect::Change { move_out, note_hash: hash, .. } = &effect else { panic!("{effect:?}") };
    assert_eq!(move_out.as_ref(), Some(&certificate));
    assert_eq!(*hash, note_hash(&move_in_note));
    assert!(matsumoto.state.move_out_used(&certificate.event));
    assert_eq!(matsumoto.state.resident(code).unwrap().status, RecordStatus::Active);
    assert_eq!(matsumoto.state.current_event(code).unwrap().note_hash, note_hash(&move_in_note));

    let notice_note = sign(&notice(&certificate, &move_in_note), &[&national()]);
    assert!(matches!(achi.accept(&notice_note), Effect::MoveNotice(_)));
    assert!(achi.state.move_notice_recorded(&certificate.event));
    assert_eq!(
        achi.state.resident(code).unwrap().status,
        RecordStatus::Closed { reason: ChangeReason::MoveOut },
        "the record stays closed"
    );
    // One notice per move-out; and a completed move-out can no longer be cancelled.
    assert_eq!(achi.refuse(&notice_note), Refusal::NoticeRecorded);
    let again = sign(&notice(&certificate, b"another move-in"), &[&national()]);
    assert_eq!(achi.refuse(&again), Refusal::NoticeRecorded);
    let reopen = achi.next(&out.record, ChangeReason::CancellationEntry, "2026-11-24");
    let refusal = achi.refuse(&achi.signed(&reopen));
    assert!(refusal.to_string().contains("can no longer be cancelled"), "{refusal}");

    // Each registry remembers its side of the move, for the rules and for `verify`.
    assert_eq!(matsumoto.state.move_ins().len(), 1);
    assert_eq!(achi.state.move_notices().len(), 1);
}

#[test]
fn a_move_in_needs_a_valid_certificate_for_this_person_and_town() {
    let mut achi = Town::new(achi_code(), 10, 2_040_720_000);
    let mut matsumoto = Town::new(matsumoto_code(), 20, 2_020_290_000);
    let suwa = municipality("203611");
    let born = achi.birth("熊谷 花子", "クマガイ ハナコ");
    let other = achi.birth("熊谷 一郎", "クマガイ イチロウ");
    let (out, out_note) = achi.move_out(&born.record, matsumoto_code());
    let (other_out, other_note) = achi.move_out(&other.record, suwa);
    let (certificate, signed) = certify(&out_note, &out, &national());
    let refuse = |change: &Change| matsumoto.refuse(&matsumoto.signed(change)).to_string();

    // No certificate; a certificate signed by another key; a tampered one.
    let refusal = refuse(&matsumoto.move_in(&out.record, None));
    assert!(refusal.contains("carries the move-out certificate"), "{refusal}");
    let (_, forged) = certify(&out_note, &out, &key("national.juki.test", 99));
    let refusal = refuse(&matsumoto.move_in(&out.record, Some(&forged)));
    assert!(refusal.contains("no signature by the national key"), "{refusal}");
    let tampered = String::from_utf8(signed.clone()).unwrap().replacen("sex 2", "sex 1", 1);
    let refusal = refuse(&matsumoto.move_in(&out.record, Some(tampered.as_bytes())));
    assert!(refusal.contains("not signed as required"), "{refusal}");
    // Something else signed by the national key is not a certificate.
    let block = Event::CodeBlock(CodeBlock {
        municipality: matsumoto_code(),
        first: 1,
        count: 1,
        time: now(),
    });
    let refusal = refuse(&matsumoto.move_in(&out.record, Some(&sign(&block, &[&national()]))));
    assert!(refusal.contains("malformed event: the move-out certificate"), "{refusal}");

    // For a move to another town; for a move out of this town; for another resident.
    let (_, to_suwa) = certify(&other_note, &other_out, &national());
    let refusal = refuse(&matsumoto.move_in(&other_out.record, Some(&to_suwa)));
    assert!(refusal.contains("for a move to 203611, not to 202029"), "{refusal}");
    let from_here = MoveOutCertificate { from: matsumoto_code(), ..certificate.clone() };
    let from_here = sign_text(&from_here.to_text(), &[&national()]);
    let refusal = refuse(&matsumoto.move_in(&out.record, Some(&from_here)));
    assert!(refusal.contains("a move out of 202029 itself"), "{refusal}");
    let refusal = refuse(&matsumoto.move_in(&other_out.record, Some(&signed)));
    assert!(
        refusal.contains(&format!(
            "is for resident {}, not {}",
            born.record.resident_code, other.record.resident_code
        )),
        "{refusal}"
    );

    // The identity must be the certificate's, field by field; the error names the field only.
    let personal = ["熊谷", "花子", "クマガイ", "1990", "原"];
    type Edit = Box<dyn Fn(&mut IdentityRecordParts)>;
    let edits: Vec<(&str, Edit)> = vec![
        (
            "name",
            Box::new(|r| {
                r.name =
                    Name::new(PersonName::new("熊谷 花").unwrap(), r.name.reading().clone(), None)
            }),
        ),
        (
            "reading",
            Box::new(|r| {
                r.name = Name::new(
                    r.name.name().clone(),
                    NameReading::new("クマタニ ハナコ").unwrap(),
                    None,
                )
            }),
        ),
        (
            "former surname",
            Box::new(|r| {
                r.name = Name::new(
                    r.name.name().clone(),
                    r.name.reading().clone(),
                    Some(FormerSurname::new(
                        PersonName::new("原").unwrap(),
                        NameReading::new("ハラ").unwrap(),
                    )),
                )
            }),
        ),
        ("date of birth", Box::new(|r| r.birth_date = date("1990-04-02"))),
        ("sex", Box::new(|r| r.sex = Sex::Male)),
    ];
    for (field, edit) in edits {
        let mut change = matsumoto.move_in(&out.record, Some(&signed));
        edit(&mut change.record);
        let refusal = refuse(&change);
        assert!(
            refusal.contains(&format!("the {field} differs from the move-out certificate")),
            "{field}: {refusal}"
        );
        for secret in personal {
            assert!(!refusal.contains(secret), "the refusal repeats personal data: {refusal}");
        }
    }
    // Moving in before moving out.
    let mut early = matsumoto.move_in(&out.record, Some(&signed));
    early.record.latest_change = ChangeInfo::new(ChangeReason::MoveIn, date("2026-11-19"));
    assert!(refuse(&early).contains("before the move-out it follows"));

    // A certificate belongs to a move-in (国内転入) only.
    let mut abroad = matsumoto.move_in(&out.record, Some(&signed));
    abroad.record.latest_change =
        ChangeInfo::new(ChangeReason::MoveInFromAbroad, date("2026-11-22"));
    assert!(refuse(&abroad).contains("only a move-in (国内転入) carries"));
    let mut birth = matsumoto.move_in(&out.record, Some(&signed));
    birth.record.resident_code = ResidentCode::from_ten_digits(2_020_290_500).unwrap();
    birth.record.latest_change = ChangeInfo::new(ChangeReason::Birth, date("2026-11-22"));
    assert!(refuse(&birth).contains("only a move-in (国内転入) carries"));

    // And with everything right, it is accepted.
    matsumoto.accept(&matsumoto.signed(&matsumoto.move_in(&out.record, Some(&signed))));
}

#[test]
fn a_certificate_is_used_once() {
    let mut achi = Town::new(achi_code(), 10, 2_040_720_000);
    let mut matsumoto = Town::new(matsumoto_code(), 20, 2_020_290_000);
    let born = achi.birth("熊谷 花子", "クマガイ ハナコ");
    let code = born.record.resident_code;
    let (out, out_note) = achi.move_out(&born.record, matsumoto_code());
    let (certificate, signed) = certify(&out_note, &out, &national());
    let first = matsumoto.move_in(&out.record, Some(&signed));
    matsumoto.accept(&matsumoto.signed(&first));

    // The same certificate while the resident lives here: the state machine refuses it.
    let refusal =
        matsumoto.refuse(&matsumoto.signed(&matsumoto.move_in(&out.record, Some(&signed))));
    assert!(refusal.to_string().contains("already registered here"), "{refusal}");
    // The move-in is cancelled (the record closes); a second certificate for the same move-out,
    // signed later, is still the same move-out and cannot be used again.
    let cancel = matsumoto.next(&first.record, ChangeReason::CancellationDeletion, "2026-11-23");
    matsumoto.accept(&matsumoto.signed(&cancel));
    let later = MoveOutCertificate { time: Timestamp::from_unix(NOW + 60), ..certificate.clone() };
    let later = sign_text(&later.to_text(), &[&national()]);
    assert_ne!(later, signed);
    for certificate_note in [&signed, &later] {
        let refusal = matsumoto
            .refuse(&matsumoto.signed(&matsumoto.move_in(&out.record, Some(certificate_note))));
        assert!(refusal.to_string().contains("was already used for a move-in here"), "{refusal}");
        assert!(refusal.to_string().contains(&code.to_string()), "codes may be named");
    }
}

#[test]
fn a_notice_needs_the_move_out_it_names() {
    let mut achi = Town::new(achi_code(), 10, 2_040_720_000);
    let mut matsumoto = Town::new(matsumoto_code(), 20, 2_020_290_000);
    let born = achi.birth("熊谷 花子", "クマガイ ハナコ");
    let stays = achi.birth("熊谷 一郎", "クマガイ イチロウ");
    let (out, out_note) = achi.move_out(&born.record, matsumoto_code());
    let (certificate, signed) = certify(&out_note, &out, &national());
    let move_in_note = matsumoto.signed(&matsumoto.move_in(&out.record, Some(&signed)));
    matsumoto.accept(&move_in_note);
    let notice_of = |edit: &dyn Fn(&mut MoveNotice)| {
        let Event::MoveNotice(mut notice) = notice(&certificate, &move_in_note) else {
            unreachable!()
        };
        edit(&mut notice);
        Event::MoveNotice(notice)
    };

    // For a resident who did not move out; for one never recorded here.
    let refusal = achi
        .refuse(&sign(&notice_of(&|n| n.resident = stays.record.resident_code), &[&national()]));
    assert!(refusal.to_string().contains("is not closed by a move-out"), "{refusal}");
    let stranger = ResidentCode::from_ten_digits(2_040_720_999).unwrap();
    let refusal = achi.refuse(&sign(&notice_of(&|n| n.resident = stranger), &[&national()]));
    assert!(refusal.to_string().contains("no resident"), "{refusal}");
    // To another town than the move-out named; for another move-out event.
    let refusal =
        achi.refuse(&sign(&notice_of(&|n| n.to = municipality("203611")), &[&national()]));
    assert!(refusal.to_string().contains("moved out to 202029"), "{refusal}");
    let refusal = achi.refuse(&sign(
        &notice_of(&|n| n.event = tlog::hash::sha256(b"another event")),
        &[&national()],
    ));
    assert!(refusal.to_string().contains("was closed by event"), "{refusal}");
    // Signed by anyone but the national key; for another municipality's registry.
    let refusal = achi.refuse(&sign(&notice_of(&|_| {}), &[&achi.supervisor]));
    assert!(matches!(refusal, Refusal::Unsigned(_)), "{refusal}");
    let refusal = matsumoto.refuse(&sign(&notice_of(&|_| {}), &[&national()]));
    assert!(matches!(refusal, Refusal::WrongMunicipality { .. }), "{refusal}");
    // A registry without its genesis records no notice.
    let empty = RegistryState::new(achi_code());
    let refusal =
        decide(&sign(&notice_of(&|_| {}), &[&national()]), &empty, &national().verifier(), None)
            .unwrap_err();
    assert!(refusal.to_string().contains("no genesis"), "{refusal}");
    // A move-out reopened by a cancellation is no longer there to complete.
    let reopen = achi.next(&out.record, ChangeReason::CancellationEntry, "2026-11-24");
    let mut reopened = achi.state.clone();
    let effect =
        decide(&achi.signed(&reopen), &reopened, &national().verifier(), Some(now())).unwrap();
    reopened.apply(&effect);
    let refusal =
        decide(&sign(&notice_of(&|_| {}), &[&national()]), &reopened, &national().verifier(), None)
            .unwrap_err();
    assert!(refusal.to_string().contains("is not closed by a move-out"), "{refusal}");

    achi.accept(&sign(&notice_of(&|_| {}), &[&national()]));
}

#[test]
fn a_move_in_may_take_effect_on_the_day_of_the_move_out() {
    let mut achi = Town::new(achi_code(), 10, 2_040_720_000);
    let matsumoto = Town::new(matsumoto_code(), 20, 2_020_290_000);
    let born = achi.birth("熊谷 花子", "クマガイ ハナコ");
    let (out, out_note) = achi.move_out(&born.record, matsumoto_code());
    let (certificate, signed) = certify(&out_note, &out, &national());
    assert_eq!(certificate.moved_out, date("2026-11-20"));

    let mut early = matsumoto.move_in(&out.record, Some(&signed));
    early.record.latest_change = ChangeInfo::new(ChangeReason::MoveIn, date("2026-11-19"));
    let refusal = matsumoto.refuse(&matsumoto.signed(&early));
    assert!(matches!(refusal, Refusal::IllegalTransition(_)), "{refusal}");

    let mut same_day = matsumoto.move_in(&out.record, Some(&signed));
    same_day.record.latest_change = ChangeInfo::new(ChangeReason::MoveIn, date("2026-11-20"));
    let note = matsumoto.signed(&same_day);
    assert_eq!(
        matsumoto.submit(&note),
        Ok(Effect::Change {
            change: same_day,
            signers: vec![matsumoto.clerk.verifier(), matsumoto.supervisor.verifier()],
            note_hash: note_hash(&note),
            move_out: Some(certificate),
            activation: None,
        })
    );
}

#[test]
fn a_resident_who_moved_away_may_move_back() {
    let mut achi = Town::new(achi_code(), 10, 2_040_720_000);
    let mut matsumoto = Town::new(matsumoto_code(), 20, 2_020_290_000);
    let born = achi.birth("熊谷 花子", "クマガイ ハナコ");
    let code = born.record.resident_code;
    let (out, out_note) = achi.move_out(&born.record, matsumoto_code());
    let (_, signed) = certify(&out_note, &out, &national());
    let move_in = matsumoto.move_in(&out.record, Some(&signed));
    matsumoto.accept(&matsumoto.signed(&move_in));

    // Back from 松本市 to 阿智村, where the record was closed by the first move-out.
    let mut back_out = matsumoto.next(&move_in.record, ChangeReason::MoveOut, "2026-11-23");
    back_out.moved_to = Some(achi_code());
    let back_out_note = matsumoto.signed(&back_out);
    matsumoto.accept(&back_out_note);
    let (certificate, signed) = certify(&back_out_note, &back_out, &national());
    let mut back_in = achi.move_in(&back_out.record, Some(&signed));
    back_in.record.latest_change = ChangeInfo::new(ChangeReason::MoveIn, date("2026-11-24"));
    // The record reopens, at a new address, as the next snapshot of the closed one.
    assert_ne!(back_in.record.address, out.record.address);
    assert_eq!(back_in.record.history_number, out.record.history_number.next().unwrap());
    let note = achi.signed(&back_in);
    assert_eq!(
        achi.accept(&note),
        Effect::Change {
            change: back_in.clone(),
            signers: vec![achi.clerk.verifier(), achi.supervisor.verifier()],
            note_hash: note_hash(&note),
            move_out: Some(certificate),
            activation: None,
        }
    );
    assert_eq!(achi.state.resident(code), Some(back_in.record));
}

#[test]
fn a_certificate_is_used_within_thirty_days_of_its_signing() {
    let mut achi = Town::new(achi_code(), 10, 2_040_720_000);
    let matsumoto = Town::new(matsumoto_code(), 20, 2_020_290_000);
    let born = achi.birth("熊谷 花子", "クマガイ ハナコ");
    let (out, out_note) = achi.move_out(&born.record, matsumoto_code());
    let (certificate, _) = certify(&out_note, &out, &national());
    let signed_at = |seconds_ago: u64| {
        let old = MoveOutCertificate {
            time: Timestamp::from_unix(NOW - seconds_ago),
            ..certificate.clone()
        };
        sign_text(&old.to_text(), &[&national()])
    };
    // Four weeks after the move-out is well within; five weeks is not.
    let day = 86_400;
    assert!(matches!(
        matsumoto
            .submit(&matsumoto.signed(&matsumoto.move_in(&out.record, Some(&signed_at(28 * day))))),
        Ok(Effect::Change { .. })
    ));
    assert!(matches!(
        matsumoto
            .refuse(&matsumoto.signed(&matsumoto.move_in(&out.record, Some(&signed_at(35 * day))))),
        Refusal::IllegalTransition(_)
    ));
    let validity = registry_core::rules::CERTIFICATE_VALIDITY;
    let expired = signed_at(validity + 1);
    let refusal =
        matsumoto.refuse(&matsumoto.signed(&matsumoto.move_in(&out.record, Some(&expired))));
    assert!(
        matches!(refusal, Refusal::IllegalTransition(ref m) if m.contains("30 days")),
        "{refusal}"
    );
    let last_day = signed_at(validity);
    assert!(matches!(
        matsumoto.submit(&matsumoto.signed(&matsumoto.move_in(&out.record, Some(&last_day)))),
        Ok(Effect::Change { .. })
    ));
}

/// An activation certificate is used within 30 days of its signing, to the second.
#[test]
fn an_activation_certificate_expires_after_thirty_days() {
    let mut achi = Town::new(achi_code(), 10, 2_040_720_000);
    let born = achi.birth("熊谷 花子", "クマガイ ハナコ");
    let abroad = achi.next(&born.record, ChangeReason::MoveOutAbroad, "2026-11-20");
    achi.accept(&achi.signed(&abroad));
    let back = achi.next(&abroad.record, ChangeReason::MoveInFromAbroad, "2026-11-24");
    let validity = registry_core::rules::CERTIFICATE_VALIDITY;
    let with = |age: u64| {
        let signed_at = Timestamp::from_unix(now().unix() - age);
        let (_, certificate) = common::certificate(&achi.state, &back, &national(), signed_at);
        let mut change = back.clone();
        change.activation = Some(certificate);
        sign(&Event::Change(change), &[&achi.clerk, &achi.supervisor])
    };
    let refusal = achi.refuse(&with(validity + 1));
    assert!(refusal.to_string().contains("more than 30 days old"), "{refusal}");
    assert!(matches!(achi.submit(&with(validity)), Ok(Effect::Change { .. })));
}
