//! The registry's signed events: their bodies, parsed and written.
//!
//! Every event is a C2SP signed note whose text is a [`crate::fields`] body:
//!
//! - `juki.registry/v1`: the genesis of a municipality's registry, naming its admin key; signed
//!   by that key.
//! - `juki.enrol/v1` / `juki.revoke/v1`: an operator's key enrolled or revoked; signed by the
//!   municipality's admin key.
//! - `juki.code-block/v1`: a block of resident codes allocated to the municipality; signed by the
//!   national key.
//! - `juki.change/v1`: a change to one resident's identity record, carrying the whole record
//!   after the change; signed by one or two enrolled operators. A move-in from another
//!   municipality (国内転入) carries the move-out certificate
//!   ([`crate::moves::MoveOutCertificate`]) it is based on, as the exact signed note.
//! - `juki.move-notice/v1`: the notice that a resident who moved out of this municipality has
//!   moved in where they went (転入通知, [`crate::moves::MoveNotice`]); signed by the national key.
//! - `juki.move-withdrawal/v1`: the national signer's withdrawal of a move-out certificate for a
//!   move to this municipality, which can then never be used here
//!   ([`crate::moves::MoveWithdrawal`]); signed by the national key.
//!
//! A change that makes a record active again under a code already used (a cancellation that
//! reopens a record, a move back in from abroad, a move-in from abroad with a code another town
//! gave) carries the national signer's activation certificate
//! ([`crate::moves::ActivationCertificate`]) in its `activation` field, as the exact signed note.
//!
//! Parsing is strict and canonical: fields appear once each in the order given here, values are
//! in their one escaped form, and every value must already be in the canonical form its domain
//! type would give it (a name trimmed and otherwise exactly as registered, a date as
//! `YYYY-MM-DD`, …). So the signed bytes are the
//! only bytes that mean this event, and the node stores and serves those bytes, never a
//! re-encoding.

use registry_domain::{
    Address, ChangeInfo, ChangeReason, Date, FormerSurname, HistoryNumber, IdentityRecordParts,
    IndividualNumber, MunicipalityCode, Name, NameReading, PersonName, RecordStatus, ResidentCode,
    Sex,
};
use tlog::note::{KeyKind, VerifierKey};

use crate::fields::{Fields, FieldsError, Reader, Writer};
use crate::moves::{self, MoveNotice, MoveWithdrawal};
use crate::time::Timestamp;

/// Header of the registry genesis event.
pub const REGISTRY: &str = "juki.registry/v1";
/// Header of an operator enrolment.
pub const ENROL: &str = "juki.enrol/v1";
/// Header of an operator revocation.
pub const REVOKE: &str = "juki.revoke/v1";
/// Header of a resident-code block allocation.
pub const CODE_BLOCK: &str = "juki.code-block/v1";
/// Header of a change to a resident's record.
pub const CHANGE: &str = "juki.change/v1";
/// Header of a move-in notice to the municipality moved out of.
pub const MOVE_NOTICE: &str = "juki.move-notice/v1";
/// Header of a move-out certificate's withdrawal, recorded by the municipality moved to.
pub const MOVE_WITHDRAWAL: &str = "juki.move-withdrawal/v1";

/// The largest resident-code block one allocation may hold.
pub const MAX_BLOCK: u64 = 10_000_000;

/// An event body that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The body's framing is wrong.
    #[error(transparent)]
    Fields(#[from] FieldsError),
    /// A field's value is not valid for its type. The value is not repeated: it may be
    /// personal data.
    #[error("the field {field:?} is not valid: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What a valid value looks like.
        reason: String,
    },
    /// A field's value is valid but not written in its canonical form.
    #[error("the field {0:?} is not in canonical form (e.g. padded with spaces)")]
    NotCanonical(&'static str),
    /// The text is none of the event types.
    #[error("not a juki event: the first line names no known event type")]
    UnknownType,
}

/// What an operator may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// A clerk at the counter (窓口).
    Clerk,
    /// A supervisor, who may also approve.
    Supervisor,
}

impl Role {
    /// The role's code in events.
    pub fn code(self) -> &'static str {
        match self {
            Role::Clerk => "clerk",
            Role::Supervisor => "supervisor",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = ();

    fn from_str(s: &str) -> Result<Role, ()> {
        match s {
            "clerk" => Ok(Role::Clerk),
            "supervisor" => Ok(Role::Supervisor),
            _ => Err(()),
        }
    }
}

/// A municipality's registry begins: its admin key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Genesis {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The admin key, which signs enrolments and revocations.
    pub admin: VerifierKey,
    /// When it was signed.
    pub time: Timestamp,
}

