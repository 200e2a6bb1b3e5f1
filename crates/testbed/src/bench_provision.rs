//! `juki bench provision`: how many identity provisions the national node answers an agency,
//! over mutual-TLS HTTP with keep-alive, while recording every one durably in its provision
//! log; beside `pgbench -S` against the local PostgreSQL, measured in the same run.
//!
//! The network is built and run as `juki demo` runs it (real `juki serve` processes on
//! loopback); synthetic births are signed and recorded in the towns' registries while the
//! towns are stopped (`Registry::submit_many`, as `juki bench network` loads them), then the
//! towns are started again and push them up until every tier agrees. The agency's client then
//! holds a fixed number of connections, each asking for a random resident by 住民票コード
//! as soon as its last answer arrived, for a fixed time after a warm-up; every answer is a
//! record proven against its town's witnessed checkpoint, signed by the national node and
//! recorded in its provision log (`synchronous = FULL`: fsynced before the answer leaves).
//! Answers are checked end to end by the agency's client before the measurement, not during
//! it (the check would take the node's cores: client and node share this machine). Then one
//! streamed batch of a few thousand lines is timed, and the four-item search where the node
//! serves it. Afterwards the national node's provision records are counted: one per answer.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use hdrhistogram::Histogram;
use wire::provide::{BatchLine, FourItems, ProvideRequest};

use crate::figures::{Aim, Peer, Target, goal, line, ms, rate};
use crate::processes::Nodes;
use crate::setup::{Network, PURPOSE_FOUR_ITEMS, PURPOSE_WHOLE, TOWNS};

/// The targets.
const TARGET_RATE: f64 = 10_000.0;
const TARGET_P99: Duration = Duration::from_millis(10);
/// The open loop's connections: enough that at the target's rate and the latencies seen, a
/// request seldom waits for one.
const OPEN_CONNECTIONS: usize = 64;

/// `juki bench provision`'s options.
pub struct Options {
    /// Residents loaded across the three towns.
    pub residents: u64,
    /// Concurrent client connections (each one request at a time, kept alive).
    pub connections: usize,
    /// Seconds each lookup figure is measured, after one second of warm-up.
    pub seconds: u64,
    /// Lookups per second offered by the open loop (0: skip it).
    pub open_rate: f64,
    /// Lines of the batch.
    pub batch: usize,
    /// Four-item searches measured (when the node serves them).
    pub matches: usize,
    /// `pgbench -i -s` scale (0: no pgbench).
    pub pg_scale: u32,
    /// `pgbench -T` seconds.
    pub pg_seconds: u64,
    /// `pgbench -c` clients.
    pub pg_clients: usize,
    /// Where to build the network (default: a temporary directory, removed afterwards).
    pub dir: Option<PathBuf>,
}

/// What one lookup run measured.
struct Lookups {
    answered: u64,
    refused: u64,
    first_refusal: Option<String>,
    elapsed: Duration,
    latency: Histogram<u64>,
    /// CPU seconds the national node and this process used during it.
    node_cpu: f64,
    client_cpu: f64,
}

impl Lookups {
    fn rate(&self) -> f64 {
        rate(self.answered, self.elapsed)
    }

    fn p(&self, quantile: f64) -> Duration {
        Duration::from_micros(self.latency.value_at_quantile(quantile))
    }
}

