//! The store as the network uses it: replicas applying another registry's events all or
//! nothing with the root checked before commit, the kept right edge of the log, the exact events
//! for upstream, the pool left, and moves between two towns stored, replayed and verified.

use registry_core::event::{Change, CodeBlock, Enrolment, Event, Genesis, Role};
use registry_core::moves::{MoveNotice, MoveOutCertificate, note_hash};
use registry_core::rules::{Effect, Refusal};
use registry_core::time::Timestamp;
use registry_domain::{
    Address, ChangeInfo, ChangeReason, Date, HistoryNumber, IdentityRecordParts, MunicipalityCode,
    Name, NameReading, PersonName, ReasonFamily, RecordStatus, ResidentCode, Sex,
};
use registry_store::{Registry, StoreError, commitment};
use tlog::merkle::MemoryTree;
use tlog::note::{KeyKind, Note, Signer};

const NOW: u64 = 1_795_512_600;

fn key(name: &str, seed: u8) -> Signer {
    Signer::from_seed(name, KeyKind::Ed25519, [seed; 32]).unwrap()
}

fn national() -> Signer {
    key("national.juki.test", 1)
}

fn now() -> Timestamp {
    Timestamp::from_unix(NOW)
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

/// The root of the log over these events, computed by tlog's own recursion from the public
/// entries (commitments), independently of the store's kept right edge.
fn independent_root(notes: &[Vec<u8>]) -> tlog::Hash {
    let leaves: Vec<tlog::Hash> = notes.iter().map(|n| tlog::leaf_hash(&commitment(n))).collect();
    MemoryTree::from_leaves(&leaves).root()
}

struct Town {
    _dir: tempfile::TempDir,
    registry: Registry,
    code: MunicipalityCode,
    clerk: Signer,
    supervisor: Signer,
    next_base: u64,
}

impl Town {
    fn new(code: &str, seed: u8, first: u64) -> Town {
        let code = MunicipalityCode::parse(code).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let registry =
            Registry::create(&dir.path().join("registry.db"), code, &national().verifier())
                .unwrap();
        let mut town = Town {
            _dir: dir,
            registry,
            code,
            clerk: key(&format!("op.{code}.juki.test/tanaka"), seed + 1),
            supervisor: key(&format!("op.{code}.juki.test/suzuki"), seed + 2),
            next_base: first,
        };
        let admin = key(&format!("admin.{code}.juki.test"), seed);
        let genesis =
            Event::Genesis(Genesis { municipality: code, admin: admin.verifier(), time: now() });
        town.submit(&sign(&genesis, &[&admin]));
        for (operator, role) in
            [(town.clerk.verifier(), Role::Clerk), (town.supervisor.verifier(), Role::Supervisor)]
        {
            let enrol =
                Event::Enrolment(Enrolment { municipality: code, operator, role, time: now() });
            town.submit(&sign(&enrol, &[&admin]));
        }
        let block =
            Event::CodeBlock(CodeBlock { municipality: code, first, count: 1000, time: now() });
        town.submit(&sign(&block, &[&national()]));
        town
    }

    /// An empty replica of this town's registry, elsewhere.
    fn replica(&self) -> (tempfile::TempDir, Registry) {
        let dir = tempfile::tempdir().unwrap();
        let registry =
            Registry::create(&dir.path().join("replica.db"), self.code, &national().verifier())
                .unwrap();
        (dir, registry)
    }

    fn submit(&mut self, note: &[u8]) -> Effect {
        self.registry.submit(note, now()).unwrap_or_else(|e| panic!("refused: {e}")).effect
    }

    fn signed(&self, change: &Change) -> Vec<u8> {
        sign(&Event::Change(change.clone()), &[&self.clerk, &self.supervisor])
    }

    fn birth(&mut self, name: &str) -> IdentityRecordParts {
        self.next_base += 3;
        let born = Date::parse("1990-04-01").unwrap();
        let record = IdentityRecordParts {
            resident_code: ResidentCode::from_ten_digits(self.next_base).unwrap(),
            name: Name::new(
                PersonName::new(name).unwrap(),
                NameReading::new("クマガイ ハナコ").unwrap(),
                None,
            ),
            birth_date: born,
            sex: Sex::Female,
            address: Address::new(self.code, "大字智里 1番地").unwrap(),
            individual_number: None,
            latest_change: ChangeInfo::new(ChangeReason::Birth, born),
            history_number: HistoryNumber::FIRST,
            status: RecordStatus::Active,
        };
        let change = Change {
            municipality: self.code,
            record: record.clone(),
            previous_code: None,
            moved_to: None,
            move_out: None,
            activation: None,
            time: now(),
        };
        self.submit(&self.signed(&change));
        record
    }

    fn next(&self, record: &IdentityRecordParts, reason: ChangeReason) -> Change {
        let mut record = record.clone();
        record.latest_change = ChangeInfo::new(reason, Date::parse("2026-11-20").unwrap());
        record.history_number = record.history_number.next().unwrap();
        if reason.family() == ReasonFamily::Deletion {
            record.status = RecordStatus::Closed { reason };
        }
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

    fn all_events(&self) -> Vec<Vec<u8>> {
        all(&self.registry)
    }
}

/// Every event of a registry's log, as signed.
fn all(registry: &Registry) -> Vec<Vec<u8>> {
    registry.events(0, registry.log_size().unwrap()).unwrap()
}

/// A town with a few days of events: births, a move within, a death, a code change.
fn busy_town() -> Town {
    let mut town = Town::new("204072", 10, 2_040_720_000);
    let a = town.birth("熊谷 花子");
    let b = town.birth("熊谷 一郎");
    town.birth("原 三郎");
    let mut moved = town.next(&a, ChangeReason::MoveWithin);
    moved.record.address = Address::new(town.code, "大字駒場 5番地").unwrap();
    town.submit(&town.signed(&moved));
    town.submit(&town.signed(&town.next(&b, ChangeReason::Death)));
    let mut recoded = town.next(&moved.record, ChangeReason::ResidentCodeChange);
    recoded.record.resident_code = ResidentCode::from_ten_digits(2_040_720_500).unwrap();
    recoded.previous_code = Some(a.resident_code);
    town.submit(&town.signed(&recoded));
    town
}

#[test]
fn a_replica_applies_the_log_in_batches_and_reaches_the_same_root() {
    let town = busy_town();
    let events = town.all_events();
    let size = events.len() as u64;
    assert_eq!(size, 10);
    assert_eq!(town.registry.log_root().unwrap(), independent_root(&events));

    let (_dir, mut replica) = town.replica();
    assert_eq!(replica.log_size().unwrap(), 0);
    assert_eq!(replica.log_root().unwrap(), tlog::EMPTY_ROOT);
    for (from, to) in [(0usize, 4usize), (4, 10)] {
        let batch: Vec<&[u8]> = events[from..to].iter().map(Vec::as_slice).collect();
        let pending = replica.replicate(&batch).unwrap();
        // The caller checks size and root against the sender's checkpoint before committing.
        assert_eq!(pending.size(), to as u64);
        assert_eq!(pending.root(), independent_root(&events[..to]));
        assert_eq!(pending.applied().len(), to - from);
        assert_eq!(pending.applied()[0].index, from as u64);
        let replicated = pending.commit().unwrap();
        assert_eq!(
            (replicated.size, replicated.root),
            (to as u64, independent_root(&events[..to]))
        );
        assert_eq!(replica.log_root().unwrap(), replicated.root);
    }
    assert_eq!(replica.log_root().unwrap(), town.registry.log_root().unwrap());
    assert_eq!(all(&replica), events);
    assert_eq!(replica.verify().unwrap(), vec![], "the replica's tables are what its log says");
    let code = ResidentCode::from_ten_digits(2_040_720_500).unwrap();
    assert_eq!(replica.resident(code).unwrap(), town.registry.resident(code).unwrap());
}

#[test]
fn a_whole_log_in_one_batch_is_checked_by_the_keys_it_establishes() {
    // The batch's signatures are checked together against the keys known when it starts
    // (none: no genesis yet) and the keys its own genesis and enrolments name; which key may
    // sign what is decided by the rules in log order, and the outcome is the town's.
    let town = busy_town();
    let events = town.all_events();
    let (_dir, mut replica) = town.replica();
    let batch: Vec<&[u8]> = events.iter().map(Vec::as_slice).collect();
    let replicated = replica.replicate(&batch).unwrap().commit().unwrap();
    assert_eq!(replicated.root, town.registry.log_root().unwrap());
    assert_eq!(replica.verify().unwrap(), vec![]);

    // A change signed by a key the town never enrolled: refused, nothing applied.
    let stranger = key("op.204072.juki.test/stranger", 99);
    let code = ResidentCode::from_ten_digits(2_040_720_500).unwrap();
    let current = town.registry.resident(code).unwrap().unwrap();
    let forged = sign(&Event::Change(town.next(&current, ChangeReason::MoveWithin)), &[&stranger]);
    let size = replica.log_size().unwrap();
    let error = replica.replicate(&[&forged]).err().expect("refused");
    assert!(matches!(error, StoreError::BatchRefused { position: 0, .. }), "{error}");
    assert_eq!(replica.log_size().unwrap(), size);
}

/// A birth in `code` of the resident with ten-digit base `base`, signed by `signer` alone.
fn birth_signed_by(code: MunicipalityCode, base: u64, signer: &Signer) -> Vec<u8> {
    let born = Date::parse("1990-04-01").unwrap();
    let record = IdentityRecordParts {
        resident_code: ResidentCode::from_ten_digits(base).unwrap(),
        name: Name::new(
            PersonName::new("熊谷 花子").unwrap(),
            NameReading::new("クマガイ ハナコ").unwrap(),
            None,
        ),
        birth_date: born,
        sex: Sex::Female,
        address: Address::new(code, "大字智里 1番地").unwrap(),
        individual_number: None,
        latest_change: ChangeInfo::new(ChangeReason::Birth, born),
        history_number: HistoryNumber::FIRST,
        status: RecordStatus::Active,
    };
    let change = Change {
        municipality: code,
        record,
        previous_code: None,
        moved_to: None,
        move_out: None,
        activation: None,
        time: now(),
    };
    sign(&Event::Change(change), &[signer])
}

#[test]
fn a_key_enrolled_later_in_a_batch_signs_nothing_before_its_enrolment() {
    // The batch check verifies the signature below with the others (the batch's enrolment
    // names its key); authority still follows the log's order.
    let code = MunicipalityCode::parse("204072").unwrap();
    let admin = key("admin.204072.juki.test", 30);
    let (early, late) = (key("op.204072.juki.test/early", 31), key("op.204072.juki.test/late", 32));
    let genesis = sign(
        &Event::Genesis(Genesis { municipality: code, admin: admin.verifier(), time: now() }),
        &[&admin],
    );
    let enrol = |operator: &Signer| {
        let operator = operator.verifier();
        let enrolment = Enrolment { municipality: code, operator, role: Role::Clerk, time: now() };
        sign(&Event::Enrolment(enrolment), &[&admin])
    };
    let block = sign(
        &Event::CodeBlock(CodeBlock {
            municipality: code,
            first: 2_040_720_000,
            count: 1000,
            time: now(),
        }),
        &[&national()],
    );
    let birth = birth_signed_by(code, 2_040_720_003, &late);
    let dir = tempfile::tempdir().unwrap();
    let mut replica =
        Registry::create(&dir.path().join("replica.db"), code, &national().verifier()).unwrap();

    let too_early = [&genesis, &enrol(&early), &block, &birth, &enrol(&late)];
    let batch: Vec<&[u8]> = too_early.iter().map(|n| n.as_slice()).collect();
    let error = replica.replicate(&batch).err().expect("refused");
    assert!(
        matches!(
            &error,
            StoreError::BatchRefused { position: 3, index: 3, refusal: Refusal::Unsigned(_) }
        ),
        "{error}"
    );
    assert_eq!(replica.log_size().unwrap(), 0);

    let in_order = [&genesis, &enrol(&early), &block, &enrol(&late), &birth];
    let batch: Vec<&[u8]> = in_order.iter().map(|n| n.as_slice()).collect();
    replica.replicate(&batch).unwrap().commit().unwrap();
    assert_eq!(replica.log_size().unwrap(), 5);
    assert_eq!(replica.verify().unwrap(), vec![]);
}

#[test]
fn replicas_apply_old_events_that_admission_would_call_stale() {
    let town = busy_town();
    let events = town.all_events();
    let (_dir, mut replica) = town.replica();
    let batch: Vec<&[u8]> = events[..5].iter().map(Vec::as_slice).collect();
    replica.replicate(&batch).unwrap().commit().unwrap();
    // The sixth event is a change signed at NOW; a day later, submit refuses it as stale, and
    // replicate applies it.
    let later = Timestamp::from_unix(NOW + 86_400);
    let error = replica.submit(&events[5], later).unwrap_err();
    assert!(error.to_string().contains("sign it again"), "{error}");
    replica.replicate(&[&events[5]]).unwrap().commit().unwrap();
    assert_eq!(replica.log_size().unwrap(), 6);
}

#[test]
fn a_refused_event_in_the_middle_of_a_batch_leaves_nothing() {
    let town = busy_town();
    let events = town.all_events();
    let (_dir, mut replica) = town.replica();
    let first: Vec<&[u8]> = events[..3].iter().map(Vec::as_slice).collect();
    replica.replicate(&first).unwrap().commit().unwrap();
    let root = replica.log_root().unwrap();
    let unchanged = |replica: &mut Registry| {
        assert_eq!(replica.log_size().unwrap(), 3);
        assert_eq!(replica.log_root().unwrap(), root);
        assert_eq!(all(replica), events[..3].to_vec());
        assert_eq!(replica.verify().unwrap(), vec![]);
        let residents: i64 = replica
            .connection()
            .query_row("SELECT count(*) FROM residents", [], |r| r.get(0))
            .unwrap();
        assert_eq!(residents, 0);
    };

    // The fifth event of the rest (position 4) rewritten: its signature no longer verifies.
    let mut tampered = events[7].clone();
    let at = tampered.windows(6).position(|w| w == "大字".as_bytes()).unwrap();
    tampered[at + 3..at + 6].copy_from_slice("小".as_bytes());
    let mut batch: Vec<&[u8]> = events[3..].iter().map(Vec::as_slice).collect();
    batch[4] = &tampered;
    let error = replica.replicate(&batch).err().expect("refused");
    match &error {
        StoreError::BatchRefused { position: 4, index: 7, .. } => {}
        other => panic!("{other}"),
    }
    let message = error.to_string();
    assert!(message.starts_with("event 4 of the batch (log index 7) is refused"), "{message}");
    assert!(message.contains("nothing of the batch was applied"), "{message}");
    assert!(!message.contains("熊谷") && !message.contains("駒場"), "{message}");
    unchanged(&mut replica);

    // An event missing from the batch: the next one does not follow.
    let gap: Vec<&[u8]> = events[4..].iter().map(Vec::as_slice).collect();
    let error = replica.replicate(&gap).err().expect("refused");
    assert!(matches!(error, StoreError::BatchRefused { position: 0, index: 3, .. }), "{error}");
    unchanged(&mut replica);

    // Another town's event.
    let other = Town::new("202029", 20, 2_020_290_000);
    let foreign = other.all_events();
    let error = replica.replicate(&[&events[3], &foreign[1]]).err().expect("refused");
    assert!(matches!(error, StoreError::BatchRefused { position: 1, index: 4, .. }), "{error}");
    assert!(error.to_string().contains("municipality 202029"), "{error}");
    unchanged(&mut replica);

    // A batch whose root the caller does not like is dropped, not committed.
    let rest: Vec<&[u8]> = events[3..].iter().map(Vec::as_slice).collect();
    let pending = replica.replicate(&rest).unwrap();
    assert_eq!(pending.size(), 10);
    drop(pending);
    unchanged(&mut replica);
    replica.replicate(&rest).unwrap().commit().unwrap();
    assert_eq!(replica.log_root().unwrap(), town.registry.log_root().unwrap());
}

#[test]
fn the_kept_right_edge_gives_the_root_at_every_size_and_verify_checks_it() {
    let mut town = Town::new("204072", 10, 2_040_720_000);
    for n in 0..6 {
        town.birth("熊谷 花子");
        let events = town.all_events();
        assert_eq!(town.registry.log_root().unwrap(), independent_root(&events), "birth {n}");
    }
    // submit_many keeps it too, in one transaction.
    let a = town.birth("熊谷 一郎");
    let mut moved = town.next(&a, ChangeReason::MoveWithin);
    moved.record.address = Address::new(town.code, "大字駒場 5番地").unwrap();
    let notes = [town.signed(&moved), b"not a note".to_vec()];
    let batch: Vec<&[u8]> = notes.iter().map(Vec::as_slice).collect();
    let results = town.registry.submit_many(&batch, now()).unwrap();
    assert!(results[0].is_ok() && results[1].is_err());
    assert_eq!(town.registry.log_root().unwrap(), independent_root(&town.all_events()));
    assert_eq!(town.registry.verify().unwrap(), vec![]);

    // Deleted behind the log's back: named, rebuilt from the entries meanwhile, and written
    // again by the next append.
    town.registry.connection().execute("DELETE FROM meta WHERE key = 'frontier'", []).unwrap();
    assert_eq!(town.registry.log_root().unwrap(), independent_root(&town.all_events()));
    let found: Vec<String> =
        town.registry.verify().unwrap().iter().map(ToString::to_string).collect();
    assert_eq!(found, vec!["the meta table lacks the log's right edge (frontier)".to_owned()]);
    town.birth("原 三郎");
    assert_eq!(town.registry.log_root().unwrap(), independent_root(&town.all_events()));
    let kept: i64 = town
        .registry
        .connection()
        .query_row("SELECT count(*) FROM meta WHERE key = 'frontier'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, 1);

    // Changed behind the log's back: verify names it.
    let size = town.registry.log_size().unwrap();
    let other = {
        let mut frontier = tlog::merkle::Frontier::new();
        for _ in 0..size {
            frontier.push(tlog::hash::sha256(b"forged"));
        }
        frontier.to_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    town.registry
        .connection()
        .execute("UPDATE meta SET value = ?1 WHERE key = 'frontier'", [other])
        .unwrap();
    let found: Vec<String> =
        town.registry.verify().unwrap().iter().map(ToString::to_string).collect();
    assert_eq!(
        found,
        vec![
            "the log's right edge kept in the meta table (frontier) differs from the log's entries"
        ]
    );
}

#[test]
fn events_pool_and_current_events_are_read_as_stored() {
    let mut town = busy_town();
    let size = town.registry.log_size().unwrap();
    assert_eq!(town.registry.events(3, 5).unwrap(), town.all_events()[3..5].to_vec());
    assert_eq!(town.registry.events(size, size).unwrap(), Vec::<Vec<u8>>::new());
    for (from, to) in [(0, size + 1), (5, 4), (size + 1, size + 2)] {
        let error = town.registry.events(from, to).unwrap_err();
        assert!(matches!(error, StoreError::Range { .. }), "{error}");
        assert!(error.to_string().contains(&format!("holds {size} events")), "{error}");
    }

    // 1000 codes; three births and a code change have used four (the replaced code is retired
    // for good, and the new one came from the pool too).
    assert_eq!(town.registry.pool_remaining().unwrap(), 996);
    let more = Event::CodeBlock(CodeBlock {
        municipality: town.code,
        first: 9_999_999_990,
        count: 10,
        time: now(),
    });
    town.submit(&sign(&more, &[&national()]));
    assert_eq!(town.registry.pool_remaining().unwrap(), 1006);
    // A person moving in from abroad with a code from another town's pool uses none of ours;
    // the national signer's activation certificate says the code is active nowhere, and it is
    // consumed here.
    town.next_base = 2_020_290_100;
    let person = town.birth_record_for_test();
    let mut record = town.next(&person, ChangeReason::MoveInFromAbroad).record;
    record.history_number = HistoryNumber::FIRST;
    record.status = RecordStatus::Active;
    let closed_abroad = tlog::hash::sha256(b"the move abroad that closed the record in 202029");
    let activation = registry_core::moves::ActivationCertificate {
        municipality: town.code,
        resident: record.resident_code,
        from: MunicipalityCode::parse("202029").unwrap(),
        after: closed_abroad,
        time: now(),
    };
    let mut change = Change {
        municipality: town.code,
        record: record.clone(),
        previous_code: None,
        moved_to: None,
        move_out: None,
        activation: None,
        time: now(),
    };
    let refused = town.registry.submit(&town.signed(&change), now()).unwrap_err();
    assert!(refused.to_string().contains("activation certificate"), "{refused}");
    let mut certificate = Note::new(activation.to_text()).unwrap();
    certificate.sign(&national()).unwrap();
    change.activation = Some(String::from_utf8(certificate.to_bytes()).unwrap());
    let note = town.signed(&change);
    town.submit(&note);
    assert_eq!(town.registry.pool_remaining().unwrap(), 1006);
    assert!(town.registry.move_out_used(&closed_abroad).unwrap());

    // The current event of a resident is the exact note that made the record.
    assert_eq!(town.registry.current_event(record.resident_code).unwrap(), Some((size + 1, note)));
    let unknown = ResidentCode::from_ten_digits(2_040_720_999).unwrap();
    assert_eq!(town.registry.current_event(unknown).unwrap(), None);
}

impl Town {
    /// A record of a person from elsewhere (not submitted).
    fn birth_record_for_test(&mut self) -> IdentityRecordParts {
        self.next_base += 3;
        let born = Date::parse("1980-01-01").unwrap();
        IdentityRecordParts {
            resident_code: ResidentCode::from_ten_digits(self.next_base).unwrap(),
            name: Name::new(
                PersonName::new("井原 健").unwrap(),
                NameReading::new("イハラ ケン").unwrap(),
                None,
            ),
            birth_date: born,
            sex: Sex::Male,
            address: Address::new(self.code, "大字駒場 10番地").unwrap(),
            individual_number: None,
            latest_change: ChangeInfo::new(ChangeReason::Birth, born),
            history_number: HistoryNumber::FIRST,
            status: RecordStatus::Active,
        }
    }
}

#[test]
fn moves_between_two_registries_are_stored_replayed_and_verified() {
    let mut achi = Town::new("204072", 10, 2_040_720_000);
    let mut matsumoto = Town::new("202029", 20, 2_020_290_000);
    let hanako = achi.birth("熊谷 花子");
    let mut out = achi.next(&hanako, ChangeReason::MoveOut);
    out.moved_to = Some(matsumoto.code);
    let out_note = achi.signed(&out);
    achi.submit(&out_note);

    // What the national node reads to certify: the current event of the resident.
    let (_, current) = achi.registry.current_event(hanako.resident_code).unwrap().unwrap();
    assert_eq!(current, out_note);
    let certificate = MoveOutCertificate::from_move_out(&current, &out, now()).unwrap();
    let signed = sign_text(&certificate.to_text(), &[&national()]);

    let mut record = out.record.clone();
    record.address = Address::new(matsumoto.code, "中央1丁目 2番3号").unwrap();
    record.latest_change =
        ChangeInfo::new(ChangeReason::MoveIn, Date::parse("2026-11-22").unwrap());
    record.history_number = HistoryNumber::FIRST;
    record.status = RecordStatus::Active;
    let move_in = Change {
        municipality: matsumoto.code,
        record,
        previous_code: None,
        moved_to: None,
        move_out: Some(String::from_utf8(signed).unwrap()),
        activation: None,
        time: now(),
    };
    let move_in_note = matsumoto.signed(&move_in);
    assert!(!matsumoto.registry.move_out_used(&certificate.event).unwrap());
    matsumoto.submit(&move_in_note);
    assert!(matsumoto.registry.move_out_used(&certificate.event).unwrap());
    let error = matsumoto.registry.submit(&move_in_note, now()).unwrap_err();
    assert!(error.to_string().contains("refused: illegal change"), "{error}");

    let notice = Event::MoveNotice(MoveNotice {
        municipality: achi.code,
        resident: hanako.resident_code,
        to: matsumoto.code,
        event: certificate.event,
        move_in: note_hash(&move_in_note),
        time: now(),
    });
    let notice_note = sign(&notice, &[&national()]);
    assert!(!achi.registry.move_notice_recorded(&certificate.event).unwrap());
    achi.submit(&notice_note);
    assert!(achi.registry.move_notice_recorded(&certificate.event).unwrap());
    let error = achi.registry.submit(&notice_note, now()).unwrap_err();
    assert!(error.to_string().contains("already recorded"), "{error}");
    assert_eq!(
        achi.registry.resident(hanako.resident_code).unwrap().unwrap().status,
        RecordStatus::Closed { reason: ChangeReason::MoveOut }
    );

    // Both verify clean, and replicas of both rebuild the same tables from the events.
    for town in [&achi, &matsumoto] {
        assert_eq!(town.registry.verify().unwrap(), vec![]);
        let (_dir, mut replica) = town.replica();
        let events = town.all_events();
        let batch: Vec<&[u8]> = events.iter().map(Vec::as_slice).collect();
        replica.replicate(&batch).unwrap().commit().unwrap();
        assert_eq!(replica.verify().unwrap(), vec![]);
        assert_eq!(replica.log_root().unwrap(), town.registry.log_root().unwrap());
        assert_eq!(replica.move_out_used(&certificate.event).unwrap(), town.code == matsumoto.code);
        assert_eq!(
            replica.move_notice_recorded(&certificate.event).unwrap(),
            town.code == achi.code
        );
    }

    // The move tables edited behind the log's back are named.
    let code = hanako.resident_code;
    // Any column: the event that consumed the certificate.
    let conn = matsumoto.registry.connection();
    conn.execute("UPDATE move_ins SET event_idx = event_idx + 1", []).unwrap();
    let found: Vec<String> =
        matsumoto.registry.verify().unwrap().iter().map(ToString::to_string).collect();
    assert_eq!(
        found,
        vec![
            format!("resident {code}: the move_ins table has a row the log did not make"),
            format!(
                "resident {code}: the move_ins table lacks a row the log made, or it was altered"
            ),
        ]
    );
    let conn = matsumoto.registry.connection();
    conn.execute("UPDATE move_ins SET event_idx = event_idx - 1", []).unwrap();
    assert_eq!(matsumoto.registry.verify().unwrap(), vec![]);
    matsumoto.registry.connection().execute("DELETE FROM move_ins", []).unwrap();
    let found: Vec<String> =
        matsumoto.registry.verify().unwrap().iter().map(ToString::to_string).collect();
    assert_eq!(
        found,
        vec![format!(
            "resident {code}: the move_ins table lacks a row the log made, or it was altered"
        )]
    );
    achi.registry
        .connection()
        .execute("UPDATE move_notices SET to_municipality = '203611'", [])
        .unwrap();
    let found: Vec<String> =
        achi.registry.verify().unwrap().iter().map(ToString::to_string).collect();
    assert_eq!(
        found,
        vec![
            format!("resident {code}: the move_notices table has a row the log did not make"),
            format!(
                "resident {code}: the move_notices table lacks a row the log made, or it was altered"
            ),
        ]
    );
}

#[test]
fn receipts_kept_per_checkpoint_are_the_receipts_made_afresh() {
    use registry_store::dir::{ReceiptCache, receipts, receipts_with};
    use tlog_store::integrate::{NoteSigner, integrate, without_witnesses};
    use tlog_store::tiledir::TileDir;

    let mut town = busy_town();
    let origin = "juki.test/registry/204072";
    let log_key = key(origin, 77);
    let signer = NoteSigner::new(key(origin, 77)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tiles = TileDir::new(dir.path().join("tlog"));
    let vkey = log_key.verifier();
    let cache = ReceiptCache::default();
    let code = ResidentCode::from_ten_digits(2_040_720_500).unwrap();

    let mut checkpoints = Vec::new();
    for round in 0..2 {
        integrate(&*town.registry.connection(), &tiles, &signer, &mut without_witnesses).unwrap();
        let events = town.registry.evidence_events(code).unwrap().unwrap();
        assert_eq!(events.len(), 4, "the change, its two signers' enrolments, the genesis");
        let fresh = receipts(&tiles, &vkey, origin, &events).unwrap();
        // Made, then kept: the same receipts both times.
        assert_eq!(receipts_with(&tiles, &vkey, origin, &events, &cache).unwrap(), fresh);
        assert_eq!(receipts_with(&tiles, &vkey, origin, &events, &cache).unwrap(), fresh);
        checkpoints.push(fresh[0].checkpoint.clone());
        if round == 0 {
            // A new checkpoint: nothing kept for the old one is used.
            town.birth("原 四郎");
        }
    }
    assert_ne!(checkpoints[0], checkpoints[1]);

    // Kept receipts are not served under another key.
    let events = town.registry.evidence_events(code).unwrap().unwrap();
    let other = key(origin, 78).verifier();
    assert!(receipts_with(&tiles, &other, origin, &events, &cache).is_err());
    // An event beyond the checkpoint is not published, kept or not.
    town.birth("原 五郎");
    let size = town.registry.log_size().unwrap();
    let newest = town.registry.events(size - 1, size).unwrap().remove(0);
    let error = receipts_with(&tiles, &vkey, origin, &[(size - 1, newest)], &cache).unwrap_err();
    assert!(matches!(error, StoreError::NotPublished { .. }), "{error}");
}