/// An operator enrolled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enrolment {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The operator's key.
    pub operator: VerifierKey,
    /// What the operator may do.
    pub role: Role,
    /// When it was signed; the operator may sign changes from then on.
    pub time: Timestamp,
}

/// An operator revoked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The operator's key.
    pub operator: VerifierKey,
    /// From when the key may no longer sign.
    pub time: Timestamp,
}

/// A block of resident codes allocated to a municipality: the ten-digit bases
/// `first..first + count`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeBlock {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The first ten-digit base.
    pub first: u64,
    /// How many codes.
    pub count: u64,
    /// When it was signed.
    pub time: Timestamp,
}

/// A change to one resident's record: the whole record after the change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The municipality whose registry this is.
    pub municipality: MunicipalityCode,
    /// The record after the change; its latest change is this change's reason and date, its
    /// history number the snapshot this change creates.
    pub record: IdentityRecordParts,
    /// For a resident-code change, the code it replaces.
    pub previous_code: Option<ResidentCode>,
    /// For a move out, the municipality moved to.
    pub moved_to: Option<MunicipalityCode>,
    /// For a move in from another municipality (国内転入), the move-out certificate
    /// (`juki.move-out/v1`, signed by the national key): the exact bytes of the signed note,
    /// verified as they are.
    pub move_out: Option<String>,
    /// For a change that makes a record active under a code already used, the national signer's
    /// activation certificate (`juki.activation/v1`): the exact bytes of the signed note.
    pub activation: Option<String>,
    /// When the operators signed it.
    pub time: Timestamp,
}

impl Change {
    /// The reason for the change.
    pub fn reason(&self) -> ChangeReason {
        self.record.latest_change.reason()
    }
}

/// Any registry event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// `juki.registry/v1`.
    Genesis(Genesis),
    /// `juki.enrol/v1`.
    Enrolment(Enrolment),
    /// `juki.revoke/v1`.
    Revocation(Revocation),
    /// `juki.code-block/v1`.
    CodeBlock(CodeBlock),
    /// `juki.change/v1`.
    Change(Change),
    /// `juki.move-notice/v1`.
    MoveNotice(MoveNotice),
    /// `juki.move-withdrawal/v1`.
    MoveWithdrawal(MoveWithdrawal),
}

/// Parses a field with `FromStr` and insists the value was written canonically.
pub(crate) fn typed<T>(reader: &mut Reader<'_>, field: &'static str) -> Result<T, EventError>
where
    T: std::str::FromStr + std::fmt::Display,
    T::Err: ToString,
{
    let text = reader.take(field)?;
    canonical(text, field)
}

pub(crate) fn canonical<T>(text: &str, field: &'static str) -> Result<T, EventError>
where
    T: std::str::FromStr + std::fmt::Display,
    T::Err: ToString,
{
    let value: T =
        text.parse().map_err(|e: T::Err| EventError::Invalid { field, reason: e.to_string() })?;
    if !displays_as(&value, text) {
        return Err(EventError::NotCanonical(field));
    }
    Ok(value)
}

/// Whether `value` displays exactly as `text` (`value.to_string() == text`, without building
/// the string).
fn displays_as(value: &impl std::fmt::Display, text: &str) -> bool {
    use std::fmt::Write as _;
    /// The part of the text not yet matched; `None` once the output differs.
    struct Matching<'a>(Option<&'a str>);
    impl std::fmt::Write for Matching<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0 = self.0.and_then(|rest| rest.strip_prefix(s));
            Ok(())
        }
    }
    let mut matching = Matching(Some(text));
    write!(matching, "{value}").is_ok() && matching.0 == Some("")
}

pub(crate) fn optional<T>(
    reader: &mut Reader<'_>,
    field: &'static str,
) -> Result<Option<T>, EventError>
where
    T: std::str::FromStr + std::fmt::Display,
    T::Err: ToString,
{
    reader.optional(field)?.map(|text| canonical(text, field)).transpose()
}

