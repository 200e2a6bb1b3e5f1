//! The national node's decisions, pure: fed data, they answer what may be done, and the
//! roles' handlers only carry the answer out (sign, record, reply). No I/O here.
//!
//! - [`certify_move_out`]: whether a town's current event for a resident is a move-out to the
//!   town asking for its certificate (転出証明書情報).
//! - [`move_ins`] and [`one_active_town`]: which events of a batch are move-ins (国内転入), and
//!   whether applying them would make anyone active in two towns.
//! - [`allocate_block`] and [`random_free_base`]: which code block a town's request gets — the
//!   one it missed, or a new one placed at random among the free ones, so that codes cannot
//!   be walked from one block to the next.
//! - [`move_notice`]: the move notice (転入通知) a move-in calls for.
//! - [`quarantine_subject`]: which town a critical alert puts in quarantine.

use registry_core::event::{Change, Event};
use registry_domain::{ChangeReason, MunicipalityCode, ResidentCode};
use wire::errors::Code;

/// Which town a critical alert puts in quarantine at the national node, if any: the town whose
/// batch the national node refused (`about`); a town that reports its own integrity in doubt
/// (a tampered registry, a write behind its log's back); the town a prefecture or the national
/// node names as the peer of a critical alert (a forged, forked or rewritten batch, a batch
/// sent for another town). `raised_by` is the identity URI of the node that raised the alert
/// (`None`: the national node itself). Warnings and notices quarantine nobody.
pub fn quarantine_subject(
    kind: Code,
    peer: &str,
    raised_by: Option<&str>,
    about: Option<&MunicipalityCode>,
) -> Option<MunicipalityCode> {
    if kind.severity() != Some(wire::errors::Severity::Critical) {
        return None;
    }
    if let Some(town) = about {
        return Some(*town);
    }
    let town_of = |uri: &str| {
        pki::Identity::from_uri(uri)
            .ok()
            .filter(|identity| identity.role == pki::Role::Municipal)
            .and_then(|identity| MunicipalityCode::parse(identity.code.as_deref()?).ok())
    };
    match raised_by {
        Some(reporter) => match town_of(reporter) {
            Some(town) => (kind.family() == wire::errors::Family::Integrity).then_some(town),
            None => town_of(peer),
        },
        None => town_of(peer),
    }
}

/// How many codes one block holds.
pub const BLOCK_SIZE: u64 = 100_000;

/// A decision against a request: its code and what to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The stable code.
    pub code: Code,
    /// What was wrong (codes and sizes only, no personal data).
    pub message: String,
}

impl Denied {
    fn new(code: Code, message: String) -> Denied {
        Denied { code, message }
    }
}

/// Whether `current`, the event that made resident `code`'s current record in town `from`,
/// is a move-out to `to`: only then may the national key certify it for `to`.
pub fn certify_move_out(
    from: MunicipalityCode,
    code: ResidentCode,
    current: Option<&Change>,
    to: MunicipalityCode,
) -> Result<(), Denied> {
    let no_move_out = || {
        Denied::new(Code::NoMoveOut, format!("{from} has recorded no move-out of {code} to {to}"))
    };
    let change = current.ok_or_else(no_move_out)?;
    if change.reason() != ChangeReason::MoveOut || change.moved_to != Some(to) {
        return Err(no_move_out());
    }
    Ok(())
}

/// Whether a signed event may be a move-in (国内転入), from its bytes alone. A field list has
/// exactly one encoding (`registry_core::fields`: no raw line feed in a value, one escaped
/// form), so a change whose reason is a move-in holds the line `reason move-in`: an event
/// without it is certainly not one. The rules parse every event properly when they apply it.
pub fn may_be_move_in(event: &str) -> bool {
    event.starts_with("juki.change/v1\n") && event.contains("\nreason move-in\n")
}

