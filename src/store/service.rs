//! The service: every flow as load → transition → compare-and-swap save, retried on conflict.

use std::fmt;
use std::sync::Arc;

use zeroize::Zeroizing;

use super::blocking::{self, BlockingPool};
use super::gate::Gate;
use super::thread_pool::ThreadPool;
#[cfg(feature = "tracing")]
use super::trace;
use super::{SaveOutcome, Store};
use crate::Error;
use crate::account::{
    Context, DeviceToken, Enrollment, NeedsCodes, Outcome, PasswordConfirmed, Reauthentication,
    Settings, SignedIn, Status, Transition, TwoFactorRecord,
};
use crate::recovery::{Attempt, CodeHasher, RecoveryCodeSet, RecoveryCodes};
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
    /// The [`BlockingPool`] dropped a key-derivation job without running it (it was shut
    /// down, or could not start a thread). Nothing was written.
    BlockingPoolFailed,
    /// The [`BlockingPool`] is full: it refused a key-derivation job
    /// ([`PoolBusy`](super::PoolBusy)) because a burst of recovery-code attempts or new sets
    /// already fills its queue. Nothing was written, and the code typed was not checked (nor
    /// counted as a failure). Only the flows that derive keys end so:
    /// [`use_recovery_code`](TwoFactor::use_recovery_code),
    /// [`confirm_enrollment`](TwoFactor::confirm_enrollment) and
    /// [`regenerate_recovery_codes`](TwoFactor::regenerate_recovery_codes).
    ///
    /// Not the user's fault, and it passes: answer "try again in a moment" — over HTTP,
    /// `503 Service Unavailable` with a `Retry-After` of a second or two.
    Busy,
}

impl<E: fmt::Display> fmt::Display for ServiceError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Store(e) => write!(f, "two-factor store: {e}"),
            Self::Contention => f.write_str("two-factor record kept changing; try again"),
            Self::InvalidUserId => f.write_str("invalid user id for two-factor authentication"),
            Self::BlockingPoolFailed => {
                f.write_str("two-factor key derivation did not run; try again")
            }
            Self::Busy => f.write_str("two-factor service is busy; try again in a moment"),
        }
    }
}

impl<E: core::error::Error + 'static> core::error::Error for ServiceError<E> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Store(e) => Some(e),
            Self::Contention | Self::InvalidUserId | Self::BlockingPoolFailed | Self::Busy => None,
        }
    }
}

