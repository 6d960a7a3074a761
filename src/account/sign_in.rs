//! Flow 2, sign in: a code from the app or a recovery code, with replay protection and the
//! throttle; and lifting a lockout.

use alloc::string::String;
use alloc::vec::Vec;

use super::{Context, Event, State, Transition, TwoFactorRecord};
use crate::recovery::RecoveryError;
use crate::{Error, Totp};

/// A successful second-factor check at sign-in.
///
/// [`TwoFactorRecord::trust_device`] asks for one, so a device can only be trusted right after
/// the user proved the second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    user_id: String,
    method: SignInMethod,
    at: u64,
}

impl SignedIn {
    /// How long after the sign-in a device may still be trusted with it, in seconds.
    pub const TRUST_WINDOW: u64 = 600;

    fn new(ctx: &Context<'_>, method: SignInMethod, at: u64) -> Self {
        SignedIn {
            user_id: ctx.user_id.into(),
            method,
            at,
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
    /// # Errors
    ///
    /// [`Error::NotEnabled`]; [`Error::InvalidCode`]; [`Error::ReplayedCode`] (with
    /// [`Event::ReplayDetected`]; show the user the same message as for an invalid code);
    /// [`Error::Throttled`] and [`Error::LockedOut`], where the code was not even looked at.
    pub fn verify_code(&self, ctx: &Context<'_>, code: &str, now: u64) -> Transition<SignedIn> {
        let mut next = self.clone();
        let mut events = Vec::new();
        match next.check_code(ctx, code, now, &mut events) {
            Ok(offset) => Transition {
                outcome: Ok(SignedIn::new(ctx, SignInMethod::Code { offset }, now)),
                record: next,
                events,
                changed: true,
            },
            Err(error) => next.settle_failure(self, error, events),
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
        if !self.is_enabled() {
            return Transition::unchanged(self, Error::NotEnabled);
        }
        if let Err(error) = self.throttle.check(ctx.settings.throttle_policy(), now) {
            return Transition::unchanged(self, error);
        }
        let mut next = self.clone();
        let State::Enabled { recovery, .. } = &mut next.state else {
            return Transition::unchanged(self, Error::NotEnabled);
        };
        match recovery.use_code(code, ctx.user_id(), ctx.hasher) {
            Ok(remaining) => {
                next.throttle.reset();
                Transition {
                    outcome: Ok(SignedIn::new(
                        ctx,
                        SignInMethod::RecoveryCode { remaining },
                        now,
                    )),
                    record: next,
                    events: alloc::vec![Event::RecoveryCodeUsed { remaining }],
                    changed: true,
                }
            }
            // Only a wrong code is the user's failure; a hasher misconfiguration is the host's
            // and must not lock users out.
            Err(error @ Error::Recovery(RecoveryError::InvalidCode)) => {
                self.failed(ctx, error, now)
            }
            Err(error) => Transition::unchanged(self, error),
        }
    }

    /// Lifts a lockout and clears the failure count. Call it only after the user proved who
    /// they are some other way (an e-mail link, support).
    pub fn unlock(&self) -> Transition<()> {
        let mut next = self.clone();
        let changed = next.throttle != Default::default();
        next.throttle.reset();
        Transition {
            outcome: Ok(()),
            record: next,
            events: if changed {
                alloc::vec![Event::Unlocked]
            } else {
                Vec::new()
            },
            changed,
        }
    }

    /// Checks a sign-in code on `self` (already a copy), updating the step and throttle.
    pub(super) fn check_code(
        &mut self,
        ctx: &Context<'_>,
        code: &str,
        now: u64,
        events: &mut Vec<Event>,
    ) -> Result<i64, Error> {
        let State::Enabled {
            secret,
            parameters,
            last_step,
            ..
        } = &mut self.state
        else {
            return Err(Error::NotEnabled);
        };
        self.throttle.check(ctx.settings.throttle_policy(), now)?;
        let totp = open(ctx, secret, *parameters)?;
        match totp.verify_after(code, now, *last_step) {
            Ok(verified) => {
                *last_step = Some(verified.step);
                self.throttle.reset();
                Ok(verified.offset)
            }
            Err(error) => {
                if error == Error::ReplayedCode {
                    events.push(Event::ReplayDetected);
                }
                if matches!(error, Error::InvalidCode | Error::ReplayedCode) {
                    self.throttle
                        .fail(ctx.settings.throttle_policy(), now, events);
                }
                Err(error)
            }
        }
    }

    /// Counts a failed code and returns the failure with the updated record.
    pub(super) fn failed<T>(&self, ctx: &Context<'_>, error: Error, now: u64) -> Transition<T> {
        let mut next = self.clone();
        let mut events = Vec::new();
        next.throttle
            .fail(ctx.settings.throttle_policy(), now, &mut events);
        Transition {
            outcome: Err(error),
            record: next,
            events,
            changed: true,
        }
    }

    /// Turns a failure on the copy `self` into a transition from `original`.
    pub(super) fn settle_failure<T>(
        self,
        original: &TwoFactorRecord,
        error: Error,
        events: Vec<Event>,
    ) -> Transition<T> {
        let changed = self != *original;
        Transition {
            outcome: Err(error),
            record: self,
            events,
            changed,
        }
    }
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
