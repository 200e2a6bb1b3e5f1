//! Behaviour rules, pure: what one actor — a clerk (the operator key that signed a read or
//! first signed a change at a town office, never the shared console certificate), a console
//! (its refusals), an agency, a peer address — does over time, judged against the node's `[behaviour]` limits. Fed observations (a time, an actor,
//! an act), it answers the alerts to raise; it reads no clock and touches nothing.
//!
//! - **read-burst**: more reads by one actor within a minute than `reads_per_minute` (an
//!   agency's or an insider's bulk reads);
//! - **code-walking**: more lookups of codes with no resident within a minute than
//!   `misses_per_minute` (guessing sequential codes);
//! - **change-burst**: more changes by one actor within a minute than `changes_per_minute`;
//! - **off-hours**: a change outside office hours, or `off_hours_reads` reads within an hour
//!   outside them (an insider at night);
//! - **repeated-refusals**: more refusals of one peer within a minute than
//!   `refusals_per_minute` (bad signatures, sensitive changes with one signature, a wrong role);
//! - **tls-refused**: a TLS handshake refused for want of a client certificate or for one the
//!   network's CA did not issue, per source address.
//!
//! Each alert is raised once per actor and rule within its window, not once per request.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};
use wire::errors::Code;

/// What one actor did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    /// Read a resident's record (a lookup, a copy, an agency's query).
    Read,
    /// Asked for a code with no resident (a read that missed).
    Miss,
    /// Recorded a change.
    Change,
    /// Was refused with an alert.
    Refused,
    /// Failed the TLS handshake: no certificate, or one the network's CA did not issue (why).
    TlsRefused(&'static str),
}

/// `[behaviour]` in `node.toml`: the limits, with defaults for a town office and an agency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rules {
    /// Reads by one actor within a minute above which it is a `read-burst`.
    pub reads_per_minute: u32,
    /// Lookups of codes with no resident within a minute above which it is `code-walking`.
    pub misses_per_minute: u32,
    /// Changes by one actor within a minute above which it is a `change-burst`.
    pub changes_per_minute: u32,
    /// Refusals of one peer within a minute above which they are `repeated-refusals`.
    pub refusals_per_minute: u32,
    /// Office hours, Japan time (UTC+9), `HH:MM-HH:MM`; `00:00-24:00` for a counter that is
    /// always open.
    pub office_hours: String,
    /// The days the office is open (`mon` … `sun`).
    pub office_days: Vec<String>,
    /// Reads by one actor outside office hours within an hour from which it is `off-hours`
    /// (a change outside them always is).
    pub off_hours_reads: u32,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            reads_per_minute: 100,
            misses_per_minute: 10,
            changes_per_minute: 600,
            refusals_per_minute: 5,
            office_hours: "08:00-19:00".into(),
            office_days: ["mon", "tue", "wed", "thu", "fri"].map(str::to_owned).to_vec(),
            off_hours_reads: 10,
        }
    }
}

/// Why a `[behaviour]` section is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    /// `office_hours` is not `HH:MM-HH:MM` with the start before the end.
    #[error("office_hours {0:?} is not HH:MM-HH:MM (Japan time) with the start before the end")]
    Hours(String),
    /// A day that is not `mon` … `sun`.
    #[error("office_days has {0:?}: the days are mon, tue, wed, thu, fri, sat and sun")]
    Day(String),
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Office hours as minutes of the day (Japan time) and the open days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Hours {
    open: u32,
    close: u32,
    /// Bit `d` set: open on day `d` (0 = Monday).
    days: u8,
}

impl Hours {
    fn parse(rules: &Rules) -> Result<Hours, RulesError> {
        let bad = || RulesError::Hours(rules.office_hours.clone());
        let minute = |hm: &str| -> Option<u32> {
            let (h, m) = hm.trim().split_once(':')?;
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
        };
        let (open, close) = rules.office_hours.split_once('-').ok_or_else(bad)?;
        let (open, close) = (minute(open).ok_or_else(bad)?, minute(close).ok_or_else(bad)?);
        if open >= close {
            return Err(bad());
        }
        let mut days = 0;
        for day in &rules.office_days {
            let d =
                DAYS.iter().position(|d| d == day).ok_or_else(|| RulesError::Day(day.clone()))?;
            days |= 1 << d;
        }
        Ok(Hours { open, close, days })
    }

    /// Whether POSIX second `time` falls within office hours, Japan time (UTC+9, no DST).
    fn within(&self, time: u64) -> bool {
        let local = time + 9 * 3600;
        let minute = (local % 86_400 / 60) as u32;
        // 1970-01-01 was a Thursday (day 3 counted from Monday).
        let day = ((local / 86_400 + 3) % 7) as u8;
        self.days & (1 << day) != 0 && (self.open..self.close).contains(&minute)
    }
}

/// An alert a rule raises.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Its code.
    pub code: Code,
    /// The actor it concerns (its identity URI, or a source address).
    pub actor: String,
    /// What was seen: counts and windows, never a resident.
    pub detail: String,
}

/// The kinds of acts counted, each in its own window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Counted {
    Reads,
    Misses,
    Changes,
    Refusals,
    OffHoursReads,
}