/// The move-ins of a batch of signed events: `(position in the batch, resident)`. Events that
/// do not parse are left to the rules, which refuse them.
pub fn move_ins(events: &[String]) -> Vec<(usize, ResidentCode)> {
    let mut found = Vec::new();
    for (i, text) in events.iter().enumerate() {
        // Most events are not move-ins; only those that may be are parsed here.
        if !may_be_move_in(text) {
            continue;
        }
        let Ok(note) = tlog::note::Note::parse(text.as_bytes()) else { continue };
        let Ok(Event::Change(change)) = Event::parse(note.text()) else { continue };
        if change.reason() == ChangeReason::MoveIn {
            found.push((i, change.record.resident_code));
        }
    }
    found
}

/// Whether moving `moves` into `town` keeps everyone active in one town at most:
/// `active_elsewhere` says in which other town (if any) a resident is active now.
pub fn one_active_town<E>(
    town: MunicipalityCode,
    moves: &[(usize, ResidentCode)],
    mut active_elsewhere: impl FnMut(ResidentCode) -> Result<Option<String>, E>,
) -> Result<Result<(), Denied>, E> {
    for &(i, code) in moves {
        if let Some(other) = active_elsewhere(code)? {
            return Ok(Err(Denied::new(
                Code::ActiveInTwoTowns,
                format!(
                    "event {i} moves resident {code} into {town} while the resident is active in \
                     {other}"
                ),
            )));
        }
    }
    Ok(Ok(()))
}

/// What a town's request for a code block gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allocation {
    /// The block at this position of the town's allocations, already signed: the town did
    /// not receive (or did not record) it.
    Again(usize),
    /// A new block of `count` codes from `first`.
    New {
        /// Its first ten-digit base.
        first: u64,
        /// How many codes.
        count: u64,
    },
}

/// The block for a town that holds `held` blocks, when `allocated` blocks were allocated to
/// it and the next free base is `next_free`.
pub fn allocate_block(held: u64, allocated: usize, next_free: u64) -> Allocation {
    if held < allocated as u64 {
        return Allocation::Again(held as usize);
    }
    Allocation::New { first: next_free, count: BLOCK_SIZE }
}

/// A free base for a new block of [`BLOCK_SIZE`] codes, not overlapping any of `taken`
/// (`(first, count)`), drawn with `random` among the blocks of the ten-digit code space (the
/// first, all-zero one excluded); `None` if 64 draws found none free.
pub fn random_free_base(random: &mut dyn FnMut() -> u64, taken: &[(u64, u64)]) -> Option<u64> {
    let slots = 10_000_000_000 / BLOCK_SIZE;
    (0..64).find_map(|_| {
        let first = (1 + random() % (slots - 1)) * BLOCK_SIZE;
        let end = first + BLOCK_SIZE;
        taken.iter().all(|&(f, c)| end <= f || f + c <= first).then_some(first)
    })
}

