//! A town's self-check: whether anything but the node wrote to its registry database, and the
//! registry verified incrementally against its log on a connection of its own
//! (`registry_store::incremental`): built by one replay of the whole log in the background at
//! start, then at each look the events appended since replayed, and either every table
//! compared with what the log says (after a foreign write) or the next slice of the rolling
//! sweep (otherwise: one pass over every row and stored event per `pass`). Decides what to
//! alert; the node records the alerts and stops recording changes while the tables differ.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use registry_store::Registry;
use registry_store::incremental::{Checked, Scope, Verifier};
use registry_store::verify::Difference;

/// The replay at start, on a thread of its own: it gives the connection back with the verifier.
type Building =
    JoinHandle<(Registry, Result<(Verifier, Vec<Difference>), registry_store::StoreError>)>;

/// Where the self-check is.
enum Stage {
    /// The replay at start runs.
    Building(Building),
    /// The verifier is built.
    Ready(Box<Built>),
    /// The replay panicked (a bug): the self-check cannot go on.
    Broken,
}

/// The built verifier with its connection.
struct Built {
    registry: Registry,
    verifier: Verifier,
    /// A whole comparison is due at the next look (the first after the replay).
    compare: bool,
}

/// The self-check's state between looks.
pub struct SelfCheck {
    stage: Stage,
    /// The time between looks (the node's `watch_ms`).
    watch: Duration,
    /// How long one rolling pass over every table takes (`verify_every_ms`).
    pass: Duration,
    /// When the tables last were compared whole.
    compared: Option<Instant>,
    /// What the last `tampered` alert said: the same differences are not alerted again.
    alerted: Option<String>,
}

/// What one look found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Look {
    /// Another connection committed to the registry since the last look.
    pub foreign_write: bool,
    /// Whether a verification ran (a whole comparison or a slice of the sweep), and the
    /// differences it found.
    pub verified: Option<usize>,
    /// Whether it compared every table (after a foreign write, at the first look with the
    /// verifier built, and while the tables differ).
    pub whole: bool,
    /// A rolling pass over every table ended with this look.
    pub pass_ended: bool,
    /// When it ran and found none: the events replayed and checked.
    pub covered: Option<u64>,
    /// A `tampered` alert to raise: the summary of differences not alerted before.
    pub alert: Option<String>,
    /// The tables agree with the log again after differing.
    pub restored: bool,
}

impl SelfCheck {
    /// A self-check over its own connection `registry`, looking every `watch` and sweeping
    /// every table once per `pass`. The replay that builds the verifier starts now, in the
    /// background.
    pub fn new(registry: Registry, watch: Duration, pass: Duration) -> SelfCheck {
        SelfCheck {
            stage: Stage::Building(build(registry)),
            watch,
            pass,
            compared: None,
            alerted: None,
        }
    }

    /// Waits until the replay at start has built the verifier (for tools and benchmarks that
    /// measure what comes after). A replay the database failed is started again.
    pub fn wait_built(&mut self) -> Result<()> {
        if let Stage::Building(building) = std::mem::replace(&mut self.stage, Stage::Broken) {
            let (registry, built) =
                building.join().map_err(|_| anyhow!("the self-check's replay panicked"))?;
            match built {
                Ok((verifier, _)) => {
                    self.stage =
                        Stage::Ready(Box::new(Built { registry, verifier, compare: true }));
                }
                Err(error) => {
                    self.stage = Stage::Building(build(registry));
                    return Err(error.into());
                }
            }
        }
        Ok(())
    }

    /// Whether the verifier is built.
    pub fn built(&self) -> bool {
        matches!(self.stage, Stage::Ready(_))
    }

    /// How many looks one rolling pass takes.
    fn looks_per_pass(&self) -> u64 {
        (self.pass.as_millis() / self.watch.as_millis().max(1)).max(1) as u64
    }

    /// One look: asks `counter` — the connection the node writes through — whether anyone
    /// else committed, and verifies.
    pub fn look(&mut self, counter: &mut Registry) -> Result<Look> {
        let foreign_write = counter.written_by_others()?;
        self.look_after(foreign_write)
    }

