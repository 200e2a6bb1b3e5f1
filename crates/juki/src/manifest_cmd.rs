//! `juki manifest sign`: a node's signed baseline manifest, made offline by the person
//! whose key signs it (a town's admin, the national administrator), over the files as they
//! are now; the node checks them against it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum ManifestCommand {
    /// Sign the SHA-256 of every file a node runs from (its binary, node.toml, TLS certificate,
    /// key and CA, its key files) into a manifest; the node refuses to start when they differ.
    Sign {
        /// The node's configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The signing key: the town's admin key, or the national administrator's key for the
        /// other nodes (the key `[manifest] key` in node.toml names).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The environment variable holding the key's passphrase.
        #[arg(long, value_name = "VAR")]
        passphrase_env: Option<String>,
        /// The `juki` binary the node runs as (default: this one).
        #[arg(long, value_name = "FILE")]
        binary: Option<PathBuf>,
        /// Where to write the signed manifest (never overwritten without --replace).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace an existing manifest (after a meant change).
        #[arg(long)]
        replace: bool,
    },
}

pub fn run(command: ManifestCommand) -> Result<ExitCode> {
    match command {
        ManifestCommand::Sign { config, key, passphrase_env, binary, out, replace } => {
            let mut node = node::config::NodeConfig::load(&config)?;
            let binary = match binary {
                Some(path) => path,
                None => std::env::current_exe().context("finding this binary")?,
            };
            node.binary = Some(
                std::fs::canonicalize(&binary)
                    .with_context(|| format!("cannot find the binary {}", binary.display()))?,
            );
            if out.exists() && !replace {
                bail!("{} exists; pass --replace to sign a new manifest over it", out.display());
            }
            let signer = crate::key::load_signer(&key, passphrase_env.as_deref())?;
            let time = {
                use node::clock::Clock as _;
                node::clock::SystemClock.unix()
            };
            let manifest = node::manifest::sign(&node, &signer, time)?;
            let temporary = out.with_extension("partial");
            std::fs::write(&temporary, &manifest)
                .with_context(|| format!("cannot write {}", temporary.display()))?;
            std::fs::rename(&temporary, &out)?;
            println!("manifest {}", out.display());
            println!("files {}", node::manifest::files_of(&node).len());
            Ok(ExitCode::SUCCESS)
        }
    }
}
