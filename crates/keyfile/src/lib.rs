//! Private key files.
//!
//! A key file holds one secret: a line (for note signers, Go's `PRIVATE+KEY+…` form) or a PEM
//! block (for TLS keys, so that other tools can read an unsealed one). It is created with mode
//! 0600 and never overwritten. With a passphrase the line is sealed:
//!
//! ```text
//! juki-sealed-key/v1
//! argon2id m=65536 t=3 p=1 <salt, base64>
//! xchacha20poly1305 <nonce, base64>
//! <ciphertext and tag, base64>
//! ```
//!
//! The key is derived from the passphrase with Argon2id and the secret sealed with
//! XChaCha20-Poly1305; the three header lines are the associated data, so the parameters cannot
//! be altered without the tag failing. The Argon2 parameters are read from the file but must lie
//! within fixed bounds, so a hostile file cannot make opening it take unbounded memory or time.
//!
//! Every passphrase that seals a new key must first pass [`policy::check`] (after NIST
//! SP 800-63B: long enough, not a common or breached password, not repeated or sequential
//! characters, not the key's own name); opening a sealed key checks nothing but the tag.
#![forbid(unsafe_code)]

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

pub mod policy;
pub mod private;

pub use policy::{MIN_PASSPHRASE_CHARS, PassphraseError};

const MAGIC: &str = "juki-sealed-key/v1";
const DEFAULT_M_KIB: u32 = 64 * 1024;
const DEFAULT_T: u32 = 3;
const MAX_M_KIB: u32 = 1024 * 1024;
const MAX_T: u32 = 16;
const MAX_FILE: u64 = 64 * 1024;

/// Why a key file could not be written or opened.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The key file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file already exists; key files are never overwritten.
    #[error("{} already exists; choose another path or remove it first", .0.display())]
    Exists(PathBuf),
    /// The file is sealed and no passphrase was given.
    #[error("{} is passphrase-protected; give the passphrase", .0.display())]
    NeedsPassphrase(PathBuf),
    /// The passphrase may not seal a key: it breaks a rule of [`policy`].
    #[error(transparent)]
    WeakPassphrase(#[from] PassphraseError),
    /// The passphrase is wrong or the file was altered.
    #[error("cannot open {}: wrong passphrase, or the file was altered", .0.display())]
    WrongPassphrase(PathBuf),
    /// The file is not a key file this program wrote.
    #[error("{} is not a key file: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Readable by others: a private key must be readable by its owner alone.
    #[error("{} can be read by other users (mode {mode:o}); run `chmod 600` on it", path.display())]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its mode bits.
        mode: u32,
    },
    /// The operating system's random generator failed.
    #[error("the system random number generator failed: {0}")]
    Random(String),
}

/// Fills `out` with random bytes from the operating system.
pub fn random_bytes(out: &mut [u8]) -> Result<(), KeyFileError> {
    getrandom::fill(out).map_err(|e| KeyFileError::Random(e.to_string()))
}

/// Writes a new key file holding `secret`, sealed when a passphrase is given. The file is
/// created with mode 0600 and must not exist. A passphrase must pass [`policy::check`] (with
/// the file's name as the key's name); nothing is written when it does not.
pub fn write(path: &Path, secret: &str, passphrase: Option<&str>) -> Result<(), KeyFileError> {
    write_for(path, secret, passphrase, &[])
}

/// Like [`write`], and the passphrase must not contain `context` either: what names the key
/// (its name, its holder's handle). See [`check_passphrase`].
pub fn write_for(
    path: &Path,
    secret: &str,
    passphrase: Option<&str>,
    context: &[&str],
) -> Result<(), KeyFileError> {
    if let Some(passphrase) = passphrase {
        check_passphrase(path, passphrase, context)?;
    }
    let contents = match passphrase {
        Some(passphrase) => seal(secret, passphrase, DEFAULT_M_KIB, DEFAULT_T)?,
        None => Zeroizing::new(format!("{}\n", secret.trim_end_matches('\n'))),
    };
    let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(
        |source| match source.kind() {
            std::io::ErrorKind::AlreadyExists => KeyFileError::Exists(path.to_path_buf()),
            _ => KeyFileError::Io { action: "creating", path: path.to_path_buf(), source },
        },
    )?;
    let io = |action| move |source| KeyFileError::Io { action, path: path.to_path_buf(), source };
    file.write_all(contents.as_bytes()).map_err(io("writing"))?;
    file.sync_all().map_err(io("syncing"))?;
    Ok(())
}

/// The check [`write_for`] makes before it seals a key into `path`: [`policy::check`] with
/// `context` and the file's name (without its extension) as what names the key. Callers that
/// do other work before writing the key check first, so that a refused passphrase changes
/// nothing.
pub fn check_passphrase(
    path: &Path,
    passphrase: &str,
    context: &[&str],
) -> Result<(), PassphraseError> {
    let stem = path.file_stem().and_then(|s| s.to_str());
    let words: Vec<&str> = context.iter().copied().chain(stem).collect();
    policy::check(passphrase, &words)
}

