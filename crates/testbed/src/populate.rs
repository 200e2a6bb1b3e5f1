//! `juki synth`'s work: a synthetic population written as real registry directories, one per
//! municipality, every resident a birth signed by one of the town's synthetic clerks and
//! decided by the same rules as at the counter; or the same records as JSON Lines.
//!
//! Under the output directory: `CODE/` for each town (what `juki init municipal` makes:
//! `registry.toml`, `registry.db`, `node.key`, `tlog/`, checkpointed), and `keys/` with the
//! national key that signed every town's code block, each town's admin key and its clerks' keys
//! (unsealed: synthetic keys for tests and benchmarks). Resident codes come from one block per
//! town, the blocks one after another from [`FIRST_CODE`], so every code is unique nationwide;
//! within its block a town hands them out in a scrambled order, as a real pool does.
//!
//! Signing and applying overlap: one thread signs the next chunk on every core while this one
//! applies the last in one transaction (`Registry::submit_many`).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use registry_core::event::{Change, CodeBlock, Enrolment, Event, Genesis, MAX_BLOCK, Role};
use registry_core::time::Timestamp;
use registry_domain::{ChangeReason, Date, MunicipalityCode, ResidentCode};
use registry_store::Registry;
use registry_store::dir::{
    self as registrydir, CONFIG, DATABASE, NODE_KEY, RegistryConfig, RegistryDir,
};
use tlog::note::{KeyKind, Note, Signer};
use zeroize::Zeroizing;

/// The ten-digit base of the first town's first code.
pub const FIRST_CODE: u64 = 1_000_000_000;

/// How many synthetic clerks each town enrols; births are spread over them.
pub const CLERKS: u64 = 4;

/// Births signed and applied together.
const CHUNK: u64 = 8_192;

/// One town's share of the population and its code block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TownPlan {
    /// The municipality.
    pub town: MunicipalityCode,
    /// How many residents it gets.
    pub residents: u64,
    /// Its code block's first ten-digit base.
    pub first: u64,
    /// Its code block's size: the residents and a tenth more for the births still to come.
    pub count: u64,
}

impl TownPlan {
    /// The code of the town's `k`-th resident: a scramble of the block (`k` times a number prime
    /// to the block's size, modulo the size), so consecutive residents do not hold
    /// consecutive codes, and no two the same.
    pub fn code(&self, k: u64) -> Result<ResidentCode> {
        ensure!(k < self.count, "resident {k} is beyond the town's code block");
        let gcd = |mut a: u64, mut b: u64| {
            while b != 0 {
                (a, b) = (b, a % b);
            }
            a
        };
        let step = (1_000_003u64..).find(|&p| gcd(p, self.count) == 1).unwrap_or(1);
        let offset = ((u128::from(k) * u128::from(step)) % u128::from(self.count)) as u64;
        Ok(ResidentCode::from_ten_digits(self.first + offset)?)
    }
}

/// Splits `residents` evenly over `towns` (the first towns get one more when it does not divide)
/// and gives each a code block after the last. No licensed table of municipal populations is
/// shipped by a package registry, so the split is even rather than by real population.
pub fn plan(towns: &[MunicipalityCode], residents: u64) -> Result<Vec<TownPlan>> {
    ensure!(!towns.is_empty(), "no municipality to populate");
    let mut seen = std::collections::HashSet::new();
    let n = towns.len() as u64;
    let mut first = FIRST_CODE;
    let mut plans = Vec::with_capacity(towns.len());
    for (t, &town) in towns.iter().enumerate() {
        ensure!(seen.insert(town), "municipality {town} is named twice");
        let share = residents / n + u64::from((t as u64) < residents % n);
        let count = (share + share / 10 + 10).min(MAX_BLOCK);
        ensure!(
            share <= count,
            "{share} residents for {town} are more than one code block ({MAX_BLOCK}) holds"
        );
        ensure!(
            first + count <= 10_000_000_000,
            "the towns' code blocks do not fit in the ten-digit range"
        );
        plans.push(TownPlan { town, residents: share, first, count });
        first += count;
    }
    Ok(plans)
}

