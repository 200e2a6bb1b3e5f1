//! The network's certificate authority: a self-signed ECDSA P-256 CA that issues node and
//! client certificates, signs certificate signing requests with the identity *it* decides, and
//! publishes revocation lists.
//!
//! Every issued certificate carries exactly one identity SAN URI (`urn:juki:…`), DNS or IP SANs
//! for the hosts the CA grants, the client-auth and server-auth extended key usages, and a random
//! 128-bit serial number. Keys are ECDSA P-256 with SHA-256, which rustls with aws-lc-rs verifies
//! everywhere.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PublicKeyData as _,
    RevokedCertParams, SanType, SerialNumber, SubjectPublicKeyInfo,
};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, CertificateSigningRequestDer};
use time::OffsetDateTime;
use x509_parser::prelude::FromDer as _;

use crate::identity::Identity;

/// How long a new CA certificate is valid.
pub const CA_VALIDITY: Duration = Duration::from_secs(20 * 365 * 24 * 3600);

/// Why a CA operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// Generating a key, or encoding or signing a certificate, CSR or CRL failed.
    #[error("{what} failed: {source}")]
    Rcgen {
        /// What was being done.
        what: &'static str,
        /// The rcgen error.
        source: rcgen::Error,
    },
    /// The CA certificate or key PEM given to [`Ca::load`] is unusable.
    #[error("the CA {what} could not be loaded: {reason}")]
    Load {
        /// "certificate" or "key".
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The CA key does not belong to the CA certificate.
    #[error("the CA key does not match the CA certificate's public key")]
    KeyMismatch,
    /// A certificate signing request that is not PEM, not a CSR, or whose self-signature is bad.
    #[error("the certificate signing request is not acceptable: {0}")]
    Csr(String),
    /// A host that is neither an IP address nor a valid DNS name.
    #[error("{0:?} is not a valid host name or IP address")]
    Host(String),
    /// A validity period that ends before it starts.
    #[error("the validity period ends before it starts")]
    Validity,
    /// A certificate whose serial number could not be read.
    #[error("the certificate could not be parsed: {0}")]
    Certificate(String),
    /// No randomness for the serial number.
    #[error("no randomness for a serial number: {0}")]
    Random(String),
}

fn rcgen_err(what: &'static str) -> impl FnOnce(rcgen::Error) -> CaError {
    move |source| CaError::Rcgen { what, source }
}

/// When a certificate is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// Not valid before.
    pub not_before: SystemTime,
    /// Not valid after.
    pub not_after: SystemTime,
}

impl Validity {
    /// From five minutes ago (clock skew between nodes) for `days` days.
    pub fn days(days: u64) -> Self {
        let now = SystemTime::now();
        Validity {
            not_before: now - Duration::from_secs(300),
            not_after: now + Duration::from_secs(days * 24 * 3600),
        }
    }
}

/// A certificate serial number, shown and parsed as lowercase hex without leading zero bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Serial(Vec<u8>);

impl Serial {
    fn new(bytes: &[u8]) -> Self {
        let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
        Serial(bytes[start..].to_vec())
    }

    /// The serial number of a certificate.
    pub fn of(cert: &CertificateDer<'_>) -> Result<Self, CaError> {
        let (_, cert) = x509_parser::parse_x509_certificate(cert.as_ref())
            .map_err(|e| CaError::Certificate(e.to_string()))?;
        Ok(Serial::new(cert.raw_serial()))
    }

    /// The serial number of the first certificate in a PEM text.
    pub fn of_pem(cert_pem: &str) -> Result<Self, CaError> {
        let der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| CaError::Certificate(e.to_string()))?;
        Serial::of(&der)
    }

    fn random() -> Result<Self, CaError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| CaError::Random(e.to_string()))?;
        // Positive, and exactly 16 bytes long with no leading zero byte.
        bytes[0] = (bytes[0] & 0x7f) | 0x40;
        Ok(Serial(bytes.to_vec()))
    }

    /// The big-endian bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("00");
        }
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// A serial number that is not hex.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a serial number (hex digits, at most 20 bytes)")]
pub struct SerialParseError(String);

