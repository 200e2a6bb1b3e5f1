//! The JSON requests and answers of the nodes' HTTP routes. A route's handler decodes one of
//! these and answers with another (or with an error body); clients use the same types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub use crate::documents::{CopyFile, RecordJson};

/// `POST /v1/events` (office): the node's answer once the signed event is durably appended.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Submitted {
    /// Its index in the registry log.
    pub index: u64,
    /// What it was: `genesis`, `enrolment`, `revocation`, `code-block`, `change`,
    /// `move-notice`.
    pub kind: String,
    /// The resident it changed, if any.
    pub resident: Option<String>,
}

/// `POST /v1/residents/{code}` (office): a resident's current record and its evidence (also
/// each resident a search, `POST /v1/searches`, finds).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ProvenRecord {
    /// The record, as the change in the evidence states it.
    pub record: RecordJson,
    /// c2sp.org/tlog-proof receipts, each carrying a signed event: the change that made the
    /// record, its signers' enrolments and the town's genesis (see `registry_core::evidence`).
    pub evidence: Vec<String>,
}

/// `POST /v1/pending` (office): a sensitive change proposed by one operator, queued until a
/// second person (a supervisor, if the first was not) approves it from their own session.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Proposed {
    /// The proposal's number in the town's approval queue.
    pub id: u64,
}

/// `GET /v1/pending` (office): one change waiting for approval.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct PendingChange {
    /// Its number in the queue.
    pub id: u64,
    /// The resident it changes.
    pub resident: String,
    /// Its reason's code.
    pub reason: String,
    /// The key name of the operator who proposed it.
    pub proposed_by: String,
    /// When it was proposed (POSIX seconds).
    pub time: u64,
    /// The signed change, exactly as proposed: the approver reviews its text, signs that text
    /// and sends the note with both signatures to `POST /v1/pending/{id}/approve`.
    pub note: String,
}

/// `POST /v1/sign/move-out` (the signer, asked by the national node): certify a move-out, on
/// the evidence of the move-out in the town's witnessed log.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct SignMoveOut {
    /// The evidence of the town's current record of the resident: a move-out (see
    /// `registry_core::evidence`).
    pub evidence: Vec<String>,
    /// The town moving the resident in, which asked for the certificate.
    pub to: String,
    /// When the signer certified the code before (a move or an activation), the evidence of
    /// the change in the same town that used that certificate: the record was opened there
    /// before this move-out closed it (`registry_core::custody`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened: Option<Vec<String>>,
}

/// `POST /v1/sign/activation` (the signer, asked by the national node): certify that a code is
/// active in no town, so `municipality` may make a record active under it
/// (`registry_core::custody`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct SignActivation {
    /// The town that will make the record active.
    pub municipality: String,
    /// The evidence of the change that closed the code's record last.
    pub closed: Vec<String>,
    /// The evidence of the change, in the same town, that opened the record with the signer's
    /// last certificate for the code (when one was issued and not withdrawn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened: Option<Vec<String>>,
    /// One receipt proving the withdrawal of the last move-out certificate in the log of the
    /// town moved to (when it was withdrawn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawal: Option<String>,
}

/// `POST /v1/sign/withdrawal` (the signer): withdraw the move-out certificate of a resident's
/// move-out, if it is the signer's last certificate for the code; the withdrawal is an event
/// for the town moved to.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct SignWithdrawal {
    /// The resident code.
    pub resident: String,
    /// The move-out's note hash (standard base64), as the certificate names it.
    pub event: String,
}

/// `POST /v1/activations` (national, asked by a town for its clerk): the activation
/// certificate for a resident code.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ActivationRequest {
    /// The resident code.
    pub resident: String,
}

/// `POST /v1/sign/move-notice` (the signer): a move notice (転入通知) for a move-in, on the
/// evidence of the move-in in the new town's witnessed log.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct SignMoveNotice {
    /// The evidence of the move-in change.
    pub evidence: Vec<String>,
}

/// `POST /v1/sign/code-block` (the signer): a resident-code block for a town.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct SignCodeBlock {
    /// The town.
    pub municipality: String,
    /// How many blocks the town says it holds.
    pub held: u64,
}

/// `POST /v1/codes` (office): a fresh resident code from the town's pool.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct FreshCode {
    /// The code, not yet used by any event.
    pub code: String,
}

/// `POST /v1/copies` (office) and `POST /v1/wide-area/copies` (between towns): a request
/// for a certificate copy (住民票の写し): the clerk's signed read request, which the clerk's
/// town forwards verbatim to the town that keeps the record when it is another (広域交付).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyRequest {
    /// The clerk's read request (`juki.read/v1`, kind `copy`, naming the resident and, for
    /// another town's resident, its `keeper`), signed by their operator key, exactly as signed.
    pub request: String,
}

/// The `from` query of `GET /v1/move-outs/{code}?from=…`: the town moved out of.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FromTown {
    /// Its municipality code.
    pub from: String,
}

/// The `from` query of `GET /v1/replication/batch?from=…`: the log size the puller holds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FromSize {
    /// The size.
    pub from: u64,
}

/// `POST /v1/code-blocks` (national): a town asks for a resident-code block, saying how many
/// blocks it holds, so that a repeated request gets the block it missed rather than a new one.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct BlockRequest {
    /// Blocks in the town's registry.
    pub blocks: u64,
}

