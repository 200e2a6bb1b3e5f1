//! The data files parse, every name and reading passes the domain types, and each file says
//! where it comes from and under which licence.

use synth::Tables;

const FILES: [(&str, &str); 5] = [
    ("surnames.tsv", include_str!("../data/surnames.tsv")),
    ("given-male.tsv", include_str!("../data/given-male.tsv")),
    ("given-female.tsv", include_str!("../data/given-female.tsv")),
    ("age-pyramid.tsv", include_str!("../data/age-pyramid.tsv")),
    ("towns.tsv", include_str!("../data/towns.tsv")),
];

#[test]
fn every_file_names_its_source_and_licence() {
    for (file, text) in FILES {
        let header: String = text.lines().take_while(|l| l.starts_with('#')).collect();
        assert!(header.contains("Source:"), "{file} names no source");
        assert!(
            header.contains("License") || header.contains("Terms of Use"),
            "{file} names no licence"
        );
    }
}

#[test]
fn tables_parse_and_pass_the_domain_types() {
    let tables = Tables::get().expect("the data files parse");
    assert_eq!(tables.surnames.len(), 1_999);
    assert_eq!(tables.surnames[0].name, "佐藤");
    assert_eq!(tables.surnames[0].reading, "サトウ");
    assert!(tables.surnames.windows(2).all(|w| w[0].bearers >= w[1].bearers));
    assert!(tables.male.len() > 2_000 && tables.female.len() > 2_000);
    // The pyramid adds up to the census total, to within rounding (126,146 thousand).
    assert_eq!(tables.ages.len(), 21);
    assert!((126_000..=126_200).contains(&tables.age_total()), "{}", tables.age_total());
    // Town names for nearly every municipality in the table.
    let all = registry_domain::MunicipalityCode::all().len();
    assert!(tables.towns.len() * 100 >= all * 95, "{} of {all}", tables.towns.len());
}
