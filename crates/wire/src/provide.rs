//! Identity provision to agencies: the requests an agency sends the national or a prefecture
//! node, and the answers, each bound to the town's witnessed log. Pure: no I/O.
//!
//! An answer carries only the items the purpose may receive (`ProvidedRecord`), and the
//! node's signed statement of them (`juki.provided/v1`), which names the provision record
//! and the signed event the items come from by its leaf in the keeping town's log, with an
//! inclusion proof of that leaf to the town's witnessed checkpoint. When the purpose may
//! receive every item the event holds, the answer also carries the event itself with its
//! whole evidence, and the agency checks the record end to end, trusting the node for
//! nothing. Otherwise the node vouches for the items with its key and is accountable: the
//! statement names one event of the witnessed log, and whoever holds the event (the town, an
//! auditor, the resident on disclosure) can show a false statement false.
//!
//! The node signs its statements in batches: the statements answered together (those whose
//! provision records one commit made durable) are the leaves of a Merkle tree (RFC 9162, as
//! the logs'), and the node signs one `juki.provided-batch/v1` note naming its size and root.
//! An answer carries its statement's text with its [`Seal`]: the signed batch, the statement's
//! position in it and its inclusion proof. Checking a seal costs what checking a signed
//! statement did (one signature, and a few hashes); signing costs one signature per batch
//! instead of one per answer. A sealed statement binds the node as a signed one did: the batch
//! is signed by its key and the proof fixes the statement's exact bytes.
//!
//! ```text
//! juki.provided/v1
//! node urn:juki:national
//! provision 17
//! to urn:juki:agency:pension-service
//! purpose NENKIN-GENKYO
//! time 1764806400
//! town juki.example/204072/registry
//! index 42
//! event <base64 SHA-256 of the signed event>
//! kind juki.change/v1
//! resident 12345678901
//! name 熊谷 花子
//! birth 1975-03-04
//! ```

use std::collections::BTreeSet;

use registry_core::fields::{Fields, FieldsError, Writer};
use registry_domain::{IdentityRecordParts, RecordStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::purposes::Item;

/// The first line of a provision statement.
pub const PROVIDED_HEADER: &str = "juki.provided/v1";

/// The first line of a batch of statements a node signs at once.
pub const PROVIDED_BATCH_HEADER: &str = "juki.provided-batch/v1";

/// The four basic items as an agency clerk typed them (any may be empty but the name).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FourItems {
    /// 氏名.
    pub name: String,
    /// Its reading, if known.
    #[serde(default)]
    pub reading: String,
    /// 生年月日, in any usual notation (1975-03-04, 昭和50年3月4日, S50.3.4).
    #[serde(default)]
    pub birth: String,
    /// 性別 (男, 女, 1, 2, M, F).
    #[serde(default)]
    pub sex: String,
    /// 住所, in any usual notation.
    #[serde(default)]
    pub address: String,
}

/// `POST /v1/provide` and each line of `POST /v1/provide/batch`: a request under a purpose of
/// the catalogue, by 住民票コード or by the four basic items.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvideRequest {
    /// The purpose's code in the catalogue.
    pub purpose: String,
    /// The items wanted; all the purpose may receive when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<BTreeSet<Item>>,
    /// By 住民票コード.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident: Option<String>,
    /// By the four basic items (a match; the purpose must allow searching).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<FourItems>,
}

/// The items of a record a purpose may receive; the others are absent.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ProvidedRecord {
    /// 住民票コード.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident: Option<String>,
    /// `active` or `closed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// 氏名.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reading: Option<String>,
    /// 生年月日.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth: Option<String>,
    /// 性別 code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<String>,
    /// The address's municipality.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub municipality: Option<String>,
    /// 住所.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The latest change's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Its date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective: Option<String>,
    /// 履歴番号.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<String>,
    /// 個人番号.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub individual_number: Option<String>,
}

