//! The node's one clock. Everything that stamps a time — receipts, provision records,
//! certificates, alerts, the rules' freshness check — asks the [`Clock`] the node was started
//! with, so a test can run a node at a time it chooses.

use std::sync::atomic::{AtomicU64, Ordering};

use registry_core::time::Timestamp;

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// Seconds since 1970.
    fn unix(&self) -> u64;

    /// The time as events and certificates write it.
    fn timestamp(&self) -> Timestamp {
        Timestamp::from_unix(self.unix())
    }
}

/// The system's clock (0 if it is set before 1970).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn unix(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// A clock that says what it is told: for tests.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock at `unix` seconds.
    pub fn at(unix: u64) -> ManualClock {
        ManualClock(AtomicU64::new(unix))
    }

    /// Sets the time.
    pub fn set(&self, unix: u64) {
        self.0.store(unix, Ordering::SeqCst);
    }

    /// Moves the time forward.
    pub fn advance(&self, seconds: u64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn unix(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_says_what_it_is_told() {
        let clock = ManualClock::at(1_700_000_000);
        assert_eq!(clock.unix(), 1_700_000_000);
        clock.advance(60);
        assert_eq!(clock.timestamp(), Timestamp::from_unix(1_700_000_060));
        clock.set(5);
        assert_eq!(clock.unix(), 5);
    }

    #[test]
    fn the_system_clock_is_after_2020() {
        assert!(SystemClock.unix() > 1_577_836_800);
    }
}