impl FromStr for Serial {
    type Err = SerialParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || SerialParseError(s.to_owned());
        let hex = s.trim().replace(':', "");
        if hex.is_empty() || !hex.len().is_multiple_of(2) || hex.len() > 40 {
            return Err(err());
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2).ok_or_else(err)?, 16).map_err(|_| err()))
            .collect::<Result<Vec<u8>, _>>()?;
        Ok(Serial::new(&bytes))
    }
}

/// The network's certificate authority: its certificate and signing key.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
    cert_der: CertificateDer<'static>,
}

impl fmt::Debug for Ca {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ca").field("cert_pem", &self.cert_pem).finish_non_exhaustive()
    }
}

impl Ca {
    /// A new self-signed CA named `name`; returns the CA and its certificate and key as PEM.
    pub fn init(name: &str) -> Result<(Ca, String, String), CaError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(rcgen_err("generating the CA key"))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let validity = Validity::days(CA_VALIDITY.as_secs() / 86_400);
        params.not_before = OffsetDateTime::from(validity.not_before);
        params.not_after = OffsetDateTime::from(validity.not_after);
        params.serial_number = Some(SerialNumber::from_slice(Serial::random()?.as_bytes()));
        let cert = params.self_signed(&key).map_err(rcgen_err("signing the CA certificate"))?;
        let cert_pem = cert.pem();
        let key_pem = key.serialize_pem();
        let ca = Ca { cert_der: cert.der().clone(), issuer: Issuer::new(params, key), cert_pem };
        let cert_pem = ca.cert_pem.clone();
        Ok((ca, cert_pem, key_pem))
    }

    /// Loads a CA from its certificate and key PEM, checking that they belong together.
    pub fn load(cert_pem: &str, key_pem: &str) -> Result<Ca, CaError> {
        let key = KeyPair::from_pem(key_pem)
            .map_err(|e| CaError::Load { what: "key", reason: e.to_string() })?;
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| CaError::Load { what: "certificate", reason: e.to_string() })?;
        let (_, parsed) = x509_parser::parse_x509_certificate(cert_der.as_ref())
            .map_err(|e| CaError::Load { what: "certificate", reason: e.to_string() })?;
        if !parsed.is_ca() {
            return Err(CaError::Load {
                what: "certificate",
                reason: "it is not a CA certificate (basicConstraints cA is not set)".into(),
            });
        }
        if parsed.public_key().raw != key.subject_public_key_info().as_slice() {
            return Err(CaError::KeyMismatch);
        }
        let issuer = Issuer::from_ca_cert_der(&cert_der, key)
            .map_err(|e| CaError::Load { what: "certificate", reason: e.to_string() })?;
        Ok(Ca { issuer, cert_pem: cert_pem.to_owned(), cert_der: cert_der.into_owned() })
    }

    /// The CA certificate as PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate as DER (the trust root every node configures).
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// Issues a certificate and a fresh P-256 key for `identity`, valid for `hosts` (DNS names
    /// or IP addresses; may be empty for pure clients). Returns the certificate and key as PEM.
    pub fn issue(
        &self,
        identity: &Identity,
        hosts: &[&str],
        validity: Validity,
    ) -> Result<(String, String), CaError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(rcgen_err("generating the key"))?;
        let params = leaf_params(identity, hosts, validity)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(rcgen_err("signing"))?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// Signs a node's certificate signing request. Only the CSR's public key (after checking the
    /// CSR's self-signature, which proves the requester holds the private key) is used: the
    /// identity, hosts and validity are the ones the CA grants here, whatever the CSR asks for.
    pub fn sign_csr(
        &self,
        csr_pem: &str,
        identity: &Identity,
        hosts: &[&str],
        validity: Validity,
    ) -> Result<String, CaError> {
        let der = CertificateSigningRequestDer::from_pem_slice(csr_pem.as_bytes())
            .map_err(|e| CaError::Csr(format!("not a PEM CERTIFICATE REQUEST: {e}")))?;
        let (rest, csr) =
            x509_parser::certification_request::X509CertificationRequest::from_der(der.as_ref())
                .map_err(|e| CaError::Csr(e.to_string()))?;
        if !rest.is_empty() {
            return Err(CaError::Csr("trailing bytes after the request".into()));
        }
        csr.verify_signature()
            .map_err(|e| CaError::Csr(format!("its self-signature does not verify: {e}")))?;
        let public_key =
            SubjectPublicKeyInfo::from_der(csr.certification_request_info.subject_pki.raw)
                .map_err(|e| CaError::Csr(format!("unsupported public key: {e}")))?;
        let params = leaf_params(identity, hosts, validity)?;
        let cert = params.signed_by(&public_key, &self.issuer).map_err(rcgen_err("signing"))?;
        Ok(cert.pem())
    }

    /// A CRL revoking `revoked`, valid from now until `next_update`. Its CRL number is the
    /// current Unix time in seconds, so later lists have larger numbers.
    pub fn crl(&self, revoked: &[Serial], next_update: SystemTime) -> Result<String, CaError> {
        let now = SystemTime::now();
        let number = now.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs();
        let params = CertificateRevocationListParams {
            this_update: OffsetDateTime::from(now),
            next_update: OffsetDateTime::from(next_update),
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|serial| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(serial.as_bytes()),
                    revocation_time: OffsetDateTime::from(now),
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        let crl = params.signed_by(&self.issuer).map_err(rcgen_err("signing the CRL"))?;
        crl.pem().map_err(rcgen_err("encoding the CRL"))
    }
}

