//! Who a certificate names: a role and, for towns, prefectures and agencies, their code, written
//! as exactly one SAN URI `urn:juki:<role>[:<code>]`, and read back from a verified peer
//! certificate.
//!
//! [`peer_identity`] reads only the SAN URI of a certificate that rustls has *already verified*
//! against the network's CA (and its CRL). It does not verify anything itself; nothing else in
//! the certificate (subject CN, DNS names) is ever used as identity.

use std::fmt;
use std::str::FromStr;

use rustls_pki_types::CertificateDer;
use x509_parser::extensions::GeneralName;

/// The URI scheme and namespace every juki identity URI starts with.
pub const URN_PREFIX: &str = "urn:juki:";

/// What a node or client is in the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// A town's node (市区町村); carries its 6-digit municipality code.
    Municipal,
    /// A prefecture's node (都道府県); carries its 2-digit prefecture number.
    Prefecture,
    /// The national centre.
    National,
    /// A log witness.
    Witness,
    /// A government agency that reads through the national node; carries its agency id.
    Agency,
    /// A clerk's console in a town office; carries the town's 6-digit municipality code, so a
    /// town's office listener admits only its own consoles.
    Console,
    /// The national signer: holds the national key, apart from the national node, and signs
    /// move-out certificates, move notices and code blocks only on evidence it checks itself.
    Signer,
    /// The national 24-hour monitoring: reads the nodes' alerts and metrics, and nothing else.
    Monitor,
}

impl Role {
    /// Every role, in a fixed order.
    pub const ALL: [Role; 8] = [
        Role::Municipal,
        Role::Prefecture,
        Role::National,
        Role::Witness,
        Role::Agency,
        Role::Console,
        Role::Signer,
        Role::Monitor,
    ];

    /// The role's name in the identity URI.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Municipal => "municipal",
            Role::Prefecture => "prefecture",
            Role::National => "national",
            Role::Witness => "witness",
            Role::Agency => "agency",
            Role::Console => "console",
            Role::Signer => "signer",
            Role::Monitor => "monitor",
        }
    }

    /// Whether an identity of this role carries a code.
    pub fn has_code(self) -> bool {
        matches!(self, Role::Municipal | Role::Prefecture | Role::Agency | Role::Console)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = IdentityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| IdentityError::UnknownRole(s.to_owned()))
    }
}

/// A role and, where the role has one, its code. Construct with [`Identity::new`] (or the
/// shorthand constructors), which validates the code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity {
    /// The role.
    pub role: Role,
    /// Municipality code (6 digits), prefecture number (2 digits), agency id, or `None`.
    pub code: Option<String>,
}

/// Why an identity, an identity URI, or a peer certificate's identity is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The role name is not one of the eight.
    #[error(
        "unknown role {0:?}: expected municipal, prefecture, national, witness, agency, console, signer or monitor"
    )]
    UnknownRole(String),
    /// A municipal, prefecture, agency or console identity without its code.
    #[error("a {0} identity needs a code")]
    MissingCode(Role),
    /// A national or witness identity with a code.
    #[error("a {role} identity has no code, but {code:?} was given")]
    UnexpectedCode {
        /// The role.
        role: Role,
        /// The code that was given.
        code: String,
    },
    /// The code does not have the role's syntax.
    #[error("{code:?} is not a valid {role} code: {reason}")]
    InvalidCode {
        /// The role.
        role: Role,
        /// The code.
        code: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A URI that does not start with `urn:juki:`.
    #[error("{0:?} is not a juki identity URI (urn:juki:<role>[:<code>])")]
    NotJukiUri(String),
    /// The certificate could not be parsed.
    #[error("the certificate could not be parsed: {0}")]
    Certificate(String),
    /// The certificate has no juki identity URI.
    #[error("the certificate names no juki identity (no urn:juki: SAN URI)")]
    NoIdentity,
    /// The certificate has several juki identity URIs.
    #[error("the certificate names {0} juki identities; exactly one is allowed")]
    SeveralIdentities(usize),
}

impl Identity {
    /// An identity, validating that the code fits the role.
    pub fn new(role: Role, code: Option<&str>) -> Result<Self, IdentityError> {
        match (role.has_code(), code) {
            (true, None) => Err(IdentityError::MissingCode(role)),
            (false, Some(code)) => {
                Err(IdentityError::UnexpectedCode { role, code: code.to_owned() })
            }
            (false, None) => Ok(Identity { role, code: None }),
            (true, Some(code)) => {
                check_code(role, code)?;
                Ok(Identity { role, code: Some(code.to_owned()) })
            }
        }
    }

    /// A town's node, by its 6-digit municipality code (e.g. `204072`, 阿智村).
    pub fn municipal(code: &str) -> Result<Self, IdentityError> {
        Identity::new(Role::Municipal, Some(code))
    }

    /// A prefecture's node, by its 2-digit number (e.g. `20`, Nagano).
    pub fn prefecture(number: &str) -> Result<Self, IdentityError> {
        Identity::new(Role::Prefecture, Some(number))
    }

    /// An agency, by its id.
    pub fn agency(id: &str) -> Result<Self, IdentityError> {
        Identity::new(Role::Agency, Some(id))
    }

    /// A clerk's console of the town with this municipality code.
    pub fn console(code: &str) -> Result<Self, IdentityError> {
        Identity::new(Role::Console, Some(code))
    }

    /// An identity of a role without a code (national, witness).
    pub fn without_code(role: Role) -> Result<Self, IdentityError> {
        Identity::new(role, None)
    }

