//! `juki key`: generating note-signing keys.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Subcommand;
use tlog::note::{KeyKind, Signer};

use crate::passphrase;

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Generate a key pair: write the private key to FILE (mode 0600) and print the verifier key
    /// (`name+id+base64`) on stdout.
    ///
    /// An operator generates their own key this way, sealed, and gives the town's admin only
    /// the verifier key to enrol (`juki operator enroll --vkey`): e.g. `juki key generate
    /// --name op.204072.juki.local/tanaka --out tanaka.key --passphrase-env TANAKA_PW`.
    Generate {
        /// The key's name. For a log, its origin (e.g. `registry.example.jp/204072`); for an
        /// operator, op.CODE.HOST/HANDLE (e.g. `op.204072.juki.local/tanaka`).
        #[arg(long)]
        name: String,
        /// Where to write the private key. It must not exist.
        #[arg(long)]
        out: PathBuf,
        /// Seal the key with the passphrase held in this environment variable. It must have at
        /// least 12 characters and not be a common or breached password, repeated or sequential
        /// characters, nor contain the key's name, a word of it or the file's name.
        #[arg(long, value_name = "VAR")]
        passphrase_env: Option<String>,
        /// Make a witness cosignature key (type 0x04) instead of a log/operator key (0x01).
        #[arg(long)]
        witness: bool,
    },
}

pub fn run(command: KeyCommand) -> Result<ExitCode> {
    match command {
        KeyCommand::Generate { name, out, passphrase_env, witness } => {
            let kind = if witness { KeyKind::Cosignature } else { KeyKind::Ed25519 };
            let passphrase = passphrase_env
                .as_deref()
                .map(|var| passphrase::for_sealing(var, &[&name], &[&out]))
                .transpose()?;
            let mut seed = zeroize::Zeroizing::new([0u8; 32]);
            keyfile::random_bytes(seed.as_mut())?;
            let signer = Signer::from_seed(&name, kind, *seed)
                .with_context(|| format!("{name:?} cannot be a key name"))?;
            keyfile::write_for(
                &out,
                &signer.to_private_string(),
                passphrase.as_deref().map(|p| p.as_str()),
                &[&name],
            )?;
            if passphrase.is_none() && (name.starts_with("op.") || name.starts_with("admin.")) {
                eprintln!(
                    "warning: {} is NOT sealed; a key a person holds (an operator's or an admin \
                     key) should be sealed with --passphrase-env VAR",
                    out.display()
                );
            }
            println!("{}", signer.verifier());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Loads a signing key from a key file.
pub fn load_signer(path: &std::path::Path, passphrase_env: Option<&str>) -> Result<Signer> {
    let passphrase = if keyfile::is_sealed(path)? {
        Some(passphrase::for_opening(passphrase_env, &path.display().to_string())?)
    } else {
        None
    };
    Ok(tlog_store::keys::load_signer(path, passphrase.as_deref().map(|p| p.as_str()))?)
}
