//! Judging the matcher over a labelled set: every query ranked against a whole registered
//! population (no pre-filtering to the right one), and of the queries whose person is
//! registered, the share confidently matched to them (recall); of the confident matches, the
//! share that are right (precision).
//!
//! The population and the queries are tab-separated text with a header line, as
//! `tests/data/registered.tsv` and `tests/data/queries.tsv` hold them; the caller reads them
//! (this crate does no I/O). `tests/pairs.rs` asserts the figures; `juki bench matching` prints
//! them in the benchmarks' table.

use std::collections::BTreeMap;

use registry_domain::{
    Address, ChangeInfo, ChangeReason, Date, FormerSurname, HistoryNumber, IdentityRecordParts,
    Name, NameReading, PersonName, RecordStatus, ResidentCode, Sex,
};

use crate::{Query, rank};

/// A row of the labelled set that does not read: which file, which line, what.
#[derive(Debug, thiserror::Error)]
#[error("{file} line {line}: {what}")]
pub struct BadRow {
    pub file: &'static str,
    pub line: usize,
    pub what: String,
}

/// The counts of one kind of query, or of all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub queries: usize,
    /// Queries whose person is registered.
    pub positive: usize,
    /// Of those, confidently matched to that person.
    pub found: usize,
    /// Confident matches naming someone else.
    pub wrong: usize,
    /// Queries with a confident match.
    pub confident: usize,
}

impl Tally {
    fn add(self, other: Tally) -> Tally {
        Tally {
            queries: self.queries + other.queries,
            positive: self.positive + other.positive,
            found: self.found + other.found,
            wrong: self.wrong + other.wrong,
            confident: self.confident + other.confident,
        }
    }

    /// Of the queries whose person is registered, the share confidently matched to them.
    pub fn recall(&self) -> f64 {
        if self.positive == 0 { 1.0 } else { self.found as f64 / self.positive as f64 }
    }

    /// Of the confident matches, the share that are right.
    pub fn precision(&self) -> f64 {
        if self.confident == 0 { 1.0 } else { self.found as f64 / self.confident as f64 }
    }
}

/// What the labelled set showed.
#[derive(Debug)]
pub struct Evaluation {
    /// Residents in the population.
    pub residents: usize,
    pub by_kind: BTreeMap<String, Tally>,
    pub total: Tally,
    /// Each query not matched to its person, or matched to another, by line and kind.
    pub misses: Vec<String>,
}

/// The population of `registered` (code, name, reading, former surname and its reading,
/// birth date, sex, municipality, address).
pub fn population(registered: &str) -> Result<Vec<(ResidentCode, IdentityRecordParts)>, BadRow> {
    rows(registered)
        .map(|(line, r)| {
            let bad = |what: String| BadRow { file: "registered", line, what };
            let field = |i: usize| r.get(i).copied().ok_or_else(|| bad(format!("no field {i}")));
            let code = ResidentCode::parse(field(0)?).map_err(|e| bad(e.to_string()))?;
            let former = if field(3)?.is_empty() {
                None
            } else {
                Some(FormerSurname::new(
                    PersonName::new(field(3)?).map_err(|e| bad(e.to_string()))?,
                    NameReading::new(field(4)?).map_err(|e| bad(e.to_string()))?,
                ))
            };
            let birth = Date::parse(field(5)?).map_err(|e| bad(e.to_string()))?;
            let record = IdentityRecordParts {
                resident_code: code,
                name: Name::new(
                    PersonName::new(field(1)?).map_err(|e| bad(e.to_string()))?,
                    NameReading::new(field(2)?).map_err(|e| bad(e.to_string()))?,
                    former,
                ),
                birth_date: birth,
                sex: field(6)?.parse::<Sex>().map_err(|e| bad(e.to_string()))?,
                address: Address::new(
                    field(7)?.parse().map_err(|e| bad(format!("municipality: {e}")))?,
                    field(8)?,
                )
                .map_err(|e| bad(e.to_string()))?,
                individual_number: None,
                latest_change: ChangeInfo::new(ChangeReason::Birth, birth),
                history_number: HistoryNumber::FIRST,
                status: RecordStatus::Active,
            };
            Ok((code, record))
        })
        .collect()
}

