//! A town's self-check: whether anything but the node wrote to its registry database, and the
//! whole registry re-derived from its log and compared with its tables, on a connection of its
//! own (a snapshot: the counter goes on meanwhile). Decides what to alert; the node records
//! the alerts and stops recording changes while the tables differ.

use std::time::{Duration, Instant};

use anyhow::Result;
use registry_store::Registry;
use registry_store::verify::Difference;

/// The self-check's state between looks.
pub struct SelfCheck {
    /// Its own connection to the registry.
    registry: Registry,
    /// How often a whole verification runs when nothing else wrote.
    every: Duration,
    /// When the last whole verification ran.
    verified: Option<Instant>,
    /// What the last `tampered` alert said: the same differences are not alerted again.
    alerted: Option<String>,
}

/// What one look found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Look {
    /// Another connection committed to the registry since the last look.
    pub foreign_write: bool,
    /// Whether a whole verification ran, and the differences it found.
    pub verified: Option<usize>,
    /// When it ran and found none: the events it covered (at least).
    pub covered: Option<u64>,
    /// A `tampered` alert to raise: the summary of differences not alerted before.
    pub alert: Option<String>,
    /// The tables agree with the log again after differing.
    pub restored: bool,
}

impl SelfCheck {
    /// A self-check over its own connection `registry`, verifying every `every` at least.
    pub fn new(registry: Registry, every: Duration) -> SelfCheck {
        SelfCheck { registry, every, verified: None, alerted: None }
    }

    /// One look: asks `counter` — the connection the node writes through — whether anyone
    /// else committed, and then, or when one is due, verifies the whole registry.
    pub fn look(&mut self, counter: &mut Registry) -> Result<Look> {
        let foreign_write = counter.written_by_others()?;
        self.look_after(foreign_write)
    }

    /// [`SelfCheck::look`], told whether anyone else wrote (the node asks its counter's
    /// connection under its own lock, and holds it no longer than that).
    pub fn look_after(&mut self, foreign_write: bool) -> Result<Look> {
        let due = self.verified.is_none_or(|at| at.elapsed() >= self.every);
        let mut look = Look { foreign_write, ..Look::default() };
        if !foreign_write && !due {
            return Ok(look);
        }
        // Counted before the snapshot the verification reads: it covers at least these.
        let size = self.registry.event_count()?;
        let differences = self.registry.verify()?;
        self.verified = Some(Instant::now());
        look.verified = Some(differences.len());
        if differences.is_empty() {
            look.covered = Some(size);
            look.restored = self.alerted.take().is_some();
            return Ok(look);
        }
        let summary = summarise(&differences);
        if self.alerted.as_deref() != Some(summary.as_str()) {
            look.alert = Some(summary.clone());
            self.alerted = Some(summary);
        }
        Ok(look)
    }
}

/// What a verification found, as an alert's detail: each kind of difference with how often it
/// occurs, never a resident code or a value.
pub fn summarise(differences: &[Difference]) -> String {
    let mut kinds: std::collections::BTreeMap<&str, usize> = Default::default();
    for difference in differences {
        *kinds.entry(difference.what.as_str()).or_default() += 1;
    }
    let kinds: Vec<String> = kinds
        .into_iter()
        .map(|(what, n)| if n == 1 { what.to_owned() } else { format!("{what} (×{n})") })
        .collect();
    format!(
        "the registry's tables differ from its log in {} place(s): {}",
        differences.len(),
        kinds.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use registry_domain::ResidentCode;

    #[test]
    fn a_summary_names_kinds_and_counts_never_residents() {
        let code = ResidentCode::from_ten_digits(2_040_700_001).unwrap();
        let differences = vec![
            Difference { resident: Some(code), what: "field address differs from the log".into() },
            Difference { resident: Some(code), what: "field address differs from the log".into() },
            Difference { resident: None, what: "event 3 is missing from the events table".into() },
        ];
        let summary = summarise(&differences);
        assert_eq!(
            summary,
            "the registry's tables differ from its log in 3 place(s): event 3 is missing from the \
             events table; field address differs from the log (×2)"
        );
        assert!(!summary.contains(&code.to_string()));
    }
}
