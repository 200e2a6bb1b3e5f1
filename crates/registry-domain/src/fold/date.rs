//! Dates as people write them: 和暦 and Gregorian, in kanji, with separators or without.
//!
//! [`parse_date`] accepts, after width folding (full-width digits) and with spaces ignored:
//! - Gregorian: `1975-03-04`, `1975/3/4`, `1975.3.4`, `1975年3月4日`, `19750304`;
//! - 和暦 with the era's name or its initial (M 明治, T 大正, S 昭和, H 平成, R 令和, either case,
//!   or the first kanji 明 大 昭 平 令): `昭和50年3月4日`, `S50.3.4`, `s50/3/4`, `昭50.3.4`,
//!   `H1.1.8`, `平成元年1月8日`, `R2.5.1`, and years, months and days in kanji numerals
//!   (`昭和五十年三月四日`).
//!
//! An era's year counts from 1 (元年) and may run past the era's end, as people write it
//! (平成31年5月1日 is 2019-05-01); the day must exist. Errors never repeat the date.

use super::address::kanji_number_text;
use super::fold_width;
use crate::date::{Date, Era};

/// Why text is not a date in any notation [`parse_date`] knows. Never repeats the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DateNotationError {
    /// Nothing but white space.
    #[error("the date is empty")]
    Empty,
    /// Not year, month and day in a known notation.
    #[error(
        "the date is not in a known notation; write it e.g. 1975-03-04, 1975/3/4, 19750304, \
         昭和50年3月4日 or S50.3.4"
    )]
    Notation,
    /// Year, month and day, but no such day.
    #[error("the date does not exist (month 1 to 12, a day the month has)")]
    NoSuchDay,
}

fn era_of(prefix: &str) -> Option<Era> {
    Some(match prefix {
        "明治" | "明" | "M" => Era::Meiji,
        "大正" | "大" | "T" => Era::Taisho,
        "昭和" | "昭" | "S" => Era::Showa,
        "平成" | "平" | "H" => Era::Heisei,
        "令和" | "令" | "R" => Era::Reiwa,
        _ => return None,
    })
}

/// A date in any of the notations of the module notes.
pub fn parse_date(s: &str) -> Result<Date, DateNotationError> {
    let text: String = fold_width(s)
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if text.is_empty() {
        return Err(DateNotationError::Empty);
    }
    // The era, if the text starts with one.
    let (era, rest) = [
        "明治", "大正", "昭和", "平成", "令和", "明", "大", "昭", "平", "令", "M", "T", "S", "H",
        "R",
    ]
    .iter()
    .find_map(|p| text.strip_prefix(p).map(|rest| (era_of(p), rest)))
    .unwrap_or((None, text.as_str()));
    let rest = rest.trim_start_matches('.');
    let rest = match rest.strip_prefix("元") {
        Some(after) if era.is_some() => format!("1{after}"),
        _ => rest.to_owned(),
    };
    let rest = kanji_number_text(&rest);
    let numbers: Vec<&str> =
        rest.split(|c: char| !c.is_ascii_digit()).filter(|n| !n.is_empty()).collect();
    let separators_ok = rest.chars().all(|c| {
        c.is_ascii_digit() || matches!(c, '年' | '月' | '日' | '.' | '/' | '-' | '‐' | '−' | 'ー')
    });
    if !separators_ok {
        return Err(DateNotationError::Notation);
    }
    let (year, month, day) = match (era, numbers.as_slice()) {
        (None, [ymd]) if ymd.len() == 8 => (&ymd[..4], &ymd[4..6], &ymd[6..]),
        (None, [y, m, d]) if y.len() == 4 => (*y, *m, *d),
        (Some(_), [y, m, d]) if y.len() <= 2 => (*y, *m, *d),
        _ => return Err(DateNotationError::Notation),
    };
    let number = |t: &str| t.parse::<u16>().map_err(|_| DateNotationError::Notation);
    let (mut year, month, day) = (number(year)?, number(month)?, number(day)?);
    if let Some(era) = era {
        if year == 0 {
            return Err(DateNotationError::Notation);
        }
        year += era.start().year() - 1;
    }
    if month > 12 || day > 31 {
        return Err(DateNotationError::NoSuchDay);
    }
    Date::new(year, month as u8, day as u8).map_err(|_| DateNotationError::NoSuchDay)
}
