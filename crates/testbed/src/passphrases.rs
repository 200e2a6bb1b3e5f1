//! The passphrases of a network's sealed keys.
//!
//! `setup` seals every private key a person would hold — the CA's, each town's admin key, the
//! clerks' and supervisors' operator keys — each with a passphrase of its own, drawn from the
//! system's random generator (30 characters of a 32-letter alphabet: 150 bits) and accepted
//! by the passphrase policy (`keyfile::policy`). They are kept in one file readable by its
//! owner alone, `DIR/credentials/passphrases.json`: a JSON object from each key file's path
//! (relative to DIR) to its passphrase — what a real office keeps in its people's heads or a
//! password manager. Everything in the testbed that opens one of these keys reads its
//! passphrase from there and hands it to `juki` in an environment variable named with
//! `--passphrase-env` (or `--admin-passphrase-env`), never on a command line.
//!
//! Keys that sign unattended are not sealed (they are 0600): each node's `node.key` and
//! `provisions.key`, the national key in the national node's directory, the TLS keys of the
//! nodes, consoles and agency, and the witness key.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use zeroize::{Zeroize as _, Zeroizing};

/// The passphrases file, relative to the network's directory.
pub const FILE: &str = "credentials/passphrases.json";
/// The variable in which `setup` hands `juki` the passphrase of a key it seals.
pub const NEW_VARIABLE: &str = "JUKI_DEMO_NEW_PASSPHRASE";
/// The variable in which `setup` hands `juki pki` the CA key's passphrase.
pub const CA_VARIABLE: &str = "JUKI_DEMO_CA_PASSPHRASE";
/// The variable in which `setup` hands `juki operator enroll` the admin key's passphrase.
pub const ADMIN_VARIABLE: &str = "JUKI_DEMO_ADMIN_PASSPHRASE";

/// The letters of a drawn passphrase: 32 of them, none easily confused (no 0, 1, l, o).
const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
/// A drawn passphrase's letters, in groups of [`GROUP`] joined by `-`.
const LETTERS: usize = 30;
const GROUP: usize = 5;

/// The passphrases of the sealed keys of the network in one directory.
pub struct Passphrases {
    dir: PathBuf,
    keys: BTreeMap<String, String>,
}

impl Drop for Passphrases {
    fn drop(&mut self) {
        for passphrase in self.keys.values_mut() {
            passphrase.zeroize();
        }
    }
}

impl Passphrases {
    /// The passphrases file of the network in `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(FILE)
    }

    /// The passphrases of the network in `dir`; none if it has no passphrases file yet.
    pub fn load(dir: &Path) -> Result<Passphrases> {
        let path = Passphrases::path(dir);
        let keys = match fs::read(&path) {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                serde_json::from_slice(&bytes)
                    .with_context(|| format!("{} is not a passphrases file", path.display()))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        Ok(Passphrases { dir: dir.to_path_buf(), keys })
    }

    /// Draws a new passphrase for the key file `key` (in the network's directory) that the
    /// passphrase policy accepts with `context` (what names the key), records it and writes
    /// the passphrases file, all before the key is sealed: a sealed key's passphrase is never
    /// lost.
    pub fn draw(&mut self, key: &Path, context: &[&str]) -> Result<Zeroizing<String>> {
        let name = self.name(key)?;
        if self.keys.contains_key(&name) {
            bail!("{name} already has a passphrase in {}", Passphrases::path(&self.dir).display());
        }
        let passphrase = loop {
            let passphrase = draw()?;
            if keyfile::check_passphrase(key, &passphrase, context).is_ok() {
                break passphrase;
            }
        };
        self.keys.insert(name, passphrase.to_string());
        self.save()?;
        Ok(passphrase)
    }

    /// The passphrase of the key file `key`, if it has one here.
    pub fn of(&self, key: &Path) -> Result<Option<&str>> {
        Ok(self.keys.get(&self.name(key)?).map(String::as_str))
    }

    /// The passphrase of the key file `key`, which must have one here.
    pub fn required(&self, key: &Path) -> Result<Zeroizing<String>> {
        match self.of(key)? {
            Some(passphrase) => Ok(Zeroizing::new(passphrase.to_owned())),
            None => bail!(
                "{} is sealed and {} holds no passphrase for it",
                key.display(),
                Passphrases::path(&self.dir).display()
            ),
        }
    }

    /// A key file's name in the passphrases file: its path relative to the network's
    /// directory.
    fn name(&self, key: &Path) -> Result<String> {
        let absolute = |path: &Path| std::path::absolute(path);
        let (dir, key_path) = (absolute(&self.dir)?, absolute(key)?);
        let relative = key_path.strip_prefix(&dir).with_context(|| {
            format!("{} is not in the network's directory {}", key.display(), dir.display())
        })?;
        relative.to_str().map(str::to_owned).context("key paths are UTF-8")
    }

    /// Writes the file through a temporary one (0600) and a rename.
    fn save(&self) -> Result<()> {
        let path = Passphrases::path(&self.dir);
        let parent = path.parent().context("the passphrases file has a directory")?;
        keyfile::private::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
        let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
        let text = Zeroizing::new(serde_json::to_string_pretty(&self.keys)?);
        let write = || -> std::io::Result<()> {
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            // An older file of the same name keeps its mode: make sure.
            file.set_permissions(fs::Permissions::from_mode(0o600))?;
            file.write_all(text.as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            fs::rename(&tmp, &path)
        };
        write().with_context(|| format!("writing {}", path.display()))
    }
}

/// A new random passphrase: [`LETTERS`] letters of [`ALPHABET`] in groups of [`GROUP`].
fn draw() -> Result<Zeroizing<String>> {
    let mut bytes = Zeroizing::new([0u8; LETTERS]);
    keyfile::random_bytes(bytes.as_mut())?;
    let mut passphrase = Zeroizing::new(String::with_capacity(LETTERS + LETTERS / GROUP));
    for (i, byte) in bytes.iter().enumerate() {
        if i > 0 && i % GROUP == 0 {
            passphrase.push('-');
        }
        // 256 is a multiple of 32: every letter is as likely.
        passphrase.push(char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()]));
    }
    Ok(passphrase)
}