/// Whether a key file is sealed with a passphrase.
pub fn is_sealed(path: &Path) -> Result<bool, KeyFileError> {
    Ok(read_limited(path)?.starts_with(MAGIC))
}

/// Reads the secret line of a key file, unsealing it with `passphrase` when it is sealed.
pub fn read(path: &Path, passphrase: Option<&str>) -> Result<Zeroizing<String>, KeyFileError> {
    let meta = fs::metadata(path).map_err(|source| KeyFileError::Io {
        action: "reading",
        path: path.to_path_buf(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::Permissions { path: path.to_path_buf(), mode });
    }
    let text = read_limited(path)?;
    if text.starts_with("-----BEGIN ") {
        if !text.trim_end().ends_with("-----") {
            return Err(KeyFileError::Malformed {
                path: path.to_path_buf(),
                reason: "a PEM block without its END line",
            });
        }
        return Ok(Zeroizing::new(text.to_string()));
    }
    if !text.starts_with(MAGIC) {
        let line = text.trim_end_matches('\n');
        if line.is_empty() || line.contains('\n') {
            return Err(KeyFileError::Malformed {
                path: path.to_path_buf(),
                reason: "expected one line",
            });
        }
        return Ok(Zeroizing::new(line.to_owned()));
    }
    let passphrase = passphrase.ok_or_else(|| KeyFileError::NeedsPassphrase(path.to_path_buf()))?;
    unseal(&text, passphrase).map_err(|e| match e {
        Unseal::Malformed(reason) => KeyFileError::Malformed { path: path.to_path_buf(), reason },
        Unseal::Failed => KeyFileError::WrongPassphrase(path.to_path_buf()),
    })
}

fn read_limited(path: &Path) -> Result<Zeroizing<String>, KeyFileError> {
    let io = |source| KeyFileError::Io { action: "reading", path: path.to_path_buf(), source };
    let len = fs::metadata(path).map_err(io)?.len();
    if len > MAX_FILE {
        return Err(KeyFileError::Malformed { path: path.to_path_buf(), reason: "too large" });
    }
    let bytes = Zeroizing::new(fs::read(path).map_err(io)?);
    let text = std::str::from_utf8(&bytes).map_err(|_| KeyFileError::Malformed {
        path: path.to_path_buf(),
        reason: "not UTF-8 text",
    })?;
    Ok(Zeroizing::new(text.to_owned()))
}

fn derive(passphrase: &str, salt: &[u8], m_kib: u32, t: u32) -> Result<Zeroizing<[u8; 32]>, ()> {
    let params = Params::new(m_kib, t, 1, Some(32)).map_err(|_| ())?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, key.as_mut())
        .map_err(|_| ())?;
    Ok(key)
}

fn seal(
    secret: &str,
    passphrase: &str,
    m_kib: u32,
    t: u32,
) -> Result<Zeroizing<String>, KeyFileError> {
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 24];
    random_bytes(&mut salt)?;
    random_bytes(&mut nonce)?;
    let header = format!(
        "{MAGIC}\nargon2id m={m_kib} t={t} p=1 {}\nxchacha20poly1305 {}\n",
        BASE64.encode(salt),
        BASE64.encode(nonce)
    );
    let key = derive(passphrase, &salt, m_kib, t)
        .map_err(|()| KeyFileError::Random("argon2 parameters rejected".into()))?;
    let cipher = XChaCha20Poly1305::new_from_slice(key.as_ref()).expect("32-byte key");
    let sealed = cipher
        .encrypt(&XNonce::from(nonce), Payload { msg: secret.as_bytes(), aad: header.as_bytes() })
        .expect("encryption of a short message cannot fail");
    Ok(Zeroizing::new(format!("{header}{}\n", BASE64.encode(sealed))))
}

