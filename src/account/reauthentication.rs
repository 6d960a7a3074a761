//! Flows 3 and 4, behind re-authentication: new recovery codes, and turning 2FA off; and the
//! proofs of re-authentication they take.

use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;

use super::new_codes::{NeedsCodes, Purpose, new_recovery_codes};
use super::proof::{PasswordConfirmed, SignedIn};
use super::{Context, Event, Transition, TwoFactorRecord};
use crate::Error;
use crate::recovery::RecoveryCodes;

/// Proof of re-authentication for [`TwoFactorRecord::regenerate_recovery_codes`] and
/// [`TwoFactorRecord::disable`]: the password confirmed again, a current code from the
/// authenticator app, or a recent sign-in with a code or a recovery code. `Debug` hides the
/// code.
///
/// Which to ask for: a web layer's step-up ("confirm it is you" before a sensitive action)
/// asks for the second factor — a current code or a recovery code — and hands in the
/// [`SignedIn`] that sign-in returned as [`Reauthentication::SecondFactor`]. The password
/// alone is what a phished password plus a stolen session already have; it is refused
/// while codes or recovery codes are locked out, when someone has been guessing.
#[derive(Clone)]
#[non_exhaustive]
pub enum Reauthentication<'a> {
    /// The password, confirmed by the host's check. Refused while codes or recovery codes are
    /// locked out.
    Password(PasswordConfirmed),
    /// A current TOTP code, checked with the same replay and throttle rules as sign-in.
    Code(&'a str),
    /// A sign-in with a code or a recovery code (not a trusted device) within
    /// [`Settings::reauthentication_lifetime`](super::Settings::reauthentication_lifetime),
    /// made after 2FA was enabled and after the last revocation of all devices (turning 2FA
    /// off counts as one). It proves the factor, so it is accepted during a lockout — the
    /// sign-in that ended it with a recovery code, say.
    SecondFactor(SignedIn),
}

impl fmt::Debug for Reauthentication<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Password(proof) => f.debug_tuple("Password").field(proof).finish(),
            Self::Code(_) => f.write_str("Code([redacted])"),
            Self::SecondFactor(signed_in) => {
                f.debug_tuple("SecondFactor").field(signed_in).finish()
            }
        }
    }
}

impl TwoFactorRecord {
    /// Flow 3: a new set of recovery codes after the user re-authenticated; every old code
    /// stops working at once. Returns the new codes — show them once.
    ///
    /// # Errors
    ///
    /// [`Error::NotEnabled`]; [`Error::ReauthenticationRequired`] for a stale or foreign
    /// password proof; with a code as proof, the errors of [`TwoFactorRecord::verify_code`].
    pub fn regenerate_recovery_codes<R: CryptoRng + ?Sized>(
        &self,
        ctx: &Context<'_>,
        proof: Reauthentication<'_>,
        rng: &mut R,
        now: u64,
    ) -> Transition<RecoveryCodes> {
        match self.regenerate_checked(ctx, proof, now) {
            Ok(checked) => checked.finish(new_recovery_codes(ctx, rng)),
            Err(failed) => failed,
        }
    }

    /// [`TwoFactorRecord::regenerate_recovery_codes`] up to the point where it needs the new
    /// codes (see [`NeedsCodes`]).
    #[allow(clippy::result_large_err)] // the Err is the flow's result, returned as is
    pub(crate) fn regenerate_checked(
        &self,
        ctx: &Context<'_>,
        proof: Reauthentication<'_>,
        now: u64,
    ) -> Result<NeedsCodes<'_>, Transition<RecoveryCodes>> {
        let (next, events) = self.reauthenticated(ctx, proof, now)?;
        Ok(NeedsCodes::new(self, next, events, Purpose::Regenerate))
    }

    /// Flow 4: turns two-factor authentication off after the user re-authenticated. The
    /// secret, every recovery code and every trusted device stop working, and so does every
    /// [`SignedIn`] made until now: turning 2FA off revokes all devices, and the revocation
    /// time stays in the record through a later enrolment.
    ///
    /// # Errors
    ///
    /// As [`TwoFactorRecord::regenerate_recovery_codes`].
    pub fn disable(
        &self,
        ctx: &Context<'_>,
        proof: Reauthentication<'_>,
        now: u64,
    ) -> Transition<()> {
        let (_, mut events) = match self.reauthenticated(ctx, proof, now) {
            Ok(checked) => checked,
            Err(failed) => return failed,
        };
        events.push(Event::Disabled);
        let next = TwoFactorRecord {
            devices_revoked_at: self.revoked_as_of(now),
            ..TwoFactorRecord::default()
        };
        Transition::changed_to(next, Ok(()), events)
    }

    /// The record after `proof` was checked, with the events so far; or the failed flow.
    #[allow(clippy::result_large_err)] // private; the Err is the flow's result, returned as is
    fn reauthenticated<T>(
        &self,
        ctx: &Context<'_>,
        proof: Reauthentication<'_>,
        now: u64,
    ) -> Result<(TwoFactorRecord, Vec<Event>), Transition<T>> {
        if !self.is_enabled() {
            return Err(Transition::unchanged(self, Error::NotEnabled));
        }
        let mut next = self.clone();
        let mut events = Vec::new();
        match next.reauthenticate(ctx, proof, now, &mut events) {
            Ok(()) => Ok((next, events)),
            Err(error) => Err(next.settle_failure(self, error, events)),
        }
    }

    fn reauthenticate(
        &mut self,
        ctx: &Context<'_>,
        proof: Reauthentication<'_>,
        now: u64,
        events: &mut Vec<Event>,
    ) -> Result<(), Error> {
        match proof {
            Reauthentication::Password(confirmed) => {
                // A lockout means someone who knows the password has been guessing; the
                // password alone must not then be enough to turn the second factor off.
                let settings = ctx.settings;
                if self.throttle.is_locked(settings.throttle_policy(), now)
                    || self
                        .recovery_throttle
                        .is_locked(settings.recovery_code_throttle_policy(), now)
                {
                    return Err(Error::LockedOut);
                }
                if confirmed.is_valid_for(ctx.user_id, now, ctx.settings.reauthentication_secs()) {
                    Ok(())
                } else {
                    Err(Error::ReauthenticationRequired)
                }
            }
            Reauthentication::Code(code) => self.check_code(ctx, code, now, events).map(|_| ()),
            Reauthentication::SecondFactor(signed_in) => {
                let lifetime = ctx.settings.reauthentication_secs();
                // Turning 2FA off revokes, so a sign-in of an earlier enrolment is before the
                // revocation; records written before that rule (or by hand) may lack the
                // time, so the enrolment's own start is checked too.
                let since_enabled = match self.status() {
                    super::Status::Enabled { enabled_at } => signed_in.at() >= enabled_at,
                    _ => false,
                };
                if signed_in.proves_factor_for(ctx.user_id, now, lifetime)
                    && since_enabled
                    && self.is_after_revocation(&signed_in)
                {
                    Ok(())
                } else {
                    Err(Error::ReauthenticationRequired)
                }
            }
        }
    }
}
