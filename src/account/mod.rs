//! One user's whole two-factor state as a value, and every flow as a pure transition on it.
//!
//! A [`TwoFactorRecord`] holds the sealed secret, the replay guard, the recovery-code hashes,
//! the failure count and the trusted devices. Each flow is a method that takes the record (by
//! reference), the input and the current time, and returns a [`Transition`]: the next record,
//! and an [`Outcome`] — the result and the [`Event`]s a host turns into e-mails or audit logs. Nothing here reads a
//! clock, touches a database or does any other I/O.
//!
//! # Running flows yourself
//!
//! Most hosts should use the [`TwoFactor`](crate::TwoFactor) service, which does the loading
//! and saving safely. A host that runs flows on records itself must keep two rules, or codes
//! can be used twice and the throttle undone:
//!
//! 1. **Save every changed record — also when the flow failed.** A wrong code changes the
//!    failure count; an accepted code records its step. The types enforce this one: a
//!    [`Transition`] hands out its [`Outcome`] only through [`Transition::save_with`], which
//!    calls your save first whenever the record changed.
//! 2. **Make the load and the save atomic per user.** A plain transaction at the default
//!    isolation level (READ COMMITTED in PostgreSQL, REPEATABLE READ in MySQL) does *not*
//!    stop two requests from both loading the same record and both succeeding. Use
//!    `SELECT … FOR UPDATE`, SERIALIZABLE isolation, or a version-checked `UPDATE … WHERE
//!    version = $loaded` (see [`store`](crate::store)), and let a failed save fail the flow.
//!
//! ```
//! use twofa::account::{Context, DeviceKey, PasswordConfirmed, Settings, TwoFactorRecord};
//! use twofa::seal::AesGcmSealer;
//! use twofa::{Pbkdf2Hasher, Totp};
//!
//! let settings = Settings::new("Example")?.device_key(DeviceKey::generate());
//! let hasher = Pbkdf2Hasher::new();
//! // In an application the key comes from your secrets, never from the database.
//! let sealer = AesGcmSealer::new("2025-01", &[7; 32])?;
//! let ctx = Context::new("user-42", &settings, &sealer, &hasher)?;
//! let mut rng = twofa::os_rng();
//! let now = 1_700_000_000;
//! // Your database; a real save is a version-checked UPDATE that can fail.
//! let database = std::cell::RefCell::new(TwoFactorRecord::new().encode());
//! let save = |record: &TwoFactorRecord| {
//!     *database.borrow_mut() = record.encode();
//!     Ok::<(), std::io::Error>(())
//! };
//! let load = || TwoFactorRecord::decode(&database.borrow());
//!
//! // Enable, after the user typed their password again: start, show the QR code, confirm
//! // with a code from the app.
//! let check = |_user: &str, password: &str| password == "correct horse";
//! let proof = PasswordConfirmed::check(&check, "user-42", "correct horse", now)?;
//! let enrollment = load()?
//!     .start_enrollment(&ctx, Some(&proof), "alice@example.com", &mut rng, now)
//!     .save_with(save)?
//!     .result?;
//! let phone = enrollment.uri().to_totp()?; // stands in for the user's app
//! let code = phone.generate(now).to_string();
//! let confirmed = load()?.confirm_enrollment(&ctx, &code, &mut rng, now).save_with(save)?;
//! let recovery_codes = confirmed.result?; // show these once
//!
//! // Sign in thirty seconds later: load, apply, save (when changed), then act on the result.
//! let later = now + 30;
//! let code = phone.generate(later).to_string();
//! let signed_in = load()?.verify_code(&ctx, &code, later).save_with(save)?;
//! assert!(signed_in.result.is_ok());
//! // The same code again fails, and the failure was saved.
//! let again = load()?.verify_code(&ctx, &code, later).save_with(save)?;
//! assert!(again.result.is_err());
//! assert_eq!(load()?.failures(), 1);
//! # let _ = recovery_codes;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A pending enrolment does not expire by itself; starting again replaces it, and
//! [`TwoFactorRecord::cancel_enrollment`] drops it.

mod devices;
mod encoding;
mod enrollment;
mod new_codes;
mod proof;
mod reauthentication;
mod settings;
mod sign_in;
mod throttle;
mod trust;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

