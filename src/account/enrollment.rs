//! Flow 1, enable: start an enrolment, confirm it with a code, or cancel it; and resealing
//! the secret under a new key.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::sign_in::open;
use super::{Context, Event, State, Transition, TwoFactorRecord};
use crate::recovery::{RecoveryCodeSet, RecoveryCodes};
use crate::{Error, OtpAuthUri, Secret};

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
            let issuer = Some(ctx.settings.issuer()).filter(|issuer| !issuer.is_empty());
            let uri = OtpAuthUri::for_totp(&totp, account_name)
                .issuer(issuer)
                .build()?;
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
}

/// A fresh set of recovery codes of the configured size.
pub(super) fn new_recovery_codes<R: CryptoRng + ?Sized>(
    ctx: &Context<'_>,
    rng: &mut R,
) -> Result<(RecoveryCodes, RecoveryCodeSet), Error> {
    RecoveryCodeSet::generate_with(
        ctx.hasher,
        ctx.user_id(),
        rng,
        ctx.settings.recovery_code_count(),
    )
}
