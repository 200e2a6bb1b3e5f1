//! 全国地方公共団体コード (JIS X 0402 local-government codes) and prefecture codes (JIS X 0401).
//!
//! A municipality code is six digits: the two-digit prefecture, a three-digit municipality
//! number, and a check digit. With the first five digits `a b c d e`,
//! S = 6a + 5b + 4c + 3d + 2e and the check digit is (11 − S mod 11) mod 10: remainders 0
//! and 1 give 1 and 0. Because remainders 0 and 10 both give 1, two codes whose first five
//! digits differ in one place can both be valid (011011 札幌市 中央区 and 011061 札幌市 南区):
//! the check digit does not catch every single-digit error, and only the table decides.
//!
//! [`MunicipalityCode`] holds only codes in the compiled table (1,916 municipalities and
//! designated-city wards, from `../shared/data/municipalities.csv`); [`check_jis_x0402`] checks
//! the check digit of any six digits, so a caller can tell "mistyped" from "not a municipality".

use std::fmt;
use std::str::FromStr;

use crate::digits::{self, DigitsError};
use crate::table::{MUNICIPALITIES, PREFECTURES};

/// A prefecture (都道府県), 1 北海道 … 47 沖縄県 (JIS X 0401). Written as two digits, `01`–`47`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PrefectureCode(u8);

/// Why a value is not a prefecture code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PrefectureCodeError {
    /// Not two ASCII digits.
    #[error("a prefecture code is two ASCII digits, 01 to 47 (e.g. 20 for 長野県)")]
    Format,
    /// Two digits, or a number, outside 1..=47.
    #[error("there is no prefecture {0}: prefecture codes run from 01 (北海道) to 47 (沖縄県)")]
    OutOfRange(u32),
}

impl PrefectureCode {
    /// The prefecture with this number (1..=47).
    pub fn new(number: u8) -> Result<Self, PrefectureCodeError> {
        if (1..=47).contains(&number) {
            Ok(Self(number))
        } else {
            Err(PrefectureCodeError::OutOfRange(number.into()))
        }
    }

    /// The number, 1..=47.
    pub fn get(self) -> u8 {
        self.0
    }

    /// The name, e.g. 長野県, 東京都, 北海道.
    pub fn name(self) -> &'static str {
        PREFECTURES[usize::from(self.0) - 1].0
    }

    /// The reading in hiragana, e.g. ながのけん.
    pub fn reading(self) -> &'static str {
        PREFECTURES[usize::from(self.0) - 1].1
    }

    /// All 47 prefectures in code order.
    pub fn all() -> impl ExactSizeIterator<Item = Self> {
        (1..=47).map(Self)
    }
}

impl fmt::Display for PrefectureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}", self.0)
    }
}

impl FromStr for PrefectureCode {
    type Err = PrefectureCodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let [a, b] = digits::parse::<2>(s).map_err(|_| PrefectureCodeError::Format)?;
        let n = a * 10 + b;
        Self::new(n).map_err(|_| PrefectureCodeError::OutOfRange(n.into()))
    }
}

/// A municipality or designated-city ward in the table: 204072 is 阿智村 in 長野県.
///
/// Written as its six digits with leading zeros (`011002`). Ordered by code.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MunicipalityCode(u16); // index into the sorted table