pub fn run(options: Options) -> Result<ExitCode> {
    ensure!(options.residents >= 3, "--residents must be at least 3");
    ensure!(
        options.connections >= 1 && options.seconds >= 1,
        "--connections and --seconds must be positive"
    );
    let work = crate::bench_log::work_dir(options.dir.as_deref())?;
    let root = work.path.clone();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("juki bench provision: {cores} cores, in {}", root.display());
    println!();

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let network_dir = root.join("network");
    println!("building a network in {} (CA, keys, registries, operators) …", network_dir.display());
    let started = Instant::now();
    let network = crate::setup::create_with(&network_dir, bench_catalogue())?;
    let mut procs = Nodes::start(&network)?;
    runtime.block_on(ready(procs.network()))?;
    println!("  (built and started in {:.1} s, not counted)", started.elapsed().as_secs_f64());
    let started = Instant::now();
    let codes = load(&runtime, &mut procs, options.residents)?;
    println!(
        "  ({} residents loaded, pushed and agreed on by every tier in {:.1} s, not counted)",
        codes.len(),
        started.elapsed().as_secs_f64()
    );
    let network = procs.network().clone();
    let national_pid = procs
        .pids()
        .into_iter()
        .find(|(name, _)| name == "national")
        .map(|(_, pid)| pid)
        .context("the national node is not running")?;
    let records_before = provision_records(&network_dir)?;
    println!();

    let measured = runtime.block_on(measure(&network, &codes, national_pid, &options));
    procs.stop();
    let measured = measured?;
    let records_after = provision_records(&network_dir)?;
    let recorded = records_after - records_before;
    println!(
        "  the national node's provision log gained {recorded} records for {} answers given \
         (every answer recorded: {})",
        measured.answers,
        if recorded == measured.answers { "yes" } else { "NO" }
    );
    ensure!(
        recorded == measured.answers,
        "{recorded} provision records for {} answers",
        measured.answers
    );
    println!();

    let pg = if options.pg_scale > 0 {
        crate::peers::pgbench_select(crate::peers::PgbenchOptions {
            scale: options.pg_scale,
            seconds: options.pg_seconds,
            clients: options.pg_clients,
        })
    } else {
        Err(anyhow::anyhow!("skipped (--pg-scale 0; `juki bench` measures it once as a peer)"))
    };
    println!();

    summary(&measured, &pg, &options);
    Ok(ExitCode::SUCCESS)
}

/// The network's catalogue with the bulk purposes' rates raised beyond what is measured, so
/// that the rate limit is not what the figures show (it is still judged on every request).
fn bench_catalogue() -> wire::purposes::Catalogue {
    let mut catalogue = crate::setup::catalogue(crate::setup::now_unix());
    for purpose in &mut catalogue.purposes {
        if purpose.code == PURPOSE_WHOLE || purpose.code == PURPOSE_FOUR_ITEMS {
            purpose.per_minute = 100_000_000;
            purpose.per_day = 1_000_000_000;
        }
    }
    catalogue
}

/// Waits until every town answers and has a code block, and the upper tiers answer.
async fn ready(network: &Network) -> Result<()> {
    let clerks = TOWNS
        .iter()
        .map(|(_, code)| crate::setup::clerk(network, code))
        .collect::<Result<Vec<_>>>()?;
    crate::demo::towns_ready(&clerks).await?;
    crate::demo::agree(network, Duration::from_secs(60)).await
}

