//! Instants in signed events: UTC seconds, written `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339, one form).
//!
//! The conversion between days and civil dates is Howard Hinnant's `days_from_civil` /
//! `civil_from_days`, exact over the proleptic Gregorian calendar.

use std::fmt;
use std::str::FromStr;

/// Seconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

/// A timestamp that is not `YYYY-MM-DDTHH:MM:SSZ` between 1970 and 9999.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a time is written YYYY-MM-DDTHH:MM:SSZ in UTC, e.g. 2026-11-24T09:30:00Z")]
pub struct TimestampError;

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl Timestamp {
    /// The instant `seconds` after the Unix epoch.
    pub fn from_unix(seconds: u64) -> Timestamp {
        Timestamp(seconds)
    }

    /// Seconds since the Unix epoch.
    pub fn unix(self) -> u64 {
        self.0
    }

    /// The UTC calendar date, `YYYY-MM-DD`.
    pub fn date_text(self) -> String {
        let (y, m, d) = civil_from_days((self.0 / 86_400) as i64);
        format!("{y:04}-{m:02}-{d:02}")
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0 % 86_400;
        write!(f, "{}T{:02}:{:02}:{:02}Z", self.date_text(), secs / 3600, secs / 60 % 60, secs % 60)
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(s: &str) -> Result<Timestamp, TimestampError> {
        let b = s.as_bytes();
        if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
            return Err(TimestampError);
        }
        if b[16] != b':' || b[19] != b'Z' {
            return Err(TimestampError);
        }
        let num = |range: std::ops::Range<usize>| -> Result<i64, TimestampError> {
            let part = &s[range];
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(TimestampError);
            }
            part.parse().map_err(|_| TimestampError)
        };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if y < 1970 || !(1..=12).contains(&mo) || d < 1 || h > 23 || mi > 59 || se > 59 {
            return Err(TimestampError);
        }
        let days = days_from_civil(y, mo, d);
        if civil_from_days(days) != (y, mo, d) {
            return Err(TimestampError);
        }
        Ok(Timestamp((days * 86_400 + h * 3600 + mi * 60 + se) as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants_round_trip() {
        for (text, unix) in [
            ("1970-01-01T00:00:00Z", 0),
            ("2000-02-29T12:34:56Z", 951_827_696),
            ("2026-11-24T09:30:00Z", 1_795_512_600),
        ] {
            let t: Timestamp = text.parse().unwrap();
            assert_eq!(t.unix(), unix, "{text}");
            assert_eq!(t.to_string(), text);
        }
    }

    #[test]
    fn other_forms_are_refused() {
        for bad in [
            "2026-11-24 09:30:00Z",
            "2026-11-24T09:30:00",
            "2026-11-24T09:30:00+09:00",
            "2026-02-30T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "2026-11-24T24:00:00Z",
            "2026-1-24T09:30:00Z",
            "２０２６-11-24T09:30:00Z",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
        }
    }
}