pub use devices::{DeviceKey, DeviceToken, TrustedDevice};
pub use encoding::RecordError;
pub use enrollment::Enrollment;
#[cfg(all(feature = "std", feature = "os-rng"))]
pub(crate) use new_codes::NeedsCodes;
pub use proof::{PasswordCheck, PasswordConfirmed, SignInMethod, SignedIn};
pub use reauthentication::Reauthentication;
pub use settings::Settings;
pub use throttle::ThrottlePolicy;

use crate::recovery::{CodeHasher, RecoveryCodeSet};
use crate::seal::{SealedSecret, SecretSealer};
use settings::TotpParameters;
use throttle::Throttle;

/// One user's two-factor state: off, pending (enrolment started) or enabled.
///
/// Make a new one with [`TwoFactorRecord::new`] (2FA off), store it with
/// [`TwoFactorRecord::encode`], read it back with [`TwoFactorRecord::decode`], and move it
/// forward with the flow methods, each returning a [`Transition`]. `Debug` shows the state and
/// counts, never the sealed secret, hashes or tokens.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct TwoFactorRecord {
    state: State,
    /// Failed codes from the app.
    throttle: Throttle,
    /// Failed recovery codes: a budget of their own, so a lockout of codes leaves the owner
    /// their recovery codes.
    recovery_throttle: Throttle,
    /// Failures of either kind not yet reported at a sign-in.
    unreported_failures: u32,
    devices: Vec<TrustedDevice>,
    /// When every device was last revoked (also by turning 2FA off): older [`SignedIn`] proofs
    /// can neither trust a device nor re-authenticate. Survives every flow.
    devices_revoked_at: Option<u64>,
}

#[derive(Clone, PartialEq, Eq, Default)]
enum State {
    #[default]
    Disabled,
    Pending {
        secret: SealedSecret,
        parameters: TotpParameters,
        started_at: u64,
    },
    Enabled {
        secret: SealedSecret,
        parameters: TotpParameters,
        enabled_at: u64,
        last_step: Option<u64>,
        recovery: RecoveryCodeSet,
    },
}

/// Where a record stands in the enable → disable life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// Two-factor authentication is off.
    Disabled,
    /// An enrolment was started at this Unix time and awaits a code from the app.
    Pending {
        /// When the enrolment started.
        started_at: u64,
    },
    /// Two-factor authentication is on since this Unix time.
    Enabled {
        /// When the enrolment was confirmed.
        enabled_at: u64,
    },
}

/// What a host passes to every flow: who the user is, the settings, and how secrets are
/// sealed and recovery codes hashed.
///
/// [`Context::new`] is where the crate checks user ids (see [`check_user_id`]): every flow
/// takes a `Context`, so no flow runs for an id the rule refuses.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    user_id: &'a str,
    settings: &'a Settings,
    sealer: &'a dyn SecretSealer,
    hasher: &'a dyn CodeHasher,
}

impl<'a> Context<'a> {
    /// Bundles what the flows need. `user_id` must be stable and unique per user (a primary
    /// key, not an e-mail address that may change): sealed secrets, recovery codes and device
    /// tokens are bound to it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUserId`](crate::Error::InvalidUserId) for an id [`check_user_id`]
    /// refuses.
    pub fn new(
        user_id: &'a str,
        settings: &'a Settings,
        sealer: &'a dyn SecretSealer,
        hasher: &'a dyn CodeHasher,
    ) -> Result<Self, crate::Error> {
        check_user_id(user_id)?;
        Ok(Context {
            user_id,
            settings,
            sealer,
            hasher,
        })
    }

    /// The user this context is for.
    pub fn user_id(&self) -> &str {
        self.user_id
    }
}

/// The longest user id accepted, in bytes.
pub const MAX_USER_ID_LEN: usize = 255;

/// The one rule for user ids: 1 to [`MAX_USER_ID_LEN`] bytes of UTF-8 with no control
/// character ([`char::is_control`]: NUL, newline, ESC, …).
///
/// Why: the id is bound into sealed secrets, recovery-code hashes and device-token hashes, and
/// is the key a [`Store`](crate::Store) files records under. A store must keep every accepted
/// id apart, byte for byte; 255 bytes fit an indexed `VARCHAR(255)`, and PostgreSQL `text`
/// cannot hold NUL. Control characters also inject into logs and terminals. The check runs
/// in [`Context::new`], so every flow and the service go through it.
///
/// ```
/// use twofa::account::check_user_id;
///
/// assert!(check_user_id("user-42").is_ok());
/// assert!(check_user_id("ünïcødé@example.com").is_ok());
/// assert!(check_user_id("").is_err());
/// assert!(check_user_id("user\0").is_err());
/// assert!(check_user_id(&"x".repeat(256)).is_err());
/// ```
///
/// # Errors
///
/// [`Error::InvalidUserId`](crate::Error::InvalidUserId).
pub fn check_user_id(user_id: &str) -> Result<(), crate::Error> {
    let length_ok = (1..=MAX_USER_ID_LEN).contains(&user_id.len());
    if length_ok && !user_id.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(crate::Error::InvalidUserId)
    }
}

