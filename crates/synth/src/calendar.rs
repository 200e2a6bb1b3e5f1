//! Days since 1970-01-01 to and from civil dates (Howard Hinnant's algorithms), for drawing a
//! birth date uniformly within a year of age.

use registry_domain::Date;

/// Days from 1970-01-01 to the date.
pub(crate) fn days(date: Date) -> i64 {
    let (y, m, d) = (i64::from(date.year()), i64::from(date.month()), i64::from(date.day()));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `days` after 1970-01-01, if it is a valid `Date`.
pub(crate) fn date(days: i64) -> Option<Date> {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    Date::new(u16::try_from(y).ok()?, m as u8, d as u8).ok()
}

/// The same day `years` earlier (29 February becomes 28 February).
pub(crate) fn years_before(date: Date, years: u16) -> Option<Date> {
    let year = date.year().checked_sub(years)?;
    Date::new(year, date.month(), date.day())
        .or_else(|_| Date::new(year, date.month(), date.day() - 1))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_day_of_four_centuries() {
        let start = days(Date::new(1800, 1, 1).unwrap());
        for n in start..start + 146_097 {
            let d = date(n).unwrap();
            assert_eq!(days(d), n);
        }
        assert_eq!(days(Date::new(1970, 1, 1).unwrap()), 0);
        assert_eq!(date(-1), Some(Date::new(1969, 12, 31).unwrap()));
    }

    #[test]
    fn leap_day_falls_back() {
        let leap = Date::new(2024, 2, 29).unwrap();
        assert_eq!(years_before(leap, 1), Some(Date::new(2023, 2, 28).unwrap()));
        assert_eq!(years_before(leap, 4), Some(Date::new(2020, 2, 29).unwrap()));
    }
}
