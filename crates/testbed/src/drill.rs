//! `juki drill NAME|all`: the auditors' attacks, played against a live network from its
//! `network.json` the way an attacker would play them — root on a town's node editing its
//! database, a stolen certificate or key, a replayed batch — each judged as the national
//! monitoring sees it: blocked (refused, nothing changed), detected (an alert with its code
//! and evidence in the national alert log, and the time it took to get there), or missed.
//! After each drill it checks that nothing acknowledged was lost (every tier agrees) and that
//! the network works again: an edit is undone, and a town the national node quarantined is
//! released by the national administrator's signed decision, as operators would after an
//! investigation.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use client::monitor::Monitor;
use registry_core::event::{Change, Event};
use registry_domain::{ChangeReason, ResidentCode};
use tlog::note::Note;
use wire::api::Alert;
use wire::errors::Code;

use crate::setup::Network;

/// The town the drills attack: 阿智村, one of the three audited in 2003.
pub const TARGET: (&str, &str) = ("achi", "204072");

/// How long a drill waits for its alert at the national node before it calls it missed.
const ALERT_WITHIN: Duration = Duration::from_secs(30);

/// The drill's target: an alert must reach the national alert log within this.
pub const ALERT_TARGET: Duration = Duration::from_secs(5);

/// One drill: its name on the command line and what the attacker does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Drill {
    /// The name `juki drill` takes.
    pub name: &'static str,
    /// The attack, in a line.
    pub attack: &'static str,
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Edit(Edit),
    CodeReuse,
    ForgedCheckpoint,
    Fork,
    StolenCertificate,
    StolenCertificateRead,
    OneKeyForTwo,
    ForeignTown,
    ReplayedBatch,
    WrongRole,
    NoCertificate,
    AgencyBulk,
    CodeWalking,
    OutOfJurisdiction,
    InsiderBulk,
}

/// A direct edit of a town's `registry.db`, and how the operators undo it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Edit {
    Address,
    Delete,
    Insert,
    OldEvent,
}

/// Every drill, in the order `juki drill all` plays them.
pub const DRILLS: &[Drill] = &[
    Drill {
        name: "edit-address",
        attack: "root on a town's node changes a resident's address in registry.db (to divert a pension)",
        kind: Kind::Edit(Edit::Address),
    },
    Drill {
        name: "delete-resident",
        attack: "root deletes a resident's row from registry.db (to strike them off the electoral roll)",
        kind: Kind::Edit(Edit::Delete),
    },
    Drill {
        name: "insert-resident",
        attack: "root inserts a fake resident into registry.db",
        kind: Kind::Edit(Edit::Insert),
    },
    Drill {
        name: "edit-event",
        attack: "root rewrites the bytes of an old signed event in registry.db",
        kind: Kind::Edit(Edit::OldEvent),
    },
    Drill {
        name: "code-reuse",
        attack: "root deletes a resident's rows, then a clerk registers a birth under the same code",
        kind: Kind::CodeReuse,
    },
    Drill {
        name: "forged-checkpoint",
        attack: "root plants a checkpoint signed with the town's stolen node key, for a size its log never reached, in the tiles the town publishes",
        kind: Kind::ForgedCheckpoint,
    },
    Drill {
        name: "fork",
        attack: "root signs, with the town's stolen node key, a second tree for a size the national node holds, and shows it to the national node",
        kind: Kind::Fork,
    },
    Drill {
        name: "stolen-certificate",
        attack: "a console's stolen TLS certificate, without an enrolled operator key, submits a change",
        kind: Kind::StolenCertificate,
    },
    Drill {
        name: "stolen-certificate-read",
        attack: "a console's stolen TLS certificate, without an enrolled operator key, looks a resident up",
        kind: Kind::StolenCertificateRead,
    },
    Drill {
        name: "one-key-for-two",
        attack: "one stolen clerk key records a death, which needs two people",
        kind: Kind::OneKeyForTwo,
    },
    Drill {
        name: "foreign-town",
        attack: "a town's node sends the prefecture a batch for another town's residents",
        kind: Kind::ForeignTown,
    },
    Drill {
        name: "replayed-batch",
        attack: "a town's first batch, captured, is sent to the prefecture again",
        kind: Kind::ReplayedBatch,
    },
    Drill {
        name: "wrong-role",
        attack: "an agency's certificate sends a batch to the prefecture and reads the national node's alerts",
        kind: Kind::WrongRole,
    },
    Drill {
        name: "no-certificate",
        attack: "a client without a certificate connects to the national node's network listener",
        kind: Kind::NoCertificate,
    },
    Drill {
        name: "agency-bulk",
        attack: "an agency reads 150 residents' identity information within seconds",
        kind: Kind::AgencyBulk,
    },
    Drill {
        name: "code-walking",
        attack: "an agency asks for 40 sequential resident codes, most of which nobody holds",
        kind: Kind::CodeWalking,
    },
    Drill {
        name: "out-of-jurisdiction",
        attack: "an agency asks, under a purpose for 松本市's residents alone, for a resident of 阿智村",
        kind: Kind::OutOfJurisdiction,
    },
    Drill {
        name: "insider-bulk",
        attack: "an insider at a town's console looks up 150 residents within seconds",
        kind: Kind::InsiderBulk,
    },
];

