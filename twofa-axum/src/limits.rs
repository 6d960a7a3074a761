//! Limits on password attempts: per account and per client address, with backoff, counted in
//! the [`Storage`](crate::storage::Storage) so every app server shares the count.
//!
//! An attempt is charged *before* the password is checked, so a burst of concurrent guesses
//! gets the same answers as the same guesses one after another: of 20 wrong passwords for one
//! account sent at once, the first [`AttemptPolicy::free`] and one more are checked, and the
//! rest are refused without running the host's password hash.

/// How many attempts a key gets before it waits, and how long it waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptPolicy {
    free: u32,
    first_delay: u64,
    max_delay: u64,
    forget_after: u64,
}

impl AttemptPolicy {
    /// Per account: 4 attempts, then waits of 1 s doubling up to 15 minutes; forgotten after a
    /// day without attempts. The owner who mistypes a few times never waits; a guesser gets
    /// about 100 guesses a day in the first hour and 96 a day after that (one per 15 minutes).
    pub const PER_ACCOUNT: AttemptPolicy = AttemptPolicy {
        free: 4,
        first_delay: 1,
        max_delay: 15 * 60,
        forget_after: 24 * 60 * 60,
    };

    /// Per client address: 20 attempts (an office behind one address), then waits of 1 s
    /// doubling up to 15 minutes; forgotten after a day without attempts.
    pub const PER_ADDRESS: AttemptPolicy = AttemptPolicy {
        free: 20,
        first_delay: 1,
        max_delay: 15 * 60,
        forget_after: 24 * 60 * 60,
    };

    /// A policy: `free` attempts without waiting, then `first_delay` seconds doubling up to
    /// `max_delay`; the count is forgotten `forget_after` seconds after the last attempt.
    /// Zero delays are raised to one second, and `max_delay` to at least `first_delay`.
    pub fn new(free: u32, first_delay: u64, max_delay: u64, forget_after: u64) -> Self {
        let first_delay = first_delay.max(1);
        AttemptPolicy {
            free,
            first_delay,
            max_delay: max_delay.max(first_delay),
            forget_after,
        }
    }

    /// Attempts allowed without waiting.
    pub fn free(&self) -> u32 {
        self.free
    }

    /// Seconds after which a key's count is forgotten.
    pub fn forget_after(&self) -> u64 {
        self.forget_after
    }

    /// The wait (seconds) after the `attempts`-th attempt: 0 within the free ones, then
    /// `first_delay`, doubling, up to `max_delay`.
    pub fn delay_after(&self, attempts: u32) -> u64 {
        if attempts <= self.free {
            return 0;
        }
        let doublings = (attempts - self.free - 1).min(63);
        self.first_delay
            .checked_mul(1u64 << doublings)
            .map_or(self.max_delay, |delay| delay.min(self.max_delay))
    }

    /// The next state of a key's count after one more attempt at `now`, from its stored
    /// `attempts` and `last_at` (`None` when nothing is stored): the count (restarted when
    /// the last attempt is older than [`forget_after`](Self::forget_after)) and the time
    /// before which the key is blocked.
    pub fn charge(&self, stored: Option<(u32, u64)>, now: u64) -> (u32, u64) {
        let attempts = match stored {
            Some((attempts, last_at)) if now.saturating_sub(last_at) <= self.forget_after => {
                attempts.saturating_add(1)
            }
            _ => 1,
        };
        (attempts, now.saturating_add(self.delay_after(attempts)))
    }
}

/// The answer to [`PasswordAttempts::begin_attempt`](crate::storage::PasswordAttempts::begin_attempt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Charged: the password may be checked.
    Allowed,
    /// Blocked until `retry_at` (Unix seconds); nothing was charged.
    Refused {
        /// When the key may try again.
        retry_at: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_after_the_free_attempts_up_to_the_cap() {
        let policy = AttemptPolicy::new(2, 1, 8, 100);
        let delays: Vec<u64> = (1..=8).map(|n| policy.delay_after(n)).collect();
        assert_eq!(delays, [0, 0, 1, 2, 4, 8, 8, 8]);
        assert_eq!(policy.delay_after(u32::MAX), 8);
    }

    /// The documented defaults: 4 free attempts per account and 20 per address, then 1 s
    /// doubling to 15 minutes, forgotten after a quiet day.
    #[test]
    fn the_default_policies_are_the_documented_ones() {
        for (policy, free) in [
            (AttemptPolicy::PER_ACCOUNT, 4),
            (AttemptPolicy::PER_ADDRESS, 20),
        ] {
            assert_eq!(policy.free(), free);
            assert_eq!(policy.forget_after(), 86_400);
            assert_eq!(policy.delay_after(free), 0);
            assert_eq!(policy.delay_after(free + 1), 1);
            assert_eq!(policy.delay_after(free + 10), 512);
            assert_eq!(policy.delay_after(free + 11), 900);
        }
    }

    #[test]
    fn a_count_is_forgotten_after_a_quiet_spell() {
        let policy = AttemptPolicy::new(2, 1, 8, 100);
        assert_eq!(policy.charge(None, 1000), (1, 1000));
        assert_eq!(policy.charge(Some((2, 1000)), 1100), (3, 1101));
        assert_eq!(policy.charge(Some((7, 1000)), 1101), (1, 1101));
    }
}
