//! Every refusal and every alert as a typed value with a stable code.
//!
//! A node never answers an error with a sentence to match: an error answer is an
//! [`ErrorBody`] — `code` (one of [`Code::ALL`], stable across versions), `message` (for
//! people, no personal data) and, where useful, `hint` (what to do) — and every alert a node
//! records carries a [`Code`] as its kind. `docs/ERRORS.md` is generated from [`reference`] and
//! a test keeps it current. An internal failure reaches a peer only as [`Code::Internal`]; its
//! detail stays in the node's own log.

use registry_core::rules::Refusal;
use serde::{Deserialize, Serialize};

/// Where a code belongs, for the reference's sections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    /// The request itself is malformed or incomplete.
    Request,
    /// Who the peer is (its verified certificate) does not allow this.
    Identity,
    /// The registry's rules refused a signed event.
    Rules,
    /// Replication between tiers: a batch, its checkpoint and proof.
    Replication,
    /// Lookups, copies, code blocks and moves: what is asked for does not exist (yet).
    Availability,
    /// What a node serves, or a client receives, against the witnessed log.
    Integrity,
    /// What one actor does over time: bursts, guessing, hours, refusals, handshakes.
    Behaviour,
    /// Another node, or this node itself, failed.
    Service,
}

impl Family {
    fn title(self) -> &'static str {
        match self {
            Family::Request => "The request",
            Family::Identity => "The peer's identity",
            Family::Rules => "The registry's rules",
            Family::Replication => "Replication between tiers",
            Family::Availability => "What is asked for",
            Family::Integrity => "Integrity of what is served",
            Family::Behaviour => "Behaviour over time",
            Family::Service => "Other nodes and this node",
        }
    }
}

/// How grave an alert is: what its reader must do, and how soon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Worth knowing; nothing is at stake yet (a request the rate bound refused).
    Notice,
    /// Someone tried something the network refused, or a service is degraded: find out who.
    Warning,
    /// The integrity of a node or a log is in question: a forged, rewritten or tampered log, a
    /// write behind the log's back. The national node quarantines the node it concerns.
    Critical,
}

impl Severity {
    /// As it is written in alerts, sinks and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Notice => "notice",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

macro_rules! severity {
    (no) => {
        None
    };
    (notice) => {
        Some(Severity::Notice)
    };
    (warning) => {
        Some(Severity::Warning)
    };
    (critical) => {
        Some(Severity::Critical)
    };
}

macro_rules! codes {
    ($(
        $(#[$doc:meta])*
        $variant:ident = $code:literal, $family:ident, status $status:literal, alert $alert:ident,
            $meaning:literal, $remedy:literal;
    )*) => {
        /// A stable error or alert code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($(#[$doc])* $variant,)*
        }

        impl Code {
            /// Every code, in the reference's order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as it travels (`code` of an error body, `kind` of an alert).
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// Its section of the reference.
            pub fn family(self) -> Family {
                match self { $(Code::$variant => Family::$family,)* }
            }

            /// The HTTP status a node answers with, or 0 for a code that is only ever an
            /// alert (the request was refused with another code, or never reached HTTP).
            pub fn status(self) -> u16 {
                match self { $(Code::$variant => $status,)* }
            }

            /// How grave an alert of this code is, or `None` for a code that is never one.
            pub fn severity(self) -> Option<Severity> {
                match self { $(Code::$variant => severity!($alert),)* }
            }

            /// What it means.
            pub fn meaning(self) -> &'static str {
                match self { $(Code::$variant => $meaning,)* }
            }

            /// What to do about it.
            pub fn remedy(self) -> &'static str {
                match self { $(Code::$variant => $remedy,)* }
            }
        }
    };
}