/// Why a value is not a municipality code. The code, which is public, is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MunicipalityCodeError {
    /// The wrong number of digits.
    #[error(
        "a municipality code is 6 digits with its check digit (e.g. 204072), not {found} characters"
    )]
    Length {
        /// How many characters were given.
        found: usize,
    },
    /// Full-width digits.
    #[error(
        "write the municipality code with ASCII digits 0-9 (e.g. 204072), not full-width digits"
    )]
    FullWidthDigits,
    /// A character that is not a digit.
    #[error("a municipality code is 6 digits (e.g. 204072); character {position} is not a digit")]
    NotADigit {
        /// The position of the first non-digit, counting from 1.
        position: usize,
    },
    /// Six digits whose last is not the JIS X 0402 check digit of the first five.
    #[error(
        "{code:06} is not a municipality code: its last digit is not the JIS X 0402 check digit \
         of the first five, so a digit was probably mistyped"
    )]
    CheckDigit {
        /// The code as given.
        code: u32,
    },
    /// A valid check digit, but no municipality or designated-city ward has this code.
    #[error(
        "{code:06} has a valid check digit but is not a municipality or designated-city ward in \
         juki's table (prefecture codes such as 200000 and merged-away municipalities are not)"
    )]
    NotInTable {
        /// The code as given.
        code: u32,
    },
}

impl From<DigitsError> for MunicipalityCodeError {
    fn from(e: DigitsError) -> Self {
        match e {
            DigitsError::FullWidth => Self::FullWidthDigits,
            DigitsError::NotDigit(position) => Self::NotADigit { position },
            DigitsError::Length(found) => Self::Length { found },
        }
    }
}

/// The JIS X 0402 check digit of the first five digits of a municipality code (each 0..=9):
/// (11 − (6a + 5b + 4c + 3d + 2e) mod 11) mod 10.
pub fn jis_x0402_check_digit(first_five: [u8; 5]) -> u8 {
    let s: u32 = first_five.iter().zip([6, 5, 4, 3, 2]).map(|(&d, w)| u32::from(d) * w).sum();
    ((11 - s % 11) % 10) as u8
}

/// Checks only the form and the check digit of a six-digit code, whether or not any
/// municipality has it. `Ok` for 200000 (長野県, a prefecture) as for 204072 (阿智村).
pub fn check_jis_x0402(s: &str) -> Result<(), MunicipalityCodeError> {
    check_digits(digits::parse::<6>(s)?)
}

fn check_digits(d: [u8; 6]) -> Result<(), MunicipalityCodeError> {
    let [a, b, c, e, f, check] = d;
    if jis_x0402_check_digit([a, b, c, e, f]) == check {
        Ok(())
    } else {
        Err(MunicipalityCodeError::CheckDigit { code: digits::to_number(&d) as u32 })
    }
}

impl MunicipalityCode {
    /// Parses six ASCII digits; the same as `s.parse()`.
    pub fn parse(s: &str) -> Result<Self, MunicipalityCodeError> {
        let d = digits::parse::<6>(s)?;
        check_digits(d)?;
        Self::lookup(digits::to_number(&d) as u32)
    }

    /// The municipality with this code as a number (`11002` for 011002), e.g. from storage.
    pub fn from_number(code: u32) -> Result<Self, MunicipalityCodeError> {
        let d = digits::of_number::<6>(code.into())
            .ok_or(MunicipalityCodeError::Length { found: code.to_string().len() })?;
        check_digits(d)?;
        Self::lookup(code)
    }

    fn lookup(code: u32) -> Result<Self, MunicipalityCodeError> {
        let index = MUNICIPALITIES
            .binary_search_by_key(&code, |row| row.0)
            .map_err(|_| MunicipalityCodeError::NotInTable { code })?;
        Ok(Self(index as u16))
    }

    fn row(self) -> &'static (u32, u8, &'static str, &'static str) {
        &MUNICIPALITIES[usize::from(self.0)]
    }

    /// The code as a number, check digit included (`11002` for 011002).
    pub fn number(self) -> u32 {
        self.row().0
    }

    /// The name as the table has it: 阿智村, 千代田区, and for a designated-city ward the city
    /// and the ward separated by a space, 札幌市 中央区.
    pub fn name(self) -> &'static str {
        self.row().2
    }

    /// The reading in hiragana as the table has it, e.g. あちむら, さっぽろし ちゅうおうく.
    pub fn reading(self) -> &'static str {
        self.row().3
    }

    /// The prefecture the municipality belongs to.
    pub fn prefecture(self) -> PrefectureCode {
        PrefectureCode(self.row().1)
    }

    /// Whether `town` is this municipality or, for a designated city as a whole (札幌市
    /// 011002), one of its wards (札幌市 中央区 011011): the table names a ward after its city.
    pub fn contains(self, town: MunicipalityCode) -> bool {
        if self == town {
            return true;
        }
        let city = self.name();
        town.prefecture() == self.prefecture()
            && town.name().strip_prefix(city).is_some_and(|ward| ward.starts_with(' '))
    }

    /// Every municipality and ward in the table, in code order.
    pub fn all() -> impl ExactSizeIterator<Item = Self> {
        (0..MUNICIPALITIES.len() as u16).map(Self)
    }
}

