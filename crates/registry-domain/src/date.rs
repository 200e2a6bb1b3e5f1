//! Calendar dates (Gregorian), written `YYYY-MM-DD`, and their 和暦 (Japanese era) form.
//!
//! Why an own type rather than the `time` crate: the registry needs only a validated
//! year-month-day that parses strictly, prints canonically, orders, and shows in 和暦. That is
//! a few dozen lines with nothing to configure, where `time` would bring a dependency with
//! format-description machinery and offsets the domain must not use (no clock here). Years run
//! from 0001 to 9999, so the written form is always ten characters.
//!
//! 和暦 eras and their first days: 明治 1868-10-23, 大正 1912-07-30, 昭和 1926-12-25,
//! 平成 1989-01-08, 令和 2019-05-01. The first year of an era is written 元年:
//! 2019-05-01 is 令和元年5月1日 and 1989-01-07 is 昭和64年1月7日.
//!
//! Convention for 1868: the 改元の詔 of 1868-10-23 made 明治 run from the start of that year
//! (慶応4年1月1日), so dates from 1868-01-01 to 1868-10-22 are shown as 明治元年, as year tables
//! and 住民記録 systems do ("1868 = 明治元年"). Dates before 1868-01-01 have no 和暦 form here
//! and are refused. Until 明治5年12月2日 (1872-12-31) Japan kept the lunisolar calendar, so
//! for dates before 1873 the month and day shown are the Gregorian ones in 和暦 year numbering,
//! not the historical calendar date; nobody in the registry is born that early.

use std::fmt;
use std::str::FromStr;

/// A Gregorian calendar date from 0001-01-01 to 9999-12-31, ordered chronologically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

/// Why a value is not a date. Never repeats the date (it may be a birth date).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// Not `YYYY-MM-DD` with ASCII digits.
    #[error("a date is written YYYY-MM-DD with ASCII digits, e.g. 2019-05-01")]
    Format,
    /// Year 0000.
    #[error("the year must be 0001 to 9999")]
    Year,
    /// Month outside 1..=12.
    #[error("the month must be 01 to 12")]
    Month,
    /// Day 0 or past the end of the month.
    #[error("the day must be 01 to {days_in_month} in that month")]
    Day {
        /// How many days the month has.
        days_in_month: u8,
    },
}

fn is_leap(year: u16) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Date {
    /// The date year-month-day, if it exists.
    pub fn new(year: u16, month: u8, day: u8) -> Result<Self, DateError> {
        if !(1..=9999).contains(&year) {
            return Err(DateError::Year);
        }
        if !(1..=12).contains(&month) {
            return Err(DateError::Month);
        }
        let days = days_in_month(year, month);
        if !(1..=days).contains(&day) {
            return Err(DateError::Day { days_in_month: days });
        }
        Ok(Self { year, month, day })
    }

    /// Parses exactly `YYYY-MM-DD`; the same as `s.parse()`.
    pub fn parse(s: &str) -> Result<Self, DateError> {
        let b = s.as_bytes();
        let digits_at = |range: std::ops::Range<usize>| -> Result<u16, DateError> {
            b[range].iter().try_fold(0u16, |n, &c| {
                if c.is_ascii_digit() {
                    Ok(n * 10 + u16::from(c - b'0'))
                } else {
                    Err(DateError::Format)
                }
            })
        };
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(DateError::Format);
        }
        let (year, month, day) = (digits_at(0..4)?, digits_at(5..7)?, digits_at(8..10)?);
        Self::new(year, month as u8, day as u8)
    }

    /// The year, 1..=9999.
    pub fn year(self) -> u16 {
        self.year
    }

    /// The month, 1..=12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// The day of the month, 1..=31.
    pub fn day(self) -> u8 {
        self.day
    }

    /// The 和暦 form, e.g. 令和元年5月1日; refused before 1868-01-01.
    pub fn wareki(self) -> Result<Wareki, WarekiError> {
        let era = Era::ALL
            .iter()
            .rev()
            .copied()
            .find(|era| self >= era.start())
            .or_else(|| (self.year == 1868).then_some(Era::Meiji))
            .ok_or(WarekiError::BeforeMeiji)?;
        Ok(Wareki { era, year: self.year - era.start().year + 1, month: self.month, day: self.day })
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl FromStr for Date {
    type Err = DateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A Japanese era (元号) of the modern period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Era {
    /// 明治, from 1868-10-23 (shown from 1868-01-01; see the module notes).
    Meiji,
    /// 大正, from 1912-07-30.
    Taisho,
    /// 昭和, from 1926-12-25.
    Showa,
    /// 平成, from 1989-01-08.
    Heisei,
    /// 令和, from 2019-05-01.
    Reiwa,
}

impl Era {
    /// The eras in order.
    pub const ALL: [Era; 5] = [Era::Meiji, Era::Taisho, Era::Showa, Era::Heisei, Era::Reiwa];

    /// The era's name, e.g. 令和.
    pub fn name(self) -> &'static str {
        match self {
            Era::Meiji => "明治",
            Era::Taisho => "大正",
            Era::Showa => "昭和",
            Era::Heisei => "平成",
            Era::Reiwa => "令和",
        }
    }

    /// The first day of the era (for 明治, the day of the 改元の詔).
    pub fn start(self) -> Date {
        let (year, month, day) = match self {
            Era::Meiji => (1868, 10, 23),
            Era::Taisho => (1912, 7, 30),
            Era::Showa => (1926, 12, 25),
            Era::Heisei => (1989, 1, 8),
            Era::Reiwa => (2019, 5, 1),
        };
        Date { year, month, day }
    }
}

/// A date in 和暦: era, year of the era (1 is 元年), month and day. `Display` gives the text,
/// e.g. 令和元年5月1日, 昭和64年1月7日.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wareki {
    era: Era,
    year: u16,
    month: u8,
    day: u8,
}

