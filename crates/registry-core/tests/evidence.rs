//! Evidence for a record, checked against logs built in memory: receipts for a town's signed
//! events under a witnessed checkpoint, the proofs a one-operator and a two-operator change
//! yield, and every refusal — an edited event, a wrong proof or checkpoint, a missing or foreign
//! genesis, an enrolment the admin did not sign, too few or late operators — each with its exact
//! error.

use std::sync::LazyLock;

use proptest::prelude::*;
use registry_core::event::{Change, CodeBlock, Enrolment, Event, Genesis, Role};
use registry_core::evidence::{
    self, COMMITMENT_HEADER, EvidenceError, MAX_RECEIPTS, ProvenChange, TownTrust,
};
use registry_core::time::Timestamp;
use registry_domain::{
    Address, ChangeInfo, ChangeReason, Date, HistoryNumber, IdentityRecordParts, MunicipalityCode,
    Name, NameReading, PersonName, RecordStatus, ResidentCode, Sex,
};
use tlog::checkpoint::{Checkpoint, CheckpointError, Policy, sign as sign_checkpoint};
use tlog::cosignature::cosign;
use tlog::merkle::{MemoryTree, ProofError, prove_inclusion};
use tlog::note::{KeyKind, Note, NoteSignature, Signer, VerifierKey, append_signatures};
use tlog::receipt::{Receipt, ReceiptError};

const NOW: u64 = 1_795_512_600; // 2026-11-24T09:30:00Z
const ORIGIN: &str = "juki.test/registry/204072";

// The indexes of the events in the town's log ([`town`]).
const GENESIS: u64 = 0;
const CLERK: u64 = 1;
const SUPERVISOR: u64 = 2;
const BLOCK: u64 = 3;
const BIRTH: u64 = 4;
const DEATH: u64 = 5;
const OTHER_BIRTH: u64 = 6;

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
fn admin() -> Signer {
    key("admin.204072.juki.test", 2)
}
fn clerk() -> Signer {
    key("op.204072.juki.test/tanaka", 3)
}
fn supervisor() -> Signer {
    key("op.204072.juki.test/suzuki", 4)
}
fn rogue() -> Signer {
    key("admin.204072.juki.test", 5)
}
fn log_key() -> Signer {
    key(ORIGIN, 6)
}
fn witness() -> Signer {
    Signer::from_seed("witness.juki.test", KeyKind::Cosignature, [7; 32]).unwrap()
}
fn other_witness() -> Signer {
    Signer::from_seed("witness2.juki.test", KeyKind::Cosignature, [8; 32]).unwrap()
}

fn trust() -> TownTrust {
    TownTrust {
        municipality: achi(),
        origin: ORIGIN.into(),
        policy: Policy {
            log_keys: vec![log_key().verifier()],
            witnesses: vec![witness().verifier()],
            quorum: 1,
        },
        admin: admin().verifier(),
    }
}

fn sign(event: &Event, signers: &[&Signer]) -> Vec<u8> {
    let mut note = Note::new(event.to_text()).unwrap();
    for signer in signers {
        note.sign(signer).unwrap();
    }
    note.to_bytes()
}

fn time() -> Timestamp {
    Timestamp::from_unix(NOW)
}

fn genesis(municipality: MunicipalityCode, admin: VerifierKey) -> Event {
    Event::Genesis(Genesis { municipality, admin, time: time() })
}

fn enrol(municipality: MunicipalityCode, operator: &Signer, role: Role) -> Event {
    Event::Enrolment(Enrolment { municipality, operator: operator.verifier(), role, time: time() })
}

fn code_block() -> Event {
    Event::CodeBlock(CodeBlock {
        municipality: achi(),
        first: 2_040_720_000,
        count: 1000,
        time: time(),
    })
}

