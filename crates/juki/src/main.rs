//! `juki`: the command-line entry point.
//!
//! Each subcommand lives in its own module; this file only parses arguments, dispatches, and
//! turns errors into a message on stderr and a non-zero exit code.
#![forbid(unsafe_code)]

mod agency_cmd;
mod bench;
mod code_cmd;
mod demo_cmd;
mod disclose_cmd;
mod key;
mod log;
mod logdir;
mod manifest_cmd;
mod match_cmd;
mod monitor_cmd;
mod network_cmd;
mod office_cmd;
mod passphrase;
mod pki_cmd;
mod registry_cmd;
mod resident;
mod synth_cmd;
mod witness_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Every process of the network is this binary; its many threads allocate and free small
/// buffers on every request, which glibc's allocator serves slower than mimalloc (see
/// docs/ARCHITECTURE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// juki: a resident registry network built on tamper-evident logs.
#[derive(Parser)]
#[command(name = "juki", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate signing keys.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Create, append to, checkpoint, serve, prove and verify transparency logs.
    #[command(subcommand)]
    Log(log::LogCommand),
    /// Run a transparency-log witness.
    #[command(subcommand)]
    Witness(witness_cmd::WitnessCommand),
    /// Measure juki's hot paths beside this machine's peers: every benchmark and one table
    /// (and JSON), or one benchmark with its own options.
    Bench(bench::BenchArgs),
    /// Create a municipality's registry.
    #[command(subcommand)]
    Init(registry_cmd::InitCommand),
    /// Issue resident-code blocks (national key) and add them to a registry's pool.
    #[command(subcommand)]
    CodeBlock(registry_cmd::CodeBlockCommand),
    /// Certify moves between municipalities and complete them with a notice (national key).
    #[command(subcommand)]
    Move(registry_cmd::MoveCommand),
    /// Sign operators' enrolments and revocations offline (admin key), and list the operators.
    #[command(subcommand)]
    Operator(registry_cmd::OperatorCommand),
    /// Find residents by the four basic items (name, birth date, sex, address), offline over a
    /// registry directory: requests as CSV or JSON Lines, one JSON answer per line.
    Match(match_cmd::MatchArgs),
    /// Record changes to residents' records, and show, list and search them.
    #[command(subcommand)]
    Resident(resident::ResidentCommand),
    /// A town office's console and its node: submit signed events (the admin's offline
    /// enrolments), list and approve changes waiting for a second person.
    #[command(subcommand)]
    Office(office_cmd::OfficeCommand),
    /// Record signed events in a registry without a node, checkpoint its log and verify the
    /// registry against it.
    #[command(subcommand)]
    Registry(registry_cmd::RegistryCommand),
    /// Check municipality codes, resident codes and individual numbers.
    #[command(subcommand)]
    Code(code_cmd::CodeCommand),
    /// The network's certificate authority: create it, issue, sign CSRs, revoke, show.
    #[command(subcommand)]
    Pki(pki_cmd::PkiCommand),
    /// A node's signed baseline manifest: the digests of the files it runs from.
    #[command(subcommand)]
    Manifest(manifest_cmd::ManifestCommand),
    /// Run one node of the network (municipal, prefecture or national) from its node.toml.
    Serve {
        /// The node's configuration file.
        #[arg(long, value_name = "FILE")]
        config: std::path::PathBuf,
    },
    /// Make a realistic synthetic population for any set of municipalities: registry
    /// directories whose residents are signed births, or JSON Lines.
    Synth(synth_cmd::SynthArgs),
    /// Build and run a whole network on this machine and play a day of a town's work.
    Demo(demo_cmd::DemoArgs),
    /// Drive a network built by `juki demo`: load it with registrations, check every tier agrees.
    #[command(subcommand)]
    Network(network_cmd::NetworkCommand),
    /// The network's alerts, as the national monitoring reads them (every alert of the
    /// network reaches the national node's alert log).
    Alerts(monitor_cmd::AlertsArgs),
    /// Towns the national node quarantined after a critical alert: list them, release one with
    /// a national administrator's signed decision.
    #[command(subcommand)]
    Quarantine(monitor_cmd::QuarantineCommand),
    /// Play the auditors' attacks against a running network and print, for each, whether it
    /// was blocked or detected, how long the alert took to reach the national node, its
    /// evidence, and that nothing was lost.
    Drill(monitor_cmd::DrillArgs),
    /// The national administrator's signed catalogue of lawful purposes (別表): sign, show.
    #[command(subcommand)]
    Purposes(agency_cmd::PurposesCommand),
    /// An agency's requests for identity information, under its purposes: by 住民票コード, or
    /// a batch by code or by the four basic items.
    #[command(subcommand)]
    Agency(agency_cmd::AgencyCommand),
    /// A resident's disclosure at their town's counter: the record and every provision of it
    /// in a period, at the town, its prefecture and the national node, each with a receipt
    /// that `juki log verify-receipt --commitment` checks.
    Disclose(disclose_cmd::DiscloseArgs),
}

/// The system clock as events write it: the command line's one clock.
pub fn now() -> registry_core::time::Timestamp {
    use node::clock::Clock as _;
    node::clock::SystemClock.timestamp()
}

/// `juki serve --config FILE`.
fn serve(config: &std::path::Path) -> anyhow::Result<ExitCode> {
    node::serve(node::config::NodeConfig::load(config)?)?;
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    // Everything juki creates is readable by its owner alone: registries, node and log
    // databases, keys, tiles and the directories holding them. (The libraries create their
    // databases 0600 and data directories 0700 by themselves; this covers the rest.)
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Key(command) => key::run(command),
        Command::Log(command) => log::run(command),
        Command::Witness(command) => witness_cmd::run(command),
        Command::Bench(command) => bench::run(command),
        Command::Init(command) => registry_cmd::run_init(command),
        Command::CodeBlock(command) => registry_cmd::run_code_block(command),
        Command::Operator(command) => registry_cmd::run_operator(command),
        Command::Move(command) => registry_cmd::run_move(command),
        Command::Match(args) => match_cmd::run(args),
        Command::Resident(command) => resident::run(command),
        Command::Office(command) => office_cmd::run(command),
        Command::Registry(command) => registry_cmd::run_registry(command),
        Command::Code(command) => code_cmd::run(command),
        Command::Pki(command) => pki_cmd::run(command),
        Command::Manifest(command) => manifest_cmd::run(command),
        Command::Serve { config } => serve(&config),
        Command::Demo(args) => demo_cmd::run(args),
        Command::Synth(args) => synth_cmd::run(args),
        Command::Network(command) => network_cmd::run(command),
        Command::Purposes(command) => agency_cmd::run_purposes(command),
        Command::Agency(command) => agency_cmd::run_agency(command),
        Command::Disclose(args) => disclose_cmd::run(args),
        Command::Alerts(args) => monitor_cmd::alerts(args),
        Command::Quarantine(command) => monitor_cmd::quarantine(command),
        Command::Drill(args) => monitor_cmd::drill(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
