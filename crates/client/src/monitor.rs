//! The national monitoring's client, through its certificate (`urn:juki:monitor`): every
//! node's alerts and metrics, the national node's quarantines, and the release of a
//! quarantined town, which a national administrator signs with their own key.

use anyhow::{Context as _, Result};
use wire::api::Alert;
use wire::quarantine::{Quarantine, Release, ReleaseRequest};

use crate::{Refused, call_get, call_post};

/// The monitoring, calling nodes' network listeners.
pub struct Monitor {
    client: net::Client,
}

impl Monitor {
    /// The monitoring whose TLS files are `files`.
    pub fn new(files: &net::TlsFiles) -> Result<Monitor> {
        Ok(Monitor { client: net::Client::new(files)? })
    }

    /// The alerts numbered above `after` that the node at `url` (whose certificate names
    /// `identity`) holds, oldest first: raised there, or reported to it by the nodes below.
    pub async fn alerts(&self, url: &str, identity: &str, after: u64) -> Result<Vec<Alert>> {
        let url = format!("{}/v1/alerts?after={after}", url.trim_end_matches('/'));
        let answer = call_get(&self.client, &url, Some(identity)).await?;
        if !answer.status.is_success() {
            return Err(Refused::of(format!("the alerts of {identity}"), &answer).into());
        }
        serde_json::from_slice(&answer.body).context("the alerts are not the JSON expected")
    }

    /// The node's metrics, in the Prometheus text format.
    pub async fn metrics(&self, url: &str, identity: &str) -> Result<String> {
        let url = format!("{}/metrics", url.trim_end_matches('/'));
        let answer = call_get(&self.client, &url, Some(identity)).await?;
        if !answer.status.is_success() {
            return Err(Refused::of(format!("the metrics of {identity}"), &answer).into());
        }
        String::from_utf8(answer.body).context("metrics are text")
    }

    /// The national node's quarantines, held and released.
    pub async fn quarantines(&self, national: &str) -> Result<Vec<Quarantine>> {
        let url = format!("{}/v1/quarantine", national.trim_end_matches('/'));
        let answer = call_get(&self.client, &url, Some("urn:juki:national")).await?;
        if !answer.status.is_success() {
            return Err(Refused::of("the quarantines", &answer).into());
        }
        serde_json::from_slice(&answer.body).context("the quarantines are not the JSON expected")
    }

    /// Releases `release.town` from its quarantine at the national node, signing the decision
    /// with the administrator's key `administrator`.
    pub async fn release(
        &self,
        national: &str,
        release: &Release,
        administrator: &tlog::note::Signer,
    ) -> Result<Quarantine> {
        let mut note = tlog::note::Note::new(release.text())?;
        note.sign(administrator)?;
        let body = ReleaseRequest { release: String::from_utf8(note.to_bytes())? };
        self.send_release(national, &body).await
    }

    /// Sends a release as it is (signed or not, by whichever key).
    pub async fn send_release(&self, national: &str, body: &ReleaseRequest) -> Result<Quarantine> {
        let url = format!("{}/v1/quarantine/release", national.trim_end_matches('/'));
        let answer =
            call_post(&self.client, &url, serde_json::to_vec(body)?, Some("urn:juki:national"))
                .await?;
        if !answer.status.is_success() {
            return Err(
                Refused::of(format!("the release of {}", release_town(body)), &answer).into()
            );
        }
        serde_json::from_slice(&answer.body).context("the answer to a release")
    }
}

fn release_town(body: &ReleaseRequest) -> String {
    tlog::note::Note::parse(body.release.as_bytes())
        .ok()
        .and_then(|n| Release::parse(n.text()).ok())
        .map_or_else(|| "a town".to_owned(), |r| r.town)
}