impl ProvidedRecord {
    /// The `items` of `record`.
    pub fn of(record: &IdentityRecordParts, items: &BTreeSet<Item>) -> ProvidedRecord {
        let has = |item| items.contains(&item);
        let when = |item, value: String| has(item).then_some(value);
        ProvidedRecord {
            resident: when(Item::Code, record.resident_code.to_string()),
            status: when(
                Item::Status,
                match record.status {
                    RecordStatus::Active => "active",
                    RecordStatus::Closed { .. } => "closed",
                }
                .to_owned(),
            ),
            name: when(Item::Name, record.name.name().to_string()),
            reading: when(Item::Reading, record.name.reading().to_string()),
            birth: when(Item::Birth, record.birth_date.to_string()),
            sex: when(Item::Sex, record.sex.code().to_string()),
            municipality: when(Item::Address, record.address.municipality().to_string()),
            address: when(Item::Address, record.address.full_text()),
            reason: when(Item::Change, record.latest_change.reason().code().to_owned()),
            effective: when(Item::Change, record.latest_change.date().to_string()),
            history: when(Item::Change, record.history_number.get().to_string()),
            individual_number: if has(Item::IndividualNumber) {
                record.individual_number.as_ref().map(|n| n.to_string())
            } else {
                None
            },
        }
    }

    /// `(line name, value)` of each item present, in the statement's order.
    fn lines(&self) -> Vec<(&'static str, &str)> {
        [
            ("resident", &self.resident),
            ("status", &self.status),
            ("name", &self.name),
            ("reading", &self.reading),
            ("birth", &self.birth),
            ("sex", &self.sex),
            ("municipality", &self.municipality),
            ("address", &self.address),
            ("reason", &self.reason),
            ("effective", &self.effective),
            ("history", &self.history),
            ("individual-number", &self.individual_number),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().map(|v| (name, v)))
        .collect()
    }
}

/// What a node states it provided, signed with its node key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// The providing node (identity URI).
    pub node: String,
    /// The provision record's index in the node's provision log.
    pub provision: u64,
    /// The agency (identity URI).
    pub to: String,
    /// The purpose's code.
    pub purpose: String,
    /// POSIX seconds.
    pub time: u64,
    /// The keeping town's registry log (origin).
    pub town: String,
    /// The event's index in that log.
    pub index: u64,
    /// The event's SHA-256, base64.
    pub event: String,
    /// The event's first line (its kind), which its log entry names.
    pub kind: String,
    /// The items provided.
    pub record: ProvidedRecord,
}

impl Statement {
    /// The text to sign.
    pub fn text(&self) -> String {
        let mut writer = Writer::new(PROVIDED_HEADER);
        writer
            .field("node", &self.node)
            .field("provision", self.provision)
            .field("to", &self.to)
            .field("purpose", &self.purpose)
            .field("time", self.time)
            .field("town", &self.town)
            .field("index", self.index)
            .field("event", &self.event)
            .field("kind", &self.kind);
        for (name, value) in self.record.lines() {
            writer.field(name, value);
        }
        writer.finish()
    }

    /// Parses a statement's text (its signature is checked apart).
    pub fn parse(text: &str) -> Result<Statement, FieldsError> {
        let fields = Fields::parse(text, PROVIDED_HEADER)?;
        let mut r = fields.reader();
        let number = |v: &str, key: &'static str| {
            v.parse::<u64>().map_err(|_| FieldsError::BadValue {
                line: 0,
                key: key.to_owned(),
                reason: "not a number",
            })
        };
        let node = r.take("node")?.to_owned();
        let provision = number(r.take("provision")?, "provision")?;
        let to = r.take("to")?.to_owned();
        let purpose = r.take("purpose")?.to_owned();
        let time = number(r.take("time")?, "time")?;
        let town = r.take("town")?.to_owned();
        let index = number(r.take("index")?, "index")?;
        let event = r.take("event")?.to_owned();
        let kind = r.take("kind")?.to_owned();
        let mut take = |key: &'static str| r.optional(key).map(|v| v.map(str::to_owned));
        let record = ProvidedRecord {
            resident: take("resident")?,
            status: take("status")?,
            name: take("name")?,
            reading: take("reading")?,
            birth: take("birth")?,
            sex: take("sex")?,
            municipality: take("municipality")?,
            address: take("address")?,
            reason: take("reason")?,
            effective: take("effective")?,
            history: take("history")?,
            individual_number: take("individual-number")?,
        };
        r.finish()?;
        Ok(Statement { node, provision, to, purpose, time, town, index, event, kind, record })
    }
}

/// A batch of statements, signed once by the node: how many, and the root of the Merkle tree
/// whose leaves are their texts.
///
/// ```text
/// juki.provided-batch/v1
/// node urn:juki:national
/// size 12
/// root <base64 SHA-256>
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementBatch {
    /// The signing node (identity URI).
    pub node: String,
    /// How many statements the batch holds.
    pub size: u64,
    /// The root of their tree.
    pub root: tlog::Hash,
}

