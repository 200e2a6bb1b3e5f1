//! The four-item match over a whole registered population: recall and precision.
//!
//! `data/registered.tsv` is the population (632 invented residents in 13 municipalities, with
//! namesakes, twins, parents and children of one name at one address, old kanji forms as
//! registered, former surnames and compatibility ideographs); `data/queries.tsv` holds the
//! queries as an agency's clerk would type them, each with the resident it should find or `-`
//! (not registered, or nobody can tell who), labelled by the variant or look-alike it tests.
//! Both were written by `data/make_pairs.py`, a one-off generator kept beside them.
//!
//! Every query is ranked against every registered resident: no pre-filtering to the right one.
//! Recall is, of the queries whose person is registered, the share confidently matched to them;
//! precision is, of the confident matches, the share that are right. Run
//! `cargo test -p matching --test pairs -- --nocapture` to see the figures and the count per
//! kind.

use std::collections::BTreeMap;

use matching::{Query, rank};
use registry_domain::{
    Address, ChangeInfo, ChangeReason, Date, FormerSurname, HistoryNumber, IdentityRecordParts,
    Name, NameReading, PersonName, RecordStatus, ResidentCode, Sex,
};

const REGISTERED: &str = include_str!("data/registered.tsv");
const QUERIES: &str = include_str!("data/queries.tsv");

fn rows(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines().skip(1).filter(|l| !l.is_empty()).map(|l| l.split('\t').collect())
}

fn population() -> Vec<(ResidentCode, IdentityRecordParts)> {
    rows(REGISTERED)
        .map(|r| {
            let code = ResidentCode::parse(r[0]).expect("code");
            let former = (!r[3].is_empty()).then(|| {
                FormerSurname::new(PersonName::new(r[3]).unwrap(), NameReading::new(r[4]).unwrap())
            });
            let birth = Date::parse(r[5]).expect("birth");
            let record = IdentityRecordParts {
                resident_code: code,
                name: Name::new(
                    PersonName::new(r[1]).expect("name"),
                    NameReading::new(r[2]).expect("reading"),
                    former,
                ),
                birth_date: birth,
                sex: r[6].parse::<Sex>().expect("sex"),
                address: Address::new(r[7].parse().expect("municipality"), r[8]).expect("address"),
                individual_number: None,
                latest_change: ChangeInfo::new(ChangeReason::Birth, birth),
                history_number: HistoryNumber::FIRST,
                status: RecordStatus::Active,
            };
            (code, record)
        })
        .collect()
}

#[derive(Default)]
struct Tally {
    queries: usize,
    positive: usize,
    found: usize,
    wrong: usize,
    confident: usize,
}

#[test]
fn recall_and_precision_over_the_whole_population() {
    let people = population();
    assert!(people.len() >= 600, "{}", people.len());
    let mut by_kind: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut misses = Vec::new();
    for (line, r) in rows(QUERIES).enumerate() {
        let (kind, expected) = (r[0], r[6]);
        let reading = (!r[2].is_empty()).then_some(r[2]);
        let query = Query::parse(r[1], reading, r[3], r[4], r[5])
            .unwrap_or_else(|e| panic!("query {} ({kind}) refused: {e}", line + 2));
        let ranked = rank(&query, people.iter().cloned());
        let expected: Option<ResidentCode> =
            (expected != "-").then(|| ResidentCode::parse(expected).unwrap());
        let t = by_kind.entry(kind).or_default();
        t.queries += 1;
        t.positive += usize::from(expected.is_some());
        if let Some(best) = ranked.best {
            t.confident += 1;
            if Some(best) == expected {
                t.found += 1;
            } else {
                t.wrong += 1;
                misses.push(format!("line {} ({kind}): named the wrong person", line + 2));
            }
        } else if expected.is_some() {
            let items = ranked
                .candidates
                .iter()
                .find(|c| Some(c.code) == expected)
                .map(|c| format!("{:?}", c.items));
            misses.push(format!("line {} ({kind}): not named; its items {items:?}", line + 2));
        }
    }
    let total = by_kind.values().fold(Tally::default(), |a, t| Tally {
        queries: a.queries + t.queries,
        positive: a.positive + t.positive,
        found: a.found + t.found,
        wrong: a.wrong + t.wrong,
        confident: a.confident + t.confident,
    });
    println!("{:<34} {:>7} {:>8} {:>6} {:>6}", "kind", "queries", "positive", "found", "wrong");
    for (kind, t) in &by_kind {
        println!("{kind:<34} {:>7} {:>8} {:>6} {:>6}", t.queries, t.positive, t.found, t.wrong);
    }
    let recall = total.found as f64 / total.positive as f64;
    let precision =
        if total.confident == 0 { 1.0 } else { total.found as f64 / total.confident as f64 };
    println!(
        "{} queries ({} of registered people) over {} residents: recall {:.2} % ({}/{}), \
         precision {:.2} % ({}/{})",
        total.queries,
        total.positive,
        people.len(),
        recall * 100.0,
        total.found,
        total.positive,
        precision * 100.0,
        total.found,
        total.confident
    );
    for m in &misses {
        println!("{m}");
    }
    assert!(total.positive >= 300, "at least 300 pairs");
    assert!(recall >= 0.99, "recall {recall}");
    assert!(precision >= 0.999, "precision {precision}");
}