impl fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("user_id", &self.user_id)
            .field("settings", self.settings)
            .finish_non_exhaustive()
    }
}

/// The result of a flow on a record: the next record, and the outcome a host reaches only
/// through [`Transition::save_with`], which stores the record first when it changed.
///
/// A wrong code changes the record (the failure count); an accepted code records its step.
/// Acting on the outcome without storing that change would undo the throttle or let a code
/// work twice, so the type does not hand the outcome out any other way:
///
/// ```
/// # use twofa::account::{Context, Settings, TwoFactorRecord};
/// # use twofa::seal::DangerPlaintextSealer;
/// # use twofa::Pbkdf2Hasher;
/// # let settings = Settings::new("Example")?;
/// # let hasher = Pbkdf2Hasher::new();
/// # let ctx = Context::new("user-42", &settings, &DangerPlaintextSealer, &hasher)?;
/// # let mut saves = 0;
/// # let db = |_: &TwoFactorRecord| { saves += 1; Ok::<(), std::io::Error>(()) };
/// let record = TwoFactorRecord::new();
/// // 2FA is off, so this fails without changing the record: nothing is saved.
/// let outcome = record.verify_code(&ctx, "123456", 1_700_000_000).save_with(db)?;
/// assert_eq!(outcome.result.err(), Some(twofa::Error::NotEnabled));
/// # assert_eq!(saves, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[must_use = "call `save_with` to store the record when it changed, even if the flow failed"]
pub struct Transition<T> {
    result: Result<T, crate::Error>,
    record: TwoFactorRecord,
    events: Vec<Event>,
    changed: bool,
}

impl<T> Transition<T> {
    /// Stores the record with `save` if it changed (also when the flow failed), then returns
    /// the outcome. When the record did not change, `save` is not called.
    ///
    /// # Errors
    ///
    /// The error of `save`. The outcome is then dropped: a host must not act on a flow whose
    /// record was not stored (an accepted code would stay usable, a failure uncounted).
    pub fn save_with<E>(
        self,
        save: impl FnOnce(&TwoFactorRecord) -> Result<(), E>,
    ) -> Result<Outcome<T>, E> {
        if self.changed {
            save(&self.record)?;
        }
        Ok(Outcome {
            result: self.result,
            events: self.events,
        })
    }

    /// Whether the record differs from the one the flow started from, so that
    /// [`Transition::save_with`] will store it.
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// The record after the flow, to look at; store it through [`Transition::save_with`].
    pub fn record(&self) -> &TwoFactorRecord {
        &self.record
    }

    /// A flow that failed before changing anything.
    fn unchanged(record: &TwoFactorRecord, error: crate::Error) -> Self {
        Self::unchanged_with(record, Err(error))
    }

    /// A flow that succeeded without changing anything.
    fn unchanged_ok(record: &TwoFactorRecord, value: T) -> Self {
        Self::unchanged_with(record, Ok(value))
    }

    fn unchanged_with(record: &TwoFactorRecord, result: Result<T, crate::Error>) -> Self {
        Self::of_owned(record.clone(), result, Vec::new(), false)
    }

    /// A flow on a record it owned; `changed` says whether the record differs from the one
    /// the flow started from.
    fn of_owned(
        record: TwoFactorRecord,
        result: Result<T, crate::Error>,
        events: Vec<Event>,
        changed: bool,
    ) -> Self {
        Transition {
            result,
            record,
            events,
            changed,
        }
    }

    /// A flow that changed the record.
    fn changed_to(
        record: TwoFactorRecord,
        result: Result<T, crate::Error>,
        events: Vec<Event>,
    ) -> Self {
        Self::of_owned(record, result, events, true)
    }

