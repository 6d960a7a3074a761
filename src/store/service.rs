//! The service: every flow as load → transition → compare-and-swap save, retried on conflict.

use std::fmt;
use std::sync::Arc;

use super::{SaveOutcome, Store};
use crate::Error;
use crate::account::{
    Context, DeviceToken, Enrollment, Outcome, PasswordConfirmed, Reauthentication, Settings,
    SignedIn, Status, Transition, TrustedDevice, TwoFactorRecord,
};
use crate::recovery::{CodeHasher, RecoveryCodes};
use crate::seal::SecretSealer;

/// The time source of the service, in Unix seconds. Inject one in tests to move time.
///
/// Any `Fn() -> u64 + Send + Sync` is a clock.
pub trait Clock: Send + Sync {
    /// The current Unix time in seconds.
    ///
    /// # Errors
    ///
    /// When the time cannot be read; the service then refuses the flow (fails closed) with
    /// this error and changes nothing.
    fn now(&self) -> Result<u64, Error>;
}

impl<F: Fn() -> u64 + Send + Sync> Clock for F {
    fn now(&self) -> Result<u64, Error> {
        Ok(self())
    }
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// # Errors
    ///
    /// [`Error::TimeBeforeEpoch`] when the system clock reads a time before 1970.
    fn now(&self) -> Result<u64, Error> {
        crate::otp::unix_now()
    }
}

/// Why the service could not complete a flow at all (as opposed to the flow failing, which
/// is [`Outcome::result`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum ServiceError<E> {
    /// The store failed. Nothing was half-applied: the store's record is the old one or the
    /// new one.
    Store(E),
    /// Other requests kept changing the record; the flow was retried
    /// [`TwoFactor::max_retries`] times and given up. Nothing was written.
    Contention,
    /// The user id is one the crate refuses (see
    /// [`check_user_id`](crate::account::check_user_id)); the store was not asked. A bug in
    /// the host, not something the user did.
    InvalidUserId,
}

impl<E: fmt::Display> fmt::Display for ServiceError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Store(e) => write!(f, "two-factor store: {e}"),
            Self::Contention => f.write_str("two-factor record kept changing; try again"),
            Self::InvalidUserId => f.write_str("invalid user id for two-factor authentication"),
        }
    }
}

impl<E: core::error::Error + 'static> core::error::Error for ServiceError<E> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Store(e) => Some(e),
            Self::Contention | Self::InvalidUserId => None,
        }
    }
}

/// Two-factor authentication for an async web application: one method per flow, each
/// loading the user's record from the [`Store`], applying the flow, and saving with
/// compare-and-swap, retrying on conflict against fresh state.
///
/// See the [crate documentation](crate) for the whole flow.
pub struct TwoFactor<S: Store> {
    store: S,
    settings: Settings,
    sealer: Arc<dyn SecretSealer>,
    hasher: Arc<dyn CodeHasher>,
    clock: Arc<dyn Clock>,
    max_retries: u32,
}

impl<S: Store> TwoFactor<S> {
    /// The default number of retries after a conflict.
    pub const DEFAULT_MAX_RETRIES: u32 = 32;

    /// A service over `store` with the system clock.
    pub fn new(
        store: S,
        settings: Settings,
        sealer: Arc<dyn SecretSealer>,
        hasher: Arc<dyn CodeHasher>,
    ) -> Self {
        TwoFactor {
            store,
            settings,
            sealer,
            hasher,
            clock: Arc::new(SystemClock),
            max_retries: Self::DEFAULT_MAX_RETRIES,
        }
    }

    /// Replaces the clock (for tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How many times a flow is re-run after a conflicting save (default 32).
    #[must_use]
    pub fn with_max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The retry bound.
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The current time by the service's clock, for the proofs the flows take
    /// ([`PasswordConfirmed::check`]).
    ///
    /// # Errors
    ///
    /// The clock's error, such as [`Error::TimeBeforeEpoch`].
    pub fn now(&self) -> Result<u64, Error> {
        self.clock.now()
    }

    /// The user's record, or `None` when the user never had one: a record that exists is
    /// never deleted, so `None` means "never enrolled", while a disabled record means 2FA was
    /// turned off (or an enrolment started and was cancelled).
    ///
    /// # Errors
    ///
    /// [`ServiceError::Store`]; [`ServiceError::InvalidUserId`].
    pub async fn record(
        &self,
        user_id: &str,
    ) -> Result<Option<TwoFactorRecord>, ServiceError<S::Error>> {
        crate::account::check_user_id(user_id).map_err(|_| ServiceError::InvalidUserId)?;
        Ok(self
            .store
            .load(user_id)
            .await
            .map_err(ServiceError::Store)?
            .map(|v| v.record))
    }