/// The drill named `name`.
pub fn drill(name: &str) -> Result<Drill> {
    DRILLS.iter().copied().find(|d| d.name == name).with_context(|| {
        let names: Vec<&str> = DRILLS.iter().map(|d| d.name).collect();
        format!("no drill {name:?}: the drills are {}, or all", names.join(", "))
    })
}

/// How the attack fared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Refused where it was tried; nothing changed.
    Blocked,
    /// It happened (the attacker had root), and the national alert log says so.
    Detected,
    /// Refused, and the national alert log says someone tried.
    BlockedAndDetected,
    /// Neither: what was expected and did not happen.
    Missed(String),
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Blocked => f.write_str("blocked"),
            Verdict::Detected => f.write_str("detected"),
            Verdict::BlockedAndDetected => f.write_str("blocked+detected"),
            Verdict::Missed(why) => write!(f, "MISSED ({why})"),
        }
    }
}

/// What one drill found.
#[derive(Clone, Debug)]
pub struct Played {
    /// The drill.
    pub drill: Drill,
    /// How the attack fared.
    pub verdict: Verdict,
    /// The alert in the national alert log, and how long after the attack it was there.
    pub alert: Option<(Alert, Duration)>,
    /// What blocked it, when something did (the refusal's code).
    pub refusal: Option<Code>,
    /// The national node quarantined the town, and the administrator released it.
    pub quarantined: bool,
    /// Every tier agrees afterwards: nothing acknowledged was lost (or why not).
    pub nothing_lost: Result<(), String>,
    /// The town records a change that reaches the national node afterwards (or why not).
    pub works_again: Result<(), String>,
}

impl Played {
    /// Whether the drill passed: blocked or detected within [`ALERT_TARGET`], nothing lost,
    /// and the network works again.
    pub fn passed(&self) -> bool {
        !matches!(self.verdict, Verdict::Missed(_))
            && self.alert.as_ref().is_none_or(|(_, took)| *took <= ALERT_TARGET)
            && self.nothing_lost.is_ok()
            && self.works_again.is_ok()
    }
}

/// The network the drills play against, and the monitoring's view of it.
pub struct Stage {
    network: Network,
    dir: PathBuf,
    monitor: Monitor,
}

impl Stage {
    /// The stage of the running network described by `network`.
    pub fn new(network: &Network) -> Result<Stage> {
        let mut network = network.clone();
        network.refresh();
        let files = net::TlsFiles {
            ca: network.ca.clone(),
            crl: Some(network.ca_dir.join("crl.pem")),
            cert: network.monitor.cert.clone(),
            key: network.monitor.key.clone(),
        };
        let dir = network.dir()?;
        Ok(Stage { monitor: Monitor::new(&files)?, network, dir })
    }

    fn national_url(&self) -> Result<String> {
        Ok(self.network.node("national")?.network_url.clone())
    }

    /// The highest alert number at the national node now.
    async fn mark(&self) -> Result<u64> {
        let alerts = self.monitor.alerts(&self.national_url()?, "urn:juki:national", 0).await?;
        Ok(alerts.last().map_or(0, |a| a.id))
    }

