//! The acceptance test for municipality codes.
//!
//! Each of the 1,916 codes in `../shared/data/municipalities.csv` is accepted with its name,
//! and every single-digit change of each (6 positions × 9 other digits) is rejected — except
//! where the change lands on another real municipality. JIS X 0402 gives check digit 1 for both
//! S mod 11 = 0 and S mod 11 = 10, so some codes ending in 1 have neighbours one digit away that
//! are also valid; `single_digit_collisions.txt` lists those pairs, and the test asserts that
//! exactly they parse, each as the other municipality.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use registry_domain::{MunicipalityCode, MunicipalityCodeError, check_jis_x0402};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/municipalities.csv");
const COLLISIONS: &str = include_str!("single_digit_collisions.txt");

/// `(lower, higher)` code pairs from `single_digit_collisions.txt`, names checked.
fn listed_collisions() -> BTreeSet<(MunicipalityCode, MunicipalityCode)> {
    let full_name =
        |m: MunicipalityCode| format!("{}{}", m.prefecture().name(), m.name().replace(' ', ""));
    let mut pairs = BTreeSet::new();
    for line in COLLISIONS.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let mut fields = line.split_whitespace();
        let (a, b) = (fields.next().unwrap(), fields.next().unwrap());
        let (a, b): (MunicipalityCode, MunicipalityCode) = (a.parse().unwrap(), b.parse().unwrap());
        let names: Vec<&str> = fields.filter(|f| *f != "/").collect();
        assert_eq!(names, [full_name(a), full_name(b)], "{line}");
        assert!(a < b, "{line}: pairs are listed lower code first");
        assert!(pairs.insert((a, b)), "{line}: listed twice");
    }
    pairs
}

fn single_digit_changes(code: &str) -> impl Iterator<Item = (usize, String)> + '_ {
    (0..code.len()).flat_map(move |pos| {
        (b'0'..=b'9').filter(move |&d| d != code.as_bytes()[pos]).map(move |d| {
            let mut changed = code.as_bytes().to_vec();
            changed[pos] = d;
            (pos, String::from_utf8(changed).unwrap())
        })
    })
}

#[test]
fn every_code_in_the_csv_is_accepted_with_its_name() {
    if !Path::new(DATA).is_file() {
        println!("SKIPPED: ../shared/data not found");
        return;
    }
    let csv = fs::read_to_string(DATA).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (pref, city, kana, lgcode) = (col("pref"), col("city"), col("citykana"), col("lgcode"));
    let mut count = 0;
    for line in lines {
        // The only quoted column (phrase) holds no comma and comes after the columns used here,
        // except lgcode, the last; tests/table.rs parses the file properly.
        let fields: Vec<&str> = line.split(',').collect();
        let code = fields[fields.len() - 1];
        assert_eq!(lgcode, header.len() - 1);
        let m = MunicipalityCode::parse(code).unwrap_or_else(|e| panic!("{code}: {e}"));
        assert_eq!(m.to_string(), code);
        assert_eq!(m.name(), fields[city], "{code}");
        assert_eq!(m.reading(), fields[kana], "{code}");
        assert_eq!(m.prefecture().name(), fields[pref], "{code}");
        count += 1;
    }
    assert_eq!(count, 1916);
}

#[test]
fn every_single_digit_change_is_rejected_unless_it_is_another_municipality() {
    let listed = listed_collisions();
    assert_eq!(listed.len(), 191);
    let mut found = BTreeSet::new();
    let (mut changes, mut bad_check_digit, mut not_in_table) = (0, 0, 0);
    for m in MunicipalityCode::all() {
        let code = m.to_string();
        for (pos, changed) in single_digit_changes(&code) {
            changes += 1;
            match MunicipalityCode::parse(&changed) {
                Err(MunicipalityCodeError::CheckDigit { .. }) => {
                    assert!(check_jis_x0402(&changed).is_err());
                    bad_check_digit += 1;
                }
                Err(MunicipalityCodeError::NotInTable { .. }) => {
                    assert_eq!(check_jis_x0402(&changed), Ok(()));
                    not_in_table += 1;
                }
                Ok(other) => {
                    // Another real municipality: only possible with check digit 1 (S mod 11 in
                    // {0, 10}) and a change in the first five digits.
                    assert_ne!(other, m);
                    assert_eq!(other.to_string(), changed);
                    assert!(code.ends_with('1') && pos < 5, "{code} → {changed}");
                    found.insert((m.min(other), m.max(other)));
                }
                Err(e) => panic!("{changed}: unexpected {e}"),
            }
        }
    }
    assert_eq!(changes, 1916 * 6 * 9);
    assert_eq!(found, listed, "the collisions are exactly those in single_digit_collisions.txt");
    assert_eq!(bad_check_digit + not_in_table + 2 * listed.len(), changes);
    println!(
        "{changes} single-digit changes: {bad_check_digit} wrong check digit, {not_in_table} valid \
         check digit but no municipality, {} another municipality",
        2 * listed.len()
    );
}

#[test]
fn a_collision_named() {
    // 011011 札幌市 中央区: S = 6·0 + 5·1 + 4·1 + 3·0 + 2·1 = 11, S mod 11 = 0, check 11 mod 10 = 1.
    // 011061 札幌市 南区:   S = 6·0 + 5·1 + 4·1 + 3·0 + 2·6 = 21, S mod 11 = 10, check 1 mod 10 = 1.
    // They differ only in the fifth digit, and both are real.
    let chuo = MunicipalityCode::parse("011011").unwrap();
    let minami = MunicipalityCode::parse("011061").unwrap();
    assert_eq!((chuo.name(), minami.name()), ("札幌市 中央区", "札幌市 南区"));
}
