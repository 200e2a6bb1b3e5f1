//! `juki demo`: a whole network on this machine, on the embedded default (SQLite) — a CA, the
//! national node, the Nagano prefecture node, the municipal nodes of 阿智村 (204072), 下諏訪町
//! (203611) and 松本市 (202029), and an agency — each node a real `juki serve` process talking
//! mutual TLS on loopback. It registers synthetic residents, runs a day of a town's work
//! including a move between towns and a wide-area certificate copy, checks that every tier
//! agrees, prints what happened and where to look, and keeps running until SIGINT (Ctrl-C) or
//! SIGTERM, which stop every process it started. The keys a person would hold are sealed; the
//! demo names the file holding their passphrases (`passphrases`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use registry_domain::{Address, ChangeReason, MunicipalityCode, ResidentCode};

use client::office::Clerk;

use crate::processes::Nodes;
use crate::setup::{Network, TOWNS};
use crate::synthetic::{change, next, synthetic, today};

/// `juki demo`'s options.
pub struct DemoOptions {
    /// The directory to build the network in (reused when it already holds one).
    pub dir: PathBuf,
    /// How many synthetic residents to register across the three towns.
    pub residents: u64,
    /// Stop after the scenario; exit 0 only if every step succeeded.
    pub exit: bool,
    /// Play every drill after the scenario and print their table.
    pub drills: bool,
}

/// `juki demo`.
///
/// SIGINT and SIGTERM are caught from the start: whenever one arrives (during the scenario, or
/// while the network keeps running afterwards), every process the demo started is stopped
/// (SIGTERM, then SIGKILL after `processes::STOP_WITHIN`) before the demo exits; so are they
/// when the demo fails. A node left running by an earlier demo on the same directory (one
/// killed with SIGKILL) is stopped before the network is started again (see `processes`).
pub fn run(args: DemoOptions) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut stop = runtime.block_on(async { StopSignal::catch() })?;
    let network = if args.dir.join("network.json").exists() {
        println!("reusing the network in {}", args.dir.display());
        Network::load(&args.dir)?
    } else {
        println!(
            "building a network in {} (CA, keys, registries, operators) …",
            args.dir.display()
        );
        let network = crate::setup::create(&args.dir)?;
        println!(
            "the CA key, the admin keys and the operators' keys are sealed; their passphrases \
             are in {} (readable by you alone)",
            crate::passphrases::Passphrases::path(&args.dir).display()
        );
        println!(
            "each operator generated their own key; each town's admin signed their enrolments \
             offline into {}/credentials/<town>/enrolments/, which reach the town's node \
             through its office API once it runs (no node holds an admin key)",
            args.dir.display()
        );
        network
    };
    if let Some(name) = runtime.block_on(async { stop.arrived() }) {
        println!("{name}: stopping before the network starts");
        return Ok(ExitCode::FAILURE);
    }
    let mut nodes = Nodes::start(&network)?;
    let network = nodes.network().clone();
    let ok = runtime.block_on(async {
        tokio::select! {
            ok = scenario(&network, args.residents) => Some(ok),
            name = stop.recv() => {
                println!("{name}: stopping the network in the middle of the scenario");
                None
            }
        }
    });
    let Some(mut ok) = ok else {
        nodes.stop();
        return Ok(ExitCode::FAILURE);
    };
    if ok && args.drills {
        // The auditors' attacks, as drills against the network the scenario left running.
        println!();
        println!("the Nagano drills: each attack is blocked or detected at the national node");
        let all = ["all".to_owned()];
        let drills = runtime.block_on(async {
            tokio::select! {
                played = crate::drill::run(&network, &all) => Some(played),
                name = stop.recv() => {
                    println!("{name}: stopping the network in the middle of the drills");
                    None
                }
            }
        });
        match drills {
            None => {
                nodes.stop();
                return Ok(ExitCode::FAILURE);
            }
            Some(Ok((passed, played))) => {
                println!();
                print!("{}", crate::drill::table(&played));
                ok &= passed;
            }
            Some(Err(e)) => {
                println!("  FAIL  the drills: {e:#}");
                ok = false;
            }
        }
    }
    println!();
    println!("where to look:");
    println!("  {}/network.json          nodes, URLs, log keys, credentials", args.dir.display());
    println!(
        "  {}  the passphrases of the sealed keys (CA, admin, operators; owner-only)",
        crate::passphrases::Passphrases::path(&args.dir).display()
    );
    for node in &network.nodes {
        for log in &node.logs {
            println!("  {:<10} {}  {}/checkpoint", node.name, log.origin, log.url);
        }
    }
    println!("  node logs: {}/nodes/<name>/node.log", args.dir.display());
    if let Some(log) = network.nodes.iter().find(|n| n.name == "achi").and_then(|n| n.logs.first())
    {
        println!(
            "  verify a log from outside: juki log verify {} --vkey {} --ca {}",
            log.url,
            log.vkey,
            network.ca.display()
        );
    }
    if let Ok(town) = network.town("204072") {
        println!(
            "  read as 阿智村's clerk (signed and recorded; the key's passphrase from the \
             passphrases file in JUKI_PASSPHRASE): juki resident search --network {} --town \
             204072 --key {} --purpose 確認 --reading ク",
            args.dir.display(),
            town.clerk_key.display()
        );
    }
    if args.exit {
        nodes.stop();
        return Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    }
    println!();
    println!("the network keeps running; press Ctrl-C (or send SIGTERM) to stop it");
    std::io::Write::flush(&mut std::io::stdout())?;
    let name = runtime.block_on(stop.recv());
    println!("{name}: stopping the network");
    nodes.stop();
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// SIGINT and SIGTERM, caught (from [`StopSignal::catch`] on they no longer end the process).
struct StopSignal {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl StopSignal {
    /// Catches both; must run inside the runtime.
    fn catch() -> Result<StopSignal> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(StopSignal {
            interrupt: signal(SignalKind::interrupt()).context("catching SIGINT")?,
            terminate: signal(SignalKind::terminate()).context("catching SIGTERM")?,
        })
    }

