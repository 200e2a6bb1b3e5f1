//! An agency's client of the provision API of the national node (or a prefecture's), through
//! the agency's certificate: its purposes, requests by 住民票コード, by the four basic items,
//! and batches with progress.
//!
//! Every answer is checked before its items are used: the node's statement, sealed in a batch
//! it signed (`wire::provide::Seal`), must state
//! exactly the items answered, to this agency, under the purpose asked, and its proof must
//! place the event it names in the keeping town's witnessed log. When the answer carries the
//! event's whole evidence (a purpose that may receive every item), the record is checked end to
//! end against the town's registration and the statement must name that very event: a rooted
//! national node can refuse or delay the agency, never hand it a record the town's witnessed
//! log does not hold. Otherwise the node's key vouches for the items, bound to one event of the
//! witnessed log (see `wire::provide`).

use anyhow::{Result, anyhow};
use registry_core::evidence::{self, TownTrust};
use registry_domain::ResidentCode;
use tlog::note::{VerifierKey, Verifiers};
use wire::api::PurposeJson;
use wire::provide::{BatchLine, Matched, ProvideRequest, Provided, ProvidedRecord, Statement};
use wire::purposes::Item;
use wire::trust::TownKeys;

use crate::{Answer, Refused, call_get, call_post};

/// An agency at the national node (or a prefecture's).
pub struct Agency {
    url: String,
    /// The node's identity URI and its node key, which signs its statements.
    node: String,
    node_key: Verifiers,
    /// This agency's identity URI (its certificate's).
    identity: String,
    client: net::Client,
    /// Every town as the network registered it.
    towns: Vec<TownTrust>,
}

/// Why an answer is not used.
fn bad(what: &str, detail: impl std::fmt::Display) -> anyhow::Error {
    Refused::bad_evidence(what.to_owned(), detail).into()
}

impl Agency {
    /// The agency `identity` whose TLS files are `files`, asking the node `node` (identity URI)
    /// at `url`, whose statements `node_key` signs, checking records with the registrations
    /// `towns`.
    pub fn new(
        url: &str,
        files: &net::TlsFiles,
        identity: &str,
        node: &str,
        node_key: &str,
        towns: &[TownKeys],
    ) -> Result<Agency> {
        Ok(Agency {
            url: url.trim_end_matches('/').to_owned(),
            node: node.to_owned(),
            node_key: [VerifierKey::parse(node_key)?].into_iter().collect(),
            identity: identity.to_owned(),
            client: net::Client::new(files)?,
            towns: towns.iter().map(TownKeys::trust).collect::<Result<_, _>>()?,
        })
    }

    /// The purposes this agency holds.
    pub async fn purposes(&self) -> Result<std::result::Result<Vec<PurposeJson>, Answer>> {
        let answer =
            call_get(&self.client, &format!("{}/v1/purposes", self.url), Some(&self.node)).await?;
        if !answer.status.is_success() {
            return Ok(Err(answer));
        }
        Ok(Ok(serde_json::from_slice(&answer.body)?))
    }

    /// A resident's items under `purpose` (all it may receive when `items` is `None`), checked,
    /// or the node's refusal.
    pub async fn provide(
        &self,
        resident: &str,
        purpose: &str,
        items: Option<&[Item]>,
    ) -> Result<std::result::Result<ProvidedRecord, Answer>> {
        let request = ProvideRequest {
            purpose: purpose.to_owned(),
            items: items.map(|i| i.iter().copied().collect()),
            resident: Some(resident.to_owned()),
            query: None,
        };
        let answer = call_post(
            &self.client,
            &format!("{}/v1/provide", self.url),
            serde_json::to_vec(&request)?,
            Some(&self.node),
        )
        .await?;
        if !answer.status.is_success() {
            return Ok(Err(answer));
        }
        let provided: Provided = serde_json::from_slice(&answer.body)?;
        self.check(&provided, &request)?;
        Ok(Ok(provided.record))
    }

