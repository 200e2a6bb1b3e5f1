//! Rates and quotas of identity provision, per agency and purpose, as the catalogue of
//! purposes sets them. Pure: time and the day's count so far are handed in.
//!
//! A request counts when it is admitted, whether it then finds a resident or not (a miss is
//! a request too: counting only hits would let code walking run free). The per-minute rate
//! is a window of the current minute; the per-day quota runs over the day in Japan time, and
//! its count is read back from the provision log when the node first sees the pair that day,
//! so a restart does not reset it.

use std::collections::HashMap;

use wire::purposes::Purpose;

/// Why a request is not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Over {
    /// More requests this minute than `per-minute`.
    Rate,
    /// More requests today than `per-day`.
    Day,
}

/// The day in Japan time (UTC+9) of POSIX second `time`.
pub fn japan_day(time: u64) -> u64 {
    (time + 9 * 3600) / 86_400
}

/// The first POSIX second of Japan day `day`.
pub fn japan_day_start(day: u64) -> u64 {
    (day * 86_400).saturating_sub(9 * 3600)
}

/// What each agency asked under each purpose, this minute and today.
#[derive(Default)]
pub struct Quotas {
    /// (agency, purpose) → (minute, requests in it).
    minute: HashMap<(String, String), (u64, u32)>,
    /// (agency, purpose) → (Japan day, requests in it).
    day: HashMap<(String, String), (u64, u32)>,
}

impl Quotas {
    /// Admits one request of `agency` under `purpose` at `time`, counting it, or says which
    /// bound it would pass. `used_today` gives the day's count from the provision log the
    /// first time a pair is seen on a day.
    pub fn admit(
        &mut self,
        agency: &str,
        purpose: &Purpose,
        time: u64,
        used_today: impl FnOnce(u64) -> u32,
    ) -> Result<(), Over> {
        let key = (agency.to_owned(), purpose.code.clone());
        let today = japan_day(time);
        let day = self.day.entry(key.clone()).or_insert((today, u32::MAX));
        if day.0 != today || day.1 == u32::MAX {
            *day = (today, used_today(japan_day_start(today)));
        }
        if day.1 >= purpose.per_day {
            return Err(Over::Day);
        }
        let now = time / 60;
        let minute = self.minute.entry(key).or_insert((now, 0));
        if minute.0 != now {
            *minute = (now, 0);
        }
        if minute.1 >= purpose.per_minute {
            return Err(Over::Rate);
        }
        minute.1 += 1;
        day.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::purposes::Item;

    fn purpose(per_minute: u32, per_day: u32) -> Purpose {
        Purpose {
            code: "NENKIN-GENKYO".into(),
            agency: "urn:juki:agency:pension-service".into(),
            law: "別表第一".into(),
            items: [Item::Code].into_iter().collect(),
            search: false,
            per_minute,
            per_day,
            within: Vec::new(),
        }
    }

    const AGENCY: &str = "urn:juki:agency:pension-service";

    #[test]
    fn the_rate_bounds_each_minute_and_the_quota_each_japan_day() {
        let p = purpose(3, 5);
        let mut q = Quotas::default();
        // 2026-12-04 23:00 JST is 14:00 UTC; the Japan day starts at 15:00 UTC the day before.
        let t = 1_796_392_800;
        let start = japan_day_start(japan_day(t));
        assert_eq!((t - start) / 3600, 23);
        let mut asked = None;
        let results: Vec<_> = (0..4)
            .map(|i| {
                q.admit(AGENCY, &p, t + i, |since| {
                    asked = Some(since);
                    0
                })
            })
            .collect();
        assert_eq!(results, [Ok(()), Ok(()), Ok(()), Err(Over::Rate)]);
        assert_eq!(asked, Some(start), "the day's count is read once, from the day's start");
        // The next minute admits again, until the day's quota.
        assert_eq!(q.admit(AGENCY, &p, t + 60, |_| unreachable!()), Ok(()));
        assert_eq!(q.admit(AGENCY, &p, t + 61, |_| unreachable!()), Ok(()));
        assert_eq!(q.admit(AGENCY, &p, t + 62, |_| unreachable!()), Err(Over::Day));
        // Another agency, or another purpose, counts apart.
        assert_eq!(q.admit("urn:juki:agency:tax", &p, t + 62, |_| 0), Ok(()));
        // An hour later it is the next Japan day: the count is read again.
        assert_eq!(q.admit(AGENCY, &p, t + 3600, |_| 4), Ok(()));
        assert_eq!(q.admit(AGENCY, &p, t + 3601, |_| unreachable!()), Err(Over::Day));
    }

    #[test]
    fn a_restart_keeps_the_day_s_count() {
        let p = purpose(100, 10);
        let mut q = Quotas::default();
        assert_eq!(q.admit(AGENCY, &p, 1_796_392_800, |_| 10), Err(Over::Day));
        let mut q = Quotas::default();
        assert_eq!(q.admit(AGENCY, &p, 1_796_392_800, |_| 9), Ok(()));
    }
}
