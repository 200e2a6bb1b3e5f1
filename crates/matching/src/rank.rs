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

#[cfg(test)]
mod tests {
    use registry_domain::{
        Address, ChangeInfo, ChangeReason, Date, HistoryNumber, Name, NameReading, PersonName,
        RecordStatus, Sex,
    };

    use super::*;

    fn person(
        ten: u64,
        name: &str,
        reading: &str,
        birth: &str,
        sex: Sex,
        address: &str,
    ) -> (ResidentCode, IdentityRecordParts) {
        let code = ResidentCode::from_ten_digits(ten).unwrap();
        let birth = Date::parse(birth).unwrap();
        let record = IdentityRecordParts {
            resident_code: code,
            name: Name::new(
                PersonName::new(name).unwrap(),
                NameReading::new(reading).unwrap(),
                None,
            ),
            birth_date: birth,
            sex,
            address: Address::new("204072".parse().unwrap(), address).unwrap(),
            individual_number: None,
            latest_change: ChangeInfo::new(ChangeReason::Birth, birth),
            history_number: HistoryNumber::FIRST,
            status: RecordStatus::Active,
        };
        (code, record)
    }

    fn query(name: &str, birth: &str, sex: &str, address: &str) -> Query {
        Query::parse(name, None, birth, sex, address).unwrap()
    }

    fn twins() -> Vec<(ResidentCode, IdentityRecordParts)> {
        vec![
            person(1, "林　翔太", "ハヤシ　ショウタ", "2001-04-01", Sex::Male, "大字智里5番地"),
            person(2, "林　大翔", "ハヤシ　ヒロト", "2001-04-01", Sex::Male, "大字智里5番地"),
            person(3, "林　翔太", "ハヤシ　ショウタ", "1970-08-08", Sex::Male, "大字智里5番地"),
        ]
    }

    #[test]
    fn scores() {
        let people = twins();
        let all = rank(&query("林　翔太", "2001-04-01", "1", "大字智里5番地"), people.clone());
        assert_eq!(all.candidates[0].score, 1.0);
        // Sex and address not asked: the name folded and the birth date, (0.4 × 0.97 + 0.3) / 0.7.
        let r = rank(&query("林 翔太", "2001-04-01", "", ""), people.clone());
        assert_eq!(r.candidates[0].score, 1.0, "a space is not a difference");
        let r = rank(&query("ﾊﾔｼ ｼｮｳﾀ", "2001-04-01", "", ""), people.clone());
        assert_eq!(r.candidates[0].items.name, ItemMatch::Folded);
        assert_eq!(r.candidates[0].score, 0.983);
        // Nothing agrees with anybody: no candidate at all.
        let r = rank(&query("鈴木　一", "1999-09-09", "2", "大字駒場1番地"), people);
        assert_eq!(r, Ranked { best: None, candidates: vec![] });
    }

    #[test]
    fn twins_and_namesakes_are_told_apart_or_left_open() {
        let people = twins();
        let code = |i: usize| people[i].0;
        let r = rank(&query("林　大翔", "2001-04-01", "男", "阿智村智里5"), people.clone());
        assert_eq!(r.best, Some(code(1)));
        assert_eq!(r.candidates[1].code, code(0), "the twin second");
        assert_eq!(r.candidates[1].items.name, ItemMatch::Differs);
        // A third twin nobody registered.
        let r = rank(&query("林　蓮", "2001-04-01", "男", "阿智村智里5"), people.clone());
        assert_eq!(r.best, None);
        // The father and the son share name and address: without the birth date, nobody.
        let r = rank(&query("林　翔太", "", "男", "阿智村智里5"), people.clone());
        assert_eq!(r.best, None);
        assert_eq!(r.candidates.len(), 3);
        // With it, the one born then.
        let r = rank(&query("林　翔太", "S45.8.8", "", ""), people.clone());
        assert_eq!(r.best, Some(code(2)));
        // The surname alone names nobody.
        let r = rank(&query("林", "2001-04-01", "男", "阿智村智里5"), people.clone());
        assert_eq!(r.best, None);
        assert_eq!(r.candidates[0].items.name, ItemMatch::Partial);
        // A birth date one day off is a look-alike, not the person.
        let r = rank(&query("林　翔太", "2001-04-02", "男", "阿智村智里5"), people.clone());
        assert_eq!(r.best, None);
        assert_eq!(r.candidates[0].items.birth, ItemMatch::Partial);
        // Given twice, counted once.
        let doubled: Vec<_> = people.iter().chain(people.iter()).cloned().collect();
        let r = rank(&query("林　大翔", "2001-04-01", "男", "阿智村智里5"), doubled);
        assert_eq!(r.candidates.len(), 3);
        assert_eq!(r.best, Some(code(1)));
    }

    #[test]
    fn the_best_must_be_consistent_and_clearly_ahead() {
        // The one consistent candidate (its address agrees only up to the number) is behind
        // one that differs only by sex: nobody is named.
        let people = vec![
            person(1, "森　茂", "モリ　シゲル", "1950-01-01", Sex::Male, "大字智里5番地3"),
            person(2, "森　茂", "モリ　シゲル", "1950-01-01", Sex::Female, "大字智里5番地"),
        ];
        let r = rank(&query("森　茂", "1950-01-01", "男", "阿智村智里5"), people.clone());
        let items: Vec<_> = r.candidates.iter().map(|c| (c.code, c.score, c.items)).collect();
        assert_eq!(r.best, None, "{items:?}");
        // Without the look-alike, the consistent one is named.
        let r = rank(&query("森　茂", "1950-01-01", "男", "阿智村智里5"), people[..1].to_vec());
        assert_eq!(r.best, Some(people[0].0));
        // The name and the address agree, the birth date is not asked: enough.
        let r = rank(&query("森　茂", "", "", "阿智村智里5番地3"), people.clone());
        assert_eq!(r.best, Some(people[0].0));
        // The name and a partly agreeing address are not enough without the birth date.
        let r = rank(&query("森　茂", "", "", "阿智村智里5番地4"), people[..1].to_vec());
        assert_eq!(r.best, None);
    }

    #[test]
    fn at_most_max_candidates_best_first() {
        let people: Vec<_> = (0..25)
            .map(|i| {
                let birth = format!("19{:02}-01-01", 50 + i);
                person(100 + i, "森　茂", "モリ　シゲル", &birth, Sex::Male, "大字智里5番地")
            })
            .collect();
        let r = rank(&query("森　茂", "1960-01-01", "男", ""), people.clone());
        assert_eq!(r.candidates.len(), MAX_CANDIDATES);
        assert_eq!(r.best, Some(people[10].0));
        assert!(r.candidates.windows(2).all(|w| w[0].score >= w[1].score));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["match"], people[10].0.to_string());
        assert_eq!(json["candidates"][0]["items"]["birth"], "exact");
        assert_eq!(json["candidates"][1]["items"]["birth"], "partial");
    }
}
