//! The PEM files that hold a node's TLS identity (certificate chain, private key, the network's
//! CA certificate, and the CA's CRL), read and turned into rustls material with the offending
//! file named in every error.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pki::{ClientAuth, ReloadableServerConfig, TlsConfigError};
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

/// Where a node's TLS identity lives. Every file is PEM: `cert` the certificate chain (leaf
/// first), `key` its private key (PKCS#8, as `juki pki issue` writes it; a key file sealed
/// with a passphrase must be opened by the caller first), `ca` the network's CA certificate,
/// `crl` the CA's current revocation list. Without a `crl` nothing is checked for revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key of the leaf.
    pub key: PathBuf,
    /// The network's CA certificate, the only trust root.
    pub ca: PathBuf,
    /// The CA's revocation list.
    pub crl: Option<PathBuf>,
}

/// Why TLS material could not be loaded from files.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A file that is not text, so not PEM.
    #[error("{} is not a PEM file: it is not UTF-8 text", path.display())]
    NotText {
        /// The file.
        path: PathBuf,
    },
    /// A PEM file without what it should hold.
    #[error("{}: {source}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: TlsConfigError,
    },
    /// A configured CRL file that holds no CRL; refused rather than checking nothing.
    #[error(
        "{} holds no CRL (expected an X509 CRL PEM block, as `juki pki crl` writes); configure \
         no CRL file if revocation is not to be checked",
        path.display()
    )]
    NoCrl {
        /// The file.
        path: PathBuf,
    },
    /// rustls refused the configuration built from the files (for instance, a key that does not
    /// belong to the certificate, or a CA certificate that is not a usable trust root).
    #[error("the TLS configuration from {files} was refused: {source}")]
    Refused {
        /// The files it was built from.
        files: String,
        /// Why.
        source: TlsConfigError,
    },
    /// The HTTPS client could not be built from the configuration.
    #[error("the HTTPS client could not be built: {0}")]
    Client(#[source] reqwest::Error),
}

impl TlsFiles {
    /// A server configuration from these files that swaps in new certificates and CRLs at run
    /// time (see [`watch`](crate::watch())). `client_auth` decides whether clients must present
    /// a certificate.
    pub fn server_config(
        &self,
        client_auth: ClientAuth,
    ) -> Result<Arc<ReloadableServerConfig>, LoadError> {
        let paths = Paths::from(self);
        let material = Contents::read(&paths)?.parse(&paths)?;
        let (chain, key) = material.identity.expect("TlsFiles always names a certificate and key");
        ReloadableServerConfig::new(chain, key, material.roots, material.crls, client_auth)
            .map(Arc::new)
            .map_err(|source| paths.refused(source))
    }
}

/// The files of a server or client identity; a client without a certificate has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Paths {
    pub(crate) identity: Option<(PathBuf, PathBuf)>,
    pub(crate) ca: PathBuf,
    pub(crate) crl: Option<PathBuf>,
}

impl From<&TlsFiles> for Paths {
    fn from(files: &TlsFiles) -> Self {
        Paths {
            identity: Some((files.cert.clone(), files.key.clone())),
            ca: files.ca.clone(),
            crl: files.crl.clone(),
        }
    }
}

impl Paths {
    pub(crate) fn refused(&self, source: TlsConfigError) -> LoadError {
        let mut files: Vec<String> = Vec::new();
        if let Some((cert, key)) = &self.identity {
            files.push(cert.display().to_string());
            files.push(key.display().to_string());
        }
        files.push(self.ca.display().to_string());
        if let Some(crl) = &self.crl {
            files.push(crl.display().to_string());
        }
        LoadError::Refused { files: files.join(", "), source }
    }
}

/// The bytes of every file, as read at one moment; compared to notice changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Contents {
    pub(crate) identity: Option<(Vec<u8>, Vec<u8>)>,
    pub(crate) ca: Vec<u8>,
    pub(crate) crl: Option<Vec<u8>>,
}

/// Parsed TLS material.
pub(crate) struct Material {
    pub(crate) identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    pub(crate) roots: Vec<CertificateDer<'static>>,
    pub(crate) crls: Vec<CertificateRevocationListDer<'static>>,
}

impl Contents {
    pub(crate) fn read(paths: &Paths) -> Result<Self, LoadError> {
        let identity = match &paths.identity {
            Some((cert, key)) => Some((read(cert)?, read(key)?)),
            None => None,
        };
        let crl = paths.crl.as_deref().map(read).transpose()?;
        Ok(Contents { identity, ca: read(&paths.ca)?, crl })
    }

    pub(crate) fn parse(&self, paths: &Paths) -> Result<Material, LoadError> {
        let identity = match (&self.identity, &paths.identity) {
            (Some((cert, key)), Some((cert_path, key_path))) => {
                Some((parse_certs(cert_path, cert)?, parse_key(key_path, key)?))
            }
            _ => None,
        };
        let crls = match (&self.crl, &paths.crl) {
            (Some(crl), Some(crl_path)) => parse_crls(crl_path, crl)?,
            _ => Vec::new(),
        };
        Ok(Material { identity, roots: parse_certs(&paths.ca, &self.ca)?, crls })
    }
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|source| LoadError::Read { path: path.to_owned(), source })
}

fn text<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str, LoadError> {
    std::str::from_utf8(bytes).map_err(|_| LoadError::NotText { path: path.to_owned() })
}

fn pem_error(path: &Path) -> impl FnOnce(TlsConfigError) -> LoadError {
    let path = path.to_owned();
    move |source| LoadError::Pem { path, source }
}

pub(crate) fn parse_certs(
    path: &Path,
    bytes: &[u8],
) -> Result<Vec<CertificateDer<'static>>, LoadError> {
    pki::certs_from_pem(text(path, bytes)?).map_err(pem_error(path))
}

pub(crate) fn parse_key(path: &Path, bytes: &[u8]) -> Result<PrivateKeyDer<'static>, LoadError> {
    pki::key_from_pem(text(path, bytes)?).map_err(pem_error(path))
}

pub(crate) fn parse_crls(
    path: &Path,
    bytes: &[u8],
) -> Result<Vec<CertificateRevocationListDer<'static>>, LoadError> {
    let crls = pki::crls_from_pem(text(path, bytes)?).map_err(pem_error(path))?;
    if crls.is_empty() {
        return Err(LoadError::NoCrl { path: path.to_owned() });
    }
    Ok(crls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_file() {
        let dir = std::env::temp_dir().join("net-files-test-does-not-exist");
        let missing = dir.join("node.crt");
        let error = read(&missing).unwrap_err();
        assert!(error.to_string().contains("node.crt"), "{error}");
        let error = parse_crls(Path::new("/etc/juki/crl.pem"), b"").unwrap_err();
        assert!(matches!(error, LoadError::NoCrl { .. }), "{error}");
        assert!(error.to_string().contains("/etc/juki/crl.pem"), "{error}");
        let error = parse_key(Path::new("node.key"), &[0xff, 0xfe]).unwrap_err();
        assert!(matches!(error, LoadError::NotText { .. }), "{error}");
        let error = parse_certs(Path::new("ca.crt"), b"hello").unwrap_err();
        assert!(matches!(error, LoadError::Pem { .. }), "{error}");
    }
}
