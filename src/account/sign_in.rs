//! Flow 2, sign in: a code from the app or a recovery code, with replay protection and the
//! throttle; and lifting a lockout. Also the one code check every flow that takes a code uses.

use alloc::string::String;
use alloc::vec::Vec;

use super::{Context, Event, State, Transition, TwoFactorRecord};
use crate::recovery::{Attempt, RecoveryCodeSet, RecoveryError};
use crate::{Error, Totp, Verified};

/// A successful second-factor check at sign-in.
///
/// [`TwoFactorRecord::trust_device`] asks for one, so a device can only be trusted right after
/// the user proved the second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    user_id: String,
    method: SignInMethod,
    at: u64,
    failed_attempts: u32,
}

impl SignedIn {
    /// How long after the sign-in a device may still be trusted with it, in seconds.
    pub const TRUST_WINDOW: u64 = 600;

    fn new(ctx: &Context<'_>, method: SignInMethod, at: u64, failed_attempts: u32) -> Self {
        SignedIn {
            user_id: ctx.user_id.into(),
            method,
            at,
            failed_attempts,
        }
    }

    /// Whether this sign-in, by `user_id`, is recent enough at `now` to trust a device.
    pub(super) fn allows_trust(&self, user_id: &str, now: u64) -> bool {
        let fresh = now >= self.at && now - self.at <= Self::TRUST_WINDOW;
        self.user_id == user_id && fresh
    }

    /// How the user signed in.
    pub fn method(&self) -> SignInMethod {
        self.method
    }

    /// When (Unix seconds).
    pub fn at(&self) -> u64 {
        self.at
    }

    /// Codes that failed since the last success, before this sign-in. Show the user when it
    /// is not 0 ("3 failed attempts since your last sign-in"); see
    /// [`Event::FailedAttempts`].
    pub fn failed_attempts(&self) -> u32 {
        self.failed_attempts
    }
}

/// How the second factor was proved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignInMethod {
    /// A code from the authenticator app; `offset` is the matched step minus the current one
    /// (a steady non-zero offset means the device's clock drifts).
    Code {
        /// Steps between the code and the server's clock.
        offset: i64,
    },
    /// A recovery code; this many remain.
    RecoveryCode {
        /// Codes left.
        remaining: usize,
    },
}

impl TwoFactorRecord {
    /// Flow 2, sign in: checks a code from the authenticator app.
    ///
    /// The code must be fresh (after the last accepted step), the account must not be
    /// throttled, and on success the step is recorded and the failure count reset.
    ///
    /// A replayed code counts as a failed attempt, like a wrong one. A double-submitted form
    /// spends one of the free attempts and delays nobody; in exchange the throttle does not
    /// have to trust that a code someone saw over the user's shoulder, or in a log, is
    /// harmless to try again and again.
    ///
    /// # Errors
    ///
    /// [`Error::NotEnabled`]; [`Error::InvalidCode`]; [`Error::ReplayedCode`] (with
    /// [`Event::ReplayDetected`]; show the user the same message as for an invalid code, see
    /// [`Error::is_wrong_code`]); [`Error::Throttled`] and [`Error::LockedOut`], where the
    /// code was not even looked at.
    pub fn verify_code(&self, ctx: &Context<'_>, code: &str, now: u64) -> Transition<SignedIn> {
        self.clone().verify_code_owned(ctx, code, now)
    }

    /// [`TwoFactorRecord::verify_code`] on a record the caller owns, without a copy: the
    /// service's sign-in, which has just loaded it.
    pub(crate) fn verify_code_owned(
        mut self,
        ctx: &Context<'_>,
        code: &str,
        now: u64,
    ) -> Transition<SignedIn> {
        if !self.is_enabled() {
            return Transition::of_owned(self, Err(Error::NotEnabled), Vec::new(), false);
        }
        let throttle = self.throttle;
        let mut events = Vec::new();
        match self.check_code(ctx, code, now, &mut events) {
            Ok(checked) => {
                let method = SignInMethod::Code {
                    offset: checked.verified.offset,
                };
                let signed_in = SignedIn::new(ctx, method, now, checked.failed_attempts);
                Transition::changed_to(self, Ok(signed_in), events)
            }
            Err(error) => {
                // A failed check writes the throttle and nothing else, so the record changed
                // exactly when the throttle did (a throttled or mis-sealed attempt changes
                // nothing, and reports no event).
                let changed = self.throttle != throttle;
                let events = if changed { events } else { Vec::new() };
                Transition::of_owned(self, Err(error), events, changed)
            }
        }
    }

    /// Flow 2, sign in with a recovery code when the phone is lost. The code is used up.
    ///
    /// # Errors
    ///
    /// [`Error::NotEnabled`]; [`Error::Recovery`] with
    /// [`RecoveryError::InvalidCode`] for a wrong or
    /// malformed code (the failure counts); [`Error::Throttled`] and [`Error::LockedOut`].
    pub fn use_recovery_code(
        &self,
        ctx: &Context<'_>,
        code: &str,
        now: u64,
    ) -> Transition<SignedIn> {
        match self.recovery_set_to_check(ctx, now) {
            Ok(set) => {
                let attempt = set.derive_attempt(code, ctx.user_id(), ctx.hasher);
                self.use_recovery_attempt(ctx, &attempt, now)
            }
            Err(failed) => failed,
        }
    }