enum Unseal {
    Malformed(&'static str),
    Failed,
}

fn unseal(text: &str, passphrase: &str) -> Result<Zeroizing<String>, Unseal> {
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    let [magic, kdf, aead, body] = lines[..] else {
        return Err(Unseal::Malformed("a sealed key has four lines"));
    };
    if magic != MAGIC {
        return Err(Unseal::Malformed("unknown sealed-key version"));
    }
    let kdf_fields: Vec<&str> = kdf.split(' ').collect();
    let ["argon2id", m, t, "p=1", salt] = kdf_fields[..] else {
        return Err(Unseal::Malformed("unsupported key derivation"));
    };
    let number = |field: &str, prefix: &str, max: u32| {
        field
            .strip_prefix(prefix)
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|v| (1..=max).contains(v))
            .ok_or(Unseal::Malformed("argon2 parameters out of range"))
    };
    let m = number(m, "m=", MAX_M_KIB)?;
    let t = number(t, "t=", MAX_T)?;
    let salt = BASE64.decode(salt).map_err(|_| Unseal::Malformed("bad salt"))?;
    let nonce = aead
        .strip_prefix("xchacha20poly1305 ")
        .and_then(|n| BASE64.decode(n).ok())
        .and_then(|n| <[u8; 24]>::try_from(n).ok())
        .ok_or(Unseal::Malformed("bad nonce"))?;
    let sealed = BASE64.decode(body).map_err(|_| Unseal::Malformed("bad ciphertext"))?;
    let header_len = magic.len() + kdf.len() + aead.len() + 3;
    let key = derive(passphrase, &salt, m, t).map_err(|()| Unseal::Malformed("bad salt"))?;
    let cipher = XChaCha20Poly1305::new_from_slice(key.as_ref()).expect("32-byte key");
    let plain = Zeroizing::new(
        cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload { msg: &sealed, aad: &text.as_bytes()[..header_len] },
            )
            .map_err(|_| Unseal::Failed)?,
    );
    let secret = std::str::from_utf8(&plain).map_err(|_| Unseal::Malformed("not UTF-8"))?;
    Ok(Zeroizing::new(secret.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASS: &str = "correct horse battery staple";

    #[test]
    fn plain_files_are_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        write(&path, "PRIVATE+KEY+x", None).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(*read(&path, None).unwrap(), "PRIVATE+KEY+x");
        assert!(matches!(write(&path, "other", None), Err(KeyFileError::Exists(_))));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(read(&path, None), Err(KeyFileError::Permissions { mode: 0o644, .. })));
    }

    #[test]
    fn sealed_files_need_the_right_passphrase_and_resist_edits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let sealed = seal("PRIVATE+KEY+secret", PASS, 256, 1).unwrap();
        let mut file =
            OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).unwrap();
        file.write_all(sealed.as_bytes()).unwrap();
        assert!(is_sealed(&path).unwrap());
        assert!(!sealed.contains("secret"));
        assert!(matches!(read(&path, None), Err(KeyFileError::NeedsPassphrase(_))));
        assert!(matches!(
            read(&path, Some("wrong passphrase!!")),
            Err(KeyFileError::WrongPassphrase(_))
        ));
        assert_eq!(*read(&path, Some(PASS)).unwrap(), "PRIVATE+KEY+secret");

        // Weakening the KDF parameters in the header breaks the tag.
        let edited = sealed.replace("t=1", "t=2");
        assert!(matches!(unseal(&edited, PASS), Err(Unseal::Failed)));
        let hostile = sealed.replace("m=256", "m=99999999");
        assert!(matches!(unseal(&hostile, PASS), Err(Unseal::Malformed(_))));
    }

    #[test]
    fn pem_keys_are_kept_as_pem_plain_or_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let pem =
            "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMG\nByqGSM49\n-----END PRIVATE KEY-----\n";
        let plain = dir.path().join("plain");
        write(&plain, pem, None).unwrap();
        assert_eq!(fs::read_to_string(&plain).unwrap(), pem, "other tools can read it");
        assert_eq!(*read(&plain, None).unwrap(), pem);
        let sealed_path = dir.path().join("sealed");
        let sealed = seal(pem, PASS, 256, 1).unwrap();
        let mut file =
            OpenOptions::new().write(true).create_new(true).mode(0o600).open(&sealed_path).unwrap();
        file.write_all(sealed.as_bytes()).unwrap();
        assert_eq!(*read(&sealed_path, Some(PASS)).unwrap(), pem);
        let broken = dir.path().join("broken");
        write(&broken, "-----BEGIN PRIVATE KEY-----\nMIGH", None).unwrap();
        assert!(matches!(read(&broken, None), Err(KeyFileError::Malformed { .. })));
    }

    #[test]
    fn weak_passphrases_are_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tanaka.key");
        let cases = [
            ("short", &[][..], PassphraseError::TooShort { min: MIN_PASSPHRASE_CHARS }),
            ("aaaaaaaaaaaaaaaa", &[], PassphraseError::Repeated),
            ("123456789012", &[], PassphraseError::Sequential),
            ("passwordpassword", &[], PassphraseError::Common),
            ("a key for tanaka at the counter", &[], PassphraseError::ContainsContext),
            (
                "stamped at 204072 window",
                &["op.204072.juki.local/x"],
                PassphraseError::ContainsContext,
            ),
        ];
        for (passphrase, context, refusal) in cases {
            match write_for(&path, "PRIVATE+KEY+x", Some(passphrase), context) {
                Err(KeyFileError::WeakPassphrase(e)) => assert_eq!(e, refusal, "{passphrase:?}"),
                other => panic!("{passphrase:?}: {other:?}"),
            }
            assert!(!path.exists(), "nothing is written when the passphrase is refused");
        }
        let error = write(&path, "x", Some("passwordpassword")).unwrap_err().to_string();
        assert!(error.contains("common and breached") && !error.contains("passwordpassword"));
        write(&path, "PRIVATE+KEY+x", Some(PASS)).unwrap();
        assert_eq!(*read(&path, Some(PASS)).unwrap(), "PRIVATE+KEY+x");
    }
}
