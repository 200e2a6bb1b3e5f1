//! `juki bench registry`: how fast a municipality's registry validates and durably applies
//! signed changes, and how fast it answers lookups with a million residents.
//!
//! Every change is a real signed `juki.change/v1` event, checked by the same rules as at the
//! counter (signature, authority, state machine) and written with its log entry and derived
//! rows in a transaction. The events are signed before the clock starts: signing is the
//! clerks' work, not the node's. This machine's Ed25519 verification rate is measured in the
//! same run as the bound: every change costs at least one verification.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};
use registry_core::event::{Change, CodeBlock, Enrolment, Event, Genesis, Role};
use registry_core::time::Timestamp;
use registry_domain::{ChangeReason, MunicipalityCode, ResidentCode};
use registry_store::Registry;
use tlog::note::{KeyKind, Note, Signer};

use crate::bench_log::tempfile_dir;
use crate::figures::{Aim, Peer, Target, goal, line, rate};

/// The `i`-th synthetic resident of `municipality` (see `crate::synthetic`), born under `code`.
pub(crate) fn birth(
    municipality: MunicipalityCode,
    code: ResidentCode,
    i: u64,
    time: Timestamp,
) -> Result<Event> {
    let record = crate::synthetic::synthetic(code, municipality, i, ChangeReason::Birth, None)?;
    Ok(Event::Change(Change {
        municipality,
        record,
        previous_code: None,
        moved_to: None,
        move_out: None,
        activation: None,
        time,
    }))
}

pub(crate) fn signed(event: &Event, signer: &Signer) -> Result<Vec<u8>> {
    let mut note = Note::new(event.to_text())?;
    note.sign(signer)?;
    Ok(note.to_bytes())
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub fn run(residents: u64, batch: usize) -> Result<ExitCode> {
    ensure!(residents >= 10_000 && batch >= 1, "--residents must be at least 10000");
    let temp = tempfile_dir()?;
    let municipality = MunicipalityCode::parse("204072")?;
    let now = Timestamp::from_unix(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs(),
    );
    println!(
        "juki bench registry: {residents} residents of {} ({}), batches of {batch}, in {}",
        municipality,
        municipality.name(),
        temp.path().display()
    );

    // The bound: Ed25519 verifications per second on one core.
    let probe = Signer::from_seed("bench.juki.test/probe", KeyKind::Ed25519, [9; 32])?;
    let probe_note =
        signed(&birth(municipality, ResidentCode::from_ten_digits(1)?, 1, now)?, &probe)?;
    let known: tlog::note::Verifiers = [probe.verifier()].into_iter().collect();
    let n = 20_000u64;
    let start = Instant::now();
    for _ in 0..n {
        tlog::note::open(std::hint::black_box(&probe_note), &known)?;
    }
    let verify_rate = rate(n, start.elapsed());
    line(
        "Ed25519 note verifications (1 core)",
        verify_rate,
        "per s",
        "the bound for one signature each",
    );

    let national = Signer::from_seed("national.bench.juki.test", KeyKind::Ed25519, [1; 32])?;
    let admin = Signer::from_seed("admin.204072.bench.juki.test", KeyKind::Ed25519, [2; 32])?;
    let clerk = Signer::from_seed("op.204072.bench.juki.test/clerk", KeyKind::Ed25519, [3; 32])?;
    let mut registry =
        Registry::create(&temp.path().join("registry.db"), municipality, &national.verifier())?;
    let first = 1_000_000_000u64;
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
                count: (2 * residents).min(registry_core::event::MAX_BLOCK),
                time: now,
            }),
            &national,
        )?,
    ];
    for note in &setup {
        registry.submit(note, now)?;
    }

    // Sign every birth first (the clerks' side), in parallel.
    let start = Instant::now();
    let notes: Vec<Vec<u8>> = {
        use rayon::prelude::*;
        (0..residents)
            .into_par_iter()
            .map(|i| {
                let code = ResidentCode::from_ten_digits(first + 2 * i)?;
                signed(&birth(municipality, code, i, now)?, &clerk)
            })
            .collect::<Result<_>>()?
    };
    println!("  (signed {residents} births in {:.1}s, not counted)", start.elapsed().as_secs_f64());

    // One transaction per change, for a sample: what a single clerk's change costs.
    let sample = 2_000usize.min(notes.len() / 10);
    let start = Instant::now();
    for note in &notes[..sample] {
        registry.submit(note, now)?;
    }
    line(
        "changes validated and applied, 1 per transaction",
        rate(sample as u64, start.elapsed()),
        "changes/s",
        "one fsync each",
    );
    // Group commit: many changes per transaction.
    let start = Instant::now();
    for chunk in notes[sample..].chunks(batch) {
        let refs: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
        for result in registry.submit_many(&refs, now)? {
            if let Err(refusal) = result {
                bail!("a benchmark change was refused: {refusal}");
            }
        }
    }
    let applied = (notes.len() - sample) as u64;
    let apply_rate = rate(applied, start.elapsed());
    goal(
        &format!("changes validated and applied, {batch} per transaction"),
        apply_rate,
        "changes/s",
        &format!("{:.0}% of one core's Ed25519 bound", 100.0 * apply_rate / verify_rate),
        Aim::of(3, Target::AtLeast(5_000.0)).and_versus(Peer::OpensslEd25519Verify),
    );
    drop(notes);

    // Lookups with every resident registered.
    let mut by_code = Vec::with_capacity(10_000);
    for k in 0..10_000u64 {
        let i = k.wrapping_mul(2_654_435_761) % residents;
        let code = ResidentCode::from_ten_digits(first + 2 * i)?;
        let start = Instant::now();
        let found = registry.resident(code)?;
        by_code.push(start.elapsed());
        ensure!(found.is_some(), "resident {i} not found");
    }
    by_code.sort();
    let mut by_reading = Vec::with_capacity(10_000);
    let people = crate::synthetic::generator(municipality)?;
    for k in 0..10_000u64 {
        let i = k.wrapping_mul(40_503) % residents;
        let person = people.person(i)?;
        let reading = person.name.reading().as_str();
        let start = Instant::now();
        let found = registry.search(Some(reading), None, 10)?;
        by_reading.push(start.elapsed());
        ensure!(!found.is_empty(), "reading {i} not found");
    }
    by_reading.sort();
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    for (what, latencies) in [
        ("lookup by resident code", &by_code),
        ("search by name reading (exact, folded)", &by_reading),
    ] {
        line(
            &format!("{what}, p99"),
            micros(percentile(latencies, 0.99)),
            "µs",
            &format!("p50 {:.0} µs", micros(percentile(latencies, 0.5))),
        );
    }
    Ok(ExitCode::SUCCESS)
}
