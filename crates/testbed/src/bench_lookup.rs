//! `juki bench lookup`: what proving a record costs a lookup, beside the plain lookup measured in
//! the same run and this machine's Ed25519 verification rate.
//!
//! The registry is a town's as its node holds it: real signed births, applied by the rules,
//! integrated into tiles with a checkpoint signed by the node key and cosigned by a witness
//! (quorum 1), so that every proof carries a witness cosignature to check, as in the network.
//! Three loops run on one core over the same random resident codes:
//!
//! 1. without proofs: `Registry::resident`, what a node answered before lookups were proven;
//! 2. proven: `node::proof::prove`, what a node does before it serves a lookup (the events the
//!    record rests on, their receipts against the witnessed checkpoint — kept per checkpoint,
//!    as a node keeps them — and `evidence::verify`), with its first two parts also timed alone;
//! 3. the client's check alone: `evidence::verify` of receipts already made, what the clerk's
//!    client and an agency's client add to every answer.
//!
//! A proof rests on a few signatures (the checkpoint's, the witness's cosignature, and those of
//! the change, its signers' enrolments and the genesis), and the code may check some of them
//! more than once. The run prints both counts and the time each loop costs in signature checks
//! at this machine's rate (`tlog::note::open`, measured on the same thread just before and after
//! the loops; `openssl speed ed25519` beside it): that is what bounds a proven lookup.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use registry_core::event::{CodeBlock, Enrolment, Event, Genesis, Role};
use registry_core::evidence::{self, TownTrust};
use registry_core::time::Timestamp;
use registry_domain::{MunicipalityCode, ResidentCode};
use registry_store::{LoggedEvent, Registry};
use tlog::checkpoint::Policy;
use tlog::note::{KeyKind, Note, Signer};
use tlog::receipt::Receipt;
use tlog_store::integrate::{Integration, NoteSigner, integrate};
use tlog_store::tiledir::TileDir;

use crate::bench_log::tempfile_dir;
use crate::bench_network::note_open_rate;
use crate::bench_registry::{birth, percentile, signed};
use crate::figures::{line, rate};

/// `juki bench lookup`'s options.
pub struct Options {
    /// Residents registered before the lookups are measured.
    pub residents: u64,
    /// Lookups measured in each loop.
    pub lookups: usize,
    /// Seconds `openssl speed` runs.
    pub openssl_seconds: u64,
}

/// One loop's figures.
struct Figures {
    /// Lookups per second over the whole loop.
    rate: f64,
    p50: Duration,
    p99: Duration,
}