codes! {
    /// The body, a query or a path segment does not parse.
    BadRequest = "bad-request", Request, status 400, alert no,
        "The request does not parse: malformed JSON, a resident or municipality code that is not one, a missing query parameter.",
        "Fix the request as the message says; nothing was changed.";
    /// A read without a declared purpose.
    PurposeRequired = "purpose-required", Request, status 400, alert no,
        "Every read of identity information needs a declared purpose: one line, at most 200 bytes.",
        "Declare the purpose: the `purpose` of a clerk's read request (`juki.read/v1`), of an agency's request.";
    /// A provision request names a purpose the agency does not hold.
    PurposeNotHeld = "purpose-not-held", Identity, status 403, alert warning,
        "The request names a purpose the signed catalogue of lawful purposes does not list for this agency: an agency may ask only under the purposes the law grants it (別表).",
        "Ask under one of your agency's purposes (`juki agency purposes`); a purpose is added only by the national administrator's signed catalogue. The refusal is recorded.";
    /// A provision request asks for items its purpose may not receive, or to search when it may not.
    ItemsNotAllowed = "items-not-allowed", Identity, status 403, alert warning,
        "The request asks for items of identity information, or for a search by the four basic items, that its purpose may not receive: matching data beyond its purpose is what the law forbids.",
        "Ask only for the items your purpose lists (`juki agency purposes`), by 住民票コード if it may not search. The refusal is recorded.";
    /// A provision request for a resident outside its purpose's jurisdiction.
    OutOfJurisdiction = "out-of-jurisdiction", Identity, status 403, alert warning,
        "The request asks for a resident whose record a town outside its purpose's jurisdiction keeps (`within` in the signed catalogue of lawful purposes): a prefecture's or a municipality's own business may receive identity information of its own residents alone. Nothing of the record was provided, and a search names no candidate outside the jurisdiction.",
        "Ask only for residents of the places your purpose lists (`juki agency purposes`); a resident who moved away is no longer one of them. If the work needs others, the national administrator must sign a catalogue that grants it. The refusal is recorded.";
    /// An agency asks faster than its purpose's rate.
    RateLimited = "rate-limited", Availability, status 429, alert notice,
        "The agency asked under this purpose faster than the catalogue's per-minute rate allows.",
        "Slow down and retry after a minute; a batch client spreads its requests. The refusal is recorded.";
    /// An agency has used its purpose's quota for the day.
    QuotaExceeded = "quota-exceeded", Availability, status 429, alert warning,
        "The agency has made as many requests under this purpose today (Japan time) as the catalogue allows.",
        "Wait for the next day, or ask the national administrator to raise the quota in a new catalogue if the work needs it. The refusal is recorded.";
    /// The node has no catalogue of purposes, so it provides nothing.
    NoCatalogue = "no-catalogue", Service, status 503, alert no,
        "This node has no valid catalogue of lawful purposes signed by a national administrator, so it provides no identity information.",
        "Install the signed catalogue (`juki purposes sign`, `catalogue` in node.toml) and restart the node.";
    /// No client certificate on a listener that demands one.
    NoPeer = "no-peer", Identity, status 401, alert no,
        "The connection carries no verified client certificate of the network.",
        "Connect with a certificate issued by the network's CA (`juki pki issue`).";
    /// The peer's role or town may not use this API.
    WrongPeer = "wrong-peer", Identity, status 403, alert warning,
        "The peer's verified certificate names a role or town that may not use this API (another town's console at an office API, an agency at a node-to-node route, a town asking for another town's certificate).",
        "Use the API meant for your role; if you did not send this, someone holds a certificate of the network: check the peer it names.";
    /// A batch from a node that may not send batches for that town.
    WrongSender = "wrong-sender", Identity, status 403, alert critical,
        "A batch came from a node that may not send batches for that town: a prefecture takes a town's batches only from that town's node, the national node only from the town's prefecture.",
        "Send batches through the configured upstream; an unexpected one is an attack to investigate.";
    /// A quarantine release that is not signed by a national administrator, or names another alert.
    BadRelease = "bad-release", Identity, status 403, alert critical,
        "A quarantine release is not signed by a key the national node lists as an administrator's, or names another alert than the one that quarantined the town: releasing a compromised town is what an attacker would want.",
        "Sign the release with a national administrator's key for the alert shown by `juki quarantine list`; an unexpected one is an attack to investigate.";
    /// This node does not serve or mirror the town named.
    NotServed = "not-served", Identity, status 403, alert no,
        "This node does not serve or mirror the town the request names.",
        "Ask the node that serves that town; check the node's `towns` configuration.";
    /// A read of personal data that is not signed by an operator of this town.
    UnsignedRead = "unsigned-read", Identity, status 401, alert warning,
        "A read of personal data (a lookup, a copy, a search) came without a read request (`juki.read/v1`) signed by an operator key enrolled in this town: no signature, one that does not verify, a key the town never enrolled (another town's operator), or a request of another town. Nothing was read.",
        "Sign the read with your own operator key (`juki resident show|search --key`, the clerk's client). A console reading without a clerk's signature is how a stolen console certificate looks: find out who used it.";
    /// A read request signed by a revoked operator key.
    RevokedReader = "revoked-reader", Identity, status 403, alert warning,
        "The read request is signed by an operator key the town's registry revoked. Nothing was read.",
        "Read with a key that is enrolled and not revoked. A revoked key still in use is how a departed clerk's key looks: find out who holds it.";
    /// A read request whose time is too far from the node's clock.
    StaleRead = "stale-read", Identity, status 422, alert notice,
        "The read request was signed more than five minutes before or after the node's clock: a request is answered only while it is fresh, so a copied request cannot be used later. Nothing was read.",
        "Sign the request again now; check the console's clock.";
    /// A read request answered before.
    ReadReplayed = "read-replayed", Identity, status 409, alert warning,
        "The read request's nonce was already used: a signed request is answered once. Nothing was read.",
        "Sign a new request for every read. A request sent again is how someone replaying a clerk's captured request looks: find out who sent it.";
    /// A signed event does not parse.
    MalformedEvent = "malformed-event", Rules, status 422, alert no,
        "The signed event does not parse as a juki event, or a field is out of its domain.",
        "Rebuild the event with a juki client; nothing was recorded.";
    /// A signed event of another municipality.
    WrongMunicipality = "wrong-municipality", Rules, status 422, alert warning,
        "The event is for another municipality than this registry's.",
        "Submit it to its own town's node. At a town's counter this is how a forgery looks, so it is also an alert (`unauthorised-event`).";
    /// A signature the rules require is missing or does not verify.
    Unsigned = "unsigned", Rules, status 422, alert warning,
        "A signature the rules require is missing or does not verify against the key the log established.",
        "Sign with an enrolled operator key (the admin key for enrolments, the national key for code blocks and move documents).";
    /// A signer may not sign this event.
    Unauthorised = "unauthorised", Rules, status 422, alert warning,
        "A signer is not allowed to sign this event: not enrolled, revoked before this point of the log, or the wrong kind of key.",
        "Sign with an operator key that is enrolled and not revoked.";
    /// A sensitive change with fewer than two different operators.
    SecondOperatorMissing = "second-operator-missing", Rules, status 422, alert warning,
        "The change (消除, death, a correction, a code change, a cancellation) needs two different operators' signatures. A town's clients propose such a change for approval (`POST /v1/proposals`); one submitted directly at the counter with one signature is how one stolen key looks, so it is also an alert (`unauthorised-event`).",
        "Propose it and have a second operator approve it.";
    /// A sensitive change signed by two clerks, with no supervisor.
    SupervisorMissing = "supervisor-missing", Rules, status 422, alert warning,
        "A sensitive change (消除, death, corrections, code changes, cancellations) needs two different people, one of them a supervisor; only clerks signed it.",
        "Have a supervisor approve the change. Two clerks approving a death is how one insider with a colleague's key looks: check who signed.";
    /// A change reopening a record, or entering one under a code another town gave, without the
    /// national signer's activation certificate.
    ActivationMissing = "activation-missing", Rules, status 422, alert warning,
        "The change makes a record active under a code already used (a cancellation that reopens a record, a move back in from abroad, a move-in from abroad with a code another town gave) and carries no activation certificate: the national signer's word that the code is active in no town.",
        "Ask for the certificate through the office API (`POST /v1/activations/{code}`) and sign the change with it. Without one, this is how one key giving a person a second record looks: check who signed.";
    /// The national signer's records do not show the code closed in every town.
    StillActive = "still-active", Rules, status 409, alert warning,
        "The national signer certifies a move or a new activation only on evidence that the code's record is closed in the one town where its last certificate (or its block) says it may be active; the evidence does not show that.",
        "Close the record where it is active first (a move-out, or a withdrawal of an unused move-out certificate), or ask for the certificate where the person is registered. A request for a person active elsewhere is how a second record looks.";
    /// The change is not a legal transition from the current record.
    IllegalTransition = "illegal-transition", Rules, status 422, alert no,
        "The change is not allowed from the resident's current record (a closed record reopened, a code reused, a field a reason may not change).",
        "Read the resident's current record and the message; record the change that fits.";
    /// A code block overlapping one already allocated here.
    CodeBlockOverlap = "code-block-overlap", Rules, status 422, alert no,
        "The code block overlaps a block already allocated to this registry (a repeated delivery of the same block is this too).",
        "Nothing to do for a repeated delivery; an overlapping new block means the allocator is wrong.";
    /// A move-in notice already recorded.
    NoticeRecorded = "notice-recorded", Rules, status 409, alert no,
        "A move-in notice (転入通知) for this move-out is already recorded.",
        "Nothing to do: the notice was delivered before.";
    /// An approval whose change is not the one proposed.
    ApprovalMismatch = "approval-mismatch", Rules, status 422, alert warning,
        "The approval carries a change whose text is not the one proposed: an approver signs exactly what a colleague proposed, or nothing.",
        "Fetch the proposal again and sign its text as it is; an approval of another text is how a swapped change looks: check the approver's console.";
    /// A change proposed for approval that needs none, or that fails for another reason.
    NoApprovalNeeded = "no-approval-needed", Request, status 400, alert no,
        "The change proposed for approval needs only one operator: submit it directly (`POST /v1/events`).",
        "Submit it to `POST /v1/events`.";
    /// An event signed too long ago.
    StaleEvent = "stale-event", Rules, status 422, alert no,
        "The event's time is too far from the node's clock.",
        "Sign it again now; check the client's clock.";
    /// At a town's counter: an event whose signatures or authority fail, or of another town.
    UnauthorisedEvent = "unauthorised-event", Rules, status 0, alert warning,
        "Alert: an event submitted at a town's office was unsigned, signed without authority or for another town — how a forgery looks. The request was refused with the rules' own code.",
        "Find out who holds the console certificate and the keys that signed it.";
    /// A batch is malformed: its events do not match its checkpoint's size.
    MalformedBatch = "malformed-batch", Replication, status 422, alert warning,
        "The batch is malformed: its events, checkpoint and sizes do not fit together.",
        "Nothing was applied. From a town's own node this is a fault or an attack: look at the town.";
    /// A batch's checkpoint does not verify.
    BadCheckpoint = "bad-checkpoint", Replication, status 422, alert critical,
        "The batch's checkpoint is not signed by the town's node key, or is for another log.",
        "Nothing was applied. Check the town's node key; a forged checkpoint is an attack.";
    /// A batch's consistency proof does not connect.
    InconsistentProof = "inconsistent-proof", Replication, status 422, alert critical,
        "The consistency proof does not lead from what this node holds to the batch's checkpoint.",
        "Nothing was applied. The town's log and this node's replica disagree: an attack or a rewritten log.";
    /// An event of a batch is refused by the rules.
    RefusedEvent = "refused-event", Replication, status 422, alert critical,
        "An event of the batch is refused by the registry's rules in the replica.",
        "Nothing was applied. A town accepted an event the rules refuse: an attack on the town's node.";
    /// The replica's root after the batch is not the checkpoint's.
    WrongRoot = "wrong-root", Replication, status 422, alert critical,
        "The events do not produce the root the checkpoint signs, or a resent batch carries other events than those this node holds.",
        "Nothing was applied. The town's log was rewritten or forged: investigate the town.";
    /// A move notice that has not reached its town for longer than the node allows.
    NoticeStuck = "notice-stuck", Replication, status 503, alert warning,
        "The national node has failed to deliver a move notice (転入通知) to the town moved out of for longer than `stuck_after_ms`: the town is down, unreachable, or refuses it.",
        "Bring the town's node back or read its refusal; until the notice is recorded there, the move-out stays open in that town. Notices to other towns are not held up.";
    /// Replication between a town and an upper tier that has not advanced for too long.
    ReplicationStuck = "replication-stuck", Replication, status 0, alert warning,
        "Replication between a town and an upper tier has not advanced for longer than `stuck_after_ms`: at the town, its pusher has failed to deliver its batches to its prefecture for that long; at an upper node, the town's signed heartbeat claims a log larger than the mirror holds, and the mirror has not caught up. Acknowledged changes exist only below until it does.",
        "Read the sender's log for the failure (an unreachable node, a refusal and its code) and bring the stopped node back. Nothing is lost: the sender keeps every batch and sends it again.";
    /// Two different trees for one size.
    Fork = "fork", Replication, status 422, alert critical,
        "The town signed two different checkpoints for one size: its log forked.",
        "Nothing was applied. Stop the town and investigate: a town's node key signs only one tree.";
    /// A town's first batch whose genesis is not the registered one.
    WrongGenesis = "wrong-genesis", Replication, status 422, alert critical,
        "The town's first batch does not start with the genesis naming the admin key the town was registered with: someone is trying to give the town's log a new admin key.",
        "Refuse the town's log until its registration is checked; if the town was re-created, register its new admin key with the network through the national registration process.";
    /// A move-in that would make someone active in two towns.
    ActiveInTwoTowns = "active-in-two-towns", Replication, status 422, alert critical,
        "A batch moves a resident into a town while the resident is active in another.",
        "Nothing was applied. Find out how the town accepted the move-in.";
    /// No change with that number waits for approval.
    NotPending = "not-pending", Availability, status 404, alert no,
        "No change with that number waits for approval here: it was approved, withdrawn, or never proposed.",
        "List the queue (`GET /v1/pending`) and approve one that is there.";
    /// No resident with that code here.
    NoResident = "no-resident", Availability, status 404, alert no,
        "No resident with this code is recorded here.",
        "Check the code (`juki code check`) and the town.";
    /// No move-out recorded (yet) for the certificate asked for.
    NoMoveOut = "no-move-out", Availability, status 404, alert no,
        "The town moved out of has recorded no move-out of this resident to the asking town (yet).",
        "Record the move-out at the old town first; ask again once it has reached the national node.";
    /// Only the national node does this.
    NationalOnly = "national-only", Availability, status 404, alert no,
        "Only the national node allocates code blocks, certifies move-outs and answers agencies.",
        "Ask the national node.";
    /// Nothing published yet.
    NoCheckpoint = "no-checkpoint", Availability, status 404, alert no,
        "No checkpoint has been published (or received) yet.",
        "Wait for the first checkpoint.";
    /// A request the signer's rate bound refuses.
    TooSoon = "too-soon", Availability, status 429, alert notice,
        "The national signer allocates at most one new code block per town per hour; this request came sooner.",
        "Wait: a town's pool holds 100,000 codes. Repeated requests are how someone minting codes through the national node looks: check who asked.";
    /// The town is quarantined at the national node.
    Quarantined = "quarantined", Availability, status 503, alert no,
        "The national node quarantined this town after a critical alert about it: its batches and requests are held, not applied, until a national administrator releases it with a signed decision. Nothing is lost: the town and its prefecture keep what they hold and send it again.",
        "Investigate the alert (`juki alerts`), restore the town, then have a national administrator sign a release (`juki quarantine release`).";
    /// The town's pool of resident codes is empty.
    PoolEmpty = "pool-empty", Availability, status 503, alert no,
        "The town has no unused resident code: its code block is used up and no new one has arrived.",
        "Wait for the national node's next block; check that the town reaches the national node.";
    /// What the node was about to serve does not match its witnessed log.
    Tampered = "tampered", Integrity, status 500, alert critical,
        "What the node was about to serve, or the registry it records changes on, does not match its own witnessed log: a stored event, a derived table or a proof was changed behind the log's back. Nothing was served; a town whose tables differ from its log records no change until they agree again.",
        "Treat the node as compromised: run `juki registry verify` on it, compare it with its upstream mirrors (`juki network compare`), and restore it from the log and the mirrors.";
    /// Something other than the node wrote to its registry database while it ran.
    ForeignWrite = "foreign-write", Integrity, status 500, alert critical,
        "Something other than the node committed a write to its registry database while the node ran: a town node is its registry's only writer, so this is an edit behind the log's back (or a tool run against a live node). The node verifies the whole registry against its log at once; a `tampered` alert follows if anything differs.",
        "Find out who wrote: the host's logins and processes at the alert's time. If a `tampered` alert follows, treat the node as compromised; if none does, the write changed nothing the log derives, but a writer other than the node should never exist.";
    /// A published checkpoint that the town's own log did not produce.
    ForgedPublication = "forged-publication", Integrity, status 0, alert critical,
        "The checkpoint a town publishes on its public endpoint is not one its own log produced and its witnesses cosigned (a checkpoint was planted in its tile directory, or its node key signed another tree), or the tiles at its size do not reproduce its root. The town publishes its last witnessed checkpoint again, and its integration goes on from there; edited tiles are reported, not repaired.",
        "Treat the node as compromised: find out who wrote to its tile directory (the host's logins and processes at the alert's time), compare its log with the mirrors (`juki network compare`) and rebuild edited tiles from the log.";
    /// A witness refused to cosign the node's checkpoint.
    WitnessRefused = "witness-refused", Integrity, status 0, alert critical,
        "A witness answered and refused to cosign the node's checkpoint: it has cosigned another tree of the log at that size or a larger size, or the consistency proof does not lead from its view to the checkpoint. Either the log was forked or rolled back, or someone showed the witness a fork. Nothing is published until the witnesses cosign.",
        "Compare the node's log with its mirrors (`juki network compare`) and with the checkpoint the witness holds; a fork shown to the witness is an attack on the town's log.";
    /// A file of the node's signed baseline manifest changed.
    ManifestChanged = "manifest-changed", Integrity, status 0, alert critical,
        "A file the node's signed baseline manifest lists (its binary, node.toml, a certificate, a key) no longer has the digest the manifest records, or the manifest digest a town's heartbeat carries is not the one it carried before.",
        "Find out who changed the file. If the change was meant (an upgrade, a renewed certificate), have the manifest's key holder sign a new one (`juki manifest sign`) and restart the node; otherwise treat the node as compromised.";
    /// The record changed after the last witnessed checkpoint.
    NotYetProven = "not-yet-proven", Integrity, status 503, alert no,
        "The record's latest change is not yet covered by a witnessed checkpoint, so it cannot be served with its evidence.",
        "Try again in a few seconds; if it persists, the town's witnesses are unreachable: check them.";
    /// Evidence that does not prove what it travels with.
    BadEvidence = "bad-evidence", Integrity, status 0, alert critical,
        "A client checked an answer or a copy and its evidence does not prove it: an event not in the town's witnessed log, a checkpoint without its witnesses, a signature chain that does not reach the town's registered admin key, or a document that states another record.",
        "Do not use the data. If a node sent it, that node (or the path to it) is compromised: report it with the answer kept as evidence.";
    /// Bulk reads by one actor.
    ReadBurst = "read-burst", Behaviour, status 0, alert warning,
        "One actor (an agency, or a clerk at a town office: the operator key that signed the reads) read more records within a minute than `[behaviour] reads_per_minute` allows: how bulk harvesting looks. Every read was answered and recorded; this alert is raised once per minute of it.",
        "Find out who uses the certificate or the operator key and why; revoke it if the reads have no lawful purpose.";
    /// Lookups of codes with no resident: guessing.
    CodeWalking = "code-walking", Behaviour, status 0, alert warning,
        "One actor (an agency, or a clerk by the operator key that signed the lookups) asked for more codes with no resident within a minute than `[behaviour] misses_per_minute` allows: how walking the code space looks. Every miss is recorded as an attempt.",
        "Find out who uses the certificate; a lawful reader knows the codes it asks for.";
    /// Bulk changes by one actor.
    ChangeBurst = "change-burst", Behaviour, status 0, alert warning,
        "One operator (the key that signed the changes first) recorded more changes within a minute than `[behaviour] changes_per_minute` allows.",
        "Check with the office what was being entered; a script behind a console is how an insider's mass edit looks.";
    /// Reads or changes outside office hours.
    OffHours = "off-hours", Behaviour, status 0, alert warning,
        "A change, or `[behaviour] off_hours_reads` reads within an hour, outside the office hours `[behaviour] office_hours` and `office_days` (Japan time): how an insider browsing at night looks.",
        "Ask the office who was on duty (a read names the clerk's operator key); if nobody was, treat the key and the console's certificate as stolen.";
    /// Many refusals of one peer.
    RepeatedRefusals = "repeated-refusals", Behaviour, status 0, alert warning,
        "One peer was refused (bad signatures, a sensitive change with one signature, a wrong role) more often within a minute than `[behaviour] refusals_per_minute` allows: how someone probing with a stolen credential looks.",
        "Find out who holds the peer's certificate; revoke it if they are not who it says.";
    /// A TLS handshake without a certificate of the network's CA.
    TlsRefused = "tls-refused", Behaviour, status 0, alert warning,
        "A client tried a listener that requires a certificate of the network's CA without one, or with one another CA issued; the handshake was refused (raised once per source address per ten minutes).",
        "Find out what runs at the source address; nothing of the network connects without its certificate.";
    /// A town's node whose signed heartbeats stopped arriving.
    HeartbeatMissing = "heartbeat-missing", Service, status 0, alert warning,
        "An upper node has received no signed heartbeat from a town it serves for longer than `heartbeat_missing_ms`: the town's node is stopped, cut off, or silenced. What the town does meanwhile is seen by nobody above it.",
        "Check the town's node and the network between the two; a node silenced on purpose hides what happens on it.";
    /// Another node could not be reached or failed.
    PeerUnavailable = "peer-unavailable", Service, status 502, alert no,
        "Another node this request needs could not be reached, or answered with a failure.",
        "Try again later; check that the other node is running.";
    /// Another node refused.
    PeerRefused = "peer-refused", Service, status 502, alert no,
        "Another node this request needs refused it; the message carries its code.",
        "Act on the other node's code.";
    /// Another node's answer is forged.
    PeerForged = "peer-forged", Service, status 502, alert critical,
        "Another node's answer is not signed by its node key, or is not what was asked for.",
        "Nothing was used. Investigate the other node.";
    /// This node failed.
    Internal = "internal", Service, status 500, alert no,
        "The node failed (a database, a file, a task). The detail is in the node's own log, never in the answer.",
        "Try again; if it persists, read the node's log.";
}

