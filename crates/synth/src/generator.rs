//! One town's synthetic residents: [`Generator::person`] makes the `i`-th from the seed alone.
//!
//! Residents come in blocks of [`BLOCK`] indexes, each block split into households whose sizes
//! are drawn from [`HOUSEHOLD_SIZES`]; the people of a household share its surname and address.
//! Every other draw (sex, given name, birth date) is the person's own, so the ages of a household
//! do not form a family: a simplification that keeps the age pyramid exact.

use std::borrow::Cow;

use registry_domain::{
    Address, ChangeInfo, ChangeReason, Date, HistoryNumber, IdentityRecordParts, MunicipalityCode,
    Name, NameReading, PersonName, RecordStatus, ResidentCode, Sex,
};

use crate::SynthError;
use crate::calendar;
use crate::rng::Rng;
use crate::tables::{Given, Surname, Tables};

/// How many consecutive indexes are split into households together.
pub const BLOCK: u64 = 16;

/// Household sizes 1 to 5 and their shares of households in per cent: roughly the 2020
/// census's shares of general households by size (single 38 %, two 28 %, three 17 %, four 12 %,
/// five and more 5 %), rounded; an assumption, not a fitted table.
pub const HOUSEHOLD_SIZES: [(u64, u64); 5] = [(1, 38), (2, 28), (3, 17), (4, 12), (5, 5)];

const KANJI_DIGITS: [&str; 10] = ["〇", "一", "二", "三", "四", "五", "六", "七", "八", "九"];

/// Makes the residents of one municipality.
#[derive(Debug, Clone)]
pub struct Generator {
    town: MunicipalityCode,
    seed: u64,
    as_of: i64,
    tables: &'static Tables,
    streets: Cow<'static, [&'static str]>,
    rural: bool,
}

/// A synthetic person, every field valid for the domain types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// 氏名 with its reading.
    pub name: Name,
    /// The surname drawn (for distribution checks).
    pub surname: Surname,
    /// The given name drawn.
    pub given: Given,
    /// 生年月日.
    pub birth_date: Date,
    /// 性別.
    pub sex: Sex,
    /// 住所, inside the generator's municipality.
    pub address: Address,
    /// The household's number: people sharing it share surname and address.
    pub household: u64,
}

impl Person {
    /// The person's record under `code`, as first registered by a change of `reason` on `date`
    /// (the birth date if none).
    pub fn record(
        self,
        code: ResidentCode,
        reason: ChangeReason,
        date: Option<Date>,
    ) -> IdentityRecordParts {
        IdentityRecordParts {
            resident_code: code,
            name: self.name,
            birth_date: self.birth_date,
            sex: self.sex,
            address: self.address,
            individual_number: None,
            latest_change: ChangeInfo::new(reason, date.unwrap_or(self.birth_date)),
            history_number: HistoryNumber::new(1).unwrap_or_else(|_| unreachable!("1 is valid")),
            status: RecordStatus::Active,
        }
    }
}

fn refused(what: &'static str, reason: impl ToString) -> SynthError {
    SynthError::Refused { what, reason: reason.to_string() }
}

fn kanji_number(n: u64) -> String {
    // 1..=99 as 一, 十, 十一, 二十三 …
    let (tens, ones) = (n / 10, n % 10);
    let mut out = String::new();
    if tens > 1 {
        out.push_str(KANJI_DIGITS[tens as usize]);
    }
    if tens > 0 {
        out.push('十');
    }
    if ones > 0 {
        out.push_str(KANJI_DIGITS[ones as usize]);
    }
    out
}

impl Generator {
    /// The generator of `town`'s residents for `seed`, with ages counted at `as_of`.
    pub fn new(town: MunicipalityCode, seed: u64, as_of: Date) -> Result<Self, SynthError> {
        let tables = Tables::get()?;
        let oldest = tables.ages.last().map_or(0, |g| g.from + 5);
        if calendar::years_before(as_of, oldest + 1).is_none() {
            return Err(SynthError::Date);
        }
        let streets = match tables.towns.get(&town.number()) {
            Some(own) => Cow::Borrowed(own.as_slice()),
            None => {
                // A designated city as a whole: the town names of its wards.
                let prefix = format!("{} ", town.name());
                let wards = MunicipalityCode::all().filter(|w| w.name().starts_with(&prefix));
                Cow::Owned(
                    wards.flat_map(|w| tables.towns.get(&w.number())).flatten().copied().collect(),
                )
            }
        };
        let name = town.name();
        let rural = name.ends_with('町') || name.ends_with('村');
        Ok(Generator { town, seed, as_of: calendar::days(as_of), tables, streets, rural })
    }