    /// Waits for an alert numbered above `after` at the national node whose code is one of
    /// `codes`; returns it and how long after `since` it was seen.
    async fn until_alert(
        &self,
        after: u64,
        codes: &[Code],
        since: Instant,
    ) -> Result<Option<(Alert, Duration)>> {
        let url = self.national_url()?;
        loop {
            let alerts = self.monitor.alerts(&url, "urn:juki:national", after).await?;
            if let Some(alert) =
                alerts.into_iter().find(|a| codes.iter().any(|c| c.as_str() == a.kind))
            {
                return Ok(Some((alert, since.elapsed())));
            }
            if since.elapsed() > ALERT_WITHIN {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Releases `town` if the national node quarantined it, as the national administrator
    /// does after the investigation: a release signed with their own key, for the alert that
    /// holds it. Returns whether it was quarantined.
    pub async fn release(&self, town: &str, reason: &str) -> Result<bool> {
        let url = self.national_url()?;
        let held = self.monitor.quarantines(&url).await?;
        let Some(held) = held.into_iter().find(|q| q.town == town && q.released.is_none()) else {
            return Ok(false);
        };
        let administrator =
            crate::passphrases::load_signer(&self.dir, &self.network.administrator_key)?;
        let release = wire::quarantine::Release {
            town: town.to_owned(),
            alert: held.alert,
            time: crate::synthetic::now().unix(),
            reason: reason.to_owned(),
        };
        self.monitor.release(&url, &release, &administrator).await?;
        Ok(true)
    }

    /// Waits until the target town's tables agree with its log again (its self-check's last
    /// verification was clean) and the national node holds every alert the town raised — the
    /// undo of an edit is a write behind the log's back too —, so that a release covers them.
    pub async fn settled(&self) -> Result<()> {
        let clerk = self.clerk()?;
        let started = Instant::now();
        let town = format!("urn:juki:municipal:{}", TARGET.1);
        let town_url = self.network.node(TARGET.0)?.network_url.clone();
        let national = self.national_url()?;
        loop {
            let clean = clerk.status().await?.verified.is_some();
            let raised = self.monitor.alerts(&town_url, &town, 0).await?;
            let last = raised.iter().filter(|a| a.raised_by.is_none()).map(|a| a.id).max();
            let held = match last {
                None => true,
                Some(last) => {
                    let suffix = format!("(its alert {last})");
                    self.monitor.alerts(&national, "urn:juki:national", 0).await?.iter().any(|a| {
                        a.raised_by.as_deref() == Some(&town) && a.detail.ends_with(&suffix)
                    })
                }
            };
            if clean && held {
                return Ok(());
            }
            if started.elapsed() > ALERT_WITHIN {
                bail!(
                    "after {} s: clean {clean}, every alert at the national node {held}",
                    ALERT_WITHIN.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn registry_db(&self) -> Result<rusqlite::Connection> {
        let db =
            rusqlite::Connection::open(self.dir.join("nodes").join(TARGET.0).join("registry.db"))?;
        db.busy_timeout(Duration::from_secs(10))?;
        Ok(db)
    }

    /// An active resident of the target town registered by a birth.
    fn a_resident(&self) -> Result<ResidentCode> {
        let code: String = self
            .registry_db()?
            .query_row(
                "SELECT code FROM residents WHERE status = 'active' AND reason = 'birth' \
                 ORDER BY event_idx LIMIT 1",
                [],
                |r| r.get(0),
            )
            .context("the target town has no resident registered by a birth")?;
        Ok(ResidentCode::parse(&code)?)
    }

    /// The change that made `code`'s current record, read from the town's own log.
    fn current_change(&self, code: ResidentCode) -> Result<Change> {
        let note: Vec<u8> = self.registry_db()?.query_row(
            "SELECT e.note FROM residents r JOIN events e ON e.idx = r.event_idx WHERE r.code = ?1",
            [code.to_string()],
            |r| r.get(0),
        )?;
        match Event::parse(Note::parse(&note)?.text())? {
            Event::Change(change) => Ok(change),
            _ => bail!("the resident's current event is not a change"),
        }
    }

    fn clerk(&self) -> Result<client::office::Clerk> {
        crate::setup::clerk(&self.network, TARGET.1)
    }

    /// The town records a new resident and every tier agrees on it.
    async fn works_again(&self) -> Result<()> {
        let clerk = self.clerk()?;
        let started = Instant::now();
        loop {
            let code = clerk.fresh_code().await?;
            let record = crate::synthetic::synthetic(
                code,
                clerk.code,
                started.elapsed().as_nanos() as u64,
                ChangeReason::Birth,
                None,
            )?;
            match clerk.submit(crate::synthetic::change(clerk.code, record)).await {
                Ok(_) => break,
                // The self-check has not seen the undo yet.
                Err(e) if refusal_code(&e) == Some(Code::Tampered) => {
                    if started.elapsed() > Duration::from_secs(20) {
                        return Err(e.context("the town still refuses changes after the undo"));
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e),
            }
        }
        crate::demo::agree(&self.network, Duration::from_secs(30)).await
    }
}

/// The code of a refusal, whether the node or the client itself refused.
fn refusal_code(error: &anyhow::Error) -> Option<Code> {
    error.downcast_ref::<client::Refused>().and_then(client::Refused::code)
}

/// Plays `drill` on `stage`.
pub async fn play(stage: &Stage, drill: Drill) -> Result<Played> {
    crate::demo::agree(&stage.network, Duration::from_secs(30))
        .await
        .context("the network does not agree before the drill")?;
    let mark = stage.mark().await?;
    let (verdict, alert, refusal) = match drill.kind {
        Kind::Edit(edit) => edit_database(stage, edit, mark).await?,
        Kind::CodeReuse => code_reuse(stage, mark).await?,
        Kind::ForgedCheckpoint => forged_checkpoint(stage, mark).await?,
        Kind::Fork => fork(stage, mark).await?,
        Kind::StolenCertificate => stolen_certificate(stage, mark).await?,
        Kind::StolenCertificateRead => stolen_certificate_read(stage, mark).await?,
        Kind::OneKeyForTwo => one_key_for_two(stage, mark).await?,
        Kind::ForeignTown => foreign_town(stage, mark).await?,
        Kind::ReplayedBatch => replayed_batch(stage, mark).await?,
        Kind::WrongRole => wrong_role(stage, mark).await?,
        Kind::NoCertificate => no_certificate(stage, mark).await?,
        Kind::AgencyBulk => agency_reads(stage, mark, false).await?,
        Kind::CodeWalking => agency_reads(stage, mark, true).await?,
        Kind::OutOfJurisdiction => outside_jurisdiction(stage, mark).await?,
        Kind::InsiderBulk => insider_reads(stage, mark).await?,
    };
    stage.settled().await.context("the town does not settle after the drill")?;
    let quarantined =
        stage.release(TARGET.1, &format!("drill {}: restored and verified", drill.name)).await?;
    let works_again = stage.works_again().await.map_err(|e| format!("{e:#}"));
    let nothing_lost = crate::demo::agree(&stage.network, Duration::from_secs(30))
        .await
        .map_err(|e| format!("{e:#}"));
    Ok(Played { drill, verdict, alert, refusal, quarantined, nothing_lost, works_again })
}

type Outcome = (Verdict, Option<(Alert, Duration)>, Option<Code>);

/// Judges an attack that happened (root's edit): detected if `codes` reached the national log.
fn detected(alert: Option<(Alert, Duration)>, codes: &[Code]) -> Outcome {
    match alert {
        Some(alert) => (Verdict::Detected, Some(alert), None),
        None => (Verdict::Missed(format!("no {} alert", names(codes))), None, None),
    }
}

/// Judges a refused attack: blocked, and detected too if `codes` reached the national log.
fn blocked(refusal: Option<Code>, alert: Option<(Alert, Duration)>) -> Outcome {
    match (refusal, alert) {
        (None, alert) => (Verdict::Missed("the attack was not refused".into()), alert, None),
        (Some(code), Some(alert)) => (Verdict::BlockedAndDetected, Some(alert), Some(code)),
        (Some(code), None) => (Verdict::Blocked, None, Some(code)),
    }
}

fn names(codes: &[Code]) -> String {
    codes.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(" or ")
}

async fn edit_database(stage: &Stage, edit: Edit, mark: u64) -> Result<Outcome> {
    let code = stage.a_resident()?.to_string();
    let db = stage.registry_db()?;
    let invented = {
        let n: i64 = db.query_row(
            "SELECT max(CAST(substr(code, 1, 10) AS INTEGER)) FROM residents",
            [],
            |r| r.get(0),
        )?;
        ResidentCode::from_ten_digits(n as u64 + 1)?.to_string()
    };
    db.execute_batch(
        "DROP TABLE IF EXISTS temp.saved; DROP TABLE IF EXISTS temp.saved_event;
         CREATE TEMP TABLE saved_event (note BLOB);",
    )?;
    db.execute("CREATE TEMP TABLE saved AS SELECT * FROM residents WHERE code = ?1", [&code])?;
    db.execute(
        "INSERT INTO temp.saved_event SELECT note FROM events \
         WHERE idx = (SELECT event_idx FROM residents WHERE code = ?1)",
        [&code],
    )?;
    let (attack, undo, target) = match edit {
        Edit::Address => (
            "UPDATE residents SET address = address || ' 9999番地' WHERE code = ?1",
            "UPDATE residents SET address = (SELECT address FROM temp.saved) WHERE code = ?1",
            &code,
        ),
        Edit::Delete => (
            "DELETE FROM residents WHERE code = ?1",
            "INSERT INTO residents SELECT * FROM temp.saved",
            &code,
        ),
        Edit::Insert => {
            db.execute("UPDATE temp.saved SET code = ?1", [&invented])?;
            (
                "INSERT INTO residents SELECT * FROM temp.saved",
                "DELETE FROM residents WHERE code = ?1",
                &invented,
            )
        }
        Edit::OldEvent => (
            "UPDATE events SET note = CAST(replace(CAST(note AS TEXT), '番地', '番') AS BLOB) \
             WHERE idx = (SELECT event_idx FROM residents WHERE code = ?1)",
            "UPDATE events SET note = (SELECT note FROM temp.saved_event) \
             WHERE idx = (SELECT event_idx FROM residents WHERE code = ?1)",
            &code,
        ),
    };
    let run = |sql: &str| {
        if sql.contains("?1") { db.execute(sql, [target]) } else { db.execute(sql, []) }
    };
    let started = Instant::now();
    let changed = run(attack)?;
    if changed != 1 {
        bail!("the edit changed {changed} rows, not one");
    }
    let alert = stage.until_alert(mark, &[Code::Tampered], started).await?;
    run(undo)?;
    Ok(detected(alert, &[Code::Tampered]))
}

/// Root on the town, holding its node key, plants a checkpoint of a tree its log never had in
/// the tile directory it publishes (before, publication stopped silently while changes were
/// still acknowledged). The town finds it at its next look, publishes its witnessed
/// checkpoint again and alerts.
async fn forged_checkpoint(stage: &Stage, mark: u64) -> Result<Outcome> {
    use tlog_store::integrate::CheckpointVerifier as _;
    let dir = stage.dir.join("nodes").join(TARGET.0);
    let origin = stage
        .network
        .towns
        .iter()
        .find(|t| t.municipality == TARGET.1)
        .context("the target town's registration")?
        .origin
        .clone();
    let key = tlog_store::keys::load_log_signer(&dir.join("node.key"), &origin)?;
    let tiles = tlog_store::tiledir::TileDir::new(dir.join("tlog"));
    let published = tiles.read_checkpoint()?.context("the town publishes no checkpoint")?;
    let (size, _) =
        tlog_store::integrate::VerifyOnly::new(key.verifier(), &origin).open(&published)?;
    let forged = format!("{origin}\n{}\n{}\n", size + 5, tlog::Hash([0x5a; 32]).to_base64());
    let forged = node::logs::sign_text(forged, &key)?;
    let started = Instant::now();
    std::fs::write(tiles.checkpoint_path(), forged)?;
    let alert = stage.until_alert(mark, &[Code::ForgedPublication], started).await?;
    Ok(detected(alert, &[Code::ForgedPublication]))
}

async fn fork(stage: &Stage, mark: u64) -> Result<Outcome> {
    let (client, config) = town_node(stage)?;
    let dir = stage.dir.join("nodes").join(TARGET.0);
    let key = tlog_store::keys::load_log_signer(&dir.join("node.key"), &config.origin)?;
    // The size the national node holds of the town's log, with another root.
    let mirrored = std::fs::read_to_string(
        stage.dir.join("nodes/national/mirrors").join(TARGET.1).join("tlog/checkpoint"),
    )?;
    let size: u64 = mirrored
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .context("the national node's mirror has no checkpoint")?;
    let heartbeat = wire::heartbeat::Heartbeat {
        node: format!("urn:juki:municipal:{}", TARGET.1),
        time: crate::synthetic::now().unix(),
        registry: wire::heartbeat::LogHead { size, root: tlog::Hash([0x5a; 32]) },
        provisions: wire::heartbeat::LogHead { size: 0, root: tlog::Hash([0; 32]) },
        alerts: 0,
        manifest: None,
        verified: None,
        acked: None,
        pushed: None,
    };
    let note = node::logs::sign_text(heartbeat.text(), &key)?;
    let url = node::report::resolve_url(&stage.national_url()?)?;
    let expect = net::Expect::named(Some("urn:juki:national"))?;
    let started = Instant::now();
    let answer = client.post_answer(&format!("{url}/v1/heartbeats"), note, &expect).await?;
    let refused = (!answer.status.is_success())
        .then(|| wire::errors::ErrorBody::parse(&answer.body).map(|b| b.code))
        .flatten();
    let alert = stage.until_alert(mark, &[Code::Fork], started).await?;
    Ok(blocked(refused, alert))
}

async fn code_reuse(stage: &Stage, mark: u64) -> Result<Outcome> {
    let code = stage.a_resident()?;
    let current = stage.current_change(code)?;
    let db = stage.registry_db()?;
    db.execute_batch(
        "DROP TABLE IF EXISTS temp.saved_rows; DROP TABLE IF EXISTS temp.saved_history",
    )?;
    db.execute(
        "CREATE TEMP TABLE saved_rows AS SELECT * FROM residents WHERE code = ?1",
        [code.to_string()],
    )?;
    db.execute(
        "CREATE TEMP TABLE saved_history AS SELECT * FROM history WHERE code = ?1",
        [code.to_string()],
    )?;
    let started = Instant::now();
    db.execute("DELETE FROM residents WHERE code = ?1", [code.to_string()])?;
    db.execute("DELETE FROM history WHERE code = ?1", [code.to_string()])?;
    // The struck-off code, reused by a birth through the office: the tables no longer know it.
    let mut birth = current.clone();
    birth.record.history_number = registry_domain::HistoryNumber::new(1)?;
    birth.record.latest_change =
        registry_domain::ChangeInfo::new(ChangeReason::Birth, current.record.latest_change.date());
    birth.time = crate::synthetic::now();
    let refused = stage.clerk()?.submit(birth).await.err().and_then(|e| refusal_code(&e));
    let alert = stage.until_alert(mark, &[Code::Tampered], started).await?;
    db.execute_batch(
        "INSERT INTO residents SELECT * FROM temp.saved_rows;
         INSERT INTO history SELECT * FROM temp.saved_history;",
    )?;
    Ok(blocked(refused, alert))
}

async fn stolen_certificate(stage: &Stage, mark: u64) -> Result<Outcome> {
    // The attacker holds the console's certificate and signs with a key of their own.
    let code = stage.a_resident()?;
    let current = stage.current_change(code)?;
    let mut next = current.clone();
    next.record = crate::synthetic::next(
        &current.record,
        ChangeReason::MoveWithin,
        current.record.latest_change.date(),
    )?;
    next.record.address =
        registry_domain::Address::new(next.record.address.municipality(), "大字智里 1番地")?;
    next.time = crate::synthetic::now();
    // Any key the attacker made: its seed need not be secret.
    let seed: [u8; 32] = std::array::from_fn(|i| i as u8 ^ 0x5a);
    let attacker = tlog::note::Signer::from_seed(
        &format!("op.{}.juki.local/intruder", TARGET.1),
        tlog::note::KeyKind::Ed25519,
        seed,
    )?;
    let mut note = Note::new(Event::Change(next).to_text())?;
    note.sign(&attacker)?;
    let started = Instant::now();
    let refused =
        stage.clerk()?.submit_note(note.to_bytes()).await.err().and_then(|e| refusal_code(&e));
    let alert = stage.until_alert(mark, &[Code::UnauthorisedEvent], started).await?;
    Ok(blocked(refused, alert))
}

async fn stolen_certificate_read(stage: &Stage, mark: u64) -> Result<Outcome> {
    // The attacker holds the console's certificate and signs the read with a key of their own
    // (the 2003 audit's reader at a terminal): the town reads nothing for them.
    let code = stage.a_resident()?;
    let seed: [u8; 32] = std::array::from_fn(|i| i as u8 ^ 0xa5);
    let attacker = tlog::note::Signer::from_seed(
        &format!("op.{}.juki.local/intruder", TARGET.1),
        tlog::note::KeyKind::Ed25519,
        seed,
    )?;
    let intruder = crate::setup::console_clerk(&stage.network, TARGET.1, attacker)?;
    let started = Instant::now();
    let refused =
        intruder.lookup(code, "address confirmation").await.err().and_then(|e| refusal_code(&e));
    let alert = stage.until_alert(mark, &[Code::UnsignedRead], started).await?;
    Ok(blocked(refused, alert))
}

async fn one_key_for_two(stage: &Stage, mark: u64) -> Result<Outcome> {
    let code = stage.a_resident()?;
    let current = stage.current_change(code)?;
    let mut death = current.clone();
    death.record = crate::synthetic::next(
        &current.record,
        ChangeReason::Death,
        current.record.latest_change.date(),
    )?;
    death.time = crate::synthetic::now();
    // The clerk's key alone, submitted directly (a client proposes such a change).
    let key =
        crate::passphrases::load_signer(&stage.dir, &stage.network.town(TARGET.1)?.clerk_key)?;
    let mut note = Note::new(Event::Change(death).to_text())?;
    note.sign(&key)?;
    let started = Instant::now();
    let refused =
        stage.clerk()?.submit_note(note.to_bytes()).await.err().and_then(|e| refusal_code(&e));
    let alert = stage.until_alert(mark, &[Code::UnauthorisedEvent], started).await?;
    Ok(blocked(refused, alert))
}

/// The target town's node, as root on it holds it: its TLS files and its peers.
fn town_node(stage: &Stage) -> Result<(net::Client, node::config::NodeConfig)> {
    let node = stage.network.node(TARGET.0)?;
    let config = node::config::NodeConfig::load(&node.config)?;
    Ok((net::Client::new(&config.tls_files())?, config))
}

async fn foreign_town(stage: &Stage, mark: u64) -> Result<Outcome> {
    let (client, config) = town_node(stage)?;
    let upstream = config.upstream.clone().context("the town has no upstream")?;
    let other = crate::setup::TOWNS.iter().find(|(_, c)| *c != TARGET.1).expect("three towns").1;
    // A batch in another town's name: nothing of it needs to verify, the sender is wrong.
    let batch = wire::Batch {
        municipality: other.to_owned(),
        from: 0,
        checkpoint: String::new(),
        proof: Vec::new(),
        events: Vec::new(),
    };
    let started = Instant::now();
    let refused = post_batch(&client, &upstream, &batch).await?.err().flatten();
    let alert = stage.until_alert(mark, &[Code::WrongSender], started).await?;
    Ok(blocked(refused, alert))
}

/// Posts `batch` to `upstream`'s `/v1/replicate` as the holder of `client`'s certificate:
/// the answer when it was taken, or the code of the error body it was refused with.
async fn post_batch(
    client: &net::Client,
    upstream: &node::config::Peer,
    batch: &wire::Batch,
) -> Result<Result<wire::api::BatchAnswer, Option<Code>>> {
    let url = format!("{}/v1/replicate", node::report::resolve_url(&upstream.url)?);
    let answer = match client::call_post(
        client,
        &url,
        serde_json::to_vec(batch)?,
        Some(upstream.identity.as_str()),
    )
    .await
    {
        Ok(answer) => answer,
        // Refused in the TLS handshake.
        Err(_) => return Ok(Err(None)),
    };
    if answer.status.is_success() {
        return Ok(Ok(serde_json::from_slice(&answer.body)?));
    }
    Ok(Err(wire::errors::ErrorBody::parse(&answer.body).map(|b| b.code)))
}

async fn replayed_batch(stage: &Stage, _mark: u64) -> Result<Outcome> {
    let (client, config) = town_node(stage)?;
    let upstream = config.upstream.clone().context("the town has no upstream")?;
    let node = stage.network.node(TARGET.0)?;
    let dir = node.config.parent().context("a node directory")?.to_path_buf();
    let batch = first_batch(&dir, &config)?;
    let prefecture = stage.network.node("nagano")?;
    let before = mirror_checkpoint(stage, &prefecture.public_url).await?;
    let answer = post_batch(&client, &upstream, &batch).await?;
    let after = mirror_checkpoint(stage, &prefecture.public_url).await?;
    if before != after {
        return Ok((
            Verdict::Missed("the replayed batch changed the prefecture's mirror".into()),
            None,
            None,
        ));
    }
    match answer {
        // Already held: acknowledged again, nothing applied.
        Ok(wire::api::BatchAnswer::Holds { .. }) => Ok((Verdict::Blocked, None, None)),
        Ok(wire::api::BatchAnswer::Applied { .. }) => {
            Ok((Verdict::Missed("the prefecture applied a replayed batch".into()), None, None))
        }
        Err(code) => Ok((Verdict::Blocked, None, code)),
    }
}

/// The town's whole log as one batch from size 0 to its published checkpoint, read as root on
/// the town reads it (read-only: a write would be the self-check's business).
fn first_batch(dir: &Path, config: &node::config::NodeConfig) -> Result<wire::Batch> {
    let checkpoint = tlog_store::tiledir::TileDir::new(dir.join("tlog"))
        .read_checkpoint()?
        .context("the town has published nothing")?;
    let text = String::from_utf8(checkpoint)?;
    let size: u64 = text
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .context("the published checkpoint has no size")?;
    let db = rusqlite::Connection::open_with_flags(
        dir.join("registry.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let mut select = db.prepare("SELECT note FROM events WHERE idx < ?1 ORDER BY idx")?;
    let events = select
        .query_map([size as i64], |r| r.get::<_, Vec<u8>>(0))?
        .map(|note| Ok(String::from_utf8(note?)?))
        .collect::<Result<Vec<_>>>()?;
    Ok(wire::Batch {
        municipality: config.code.clone().unwrap_or_default(),
        from: 0,
        checkpoint: text,
        proof: Vec::new(),
        events,
    })
}

async fn mirror_checkpoint(stage: &Stage, public_url: &str) -> Result<Vec<u8>> {
    let client = net::Client::anonymous(stage.network.ca.clone(), None)?;
    let url = format!("{public_url}/mirrors/{}/checkpoint", TARGET.1);
    Ok(client::call_get(&client, &url, None).await?.body)
}

async fn wrong_role(stage: &Stage, mark: u64) -> Result<Outcome> {
    let files = net::TlsFiles {
        ca: stage.network.ca.clone(),
        crl: Some(stage.network.ca_dir.join("crl.pem")),
        cert: stage.network.agency.cert.clone(),
        key: stage.network.agency.key.clone(),
    };
    let client = net::Client::new(&files)?;
    let prefecture = stage.network.node("nagano")?;
    let upstream = node::config::Peer {
        url: prefecture.network_url.clone(),
        identity: "urn:juki:prefecture:20".into(),
        vkey: String::new(),
    };
    let batch = wire::Batch {
        municipality: TARGET.1.to_owned(),
        from: 0,
        checkpoint: String::new(),
        proof: Vec::new(),
        events: Vec::new(),
    };
    // The national node's own refusal first (recorded before the answer leaves), then the
    // batch, whose refusal the prefecture reports later: the first alert is always the first.
    let started = Instant::now();
    let reader = client::monitor::Monitor::new(&files)?;
    let read = reader.alerts(&stage.national_url()?, "urn:juki:national", 0).await;
    let refused =
        post_batch(&client, &upstream, &batch).await?.err().flatten().filter(|_| read.is_err());
    let alert = stage.until_alert(mark, &[Code::WrongSender, Code::WrongPeer], started).await?;
    Ok(blocked(refused, alert))
}

async fn no_certificate(stage: &Stage, mark: u64) -> Result<Outcome> {
    let client = net::Client::anonymous(stage.network.ca.clone(), None)?;
    let url = format!("{}/v1/status", stage.national_url()?);
    let started = Instant::now();
    let refused = match client::call_get(&client, &url, Some("urn:juki:national")).await {
        Ok(answer) if answer.status.is_success() => {
            let why = "the national node answered a client without a certificate";
            return Ok((Verdict::Missed(why.into()), None, None));
        }
        Ok(answer) => wire::errors::ErrorBody::parse(&answer.body).map(|b| b.code),
        // Refused in the TLS handshake.
        Err(_) => Some(Code::NoPeer),
    };
    let alert = stage.until_alert(mark, &[Code::TlsRefused], started).await?;
    Ok(blocked(refused, alert))
}

/// The codes of the target town's residents, and codes nobody holds after them.
fn codes(stage: &Stage, held: usize, unheld: usize) -> Result<Vec<String>> {
    let db = stage.registry_db()?;
    let mut select = db.prepare("SELECT code FROM residents ORDER BY code LIMIT ?1")?;
    let mut codes: Vec<String> =
        select.query_map([held as i64], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let highest = codes.last().context("the town has no resident")?;
    let base: u64 = highest[..10].parse()?;
    for n in 1..=unheld as u64 {
        codes.push(ResidentCode::from_ten_digits(base + 1000 + n)?.to_string());
    }
    Ok(codes)
}

async fn agency_reads(stage: &Stage, mark: u64, walking: bool) -> Result<Outcome> {
    let agency = crate::setup::agency(&stage.network)?;
    let (reads, expected) = if walking {
        (codes(stage, 5, 35)?, Code::CodeWalking)
    } else {
        let some = codes(stage, 150, 0)?;
        (some.iter().cycle().take(150).cloned().collect(), Code::ReadBurst)
    };
    let started = Instant::now();
    for code in &reads {
        // Every read is answered (or refused as no-resident) and recorded.
        let _ = agency.provide(code, crate::setup::PURPOSE_FOUR_ITEMS, None).await?;
    }
    let alert = stage.until_alert(mark, &[expected], started).await?;
    Ok(detected(alert, &[expected]))
}

async fn outside_jurisdiction(stage: &Stage, mark: u64) -> Result<Outcome> {
    let agency = crate::setup::agency(&stage.network)?;
    let resident = codes(stage, 1, 0)?.into_iter().next().context("a resident of the town")?;
    let started = Instant::now();
    let refused = match agency.provide(&resident, crate::setup::PURPOSE_LOCAL, None).await? {
        Ok(_) => {
            let why = "a resident outside the purpose's jurisdiction was provided";
            return Ok((Verdict::Missed(why.into()), None, None));
        }
        Err(answer) => wire::errors::ErrorBody::parse(&answer.body).map(|b| b.code),
    };
    let alert = stage.until_alert(mark, &[Code::OutOfJurisdiction], started).await?;
    Ok(blocked(refused, alert))
}

async fn insider_reads(stage: &Stage, mark: u64) -> Result<Outcome> {
    let clerk = stage.clerk()?;
    let some = codes(stage, 150, 0)?;
    let started = Instant::now();
    for code in some.iter().cycle().take(150) {
        clerk.lookup(ResidentCode::parse(code)?, "address confirmation").await?;
    }
    let codes = [Code::ReadBurst, Code::OffHours];
    let alert = stage.until_alert(mark, &codes, started).await?;
    Ok(detected(alert, &codes))
}

/// The drills' table, as `juki drill` and `juki demo` print it.
pub fn table(played: &[Played]) -> String {
    let mut out = format!(
        "{:<20} {:<18} {:>9}  {:<22} {:<6} {:<8} {}\n",
        "drill", "verdict", "alert in", "code", "lost", "after", "evidence"
    );
    for p in played {
        let (took, code, evidence) = match &p.alert {
            Some((alert, took)) => (
                format!("{:.2} s", took.as_secs_f64()),
                alert.kind.clone(),
                format!(
                    "{} at {}: {}",
                    alert.severity.map_or("", |s| s.as_str()),
                    alert.raised_by.as_deref().unwrap_or("urn:juki:national"),
                    one_line(&alert.detail, 90)
                ),
            ),
            None => (
                "—".to_owned(),
                p.refusal.map_or("—".to_owned(), |c| format!("refused {c}")),
                String::new(),
            ),
        };
        let after = match (&p.works_again, p.quarantined) {
            (Ok(()), true) => "released",
            (Ok(()), false) => "works",
            (Err(_), _) => "BROKEN",
        };
        out.push_str(&format!(
            "{:<20} {:<18} {:>9}  {:<22} {:<6} {:<8} {}\n",
            p.drill.name,
            p.verdict.to_string(),
            took,
            code,
            if p.nothing_lost.is_ok() { "none" } else { "LOST" },
            after,
            evidence
        ));
    }
    for p in played {
        if let Err(e) = &p.nothing_lost {
            out.push_str(&format!("{}: the tiers disagree: {e}\n", p.drill.name));
        }
        if let Err(e) = &p.works_again {
            out.push_str(&format!("{}: the town does not work again: {e}\n", p.drill.name));
        }
    }
    out
}

fn one_line(text: &str, at_most: usize) -> String {
    let text = text.replace('\n', " ");
    match text.char_indices().nth(at_most) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

/// Plays `names` (every drill for `all`) against the running network in `dir`, printing each
/// result as it comes and the table at the end; returns whether every drill passed.
pub async fn run(network: &Network, names: &[String]) -> Result<(bool, Vec<Played>)> {
    let drills: Vec<Drill> = if names.iter().any(|n| n == "all") || names.is_empty() {
        DRILLS.to_vec()
    } else {
        names.iter().map(|n| drill(n)).collect::<Result<_>>()?
    };
    let stage = Stage::new(network)?;
    let mut played = Vec::new();
    for drill in drills {
        println!("drill {}: {}", drill.name, drill.attack);
        let result = play(&stage, drill).await?;
        println!("  {}", result.verdict);
        if let Err(e) = &result.works_again {
            println!("  the town does not work again: {e}");
        }
        if let Err(e) = &result.nothing_lost {
            println!("  the tiers disagree: {e}");
        }
        played.push(result);
    }
    let passed = played.iter().all(Played::passed);
    Ok((passed, played))
}
