//! What a host configures once for all its users.

use alloc::string::String;

use crate::{Algorithm, Error, Secret, Totp};

use super::devices::DeviceKey;
use super::throttle::ThrottlePolicy;

/// The host's 2FA settings: the issuer name shown in authenticator apps, the TOTP parameters
/// for new enrolments, the verification window, recovery codes, throttling and trusted devices.
///
/// The defaults are the widely compatible and safe choices: SHA-1, 6 digits, 30 s, one step
/// each way, 10 recovery codes, [`ThrottlePolicy::default`], devices trusted for 30 days and at
/// most 10 of them, password proofs valid 5 minutes, and enrolment only after the password
/// was confirmed again.
///
/// Hosts that offer "trust this device" also set a [`DeviceKey`] with
/// [`Settings::device_key`].
///
/// The TOTP parameters apply to *new* enrolments; an enrolled user's record keeps the
/// parameters their authenticator app was set up with.
///
/// ```
/// use twofa::account::Settings;
///
/// let settings = Settings::new("Plausible Analytics")?
///     .window(1, 1)?
///     .device_lifetime(14 * 24 * 3600)?;
/// assert_eq!(settings.issuer(), "Plausible Analytics");
/// assert!(Settings::new("Acme: EU").is_err()); // a colon cannot appear in the label
/// # Ok::<(), twofa::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Settings {
    issuer: String,
    algorithm: Algorithm,
    digits: u32,
    period: u64,
    window_back: u32,
    window_forward: u32,
    recovery_codes: usize,
    throttle: ThrottlePolicy,
    recovery_throttle: ThrottlePolicy,
    device_lifetime: u64,
    max_devices: usize,
    reauthentication_lifetime: u64,
    enrollment_needs_reauthentication: bool,
    device_key: Option<DeviceKey>,
}

impl Settings {
    /// Thirty days, in seconds: how long a trusted device skips the code by default.
    pub const DEFAULT_DEVICE_LIFETIME: u64 = 30 * 24 * 3600;
    /// The most trusted devices a user may have by default; the oldest is forgotten first.
    pub const DEFAULT_MAX_DEVICES: usize = 10;
    /// The ceiling on [`Settings::max_devices`].
    pub const MAX_DEVICES: usize = 50;

    /// The shortest device lifetime accepted, in seconds.
    pub const MIN_DEVICE_LIFETIME: u64 = 60;
    /// The longest device lifetime accepted, in seconds: one year. A stolen cookie should not
    /// skip the second factor for longer.
    pub const MAX_DEVICE_LIFETIME: u64 = 365 * 24 * 3600;
    /// How long a password proof stays valid by default, in seconds (5 minutes).
    pub const DEFAULT_REAUTHENTICATION_LIFETIME: u64 = 300;
    /// The longest a password proof may stay valid, in seconds (one hour): re-authentication
    /// means the user was just there.
    pub const MAX_REAUTHENTICATION_LIFETIME: u64 = 3600;

    /// The defaults, with the issuer name authenticator apps show above the code.
    ///
    /// # Errors
    ///
    /// [`Error::Uri`] when the issuer cannot appear in an otpauth URI (it contains `:` or is
    /// longer than the label allows).
    pub fn new(issuer: &str) -> Result<Settings, Error> {
        crate::uri::check_issuer(issuer)?;
        Ok(Settings {
            issuer: issuer.trim().into(),
            algorithm: Algorithm::Sha1,
            digits: 6,
            period: 30,
            window_back: 1,
            window_forward: 1,
            recovery_codes: crate::recovery::RecoveryCodeSet::DEFAULT_COUNT,
            throttle: ThrottlePolicy::default(),
            recovery_throttle: ThrottlePolicy::for_recovery_codes(),
            device_lifetime: Self::DEFAULT_DEVICE_LIFETIME,
            max_devices: Self::DEFAULT_MAX_DEVICES,
            reauthentication_lifetime: Self::DEFAULT_REAUTHENTICATION_LIFETIME,
            enrollment_needs_reauthentication: true,
            device_key: None,
        })
    }

    /// The TOTP algorithm, digits and period for new enrolments. Many authenticator apps
    /// ignore anything but SHA-1, 6 digits and 30 s (see
    /// [`OtpAuthUri::compatibility`](crate::OtpAuthUri::compatibility)).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidDigits`] outside 6 to 8; [`Error::InvalidPeriod`] for 0.
    pub fn totp(mut self, algorithm: Algorithm, digits: u32, period: u64) -> Result<Self, Error> {
        crate::otp::check_digits(digits)?;
        crate::otp::check_period(period)?;
        self.algorithm = algorithm;
        self.digits = digits;
        self.period = period;
        Ok(self)
    }

    /// Steps accepted before and after the current one (default 1 and 1).
    ///
    /// # Errors
    ///
    /// [`Error::WindowTooLarge`] over [`Totp::MAX_WINDOW`] on either side.
    pub fn window(mut self, back: u32, forward: u32) -> Result<Self, Error> {
        crate::otp::check_window(back, forward)?;
        self.window_back = back;
        self.window_forward = forward;
        Ok(self)
    }

    /// How many recovery codes a new set has (default 10).
    ///
    /// # Errors
    ///
    /// [`RecoveryError::InvalidCount`](crate::RecoveryError::InvalidCount) outside
    /// [`RecoveryCodeSet::MIN_COUNT`](crate::RecoveryCodeSet::MIN_COUNT) to
    /// [`RecoveryCodeSet::MAX_COUNT`](crate::RecoveryCodeSet::MAX_COUNT).
    pub fn recovery_codes(mut self, count: usize) -> Result<Self, Error> {
        crate::recovery::RecoveryCodeSet::check_count(count)?;
        self.recovery_codes = count;
        Ok(self)
    }