    /// [`SelfCheck::look`], told whether anyone else wrote (the node asks its counter's
    /// connection under its own lock, and holds it no longer than that).
    pub fn look_after(&mut self, foreign_write: bool) -> Result<Look> {
        let mut look = Look { foreign_write, ..Look::default() };
        if let Stage::Building(building) = &self.stage
            && building.is_finished()
        {
            self.wait_built()?;
        }
        let looks = self.looks_per_pass();
        let tampered = self.alerted.is_some();
        let (registry, verifier, compare) = match &mut self.stage {
            Stage::Ready(built) => {
                let Built { registry, verifier, compare } = &mut **built;
                (registry, verifier, compare)
            }
            Stage::Building(_) => return Ok(look),
            Stage::Broken => return Err(anyhow!("the self-check's replay panicked")),
        };
        // While the tables differ, nothing is swept: they are compared whole at a foreign
        // write and once per pass, to tell when they agree again.
        let recheck = tampered && self.compared.is_none_or(|at| at.elapsed() >= self.pass);
        let whole = foreign_write || *compare || recheck;
        if tampered && !whole {
            return Ok(look);
        }
        let scope = if whole { Scope::Whole } else { Scope::Slice { looks } };
        let mut checked = verifier.look(registry, scope)?;
        if !whole && !checked.differences.is_empty() {
            // The sweep found something: the whole comparison names all of it at once.
            checked = Checked {
                pass_ended: checked.pass_ended,
                ..verifier.look(registry, Scope::Whole)?
            };
            look.whole = true;
        }
        if whole {
            *compare = false;
            look.whole = true;
        }
        if look.whole {
            self.compared = Some(Instant::now());
        }
        look.pass_ended = checked.pass_ended;
        look.verified = Some(checked.differences.len());
        if checked.differences.is_empty() {
            look.covered = Some(checked.size);
            look.restored = self.alerted.take().is_some();
            return Ok(look);
        }
        let summary = summarise(&checked.differences);
        if self.alerted.as_deref() != Some(summary.as_str()) {
            look.alert = Some(summary.clone());
            self.alerted = Some(summary);
        }
        Ok(look)
    }
}

/// The replay that builds the verifier, on a thread of its own.
fn build(registry: Registry) -> Building {
    std::thread::spawn(move || {
        let built = Verifier::build(&registry);
        (registry, built)
    })
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
    use registry_core::event::{Event, Genesis};
    use registry_core::time::Timestamp;
    use registry_domain::{MunicipalityCode, ResidentCode};
    use tlog::note::{KeyKind, Note, Signer};

    /// A registry whose log holds its genesis.
    fn a_registry(dir: &std::path::Path) -> std::path::PathBuf {
        let key = |name: &str, seed| Signer::from_seed(name, KeyKind::Ed25519, [seed; 32]).unwrap();
        let (national, admin) = (key("national.juki.test", 1), key("admin.204072.juki.test", 2));
        let municipality = MunicipalityCode::parse("204072").unwrap();
        let path = dir.join("registry.db");
        let mut registry = Registry::create(&path, municipality, &national.verifier()).unwrap();
        let now = Timestamp::from_unix(1_795_512_600);
        let genesis = Event::Genesis(Genesis { municipality, admin: admin.verifier(), time: now });
        let mut note = Note::new(genesis.to_text()).unwrap();
        note.sign(&admin).unwrap();
        registry.submit(&note.to_bytes(), now).unwrap();
        path
    }

    /// An edit the watch is not told of is found by the sweep within one pass and compared
    /// whole at once; it is one alert, nothing is swept while the tables differ, and the
    /// comparison after the undo says they agree again.
    #[test]
    fn a_difference_the_sweep_finds_is_one_alert_until_restored() {
        let dir = tempfile::tempdir().unwrap();
        let path = a_registry(dir.path());
        // Four looks a pass.
        let (watch, pass) = (Duration::from_millis(200), Duration::from_millis(800));
        let mut check = SelfCheck::new(Registry::open(&path).unwrap(), watch, pass);
        check.wait_built().unwrap();
        let first = check.look_after(false).unwrap();
        assert!(first.whole, "the first look after the replay compares everything");
        assert_eq!((first.verified, first.covered), (Some(0), Some(1)));

        let editor = rusqlite::Connection::open(&path).unwrap();
        editor
            .execute("UPDATE events SET note = CAST(note || x'20' AS BLOB) WHERE idx = 0", [])
            .unwrap();
        let mut looks = 0;
        let alert = loop {
            looks += 1;
            let look = check.look_after(false).unwrap();
            if let Some(alert) = look.alert {
                assert!(look.whole, "what the sweep finds is compared whole");
                break alert;
            }
            assert!(looks <= 4, "not found within one pass");
        };
        assert!(alert.contains("event 0 does not match its log entry"), "{alert}");

        let again = check.look_after(true).unwrap();
        assert_eq!((again.alert, again.verified, again.restored), (None, Some(1), false));
        assert_eq!(check.look_after(false).unwrap().verified, None, "nothing swept meanwhile");

        editor
            .execute("UPDATE events SET note = substr(note, 1, length(note) - 1) WHERE idx = 0", [])
            .unwrap();
        let restored = check.look_after(true).unwrap();
        assert!(restored.restored, "{restored:?}");
        assert_eq!((restored.verified, restored.covered, restored.alert), (Some(0), Some(1), None));
    }

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