    /// Where the user stands: off (also when never enrolled), pending or enabled.
    ///
    /// # Errors
    ///
    /// As [`TwoFactor::record`].
    pub async fn status(&self, user_id: &str) -> Result<Status, ServiceError<S::Error>> {
        Ok(self
            .record(user_id)
            .await?
            .map_or(Status::Disabled, |record| record.status()))
    }

    /// Starts (or restarts) enrolment, after the password was confirmed again; see
    /// [`TwoFactorRecord::start_enrollment`].
    ///
    /// # Errors
    ///
    /// [`ServiceError`] when the store fails, the record keeps changing, or the user id is
    /// refused; the flow's own errors are in the outcome.
    pub async fn start_enrollment(
        &self,
        user_id: &str,
        proof: Option<&PasswordConfirmed>,
        account_name: &str,
    ) -> Result<Outcome<Enrollment>, ServiceError<S::Error>> {
        self.apply(user_id, |record, ctx, now| {
            record.start_enrollment(ctx, proof, account_name, &mut crate::os_rng(), now)
        })
        .await
    }

    /// Confirms enrolment with a code from the app; see
    /// [`TwoFactorRecord::confirm_enrollment`].
    ///
    /// # Errors
    ///
    /// As [`TwoFactor::start_enrollment`].
    pub async fn confirm_enrollment(
        &self,
        user_id: &str,
        code: &str,
    ) -> Result<Outcome<RecoveryCodes>, ServiceError<S::Error>> {
        self.apply(user_id, |record, ctx, now| {
            record.confirm_enrollment(ctx, code, &mut crate::os_rng(), now)
        })
        .await
    }

    /// Abandons a pending enrolment; see [`TwoFactorRecord::cancel_enrollment`].
    ///
    /// # Errors
    ///
    /// As [`TwoFactor::start_enrollment`].
    pub async fn cancel_enrollment(
        &self,
        user_id: &str,
    ) -> Result<Outcome<()>, ServiceError<S::Error>> {
        self.apply(user_id, |record, _, _| record.cancel_enrollment())
            .await
    }

    /// Checks a sign-in code; see [`TwoFactorRecord::verify_code`]. Concurrent calls with the
    /// same code succeed exactly once.
    ///
    /// # Errors
    ///
    /// As [`TwoFactor::start_enrollment`].
    pub async fn verify_code(
        &self,
        user_id: &str,
        code: &str,
    ) -> Result<Outcome<SignedIn>, ServiceError<S::Error>> {
        self.apply(user_id, |record, ctx, now| {
            record.verify_code(ctx, code, now)
        })
        .await
    }

    /// Signs in with a recovery code, using it up; see
    /// [`TwoFactorRecord::use_recovery_code`]. A code works exactly once, also under
    /// concurrency.
    ///
    /// # Errors
    ///
    /// As [`TwoFactor::start_enrollment`].
    pub async fn use_recovery_code(
        &self,
        user_id: &str,
        code: &str,
    ) -> Result<Outcome<SignedIn>, ServiceError<S::Error>> {
        self.apply(user_id, |record, ctx, now| {
            record.use_recovery_code(ctx, code, now)
        })
        .await
    }

    /// Replaces the recovery codes after re-authentication; see
    /// [`TwoFactorRecord::regenerate_recovery_codes`].
    ///
    /// # Errors
    ///
    /// As [`TwoFactor::start_enrollment`].
    pub async fn regenerate_recovery_codes(
        &self,
        user_id: &str,
        proof: Reauthentication<'_>,
    ) -> Result<Outcome<RecoveryCodes>, ServiceError<S::Error>> {
        self.apply(user_id, |record, ctx, now| {
            record.regenerate_recovery_codes(ctx, proof.clone(), &mut crate::os_rng(), now)
        })
        .await
    }

    /// Turns two-factor authentication off after re-authentication; see
    /// [`TwoFactorRecord::disable`].
    ///
    /// # Errors
    ///
    /// As [`TwoFactor::start_enrollment`].
    pub async fn disable(
        &self,
        user_id: &str,
        proof: Reauthentication<'_>,
    ) -> Result<Outcome<()>, ServiceError<S::Error>> {
        self.apply(user_id, |record, ctx, now| {
            record.disable(ctx, proof.clone(), now)
        })
        .await
    }