/// The records of `plan`'s residents, generated with `seed`, as JSON Lines (`wire`'s
/// `RecordJson`), in order.
pub fn write_jsonl(
    plans: &[TownPlan],
    seed: u64,
    as_of: Date,
    out: &mut dyn std::io::Write,
) -> Result<u64> {
    let mut written = 0;
    for plan in plans {
        let people = synth::Generator::new(plan.town, seed, as_of)?;
        for start in (0..plan.residents).step_by(CHUNK as usize) {
            let end = (start + CHUNK).min(plan.residents);
            let lines: Vec<String> = {
                use rayon::prelude::*;
                (start..end)
                    .into_par_iter()
                    .map(|k| {
                        let record =
                            people.person(k)?.record(plan.code(k)?, ChangeReason::Birth, None);
                        Ok(serde_json::to_string(&wire::documents::RecordJson::of(&record))?)
                    })
                    .collect::<Result<_>>()?
            };
            for line in lines {
                writeln!(out, "{line}")?;
            }
            written += end - start;
        }
    }
    out.flush()?;
    Ok(written)
}

/// What [`write_registries`] made.
#[derive(Debug, Clone)]
pub struct Written {
    /// Residents registered, over every town.
    pub residents: u64,
    /// The time it took, key generation and checkpoints included.
    pub elapsed: Duration,
    /// Each town's registry directory.
    pub dirs: Vec<PathBuf>,
}

/// A new Ed25519 key named `name`.
fn generate(name: &str) -> Result<Signer> {
    let mut seed = Zeroizing::new([0u8; 32]);
    keyfile::random_bytes(seed.as_mut())?;
    Signer::from_seed(name, KeyKind::Ed25519, *seed)
        .with_context(|| format!("{name:?} cannot be a key name"))
}

fn write_key(path: &Path, signer: &Signer) -> Result<()> {
    keyfile::write_for(path, &signer.to_private_string(), None, &[signer.name()])
        .with_context(|| format!("writing the key file {}", path.display()))
}

fn sign(event: &Event, signer: &Signer) -> Result<Vec<u8>> {
    let mut note = Note::new(event.to_text())?;
    note.sign(signer)?;
    Ok(note.to_bytes())
}

fn now() -> Timestamp {
    crate::synthetic::now()
}

/// Submits notes in one transaction; any refusal is an error naming the town.
fn apply(registry: &mut Registry, notes: &[Vec<u8>], town: MunicipalityCode) -> Result<()> {
    let refs: Vec<&[u8]> = notes.iter().map(Vec::as_slice).collect();
    for result in registry.submit_many(&refs, now())? {
        if let Err(refusal) = result {
            bail!("a synthetic event was refused at {town}: {refusal}");
        }
    }
    Ok(())
}

/// Writes each planned town's registry directory under `out` (which must not hold any of
/// them yet), with the residents `seed` makes registered as signed births. Progress goes to
/// stderr every few seconds.
pub fn write_registries(out: &Path, plans: &[TownPlan], seed: u64, as_of: Date) -> Result<Written> {
    let start = Instant::now();
    let total: u64 = plans.iter().map(|p| p.residents).sum();
    for plan in plans {
        let dir = out.join(plan.town.to_string());
        ensure!(
            !registrydir::holds_registry(&dir),
            "{} already holds a registry; choose a new --out",
            dir.display()
        );
    }
    let keys = out.join("keys");
    keyfile::private::create_dir_all(&keys)
        .with_context(|| format!("creating {}", keys.display()))?;
    let national_path = keys.join("national.key");
    let national = if national_path.exists() {
        let signer = tlog_store::keys::load_signer(&national_path, None)?;
        ensure!(
            signer.kind() == KeyKind::Ed25519,
            "{} is not an Ed25519 key",
            national_path.display()
        );
        signer
    } else {
        let signer = generate("national.synth.juki.test")?;
        write_key(&national_path, &signer)?;
        signer
    };
    let mut done = 0u64;
    let mut last_report = Instant::now();
    let mut dirs = Vec::with_capacity(plans.len());
    for plan in plans {
        let dir = write_town(out, &keys, &national, plan, seed, as_of, &mut |n| {
            done += n;
            if last_report.elapsed() >= Duration::from_secs(2) {
                last_report = Instant::now();
                let secs = start.elapsed().as_secs_f64();
                eprintln!(
                    "juki synth: {done}/{total} residents ({:.0}%), {:.0}/s, {:.0} s",
                    100.0 * done as f64 / total.max(1) as f64,
                    done as f64 / secs,
                    secs
                );
            }
        })?;
        dirs.push(dir);
    }
    Ok(Written { residents: done, elapsed: start.elapsed(), dirs })
}