/// Two-factor authentication for an async web application: one method per flow, each
/// loading the user's record from the [`Store`], applying the flow, and saving with
/// compare-and-swap, retrying on conflict against fresh state.
///
/// See the [crate documentation](crate) for the whole flow.
///
/// # No stalls
///
/// Recovery-code key derivation (a few milliseconds of CPU each with the default work factor)
/// never runs in a poll of the service's futures: it runs on a [`BlockingPool`] (by default
/// a [`ThreadPool`] of one thread per core, made with the service; on tokio, plug in
/// `spawn_blocking`, see [`BlockingPool`]) while the future waits, so the executor thread stays
/// free for other requests. The ten derivations of a new set run as ten jobs, side by side on
/// every core. Each request derives once: one derivation per recovery
/// code typed and one per new code, however many times a compare-and-swap conflict makes
/// the flow run again (again only if the set was regenerated in the meantime). Sign-in with a
/// TOTP code needs no derivation and never leaves the executor thread.
///
/// A burst cannot pile up work without bound. The default pool queues at most
/// [`ThreadPool::DEFAULT_MAX_QUEUED`] jobs; a flow whose job it refuses fails at once with
/// [`ServiceError::Busy`], writing nothing. And the recovery-code attempts of one user take
/// turns: at most one of them derives at a time in this service, the others wait (without
/// holding a thread) and then check the throttle on the record as the attempt before them
/// left it — so once the throttle bites, the waiting attempts are refused without a
/// derivation. The turns are per service, in one process: several servers each have their
/// own, and there the throttle stored in the record still bounds the attempts, but
/// simultaneous attempts on different servers may each derive. Attempts of different users
/// never wait for each other's turn; they share only the pool.
///
/// # Tracing
///
/// With the `tracing` feature, each flow runs in an INFO span `twofa.flow` (target `twofa`)
/// whose field `flow` names the method, and ends with an event for each
/// [`Event`](crate::account::Event) it reports and one when it fails: replays and lockouts at
/// WARN, a failed store at ERROR, the rest at INFO. No field holds a secret, a code, a token,
/// a device id, a hash or a proof, nor the user id unless the host opts in with
/// `with_user_ids_in_spans` (which exists only with the feature).
pub struct TwoFactor<S: Store> {
    store: S,
    settings: Settings,
    sealer: Arc<dyn SecretSealer>,
    hasher: Arc<dyn CodeHasher>,
    clock: Arc<dyn Clock>,
    blocking: Arc<dyn BlockingPool>,
    /// Whose recovery-code attempt is deriving now; the user's next attempts wait.
    recovery_turns: Gate,
    max_retries: u32,
    #[cfg(feature = "tracing")]
    user_ids_in_spans: bool,
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
            blocking: Arc::new(ThreadPool::new()),
            recovery_turns: Gate::default(),
            max_retries: Self::DEFAULT_MAX_RETRIES,
            #[cfg(feature = "tracing")]
            user_ids_in_spans: false,
        }
    }

    /// Replaces where key derivations run (default: a [`ThreadPool`] of one thread per core,
    /// its threads started at the first derivation); see [`BlockingPool`] for tokio's
    /// `spawn_blocking`, and share one pool between services this way.
    #[must_use]
    pub fn with_blocking_pool(mut self, pool: Arc<dyn BlockingPool>) -> Self {
        self.blocking = pool;
        self
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

    /// Records the user id in the `user_id` field of each flow's `tracing` span (default:
    /// off, and the id is in no span or event).
    ///
    /// Off by default because a user id is personal data (GDPR and its kin), and logs are
    /// read, shipped and kept more widely than the database: turn it on only where your logs
    /// may hold it. It is only ever in the span, never in an event's fields, so a subscriber
    /// that drops span fields drops it. See the `tracing` feature in the [crate docs](crate).
    #[cfg(feature = "tracing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
    #[must_use]
    pub fn with_user_ids_in_spans(mut self, enabled: bool) -> Self {
        self.user_ids_in_spans = enabled;
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

    /// The user's record, or `None` when the user has none: no flow deletes a record, so
    /// `None` means "never enrolled" (or erased with [`TwoFactor::delete_record`]), while a
    /// disabled record means 2FA was turned off (or an enrolment started and was cancelled).
    ///
    /// # Errors
    ///
    /// [`ServiceError::Store`]; [`ServiceError::InvalidUserId`].
    pub async fn record(
        &self,
        user_id: &str,
    ) -> Result<Option<TwoFactorRecord>, ServiceError<S::Error>> {
        self.traced("record", user_id, self.load_record(user_id))
            .await
    }

    /// Where the user stands: off (also when never enrolled), pending or enabled.
    ///
    /// # Errors
    ///
    /// As [`TwoFactor::record`].
    pub async fn status(&self, user_id: &str) -> Result<Status, ServiceError<S::Error>> {
        let status = async {
            Ok(self
                .load_record(user_id)
                .await?
                .map_or(Status::Disabled, |record| record.status()))
        };
        self.traced("status", user_id, status).await
    }

    /// Starts (or restarts) enrolment, after the password was confirmed again; see
    /// [`TwoFactorRecord::start_enrollment`].
    ///
    /// # Errors
    ///
    /// [`ServiceError`] when the store fails, the record keeps changing, or the user id is
    /// refused; and, in the flows that derive recovery codes (`confirm_enrollment`,
    /// `use_recovery_code`, `regenerate_recovery_codes`), [`ServiceError::Busy`] when the
    /// blocking pool refuses the work and [`ServiceError::BlockingPoolFailed`] when it drops
    /// it. The flow's own errors are in the outcome.
    pub async fn start_enrollment(
        &self,
        user_id: &str,
        proof: Option<&PasswordConfirmed>,
        account_name: &str,
    ) -> Result<Outcome<Enrollment>, ServiceError<S::Error>> {
        let run = self.apply(user_id, |record, ctx, now| {
            record.start_enrollment(ctx, proof, account_name, &mut crate::os_rng(), now)
        });
        self.traced("start_enrollment", user_id, run).await
    }

    /// Confirms enrolment with a code from the app; see
    /// [`TwoFactorRecord::confirm_enrollment`].
    ///
    /// # Errors
    ///
    /// As [`TwoFactor::start_enrollment`].
    #[allow(clippy::result_large_err)] // the closure's Err is the flow's result, as is
    pub async fn confirm_enrollment(
        &self,
        user_id: &str,
        code: &str,
    ) -> Result<Outcome<RecoveryCodes>, ServiceError<S::Error>> {
        let run = self.apply_with_new_codes(user_id, |record, ctx, now| {
            record.confirm_enrollment_checked(ctx, code, now)
        });
        self.traced("confirm_enrollment", user_id, run).await
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
        let run = self.apply(user_id, |record, _, _| record.cancel_enrollment());
        self.traced("cancel_enrollment", user_id, run).await
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
        let run = self.apply_owned(user_id, |record, ctx, now| {
            record.verify_code_owned(ctx, code, now)
        });
        self.traced("verify_code", user_id, run).await
    }

    /// Signs in with a recovery code, using it up; see
    /// [`TwoFactorRecord::use_recovery_code`]. A code works exactly once, also under
    /// concurrency.
    ///
    /// The check costs a key derivation, run on the [`BlockingPool`]. Concurrent attempts for
    /// one user take turns in this service: each waits until the one before it has saved its
    /// result, then loads the record and checks the throttle afresh, so attempts beyond the
    /// throttle's allowance are refused ([`Error::Throttled`]) without deriving: with the
    /// default [`ThrottlePolicy`](crate::account::ThrottlePolicy), a burst of wrong codes at
    /// one instant costs five derivations (its free attempts), however many it holds. The
    /// turns are kept per `TwoFactor` value, in memory: services in other processes (or other
    /// `TwoFactor` values over the same store) do not wait for each other, and there the
    /// stored throttle alone bounds the attempts. Dropping the future (a cancelled request)
    /// gives up its turn or its place in line at once.
    ///
    /// # Errors
    ///
    /// As [`TwoFactor::start_enrollment`]; also [`ServiceError::Busy`] when the blocking pool
    /// refuses the derivation, and [`ServiceError::BlockingPoolFailed`] when it drops it.
    pub async fn use_recovery_code(
        &self,
        user_id: &str,
        code: &str,
    ) -> Result<Outcome<SignedIn>, ServiceError<S::Error>> {
        let run = self.run_use_recovery_code(user_id, code);
        self.traced("use_recovery_code", user_id, run).await
    }

    /// [`TwoFactor::use_recovery_code`], outside its span.
    async fn run_use_recovery_code(
        &self,
        user_id: &str,
        code: &str,
    ) -> Result<Outcome<SignedIn>, ServiceError<S::Error>> {
        let ctx = self.context(user_id)?;
        // One attempt of this user at a time from load to save, so that each one's failure is
        // in the record the next one checks the throttle against.
        let _turn = self.recovery_turns.enter(user_id).await;
        // Derived once, and again only if the set changed its salt or parameters (it was
        // regenerated) under this request.
        let mut attempt: Option<Attempt> = None;
        for _ in 0..=self.max_retries {
            let (record, version, now) = match self.load(user_id).await? {
                Ok(loaded) => loaded,
                Err(clock) => return Ok(failed_clock(clock)),
            };
            let transition = match record.recovery_set_to_check(&ctx, now) {
                Err(failed) => failed,
                Ok(set) => {
                    let derived = match attempt.take() {
                        Some(derived) if set.fits(&derived, user_id) => derived,
                        _ => self.derive_attempt(set, code, user_id).await?,
                    };
                    let transition = record.use_recovery_attempt(&ctx, &derived, now);
                    attempt = Some(derived);
                    transition
                }
            };
            if let Some(outcome) = self.save(user_id, transition, version).await? {
                return Ok(outcome);
            }
        }
        Err(ServiceError::Contention)
    }
    /// Replaces the recovery codes after re-authentication; see
    /// [`TwoFactorRecord::regenerate_recovery_codes`].
    ///
    /// # Errors
    ///
    /// As [`TwoFactor::start_enrollment`].
    #[allow(clippy::result_large_err)] // the closure's Err is the flow's result, as is
    pub async fn regenerate_recovery_codes(
        &self,
        user_id: &str,
        proof: Reauthentication<'_>,
    ) -> Result<Outcome<RecoveryCodes>, ServiceError<S::Error>> {
        let run = self.apply_with_new_codes(user_id, |record, ctx, now| {
            record.regenerate_checked(ctx, proof.clone(), now)
        });
        self.traced("regenerate_recovery_codes", user_id, run).await
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
        let run = self.apply(user_id, |record, ctx, now| {
            record.disable(ctx, proof.clone(), now)
        });
        self.traced("disable", user_id, run).await
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
        let run = self.apply(user_id, |record, ctx, now| {
            record.trust_device(ctx, signed_in, label, &mut crate::os_rng(), now)
        });
        self.traced("trust_device", user_id, run).await
    }

    /// Signs in on a trusted device with the token from its cookie, reporting the failed
    /// attempts since the last sign-in once; see [`TwoFactorRecord::sign_in_with_device`].
    /// Saves only when there were failures to report.
    ///
    /// # Errors
    ///
    /// As [`TwoFactor::start_enrollment`].
    pub async fn sign_in_with_device(
        &self,
        user_id: &str,
        token: &str,
    ) -> Result<Outcome<SignedIn>, ServiceError<S::Error>> {
        let run = self.apply(user_id, |record, ctx, now| {
            record.sign_in_with_device(ctx, token, now)
        });
        self.traced("sign_in_with_device", user_id, run).await
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
        let run = self.apply(user_id, |record, _, _| record.revoke_device(device_id));
        self.traced("revoke_device", user_id, run).await
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
        let run = self.apply(user_id, |record, _, now| record.revoke_all_devices(now));
        self.traced("revoke_all_devices", user_id, run).await
    }

    /// Lifts a lockout; see [`TwoFactorRecord::unlock`].
    ///
    /// # Errors
    ///
    /// As [`TwoFactor::start_enrollment`].
    pub async fn unlock(&self, user_id: &str) -> Result<Outcome<()>, ServiceError<S::Error>> {
        let run = self.apply(user_id, |record, _, _| record.unlock());
        self.traced("unlock", user_id, run).await
    }

    /// Reseals the user's secret under the sealer's current key; see
    /// [`TwoFactorRecord::reseal`].
    ///
    /// # Errors
    ///
    /// As [`TwoFactor::start_enrollment`].
    pub async fn reseal(&self, user_id: &str) -> Result<Outcome<bool>, ServiceError<S::Error>> {
        let run = self.apply(user_id, |record, ctx, _| record.reseal(ctx));
        self.traced("reseal", user_id, run).await
    }

    /// Erases the user's 2FA data — the sealed secret, the recovery-code hashes, the trusted
    /// devices, the failure count — by deleting their record from the store: `true` when
    /// there was one.
    ///
    /// Call it when the user's account is deleted, or to honour a request to erase their
    /// personal data (GDPR article 17 and its kin), after you have deleted or disabled the
    /// account itself, so that no new flow starts for them. It is not how a user turns 2FA
    /// off: that is [`TwoFactor::disable`], which needs re-authentication and keeps the
    /// record (and its failure count) so that the change is a versioned save like any other.
    ///
    /// A request for the same user that is still running is safe: it cannot write the deleted
    /// record back (see [Deletion](super#deletion)). A flow started after the deletion sees
    /// a user without 2FA and, if it saves, starts a new record.
    ///
    /// # Errors
    ///
    /// [`ServiceError::Store`]; [`ServiceError::InvalidUserId`] (the store was not asked).
    pub async fn delete_record(&self, user_id: &str) -> Result<bool, ServiceError<S::Error>> {
        let run = async {
            crate::account::check_user_id(user_id).map_err(|_| ServiceError::InvalidUserId)?;
            self.store
                .delete(user_id)
                .await
                .map_err(ServiceError::Store)
        };
        self.traced("delete_record", user_id, run).await
    }

    fn context<'a>(&'a self, user_id: &'a str) -> Result<Context<'a>, ServiceError<S::Error>> {
        Context::new(user_id, &self.settings, &*self.sealer, &*self.hasher)
            .map_err(|_| ServiceError::InvalidUserId)
    }

    /// `run`, the flow named `flow`, in its span with the events of its result (see
    /// `store::trace`).
    #[cfg(feature = "tracing")]
    fn traced<T: trace::Report>(
        &self,
        flow: &'static str,
        user_id: &str,
        run: impl Future<Output = Result<T, ServiceError<S::Error>>>,
    ) -> impl Future<Output = Result<T, ServiceError<S::Error>>> {
        trace::flow(flow, self.user_ids_in_spans.then_some(user_id), run)
    }

    /// `run` itself: without the `tracing` feature there is nothing to add.
    #[cfg(not(feature = "tracing"))]
    fn traced<F: Future>(&self, _flow: &'static str, _user_id: &str, run: F) -> F {
        run
    }

    /// The user's record, as [`TwoFactor::record`] outside a span.
    async fn load_record(
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

    /// Load → transition → compare-and-swap save, re-running the transition on fresh state
    /// after a conflict. A transition that changes nothing saves nothing.
    async fn apply<T>(
        &self,
        user_id: &str,
        flow: impl Fn(&TwoFactorRecord, &Context<'_>, u64) -> Transition<T> + Send,
    ) -> Result<Outcome<T>, ServiceError<S::Error>> {
        self.apply_owned(user_id, move |record, ctx, now| flow(&record, ctx, now))
            .await
    }

    /// As [`TwoFactor::apply`], for a flow that takes the loaded record itself and so need
    /// not copy it (the sign-in, the hot path).
    async fn apply_owned<T>(
        &self,
        user_id: &str,
        flow: impl Fn(TwoFactorRecord, &Context<'_>, u64) -> Transition<T> + Send,
    ) -> Result<Outcome<T>, ServiceError<S::Error>> {
        let ctx = self.context(user_id)?;
        for _ in 0..=self.max_retries {
            let (record, version, now) = match self.load(user_id).await? {
                Ok(loaded) => loaded,
                Err(clock) => return Ok(failed_clock(clock)),
            };
            let transition = flow(record, &ctx, now);
            if let Some(outcome) = self.save(user_id, transition, version).await? {
                return Ok(outcome);
            }
        }
        Err(ServiceError::Contention)
    }

    /// As [`TwoFactor::apply`], for the flows that end with a new set of recovery codes:
    /// the set is made once, the first time a run of the flow gets that far, its derivations
    /// in parallel on the blocking pool; a retry after a conflict reuses it.
    async fn apply_with_new_codes(
        &self,
        user_id: &str,
        flow: impl for<'r> Fn(
            &'r TwoFactorRecord,
            &Context<'_>,
            u64,
        ) -> Result<NeedsCodes<'r>, Transition<RecoveryCodes>>
        + Send,
    ) -> Result<Outcome<RecoveryCodes>, ServiceError<S::Error>> {
        let ctx = self.context(user_id)?;
        let mut made: Option<Result<(RecoveryCodes, RecoveryCodeSet), Error>> = None;
        for _ in 0..=self.max_retries {
            let (record, version, now) = match self.load(user_id).await? {
                Ok(loaded) => loaded,
                Err(clock) => return Ok(failed_clock(clock)),
            };
            let transition = match flow(&record, &ctx, now) {
                Err(failed) => failed,
                Ok(checked) => {
                    let codes = match made.take() {
                        Some(codes) => codes,
                        None => self.new_recovery_codes(user_id).await?,
                    };
                    let copy = match &codes {
                        Ok((codes, set)) => Ok((codes.duplicate(), set.clone())),
                        Err(error) => Err(error.clone()),
                    };
                    made = Some(codes);
                    checked.finish(copy)
                }
            };
            if let Some(outcome) = self.save(user_id, transition, version).await? {
                return Ok(outcome);
            }
        }
        Err(ServiceError::Contention)
    }

    /// The user's record (a new one when there is none), its version, and the time; or the
    /// clock's error.
    async fn load(&self, user_id: &str) -> Result<Result<Loaded, Error>, ServiceError<S::Error>> {
        let loaded = self
            .store
            .load(user_id)
            .await
            .map_err(ServiceError::Store)?;
        let (record, version) = match loaded {
            Some(v) => (v.record, Some(v.version)),
            None => (TwoFactorRecord::new(), None),
        };
        Ok(self.clock.now().map(|now| (record, version, now)))
    }

    /// Saves the transition's record if it changed, with compare-and-swap: the outcome, or
    /// `None` after a conflict (run the flow again).
    async fn save<T>(
        &self,
        user_id: &str,
        transition: Transition<T>,
        version: Option<u64>,
    ) -> Result<Option<Outcome<T>>, ServiceError<S::Error>> {
        let (outcome, next, changed) = transition.into_parts();
        if !changed {
            return Ok(Some(outcome));
        }
        let saved = self
            .store
            .save(user_id, &next, version)
            .await
            .map_err(ServiceError::Store)?;
        Ok((saved == SaveOutcome::Saved).then_some(outcome))
    }

    /// The one derivation of a typed recovery code for `set`, on the blocking pool.
    async fn derive_attempt(
        &self,
        set: &RecoveryCodeSet,
        code: &str,
        user_id: &str,
    ) -> Result<Attempt, ServiceError<S::Error>> {
        if set.check_before_hashing(code, &*self.hasher).is_err() {
            // Refused without hashing: no reason to hand it to the pool.
            return Ok(set.derive_attempt(code, user_id, &*self.hasher));
        }
        let set = set.clone();
        let code = Zeroizing::new(String::from(code));
        let user_id = String::from(user_id);
        let hasher = Arc::clone(&self.hasher);
        blocking::run(&*self.blocking, move || {
            set.derive_attempt(&code, &user_id, &*hasher)
        })
        .map_err(|_| ServiceError::Busy)?
        .await
        .map_err(|_| ServiceError::BlockingPoolFailed)
    }

    /// A new set of recovery codes for the user, its derivations run in parallel on the
    /// blocking pool; or the error of making it, which the flow reports. If the pool refuses
    /// any of the jobs the whole set fails ([`ServiceError::Busy`]), and the jobs it took
    /// skip their derivations, since nobody waits for them any more.
    async fn new_recovery_codes(
        &self,
        user_id: &str,
    ) -> Result<Result<(RecoveryCodes, RecoveryCodeSet), Error>, ServiceError<S::Error>> {
        let count = self.settings.recovery_code_count();
        let draft =
            match RecoveryCodeSet::draft(&*self.hasher, user_id, &mut crate::os_rng(), count) {
                Ok(draft) => Arc::new(draft),
                Err(error) => return Ok(Err(error)),
            };
        let jobs = (0..draft.len())
            .map(|index| {
                let draft = Arc::clone(&draft);
                let hasher = Arc::clone(&self.hasher);
                blocking::run(&*self.blocking, move || draft.derive(index, &*hasher))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| ServiceError::Busy)?;
        let mut hashes = Vec::with_capacity(jobs.len());
        for job in jobs {
            hashes.push(job.await.map_err(|_| ServiceError::BlockingPoolFailed)?);
        }
        Ok(draft.finish(hashes))
    }
}

/// A loaded record, its version (`None`: there was none), and the time.
type Loaded = (TwoFactorRecord, Option<u64>, u64);

/// The outcome of a flow refused because the clock could not be read.
fn failed_clock<T>(error: Error) -> Outcome<T> {
    Outcome {
        result: Err(error),
        events: Vec::new(),
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
