//! The node's HTTP edges: [`ApiError`], how a refusal or a failure becomes an HTTP answer, and
//! the calls a node makes to its peers.

use anyhow::Result;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use registry_core::rules::Refusal;
use wire::errors::{Code, ErrorBody};

pub use net::Answer;

/// An API refusal: a stable code and a message for the caller (no personal data). Its
/// answer is a JSON [`ErrorBody`] with the code's HTTP status; a handler only maps an outcome
/// to one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The code.
    pub code: Code,
    /// What was wrong.
    pub message: String,
}

impl ApiError {
    /// A refusal with `code`.
    pub fn new(code: Code, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into() }
    }

    /// `bad-request`: the request is malformed.
    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(Code::BadRequest, message)
    }

    /// A registry rule's refusal.
    pub fn refusal(refusal: &Refusal) -> ApiError {
        ApiError::new(Code::of_refusal(refusal), format!("refused: {refusal}"))
    }

    /// The HTTP status it is answered with.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The answer's body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody::new(self.code, self.message.clone())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}", self.code, self.message)
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> ApiError {
        // The detail stays in the node's own log; a peer learns only that the node failed.
        eprintln!("internal error: {error:#}");
        ApiError::new(Code::Internal, "the node failed; the detail is in its log")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status(), axum::Json(self.body())).into_response()
    }
}

/// A JSON extractor whose rejection is a `bad-request` error body.
pub struct JsonBody<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError::bad(format!("the body cannot be read: {e}")))?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad(format!("the body is not the JSON this route takes: {e}")))
    }
}

/// A query extractor whose rejection is a `bad-request` error body.
pub struct QueryOf<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for QueryOf<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| QueryOf(q.0))
            .map_err(|e| ApiError::bad(format!("the query is malformed: {e}")))
    }
}

/// Relays another node's refusal to this node's caller: with the peer's own code when it
/// answered with an error body (a `no-resident` there is a `no-resident` here), else as
/// `peer-refused`.
/// Whether `peer` may read a node's alerts and metrics on its network listener: the upper
/// tiers that watch it (the national and prefecture nodes) and the national monitoring (an
/// operator reads their town's alerts at its office API). An agency, a console or another town
/// reading them would learn what was found, and when: refused as `wrong-peer`, and recorded in
/// `journal` as an alert. Runs on a blocking thread.
pub fn may_watch(
    peer: &net::Peer,
    what: &str,
    journal: &std::sync::Mutex<crate::journal::Journal>,
    clock: &dyn crate::clock::Clock,
) -> Result<(), ApiError> {
    if matches!(
        peer.identity.role,
        pki::Role::National | pki::Role::Prefecture | pki::Role::Monitor
    ) {
        return Ok(());
    }
    let uri = peer.identity.to_uri();
    let message = format!(
        "{uri} may not read this node's {what}: the national and prefecture nodes and the \
         monitoring read them"
    );
    crate::task::lock(journal).alert(clock.unix(), Code::WrongPeer, &uri, &message)?;
    Err(ApiError::new(Code::WrongPeer, message))
}

/// A metrics answer: `text` in the Prometheus text format.
pub fn metrics_response(text: String) -> Response {
    ([(axum::http::header::CONTENT_TYPE, crate::alerting::METRICS_CONTENT_TYPE)], text)
        .into_response()
}

/// A node's alerts, for `peer` on its network listener (see [`may_watch`]), after number
/// `after`, oldest first.
pub fn alerts_for(
    peer: &net::Peer,
    after: u64,
    journal: &std::sync::Mutex<crate::journal::Journal>,
    clock: &dyn crate::clock::Clock,
) -> Result<Vec<crate::journal::Alert>, ApiError> {
    may_watch(peer, "alerts", journal, clock)?;
    Ok(crate::task::lock(journal).alerts_since(after)?)
}

pub fn relay_refusal(who: &str, answer: &Answer) -> ApiError {
    match ErrorBody::parse(&answer.body) {
        Some(body) if body.code != Code::Internal => {
            ApiError::new(body.code, format!("{who}: {}", body.message))
        }
        _ => ApiError::new(Code::PeerRefused, format!("{who} answered {}", answer.status)),
    }
}

/// `peer-unavailable`: another node could not be reached.
pub fn unreachable(who: &str, error: &anyhow::Error) -> ApiError {
    ApiError::new(Code::PeerUnavailable, format!("{who} could not be reached: {error}"))
}

/// Runs blocking work (SQLite, signing, fsync) off the async executor.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::from(anyhow::anyhow!("a task failed: {e}")))?
}

/// `GET url` from a server whose certificate names `identity` (any node of the network when
/// `None`).
pub async fn get(client: &net::Client, url: &str, identity: Option<&str>) -> Result<Answer> {
    Ok(client.get_answer(url, &net::Expect::named(identity)?).await?)
}

/// `POST url` with `body` to a server whose certificate names `identity`.
pub async fn post(
    client: &net::Client,
    url: &str,
    body: Vec<u8>,
    identity: Option<&str>,
) -> Result<Answer> {
    Ok(client.post_answer(url, body, &net::Expect::named(identity)?).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listeners_answer_without_a_peer_is_an_error_body_of_the_reference() {
        let body = ErrorBody::parse(net::no_peer_body().as_bytes()).expect("an error body");
        assert_eq!(body.code, Code::NoPeer);
        assert_eq!(body.code.status(), 401);
    }

    #[test]
    fn an_internal_failure_reaches_a_peer_only_as_its_code() {
        let error = ApiError::from(anyhow::anyhow!("disk I/O error at /secret/path/registry.db"));
        assert_eq!(error.code, Code::Internal);
        assert!(!error.message.contains("secret"), "{}", error.message);
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn a_peers_refusal_is_relayed_with_its_own_code() {
        let answer = |body: &ErrorBody| Answer {
            status: StatusCode::NOT_FOUND,
            body: serde_json::to_vec(body).unwrap(),
        };
        let no_resident = ErrorBody::new(Code::NoResident, "no resident 1 in 204072");
        assert_eq!(relay_refusal("204072", &answer(&no_resident)).code, Code::NoResident);
        let internal = ErrorBody::new(Code::Internal, "the node failed");
        assert_eq!(relay_refusal("204072", &answer(&internal)).code, Code::PeerRefused);
        let text = Answer { status: StatusCode::BAD_GATEWAY, body: b"oops".to_vec() };
        assert_eq!(relay_refusal("204072", &text).code, Code::PeerRefused);
    }
}
