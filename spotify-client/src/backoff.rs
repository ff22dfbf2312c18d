//! Exponential backoff with full jitter: before retry `n` (0-based), wait a random time between
//! zero and `min(cap, base * 2^n)`. Full jitter spreads retries of many clients apart, which is
//! what a rate limit wants (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015).

use std::time::Duration;

/// A bounded retry schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Upper bound of the first wait.
    pub base: Duration,
    /// No wait is longer than this.
    pub cap: Duration,
    /// Attempts in all, the first one included; after the last, give up.
    pub max_attempts: u32,
}

impl Backoff {
    /// The longest wait before retry `retry` (0-based): `min(cap, base * 2^retry)`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// A random wait in `0..=ceiling(retry)`.
    pub fn delay(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry).as_millis() as u64;
        Duration::from_millis(fastrand::u64(0..=ceiling))
    }

    /// Whether another attempt may follow attempt number `attempt` (1-based).
    pub fn may_retry_after(&self, attempt: u32) -> bool {
        attempt < self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_up_to_the_cap_and_delays_stay_under_it() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
            max_attempts: 5,
        };
        let ceilings: Vec<u128> = (0..7).map(|n| b.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(
            b.ceiling(u32::MAX),
            Duration::from_secs(2),
            "no overflow on absurd retry counts"
        );
        for n in 0..10 {
            assert!(b.delay(n) <= b.ceiling(n));
        }
        // Full jitter: waits spread over the whole range, not clustered at the ceiling.
        let waits: Vec<Duration> = (0..200).map(|_| b.delay(4)).collect();
        assert!(waits.iter().any(|w| *w < Duration::from_millis(400)));
        assert!(waits.iter().any(|w| *w > Duration::from_millis(1200)));
        assert!(b.may_retry_after(4) && !b.may_retry_after(5));
    }
}