    /// Trusts the device the user just signed in on; see [`TwoFactorRecord::trust_device`].
    ///
    /// # Errors
    ///
    /// As [`TwoFactor::start_enrollment`].
    pub async fn trust_device(
        &self,
        user_id: &str,
        signed_in: &SignedIn,
        label: Option<&str>,
    ) -> Result<Outcome<DeviceToken>, ServiceError<S::Error>> {
        self.apply(user_id, |record, ctx, now| {
            record.trust_device(ctx, signed_in, label, &mut crate::os_rng(), now)
        })
        .await
    }

    /// Whether a device token from a cookie lets the user skip the code now, and which device
    /// it is; see [`TwoFactorRecord::check_device`]. A read-only check: nothing is saved, and
    /// no event is reported.
    ///
    /// # Errors
    ///
    /// As [`TwoFactor::start_enrollment`].
    pub async fn check_device(
        &self,
        user_id: &str,
        token: &str,
    ) -> Result<Outcome<TrustedDevice>, ServiceError<S::Error>> {
        let record = self.record(user_id).await?.unwrap_or_default();
        let ctx = self.context(user_id)?;
        let result = self
            .clock
            .now()
            .and_then(|now| record.check_device(&ctx, token, now).cloned());
        Ok(Outcome {
            result,
            events: Vec::new(),
        })
    }

    /// Revokes one trusted device; see [`TwoFactorRecord::revoke_device`].
    ///
    /// # Errors
    ///
    /// As [`TwoFactor::start_enrollment`].
    pub async fn revoke_device(
        &self,
        user_id: &str,
        device_id: &str,
    ) -> Result<Outcome<()>, ServiceError<S::Error>> {
        self.apply(user_id, |record, _, _| record.revoke_device(device_id))
            .await
    }

    /// Revokes every trusted device (call it on password change); see
    /// [`TwoFactorRecord::revoke_all_devices`].
    ///
    /// # Errors
    ///
    /// As [`TwoFactor::start_enrollment`].
    pub async fn revoke_all_devices(
        &self,
        user_id: &str,
    ) -> Result<Outcome<()>, ServiceError<S::Error>> {
        self.apply(user_id, |record, _, now| record.revoke_all_devices(now))
            .await
    }

    /// Lifts a lockout; see [`TwoFactorRecord::unlock`].
    ///
    /// # Errors
    ///
    /// As [`TwoFactor::start_enrollment`].
    pub async fn unlock(&self, user_id: &str) -> Result<Outcome<()>, ServiceError<S::Error>> {
        self.apply(user_id, |record, _, _| record.unlock()).await
    }

    /// Reseals the user's secret under the sealer's current key; see
    /// [`TwoFactorRecord::reseal`].
    ///
    /// # Errors
    ///
    /// As [`TwoFactor::start_enrollment`].
    pub async fn reseal(&self, user_id: &str) -> Result<Outcome<bool>, ServiceError<S::Error>> {
        self.apply(user_id, |record, ctx, _| record.reseal(ctx))
            .await
    }

    fn context<'a>(&'a self, user_id: &'a str) -> Result<Context<'a>, ServiceError<S::Error>> {
        Context::new(user_id, &self.settings, &*self.sealer, &*self.hasher)
            .map_err(|_| ServiceError::InvalidUserId)
    }

    /// Load → transition → compare-and-swap save, re-running the transition on fresh state
    /// after a conflict. A transition that changes nothing saves nothing.
    async fn apply<T>(
        &self,
        user_id: &str,
        flow: impl Fn(&TwoFactorRecord, &Context<'_>, u64) -> Transition<T> + Send,
    ) -> Result<Outcome<T>, ServiceError<S::Error>> {
        let ctx = self.context(user_id)?;
        for _ in 0..=self.max_retries {
            let loaded = self
                .store
                .load(user_id)
                .await
                .map_err(ServiceError::Store)?;
            let (record, version) = match loaded {
                Some(v) => (v.record, Some(v.version)),
                None => (TwoFactorRecord::new(), None),
            };
            let now = match self.clock.now() {
                Ok(now) => now,
                Err(error) => {
                    return Ok(Outcome {
                        result: Err(error),
                        events: Vec::new(),
                    });
                }
            };
            let (outcome, next, changed) = flow(&record, &ctx, now).into_parts();
            if !changed {
                return Ok(outcome);
            }
            let saved = self
                .store
                .save(user_id, &next, version)
                .await
                .map_err(ServiceError::Store)?;
            if saved == SaveOutcome::Saved {
                return Ok(outcome);
            }
        }
        Err(ServiceError::Contention)
    }
}

impl<S: Store + fmt::Debug> fmt::Debug for TwoFactor<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwoFactor")
            .field("store", &self.store)
            .field("settings", &self.settings)
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}