    /// The municipality.
    pub fn town(&self) -> MunicipalityCode {
        self.town
    }

    /// The town names addresses are drawn from (empty for a village addressed by 番地 alone).
    pub fn streets(&self) -> &[&'static str] {
        &self.streets
    }

    /// The first index of the household holding index `i`.
    fn household_of(&self, i: u64) -> u64 {
        let block = i / BLOCK;
        let mut rng = Rng::for_draw(self.seed, self.town.number(), block, 0);
        let cumulative: Vec<u64> = HOUSEHOLD_SIZES
            .iter()
            .scan(0, |sum, &(_, share)| {
                *sum += share;
                Some(*sum)
            })
            .collect();
        let mut start = 0;
        loop {
            let size = HOUSEHOLD_SIZES[rng.weighted(&cumulative)].0;
            if i % BLOCK < start + size || start + size >= BLOCK {
                return block * BLOCK + start;
            }
            start += size;
        }
    }

    fn address(&self, rng: &mut Rng) -> Result<Address, SynthError> {
        let street = if self.streets.is_empty() {
            ""
        } else {
            self.streets[rng.below(self.streets.len() as u64) as usize]
        };
        let rest = if self.rural || street.is_empty() {
            let lot = rng.between(1, 3000);
            if rng.chance(30) {
                format!("{street}{lot}番地{}", rng.between(1, 9))
            } else {
                format!("{street}{lot}番地")
            }
        } else if rng.chance(80) {
            format!(
                "{street}{}丁目{}番{}号",
                kanji_number(rng.between(1, 5)),
                rng.between(1, 30),
                rng.between(1, 25)
            )
        } else {
            format!("{street}{}番地{}", rng.between(1, 2000), rng.between(1, 9))
        };
        Address::new(self.town, &rest).map_err(|e| refused("address", e))
    }

    fn birth_date(&self, rng: &mut Rng) -> Result<Date, SynthError> {
        let group = self.tables.ages[rng.weighted(&self.tables.age_cumulative)];
        let age = group.from + rng.below(5) as u16;
        let as_of = calendar::date(self.as_of).ok_or(SynthError::Date)?;
        // Born after the day `age + 1` years before and on or before the day `age` years before.
        let latest = calendar::years_before(as_of, age).ok_or(SynthError::Date)?;
        let earliest = calendar::years_before(as_of, age + 1).ok_or(SynthError::Date)?;
        let (low, high) = (calendar::days(earliest) + 1, calendar::days(latest));
        let day = low + rng.below((high - low + 1) as u64) as i64;
        calendar::date(day).ok_or(SynthError::Date)
    }

    /// The `i`-th resident.
    pub fn person(&self, i: u64) -> Result<Person, SynthError> {
        let town = self.town.number();
        let household = self.household_of(i);
        let mut shared = Rng::for_draw(self.seed, town, household, 1);
        let surname = self.tables.surnames[shared.weighted(&self.tables.surname_cumulative)];
        let address = self.address(&mut shared)?;

        let mut own = Rng::for_draw(self.seed, town, i, 2);
        let sex = if own.chance(50) { Sex::Male } else { Sex::Female };
        let names = if sex == Sex::Male { &self.tables.male } else { &self.tables.female };
        let given = names[own.below(names.len() as u64) as usize];
        let birth_date = self.birth_date(&mut own)?;
        let name = Name::new(
            PersonName::new(&format!("{} {}", surname.name, given.name))
                .map_err(|e| refused("name", e))?,
            NameReading::new(&format!("{}\u{3000}{}", surname.reading, given.reading))
                .map_err(|e| refused("reading", e))?,
            None,
        );
        Ok(Person { name, surname, given, birth_date, sex, address, household })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kanji_numbers() {
        let got: Vec<String> = [1, 5, 10, 11, 20, 23].map(kanji_number).to_vec();
        assert_eq!(got, ["一", "五", "十", "十一", "二十", "二十三"]);
    }
}
