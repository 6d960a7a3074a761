//! The service against stores, under concurrency and failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use twofa::account::{
    Context, DeviceKey, Event, Outcome, PasswordConfirmed, Reauthentication, Settings,
    SignInMethod, SignedIn, Status, ThrottlePolicy, TwoFactorRecord,
};
use twofa::recovery::{CodeHasher, RecoveryCodes};
use twofa::seal::AesGcmSealer;
use twofa::store::{
    BlockingJob, BlockingPool, MemoryStore, PoolBusy, SaveOutcome, ServiceError, Store, ThreadPool,
    TwoFactor, Versioned,
};
use twofa::{Error, Pbkdf2Hasher, RecoveryError, Totp};

const USER: &str = "user-42";
const T0: u64 = 1_700_000_000;

/// A store that yields to the scheduler before every call, so that concurrent flows really
/// interleave between their load and their save.
#[derive(Debug, Default)]
struct YieldingStore(MemoryStore);

impl Store for YieldingStore {
    type Error = Error;

    async fn load(&self, user_id: &str) -> Result<Option<Versioned>, Error> {
        tokio::task::yield_now().await;
        self.0.load(user_id).await
    }

    async fn save(
        &self,
        user_id: &str,
        record: &TwoFactorRecord,
        expected: Option<u64>,
    ) -> Result<SaveOutcome, Error> {
        tokio::task::yield_now().await;
        self.0.save(user_id, record, expected).await
    }

    async fn delete(&self, user_id: &str) -> Result<bool, Error> {
        tokio::task::yield_now().await;
        self.0.delete(user_id).await
    }
}

/// A service whose clock the test moves, with a throttle lenient enough that 64 failures are
/// all evaluated, and a cheap hasher (the work factor is not under test here).
fn service<S: Store>(store: S, clock: Arc<AtomicU64>, lenient: bool) -> TwoFactor<S> {
    let mut settings = Settings::new("Plausible Analytics")
        .unwrap()
        .device_key(DeviceKey::from_bytes(&[5; 32]).unwrap());
    if lenient {
        let lenient = ThrottlePolicy::default()
            .free_attempts(100)
            .lockout_after(100)
            .unwrap();
        settings = settings.throttle(lenient).recovery_code_throttle(lenient);
    }
    TwoFactor::new(
        store,
        settings,
        Arc::new(AesGcmSealer::new("k1", &[3; 32]).unwrap()),
        Arc::new(Pbkdf2Hasher::new().with_iterations(1_000).unwrap()),
    )
    .with_clock(Arc::new(move || clock.load(Ordering::SeqCst)))
    .with_max_retries(256)
}

/// Enables 2FA for `USER` and returns the user's authenticator and recovery codes.
async fn enable<S: Store>(tf: &TwoFactor<S>, clock: &AtomicU64) -> (Totp, RecoveryCodes)
where
    S::Error: std::fmt::Debug,
{
    let now = clock.load(Ordering::SeqCst);
    assert_eq!(tf.now().unwrap(), now);
    let proof = password(now);
    let enrollment = tf
        .start_enrollment(USER, Some(&proof), "alice@example.com")
        .await
        .unwrap()
        .result
        .unwrap();
    let app = enrollment.uri().to_totp().unwrap();
    let codes = tf
        .confirm_enrollment(USER, &app.generate(now).to_string())
        .await
        .unwrap()
        .result
        .unwrap();
    (app, codes)
}

/// The user's password, confirmed at `now`.
fn password(now: u64) -> PasswordConfirmed {
    let check = |user: &str, password: &str| user == USER && password == "correct horse";
    PasswordConfirmed::check(&check, USER, "correct horse", now).unwrap()
}

