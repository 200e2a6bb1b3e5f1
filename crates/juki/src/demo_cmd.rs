//! `juki demo`: the arguments; the network and its day are `testbed::demo`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

/// `juki demo`'s arguments.
#[derive(Args)]
pub struct DemoArgs {
    /// The directory to build the network in (reused when it already holds one).
    #[arg(long, default_value = "juki-demo")]
    dir: PathBuf,
    /// How many synthetic residents to register across the three towns.
    #[arg(long, default_value_t = 3000)]
    residents: u64,
    /// Stop after the scenario; exit 0 only if every step succeeded.
    #[arg(long)]
    exit: bool,
    /// Skip the drills (the auditors' attacks, `juki drill all`) after the scenario.
    #[arg(long)]
    no_drills: bool,
}

pub fn run(args: DemoArgs) -> Result<ExitCode> {
    testbed::demo::run(testbed::demo::DemoOptions {
        dir: args.dir,
        residents: args.residents,
        exit: args.exit,
        drills: !args.no_drills,
    })
}
