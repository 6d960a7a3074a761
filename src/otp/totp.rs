//! Time-based one-time passwords (RFC 6238).

use core::fmt;

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use super::code::{check_digits, parse_input, reduce};
use super::mac::KeyedMac;
use super::{Algorithm, Code, Secret};
use crate::Error;

/// A TOTP generator and verifier (RFC 6238): the codes of authenticator apps.
///
/// [`Totp::new`] gives the settings every app understands: SHA-1, 6 digits, 30-second steps
/// from the Unix epoch, and a verification window of one step back and one forward to absorb
/// clock drift and typing time. [`Totp::builder`] changes them.
///
/// Time is always an argument (Unix seconds), so tests and the sans-IO layers above never read
/// a clock; [`Totp::generate_now`] and [`Totp::verify_now`] read the system clock.
///
/// ```
/// use twofa::{Secret, Totp};
///
/// let totp = Totp::new(Secret::from_bytes(b"12345678901234567890")?);
/// let code = totp.generate(1_111_111_109);
/// assert_eq!(code.as_str(), "081804"); // RFC 6238, truncated to 6 digits
///
/// let matched = totp.verify("081804", 1_111_111_109)?;
/// assert_eq!(matched.step, 37_037_036);
/// assert_eq!(matched.offset, 0);
/// # Ok::<(), twofa::Error>(())
/// ```
#[derive(Clone)]
pub struct Totp {
    secret: Secret,
    mac: KeyedMac,
    digits: u32,
    period: u64,
    t0: u64,
    window_back: u32,
    window_forward: u32,
}

/// A code that verified: the time step it belongs to and where that lies from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The time step the code belongs to. Store it: a later code at or before this step is a
    /// replay (see [`Totp::verify_after`]).
    pub step: u64,
    /// The matched step minus the current step: `-1` for a code from the previous step,
    /// `0` for the current one, `1` for the next. A host may log a consistent non-zero
    /// offset as clock drift on the user's device.
    pub offset: i64,
}

impl Totp {
    /// The widest window, in steps, on each side of the current step.
    pub const MAX_WINDOW: u32 = 10;

    /// A TOTP with the defaults: SHA-1, 6 digits, 30-second period, `T0` = 0, and a window of
    /// one step back and one forward.
    pub fn new(secret: Secret) -> Totp {
        // The builder's defaults are valid settings, so they need no checks.
        Totp::builder(secret).assemble()
    }

    /// Starts configuring a TOTP with other settings.
    ///
    /// ```
    /// use twofa::{Algorithm, Secret, Totp};
    ///
    /// let totp = Totp::builder(Secret::generate())
    ///     .algorithm(Algorithm::Sha256)
    ///     .digits(8)
    ///     .period(60)
    ///     .window(2, 1)
    ///     .build()?;
    /// assert_eq!(totp.generate(0).len(), 8);
    /// # Ok::<(), twofa::Error>(())
    /// ```
    pub fn builder(secret: Secret) -> TotpBuilder {
        TotpBuilder {
            secret,
            algorithm: Algorithm::Sha1,
            digits: 6,
            period: 30,
            t0: 0,
            window_back: 1,
            window_forward: 1,
        }
    }

    /// The code for the time step that contains `unix_time`.
    ///
    /// A time before `T0` has no step; this function then gives the code of step 0. Use
    /// [`Totp::try_generate`] to have that reported as an error instead. With the default
    /// `T0` of 0 every time has a step.
    pub fn generate(&self, unix_time: u64) -> Code {
        self.generate_at_step(self.step_at(unix_time).unwrap_or(0))
    }

    /// The code for the time step that contains `unix_time`.
    ///
    /// # Errors
    ///
    /// [`Error::TimeBeforeEpoch`] when `unix_time` is before `T0`.
    pub fn try_generate(&self, unix_time: u64) -> Result<Code, Error> {
        Ok(self.generate_at_step(self.step_at(unix_time)?))
    }

    /// The code for a time step.
    pub fn generate_at_step(&self, step: u64) -> Code {
        Code::new(self.mac.truncated(step), self.digits)
    }

