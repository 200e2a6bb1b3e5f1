//! Calls whose every answer is data: [`Answer`] keeps the status and body of an error answer
//! too, so that a caller can read a peer's typed refusal instead of a sentence.

use reqwest::StatusCode;

use crate::client::{Client, ClientError, Expect};

/// An answer from another node, whatever its status.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body (for an error status, its beginning).
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn answer(result: Result<crate::Response, ClientError>) -> Result<Answer, ClientError> {
    match result {
        Ok(response) => Ok(Answer { status: response.status, body: response.body }),
        Err(ClientError::Status { status, body, .. }) => {
            Ok(Answer { status, body: body.into_bytes() })
        }
        Err(e) => Err(e),
    }
}

impl Expect {
    /// Exactly the server `identity` names (`urn:juki:…`), or any node of the network when
    /// `None`.
    pub fn named(identity: Option<&str>) -> Result<Expect, ClientError> {
        Ok(match identity {
            Some(uri) => Expect::Identity(pki::Identity::from_uri(uri).map_err(|e| {
                ClientError::Expectation { identity: uri.to_owned(), reason: e.to_string() }
            })?),
            None => Expect::Any,
        })
    }
}

impl Client {
    /// `GET url` from a server that `expect` accepts; any status is an answer.
    pub async fn get_answer(&self, url: &str, expect: &Expect) -> Result<Answer, ClientError> {
        answer(self.get(url, expect).await)
    }

    /// `POST url` with `body` (JSON when it starts with `{`, else text) to a server that
    /// `expect` accepts; any status is an answer.
    pub async fn post_answer(
        &self,
        url: &str,
        body: Vec<u8>,
        expect: &Expect,
    ) -> Result<Answer, ClientError> {
        let content_type = if body.first() == Some(&b'{') {
            "application/json"
        } else {
            "text/plain; charset=utf-8"
        };
        answer(self.post(url, body, content_type, expect).await)
    }
}