/// Reads the secret of a key file of the network in `dir`, opening a sealed one with its
/// passphrase from the network's passphrases file.
pub fn read_key(dir: &Path, key: &Path) -> Result<Zeroizing<String>> {
    if keyfile::is_sealed(key)? {
        let passphrase = Passphrases::load(dir)?.required(key)?;
        Ok(keyfile::read(key, Some(&passphrase))?)
    } else {
        Ok(keyfile::read(key, None)?)
    }
}

/// Loads a note signer (an operator's or an admin key) from a key file of the network in
/// `dir`, opening a sealed one with its passphrase from the network's passphrases file.
pub fn load_signer(dir: &Path, key: &Path) -> Result<tlog::note::Signer> {
    let secret = read_key(dir, key)?;
    tlog::note::Signer::parse(secret.trim())
        .with_context(|| format!("{} does not hold a signing key", key.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawn_passphrases_pass_the_policy_and_are_kept_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("credentials/achi/clerk.key");
        let mut passphrases = Passphrases::load(dir.path()).unwrap();
        let drawn = passphrases.draw(&key, &["op.204072.juki.local/tanaka"]).unwrap();
        assert_eq!(drawn.len(), LETTERS + LETTERS / GROUP - 1);
        keyfile::policy::check(&drawn, &["op.204072.juki.local/tanaka"]).unwrap();
        assert!(passphrases.draw(&key, &[]).is_err(), "one passphrase for a key");
        let other = passphrases.draw(&dir.path().join("ca/ca.key"), &[]).unwrap();
        assert_ne!(*drawn, *other);

        let path = Passphrases::path(dir.path());
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let text = fs::read_to_string(&path).unwrap();
        let keys: BTreeMap<String, String> = serde_json::from_str(&text).unwrap();
        assert_eq!(keys["credentials/achi/clerk.key"], *drawn);
        let loaded = Passphrases::load(dir.path()).unwrap();
        assert_eq!(*loaded.required(&key).unwrap(), *drawn);
        assert!(loaded.required(&dir.path().join("credentials/achi/admin.key")).is_err());
        assert!(loaded.of(Path::new("/elsewhere/admin.key")).is_err());

        // A key sealed with it opens through the file, and only so.
        keyfile::private::create_dir_all(key.parent().unwrap()).unwrap();
        keyfile::write(&key, "PRIVATE+KEY+x", Some(&drawn)).unwrap();
        assert_eq!(*read_key(dir.path(), &key).unwrap(), "PRIVATE+KEY+x");
        assert!(keyfile::read(&key, None).is_err());
        fs::remove_file(&path).unwrap();
        let error = read_key(dir.path(), &key).unwrap_err().to_string();
        assert!(error.contains("holds no passphrase"), "{error}");
    }
}
