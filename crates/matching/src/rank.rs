//! Ranking candidates: a score per candidate, the order, and when the best one is named.
//!
//! The score is the weighted mean of the items the query has (name 0.4, birth date 0.3,
//! address 0.2, sex 0.1), each worth 1 exact, 0.97 folded, 0.93 variant, 0.45 partial and 0
//! when it differs; a missing item counts for nothing either way.
//!
//! A candidate is *consistent* when nothing speaks against it and enough speaks for it: the
//! name agrees (exactly, folded or as a variant, the former name included); the birth date is
//! equal or not asked; the sex is equal or not asked; the address agrees, agrees up to its
//! number, or is not asked; and the birth date is equal or the address agrees. The best
//! candidate is named only when exactly one candidate is consistent and its score is
//! [`MARGIN`] above every other's: a person with the same name and another birth date, a twin
//! (same birth date and address, another given name) or a namesake in the same town is never
//! named in someone else's place.

use registry_domain::{IdentityRecordParts, ResidentCode};

use crate::compare::{self, ItemMatch};
use crate::query::Query;

/// At most this many candidates are returned, best first.
pub const MAX_CANDIDATES: usize = 10;

/// How far ahead of every other candidate the named best one must be.
pub const MARGIN: f64 = 0.1;

/// The weights of name, birth date, sex and address in the score.
const WEIGHTS: [f64; 4] = [0.4, 0.3, 0.1, 0.2];

/// The outcome of a match: the candidate confidently named, if any, and the candidates best
/// first.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Ranked {
    /// The person the query names, when the matcher is confident.
    #[serde(rename = "match", serialize_with = "code_opt")]
    #[schema(value_type = Option<String>)]
    pub best: Option<ResidentCode>,
    /// Up to [`MAX_CANDIDATES`] candidates with a score above 0, best first.
    pub candidates: Vec<Candidate>,
}

/// One candidate: who, how well, and how each item matched.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Candidate {
    /// The resident code (住民票コード).
    #[serde(serialize_with = "code")]
    #[schema(value_type = String)]
    pub code: ResidentCode,
    /// 0 (nothing agrees) to 1 (every item the query has is exactly as registered).
    pub score: f64,
    /// How each item matched.
    pub items: Items,
}

/// How each of the four items matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Items {
    /// 氏名.
    pub name: ItemMatch,
    /// 生年月日.
    pub birth: ItemMatch,
    /// 性別.
    pub sex: ItemMatch,
    /// 住所.
    pub address: ItemMatch,
}

fn code<S: serde::Serializer>(c: &ResidentCode, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(c)
}

fn code_opt<S: serde::Serializer>(c: &Option<ResidentCode>, s: S) -> Result<S::Ok, S::Error> {
    match c {
        Some(c) => s.collect_str(c),
        None => s.serialize_none(),
    }
}

fn value(m: ItemMatch) -> Option<f64> {
    match m {
        ItemMatch::Exact => Some(1.0),
        ItemMatch::Folded => Some(0.97),
        ItemMatch::Variant => Some(0.93),
        ItemMatch::Partial => Some(0.45),
        ItemMatch::Differs => Some(0.0),
        ItemMatch::Missing => None,
    }
}

fn score(items: &Items) -> f64 {
    let matches = [items.name, items.birth, items.sex, items.address];
    let (mut sum, mut weight) = (0.0, 0.0);
    for (m, w) in matches.into_iter().zip(WEIGHTS) {
        if let Some(v) = value(m) {
            sum += v * w;
            weight += w;
        }
    }
    // Three decimals: enough to order, and what the answer prints.
    if weight == 0.0 { 0.0 } else { (sum / weight * 1000.0).round() / 1000.0 }
}

/// Whether nothing speaks against the candidate and enough speaks for it (module notes).
fn consistent(items: &Items) -> bool {
    use ItemMatch::{Exact, Missing, Partial};
    items.name.agrees()
        && matches!(items.birth, Exact | Missing)
        && matches!(items.sex, Exact | Missing)
        && (items.address.agrees() || matches!(items.address, Partial | Missing))
        && (items.birth == Exact || items.address.agrees())
}

/// How each item of `query` matched `record`.
pub(crate) fn items(query: &Query, record: &IdentityRecordParts) -> Items {
    Items {
        name: compare::name(query, record),
        birth: compare::birth(query.birth, record.birth_date),
        sex: compare::sex(query.sex, record.sex),
        address: compare::address(query.address.as_ref(), record),
    }
}

/// Ranks `candidates` (each a resident code and its current record) for `query`.
///
/// Takes the candidates by value, as a store returns them; a candidate given twice counts
/// once. Every candidate is compared (there is no pre-filter here: hand it the whole
/// population and it still names only the right person, or nobody).
pub fn rank(
    query: &Query,
    candidates: impl IntoIterator<Item = (ResidentCode, IdentityRecordParts)>,
) -> Ranked {
    let mut scored: Vec<(Candidate, bool)> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (code, record) in candidates {
        if !seen.insert(code) {
            continue;
        }
        let items = items(query, &record);
        let score = score(&items);
        scored.push((Candidate { code, score, items }, consistent(&items)));
    }
    scored.sort_by(|a, b| b.0.score.total_cmp(&a.0.score).then(a.0.code.cmp(&b.0.code)));
    let mut consistent_ones = scored.iter().filter(|(_, ok)| *ok);
    let best = match (consistent_ones.next(), consistent_ones.next()) {
        (Some((top, _)), None) => {
            let ahead = scored
                .iter()
                .filter(|(c, _)| c.code != top.code)
                .all(|(c, _)| top.score - c.score >= MARGIN);
            ahead.then_some(top.code)
        }
        _ => None,
    };
    let candidates =
        scored.into_iter().map(|(c, _)| c).filter(|c| c.score > 0.0).take(MAX_CANDIDATES).collect();
    Ranked { best, candidates }
}
