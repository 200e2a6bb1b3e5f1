//! Where passphrases come from: a named environment variable, `JUKI_PASSPHRASE`, or a prompt on
//! the terminal. Passphrases are never taken as command-line arguments, which other users of
//! the machine could read. A passphrase that seals a new key comes only from a named variable
//! and must pass the passphrase policy (`keyfile::policy`).

use std::io::IsTerminal as _;
use std::path::Path;

use anyhow::{Result, anyhow, bail};
use zeroize::Zeroizing;

/// The variable scripts set when no other is named.
pub const DEFAULT_VARIABLE: &str = "JUKI_PASSPHRASE";

/// The passphrase in the variable `name`, which must be set.
pub fn from_env(name: &str) -> Result<Zeroizing<String>> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Ok(Zeroizing::new(value)),
        _ => bail!("the environment variable {name} is not set or empty; set it to the passphrase"),
    }
}

/// A passphrase for sealing a new key, from the variable `name`: it must pass the passphrase
/// policy (`keyfile::policy`) for each file in `files`, with `context` — what names the key:
/// its name, its holder's handle — and the file's own name. Checked before anything is made,
/// so a refused passphrase leaves nothing behind.
pub fn for_sealing(name: &str, context: &[&str], files: &[&Path]) -> Result<Zeroizing<String>> {
    let passphrase = from_env(name)?;
    for file in files {
        keyfile::check_passphrase(file, &passphrase, context).map_err(|refusal| {
            anyhow!("the passphrase in {name} cannot seal {}: {refusal}", file.display())
        })?;
    }
    Ok(passphrase)
}

/// A passphrase for opening a sealed key: from `variable` if named, else `JUKI_PASSPHRASE` if
/// set, else asked for on the terminal.
pub fn for_opening(variable: Option<&str>, what: &str) -> Result<Zeroizing<String>> {
    if let Some(name) = variable {
        return from_env(name);
    }
    if let Ok(value) = std::env::var(DEFAULT_VARIABLE)
        && !value.is_empty()
    {
        return Ok(Zeroizing::new(value));
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "{what} is passphrase-protected and there is no terminal to ask on; set \
             {DEFAULT_VARIABLE} or name a variable with --passphrase-env"
        );
    }
    Ok(Zeroizing::new(rpassword::prompt_password(format!("Passphrase for {what}: "))?))
}

/// Reads a key file's secret line, asking for the passphrase only if the file is sealed.
pub fn read_key(path: &Path, variable: Option<&str>) -> Result<Zeroizing<String>> {
    if keyfile::is_sealed(path)? {
        let passphrase = for_opening(variable, &path.display().to_string())?;
        Ok(keyfile::read(path, Some(&passphrase))?)
    } else {
        Ok(keyfile::read(path, None)?)
    }
}
