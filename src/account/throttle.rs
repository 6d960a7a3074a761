//! Slowing down and finally stopping guesses, with the count kept in the record.

use alloc::vec::Vec;

use super::Event;
use crate::Error;

/// How failed codes are throttled. Failures of TOTP codes and recovery codes count together,
/// and the count lives in the record, so it holds across restarts and servers.
///
/// The defaults:
///
/// - the first **5** failures are free (typos, a code typed just as it changed);
/// - from then on each failure makes the next attempt wait **1 s, 2 s, 4 s, …**, doubling up to
///   a cap of **15 minutes**;
/// - after **30** consecutive failures the account is locked out: no code is evaluated until
///   the host calls [`TwoFactorRecord::unlock`](super::TwoFactorRecord::unlock), for example
///   after the user proves who they are by e-mail or to support.
///
/// Why these numbers: a guess hits one of the three codes of a ±1 window with probability
/// 3 in 10^6. RFC 4226 section 7.3 asks for throttling or a lockout after a small number of
/// failures, and NIST SP 800-63B (section 5.2.2) allows no more than 100 consecutive failed
/// attempts per account. With the defaults an attacker gets 30 guesses in all — a chance of
/// about 1 in 11,000 — and needs hours for them, while a user who mistypes a few times waits
/// seconds. A success resets the count.
///
/// ```
/// use twofa::account::ThrottlePolicy;
///
/// let strict = ThrottlePolicy::default().free_attempts(3).lockout_after(10)?;
/// assert_eq!(strict.delay_after(3), 1);
/// # Ok::<(), twofa::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct ThrottlePolicy {
    free_attempts: u32,
    base_delay: u64,
    max_delay: u64,
    lockout_after: u32,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            free_attempts: 5,
            base_delay: 1,
            max_delay: 15 * 60,
            lockout_after: 30,
        }
    }
}

impl ThrottlePolicy {
    /// The highest lockout threshold accepted: NIST SP 800-63B allows at most 100
    /// consecutive failures.
    pub const MAX_LOCKOUT_AFTER: u32 = 100;

    /// Failures allowed before any delay (default 5).
    pub fn free_attempts(mut self, count: u32) -> Self {
        self.free_attempts = count;
        self
    }

    /// The first delay and the cap on delays, in seconds (defaults 1 s and 15 minutes). The
    /// delay doubles with each failure past the free ones.
    pub fn delays(mut self, first: u64, cap: u64) -> Self {
        self.base_delay = first.max(1);
        self.max_delay = cap.max(self.base_delay);
        self
    }

    /// The number of consecutive failures that locks the account (default 30).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidThrottlePolicy`] for 0 or more than
    /// [`ThrottlePolicy::MAX_LOCKOUT_AFTER`].
    pub fn lockout_after(mut self, failures: u32) -> Result<Self, Error> {
        if failures == 0 || failures > Self::MAX_LOCKOUT_AFTER {
            return Err(Error::InvalidThrottlePolicy);
        }
        self.lockout_after = failures;
        Ok(self)
    }

    /// The wait, in seconds, before the next attempt after `failures` consecutive failures.
    pub fn delay_after(&self, failures: u32) -> u64 {
        if failures < self.free_attempts {
            return 0;
        }
        let doublings = failures - self.free_attempts;
        let factor = 1u64.checked_shl(doublings).unwrap_or(u64::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// The lockout threshold.
    pub fn lockout_threshold(&self) -> u32 {
        self.lockout_after
    }
}

/// The failure count a record carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Throttle {
    pub(crate) failures: u32,
    pub(crate) last_failure: u64,
    pub(crate) locked: bool,
}

impl Throttle {
    /// Whether an attempt may be evaluated at `now`.
    pub(crate) fn check(&self, policy: &ThrottlePolicy, now: u64) -> Result<(), Error> {
        if self.locked {
            return Err(Error::LockedOut);
        }
        let retry_at = self
            .last_failure
            .saturating_add(policy.delay_after(self.failures));
        if self.failures > 0 && now < retry_at {
            return Err(Error::Throttled { retry_at });
        }
        Ok(())
    }

    /// Counts a failure at `now`, and says so in events once it starts to bite.
    pub(crate) fn fail(&mut self, policy: &ThrottlePolicy, now: u64, events: &mut Vec<Event>) {
        self.failures = self.failures.saturating_add(1);
        self.last_failure = now;
        if self.failures >= policy.lockout_after {
            self.locked = true;
            events.push(Event::LockedOut {
                failures: self.failures,
            });
        } else {
            let delay = policy.delay_after(self.failures);
            if delay > 0 {
                events.push(Event::Throttled {
                    failures: self.failures,
                    retry_at: now.saturating_add(delay),
                });
            }
        }
    }

    pub(crate) fn reset(&mut self) {
        *self = Throttle::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let policy = ThrottlePolicy::default();
        let delays: Vec<u64> = (0..20).map(|n| policy.delay_after(n)).collect();
        assert_eq!(
            delays,
            [
                0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900, 900, 900
            ]
        );
        assert_eq!(policy.delay_after(u32::MAX), 900);
        assert_eq!(
            ThrottlePolicy::default().lockout_after(101),
            Err(Error::InvalidThrottlePolicy)
        );
        assert_eq!(
            ThrottlePolicy::default().lockout_after(0),
            Err(Error::InvalidThrottlePolicy)
        );
    }
}
