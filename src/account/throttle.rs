//! Slowing down and finally stopping guesses, with the count kept in the record.

use alloc::vec::Vec;

use super::Event;
use crate::Error;

/// How failed attempts at one authenticator are throttled. Codes from the app and recovery
/// codes each have their own count and their own policy
/// ([`Settings::throttle`](super::Settings::throttle) and
/// [`Settings::recovery_code_throttle`](super::Settings::recovery_code_throttle)), kept in the
/// record, so it holds across restarts and servers. A success with either resets both.
///
/// The defaults for codes ([`ThrottlePolicy::default`]):
///
/// - the first **5** failures are free (typos, a code typed just as it changed);
/// - from then on each failure makes the next attempt wait **1 s, 2 s, 4 s, …**, doubling up to
///   a cap of **15 minutes**;
/// - after **30** consecutive failures codes are locked out for **24 hours**: no code, and no
///   password proof for "Generate new" or "Disable 2FA", is evaluated until then, or until the
///   host calls [`TwoFactorRecord::unlock`](super::TwoFactorRecord::unlock), or until the
///   owner signs in with a recovery code. When the lockout ends, one attempt is evaluated; if
///   it fails too, the lockout starts again.
///
/// For recovery codes ([`ThrottlePolicy::for_recovery_codes`]) the same, except that the
/// lockout comes after **50** failures, so that locking out both ways in takes an attacker
/// hours of paced guessing more; see below.
///
/// Why these numbers: a guess hits one of the three codes of a ±1 window with probability
/// 3 in 10^6. RFC 4226 section 7.3 asks for throttling or a lockout after a small number of
/// failures, and NIST SP 800-63B (section 5.2.2) allows no more than 100 consecutive failed
/// attempts. With the defaults an attacker gets 30 guesses at codes — a chance of about 1 in
/// 11,000 — and needs about four hours for them, while a user who mistypes a few times waits
/// seconds. A recovery code holds 50 random bits: 50 guesses have a chance of about 1 in
/// 2 × 10^12 (ten codes), so their budget is there to bound the key-derivation cost of
/// guessing (50 derivations of a few milliseconds per day and user) and NIST's count, not
/// the odds.
///
/// Why a lockout of 24 hours, rather than one only the host lifts: anyone with the password
/// can lock codes, and a lockout without end turns that into a denial of service until someone
/// at the host acts. One that ends by itself gives the owner their account back the next day,
/// while an attacker gets one more guess per day (a chance of about 1 in 900 a year, on top of
/// the 30) — and every failure is reported at the owner's next sign-in. Hosts that prefer the
/// old rule choose [`ThrottlePolicy::lockout_duration`]`(None)`.
///
/// Why there is still a ceiling: a lockout that ends by itself lets the count grow by one a
/// day. When it reaches [`ThrottlePolicy::MAX_LOCKOUT_AFTER`] (100, NIST's limit) the lockout
/// no longer ends by itself: only a success with the other authenticator or
/// [`unlock`](super::TwoFactorRecord::unlock) ends it. Consecutive failures per authenticator
/// therefore never pass 100.
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
    /// The default lockout threshold of recovery codes.
    pub const DEFAULT_RECOVERY_LOCKOUT_AFTER: u32 = 50;

    /// The default policy for recovery codes: as [`ThrottlePolicy::default`] (5 free attempts,
    /// delays from 1 s doubling to 15 minutes, a 24-hour lockout), locked after
    /// [`DEFAULT_RECOVERY_LOCKOUT_AFTER`](ThrottlePolicy::DEFAULT_RECOVERY_LOCKOUT_AFTER) (50)
    /// consecutive failures instead of 30.
    pub fn for_recovery_codes() -> Self {
        ThrottlePolicy {
            lockout_after: Self::DEFAULT_RECOVERY_LOCKOUT_AFTER,
            ..Self::default()
        }
    }

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

    /// The number of consecutive failures that locks the authenticator (default 30 for codes,
    /// 50 for recovery codes).
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

/// Which authenticator a [`Throttle`] counts failures of, for its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Factor {
    /// Codes from the authenticator app.
    Code,
    /// Recovery codes.
    RecoveryCode,
}

/// The failure count of one authenticator, as a record carries it.
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
        self.locked && self.lockout_end(policy).is_none_or(|end| now < end)
    }

    /// When the lockout that began at the last failure ends by itself: never without a timed
    /// policy, nor once the count reached the ceiling.
    fn lockout_end(&self, policy: &ThrottlePolicy) -> Option<u64> {
        if self.failures >= ThrottlePolicy::MAX_LOCKOUT_AFTER {
            return None;
        }
        policy
            .lockout_duration
            .map(|duration| self.last_failure.saturating_add(duration))
    }

    /// Counts a failure of `factor` at `now`, and says so in events once it starts to bite.
    pub(crate) fn fail(
        &mut self,
        policy: &ThrottlePolicy,
        factor: Factor,
        now: u64,
        events: &mut Vec<Event>,
    ) {
        self.failures = self.failures.saturating_add(1);
        self.last_failure = now;
        if self.failures >= policy.lockout_after {
            self.locked = true;
            let (failures, until) = (self.failures, self.lockout_end(policy));
            events.push(match factor {
                Factor::Code => Event::LockedOut { failures, until },
                Factor::RecoveryCode => Event::RecoveryCodesLockedOut { failures, until },
            });
        } else {
            let delay = policy.delay_after(self.failures);
            if delay > 0 {
                let (failures, retry_at) = (self.failures, now.saturating_add(delay));
                events.push(match factor {
                    Factor::Code => Event::Throttled { failures, retry_at },
                    Factor::RecoveryCode => Event::RecoveryCodesThrottled { failures, retry_at },
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