    /// Waits for either; returns its name.
    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }

    /// Whether either has arrived already.
    fn arrived(&mut self) -> Option<&'static str> {
        use futures_util::FutureExt as _;
        self.recv().now_or_never()
    }
}

/// Prints a step's outcome; returns whether it succeeded.
fn report<T>(what: &str, started: Instant, result: &Result<T>) -> bool {
    let took = started.elapsed();
    match result {
        Ok(_) => {
            println!("  ok    {what} ({:.1} s)", took.as_secs_f64());
            true
        }
        Err(e) => {
            println!("  FAIL  {what}: {e:#}");
            false
        }
    }
}

async fn scenario(network: &Network, residents: u64) -> bool {
    let mut ok = true;
    macro_rules! step {
        ($what:expr, $body:expr) => {{
            let started = Instant::now();
            let result = $body.await;
            ok &= report(&$what, started, &result);
            result
        }};
    }
    // Each operator at a console of their own, holding their own key alone.
    let (clerks, supervisors) =
        match step!("the clerks' and supervisors' consoles connect", async {
            let clerks = TOWNS
                .iter()
                .map(|(_, code)| crate::setup::clerk(network, code))
                .collect::<Result<Vec<_>>>()?;
            let supervisors = TOWNS
                .iter()
                .map(|(_, code)| crate::setup::supervisor(network, code))
                .collect::<Result<Vec<_>>>()?;
            anyhow::Ok((clerks, supervisors))
        }) {
            Ok(consoles) => consoles,
            Err(_) => return false,
        };
    if step!(
        "every node is up and every town has a code block from the national node",
        towns_ready(&clerks)
    )
    .is_err()
    {
        return false;
    }
    let registered = match step!(
        format!("register {residents} synthetic residents in the three towns"),
        register(&clerks, residents)
    ) {
        Ok(r) => r,
        Err(_) => return false,
    };
    let achi = &clerks[0];
    let notices_before = notices(network).unwrap_or(0);
    let _ = step!(
        "a day at 阿智村: a birth, a move within the village, a death proposed by a clerk and \
         approved by a supervisor at another console, a lookup and a copy",
        day(achi, &supervisors[0], &registered[0])
    );
    let moved = step!(
        "a move from 下諏訪町 to 阿智村: move-out, certificate from the national node, move-in",
        move_between(&clerks[1], &supervisors[1], achi, &registered[1][0])
    );
    let _ = step!("a wide-area copy (広域交付) at 松本市 of a resident of 阿智村", async {
        let (file, verified) = clerks[2]
            .copy(registered[0][1].resident_code, Some("204072"), "本人確認 (wide-area)")
            .await?;
        anyhow::ensure!(
            file.copy.starts_with("juki.copy/v1\nmunicipality 204072\n")
                && verified.record.resident_code == registered[0][1].resident_code,
            "not a copy from 阿智村"
        );
        Ok(())
    });
    let _ = step!(
        "the pension agency asks the national node for a resident's identity information",
        agency(network, &registered[2][0])
    );
    if let Ok(code) = &moved {
        let _ = step!(
            "the agency asks for the resident who moved: the national node answers with their \
             active record at 阿智村, not the closed one at 下諏訪町",
            moved_record(network, *code, achi.code)
        );
    }
    let _ =
        step!("the agency asks under a purpose it does not hold: refused and recorded", async {
            let agency = crate::setup::agency(network)?;
            let code = registered[2][0].resident_code.to_string();
            match agency.provide(&code, "ZEIMU-CHOSA", None).await? {
                Ok(_) => anyhow::bail!("served under a purpose the agency does not hold"),
                Err(answer) => {
                    let code = wire::errors::ErrorBody::parse(&answer.body).map(|b| b.code);
                    anyhow::ensure!(
                        code == Some(wire::errors::Code::PurposeNotHeld),
                        "refused otherwise: {}",
                        answer.text()
                    );
                    Ok(())
                }
            }
        });
    let _ = step!(
        "the resident sees every provision of their record at 松本市's counter (disclosure)",
        disclosure(network, registered[2][0].resident_code)
    );
    if moved.is_ok() {
        let _ = step!(
            "the move notice (転入通知) is recorded at 下諏訪町",
            notice_recorded(network, notices_before)
        );
    }
    let _ = step!("every town has published a checkpoint of all its events", async {
        for clerk in &clerks {
            published(clerk, Duration::from_secs(30)).await?;
        }
        anyhow::Ok(())
    });
    let _ = step!(
        "every tier agrees: the same checkpoints at the towns, the prefecture and the national node",
        agree(network, Duration::from_secs(60))
    );
    let _ = step!("the mirrors hold exactly the towns' events and residents", async {
        crate::tools::compare_databases(&network.dir()?)
    });
    if let Ok(code) = moved {
        let _ = step!("the resident who moved is active in exactly one town", async {
            let a = clerks[0].lookup(code, "確認").await?;
            let b = clerks[1].lookup(code, "確認").await?;
            anyhow::ensure!(
                a.status == "active" && b.status == "closed",
                "阿智村: {}, 下諏訪町: {}",
                a.status,
                b.status
            );
            Ok(())
        });
    }
    ok
}