const MINUTE: u64 = 60;
const HOUR: u64 = 3600;

/// The rules' state: recent acts per actor, and when each actor's alert of each rule may be
/// raised again.
#[derive(Debug)]
pub struct Watch {
    rules: Rules,
    hours: Hours,
    seen: BTreeMap<(String, Counted), VecDeque<u64>>,
    quiet_until: BTreeMap<(String, Code), u64>,
}

impl Watch {
    /// A watch over `rules`.
    pub fn new(rules: Rules) -> Result<Watch, RulesError> {
        let hours = Hours::parse(&rules)?;
        Ok(Watch { rules, hours, seen: BTreeMap::new(), quiet_until: BTreeMap::new() })
    }

    /// `actor` did `act` at POSIX second `time`: the alerts to raise.
    pub fn observe(&mut self, time: u64, actor: &str, act: Act) -> Vec<Finding> {
        let mut found = Vec::new();
        let r = &self.rules;
        let (reads, misses, changes, refusals, off_hours_reads) = (
            r.reads_per_minute,
            r.misses_per_minute,
            r.changes_per_minute,
            r.refusals_per_minute,
            r.off_hours_reads,
        );
        let open = self.hours.within(time);
        match act {
            Act::Read | Act::Miss => {
                let n = self.count(time, actor, Counted::Reads, MINUTE);
                if n > reads as usize {
                    let detail = format!("{n} reads within a minute (the limit is {reads})");
                    found.extend(self.raise(time, actor, Code::ReadBurst, MINUTE, detail));
                }
                if act == Act::Miss {
                    let n = self.count(time, actor, Counted::Misses, MINUTE);
                    if n > misses as usize {
                        let detail = format!(
                            "{n} lookups of codes with no resident within a minute (the limit is \
                             {misses}): someone is guessing codes"
                        );
                        found.extend(self.raise(time, actor, Code::CodeWalking, MINUTE, detail));
                    }
                }
                if !open {
                    let n = self.count(time, actor, Counted::OffHoursReads, HOUR);
                    if n >= off_hours_reads as usize {
                        let detail = format!(
                            "{n} reads within an hour outside office hours ({})",
                            self.rules.office_hours
                        );
                        found.extend(self.raise(time, actor, Code::OffHours, HOUR, detail));
                    }
                }
            }
            Act::Change => {
                let n = self.count(time, actor, Counted::Changes, MINUTE);
                if n > changes as usize {
                    let detail = format!("{n} changes within a minute (the limit is {changes})");
                    found.extend(self.raise(time, actor, Code::ChangeBurst, MINUTE, detail));
                }
                if !open {
                    let detail =
                        format!("a change outside office hours ({})", self.rules.office_hours);
                    found.extend(self.raise(time, actor, Code::OffHours, HOUR, detail));
                }
            }
            Act::Refused => {
                let n = self.count(time, actor, Counted::Refusals, MINUTE);
                if n > refusals as usize {
                    let detail = format!("{n} refusals within a minute (the limit is {refusals})");
                    found.extend(self.raise(time, actor, Code::RepeatedRefusals, MINUTE, detail));
                }
            }
            Act::TlsRefused(why) => {
                // Once per source and reason: a revoked certificate tried after a missing one
                // is news.
                let detail = format!("a TLS handshake refused: {why}");
                let key = format!("{actor} {why}");
                found.extend(self.raise_as(
                    time,
                    &key,
                    actor,
                    Code::TlsRefused,
                    10 * MINUTE,
                    detail,
                ));
            }
        }
        found
    }

    /// Counts `actor`'s acts of `kind` within the last `window` seconds, this one included.
    fn count(&mut self, time: u64, actor: &str, kind: Counted, window: u64) -> usize {
        let times = self.seen.entry((actor.to_owned(), kind)).or_default();
        times.push_back(time);
        while times.front().is_some_and(|&t| t + window <= time) {
            times.pop_front();
        }
        times.len()
    }

    /// The finding, unless the same rule alerted about `actor` within `window`.
    fn raise(
        &mut self,
        time: u64,
        actor: &str,
        code: Code,
        window: u64,
        detail: String,
    ) -> Option<Finding> {
        self.raise_as(time, actor, actor, code, window, detail)
    }

