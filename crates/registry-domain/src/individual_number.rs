//! 個人番号 (My Number): twelve digits, eleven and the official check digit.
//!
//! The check digit is set by 総務省令第85号 第5条 (`reference/jukinet.md` §2.3): with Pn the
//! n-th of the eleven digits counted from the right and Qn = n + 1 for n ≤ 6, n − 5 for n ≥ 7,
//! r = Σ Pn·Qn mod 11, and the check digit is 0 when r ≤ 1, else 11 − r. Read from the left the
//! weights are 6,5,4,3,2,7,6,5,4,3,2.
//!
//! The 番号法 restricts who may handle a 個人番号, so this type never shows it by accident:
//! `Debug` prints `IndividualNumber(<redacted>)` and errors never repeat the number. `Display`
//! gives the twelve digits, for the places entitled to them.

use std::fmt;
use std::str::FromStr;

use crate::digits::{self, DigitsError};

/// A 個人番号, written as 12 digits with leading zeros.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IndividualNumber(u64); // all 12 digits, check digit last

/// Why a value is not a 個人番号.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IndividualNumberError {
    /// The wrong number of digits.
    #[error(
        "an individual number (個人番号) is 12 digits, the last a check digit; got {found} characters"
    )]
    Length {
        /// How many characters were given.
        found: usize,
    },
    /// Full-width digits.
    #[error("write the individual number (個人番号) with ASCII digits 0-9, not full-width digits")]
    FullWidthDigits,
    /// A character that is not a digit.
    #[error("an individual number (個人番号) is 12 digits; character {position} is not a digit")]
    NotADigit {
        /// The position of the first non-digit, counting from 1.
        position: usize,
    },
    /// Twelve digits whose last is not the check digit of the first eleven.
    #[error(
        "not an individual number (個人番号): the last digit is not the check digit of the first \
         eleven, so a digit was probably mistyped"
    )]
    CheckDigit,
    /// `from_eleven_digits` was given a number of more than eleven digits.
    #[error("the first part of an individual number is at most eleven digits (below 100000000000)")]
    TooLarge,
}

impl From<DigitsError> for IndividualNumberError {
    fn from(e: DigitsError) -> Self {
        match e {
            DigitsError::FullWidth => Self::FullWidthDigits,
            DigitsError::NotDigit(position) => Self::NotADigit { position },
            DigitsError::Length(found) => Self::Length { found },
        }
    }
}

/// The official check digit of the first eleven digits of a 個人番号 (each 0..=9): weights
/// 6,5,4,3,2,7,6,5,4,3,2 from the left, r = Σ mod 11, 0 if r ≤ 1 else 11 − r.
pub fn individual_number_check_digit(first_eleven: [u8; 11]) -> u8 {
    const WEIGHTS: [u32; 11] = [6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
    let r = first_eleven.iter().zip(WEIGHTS).map(|(&d, w)| u32::from(d) * w).sum::<u32>() % 11;
    if r <= 1 { 0 } else { (11 - r) as u8 }
}

impl IndividualNumber {
    /// Parses 12 ASCII digits; the same as `s.parse()`.
    pub fn parse(s: &str) -> Result<Self, IndividualNumberError> {
        Self::from_digits(digits::parse::<12>(s)?)
    }

    fn from_digits(d: [u8; 12]) -> Result<Self, IndividualNumberError> {
        let mut first = [0; 11];
        first.copy_from_slice(&d[..11]);
        if individual_number_check_digit(first) != d[11] {
            return Err(IndividualNumberError::CheckDigit);
        }
        Ok(Self(digits::to_number(&d)))
    }

    /// The number whose first eleven digits are `eleven` (below 10¹¹), check digit appended.
    pub fn from_eleven_digits(eleven: u64) -> Result<Self, IndividualNumberError> {
        let first = digits::of_number::<11>(eleven).ok_or(IndividualNumberError::TooLarge)?;
        Ok(Self(eleven * 10 + u64::from(individual_number_check_digit(first))))
    }

    /// The number from its 12-digit value, check digit included (e.g. from storage).
    pub fn from_number(value: u64) -> Result<Self, IndividualNumberError> {
        let d = digits::of_number::<12>(value)
            .ok_or(IndividualNumberError::Length { found: value.to_string().len() })?;
        Self::from_digits(d)
    }

    /// All 12 digits as a number, check digit included.
    pub fn number(self) -> u64 {
        self.0
    }

    /// The check digit.
    pub fn check_digit(self) -> u8 {
        (self.0 % 10) as u8
    }
}

impl fmt::Display for IndividualNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:012}", self.0)
    }
}

