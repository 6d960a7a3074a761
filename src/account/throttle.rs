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
/// - after **30** consecutive failures the second factor is locked out for **24 hours**: no
///   code, recovery code or password proof is evaluated until then, or until the host calls
///   [`TwoFactorRecord::unlock`](super::TwoFactorRecord::unlock) (after the user proved who
///   they are by e-mail or to support). When the lockout ends, one attempt is evaluated; if
///   it fails too, the lockout starts again.
///
/// Why these numbers: a guess hits one of the three codes of a ±1 window with probability
/// 3 in 10^6. RFC 4226 section 7.3 asks for throttling or a lockout after a small number of
/// failures, and NIST SP 800-63B (section 5.2.2) allows no more than 100 consecutive failed
/// attempts per account. With the defaults an attacker gets 30 guesses in all — a chance of
/// about 1 in 11,000 — and needs about four hours for them, while a user who mistypes a few
/// times waits seconds. A success resets the count, and reports the failures before it
/// ([`Event::FailedAttempts`](super::Event::FailedAttempts)).
///
/// Why a lockout of 24 hours, rather than one only the host lifts: anyone with the password
/// can lock the second factor, and a lockout without end turns that into a denial of service
/// until someone at the host acts. One that ends by itself gives the owner their account back
/// the next day, while an attacker gets one more guess per day (a chance of about 1 in 900
/// a year, on top of the 30) — and every failure is reported at the owner's next sign-in.
/// Hosts that prefer the old rule choose [`ThrottlePolicy::lockout_duration`]`(None)`.
///
/// Why no rolling window: counting failures across successes (say, 30 a day) would lock out
/// the owner for an attacker's guesses made between the owner's sign-ins. Reporting the
/// failures at each sign-in makes such guessing visible instead, and a password change stops
/// it.
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
    lockout_duration: Option<u64>,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            free_attempts: 5,
            base_delay: 1,
            max_delay: 15 * 60,
            lockout_after: 30,
            lockout_duration: Some(Self::DEFAULT_LOCKOUT_DURATION),
        }
    }
}

impl ThrottlePolicy {
    /// The highest lockout threshold accepted: NIST SP 800-63B allows at most 100
    /// consecutive failures.
    pub const MAX_LOCKOUT_AFTER: u32 = 100;
    /// How long a lockout lasts by default: 24 hours, in seconds.
    pub const DEFAULT_LOCKOUT_DURATION: u64 = 24 * 3600;
    /// The shortest timed lockout accepted, in seconds (one hour): shorter ones would give an
    /// attacker more than 24 guesses a day.
    pub const MIN_LOCKOUT_DURATION: u64 = 3600;

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

    /// How long a lockout lasts, in seconds, before one more attempt is evaluated (default
    /// 24 hours); `None` keeps it until the host calls
    /// [`TwoFactorRecord::unlock`](super::TwoFactorRecord::unlock).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidThrottlePolicy`] under [`ThrottlePolicy::MIN_LOCKOUT_DURATION`].
    pub fn lockout_duration(mut self, seconds: Option<u64>) -> Result<Self, Error> {
        if seconds.is_some_and(|s| s < Self::MIN_LOCKOUT_DURATION) {
            return Err(Error::InvalidThrottlePolicy);
        }
        self.lockout_duration = seconds;
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

    /// How long a lockout lasts, if it ends by itself.
    pub fn lockout_time(&self) -> Option<u64> {
        self.lockout_duration
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
        if self.is_locked(policy, now) {
            return Err(Error::LockedOut);
        }
        if self.locked {
            // A timed lockout that has ended: one attempt is evaluated.
            return Ok(());
        }
        let retry_at = self
            .last_failure
            .saturating_add(policy.delay_after(self.failures));
        if self.failures > 0 && now < retry_at {
            return Err(Error::Throttled { retry_at });
        }
        Ok(())
    }

    /// Whether a lockout holds at `now`.
    pub(crate) fn is_locked(&self, policy: &ThrottlePolicy, now: u64) -> bool {
        self.locked && Self::lockout_end(policy, self.last_failure).is_none_or(|end| now < end)
    }

    fn lockout_end(policy: &ThrottlePolicy, locked_at: u64) -> Option<u64> {
        policy
            .lockout_duration
            .map(|duration| locked_at.saturating_add(duration))
    }

    /// Counts a failure at `now`, and says so in events once it starts to bite.
    pub(crate) fn fail(&mut self, policy: &ThrottlePolicy, now: u64, events: &mut Vec<Event>) {
        self.failures = self.failures.saturating_add(1);
        self.last_failure = now;
        if self.failures >= policy.lockout_after {
            self.locked = true;
            events.push(Event::LockedOut {
                failures: self.failures,
                until: Self::lockout_end(policy, now),
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
