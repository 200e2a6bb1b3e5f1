//! A clerk's read request (`juki.read/v1`): every read of personal data at a town office — a
//! lookup, a certificate copy (also of another town's resident, 広域交付), a search by name or
//! birth — is a signed note by the clerk's own operator key, and the node that answers checks it
//! before it reads anything and keeps it in the provision record of every resident it provides.
//! Pure: the caller supplies the time, the nonce and the town's operators.
//!
//! ```text
//! juki.read/v1
//! town 204072
//! operator op.204072.achi.example/tanaka+1a2b3c4d+AY…
//! kind lookup
//! resident 20407200072
//! purpose 窓口での本人確認
//! time 1764806400
//! nonce 5f0c1e9a7d3b4c2a8e6f1d0b9a7c5e3f
//! ```
//!
//! `town` is the clerk's town and `operator` the verifier key of the operator key that signs
//! (its name is the key's name as the town's registry enrolled it). `kind` is `lookup`, `copy` or
//! `search`. A lookup and a copy name the `resident`; a copy of another town's resident names
//! the town that keeps the record as `keeper`. A search carries `text` (a name or reading, or its
//! beginning) and/or `birth`, and `limit`. `purpose` is one line. `time` is POSIX seconds and
//! must be within [`FRESHNESS`] of the answering node's clock; `nonce` is 16 random bytes in
//! lower-case hex, and a node answers a nonce once (it keeps those it saw until their requests
//! would be stale anyway). Fields appear in this order; the encoding is
//! `registry_core::fields` (one escaped form per value), so the signed bytes are the only bytes
//! that parse to the request.

use registry_core::fields::{Fields, FieldsError, Writer};
use registry_core::rules::Operator;
use registry_domain::{Date, MunicipalityCode, ResidentCode};
use tlog::note::{self, Note, VerifierKey, Verifiers};

use crate::errors::Code;

/// The request's first line.
pub const READ: &str = "juki.read/v1";

/// How far a request's time may be from the answering node's clock, either way (seconds).
pub const FRESHNESS: u64 = 300;

/// The most residents one search may return.
pub const MAX_SEARCH: u32 = 100;

/// What is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadKind {
    /// A resident's current record, at the counter.
    Lookup,
    /// A certificate copy (住民票の写し), of this town's resident or, with a keeper, another's.
    Copy,
    /// Residents found by name or reading and birth date.
    Search,
    /// A resident's disclosure: the record and every provision of it.
    Disclosure,
}

impl ReadKind {
    /// As it is written in the request.
    pub fn as_str(self) -> &'static str {
        match self {
            ReadKind::Lookup => "lookup",
            ReadKind::Copy => "copy",
            ReadKind::Search => "search",
            ReadKind::Disclosure => "disclosure",
        }
    }

    fn parse(text: &str) -> Option<ReadKind> {
        [ReadKind::Lookup, ReadKind::Copy, ReadKind::Search, ReadKind::Disclosure]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// A read request's content (its signature is checked apart, by [`open_at_home`] or
/// [`open_from`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadRequest {
    /// The clerk's town.
    pub town: MunicipalityCode,
    /// The verifier key of the clerk's operator key, which signs the request.
    pub operator: VerifierKey,
    /// What is read.
    pub kind: ReadKind,
    /// For a lookup or a copy: the resident.
    pub resident: Option<ResidentCode>,
    /// For a copy of another town's resident: the town that keeps the record.
    pub keeper: Option<MunicipalityCode>,
    /// For a search: a name or a reading, or its beginning.
    pub text: Option<String>,
    /// For a search: the date of birth.
    pub birth: Option<Date>,
    /// For a search: at most this many residents.
    pub limit: Option<u32>,
    /// Why: one line.
    pub purpose: String,
    /// When the clerk signed it (POSIX seconds).
    pub time: u64,
    /// 16 random bytes, lower-case hex.
    pub nonce: String,
}

/// Why a text is not a read request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a read request: {0}")]
pub struct ReadError(String);

impl From<FieldsError> for ReadError {
    fn from(e: FieldsError) -> ReadError {
        ReadError(e.to_string())
    }
}