    /// The code for the current time of the system clock.
    ///
    /// # Errors
    ///
    /// [`Error::TimeBeforeEpoch`] when the system clock reads a time before `T0`.
    #[cfg(feature = "std")]
    pub fn generate_now(&self) -> Result<Code, Error> {
        self.try_generate(unix_now()?)
    }

    /// Checks a code typed by the user at `unix_time`.
    ///
    /// The code must be exactly [`digits`](Totp::digits) ASCII digits once ASCII spaces are
    /// removed. Every step in the window is computed and compared in constant time, with no
    /// early exit; when a code matches several steps, the latest wins.
    ///
    /// This does not prevent replay: a code stays valid for its whole window. Sign-in should
    /// use [`Totp::verify_after`] with the last accepted step.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCode`] when the code is malformed or matches no step in the window;
    /// [`Error::TimeBeforeEpoch`] when `unix_time` is before `T0`.
    pub fn verify(&self, code: &str, unix_time: u64) -> Result<Verified, Error> {
        self.verify_after(code, unix_time, None)
    }

    /// Checks a code, refusing one whose step is at or before `last_accepted_step`.
    ///
    /// Pass the step of the last code this user signed in with (from [`Verified::step`]) and
    /// store the new one on success. A replayed code is reported as [`Error::ReplayedCode`],
    /// distinct from [`Error::InvalidCode`] so the host can log it (OWASP ASVS 2.8.5), although
    /// the user should see the same message for both.
    ///
    /// ```
    /// use twofa::{Error, Secret, Totp};
    ///
    /// let totp = Totp::new(Secret::generate());
    /// let now = 1_700_000_000;
    /// let code = totp.generate(now).to_string();
    ///
    /// let first = totp.verify_after(&code, now, None)?;
    /// assert_eq!(totp.verify_after(&code, now + 5, Some(first.step)), Err(Error::ReplayedCode));
    /// # Ok::<(), twofa::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::ReplayedCode`] when the code matches only steps at or before
    /// `last_accepted_step`; otherwise as [`Totp::verify`].
    pub fn verify_after(
        &self,
        code: &str,
        unix_time: u64,
        last_accepted_step: Option<u64>,
    ) -> Result<Verified, Error> {
        let current = self.step_at(unix_time)?;
        let typed = parse_input(code, self.digits)?;
        let mut fresh = Choice::from(0);
        let mut any = Choice::from(0);
        let mut matched = 0u64;
        let first = current.saturating_sub(u64::from(self.window_back));
        let last = current.saturating_add(u64::from(self.window_forward));
        let mut values = [0u32; 2 * Totp::MAX_WINDOW as usize + 1];
        let values = &mut values[..=(last - first) as usize];
        self.mac.truncated_range(first, values);
        // Ascending, so the latest fresh match wins.
        for (step, value) in (first..=last).zip(values.iter()) {
            let hit = reduce(*value, self.digits).ct_eq(&typed);
            let fresh_hit = match last_accepted_step {
                Some(accepted) => hit & Choice::from(u8::from(step > accepted)),
                None => hit,
            };
            matched.conditional_assign(&step, fresh_hit);
            fresh |= fresh_hit;
            any |= hit;
        }
        // Without a fresh match, any match is of a step already used.
        if bool::from(fresh) {
            Ok(Verified {
                step: matched,
                offset: offset(matched, current),
            })
        } else if bool::from(any) {
            Err(Error::ReplayedCode)
        } else {
            Err(Error::InvalidCode)
        }
    }

    /// [`Totp::verify_after`] at the current time of the system clock.
    ///
    /// # Errors
    ///
    /// As [`Totp::verify_after`].
    #[cfg(feature = "std")]
    pub fn verify_now(
        &self,
        code: &str,
        last_accepted_step: Option<u64>,
    ) -> Result<Verified, Error> {
        self.verify_after(code, unix_now()?, last_accepted_step)
    }