    /// Sends `requests` as one batch and hands each answer line, checked, to `each` as it
    /// arrives (a line whose answer does not check is handed on as that line's error).
    pub async fn batch(
        &self,
        requests: &[ProvideRequest],
        mut each: impl FnMut(BatchLine) + Send,
    ) -> Result<std::result::Result<(), Answer>> {
        let mut body = Vec::new();
        for request in requests {
            serde_json::to_writer(&mut body, request)?;
            body.push(b'\n');
        }
        let mut pending = Vec::new();
        let mut failure: Option<anyhow::Error> = None;
        let mut sink = |chunk: &[u8]| {
            pending.extend_from_slice(chunk);
            while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                match serde_json::from_slice::<BatchLine>(&line) {
                    Ok(mut answer) => {
                        let request = usize::try_from(answer.line)
                            .ok()
                            .and_then(|n| requests.get(n.wrapping_sub(1)));
                        if let Some(request) = request
                            && let Err(error) = self.check_line(&answer, request)
                        {
                            answer.provided = None;
                            answer.matched = None;
                            answer.error = Some(
                                error
                                    .downcast_ref::<Refused>()
                                    .and_then(|r| r.body.clone())
                                    .unwrap_or_else(|| {
                                        wire::errors::ErrorBody::new(
                                            wire::errors::Code::BadEvidence,
                                            error.to_string(),
                                        )
                                    }),
                            );
                        }
                        each(answer);
                    }
                    Err(e) => {
                        failure
                            .get_or_insert_with(|| anyhow!("an answer line does not parse: {e}"));
                    }
                }
            }
        };
        let url = format!("{}/v1/provide/batch", self.url);
        let expect = net::Expect::named(Some(&self.node))?;
        let outcome =
            self.client.post_streamed(&url, body, "application/jsonl", &expect, &mut sink).await;
        if let Some(failure) = failure {
            return Err(failure);
        }
        match outcome {
            Ok(_) => Ok(Ok(())),
            Err(net::ClientError::Status { status, body, .. }) => {
                Ok(Err(Answer { status, body: body.into_bytes() }))
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Checks one batch answer line against its request.
    fn check_line(&self, answer: &BatchLine, request: &ProvideRequest) -> Result<()> {
        if let Some(provided) = &answer.provided {
            self.check(provided, request)?;
        }
        if let Some(Matched { provided: Some(provided), .. }) = &answer.matched {
            self.check(provided, request)?;
        }
        Ok(())
    }

    /// Checks an answer: the statement, its proof, and the evidence when it comes with one.
    pub fn check(&self, provided: &Provided, request: &ProvideRequest) -> Result<()> {
        let what = "a provision";
        // The statement's exact bytes are in a batch the node signed.
        provided
            .seal
            .verify(&provided.statement, &self.node, &self.node_key)
            .map_err(|e| bad(what, e.to_string()))?;
        let statement = Statement::parse(&provided.statement)
            .map_err(|e| bad(what, format!("the statement does not parse: {e}")))?;
        if statement.record != provided.record {
            return Err(bad(what, "the items answered are not the ones the statement states"));
        }
        if statement.to != self.identity || statement.node != self.node {
            return Err(bad(what, "the statement names another agency or node"));
        }
        if statement.purpose != request.purpose {
            return Err(bad(what, "the statement names another purpose"));
        }
        if let Some(asked) = &request.resident
            && provided.record.resident.as_ref().is_some_and(|r| r != asked)
        {
            return Err(bad(what, "the record is another resident's"));
        }
        if let Some(items) = &request.items
            && ProvidedRecord::default() != strip(&provided.record, items)
        {
            return Err(bad(what, "the answer carries items that were not asked for"));
        }
        // The event the statement names is in the keeping town's witnessed log.
        let trust = self
            .towns
            .iter()
            .find(|t| t.origin == statement.town)
            .ok_or_else(|| bad(what, format!("{} is not a registered town", statement.town)))?;
        let receipt = tlog::receipt::Receipt::parse(provided.proof.as_bytes())
            .map_err(|e| bad(what, format!("the proof does not parse: {e}")))?;
        let hash = tlog::Hash::from_base64(&statement.event)
            .map_err(|_| bad(what, "the statement's event is not a SHA-256"))?;
        let leaf =
            tlog::hash::leaf_hash(&evidence::commitment_hashed(statement.kind.as_bytes(), &hash));
        if receipt.index != statement.index {
            return Err(bad(what, "the proof is for another entry than the statement's"));
        }
        receipt.verify(&leaf, &trust.policy).map_err(|e| {
            bad(what, format!("the event is not in {}'s witnessed log: {e}", trust.origin))
        })?;
        if provided.evidence.is_empty() {
            return Ok(());
        }
        // The whole evidence: the record end to end, and that the statement names its event.
        let receipts = evidence::parse(&provided.evidence).map_err(|e| bad(what, e))?;
        let event = receipts
            .first()
            .and_then(|r| r.extra.as_deref())
            .ok_or_else(|| bad(what, "the evidence carries no event"))?;
        if tlog::hash::sha256(event) != hash {
            return Err(bad(what, "the evidence is of another event than the statement's"));
        }
        let proven = evidence::verify(&receipts, trust).map_err(|e| bad(what, e))?;
        let all: std::collections::BTreeSet<Item> = Item::ALL.into_iter().collect();
        if ProvidedRecord::of(&proven.change.record, &all) != provided.record {
            return Err(bad(what, "the record is not the one its evidence proves"));
        }
        if let Some(asked) = &request.resident
            && proven.change.record.resident_code != ResidentCode::parse(asked)?
        {
            return Err(bad(what, "the record is another resident's"));
        }
        Ok(())
    }
}

/// `record` without the `items`: what is left must be nothing.
fn strip(record: &ProvidedRecord, items: &std::collections::BTreeSet<Item>) -> ProvidedRecord {
    let all: std::collections::BTreeSet<Item> = Item::ALL.into_iter().collect();
    let others: std::collections::BTreeSet<Item> = all.difference(items).copied().collect();
    let mut left = ProvidedRecord::default();
    let keep = |item: Item| others.contains(&item);
    if keep(Item::Code) {
        left.resident = record.resident.clone();
    }
    if keep(Item::Status) {
        left.status = record.status.clone();
    }
    if keep(Item::Name) {
        left.name = record.name.clone();
    }
    if keep(Item::Reading) {
        left.reading = record.reading.clone();
    }
    if keep(Item::Birth) {
        left.birth = record.birth.clone();
    }
    if keep(Item::Sex) {
        left.sex = record.sex.clone();
    }
    if keep(Item::Address) {
        left.municipality = record.municipality.clone();
        left.address = record.address.clone();
    }
    if keep(Item::Change) {
        left.reason = record.reason.clone();
        left.effective = record.effective.clone();
        left.history = record.history.clone();
    }
    if keep(Item::IndividualNumber) {
        left.individual_number = record.individual_number.clone();
    }
    left
}
