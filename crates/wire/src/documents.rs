//! What a node hands out and what it records when it does: the certificate copy of a resident's
//! record (住民票の写し, `juki.copy/v1`, signed by the issuing town's node key) and the private
//! provision record (`juki.provision/v1`) appended to the provision log before the copy leaves;
//! a read at a town office names the clerk's operator key and keeps the clerk's signed read
//! request (`crate::read`) in it.
//! Texts use the registry events' `key value` format.

use registry_core::evidence::{self, EvidenceError, TownTrust};
use registry_core::fields::Writer;
use registry_domain::{IdentityRecordParts, RecordStatus};
use serde::{Deserialize, Serialize};
use tlog::note::{self, Verifiers};

/// The copy's first line.
pub const COPY: &str = "juki.copy/v1";
/// The provision record's first line.
pub const PROVISION: &str = "juki.provision/v1";

/// A provision: who gave what to whom, why.
pub struct Provision<'a> {
    /// `copy`, `wide-area-copy`, `lookup`, `move-out-certificate`, `identity`.
    pub kind: &'a str,
    /// The resident's code.
    pub resident: &'a str,
    /// The node that provided (identity URI).
    pub by: &'a str,
    /// The verified identity of the requester.
    pub to: &'a str,
    /// For a wide-area copy: the town that issued the record.
    pub source: Option<&'a str>,
    /// The purpose: a catalogue code for an agency, a declared purpose at a counter.
    pub purpose: &'a str,
    /// The items provided, as `purposes::items_text` writes them (absent: the whole record).
    pub items: Option<&'a str>,
    /// POSIX seconds.
    pub time: u64,
    /// For a read at a town office: the verifier key of the clerk's operator key that signed
    /// the read request (its name is the key's name as the clerk's town enrolled it).
    pub operator: Option<&'a str>,
    /// For a read at a town office: the clerk's signed read request (`juki.read/v1`), exactly
    /// as signed, so the record proves which clerk read whom under which purpose.
    pub request: Option<&'a str>,
}

impl Provision<'_> {
    /// The record's text, with `salt`: a secret drawn afresh for each record and kept with it,
    /// so that the record's public commitment in the provision log cannot be confirmed by
    /// guessing its text ("was resident X looked up by agency Y?"); whoever is shown the record
    /// (the resident, on disclosure) sees the salt and can check the commitment.
    pub fn to_text(&self, salt: &[u8; 32]) -> String {
        Writer::new(PROVISION)
            .field("salt", tlog::Hash(*salt).to_base64())
            .field("kind", self.kind)
            .field("resident", self.resident)
            .field("by", self.by)
            .field("to", self.to)
            .optional("source", self.source)
            .field("purpose", self.purpose)
            .optional("items", self.items)
            .field("time", self.time)
            .optional("operator", self.operator)
            .optional("request", self.request)
            .finish()
    }
}

/// The text of a certificate copy of `record`, issued by `municipality` for provision
/// `provision` of its provision log.
pub fn copy_text(
    municipality: &str,
    record: &IdentityRecordParts,
    provision: u64,
    time: u64,
) -> String {
    Writer::new(COPY)
        .field("municipality", municipality)
        .field("resident", record.resident_code)
        .field("status", status(record))
        .identity(&record.name, record.birth_date, record.sex)
        .field("address", record.address.full_text())
        .field("reason", record.latest_change.reason())
        .field("effective", record.latest_change.date())
        .field("history", record.history_number)
        .field("provision", provision)
        .field("issued", time)
        .finish()
}

fn status(record: &IdentityRecordParts) -> &'static str {
    match record.status {
        RecordStatus::Active => "active",
        RecordStatus::Closed { .. } => "closed",
    }
}

/// A resident's record as the office API returns it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, utoipa::ToSchema)]
pub struct RecordJson {
    /// 住民票コード.
    pub resident: String,
    /// `active` or `closed`.
    pub status: String,
    /// 氏名.
    pub name: String,
    /// Reading.
    pub reading: String,
    /// 生年月日.
    pub birth: String,
    /// 性別 code.
    pub sex: u8,
    /// The address's municipality.
    pub municipality: String,
    /// 住所.
    pub address: String,
    /// The latest change's reason.
    pub reason: String,
    /// Its date.
    pub effective: String,
    /// 履歴番号.
    pub history: u32,
}

impl RecordJson {
    /// From a record.
    pub fn of(record: &IdentityRecordParts) -> RecordJson {
        RecordJson {
            resident: record.resident_code.to_string(),
            status: status(record).to_owned(),
            name: record.name.name().to_string(),
            reading: record.name.reading().to_string(),
            birth: record.birth_date.to_string(),
            sex: record.sex.code(),
            municipality: record.address.municipality().to_string(),
            address: record.address.full_text(),
            reason: record.latest_change.reason().code().to_owned(),
            effective: record.latest_change.date().to_string(),
            history: record.history_number.get(),
        }
    }
}

/// A certificate copy as a node hands it out and a resident or an office keeps it: the copy
/// signed by the keeping town's node key, and the evidence (c2sp.org/tlog-proof receipts, each
/// carrying a signed event) of the record it states. `juki verify` checks one offline.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, utoipa::ToSchema)]
pub struct CopyFile {
    /// The signed copy (`juki.copy/v1`), exactly as signed.
    pub copy: String,
    /// The receipts of the record's evidence (see `registry_core::evidence`).
    pub evidence: Vec<String>,
}

/// A copy whose signature and evidence verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCopy {
    /// The record it states, as the town's witnessed log holds it.
    pub record: IdentityRecordParts,
    /// The provision-log index of its issuance.
    pub provision: u64,
    /// When it was issued (POSIX seconds).
    pub issued: u64,
    /// The size of the witnessed checkpoint that proves the record.
    pub checkpoint_size: u64,
}

/// Why a copy does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CopyError {
    /// The copy is not signed by the town's node key.
    #[error("the copy is not signed by the node key of {town}: {detail}")]
    Signature {
        /// The town.
        town: String,
        /// Why.
        detail: String,
    },
    /// The evidence does not prove a record.
    #[error("the copy's evidence: {0}")]
    Evidence(#[from] EvidenceError),
    /// The copy states something other than the proven record.
    #[error("the copy does not state the record its evidence proves")]
    Mismatch,
}

/// Checks a copy against its town's registration: the copy is signed by the town's node key,
/// its evidence proves a record, and the copy states exactly that record.
pub fn verify_copy(file: &CopyFile, trust: &TownTrust) -> Result<VerifiedCopy, CopyError> {
    let known: Verifiers = trust.policy.log_keys.iter().cloned().collect();
    let opened = note::open(file.copy.as_bytes(), &known).map_err(|e| CopyError::Signature {
        town: trust.municipality.to_string(),
        detail: e.to_string(),
    })?;
    let receipts = evidence::parse(&file.evidence)?;
    let proven = evidence::verify(&receipts, trust)?;
    let text = opened.text();
    let number = |key: &str| -> Option<u64> {
        text.lines().rev().find_map(|line| line.strip_prefix(key)?.strip_prefix(' ')?.parse().ok())
    };
    let (Some(provision), Some(issued)) = (number("provision"), number("issued")) else {
        return Err(CopyError::Mismatch);
    };
    let record = proven.change.record;
    if text != copy_text(&trust.municipality.to_string(), &record, provision, issued) {
        return Err(CopyError::Mismatch);
    }
    Ok(VerifiedCopy { record, provision, issued, checkpoint_size: proven.checkpoint_size })
}
