//! The flows of the product, each a pure transition of a [`TwoFactorRecord`].

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::devices::{self, DeviceToken};
use super::reauth::PasswordConfirmed;
use super::{Context, Event, State, Transition, TwoFactorRecord};
use crate::recovery::{RecoveryCodeSet, RecoveryCodes, RecoveryError};
use crate::{Error, OtpAuthUri, Secret, Totp};

/// What the "Enable 2FA" page shows: the otpauth URI (as a QR code) and the key for typing by
/// hand. Holds the secret: `Debug` hides it.
pub struct Enrollment {
    uri: OtpAuthUri,
}

impl Enrollment {
    /// The otpauth URI for the authenticator app.
    ///
    /// # Security
    ///
    /// The URI contains the secret. Show it (or its QR code) only to the user, over HTTPS,
    /// and do not log it.
    pub fn uri(&self) -> &OtpAuthUri {
        &self.uri
    }

    /// The QR code of the URI, to render as SVG or in a terminal.
    ///
    /// # Errors
    ///
    /// [`Error::Qr`] if the URI is too long for a QR code (it is not, with the default secret
    /// and reasonable issuer and account names).
    #[cfg(feature = "std")]
    pub fn qr_code(&self) -> Result<crate::QrCode, Error> {
        crate::QrCode::from_uri(&self.uri)
    }

    /// The secret in base32 in groups of four (`ABCD EFGH …`), for users who type it in.
    ///
    /// # Security
    ///
    /// This is the secret: see [`Enrollment::uri`].
    pub fn manual_key(&self) -> Zeroizing<String> {
        self.uri.manual_entry_key()
    }
}