fn vkey(reader: &mut Reader<'_>, field: &'static str) -> Result<VerifierKey, EventError> {
    let key: VerifierKey = typed(reader, field)?;
    if key.kind() != KeyKind::Ed25519 {
        return Err(EventError::Invalid {
            field,
            reason: "an Ed25519 (type 0x01) signing key is needed".into(),
        });
    }
    Ok(key)
}

pub(crate) fn municipality(reader: &mut Reader<'_>) -> Result<MunicipalityCode, EventError> {
    typed(reader, "municipality")
}

impl Event {
    /// Parses an event's text (the note text, without signatures).
    pub fn parse(text: &str) -> Result<Event, EventError> {
        let header = text.split('\n').next().unwrap_or("");
        match header {
            REGISTRY => parse_genesis(text).map(Event::Genesis),
            ENROL => parse_enrolment(text).map(Event::Enrolment),
            REVOKE => parse_revocation(text).map(Event::Revocation),
            CODE_BLOCK => parse_code_block(text).map(Event::CodeBlock),
            CHANGE => parse_change(text).map(Event::Change),
            MOVE_NOTICE => moves::parse_notice(text).map(Event::MoveNotice),
            MOVE_WITHDRAWAL => moves::parse_withdrawal(text).map(Event::MoveWithdrawal),
            _ => Err(EventError::UnknownType),
        }
    }

    /// The event's text, ready to be signed.
    pub fn to_text(&self) -> String {
        match self {
            Event::Genesis(g) => Writer::new(REGISTRY)
                .field("municipality", g.municipality)
                .field("admin", &g.admin)
                .field("time", g.time)
                .finish(),
            Event::Enrolment(e) => Writer::new(ENROL)
                .field("municipality", e.municipality)
                .field("operator", &e.operator)
                .field("role", e.role.code())
                .field("time", e.time)
                .finish(),
            Event::Revocation(r) => Writer::new(REVOKE)
                .field("municipality", r.municipality)
                .field("operator", &r.operator)
                .field("time", r.time)
                .finish(),
            Event::CodeBlock(b) => Writer::new(CODE_BLOCK)
                .field("municipality", b.municipality)
                .field("first", format!("{:010}", b.first))
                .field("count", b.count)
                .field("time", b.time)
                .finish(),
            Event::Change(c) => change_text(c),
            Event::MoveNotice(n) => moves::notice_text(n),
            Event::MoveWithdrawal(w) => moves::withdrawal_text(w),
        }
    }

    /// The municipality the event belongs to.
    pub fn municipality(&self) -> MunicipalityCode {
        match self {
            Event::Genesis(g) => g.municipality,
            Event::Enrolment(e) => e.municipality,
            Event::Revocation(r) => r.municipality,
            Event::CodeBlock(b) => b.municipality,
            Event::Change(c) => c.municipality,
            Event::MoveNotice(n) => n.municipality,
            Event::MoveWithdrawal(w) => w.municipality,
        }
    }
}

fn parse_genesis(text: &str) -> Result<Genesis, EventError> {
    let fields = Fields::parse(text, REGISTRY)?;
    let mut r = fields.reader();
    let genesis = Genesis {
        municipality: municipality(&mut r)?,
        admin: vkey(&mut r, "admin")?,
        time: typed(&mut r, "time")?,
    };
    r.finish()?;
    Ok(genesis)
}

fn parse_enrolment(text: &str) -> Result<Enrolment, EventError> {
    let fields = Fields::parse(text, ENROL)?;
    let mut r = fields.reader();
    let municipality = municipality(&mut r)?;
    let operator = vkey(&mut r, "operator")?;
    let role = r.take("role")?.parse().map_err(|()| EventError::Invalid {
        field: "role",
        reason: "clerk or supervisor".into(),
    })?;
    let time = typed(&mut r, "time")?;
    r.finish()?;
    Ok(Enrolment { municipality, operator, role, time })
}

fn parse_revocation(text: &str) -> Result<Revocation, EventError> {
    let fields = Fields::parse(text, REVOKE)?;
    let mut r = fields.reader();
    let revocation = Revocation {
        municipality: municipality(&mut r)?,
        operator: vkey(&mut r, "operator")?,
        time: typed(&mut r, "time")?,
    };
    r.finish()?;
    Ok(revocation)
}

