//! How each item matches, one case per line of `data/items.tsv`: every level of every item,
//! the former surname, compatibility ideographs, and the characters kept apart.

use matching::{ItemMatch, Query};
use registry_domain::{
    Address, ChangeInfo, ChangeReason, Date, FormerSurname, HistoryNumber, IdentityRecordParts,
    Name, NameReading, PersonName, RecordStatus, ResidentCode,
};

const CASES: &str = include_str!("data/items.tsv");

fn level(s: &str) -> ItemMatch {
    let all = [
        ItemMatch::Exact,
        ItemMatch::Folded,
        ItemMatch::Variant,
        ItemMatch::Partial,
        ItemMatch::Differs,
        ItemMatch::Missing,
    ];
    // The level whose kebab-case serialisation is `s`.
    *all.iter()
        .find(|m| serde_json::to_value(m).unwrap() == s)
        .unwrap_or_else(|| panic!("unknown level {s}"))
}

#[test]
fn every_item_at_every_level() {
    let code = ResidentCode::from_ten_digits(2_040_720_001).unwrap();
    for (n, line) in CASES.lines().enumerate().filter(|(_, l)| !l.starts_with('#') && !l.is_empty())
    {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 17, "line {}: {} fields", n + 1, f.len());
        let former = (!f[2].is_empty()).then(|| {
            FormerSurname::new(PersonName::new(f[2]).unwrap(), NameReading::new(f[3]).unwrap())
        });
        let birth = Date::parse(f[4]).unwrap();
        let record = IdentityRecordParts {
            resident_code: code,
            name: Name::new(
                PersonName::new(f[0]).unwrap(),
                NameReading::new(f[1]).unwrap(),
                former,
            ),
            birth_date: birth,
            sex: f[5].parse().unwrap(),
            address: Address::new(f[6].parse().unwrap(), f[7]).unwrap(),
            individual_number: None,
            latest_change: ChangeInfo::new(ChangeReason::Birth, birth),
            history_number: HistoryNumber::FIRST,
            status: RecordStatus::Active,
        };
        let reading = (!f[9].is_empty()).then_some(f[9]);
        let query = Query::parse(f[8], reading, f[10], f[11], f[12])
            .unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
        let ranked = matching::rank(&query, [(code, record)]);
        let items = ranked
            .candidates
            .first()
            .map(|c| c.items)
            .unwrap_or_else(|| panic!("line {}: scored 0", n + 1));
        let got = [items.name, items.birth, items.sex, items.address];
        let want = [level(f[13]), level(f[14]), level(f[15]), level(f[16])];
        assert_eq!(got, want, "line {}: {line}", n + 1);
    }
}