impl ReadRequest {
    /// The text to sign.
    pub fn text(&self) -> String {
        Writer::new(READ)
            .field("town", self.town)
            .field("operator", &self.operator)
            .field("kind", self.kind.as_str())
            .optional("resident", self.resident)
            .optional("keeper", self.keeper)
            .optional("text", self.text.as_deref())
            .optional("birth", self.birth)
            .optional("limit", self.limit)
            .field("purpose", &self.purpose)
            .field("time", self.time)
            .field("nonce", &self.nonce)
            .finish()
    }

    /// Parses a request's text; which fields a kind carries is checked here.
    pub fn parse(text: &str) -> Result<ReadRequest, ReadError> {
        let bad = |what: &str| ReadError(what.to_owned());
        let fields = Fields::parse(text, READ)?;
        let mut r = fields.reader();
        let town = MunicipalityCode::parse(r.take("town")?).map_err(|e| bad(&e.to_string()))?;
        let operator = VerifierKey::parse(r.take("operator")?).map_err(|e| bad(&e.to_string()))?;
        let kind = ReadKind::parse(r.take("kind")?).ok_or_else(|| bad("unknown kind"))?;
        let resident = r
            .optional("resident")?
            .map(ResidentCode::parse)
            .transpose()
            .map_err(|e| bad(&e.to_string()))?;
        let keeper = r
            .optional("keeper")?
            .map(MunicipalityCode::parse)
            .transpose()
            .map_err(|e| bad(&e.to_string()))?;
        let search_text = r.optional("text")?.map(str::to_owned);
        let birth =
            r.optional("birth")?.map(Date::parse).transpose().map_err(|e| bad(&e.to_string()))?;
        let limit = r
            .optional("limit")?
            .map(|l| l.parse::<u32>().map_err(|_| bad("limit is not a number")))
            .transpose()?;
        let purpose = r.take("purpose")?.to_owned();
        let time = r.take("time")?.parse().map_err(|_| bad("time is not a number"))?;
        let nonce = r.take("nonce")?.to_owned();
        r.finish()?;
        if nonce.len() != 32
            || !nonce.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad("nonce is not 16 bytes in lower-case hex"));
        }
        let shape_ok = match kind {
            ReadKind::Lookup | ReadKind::Disclosure => {
                resident.is_some()
                    && keeper.is_none()
                    && search_text.is_none()
                    && birth.is_none()
                    && limit.is_none()
            }
            ReadKind::Copy => {
                resident.is_some() && search_text.is_none() && birth.is_none() && limit.is_none()
            }
            ReadKind::Search => {
                resident.is_none()
                    && keeper.is_none()
                    && (search_text.is_some() || birth.is_some())
                    && limit.is_some_and(|l| (1..=MAX_SEARCH).contains(&l))
            }
        };
        if !shape_ok {
            return Err(bad(
                "a lookup or a disclosure names a resident; a copy a resident and maybe its keeper; a search a \
                 text or a birth date and a limit of 1 to 100",
            ));
        }
        if search_text.as_deref().is_some_and(|t| t.trim().is_empty()) {
            return Err(bad("the search text is empty"));
        }
        if keeper == Some(town) {
            return Err(bad("a copy of the clerk's own town names no keeper"));
        }
        Ok(ReadRequest {
            town,
            operator,
            kind,
            resident,
            keeper,
            text: search_text,
            birth,
            limit,
            purpose,
            time,
            nonce,
        })
    }

    /// The request signed by `operator`, whose verifier key it must name: the note's bytes.
    pub fn sign(&self, operator: &tlog::note::Signer) -> Result<Vec<u8>, ReadError> {
        if operator.verifier() != self.operator {
            return Err(ReadError("the request names another operator key".into()));
        }
        let mut note = Note::new(self.text()).map_err(|e| ReadError(e.to_string()))?;
        note.sign(operator).map_err(|e| ReadError(e.to_string()))?;
        Ok(note.to_bytes())
    }
}

/// A signed read request that verified: its content, the signed note's exact text (signature
/// lines included), and the name of the operator key that signed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedRead {
    /// The request.
    pub request: ReadRequest,
    /// The signed note, exactly as received.
    pub note: String,
}

impl SignedRead {
    /// The signing operator's key name (as the town's registry enrolled it): the reader the
    /// behaviour rules count and the provision records name.
    pub fn reader(&self) -> &str {
        self.request.operator.name()
    }
}

