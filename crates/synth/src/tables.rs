//! The compiled-in data files, parsed and checked once: surnames with their weights, given names
//! by sex, the age pyramid, and each municipality's town names.

use std::collections::HashMap;
use std::sync::OnceLock;

use registry_domain::{NameReading, PersonName};

use crate::SynthError;

const SURNAMES: &str = include_str!("../data/surnames.tsv");
const GIVEN_MALE: &str = include_str!("../data/given-male.tsv");
const GIVEN_FEMALE: &str = include_str!("../data/given-female.tsv");
const AGE_PYRAMID: &str = include_str!("../data/age-pyramid.tsv");
const TOWNS: &str = include_str!("../data/towns.tsv");

/// A surname, its reading and its estimated number of bearers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Surname {
    /// In kanji (or kana), as registered.
    pub name: &'static str,
    /// In katakana.
    pub reading: &'static str,
    /// The source's estimate of how many people bear it.
    pub bearers: u64,
}

/// A given name and its reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Given {
    /// In kanji (or kana), as registered.
    pub name: &'static str,
    /// In katakana.
    pub reading: &'static str,
}

/// A five-year age group and its population.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgeGroup {
    /// Its first age in years.
    pub from: u16,
    /// Its population in thousands.
    pub thousands: u64,
}

/// Every data file, parsed and checked.
#[derive(Debug)]
pub struct Tables {
    /// Surnames in the source's order, most borne first.
    pub surnames: Vec<Surname>,
    pub(crate) surname_cumulative: Vec<u64>,
    /// Male given names.
    pub male: Vec<Given>,
    /// Female given names.
    pub female: Vec<Given>,
    /// The age pyramid, youngest first.
    pub ages: Vec<AgeGroup>,
    pub(crate) age_cumulative: Vec<u64>,
    /// Town names by municipality code (the six-digit number).
    pub towns: HashMap<u32, Vec<&'static str>>,
}

fn lines(text: &'static str) -> impl Iterator<Item = (usize, &'static str)> {
    text.lines().enumerate().map(|(i, l)| (i + 1, l)).filter(|(_, l)| !l.starts_with('#'))
}

fn fault(file: &'static str, line: usize, problem: impl Into<String>) -> SynthError {
    SynthError::Data { file, line, problem: problem.into() }
}

fn name_and_reading(
    file: &'static str,
    line: usize,
    name: &'static str,
    reading: &'static str,
) -> Result<(), SynthError> {
    if name.contains(' ') || reading.contains(' ') {
        return Err(fault(file, line, "a name or reading holds a space"));
    }
    PersonName::new(name).map_err(|e| fault(file, line, e.to_string()))?;
    NameReading::new(reading).map_err(|e| fault(file, line, e.to_string()))?;
    Ok(())
}

fn given(file: &'static str, text: &'static str) -> Result<Vec<Given>, SynthError> {
    let mut out = Vec::new();
    for (line, l) in lines(text) {
        let mut fields = l.split('\t');
        let (Some(name), Some(reading), None) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(fault(file, line, "expected name<TAB>reading"));
        };
        name_and_reading(file, line, name, reading)?;
        out.push(Given { name, reading });
    }
    if out.is_empty() {
        return Err(fault(file, 0, "no names"));
    }
    Ok(out)
}

fn parse() -> Result<Tables, SynthError> {
    let file = "surnames.tsv";
    let mut surnames = Vec::new();
    let mut surname_cumulative = Vec::new();
    let mut total = 0u64;
    for (line, l) in lines(SURNAMES) {
        let fields: Vec<&'static str> = l.split('\t').collect();
        let [name, reading, bearers] = fields[..] else {
            return Err(fault(file, line, "expected name<TAB>reading<TAB>bearers"));
        };
        name_and_reading(file, line, name, reading)?;
        let bearers: u64 = bearers
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| fault(file, line, "bearers is not a positive number"))?;
        total += bearers;
        surnames.push(Surname { name, reading, bearers });
        surname_cumulative.push(total);
    }
    if surnames.is_empty() {
        return Err(fault(file, 0, "no surnames"));
    }

    let file = "age-pyramid.tsv";
    let mut ages = Vec::new();
    let mut age_cumulative = Vec::new();
    let mut total = 0u64;
    for (line, l) in lines(AGE_PYRAMID) {
        let parsed = l.split_once('\t').and_then(|(a, n)| {
            Some(AgeGroup { from: a.parse().ok()?, thousands: n.parse().ok()? })
        });
        let Some(group) = parsed else {
            return Err(fault(file, line, "expected age<TAB>thousands"));
        };
        if group.from != 5 * ages.len() as u16 || group.thousands == 0 {
            return Err(fault(file, line, "groups must be 0, 5, 10 … with a population"));
        }
        total += group.thousands;
        ages.push(group);
        age_cumulative.push(total);
    }
    if ages.is_empty() {
        return Err(fault(file, 0, "no age groups"));
    }

    let file = "towns.tsv";
    let mut towns = HashMap::new();
    for (line, l) in lines(TOWNS) {
        let mut fields = l.split('\t');
        let code = fields
            .next()
            .and_then(|c| registry_domain::MunicipalityCode::parse(c).ok())
            .ok_or_else(|| fault(file, line, "not a municipality code in the table"))?;
        let names: Vec<&'static str> = fields.collect();
        if names.is_empty() || names.iter().any(|n| n.is_empty() || n.contains(' ')) {
            return Err(fault(file, line, "expected one or more town names"));
        }
        if towns.insert(code.number(), names).is_some() {
            return Err(fault(file, line, "the municipality is listed twice"));
        }
    }

    Ok(Tables {
        surnames,
        surname_cumulative,
        male: given("given-male.tsv", GIVEN_MALE)?,
        female: given("given-female.tsv", GIVEN_FEMALE)?,
        ages,
        age_cumulative,
        towns,
    })
}

impl Tables {
    /// The tables, parsed on first use.
    pub fn get() -> Result<&'static Tables, SynthError> {
        static TABLES: OnceLock<Result<Tables, SynthError>> = OnceLock::new();
        TABLES.get_or_init(parse).as_ref().map_err(Clone::clone)
    }

    /// The total weight of the surnames (their bearers added up).
    pub fn surname_total(&self) -> u64 {
        self.surname_cumulative.last().copied().unwrap_or(0)
    }

    /// The total population of the pyramid, in thousands.
    pub fn age_total(&self) -> u64 {
        self.age_cumulative.last().copied().unwrap_or(0)
    }
}
