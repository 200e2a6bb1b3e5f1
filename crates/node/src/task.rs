//! Background tasks' small tools: a back-off for retries and a lock that survives poisoning.

use std::time::Duration;

/// Locks a mutex, recovering from poisoning (state is only changed in committed transactions).
pub fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Back-off for a failing background task: doubles from `interval` up to ten seconds.
pub struct Backoff {
    base: Duration,
    current: Duration,
}

impl Backoff {
    /// Starts at `base`.
    pub fn new(base: Duration) -> Backoff {
        Backoff { base, current: base }
    }

    /// After a success.
    pub fn reset(&mut self) -> Duration {
        self.current = self.base;
        self.base
    }

    /// After a failure: the delay before the next attempt.
    pub fn fail(&mut self) -> Duration {
        self.current = (self.current * 2).min(Duration::from_secs(10));
        self.current
    }
}