/// Why a read request is refused. Messages name keys and times, never a resident.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadRefusal {
    /// Not a read request signed by an operator key enrolled in the town (no signature, one
    /// that does not verify, a key the town never enrolled, a request of another town).
    #[error("{0}")]
    Unsigned(String),
    /// Signed by an operator key the town revoked.
    #[error("the read request is signed by the operator key {0}, which is revoked")]
    Revoked(String),
    /// Its time is too far from the node's clock.
    #[error(
        "the read request was signed at {time}, more than {FRESHNESS} s from the node's clock \
         ({now})"
    )]
    Stale {
        /// The request's time.
        time: u64,
        /// The node's.
        now: u64,
    },
}

impl ReadRefusal {
    /// Its code.
    pub fn code(&self) -> Code {
        match self {
            ReadRefusal::Unsigned(_) => Code::UnsignedRead,
            ReadRefusal::Revoked(_) => Code::RevokedReader,
            ReadRefusal::Stale { .. } => Code::StaleRead,
        }
    }
}

/// Parses a signed request and verifies its one signature with the operator key it names.
fn open_signed(note: &[u8]) -> Result<SignedRead, ReadRefusal> {
    let unsigned = |why: String| ReadRefusal::Unsigned(why);
    let parsed = Note::parse(note)
        .map_err(|e| unsigned(format!("the body is not a signed read request: {e}")))?;
    let request = ReadRequest::parse(parsed.text()).map_err(|e| unsigned(e.to_string()))?;
    if parsed.signatures().len() != 1 {
        return Err(unsigned(
            "a read request carries exactly one signature, its clerk's".to_owned(),
        ));
    }
    let known: Verifiers = std::iter::once(request.operator.clone()).collect();
    note::open_parsed(parsed, &known, &tlog::precheck::Prechecked::none()).map_err(|e| {
        unsigned(format!(
            "the read request is not signed by the operator key it names ({}): {e}",
            request.operator.name()
        ))
    })?;
    let note = String::from_utf8(note.to_vec())
        .map_err(|_| unsigned("the read request is not UTF-8".to_owned()))?;
    Ok(SignedRead { request, note })
}

fn fresh(request: &ReadRequest, now: u64) -> Result<(), ReadRefusal> {
    if request.time.abs_diff(now) > FRESHNESS {
        return Err(ReadRefusal::Stale { time: request.time, now });
    }
    Ok(())
}

/// Opens a read request at the clerk's own town `town`, whose registry enrolled `operators`: it
/// must name this town, be signed by the operator key it names, that key enrolled here and not
/// revoked, and be fresh at `now`. (Whether its nonce was seen before is the node's to check.)
pub fn open_at_home(
    note: &[u8],
    town: MunicipalityCode,
    operators: &[Operator],
    now: u64,
) -> Result<SignedRead, ReadRefusal> {
    let signed = open_signed(note)?;
    let request = &signed.request;
    if request.town != town {
        return Err(ReadRefusal::Unsigned(format!(
            "the read request is one of town {}, not of {town}",
            request.town
        )));
    }
    match operators.iter().find(|o| o.key == request.operator) {
        None => {
            return Err(ReadRefusal::Unsigned(format!(
                "the key {} is not an operator key enrolled in {town}",
                request.operator.name()
            )));
        }
        Some(o) if o.revoked => {
            return Err(ReadRefusal::Revoked(request.operator.name().to_owned()));
        }
        Some(_) => {}
    }
    fresh(request, now)?;
    Ok(signed)
}