/// A node's certificate signing request for `identity` and `hosts`, with a fresh P-256 key
/// generated here (the key never leaves the node). Returns the CSR and key as PEM. The CA decides
/// what the certificate finally says; the CSR's names are only a request.
pub fn csr(identity: &Identity, hosts: &[&str]) -> Result<(String, String), CaError> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(rcgen_err("generating the key"))?;
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, identity.to_string());
    params.subject_alt_names = subject_alt_names(identity, hosts)?;
    let request = params.serialize_request(&key).map_err(rcgen_err("signing the CSR"))?;
    let pem = request.pem().map_err(rcgen_err("encoding the CSR"))?;
    Ok((pem, key.serialize_pem()))
}

fn subject_alt_names(identity: &Identity, hosts: &[&str]) -> Result<Vec<SanType>, CaError> {
    let uri = identity.to_uri().try_into().map_err(rcgen_err("encoding the identity URI"))?;
    let mut sans = vec![SanType::URI(uri)];
    for host in hosts {
        sans.push(match host.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => {
                let valid = !host.is_empty()
                    && rustls_pki_types::DnsName::try_from(*host).is_ok()
                    && !host.contains(':');
                if !valid {
                    return Err(CaError::Host((*host).to_owned()));
                }
                SanType::DnsName((*host).try_into().map_err(|_| CaError::Host((*host).into()))?)
            }
        });
    }
    Ok(sans)
}

fn leaf_params(
    identity: &Identity,
    hosts: &[&str],
    validity: Validity,
) -> Result<CertificateParams, CaError> {
    if validity.not_after <= validity.not_before {
        return Err(CaError::Validity);
    }
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, identity.to_string());
    params.subject_alt_names = subject_alt_names(identity, hosts)?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages =
        vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    params.not_before = OffsetDateTime::from(validity.not_before);
    params.not_after = OffsetDateTime::from(validity.not_after);
    params.serial_number = Some(SerialNumber::from_slice(Serial::random()?.as_bytes()));
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_parse_and_print() {
        let serial: Serial = "00:4a:0b".parse().unwrap();
        assert_eq!(serial.to_string(), "4a0b");
        assert!("xyz".parse::<Serial>().is_err());
        let random = Serial::random().unwrap();
        assert_eq!(random.as_bytes().len(), 16);
        assert_eq!(random.to_string().parse::<Serial>().unwrap(), random);
    }

    #[test]
    fn issued_serial_is_readable() {
        let (ca, _, _) = Ca::init("test CA").unwrap();
        let identity = Identity::without_code(crate::Role::Witness).unwrap();
        let (cert, _) = ca.issue(&identity, &["witness.example"], Validity::days(1)).unwrap();
        assert_eq!(Serial::of_pem(&cert).unwrap().as_bytes().len(), 16);
        assert!(matches!(
            ca.issue(&identity, &["bad host"], Validity::days(1)),
            Err(CaError::Host(_))
        ));
    }

    #[test]
    fn load_checks_the_key() {
        let (_, cert, key) = Ca::init("one").unwrap();
        let (_, _, other_key) = Ca::init("two").unwrap();
        assert!(Ca::load(&cert, &key).is_ok());
        assert!(matches!(Ca::load(&cert, &other_key), Err(CaError::KeyMismatch)));
    }
}
