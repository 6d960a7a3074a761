//! One user's whole two-factor state as a value, and every flow as a pure transition on it.
//!
//! A [`TwoFactorRecord`] holds the sealed secret, the replay guard, the recovery-code hashes,
//! the failure count and the trusted devices. Each flow is a method that takes the record (by
//! reference), the input and the current time, and returns a [`Transition`]: the outcome, the
//! next record, and the [`Event`]s a host turns into e-mails or audit logs. Nothing here reads a
//! clock, touches a database or does any other I/O.
//!
//! # Running flows yourself
//!
//! Most hosts should use the [`TwoFactor`](crate::TwoFactor) service, which does the loading
//! and saving safely. A host that runs flows on records itself must keep two rules, or codes
//! can be used twice and the throttle undone:
//!
//! 1. **Save whenever [`Transition::changed`] is true — also when the outcome is an error.**
//!    A wrong code changes the failure count; an accepted code records its step.
//! 2. **Make the load and the save atomic per user.** A plain transaction at the default
//!    isolation level (READ COMMITTED in PostgreSQL, REPEATABLE READ in MySQL) does *not*
//!    stop two requests from both loading the same record and both succeeding. Use
//!    `SELECT … FOR UPDATE`, SERIALIZABLE isolation, or a version-checked `UPDATE … WHERE
//!    version = $loaded` (see [`store`](crate::store)).
//!
//! ```
//! use twofa::account::{Context, Settings, TwoFactorRecord};
//! use twofa::seal::AesGcmSealer;
//! use twofa::{Pbkdf2Hasher, Totp};
//!
//! let settings = Settings::new("Example")?;
//! let hasher = Pbkdf2Hasher::new();
//! // In an application the key comes from your secrets, never from the database.
//! let sealer = AesGcmSealer::new("2025-01", &[7; 32])?;
//! let ctx = Context::new("user-42", &settings, &sealer, &hasher);
//! let mut rng = twofa::os_rng();
//! let now = 1_700_000_000;
//! # let database = std::cell::RefCell::new(String::new());
//! # let save = |record: &TwoFactorRecord| *database.borrow_mut() = record.encode();
//!
//! // Enable: start, show the QR code, confirm with a code from the app.
//! let started = TwoFactorRecord::new().start_enrollment(&ctx, "alice@example.com", &mut rng, now);
//! if started.changed() {
//!     save(&started.record);
//! }
//! let enrollment = started.outcome?;
//! let phone = enrollment.uri().to_totp()?; // stands in for the user's app
//! let confirmed = started.record.confirm_enrollment(&ctx, &phone.generate(now).to_string(), &mut rng, now);
//! if confirmed.changed() {
//!     save(&confirmed.record);
//! }
//! let recovery_codes = confirmed.outcome?; // show these once
//!
//! // Sign in thirty seconds later: load, apply, save if changed, then act on the outcome.
//! let later = now + 30;
//! # let loaded = TwoFactorRecord::decode(&database.borrow())?;
//! let signed_in = loaded.verify_code(&ctx, &phone.generate(later).to_string(), later);
//! if signed_in.changed() {
//!     save(&signed_in.record);
//! }
//! assert!(signed_in.outcome.is_ok());
//! # let _ = recovery_codes;
//! # Ok::<(), twofa::Error>(())
//! ```
//!
//! A pending enrolment does not expire by itself; starting again replaces it, and
//! [`TwoFactorRecord::cancel_enrollment`] drops it.

mod devices;
mod encoding;
mod enrollment;
mod reauthentication;
mod settings;
mod sign_in;
mod throttle;
mod trust;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

pub use devices::{DeviceToken, TrustedDevice};
pub use encoding::RecordError;
pub use enrollment::Enrollment;
pub use reauthentication::{PasswordCheck, PasswordConfirmed, Reauthentication};
pub use settings::Settings;
pub use sign_in::{SignInMethod, SignedIn};
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
    throttle: Throttle,
    devices: Vec<TrustedDevice>,
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
#[derive(Clone, Copy)]
pub struct Context<'a> {
    user_id: &'a str,
    settings: &'a Settings,
    sealer: &'a dyn SecretSealer,
    hasher: &'a dyn CodeHasher,
}

impl<'a> Context<'a> {
    /// Bundles what the flows need. `user_id` must be stable and unique per user (a primary
    /// key, not an e-mail address that may change): sealed secrets and device tokens are bound
    /// to it.
    pub fn new(
        user_id: &'a str,
        settings: &'a Settings,
        sealer: &'a dyn SecretSealer,
        hasher: &'a dyn CodeHasher,
    ) -> Self {
        Context {
            user_id,
            settings,
            sealer,
            hasher,
        }
    }

    /// The user this context is for.
    pub fn user_id(&self) -> &str {
        self.user_id
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

/// The result of a flow: its outcome, the record to store, and what happened.
///
/// Store `record` whenever [`changed`](Transition::changed) is true — **also when the outcome
/// is an error**: a wrong code changes the failure count, and dropping that change would
/// undo the throttle.
#[derive(Debug)]
#[must_use = "store the record when it changed, even if the outcome is an error"]
pub struct Transition<T> {
    /// What the flow produced, or why it failed.
    pub outcome: Result<T, crate::Error>,
    /// The record after the flow.
    pub record: TwoFactorRecord,
    /// What the host may want to log, e-mail or show.
    pub events: Vec<Event>,
    changed: bool,
}

impl<T> Transition<T> {
    /// A flow that failed before changing anything.
    fn unchanged(record: &TwoFactorRecord, error: crate::Error) -> Self {
        Self::unchanged_with(record, Err(error))
    }

    /// A flow that succeeded without changing anything.
    fn unchanged_ok(record: &TwoFactorRecord, value: T) -> Self {
        Self::unchanged_with(record, Ok(value))
    }

    fn unchanged_with(record: &TwoFactorRecord, outcome: Result<T, crate::Error>) -> Self {
        Transition {
            outcome,
            record: record.clone(),
            events: Vec::new(),
            changed: false,
        }
    }

    /// Whether the record differs from the one the flow started from.
    pub fn changed(&self) -> bool {
        self.changed
    }
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
    /// Two-factor authentication was turned off: secret, recovery codes and devices are gone.
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
    /// Failures reached the point where attempts are delayed.
    Throttled {
        /// Consecutive failures so far.
        failures: u32,
        /// The Unix time of the next allowed attempt.
        retry_at: u64,
    },
    /// Failures reached the lockout threshold; the host must unlock the account.
    LockedOut {
        /// Consecutive failures.
        failures: u32,
    },
    /// The host lifted a lockout.
    Unlocked,
    /// A device was trusted.
    DeviceTrusted {
        /// The device's public identifier.
        device_id: String,
    },
    /// One trusted device was revoked.
    DeviceRevoked {
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

    /// Whether failures reached the lockout threshold.
    pub fn is_locked_out(&self) -> bool {
        self.throttle.locked
    }
}

impl fmt::Debug for TwoFactorRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwoFactorRecord")
            .field("status", &self.status())
            .field("recovery_codes_left", &self.recovery_codes_left())
            .field("failures", &self.throttle.failures)
            .field("locked_out", &self.throttle.locked)
            .field("devices", &self.devices.len())
            .finish()
    }
}
