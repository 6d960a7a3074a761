//! Flow 1, enable: start an enrolment, confirm it with a code, or cancel it; and resealing
//! the secret under a new key.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::new_codes::{NeedsCodes, Purpose, new_recovery_codes};
use super::proof::PasswordConfirmed;
use super::{Context, Event, State, Transition, TwoFactorRecord};
use crate::recovery::RecoveryCodes;
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
    /// `proof` is the user's password, confirmed again just now (OWASP ASVS V7.5.1 asks for
    /// re-authentication before second-factor settings change): without it, a stolen session
    /// on an account without 2FA could enrol the thief's app and take the recovery codes. A
    /// code cannot be the proof, since there is no second factor yet. Hosts that checked the
    /// password in this very request (at sign-up, say) may pass `None` after
    /// [`Settings::allow_enrollment_without_reauthentication`](super::Settings::allow_enrollment_without_reauthentication).
    ///
    /// `account_name` is what the app shows under the issuer (usually the e-mail address).
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyEnabled`]; [`Error::ReauthenticationRequired`] for a missing, stale or
    /// foreign proof; [`Error::Uri`] for an account name the Key URI format cannot carry;
    /// sealing and configuration errors.
    pub fn start_enrollment<R: CryptoRng + ?Sized>(
        &self,
        ctx: &Context<'_>,
        proof: Option<&PasswordConfirmed>,
        account_name: &str,
        rng: &mut R,
        now: u64,
    ) -> Transition<Enrollment> {
        if self.is_enabled() {
            return Transition::unchanged(self, Error::AlreadyEnabled);
        }
        let reauthenticated = match proof {
            Some(proof) => {
                proof.is_valid_for(ctx.user_id, now, ctx.settings.reauthentication_secs())
            }
            None => !ctx.settings.enrollment_needs_reauthentication(),
        };
        if !reauthenticated {
            return Transition::unchanged(self, Error::ReauthenticationRequired);
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
        // Not enabled, so there are no devices to drop.
        let mut next = self.clone();
        next.state = State::Pending {
            secret: sealed,
            parameters,
            started_at: now,
        };
        next.throttle.reset();
        next.recovery_throttle.reset();
        Transition::changed_to(
            next,
            Ok(Enrollment { uri }),
            alloc::vec![Event::EnrollmentStarted],
        )
    }

    /// Flow 1, enable: confirms the pending enrolment with a code from the app. On success 2FA
    /// is *enabled*, the code's step is recorded (it cannot be used to sign in), and a fresh
    /// set of recovery codes is returned — show them once. The code is checked as at sign-in:
    /// throttled, and a wrong code counts as a failure.
    ///
    /// # Errors
    ///
    /// [`Error::NotPending`]; [`Error::InvalidCode`] (the record stays pending, and the
    /// failure counts); [`Error::Throttled`] and [`Error::LockedOut`]; the errors of making
    /// recovery codes (the record then stays pending and unchanged).
    pub fn confirm_enrollment<R: CryptoRng + ?Sized>(
        &self,
        ctx: &Context<'_>,
        code: &str,
        rng: &mut R,
        now: u64,
    ) -> Transition<RecoveryCodes> {
        match self.confirm_enrollment_checked(ctx, code, now) {
            Ok(checked) => checked.finish(new_recovery_codes(ctx, rng)),
            Err(failed) => failed,
        }
    }

    /// [`TwoFactorRecord::confirm_enrollment`] up to the point where it needs the new codes:
    /// the record checked and changed, waiting for a set (the service derives it away from
    /// the executor, once per request); or the flow, failed before needing one.
    #[allow(clippy::result_large_err)] // the Err is the flow's result, returned as is
    pub(crate) fn confirm_enrollment_checked(
        &self,
        ctx: &Context<'_>,
        code: &str,
        now: u64,
    ) -> Result<NeedsCodes<'_>, Transition<RecoveryCodes>> {
        if !matches!(self.state, State::Pending { .. }) {
            return Err(Transition::unchanged(self, Error::NotPending));
        }
        let mut next = self.clone();
        let mut events = Vec::new();
        match next.check_code(ctx, code, now, &mut events) {
            Ok(checked) => {
                let step = checked.verified.step;
                Ok(NeedsCodes::new(
                    self,
                    next,
                    events,
                    Purpose::Enable { step, now },
                ))
            }
            Err(error) => Err(next.settle_failure(self, error, events)),
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
        Transition::changed_to(next, Ok(()), alloc::vec![Event::EnrollmentCancelled])
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
                Transition::changed_to(next, Ok(true), alloc::vec![Event::SecretResealed])
            }
            Err(error) => Transition::unchanged(self, error),
        }
    }
}
