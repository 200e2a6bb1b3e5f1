//! `juki`: the command-line entry point.
//!
//! Each subcommand lives in its own module; this file only parses arguments, dispatches, and
//! turns errors into a message on stderr and a non-zero exit code.
#![forbid(unsafe_code)]

mod bench;
mod key;
mod log;
mod logdir;
mod passphrase;
mod witness_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Measure this machine and juki's hot paths.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Key(command) => key::run(command),
        Command::Log(command) => log::run(command),
        Command::Witness(command) => witness_cmd::run(command),
        Command::Bench(command) => bench::run(command),
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
