//! Flows 3 and 4, behind re-authentication: new recovery codes, and turning 2FA off; and the
//! proofs of re-authentication they take.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;

use super::enrollment::{NeedsCodes, Purpose, new_recovery_codes};
use super::{Context, Event, Transition, TwoFactorRecord};
use crate::Error;
use crate::recovery::RecoveryCodes;

/// Proof of re-authentication for [`TwoFactorRecord::regenerate_recovery_codes`] and
/// [`TwoFactorRecord::disable`]: the password confirmed again, or a current code from the
/// authenticator app (checked with the same replay and throttle rules as sign-in). `Debug`
/// hides the code.
#[derive(Clone)]
pub enum Reauthentication<'a> {
    /// The password, confirmed by the host's check.
    Password(PasswordConfirmed),
    /// A current TOTP code.
    Code(&'a str),
}

impl fmt::Debug for Reauthentication<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Password(proof) => f.debug_tuple("Password").field(proof).finish(),
            Self::Code(_) => f.write_str("Code([redacted])"),
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
    /// secret, every recovery code and every trusted device stop working.
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
        Transition::changed_to(TwoFactorRecord::default(), Ok(()), events)
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
                // A lockout means someone has been guessing codes; the password alone must not
                // then be enough to turn the second factor off.
                if self.throttle.is_locked(ctx.settings.throttle_policy(), now) {
                    return Err(Error::LockedOut);
                }
                if confirmed.is_valid_for(ctx.user_id, now, ctx.settings.reauthentication_secs()) {
                    Ok(())
                } else {
                    Err(Error::ReauthenticationRequired)
                }
            }
            Reauthentication::Code(code) => self.check_code(ctx, code, now, events).map(|_| ()),
        }
    }
}

/// The host's password check. `twofa` never sees password hashes; it asks the host.
///
/// Any `Fn(&str, &str) -> bool` taking the user id and the typed password is a
/// `PasswordCheck`, so a host can pass a closure around its own verifier:
///
/// ```
/// use twofa::account::{PasswordCheck, PasswordConfirmed};
///
/// // A real host compares with its stored password hash (argon2, bcrypt, ...).
/// let check = |user_id: &str, password: &str| user_id == "user-42" && password == "hunter2";
/// let now = 1_700_000_000;
/// assert!(PasswordConfirmed::check(&check, "user-42", "hunter2", now).is_ok());
/// assert!(PasswordConfirmed::check(&check, "user-42", "guess", now).is_err());
/// ```
pub trait PasswordCheck {
    /// Whether `password` is the current password of `user_id`.
    fn check_password(&self, user_id: &str, password: &str) -> bool;
}

impl<F: Fn(&str, &str) -> bool> PasswordCheck for F {
    fn check_password(&self, user_id: &str, password: &str) -> bool {
        self(user_id, password)
    }
}

/// Proof that a user's password was just confirmed, which enabling two-factor authentication,
/// regenerating recovery codes and disabling it demand.
///
/// The only way to make one is [`PasswordConfirmed::check`], which runs the host's
/// [`PasswordCheck`]: a host cannot forget the re-confirmation, because the flows do not
/// compile without this value. It is bound to the user and expires after
/// [`Settings::reauthentication_lifetime`](super::Settings::reauthentication_lifetime).
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordConfirmed {
    pub(crate) user_id: String,
    pub(crate) at: u64,
}

impl PasswordConfirmed {
    /// How far in the future (seconds) a proof's time may lie, for clock differences between
    /// the server that checked the password and the one that uses the proof.
    pub const CLOCK_SKEW: u64 = 60;

    /// Runs the host's password check and, when it passes, returns the proof.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPassword`] when the check refuses the password.
    pub fn check(
        checker: &impl PasswordCheck,
        user_id: &str,
        password: &str,
        now: u64,
    ) -> Result<PasswordConfirmed, Error> {
        if checker.check_password(user_id, password) {
            Ok(PasswordConfirmed {
                user_id: user_id.into(),
                at: now,
            })
        } else {
            Err(Error::InvalidPassword)
        }
    }

    /// When the password was confirmed (Unix seconds).
    pub fn confirmed_at(&self) -> u64 {
        self.at
    }

    /// Whether this proof is for `user_id` and still fresh at `now`.
    ///
    /// A proof stamped up to [`PasswordConfirmed::CLOCK_SKEW`] in the future is accepted, for
    /// servers whose clocks differ a little.
    pub(crate) fn is_valid_for(&self, user_id: &str, now: u64, lifetime: u64) -> bool {
        let not_future = now.saturating_add(Self::CLOCK_SKEW) >= self.at;
        self.user_id == user_id && not_future && now.saturating_sub(self.at) <= lifetime
    }
}

impl fmt::Debug for PasswordConfirmed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordConfirmed")
            .field("user_id", &self.user_id)
            .field("at", &self.at)
            .finish()
    }
}
