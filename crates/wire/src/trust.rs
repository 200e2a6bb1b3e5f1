//! What a client must know of a town to check the evidence that travels with its records: the
//! town's public keys as the network registered them. A client is configured with these (the
//! network's directory, a node's `node.toml`); it never takes them from an answer.

use registry_core::evidence::TownTrust;
use registry_domain::MunicipalityCode;
use serde::{Deserialize, Serialize};
use tlog::checkpoint::Policy;
use tlog::note::VerifierKey;

/// A town's registration: its registry log, the witnesses that must cosign its checkpoints,
/// and the admin key its genesis names.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TownKeys {
    /// The municipality code.
    pub municipality: String,
    /// The registry log's origin.
    pub origin: String,
    /// The town's node key, which signs the registry log's checkpoints.
    pub vkey: String,
    /// The witnesses' cosignature keys.
    #[serde(default)]
    pub witnesses: Vec<String>,
    /// How many of them must have cosigned a checkpoint.
    #[serde(default)]
    pub quorum: usize,
    /// The admin key the town's genesis names (it signs enrolments).
    pub admin: String,
}

/// Why a registration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    /// A field does not parse.
    #[error("the registration of town {town}: {field} is not valid: {detail}")]
    Invalid {
        /// The town as written.
        town: String,
        /// The field.
        field: &'static str,
        /// Why.
        detail: String,
    },
}

impl TownKeys {
    /// The registration as the evidence check uses it.
    pub fn trust(&self) -> Result<TownTrust, TrustError> {
        let invalid = |field: &'static str, detail: String| TrustError::Invalid {
            town: self.municipality.clone(),
            field,
            detail,
        };
        let key = |field: &'static str, text: &str| {
            VerifierKey::parse(text).map_err(|e| invalid(field, e.to_string()))
        };
        let policy = Policy {
            log_keys: vec![key("vkey", &self.vkey)?],
            witnesses: self
                .witnesses
                .iter()
                .map(|w| key("witnesses", w))
                .collect::<Result<_, _>>()?,
            quorum: self.quorum,
        };
        policy.validate().map_err(|e| invalid("quorum", e.to_string()))?;
        Ok(TownTrust {
            municipality: MunicipalityCode::parse(&self.municipality)
                .map_err(|e| invalid("municipality", e.to_string()))?,
            origin: self.origin.clone(),
            policy,
            admin: key("admin", &self.admin)?,
        })
    }
}