impl Code {
    /// Whether the node records an alert when it refuses with this code.
    pub fn is_alert(self) -> bool {
        self.severity().is_some()
    }

    /// The code of a registry rule's refusal.
    pub fn of_refusal(refusal: &Refusal) -> Code {
        match refusal {
            Refusal::Malformed(_) => Code::MalformedEvent,
            Refusal::WrongMunicipality { .. } => Code::WrongMunicipality,
            Refusal::Unsigned(_) => Code::Unsigned,
            Refusal::Unauthorised(_) => Code::Unauthorised,
            Refusal::SecondOperatorMissing { .. } => Code::SecondOperatorMissing,
            Refusal::SupervisorMissing { .. } => Code::SupervisorMissing,
            Refusal::ActivationMissing { .. } => Code::ActivationMissing,
            Refusal::IllegalTransition(_) => Code::IllegalTransition,
            Refusal::CodeBlockOverlap => Code::CodeBlockOverlap,
            Refusal::NoticeRecorded => Code::NoticeRecorded,
            Refusal::Stale { .. } => Code::StaleEvent,
        }
    }

    /// The code named `text`, if any.
    pub fn parse(text: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == text)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Code, D::Error> {
        let text = String::deserialize(deserializer)?;
        Code::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a juki error code")))
    }
}