impl StatementBatch {
    /// The batch of `statements` (their texts, in order) by `node`, and its tree.
    pub fn of(node: &str, statements: &[&str]) -> (StatementBatch, tlog::merkle::MemoryTree) {
        let leaves: Vec<tlog::Hash> =
            statements.iter().map(|text| tlog::hash::leaf_hash(text.as_bytes())).collect();
        let tree = tlog::merkle::MemoryTree::from_leaves(&leaves);
        let batch = StatementBatch { node: node.to_owned(), size: tree.size(), root: tree.root() };
        (batch, tree)
    }

    /// The text to sign.
    pub fn text(&self) -> String {
        let mut writer = Writer::new(PROVIDED_BATCH_HEADER);
        writer
            .field("node", &self.node)
            .field("size", self.size)
            .field("root", self.root.to_base64());
        writer.finish()
    }

    /// Parses a batch's text (its signature is checked apart).
    pub fn parse(text: &str) -> Result<StatementBatch, FieldsError> {
        let fields = Fields::parse(text, PROVIDED_BATCH_HEADER)?;
        let mut r = fields.reader();
        let bad = |key: &'static str, reason: &'static str| FieldsError::BadValue {
            line: 0,
            key: key.to_owned(),
            reason,
        };
        let node = r.take("node")?.to_owned();
        let size = r.take("size")?.parse::<u64>().map_err(|_| bad("size", "not a number"))?;
        let root = tlog::Hash::from_base64(r.take("root")?)
            .map_err(|_| bad("root", "not a base64 SHA-256"))?;
        r.finish()?;
        if size == 0 {
            return Err(bad("size", "a batch holds at least one statement"));
        }
        Ok(StatementBatch { node, size, root })
    }
}

/// How a statement is signed: the signed batch it was signed in, its position among the
/// batch's statements and its inclusion proof in their tree.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Seal {
    /// The `juki.provided-batch/v1` note, signed with the node's key.
    pub batch: String,
    /// The statement's position in the batch.
    pub index: u64,
    /// Its inclusion proof: base64 SHA-256 hashes, as in a c2sp.org/tlog-proof.
    pub proof: Vec<String>,
}

/// Why a seal does not seal a statement.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The batch is not signed by the node's key, or does not parse.
    #[error("the statement's batch is not signed by {node}: {reason}")]
    Unsigned {
        /// The node expected.
        node: String,
        /// What failed.
        reason: String,
    },
    /// The batch names another node.
    #[error("the statement's batch is {found}'s, not {node}'s")]
    OtherNode {
        /// The node expected.
        node: String,
        /// The node the batch names.
        found: String,
    },
    /// The statement is not the one the batch holds at that position.
    #[error("the statement is not in its signed batch: {0}")]
    NotInBatch(String),
}

impl Seal {
    /// Seals statement `index` of a batch whose signed note is `batch` and whose tree is
    /// `tree`.
    pub fn new(batch: String, index: u64, tree: &tlog::merkle::MemoryTree) -> Result<Seal, String> {
        let proof = tlog::merkle::prove_inclusion(index, tree.size(), tree)
            .map_err(|e| format!("no inclusion proof in a batch: {e}"))?;
        Ok(Seal { batch, index, proof: proof.iter().map(tlog::Hash::to_base64).collect() })
    }

    /// Checks that this seal signs exactly `statement` (its text) by `node`, whose keys are
    /// `keys`.
    pub fn verify(
        &self,
        statement: &str,
        node: &str,
        keys: &tlog::note::Verifiers,
    ) -> Result<(), SealError> {
        let unsigned = |reason: String| SealError::Unsigned { node: node.to_owned(), reason };
        let opened =
            tlog::note::open(self.batch.as_bytes(), keys).map_err(|e| unsigned(e.to_string()))?;
        let batch = StatementBatch::parse(opened.text()).map_err(|e| unsigned(e.to_string()))?;
        if batch.node != node {
            return Err(SealError::OtherNode { node: node.to_owned(), found: batch.node });
        }
        let proof = self
            .proof
            .iter()
            .map(|h| tlog::Hash::from_base64(h))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| SealError::NotInBatch("a proof hash is not base64 SHA-256".into()))?;
        let leaf = tlog::hash::leaf_hash(statement.as_bytes());
        tlog::merkle::verify_inclusion(&leaf, self.index, batch.size, &proof, &batch.root)
            .map_err(|e| SealError::NotInBatch(e.to_string()))
    }
}

