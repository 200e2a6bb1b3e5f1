//! Background tasks' small tools: a back-off for retries, an idle wait that ends early when
//! there is work, and a lock that survives poisoning.

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

/// Waits `delay`, or less if `work` is signalled first: an idle sender starts its next round
/// as soon as something is there to send, and still polls every `delay` (a signal is only a
/// hint; the round itself finds out what there is). A signal given while no one waits is kept
/// for the next wait, so none is lost between a round's end and the wait.
pub async fn idle(delay: Duration, work: &tokio::sync::Notify) {
    tokio::select! {
        () = tokio::time::sleep(delay) => {}
        () = work.notified() => {}
    }
}

/// Runs a sender's rounds for ever: the next round at once after one that sent something;
/// after an idle one, when `wake` is signalled (if given) or after `interval` at the latest;
/// after a failure, reported to `failed`, with a back-off from `interval` up to ten seconds.
pub async fn rounds<Fut>(
    interval: Duration,
    wake: Option<&tokio::sync::Notify>,
    mut round: impl FnMut() -> Fut,
    failed: impl Fn(&anyhow::Error),
) where
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let mut backoff = Backoff::new(interval);
    loop {
        match round().await {
            Ok(true) => {}
            Ok(false) => match wake {
                Some(wake) => idle(backoff.reset(), wake).await,
                None => tokio::time::sleep(backoff.reset()).await,
            },
            Err(e) => {
                failed(&e);
                tokio::time::sleep(backoff.fail()).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_signal_given_before_the_wait_ends_it_at_once() {
        let work = tokio::sync::Notify::new();
        work.notify_one();
        let started = tokio::time::Instant::now();
        idle(Duration::from_secs(3600), &work).await;
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_signal_during_the_wait_ends_it() {
        let work = std::sync::Arc::new(tokio::sync::Notify::new());
        let signal = work.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            signal.notify_one();
        });
        let started = tokio::time::Instant::now();
        idle(Duration::from_secs(3600), &work).await;
        assert_eq!(started.elapsed(), Duration::from_millis(10));
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_signal_the_wait_is_the_delay() {
        let work = tokio::sync::Notify::new();
        let started = tokio::time::Instant::now();
        idle(Duration::from_millis(50), &work).await;
        assert_eq!(started.elapsed(), Duration::from_millis(50));
    }
}
