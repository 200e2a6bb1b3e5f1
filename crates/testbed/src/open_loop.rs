//! An open-loop load generator for the nodes' HTTP APIs, with latency histograms.
//!
//! A closed loop (each connection sends its next request when the last is answered) measures
//! a server at the rate the server sets, and a stall delays the requests that would have been
//! sent meanwhile instead of counting against them (coordinated omission). Here requests
//! arrive as a Poisson process at a fixed rate, decided before the run from a seeded source:
//! each has a scheduled instant, and its latency is measured from that instant to its
//! answer, so a request that waited for a free connection, or for the server, counts the wait.
//! A pool of connections (mutual TLS, kept alive) takes the scheduled requests in order; the
//! pool bounds what is in flight, never the schedule.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use hdrhistogram::Histogram;

/// The load to offer.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Requests per second, on average.
    pub rate: f64,
    /// The unmeasured start.
    pub warm_up: Duration,
    /// How long requests are measured after it.
    pub measured: Duration,
    /// Connections, each one request at a time.
    pub connections: usize,
    /// Seeds the arrivals.
    pub seed: u64,
}

/// What a run measured.
pub struct Outcome {
    /// Requests scheduled in the measured part.
    pub offered: u64,
    /// Of those, answered with a success.
    pub answered: u64,
    /// Of those, answered otherwise, and the first such answer's text.
    pub refused: u64,
    pub first_refusal: Option<String>,
    /// From each measured request's scheduled instant to its answer, in microseconds.
    pub latency: Histogram<u64>,
    /// The largest delay between a request's scheduled instant and its sending.
    pub worst_start: Duration,
    /// Requests answered during the warm-up.
    pub warm: u64,
    pub measured: Duration,
}

impl Outcome {
    /// Answers per second over the measured part.
    pub fn rate(&self) -> f64 {
        crate::figures::rate(self.answered, self.measured)
    }

    pub fn p(&self, quantile: f64) -> Duration {
        Duration::from_micros(self.latency.value_at_quantile(quantile))
    }
}

/// The scheduled instants, as offsets from the start: exponential gaps of mean `1 / rate`.
pub fn arrivals(plan: &Plan) -> Vec<Duration> {
    let total = (plan.warm_up + plan.measured).as_secs_f64();
    let mut random = plan.seed | 1;
    let mut at = 0.0f64;
    let mut out = Vec::with_capacity((plan.rate * total * 1.1) as usize + 16);
    loop {
        // xorshift64*, then a uniform draw in (0, 1].
        random ^= random >> 12;
        random ^= random << 25;
        random ^= random >> 27;
        let uniform =
            ((random.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        at += -uniform.ln() / plan.rate;
        if at >= total {
            return out;
        }
        out.push(Duration::from_secs_f64(at));
    }
}

/// Offers `plan`'s load as POSTs of `body(i)` for the `i`-th request to `url`, whose server
/// must be `expect`.
pub async fn run(
    plan: Plan,
    files: &net::TlsFiles,
    url: &str,
    expect: &net::Expect,
    body: Arc<dyn Fn(u64) -> Vec<u8> + Send + Sync>,
) -> Result<Outcome> {
    anyhow::ensure!(
        plan.rate > 0.0 && plan.connections > 0,
        "an open loop needs a rate and connections"
    );
    let schedule = Arc::new(arrivals(&plan));
    let next = Arc::new(AtomicUsize::new(0));
    // Connections are made (and their TLS handshakes done) before the clock starts.
    let mut clients = Vec::with_capacity(plan.connections);
    for _ in 0..plan.connections {
        clients.push(net::Client::new(files)?);
    }
    let start = Instant::now() + Duration::from_millis(100);
    let measure_from = start + plan.warm_up;
    let mut tasks = Vec::new();
    for client in clients {
        let (schedule, next, body) = (schedule.clone(), next.clone(), body.clone());
        let (url, expect) = (url.to_owned(), expect.clone());
        tasks.push(tokio::spawn(async move {
            let mut latency = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
            let (mut offered, mut answered, mut refused, mut warm) = (0u64, 0u64, 0u64, 0u64);
            let mut first_refusal = None;
            let mut worst_start = Duration::ZERO;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(offset) = schedule.get(i) else { break };
                let due = start + *offset;
                tokio::time::sleep_until(due.into()).await;
                worst_start = worst_start.max(Instant::now().saturating_duration_since(due));
                let answer = client.post_answer(&url, body(i as u64), &expect).await?;
                let took = due.elapsed();
                if due < measure_from {
                    warm += u64::from(answer.status.is_success());
                    continue;
                }
                offered += 1;
                if answer.status.is_success() {
                    answered += 1;
                    latency.record(took.as_micros().max(1) as u64)?;
                } else {
                    refused += 1;
                    first_refusal.get_or_insert_with(|| answer.text());
                }
            }
            anyhow::Ok((offered, answered, refused, warm, first_refusal, worst_start, latency))
        }));
    }
    let mut outcome = Outcome {
        offered: 0,
        answered: 0,
        refused: 0,
        first_refusal: None,
        latency: Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?,
        worst_start: Duration::ZERO,
        warm: 0,
        measured: plan.measured,
    };
    for task in tasks {
        let (offered, answered, refused, warm, first, worst, latency) = task.await??;
        outcome.offered += offered;
        outcome.answered += answered;
        outcome.refused += refused;
        outcome.warm += warm;
        if outcome.first_refusal.is_none() {
            outcome.first_refusal = first;
        }
        outcome.worst_start = outcome.worst_start.max(worst);
        outcome.latency.add(latency)?;
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_keep_the_rate_and_order_and_are_seeded() {
        let plan = Plan {
            rate: 5_000.0,
            warm_up: Duration::from_secs(1),
            measured: Duration::from_secs(9),
            connections: 1,
            seed: 7,
        };
        let times = arrivals(&plan);
        // 50,000 expected; a Poisson count's standard deviation is about 224.
        assert!((48_900..=51_100).contains(&times.len()), "{}", times.len());
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        assert!(*times.last().unwrap() < Duration::from_secs(10));
        assert_eq!(times, arrivals(&plan));
        assert_ne!(times, arrivals(&Plan { seed: 8, ..plan }));
        // Exponential gaps: about 1/e of them exceed the mean gap of 200 µs.
        let long = times.windows(2).filter(|w| w[1] - w[0] > Duration::from_micros(200)).count();
        let share = long as f64 / times.len() as f64;
        assert!((0.35..0.39).contains(&share), "{share}");
    }
}