/// `count` six-digit codes that none of the steps near `now` (two either way) produce.
fn wrong_codes(app: &Totp, now: u64, count: usize) -> Vec<String> {
    let near: Vec<String> = (0..5)
        .map(|i| app.generate(now - 60 + i * 30).to_string())
        .collect();
    (0..1000)
        .map(|n| format!("{n:06}"))
        .filter(|c| !near.contains(c))
        .take(count)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_sign_ins_with_one_code_succeed_once() {
    let clock = Arc::new(AtomicU64::new(T0));
    let tf = Arc::new(service(YieldingStore::default(), clock.clone(), true));
    let (app, _) = enable(&tf, &clock).await;
    clock.store(T0 + 30, Ordering::SeqCst);
    let code = app.generate(T0 + 30).to_string();

    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let tf = tf.clone();
            let code = code.clone();
            tokio::spawn(async move { tf.verify_code(USER, &code).await.unwrap() })
        })
        .collect();
    let mut ok = 0;
    let mut replays = 0;
    for task in tasks {
        let outcome = task.await.unwrap();
        match outcome.result {
            Ok(_) => ok += 1,
            Err(Error::ReplayedCode) => {
                assert!(outcome.events.contains(&Event::ReplayDetected));
                replays += 1;
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((ok, replays), (1, 63));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_uses_of_one_recovery_code_succeed_once() {
    let clock = Arc::new(AtomicU64::new(T0));
    let tf = Arc::new(service(YieldingStore::default(), clock.clone(), true));
    let (_, codes) = enable(&tf, &clock).await;
    let code = codes.iter().next().unwrap().to_owned();

    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let tf = tf.clone();
            let code = code.clone();
            tokio::spawn(async move { tf.use_recovery_code(USER, &code).await.unwrap() })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap().result {
            Ok(signed_in) => {
                assert_eq!(
                    signed_in.method(),
                    SignInMethod::RecoveryCode { remaining: 9 }
                );
                ok += 1;
            }
            Err(Error::Recovery(RecoveryError::InvalidCode)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(
        tf.record(USER)
            .await
            .unwrap()
            .unwrap()
            .recovery_codes_left(),
        Some(9)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_wrong_guesses_are_all_counted() {
    let clock = Arc::new(AtomicU64::new(T0));
    let tf = Arc::new(service(YieldingStore::default(), clock.clone(), true));
    let (app, _) = enable(&tf, &clock).await;
    clock.store(T0 + 30, Ordering::SeqCst);
    let wrong = wrong_codes(&app, T0 + 30, 64);

    let tasks: Vec<_> = wrong
        .into_iter()
        .map(|code| {
            let tf = tf.clone();
            tokio::spawn(async move { tf.verify_code(USER, &code).await.unwrap() })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().result.err(), Some(Error::InvalidCode));
    }
    assert_eq!(tf.record(USER).await.unwrap().unwrap().failures(), 64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_throttle_holds_across_concurrent_guesses() {
    let clock = Arc::new(AtomicU64::new(T0));
    let tf = Arc::new(service(YieldingStore::default(), clock.clone(), false));
    let (app, _) = enable(&tf, &clock).await;
    clock.store(T0 + 30, Ordering::SeqCst);
    // None of the guesses is a code the window accepts, so none can sign in by luck.
    let tasks: Vec<_> = wrong_codes(&app, T0 + 30, 64)
        .into_iter()
        .map(|code| {
            let tf = tf.clone();
            tokio::spawn(async move { tf.verify_code(USER, &code).await.unwrap() })
        })
        .collect();
    let mut evaluated = 0;
    for task in tasks {
        match task.await.unwrap().result {
            Err(Error::Throttled { .. }) => {}
            Err(Error::InvalidCode) => evaluated += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    // At one instant, exactly the free attempts are evaluated; the fifth failure starts the
    // delay, and every later guess waits.
    let free = 5;
    assert_eq!(evaluated, free, "guesses evaluated at one instant");
    assert_eq!(tf.record(USER).await.unwrap().unwrap().failures(), free);
}

/// Which store call fails, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    LoadFails,
    SaveFailsBeforeWriting,
    SaveFailsAfterWriting,
}

/// A store that fails on command; a failure after writing is the ambiguous case of a database
/// that committed but whose answer was lost.
#[derive(Debug, Default)]
struct FlakyStore {
    inner: MemoryStore,
    fault: AtomicUsize,
}

impl FlakyStore {
    fn set(&self, fault: Fault) {
        self.fault.store(fault as usize, Ordering::SeqCst);
    }

    fn fault(&self) -> Fault {
        [
            Fault::None,
            Fault::LoadFails,
            Fault::SaveFailsBeforeWriting,
            Fault::SaveFailsAfterWriting,
        ][self.fault.load(Ordering::SeqCst)]
    }
}

#[derive(Debug)]
struct Injected;

impl std::fmt::Display for Injected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("injected failure")
    }
}

impl std::error::Error for Injected {}

impl Store for FlakyStore {
    type Error = Injected;

    async fn load(&self, user_id: &str) -> Result<Option<Versioned>, Injected> {
        if self.fault() == Fault::LoadFails {
            return Err(Injected);
        }
        Ok(self.inner.load(user_id).await.unwrap())
    }

    async fn save(
        &self,
        user_id: &str,
        record: &TwoFactorRecord,
        expected: Option<u64>,
    ) -> Result<SaveOutcome, Injected> {
        match self.fault() {
            Fault::SaveFailsBeforeWriting => Err(Injected),
            Fault::SaveFailsAfterWriting => {
                let _ = self.inner.save(user_id, record, expected).await.unwrap();
                Err(Injected)
            }
            _ => Ok(self.inner.save(user_id, record, expected).await.unwrap()),
        }
    }

    async fn delete(&self, user_id: &str) -> Result<bool, Injected> {
        Ok(self.inner.delete(user_id).await.unwrap())
    }
}

#[tokio::test]
async fn a_failing_store_never_leaves_a_half_applied_flow() {
    let clock = Arc::new(AtomicU64::new(T0));
    let tf = service(FlakyStore::default(), clock.clone(), true);
    let (app, codes) = enable(&tf, &clock).await;
    let codes: Vec<String> = codes.iter().map(str::to_owned).collect();
    let faults = [
        Fault::LoadFails,
        Fault::SaveFailsBeforeWriting,
        Fault::SaveFailsAfterWriting,
        Fault::None,
    ];
    for (i, code) in codes.iter().enumerate() {
        let fault = faults[i % faults.len()];
        let before = tf.store().inner.load(USER).await.unwrap().unwrap();
        tf.store().set(fault);
        let result = tf.use_recovery_code(USER, code).await;
        tf.store().set(Fault::None);
        let after = tf.store().inner.load(USER).await.unwrap().unwrap();
        let left_before = before.record.recovery_codes_left().unwrap();
        let left_after = after.record.recovery_codes_left().unwrap();
        match fault {
            Fault::LoadFails | Fault::SaveFailsBeforeWriting => {
                assert!(matches!(result, Err(ServiceError::Store(Injected))));
                assert_eq!(after, before, "a failed flow changed the record");
                // The code was not used up: it still works.
                assert!(
                    tf.use_recovery_code(USER, code)
                        .await
                        .unwrap()
                        .result
                        .is_ok()
                );
            }
            Fault::SaveFailsAfterWriting => {
                assert!(matches!(result, Err(ServiceError::Store(Injected))));
                // Committed whole: exactly the new record, the code gone.
                assert_eq!(left_after, left_before - 1);
                assert!(after.record.is_enabled());
                assert!(
                    tf.use_recovery_code(USER, code)
                        .await
                        .unwrap()
                        .result
                        .is_err()
                );
                tf.unlock(USER).await.unwrap().result.unwrap();
            }
            Fault::None => {
                assert!(result.unwrap().result.is_ok());
                assert_eq!(left_after, left_before - 1);
            }
        }
    }
    // The TOTP side too: a sign-in whose save failed can be retried with the same code.
    let later = T0 + 60;
    clock.store(later, Ordering::SeqCst);
    let code = app.generate(later).to_string();
    tf.store().set(Fault::SaveFailsBeforeWriting);
    assert!(tf.verify_code(USER, &code).await.is_err());
    tf.store().set(Fault::None);
    assert!(tf.verify_code(USER, &code).await.unwrap().result.is_ok());
}

#[tokio::test]
async fn the_whole_product_flow_through_the_service() {
    let clock = Arc::new(AtomicU64::new(T0));
    let tf = service(MemoryStore::new(), clock.clone(), false);
    let (app, codes) = enable(&tf, &clock).await;
    assert!(tf.record(USER).await.unwrap().unwrap().is_enabled());

    clock.store(T0 + 30, Ordering::SeqCst);
    let signed_in = tf
        .verify_code(USER, &app.generate(T0 + 30).to_string())
        .await
        .unwrap()
        .result
        .unwrap();
    let token = tf
        .trust_device(USER, &signed_in, Some("Firefox on Linux"))
        .await
        .unwrap()
        .result
        .unwrap();
    let checked = tf.sign_in_with_device(USER, token.as_str()).await.unwrap();
    let on_device = checked.result.unwrap();
    assert_eq!(on_device.method(), SignInMethod::TrustedDevice);
    assert_eq!(on_device.failed_attempts(), 0);
    assert!(checked.events.is_empty());
    let record = tf.record(USER).await.unwrap().unwrap();
    assert_eq!(record.devices()[0].id(), token.device_id());
    assert_eq!(record.devices()[0].label(), Some("Firefox on Linux"));
    clock.store(
        T0 + 31 + Settings::DEFAULT_DEVICE_LIFETIME,
        Ordering::SeqCst,
    );
    assert_eq!(
        tf.sign_in_with_device(USER, token.as_str())
            .await
            .unwrap()
            .result
            .err(),
        Some(Error::InvalidDeviceToken)
    );

    let used = tf
        .use_recovery_code(USER, codes.iter().nth(3).unwrap())
        .await
        .unwrap();
    assert_eq!(used.events, [Event::RecoveryCodeUsed { remaining: 9 }]);
}

#[cfg(feature = "testing")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_passes_the_conformance_suite() {
    twofa::store::conformance::check_store(&MemoryStore::new())
        .await
        .unwrap();
    twofa::store::conformance::check_store(&YieldingStore::default())
        .await
        .unwrap();
}

#[cfg(feature = "testing")]
#[tokio::test]
async fn the_conformance_suite_catches_a_store_without_compare_and_swap() {
    /// Saves unconditionally: the classic bug.
    #[derive(Debug, Default)]
    struct LastWriteWins(MemoryStore);

    impl Store for LastWriteWins {
        type Error = Error;

        async fn load(&self, user_id: &str) -> Result<Option<Versioned>, Error> {
            self.0.load(user_id).await
        }

        async fn save(
            &self,
            user_id: &str,
            record: &TwoFactorRecord,
            _expected: Option<u64>,
        ) -> Result<SaveOutcome, Error> {
            let current = self.0.load(user_id).await?.map(|v| v.version);
            self.0.save(user_id, record, current).await
        }

        async fn delete(&self, user_id: &str) -> Result<bool, Error> {
            self.0.delete(user_id).await
        }
    }

    let failure = twofa::store::conformance::check_store(&LastWriteWins::default())
        .await
        .unwrap_err();
    // It writes where it should report a conflict: the first check to see that fails.
    assert_eq!(failure.check, "update of a missing record");
}

/// Every flow's future is `Send`, so axum and actix-web handlers can await it. This test is
/// checked by the compiler: it fails to build if any future is not `Send`.
#[test]
fn service_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let clock = Arc::new(AtomicU64::new(T0));
    let tf = service(MemoryStore::new(), clock, false);
    let signed_in_outcome = tf.verify_code(USER, "123456");
    assert_send(&signed_in_outcome);
    assert_send(&tf.start_enrollment(USER, None, "alice"));
    assert_send(&tf.confirm_enrollment(USER, "123456"));
    assert_send(&tf.cancel_enrollment(USER));
    assert_send(&tf.use_recovery_code(USER, "AAAAA-AAAAA"));
    assert_send(&tf.regenerate_recovery_codes(USER, twofa::account::Reauthentication::Code("1")));
    assert_send(&tf.disable(USER, twofa::account::Reauthentication::Code("1")));
    assert_send(&tf.sign_in_with_device(USER, "token"));
    assert_send(&tf.revoke_device(USER, "id"));
    assert_send(&tf.revoke_all_devices(USER));
    assert_send(&tf.unlock(USER));
    assert_send(&tf.reseal(USER));
    assert_send(&tf.status(USER));
}

#[tokio::test]
async fn a_broken_clock_fails_closed() {
    struct Broken;
    impl twofa::store::Clock for Broken {
        fn now(&self) -> Result<u64, Error> {
            Err(Error::TimeBeforeEpoch)
        }
    }
    let clock = Arc::new(AtomicU64::new(T0));
    let tf = service(MemoryStore::new(), clock.clone(), false);
    let (app, _) = enable(&tf, &clock).await;
    let now = T0 + 60;
    let tf = tf.with_clock(Arc::new(Broken));
    let before = tf.record(USER).await.unwrap().unwrap();
    let outcome = tf
        .verify_code(USER, &app.generate(now).to_string())
        .await
        .unwrap();
    assert_eq!(outcome.result.err(), Some(Error::TimeBeforeEpoch));
    assert_eq!(tf.record(USER).await.unwrap().unwrap(), before);
    assert_eq!(
        tf.sign_in_with_device(USER, "anything")
            .await
            .unwrap()
            .result
            .err(),
        Some(Error::TimeBeforeEpoch)
    );
    assert_eq!(tf.now(), Err(Error::TimeBeforeEpoch));
    assert!(format!("{:?}", tf.store()).contains("users: 1"));
}

#[tokio::test]
async fn delete_record_erases_2fa_and_a_request_in_flight_cannot_write_it_back() {
    let clock = Arc::new(AtomicU64::new(T0));
    let tf = service(MemoryStore::new(), clock.clone(), false);
    let (app, _) = enable(&tf, &clock).await;
    // A request loaded the record just before the account was deleted.
    let in_flight = tf.store().load(USER).await.unwrap().unwrap();

    assert!(tf.delete_record(USER).await.unwrap());
    assert!(tf.record(USER).await.unwrap().is_none());
    assert_eq!(tf.status(USER).await.unwrap(), Status::Disabled);
    assert!(!tf.delete_record(USER).await.unwrap());
    assert!(matches!(
        tf.delete_record("").await,
        Err(ServiceError::InvalidUserId)
    ));
    clock.store(T0 + 30, Ordering::SeqCst);
    let code = app.generate(T0 + 30).to_string();
    assert_eq!(
        tf.verify_code(USER, &code).await.unwrap().result.err(),
        Some(Error::NotEnabled)
    );

    // The stale request saves now, and again after a fresh enrolment: refused both times.
    let stale = |version| tf.store().save(USER, &in_flight.record, Some(version));
    assert_eq!(stale(in_flight.version).await, Ok(SaveOutcome::Conflict));
    let _ = enable(&tf, &clock).await;
    let fresh = tf.store().load(USER).await.unwrap().unwrap();
    assert!(fresh.version > in_flight.version);
    assert_eq!(stale(in_flight.version).await, Ok(SaveOutcome::Conflict));
    assert_eq!(tf.store().load(USER).await.unwrap(), Some(fresh));
}

/// A store that counts its calls, and can answer every save with a conflict.
#[derive(Debug, Default)]
struct CountingStore {
    inner: MemoryStore,
    loads: AtomicUsize,
    saves: AtomicUsize,
    always_conflict: std::sync::atomic::AtomicBool,
}

impl CountingStore {
    fn calls(&self) -> (usize, usize) {
        (
            self.loads.load(Ordering::SeqCst),
            self.saves.load(Ordering::SeqCst),
        )
    }
}

impl Store for CountingStore {
    type Error = Error;

    async fn load(&self, user_id: &str) -> Result<Option<Versioned>, Error> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(user_id).await
    }

    async fn save(
        &self,
        user_id: &str,
        record: &TwoFactorRecord,
        expected: Option<u64>,
    ) -> Result<SaveOutcome, Error> {
        self.saves.fetch_add(1, Ordering::SeqCst);
        if self.always_conflict.load(Ordering::SeqCst) {
            return Ok(SaveOutcome::Conflict);
        }
        self.inner.save(user_id, record, expected).await
    }

    async fn delete(&self, user_id: &str) -> Result<bool, Error> {
        self.inner.delete(user_id).await
    }
}

#[tokio::test]
async fn a_flow_that_changes_nothing_saves_nothing() {
    let clock = Arc::new(AtomicU64::new(T0));
    let tf = service(CountingStore::default(), clock.clone(), false);
    let (app, _) = enable(&tf, &clock).await;
    let before = tf.store().calls();
    // Flows that change nothing: one refused in this state, an unlock with nothing to lift,
    // an unknown device, a device check.
    assert_eq!(
        tf.confirm_enrollment(USER, "123456")
            .await
            .unwrap()
            .result
            .err(),
        Some(Error::NotPending)
    );
    assert!(tf.unlock(USER).await.unwrap().result.is_ok());
    assert_eq!(
        tf.revoke_device(USER, "0123456789abcdef")
            .await
            .unwrap()
            .result
            .err(),
        Some(Error::UnknownDevice)
    );
    assert!(
        tf.sign_in_with_device(USER, "token")
            .await
            .unwrap()
            .result
            .is_err()
    );
    let (loads, saves) = tf.store().calls();
    assert_eq!((loads - before.0, saves), (4, before.1));
    // A wrong code changes the record: one save.
    clock.store(T0 + 30, Ordering::SeqCst);
    let wrong = wrong_codes(&app, T0 + 30, 1).remove(0);
    assert_eq!(
        tf.verify_code(USER, &wrong).await.unwrap().result.err(),
        Some(Error::InvalidCode)
    );
    assert_eq!(tf.store().calls().1, before.1 + 1);
}

/// The service's sign-in runs on the loaded record itself; it must save and report exactly as
/// the record API's `verify_code` does.
#[tokio::test]
async fn a_sign_in_saves_exactly_when_the_record_changed() {
    let clock = Arc::new(AtomicU64::new(T0));
    let tf = service(CountingStore::default(), clock.clone(), false);
    let saves = || tf.store().calls().1;
    // Never enrolled: refused, nothing saved.
    assert_eq!(
        tf.verify_code(USER, "123456").await.unwrap().result.err(),
        Some(Error::NotEnabled)
    );
    assert_eq!(saves(), 0);
    let (app, _) = enable(&tf, &clock).await;
    let enabled = saves();
    // A good code: saved (the step), signed in.
    clock.store(T0 + 30, Ordering::SeqCst);
    let code = app.generate(T0 + 30).to_string();
    let outcome = tf.verify_code(USER, &code).await.unwrap();
    assert!(outcome.result.is_ok());
    assert_eq!(saves(), enabled + 1);
    // The same code again: a replay, counted and saved, and reported.
    let outcome = tf.verify_code(USER, &code).await.unwrap();
    assert_eq!(outcome.result.err(), Some(Error::ReplayedCode));
    assert!(outcome.events.contains(&Event::ReplayDetected));
    assert_eq!(saves(), enabled + 2);
    assert_eq!(tf.record(USER).await.unwrap().unwrap().failures(), 1);
    // Wrong codes until the throttle answers instead of the code: each failure saved, the
    // throttled attempt neither saved nor reported.
    let mut saved = saves();
    for wrong in wrong_codes(&app, T0 + 30, 20) {
        let outcome = tf.verify_code(USER, &wrong).await.unwrap();
        match outcome.result {
            Err(Error::InvalidCode) => {
                saved += 1;
                assert_eq!(saves(), saved);
            }
            Err(Error::Throttled { .. }) => {
                assert_eq!(saves(), saved, "a throttled attempt was saved");
                assert!(outcome.events.is_empty(), "{:?}", outcome.events);
                // The record API agrees: unchanged, nothing to save.
                let record = tf.record(USER).await.unwrap().unwrap();
                let sealer = AesGcmSealer::new("k1", &[3; 32]).unwrap();
                let hasher = Pbkdf2Hasher::new().with_iterations(1_000).unwrap();
                let ctx = Context::new(USER, tf.settings(), &sealer, &hasher).unwrap();
                let transition = record.verify_code(&ctx, &wrong, T0 + 30);
                assert!(!transition.changed());
                assert_eq!(transition.record(), &record);
                return;
            }
            other => panic!("{other:?}"),
        }
    }
    panic!("twenty wrong codes in one second were never throttled");
}

#[tokio::test]
async fn endless_conflicts_end_in_contention_and_write_nothing() {
    let clock = Arc::new(AtomicU64::new(T0));
    let tf = service(CountingStore::default(), clock.clone(), false).with_max_retries(3);
    assert_eq!(tf.max_retries(), 3);
    let (app, _) = enable(&tf, &clock).await;
    let before = tf.store().inner.load(USER).await.unwrap().unwrap();
    let saves = tf.store().calls().1;
    tf.store().always_conflict.store(true, Ordering::SeqCst);
    clock.store(T0 + 30, Ordering::SeqCst);
    let result = tf
        .verify_code(USER, &app.generate(T0 + 30).to_string())
        .await;
    assert!(
        matches!(result, Err(ServiceError::Contention)),
        "{result:?}"
    );
    // The first try and three retries, each a load and a save.
    assert_eq!(tf.store().calls().1 - saves, 4);
    assert_eq!(tf.store().inner.load(USER).await.unwrap().unwrap(), before);
    assert_eq!(
        ServiceError::<Error>::Contention.to_string(),
        "two-factor record kept changing; try again"
    );
}

#[tokio::test]
async fn a_refused_user_id_never_reaches_the_store() {
    let clock = Arc::new(AtomicU64::new(T0));
    let tf = service(CountingStore::default(), clock, false);
    let long = "x".repeat(256);
    for bad in ["", "user\0", "a\nb", long.as_str()] {
        assert!(matches!(
            tf.verify_code(bad, "123456").await,
            Err(ServiceError::InvalidUserId)
        ));
        assert!(matches!(
            tf.record(bad).await,
            Err(ServiceError::InvalidUserId)
        ));
        assert!(matches!(
            tf.sign_in_with_device(bad, "token").await,
            Err(ServiceError::InvalidUserId)
        ));
    }
    assert_eq!(tf.store().calls(), (0, 0));
    // The longest accepted id works end to end.
    let longest = "x".repeat(255);
    let proof = PasswordConfirmed::check(&|_: &str, _: &str| true, &longest, "pw", T0).unwrap();
    let started = tf.start_enrollment(&longest, Some(&proof), "alice").await;
    assert!(started.unwrap().result.is_ok());
}

#[tokio::test]
async fn never_enrolled_and_disabled_look_different() {
    let clock = Arc::new(AtomicU64::new(T0));
    let tf = service(MemoryStore::new(), clock.clone(), false);
    assert_eq!(tf.record(USER).await.unwrap(), None);
    assert_eq!(tf.status(USER).await.unwrap(), Status::Disabled);
    enable(&tf, &clock).await;
    let proof = twofa::account::Reauthentication::Password(password(T0));
    tf.disable(USER, proof).await.unwrap().result.unwrap();
    let off = tf.record(USER).await.unwrap().unwrap();
    assert_eq!(off.status(), Status::Disabled);
    assert_eq!(off.devices_revoked_at(), Some(T0));
    assert_eq!(tf.status(USER).await.unwrap(), Status::Disabled);
    // Enrolment asks for the password by default.
    assert_eq!(
        tf.start_enrollment(USER, None, "alice")
            .await
            .unwrap()
            .result
            .err(),
        Some(Error::ReauthenticationRequired)
    );
}

// Key derivation off the executor, once per request (issue 12).

/// Counts derivations and records the threads they ran on, around a cheap PBKDF2 hasher.
#[derive(Debug)]
struct Watching {
    inner: Pbkdf2Hasher,
    count: AtomicUsize,
    threads: std::sync::Mutex<Vec<std::thread::ThreadId>>,
}

impl Watching {
    fn new() -> Arc<Self> {
        Arc::new(Watching {
            inner: Pbkdf2Hasher::new().with_iterations(1_000).unwrap(),
            count: AtomicUsize::new(0),
            threads: std::sync::Mutex::new(Vec::new()),
        })
    }

    fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

impl CodeHasher for Watching {
    fn algorithm(&self) -> &str {
        self.inner.algorithm()
    }
    fn parameters(&self) -> String {
        self.inner.parameters()
    }
    fn hash(&self, code: &[u8], salt: &[u8], parameters: &str) -> Result<Vec<u8>, Error> {
        self.count.fetch_add(1, Ordering::SeqCst);
        self.threads
            .lock()
            .unwrap()
            .push(std::thread::current().id());
        self.inner.hash(code, salt, parameters)
    }
}

/// Counts the jobs it is given, and runs them on a thread pool of its own (or drops them).
#[derive(Debug, Default)]
struct CountingPool {
    jobs: AtomicUsize,
    drop_jobs: bool,
    threads: ThreadPool,
}

impl BlockingPool for CountingPool {
    fn spawn(&self, job: BlockingJob) -> Result<(), PoolBusy> {
        self.jobs.fetch_add(1, Ordering::SeqCst);
        if self.drop_jobs {
            drop(job);
            return Ok(());
        }
        self.threads.spawn(job)
    }
}

fn watched_service<S: Store>(
    store: S,
    clock: Arc<AtomicU64>,
    hasher: Arc<Watching>,
    pool: Arc<CountingPool>,
) -> TwoFactor<S> {
    let lenient = ThrottlePolicy::default()
        .free_attempts(100)
        .lockout_after(100)
        .unwrap();
    let settings = Settings::new("Plausible Analytics")
        .unwrap()
        .throttle(lenient)
        .recovery_code_throttle(lenient);
    TwoFactor::new(
        store,
        settings,
        Arc::new(AesGcmSealer::new("k1", &[3; 32]).unwrap()),
        hasher,
    )
    .with_clock(Arc::new(move || clock.load(Ordering::SeqCst)))
    .with_blocking_pool(pool)
    .with_max_retries(1024)
}

#[tokio::test(flavor = "current_thread")]
async fn no_derivation_runs_on_the_runtime_thread_and_a_new_set_is_ten_parallel_jobs() {
    let runtime_thread = std::thread::current().id();
    let clock = Arc::new(AtomicU64::new(T0));
    let hasher = Watching::new();
    let pool = Arc::new(CountingPool::default());
    let tf = watched_service(
        MemoryStore::new(),
        clock.clone(),
        hasher.clone(),
        pool.clone(),
    );

    let (app, codes) = enable(&tf, &clock).await;
    assert_eq!((hasher.count(), pool.jobs.load(Ordering::SeqCst)), (10, 10));

    clock.store(T0 + 30, Ordering::SeqCst);
    let code = app.generate(T0 + 30).to_string();
    assert!(tf.verify_code(USER, &code).await.unwrap().result.is_ok());
    assert_eq!(hasher.count(), 10, "a TOTP sign-in derives nothing");
    assert_eq!(
        pool.jobs.load(Ordering::SeqCst),
        10,
        "nor leaves the thread"
    );

    let recovery = codes.iter().next().unwrap();
    assert!(
        tf.use_recovery_code(USER, recovery)
            .await
            .unwrap()
            .result
            .is_ok()
    );
    assert_eq!(hasher.count(), 11);
    let wrong = tf.use_recovery_code(USER, "ZZZZZ-ZZZZZ").await.unwrap();
    assert_eq!(wrong.result.err(), Some(RecoveryError::InvalidCode.into()));
    assert_eq!(hasher.count(), 12);
    // Malformed input is refused on the spot: no derivation, no job for the pool.
    let jobs = pool.jobs.load(Ordering::SeqCst);
    let garbage = tf
        .use_recovery_code(USER, &"\u{15}".repeat(100))
        .await
        .unwrap();
    assert_eq!(
        garbage.result.err(),
        Some(RecoveryError::InvalidCode.into())
    );
    assert_eq!(
        (hasher.count(), pool.jobs.load(Ordering::SeqCst)),
        (12, jobs)
    );

    let proof = Reauthentication::Password(password(T0 + 30));
    let regenerated = tf.regenerate_recovery_codes(USER, proof).await.unwrap();
    assert_eq!(regenerated.result.unwrap().len(), 10);
    assert_eq!((hasher.count(), pool.jobs.load(Ordering::SeqCst)), (22, 22));

    let threads = hasher.threads.lock().unwrap();
    assert_eq!(threads.len(), 22);
    assert!(
        !threads.contains(&runtime_thread),
        "a derivation ran on the runtime thread"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_derivation_per_recovery_attempt_under_64_concurrent_attempts() {
    let clock = Arc::new(AtomicU64::new(T0));
    let hasher = Watching::new();
    let pool = Arc::new(CountingPool::default());
    let tf = Arc::new(watched_service(
        YieldingStore::default(),
        clock.clone(),
        hasher.clone(),
        pool,
    ));
    let (_, codes) = enable(&tf, &clock).await;
    assert_eq!(hasher.count(), 10, "ten derivations at generation");
    let right = codes.iter().next().unwrap().to_owned();

    // 63 wrong codes and one right one, all at once: every failure changes the record, so
    // compare-and-swap conflicts make most flows run several times.
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let tf = tf.clone();
            let code = if i == 32 {
                right.clone()
            } else {
                format!("ZZZZZ-{i:05}")
            };
            tokio::spawn(async move { tf.use_recovery_code(USER, &code).await.unwrap() })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap().result {
            Ok(_) => ok += 1,
            Err(Error::Recovery(RecoveryError::InvalidCode)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(ok, 1);
    let record = tf.record(USER).await.unwrap().unwrap();
    assert_eq!(record.recovery_codes_left(), Some(9));
    assert_eq!(hasher.count() - 10, 64, "one derivation per attempt");
}

/// A store that regenerates the user's recovery codes behind the service's back, once, just
/// before the first save it is asked for after being armed: that save then conflicts.
#[derive(Debug, Default)]
struct RegeneratingStore {
    inner: MemoryStore,
    armed: std::sync::atomic::AtomicBool,
    new_codes: std::sync::Mutex<Option<RecoveryCodes>>,
}

impl Store for RegeneratingStore {
    type Error = Error;

    async fn load(&self, user_id: &str) -> Result<Option<Versioned>, Error> {
        self.inner.load(user_id).await
    }

    async fn save(
        &self,
        user_id: &str,
        record: &TwoFactorRecord,
        expected: Option<u64>,
    ) -> Result<SaveOutcome, Error> {
        if self.armed.swap(false, Ordering::SeqCst) {
            let settings = Settings::new("Plausible Analytics").unwrap();
            let sealer = AesGcmSealer::new("k1", &[3; 32]).unwrap();
            // Another instance of the same scheme, so that it counts no derivation.
            let hasher = Pbkdf2Hasher::new().with_iterations(1_000).unwrap();
            let ctx = Context::new(user_id, &settings, &sealer, &hasher).unwrap();
            let current = self.inner.load(user_id).await?.unwrap();
            let proof = Reauthentication::Password(password(T0));
            let mut rng = twofa::os_rng();
            let outcome = current
                .record
                .regenerate_recovery_codes(&ctx, proof, &mut rng, T0)
                .save_with(|next| {
                    let saved = futures_now(self.inner.save(user_id, next, Some(current.version)));
                    assert_eq!(saved, Ok(SaveOutcome::Saved));
                    Ok::<(), Error>(())
                })?;
            *self.new_codes.lock().unwrap() = Some(outcome.result.unwrap());
        }
        self.inner.save(user_id, record, expected).await
    }

    async fn delete(&self, user_id: &str) -> Result<bool, Error> {
        self.inner.delete(user_id).await
    }
}

/// Polls a future that never waits (the memory store's) to its end.
fn futures_now<F: std::future::Future>(future: F) -> F::Output {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(value) => value,
        std::task::Poll::Pending => panic!("the memory store waited"),
    }
}

#[tokio::test]
async fn a_set_regenerated_under_an_attempt_is_derived_again_and_only_then() {
    let clock = Arc::new(AtomicU64::new(T0));
    let hasher = Watching::new();
    let pool = Arc::new(CountingPool::default());
    let tf = watched_service(
        RegeneratingStore::default(),
        clock.clone(),
        hasher.clone(),
        pool,
    );
    let (_, old_codes) = enable(&tf, &clock).await;
    let old = old_codes.iter().next().unwrap().to_owned();

    // The old code is checked against the old set, the save conflicts with the regeneration,
    // and the retry finds a new salt: one more derivation, and the old code no longer works.
    tf.store().armed.store(true, Ordering::SeqCst);
    let before = hasher.count();
    let outcome = tf.use_recovery_code(USER, &old).await.unwrap();
    assert_eq!(
        outcome.result.err(),
        Some(RecoveryError::InvalidCode.into())
    );
    assert_eq!(
        hasher.count() - before,
        2,
        "derived for the old set, then the new"
    );

    // A code of the new set, with no conflict this time: one derivation.
    let new = tf.store().new_codes.lock().unwrap().take().unwrap();
    let before = hasher.count();
    let outcome = tf
        .use_recovery_code(USER, new.iter().next().unwrap())
        .await
        .unwrap();
    assert_eq!(
        outcome.result.unwrap().method(),
        SignInMethod::RecoveryCode { remaining: 9 }
    );
    assert_eq!(hasher.count() - before, 1);

    // The regeneration again under a code of the new-new set: its first run sees the
    // previous set and fails to match, the retry derives again and succeeds.
    tf.store().armed.store(true, Ordering::SeqCst);
    let before = hasher.count();
    let failed = tf.use_recovery_code(USER, new.iter().nth(1).unwrap()).await;
    let newest = tf.store().new_codes.lock().unwrap().take().unwrap();
    assert_eq!(
        failed.unwrap().result.err(),
        Some(RecoveryError::InvalidCode.into())
    );
    assert_eq!(hasher.count() - before, 2);
    assert_eq!(
        tf.record(USER)
            .await
            .unwrap()
            .unwrap()
            .recovery_codes_left(),
        Some(10)
    );
    assert!(
        tf.use_recovery_code(USER, newest.iter().next().unwrap())
            .await
            .unwrap()
            .result
            .is_ok()
    );
}

#[tokio::test]
async fn a_conflict_after_the_codes_were_made_reuses_them() {
    let clock = Arc::new(AtomicU64::new(T0));
    let hasher = Watching::new();
    let pool = Arc::new(CountingPool::default());
    let tf = watched_service(
        RegeneratingStore::default(),
        clock.clone(),
        hasher.clone(),
        pool,
    );
    enable(&tf, &clock).await;
    // Our regeneration's first save conflicts with another regeneration; the retry on the
    // fresh record hands out the very codes derived the first time.
    tf.store().armed.store(true, Ordering::SeqCst);
    let before = hasher.count();
    let proof = Reauthentication::Password(password(T0));
    let codes = tf
        .regenerate_recovery_codes(USER, proof)
        .await
        .unwrap()
        .result
        .unwrap();
    assert_eq!(hasher.count() - before, 10, "ten derivations, not twenty");
    let other = tf.store().new_codes.lock().unwrap().take().unwrap();
    assert_ne!(codes.to_string(), other.to_string());
    let first = codes.iter().next().unwrap();
    assert_eq!(
        tf.use_recovery_code(USER, first)
            .await
            .unwrap()
            .result
            .unwrap()
            .method(),
        SignInMethod::RecoveryCode { remaining: 9 }
    );
}

#[tokio::test]
async fn a_pool_that_drops_jobs_fails_the_flow_and_writes_nothing() {
    let clock = Arc::new(AtomicU64::new(T0));
    let hasher = Watching::new();
    let pool = Arc::new(CountingPool::default());
    let tf = watched_service(MemoryStore::new(), clock.clone(), hasher.clone(), pool);
    let (app, codes) = enable(&tf, &clock).await;
    let before = tf.store().load(USER).await.unwrap().unwrap();

    let dropping = Arc::new(CountingPool {
        drop_jobs: true,
        ..CountingPool::default()
    });
    let tf = TwoFactor::new(
        MemoryStore::new(),
        Settings::new("Plausible Analytics").unwrap(),
        Arc::new(AesGcmSealer::new("k1", &[3; 32]).unwrap()),
        hasher,
    )
    .with_clock(Arc::new(move || clock.load(Ordering::SeqCst)))
    .with_blocking_pool(dropping.clone());
    assert_eq!(
        tf.store().save(USER, &before.record, None).await.unwrap(),
        SaveOutcome::Saved
    );
    let code = codes.iter().next().unwrap();
    let failed = tf.use_recovery_code(USER, code).await;
    assert!(matches!(failed, Err(ServiceError::BlockingPoolFailed)));
    let proof = Reauthentication::Password(password(T0));
    let failed = tf.regenerate_recovery_codes(USER, proof).await;
    assert!(matches!(failed, Err(ServiceError::BlockingPoolFailed)));
    assert_eq!(
        dropping.jobs.load(Ordering::SeqCst),
        11,
        "one attempt, then ten codes"
    );
    assert_eq!(
        tf.store().load(USER).await.unwrap().unwrap().record,
        before.record
    );
    assert_eq!(
        ServiceError::<Error>::BlockingPoolFailed.to_string(),
        "two-factor key derivation did not run; try again"
    );
    // A TOTP sign-in needs no job, so it still works.
    let now = T0 + 30;
    let tf = tf.with_clock(Arc::new(move || now));
    let code = app.generate(now).to_string();
    assert!(tf.verify_code(USER, &code).await.unwrap().result.is_ok());
}

#[tokio::test]
async fn a_device_sign_in_saves_only_to_report_failures_and_a_recent_sign_in_steps_up() {
    let clock = Arc::new(AtomicU64::new(T0));
    let tf = service(CountingStore::default(), clock.clone(), false);
    let saves = || tf.store().calls().1;
    let (app, codes) = enable(&tf, &clock).await;
    clock.store(T0 + 30, Ordering::SeqCst);
    let code = app.generate(T0 + 30).to_string();
    let signed_in = tf.verify_code(USER, &code).await.unwrap().result.unwrap();
    let token = tf
        .trust_device(USER, &signed_in, None)
        .await
        .unwrap()
        .result
        .unwrap();
    // Nothing to report: read-only.
    let before = saves();
    let quiet = tf.sign_in_with_device(USER, token.as_str()).await.unwrap();
    assert_eq!(quiet.result.unwrap().failed_attempts(), 0);
    assert_eq!(saves(), before);
    // Two wrong codes: the next device sign-in reports them, saved, and only once.
    for wrong in wrong_codes(&app, T0 + 30, 2) {
        let _ = tf.verify_code(USER, &wrong).await.unwrap();
    }
    let before = saves();
    let loud = tf.sign_in_with_device(USER, token.as_str()).await.unwrap();
    assert_eq!(loud.result.unwrap().failed_attempts(), 2);
    assert_eq!(loud.events, [Event::FailedAttempts { failures: 2 }]);
    assert_eq!(saves(), before + 1);
    let again = tf.sign_in_with_device(USER, token.as_str()).await.unwrap();
    assert_eq!(again.result.unwrap().failed_attempts(), 0);
    assert_eq!(saves(), before + 1);
    // Step-up: the code sign-in of a minute ago regenerates the codes; the device sign-in
    // does not.
    clock.store(T0 + 90, Ordering::SeqCst);
    let on_device = tf
        .sign_in_with_device(USER, token.as_str())
        .await
        .unwrap()
        .result
        .unwrap();
    let refused = tf
        .regenerate_recovery_codes(USER, Reauthentication::SecondFactor(on_device))
        .await
        .unwrap();
    assert_eq!(refused.result.err(), Some(Error::ReauthenticationRequired));
    let fresh = tf
        .regenerate_recovery_codes(USER, Reauthentication::SecondFactor(signed_in))
        .await
        .unwrap()
        .result
        .unwrap();
    assert_eq!(fresh.len(), codes.len());
}

// A bounded pool, and one recovery attempt per user at a time.

/// Long enough for any healthy machine; a broken gate or pool fails the test after it
/// instead of hanging it.
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// `future`'s output, or a failed test if it takes longer than [`PATIENCE`].
async fn within<F: std::future::Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(PATIENCE, future).await {
        Ok(output) => output,
        Err(_) => panic!("{what}: still waiting after {PATIENCE:?}"),
    }
}

/// A cheap PBKDF2 hasher whose derivations wait, while it is closed, until the test opens it;
/// it counts the derivations that started.
#[derive(Debug)]
struct Held {
    inner: Pbkdf2Hasher,
    state: std::sync::Mutex<HeldState>,
    changed: std::sync::Condvar,
}

#[derive(Debug)]
struct HeldState {
    open: bool,
    entered: usize,
}

impl Held {
    fn new() -> Arc<Self> {
        Arc::new(Held {
            inner: Pbkdf2Hasher::new().with_iterations(1_000).unwrap(),
            state: std::sync::Mutex::new(HeldState {
                open: true,
                entered: 0,
            }),
            changed: std::sync::Condvar::new(),
        })
    }

    fn set_open(&self, open: bool) {
        self.state.lock().unwrap().open = open;
        self.changed.notify_all();
    }

    fn entered(&self) -> usize {
        self.state.lock().unwrap().entered
    }

    /// Waits (boundedly) until `count` derivations have started.
    async fn entered_reaches(&self, count: usize) {
        within(&format!("derivation {count} to start"), async {
            while self.entered() < count {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        })
        .await;
        assert_eq!(self.entered(), count);
    }
}

impl CodeHasher for Held {
    fn algorithm(&self) -> &str {
        self.inner.algorithm()
    }
    fn parameters(&self) -> String {
        self.inner.parameters()
    }
    fn hash(&self, code: &[u8], salt: &[u8], parameters: &str) -> Result<Vec<u8>, Error> {
        let mut state = self.state.lock().unwrap();
        state.entered += 1;
        let (state, waited) = self
            .changed
            .wait_timeout_while(state, PATIENCE, |s| !s.open)
            .unwrap();
        drop(state);
        // A panic fails the flow that waits for this job (the pool reports it dropped).
        assert!(!waited.timed_out(), "the test never opened the hasher");
        self.inner.hash(code, salt, parameters)
    }
}

/// A service over `store` with the default throttle, the given hasher and pool.
fn pooled_service<S: Store>(
    store: S,
    clock: Arc<AtomicU64>,
    hasher: Arc<dyn CodeHasher>,
    pool: Arc<dyn BlockingPool>,
) -> TwoFactor<S> {
    TwoFactor::new(
        store,
        Settings::new("Plausible Analytics").unwrap(),
        Arc::new(AesGcmSealer::new("k1", &[3; 32]).unwrap()),
        hasher,
    )
    .with_clock(Arc::new(move || clock.load(Ordering::SeqCst)))
    .with_blocking_pool(pool)
    .with_max_retries(256)
}

/// Enables 2FA for `user` and returns the user's recovery codes.
async fn enable_as<S: Store>(tf: &TwoFactor<S>, user: &str) -> RecoveryCodes
where
    S::Error: std::fmt::Debug,
{
    let now = tf.now().unwrap();
    let proof = PasswordConfirmed::check(&|_: &str, _: &str| true, user, "pw", now).unwrap();
    let enrollment = tf
        .start_enrollment(user, Some(&proof), "alice@example.com")
        .await
        .unwrap()
        .result
        .unwrap();
    let app = enrollment.uri().to_totp().unwrap();
    tf.confirm_enrollment(user, &app.generate(now).to_string())
        .await
        .unwrap()
        .result
        .unwrap()
}

/// The stored record's version and bytes, to compare before and after a flow.
async fn stored<S: Store>(tf: &TwoFactor<S>, user: &str) -> (u64, Vec<u8>)
where
    S::Error: std::fmt::Debug,
{
    let versioned = tf.store().load(user).await.unwrap().unwrap();
    (versioned.version, versioned.record.to_bytes())
}

/// Waits (boundedly) for an attempt, which must have failed as a wrong recovery code.
async fn wrong_code<E: std::fmt::Debug>(
    task: tokio::task::JoinHandle<Result<Outcome<SignedIn>, ServiceError<E>>>,
) {
    let outcome = within("an attempt", task).await.unwrap().unwrap();
    assert_eq!(
        outcome.result.err(),
        Some(RecoveryError::InvalidCode.into())
    );
}

/// A job that holds the pool's thread until the returned sender is used or dropped; the
/// receiver says when it started.
fn blocker() -> (
    BlockingJob,
    std::sync::mpsc::Sender<()>,
    std::sync::mpsc::Receiver<()>,
) {
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (started, has_started) = std::sync::mpsc::channel();
    let job: BlockingJob = Box::new(move || {
        started.send(()).unwrap();
        let _ = released.recv_timeout(PATIENCE);
    });
    (job, release, has_started)
}

#[tokio::test]
async fn a_full_pool_refuses_at_once_with_busy_and_writes_nothing() {
    let clock = Arc::new(AtomicU64::new(T0));
    let hasher = Watching::new();
    // One thread, and room for a new set's ten jobs but no more.
    let pool = Arc::new(ThreadPool::with_threads(1).with_max_queued(10));
    let tf = pooled_service(MemoryStore::new(), clock, hasher.clone(), pool.clone());
    let codes = enable_as(&tf, USER).await;
    assert_eq!(hasher.count(), 10);
    let before = stored(&tf, USER).await;

    // The thread busy, and one job queued: a new set's tenth job does not fit.
    let (job, release, has_started) = blocker();
    pool.spawn(job).unwrap();
    has_started.recv_timeout(PATIENCE).unwrap();
    let (queued, ran) = std::sync::mpsc::channel();
    pool.spawn(Box::new(move || queued.send(()).unwrap()))
        .unwrap();
    let proof = Reauthentication::Password(
        PasswordConfirmed::check(&|_: &str, _: &str| true, USER, "pw", T0).unwrap(),
    );
    let refused = within(
        "a refused new set",
        tf.regenerate_recovery_codes(USER, proof),
    )
    .await;
    assert!(matches!(refused, Err(ServiceError::Busy)), "{refused:?}");
    assert_eq!(stored(&tf, USER).await, before);
    // The nine jobs it did queue fill the queue: a recovery attempt is refused too, at once,
    // neither checked nor counted.
    assert!(format!("{pool:?}").contains("queued: 10"), "{pool:?}");
    let code = codes.iter().next().unwrap();
    let refused = within("a refused attempt", tf.use_recovery_code(USER, code)).await;
    assert!(matches!(refused, Err(ServiceError::Busy)), "{refused:?}");
    assert_eq!(stored(&tf, USER).await, before);
    assert_eq!(
        ServiceError::<Error>::Busy.to_string(),
        "two-factor service is busy; try again in a moment"
    );
    assert_eq!(hasher.count(), 10, "a refused flow derived");

    // Once the thread is free, the queued jobs run, and the pool takes jobs again. The same
    // code now signs in; its job runs after the nine abandoned ones (one thread, in order),
    // which derived nothing, since nobody waited for them.
    release.send(()).unwrap();
    ran.recv_timeout(PATIENCE).unwrap();
    let outcome = within(
        "an attempt after the burst",
        tf.use_recovery_code(USER, code),
    )
    .await;
    assert_eq!(
        outcome.unwrap().result.unwrap().method(),
        SignInMethod::RecoveryCode { remaining: 9 }
    );
    assert_eq!(hasher.count(), 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_recovery_codes_beyond_the_free_attempts_cost_no_derivation() {
    let clock = Arc::new(AtomicU64::new(T0));
    let hasher = Watching::new();
    let tf = Arc::new(pooled_service(
        YieldingStore::default(),
        clock,
        hasher.clone(),
        Arc::new(ThreadPool::new()),
    ));
    enable_as(&tf, USER).await;
    assert_eq!(hasher.count(), 10);

    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let tf = tf.clone();
            tokio::spawn(async move { tf.use_recovery_code(USER, &format!("ZZZZZ-{i:05}")).await })
        })
        .collect();
    let (mut wrong, mut throttled) = (0, 0);
    for task in tasks {
        let outcome = within("twenty attempts", task).await.unwrap().unwrap();
        match outcome.result {
            Err(Error::Recovery(RecoveryError::InvalidCode)) => wrong += 1,
            Err(Error::Throttled { .. }) => throttled += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    // The attempts take turns, each checking the throttle on the record the one before it
    // saved: at one instant the default recovery policy's five free attempts are checked (the
    // fifth failure starts the delay), and the other fifteen are refused without a derivation.
    let free = 5;
    assert_eq!(
        ThrottlePolicy::for_recovery_codes().delay_after(free - 1),
        0
    );
    assert_eq!(ThrottlePolicy::for_recovery_codes().delay_after(free), 1);
    assert_eq!((wrong, throttled), (free as usize, 20 - free as usize));
    assert_eq!(
        hasher.count() - 10,
        free as usize,
        "derivations for 20 attempts"
    );
    let record = tf.record(USER).await.unwrap().unwrap();
    assert_eq!(record.recovery_code_failures(), free);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_users_derivation_in_flight_holds_back_only_that_user() {
    let clock = Arc::new(AtomicU64::new(T0));
    let hasher = Held::new();
    // Threads enough that only the gate can hold a derivation back.
    let tf = Arc::new(pooled_service(
        MemoryStore::new(),
        clock,
        hasher.clone(),
        Arc::new(ThreadPool::with_threads(3)),
    ));
    let other = "user-7";
    enable_as(&tf, USER).await;
    enable_as(&tf, other).await;
    let enrolled = hasher.entered();
    hasher.set_open(false);

    let attempt = |user: &'static str, code: &'static str| {
        let tf = tf.clone();
        tokio::spawn(async move { tf.use_recovery_code(user, code).await })
    };
    let first = attempt(USER, "ZZZZZ-00001");
    hasher.entered_reaches(enrolled + 1).await;
    // The same user's next attempt waits for the first to finish...
    let second = attempt(USER, "ZZZZZ-00002");
    // ...while another user's derives beside it.
    let others = attempt(other, "ZZZZZ-00003");
    hasher.entered_reaches(enrolled + 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        hasher.entered(),
        enrolled + 2,
        "two derivations of one user at once"
    );

    hasher.set_open(true);
    for task in [first, second, others] {
        wrong_code(task).await;
    }
    assert_eq!(hasher.entered(), enrolled + 3);
    assert_eq!(
        tf.record(USER)
            .await
            .unwrap()
            .unwrap()
            .recovery_code_failures(),
        2
    );
    assert_eq!(
        tf.record(other)
            .await
            .unwrap()
            .unwrap()
            .recovery_code_failures(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancelled_attempt_gives_up_its_turn() {
    let clock = Arc::new(AtomicU64::new(T0));
    let hasher = Held::new();
    let tf = Arc::new(pooled_service(
        MemoryStore::new(),
        clock,
        hasher.clone(),
        Arc::new(ThreadPool::with_threads(3)),
    ));
    enable_as(&tf, USER).await;
    let enrolled = hasher.entered();
    let attempt = |code: &'static str| {
        let tf = tf.clone();
        tokio::spawn(async move { tf.use_recovery_code(USER, code).await })
    };

    // Cancelled while its derivation runs: the next attempt derives at once, though the
    // cancelled one's derivation is still held.
    hasher.set_open(false);
    let in_flight = attempt("ZZZZZ-00001");
    hasher.entered_reaches(enrolled + 1).await;
    in_flight.abort();
    assert!(
        within("the abort", in_flight)
            .await
            .unwrap_err()
            .is_cancelled()
    );
    let next = attempt("ZZZZZ-00002");
    hasher.entered_reaches(enrolled + 2).await;
    hasher.set_open(true);
    wrong_code(next).await;

    // Cancelled while waiting for its turn: the one behind it gets the turn.
    hasher.set_open(false);
    let holding = attempt("ZZZZZ-00003");
    hasher.entered_reaches(enrolled + 3).await;
    let waiting = attempt("ZZZZZ-00004");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let behind = attempt("ZZZZZ-00005");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    waiting.abort();
    assert!(
        within("the abort", waiting)
            .await
            .unwrap_err()
            .is_cancelled()
    );
    hasher.set_open(true);
    wrong_code(holding).await;
    wrong_code(behind).await;
    // The cancelled attempts saved nothing, and the waiting one never derived.
    assert_eq!(hasher.entered(), enrolled + 4);
    assert_eq!(
        tf.record(USER)
            .await
            .unwrap()
            .unwrap()
            .recovery_code_failures(),
        3
    );
}
