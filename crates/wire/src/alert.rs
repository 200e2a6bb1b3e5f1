//! An alert as a node reports it upstream: a note signed by the node's key, so that the
//! prefecture and the national node keep what the town raised, and a town that was taken over
//! can neither erase what it already reported nor deny it. Pure: no I/O.
//!
//! ```text
//! juki.alert/v1
//! node spiffe://juki.test/municipal/204072
//! id 17
//! time 1764806400
//! kind tampered
//! peer spiffe://juki.test/municipal/204072
//! detail the registry's tables differ from its log in 1 place(s): …
//! ```
//!
//! `id` is the alert's number at the node that raised it (ascending, never reused): the
//! receiver keeps each `(node, id)` once, and answers the highest it holds.

use serde::{Deserialize, Serialize};

use crate::errors::Code;

/// The first line of an alert report.
pub const ALERT_HEADER: &str = "juki.alert/v1";

/// One alert, as raised by a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertReport {
    /// The identity (URI) of the node that raised it.
    pub node: String,
    /// Its number at that node.
    pub id: u64,
    /// When it was raised (POSIX seconds).
    pub time: u64,
    /// Its stable code.
    pub kind: Code,
    /// Whom it concerns (a peer's identity, or the node itself).
    pub peer: String,
    /// What was found (never personal data), on one line.
    pub detail: String,
}

/// Why a report's text is not one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not an alert report: {0}")]
pub struct AlertReportError(String);

impl AlertReport {
    /// The text to sign. Line breaks in the peer or the detail become spaces.
    pub fn text(&self) -> String {
        let line = |s: &str| s.replace(['\n', '\r'], " ");
        format!(
            "{ALERT_HEADER}\nnode {}\nid {}\ntime {}\nkind {}\npeer {}\ndetail {}\n",
            line(&self.node),
            self.id,
            self.time,
            self.kind.as_str(),
            line(&self.peer),
            line(&self.detail)
        )
    }

    /// Parses a report's text (its signature is checked apart).
    pub fn parse(text: &str) -> Result<AlertReport, AlertReportError> {
        let bad = |what: &str| AlertReportError(what.to_owned());
        let mut lines = crate::lines::Lines::open(text, ALERT_HEADER).map_err(AlertReportError)?;
        let mut field = |name: &'static str| lines.field(name).map_err(AlertReportError);
        let node = field("node")?;
        let id = field("id")?.parse().map_err(|_| bad("id is not a number"))?;
        let time = field("time")?.parse().map_err(|_| bad("time is not a number"))?;
        let kind = Code::parse(&field("kind")?).ok_or_else(|| bad("kind is not a known code"))?;
        let peer = field("peer")?;
        let detail = field("detail")?;
        lines.end().map_err(AlertReportError)?;
        Ok(AlertReport { node, id, time, kind, peer, detail })
    }
}

/// A node's alerts, sent upstream (`POST /v1/alerts/reports`): each a signed note.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertReports {
    /// The signed reports, oldest first, exactly as signed.
    pub alerts: Vec<String>,
}

/// The receiver's answer: the highest alert number it holds from the sender.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertsHeld {
    /// The highest `id` held (0: none).
    pub held: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> AlertReport {
        AlertReport {
            node: "spiffe://juki.test/municipal/204072".into(),
            id: 17,
            time: 1_764_806_400,
            kind: Code::Tampered,
            peer: "spiffe://juki.test/municipal/204072".into(),
            detail: "the registry's tables differ from its log in 1 place(s)".into(),
        }
    }

    #[test]
    fn a_report_parses_back() {
        let r = report();
        assert_eq!(AlertReport::parse(&r.text()).unwrap(), r);
    }

    #[test]
    fn a_detail_cannot_add_lines() {
        let mut r = report();
        r.detail = "one\nkind foreign-write".into();
        let parsed = AlertReport::parse(&r.text()).unwrap();
        assert_eq!(parsed.detail, "one kind foreign-write");
        assert_eq!(parsed.kind, Code::Tampered);
    }

    #[test]
    fn malformed_reports_are_refused() {
        let text = report().text();
        for broken in [
            text.replace(ALERT_HEADER, "juki.alert/v2"),
            text.replace("id 17", "id x"),
            text.replace("kind tampered", "kind nonsense"),
            text.replace("\ndetail", "\nextra 1\ndetail"),
            format!("{text}more\n"),
            text.trim_end().to_owned(),
        ] {
            assert!(AlertReport::parse(&broken).is_err(), "{broken}");
        }
    }
}