/// Opens a read request that town `requester`'s node forwarded to `keeper` (a wide-area copy):
/// it must be a copy request of the requesting town for a resident of `keeper`, signed by the
/// operator key it names, and fresh at `now`. The keeping town does not hold the requesting
/// town's registry, so whether that key is enrolled there and not revoked is what the
/// requesting node vouches for (it checked it with [`open_at_home`] before forwarding); the
/// caller checks that the key's name names the requesting town.
pub fn open_from(
    note: &[u8],
    requester: MunicipalityCode,
    keeper: MunicipalityCode,
    now: u64,
) -> Result<SignedRead, ReadRefusal> {
    let signed = open_signed(note)?;
    let request = &signed.request;
    if request.town != requester {
        return Err(ReadRefusal::Unsigned(format!(
            "the read request is one of town {}, but town {requester}'s node forwarded it",
            request.town
        )));
    }
    if request.kind != ReadKind::Copy || request.keeper != Some(keeper) {
        return Err(ReadRefusal::Unsigned(format!(
            "the forwarded request is not a copy request of a resident {keeper} keeps"
        )));
    }
    fresh(request, now)?;
    Ok(signed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use registry_core::event::Role;
    use registry_core::time::Timestamp;
    use tlog::note::{KeyKind, Signer};

    const ACHI: &str = "204072";
    const NOW: u64 = 1_764_806_400;

    fn key(name: &str, seed: u8) -> Signer {
        Signer::from_seed(name, KeyKind::Ed25519, [seed; 32]).unwrap()
    }

    fn tanaka() -> Signer {
        key("op.204072.achi.example/tanaka", 1)
    }

    fn operator(signer: &Signer, revoked: bool) -> Operator {
        Operator {
            key: signer.verifier(),
            role: Role::Clerk,
            enrolled: Timestamp::from_unix(0),
            revoked,
        }
    }

    fn lookup(by: &Signer) -> ReadRequest {
        ReadRequest {
            town: MunicipalityCode::parse(ACHI).unwrap(),
            operator: by.verifier(),
            kind: ReadKind::Lookup,
            resident: Some(code()),
            keeper: None,
            text: None,
            birth: None,
            limit: None,
            purpose: "窓口での本人確認".into(),
            time: NOW,
            nonce: "5f0c1e9a7d3b4c2a8e6f1d0b9a7c5e3f".into(),
        }
    }

    fn code() -> ResidentCode {
        // Any valid code: the first ten digits with their check digit.
        (0..10)
            .find_map(|d| ResidentCode::parse(&format!("1234567890{d}")).ok())
            .expect("one check digit fits")
    }

    fn achi() -> MunicipalityCode {
        MunicipalityCode::parse(ACHI).unwrap()
    }

    #[test]
    fn requests_parse_back_exactly() {
        let mut search = lookup(&tanaka());
        search.kind = ReadKind::Search;
        search.resident = None;
        search.text = Some("クマガイ\\n".into());
        search.birth = Some(Date::parse("1990-04-01").unwrap());
        search.limit = Some(50);
        let mut copy = lookup(&tanaka());
        copy.kind = ReadKind::Copy;
        copy.keeper = Some(MunicipalityCode::parse("202029").unwrap());
        for request in [lookup(&tanaka()), search, copy] {
            assert_eq!(ReadRequest::parse(&request.text()).unwrap(), request);
        }
    }

    #[test]
    fn each_kind_carries_its_own_fields() {
        let base = lookup(&tanaka());
        let mut no_resident = base.clone();
        no_resident.resident = None;
        let mut keeper_on_lookup = base.clone();
        keeper_on_lookup.keeper = Some(MunicipalityCode::parse("202029").unwrap());
        let mut own_keeper = base.clone();
        own_keeper.kind = ReadKind::Copy;
        own_keeper.keeper = Some(achi());
        let mut search_without_limit = base.clone();
        search_without_limit.kind = ReadKind::Search;
        search_without_limit.resident = None;
        search_without_limit.text = Some("クマ".into());
        let mut search_too_wide = search_without_limit.clone();
        search_too_wide.limit = Some(MAX_SEARCH + 1);
        let mut bad_nonce = base.clone();
        bad_nonce.nonce = "5F0C1E9A7D3B4C2A8E6F1D0B9A7C5E3F".into();
        for broken in [
            no_resident,
            keeper_on_lookup,
            own_keeper,
            search_without_limit,
            search_too_wide,
            bad_nonce,
        ] {
            assert!(ReadRequest::parse(&broken.text()).is_err(), "{}", broken.text());
        }
        let text = base.text();
        for broken in [
            text.replace("kind lookup", "kind peek"),
            text.replace("juki.read/v1", "juki.read/v2"),
            text.replace("purpose ", "reason "),
            format!("{text}extra 1\n"),
        ] {
            assert!(ReadRequest::parse(&broken).is_err(), "{broken}");
        }
    }

    #[test]
    fn only_an_enrolled_unrevoked_operator_of_this_town_reads_and_only_now() {
        let tanaka = tanaka();
        let operators = [operator(&tanaka, false)];
        let note = lookup(&tanaka).sign(&tanaka).unwrap();
        let opened = open_at_home(&note, achi(), &operators, NOW + FRESHNESS).unwrap();
        assert_eq!(opened.reader(), "op.204072.achi.example/tanaka");
        assert_eq!(opened.note.as_bytes(), note.as_slice());

        let code = |r: Result<SignedRead, ReadRefusal>| r.unwrap_err().code();
        // Stale either way.
        assert_eq!(
            code(open_at_home(&note, achi(), &operators, NOW + FRESHNESS + 1)),
            Code::StaleRead
        );
        assert_eq!(
            code(open_at_home(&note, achi(), &operators, NOW - FRESHNESS - 1)),
            Code::StaleRead
        );
        // Revoked.
        assert_eq!(
            code(open_at_home(&note, achi(), &[operator(&tanaka, true)], NOW)),
            Code::RevokedReader
        );
        // Another town's operator, or a key never enrolled.
        let other = key("op.203611.shimosuwa.example/sato", 2);
        let mut theirs = lookup(&other);
        theirs.town = MunicipalityCode::parse("203611").unwrap();
        let theirs = theirs.sign(&other).unwrap();
        assert_eq!(code(open_at_home(&theirs, achi(), &operators, NOW)), Code::UnsignedRead);
        let stranger = key("op.204072.achi.example/stranger", 3);
        let strangers = lookup(&stranger).sign(&stranger).unwrap();
        assert_eq!(code(open_at_home(&strangers, achi(), &operators, NOW)), Code::UnsignedRead);
        // No signature, a signature by another key than the one named, or two signatures.
        let text = lookup(&tanaka).text();
        assert_eq!(
            code(open_at_home(text.as_bytes(), achi(), &operators, NOW)),
            Code::UnsignedRead
        );
        let mut forged = Note::new(text.clone()).unwrap();
        forged.sign(&key("op.204072.achi.example/tanaka", 9)).unwrap();
        assert_eq!(
            code(open_at_home(&forged.to_bytes(), achi(), &operators, NOW)),
            Code::UnsignedRead
        );
        let mut twice = Note::new(text).unwrap();
        twice.sign(&tanaka).unwrap();
        twice.sign(&stranger).unwrap();
        assert_eq!(
            code(open_at_home(&twice.to_bytes(), achi(), &operators, NOW)),
            Code::UnsignedRead
        );
        // An edited text no longer verifies.
        let edited = String::from_utf8(note.clone()).unwrap().replace("本人確認", "本人確認 ");
        assert_eq!(
            code(open_at_home(edited.as_bytes(), achi(), &operators, NOW)),
            Code::UnsignedRead
        );
    }

    #[test]
    fn a_keeping_town_takes_only_a_copy_request_of_the_forwarding_town_for_itself() {
        let tanaka = tanaka();
        let matsumoto = MunicipalityCode::parse("202029").unwrap();
        let mut copy = lookup(&tanaka);
        copy.kind = ReadKind::Copy;
        copy.keeper = Some(matsumoto);
        let note = copy.sign(&tanaka).unwrap();
        let opened = open_from(&note, achi(), matsumoto, NOW).unwrap();
        assert_eq!(opened.request, copy);
        let code = |r: Result<SignedRead, ReadRefusal>| r.unwrap_err().code();
        let shimosuwa = MunicipalityCode::parse("203611").unwrap();
        assert_eq!(code(open_from(&note, shimosuwa, matsumoto, NOW)), Code::UnsignedRead);
        assert_eq!(code(open_from(&note, achi(), shimosuwa, NOW)), Code::UnsignedRead);
        assert_eq!(code(open_from(&note, achi(), matsumoto, NOW + 2 * FRESHNESS)), Code::StaleRead);
        let lookup_note = lookup(&tanaka).sign(&tanaka).unwrap();
        assert_eq!(code(open_from(&lookup_note, achi(), matsumoto, NOW)), Code::UnsignedRead);
    }
}