impl fmt::Display for MunicipalityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.number())
    }
}

impl fmt::Debug for MunicipalityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MunicipalityCode({:06} {})", self.number(), self.name())
    }
}

impl FromStr for MunicipalityCode {
    type Err = MunicipalityCodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits_from_the_notes() {
        // 131016 千代田区: S = 6·1 + 5·3 + 4·1 + 3·0 + 2·1 = 27, 27 mod 11 = 5, 11 − 5 = 6.
        assert_eq!(jis_x0402_check_digit([1, 3, 1, 0, 1]), 6);
        // 110001 埼玉県: S = 6 + 5 = 11, remainder 0, 11 mod 10 = 1.
        assert_eq!(jis_x0402_check_digit([1, 1, 0, 0, 0]), 1);
        // 420000 長崎県: S = 24 + 10 = 34, remainder 1, 10 mod 10 = 0.
        assert_eq!(jis_x0402_check_digit([4, 2, 0, 0, 0]), 0);
        // 204072 阿智村: S = 12 + 0 + 16 + 0 + 14 = 42, remainder 9, 11 − 9 = 2.
        assert_eq!(jis_x0402_check_digit([2, 0, 4, 0, 7]), 2);
    }

    #[test]
    fn known_municipalities() {
        let cases = [
            ("204072", "阿智村", "あちむら", 20, "長野県"),
            ("131016", "千代田区", "ちよだく", 13, "東京都"),
            ("271004", "大阪市", "おおさかし", 27, "大阪府"),
            ("011002", "札幌市", "さっぽろし", 1, "北海道"),
            ("011011", "札幌市 中央区", "さっぽろし ちゅうおうく", 1, "北海道"),
            ("473821", "与那国町", "よなぐにちょう", 47, "沖縄県"),
        ];
        for (code, name, reading, pref, pref_name) in cases {
            let m = MunicipalityCode::parse(code).unwrap();
            assert_eq!(m.to_string(), code);
            assert_eq!(m.name(), name);
            assert_eq!(m.reading(), reading);
            assert_eq!(m.prefecture().get(), pref);
            assert_eq!(m.prefecture().name(), pref_name);
            assert_eq!(MunicipalityCode::from_number(m.number()), Ok(m));
            assert_eq!(code.parse::<MunicipalityCode>(), Ok(m));
        }
    }

    #[test]
    fn a_designated_city_contains_its_wards_and_nothing_else_does() {
        let m = |code: &str| MunicipalityCode::parse(code).unwrap();
        let sapporo = m("011002");
        assert!(sapporo.contains(sapporo));
        assert!(sapporo.contains(m("011011")), "札幌市 中央区");
        assert!(!m("011011").contains(sapporo), "a ward does not contain its city");
        assert!(!m("011011").contains(m("011029")), "nor another ward");
        assert!(!sapporo.contains(m("141011")), "横浜市 鶴見区");
        assert!(m("141003").contains(m("141011")));
        assert!(m("204072").contains(m("204072")));
        assert!(!m("204072").contains(m("202029")));
        let wards = MunicipalityCode::all().filter(|w| sapporo.contains(*w)).count();
        assert_eq!(wards, 11, "札幌市 and its ten wards");
    }