impl fmt::Debug for Enrollment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Enrollment")
            .field("uri", &self.uri)
            .finish()
    }
}

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
    /// Flow 1, enable: makes a new secret and returns what the page shows. The record becomes
    /// *pending*; starting again replaces the pending secret.
    ///
    /// `account_name` is what the app shows under the issuer (usually the e-mail address).
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyEnabled`]; [`Error::Uri`] for an issuer or account name the Key URI
    /// format cannot carry; sealing and configuration errors.
    pub fn start_enrollment<R: CryptoRng + ?Sized>(
        &self,
        ctx: &Context<'_>,
        account_name: &str,
        rng: &mut R,
        now: u64,
    ) -> Transition<Enrollment> {
        if self.is_enabled() {
            return Transition::unchanged(self, Error::AlreadyEnabled);
        }
        let parameters = ctx.settings.new_parameters();
        let prepared = (|| {
            let secret = Secret::generate_with(rng);
            let sealed = ctx.sealer.seal(&secret, ctx.user_id)?;
            let totp = ctx.settings.verifier(secret, parameters)?;
            let uri = OtpAuthUri::from_totp(&totp, ctx.settings.issuer(), account_name)?;
            Ok::<_, Error>((sealed, uri))
        })();
        let (sealed, uri) = match prepared {
            Ok(prepared) => prepared,
            Err(error) => return Transition::unchanged(self, error),
        };
        let mut next = self.clone();
        next.state = State::Pending {
            secret: sealed,
            parameters,
            started_at: now,
        };
        next.devices.clear();
        next.throttle.reset();
        Transition {
            outcome: Ok(Enrollment { uri }),
            record: next,
            events: alloc::vec![Event::EnrollmentStarted],
            changed: true,
        }
    }

    /// Flow 1, enable: confirms the pending enrolment with a code from the app. On success 2FA
    /// is *enabled*, the code's step is recorded (it cannot be used to sign in), and a fresh
    /// set of recovery codes is returned — show them once.
    ///
    /// # Errors
    ///
    /// [`Error::NotPending`]; [`Error::InvalidCode`] (the record stays pending, and the
    /// failure counts); [`Error::Throttled`] and [`Error::LockedOut`].
    pub fn confirm_enrollment<R: CryptoRng + ?Sized>(
        &self,
        ctx: &Context<'_>,
        code: &str,
        rng: &mut R,
        now: u64,
    ) -> Transition<RecoveryCodes> {
        let State::Pending {
            secret, parameters, ..
        } = &self.state
        else {
            return Transition::unchanged(self, Error::NotPending);
        };
        if let Err(error) = self.throttle.check(ctx.settings.throttle_policy(), now) {
            return Transition::unchanged(self, error);
        }
        let totp = match open(ctx, secret, *parameters) {
            Ok(totp) => totp,
            Err(error) => return Transition::unchanged(self, error),
        };
        let step = match totp.verify_after(code, now, None) {
            Ok(verified) => verified.step,
            Err(error) => return self.failed(ctx, error, now),
        };
        let (codes, recovery) = match new_recovery_codes(ctx, rng) {
            Ok(made) => made,
            Err(error) => return Transition::unchanged(self, error),
        };
        let next = TwoFactorRecord {
            state: State::Enabled {
                secret: secret.clone(),
                parameters: *parameters,
                enabled_at: now,
                last_step: Some(step),
                recovery,
            },
            throttle: Default::default(),
            devices: Vec::new(),
        };
        Transition {
            outcome: Ok(codes),
            record: next,
            events: alloc::vec![Event::Enabled],
            changed: true,
        }
    }

    /// Abandons a pending enrolment (the user closed the page); nothing else changes.
    ///
    /// # Errors
    ///
    /// [`Error::NotPending`].
    pub fn cancel_enrollment(&self) -> Transition<()> {
        if !matches!(self.state, State::Pending { .. }) {
            return Transition::unchanged(self, Error::NotPending);
        }
        let mut next = self.clone();
        next.state = State::Disabled;
        Transition {
            outcome: Ok(()),
            record: next,
            events: alloc::vec![Event::EnrollmentCancelled],
            changed: true,
        }
    }

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
        match recovery.use_code(code, ctx.hasher) {
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
        if !self.is_enabled() {
            return Transition::unchanged(self, Error::NotEnabled);
        }
        let mut next = self.clone();
        let mut events = Vec::new();
        if let Err(error) = next.reauthenticate(ctx, proof, now, &mut events) {
            return next.settle_failure(self, error, events);
        }
        let (codes, set) = match new_recovery_codes(ctx, rng) {
            Ok(made) => made,
            Err(error) => return Transition::unchanged(self, error),
        };
        if let State::Enabled { recovery, .. } = &mut next.state {
            *recovery = set;
        }
        events.push(Event::RecoveryCodesRegenerated);
        Transition {
            outcome: Ok(codes),
            record: next,
            events,
            changed: true,
        }
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
        if !self.is_enabled() {
            return Transition::unchanged(self, Error::NotEnabled);
        }
        let mut next = self.clone();
        let mut events = Vec::new();
        if let Err(error) = next.reauthenticate(ctx, proof, now, &mut events) {
            return next.settle_failure(self, error, events);
        }
        events.push(Event::Disabled);
        Transition {
            outcome: Ok(()),
            record: TwoFactorRecord::default(),
            events,
            changed: true,
        }
    }

    /// Trusts the device the user just signed in on (within [`SignedIn::TRUST_WINDOW`] of
    /// `signed_in`), for
    /// [`Settings::device_lifetime`](super::Settings::device_lifetime). Returns the token for
    /// the cookie; the record keeps only its hash. The oldest device is forgotten when the
    /// list is full, and expired ones are pruned.
    ///
    /// # Errors
    ///
    /// [`Error::NotEnabled`]; [`Error::DeviceLabelTooLong`];
    /// [`Error::ReauthenticationRequired`] when `signed_in` is another user's or older than
    /// [`SignedIn::TRUST_WINDOW`].
    pub fn trust_device<R: CryptoRng + ?Sized>(
        &self,
        ctx: &Context<'_>,
        signed_in: &SignedIn,
        label: Option<&str>,
        rng: &mut R,
        now: u64,
    ) -> Transition<DeviceToken> {
        if !self.is_enabled() {
            return Transition::unchanged(self, Error::NotEnabled);
        }
        let fresh = now >= signed_in.at && now - signed_in.at <= SignedIn::TRUST_WINDOW;
        if signed_in.user_id != ctx.user_id || !fresh {
            return Transition::unchanged(self, Error::ReauthenticationRequired);
        }
        let issued = devices::issue(
            ctx.user_id,
            label,
            rng,
            now,
            ctx.settings.device_lifetime_secs(),
        );
        let (device, token) = match issued {
            Ok(issued) => issued,
            Err(error) => return Transition::unchanged(self, error),
        };
        let mut next = self.clone();
        let mut events = Vec::new();
        next.devices.retain(|d| !d.is_expired(now));
        while next.devices.len() >= ctx.settings.max_device_count() {
            let oldest = next
                .devices
                .iter()
                .enumerate()
                .min_by_key(|(_, d)| d.created_at)
                .map(|(i, _)| i);
            let Some(index) = oldest else { break };
            let evicted = next.devices.remove(index);
            events.push(Event::DeviceRevoked {
                device_id: evicted.id(),
            });
        }
        events.push(Event::DeviceTrusted {
            device_id: device.id(),
        });
        next.devices.push(device);
        Transition {
            outcome: Ok(token),
            record: next,
            events,
            changed: true,
        }
    }

    /// Whether a device token from a cookie lets this user skip the code at `now`. A read-only
    /// check: nothing to store.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidDeviceToken`] for an unknown, expired, revoked or another user's token,
    /// and whenever 2FA is not enabled.
    pub fn check_device(
        &self,
        ctx: &Context<'_>,
        token: &str,
        now: u64,
    ) -> Result<&super::TrustedDevice, Error> {
        if !self.is_enabled() {
            return Err(Error::InvalidDeviceToken);
        }
        devices::find(&self.devices, ctx.user_id, token, now).ok_or(Error::InvalidDeviceToken)
    }

    /// Revokes one trusted device by its [`id`](super::TrustedDevice::id).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidDeviceToken`] when no device has that id.
    pub fn revoke_device(&self, device_id: &str) -> Transition<()> {
        let mut next = self.clone();
        let before = next.devices.len();
        next.devices.retain(|d| d.id() != device_id);
        if next.devices.len() == before {
            return Transition::unchanged(self, Error::InvalidDeviceToken);
        }
        Transition {
            outcome: Ok(()),
            record: next,
            events: alloc::vec![Event::DeviceRevoked {
                device_id: device_id.into()
            }],
            changed: true,
        }
    }

    /// Revokes every trusted device. Call it when the password changes or the user asks to
    /// sign out everywhere.
    pub fn revoke_all_devices(&self) -> Transition<()> {
        let mut next = self.clone();
        let changed = !next.devices.is_empty();
        next.devices.clear();
        Transition {
            outcome: Ok(()),
            record: next,
            events: if changed {
                alloc::vec![Event::AllDevicesRevoked]
            } else {
                Vec::new()
            },
            changed,
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

    /// Seals the secret again under the sealer's current key, if it was sealed under an older
    /// one (key rotation). The outcome says whether anything changed.
    ///
    /// # Errors
    ///
    /// The sealer's errors, such as an unknown key id.
    pub fn reseal(&self, ctx: &Context<'_>) -> Transition<bool> {
        let mut next = self.clone();
        let sealed = match &mut next.state {
            State::Disabled => return Transition::unchanged_ok(self, false),
            State::Pending { secret, .. } | State::Enabled { secret, .. } => secret,
        };
        match ctx.sealer.reseal(sealed, ctx.user_id) {
            Ok(None) => Transition::unchanged_ok(self, false),
            Ok(Some(new)) => {
                *sealed = new;
                Transition {
                    outcome: Ok(true),
                    record: next,
                    events: alloc::vec![Event::SecretResealed],
                    changed: true,
                }
            }
            Err(error) => Transition::unchanged(self, error),
        }
    }

    /// Checks a sign-in code on `self` (already a copy), updating the step and throttle.
    fn check_code(
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
                if self.throttle.locked {
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

    /// Counts a failed code and returns the failure with the updated record.
    fn failed<T>(&self, ctx: &Context<'_>, error: Error, now: u64) -> Transition<T> {
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
    fn settle_failure<T>(
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

impl<T> Transition<T> {
    fn unchanged_ok(record: &TwoFactorRecord, value: T) -> Self {
        Transition {
            outcome: Ok(value),
            record: record.clone(),
            events: Vec::new(),
            changed: false,
        }
    }
}

/// A fresh set of recovery codes of the configured size.
fn new_recovery_codes<R: CryptoRng + ?Sized>(
    ctx: &Context<'_>,
    rng: &mut R,
) -> Result<(RecoveryCodes, RecoveryCodeSet), Error> {
    RecoveryCodeSet::generate_with(ctx.hasher, rng, ctx.settings.recovery_code_count())
}

/// Opens the sealed secret and builds its verifier.
fn open(
    ctx: &Context<'_>,
    sealed: &crate::seal::SealedSecret,
    parameters: super::settings::TotpParameters,
) -> Result<Totp, Error> {
    let secret = ctx.sealer.open(sealed, ctx.user_id)?;
    ctx.settings.verifier(secret, parameters)
}
