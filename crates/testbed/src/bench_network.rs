//! `juki bench network`: how fast changes travel from a town's counter to the national node,
//! and how fast the national node ingests verified changes, beside this machine's Ed25519
//! verification rate measured in the same run.
//!
//! Every change is a real signed `juki.change/v1` birth. The national node verifies every event
//! of every batch (the town's checkpoint signature, the consistency proof, each event's
//! signature, the signer's enrolment and authority, the state machine) before it acknowledges
//! the batch, so each change costs at least one Ed25519 verification there: that is the bound
//! (the node checks a batch's signatures together, with batch verification, on every core).
//!
//! Four parts:
//!
//! 1. The bound: `openssl speed ed25519` (one core) and `tlog::note::open` of a one-signature
//!    note in this process (one core).
//! 2. The national node's ingest in process: a replica (`Mirror::accept`, the node's own batch
//!    path, and `Registry::replicate` alone) fed batches of pre-signed events; and its two
//!    parts, the batch signature check (one core and every core) and the rules and writes.
//! 3. Propagation under load: a whole network of real `juki serve` processes on loopback with
//!    mutual TLS (as `juki demo` builds it); clerks submit births at a steady rate spread over
//!    the three towns, and the national node's public mirror checkpoints are polled to see when
//!    each change has arrived there.
//! 4. Ingest end to end: births are loaded into the towns while the national node is stopped;
//!    then it is started and timed until it has verified and applied all of them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use registry_core::event::{CodeBlock, Enrolment, Event, Genesis, Role};
use registry_domain::{ChangeReason, MunicipalityCode, ResidentCode};
use registry_store::Registry;
use tlog::note::{KeyKind, Signer};
use tlog_store::integrate::NoteSigner;
use tlog_store::tiledir::TileDir;

use client::office::Clerk;
use node::journal::Journal;
use node::mirror::{Accepted, Mirror};
use node::outbox::{TownLog, next_batch};
use wire::Batch;

use crate::figures::{Aim, Peer, Target, goal, line, rate};
use crate::processes::Nodes;
use crate::setup::{Network, TOWNS};
use crate::synthetic::{change, synthetic};

/// The targets.
const TARGET_INGEST: f64 = 40_000.0;
/// The same target as a ratio to openssl's one-core Ed25519 verify rate in the same run.
const TARGET_RATIO: f64 = 3.3;
const TARGET_P99: Duration = Duration::from_millis(250);

/// `juki bench network`'s options.
pub struct Options {
    /// Changes per second across the three towns during the latency measurement.
    pub rate: f64,
    /// How long the load runs.
    pub seconds: u64,
    /// Births pre-loaded into the towns for the end-to-end ingest figure (0: skip).
    pub ingest: u64,
    /// Births replicated in process (0: skip).
    pub replicate: u64,
    /// Events per batch in process (the nodes send at most 4,096).
    pub batch: usize,
    /// Time between polls of the upper nodes' mirror checkpoints.
    pub poll: Duration,
    /// Seconds `openssl speed` runs.
    pub openssl_seconds: u64,
    /// Where to build the network (default: a temporary directory, removed afterwards).
    pub dir: Option<PathBuf>,
}