fn date(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn newborn(ten_digits: u64, address: &str) -> IdentityRecordParts {
    IdentityRecordParts {
        resident_code: ResidentCode::from_ten_digits(ten_digits).unwrap(),
        name: Name::new(
            PersonName::new("熊谷 花子").unwrap(),
            NameReading::new("クマガイ ハナコ").unwrap(),
            None,
        ),
        birth_date: date("2026-11-20"),
        sex: Sex::from_code(2).unwrap(),
        address: Address::new(achi(), address).unwrap(),
        individual_number: None,
        latest_change: ChangeInfo::new(ChangeReason::Birth, date("2026-11-20")),
        history_number: HistoryNumber::new(1).unwrap(),
        status: RecordStatus::Active,
    }
}

fn change(municipality: MunicipalityCode, record: IdentityRecordParts) -> Change {
    Change {
        municipality,
        record,
        previous_code: None,
        moved_to: None,
        move_out: None,
        activation: None,
        time: time(),
    }
}

fn birth() -> Change {
    change(achi(), newborn(2_040_720_007, "大字智里 1234番地"))
}

fn death() -> Change {
    let mut record = birth().record;
    record.latest_change = ChangeInfo::new(ChangeReason::Death, date("2026-11-23"));
    record.history_number = record.history_number.next().unwrap();
    record.status = RecordStatus::Closed { reason: ChangeReason::Death };
    change(achi(), record)
}

fn other_birth() -> Change {
    change(achi(), newborn(2_040_720_014, "大字駒場 5番地"))
}

/// A registry log in memory: the signed events, in order; its Merkle tree; checkpoints signed by
/// the log key and cosigned by the witness; receipts.
#[derive(Clone)]
struct Log {
    notes: Vec<Vec<u8>>,
}

impl Log {
    fn new() -> Log {
        Log { notes: Vec::new() }
    }

    fn push(&mut self, note: Vec<u8>) -> u64 {
        self.notes.push(note);
        self.notes.len() as u64 - 1
    }

    fn size(&self) -> u64 {
        self.notes.len() as u64
    }

    fn tree(&self) -> MemoryTree {
        let leaves: Vec<_> = self.notes.iter().map(|note| evidence::leaf(note)).collect();
        MemoryTree::from_leaves(&leaves)
    }

    /// The checkpoint of the whole log, under `origin`.
    fn checkpoint_of(&self, origin: &str) -> Checkpoint {
        Checkpoint::new(origin, self.size(), self.tree().root())
    }

    /// The checkpoint signed by the log key and cosigned by `witnesses`.
    fn signed(&self, checkpoint: &Checkpoint, witnesses: &[Signer]) -> Vec<u8> {
        let note = sign_checkpoint(checkpoint, &log_key()).unwrap();
        let cosignatures: Vec<NoteSignature> =
            witnesses.iter().map(|w| cosign(w, &checkpoint.to_text(), NOW + 60).unwrap()).collect();
        append_signatures(&note, &cosignatures).unwrap()
    }

    /// The witnessed checkpoint of the whole log.
    fn witnessed(&self) -> Vec<u8> {
        self.signed(&self.checkpoint_of(ORIGIN), &[witness()])
    }

    /// A receipt for the event at `index`, with its note as `extra`, under `checkpoint` (a
    /// signed checkpoint of this whole log).
    fn receipt_under(&self, index: u64, checkpoint: Vec<u8>) -> Receipt {
        Receipt {
            extra: Some(self.notes[index as usize].clone()),
            index,
            proof: prove_inclusion(index, self.size(), &self.tree()).unwrap(),
            checkpoint,
        }
    }

    fn receipt(&self, index: u64) -> Receipt {
        self.receipt_under(index, self.witnessed())
    }

    fn evidence(&self, indexes: &[u64]) -> Vec<Receipt> {
        let checkpoint = self.witnessed();
        indexes.iter().map(|&i| self.receipt_under(i, checkpoint.clone())).collect()
    }
}

/// The town's log: a genesis, a clerk and a supervisor enrolled, a code block, a birth signed by
/// the clerk, the same resident's death signed by the clerk and the supervisor, another birth.
fn town() -> Log {
    let mut log = Log::new();
    assert_eq!(log.push(sign(&genesis(achi(), admin().verifier()), &[&admin()])), GENESIS);
    assert_eq!(log.push(sign(&enrol(achi(), &clerk(), Role::Clerk), &[&admin()])), CLERK);
    assert_eq!(
        log.push(sign(&enrol(achi(), &supervisor(), Role::Supervisor), &[&admin()])),
        SUPERVISOR
    );
    assert_eq!(log.push(sign(&code_block(), &[&national()])), BLOCK);
    assert_eq!(log.push(sign(&Event::Change(birth()), &[&clerk()])), BIRTH);
    assert_eq!(log.push(sign(&Event::Change(death()), &[&clerk(), &supervisor()])), DEATH);
    assert_eq!(log.push(sign(&Event::Change(other_birth()), &[&clerk()])), OTHER_BIRTH);
    log
}

static TOWN: LazyLock<Log> = LazyLock::new(town);

fn birth_evidence() -> Vec<Receipt> {
    TOWN.evidence(&[BIRTH, CLERK, GENESIS])
}

fn death_evidence() -> Vec<Receipt> {
    TOWN.evidence(&[DEATH, CLERK, SUPERVISOR, GENESIS])
}

/// A verifier that has already checked the town's valid evidence: its checkpoint, genesis and
/// enrolments are remembered as verified.
fn warmed() -> evidence::Checked {
    let checked = evidence::Checked::default();
    evidence::verify_with(&birth_evidence(), &trust(), &checked).unwrap();
    evidence::verify_with(&death_evidence(), &trust(), &checked).unwrap();
    checked
}

/// Why `receipts` are refused, by `verify` and, the same, by `verify_with` remembering what
/// valid evidence of the town passed: no refusal is skipped by remembering.
fn refusal(receipts: &[Receipt]) -> EvidenceError {
    let error = evidence::verify(receipts, &trust()).expect_err("must be refused");
    let remembering = evidence::verify_with(receipts, &trust(), &warmed())
        .expect_err("must be refused with the checks remembered");
    assert_eq!(remembering, error);
    error
}

#[test]
fn remembering_checks_proves_what_verify_proves() {
    let checked = warmed();
    for receipts in
        [birth_evidence(), death_evidence(), TOWN.evidence(&[OTHER_BIRTH, CLERK, GENESIS])]
    {
        assert_eq!(
            evidence::verify_with(&receipts, &trust(), &checked).unwrap(),
            evidence::verify(&receipts, &trust()).unwrap()
        );
    }
}

fn not_in_log(index: u64, error: &EvidenceError) -> bool {
    matches!(error, EvidenceError::NotInLog { index: i, .. } if *i == index)
}

// Accepted evidence.

#[test]
fn a_birth_signed_by_the_clerk_is_proven() {
    let proven = evidence::verify(&birth_evidence(), &trust()).unwrap();
    assert_eq!(
        proven,
        ProvenChange {
            index: BIRTH,
            change: birth(),
            note: TOWN.notes[BIRTH as usize].clone(),
            checkpoint_size: 7,
            signers: vec![(clerk().verifier(), Role::Clerk)],
        }
    );
}

#[test]
fn a_death_signed_by_clerk_and_supervisor_is_proven() {
    let proven = evidence::verify(&death_evidence(), &trust()).unwrap();
    assert_eq!(
        proven,
        ProvenChange {
            index: DEATH,
            change: death(),
            note: TOWN.notes[DEATH as usize].clone(),
            checkpoint_size: 7,
            signers: vec![
                (clerk().verifier(), Role::Clerk),
                (supervisor().verifier(), Role::Supervisor),
            ],
        }
    );
}

#[test]
fn receipts_travel_as_text() {
    let texts: Vec<Vec<u8>> = death_evidence().iter().map(Receipt::to_bytes).collect();
    let receipts = evidence::parse(&texts[..]).unwrap();
    assert_eq!(receipts, death_evidence());
    assert_eq!(evidence::verify(&receipts, &trust()).unwrap().index, DEATH);
}

#[test]
fn the_order_of_the_authority_receipts_does_not_matter() {
    let receipts = TOWN.evidence(&[DEATH, GENESIS, SUPERVISOR, CLERK]);
    let proven = evidence::verify(&receipts, &trust()).unwrap();
    assert_eq!(
        proven.signers,
        [(clerk().verifier(), Role::Clerk), (supervisor().verifier(), Role::Supervisor)]
    );
}

#[test]
fn the_checkpoint_size_is_the_one_of_the_change_receipt() {
    // The authority receipts come from an older checkpoint (size 5, before the death), the
    // change's from the whole log.
    let older = Log { notes: TOWN.notes[..5].to_vec() };
    let mut receipts = vec![TOWN.receipt(BIRTH)];
    receipts.extend(older.evidence(&[CLERK, GENESIS]));
    assert_eq!(evidence::verify(&receipts, &trust()).unwrap().checkpoint_size, 7);
    let mut receipts = older.evidence(&[BIRTH]);
    receipts.extend(TOWN.evidence(&[CLERK, GENESIS]));
    assert_eq!(evidence::verify(&receipts, &trust()).unwrap().checkpoint_size, 5);
}

#[test]
fn up_to_max_receipts_are_accepted() {
    let mut indexes = vec![BIRTH, CLERK, GENESIS];
    indexes.resize(MAX_RECEIPTS, BLOCK);
    assert!(evidence::verify(&TOWN.evidence(&indexes), &trust()).is_ok());
    indexes.push(BLOCK);
    assert_eq!(refusal(&TOWN.evidence(&indexes)), EvidenceError::Count(MAX_RECEIPTS + 1));
}

#[test]
fn a_policy_without_witnesses_accepts_a_checkpoint_without_cosignatures() {
    let mut trust = trust();
    trust.policy.witnesses.clear();
    trust.policy.quorum = 0;
    let bare = TOWN.signed(&TOWN.checkpoint_of(ORIGIN), &[]);
    let receipts: Vec<Receipt> =
        [BIRTH, CLERK, GENESIS].iter().map(|&i| TOWN.receipt_under(i, bare.clone())).collect();
    assert_eq!(evidence::verify(&receipts, &trust).unwrap().index, BIRTH);
}

// The commitment the log holds.

#[test]
fn the_commitment_is_the_kind_and_the_hash_of_the_exact_note() {
    let note = &TOWN.notes[BIRTH as usize];
    let expected =
        format!("{COMMITMENT_HEADER}\njuki.change/v1\n{}\n", tlog::hash::sha256(note).to_base64());
    assert_eq!(evidence::commitment(note), expected.as_bytes());
    assert_eq!(evidence::leaf(note), tlog::leaf_hash(expected.as_bytes()));
    assert_eq!(COMMITMENT_HEADER, "juki.commitment/v1");
    let genesis = &TOWN.notes[GENESIS as usize];
    assert!(evidence::commitment(genesis).starts_with(b"juki.commitment/v1\njuki.registry/v1\n"));
    // Bytes that are not a note still have a commitment: their first line and their hash.
    let expected = format!("{COMMITMENT_HEADER}\n\n{}\n", tlog::hash::sha256(b"").to_base64());
    assert_eq!(evidence::commitment(b""), expected.into_bytes());
    let expected =
        format!("{COMMITMENT_HEADER}\nabc\n{}\n", tlog::hash::sha256(b"abc").to_base64());
    assert_eq!(evidence::commitment(b"abc"), expected.into_bytes());
}

// Receipts that do not prove their event is in the town's witnessed log.

#[test]
fn an_edited_event_is_not_in_the_log() {
    let original = String::from_utf8(TOWN.notes[BIRTH as usize].clone()).unwrap();
    let edited = original.replacen("大字智里 1234番地", "大字智里 1235番地", 1);
    assert_ne!(edited, original);
    let mut receipts = birth_evidence();
    receipts[0].extra = Some(edited.into_bytes());
    assert_eq!(
        refusal(&receipts),
        EvidenceError::NotInLog {
            index: BIRTH,
            error: ReceiptError::Inclusion(ProofError::Mismatch)
        }
    );

    // Signed again by the clerk, it is a valid note, but not the one in the log.
    let mut record = birth().record;
    record.address = Address::new(achi(), "大字智里 1235番地").unwrap();
    receipts[0].extra = Some(sign(&Event::Change(change(achi(), record)), &[&clerk()]));
    assert_eq!(
        refusal(&receipts),
        EvidenceError::NotInLog {
            index: BIRTH,
            error: ReceiptError::Inclusion(ProofError::Mismatch)
        }
    );
}

#[test]
fn another_event_of_the_log_under_a_receipt_is_not_in_the_log() {
    let mut receipts = birth_evidence();
    receipts[0].extra = TOWN.receipt(OTHER_BIRTH).extra;
    assert!(not_in_log(BIRTH, &refusal(&receipts)));
}

#[test]
fn a_wrong_index_or_proof_is_not_in_the_log() {
    for index in [0, 3, 5, 6, 7, 100] {
        let mut receipts = birth_evidence();
        receipts[0].index = index;
        assert!(not_in_log(index, &refusal(&receipts)), "index {index}");
    }
    let proof_len = birth_evidence()[0].proof.len();
    for at in 0..proof_len {
        let mut receipts = birth_evidence();
        receipts[0].proof[at].0[0] ^= 1;
        assert_eq!(
            refusal(&receipts),
            EvidenceError::NotInLog {
                index: BIRTH,
                error: ReceiptError::Inclusion(ProofError::Mismatch)
            },
            "proof hash {at}"
        );
    }
    let mut receipts = birth_evidence();
    receipts[0].proof.pop();
    assert!(not_in_log(BIRTH, &refusal(&receipts)));
    // A receipt later in the evidence is checked as well as the first.
    let mut receipts = birth_evidence();
    receipts[2].proof[0].0[5] ^= 0x80;
    assert!(not_in_log(GENESIS, &refusal(&receipts)));
}

#[test]
fn a_checkpoint_without_the_witness_cosignature_is_not_in_the_log() {
    let unwitnessed = TOWN.signed(&TOWN.checkpoint_of(ORIGIN), &[]);
    let mut receipts = birth_evidence();
    receipts[0] = TOWN.receipt_under(BIRTH, unwitnessed);
    assert_eq!(
        refusal(&receipts),
        EvidenceError::NotInLog {
            index: BIRTH,
            error: ReceiptError::Checkpoint(CheckpointError::QuorumNotMet { have: 0, need: 1 })
        }
    );
    // A cosignature by a witness the town's policy does not name counts for nothing.
    let foreign = TOWN.signed(&TOWN.checkpoint_of(ORIGIN), &[other_witness()]);
    receipts[0] = TOWN.receipt_under(BIRTH, foreign);
    assert_eq!(
        refusal(&receipts),
        EvidenceError::NotInLog {
            index: BIRTH,
            error: ReceiptError::Checkpoint(CheckpointError::QuorumNotMet { have: 0, need: 1 })
        }
    );
}

#[test]
fn a_checkpoint_signed_by_another_log_key_is_not_in_the_log() {
    let checkpoint = TOWN.checkpoint_of(ORIGIN);
    let note = sign_checkpoint(&checkpoint, &key(ORIGIN, 9)).unwrap();
    let cosignature = cosign(&witness(), &checkpoint.to_text(), NOW).unwrap();
    let mut receipts = birth_evidence();
    receipts[1] = TOWN.receipt_under(CLERK, append_signatures(&note, &[cosignature]).unwrap());
    assert!(not_in_log(CLERK, &refusal(&receipts)));
}

#[test]
fn a_checkpoint_of_another_origin_is_not_in_the_log() {
    let other = TOWN.signed(&TOWN.checkpoint_of("juki.test/registry/202029"), &[witness()]);
    let mut receipts = birth_evidence();
    receipts[0] = TOWN.receipt_under(BIRTH, other);
    assert_eq!(
        refusal(&receipts),
        EvidenceError::NotInLog {
            index: BIRTH,
            error: ReceiptError::Checkpoint(CheckpointError::OriginMismatch {
                expected: ORIGIN.into(),
                found: "juki.test/registry/202029".into()
            })
        }
    );
}

// Receipts that carry no usable event.

#[test]
fn a_receipt_without_extra_carries_no_event() {
    for position in 0..3 {
        let mut receipts = birth_evidence();
        receipts[position].extra = None;
        assert_eq!(refusal(&receipts), EvidenceError::NoEvent(position));
    }
}

#[test]
fn a_log_entry_that_is_not_a_juki_event_is_a_bad_event() {
    let mut log = town();
    let mut note = Note::new("hello\n").unwrap();
    note.sign(&clerk()).unwrap();
    let hello = log.push(note.to_bytes());
    let unsigned = log.push(b"juki.change/v1\n".to_vec());
    let receipts = log.evidence(&[BIRTH, hello, CLERK, GENESIS]);
    assert!(matches!(refusal(&receipts), EvidenceError::BadEvent { index, .. } if index == hello));
    let receipts = log.evidence(&[BIRTH, unsigned, CLERK, GENESIS]);
    assert!(
        matches!(refusal(&receipts), EvidenceError::BadEvent { index, .. } if index == unsigned)
    );
}

#[test]
fn a_change_with_a_bad_signature_by_an_enrolled_operator_is_a_bad_event() {
    // The clerk's signature line carries the signature of other bytes: the note is refused,
    // however many good signatures it also has.
    let mut log = town();
    let mut note = Note::new(Event::Change(death()).to_text()).unwrap();
    note.sign(&supervisor()).unwrap();
    let good = clerk().sign(&Event::Change(birth()).to_text()).unwrap();
    note.push_signature(good).unwrap();
    note.sign(&clerk()).unwrap();
    let index = log.push(note.to_bytes());
    let receipts = log.evidence(&[index, CLERK, SUPERVISOR, GENESIS]);
    assert!(matches!(refusal(&receipts), EvidenceError::BadEvent { index: i, .. } if i == index));
}

#[test]
fn evidence_of_no_or_too_many_receipts_is_refused() {
    assert_eq!(refusal(&[]), EvidenceError::Count(0));
    let mut receipts = birth_evidence();
    while receipts.len() <= MAX_RECEIPTS {
        receipts.push(TOWN.receipt(GENESIS));
    }
    assert_eq!(refusal(&receipts), EvidenceError::Count(MAX_RECEIPTS + 1));
}

#[test]
fn garbage_does_not_parse() {
    assert_eq!(
        evidence::parse(&[b"garbage".as_slice()]),
        Err(EvidenceError::Malformed { position: 0, error: ReceiptError::WrongHeader })
    );
    let mut texts: Vec<Vec<u8>> = birth_evidence().iter().map(Receipt::to_bytes).collect();
    texts[2].truncate(40);
    assert!(matches!(
        evidence::parse(&texts[..]),
        Err(EvidenceError::Malformed { position: 2, .. })
    ));
    let none: [Vec<u8>; 0] = [];
    assert_eq!(evidence::parse(&none), Ok(vec![]));
}

// The chain of authority: genesis, enrolments, operators.

#[test]
fn evidence_without_the_genesis_is_refused() {
    assert_eq!(refusal(&TOWN.evidence(&[BIRTH, CLERK])), EvidenceError::Genesis);
    assert_eq!(refusal(&TOWN.evidence(&[BIRTH, CLERK, BLOCK])), EvidenceError::Genesis);
}

#[test]
fn a_genesis_of_another_municipality_is_refused() {
    let mut log = Log::new();
    log.push(sign(&genesis(matsumoto(), admin().verifier()), &[&admin()]));
    log.push(sign(&enrol(achi(), &clerk(), Role::Clerk), &[&admin()]));
    log.push(sign(&Event::Change(birth()), &[&clerk()]));
    assert_eq!(refusal(&log.evidence(&[2, 1, 0])), EvidenceError::Genesis);
}

#[test]
fn a_genesis_naming_another_admin_key_is_refused() {
    // The log's genesis names the rogue key, which signed it and the enrolment.
    let mut log = Log::new();
    log.push(sign(&genesis(achi(), rogue().verifier()), &[&rogue()]));
    log.push(sign(&enrol(achi(), &clerk(), Role::Clerk), &[&rogue()]));
    log.push(sign(&Event::Change(birth()), &[&clerk()]));
    assert_eq!(refusal(&log.evidence(&[2, 1, 0])), EvidenceError::Genesis);
    // Even when the trusted admin key signed it too, and signed the enrolment.
    let mut log = Log::new();
    log.push(sign(&genesis(achi(), rogue().verifier()), &[&admin(), &rogue()]));
    log.push(sign(&enrol(achi(), &clerk(), Role::Clerk), &[&admin()]));
    log.push(sign(&Event::Change(birth()), &[&clerk()]));
    assert_eq!(refusal(&log.evidence(&[2, 1, 0])), EvidenceError::Genesis);
    // The town's own log, checked by a verifier told of another admin key.
    let mut other = trust();
    other.admin = rogue().verifier();
    assert_eq!(evidence::verify(&birth_evidence(), &other), Err(EvidenceError::Genesis));
}

#[test]
fn a_genesis_not_signed_by_the_admin_key_it_names_is_refused() {
    let mut log = Log::new();
    log.push(sign(&genesis(achi(), admin().verifier()), &[&rogue()]));
    log.push(sign(&enrol(achi(), &clerk(), Role::Clerk), &[&admin()]));
    log.push(sign(&Event::Change(birth()), &[&clerk()]));
    assert_eq!(refusal(&log.evidence(&[2, 1, 0])), EvidenceError::Genesis);
}

#[test]
fn a_genesis_that_is_not_at_index_zero_is_refused() {
    let mut log = Log::new();
    log.push(sign(&code_block(), &[&national()]));
    log.push(sign(&genesis(achi(), admin().verifier()), &[&admin()]));
    log.push(sign(&enrol(achi(), &clerk(), Role::Clerk), &[&admin()]));
    log.push(sign(&Event::Change(birth()), &[&clerk()]));
    assert_eq!(refusal(&log.evidence(&[3, 2, 1])), EvidenceError::Genesis);
    // Index 0 holds something, but not a genesis.
    assert_eq!(refusal(&log.evidence(&[3, 2, 1, 0])), EvidenceError::Genesis);
}

#[test]
fn an_enrolment_not_signed_by_the_admin_key_is_refused() {
    let mut log = Log::new();
    log.push(sign(&genesis(achi(), admin().verifier()), &[&admin()]));
    log.push(sign(&enrol(achi(), &clerk(), Role::Clerk), &[&rogue()]));
    log.push(sign(&enrol(achi(), &supervisor(), Role::Supervisor), &[&admin()]));
    log.push(sign(&Event::Change(birth()), &[&clerk()]));
    assert_eq!(refusal(&log.evidence(&[3, 1, 0])), EvidenceError::Enrolment(1));
    // Even when the change does not rest on it.
    assert_eq!(refusal(&log.evidence(&[3, 2, 1, 0])), EvidenceError::Enrolment(1));
}

#[test]
fn an_enrolment_in_another_municipality_is_refused() {
    let mut log = Log::new();
    log.push(sign(&genesis(achi(), admin().verifier()), &[&admin()]));
    log.push(sign(&enrol(matsumoto(), &clerk(), Role::Clerk), &[&admin()]));
    log.push(sign(&Event::Change(birth()), &[&clerk()]));
    assert_eq!(refusal(&log.evidence(&[2, 1, 0])), EvidenceError::Enrolment(1));
}

#[test]
fn a_change_signed_only_by_an_operator_whose_enrolment_is_missing_is_unsigned() {
    assert_eq!(
        refusal(&TOWN.evidence(&[BIRTH, SUPERVISOR, GENESIS])),
        EvidenceError::Unsigned { index: BIRTH, signed: 0, needed: 1 }
    );
    assert_eq!(
        refusal(&TOWN.evidence(&[BIRTH, GENESIS])),
        EvidenceError::Unsigned { index: BIRTH, signed: 0, needed: 1 }
    );
    // A key never enrolled, even one named like an operator.
    let mut log = town();
    let stranger = key("op.204072.juki.test/tanaka", 10);
    let index = log.push(sign(&Event::Change(other_birth()), &[&stranger]));
    assert_eq!(
        refusal(&log.evidence(&[index, CLERK, SUPERVISOR, GENESIS])),
        EvidenceError::Unsigned { index, signed: 0, needed: 1 }
    );
}

#[test]
fn a_death_with_one_operator_is_unsigned() {
    assert_eq!(
        refusal(&TOWN.evidence(&[DEATH, CLERK, GENESIS])),
        EvidenceError::Unsigned { index: DEATH, signed: 1, needed: 2 }
    );
    assert_eq!(
        refusal(&TOWN.evidence(&[DEATH, SUPERVISOR, GENESIS])),
        EvidenceError::Unsigned { index: DEATH, signed: 1, needed: 2 }
    );
    // A death in the log signed by the clerk alone, with both enrolments.
    let mut log = town();
    let index = log.push(sign(&Event::Change(death()), &[&clerk()]));
    assert_eq!(
        refusal(&log.evidence(&[index, CLERK, SUPERVISOR, GENESIS])),
        EvidenceError::Unsigned { index, signed: 1, needed: 2 }
    );
}

#[test]
fn the_same_operator_signing_twice_counts_once() {
    let mut log = town();
    let index = log.push(sign(&Event::Change(death()), &[&clerk(), &clerk()]));
    assert_eq!(
        refusal(&log.evidence(&[index, CLERK, SUPERVISOR, GENESIS])),
        EvidenceError::Unsigned { index, signed: 1, needed: 2 }
    );
}

#[test]
fn one_key_enrolled_under_two_names_counts_once() {
    let mut log = town();
    let alias = key("op.204072.juki.test/tanaka2", 3);
    assert_eq!(alias.verifier().public_key(), clerk().verifier().public_key());
    let enrolled = log.push(sign(&enrol(achi(), &alias, Role::Supervisor), &[&admin()]));
    let index = log.push(sign(&Event::Change(death()), &[&clerk(), &alias]));
    assert_eq!(
        refusal(&log.evidence(&[index, CLERK, enrolled, GENESIS])),
        EvidenceError::Unsigned { index, signed: 1, needed: 2 }
    );
}

#[test]
fn an_operator_enrolled_after_the_change_is_refused() {
    let mut log = Log::new();
    log.push(sign(&genesis(achi(), admin().verifier()), &[&admin()]));
    log.push(sign(&enrol(achi(), &clerk(), Role::Clerk), &[&admin()]));
    log.push(sign(&code_block(), &[&national()]));
    log.push(sign(&Event::Change(birth()), &[&clerk()]));
    log.push(sign(&Event::Change(death()), &[&clerk(), &supervisor()]));
    log.push(sign(&enrol(achi(), &supervisor(), Role::Supervisor), &[&admin()]));
    assert_eq!(
        refusal(&log.evidence(&[4, 1, 5, 0])),
        EvidenceError::EnrolledAfter {
            key: supervisor().name().to_owned(),
            enrolled: 5,
            change: 4
        }
    );
    // The one-operator birth before it is still proven.
    assert_eq!(evidence::verify(&log.evidence(&[3, 1, 0]), &trust()).unwrap().index, 3);
}

#[test]
fn an_operator_enrolled_at_the_change_index_of_another_tree_is_refused() {
    // Two trees signed by the log key and cosigned (a split view): in one the supervisor's
    // enrolment is at index 4, in the other the death. An enrolment is never before a change
    // at the same index.
    let mut first = Log::new();
    first.push(sign(&genesis(achi(), admin().verifier()), &[&admin()]));
    first.push(sign(&enrol(achi(), &clerk(), Role::Clerk), &[&admin()]));
    first.push(sign(&code_block(), &[&national()]));
    first.push(sign(&Event::Change(birth()), &[&clerk()]));
    let mut second = first.clone();
    first.push(sign(&enrol(achi(), &supervisor(), Role::Supervisor), &[&admin()]));
    second.push(sign(&Event::Change(death()), &[&clerk(), &supervisor()]));
    let receipts = vec![second.receipt(4), first.receipt(1), first.receipt(4), first.receipt(0)];
    assert_eq!(
        refusal(&receipts),
        EvidenceError::EnrolledAfter {
            key: supervisor().name().to_owned(),
            enrolled: 4,
            change: 4
        }
    );
}

#[test]
fn evidence_that_does_not_start_with_a_change_is_refused() {
    assert_eq!(refusal(&TOWN.evidence(&[CLERK, GENESIS])), EvidenceError::NotAChange(CLERK));
    assert_eq!(refusal(&TOWN.evidence(&[GENESIS])), EvidenceError::NotAChange(GENESIS));
    assert_eq!(refusal(&TOWN.evidence(&[BLOCK, CLERK, GENESIS])), EvidenceError::NotAChange(BLOCK));
    // The change is there, but not first.
    assert_eq!(refusal(&TOWN.evidence(&[CLERK, BIRTH, GENESIS])), EvidenceError::NotAChange(CLERK));
}

#[test]
fn a_change_of_another_municipality_is_refused() {
    let mut log = town();
    let index = log.push(sign(&Event::Change(change(matsumoto(), birth().record)), &[&clerk()]));
    assert_eq!(refusal(&log.evidence(&[index, CLERK, GENESIS])), EvidenceError::NotAChange(index));
}

// Any edit to any event breaks its proof.

static DEATH_EVIDENCE: LazyLock<Vec<Receipt>> = LazyLock::new(death_evidence);
static TRUST: LazyLock<TownTrust> = LazyLock::new(trust);

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn flipping_any_byte_of_any_event_breaks_the_evidence(
        which in 0..4usize,
        at in any::<prop::sample::Index>(),
        mask in 1..=255u8,
    ) {
        let mut receipts = DEATH_EVIDENCE.clone();
        let extra = receipts[which].extra.as_mut().unwrap();
        let at = at.index(extra.len());
        extra[at] ^= mask;
        let index = receipts[which].index;
        prop_assert_eq!(
            evidence::verify(&receipts, &TRUST),
            Err(EvidenceError::NotInLog {
                index,
                error: ReceiptError::Inclusion(ProofError::Mismatch)
            })
        );
    }
}