impl fmt::Debug for IndividualNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IndividualNumber(<redacted>)")
    }
}

impl FromStr for IndividualNumber {
    type Err = IndividualNumberError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Worked by hand (weights 6 5 4 3 2 7 6 5 4 3 2):
    // 12345678901: 6+10+12+12+10+42+42+40+36+0+2 = 212; 212 mod 11 = 3 (11·19 = 209); 11 − 3 = 8.
    // 00000000000: Σ = 0, r = 0 → 0.
    // 00000000001: Σ = 2, r = 2 → 9.
    // 99999999999: 9·47 = 423; 423 mod 11 = 5 (11·38 = 418); 11 − 5 = 6.
    // 10000000000: Σ = 6, r = 6 → 5.
    // 11111111111: Σ = 47, 47 mod 11 = 3 → 8.
    const KNOWN: [(&str, u64); 6] = [
        ("123456789018", 12_345_678_901),
        ("000000000000", 0),
        ("000000000019", 1),
        ("999999999996", 99_999_999_999),
        ("100000000005", 10_000_000_000),
        ("111111111118", 11_111_111_111),
    ];

    #[test]
    fn known_numbers() {
        for (text, eleven) in KNOWN {
            let n = IndividualNumber::parse(text).unwrap();
            assert_eq!(n.to_string(), text);
            assert_eq!(n.number() / 10, eleven);
            assert_eq!(IndividualNumber::from_eleven_digits(eleven), Ok(n));
            assert_eq!(IndividualNumber::from_number(n.number()), Ok(n));
            assert_eq!(text.parse::<IndividualNumber>(), Ok(n));
        }
    }

    #[test]
    fn every_single_digit_change_is_rejected_when_the_check_digit_is_not_0() {
        let mut checked = 0;
        for i in 0..500u64 {
            let n = IndividualNumber::from_eleven_digits(i * 199_999_999 + 7).unwrap();
            if n.check_digit() == 0 {
                continue; // r = 0 and r = 1 both give 0; see the resident-code tests
            }
            checked += 1;
            let text = n.to_string();
            for pos in 0..12 {
                for digit in b'0'..=b'9' {
                    let mut changed = text.as_bytes().to_vec();
                    if changed[pos] == digit {
                        continue;
                    }
                    changed[pos] = digit;
                    let changed = String::from_utf8(changed).unwrap();
                    assert_eq!(
                        IndividualNumber::parse(&changed),
                        Err(IndividualNumberError::CheckDigit)
                    );
                }
            }
        }
        assert!(checked > 400, "{checked}");
    }

    #[test]
    fn rejections() {
        use IndividualNumberError as E;
        let cases: &[(&str, E)] = &[
            ("", E::Length { found: 0 }),
            ("12345678901", E::Length { found: 11 }),
            ("1234567890180", E::Length { found: 13 }),
            ("12345678901x", E::NotADigit { position: 12 }),
            ("1234 5678 9018", E::NotADigit { position: 5 }),
            ("１２３４５６７８９０１８", E::FullWidthDigits),
            ("123456789017", E::CheckDigit),
            ("213456789018", E::CheckDigit),
        ];
        for (input, want) in cases {
            assert_eq!(IndividualNumber::parse(input), Err(*want), "{input:?}");
        }
        assert_eq!(IndividualNumber::from_eleven_digits(100_000_000_000), Err(E::TooLarge));
    }

    #[test]
    fn never_shown_by_debug_or_errors() {
        let n = IndividualNumber::parse("123456789018").unwrap();
        assert_eq!(format!("{n:?}"), "IndividualNumber(<redacted>)");
        assert_eq!(format!("{:?}", Some(n)), "Some(IndividualNumber(<redacted>))");
        let e = IndividualNumber::parse("123456789017").unwrap_err().to_string();
        assert!(!e.contains("12345678901"), "{e}");
    }
}
