//! The node's HTTP edges: [`ApiError`], how a refusal or a failure becomes an HTTP answer, and
//! the calls a node makes to its peers.

use anyhow::{Context as _, Result};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

pub use net::Answer;

/// An API error: a status and a message for the caller (no personal data).
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl ApiError {
    /// 400: the request is malformed.
    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError(StatusCode::BAD_REQUEST, message.into())
    }

    /// 403: this peer may not do this.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError(StatusCode::FORBIDDEN, message.into())
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError(StatusCode::NOT_FOUND, message.into())
    }

    /// 422: refused by the rules.
    pub fn refused(message: impl Into<String>) -> ApiError {
        ApiError(StatusCode::UNPROCESSABLE_ENTITY, message.into())
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> ApiError {
        // Internal errors name files and database failures, never request data.
        eprintln!("internal error: {error:#}");
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("the node failed: {error}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut message = self.1;
        message.push('\n');
        (self.0, [(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")], message)
            .into_response()
    }
}

/// Runs blocking work (SQLite, signing, fsync) off the async executor.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("a task failed: {e}")))?
}

fn expect(identity: Option<&str>) -> Result<net::Expect> {
    Ok(match identity {
        Some(uri) => net::Expect::Identity(
            pki::Identity::from_uri(uri).with_context(|| format!("{uri:?} as an expected peer"))?,
        ),
        None => net::Expect::Any,
    })
}

/// `GET url` from a server whose certificate names `identity` (any node of the network when
/// `None`).
pub async fn get(client: &net::Client, url: &str, identity: Option<&str>) -> Result<Answer> {
    Ok(client.get_answer(url, &expect(identity)?).await?)
}

/// `POST url` with `body` to a server whose certificate names `identity`.
pub async fn post(
    client: &net::Client,
    url: &str,
    body: Vec<u8>,
    identity: Option<&str>,
) -> Result<Answer> {
    Ok(client.post_answer(url, body, &expect(identity)?).await?)
}