    /// The parts, for the service, which saves with compare-and-swap itself.
    #[cfg(all(feature = "std", feature = "os-rng"))]
    pub(crate) fn into_parts(self) -> (Outcome<T>, TwoFactorRecord, bool) {
        let outcome = Outcome {
            result: self.result,
            events: self.events,
        };
        (outcome, self.record, self.changed)
    }
}

/// What a flow produced, and what the host may want to log or e-mail — also on failure (a
/// replayed code fails with [`Error::ReplayedCode`](crate::Error::ReplayedCode) *and* reports
/// [`Event::ReplayDetected`]). Every flow ends in one, whether run on a record
/// ([`Transition::save_with`]) or through the [`TwoFactor`](crate::TwoFactor) service.
#[derive(Debug)]
#[must_use]
pub struct Outcome<T> {
    /// What the flow produced, or why it failed.
    pub result: Result<T, crate::Error>,
    /// What happened, for e-mails and audit logs.
    pub events: Vec<Event>,
}

/// Something a host may turn into an e-mail, a notification or an audit-log line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// An enrolment started (a new secret was made; any earlier pending one is gone).
    EnrollmentStarted,
    /// A pending enrolment was abandoned.
    EnrollmentCancelled,
    /// Two-factor authentication was turned on.
    Enabled,
    /// Two-factor authentication was turned off: secret, recovery codes and devices are gone,
    /// and sign-ins made before it prove nothing any more.
    Disabled,
    /// A recovery code was used; this many are left. Tell the user, and urge new codes when
    /// few remain.
    RecoveryCodeUsed {
        /// Codes left.
        remaining: usize,
    },
    /// A new set of recovery codes replaced the old one.
    RecoveryCodesRegenerated,
    /// A code that was already used was presented again. The user sees the same message as
    /// for a wrong code; log this and consider telling the account owner (OWASP ASVS 2.8.5).
    ReplayDetected,
    /// Failed codes reached the point where each attempt is delayed.
    ///
    /// On the page, say when to try again (`retry_at`; [`Error::Throttled`](crate::Error)
    /// carries it too). Log it; there is no need to e-mail at every one: the failures are
    /// reported at the next sign-in ([`Event::FailedAttempts`]), and a lockout is e-mailed.
    Throttled {
        /// Consecutive failures so far.
        failures: u32,
        /// The Unix time of the next allowed attempt.
        retry_at: u64,
    },
    /// Failed codes reached the lockout threshold: no code (and no password proof for
    /// "Generate new" or "Disable 2FA") is evaluated until `until`, until the owner signs in
    /// with a recovery code, or until the host calls [`TwoFactorRecord::unlock`].
    ///
    /// Tell the account owner at once, by e-mail, with a way out: someone who knows their
    /// password has been guessing codes, so they should change the password; and say how to
    /// get back in (a recovery code works now; or wait until `until`; or the host's identity
    /// check that leads to `unlock`).
    LockedOut {
        /// Consecutive failures.
        failures: u32,
        /// When the lockout ends by itself (Unix seconds); `None` when only a recovery code
        /// or [`TwoFactorRecord::unlock`] ends it.
        until: Option<u64>,
    },
    /// Failed recovery codes reached the point where each attempt is delayed. As
    /// [`Event::Throttled`], for the recovery codes' own budget.
    RecoveryCodesThrottled {
        /// Consecutive failed recovery codes so far.
        failures: u32,
        /// The Unix time of the next allowed attempt.
        retry_at: u64,
    },
    /// Failed recovery codes reached their lockout threshold: no recovery code is evaluated
    /// until `until`, until the owner signs in with a code, or until the host calls
    /// [`TwoFactorRecord::unlock`].
    ///
    /// E-mail the owner as for [`Event::LockedOut`]: someone who knows the password is trying
    /// recovery codes; change the password.
    RecoveryCodesLockedOut {
        /// Consecutive failed recovery codes.
        failures: u32,
        /// When the lockout ends by itself (Unix seconds); `None` when only a code or
        /// [`TwoFactorRecord::unlock`] ends it.
        until: Option<u64>,
    },
    /// A sign-in — with a code, a recovery code or a trusted device — after failed attempts:
    /// this many codes and recovery codes failed since failures were last reported. Each
    /// failure is reported once; a replayed code is reported at once by
    /// [`Event::ReplayDetected`] instead, and not counted here. Show it at sign-in ("3 failed attempts since your last
    /// sign-in"; [`SignedIn::failed_attempts`] has the same number) and consider e-mailing it:
    /// if the user did not make them, someone who knows the password is guessing, and a
    /// password change shuts them out.
    FailedAttempts {
        /// Failed attempts since the last report.
        failures: u32,
    },
    /// The host lifted a lockout.
    Unlocked,
    /// A device was trusted.
    DeviceTrusted {
        /// The device's public identifier.
        device_id: String,
    },
    /// One trusted device was revoked by [`TwoFactorRecord::revoke_device`].
    DeviceRevoked {
        /// The device's public identifier.
        device_id: String,
    },
    /// The oldest trusted device was forgotten to make room for a new one
    /// ([`Settings::max_devices`]); the user did not ask for it.
    DeviceEvicted {
        /// The device's public identifier.
        device_id: String,
    },
    /// Every trusted device was revoked.
    AllDevicesRevoked,
    /// The secret was sealed again under the sealer's current key.
    SecretResealed,
}

