//! A resident's disclosure at the upper tiers: the keeping town's node asks for every
//! provision of one of its residents that this node recorded in a period (agencies'
//! provisions, above all), each proven in this node's provision log. Only the town whose
//! record the resident's is may ask: the request is the town node's, over mutual TLS.

use axum::Json;
use axum::extract::State;
use registry_domain::ResidentCode;
use wire::api::{DisclosureRequest, ProvisionsDisclosed};
use wire::errors::{Code, ErrorBody};

use super::{Shared, lock};
use crate::http::{ApiError, JsonBody, blocking};

#[utoipa::path(
    post,
    path = "/v1/disclosures/provisions",
    tag = "upstream-network",
    summary = "A town's node asks, for a resident's disclosure, every provision of that resident this node recorded in a period",
    request_body(content = DisclosureRequest),
    responses((status = 200, body = ProvisionsDisclosed, description = "The private records, each in a receipt proving it in this node's provision log"), (status = "4XX", body = ErrorBody, description = "A refusal: its code is in docs/ERRORS.md"), (status = "5XX", body = ErrorBody, description = "The node failed"))
)]
pub(super) async fn disclose(
    State(hub): State<Shared>,
    peer: net::Peer,
    JsonBody(request): JsonBody<DisclosureRequest>,
) -> Result<Json<ProvisionsDisclosed>, ApiError> {
    blocking(move || {
        let uri = peer.identity.to_uri();
        let code = ResidentCode::parse(&request.resident)
            .map_err(|e| ApiError::bad(format!("resident code: {e}")))?;
        // The resident's record must be the asking town's.
        let town = match (peer.identity.role, peer.identity.code.as_deref()) {
            (pki::Role::Municipal, Some(town)) => town.to_owned(),
            _ => {
                let detail = "a disclosure is asked for by the resident's own town";
                lock(&hub.journal).alert(hub.clock.unix(), Code::WrongPeer, &uri, detail)?;
                return Err(ApiError::new(Code::WrongPeer, detail));
            }
        };
        let keeps = match hub.find_proven(code)? {
            Some(proven) => proven.record.address.municipality().to_string() == town,
            None => false,
        };
        if !keeps {
            let detail = format!("{town} asked for the disclosure of a resident it does not keep");
            lock(&hub.journal).alert(hub.clock.unix(), Code::WrongPeer, &uri, &detail)?;
            return Err(ApiError::new(Code::WrongPeer, detail));
        }
        let journal = lock(&hub.journal);
        let disclosed = crate::provisions::disclose(
            &journal,
            &hub.provision_tiles,
            &hub.node_key.verifier(),
            &hub.config.origin,
            &hub.identity.to_uri(),
            &request,
        )?;
        Ok(Json(disclosed))
    })
    .await
}