#[test]
fn the_town_of_evidence_is_the_one_its_change_names() {
    assert_eq!(evidence::town_of(&birth_evidence()), Some(achi()));
    assert_eq!(evidence::town_of(&[]), None);
    let mut without_event = birth_evidence();
    without_event[0].extra = None;
    assert_eq!(evidence::town_of(&without_event), None);
}

#[test]
fn a_sensitive_change_signed_by_two_clerks_is_not_proven() {
    let mut log = Log::new();
    log.push(sign(&genesis(achi(), admin().verifier()), &[&admin()]));
    let first = log.push(sign(&enrol(achi(), &clerk(), Role::Clerk), &[&admin()]));
    let second = log.push(sign(&enrol(achi(), &rogue(), Role::Clerk), &[&admin()]));
    log.push(sign(&code_block(), &[&national()]));
    log.push(sign(&Event::Change(birth()), &[&clerk()]));
    let death = log.push(sign(&Event::Change(death()), &[&clerk(), &rogue()]));
    let refused = evidence::verify(&log.evidence(&[death, first, second, GENESIS]), &trust());
    assert_eq!(refused, Err(EvidenceError::NoSupervisor(death)));
}

/// One national-signed event (a withdrawal, a notice, a code block) is proven by its receipt
/// alone: in the town's witnessed log, of that town, signed by the national key.
#[test]
fn an_event_of_the_national_key_is_proven_by_one_receipt() {
    let key = national().verifier();
    let (index, event) =
        evidence::verify_national(&TOWN.receipt(BLOCK), &trust(), &key).expect("proven");
    assert_eq!((index, event), (BLOCK, code_block()));
    // A change signed by a clerk is not the national key's.
    let error = evidence::verify_national(&TOWN.receipt(BIRTH), &trust(), &key).unwrap_err();
    assert!(
        matches!(&error, EvidenceError::BadEvent { index: BIRTH, detail }
            if detail.contains("not signed by the national key")),
        "{error}"
    );
    // Another town's event, even in this log under its witnessed checkpoint.
    let mut log = town();
    let foreign = Event::CodeBlock(CodeBlock {
        municipality: matsumoto(),
        first: 2_020_290_000,
        count: 1000,
        time: time(),
    });
    let at = log.push(sign(&foreign, &[&national()]));
    let error = evidence::verify_national(&log.receipt(at), &trust(), &key).unwrap_err();
    assert!(
        matches!(&error, EvidenceError::BadEvent { detail, .. } if detail.contains("202029")),
        "{error}"
    );
    // An edited event is not in the log.
    let mut edited = TOWN.receipt(BLOCK);
    edited.extra = Some(sign(&foreign, &[&national()]));
    let error = evidence::verify_national(&edited, &trust(), &key).unwrap_err();
    assert!(not_in_log(BLOCK, &error), "{error}");
    let mut bare = TOWN.receipt(BLOCK);
    bare.extra = None;
    assert!(matches!(
        evidence::verify_national(&bare, &trust(), &key),
        Err(EvidenceError::NoEvent(0))
    ));
}
