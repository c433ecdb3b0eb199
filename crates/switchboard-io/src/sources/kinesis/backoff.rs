//! Exponential backoff with jitter, for throttled or failed Kinesis calls.
//!
//! Each retry waits between half and all of `base * 2^attempt` (capped at `max`): the
//! random half keeps consumers of the same stream from retrying in lockstep, and keeps
//! them inside the 5 reads per second per shard that Kinesis allows all consumers
//! together. The schedule is the sinks' [`retry::Backoff`](crate::sinks::retry::Backoff)
//! (doubling, at least half of each step waited); this adds the count of retries since
//! the last success.

use std::time::Duration;

use crate::sinks::retry;

#[derive(Debug, Clone)]
pub struct Backoff {
    schedule: retry::Backoff,
    attempt: u32,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            schedule: retry::Backoff {
                initial: base,
                max: max.max(base),
                multiplier: 2.0,
            },
            attempt: 0,
        }
    }

    /// The wait before the next retry.
    pub fn next_delay(&mut self) -> Duration {
        self.attempt = self.attempt.saturating_add(1);
        self.schedule.delay_at_least_half(self.attempt)
    }

    /// After a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_with_jitter_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let bounds = [100u64, 200, 400, 800, 1600, 2000, 2000];
        for ceiling in bounds {
            let d = b.next_delay().as_millis() as u64;
            assert!(
                d >= ceiling / 2 && d <= ceiling,
                "{d} not in [{}, {ceiling}]",
                ceiling / 2
            );
        }
        assert_eq!(b.attempts(), bounds.len() as u32);
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn many_attempts_do_not_overflow() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        for _ in 0..100 {
            assert!(b.next_delay() <= Duration::from_secs(5));
        }
    }
}