/// Ranks every query of `queries` (kind, name, reading, birth date, sex, address, the
/// expected resident code or `-`) against the whole population of `registered`.
pub fn evaluate(registered: &str, queries: &str) -> Result<Evaluation, BadRow> {
    let people = population(registered)?;
    let mut by_kind: BTreeMap<String, Tally> = BTreeMap::new();
    let mut misses = Vec::new();
    for (line, r) in rows(queries) {
        let bad = |what: String| BadRow { file: "queries", line, what };
        if r.len() < 7 {
            return Err(bad(format!("{} fields, not 7", r.len())));
        }
        let (kind, expected) = (r[0], r[6]);
        let reading = (!r[2].is_empty()).then_some(r[2]);
        let query = Query::parse(r[1], reading, r[3], r[4], r[5])
            .map_err(|e| bad(format!("the query is refused: {e}")))?;
        let expected = match expected {
            "-" => None,
            code => Some(ResidentCode::parse(code).map_err(|e| bad(e.to_string()))?),
        };
        let ranked = rank(&query, people.iter().cloned());
        let t = by_kind.entry(kind.to_owned()).or_default();
        t.queries += 1;
        t.positive += usize::from(expected.is_some());
        if let Some(best) = ranked.best {
            t.confident += 1;
            if Some(best) == expected {
                t.found += 1;
            } else {
                t.wrong += 1;
                misses.push(format!("line {line} ({kind}): named the wrong person"));
            }
        } else if expected.is_some() {
            let items = ranked
                .candidates
                .iter()
                .find(|c| Some(c.code) == expected)
                .map(|c| format!("{:?}", c.items));
            misses.push(format!("line {line} ({kind}): not named; its items {items:?}"));
        }
    }
    let total = by_kind.values().fold(Tally::default(), |a, t| a.add(*t));
    Ok(Evaluation { residents: people.len(), by_kind, total, misses })
}

/// The rows after the header, each with its line number (from 1, the header's).
fn rows(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines()
        .enumerate()
        .skip(1)
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| (i + 1, l.split('\t').collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "code\tname\treading\tformer\tformer_reading\tbirth\tsex\tmunicipality\taddress\n";

    #[test]
    fn a_confident_right_match_a_namesake_and_a_stranger_are_counted_apart() {
        let registered = format!(
            "{HEADER}\
             {a}\t山田　太郎\tヤマダ　タロウ\t\t\t1980-04-01\t1\t204072\t大字駒場1番地\n\
             {b}\t佐藤　花子\tサトウ　ハナコ\t\t\t1975-01-15\t2\t204072\t大字駒場2番地\n",
            a = code(1),
            b = code(2),
        );
        let queries = format!(
            "kind\tname\treading\tbirth\tsex\taddress\texpected\n\
             exact\t山田　太郎\t\t1980-04-01\t男\t長野県下伊那郡阿智村大字駒場1番地\t{a}\n\
             stranger\t鈴木　一郎\t\t1990-02-02\t男\t長野県下伊那郡阿智村大字駒場3番地\t-\n\
             missed\t佐藤　花子\t\t1999-09-09\t女\t\t{b}\n",
            a = code(1),
            b = code(2),
        );
        let evaluation = evaluate(&registered, &queries).unwrap();
        assert_eq!(evaluation.residents, 2);
        assert_eq!(
            evaluation.total,
            Tally { queries: 3, positive: 2, found: 1, wrong: 0, confident: 1 }
        );
        assert_eq!(evaluation.total.recall(), 0.5);
        assert_eq!(evaluation.total.precision(), 1.0);
        assert_eq!(evaluation.by_kind["exact"].found, 1);
        assert_eq!(evaluation.misses.len(), 1);
        assert!(evaluation.misses[0].starts_with("line 4 (missed): not named"));
    }

    #[test]
    fn a_bad_row_is_named_by_file_and_line() {
        let registered = format!("{HEADER}{}\t山田　太郎\n", code(1));
        let e = evaluate(&registered, "kind\n").unwrap_err();
        assert_eq!((e.file, e.line), ("registered", 2));
        let e = evaluate(HEADER, "kind\tname\nexact\t山田\n").unwrap_err();
        assert_eq!((e.file, e.line), ("queries", 2));
    }

    #[test]
    fn no_queries_is_full_recall_and_precision() {
        assert_eq!(Tally::default().recall(), 1.0);
        assert_eq!(Tally::default().precision(), 1.0);
    }

    fn code(n: u64) -> String {
        ResidentCode::from_ten_digits(1_000_000_000 + n).unwrap().to_string()
    }
}