/// A node's answer for one resident.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Provided {
    /// The items the purpose may receive.
    pub record: ProvidedRecord,
    /// The `juki.provided/v1` statement of exactly these items (its text), signed by `seal`.
    pub statement: String,
    /// The node's signature of the statement: the batch it was signed in.
    pub seal: Seal,
    /// A c2sp.org/tlog-proof receipt (without `extra`) proving the statement's event leaf in
    /// the keeping town's witnessed checkpoint.
    pub proof: String,
    /// When the purpose may receive every item of the event: the event and its evidence, as
    /// `ProvenRecord::evidence`, which proves the record end to end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
}

/// How one of the four items matched (see the `matching` crate).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct MatchedCandidate {
    /// The candidate's 住民票コード.
    pub code: String,
    /// Its score, 0 to 1.
    pub score: f64,
    /// Item → how it matched (`exact`, `folded`, `variant`, `partial`, `differs`, `missing`).
    pub items: std::collections::BTreeMap<String, String>,
}

/// `POST /v1/provide/match`: the ranked candidates, and the record of the one the matcher is
/// confident of, provided under the purpose.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Matched {
    /// The resident the matcher is confident the request names, provided; absent when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provided: Option<Provided>,
    /// Every candidate, best first.
    pub candidates: Vec<MatchedCandidate>,
}

