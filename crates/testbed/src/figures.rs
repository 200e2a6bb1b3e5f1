//! The figures the benchmarks measure, gathered for `juki bench`'s one table and its JSON.
//!
//! Every benchmark prints each figure as it measures it, one line (`line`, or `goal` for a
//! figure an issue sets a target for), and that line is also recorded here. `juki bench` runs
//! the benchmarks one after another in one process, takes each one's figures when it ends
//! (`take`) and, at the end, prints them as one table beside the peers measured in the same
//! run — each target with whether it was met, and each figure's ratio to the peer it is
//! compared with — and writes the same as JSON (`Report`).
//!
//! The record is process-wide rather than passed down: figures are printed from deep inside
//! the benchmarks (async tasks, helper functions), and a benchmark run alone (`juki bench
//! provision`) prints the same lines and leaves its record unread.

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

/// What an issue asks of a figure.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// At least this value.
    AtLeast(f64),
    /// Strictly below this value.
    Below(f64),
}

impl Target {
    /// Whether `value` meets the target.
    pub fn met(self, value: f64) -> bool {
        match self {
            Target::AtLeast(bound) => value >= bound,
            Target::Below(bound) => value < bound,
        }
    }

    fn text(self) -> String {
        match self {
            Target::AtLeast(bound) => format!(">= {}", number(bound)),
            Target::Below(bound) => format!("< {}", number(bound)),
        }
    }
}

/// The peers juki's figures are compared with, each measured once in the same run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Peer {
    /// `openssl speed ed25519`: Ed25519 verifications per second on one core.
    OpensslEd25519Verify,
    /// `openssl speed sha256`: bytes hashed per second on one core (8 KiB blocks).
    OpensslSha256,
    /// `pgbench -S` against the local PostgreSQL: transactions per second.
    PgbenchSelect,
}

impl Peer {
    /// Every peer, in the order the table prints them.
    pub const ALL: [Peer; 3] =
        [Peer::OpensslEd25519Verify, Peer::OpensslSha256, Peer::PgbenchSelect];

    /// The peer's short name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Peer::OpensslEd25519Verify => "openssl ed25519 verify",
            Peer::OpensslSha256 => "openssl sha256",
            Peer::PgbenchSelect => "pgbench -S",
        }
    }
}

/// One figure as measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Figure {
    /// The benchmark that measured it (`log`, `provision`, …), set by [`take`]'s caller.
    pub bench: String,
    /// What was measured, as the benchmark's line names it.
    pub name: String,
    pub value: f64,
    pub unit: String,
    /// How it was measured and under what, as the line printed it.
    pub note: String,
    /// The issue that sets a target for it, and the target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issue: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// The peer it is compared with, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versus: Option<Peer>,
}

impl Figure {
    /// A figure not yet labelled with its benchmark.
    fn new(name: &str, value: f64, unit: &str, note: &str, aim: Aim) -> Figure {
        Figure {
            bench: String::new(),
            name: name.trim().to_owned(),
            value,
            unit: unit.to_owned(),
            note: note.to_owned(),
            issue: aim.issue,
            target: aim.target,
            versus: aim.versus,
        }
    }

    /// Whether it met its target (None: it has none).
    pub fn met(&self) -> Option<bool> {
        self.target.map(|t| t.met(self.value))
    }
}

static RECORDED: Mutex<Vec<Figure>> = Mutex::new(Vec::new());

fn record(figure: Figure) {
    RECORDED.lock().unwrap_or_else(|p| p.into_inner()).push(figure);
}

/// The figures recorded since the last call, labelled as `bench`'s.
pub fn take(bench: &str) -> Vec<Figure> {
    let mut taken = std::mem::take(&mut *RECORDED.lock().unwrap_or_else(|p| p.into_inner()));
    for figure in &mut taken {
        figure.bench = bench.to_owned();
    }
    taken
}

/// Prints one figure's line and records it.
pub fn line(name: &str, value: f64, unit: &str, note: &str) {
    print_line(name, value, unit, note);
    record_only(name, value, unit, note);
}

