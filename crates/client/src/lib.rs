//! Clients of the juki nodes' APIs, shared by every program that calls a node: the clerk's
//! client of a town's office API ([`office::Clerk`]: the CLI's network commands and the demo
//! now, the web console later) and an agency's client ([`agency::Agency`]). Requests and
//! answers are the `wire` types; the caller's identity is its TLS certificate.
#![forbid(unsafe_code)]

pub mod agency;
pub mod monitor;
pub mod office;

use anyhow::Result;

pub use net::Answer;
use wire::errors::{Code, ErrorBody};

/// A node's refusal of a call: what was asked, the HTTP status and, when the node sent one
/// (every juki node does), its error body with the stable code. Callers decide by
/// [`Refused::code`], never by the message.
#[derive(Debug, Clone)]
pub struct Refused {
    /// What was asked for.
    pub what: String,
    /// The HTTP status.
    pub status: u16,
    /// The node's error body, if the answer was one.
    pub body: Option<ErrorBody>,
}

impl Refused {
    /// The refusal of `answer` to the call described by `what`.
    pub fn of(what: impl Into<String>, answer: &Answer) -> Refused {
        Refused {
            what: what.into(),
            status: answer.status.as_u16(),
            body: ErrorBody::parse(&answer.body),
        }
    }

    /// An answer the node gave as a success but whose evidence does not prove it: refused by
    /// the client itself with [`Code::BadEvidence`].
    pub fn bad_evidence(what: impl Into<String>, detail: impl std::fmt::Display) -> Refused {
        Refused {
            what: what.into(),
            status: 200,
            body: Some(ErrorBody::new(
                Code::BadEvidence,
                format!("the answer does not prove itself: {detail}"),
            )),
        }
    }

    /// The node's code, if it sent an error body.
    pub fn code(&self) -> Option<Code> {
        self.body.as_ref().map(|b| b.code)
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.body {
            Some(body) => {
                write!(f, "{}: [{}] {}", self.what, body.code, body.message)?;
                if let Some(hint) = &body.hint {
                    write!(f, " ({hint})")?;
                }
                Ok(())
            }
            None => write!(f, "{}: the node answered {}", self.what, self.status),
        }
    }
}

impl std::error::Error for Refused {}

/// `GET url` from a server whose certificate names `identity` (any node when `None`).
pub async fn call_get(client: &net::Client, url: &str, identity: Option<&str>) -> Result<Answer> {
    Ok(client.get_answer(url, &net::Expect::named(identity)?).await?)
}

/// `POST url` with `body` to a server whose certificate names `identity`.
pub async fn call_post(
    client: &net::Client,
    url: &str,
    body: Vec<u8>,
    identity: Option<&str>,
) -> Result<Answer> {
    Ok(client.post_answer(url, body, &net::Expect::named(identity)?).await?)
}
