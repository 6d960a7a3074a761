//! The crate's one error type.

use core::fmt;

/// Everything that can go wrong in `twofa`.
///
/// Each failed check is its own variant, so a host can `match` on what happened instead of
/// reading a string. No variant carries a secret, a code or a token: errors are safe to log.
///
/// The enum is `#[non_exhaustive]`: later releases add variants, so keep a `_` arm.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A secret is shorter than the minimum: 16 bytes (128 bits, RFC 4226 R6), or 10 bytes for
    /// the constructors that import legacy secrets.
    SecretTooShort {
        /// How many bytes were given.
        len: usize,
        /// The minimum that applies.
        min: usize,
    },
    /// A secret is longer than [`Secret::MAX_LEN`](crate::Secret::MAX_LEN) bytes.
    SecretTooLong {
        /// How many bytes were given (or would have been decoded).
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// Base32 input holds a character outside `A-Z`, `a-z`, `2-7`, space, `-` and trailing `=`.
    InvalidBase32Character {
        /// Zero-based index of the offending character (in `char`s, not bytes).
        position: usize,
    },
    /// Base32 input has a number of symbols that cannot encode whole bytes
    /// (1, 3 or 6 symbols past a multiple of 8), or is empty.
    InvalidBase32Length,
    /// An algorithm name other than `SHA1`, `SHA256` or `SHA512`.
    UnknownAlgorithm,
    /// A number of digits outside 6 to 8.
    InvalidDigits {
        /// The number requested.
        digits: u32,
    },
    /// A TOTP period of 0 seconds.
    InvalidPeriod,
    /// A verification window wider than the crate allows.
    WindowTooLarge {
        /// The number of steps requested.
        requested: u32,
        /// The maximum number of steps.
        max: u32,
    },
    /// A time before the TOTP start time `T0` (or, for the system clock, before 1970).
    TimeBeforeEpoch,
    /// The code does not match, or is not made of exactly the expected number of digits.
    InvalidCode,
    /// The code matches, but for a time step at or before one already accepted: someone is
    /// using a code a second time. Show the user the same message as for
    /// [`Error::InvalidCode`]; log it and consider telling the account owner.
    ReplayedCode,
    /// The flow needs two-factor authentication to be enabled, and it is not.
    NotEnabled,
    /// Confirming an enrolment needs one to be pending (started and not yet confirmed).
    NotPending,
    /// Two-factor authentication is already enabled; disable it before enrolling again.
    AlreadyEnabled,
    /// Too many failed codes (or, from a recovery-code flow, failed recovery codes): nothing of
    /// that kind is checked until `retry_at` (Unix seconds). Show the user when to try again
    /// ("Too many attempts. Try again in 2 minutes."); the attempt was not counted.
    Throttled {
        /// The Unix time from which the next attempt is evaluated.
        retry_at: u64,
    },
    /// So many consecutive failures that codes (or, from a recovery-code flow, recovery codes)
    /// are locked: none is checked until the lockout ends (see
    /// [`ThrottlePolicy`](crate::account::ThrottlePolicy)), the other authenticator succeeds,
    /// or the host unlocks it (see [`TwoFactorRecord::unlock`](crate::account::TwoFactorRecord::unlock)).
    /// A password proof is refused with it too. Show the user the way back in — "use a
    /// recovery code" while codes are locked — never a bare error page; see
    /// [`Event::LockedOut`](crate::account::Event::LockedOut).
    LockedOut,
    /// A throttle policy outside the allowed bounds.
    InvalidThrottlePolicy,
    /// A setting outside its documented bounds; names the setting.
    InvalidSetting {
        /// The setting, such as `"device_lifetime"`.
        setting: &'static str,
    },
    /// A trusted-device token that is unknown, expired, revoked or another user's.
    InvalidDeviceToken,
    /// No trusted device has the id given to
    /// [`revoke_device`](crate::account::TwoFactorRecord::revoke_device): it was revoked,
    /// evicted or pruned already, or never existed.
    UnknownDevice,
    /// A user id the crate does not accept: see
    /// [`check_user_id`](crate::account::check_user_id) (1 to 255 bytes, no control
    /// characters).
    InvalidUserId,
    /// A trusted-device label longer than
    /// [`TrustedDevice::MAX_LABEL_LEN`](crate::account::TrustedDevice::MAX_LABEL_LEN) bytes.
    DeviceLabelTooLong,
    /// The password check refused the password.
    InvalidPassword,
    /// The proof of re-authentication is stale or was made for another user.
    ReauthenticationRequired,
    /// A stored record could not be decoded; the inner error says why.
    InvalidRecord(crate::account::RecordError),
    /// An otpauth URI could not be built or parsed; the inner error says why.
    Uri(crate::uri::UriError),
    /// A QR code could not be made; the inner error says why.
    #[cfg(feature = "std")]
    Qr(crate::qr::QrError),
    /// Recovery codes could not be made, decoded or checked; the inner error says why.
    Recovery(crate::recovery::RecoveryError),
    /// A secret could not be sealed or opened; the inner error says why.
    Seal(crate::seal::SealError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SecretTooShort { len, min } => {
                write!(f, "secret is {len} bytes long; at least {min} are required")
            }
            Self::SecretTooLong { len, max } => {
                write!(f, "secret is {len} bytes long; at most {max} are allowed")
            }
            Self::InvalidBase32Character { position } => write!(
                f,
                "base32 secret has an invalid character at position {}",
                position + 1
            ),
            Self::InvalidBase32Length => {
                f.write_str("base32 secret has a length that cannot encode whole bytes")
            }
            Self::UnknownAlgorithm => {
                f.write_str("unknown algorithm; expected SHA1, SHA256 or SHA512")
            }
            Self::InvalidDigits { digits } => {
                write!(f, "codes of {digits} digits are not supported; use 6 to 8")
            }
            Self::InvalidPeriod => f.write_str("the TOTP period must be at least 1 second"),
            Self::WindowTooLarge { requested, max } => write!(
                f,
                "a window of {requested} steps is too wide; at most {max} are allowed"
            ),
            Self::TimeBeforeEpoch => f.write_str("the time is before the TOTP start time"),
            Self::InvalidCode => f.write_str("the code is not valid"),
            Self::ReplayedCode => f.write_str("the code has already been used"),
            Self::NotEnabled => f.write_str("two-factor authentication is not enabled"),
            Self::NotPending => f.write_str("no two-factor enrolment is pending"),
            Self::AlreadyEnabled => f.write_str("two-factor authentication is already enabled"),
            Self::Throttled { retry_at } => write!(
                f,
                "too many failed attempts; try again at Unix time {retry_at}"
            ),
            Self::LockedOut => f.write_str("too many failed attempts; the account is locked"),
            Self::InvalidThrottlePolicy => {
                f.write_str("the lockout threshold must be between 1 and 100 failures")
            }
            Self::InvalidSetting { setting } => {
                write!(f, "the setting `{setting}` is outside its allowed range")
            }
            Self::InvalidDeviceToken => f.write_str("the trusted-device token is not valid"),
            Self::UnknownDevice => f.write_str("no trusted device has this id"),
            Self::InvalidUserId => f.write_str(
                "the user id must be 1 to 255 bytes of UTF-8 without control characters",
            ),
            Self::DeviceLabelTooLong => f.write_str("the trusted-device label is too long"),
            Self::InvalidPassword => f.write_str("the password is not valid"),
            Self::ReauthenticationRequired => f.write_str("confirm your password again to do this"),
            Self::InvalidRecord(e) => write!(f, "stored two-factor record: {e}"),
            Self::Uri(e) => write!(f, "otpauth URI: {e}"),
            #[cfg(feature = "std")]
            Self::Qr(e) => write!(f, "QR code: {e}"),
            Self::Recovery(e) => write!(f, "recovery codes: {e}"),
            Self::Seal(e) => write!(f, "sealed secret: {e}"),
        }
    }
}