/// One town's registry directory.
fn write_town(
    out: &Path,
    keys: &Path,
    national: &Signer,
    plan: &TownPlan,
    seed: u64,
    as_of: Date,
    progress: &mut dyn FnMut(u64),
) -> Result<PathBuf> {
    let town = plan.town;
    let dir = out.join(town.to_string());
    let origin = format!("synth.juki.test/registry/{town}");
    keyfile::private::create_dir_all(&dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let admin = generate(&registrydir::admin_key_name(town, &origin))?;
    write_key(&keys.join(format!("admin.{town}.key")), &admin)?;
    let clerks: Vec<Signer> = (0..CLERKS)
        .map(|c| {
            let signer =
                generate(&registrydir::operator_key_name(town, &origin, &format!("clerk{c}")))?;
            write_key(&keys.join(format!("op.{town}.clerk{c}.key")), &signer)?;
            Ok(signer)
        })
        .collect::<Result<_>>()?;
    let node = generate(&origin)?;
    write_key(&dir.join(NODE_KEY), &node)?;

    let mut registry = Registry::create(&dir.join(DATABASE), town, &national.verifier())?;
    let time = now();
    let mut setup = vec![sign(
        &Event::Genesis(Genesis { municipality: town, admin: admin.verifier(), time }),
        &admin,
    )?];
    for clerk in &clerks {
        setup.push(sign(
            &Event::Enrolment(Enrolment {
                municipality: town,
                operator: clerk.verifier(),
                role: Role::Clerk,
                time,
            }),
            &admin,
        )?);
    }
    setup.push(sign(
        &Event::CodeBlock(CodeBlock {
            municipality: town,
            first: plan.first,
            count: plan.count,
            time,
        }),
        national,
    )?);
    apply(&mut registry, &setup, town)?;
    let config = RegistryConfig {
        municipality: town.to_string(),
        origin: origin.clone(),
        key: PathBuf::from(NODE_KEY),
        vkey: node.verifier().to_string(),
        national: national.verifier().to_string(),
    };
    tlog_store::tiledir::write_atomic(
        &dir.join(CONFIG),
        toml::to_string_pretty(&config)?.as_bytes(),
    )?;
    tlog_store::tiledir::sync_dir(&dir)?;

    // One thread signs the next chunk (on every core) while this one applies the last.
    let people = synth::Generator::new(town, seed, as_of)?;
    std::thread::scope(|scope| -> Result<()> {
        let (send, receive) = mpsc::sync_channel::<Result<Vec<Vec<u8>>>>(2);
        let (people, clerks) = (&people, &clerks);
        scope.spawn(move || {
            for start in (0..plan.residents).step_by(CHUNK as usize) {
                let end = (start + CHUNK).min(plan.residents);
                let signed = {
                    use rayon::prelude::*;
                    let time = now();
                    (start..end)
                        .into_par_iter()
                        .map(|k| {
                            let record =
                                people.person(k)?.record(plan.code(k)?, ChangeReason::Birth, None);
                            let event = Event::Change(Change {
                                municipality: town,
                                record,
                                previous_code: None,
                                moved_to: None,
                                move_out: None,
                                activation: None,
                                time,
                            });
                            sign(&event, &clerks[(k % CLERKS) as usize])
                        })
                        .collect::<Result<Vec<_>>>()
                };
                let failed = signed.is_err();
                if send.send(signed).is_err() || failed {
                    return;
                }
            }
        });
        for chunk in receive {
            let chunk = chunk?;
            apply(&mut registry, &chunk, town)?;
            progress(chunk.len() as u64);
        }
        Ok(())
    })?;
    let opened = RegistryDir::open(&dir)?;
    opened.checkpoint(&mut registry)?;
    Ok(dir)
}