/// Waits until every town answers its clerks and has a code block from the national node.
pub async fn towns_ready(clerks: &[Clerk]) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    for clerk in clerks {
        loop {
            match clerk.status().await {
                Ok(status) if status.pool.unwrap_or(0) > 0 => break,
                Ok(_) | Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Ok(_) => bail!("{} has no code block yet", clerk.code),
                Err(e) => return Err(e.context(format!("{} does not answer", clerk.code))),
            }
        }
    }
    Ok(())
}

async fn register(
    clerks: &[Clerk],
    residents: u64,
) -> Result<Vec<Vec<registry_domain::IdentityRecordParts>>> {
    let per_town = residents.div_ceil(clerks.len() as u64).max(4);
    let work = clerks.iter().enumerate().map(|(t, clerk)| async move {
        let mut records = Vec::new();
        for i in 0..per_town {
            let code = clerk.fresh_code().await?;
            let record =
                synthetic(code, clerk.code, t as u64 * 1_000_000 + i, ChangeReason::Birth, None)?;
            clerk.submit(change(clerk.code, record.clone())).await?;
            records.push(record);
        }
        anyhow::Ok(records)
    });
    futures_util::future::try_join_all(work).await
}

async fn day(
    clerk: &Clerk,
    supervisor: &Clerk,
    residents: &[registry_domain::IdentityRecordParts],
) -> Result<()> {
    let today = today()?;
    let code = clerk.fresh_code().await?;
    let mut baby = synthetic(code, clerk.code, 7_777_777, ChangeReason::Birth, Some(today))?;
    baby.birth_date = today;
    clerk.submit(change(clerk.code, baby)).await.context("birth")?;
    let mover = &residents[2];
    let mut moved = next(mover, ChangeReason::MoveWithin, today)?;
    moved.address = Address::new(clerk.code, "大字駒場 483番地")?;
    clerk.submit(change(clerk.code, moved)).await.context("move within")?;
    let died = next(&residents[3], ChangeReason::Death, today)?;
    // A death: the clerk proposes, the supervisor reviews and approves from their own console.
    let resident = died.resident_code;
    let id = clerk.propose(change(clerk.code, died)).await.context("death proposed")?;
    supervisor
        .approve(id, |change| {
            anyhow::ensure!(change.record.resident_code == resident, "not the death proposed");
            Ok(())
        })
        .await
        .context("death approved")?;
    let record = clerk.lookup(residents[1].resident_code, "窓口での本人確認").await?;
    anyhow::ensure!(record.status == "active", "the looked-up resident is not active");
    let (file, _) = clerk.copy(residents[1].resident_code, None, "本人の請求").await?;
    anyhow::ensure!(file.copy.starts_with("juki.copy/v1\n"), "the copy is not a juki.copy/v1");
    Ok(())
}