    #[test]
    fn rejections() {
        use MunicipalityCodeError as E;
        let cases: &[(&str, E)] = &[
            ("", E::Length { found: 0 }),
            ("20407", E::Length { found: 5 }),
            ("2040720", E::Length { found: 7 }),
            ("20407a", E::NotADigit { position: 6 }),
            ("204 072", E::NotADigit { position: 4 }),
            (" 204072", E::NotADigit { position: 1 }),
            ("２０４０７２", E::FullWidthDigits),
            ("-20407", E::NotADigit { position: 1 }),
            ("204071", E::CheckDigit { code: 204071 }),
            ("204070", E::CheckDigit { code: 204070 }),
            ("200000", E::NotInTable { code: 200000 }), // 長野県 itself
            ("130001", E::NotInTable { code: 130001 }), // 東京都 itself
            // S = 0 gives check digit (11 − 0) mod 10 = 1, so 000000 fails and 000001 passes.
            ("000000", E::CheckDigit { code: 0 }),
            ("000001", E::NotInTable { code: 1 }),
        ];
        for (input, want) in cases {
            assert_eq!(MunicipalityCode::parse(input), Err(*want), "{input:?}");
        }
        assert_eq!(check_jis_x0402("200000"), Ok(()));
        assert_eq!(check_jis_x0402("000001"), Ok(()));
        assert_eq!(check_jis_x0402("204071"), Err(E::CheckDigit { code: 204071 }));
        assert_eq!(MunicipalityCode::from_number(1_000_000), Err(E::Length { found: 7 }));
    }

    #[test]
    fn error_messages_say_what_a_valid_code_looks_like() {
        let e = MunicipalityCode::parse("204071").unwrap_err().to_string();
        assert!(e.contains("204071") && e.contains("check digit"), "{e}");
        let e = MunicipalityCode::parse("200000").unwrap_err().to_string();
        assert!(e.contains("200000") && e.contains("valid check digit"), "{e}");
        let e = MunicipalityCode::parse("20407").unwrap_err().to_string();
        assert!(e.contains("6 digits") && e.contains("204072"), "{e}");
    }

    #[test]
    fn prefectures() {
        assert_eq!(PrefectureCode::all().len(), 47);
        let p = PrefectureCode::new(1).unwrap();
        assert_eq!((p.name(), p.reading(), p.to_string()), ("北海道", "ほっかいどう", "01".into()));
        let p: PrefectureCode = "47".parse().unwrap();
        assert_eq!((p.name(), p.reading()), ("沖縄県", "おきなわけん"));
        assert_eq!(PrefectureCode::new(13).unwrap().name(), "東京都");
        assert_eq!(PrefectureCode::new(0), Err(PrefectureCodeError::OutOfRange(0)));
        assert_eq!(PrefectureCode::new(48), Err(PrefectureCodeError::OutOfRange(48)));
        assert_eq!("00".parse::<PrefectureCode>(), Err(PrefectureCodeError::OutOfRange(0)));
        assert_eq!("48".parse::<PrefectureCode>(), Err(PrefectureCodeError::OutOfRange(48)));
        for bad in ["1", "001", "１３", "", "a1"] {
            assert_eq!(bad.parse::<PrefectureCode>(), Err(PrefectureCodeError::Format), "{bad:?}");
        }
        for p in PrefectureCode::all() {
            assert_eq!(p.to_string().parse::<PrefectureCode>(), Ok(p));
            assert!(!p.name().is_empty() && !p.reading().is_empty());
        }
    }

    #[test]
    fn every_municipality_belongs_to_its_code_prefix() {
        assert_eq!(MunicipalityCode::all().len(), 1916);
        let mut previous = None;
        for m in MunicipalityCode::all() {
            assert_eq!(u32::from(m.prefecture().get()), m.number() / 10_000, "{m:?}");
            assert!(previous < Some(m.number()), "table sorted and unique");
            previous = Some(m.number());
        }
    }
}