/// Loads `residents` births into the towns (stopped meanwhile), starts them again, and waits
/// until each has published, verified and pushed them and every tier agrees; returns the
/// resident codes.
fn load(
    runtime: &tokio::runtime::Runtime,
    procs: &mut Nodes,
    residents: u64,
) -> Result<Vec<String>> {
    use crate::bench_network::{Codes, birth};
    let network = procs.network().clone();
    let towns = TOWNS.len() as u64;
    let mut sizes = Vec::new();
    let mut codes = Vec::new();
    for (t, (name, _)) in TOWNS.iter().enumerate() {
        let need = residents / towns + u64::from((t as u64) < residents % towns);
        let node_dir = network_dir_of(&network, name)?;
        let mut pool = Codes::of(&node_dir.join("registry.db"))?;
        // Leave the pool above the nodes' pool_low (200), so no town asks for a block.
        ensure!(
            pool.remaining() >= need + 250,
            "--residents is too large: {name} has {} codes left in its block",
            pool.remaining()
        );
        procs.stop_one(name);
        let dir = registry_store::dir::RegistryDir::open(&node_dir)?;
        let mut registry = dir.registry()?;
        let clerk =
            crate::passphrases::load_signer(&network.dir()?, &network.town(TOWNS[t].1)?.clerk_key)?;
        let town = dir.municipality;
        let mut done = 0u64;
        while done < need {
            let n = (need - done).min(4096);
            let work: Vec<(u64, registry_domain::ResidentCode)> =
                (0..n).map(|k| Ok((done + k, pool.next()?))).collect::<Result<_>>()?;
            let notes: Vec<Vec<u8>> = {
                use rayon::prelude::*;
                work.par_iter()
                    .map(|&(k, code)| {
                        birth(town, code, 9_000_000 + t as u64 * 1_000_000 + k, &clerk)
                    })
                    .collect::<Result<_>>()?
            };
            let refs: Vec<&[u8]> = notes.iter().map(Vec::as_slice).collect();
            for result in registry.submit_many(&refs, crate::synthetic::now())? {
                if let Err(refusal) = result {
                    bail!("a benchmark birth was refused at {name}: {refusal}");
                }
            }
            codes.extend(work.iter().map(|(_, code)| code.to_string()));
            done += n;
        }
        sizes.push(registry.log_size()?);
        drop(registry);
        procs.start_one(name)?;
    }
    let network = procs.network().clone();
    runtime.block_on(async {
        // Each town publishes its new events (cosigned by the witness), verifies its registry
        // at start, and pushes them to its prefecture: wait for what it reports.
        let deadline = Instant::now() + Duration::from_secs(600);
        for (t, (name, code)) in TOWNS.iter().enumerate() {
            let clerk = crate::setup::clerk(&network, code)?;
            loop {
                let status = clerk.status().await?;
                if status.acked.is_some_and(|a| a >= sizes[t])
                    && status.verified.is_some_and(|v| v >= sizes[t])
                {
                    break;
                }
                ensure!(Instant::now() < deadline, "{name} did not push its births in 10 minutes");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        crate::demo::agree(&network, Duration::from_secs(600)).await
    })?;
    Ok(codes)
}

/// The directory of node `name`.
fn network_dir_of(network: &Network, name: &str) -> Result<PathBuf> {
    Ok(network.node(name)?.config.parent().context("node.toml has a directory")?.to_path_buf())
}

/// The national node's provision records for the agency.
fn provision_records(network_dir: &Path) -> Result<u64> {
    let path = network_dir.join("nodes/national/node.db");
    let db =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("opening {}", path.display()))?;
    db.busy_timeout(Duration::from_secs(10))?;
    let n: i64 = db.query_row(
        "SELECT count(*) FROM records WHERE actor = 'urn:juki:agency:pension-service'",
        [],
        |r| r.get(0),
    )?;
    Ok(n as u64)
}

/// Everything measured against the running network.
struct Measured {
    narrow: Lookups,
    whole: Lookups,
    /// The open loop's outcome, if it ran.
    open: Option<crate::open_loop::Outcome>,
    /// The batch: lines answered, and the time from sending it to the last line.
    batch: Option<(u64, Duration)>,
    /// The four-item search's latency (p50, p99), or why it is not measured.
    matched: std::result::Result<(Duration, Duration, u64), String>,
    /// Provisions answered in all (warm-ups and checks included).
    answers: u64,
}

async fn measure(
    network: &Network,
    codes: &[String],
    national_pid: u32,
    options: &Options,
) -> Result<Measured> {
    let national = network.node("national")?;
    let base = node::report::resolve_url(&national.network_url)?;
    let files = net::TlsFiles {
        cert: network.agency.cert.clone(),
        key: network.agency.key.clone(),
        ca: network.ca.clone(),
        crl: Some(network.ca_dir.join("crl.pem")),
    };
    let codes: Arc<Vec<String>> = Arc::new(codes.to_vec());
    let mut answers = 0u64;

    // Every kind of answer measured is first checked end to end by the agency's client.
    let agency = crate::setup::agency(network)?;
    for (i, purpose) in [PURPOSE_FOUR_ITEMS, PURPOSE_WHOLE].into_iter().enumerate() {
        let code = &codes[i * codes.len() / 2];
        agency
            .provide(code, purpose, None)
            .await?
            .map_err(|refused| anyhow::anyhow!("the node refused the check: {}", refused.text()))?;
        answers += 1;
    }
    println!(
        "lookups by 住民票コード: {} connections (mutual TLS, kept alive), each asking for a random \
         resident of {} as soon as its last answer arrived; 1 s warm-up, then {} s measured",
        options.connections,
        codes.len(),
        options.seconds
    );
    println!(
        "  (every answer is proven against its town's witnessed checkpoint, signed, and recorded \
         durably before it leaves;\n   answers were checked end to end by the agency's client \
         before the run, not during it)"
    );
    let mut runs = Vec::new();
    for (purpose, what) in [
        (PURPOSE_FOUR_ITEMS, "statement + inclusion proof"),
        (PURPOSE_WHOLE, "every item: the whole evidence"),
    ] {
        let measured = lookups(&base, &files, &codes, purpose, national_pid, options).await?;
        answers += measured.answered + measured.warm;
        let lookups = measured.lookups;
        if lookups.refused > 0 {
            bail!(
                "{} lookups were refused under {purpose}; the first: {}",
                lookups.refused,
                lookups.first_refusal.as_deref().unwrap_or("?")
            );
        }
        // The target is set for the narrow purpose's lookups.
        let rate_aim = if purpose == PURPOSE_FOUR_ITEMS {
            Aim::of(12, Target::AtLeast(TARGET_RATE)).and_versus(Peer::PgbenchSelect)
        } else {
            Aim::versus(Peer::PgbenchSelect)
        };
        goal(
            &format!("  lookups, {purpose} ({what})"),
            lookups.rate(),
            "lookups/s",
            &format!(
                "p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms; {} in {:.1} s",
                ms(lookups.p(0.50)),
                ms(lookups.p(0.99)),
                ms(lookups.p(0.999)),
                lookups.answered,
                lookups.elapsed.as_secs_f64()
            ),
            rate_aim,
        );
        line(
            &format!("  lookups, {purpose}, p99"),
            ms(lookups.p(0.99)),
            "ms",
            &format!("{} connections, closed loop", options.connections),
        );
        let seconds = lookups.elapsed.as_secs_f64();
        println!(
            "{:<44} {:>14} {:<12} national node {:.2} cores ({:.0} µs CPU per lookup), this client {:.2} cores",
            "",
            "",
            "",
            lookups.node_cpu / seconds,
            lookups.node_cpu / lookups.answered.max(1) as f64 * 1e6,
            lookups.client_cpu / seconds
        );
        runs.push(lookups);
    }
    let open = if options.open_rate > 0.0 {
        let outcome = open_lookups(&base, &files, &codes, options).await?;
        answers += outcome.answered + outcome.warm;
        Some(outcome)
    } else {
        None
    };
    println!(
        "  (load average over the last minute, every process of this machine: {}; the network's \
         other nodes and witness, and anything else running here, share these cores)",
        load_average()
    );
    println!();

    // The batch.
    let batch = if options.batch > 0 {
        let (lines, took) = batch(&base, &files, &codes, options.batch).await?;
        answers += lines;
        line(
            &format!("batch of {} lines, {PURPOSE_FOUR_ITEMS}", options.batch),
            rate(lines, took),
            "requests/s",
            &format!(
                "one POST /v1/provide/batch, streamed: {:.2} s to the last line",
                took.as_secs_f64()
            ),
        );
        Some((lines, took))
    } else {
        None
    };

    // The four-item search, where the node serves it.
    let matched = if options.matches > 0 {
        let (measured, given) = matches(&base, &files, &agency, &codes, options.matches).await?;
        answers += given;
        match &measured {
            Ok((p50, p99, n)) => line(
                "four-item search (POST /v1/provide/match)",
                *n as f64,
                "searches",
                &format!(
                    "one connection, one at a time: p50 {:.2} ms, p99 {:.2} ms",
                    ms(*p50),
                    ms(*p99)
                ),
            ),
            Err(why) => println!("{:<44} {:>14} {:<12} {why}", "four-item search", "-", ""),
        }
        measured
    } else {
        Err("not asked for (--matches 0)".into())
    };
    let mut runs = runs.into_iter();
    let (narrow, whole) = (runs.next().context("a run")?, runs.next().context("a run")?);
    Ok(Measured { narrow, whole, open, batch, matched, answers })
}

/// Lookups by code under the narrow purpose offered as an open loop at `options.open_rate`
/// (`open_loop`): the latency a steady stream of agencies' requests sees at that rate.
async fn open_lookups(
    base: &str,
    files: &net::TlsFiles,
    codes: &Arc<Vec<String>>,
    options: &Options,
) -> Result<crate::open_loop::Outcome> {
    use crate::open_loop::{Plan, run};
    let plan = Plan {
        rate: options.open_rate,
        warm_up: Duration::from_secs(1),
        measured: Duration::from_secs(options.seconds),
        connections: OPEN_CONNECTIONS,
        seed: 0x6a75_6b69,
    };
    println!(
        "lookups by 住民票コード, open loop: {:.0} requests/s arriving as a Poisson process \
         over {OPEN_CONNECTIONS} connections, latency from each request's scheduled instant; \
         1 s warm-up, then {} s measured",
        plan.rate, options.seconds
    );
    let codes = codes.clone();
    let body = Arc::new(move |i: u64| {
        let at = (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 17) as usize % codes.len();
        let request = ProvideRequest {
            purpose: PURPOSE_FOUR_ITEMS.into(),
            items: None,
            resident: Some(codes[at].clone()),
            query: None,
        };
        serde_json::to_vec(&request).expect("a request serialises")
    });
    let expect = net::Expect::named(Some("urn:juki:national"))?;
    let outcome = run(plan, files, &format!("{base}/v1/provide"), &expect, body).await?;
    ensure!(
        outcome.refused == 0,
        "{} open-loop lookups were refused; the first: {}",
        outcome.refused,
        outcome.first_refusal.as_deref().unwrap_or("?")
    );
    line(
        &format!("  lookups, open loop, {:.0}/s offered", plan.rate),
        outcome.rate(),
        "lookups/s",
        &format!(
            "{} of {} answered; requests started at most {:.1} ms late",
            outcome.answered,
            outcome.offered,
            ms(outcome.worst_start)
        ),
    );
    // The target's p99 is judged where the load is the target's rate or more.
    goal(
        &format!("  lookups, open loop, {:.0}/s offered, p99", plan.rate),
        ms(outcome.p(0.99)),
        "ms",
        &format!(
            "p50 {:.2} ms, p99.9 {:.2} ms, max {:.1} ms, from the scheduled instant",
            ms(outcome.p(0.5)),
            ms(outcome.p(0.999)),
            outcome.latency.max() as f64 / 1e3
        ),
        if plan.rate >= TARGET_RATE {
            Aim::of(12, Target::Below(ms(TARGET_P99)))
        } else {
            Aim::default()
        },
    );
    Ok(outcome)
}

/// A lookup run and the provisions answered during its warm-up.
struct Run {
    lookups: Lookups,
    answered: u64,
    /// Provisions answered during the warm-up.
    warm: u64,
}

/// One lookup run under `purpose`: `options.connections` connections, one second of warm-up,
/// then `options.seconds` measured.
async fn lookups(
    base: &str,
    files: &net::TlsFiles,
    codes: &Arc<Vec<String>>,
    purpose: &str,
    national_pid: u32,
    options: &Options,
) -> Result<Run> {
    let url = format!("{base}/v1/provide");
    let expect = net::Expect::named(Some("urn:juki:national"))?;
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(1);
    let until = measure_from + Duration::from_secs(options.seconds);
    let mut tasks = Vec::new();
    for connection in 0..options.connections {
        let client = net::Client::new(files)?;
        let (url, expect, codes, purpose) =
            (url.clone(), expect.clone(), codes.clone(), purpose.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            let (mut answered, mut warm, mut refused) = (0u64, 0u64, 0u64);
            let mut first_refusal = None;
            let mut random = 0x9e37_79b9_7f4a_7c15u64
                ^ (connection as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d);
            loop {
                let now = Instant::now();
                if now >= until {
                    break;
                }
                random ^= random << 13;
                random ^= random >> 7;
                random ^= random << 17;
                let code = &codes[(random % codes.len() as u64) as usize];
                let request = ProvideRequest {
                    purpose: purpose.clone(),
                    items: None,
                    resident: Some(code.clone()),
                    query: None,
                };
                let asked = Instant::now();
                let answer =
                    client.post_answer(&url, serde_json::to_vec(&request)?, &expect).await?;
                let took = asked.elapsed();
                let measured = asked >= measure_from && asked < until;
                if answer.status.is_success() {
                    if measured {
                        answered += 1;
                        latency.record(took.as_micros().max(1) as u64)?;
                    } else {
                        warm += 1;
                    }
                } else {
                    refused += 1;
                    first_refusal.get_or_insert_with(|| answer.text());
                }
            }
            anyhow::Ok((answered, warm, refused, first_refusal, latency))
        }));
    }
    // The CPU time of the node and of this process over the measured part.
    tokio::time::sleep_until(measure_from.into()).await;
    let (node_before, client_before) =
        (cpu_seconds(national_pid)?, cpu_seconds(std::process::id())?);
    tokio::time::sleep_until(until.into()).await;
    let (node_after, client_after) = (cpu_seconds(national_pid)?, cpu_seconds(std::process::id())?);
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut answered, mut warm, mut refused) = (0, 0, 0);
    let mut first_refusal = None;
    for task in tasks {
        let (a, w, r, first, histogram) = task.await??;
        answered += a;
        warm += w;
        refused += r;
        if first_refusal.is_none() {
            first_refusal = first;
        }
        latency.add(histogram)?;
    }
    Ok(Run {
        lookups: Lookups {
            answered,
            refused,
            first_refusal,
            elapsed: until - measure_from,
            latency,
            node_cpu: node_after - node_before,
            client_cpu: client_after - client_before,
        },
        answered,
        warm,
    })
}