fn parse_code_block(text: &str) -> Result<CodeBlock, EventError> {
    let fields = Fields::parse(text, CODE_BLOCK)?;
    let mut r = fields.reader();
    let municipality = municipality(&mut r)?;
    let first_text = r.take("first")?;
    if first_text.len() != 10 || !first_text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EventError::Invalid { field: "first", reason: "ten digits".into() });
    }
    let first: u64 = first_text.parse().expect("ten ASCII digits");
    let count: u64 = typed(&mut r, "count")?;
    if count == 0 || count > MAX_BLOCK || first + count > 10_000_000_000 {
        return Err(EventError::Invalid {
            field: "count",
            reason: format!("1 to {MAX_BLOCK}, within the ten-digit range"),
        });
    }
    let time = typed(&mut r, "time")?;
    r.finish()?;
    Ok(CodeBlock { municipality, first, count, time })
}

/// The `name`, `reading`, `former-name` and `former-reading` fields, as a change writes them.
pub(crate) fn name_fields(r: &mut Reader<'_>) -> Result<Name, EventError> {
    let name: PersonName = typed(r, "name")?;
    let reading: NameReading = typed(r, "reading")?;
    let former_name: Option<PersonName> = optional(r, "former-name")?;
    let former_reading: Option<NameReading> = optional(r, "former-reading")?;
    let former = match (former_name, former_reading) {
        (Some(name), Some(reading)) => Some(FormerSurname::new(name, reading)),
        (None, None) => None,
        _ => {
            return Err(EventError::Invalid {
                field: "former-name",
                reason: "a former surname and its reading come together".into(),
            });
        }
    };
    Ok(Name::new(name, reading, former))
}

fn change_text(c: &Change) -> String {
    let record = &c.record;
    let mut w = Writer::new(CHANGE);
    w.field("municipality", c.municipality)
        .field("resident", record.resident_code)
        .field("reason", record.latest_change.reason())
        .field("effective", record.latest_change.date())
        .field("history", record.history_number)
        .field(
            "status",
            match record.status {
                RecordStatus::Active => "active",
                RecordStatus::Closed { .. } => "closed",
            },
        )
        .identity(&record.name, record.birth_date, record.sex)
        .field("address-municipality", record.address.municipality())
        .field("address", record.address.rest())
        .optional("individual-number", record.individual_number)
        .optional("previous-resident", c.previous_code)
        .optional("moved-to", c.moved_to)
        .optional("move-out", c.move_out.as_deref())
        .optional("activation", c.activation.as_deref())
        .field("time", c.time);
    w.finish()
}

fn parse_change(text: &str) -> Result<Change, EventError> {
    let fields = Fields::parse(text, CHANGE)?;
    let mut r = fields.reader();
    let municipality = municipality(&mut r)?;
    let resident_code: ResidentCode = typed(&mut r, "resident")?;
    let reason: ChangeReason = typed(&mut r, "reason")?;
    let effective: Date = typed(&mut r, "effective")?;
    let history_number: HistoryNumber = typed(&mut r, "history")?;
    let status = match r.take("status")? {
        "active" => RecordStatus::Active,
        "closed" => RecordStatus::Closed { reason },
        _ => {
            return Err(EventError::Invalid { field: "status", reason: "active or closed".into() });
        }
    };
    let name = name_fields(&mut r)?;
    let birth_date: Date = typed(&mut r, "birth")?;
    let sex: Sex = typed(&mut r, "sex")?;
    let address_municipality: MunicipalityCode = typed(&mut r, "address-municipality")?;
    let rest = r.take("address")?;
    let address = Address::new(address_municipality, rest)
        .map_err(|e| EventError::Invalid { field: "address", reason: e.to_string() })?;
    if address.rest() != rest {
        return Err(EventError::NotCanonical("address"));
    }
    let individual_number: Option<IndividualNumber> = optional(&mut r, "individual-number")?;
    let previous_code: Option<ResidentCode> = optional(&mut r, "previous-resident")?;
    let moved_to: Option<MunicipalityCode> = optional(&mut r, "moved-to")?;
    let move_out = r.optional("move-out")?.map(str::to_owned);
    let activation = r.optional("activation")?.map(str::to_owned);
    let time: Timestamp = typed(&mut r, "time")?;
    r.finish()?;
    let record = IdentityRecordParts {
        resident_code,
        name,
        birth_date,
        sex,
        address,
        individual_number,
        latest_change: ChangeInfo::new(reason, effective),
        history_number,
        status,
    };
    Ok(Change { municipality, record, previous_code, moved_to, move_out, activation, time })
}
