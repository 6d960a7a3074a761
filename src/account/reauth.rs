//! Proof that the user confirmed their password again, for the sensitive flows.

use alloc::string::String;
use core::fmt;

use crate::Error;

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

/// Proof that a user's password was just confirmed, which regenerating recovery codes and
/// disabling two-factor authentication demand.
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