/// One batch of `lines` lookups by code; returns the lines answered with a provision and the
/// time to the last line.
async fn batch(
    base: &str,
    files: &net::TlsFiles,
    codes: &[String],
    lines: usize,
) -> Result<(u64, Duration)> {
    let client = net::Client::new(files)?;
    let expect = net::Expect::named(Some("urn:juki:national"))?;
    let mut body = Vec::new();
    for i in 0..lines {
        let request = ProvideRequest {
            purpose: PURPOSE_FOUR_ITEMS.into(),
            items: None,
            resident: Some(codes[(i * 7919) % codes.len()].clone()),
            query: None,
        };
        serde_json::to_writer(&mut body, &request)?;
        body.push(b'\n');
    }
    let mut pending = Vec::new();
    let (mut provided, mut other) = (0u64, 0u64);
    let mut first_error = None;
    let started = Instant::now();
    {
        let mut sink = |chunk: &[u8]| {
            pending.extend_from_slice(chunk);
            while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                match serde_json::from_slice::<BatchLine>(&line) {
                    Ok(answer) if answer.provided.is_some() => provided += 1,
                    Ok(answer) => {
                        other += 1;
                        first_error.get_or_insert_with(|| format!("{:?}", answer.error));
                    }
                    Err(e) => {
                        other += 1;
                        first_error.get_or_insert_with(|| e.to_string());
                    }
                }
            }
        };
        client
            .post_streamed(
                &format!("{base}/v1/provide/batch"),
                body,
                "application/jsonl",
                &expect,
                &mut sink,
            )
            .await?;
    }
    let took = started.elapsed();
    ensure!(
        other == 0 && provided == lines as u64,
        "the batch answered {provided} of {lines} lines; {other} otherwise, the first: {}",
        first_error.unwrap_or_default()
    );
    Ok((provided, took))
}