pub fn run(options: Options) -> Result<ExitCode> {
    ensure!(options.rate > 0.0 && options.seconds > 0, "--rate and --seconds must be positive");
    ensure!((1..=100_000).contains(&options.batch), "--batch must be 1..=100000");
    ensure!(!options.poll.is_zero(), "--poll-ms must be positive");
    let work = crate::bench_log::work_dir(options.dir.as_deref())?;
    let root = work.path.clone();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("juki bench network: {cores} cores, in {}", root.display());
    println!();

    // 1. The bound.
    println!("the bound: Ed25519 verifications on this machine");
    let openssl = crate::peers::openssl_ed25519_verify(options.openssl_seconds);
    match &openssl {
        Ok(verify) => line(
            "Ed25519 verify, openssl speed (1 core)",
            *verify,
            "verifies/s",
            &format!("`openssl speed -seconds {} ed25519`", options.openssl_seconds),
        ),
        Err(e) => println!("{:<44} {:>14} {:<12} {e:#}", "Ed25519 verify, openssl speed", "-", ""),
    }
    let openssl = openssl.ok();
    let note_rate = note_open_rate()?;
    line(
        "Ed25519 note verifications (1 core)",
        note_rate,
        "verifies/s",
        "tlog::note::open, one signature: juki's path",
    );
    // The ratios below are against openssl's figure when there is one.
    let bound = openssl.unwrap_or(note_rate);
    let bound_name = if openssl.is_some() { "openssl's 1-core verify" } else { "1-core verify" };
    println!();

    // 2. In process.
    let in_process = if options.replicate > 0 {
        Some(in_process(&root.join("in-process"), &options, bound, bound_name)?)
    } else {
        None
    };

    // 3 and 4. The network.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let network_dir = root.join("network");
    println!("building a network in {} (CA, keys, registries, operators) …", network_dir.display());
    let started = Instant::now();
    let network = crate::setup::create(&network_dir)?;
    println!("  (built in {:.1} s, not counted)", started.elapsed().as_secs_f64());
    // Each process reports its addresses; from here on the network holds the real URLs.
    let mut procs = Nodes::start(&network)?;
    let network = procs.network().clone();
    let clerks: Arc<Vec<Clerk>> = Arc::new(
        TOWNS
            .iter()
            .map(|(_, code)| crate::setup::clerk(&network, code))
            .collect::<Result<Vec<_>>>()?,
    );
    let anonymous =
        net::Client::anonymous(network.ca.clone(), Some(network.ca_dir.join("crl.pem")))?;
    let started = Instant::now();
    runtime.block_on(async {
        wait_ready(&network, &anonymous, &clerks).await?;
        crate::demo::agree(&network, Duration::from_secs(60)).await
    })?;
    println!(
        "  ({} nodes up, every town has a code block, every tier agrees: {:.1} s)",
        network.nodes.len(),
        started.elapsed().as_secs_f64()
    );
    let mut codes = TOWNS
        .iter()
        .map(|(name, _)| Codes::of(&network_dir.join("nodes").join(name).join("registry.db")))
        .collect::<Result<Vec<_>>>()?;
    println!();

    let propagation = runtime.block_on(propagation(
        &network,
        &anonymous,
        clerks.clone(),
        &mut codes,
        &options,
    ))?;
    println!();

    let end_to_end = if options.ingest > 0 {
        Some(end_to_end(
            &runtime,
            &anonymous,
            &mut procs,
            &mut codes,
            &options,
            (bound, bound_name),
        )?)
    } else {
        None
    };
    procs.stop();
    drop(clerks);

    // 5. The summary.
    println!();
    println!("against the issue's targets");
    let best_ingest = in_process.as_ref().map(|p| (p.accept, bound));
    let e2e = end_to_end.as_ref().map(|e| (e.national, e.bound));
    for (what, figure) in [
        ("national ingest, in process (3 towns)", best_ingest),
        ("national ingest, end to end", e2e),
    ] {
        if let Some((figure, bound)) = figure {
            goal(
                &format!("  {what}"),
                figure,
                "changes/s",
                "every signature verified, committed",
                Aim::of(4, Target::AtLeast(TARGET_INGEST)).and_versus(Peer::OpensslEd25519Verify),
            );
            goal(
                &format!("  {what}, × {bound_name}"),
                figure / bound,
                "×",
                "measured in this run",
                Aim::of(10, Target::AtLeast(TARGET_RATIO)),
            );
        }
    }
    goal(
        "  p99 propagation town → national",
        ms(propagation.p99),
        "ms",
        &format!("at {} changes/s", options.rate),
        Aim::of(4, Target::Below(TARGET_P99.as_secs_f64() * 1e3)),
    );
    if let Some(p) = &in_process {
        println!();
        println!("what bounds the ingest");
        let per_change = 1e6 / p.batch_one + p.sequential_us;
        println!(
            "  - the national node checks each batch's signatures together (Ed25519 batch \
             verification on every core,\n    ≈{:.0} µs of CPU per change here), reads the \
             events on every core, then decides and writes them in log order,\n    one core per \
             town (towns in parallel): authority, the state machine and the SQLite writes, \
             ≈{:.0} µs per change\n    (replicate's time less the batch check's). Together \
             ≈{:.0} µs of CPU per change: {cores} cores can verify and apply at most\n    \
             ≈{:.0}/s.",
            1e6 / p.batch_one,
            p.sequential_us,
            per_change,
            cores as f64 * 1e6 / per_change,
        );
        println!(
            "  - one town's log alone is applied in order by one core, the other idle but for \
             the batch check and\n    the reading ahead ({:.0}/s); with three towns both cores are busy ({:.0}/s in \
             process), and end to end receiving (TLS,\n    JSON, the move-in pre-scan) adds \
             to each change's CPU.",
            p.one_town, p.accept
        );
        let versus_openssl = openssl
            .map(|o| format!("{:.1}× openssl's 1-core Ed25519 verify rate here", TARGET_INGEST / o))
            .unwrap_or_default();
        println!(
            "  - {TARGET_INGEST:.0} verified changes/s is {versus_openssl}: no check of one \
             signature at a time on one core\n    reaches it; batch verification ({:.0}/s on \
             one core, {:.1}× a single strict check by tlog::note::open)\n    and the second \
             core do.",
            p.batch_one,
            p.batch_one / note_rate
        );
    }
    println!();
    println!("what bounds the propagation");
    println!(
        "  - two hops, each waiting for the sender's next round: a town's round integrates its \
         log, asks the witness\n    to cosign and sends one batch, which the prefecture \
         verifies, commits and fsyncs before its receipt;\n    the prefecture forwards each \
         town's batches one after another (towns in parallel),\n    each verified and fsynced \
         by the national node before the next. A change that arrives mid-round waits for the next one, so a hop \
         costs up to two\n    rounds; the tail follows this machine's fsync latency \
         (p99 first hop {:.0} ms, second hop {:.0} ms).",
        ms(propagation.first_hop_p99),
        ms(propagation.second_hop_p99)
    );
    Ok(ExitCode::SUCCESS)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// `openssl speed -seconds N ed25519`: the verify/s column of the Ed25519 line.
pub(crate) fn birth(
    town: MunicipalityCode,
    code: ResidentCode,
    i: u64,
    clerk: &Signer,
) -> Result<Vec<u8>> {
    let record = synthetic(code, town, i, ChangeReason::Birth, None)?;
    node::logs::sign_text(Event::Change(change(town, record)).to_text(), clerk)
}

/// `tlog::note::open` of a one-signature birth, on one core.
pub(crate) fn note_open_rate() -> Result<f64> {
    let town = MunicipalityCode::parse("204072")?;
    let probe = Signer::from_seed("bench.juki.test/probe", KeyKind::Ed25519, [9; 32])?;
    let note = birth(town, ResidentCode::from_ten_digits(1_000_000_000)?, 1, &probe)?;
    let known: tlog::note::Verifiers = [probe.verifier()].into_iter().collect();
    let n = 20_000u64;
    let start = Instant::now();
    for _ in 0..n {
        tlog::note::open(std::hint::black_box(&note), &known)?;
    }
    Ok(rate(n, start.elapsed()))
}

struct InProcess {
    /// `Mirror::accept` of three towns in parallel, changes/s.
    accept: f64,
    /// `Mirror::accept` of one town alone, changes/s.
    one_town: f64,
    /// Batch verification on one core, signatures/s.
    batch_one: f64,
    /// The rules and writes, µs per change.
    sequential_us: f64,
}

/// A town's log built for the in-process figures: its signed births, and the batches its node
/// would send for them.
pub(crate) struct BuiltTown {
    pub(crate) municipality: MunicipalityCode,
    /// The node's entry for it (origin, node key).
    pub(crate) entry: node::config::Town,
    clerk: Signer,
    births: Vec<Vec<u8>>,
    batches: Vec<Batch>,
    pub(crate) size: u64,
}

/// A town's registry as its node founds it: the genesis by its admin key, one clerk's
/// enrolment, and a code block from `first` (`count` codes, at most one block) signed by
/// `national`; every key derived from the municipality's code.
pub(crate) struct Founded {
    pub town: Registry,
    pub clerk: Signer,
    /// The node key, as the checkpoints' signer, and its verifier.
    pub signer: NoteSigner,
    pub vkey: tlog::note::VerifierKey,
    pub admin: tlog::note::VerifierKey,
    pub origin: String,
}

/// Founds a town's registry in `dir` (see [`Founded`]).
pub(crate) fn found_town(
    dir: &Path,
    municipality: MunicipalityCode,
    first: u64,
    count: u64,
    national: &Signer,
) -> Result<Founded> {
    std::fs::create_dir_all(dir)?;
    let now = crate::synthetic::now();
    let origin = format!("bench.juki.test/registry/{municipality}");
    let seed = |n: u8| {
        let mut seed = [n; 32];
        seed[..6].copy_from_slice(municipality.to_string().as_bytes());
        seed
    };
    let admin = Signer::from_seed(
        &format!("admin.{municipality}.bench.juki.test"),
        KeyKind::Ed25519,
        seed(2),
    )?;
    let clerk = Signer::from_seed(
        &format!("op.{municipality}.bench.juki.test/clerk"),
        KeyKind::Ed25519,
        seed(3),
    )?;
    let node_key = Signer::from_seed(&origin, KeyKind::Ed25519, seed(4))?;
    let mut town = Registry::create(&dir.join("town.db"), municipality, &national.verifier())?;
    let setup = [
        node::logs::sign_text(
            Event::Genesis(Genesis { municipality, admin: admin.verifier(), time: now }).to_text(),
            &admin,
        )?,
        node::logs::sign_text(
            Event::Enrolment(Enrolment {
                municipality,
                operator: clerk.verifier(),
                role: Role::Clerk,
                time: now,
            })
            .to_text(),
            &admin,
        )?,
        node::logs::sign_text(
            Event::CodeBlock(CodeBlock {
                municipality,
                first,
                count: count.min(registry_core::event::MAX_BLOCK),
                time: now,
            })
            .to_text(),
            national,
        )?,
    ];
    for note in &setup {
        town.submit(note, now)?;
    }
    Ok(Founded {
        town,
        clerk,
        vkey: node_key.verifier(),
        signer: NoteSigner::new(node_key)?,
        admin: admin.verifier(),
        origin,
    })
}

/// Builds `count` births of `municipality` under `dir` (not counted): its registry, its signed
/// log and tiles, and the batches of `batch` events its node sends.
pub(crate) fn build_town(
    dir: &Path,
    municipality: MunicipalityCode,
    first: u64,
    count: u64,
    national: &Signer,
    batch: usize,
) -> Result<BuiltTown> {
    let Founded { mut town, clerk, signer, vkey, admin, origin } =
        found_town(dir, municipality, first, count + 1, national)?;
    let now = crate::synthetic::now();
    let births: Vec<Vec<u8>> = {
        use rayon::prelude::*;
        (0..count)
            .into_par_iter()
            .map(|i| birth(municipality, ResidentCode::from_ten_digits(first + i)?, i, &clerk))
            .collect::<Result<_>>()?
    };
    for chunk in births.chunks(4096) {
        let refs: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
        for result in town.submit_many(&refs, now)? {
            if let Err(refusal) = result {
                bail!("a benchmark birth was refused: {refusal}");
            }
        }
    }
    let tiles = TileDir::new(dir.join("town-tlog"));
    // As the municipal node integrates: in steps of one batch, each step's checkpoint kept.
    let mut journal = node::journal::Journal::open(&dir.join("town-node.db"))?;
    let steps = tlog_store::integrate::integrate_in_steps(
        &*town.connection(),
        &tiles,
        &signer,
        &mut tlog_store::integrate::without_witnesses,
        batch as u64,
    )?;
    for step in &steps {
        journal.keep_checkpoint(&origin, step.size, &step.checkpoint)?;
    }
    let size = steps.last().map_or(0, |step| step.size);
    // The municipal node's own batch source, over the town's registry and published tiles.
    let mut source =
        TownLog { registry: &town, journal: &journal, tiles, origin: &origin, vkey: vkey.clone() };
    let mut batches: Vec<Batch> = Vec::new();
    let mut acked = 0;
    while let Some(next) = next_batch(&municipality.to_string(), &mut source, acked, batch)? {
        acked = next.end();
        batches.push(next);
    }
    ensure!(acked == size, "the batches end at {acked}, the log at {size}");
    let entry = node::config::Town {
        code: municipality.to_string(),
        origin,
        vkey: vkey.clone().to_string(),
        url: "https://127.0.0.1:9".into(),
        admin: admin.to_string(),
        witnesses: Vec::new(),
        quorum: 0,
        provisions: String::new(),
        public: String::new(),
    };
    Ok(BuiltTown { municipality, entry, clerk, births, batches, size })
}

/// Applies a town's batches to its replica, as the national node does.
pub(crate) fn accept_all(
    mirror: &mut Mirror,
    town: &BuiltTown,
    journal: &Mutex<Journal>,
) -> Result<()> {
    for batch in &town.batches {
        match mirror.accept(batch, journal) {
            Ok(Accepted::Applied { .. }) => {}
            Ok(other) => bail!("the replica did not apply a batch: {other:?}"),
            Err(refused) => bail!("the replica refused a batch: {refused:?}"),
        }
    }
    Ok(())
}

/// The national node's ingest without the network: towns' logs built here, their batches
/// built as the towns send them, then applied to fresh replicas.
fn in_process(dir: &Path, options: &Options, bound: f64, bound_name: &str) -> Result<InProcess> {
    std::fs::create_dir_all(dir)?;
    let count = options.replicate;
    ensure!(count < registry_core::event::MAX_BLOCK, "--replicate must be below one code block");
    let national = Signer::from_seed("national.bench.juki.test", KeyKind::Ed25519, [1; 32])?;
    println!("the national node's ingest in process: {count} births, batches of {}", options.batch);

    // The towns' side (not counted): their registries, signed logs and tiles.
    let started = Instant::now();
    let towns: Vec<BuiltTown> = TOWNS
        .iter()
        .enumerate()
        .map(|(t, (name, code))| {
            let share =
                count / TOWNS.len() as u64 + u64::from((t as u64) < count % TOWNS.len() as u64);
            build_town(
                &dir.join(name),
                MunicipalityCode::parse(code)?,
                1_000_000_000,
                share,
                &national,
                options.batch,
            )
        })
        .collect::<Result<_>>()?;
    let single = build_town(
        &dir.join("single"),
        MunicipalityCode::parse(TOWNS[0].1)?,
        1_000_000_000,
        count,
        &national,
        options.batch,
    )?;
    println!(
        "  (signed {count} births for the three towns and {count} more for one, recorded them there and built \
         their batches in {:.1} s, not counted)",
        started.elapsed().as_secs_f64()
    );

    // The three towns' replicas at once, as the national node applies them.
    let journal = Mutex::new(Journal::open(&dir.join("node.db"))?);
    let mut mirrors: Vec<Mirror> = towns
        .iter()
        .map(|town| Mirror::open(&dir.join("mirrors"), &town.entry, &national.verifier()))
        .collect::<Result<_>>()?;
    let start = Instant::now();
    std::thread::scope(|scope| {
        let running: Vec<_> = towns
            .iter()
            .zip(&mut mirrors)
            .map(|(town, mirror)| {
                let journal = &journal;
                scope.spawn(move || accept_all(mirror, town, journal))
            })
            .collect();
        running
            .into_iter()
            .try_for_each(|r| r.join().map_err(|_| anyhow::anyhow!("a replica thread panicked"))?)
    })?;
    let accept = rate(towns.iter().map(|t| t.size).sum(), start.elapsed());
    line(
        "Mirror::accept, 3 towns in parallel",
        accept,
        "changes/s",
        &format!(
            "{:.2}× {bound_name}; the national node's batch path, one thread per town",
            accept / bound
        ),
    );

    // One town's log alone: its events are applied in log order.
    let town = &single;
    let (size, municipality, clerk, births) =
        (town.size, town.municipality, &town.clerk, &town.births);
    let journal = Mutex::new(Journal::open(&dir.join("single-node.db"))?);
    let mut mirror = Mirror::open(&dir.join("single-mirrors"), &town.entry, &national.verifier())?;
    let start = Instant::now();
    accept_all(&mut mirror, town, &journal)?;
    let one_town = rate(size, start.elapsed());
    line(
        &format!("Mirror::accept, one town ({municipality}) alone"),
        one_town,
        "changes/s",
        &format!(
            "{:.2}× {bound_name}; checkpoint, proof, every event, commit, tiles",
            one_town / bound
        ),
    );

    // The rules and the writes alone, without the batch's checkpoint, proof and tiles.
    let mut replica =
        Registry::create(&dir.join("replica.db"), municipality, &national.verifier())?;
    let start = Instant::now();
    for batch in &town.batches {
        let notes: Vec<&[u8]> = batch.events.iter().map(|e| e.as_bytes()).collect();
        replica.replicate(&notes)?.commit()?;
    }
    let replicate = rate(size, start.elapsed());
    line(
        "Registry::replicate + commit alone",
        replicate,
        "changes/s",
        &format!("{:.2}× {bound_name}; one transaction per batch", replicate / bound),
    );

    // Its two parts: the batch's signatures, checked together on every core before the rules,
    // and the rules and writes, event by event in log order.
    let known: tlog::note::Verifiers = [clerk.verifier()].into_iter().collect();
    let refs: Vec<&[u8]> = births.iter().map(Vec::as_slice).collect();
    let start = Instant::now();
    let checked = tlog::note::Prechecked::check(&refs, &known);
    let batch_one = rate(count, start.elapsed());
    ensure!(checked.len() as u64 == count, "the batch check left out good signatures");
    line(
        "  Ed25519 batch verification (1 core)",
        batch_one,
        "verifies/s",
        &format!(
            "{:.2}× {bound_name}; tlog::precheck, {} per batch equation",
            batch_one / bound,
            tlog::precheck::CHUNK
        ),
    );
    let start = Instant::now();
    let checked = {
        use rayon::prelude::*;
        refs.par_chunks(tlog::precheck::CHUNK)
            .map(|chunk| tlog::note::Prechecked::check(chunk, &known))
            .reduce(tlog::note::Prechecked::none, tlog::note::Prechecked::merge)
    };
    let batch_all = rate(count, start.elapsed());
    ensure!(checked.len() as u64 == count, "the batch check left out good signatures");
    let cores = rayon::current_num_threads();
    line(
        &format!("  Ed25519 batch verification ({cores} cores)"),
        batch_all,
        "verifies/s",
        "as Registry::replicate runs it, before the rules",
    );
    let sequential_us = (1e6 / replicate - 1e6 / batch_all).max(0.0);
    line(
        "  reading, rules and SQLite writes",
        sequential_us,
        "µs/change",
        "replicate's time less the batch check's: read on every core, applied in log order",
    );
    println!();
    Ok(InProcess { accept, one_town, batch_one, sequential_us })
}

/// Waits until every node answers and every town has a code block.
async fn wait_ready(network: &Network, anonymous: &net::Client, clerks: &[Clerk]) -> Result<()> {
    crate::demo::towns_ready(clerks).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    for name in ["nagano", "national"] {
        wait_answers(network, anonymous, name, deadline).await?;
    }
    Ok(())
}

/// Waits until a node's public endpoint answers (whatever the answer).
async fn wait_answers(
    network: &Network,
    anonymous: &net::Client,
    name: &str,
    deadline: Instant,
) -> Result<()> {
    let url = format!("{}/mirrors/{}/checkpoint", network.node(name)?.public_url, TOWNS[0].1);
    loop {
        match client::call_get(anonymous, &url, None).await {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > deadline => {
                return Err(e.context(format!("{name} does not answer")));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Fresh resident codes of a town, in order from its code blocks (only this benchmark draws
/// codes in its network).
pub(crate) struct Codes {
    blocks: Vec<(u64, u64)>,
    block: usize,
    next: u64,
}

impl Codes {
    pub(crate) fn of(db: &Path) -> Result<Codes> {
        let conn =
            rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .with_context(|| format!("opening {}", db.display()))?;
        let mut select = conn.prepare("SELECT first, count FROM code_blocks ORDER BY first")?;
        let blocks = select
            .query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Codes { blocks, block: 0, next: 0 })
    }

    pub(crate) fn remaining(&self) -> u64 {
        let here = self.blocks.get(self.block).map_or(0, |b| b.1 - self.next);
        here + self.blocks.iter().skip(self.block + 1).map(|b| b.1).sum::<u64>()
    }

    pub(crate) fn next(&mut self) -> Result<ResidentCode> {
        while let Some(&(first, count)) = self.blocks.get(self.block) {
            if self.next < count {
                self.next += 1;
                return Ok(ResidentCode::from_ten_digits(first + self.next - 1)?);
            }
            self.block += 1;
            self.next = 0;
        }
        bail!("the town's code blocks are used up")
    }
}

/// The sizes of the mirrors a node holds, polled from its public endpoint: for each town, the
/// instants at which a new size was first seen.
struct Watch {
    series: Arc<Mutex<Series>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<(u64, Duration)>,
}

/// For each town, the instants at which a new mirror size was first seen.
type Series = Vec<Vec<(Instant, u64)>>;

impl Watch {
    fn start(anonymous: &net::Client, public_url: &str, poll: Duration) -> Watch {
        let series = Arc::new(Mutex::new(vec![Vec::new(); TOWNS.len()]));
        let stop = Arc::new(AtomicBool::new(false));
        let urls: Vec<String> = TOWNS
            .iter()
            .map(|(_, code)| format!("{public_url}/mirrors/{code}/checkpoint"))
            .collect();
        let task = {
            let (series, stop, client) = (series.clone(), stop.clone(), anonymous.clone());
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(poll);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let (mut polls, mut busy) = (0u64, Duration::ZERO);
                while !stop.load(Ordering::Relaxed) {
                    ticks.tick().await;
                    let asked = Instant::now();
                    let answers = futures_util::future::join_all(
                        urls.iter().map(|url| client::call_get(&client, url, None)),
                    )
                    .await;
                    let seen = Instant::now();
                    polls += 1;
                    busy += seen - asked;
                    let mut series = series.lock().unwrap_or_else(|e| e.into_inner());
                    for (t, answer) in answers.into_iter().enumerate() {
                        let Ok(answer) = answer else { continue };
                        let size = if answer.status.is_success() {
                            checkpoint_size(&answer.body).unwrap_or(0)
                        } else {
                            0
                        };
                        if series[t].last().is_none_or(|&(_, s)| size > s) {
                            series[t].push((seen, size));
                        }
                    }
                }
                (polls, busy)
            })
        };
        Watch { series, stop, task }
    }

    fn sizes(&self) -> Vec<u64> {
        let series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        series.iter().map(|s| s.last().map_or(0, |&(_, size)| size)).collect()
    }

    /// Waits until every town's mirror holds at least `targets`.
    async fn until(&self, targets: &[u64], within: Duration, what: &str) -> Result<()> {
        let deadline = Instant::now() + within;
        loop {
            let sizes = self.sizes();
            if sizes.iter().zip(targets).all(|(s, t)| s >= t) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{what}: after {} s the mirrors hold {sizes:?}, not {targets:?}",
                    within.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops polling: the series, polls made and the mean time a poll took.
    async fn finish(self) -> Result<(Series, u64, Duration)> {
        self.stop.store(true, Ordering::Relaxed);
        let (polls, busy) = self.task.await?;
        let series = self.series.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Ok((series, polls, busy / polls.max(1) as u32))
    }
}

/// The size line of a checkpoint note.
fn checkpoint_size(note: &[u8]) -> Option<u64> {
    std::str::from_utf8(note).ok()?.lines().nth(1)?.parse().ok()
}

struct Propagation {
    p99: Duration,
    first_hop_p99: Duration,
    second_hop_p99: Duration,
}

/// A change the town acknowledged.
struct Sent {
    town: usize,
    index: u64,
    sent: Instant,
    acked: Instant,
}

/// Clerks submit births at a steady rate spread over the towns; each change's propagation is
/// the time from the town's acknowledgement until the national node's mirror checkpoint
/// covers its log index.
async fn propagation(
    network: &Network,
    anonymous: &net::Client,
    clerks: Arc<Vec<Clerk>>,
    codes: &mut [Codes],
    options: &Options,
) -> Result<Propagation> {
    let total = (options.rate * options.seconds as f64).round().max(1.0) as u64;
    println!(
        "propagation under load: {} changes/s across the {} towns for {} s ({total} births), \
         national mirrors polled every {} ms",
        options.rate,
        TOWNS.len(),
        options.seconds,
        options.poll.as_millis()
    );
    println!(
        "  why 50 changes/s by default: Japan records ≈10 M resident-registry changes a year, \
         ≈41,000 per working day;\n  the busiest days (moves in late March / early April) run \
         several times that (≈4×, an estimate),\n  ≈160,000 changes in an 8.5-hour counter day \
         ≈ 5/s for the whole country, ≈10/s in its busiest hour;\n  50/s through one prefecture \
         is ≈5× the whole country's peak."
    );
    let assigned: Vec<(usize, ResidentCode)> = (0..total)
        .map(|k| {
            let t = (k % TOWNS.len() as u64) as usize;
            Ok((t, codes[t].next()?))
        })
        .collect::<Result<_>>()?;
    let national = network.node("national")?;
    let prefecture = network.node("nagano")?;
    let watch = Watch::start(anonymous, &national.public_url, options.poll);
    let watch_prefecture = Watch::start(anonymous, &prefecture.public_url, options.poll);
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(assigned.len());
    for (k, (t, code)) in assigned.into_iter().enumerate() {
        let due = start + Duration::from_secs_f64(k as f64 / options.rate);
        tokio::time::sleep_until(due.into()).await;
        let clerks = clerks.clone();
        tasks.push(tokio::spawn(async move {
            let clerk = &clerks[t];
            let record =
                synthetic(code, clerk.code, 5_000_000 + k as u64, ChangeReason::Birth, None)?;
            let sent = Instant::now();
            let submitted = clerk.submit(change(clerk.code, record)).await?;
            anyhow::Ok(Sent { town: t, index: submitted.index, sent, acked: Instant::now() })
        }));
    }
    let offered = start.elapsed();
    let mut sent = Vec::with_capacity(tasks.len());
    for task in tasks {
        sent.push(task.await??);
    }
    let mut targets = vec![0u64; TOWNS.len()];
    for s in &sent {
        targets[s.town] = targets[s.town].max(s.index + 1);
    }
    watch.until(&targets, Duration::from_secs(60), "the national node did not catch up").await?;
    watch_prefecture
        .until(&targets, Duration::from_secs(60), "the prefecture did not catch up")
        .await?;
    let (series, polls, per_poll) = watch.finish().await?;
    let (prefecture_series, _, _) = watch_prefecture.finish().await?;

    let seen = |series: &Series, s: &Sent| {
        series[s.town].iter().find(|&&(_, size)| size > s.index).map(|&(at, _)| at).expect("waited")
    };
    let sorted = |mut v: Vec<Duration>| {
        v.sort();
        v
    };
    let latencies =
        sorted(sent.iter().map(|s| seen(&series, s).saturating_duration_since(s.acked)).collect());
    let first_hop = sorted(
        sent.iter()
            .map(|s| seen(&prefecture_series, s).saturating_duration_since(s.acked))
            .collect(),
    );
    let second_hop = sorted(
        sent.iter()
            .map(|s| seen(&series, s).saturating_duration_since(seen(&prefecture_series, s)))
            .collect(),
    );
    let acks = sorted(sent.iter().map(|s| s.acked - s.sent).collect());
    println!(
        "  (offered {:.1} changes/s over {:.1} s; {polls} polls of the 3 mirror checkpoints at \
         each upper node, {:.1} ms each on average)",
        rate(total, offered),
        offered.as_secs_f64(),
        ms(per_poll)
    );
    let p = |v: &[Duration]| (percentile(v, 0.5), percentile(v, 0.99), *v.last().expect("some"));
    let show = |what: &str, v: &[Duration]| {
        let (p50, p99, max) = p(v);
        println!(
            "{what:<44} {:>8.1} ms p50 {:>8.1} ms p99 {:>8.1} ms max",
            ms(p50),
            ms(p99),
            ms(max)
        );
    };
    show("town acknowledges a change (sign + submit)", &acks);
    show("  first hop: town → prefecture", &first_hop);
    show("  second hop: prefecture → national", &second_hop);
    show("propagation town → prefecture → national", &latencies);
    println!(
        "  (from the town's acknowledgement to the first poll answer in which the national \
         node's mirror checkpoint covers\n  the change's log index: each figure is late by at \
         most one polling period ({} ms) plus a poll ({:.1} ms);\n  a hop is one round of the \
         sender: integrate, ask the witness (towns), build the batch, the receiver verifies,\n  \
         applies and fsyncs it, receipt; a change that arrives during a round waits for the \
         next one; an\n  idle sender starts its round when there is something to send, and polls every \
         interval_ms = 50 at most)",
        options.poll.as_millis(),
        ms(per_poll)
    );
    Ok(Propagation {
        p99: percentile(&latencies, 0.99),
        first_hop_p99: percentile(&first_hop, 0.99),
        second_hop_p99: percentile(&second_hop, 0.99),
    })
}

/// How often the ingest phases poll: a poll costs the node it asks CPU that the ingest would
/// use (on two cores, polling every 5 ms takes a third of one), and a rate over seconds does
/// not need the latency measurement's resolution: the first and the last poll are each late
/// by at most one period, so the error is under one period in the whole run's seconds.
fn ingest_poll(options: &Options) -> Duration {
    options.poll.max(Duration::from_millis(50))
}

struct EndToEnd {
    national: f64,
    /// openssl's rate measured around the national ingest, the figure it is set against.
    bound: f64,
}

/// The rate at which a mirror series grew, from the first size seen above `base` to `target`
/// (the first batch's arrival is the start, so its own time is not counted).
fn catch_up_rate(series: &Series, base: &[u64], target: &[u64]) -> Option<(f64, Instant, Instant)> {
    // The total over the towns at each instant any of them changed.
    let mut points: Vec<(Instant, usize, u64)> = series
        .iter()
        .enumerate()
        .flat_map(|(t, s)| s.iter().map(move |&(at, size)| (at, t, size)))
        .collect();
    points.sort_by_key(|&(at, _, _)| at);
    let mut sizes = base.to_vec();
    let goal: u64 = target.iter().sum();
    let (mut first, mut end) = (None, None);
    for (at, t, size) in points {
        sizes[t] = sizes[t].max(size);
        let total: u64 = sizes.iter().sum();
        if first.is_none() && total > base.iter().sum::<u64>() {
            first = Some((at, total));
        }
        if total >= goal {
            end = Some(at);
            break;
        }
    }
    let ((first, at_first), end) = (first?, end?);
    (end > first).then(|| (rate(goal - at_first, end - first), first, end))
}

/// Births loaded into the towns while the national node is stopped; then the national node is
/// started and timed until it holds them all.
fn end_to_end(
    runtime: &tokio::runtime::Runtime,
    anonymous: &net::Client,
    procs: &mut Nodes,
    codes: &mut [Codes],
    options: &Options,
    (bound, bound_name): (f64, &str),
) -> Result<EndToEnd> {
    let towns = TOWNS.len() as u64;
    let per_town: Vec<u64> = (0..towns)
        .map(|t| options.ingest / towns + u64::from(t < options.ingest % towns))
        .collect();
    for (t, need) in per_town.iter().enumerate() {
        // Leave the pool above the nodes' pool_low (200), so no town asks for a block.
        ensure!(
            codes[t].remaining() >= need + 250,
            "--ingest is too large: {} has {} codes left in its block",
            TOWNS[t].0,
            codes[t].remaining()
        );
    }
    println!(
        "ingest end to end: {} births loaded into the towns while the national node is stopped",
        options.ingest
    );
    println!(
        "  method: every tier agrees; the national node and the towns are stopped; the births \
         are signed and recorded\n  in the towns' registries (Registry::submit_many, as \
         `juki resident` does); the towns are restarted\n  and push them to the prefecture, \
         which verifies them (timed: prefecture ingest); then the national node\n  is started \
         and the prefecture restarted (resetting its retry back-off), and the national \
         node's\n  mirror checkpoints are polled until they cover everything (timed: national \
         ingest, over the network,\n  the prefecture sending its towns' batches of 4,096 \
         in parallel, the national node verifying each)."
    );
    let network = &procs.network().clone();
    runtime.block_on(crate::demo::agree(network, Duration::from_secs(60)))?;
    procs.kill("national");
    for (name, _) in TOWNS {
        procs.kill(name);
    }

    // Load the towns directly (not counted).
    let started = Instant::now();
    let mut base = Vec::new();
    let mut sizes = Vec::new();
    for (t, (name, _)) in TOWNS.iter().enumerate() {
        let config = &network.node(name)?.config;
        let dir = registry_store::dir::RegistryDir::open(config.parent().context("node.toml")?)?;
        let mut registry = dir.registry()?;
        base.push(registry.log_size()?);
        let clerk =
            crate::passphrases::load_signer(&network.dir()?, &network.town(TOWNS[t].1)?.clerk_key)?;
        let town = dir.municipality;
        let mut left = per_town[t];
        let mut i = 0u64;
        while left > 0 {
            let n = left.min(4096);
            let work: Vec<(u64, ResidentCode)> =
                (0..n).map(|k| Ok((i + k, codes[t].next()?))).collect::<Result<_>>()?;
            let notes: Vec<Vec<u8>> = {
                use rayon::prelude::*;
                work.par_iter()
                    .map(|&(k, code)| {
                        birth(town, code, 7_000_000 + t as u64 * 1_000_000 + k, &clerk)
                    })
                    .collect::<Result<_>>()?
            };
            let refs: Vec<&[u8]> = notes.iter().map(Vec::as_slice).collect();
            for result in registry.submit_many(&refs, crate::synthetic::now())? {
                if let Err(refusal) = result {
                    bail!("a benchmark birth was refused at {name}: {refusal}");
                }
            }
            left -= n;
            i += n;
        }
        sizes.push(registry.log_size()?);
    }
    line(
        "  loaded into the towns (not counted)",
        rate(options.ingest, started.elapsed()),
        "changes/s",
        "signed + Registry::submit_many, 4,096 per transaction",
    );

    let prefecture = network.node("nagano")?;
    // The machine's speed drifts over a run this long: the national ingest is set against
    // openssl's rate measured just before it and just after it, not minutes earlier.
    let mut around = Vec::new();
    let (prefecture_rate, national_rate, restart_rate) = runtime.block_on(async {
        // Towns → prefecture.
        let watch = Watch::start(anonymous, &prefecture.public_url, ingest_poll(options));
        let towns_started = Instant::now();
        for (name, _) in TOWNS {
            procs.start_one(name)?;
        }
        watch.until(&sizes, Duration::from_secs(600), "the prefecture did not catch up").await?;
        let (series, _, _) = watch.finish().await?;
        let prefecture_rate = catch_up_rate(&series, &base, &sizes);
        match prefecture_rate {
            Some((r, first, end)) => line(
                "prefecture ingest (towns → prefecture)",
                r,
                "changes/s",
                &format!(
                    "{:.2}× {bound_name}; {:.1} s from its first batch, {:.1} s after the towns' restart",
                    r / bound,
                    (end - first).as_secs_f64(),
                    (end - towns_started).as_secs_f64()
                ),
            ),
            None => println!("  prefecture ingest: everything arrived in one poll; no rate"),
        }

        // Each restarted town verifies its whole registry against its log first (its
        // self-check): wait until they have, so that it takes no core from what is measured.
        let checked = Instant::now();
        // Restarted: at the addresses they report now.
        let restarted = procs.network().clone();
        for (t, (_, code)) in TOWNS.iter().enumerate() {
            let clerk = crate::setup::clerk(&restarted, code)?;
            loop {
                let status = clerk.status().await?;
                if status.verified.is_some_and(|v| v >= sizes[t]) {
                    break;
                }
                ensure!(
                    checked.elapsed() < Duration::from_secs(600),
                    "{code} did not verify its registry in 10 minutes"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        println!(
            "  (the towns' start-up self-checks verified their registries: waited {:.1} s, not counted)",
            checked.elapsed().as_secs_f64()
        );

        // Prefecture → national.
        around.push(crate::peers::openssl_ed25519_verify(options.openssl_seconds).ok());
        procs.start_one("national")?;
        // Restarted: at the address it reports now.
        let network = procs.network().clone();
        wait_answers(&network, anonymous, "national", Instant::now() + Duration::from_secs(60))
            .await?;
        let watch =
            Watch::start(anonymous, &network.node("national")?.public_url, ingest_poll(options));
        // The prefecture's forwarding backs off up to 10 s while the national node is down:
        // restart it so that it sends at once.
        procs.kill("nagano");
        let restarted = Instant::now();
        procs.start_one("nagano")?;
        watch.until(&sizes, Duration::from_secs(600), "the national node did not catch up").await?;
        let done = Instant::now();
        let (series, polls, per_poll) = watch.finish().await?;
        around.push(crate::peers::openssl_ed25519_verify(options.openssl_seconds).ok());
        let national_rate = catch_up_rate(&series, &base, &sizes);
        let restart_rate = rate(options.ingest, done - restarted);
        anyhow::Ok((
            prefecture_rate.map(|r| r.0),
            national_rate.map(|(r, first, end)| (r, (end - first), polls, per_poll)),
            restart_rate,
        ))
    })?;
    let (bound, bound_name) = match around[..] {
        [Some(before), Some(after)] => {
            let mean = (before + after) / 2.0;
            line(
                "  Ed25519 verify, openssl speed, around it",
                mean,
                "verifies/s",
                &format!("{before:.0} just before, {after:.0} just after: the bound below"),
            );
            (mean, bound_name)
        }
        _ => (bound, bound_name),
    };
    let national_figure = match national_rate {
        Some((r, took, polls, per_poll)) => {
            line(
                "national ingest (prefecture → national)",
                r,
                "changes/s",
                &format!(
                    "{:.2}× {bound_name}; {:.1} s from its first batch ({polls} polls, {:.1} ms each)",
                    r / bound,
                    took.as_secs_f64(),
                    ms(per_poll)
                ),
            );
            r
        }
        None => {
            println!("  national ingest: everything arrived in one poll; see the next line");
            restart_rate
        }
    };
    line(
        "  … from the prefecture's restart",
        restart_rate,
        "changes/s",
        "its start-up and the first batch's wait included",
    );
    let _ = prefecture_rate;
    runtime.block_on(crate::demo::agree(procs.network(), Duration::from_secs(60)))?;
    println!(
        "  (afterwards every tier agrees: the same checkpoints at the towns, the prefecture and the national node)"
    );
    Ok(EndToEnd { national: national_figure, bound })
}
