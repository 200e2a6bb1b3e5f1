//! Clients of the juki nodes' APIs, shared by every program that calls a node: the clerk's
//! client of a town's office API ([`office::Clerk`]: the CLI's network commands and the demo
//! now, the web console later) and an agency's client ([`agency::Agency`]). Requests and
//! answers are the `wire` types; the caller's identity is its TLS certificate.
#![forbid(unsafe_code)]

pub mod agency;
pub mod office;

use anyhow::{Context as _, Result};

pub use net::Answer;

fn expect(identity: Option<&str>) -> Result<net::Expect> {
    Ok(match identity {
        Some(uri) => net::Expect::Identity(
            pki::Identity::from_uri(uri).with_context(|| format!("{uri:?} as an expected peer"))?,
        ),
        None => net::Expect::Any,
    })
}

/// `GET url` from a server whose certificate names `identity` (any node when `None`).
pub async fn call_get(client: &net::Client, url: &str, identity: Option<&str>) -> Result<Answer> {
    Ok(client.get_answer(url, &expect(identity)?).await?)
}

/// `POST url` with `body` to a server whose certificate names `identity`.
pub async fn call_post(
    client: &net::Client,
    url: &str,
    body: Vec<u8>,
    identity: Option<&str>,
) -> Result<Answer> {
    Ok(client.post_answer(url, body, &expect(identity)?).await?)
}