    /// The time step that contains `unix_time`: `(unix_time - T0) / period`.
    ///
    /// # Errors
    ///
    /// [`Error::TimeBeforeEpoch`] when `unix_time` is before `T0`.
    pub fn step_at(&self, unix_time: u64) -> Result<u64, Error> {
        unix_time
            .checked_sub(self.t0)
            .map(|elapsed| elapsed / self.period)
            .ok_or(Error::TimeBeforeEpoch)
    }

    /// Seconds until the step that contains `unix_time` ends and a new code appears, from
    /// `period` down to 1; for a countdown next to the code field.
    ///
    /// # Errors
    ///
    /// [`Error::TimeBeforeEpoch`] when `unix_time` is before `T0`.
    pub fn seconds_left(&self, unix_time: u64) -> Result<u64, Error> {
        let elapsed = unix_time
            .checked_sub(self.t0)
            .ok_or(Error::TimeBeforeEpoch)?;
        Ok(self.period - elapsed % self.period)
    }

    /// The secret.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// The hash algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.mac.algorithm()
    }

    /// The number of digits in a code.
    pub fn digits(&self) -> u32 {
        self.digits
    }

    /// The length of a time step, in seconds.
    pub fn period(&self) -> u64 {
        self.period
    }

    /// The Unix time at which step 0 starts.
    pub fn t0(&self) -> u64 {
        self.t0
    }

    /// The verification window: steps accepted before and after the current one.
    pub fn window(&self) -> (u32, u32) {
        (self.window_back, self.window_forward)
    }
}

impl fmt::Debug for Totp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Totp")
            .field("secret", &self.secret)
            .field("algorithm", &self.algorithm())
            .field("digits", &self.digits)
            .field("period", &self.period)
            .field("t0", &self.t0)
            .field("window_back", &self.window_back)
            .field("window_forward", &self.window_forward)
            .finish()
    }
}

/// Settings for a [`Totp`]; made by [`Totp::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct TotpBuilder {
    secret: Secret,
    algorithm: Algorithm,
    digits: u32,
    period: u64,
    t0: u64,
    window_back: u32,
    window_forward: u32,
}

impl TotpBuilder {
    /// The hash algorithm (default SHA-1, the only one every authenticator app supports).
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// The number of digits, 6 to 8 (default 6).
    pub fn digits(mut self, digits: u32) -> Self {
        self.digits = digits;
        self
    }

    /// The length of a time step in seconds, at least 1 (default 30).
    pub fn period(mut self, seconds: u64) -> Self {
        self.period = seconds;
        self
    }

    /// The Unix time at which step 0 starts (default 0).
    pub fn t0(mut self, unix_time: u64) -> Self {
        self.t0 = unix_time;
        self
    }

    /// How many steps before and after the current one a code may come from, each at most
    /// [`Totp::MAX_WINDOW`] (default one each).
    ///
    /// Every extra step accepted is one more code an attacker's guess can hit; one step each
    /// way is what RFC 6238 section 5.2 recommends.
    pub fn window(mut self, back: u32, forward: u32) -> Self {
        self.window_back = back;
        self.window_forward = forward;
        self
    }

    /// Checks the settings and makes the [`Totp`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidDigits`] outside 6 to 8, [`Error::InvalidPeriod`] for a period of 0,
    /// [`Error::WindowTooLarge`] for a window over [`Totp::MAX_WINDOW`] on either side.
    pub fn build(self) -> Result<Totp, Error> {
        check_digits(self.digits)?;
        check_period(self.period)?;
        check_window(self.window_back, self.window_forward)?;
        Ok(self.assemble())
    }

    /// The `Totp` for these settings, which the caller has checked.
    fn assemble(self) -> Totp {
        let mac = KeyedMac::new(self.algorithm, self.secret.expose_bytes());
        Totp {
            secret: self.secret,
            mac,
            digits: self.digits,
            period: self.period,
            t0: self.t0,
            window_back: self.window_back,
            window_forward: self.window_forward,
        }
    }
}

/// Refuses a period of 0 seconds.
pub(crate) fn check_period(period: u64) -> Result<(), Error> {
    if period == 0 {
        Err(Error::InvalidPeriod)
    } else {
        Ok(())
    }
}