    /// The SAN URI: `urn:juki:<role>[:<code>]`.
    pub fn to_uri(&self) -> String {
        match &self.code {
            Some(code) => format!("{URN_PREFIX}{}:{code}", self.role),
            None => format!("{URN_PREFIX}{}", self.role),
        }
    }

    /// Parses a SAN URI written by [`Identity::to_uri`]; anything else is refused.
    pub fn from_uri(uri: &str) -> Result<Self, IdentityError> {
        let rest = uri
            .strip_prefix(URN_PREFIX)
            .ok_or_else(|| IdentityError::NotJukiUri(uri.to_owned()))?;
        let (role, code) = match rest.split_once(':') {
            Some((role, code)) => (role, Some(code)),
            None => (rest, None),
        };
        Identity::new(role.parse()?, code)
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{}:{code}", self.role),
            None => write!(f, "{}", self.role),
        }
    }
}

fn check_code(role: Role, code: &str) -> Result<(), IdentityError> {
    let invalid = |reason| IdentityError::InvalidCode { role, code: code.to_owned(), reason };
    match role {
        // The check-digit rule lives in the domain crate alone.
        Role::Municipal | Role::Console => match registry_domain::check_jis_x0402(code) {
            Ok(()) => Ok(()),
            Err(registry_domain::MunicipalityCodeError::CheckDigit { .. }) => {
                Err(invalid("the last digit is not the JIS X 0402 check digit"))
            }
            Err(_) => Err(invalid("a municipality code is 6 ASCII digits")),
        },
        Role::Prefecture => match code.parse::<u8>() {
            Ok(1..=47) if code.len() == 2 && code.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
            _ => Err(invalid("a prefecture number is two digits from 01 to 47")),
        },
        Role::Agency => {
            let ok = (1..=63).contains(&code.len())
                && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !code.starts_with('-')
                && !code.ends_with('-');
            if ok {
                Ok(())
            } else {
                Err(invalid(
                    "an agency id is 1-63 of a-z, 0-9 and '-', not starting or ending with '-'",
                ))
            }
        }
        Role::National | Role::Witness | Role::Signer | Role::Monitor => {
            Err(IdentityError::UnexpectedCode { role, code: code.to_owned() })
        }
    }
}

/// The identity named by an **already verified** peer certificate (the leaf rustls returns from
/// `peer_certificates()` after a successful handshake against the network's CA).
///
/// Only the SAN URIs are read. A URI counts as a juki identity if it starts with `urn:juki:`
/// in any letter case; exactly one must be present and it must parse. Other URIs are ignored.
pub fn peer_identity(verified_leaf: &CertificateDer<'_>) -> Result<Identity, IdentityError> {
    let (_, cert) = x509_parser::parse_x509_certificate(verified_leaf.as_ref())
        .map_err(|e| IdentityError::Certificate(e.to_string()))?;
    // Errors if the SAN extension appears more than once.
    let san = cert
        .subject_alternative_name()
        .map_err(|e| IdentityError::Certificate(format!("subject alternative name: {e}")))?;
    let juki_uris: Vec<&str> = san
        .iter()
        .flat_map(|ext| ext.value.general_names.iter())
        .filter_map(|name| match name {
            GeneralName::URI(uri) => Some(*uri),
            _ => None,
        })
        .filter(|uri| {
            uri.get(..URN_PREFIX.len()).is_some_and(|p| p.eq_ignore_ascii_case(URN_PREFIX))
        })
        .collect();
    match juki_uris.as_slice() {
        [] => Err(IdentityError::NoIdentity),
        [uri] => Identity::from_uri(uri),
        several => Err(IdentityError::SeveralIdentities(several.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_round_trip() {
        for (identity, uri) in [
            (Identity::municipal("204072").unwrap(), "urn:juki:municipal:204072"),
            (Identity::municipal("203611").unwrap(), "urn:juki:municipal:203611"),
            (Identity::prefecture("20").unwrap(), "urn:juki:prefecture:20"),
            (Identity::without_code(Role::National).unwrap(), "urn:juki:national"),
            (Identity::agency("nta").unwrap(), "urn:juki:agency:nta"),
        ] {
            assert_eq!(identity.to_uri(), uri);
            assert_eq!(Identity::from_uri(uri).unwrap(), identity);
        }
    }

    #[test]
    fn bad_identities_are_refused() {
        assert!(matches!(Identity::municipal("204071"), Err(IdentityError::InvalidCode { .. })));
        assert!(matches!(Identity::municipal("20407"), Err(IdentityError::InvalidCode { .. })));
        assert!(matches!(Identity::prefecture("48"), Err(IdentityError::InvalidCode { .. })));
        assert!(matches!(Identity::prefecture("7"), Err(IdentityError::InvalidCode { .. })));
        assert!(matches!(Identity::agency("-x"), Err(IdentityError::InvalidCode { .. })));
        assert!(matches!(
            Identity::new(Role::National, Some("1")),
            Err(IdentityError::UnexpectedCode { .. })
        ));
        assert!(matches!(
            Identity::new(Role::Municipal, None),
            Err(IdentityError::MissingCode(Role::Municipal))
        ));
        assert!(matches!(Identity::from_uri("urn:juki:mayor"), Err(IdentityError::UnknownRole(_))));
        assert!(matches!(
            Identity::from_uri("urn:juki:national:"),
            Err(IdentityError::UnexpectedCode { .. })
        ));
        assert!(matches!(
            Identity::from_uri("urn:other:national"),
            Err(IdentityError::NotJukiUri(_))
        ));
        assert!(matches!(
            Identity::from_uri("urn:juki:municipal:204072:x"),
            Err(IdentityError::InvalidCode { .. })
        ));
    }
}
