//! A resident's disclosure at the counter (`juki disclose CODE`): the resident's current record
//! with its evidence, and every provision of it in a period — this town's own (lookups,
//! copies) and those its prefecture and the national node recorded (agencies' provisions) —
//! each in a receipt proving the private record in that node's witnessed provision log. The
//! disclosure is itself a read of the record: it is recorded before it leaves.

use anyhow::anyhow;
use axum::Json;
use axum::extract::State;
use wire::api::{Disclosure, DisclosureRequest, ProvenRecord, ProvisionsDisclosed};
use wire::documents::RecordJson;
use wire::errors::{Code, ErrorBody};
use wire::read::ReadKind;

use super::{Shared, clerk, lock, parse_resident, read_of};
use crate::http::{ApiError, JsonBody, blocking};

#[utoipa::path(
    post,
    path = "/v1/disclosures",
    tag = "office",
    summary = "A resident's disclosure: the record and every provision of it in a period, at this town, its prefecture and the national node, each proven in its node's witnessed provision log",
    request_body(content = DisclosureRequest),
    responses((status = 200, body = Disclosure, description = "The record with its evidence, and each node's provisions with their receipts"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node or a node it needs failed"))
)]
pub(super) async fn disclose(
    State(town): State<Shared>,
    peer: net::Peer,
    JsonBody(request): JsonBody<DisclosureRequest>,
) -> Result<Json<Disclosure>, ApiError> {
    clerk(&town, &peer)?;
    let code = parse_resident(&request.resident)?;
    if request.from >= request.to {
        return Err(ApiError::bad("the period's start must come before its end"));
    }
    // The clerk's signed request, checked before anything is read or asked for.
    let read = {
        let (town, peer) = (town.clone(), peer.clone());
        let note = request.request.clone().unwrap_or_default().into_bytes();
        blocking(move || {
            let read = town.admit_read(&note, &peer)?;
            read_of(&read, ReadKind::Disclosure, Some(code))?;
            Ok(read)
        })
        .await?
    };
    // The upper tiers' records first: the town's own, read last, then include everything
    // recorded until then.
    let upward = DisclosureRequest { request: None, ..request.clone() };
    let body = serde_json::to_vec(&upward).map_err(|e| anyhow!(e))?;
    let mut provisions = Vec::new();
    for upper in [town.upstream().clone(), town.national().clone()] {
        let url = upper.endpoint("/v1/disclosures/provisions")?;
        let answer =
            crate::http::post(&town.client, &url, body.clone(), Some(upper.identity.as_str()))
                .await
                .map_err(|e| {
                    ApiError::new(Code::PeerUnavailable, format!("{}: {e:#}", upper.identity))
                })?;
        if !answer.status.is_success() {
            return Err(ApiError::new(
                Code::PeerRefused,
                format!("{} refused the disclosure: {}", upper.identity, answer.text()),
            ));
        }
        let disclosed: ProvisionsDisclosed = serde_json::from_slice(&answer.body).map_err(|e| {
            ApiError::new(Code::PeerForged, format!("{} sent no disclosure: {e}", upper.identity))
        })?;
        if disclosed.node != upper.identity {
            return Err(ApiError::new(
                Code::PeerForged,
                format!("{} sent another node's disclosure", upper.identity),
            ));
        }
        provisions.push(disclosed);
    }
    blocking(move || {
        let proven = town.prove_for(read.reader(), code)?;
        let own = {
            let journal = lock(&town.journal);
            crate::provisions::disclose(
                &journal,
                &town.provision_tiles,
                &town.provision_vkey,
                &town.provision_origin,
                &town.identity.to_uri(),
                &request,
            )?
        };
        provisions.insert(0, own);
        town.record_read("disclosure", code, &peer.identity.to_uri(), None, &read)?;
        Ok(Json(Disclosure {
            record: ProvenRecord {
                record: RecordJson::of(&proven.record),
                evidence: proven.texts()?,
            },
            provisions,
        }))
    })
    .await
}