    /// How failed codes from the app are slowed down and finally locked out (default
    /// [`ThrottlePolicy::default`]).
    pub fn throttle(mut self, policy: ThrottlePolicy) -> Self {
        self.throttle = policy;
        self
    }

    /// How failed recovery codes are slowed down and finally locked out, apart from codes
    /// (default [`ThrottlePolicy::for_recovery_codes`]). A lockout of codes leaves recovery
    /// codes working, so the owner keeps a way in; see [`ThrottlePolicy`].
    pub fn recovery_code_throttle(mut self, policy: ThrottlePolicy) -> Self {
        self.recovery_throttle = policy;
        self
    }

    /// How long a trusted device skips the code, in seconds (default 30 days).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSetting`] under [`Settings::MIN_DEVICE_LIFETIME`] or over
    /// [`Settings::MAX_DEVICE_LIFETIME`].
    pub fn device_lifetime(mut self, seconds: u64) -> Result<Self, Error> {
        if !(Self::MIN_DEVICE_LIFETIME..=Self::MAX_DEVICE_LIFETIME).contains(&seconds) {
            return Err(Error::InvalidSetting {
                setting: "device_lifetime",
            });
        }
        self.device_lifetime = seconds;
        Ok(self)
    }

    /// The most trusted devices per user (default 10); when a new one would exceed it, the
    /// oldest is forgotten.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSetting`] for 0 or more than [`Settings::MAX_DEVICES`].
    pub fn max_devices(mut self, count: usize) -> Result<Self, Error> {
        if count == 0 || count > Self::MAX_DEVICES {
            return Err(Error::InvalidSetting {
                setting: "max_devices",
            });
        }
        self.max_devices = count;
        Ok(self)
    }

    /// How long a [`PasswordConfirmed`](super::PasswordConfirmed) proof, or a
    /// [`SignedIn`](super::SignedIn) used as
    /// [`Reauthentication::SecondFactor`](super::Reauthentication::SecondFactor), stays valid,
    /// in seconds (default 300). A web layer whose step-up accepts "a second factor in the last
    /// 10 minutes" sets 600.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSetting`] for 0 or over [`Settings::MAX_REAUTHENTICATION_LIFETIME`].
    pub fn reauthentication_lifetime(mut self, seconds: u64) -> Result<Self, Error> {
        if !(1..=Self::MAX_REAUTHENTICATION_LIFETIME).contains(&seconds) {
            return Err(Error::InvalidSetting {
                setting: "reauthentication_lifetime",
            });
        }
        self.reauthentication_lifetime = seconds;
        Ok(self)
    }

    /// Lets [`TwoFactorRecord::start_enrollment`](super::TwoFactorRecord::start_enrollment)
    /// run without a password proof. Only for hosts that checked the password in the same
    /// request that starts the enrolment (at sign-up, for instance): otherwise anyone holding a
    /// stolen session could enrol their own app.
    pub fn allow_enrollment_without_reauthentication(mut self) -> Self {
        self.enrollment_needs_reauthentication = false;
        self
    }

    /// The key device tokens are hashed with; without one,
    /// [`trust_device`](super::TwoFactorRecord::trust_device) and
    /// [`sign_in_with_device`](super::TwoFactorRecord::sign_in_with_device) refuse with
    /// [`Error::InvalidSetting`]. Changing it makes every trusted device ask for a code again.
    pub fn device_key(mut self, key: DeviceKey) -> Self {
        self.device_key = Some(key);
        self
    }

    /// The issuer name.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The throttle policy of codes from the app.
    pub fn throttle_policy(&self) -> &ThrottlePolicy {
        &self.throttle
    }

    /// The throttle policy of recovery codes.
    pub fn recovery_code_throttle_policy(&self) -> &ThrottlePolicy {
        &self.recovery_throttle
    }

    pub(crate) fn recovery_code_count(&self) -> usize {
        self.recovery_codes
    }

    pub(crate) fn device_lifetime_secs(&self) -> u64 {
        self.device_lifetime
    }

    pub(crate) fn max_device_count(&self) -> usize {
        self.max_devices
    }

    /// How long (seconds) a confirmed password or a second-factor sign-in counts as recent
    /// for re-authentication; see [`reauthentication_lifetime`](Self::reauthentication_lifetime).
    pub fn reauthentication_secs(&self) -> u64 {
        self.reauthentication_lifetime
    }

    pub(crate) fn enrollment_needs_reauthentication(&self) -> bool {
        self.enrollment_needs_reauthentication
    }

    pub(crate) fn device_key_ref(&self) -> Option<&DeviceKey> {
        self.device_key.as_ref()
    }

    pub(crate) fn new_parameters(&self) -> TotpParameters {
        TotpParameters {
            algorithm: self.algorithm,
            digits: self.digits,
            period: self.period,
        }
    }

    /// The verifier for a stored secret with the parameters it was enrolled with.
    pub(crate) fn verifier(
        &self,
        secret: Secret,
        parameters: TotpParameters,
    ) -> Result<Totp, Error> {
        Totp::builder(secret)
            .algorithm(parameters.algorithm)
            .digits(parameters.digits)
            .period(parameters.period)
            .window(self.window_back, self.window_forward)
            .build()
    }
}

/// The TOTP parameters a user's authenticator app was set up with, kept in the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TotpParameters {
    pub(crate) algorithm: Algorithm,
    pub(crate) digits: u32,
    pub(crate) period: u64,
}