impl Wareki {
    /// The era.
    pub fn era(self) -> Era {
        self.era
    }

    /// The year of the era, 1 for 元年.
    pub fn year(self) -> u16 {
        self.year
    }
}

impl fmt::Display for Wareki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.era.name())?;
        if self.year == 1 {
            f.write_str("元")?;
        } else {
            write!(f, "{}", self.year)?;
        }
        write!(f, "年{}月{}日", self.month, self.day)
    }
}

/// Why a date has no 和暦 form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WarekiError {
    /// Before 1868-01-01.
    #[error("dates before 1868-01-01 have no 和暦 form here: the first era shown is 明治 (1868)")]
    BeforeMeiji,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn parse_and_display() {
        for s in
            ["2019-05-01", "0001-01-01", "9999-12-31", "2024-02-29", "2000-02-29", "1868-01-01"]
        {
            assert_eq!(d(s).to_string(), s);
        }
        let date = d("1989-01-07");
        assert_eq!((date.year(), date.month(), date.day()), (1989, 1, 7));
        assert_eq!(Date::new(1989, 1, 7), Ok(date));
    }

    #[test]
    fn rejections() {
        use DateError as E;
        let cases: &[(&str, E)] = &[
            ("", E::Format),
            ("2019-5-1", E::Format),
            ("2019-05-1", E::Format),
            ("2019/05/01", E::Format),
            ("20190501", E::Format),
            ("2019-05-01 ", E::Format),
            (" 2019-05-01", E::Format),
            ("2019-05-01T00:00", E::Format),
            ("２０１９-05-01", E::Format),
            ("+019-05-01", E::Format),
            ("2019--5-01", E::Format),
            ("0000-01-01", E::Year),
            ("2019-00-01", E::Month),
            ("2019-13-01", E::Month),
            ("2019-05-00", E::Day { days_in_month: 31 }),
            ("2019-04-31", E::Day { days_in_month: 30 }),
            ("2023-02-29", E::Day { days_in_month: 28 }),
            ("1900-02-29", E::Day { days_in_month: 28 }),
            ("2024-02-30", E::Day { days_in_month: 29 }),
        ];
        for (input, want) in cases {
            assert_eq!(Date::parse(input), Err(*want), "{input:?}");
        }
        assert_eq!(Date::new(10_000, 1, 1), Err(E::Year));
    }

    #[test]
    fn ordering() {
        assert!(d("1989-01-07") < d("1989-01-08"));
        assert!(d("1989-12-31") < d("1990-01-01"));
        assert!(d("2019-04-30") < d("2019-05-01"));
    }

    #[test]
    fn wareki() {
        let cases = [
            ("2019-05-01", "令和元年5月1日"),
            ("2019-04-30", "平成31年4月30日"),
            ("2020-01-01", "令和2年1月1日"),
            ("2024-12-31", "令和6年12月31日"),
            ("1989-01-08", "平成元年1月8日"),
            ("1989-01-07", "昭和64年1月7日"),
            ("1926-12-25", "昭和元年12月25日"),
            ("1926-12-24", "大正15年12月24日"),
            ("1980-12-26", "昭和55年12月26日"),
            ("1912-07-30", "大正元年7月30日"),
            ("1912-07-29", "明治45年7月29日"),
            ("1868-10-23", "明治元年10月23日"),
            ("1868-10-22", "明治元年10月22日"), // retroactive to the start of 1868
            ("1868-01-01", "明治元年1月1日"),
            ("1869-01-01", "明治2年1月1日"),
        ];
        for (date, text) in cases {
            assert_eq!(d(date).wareki().unwrap().to_string(), text, "{date}");
        }
        let w = d("2019-05-01").wareki().unwrap();
        assert_eq!((w.era(), w.year()), (Era::Reiwa, 1));
        for date in ["1867-12-31", "0001-01-01"] {
            assert_eq!(d(date).wareki(), Err(WarekiError::BeforeMeiji), "{date}");
        }
        assert!(WarekiError::BeforeMeiji.to_string().contains("1868-01-01"));
    }

    #[test]
    fn eras_in_order() {
        assert!(Era::ALL.windows(2).all(|w| w[0].start() < w[1].start()));
        for era in Era::ALL {
            assert_eq!(era.start().wareki().unwrap().era(), era);
            assert_eq!(era.start().wareki().unwrap().year(), 1);
        }
    }

    #[test]
    fn errors_do_not_repeat_the_date() {
        let e = Date::parse("1980-02-30").unwrap_err().to_string();
        assert!(!e.contains("1980"), "{e}");
    }
}