/// The four-item search, one at a time over one connection, when the node serves it: its
/// p50 and p99 latency and how many were measured; and the provisions it gave.
async fn matches(
    base: &str,
    files: &net::TlsFiles,
    agency: &client::agency::Agency,
    codes: &[String],
    count: usize,
) -> Result<(std::result::Result<(Duration, Duration, u64), String>, u64)> {
    let client = net::Client::new(files)?;
    let expect = net::Expect::named(Some("urn:juki:national"))?;
    let url = format!("{base}/v1/provide/match");
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut given = 0u64;
    for i in 0..count {
        // The four items of a known resident, as the agency would have them.
        let code = &codes[(i * 104_729) % codes.len()];
        let record = agency
            .provide(code, PURPOSE_FOUR_ITEMS, None)
            .await?
            .map_err(|refused| anyhow::anyhow!("the node refused: {}", refused.text()))?;
        given += 1;
        let query = FourItems {
            name: record.name.clone().unwrap_or_default(),
            reading: String::new(),
            birth: record.birth.clone().unwrap_or_default(),
            sex: record.sex.clone().unwrap_or_default(),
            address: record.address.clone().unwrap_or_default(),
        };
        let request = ProvideRequest {
            purpose: PURPOSE_FOUR_ITEMS.into(),
            items: None,
            resident: None,
            query: Some(query),
        };
        let asked = Instant::now();
        let answer = client.post_answer(&url, serde_json::to_vec(&request)?, &expect).await?;
        let took = asked.elapsed();
        if matches!(answer.status.as_u16(), 404 | 405) {
            return Ok((
                Err(format!(
                    "not measured: the node has no /v1/provide/match route (HTTP {})",
                    answer.status.as_u16()
                )),
                given,
            ));
        }
        if !answer.status.is_success() {
            return Ok((
                Err(format!("not measured: the search was refused: {}", answer.text())),
                given,
            ));
        }
        // Each candidate named is a provision of its code, and the confident match, provided,
        // one more: a town with namesakes names several.
        let matched: wire::provide::Matched =
            serde_json::from_slice(&answer.body).context("a match's answer")?;
        given += matched.candidates.len() as u64 + u64::from(matched.provided.is_some());
        latency.record(took.as_micros().max(1) as u64)?;
    }
    let p = |q| Duration::from_micros(latency.value_at_quantile(q));
    Ok((Ok((p(0.5), p(0.99), latency.len())), given))
}

