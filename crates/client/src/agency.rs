//! An agency's client of the national node's provision API (`POST /v1/identity`), through the
//! agency's certificate. Every answer's evidence is checked against the keeping town's
//! registration before the record is used: a rooted national node can refuse or delay an
//! agency, never hand it a record the town's witnessed log does not hold.

use anyhow::Result;
use registry_core::evidence::{self, TownTrust};
use registry_domain::ResidentCode;
use wire::api::{IdentityRequest, ProvenRecord, RecordJson};
use wire::trust::TownKeys;

use crate::{Answer, Refused, call_post};

/// An agency at the national node.
pub struct Agency {
    url: String,
    client: net::Client,
    /// Every town as the network registered it.
    towns: Vec<TownTrust>,
}

impl Agency {
    /// The agency whose TLS files are `files`, asking the national node at `url`, checking
    /// records with the registrations `towns`.
    pub fn new(url: &str, files: &net::TlsFiles, towns: &[TownKeys]) -> Result<Agency> {
        Ok(Agency {
            url: url.trim_end_matches('/').to_owned(),
            client: net::Client::new(files)?,
            towns: towns.iter().map(TownKeys::trust).collect::<Result<_, _>>()?,
        })
    }

    /// A resident's identity information for `purpose`: the record, proven, or the node's
    /// refusal. An answer whose evidence does not prove it is an error carrying a
    /// [`Refused`] with the code `bad-evidence`.
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
        let what = format!("identity of {resident}");
        let proven: ProvenRecord = serde_json::from_slice(&answer.body)?;
        let record = self.check(&proven).map_err(|e| Refused::bad_evidence(what.clone(), e))?;
        if record.resident_code != ResidentCode::parse(resident)? {
            return Err(Refused::bad_evidence(what, "the record is another resident's").into());
        }
        Ok(Ok(proven.record))
    }

    /// The record the answer's evidence proves, if the answer states exactly it.
    fn check(&self, answer: &ProvenRecord) -> Result<registry_domain::IdentityRecordParts, String> {
        let receipts = evidence::parse(&answer.evidence).map_err(|e| e.to_string())?;
        // The keeping town is named by the change itself; its registration decides.
        let town = receipts
            .first()
            .and_then(|r| r.extra.as_deref())
            .and_then(|note| tlog::note::Note::parse(note).ok())
            .and_then(|note| registry_core::event::Event::parse(note.text()).ok())
            .map(|event| event.municipality())
            .ok_or("the evidence names no town")?;
        let trust = self
            .towns
            .iter()
            .find(|t| t.municipality == town)
            .ok_or_else(|| format!("town {town} is not registered with this agency"))?;
        let proven = evidence::verify(&receipts, trust).map_err(|e| e.to_string())?;
        if RecordJson::of(&proven.change.record) != answer.record {
            return Err("the record is not the one its evidence proves".into());
        }
        Ok(proven.change.record)
    }
}