impl Figures {
    /// Prints the row, and records its rate and p99 for `juki bench`'s table (not printed
    /// again).
    fn print(&self, name: &str, note: &str) {
        println!(
            "{name:<44} {:>10.0} {:>9.1} {:>9.1}   {note}",
            self.rate,
            micros(self.p50),
            micros(self.p99)
        );
        let name = name.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == ' ');
        crate::figures::record_only(name, self.rate, "lookups/s", note);
        crate::figures::record_only(
            &format!("{name}, p99"),
            micros(self.p99),
            "µs",
            &format!("p50 {:.1} µs", micros(self.p50)),
        );
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Runs `each` for every item of `items` on this thread, after a short unmeasured warm-up over
/// the first ones, and returns the rate and latency percentiles.
fn measure<T>(items: &[T], mut each: impl FnMut(&T) -> Result<()>) -> Result<Figures> {
    for item in &items[..(items.len() / 20).max(1)] {
        each(item)?;
    }
    let mut latencies = Vec::with_capacity(items.len());
    let start = Instant::now();
    for item in items {
        let t = Instant::now();
        each(item)?;
        latencies.push(t.elapsed());
    }
    let elapsed = start.elapsed();
    latencies.sort();
    Ok(Figures {
        rate: rate(items.len() as u64, elapsed),
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
    })
}

/// A town's registry (its database) with `residents` births, its tiles and the checkpoint a
/// witness cosigned, and the registration a client checks its records with.
pub(crate) struct Town {
    pub(crate) database: std::path::PathBuf,
    tiles: TileDir,
    trust: TownTrust,
    size: u64,
}

pub(crate) fn build(
    dir: &std::path::Path,
    residents: u64,
    first: u64,
    now: Timestamp,
) -> Result<Town> {
    let municipality = MunicipalityCode::parse("204072")?;
    let origin = format!("bench.juki.test/registry/{municipality}");
    let national = Signer::from_seed("national.bench.juki.test", KeyKind::Ed25519, [1; 32])?;
    let admin = Signer::from_seed("admin.204072.bench.juki.test", KeyKind::Ed25519, [2; 32])?;
    let clerk = Signer::from_seed("op.204072.bench.juki.test/clerk", KeyKind::Ed25519, [3; 32])?;
    let node_key = Signer::from_seed(&origin, KeyKind::Ed25519, [4; 32])?;
    let witness = Signer::from_seed("witness.bench.juki.test", KeyKind::Cosignature, [5; 32])?;
    let database = dir.join("registry.db");
    let mut registry = Registry::create(&database, municipality, &national.verifier())?;
    let setup = [
        signed(
            &Event::Genesis(Genesis { municipality, admin: admin.verifier(), time: now }),
            &admin,
        )?,
        signed(
            &Event::Enrolment(Enrolment {
                municipality,
                operator: clerk.verifier(),
                role: Role::Clerk,
                time: now,
            }),
            &admin,
        )?,
        signed(
            &Event::CodeBlock(CodeBlock {
                municipality,
                first,
                count: residents.min(registry_core::event::MAX_BLOCK),
                time: now,
            }),
            &national,
        )?,
    ];
    for note in &setup {
        registry.submit(note, now)?;
    }

    let start = Instant::now();
    let notes: Vec<Vec<u8>> = {
        use rayon::prelude::*;
        (0..residents)
            .into_par_iter()
            .map(|i| {
                signed(
                    &birth(municipality, ResidentCode::from_ten_digits(first + i)?, i, now)?,
                    &clerk,
                )
            })
            .collect::<Result<_>>()?
    };
    let signing = start.elapsed();
    let start = Instant::now();
    for chunk in notes.chunks(1_000) {
        let refs: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
        for result in registry.submit_many(&refs, now)? {
            if let Err(refusal) = result {
                bail!("a benchmark birth was refused: {refusal}");
            }
        }
    }
    let applying = start.elapsed();
    drop(notes);

    // Integrated as the town's node does, with its witness's cosignature on the checkpoint
    // before it is published.
    let start = Instant::now();
    let tiles = TileDir::new(dir.join("tlog"));
    let log_key = node_key.verifier();
    let signer = NoteSigner::new(node_key)?;
    let mut cosign = |integration: &Integration| {
        let note = Note::parse(&integration.checkpoint)
            .map_err(|e| tlog_store::Error::Checkpoint(e.to_string()))?;
        let time = now.unix();
        let cosignature = tlog::cosignature::cosign(&witness, note.text(), time)
            .map_err(|e| tlog_store::Error::Checkpoint(e.to_string()))?;
        tlog::note::append_signatures(&integration.checkpoint, &[cosignature])
            .map_err(|e| tlog_store::Error::Checkpoint(e.to_string()))
    };
    let integration = integrate(&*registry.connection(), &tiles, &signer, &mut cosign)?;
    println!(
        "  (signed {residents} births in {:.1}s, applied them in {:.1}s, integrated {} entries \
         with a witness's cosignature in {:.1}s: not counted)",
        signing.as_secs_f64(),
        applying.as_secs_f64(),
        integration.size,
        start.elapsed().as_secs_f64()
    );
    let trust = TownTrust {
        municipality,
        origin,
        policy: Policy { log_keys: vec![log_key], witnesses: vec![witness.verifier()], quorum: 1 },
        admin: admin.verifier(),
    };
    Ok(Town { database, tiles, trust, size: integration.size })
}

/// Signature lines in a signed note.
fn signatures(note: &[u8]) -> Result<usize> {
    Ok(Note::parse(note)?.signatures().len())
}

/// What one proof's signatures are: the distinct ones it rests on, and the checks the code makes
/// today (`evidence::verify` checks the checkpoint the receipts share once, with all its
/// signatures, and each event's signatures; `prove` finds the change's signers by their
/// signature lines without checking them, and opens the published checkpoint with the log key
/// alone once per checkpoint, not once per lookup: its receipts are kept per checkpoint, and
/// `evidence::verify_with` remembers the checkpoint's, the genesis's and the enrolments'
/// checks that passed, so once warm it checks the change's own signatures alone).
struct Checks {
    /// Signatures on the checkpoint (the log's and the witnesses').
    checkpoint: usize,
    /// Distinct signatures: the checkpoint's (log and witnesses) once, and every event's.
    distinct: usize,
    /// Checks `evidence::verify` makes.
    verify: usize,
    /// Checks `node::proof::prove` makes.
    prove: usize,
}

fn checks(receipts: &[Receipt]) -> Result<Checks> {
    let first = receipts.first().context("a proof without receipts")?;
    let checkpoint = signatures(&first.checkpoint)?;
    ensure!(
        receipts.iter().all(|r| r.checkpoint == first.checkpoint),
        "the receipts of one proof name different checkpoints"
    );
    let mut events = 0;
    for receipt in receipts {
        events += signatures(receipt.extra.as_deref().context("a receipt without its event")?)?;
    }
    let verify = checkpoint + events;
    let change = signatures(first.extra.as_deref().context("a receipt without its event")?)?;
    Ok(Checks { checkpoint, distinct: checkpoint + events, verify, prove: change })
}

pub fn run(options: Options) -> Result<ExitCode> {
    ensure!(
        (1_000..=registry_core::event::MAX_BLOCK).contains(&options.residents),
        "--residents must be 1000 to {} (one code block)",
        registry_core::event::MAX_BLOCK
    );
    ensure!(options.lookups >= 100, "--lookups must be at least 100");
    let temp = tempfile_dir()?;
    let now = Timestamp::from_unix(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs(),
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "juki bench lookup: {} residents, {} lookups per figure on 1 core (of {cores}), in {}",
        options.residents,
        options.lookups,
        temp.path().display()
    );

    // The bound.
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

    let first = 1_000_000_000u64;
    let town = build(temp.path(), options.residents, first, now)?;

    // The same random residents for every loop.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let codes: Vec<ResidentCode> = (0..options.lookups)
        .map(|_| {
            // SplitMix64.
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            ResidentCode::from_ten_digits(first + (z ^ (z >> 31)) % options.residents)
        })
        .collect::<Result<_, _>>()?;

    // Every loop runs on the one thread of a one-thread rayon pool, so that the tile reads
    // `dir::receipts` hands to rayon stay on this core too; the registry is opened again there
    // (a connection stays on its thread).
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let Town { database, tiles, trust, size } = town;
    // This machine's rate of juki's own signature checks, measured on that thread just before
    // and just after the loops, so that it shares their conditions.
    let (before, m, after) = pool.install(|| -> Result<_> {
        let before = note_open_rate()?;
        let m = measure_all(&Registry::open(&database)?, &tiles, &trust, &codes)?;
        Ok((before, m, note_open_rate()?))
    })?;
    let note_rate = (before + after) / 2.0;
    line(
        "Ed25519 note verifications (1 core)",
        note_rate,
        "verifies/s",
        &format!(
            "tlog::note::open, one signature: juki's path ({before:.0} before the loops, \
             {after:.0} after)"
        ),
    );

    println!();
    println!(
        "a proof: {} receipts (the change, its signer's enrolment, the genesis) against a \
         checkpoint of size {size} cosigned by 1 witness, up to {} hashes per inclusion proof",
        m.receipts, m.hashes
    );
    println!(
        "  it rests on {} signatures (the checkpoint's {}, one on each event); \
         evidence::verify makes {} checks (the checkpoint's once for the receipts that share \
         it), node::proof::prove {} once warm (the change's: it finds the change's signers by their \
         signature lines, reads the checkpoint's size once per checkpoint, and remembers the \
         checkpoint's, the genesis's and the enrolments' checks that passed)",
        m.checks.distinct, m.checks.checkpoint, m.checks.verify, m.checks.prove
    );

    println!();
    println!(
        "{:<44} {:>10} {:>9} {:>9}",
        "lookups of random residents, 1 core", "lookups/s", "p50 µs", "p99 µs"
    );
    m.plain.print("1. without proofs: Registry::resident", "the record, as nodes answered before");
    m.proven.print("2. proven: node::proof::prove", "what a node does before it serves");
    m.gather.print("   2a. its part Registry::evidence_events", "SQLite reads, no signature check");
    m.make.print(
        "   2b. its part dir::receipts_with",
        "inclusion proofs from the tiles, kept per checkpoint",
    );
    m.client.print(
        "3. client's check: evidence::verify",
        "prove's last part; what the clerk's and agency's clients add",
    );
    println!(
        "(2)/(1) = {:.4}: a proven lookup takes {:.0}× the time of a plain one",
        m.proven.rate / m.plain.rate,
        m.plain.rate / m.proven.rate
    );

    println!();
    println!(
        "what bounds it: Ed25519 verification, {note_rate:.0}/s on 1 core here \
         (tlog::note::open, above)"
    );
    let bound = |checks: usize| note_rate / checks as f64;
    let show = |name: &str, figures: &Figures, checks: usize| {
        line(
            name,
            bound(checks),
            "lookups/s",
            &format!(
                "its {checks} checks alone; measured {:.0}% of it: {:.1} checks' time per lookup",
                100.0 * figures.rate / bound(checks),
                note_rate / figures.rate
            ),
        )
    };
    show("  (3) bound by its signature checks", &m.client, m.checks.verify);
    show("  (2) bound by its signature checks", &m.proven, m.checks.prove);
    line(
        "  each signature checked once",
        bound(m.checks.distinct),
        "lookups/s",
        &format!("{} checks, the signatures a proof rests on", m.checks.distinct),
    );
    if let Ok(openssl) = openssl {
        line(
            "  the same at openssl's rate",
            openssl / m.checks.distinct as f64,
            "lookups/s",
            &format!("openssl verifies {:.2}× as fast as juki's path here", openssl / note_rate),
        );
    }
    println!(
        "  (3) is nearly all signature checks. The rest of (2) is 2b's inclusion proofs, mostly \
         SHA-256 (a tile keeps only its bottom row of hashes, so a proof re-hashes up to a few \
         hundred per tile level; the genesis's and the enrolments' are made once per \
         checkpoint and kept, the change's for each lookup), and 2a's SQLite reads; (1) checks \
         nothing."
    );
    Ok(ExitCode::SUCCESS)
}

/// The figures of every loop, and what one proof is made of.
struct Measured {
    plain: Figures,
    proven: Figures,
    gather: Figures,
    make: Figures,
    client: Figures,
    checks: Checks,
    receipts: usize,
    hashes: usize,
}

fn measure_all(
    registry: &Registry,
    tiles: &TileDir,
    trust: &TownTrust,
    codes: &[ResidentCode],
) -> Result<Measured> {
    let plain = measure(codes, |&code| {
        ensure!(registry.resident(code)?.is_some(), "resident {code} not found");
        Ok(())
    })?;

    let mut receipts: Vec<Vec<Receipt>> = Vec::with_capacity(codes.len() * 21 / 20 + 1);
    // As a node does: the receipts made against the checkpoint are kept for the next lookups
    // (the genesis and the enrolments are in every proof).
    let cache = registry_store::dir::ReceiptCache::default();
    let proven =
        measure(codes, |&code| match node::proof::prove(registry, tiles, &cache, trust, code) {
            Ok(proven) => {
                ensure!(proven.record.resident_code == code, "{code}: another resident proven");
                receipts.push(proven.receipts);
                Ok(())
            }
            Err(e) => bail!("{code} was not proven: {e:?}"),
        })?;

    // `prove`'s first two parts alone: the events from the database, and their receipts from
    // the tiles (with the published checkpoint's signature check).
    let gather = measure(codes, |&code| {
        ensure!(registry.evidence_events(code)?.is_some(), "resident {code} not found");
        Ok(())
    })?;
    let events: Vec<Vec<LoggedEvent>> = codes
        .iter()
        .map(|&code| registry.evidence_events(code)?.context("a resident without events"))
        .collect::<Result<_>>()?;
    let vkey = trust.policy.log_keys.first().context("no log key")?;
    let cache = registry_store::dir::ReceiptCache::default();
    let make = measure(&events, |events| {
        registry_store::dir::receipts_with(tiles, vkey, &trust.origin, events, &cache)?;
        Ok(())
    })?;
    drop(events);

    // The receipts the lookups above served, checked again as a client does.
    let client = measure(&receipts, |receipts| {
        evidence::verify(receipts, trust)?;
        Ok(())
    })?;

    let first = receipts.first().context("no lookup was proven")?;
    Ok(Measured {
        plain,
        proven,
        gather,
        make,
        client,
        checks: checks(first)?,
        receipts: first.len(),
        hashes: first.iter().map(|r| r.proof.len()).max().unwrap_or(0),
    })
}