    /// [`Watch::raise`], quiet per `key` rather than per actor.
    fn raise_as(
        &mut self,
        time: u64,
        key: &str,
        actor: &str,
        code: Code,
        window: u64,
        detail: String,
    ) -> Option<Finding> {
        let key = (key.to_owned(), code);
        if self.quiet_until.get(&key).is_some_and(|&until| time < until) {
            return None;
        }
        self.quiet_until.insert(key, time + window);
        Some(Finding { code, actor: actor.to_owned(), detail })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Monday 2026-12-07 10:00 Japan time (01:00 UTC).
    const MONDAY_10: u64 = 1_796_605_200;

    fn always_open() -> Rules {
        Rules {
            office_hours: "00:00-24:00".into(),
            office_days: DAYS.map(str::to_owned).to_vec(),
            ..Rules::default()
        }
    }

    /// Feeds `acts` (seconds after the start, act) for one actor; returns the codes raised.
    fn run(rules: Rules, start: u64, acts: &[(u64, Act)]) -> Vec<Code> {
        let mut watch = Watch::new(rules).unwrap();
        acts.iter()
            .flat_map(|(t, act)| watch.observe(start + t, "urn:juki:agency:pension-service", *act))
            .map(|f| f.code)
            .collect()
    }

    fn many(n: u64, every: u64, act: Act) -> Vec<(u64, Act)> {
        (0..n).map(|i| (i * every, act)).collect()
    }

    #[test]
    fn the_rules_fire_once_per_window_and_never_on_an_ordinary_day() {
        use Act::*;
        // (what, rules, start, acts, the alerts expected)
        type Case = (&'static str, Rules, u64, Vec<(u64, Act)>, Vec<Code>);
        let cases: Vec<Case> = vec![
            ("100 reads in a minute is the limit", always_open(), 0, many(100, 0, Read), vec![]),
            (
                "101 is a burst, raised once",
                always_open(),
                0,
                many(150, 0, Read),
                vec![Code::ReadBurst],
            ),
            ("a read a second all day is not", always_open(), 0, many(3000, 1, Read), vec![]),
            (
                "a burst again after the window is raised again",
                always_open(),
                0,
                [
                    many(101, 0, Read),
                    many(101, 0, Read).into_iter().map(|(t, a)| (t + 60, a)).collect(),
                ]
                .concat(),
                vec![Code::ReadBurst, Code::ReadBurst],
            ),
            ("ten misses a minute is the limit", always_open(), 0, many(10, 1, Miss), vec![]),
            ("code walking", always_open(), 0, many(30, 1, Miss), vec![Code::CodeWalking]),
            (
                "changes at 5/s are an ordinary busy counter",
                always_open(),
                0,
                many(600, 0, Change),
                vec![],
            ),
            ("a change burst", always_open(), 0, many(601, 0, Change), vec![Code::ChangeBurst]),
            ("five refusals a minute is the limit", always_open(), 0, many(5, 1, Refused), vec![]),
            (
                "repeated refusals",
                always_open(),
                0,
                many(6, 1, Refused),
                vec![Code::RepeatedRefusals],
            ),
            (
                "a handshake refused, again and again, then for another reason",
                always_open(),
                0,
                [many(3, 1, TlsRefused("no client certificate")), vec![(5, TlsRefused("revoked"))]]
                    .concat(),
                vec![Code::TlsRefused, Code::TlsRefused],
            ),
            ("reads in office hours", Rules::default(), MONDAY_10, many(50, 10, Read), vec![]),
            (
                "reads at night, ten of them",
                Rules::default(),
                MONDAY_10 + 12 * HOUR,
                many(50, 10, Read),
                vec![Code::OffHours],
            ),
            (
                "nine reads at night",
                Rules::default(),
                MONDAY_10 + 12 * HOUR,
                many(9, 10, Read),
                vec![],
            ),
            (
                "a change on a Sunday",
                Rules::default(),
                MONDAY_10 - 24 * HOUR,
                vec![(0, Change), (5, Change)],
                vec![Code::OffHours],
            ),
            (
                "a change on a Monday morning",
                Rules::default(),
                MONDAY_10,
                vec![(0, Change)],
                vec![],
            ),
            (
                "a change before the office opens at half past eight",
                Rules { office_hours: "08:30-17:15".into(), ..Rules::default() },
                MONDAY_10 - 2 * HOUR + 15 * MINUTE,
                vec![(0, Change)],
                vec![Code::OffHours],
            ),
            (
                "a change once it has opened",
                Rules { office_hours: "08:30-17:15".into(), ..Rules::default() },
                MONDAY_10 - 2 * HOUR + 45 * MINUTE,
                vec![(0, Change)],
                vec![],
            ),
            (
                "the same handshake refused again within ten minutes",
                always_open(),
                0,
                vec![
                    (0, TlsRefused("no client certificate")),
                    (599, TlsRefused("no client certificate")),
                ],
                vec![Code::TlsRefused],
            ),
        ];
        for (what, rules, start, acts, expected) in cases {
            assert_eq!(run(rules, start, &acts), expected, "{what}");
        }
    }

    #[test]
    fn actors_are_counted_apart() {
        let mut watch = Watch::new(Rules::default()).unwrap();
        for i in 0..100 {
            assert!(watch.observe(MONDAY_10, "urn:juki:console:204072", Act::Read).is_empty());
            assert!(watch.observe(MONDAY_10 + i % 2, "urn:juki:agency:tax", Act::Read).is_empty());
        }
    }

    #[test]
    fn office_hours_must_make_sense() {
        for hours in ["19:00-08:00", "8-19", "08:00-25:00", "08:00-24:30", "08:60-19:00", ""] {
            let rules = Rules { office_hours: hours.into(), ..Rules::default() };
            assert!(Watch::new(rules).is_err(), "{hours:?}");
        }
        let rules = Rules { office_days: vec!["funday".into()], ..Rules::default() };
        assert_eq!(Watch::new(rules).unwrap_err(), RulesError::Day("funday".into()));
    }
}