/// One line of `POST /v1/provide/batch`'s streamed answer (JSON Lines, in request order).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct BatchLine {
    /// The request's line number, from 1.
    pub line: u64,
    /// A request by 住民票コード, provided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provided: Option<Provided>,
    /// A request by the four items, matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched: Option<Matched>,
    /// The request's refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::errors::ErrorBody>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use registry_domain::{
        Address, ChangeInfo, ChangeReason, HistoryNumber, Name, NameReading, PersonName,
        ResidentCode, Sex,
    };

    fn record() -> IdentityRecordParts {
        IdentityRecordParts {
            resident_code: ResidentCode::from_ten_digits(1_234_567_890).unwrap(),
            name: Name::new(
                PersonName::new("阿智 花子").unwrap(),
                NameReading::new("アチ ハナコ").unwrap(),
                None,
            ),
            birth_date: "2024-04-01".parse().unwrap(),
            sex: Sex::Female,
            address: Address::new("204072".parse().unwrap(), "大字智里3-1").unwrap(),
            individual_number: None,
            latest_change: ChangeInfo::new(ChangeReason::Birth, "2024-04-01".parse().unwrap()),
            history_number: HistoryNumber::FIRST,
            status: RecordStatus::Active,
        }
    }

    #[test]
    fn a_provided_record_holds_exactly_the_items_of_its_purpose() {
        let r = record();
        let all: BTreeSet<Item> = Item::ALL.into_iter().collect();
        let whole = ProvidedRecord::of(&r, &all);
        assert_eq!(whole.resident.as_deref(), Some("12345678903"));
        assert_eq!(whole.status.as_deref(), Some("active"));
        assert_eq!(whole.birth.as_deref(), Some("2024-04-01"));
        assert_eq!(whole.sex.as_deref(), Some("2"));
        assert_eq!(whole.municipality.as_deref(), Some("204072"));
        assert_eq!(whole.reason.as_deref(), Some("birth"));
        assert_eq!(whole.history.as_deref(), Some("1"));
        assert!(whole.name.is_some() && whole.reading.is_some() && whole.address.is_some());
        assert_eq!(whole.individual_number, None, "none recorded");
        let narrow = ProvidedRecord::of(&r, &[Item::Code, Item::Address].into_iter().collect());
        assert_eq!(
            narrow,
            ProvidedRecord {
                resident: whole.resident.clone(),
                municipality: whole.municipality.clone(),
                address: whole.address.clone(),
                ..ProvidedRecord::default()
            }
        );
    }

    #[test]
    fn statistics_name_counts_and_no_resident() {
        let stats = Stats {
            node: "urn:juki:national".into(),
            year: 2026,
            counts: vec![("urn:juki:agency:pension-service".into(), "NENKIN-GENKYO".into(), 12)],
        };
        assert_eq!(
            stats.text(),
            "juki.provision-stats/v1\nnode urn:juki:national\nyear 2026\n\
             count urn:juki:agency:pension-service NENKIN-GENKYO 12\n"
        );
    }

    #[test]
    fn a_seal_signs_exactly_its_statement_of_its_batch() {
        let signer = |seed: u8| {
            tlog::note::Signer::from_seed(
                "urn:juki:national",
                tlog::note::KeyKind::Ed25519,
                [seed; 32],
            )
            .unwrap()
        };
        let key = signer(7);
        let keys: tlog::note::Verifiers = [key.verifier()].into_iter().collect();
        let node = "urn:juki:national";
        for size in [1usize, 2, 3, 7] {
            let texts: Vec<String> =
                (0..size).map(|i| format!("juki.provided/v1\nprovision {i}\n")).collect();
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let (batch, tree) = StatementBatch::of(node, &refs);
            assert_eq!(StatementBatch::parse(&batch.text()).unwrap(), batch);
            let mut note = tlog::note::Note::new(batch.text()).unwrap();
            note.sign(&key).unwrap();
            let signed = String::from_utf8(note.to_bytes()).unwrap();
            for (i, text) in texts.iter().enumerate() {
                let seal = Seal::new(signed.clone(), i as u64, &tree).unwrap();
                assert_eq!(seal.verify(text, node, &keys), Ok(()), "{i} of {size}");
                let altered = text.replace("provision", "provision 1");
                assert!(matches!(
                    seal.verify(&altered, node, &keys),
                    Err(SealError::NotInBatch(_))
                ));
                assert!(matches!(
                    seal.verify(text, "urn:juki:prefecture:20", &keys),
                    Err(SealError::OtherNode { .. })
                ));
                if size > 1 {
                    let elsewhere = Seal { index: (i as u64 + 1) % size as u64, ..seal.clone() };
                    assert!(elsewhere.verify(text, node, &keys).is_err(), "{i} of {size}");
                }
            }
            let other = signer(8);
            let strangers: tlog::note::Verifiers = [other.verifier()].into_iter().collect();
            let seal = Seal::new(signed, 0, &tree).unwrap();
            assert!(matches!(
                seal.verify(&texts[0], node, &strangers),
                Err(SealError::Unsigned { .. })
            ));
        }
        assert!(
            StatementBatch::parse("juki.provided-batch/v1\nnode n\nsize 0\nroot AAAA\n").is_err()
        );
    }

    #[test]
    fn a_statement_parses_back_with_only_its_items() {
        let statement = Statement {
            node: "urn:juki:national".into(),
            provision: 17,
            to: "urn:juki:agency:pension-service".into(),
            purpose: "NENKIN-GENKYO".into(),
            time: 1_764_806_400,
            town: "juki.example/204072/registry".into(),
            index: 42,
            event: "AAAA".into(),
            kind: "juki.change/v1".into(),
            record: ProvidedRecord {
                resident: Some("12345678901".into()),
                name: Some("熊谷 花子\n".into()),
                birth: Some("1975-03-04".into()),
                ..ProvidedRecord::default()
            },
        };
        let text = statement.text();
        assert_eq!(Statement::parse(&text).unwrap(), statement);
        assert!(!text.contains("address"));
        // Reordered lines are another text, which does not parse.
        let swapped = text
            .replace("resident 12345678901\n", "")
            .replace("birth 1975-03-04\n", "birth 1975-03-04\nresident 12345678901\n");
        assert!(Statement::parse(&swapped).is_err());
    }
}

/// The first line of a node's yearly provision statistics.
pub const STATS_HEADER: &str = "juki.provision-stats/v1";

/// A node's provisions in one year (Japan time) per agency and purpose, as its operator
/// publishes them, signed with the node key. No resident appears in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stats {
    /// The node (identity URI).
    pub node: String,
    /// The year.
    pub year: u16,
    /// `(recipient, purpose, provisions)`, sorted.
    pub counts: Vec<(String, String, u64)>,
}

impl Stats {
    /// The text to sign: a `count RECIPIENT PURPOSE N` line per pair. A purpose written at a
    /// counter may hold spaces; the count is the last word.
    pub fn text(&self) -> String {
        let mut writer = Writer::new(STATS_HEADER);
        writer.field("node", &self.node).field("year", self.year);
        for (to, purpose, n) in &self.counts {
            writer.field("count", format!("{to} {purpose} {n}"));
        }
        writer.finish()
    }
}
