//! `juki synth`: a realistic synthetic population for any set of municipalities, written as
//! registry directories (every resident a signed birth, `testbed::populate`) or printed as JSON
//! Lines. The people come from the `synth` crate; its `data/` files name their sources.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use registry_domain::{Date, MunicipalityCode};

/// What `juki synth` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One registry directory per town under --out, and their keys under --out/keys.
    Registry,
    /// One JSON object per resident on stdout (the fields of `juki resident show --json`).
    Jsonl,
}

/// `juki synth`'s arguments.
#[derive(Args)]
pub struct SynthArgs {
    /// The municipalities, by code, comma-separated (e.g. 202011,202029).
    #[arg(long, value_delimiter = ',', required_unless_present = "all", conflicts_with = "all")]
    towns: Vec<String>,
    /// Every municipality and ward in the table (a designated city is populated through its
    /// wards, not as a whole).
    #[arg(long)]
    all: bool,
    /// How many residents in all, split evenly over the towns (default 1000 per town). No
    /// package registry ships a licensed table of municipal populations, so towns are not
    /// scaled to their real size.
    #[arg(long)]
    residents: Option<u64>,
    /// The seed: the same seed, towns and count make the same people and codes.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The day ages are counted at (YYYY-MM-DD; default today, UTC).
    #[arg(long, value_name = "DATE")]
    as_of: Option<String>,
    /// The directory to write the registries in (with --format registry).
    #[arg(long, value_name = "DIR", required_if_eq("format", "registry"))]
    out: Option<PathBuf>,
    /// What to write.
    #[arg(long, value_enum, default_value_t = Format::Registry)]
    format: Format,
}

/// The towns of `--all`: every entry of the table but a designated city as a whole.
fn every_town() -> Vec<MunicipalityCode> {
    let all: Vec<MunicipalityCode> = MunicipalityCode::all().collect();
    all.iter()
        .copied()
        .filter(|city| {
            let prefix = format!("{} ", city.name());
            !all.iter().any(|ward| ward.name().starts_with(&prefix))
        })
        .collect()
}

pub fn run(args: SynthArgs) -> Result<ExitCode> {
    let towns = if args.all {
        every_town()
    } else {
        args.towns
            .iter()
            .map(|t| crate::registry_cmd::parse_municipality("--towns", t.trim()))
            .collect::<Result<Vec<_>>>()?
    };
    let residents = args.residents.unwrap_or(1_000 * towns.len() as u64);
    let as_of = match &args.as_of {
        Some(text) => Date::parse(text).map_err(|e| anyhow::anyhow!("--as-of {text:?}: {e}"))?,
        None => testbed::synthetic::today()?,
    };
    if as_of > testbed::synthetic::today()? {
        bail!("--as-of is in the future: a birth is registered only after it happens");
    }
    let plans = testbed::populate::plan(&towns, residents)?;
    match args.format {
        Format::Jsonl => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            testbed::populate::write_jsonl(&plans, args.seed, as_of, &mut out)?;
        }
        Format::Registry => {
            let Some(out) = args.out else { bail!("--format registry needs --out DIR") };
            eprintln!(
                "juki synth: {residents} residents in {} town{} (seed {}, ages at {as_of}) into {}",
                plans.len(),
                if plans.len() == 1 { "" } else { "s" },
                args.seed,
                out.display()
            );
            let written = testbed::populate::write_registries(&out, &plans, args.seed, as_of)?;
            let secs = written.elapsed.as_secs_f64();
            for (plan, dir) in plans.iter().zip(&written.dirs) {
                println!(
                    "{} {} {} residents {}",
                    plan.town,
                    plan.town.name().replace(' ', ""),
                    plan.residents,
                    dir.display()
                );
            }
            println!(
                "{} residents registered in {:.1} s: {:.0} residents/s (signed births, decided \
                 by the rules, checkpointed)",
                written.residents,
                secs,
                written.residents as f64 / secs.max(1e-9)
            );
            println!(
                "keys (national, admin and clerks, unsealed) in {}",
                out.join("keys").display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