/// The move notice (転入通知) for a move-in (国内転入) change, signed as `move_in`: to the town
/// its certificate names as moved out of, naming the move-out and the move-in. `None` if the
/// change is not a move-in carrying a certificate.
pub fn move_notice(
    move_in: &[u8],
    change: &Change,
    time: registry_core::time::Timestamp,
) -> Option<registry_core::moves::MoveNotice> {
    if change.reason() != ChangeReason::MoveIn {
        return None;
    }
    let certificate = tlog::note::Note::parse(change.move_out.as_deref()?.as_bytes()).ok()?;
    let certificate = registry_core::moves::MoveOutCertificate::parse(certificate.text()).ok()?;
    Some(registry_core::moves::MoveNotice {
        municipality: certificate.from,
        resident: certificate.resident,
        to: certificate.to,
        event: certificate.event,
        move_in: registry_core::moves::note_hash(move_in),
        time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use registry_core::time::Timestamp;
    use registry_domain::{
        Address, ChangeInfo, Date, HistoryNumber, IdentityRecordParts, Name, NameReading,
        PersonName, RecordStatus, Sex,
    };

    const ACHI: &str = "204072";
    const SHIMOSUWA: &str = "203611";

    fn town(code: &str) -> MunicipalityCode {
        MunicipalityCode::parse(code).unwrap()
    }

    fn change(code: u64, reason: ChangeReason, moved_to: Option<&str>) -> Change {
        let born = Date::new(1980, 4, 1).unwrap();
        let status = if reason == ChangeReason::MoveOut {
            RecordStatus::Closed { reason }
        } else {
            RecordStatus::Active
        };
        Change {
            municipality: town(SHIMOSUWA),
            record: IdentityRecordParts {
                resident_code: ResidentCode::from_ten_digits(code).unwrap(),
                name: Name::new(
                    PersonName::new("熊谷 花子").unwrap(),
                    NameReading::new("クマガイ ハナコ").unwrap(),
                    None,
                ),
                birth_date: born,
                sex: Sex::from_code(2).unwrap(),
                address: Address::new(town(SHIMOSUWA), "1番地1").unwrap(),
                individual_number: None,
                latest_change: ChangeInfo::new(reason, born),
                history_number: HistoryNumber::new(2).unwrap(),
                status,
            },
            previous_code: None,
            moved_to: moved_to.map(town),
            move_out: None,
            activation: None,
            time: Timestamp::from_unix(1_700_000_000),
        }
    }

    #[test]
    fn only_a_move_out_to_the_asking_town_is_certified() {
        let code = ResidentCode::from_ten_digits(1_000).unwrap();
        let to_achi = change(1_000, ChangeReason::MoveOut, Some(ACHI));
        assert_eq!(certify_move_out(town(SHIMOSUWA), code, Some(&to_achi), town(ACHI)), Ok(()));
        for (current, to) in [
            (None, ACHI),
            (Some(change(1_000, ChangeReason::MoveOut, Some(ACHI))), "202029"),
            (Some(change(1_000, ChangeReason::MoveWithin, None)), ACHI),
            (Some(change(1_000, ChangeReason::Birth, None)), ACHI),
        ] {
            let denied = certify_move_out(town(SHIMOSUWA), code, current.as_ref(), town(to))
                .expect_err("not certifiable");
            assert_eq!(denied.code, Code::NoMoveOut, "{current:?} to {to}");
        }
    }

    fn signed(change: Change) -> String {
        let key = tlog::note::Signer::from_seed(
            "op.203611.juki.test/clerk",
            tlog::note::KeyKind::Ed25519,
            [1; 32],
        )
        .unwrap();
        let mut note = tlog::note::Note::new(Event::Change(change).to_text()).unwrap();
        note.sign(&key).unwrap();
        String::from_utf8(note.to_bytes()).unwrap()
    }

    #[test]
    fn move_ins_are_found_by_position_and_nothing_else_is() {
        let events = vec![
            signed(change(1_000, ChangeReason::Birth, None)),
            signed(change(1_001, ChangeReason::MoveIn, None)),
            signed(change(1_002, ChangeReason::MoveInFromAbroad, None)),
            "juki.change/v1\nreason move-in\nnot a note".to_owned(),
            signed(change(1_003, ChangeReason::MoveIn, None)),
        ];
        let code = |n| ResidentCode::from_ten_digits(n).unwrap();
        assert_eq!(move_ins(&events), vec![(1, code(1_001)), (4, code(1_003))]);
    }

    #[test]
    fn the_move_in_filter_finds_exactly_the_move_ins() {
        for &reason in ChangeReason::ALL {
            let text = Event::Change(change(1_000, reason, None)).to_text();
            assert_eq!(may_be_move_in(&text), reason == ChangeReason::MoveIn, "{reason:?}");
        }
    }

    #[test]
    fn a_move_in_of_someone_active_elsewhere_is_denied() {
        let code = |n| ResidentCode::from_ten_digits(n).unwrap();
        let moves = [(0, code(1)), (3, code(2))];
        let none = one_active_town::<()>(town(ACHI), &moves, |_| Ok(None)).unwrap();
        assert_eq!(none, Ok(()));
        let denied = one_active_town::<()>(town(ACHI), &moves, |c| {
            Ok((c == code(2)).then(|| SHIMOSUWA.to_owned()))
        })
        .unwrap()
        .expect_err("active in 203611");
        assert_eq!(denied.code, Code::ActiveInTwoTowns);
        assert!(denied.message.starts_with("event 3 "), "{}", denied.message);
        assert_eq!(one_active_town(town(ACHI), &moves, |_| Err("db")), Err("db"));
    }

    #[test]
    fn a_repeated_request_gets_the_block_it_missed_and_a_new_one_the_next_free_base() {
        assert_eq!(allocate_block(0, 0, 7), Allocation::New { first: 7, count: BLOCK_SIZE });
        assert_eq!(allocate_block(0, 1, 7), Allocation::Again(0));
        assert_eq!(allocate_block(1, 3, 7), Allocation::Again(1));
        assert_eq!(allocate_block(3, 3, 9), Allocation::New { first: 9, count: BLOCK_SIZE });
        assert_eq!(allocate_block(5, 3, 9), Allocation::New { first: 9, count: BLOCK_SIZE });
    }

    #[test]
    fn a_new_block_is_placed_at_random_where_nothing_is() {
        let mut draws = [7u64, 7, 3].into_iter().cycle();
        let taken = [(7 * BLOCK_SIZE + 50, 10)];
        // The seventh block overlaps what is taken; the next draw is the seventh again, then
        // the third, which is free.
        let first = random_free_base(&mut || draws.next().unwrap() - 1, &taken);
        assert_eq!(first, Some(3 * BLOCK_SIZE));
        // Never the all-zero block, never past the code space.
        for r in [0, u64::MAX, 99_998, 99_999] {
            let first = random_free_base(&mut || r, &[]).unwrap();
            assert!(first >= BLOCK_SIZE && first + BLOCK_SIZE <= 10_000_000_000, "{first}");
        }
        // Nothing free in 64 draws: none.
        assert_eq!(random_free_base(&mut || 0, &[(BLOCK_SIZE, BLOCK_SIZE)]), None);
    }

    #[test]
    fn only_a_critical_alert_quarantines_and_only_the_town_it_concerns() {
        let achi = MunicipalityCode::parse("204072").unwrap();
        let town = "urn:juki:municipal:204072";
        let prefecture = "urn:juki:prefecture:20";
        let agency = "urn:juki:agency:pension";
        // (kind, peer, raised by, the batch's town, the town quarantined)
        type Case<'a> = (
            Code,
            &'a str,
            Option<&'a str>,
            Option<&'a MunicipalityCode>,
            Option<&'a MunicipalityCode>,
        );
        let cases: &[Case] = &[
            // The national node refused the town's batch (it came through the prefecture).
            (Code::WrongRoot, prefecture, None, Some(&achi), Some(&achi)),
            // A warning never quarantines, whoever it names.
            (Code::WrongPeer, town, None, None, None),
            (Code::Unsigned, town, Some(town), None, None),
            // A town reports its own registry tampered with, or written behind its log's back.
            (Code::Tampered, town, Some(town), None, Some(&achi)),
            (Code::ForeignWrite, town, Some(town), None, Some(&achi)),
            // A town's critical alert about someone else (a peer's forged answer) is not about
            // the town's own integrity.
            (Code::PeerForged, "urn:juki:national", Some(town), None, None),
            // A prefecture refused the town's batch as forked.
            (Code::Fork, town, Some(prefecture), None, Some(&achi)),
            // The national node saw a town's node send what it may not.
            (Code::WrongSender, town, None, None, Some(&achi)),
            // Critical, but about no town.
            (Code::PeerForged, agency, None, None, None),
            (Code::BadRelease, "urn:juki:monitor", None, None, None),
        ];
        for (kind, peer, raised_by, about, expected) in cases {
            assert_eq!(
                quarantine_subject(*kind, peer, *raised_by, *about).as_ref(),
                *expected,
                "{kind} from {peer} raised by {raised_by:?}"
            );
        }
    }
}