impl Error {
    /// Whether the user typed a wrong code: [`Error::InvalidCode`], [`Error::ReplayedCode`] or
    /// a wrong recovery code ([`RecoveryError::InvalidCode`](crate::RecoveryError::InvalidCode)).
    /// Show one "invalid code" message for all of them; the variants stay apart for logs (a
    /// replay is worth a warning to the account owner).
    ///
    /// ```
    /// use twofa::{Error, RecoveryError};
    ///
    /// assert!(Error::ReplayedCode.is_wrong_code());
    /// assert!(Error::Recovery(RecoveryError::InvalidCode).is_wrong_code());
    /// assert!(!Error::Throttled { retry_at: 0 }.is_wrong_code());
    /// ```
    pub fn is_wrong_code(&self) -> bool {
        matches!(
            self,
            Self::InvalidCode
                | Self::ReplayedCode
                | Self::Recovery(crate::recovery::RecoveryError::InvalidCode)
        )
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::InvalidRecord(e) => Some(e),
            Self::Uri(e) => Some(e),
            #[cfg(feature = "std")]
            Self::Qr(e) => Some(e),
            Self::Recovery(e) => Some(e),
            Self::Seal(e) => Some(e),
            _ => None,
        }
    }
}

impl From<crate::account::RecordError> for Error {
    fn from(e: crate::account::RecordError) -> Self {
        Self::InvalidRecord(e)
    }
}

impl From<crate::uri::UriError> for Error {
    fn from(e: crate::uri::UriError) -> Self {
        Self::Uri(e)
    }
}

#[cfg(feature = "std")]
impl From<crate::qr::QrError> for Error {
    fn from(e: crate::qr::QrError) -> Self {
        Self::Qr(e)
    }
}

impl From<crate::recovery::RecoveryError> for Error {
    fn from(e: crate::recovery::RecoveryError) -> Self {
        Self::Recovery(e)
    }
}

impl From<crate::seal::SealError> for Error {
    fn from(e: crate::seal::SealError) -> Self {
        Self::Seal(e)
    }
}
