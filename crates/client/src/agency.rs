//! An agency's client of the national node's provision API (`POST /v1/identity`), through the
//! agency's certificate.

use anyhow::Result;
use wire::api::{IdentityRequest, RecordJson};

use crate::{Answer, call_post};

/// An agency at the national node.
pub struct Agency {
    url: String,
    client: net::Client,
}

impl Agency {
    /// The agency whose TLS files are `files`, asking the national node at `url`.
    pub fn new(url: &str, files: &net::TlsFiles) -> Result<Agency> {
        Ok(Agency { url: url.trim_end_matches('/').to_owned(), client: net::Client::new(files)? })
    }

    /// A resident's identity information for `purpose`: the record, or the node's refusal.
    pub async fn identity(
        &self,
        resident: &str,
        purpose: &str,
    ) -> Result<std::result::Result<RecordJson, Answer>> {
        let request =
            IdentityRequest { resident: resident.to_owned(), purpose: purpose.to_owned() };
        let answer = call_post(
            &self.client,
            &format!("{}/v1/identity", self.url),
            serde_json::to_vec(&request)?,
            Some("urn:juki:national"),
        )
        .await?;
        if !answer.status.is_success() {
            return Ok(Err(answer));
        }
        Ok(Ok(serde_json::from_slice(&answer.body)?))
    }
}
