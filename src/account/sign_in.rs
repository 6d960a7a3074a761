//! Flow 2, sign in: a code from the app or a recovery code, with replay protection and the
//! throttle; and lifting a lockout. Also the one code check every flow that takes a code uses.

use alloc::vec::Vec;

use super::proof::{SignInMethod, SignedIn};
use super::throttle::{Factor, ThrottlePolicy};
use super::{Context, Event, State, Transition, TwoFactorRecord};
use crate::recovery::{Attempt, RecoveryCodeSet, RecoveryError};
use crate::{Error, Totp, Verified};

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
        let before = (self.throttle, self.unreported_failures);
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
                // A failed check writes the failure counts and nothing else, so the record
                // changed exactly when they did (a throttled or mis-sealed attempt changes
                // nothing, and reports no event).
                let changed = (self.throttle, self.unreported_failures) != before;
                let events = if changed { events } else { Vec::new() };
                Transition::of_owned(self, Err(error), events, changed)
            }
        }
    }

    /// Flow 2, sign in with a recovery code when the phone is lost. The code is used up.
    ///
    /// Recovery codes have a throttle of their own
    /// ([`Settings::recovery_code_throttle`](super::Settings::recovery_code_throttle)): they
    /// keep working while codes are locked out, and a success ends that lockout, so someone
    /// who only knows the password cannot shut the owner out by failing codes.
    ///
    /// # Errors
    ///
    /// [`Error::NotEnabled`]; [`Error::Recovery`] with
    /// [`RecoveryError::InvalidCode`] for a wrong or
    /// malformed code (the failure counts); [`Error::Throttled`] and [`Error::LockedOut`] from
    /// the recovery codes' own throttle.
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
    /// derivation (2FA off, recovery codes throttled or locked out).
    #[allow(clippy::result_large_err)] // the Err is the flow's result, returned as is
    pub(crate) fn recovery_set_to_check(
        &self,
        ctx: &Context<'_>,
        now: u64,
    ) -> Result<&RecoveryCodeSet, Transition<SignedIn>> {
        let State::Enabled { recovery, .. } = &self.state else {
            return Err(Transition::unchanged(self, Error::NotEnabled));
        };
        let policy = ctx.settings.recovery_code_throttle_policy();
        match self.recovery_throttle.check(policy, now) {
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
        let policy = ctx.settings.recovery_code_throttle_policy();
        let mut next = self.clone();
        let State::Enabled { recovery, .. } = &mut next.state else {
            return Transition::unchanged(self, Error::NotEnabled);
        };
        if let Err(error) = next.recovery_throttle.check(policy, now) {
            return Transition::unchanged(self, error);
        }
        match recovery.use_attempt(attempt) {
            Ok(remaining) => {
                let mut events = alloc::vec![Event::RecoveryCodeUsed { remaining }];
                let failed_attempts = next.succeed(&mut events, true);
                let method = SignInMethod::RecoveryCode { remaining };
                let signed_in = SignedIn::new(ctx, method, now, failed_attempts);
                Transition::changed_to(next, Ok(signed_in), events)
            }
            // Only a wrong code is the user's failure; a hasher misconfiguration is the host's
            // and must not lock users out.
            Err(error @ Error::Recovery(RecoveryError::InvalidCode)) => {
                // `next` still holds every code: nothing matched.
                let mut events = Vec::new();
                next.count_failure(Factor::RecoveryCode, policy, now, &mut events, true);
                Transition::changed_to(next, Err(error), events)
            }
            Err(error) => Transition::unchanged(self, error),
        }
    }

    /// Flow 2, sign in on a trusted device: checks the token from its cookie and, when it is
    /// valid, signs in with [`SignInMethod::TrustedDevice`] — reporting, once, the failed
    /// attempts since they were last reported ([`SignedIn::failed_attempts`],
    /// [`Event::FailedAttempts`]), so guessing stays visible to an owner who only ever signs
    /// in on trusted devices. The record changes (and must be saved) only when there was
    /// something to report. A trusted device works during a lockout, and leaves the failure
    /// counts as they are: it proves a sign-in of the past, not the factor now.
    ///
    /// [`TwoFactorRecord::check_device`] answers the same question without signing in.
    ///
    /// # Errors
    ///
    /// As [`TwoFactorRecord::check_device`].
    pub fn sign_in_with_device(
        &self,
        ctx: &Context<'_>,
        token: &str,
        now: u64,
    ) -> Transition<SignedIn> {
        if let Err(error) = self.check_device(ctx, token, now) {
            return Transition::unchanged(self, error);
        }
        let failed_attempts = self.unreported_failures;
        let signed_in = SignedIn::new(ctx, SignInMethod::TrustedDevice, now, failed_attempts);
        if failed_attempts == 0 {
            return Transition::unchanged_ok(self, signed_in);
        }
        let mut next = self.clone();
        next.unreported_failures = 0;
        let events = alloc::vec![Event::FailedAttempts {
            failures: failed_attempts
        }];
        Transition::changed_to(next, Ok(signed_in), events)
    }

    /// Lifts a lockout of codes and of recovery codes and clears both failure counts (the
    /// failures stay to be reported at the next sign-in). Call it only after the user proved
    /// who they are some other way (an e-mail link, support).
    pub fn unlock(&self) -> Transition<()> {
        if self.throttle == Default::default() && self.recovery_throttle == Default::default() {
            return Transition::unchanged_ok(self, ());
        }
        let mut next = self.clone();
        next.throttle.reset();
        next.recovery_throttle.reset();
        Transition::changed_to(next, Ok(()), alloc::vec![Event::Unlocked])
    }

    /// The one code check, for sign-in, re-authentication and confirming an enrolment: on
    /// `self` (already a copy), against the pending or enabled secret, throttled. On success
    /// the step is recorded (when enabled) and the failure counts reset; a wrong or replayed
    /// code counts as a failure, and nothing else does (a sealing or configuration error is
    /// the host's, and must not lock users out). On failure it writes the code throttle and
    /// the unreported count and no other field: `verify_code_owned` relies on that to tell an
    /// unchanged record.
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
                // The code that confirms a setup is no sign-in: wrong codes typed during the
                // setup were the owner's own, and are cleared without a report.
                let signs_in = match &mut self.state {
                    State::Enabled { last_step, .. } => {
                        *last_step = Some(verified.step);
                        true
                    }
                    _ => false,
                };
                let failed_attempts = self.succeed(events, signs_in);
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
                    // A replay counts against the throttle, but it is reported now, by its
                    // own event: not a second time at the next sign-in.
                    let report = error != Error::ReplayedCode;
                    self.count_failure(Factor::Code, policy, now, events, report);
                }
                Err(error)
            }
        }
    }

    /// Resets both failure counts after a success with either authenticator (it ends a
    /// lockout of the other too), and, when `report`, reports the failures not yet reported
    /// and returns how many; otherwise they are dropped and it returns 0.
    fn succeed(&mut self, events: &mut Vec<Event>, report: bool) -> u32 {
        let failures = if report { self.unreported_failures } else { 0 };
        if failures > 0 {
            events.push(Event::FailedAttempts { failures });
        }
        self.throttle.reset();
        self.recovery_throttle.reset();
        self.unreported_failures = 0;
        failures
    }

    /// Counts a failed attempt of `factor` against its throttle and, when `report`, as one to
    /// report at the next sign-in.
    fn count_failure(
        &mut self,
        factor: Factor,
        policy: &ThrottlePolicy,
        now: u64,
        events: &mut Vec<Event>,
        report: bool,
    ) {
        let throttle = match factor {
            Factor::Code => &mut self.throttle,
            Factor::RecoveryCode => &mut self.recovery_throttle,
        };
        throttle.fail(policy, factor, now, events);
        if report {
            self.unreported_failures = self.unreported_failures.saturating_add(1);
        }
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
