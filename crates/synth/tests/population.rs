//! The generated population against its sources: over 100,000 residents the most common
//! surnames take their share, the ages follow the pyramid, the sexes are even, households share
//! surname and address, every record passes the domain types, and one seed always makes the
//! same people.

use std::collections::HashMap;

use registry_domain::{ChangeReason, Date, IdentityRecord, MunicipalityCode, ResidentCode, Sex};
use synth::{Generator, Person, Tables};

const N: u64 = 100_000;

fn as_of() -> Date {
    Date::new(2026, 4, 1).unwrap()
}

fn people(town: &str, seed: u64, n: u64) -> Vec<Person> {
    let generator = Generator::new(MunicipalityCode::parse(town).unwrap(), seed, as_of()).unwrap();
    (0..n).map(|i| generator.person(i).unwrap()).collect()
}

/// Whole years from `born` to the reference date.
fn age(born: Date) -> u16 {
    let at = as_of();
    at.year() - born.year() - u16::from((at.month(), at.day()) < (born.month(), born.day()))
}

#[test]
fn surnames_take_their_share() {
    let tables = Tables::get().unwrap();
    let people = people("131016", 1, N);
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for p in &people {
        *counts.entry(p.surname.name).or_default() += 1;
    }
    // Households draw surnames, so the count of a name varies more than a binomial's; the
    // tolerance is a quarter of the expected share for the top five.
    for surname in &tables.surnames[..5] {
        let expected = surname.bearers as f64 / tables.surname_total() as f64;
        let got = counts.get(surname.name).copied().unwrap_or(0) as f64 / N as f64;
        println!("{}: {:.3} % (source {:.3} %)", surname.name, 100.0 * got, 100.0 * expected);
        assert!((got - expected).abs() < expected / 4.0, "{}: {got} vs {expected}", surname.name);
    }
    // Rare names appear too: many distinct surnames, and the top one is the most common.
    assert!(counts.len() > 1_500, "{} distinct surnames", counts.len());
    let top = counts.iter().max_by_key(|(_, c)| **c).unwrap();
    assert_eq!(*top.0, "佐藤");
}

#[test]
fn ages_follow_the_pyramid() {
    let tables = Tables::get().unwrap();
    let people = people("204072", 2, N);
    let mut groups = vec![0u64; tables.ages.len()];
    for p in &people {
        let group = usize::from(age(p.birth_date) / 5).min(groups.len() - 1);
        groups[group] += 1;
        assert!(p.birth_date <= as_of());
    }
    for (group, got) in tables.ages.iter().zip(&groups) {
        let expected = group.thousands as f64 / tables.age_total() as f64;
        let got = *got as f64 / N as f64;
        // Within 0.4 percentage points of the census share (about 5 standard errors).
        assert!(
            (got - expected).abs() < 0.004,
            "ages {}–{}: {got:.4} vs {expected:.4}",
            group.from,
            group.from + 4
        );
    }
}

#[test]
fn sexes_are_even_and_names_match_them() {
    let tables = Tables::get().unwrap();
    let people = people("202011", 3, N);
    let males = people.iter().filter(|p| p.sex == Sex::Male).count() as f64 / N as f64;
    assert!((males - 0.5).abs() < 0.01, "{males}");
    for p in &people {
        let list = if p.sex == Sex::Male { &tables.male } else { &tables.female };
        assert!(list.contains(&p.given));
    }
}

#[test]
fn households_share_surname_and_address_and_have_realistic_sizes() {
    let people = people("011011", 4, N);
    let mut households: HashMap<u64, Vec<&Person>> = HashMap::new();
    for p in &people {
        households.entry(p.household).or_default().push(p);
    }
    for members in households.values() {
        assert!(members.len() <= 5);
        assert!(members.iter().all(|m| m.surname == members[0].surname));
        assert!(members.iter().all(|m| m.address == members[0].address));
    }
    let mean = N as f64 / households.len() as f64;
    assert!((1.8..2.6).contains(&mean), "{mean} people per household");
}

#[test]
fn addresses_are_in_the_town_and_in_its_form() {
    // A city: 町名 and 丁目・番・号 (or 番地); a village: 番地.
    let generator = Generator::new(MunicipalityCode::parse("131016").unwrap(), 5, as_of()).unwrap();
    let streets = generator.streets().to_vec();
    assert!(streets.contains(&"丸の内"));
    for i in 0..1_000 {
        let p = generator.person(i).unwrap();
        let rest = p.address.rest();
        assert_eq!(p.address.municipality(), generator.town());
        assert!(streets.iter().any(|s| rest.starts_with(s)), "{rest}");
        assert!(rest.ends_with('号') || rest.contains("番地"), "{rest}");
    }
    let village = people("204072", 5, 1_000);
    assert!(village.iter().all(|p| p.address.rest().contains("番地")));
    assert!(village.iter().any(|p| p.address.rest().starts_with("智里")));
    // A designated city as a whole draws its wards' town names.
    let sapporo = Generator::new(MunicipalityCode::parse("011002").unwrap(), 5, as_of()).unwrap();
    assert!(sapporo.streets().len() > 500);
}

#[test]
fn every_record_passes_the_domain_types_with_unique_valid_codes() {
    let people = people("271004", 6, 20_000);
    let mut seen = std::collections::HashSet::new();
    for (k, p) in people.into_iter().enumerate() {
        let code = ResidentCode::from_ten_digits(1_000_000_000 + k as u64).unwrap();
        assert!(seen.insert(code));
        let parsed = ResidentCode::parse(&code.to_string()).unwrap();
        assert_eq!(parsed, code);
        let record = IdentityRecord::new(p.record(code, ChangeReason::Birth, None));
        assert_eq!(record.latest_change().date(), record.birth_date());
        assert!(record.name().name().as_str().contains(' '));
        assert!(record.name().reading().as_str().contains('\u{3000}'));
    }
}

#[test]
fn the_same_seed_makes_the_same_people_and_another_seed_others() {
    let a = people("202011", 7, 2_000);
    let b = people("202011", 7, 2_000);
    let c = people("202011", 8, 2_000);
    assert_eq!(a, b);
    let same = a.iter().zip(&c).filter(|(x, y)| x.name == y.name).count();
    assert!(same < 50, "{same} of 2000 names repeat under another seed");
    // A person does not depend on the ones generated before it.
    let generator = Generator::new(MunicipalityCode::parse("202011").unwrap(), 7, as_of()).unwrap();
    assert_eq!(generator.person(1_234).unwrap(), a[1_234]);
}