/// Records a figure a benchmark printed in a form of its own.
pub fn record_only(name: &str, value: f64, unit: &str, note: &str) {
    record(Figure::new(name, value, unit, note, Aim::default()));
}

/// What [`goal`] records besides the line: the issue, its target, the peer compared with.
#[derive(Clone, Copy, Debug, Default)]
pub struct Aim {
    pub issue: Option<u32>,
    pub target: Option<Target>,
    pub versus: Option<Peer>,
}

impl Aim {
    /// Issue `issue`'s target for the figure.
    pub fn of(issue: u32, target: Target) -> Aim {
        Aim { issue: Some(issue), target: Some(target), versus: None }
    }

    /// No target, only a peer to compare with.
    pub fn versus(peer: Peer) -> Aim {
        Aim { versus: Some(peer), ..Aim::default() }
    }

    /// The same, compared with `peer` too.
    pub fn and_versus(self, peer: Peer) -> Aim {
        Aim { versus: Some(peer), ..self }
    }
}

/// Prints one figure's line, with its target's verdict when it has one, and records it.
pub fn goal(name: &str, value: f64, unit: &str, note: &str, aim: Aim) {
    let verdict = match aim.target {
        Some(target) if target.met(value) => format!(" [target {}: met]", target.text()),
        Some(target) => format!(" [target {}: NOT MET]", target.text()),
        None => String::new(),
    };
    print_line(name, value, unit, &format!("{note}{verdict}"));
    record(Figure::new(name, value, unit, note, aim));
}

fn print_line(name: &str, value: f64, unit: &str, note: &str) {
    println!("{name:<44} {:>14} {unit:<12} {note}", number(value));
}

/// Events per second.
pub fn rate(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// Milliseconds, for latency figures.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A value as the table prints it: whole numbers above 100, three significant digits below.
pub fn number(value: f64) -> String {
    if value.abs() >= 100.0 || value == value.trunc() {
        let whole = value.round() as i64;
        let digits = whole.unsigned_abs().to_string();
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        if whole < 0 { format!("-{grouped}") } else { grouped }
    } else if value.abs() >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// A peer's figure as measured in the run, or why it was not.
#[derive(Clone, Debug, Serialize)]
pub struct PeerFigure {
    pub peer: Peer,
    pub command: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    pub unit: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_measured: Option<String>,
}

/// A whole `juki bench` run: what ran, the peers, every figure, and how long each took.
#[derive(Debug, Serialize)]
pub struct Report {
    pub quick: bool,
    /// Seconds since the Unix epoch when the run started.
    pub started_unix: u64,
    pub cores: usize,
    pub peers: Vec<PeerFigure>,
    pub benches: Vec<BenchRun>,
    pub figures: Vec<Figure>,
}

/// One benchmark of the run: how long it took, and why it failed if it did.
#[derive(Debug, Serialize)]
pub struct BenchRun {
    pub name: String,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
    /// The load average over the last minute when it ended (every process of the machine).
    pub load_average: Option<f64>,
}

impl Report {
    /// A peer's measured value.
    pub fn peer(&self, peer: Peer) -> Option<f64> {
        self.peers.iter().find(|p| p.peer == peer).and_then(|p| p.value)
    }

    /// The table, as `juki bench` prints it at the end.
    pub fn table(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<11} {:<52} {:>14} {:<12} {:<18} {:>10}",
            "bench", "figure", "value", "unit", "target", "vs peer"
        );
        let _ = writeln!(out, "{}", "-".repeat(122));
        for peer in &self.peers {
            let value = peer.value.map_or_else(|| "-".to_owned(), number);
            let note = peer.not_measured.as_deref().unwrap_or(&peer.command);
            let _ = writeln!(
                out,
                "{:<11} {:<52} {:>14} {:<12} {note}",
                "peer",
                clip(peer.peer.name(), 52),
                value,
                peer.unit
            );
        }
        for figure in &self.figures {
            let target = figure
                .target
                .map(|target| {
                    let issue = figure.issue.map(|i| format!("#{i} ")).unwrap_or_default();
                    let verdict = if target.met(figure.value) { "met" } else { "NOT MET" };
                    format!("{issue}{} {verdict}", target.text())
                })
                .unwrap_or_default();
            let versus = figure
                .versus
                .and_then(|peer| self.peer(peer).map(|p| (peer, p)))
                .map(|(peer, p)| format!("{:.2}× {}", figure.value / p, short(peer)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{:<11} {:<52} {:>14} {:<12} {:<18} {versus}",
                figure.bench,
                clip(&figure.name, 52),
                number(figure.value),
                figure.unit,
                target
            );
        }
        for bench in &self.benches {
            if let Some(why) = &bench.failed {
                let _ = writeln!(out, "{:<11} FAILED: {why}", bench.name);
            }
        }
        let targets: Vec<&Figure> = self.figures.iter().filter(|f| f.target.is_some()).collect();
        let met = targets.iter().filter(|f| f.met() == Some(true)).count();
        let _ = writeln!(out, "{}", "-".repeat(122));
        let _ = writeln!(out, "targets met: {met} of {}", targets.len());
        out
    }
}

fn short(peer: Peer) -> &'static str {
    match peer {
        Peer::OpensslEd25519Verify => "ed25519",
        Peer::OpensslSha256 => "sha256",
        Peer::PgbenchSelect => "pgbench",
    }
}