    /// The set a recovery code is checked against now; or the flow, failed before any
    /// derivation (2FA off, throttled, locked out).
    #[allow(clippy::result_large_err)] // the Err is the flow's result, returned as is
    pub(crate) fn recovery_set_to_check(
        &self,
        ctx: &Context<'_>,
        now: u64,
    ) -> Result<&RecoveryCodeSet, Transition<SignedIn>> {
        let State::Enabled { recovery, .. } = &self.state else {
            return Err(Transition::unchanged(self, Error::NotEnabled));
        };
        match self.throttle.check(ctx.settings.throttle_policy(), now) {
            Ok(()) => Ok(recovery),
            Err(error) => Err(Transition::unchanged(self, error)),
        }
    }

    /// [`TwoFactorRecord::use_recovery_code`] with the code already derived for the set of
    /// [`recovery_set_to_check`](TwoFactorRecord::recovery_set_to_check): no derivation here.
    /// The caller makes sure the attempt [`fits`](RecoveryCodeSet::fits) that set.
    pub(crate) fn use_recovery_attempt(
        &self,
        ctx: &Context<'_>,
        attempt: &Attempt,
        now: u64,
    ) -> Transition<SignedIn> {
        let policy = ctx.settings.throttle_policy();
        let mut next = self.clone();
        let State::Enabled { recovery, .. } = &mut next.state else {
            return Transition::unchanged(self, Error::NotEnabled);
        };
        if let Err(error) = next.throttle.check(policy, now) {
            return Transition::unchanged(self, error);
        }
        match recovery.use_attempt(attempt) {
            Ok(remaining) => {
                let mut events = alloc::vec![Event::RecoveryCodeUsed { remaining }];
                let failed_attempts = next.succeed(&mut events);
                let method = SignInMethod::RecoveryCode { remaining };
                let signed_in = SignedIn::new(ctx, method, now, failed_attempts);
                Transition::changed_to(next, Ok(signed_in), events)
            }
            // Only a wrong code is the user's failure; a hasher misconfiguration is the host's
            // and must not lock users out.
            Err(error @ Error::Recovery(RecoveryError::InvalidCode)) => {
                // `next` still holds every code: nothing matched.
                let mut events = Vec::new();
                next.throttle.fail(policy, now, &mut events);
                Transition::changed_to(next, Err(error), events)
            }
            Err(error) => Transition::unchanged(self, error),
        }
    }

    /// Lifts a lockout and clears the failure count. Call it only after the user proved who
    /// they are some other way (an e-mail link, support).
    pub fn unlock(&self) -> Transition<()> {
        if self.throttle == Default::default() {
            return Transition::unchanged_ok(self, ());
        }
        let mut next = self.clone();
        next.throttle.reset();
        Transition::changed_to(next, Ok(()), alloc::vec![Event::Unlocked])
    }

    /// The one code check, for sign-in, re-authentication and confirming an enrolment: on
    /// `self` (already a copy), against the pending or enabled secret, throttled. On success
    /// the step is recorded (when enabled) and the failure count reset; a wrong or replayed
    /// code counts as a failure, and nothing else does (a sealing or configuration error is
    /// the host's, and must not lock users out). On failure it writes the throttle and no
    /// other field: `verify_code_owned` relies on that to tell an unchanged record.
    pub(super) fn check_code(
        &mut self,
        ctx: &Context<'_>,
        code: &str,
        now: u64,
        events: &mut Vec<Event>,
    ) -> Result<Checked, Error> {
        let (secret, parameters, last_step) = match &self.state {
            State::Disabled => return Err(Error::NotEnabled),
            State::Pending {
                secret, parameters, ..
            } => (secret, *parameters, None),
            State::Enabled {
                secret,
                parameters,
                last_step,
                ..
            } => (secret, *parameters, *last_step),
        };
        let policy = ctx.settings.throttle_policy();
        self.throttle.check(policy, now)?;
        let totp = open(ctx, secret, parameters)?;
        match totp.verify_after(code, now, last_step) {
            Ok(verified) => {
                if let State::Enabled { last_step, .. } = &mut self.state {
                    *last_step = Some(verified.step);
                }
                let failed_attempts = self.succeed(events);
                Ok(Checked {
                    verified,
                    failed_attempts,
                })
            }
            Err(error) => {
                if error == Error::ReplayedCode {
                    events.push(Event::ReplayDetected);
                }
                if error.is_wrong_code() {
                    self.throttle.fail(policy, now, events);
                }
                Err(error)
            }
        }
    }

    /// Resets the failure count after a success, reporting the failures before it.
    fn succeed(&mut self, events: &mut Vec<Event>) -> u32 {
        let failures = self.throttle.failures;
        if failures > 0 {
            events.push(Event::FailedAttempts { failures });
        }
        self.throttle.reset();
        failures
    }

    /// Turns a failure on the copy `self` into a transition from `original`.
    pub(super) fn settle_failure<T>(
        self,
        original: &TwoFactorRecord,
        error: Error,
        events: Vec<Event>,
    ) -> Transition<T> {
        if self == *original {
            Transition::unchanged(original, error)
        } else {
            Transition::changed_to(self, Err(error), events)
        }
    }
}

/// An accepted code.
pub(super) struct Checked {
    pub(super) verified: Verified,
    pub(super) failed_attempts: u32,
}

/// Opens the sealed secret and builds its verifier.
pub(super) fn open(
    ctx: &Context<'_>,
    sealed: &crate::seal::SealedSecret,
    parameters: super::settings::TotpParameters,
) -> Result<Totp, Error> {
    let secret = ctx.sealer.open(sealed, ctx.user_id)?;
    ctx.settings.verifier(secret, parameters)
}
