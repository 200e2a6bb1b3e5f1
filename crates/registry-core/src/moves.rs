//! Moves between municipalities: the move-out certificate (転出証明書情報) and the move-in
//! notice (転入通知), both signed by the national key.
//!
//! A resident moves from town A to town B in four steps, each a signed note:
//!
//! 1. A records the move-out: a `juki.change/v1` with reason `move-out` and `moved-to B`,
//!    closing the record.
//! 2. The national node, once it has verified that change in its replica of A's registry,
//!    issues a certificate (`juki.move-out/v1`, [`MoveOutCertificate`]): who moved (the identity
//!    that carries over), from where, to where, when, and the SHA-256 of A's exact move-out note.
//! 3. B records the move-in: a `juki.change/v1` with reason `move-in` that carries the
//!    certificate's exact signed note in its `move-out` field. B's rules open it with the
//!    national key and check it names B, this resident and this identity
//!    ([`crate::rules::decide`]).
//! 4. The national node sends A a notice (`juki.move-notice/v1`, [`MoveNotice`]) naming A's
//!    move-out and B's move-in by the hashes of their notes; A records it, which completes the
//!    move there (the record stays closed and its move-out can no longer be cancelled).
//!
//! The certificate's body, in this order (`former-name` and `former-reading` only when a former
//! surname is recorded, as in a change):
//!
//! ```text
//! juki.move-out/v1
//! from 204072
//! to 202029
//! resident 20407200013
//! event <base64 SHA-256 of A's signed move-out note>
//! name 熊谷 花子
//! reading クマガイ　ハナコ
//! birth 2026-11-20
//! sex 2
//! moved-out 2026-11-24
//! time 2026-11-24T09:30:00Z
//! ```
//!
//! The notice's body:
//!
//! ```text
//! juki.move-notice/v1
//! municipality 204072
//! resident 20407200013
//! to 202029
//! event <base64 SHA-256 of A's signed move-out note>
//! move-in <base64 SHA-256 of B's signed move-in note>
//! time 2026-11-25T09:30:00Z
//! ```
//!
//! ## One active record per person
//!
//! A code is active in at most one town. The national signer keeps, for every code, the last
//! certificate it issued ([`crate::custody`]); a town makes a record active under a code already
//! used only with the signer's statement that the code is active nowhere:
//!
//! - a move-in (国内転入) carries the move-out certificate;
//! - any other change that makes a record active under a code that is not fresh from the town's
//!   own pool (a cancellation that reopens a record, a move back in from abroad, a move-in from
//!   abroad with a code another town gave) carries an activation certificate
//!   ([`ActivationCertificate`]), which names the closing event it follows;
//! - a move-out already certified is cancelled only once the town moved to has recorded the
//!   signer's withdrawal of the certificate ([`MoveWithdrawal`]), after which no move-in there
//!   can use it.
//!
//! The activation certificate's body:
//!
//! ```text
//! juki.activation/v1
//! municipality 204072
//! resident 20407200013
//! from 204072
//! after <base64 SHA-256 of the closing event's signed note>
//! time 2026-11-26T09:30:00Z
//! ```
//!
//! The withdrawal's body (an event of the town moved to):
//!
//! ```text
//! juki.move-withdrawal/v1
//! municipality 202029
//! resident 20407200013
//! from 204072
//! event <base64 SHA-256 of the move-out's signed note>
//! time 2026-11-26T09:30:00Z
//! ```

use registry_domain::{
    ChangeReason, Date, MunicipalityCode, Name, RecordStatus, ResidentCode, Sex,
};
use tlog::Hash;
use tlog::note::Note;

use crate::event::{Change, Event, EventError, name_fields, typed};
use crate::fields::{Fields, Reader, Writer};
use crate::time::Timestamp;

/// Header of a move-out certificate.
pub const MOVE_OUT: &str = "juki.move-out/v1";

pub use crate::event::{MOVE_NOTICE, MOVE_WITHDRAWAL};

/// Header of an activation certificate.
pub const ACTIVATION: &str = "juki.activation/v1";

/// The hash by which a certificate and a notice name a signed event: SHA-256 of its exact bytes.
pub fn note_hash(note: &[u8]) -> Hash {
    tlog::hash::sha256(note)
}