/// The machine's load average over the last minute, from `/proc/loadavg`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

/// CPU seconds (user + system) process `pid` has used, from `/proc`.
pub(crate) fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading the CPU time of process {pid}"))?;
    // The fields after the command, which is in parentheses and may hold spaces.
    let after = stat.rsplit_once(')').context("a /proc stat line")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64> {
        Ok(fields.get(i).context("a /proc stat field")?.parse::<u64>()? as f64)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command.
    Ok((ticks(11)? + ticks(12)?) / clock_ticks()?)
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`).
fn clock_ticks() -> Result<f64> {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    if let Some(ticks) = TICKS.get() {
        return Ok(*ticks);
    }
    let output = Command::new("getconf").arg("CLK_TCK").output().context("running getconf")?;
    let ticks: f64 =
        String::from_utf8_lossy(&output.stdout).trim().parse().context("getconf CLK_TCK")?;
    Ok(*TICKS.get_or_init(|| ticks))
}

fn summary(measured: &Measured, pg: &Result<crate::peers::Pgbench>, options: &Options) {
    println!(
        "summary (the national node's provision log was durable during the run: every answer was recorded"
    );
    println!(
        "in node.db's provision log, WAL with synchronous = FULL, committed — fsynced — before it left)"
    );
    println!();
    println!("  {:<52} {:>12} {:>10} {:>10}", "", "rate", "p50", "p99");
    let row = |what: &str, lookups: &Lookups| {
        println!(
            "  {what:<52} {:>8.0} /s  {:>7.2} ms {:>7.2} ms",
            lookups.rate(),
            ms(lookups.p(0.5)),
            ms(lookups.p(0.99))
        );
    };
    row(
        &format!("juki lookup by code, {PURPOSE_FOUR_ITEMS}, {} conns", options.connections),
        &measured.narrow,
    );
    row(
        &format!("juki lookup by code, {PURPOSE_WHOLE}, {} conns", options.connections),
        &measured.whole,
    );
    if let Some(open) = &measured.open {
        println!(
            "  {:<52} {:>8.0} /s  {:>7.2} ms {:>7.2} ms",
            format!("juki lookup by code, open loop at {:.0}/s offered", options.open_rate),
            open.rate(),
            ms(open.p(0.5)),
            ms(open.p(0.99))
        );
    }
    if let Some((lines, took)) = measured.batch {
        println!("  {:<52} {:>8.0} /s", format!("juki batch of {lines} lines"), rate(lines, took));
    }
    match &measured.matched {
        Ok((p50, p99, _)) => println!(
            "  {:<52} {:>10} {:>7.2} ms {:>7.2} ms",
            "juki four-item search",
            "",
            ms(*p50),
            ms(*p99)
        ),
        Err(why) => println!("  {:<52} {why}", "juki four-item search"),
    }
    match pg {
        Ok(pg) => {
            println!("  {:<52} {:>8.0} /s  (average {:.2} ms)", pg.command, pg.tps, pg.latency_ms);
            println!();
            println!(
                "  juki lookups / pgbench -S: {:.2} ({PURPOSE_FOUR_ITEMS}), {:.2} ({PURPOSE_WHOLE}); aim >= 0.5",
                measured.narrow.rate() / pg.tps,
                measured.whole.rate() / pg.tps
            );
        }
        Err(e) => println!("  pgbench: not measured: {e:#}"),
    }
    // The rate is the closed loop's; the p99 the open loop's at the target's rate or more
    // (the latency a steady stream of requests sees), else the closed loop's.
    let (p99, from) = match &measured.open {
        Some(open) if options.open_rate >= TARGET_RATE => (open.p(0.99), "open loop"),
        _ => (measured.narrow.p(0.99), "closed loop"),
    };
    let met = measured.narrow.rate() >= TARGET_RATE && p99 < TARGET_P99;
    println!(
        "  target: >= {TARGET_RATE:.0} lookups/s with p99 < {} ms: {} (p99 {:.2} ms, {from})",
        TARGET_P99.as_millis(),
        if met { "met" } else { "NOT MET" },
        ms(p99)
    );
}