/// The body of every error answer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The stable code (see docs/ERRORS.md).
    #[schema(value_type = String, example = "no-resident")]
    pub code: Code,
    /// What was wrong, for people (no personal data).
    pub message: String,
    /// What to do, where useful.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl ErrorBody {
    /// An error body with the code's own remedy as its hint.
    pub fn new(code: Code, message: impl Into<String>) -> ErrorBody {
        ErrorBody { code, message: message.into(), hint: Some(code.remedy().to_owned()) }
    }

    /// Reads an error body, if `bytes` is one.
    pub fn parse(bytes: &[u8]) -> Option<ErrorBody> {
        serde_json::from_slice(bytes).ok()
    }
}

impl std::fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}", self.code, self.message)
    }
}

/// The error reference, `docs/ERRORS.md`, as generated from [`Code::ALL`].
pub fn reference() -> String {
    let mut out = String::from(
        "# Error and alert codes\n\n\
         Generated from `wire::errors` (`cargo test -p wire` checks that this file is current; \
         `JUKI_BLESS=1 cargo test -p wire` rewrites it).\n\n\
         Every error answer of a juki node is JSON: `{\"code\": …, \"message\": …, \"hint\": …}`. \
         `code` is stable; `message` is for people and may change. Every alert a node records \
         has one of these codes as its `kind`. The command line prints an error as \
         `error: [code] message`.\n\n\
         The `alert` column gives the severity of the alert a node records with the code: \
         `critical` (the integrity of a node or a log is in question; the national node \
         quarantines the node it concerns), `warning` (someone tried something the network \
         refused, or a service is degraded), `notice` (worth knowing).\n\n\
         Refusals at the TLS layer never reach HTTP: a connection without a client certificate, \
         with one from another CA, revoked or expired, is refused in the handshake with a TLS \
         alert (`certificate_required`, `unknown_ca`, `certificate_revoked`, \
         `certificate_expired`).\n",
    );
    let mut families: Vec<Family> = Code::ALL.iter().map(|c| c.family()).collect();
    families.dedup();
    for family in families {
        out.push_str(&format!("\n## {}\n\n", family.title()));
        out.push_str("| code | HTTP | alert | meaning | what to do |\n|---|---|---|---|---|\n");
        for code in Code::ALL.iter().filter(|c| c.family() == family) {
            let status = match code.status() {
                0 => "—".to_owned(),
                s => s.to_string(),
            };
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                code.as_str(),
                status,
                code.severity().map_or("", Severity::as_str),
                code.meaning(),
                code.remedy()
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_kebab_case_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for &code in Code::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(
                text.chars().all(|c| c.is_ascii_lowercase() || c == '-') && !text.starts_with('-'),
                "{text}"
            );
            assert_eq!(Code::parse(text), Some(code));
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(serde_json::from_str::<Code>(&json).unwrap(), code);
            assert!(!code.meaning().is_empty() && !code.remedy().is_empty(), "{text}");
            assert!(code.status() == 0 || (400..600).contains(&code.status()), "{text}");
            assert!(
                code.status() != 0 || code.is_alert(),
                "{text} is neither answered nor an alert"
            );
        }
        assert_eq!(Code::parse("no-such-code"), None);
    }

    #[test]
    fn every_refusal_of_the_rules_has_its_code() {
        let samples = [
            Refusal::Malformed("x".into()),
            Refusal::Unsigned("x".into()),
            Refusal::Unauthorised("x".into()),
            Refusal::SecondOperatorMissing { reason: "death", label: "死亡", signed: 1 },
            Refusal::IllegalTransition("x".into()),
            Refusal::CodeBlockOverlap,
            Refusal::NoticeRecorded,
            Refusal::Stale {
                event: registry_core::time::Timestamp::from_unix(0),
                now: registry_core::time::Timestamp::from_unix(1000),
            },
        ];
        for refusal in &samples {
            let code = Code::of_refusal(refusal);
            assert_eq!(code.family(), Family::Rules, "{refusal:?}");
            assert_ne!(code.status(), 0, "{refusal:?}");
        }
    }

    #[test]
    fn an_error_body_is_json_with_code_message_and_hint() {
        let body = ErrorBody::new(Code::NoResident, "no resident 12345678901 here");
        let json: serde_json::Value = serde_json::to_value(&body).unwrap();
        assert_eq!(json["code"], "no-resident");
        assert_eq!(json["message"], "no resident 12345678901 here");
        assert_eq!(json["hint"], Code::NoResident.remedy());
        assert_eq!(ErrorBody::parse(&serde_json::to_vec(&body).unwrap()), Some(body));
        assert_eq!(ErrorBody::parse(b"not json"), None);
    }

    /// `docs/ERRORS.md` is generated from the code; `JUKI_BLESS=1` rewrites it.
    #[test]
    fn the_committed_reference_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/ERRORS.md");
        let generated = reference();
        if std::env::var_os("JUKI_BLESS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/ERRORS.md is not current: run `JUKI_BLESS=1 cargo test -p wire` and commit it"
        );
        for &code in Code::ALL {
            assert!(committed.contains(&format!("| `{}` |", code.as_str())), "{code} missing");
        }
    }
}