/// 転出証明書情報: the national node's statement that a resident moved out of `from` to `to`,
/// with the identity that carries over to the new municipality.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MoveOutCertificate {
    /// The municipality moved out of.
    pub from: MunicipalityCode,
    /// The municipality moved to.
    pub to: MunicipalityCode,
    /// The resident code, which the resident keeps.
    pub resident: ResidentCode,
    /// SHA-256 of the exact signed move-out note in `from`'s registry.
    pub event: Hash,
    /// 氏名, with its reading and 旧氏.
    pub name: Name,
    /// 生年月日.
    pub birth: Date,
    /// 性別.
    pub sex: Sex,
    /// The date the move-out took effect (転出予定日 as recorded).
    pub moved_out: Date,
    /// When the national node signed it.
    pub time: Timestamp,
}

/// Why a certificate cannot be built from a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertifyError {
    /// The bytes are not a signed note.
    #[error("the move-out event is not a signed note: {0}")]
    NotANote(String),
    /// The note's text is not the change given.
    #[error(
        "the signed note is not the move-out change given (its text parses to another event); \
         pass the exact note that made the record"
    )]
    NotThisChange,
    /// The change is not a move-out to another municipality.
    #[error(
        "the change is {0}, not a move-out to another municipality (国内転出): only such a \
         move-out is certified"
    )]
    NotAMoveOut(&'static str),
}

impl MoveOutCertificate {
    /// The certificate for `change`, a move-out whose exact signed note is `move_out_note`.
    /// Checks that the note's text is that change and that it is a move-out (国内転出) naming
    /// the municipality moved to; whether the change is really in the registry's log is for
    /// the caller to know.
    pub fn from_move_out(
        move_out_note: &[u8],
        change: &Change,
        time: Timestamp,
    ) -> Result<MoveOutCertificate, CertifyError> {
        let note = Note::parse(move_out_note).map_err(|e| CertifyError::NotANote(e.to_string()))?;
        match Event::parse(note.text()) {
            Ok(Event::Change(parsed)) if parsed == *change => {}
            _ => return Err(CertifyError::NotThisChange),
        }
        let record = &change.record;
        let reason = change.reason();
        let (ChangeReason::MoveOut, Some(to), RecordStatus::Closed { .. }) =
            (reason, change.moved_to, record.status)
        else {
            return Err(CertifyError::NotAMoveOut(reason.code()));
        };
        Ok(MoveOutCertificate {
            from: change.municipality,
            to,
            resident: record.resident_code,
            event: note_hash(move_out_note),
            name: record.name.clone(),
            birth: record.birth_date,
            sex: record.sex,
            moved_out: record.latest_change.date(),
            time,
        })
    }

    /// Parses a certificate's text (the note text, without signatures).
    pub fn parse(text: &str) -> Result<MoveOutCertificate, EventError> {
        let fields = Fields::parse(text, MOVE_OUT)?;
        let mut r = fields.reader();
        let certificate = MoveOutCertificate {
            from: typed(&mut r, "from")?,
            to: typed(&mut r, "to")?,
            resident: typed(&mut r, "resident")?,
            event: hash_field(&mut r, "event")?,
            name: name_fields(&mut r)?,
            birth: typed(&mut r, "birth")?,
            sex: typed(&mut r, "sex")?,
            moved_out: typed(&mut r, "moved-out")?,
            time: typed(&mut r, "time")?,
        };
        r.finish()?;
        Ok(certificate)
    }

    /// The certificate's text, ready to be signed.
    pub fn to_text(&self) -> String {
        Writer::new(MOVE_OUT)
            .field("from", self.from)
            .field("to", self.to)
            .field("resident", self.resident)
            .field("event", self.event.to_base64())
            .identity(&self.name, self.birth, self.sex)
            .field("moved-out", self.moved_out)
            .field("time", self.time)
            .finish()
    }
}

/// 転入通知: a resident who moved out of `municipality` has moved in at `to`. Recorded in the
/// registry moved out of, it completes the move there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MoveNotice {
    /// The municipality moved out of, whose registry records the notice.
    pub municipality: MunicipalityCode,
    /// The resident.
    pub resident: ResidentCode,
    /// The municipality moved to.
    pub to: MunicipalityCode,
    /// SHA-256 of the signed move-out note in this municipality's registry (the certificate's
    /// `event`).
    pub event: Hash,
    /// SHA-256 of the signed move-in note in `to`'s registry.
    pub move_in: Hash,
    /// When the national node signed it.
    pub time: Timestamp,
}

