//! The proofs flows demand: a password confirmed again ([`PasswordConfirmed`]) and a
//! second factor just proved at sign-in ([`SignedIn`]). They sit below the flows that make
//! and take them, so sign-in, enrolment, re-authentication and trusting a device each depend
//! on this file and on none of each other.

use alloc::string::String;
use core::fmt;

use super::Context;
use crate::Error;

/// A successful sign-in with the second factor: a code, a recovery code or a trusted device.
///
/// Made only by the sign-in flows ([`verify_code`](super::TwoFactorRecord::verify_code),
/// [`use_recovery_code`](super::TwoFactorRecord::use_recovery_code),
/// [`sign_in_with_device`](super::TwoFactorRecord::sign_in_with_device)). Two flows take it
/// as proof:
///
/// - [`trust_device`](super::TwoFactorRecord::trust_device), within
///   [`SignedIn::TRUST_WINDOW`], so a device can only be trusted right after the user proved
///   the second factor;
/// - [`Reauthentication::SecondFactor`](super::Reauthentication::SecondFactor), within the
///   re-authentication window, so "Generate new" and "Disable 2FA" can follow a recent sign-in
///   (a web layer's step-up).
///
/// Neither accepts a sign-in on a trusted device ([`SignInMethod::TrustedDevice`]): a device
/// cookie proves a sign-in of the past, not the factor now, and a device that could trust
/// itself again would stay trusted for ever.
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

    pub(super) fn new(
        ctx: &Context<'_>,
        method: SignInMethod,
        at: u64,
        failed_attempts: u32,
    ) -> Self {
        SignedIn {
            user_id: ctx.user_id.into(),
            method,
            at,
            failed_attempts,
        }
    }

    /// Whether this sign-in, by `user_id` with a code or a recovery code, is recent enough at
    /// `now` to trust a device.
    pub(super) fn allows_trust(&self, user_id: &str, now: u64) -> bool {
        let fresh = now >= self.at && now - self.at <= Self::TRUST_WINDOW;
        self.is_second_factor() && self.user_id == user_id && fresh
    }

    /// Whether this sign-in, by `user_id` with a code or a recovery code, is at most
    /// `lifetime` seconds old at `now` (or up to [`PasswordConfirmed::CLOCK_SKEW`] in the
    /// future, for servers whose clocks differ a little).
    pub(super) fn proves_factor_for(&self, user_id: &str, now: u64, lifetime: u64) -> bool {
        self.is_second_factor() && fresh(self.at, now, lifetime) && self.user_id == user_id
    }

    /// A sign-in proved earlier, restored from server-side session state that the host wrote
    /// when [`verify_code`](super::TwoFactorRecord::verify_code) or
    /// [`use_recovery_code`](super::TwoFactorRecord::use_recovery_code) returned it: a web
    /// layer's step-up ("you entered a code in the last ten minutes") across requests.
    ///
    /// The flows that take a `SignedIn` check its user, method and age as always, so a restored
    /// proof of a trusted-device sign-in, or an old one, is still refused. Failed attempts are
    /// not restored: they were reported when the sign-in happened.
    ///
    /// # Security
    ///
    /// Only from state the client cannot write: a server-side session record, never a cookie
    /// value, form field or anything else that came in the request. A `SignedIn` made from
    /// client input would let anyone regenerate recovery codes or disable 2FA.
    ///
    /// ```
    /// use twofa::account::{SignInMethod, SignedIn};
    ///
    /// // Read back from the session store, where the sign-in request wrote it.
    /// let proof = SignedIn::restore_from_server_session("user-42", SignInMethod::Code { offset: 0 }, 1_700_000_000);
    /// assert_eq!(proof.user_id(), "user-42");
    /// assert_eq!(proof.failed_attempts(), 0);
    /// ```
    pub fn restore_from_server_session(user_id: &str, method: SignInMethod, at: u64) -> Self {
        SignedIn {
            user_id: user_id.into(),
            method,
            at,
            failed_attempts: 0,
        }
    }

    /// How the user signed in.
    pub fn method(&self) -> SignInMethod {
        self.method
    }

    /// Whether the second factor itself was proved (a code or a recovery code), rather than a
    /// trusted device's cookie shown.
    pub fn is_second_factor(&self) -> bool {
        !matches!(self.method, SignInMethod::TrustedDevice)
    }

    /// When (Unix seconds).
    pub fn at(&self) -> u64 {
        self.at
    }

    /// The user who signed in.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// Failed attempts — wrong or replayed codes and wrong recovery codes — since they were
    /// last reported, before this sign-in. Every sign-in reports them once, the trusted-device
    /// path included, so a second sign-in shows 0 unless there were new ones. Show the user
    /// when it is not 0 ("3 failed attempts since your last sign-in"); see
    /// [`Event::FailedAttempts`](super::Event::FailedAttempts).
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
    /// A trusted device's token, from its cookie. Not a proof for
    /// [`trust_device`](super::TwoFactorRecord::trust_device) or re-authentication.
    TrustedDevice,
}

/// Whether a proof made `at` is still fresh at `now`: at most `lifetime` seconds old, and at
/// most [`PasswordConfirmed::CLOCK_SKEW`] in the future.
fn fresh(at: u64, now: u64, lifetime: u64) -> bool {
    let not_future = now.saturating_add(PasswordConfirmed::CLOCK_SKEW) >= at;
    not_future && now.saturating_sub(at) <= lifetime
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

    /// A password confirmation made earlier, restored from server-side session state that the
    /// host wrote when its password check passed (at sign-in, or on a confirm-password page):
    /// a web layer's step-up across requests. The flows still check the user and the age
    /// against [`Settings::reauthentication_lifetime`](super::Settings::reauthentication_lifetime).
    ///
    /// # Security
    ///
    /// Only from state the client cannot write (a server-side session record), and only with
    /// the time the host's password check actually passed. Made from client input, it would
    /// let anyone skip the password.
    ///
    /// ```
    /// use twofa::account::PasswordConfirmed;
    ///
    /// let proof = PasswordConfirmed::restore_from_server_session("user-42", 1_700_000_000);
    /// assert_eq!(proof.confirmed_at(), 1_700_000_000);
    /// ```
    pub fn restore_from_server_session(user_id: &str, confirmed_at: u64) -> Self {
        PasswordConfirmed {
            user_id: user_id.into(),
            at: confirmed_at,
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
        self.user_id == user_id && fresh(self.at, now, lifetime)
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
