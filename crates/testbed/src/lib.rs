//! A whole juki network on one machine, shared by the `juki` binary and the tests: building
//! it as an administrator would, with the `juki` binary itself (`setup`), running its nodes as
//! real processes and stopping them (`processes`), the passphrases of its sealed keys
//! (`passphrases`), the demo's day (`demo`), the network tools
//! `load`, `agree` and `compare` (`tools`), synthetic residents (`synthetic`, from the `synth` crate), `juki synth`'s registry
//! directories and JSON Lines (`populate`), and the
//! benchmarks (`bench_log`, `bench_registry`, `bench_lookup`, `bench_network`).
//!
//! Nothing here is part of a node: a node never imports this crate.
#![forbid(unsafe_code)]

pub mod bench_detection;
pub mod bench_drills;
pub mod bench_federation;
pub mod bench_log;
pub mod bench_lookup;
pub mod bench_matching;
pub mod bench_network;
pub mod bench_provision;
pub mod bench_registry;
pub mod bench_scale;
pub mod bench_suite;
pub mod demo;
pub mod disclosure;
pub mod drill;
pub mod figures;
pub mod open_loop;
pub mod passphrases;
pub mod peers;
pub mod populate;
pub mod processes;
pub mod setup;
pub mod synthetic;
pub mod tools;

use std::path::PathBuf;
use std::sync::OnceLock;

static BINARY: OnceLock<PathBuf> = OnceLock::new();

/// Names the `juki` binary that builds networks and runs their nodes. The binary itself needs
/// not call this (it is its own binary); a test that drives a network from its own process
/// names `env!("CARGO_BIN_EXE_juki")`.
pub fn use_binary(path: impl Into<PathBuf>) {
    let _ = BINARY.set(path.into());
}

/// The `juki` binary: the one named with [`use_binary`], else this process's own executable.
pub fn binary() -> std::io::Result<PathBuf> {
    match BINARY.get() {
        Some(path) => Ok(path.clone()),
        None => std::env::current_exe(),
    }
}
