//! A log's signing keys in key files: reading a note signer from a `keyfile` and checking that
//! a key may sign a log (an Ed25519 note key named after the log's origin).

use std::path::Path;

use tlog::note::{KeyKind, Signer, VerifierKey};

use crate::Error;

/// Reads a note signer from the key file at `path`, opening it with `passphrase` when sealed.
pub fn load_signer(path: &Path, passphrase: Option<&str>) -> Result<Signer, Error> {
    let secret = keyfile::read(path, passphrase)
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    Signer::parse(&secret)
        .map_err(|_| Error::Config(format!("{} does not hold a juki signing key", path.display())))
}

/// A log key must be an Ed25519 note key named after the origin.
pub fn check_log_key(vkey: &VerifierKey, origin: &str) -> Result<(), Error> {
    if vkey.kind() != KeyKind::Ed25519 {
        return Err(Error::Config(
            "a log key must be an Ed25519 key; this is a witness cosignature key".into(),
        ));
    }
    if vkey.name() != origin {
        return Err(Error::Config(format!(
            "the key is named {:?} but the log's origin is {origin:?}; a log's key is named after \
             its origin (generate one with `juki key generate --name {origin}`)",
            vkey.name()
        )));
    }
    Ok(())
}

/// Loads an unattended log key (not sealed: a node signs its checkpoints by itself) and checks
/// that it is named after `origin`.
pub fn load_log_signer(path: &Path, origin: &str) -> Result<Signer, Error> {
    let signer = load_signer(path, None)?;
    check_log_key(&signer.verifier(), origin)
        .map_err(|e| Error::Config(format!("{} is not this log's key: {e}", path.display())))?;
    Ok(signer)
}