/// `POST /v1/replicate`: the upstream node's answer to a batch it verified.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum BatchAnswer {
    /// The batch was verified and durably applied.
    Applied {
        /// The size the receipt acknowledges.
        size: u64,
        /// The signed receipt (`juki.receipt/v1`).
        receipt: String,
    },
    /// The node already holds this batch (or more): acknowledged again, applied once.
    Holds {
        /// The size the receipt acknowledges.
        size: u64,
        /// The signed receipt.
        receipt: String,
    },
}

impl BatchAnswer {
    /// The size the receipt acknowledges.
    pub fn size(&self) -> u64 {
        match self {
            BatchAnswer::Applied { size, .. } | BatchAnswer::Holds { size, .. } => *size,
        }
    }

    /// The signed receipt.
    pub fn receipt(&self) -> &str {
        match self {
            BatchAnswer::Applied { receipt, .. } | BatchAnswer::Holds { receipt, .. } => receipt,
        }
    }
}

/// `POST /v1/identity` (national): an agency's request for a resident's identity information.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct IdentityRequest {
    /// The resident's code.
    pub resident: String,
    /// The lawful purpose.
    pub purpose: String,
}

/// `GET /v1/status`: what a node reports about itself (no personal data).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Status {
    /// The node's name.
    pub name: String,
    /// Its identity URI.
    pub identity: String,
    /// Log origin → size of its published checkpoint (and, upstream, of each mirror).
    pub logs: BTreeMap<String, u64>,
    /// For a municipality: the size its prefecture acknowledged.
    pub acked: Option<u64>,
    /// For a municipality: unused codes in its pool.
    pub pool: Option<u64>,
    /// For a municipality: events in its registry log, published or not yet.
    pub events: Option<u64>,
    /// For a municipality: the events its last whole self-verification covered, with no
    /// difference found (absent before the first, or while its tables differ from its log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<u64>,
    /// Alerts recorded.
    pub alerts: usize,
}

/// `GET /v1/alerts?after=N`: the alerts after number `N` (all without it).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertsQuery {
    /// Only alerts numbered above this one.
    #[serde(default)]
    pub after: u64,
}

/// `GET /v1/alerts`: one alert a node recorded.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Alert {
    /// Its number at this node (ascending, never reused; `?after=` reads on from one).
    #[serde(default)]
    pub id: u64,
    /// POSIX seconds.
    pub time: u64,
    /// Its stable code (see `docs/ERRORS.md`).
    pub kind: String,
    /// How grave it is: `notice`, `warning` or `critical` (the code's, see `docs/ERRORS.md`).
    #[serde(default)]
    #[schema(value_type = String, example = "critical")]
    pub severity: Option<crate::errors::Severity>,
    /// The peer's identity URI, or its address when it had none.
    pub peer: String,
    /// What happened (codes and sizes only).
    pub detail: String,
    /// The node that raised it, when another node did and reported it here (its signed report
    /// is kept); absent when this node raised it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raised_by: Option<String>,
    /// How often the same alert (kind, peer and detail) was raised again within a minute of
    /// this one, and counted here instead of recorded anew.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub repeats: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `GET /v1/purposes` (agency): one purpose the asking agency holds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct PurposeJson {
    /// Its code, which a request names.
    pub code: String,
    /// The law and table entry that grant it.
    pub law: String,
    /// The items it may receive.
    pub items: Vec<crate::purposes::Item>,
    /// Whether it may search by the four basic items.
    pub search: bool,
    /// Requests per minute.
    pub per_minute: u32,
    /// Requests per day (Japan time).
    pub per_day: u32,
    /// Whose records it concerns: the residents of these places alone (two-digit prefecture
    /// codes, six-digit municipality codes); absent for a nationwide purpose.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub within: Vec<String>,
}

impl PurposeJson {
    /// From the catalogue's entry.
    pub fn of(purpose: &crate::purposes::Purpose) -> PurposeJson {
        PurposeJson {
            code: purpose.code.clone(),
            law: purpose.law.clone(),
            items: purpose.items.iter().copied().collect(),
            search: purpose.search,
            per_minute: purpose.per_minute,
            per_day: purpose.per_day,
            within: purpose.within.iter().map(ToString::to_string).collect(),
        }
    }
}

/// `POST /v1/disclosures` (office) and `POST /v1/disclosures/provisions` (a town's node at its
/// upper tiers): the provisions of one resident's identity information in a period.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisclosureRequest {
    /// The resident's 住民票コード.
    pub resident: String,
    /// From (POSIX seconds, inclusive).
    pub from: u64,
    /// To (POSIX seconds, exclusive).
    pub to: u64,
    /// At the office API: the clerk's signed read request (`juki.read/v1`, kind
    /// `disclosure`, this resident), exactly as signed. Between tiers the town's node asks
    /// itself and sends none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
}

/// The provisions one node recorded about a resident, each proven in its provision log.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ProvisionsDisclosed {
    /// The node that recorded them (identity URI).
    pub node: String,
    /// Its provision log's origin.
    pub origin: String,
    /// c2sp.org/tlog-proof receipts, each carrying the private record (`juki.provision/v1`,
    /// with its salt) in `extra`; the log's entry is the record's commitment.
    pub receipts: Vec<String>,
    /// Records of the period not yet in a witnessed checkpoint (proven when asked again).
    pub pending: u64,
}

/// `POST /v1/disclosures` (office): a resident's record and every provision of it in a period,
/// at the town, its prefecture and the national node.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Disclosure {
    /// The resident's current record with its evidence.
    pub record: ProvenRecord,
    /// Each node's provisions of it.
    pub provisions: Vec<ProvisionsDisclosed>,
}
