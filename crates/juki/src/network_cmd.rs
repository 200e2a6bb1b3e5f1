//! `juki network`: drive a network described by a `network.json` (as `juki demo` writes it).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum NetworkCommand {
    /// Register synthetic residents at one town through its office API, one change at a time,
    /// retrying while the node is unreachable; print `CODE INDEX` for every acknowledged change.
    Load {
        /// The network's directory (holding network.json).
        #[arg(long)]
        dir: PathBuf,
        /// The town's municipality code.
        #[arg(long)]
        town: String,
        /// How many residents.
        #[arg(long)]
        count: u64,
        /// Changes per second (0: as fast as the node answers).
        #[arg(long, default_value_t = 0.0)]
        rate: f64,
        /// A number that makes these residents' synthetic names differ from other loads'.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Wait until every tier agrees: each town's published checkpoint is the one the prefecture
    /// and the national node hold.
    Agree {
        /// The network's directory.
        #[arg(long)]
        dir: PathBuf,
        /// How long to wait for the checkpoints to agree (seconds).
        #[arg(long, default_value_t = 60)]
        within: u64,
    },
    /// Compare the databases: every mirror's events and residents must equal the town's own.
    /// Run it with the nodes stopped or idle.
    Compare {
        /// The network's directory.
        #[arg(long)]
        dir: PathBuf,
    },
}

pub fn run(command: NetworkCommand) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match command {
        NetworkCommand::Load { dir, town, count, rate, seed } => {
            let mut network = testbed::setup::Network::load(&dir)?;
            network.refresh();
            runtime.block_on(testbed::tools::load(&network, &town, count, rate, seed))?;
            Ok(ExitCode::SUCCESS)
        }
        NetworkCommand::Agree { dir, within } => {
            let network = testbed::setup::Network::load(&dir)?;
            runtime.block_on(testbed::demo::agree(&network, Duration::from_secs(within)))?;
            println!("checkpoints agree at every tier");
            Ok(ExitCode::SUCCESS)
        }
        NetworkCommand::Compare { dir } => {
            println!("databases agree: {}", testbed::tools::compare_databases(&dir)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}