/// Refuses a window over [`Totp::MAX_WINDOW`] steps on either side.
pub(crate) fn check_window(back: u32, forward: u32) -> Result<(), Error> {
    for requested in [back, forward] {
        if requested > Totp::MAX_WINDOW {
            return Err(Error::WindowTooLarge {
                requested,
                max: Totp::MAX_WINDOW,
            });
        }
    }
    Ok(())
}

/// `matched - current` as a signed number; both lie within `MAX_WINDOW` of each other.
fn offset(matched: u64, current: u64) -> i64 {
    if matched >= current {
        i64::try_from(matched - current).unwrap_or(i64::MAX)
    } else {
        i64::try_from(current - matched).map_or(i64::MIN, |d| -d)
    }
}

/// Seconds since the Unix epoch, from the system clock.
#[cfg(feature = "std")]
pub(crate) fn unix_now() -> Result<u64, Error> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .map_err(|_| Error::TimeBeforeEpoch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::{String, ToString};
    use alloc::vec::Vec;

    fn totp() -> Totp {
        Totp::new(Secret::from_bytes(b"12345678901234567890").unwrap())
    }

    #[test]
    fn step_arithmetic_has_no_overflow() {
        let t = Totp::builder(Secret::from_bytes(&[1; 20]).unwrap())
            .t0(100)
            .build()
            .unwrap();
        assert_eq!(t.step_at(99), Err(Error::TimeBeforeEpoch));
        assert_eq!(
            t.try_generate(99).map(|c| c.len()),
            Err(Error::TimeBeforeEpoch)
        );
        assert_eq!(t.verify("123456", 99), Err(Error::TimeBeforeEpoch));
        assert_eq!(t.step_at(100), Ok(0));
        assert_eq!(t.seconds_left(100), Ok(30));
        assert_eq!(t.seconds_left(129), Ok(1));
        // Step 0 with a backward window, and the far end of u64.
        let code = t.generate(100).to_string();
        assert_eq!(t.verify(&code, 100).map(|v| v.step), Ok(0));
        let far = u64::MAX;
        let code = t.generate(far).to_string();
        assert_eq!(t.verify(&code, far).map(|v| v.offset), Ok(0));
        let code = totp().generate(1 << 40).to_string();
        assert!(totp().verify(&code, 1 << 40).is_ok());
    }

    #[test]
    fn offset_reports_drift() {
        let t = totp();
        let now = 1_700_000_000;
        let previous = t.generate(now - 30).to_string();
        let next = t.generate(now + 30).to_string();
        assert_eq!(t.verify(&previous, now).map(|v| v.offset), Ok(-1));
        assert_eq!(t.verify(&next, now).map(|v| v.offset), Ok(1));
        assert_eq!(
            t.verify(&t.generate(now - 60).to_string(), now),
            Err(Error::InvalidCode)
        );
    }

    #[test]
    fn replay_is_distinct_from_invalid() {
        let t = totp();
        let now = 1_700_000_000;
        let code = t.generate(now).to_string();
        let first = t.verify_after(&code, now, None).unwrap();
        assert_eq!(
            t.verify_after(&code, now, Some(first.step)),
            Err(Error::ReplayedCode)
        );
        // An older code inside the window is a replay too once a later step was accepted.
        let previous = t.generate(now - 30).to_string();
        assert_eq!(
            t.verify_after(&previous, now, Some(first.step)),
            Err(Error::ReplayedCode)
        );
        // The next step's code is still fresh.
        let next = t.generate(now + 30).to_string();
        assert_eq!(
            t.verify_after(&next, now, Some(first.step))
                .map(|v| v.offset),
            Ok(1)
        );
        let window: Vec<String> = (-1..=1)
            .map(|d| t.generate(now.saturating_add_signed(d * 30)).to_string())
            .collect();
        let wrong = (0..10)
            .map(|n| alloc::format!("00000{n}"))
            .find(|c| !window.contains(c))
            .unwrap();
        assert_eq!(
            t.verify_after(&wrong, now, Some(first.step)),
            Err(Error::InvalidCode)
        );
    }
}