async fn move_between(
    from: &Clerk,
    approver: &Clerk,
    to: &Clerk,
    resident: &registry_domain::IdentityRecordParts,
) -> Result<ResidentCode> {
    let today = today()?;
    let code = resident.resident_code;
    let mut out = change(from.code, next(resident, ChangeReason::MoveOut, today)?);
    out.moved_to = Some(to.code);
    let id = from.propose(out).await.context("move-out proposed")?;
    approver.approve(id, |_| Ok(())).await.context("move-out approved")?;
    let from_code = from.code.to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    let certificate = loop {
        if let Some(certificate) = to.move_out_certificate(code, &from_code).await? {
            break certificate;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the national node has no move-out of {code} after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut record = resident.clone();
    record.address = Address::new(to.code, "大字智里 3番地")?;
    record.latest_change = registry_domain::ChangeInfo::new(ChangeReason::MoveIn, today);
    record.history_number = registry_domain::HistoryNumber::new(1)?;
    record.status = registry_domain::RecordStatus::Active;
    let mut moving_in = change(to.code, record);
    moving_in.move_out = Some(certificate);
    to.submit(moving_in).await.context("move-in")?;
    Ok(code)
}

async fn agency(network: &Network, resident: &registry_domain::IdentityRecordParts) -> Result<()> {
    let agency = crate::setup::agency(network)?;
    let code = resident.resident_code.to_string();
    // The national node has the record once the town's batch has propagated.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match agency.provide(&code, crate::setup::PURPOSE_WHOLE, None).await? {
            Ok(record) => {
                anyhow::ensure!(
                    record.resident.as_deref() == Some(code.as_str()),
                    "another resident came back"
                );
                return Ok(());
            }
            Err(answer) => anyhow::ensure!(
                Instant::now() < deadline,
                "the national node answered {}: {}",
                answer.status,
                answer.text()
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The agency's answer for `code`, a resident who moved to `town`, once the national node
/// has the move-in: the record active there (the replica of the town they left still holds
/// their closed record).
async fn moved_record(network: &Network, code: ResidentCode, town: MunicipalityCode) -> Result<()> {
    let agency = crate::setup::agency(network)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = agency.provide(&code.to_string(), crate::setup::PURPOSE_WHOLE, None).await?;
        let (status, municipality) = match &answer {
            Ok(record) => (record.status.clone(), record.municipality.clone()),
            Err(_) => (None, None),
        };
        if status.as_deref() == Some("active")
            && municipality.as_deref() == Some(town.to_string().as_str())
        {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "after 30 s the national node still answers for the resident who moved: {:?} at {:?}",
            status,
            municipality
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A resident's disclosure at 松本市, once every provision of the record is in a witnessed
/// checkpoint, written under the network's directory (`disclosures/`).
async fn disclosure(network: &Network, code: registry_domain::ResidentCode) -> Result<()> {
    let dir = network.dir()?.join("disclosures");
    std::fs::create_dir_all(&dir)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    for attempt in 0.. {
        let out = dir.join(format!("{code}-{}-{attempt}", std::process::id()));
        let written =
            crate::disclosure::disclose(network, "202029", code, 0, u64::MAX, &out).await?;
        if written.pending == 0 {
            anyhow::ensure!(
                written.provisions.iter().any(|p| p.node == "urn:juki:national"),
                "the agency's provision is not disclosed"
            );
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "provisions stay outside a witnessed checkpoint"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// Waits until a town's published checkpoint covers every event in its registry log.
async fn published(clerk: &Clerk, within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    loop {
        let status = clerk.status().await?;
        let published = status.logs.values().next().copied();
        if published.is_some() && published == status.events {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{} has published {published:?} of {:?} events",
            clerk.code,
            status.events
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many move notices 下諏訪町's registry has recorded.
fn notices(network: &Network) -> Result<i64> {
    let path = network.dir()?.join("nodes/shimosuwa/registry.db");
    let conn =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("opening {}", path.display()))?;
    Ok(conn.query_row("SELECT count(*) FROM move_notices", [], |r| r.get(0))?)
}

/// Waits until 下諏訪町's registry records the national node's move notice: one more than the
/// `before` it had before the move (a reused network holds the notices of earlier days).
async fn notice_recorded(network: &Network, before: i64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if notices(network)? > before {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "no move notice after 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until every town's published checkpoint is what the prefecture and the national node
/// hold for it.
///
/// A node restarted meanwhile is found at the address it reports.
pub async fn agree(network: &Network, within: Duration) -> Result<()> {
    let client = net::Client::anonymous(network.ca.clone(), Some(network.ca_dir.join("crl.pem")))?;
    let mut network = network.clone();
    let deadline = Instant::now() + within;
    loop {
        network.refresh();
        let network = &network;
        let prefecture = network.node("nagano")?;
        let national = network.node("national")?;
        let mut differences = Vec::new();
        for (name, code) in TOWNS {
            let town = network.node(name)?;
            // A node that does not answer (yet) is a difference until the deadline.
            let own = client::call_get(
                &client,
                &format!("{}/registry/checkpoint", town.public_url),
                None,
            )
            .await;
            for upper in [prefecture, national] {
                let url = format!("{}/mirrors/{code}/checkpoint", upper.public_url);
                let mirrored = client::call_get(&client, &url, None).await;
                match (&own, &mirrored) {
                    (Ok(own), Ok(mirrored))
                        if own.status.is_success() && own.body == mirrored.body => {}
                    (Err(e), _) | (_, Err(e)) => differences.push(format!("{name}: {e}")),
                    _ => differences.push(format!("{name} vs {}", upper.name)),
                }
            }
        }
        if differences.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("after {} s these still differ: {}", within.as_secs(), differences.join(", "));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
