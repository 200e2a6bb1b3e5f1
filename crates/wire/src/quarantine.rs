//! Quarantine: after a critical alert about a town, the national node holds that town's batches
//! and requests, applying none, until a national administrator releases it with a signed
//! decision. Pure: no I/O.
//!
//! ```text
//! juki.release/v1
//! town 204072
//! alert 17
//! time 1764806400
//! reason the edited row was restored from the log; registry verify is clean
//! ```
//!
//! `alert` is the number, at the national node, of the alert that quarantined the town: a
//! decision releases the quarantine its administrator reviewed, never a later one.

use serde::{Deserialize, Serialize};

/// The first line of a release.
pub const RELEASE_HEADER: &str = "juki.release/v1";

/// A national administrator's decision to release a town from quarantine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Release {
    /// The municipality code of the town released.
    pub town: String,
    /// The number of the alert that quarantined it, at the national node.
    pub alert: u64,
    /// When the administrator decided (POSIX seconds).
    pub time: u64,
    /// Why, on one line (never personal data).
    pub reason: String,
}

/// Why a release's text is not one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a quarantine release: {0}")]
pub struct ReleaseError(String);

impl Release {
    /// The text to sign. Line breaks in the reason become spaces.
    pub fn text(&self) -> String {
        format!(
            "{RELEASE_HEADER}\ntown {}\nalert {}\ntime {}\nreason {}\n",
            self.town.replace(['\n', '\r'], " "),
            self.alert,
            self.time,
            self.reason.replace(['\n', '\r'], " ")
        )
    }

    /// Parses a release's text (its signature is checked apart).
    pub fn parse(text: &str) -> Result<Release, ReleaseError> {
        let bad = |what: &str| ReleaseError(what.to_owned());
        let mut lines = crate::lines::Lines::open(text, RELEASE_HEADER).map_err(ReleaseError)?;
        let mut field = |name: &'static str| lines.field(name).map_err(ReleaseError);
        let town = field("town")?;
        if town.len() != 6 || !town.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("town is not a six-digit municipality code"));
        }
        let alert = field("alert")?.parse().map_err(|_| bad("alert is not a number"))?;
        let time = field("time")?.parse().map_err(|_| bad("time is not a number"))?;
        let reason = field("reason")?;
        lines.end().map_err(ReleaseError)?;
        Ok(Release { town, alert, time, reason })
    }
}

/// `POST /v1/quarantine/release`: a release signed by a national administrator's key.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    /// The signed note `juki.release/v1`, exactly as signed.
    pub release: String,
}

/// `GET /v1/quarantine`: one town held in quarantine at the national node, or released.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Quarantine {
    /// The municipality code.
    pub town: String,
    /// The number of the critical alert that quarantined it, at the national node.
    pub alert: u64,
    /// That alert's code.
    pub kind: String,
    /// Since when (POSIX seconds).
    pub since: u64,
    /// When an administrator released it (POSIX seconds); absent while it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released: Option<u64>,
    /// The administrator's key that signed the release (its key name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_by: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release() -> Release {
        Release {
            town: "204072".into(),
            alert: 17,
            time: 1_764_806_400,
            reason: "restored from the log".into(),
        }
    }

    #[test]
    fn a_release_parses_back_and_its_reason_cannot_add_lines() {
        let r = release();
        assert_eq!(Release::parse(&r.text()).unwrap(), r);
        let mut two = release();
        two.reason = "fine\nalert 99".into();
        let parsed = Release::parse(&two.text()).unwrap();
        assert_eq!(parsed.alert, 17);
        assert_eq!(parsed.reason, "fine alert 99");
    }

    #[test]
    fn malformed_releases_are_refused() {
        let text = release().text();
        for broken in [
            text.replace(RELEASE_HEADER, "juki.release/v2"),
            text.replace("town 204072", "town 20407"),
            text.replace("alert 17", "alert seventeen"),
            text.replace("time ", "when "),
            text.trim_end().to_owned(),
            format!("{text}extra\n"),
        ] {
            assert!(Release::parse(&broken).is_err(), "{broken:?}");
        }
    }
}