impl TwoFactorRecord {
    /// A record for a user without two-factor authentication.
    pub fn new() -> Self {
        Self::default()
    }

    /// Where the record stands.
    pub fn status(&self) -> Status {
        match &self.state {
            State::Disabled => Status::Disabled,
            State::Pending { started_at, .. } => Status::Pending {
                started_at: *started_at,
            },
            State::Enabled { enabled_at, .. } => Status::Enabled {
                enabled_at: *enabled_at,
            },
        }
    }

    /// Whether two-factor authentication is on.
    pub fn is_enabled(&self) -> bool {
        matches!(self.state, State::Enabled { .. })
    }

    /// Recovery codes left, when enabled.
    pub fn recovery_codes_left(&self) -> Option<usize> {
        match &self.state {
            State::Enabled { recovery, .. } => Some(recovery.remaining()),
            _ => None,
        }
    }

    /// The trusted devices, including expired ones not yet pruned, for a "your devices" page.
    pub fn devices(&self) -> &[TrustedDevice] {
        &self.devices
    }

    /// Consecutive failed codes since the last success.
    pub fn failures(&self) -> u32 {
        self.throttle.failures
    }

    /// Consecutive failed recovery codes since the last success.
    pub fn recovery_code_failures(&self) -> u32 {
        self.recovery_throttle.failures
    }

    /// Failed codes and recovery codes not yet reported at a sign-in; the next sign-in
    /// reports them ([`SignedIn::failed_attempts`]).
    pub fn unreported_failures(&self) -> u32 {
        self.unreported_failures
    }

    /// Whether failed codes reached the lockout threshold and the lockout has not ended at
    /// `now` under `policy` (a timed lockout ends by itself; see
    /// [`ThrottlePolicy::lockout_duration`]).
    pub fn is_locked_out(&self, policy: &ThrottlePolicy, now: u64) -> bool {
        self.throttle.is_locked(policy, now)
    }

    /// As [`TwoFactorRecord::is_locked_out`], for recovery codes and their own policy
    /// ([`Settings::recovery_code_throttle`]).
    pub fn is_recovery_locked_out(&self, policy: &ThrottlePolicy, now: u64) -> bool {
        self.recovery_throttle.is_locked(policy, now)
    }

    /// When every trusted device was last revoked (Unix seconds), if ever.
    pub fn devices_revoked_at(&self) -> Option<u64> {
        self.devices_revoked_at
    }

    /// The revocation time after revoking everything at `now`: never earlier than before.
    fn revoked_as_of(&self, now: u64) -> Option<u64> {
        Some(self.devices_revoked_at.map_or(now, |at| at.max(now)))
    }

    /// Whether `signed_in` was made after the last revocation of all devices (turning 2FA off
    /// counts as one): the rule every flow that takes a [`SignedIn`] as proof shares.
    fn is_after_revocation(&self, signed_in: &SignedIn) -> bool {
        self.devices_revoked_at
            .is_none_or(|revoked_at| signed_in.at() > revoked_at)
    }
}

impl fmt::Debug for TwoFactorRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwoFactorRecord")
            .field("status", &self.status())
            .field("recovery_codes_left", &self.recovery_codes_left())
            .field("failures", &self.throttle.failures)
            .field("locked_out", &self.throttle.locked)
            .field("recovery_code_failures", &self.recovery_throttle.failures)
            .field("recovery_locked_out", &self.recovery_throttle.locked)
            .field("unreported_failures", &self.unreported_failures)
            .field("devices", &self.devices.len())
            .finish()
    }
}
