//! `juki disclose CODE`: a resident's disclosure at the counter of their town, on a network
//! described by its `network.json`. It parses arguments and calls `testbed::disclosure`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use registry_domain::ResidentCode;

#[derive(Args)]
pub struct DiscloseArgs {
    /// The network's directory (holding network.json).
    #[arg(long, default_value = "juki-demo")]
    dir: PathBuf,
    /// The town whose counter the resident came to (municipality code): the town that keeps
    /// their record.
    #[arg(long)]
    town: String,
    /// The first day of the period (YYYY-MM-DD, Japan time; default: every provision).
    #[arg(long)]
    from: Option<String>,
    /// The last day of the period (YYYY-MM-DD, Japan time; default: today).
    #[arg(long)]
    to: Option<String>,
    /// The directory to write the disclosure into (it must not exist): the record, each
    /// provision's receipt, and a summary with the command that checks each receipt.
    #[arg(long)]
    out: PathBuf,
    /// The resident's 住民票コード.
    resident: String,
}

/// The first POSIX second of a Japan-time day written `YYYY-MM-DD`.
pub fn day_start(text: &str) -> Result<u64> {
    let date = registry_domain::Date::parse(text)
        .with_context(|| format!("{text:?} is not a date: write it as YYYY-MM-DD"))?;
    let days = days_from_civil(i64::from(date.year()), date.month().into(), date.day().into());
    u64::try_from(days * 86_400 - 9 * 3600).context("a date before 1970")
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let doy = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn run(args: DiscloseArgs) -> Result<ExitCode> {
    let code = ResidentCode::parse(&args.resident)?;
    let from = args.from.as_deref().map(day_start).transpose()?.unwrap_or(0);
    let to = match args.to.as_deref() {
        Some(day) => day_start(day)? + 86_400,
        None => crate::now().unix() + 1,
    };
    let mut network = testbed::setup::Network::load(&args.dir)?;
    network.refresh();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let written = runtime
        .block_on(testbed::disclosure::disclose(&network, &args.town, code, from, to, &args.out))?;
    print!("{}", testbed::disclosure::summary(&network, &written)?);
    println!("every receipt verified; written to {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn days_count_from_the_epoch() {
        assert_eq!(super::days_from_civil(1970, 1, 1), 0);
        assert_eq!(super::days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(super::days_from_civil(2026, 12, 5), 20_792);
        assert_eq!(super::day_start("2026-12-05").unwrap(), 20_792 * 86_400 - 9 * 3600);
    }
}