pub(crate) fn parse_notice(text: &str) -> Result<MoveNotice, EventError> {
    let fields = Fields::parse(text, MOVE_NOTICE)?;
    let mut r = fields.reader();
    let notice = MoveNotice {
        municipality: typed(&mut r, "municipality")?,
        resident: typed(&mut r, "resident")?,
        to: typed(&mut r, "to")?,
        event: hash_field(&mut r, "event")?,
        move_in: hash_field(&mut r, "move-in")?,
        time: typed(&mut r, "time")?,
    };
    r.finish()?;
    Ok(notice)
}

pub(crate) fn notice_text(n: &MoveNotice) -> String {
    Writer::new(MOVE_NOTICE)
        .field("municipality", n.municipality)
        .field("resident", n.resident)
        .field("to", n.to)
        .field("event", n.event.to_base64())
        .field("move-in", n.move_in.to_base64())
        .field("time", n.time)
        .finish()
}

/// A SHA-256 hash in standard padded base64, in its one canonical spelling.
fn hash_field(r: &mut Reader<'_>, field: &'static str) -> Result<Hash, EventError> {
    let text = r.take(field)?;
    let hash = Hash::from_base64(text).map_err(|_| EventError::Invalid {
        field,
        reason: "the standard base64 of a SHA-256 hash (44 characters)".into(),
    })?;
    if hash.to_base64() != text {
        return Err(EventError::NotCanonical(field));
    }
    Ok(hash)
}

/// The national signer's statement that a code is active in no town, so `municipality` may make
/// a record active under it, following the closing event `after` of `from`'s registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivationCertificate {
    /// The municipality where the record becomes active.
    pub municipality: MunicipalityCode,
    /// The resident code.
    pub resident: ResidentCode,
    /// The municipality whose registry holds the closing event.
    pub from: MunicipalityCode,
    /// SHA-256 of the exact signed note of the event that closed the record last.
    pub after: Hash,
    /// When the national signer signed it.
    pub time: Timestamp,
}

impl ActivationCertificate {
    /// Parses a certificate's text (the note text, without signatures).
    pub fn parse(text: &str) -> Result<ActivationCertificate, EventError> {
        let fields = Fields::parse(text, ACTIVATION)?;
        let mut r = fields.reader();
        let certificate = ActivationCertificate {
            municipality: typed(&mut r, "municipality")?,
            resident: typed(&mut r, "resident")?,
            from: typed(&mut r, "from")?,
            after: hash_field(&mut r, "after")?,
            time: typed(&mut r, "time")?,
        };
        r.finish()?;
        Ok(certificate)
    }

    /// The certificate's text, ready to be signed.
    pub fn to_text(&self) -> String {
        Writer::new(ACTIVATION)
            .field("municipality", self.municipality)
            .field("resident", self.resident)
            .field("from", self.from)
            .field("after", self.after.to_base64())
            .field("time", self.time)
            .finish()
    }
}

/// The national signer's withdrawal of the move-out certificate for `event`, recorded by the
/// municipality moved to: no move-in there may use that certificate afterwards, so the move-out
/// may be cancelled where it was made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MoveWithdrawal {
    /// The municipality moved to, whose registry records the withdrawal.
    pub municipality: MunicipalityCode,
    /// The resident.
    pub resident: ResidentCode,
    /// The municipality moved out of.
    pub from: MunicipalityCode,
    /// SHA-256 of the signed move-out note in `from`'s registry (the certificate's `event`).
    pub event: Hash,
    /// When the national signer signed it.
    pub time: Timestamp,
}

pub(crate) fn parse_withdrawal(text: &str) -> Result<MoveWithdrawal, EventError> {
    let fields = Fields::parse(text, MOVE_WITHDRAWAL)?;
    let mut r = fields.reader();
    let withdrawal = MoveWithdrawal {
        municipality: typed(&mut r, "municipality")?,
        resident: typed(&mut r, "resident")?,
        from: typed(&mut r, "from")?,
        event: hash_field(&mut r, "event")?,
        time: typed(&mut r, "time")?,
    };
    r.finish()?;
    Ok(withdrawal)
}

pub(crate) fn withdrawal_text(w: &MoveWithdrawal) -> String {
    Writer::new(MOVE_WITHDRAWAL)
        .field("municipality", w.municipality)
        .field("resident", w.resident)
        .field("from", w.from)
        .field("event", w.event.to_base64())
        .field("time", w.time)
        .finish()
}