/// `text` cut to `width` characters (not bytes: names hold Japanese).
fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(width - 1).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_judge_their_bound() {
        assert!(Target::AtLeast(10.0).met(10.0));
        assert!(!Target::AtLeast(10.0).met(9.99));
        assert!(Target::Below(10.0).met(9.99));
        assert!(!Target::Below(10.0).met(10.0));
    }

    #[test]
    fn numbers_print_grouped_or_to_three_places() {
        assert_eq!(number(11_989.4), "11,989");
        assert_eq!(number(-1_234_567.0), "-1,234,567");
        assert_eq!(number(100.0), "100");
        assert_eq!(number(5.581), "5.58");
        assert_eq!(number(17.42), "17.4");
        assert_eq!(number(0.0), "0");
    }

    #[test]
    fn the_table_gives_each_target_a_verdict_and_each_peer_a_ratio() {
        let figure = |name: &str, value: f64, aim: Aim| Figure {
            bench: "provision".into(),
            ..Figure::new(name, value, "lookups/s", "", aim)
        };
        let report = Report {
            quick: true,
            started_unix: 0,
            cores: 2,
            peers: vec![PeerFigure {
                peer: Peer::PgbenchSelect,
                command: "pgbench -S".into(),
                value: Some(50_000.0),
                unit: "tx/s".into(),
                not_measured: None,
            }],
            benches: vec![BenchRun {
                name: "scale".into(),
                seconds: 1.0,
                failed: Some("stopped".into()),
                load_average: None,
            }],
            figures: vec![
                figure(
                    "lookups",
                    12_000.0,
                    Aim::of(12, Target::AtLeast(10_000.0)).and_versus(Peer::PgbenchSelect),
                ),
                figure("p99", 12.0, Aim::of(12, Target::Below(10.0))),
            ],
        };
        let table = report.table();
        assert!(table.contains("#12 >= 10,000 met"), "{table}");
        assert!(table.contains("0.24× pgbench"), "{table}");
        assert!(table.contains("#12 < 10 NOT MET"), "{table}");
        assert!(table.contains("scale       FAILED: stopped"), "{table}");
        assert!(table.contains("targets met: 1 of 2"), "{table}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["figures"][0]["target"]["at-least"], 10_000.0);
        assert_eq!(json["figures"][0]["versus"], "pgbench-select");
    }

    #[test]
    fn take_returns_what_was_recorded_once() {
        line("a figure", 1.0, "x", "");
        goal("another", 2.0, "y", "", Aim::of(1, Target::AtLeast(1.0)));
        let taken = take("unit");
        // Other tests of this binary may record concurrently; ours are among them.
        let ours: Vec<&Figure> =
            taken.iter().filter(|f| f.name == "a figure" || f.name == "another").collect();
        assert_eq!(ours.len(), 2);
        assert!(ours.iter().all(|f| f.bench == "unit"));
        assert!(take("unit").iter().all(|f| f.name != "a figure" && f.name != "another"));
    }
}
