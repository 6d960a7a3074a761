//! Every flow of the account record, end to end, through the public API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// test code: failing loudly is the point
// The golden record and the Debug leak test seal with the test-only plaintext sealer.
#![cfg(feature = "danger-plaintext-sealer")]

use std::convert::Infallible;

use twofa::account::{
    Context, DeviceKey, Event, Outcome, PasswordConfirmed, Reauthentication, RecordError, Settings,
    SignInMethod, SignedIn, Status, ThrottlePolicy, Transition, TwoFactorRecord,
};
use twofa::seal::{AesGcmSealer, DangerPlaintextSealer, SecretSealer};
use twofa::{Error, Pbkdf2Hasher, RecoveryCodes, RecoveryError, Totp};

const USER: &str = "user-42";
const T0: u64 = 1_700_000_000;

/// Everything a flow needs. The hasher uses the lowest work factor, because these tests hash
/// recovery codes many times; the work factor is the recovery module's concern.
struct Fixture {
    settings: Settings,
    sealer: Box<dyn SecretSealer>,
    hasher: Pbkdf2Hasher,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            settings: Settings::new("Plausible Analytics")
                .unwrap()
                .device_key(DeviceKey::from_bytes(&[5; 32]).unwrap()),
            sealer: Box::new(AesGcmSealer::new("k1", &[7; 32]).unwrap()),
            hasher: Pbkdf2Hasher::new()
                .with_iterations(Pbkdf2Hasher::MIN_ITERATIONS)
                .unwrap(),
        }
    }

    fn ctx(&self) -> Context<'_> {
        self.ctx_for(USER)
    }

    fn ctx_for<'a>(&'a self, user: &'a str) -> Context<'a> {
        Context::new(user, &self.settings, &*self.sealer, &self.hasher).unwrap()
    }
}

/// Runs flows the way a host must: through `save_with`, keeping what it saved.
trait Run {
    fn run<T>(&mut self, flow: impl FnOnce(&TwoFactorRecord) -> Transition<T>) -> Outcome<T>;

    /// Runs a flow whose outcome the test does not look at.
    fn advance<T>(&mut self, flow: impl FnOnce(&TwoFactorRecord) -> Transition<T>) {
        let _ = self.run(flow);
    }
}

impl Run for TwoFactorRecord {
    fn run<T>(&mut self, flow: impl FnOnce(&TwoFactorRecord) -> Transition<T>) -> Outcome<T> {
        let transition = flow(self);
        let Ok(outcome) = transition.save_with(|next| {
            *self = next.clone();
            Ok::<(), Infallible>(())
        });
        outcome
    }
}

/// A flow on a copy of `record`: its outcome and the record after it.
fn step<T>(
    record: &TwoFactorRecord,
    flow: impl FnOnce(&TwoFactorRecord) -> Transition<T>,
) -> (Outcome<T>, TwoFactorRecord) {
    let mut next = record.clone();
    let outcome = next.run(flow);
    (outcome, next)
}

/// A pending record and the user's authenticator.
fn pending(fx: &Fixture, now: u64) -> (TwoFactorRecord, Totp) {
    let mut record = TwoFactorRecord::new();
    let started = record.run(|r| {
        r.start_enrollment(
            &fx.ctx(),
            Some(&password(USER, now)),
            "alice@example.com",
            &mut twofa::os_rng(),
            now,
        )
    });
    let app = started.result.unwrap().uri().to_totp().unwrap();
    (record, app)
}

/// An enabled record, the user's authenticator (as a `Totp`), and the recovery codes.
fn enabled(fx: &Fixture) -> (TwoFactorRecord, Totp, RecoveryCodes) {
    let (mut record, app) = pending(fx, T0);
    let code = app.generate(T0).to_string();
    let confirmed =
        record.run(|r| r.confirm_enrollment(&fx.ctx(), &code, &mut twofa::os_rng(), T0));
    assert_eq!(confirmed.events, [Event::Enabled]);
    (record, app, confirmed.result.unwrap())
}

/// A code of `app`'s length that matches no step near `now` (two steps either way).
fn wrong_code(app: &Totp, now: u64) -> String {
    let near = near_codes(app, now);
    (0..100)
        .map(|n| format!("{n:06}"))
        .find(|c| !near.contains(c))
        .unwrap()
}

/// The codes of the steps around `now`, two either way: more than any window accepts here.
fn near_codes(app: &Totp, now: u64) -> Vec<String> {
    (0..5)
        .map(|i| app.generate(now.saturating_sub(60) + i * 30).to_string())
        .collect()
}

/// The error of a flow that must fail without changing the record.
fn refused<T>(transition: Transition<T>) -> Error {
    assert!(!transition.changed(), "a refused flow changed the record");
    let Ok(outcome) = transition
        .save_with(|_| -> Result<(), Infallible> { panic!("an unchanged record was saved") });
    match outcome.result {
        Err(error) => error,
        Ok(_) => panic!("the flow succeeded"),
    }
}

fn password(user: &str, now: u64) -> PasswordConfirmed {
    let check = |u: &str, p: &str| u == USER && p == "correct horse";
    PasswordConfirmed::check(&check, user, "correct horse", now).unwrap()
}

/// Fails codes until the record is locked out, within the lockout threshold and the waits
/// the throttle asks for; panics if the lockout does not come in time. Returns the time of
/// the lockout.
fn lock_out(fx: &Fixture, record: &mut TwoFactorRecord, app: &Totp, mut now: u64) -> u64 {
    let policy = *fx.settings.throttle_policy();
    for _ in 0..policy.lockout_threshold() {
        let code = wrong_code(app, now);
        let (result, events) = if record.is_enabled() {
            let attempt = record.run(|r| r.verify_code(&fx.ctx(), &code, now));
            (attempt.result.err(), attempt.events)
        } else {
            let attempt =
                record.run(|r| r.confirm_enrollment(&fx.ctx(), &code, &mut twofa::os_rng(), now));
            (attempt.result.err(), attempt.events)
        };
        assert_eq!(result, Some(Error::InvalidCode));
        if let Some(Event::LockedOut { .. }) = events.last() {
            return now;
        }
        if let Some(Event::Throttled { retry_at, .. }) = events.last() {
            now = *retry_at;
        }
    }
    panic!("no lockout after {} failures", policy.lockout_threshold());
}

#[test]
fn enrolment_shows_a_uri_a_qr_code_and_the_key() {
    let fx = Fixture::new();
    let mut record = TwoFactorRecord::new();
    let proof = password(USER, T0);
    let started = record.run(|r| {
        r.start_enrollment(
            &fx.ctx(),
            Some(&proof),
            "alice@example.com",
            &mut twofa::os_rng(),
            T0,
        )
    });
    assert_eq!(started.events, [Event::EnrollmentStarted]);
    assert_eq!(record.status(), Status::Pending { started_at: T0 });
    let enrollment = started.result.unwrap();
    let uri = enrollment.uri().to_string();
    assert!(uri.starts_with("otpauth://totp/Plausible%20Analytics:alice%40example.com?secret="));
    let key = enrollment.manual_key();
    assert_eq!(key.replace(' ', ""), *enrollment.uri().secret().to_base32());
    assert!(enrollment.qr_code().unwrap().to_svg().starts_with("<svg"));
    assert!(!format!("{enrollment:?}").contains(&*enrollment.uri().secret().to_base32()));
}

#[test]
fn enrolment_needs_a_fresh_password_proof_unless_the_host_opts_out() {
    let fx = Fixture::new();
    let mut rng = twofa::os_rng();
    let off = TwoFactorRecord::new();
    let start = |ctx: &Context<'_>, proof: Option<&PasswordConfirmed>, now| {
        off.start_enrollment(ctx, proof, "alice", &mut twofa::os_rng(), now)
    };
    // No proof, a stale one, a foreign one: refused, and nothing changes.
    let lifetime = Settings::DEFAULT_REAUTHENTICATION_LIFETIME;
    let foreign = PasswordConfirmed::check(&|_: &str, _: &str| true, "user-7", "x", T0).unwrap();
    for (proof, now) in [
        (None, T0),
        (Some(password(USER, T0)), T0 + lifetime + 1),
        (Some(foreign), T0),
    ] {
        let refused = start(&fx.ctx(), proof.as_ref(), now);
        assert!(!refused.changed());
        let (outcome, _) = step(&off, |_| refused);
        assert_eq!(outcome.result.err(), Some(Error::ReauthenticationRequired));
    }
    // A fresh proof, up to the end of its lifetime.
    let fresh = start(&fx.ctx(), Some(&password(USER, T0)), T0 + lifetime);
    assert!(fresh.changed());
    // A host that just checked the password opts out.
    let mut lenient = Fixture::new();
    lenient.settings = lenient
        .settings
        .clone()
        .allow_enrollment_without_reauthentication();
    let (outcome, record) = step(&off, |r| {
        r.start_enrollment(&lenient.ctx(), None, "alice", &mut rng, T0)
    });
    assert!(outcome.result.is_ok());
    assert!(matches!(record.status(), Status::Pending { .. }));
}

#[test]
fn starting_again_replaces_the_pending_secret() {
    let fx = Fixture::new();
    let mut rng = twofa::os_rng();
    let (mut record, first_app) = pending(&fx, T0);
    let proof = password(USER, T0 + 5);
    let second =
        record.run(|r| r.start_enrollment(&fx.ctx(), Some(&proof), "alice", &mut rng, T0 + 5));
    let second_app = second.result.unwrap().uri().to_totp().unwrap();
    assert_ne!(first_app.secret(), second_app.secret());
    // The first secret no longer confirms.
    let stale_code = first_app.generate(T0 + 5).to_string();
    let stale = record.run(|r| r.confirm_enrollment(&fx.ctx(), &stale_code, &mut rng, T0 + 5));
    if first_app.generate(T0 + 5) != second_app.generate(T0 + 5) {
        assert_eq!(stale.result.err(), Some(Error::InvalidCode));
    }
    assert!(matches!(record.status(), Status::Pending { .. }));
    let code = second_app.generate(T0 + 5).to_string();
    let ok = record.run(|r| r.confirm_enrollment(&fx.ctx(), &code, &mut rng, T0 + 5));
    assert!(ok.result.is_ok());
}

#[test]
fn a_wrong_confirmation_code_keeps_the_record_pending() {
    let fx = Fixture::new();
    let mut rng = twofa::os_rng();
    let (record, app) = pending(&fx, T0);
    let wrong = record.confirm_enrollment(&fx.ctx(), &wrong_code(&app, T0), &mut rng, T0);
    assert!(wrong.changed(), "the failure must be stored");
    let (outcome, record) = step(&record, |_| wrong);
    assert_eq!(outcome.result.err(), Some(Error::InvalidCode));
    assert!(matches!(record.status(), Status::Pending { .. }));
    assert_eq!(record.failures(), 1);
}

#[test]
fn confirming_follows_the_sign_in_rules() {
    let fx = Fixture::new();
    let mut rng = twofa::os_rng();
    let (mut record, app) = pending(&fx, T0);
    let now = lock_out(&fx, &mut record, &app, T0);
    // Locked out, the right code is not even looked at.
    let code = app.generate(now).to_string();
    let locked = record.confirm_enrollment(&fx.ctx(), &code, &mut rng, now);
    assert!(!locked.changed());
    assert_eq!(
        step(&record, |_| locked).0.result.err(),
        Some(Error::LockedOut)
    );
    // A recovery code on a pending record is refused for the state, not the lockout.
    assert_eq!(
        refused(record.use_recovery_code(&fx.ctx(), "AAAAA-AAAAA", now)),
        Error::NotEnabled
    );
    // A host misconfiguration (a sealer without the key) is not the user's failure.
    let other = AesGcmSealer::new("k9", &[1; 32]).unwrap();
    let (mut record, app) = pending(&fx, T0);
    let ctx = Context::new(USER, &fx.settings, &other, &fx.hasher).unwrap();
    let code = app.generate(T0).to_string();
    let sealed_away = record.confirm_enrollment(&ctx, &code, &mut rng, T0);
    assert!(!sealed_away.changed());
    // After a typo, the confirmation clears the count; the typo was the owner's own, so
    // nothing is reported (see `typos_while_confirming_the_setup_are_not_reported_...`).
    let wrong = wrong_code(&app, T0);
    record.advance(|r| r.confirm_enrollment(&fx.ctx(), &wrong, &mut rng, T0));
    let confirmed = record.run(|r| r.confirm_enrollment(&fx.ctx(), &code, &mut rng, T0));
    assert!(confirmed.result.is_ok());
    assert_eq!(confirmed.events, [Event::Enabled]);
    assert_eq!(record.failures(), 0);
}

#[test]
fn cancelling_drops_only_a_pending_enrolment() {
    let fx = Fixture::new();
    let (mut record, app) = pending(&fx, T0);
    let cancelled = record.run(|r| r.cancel_enrollment());
    assert!(cancelled.result.is_ok());
    assert_eq!(cancelled.events, [Event::EnrollmentCancelled]);
    assert_eq!(record.status(), Status::Disabled);
    // The cancelled secret no longer confirms anything.
    let code = app.generate(T0).to_string();
    let late = record.run(|r| r.confirm_enrollment(&fx.ctx(), &code, &mut twofa::os_rng(), T0));
    assert_eq!(late.result.err(), Some(Error::NotPending));
    // Nothing to cancel: off, or enabled.
    let again = record.cancel_enrollment();
    assert!(!again.changed());
    assert_eq!(
        step(&record, |_| again).0.result.err(),
        Some(Error::NotPending)
    );
    let (on, _, _) = enabled(&fx);
    let (outcome, after) = step(&on, |r| r.cancel_enrollment());
    assert_eq!(outcome.result.err(), Some(Error::NotPending));
    assert_eq!(after, on);
}

#[test]
fn flows_refuse_the_wrong_state() {
    let fx = Fixture::new();
    let mut rng = twofa::os_rng();
    let ctx = fx.ctx();
    let off = TwoFactorRecord::new();
    assert_eq!(
        refused(off.verify_code(&ctx, "123456", T0)),
        Error::NotEnabled
    );
    assert_eq!(
        refused(off.confirm_enrollment(&ctx, "123456", &mut rng, T0)),
        Error::NotPending
    );
    assert_eq!(
        refused(off.use_recovery_code(&ctx, "AAAAA-AAAAA", T0)),
        Error::NotEnabled
    );
    let (pending, _) = pending(&fx, T0);
    assert_eq!(
        refused(pending.verify_code(&ctx, "123456", T0)),
        Error::NotEnabled
    );
    let (on, _, _) = enabled(&fx);
    let proof = password(USER, T0);
    assert_eq!(
        refused(on.start_enrollment(&ctx, Some(&proof), "alice", &mut rng, T0)),
        Error::AlreadyEnabled
    );
    assert_eq!(
        refused(on.confirm_enrollment(&ctx, "123456", &mut rng, T0)),
        Error::NotPending
    );
}

#[test]
fn save_with_saves_a_changed_record_and_only_then() {
    let fx = Fixture::new();
    let (record, app, _) = enabled(&fx);
    // A wrong code changes the record (the failure count): the save runs, and the outcome
    // comes back after it.
    let mut saved = Vec::new();
    let wrong = record.verify_code(&fx.ctx(), &wrong_code(&app, T0 + 30), T0 + 30);
    assert!(wrong.changed());
    assert_eq!(wrong.record().failures(), 1);
    let outcome = wrong
        .save_with(|next| {
            saved.push(next.clone());
            Ok::<(), Infallible>(())
        })
        .unwrap();
    assert_eq!(outcome.result.err(), Some(Error::InvalidCode));
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].failures(), 1);
    // A flow that changes nothing does not call the save.
    let unchanged = record.unlock();
    assert!(!unchanged.changed());
    let outcome = unchanged
        .save_with(|_| -> Result<(), Infallible> { panic!("saved an unchanged record") })
        .unwrap();
    assert_eq!(outcome.result, Ok(()));
    assert!(outcome.events.is_empty());
    // A failed save withholds the outcome: a sign-in whose step was not stored must not go on.
    let code = app.generate(T0 + 30).to_string();
    let accepted = record.verify_code(&fx.ctx(), &code, T0 + 30);
    assert_eq!(
        accepted.save_with(|_| Err("database down")).err(),
        Some("database down")
    );
}

#[test]
fn the_confirming_code_cannot_sign_in_and_a_replay_is_reported() {
    let fx = Fixture::new();
    let (mut record, app, _) = enabled(&fx);
    let confirming = app.generate(T0).to_string();
    let same = record.run(|r| r.verify_code(&fx.ctx(), &confirming, T0 + 1));
    assert_eq!(same.result.err(), Some(Error::ReplayedCode));
    assert!(same.events.contains(&Event::ReplayDetected));
    assert_eq!(record.failures(), 1, "a replay counts against the throttle");

    let later = T0 + 30;
    let code = app.generate(later).to_string();
    let first = record.run(|r| r.verify_code(&fx.ctx(), &code, later));
    let signed_in = first.result.unwrap();
    assert!(matches!(
        signed_in.method(),
        SignInMethod::Code { offset: 0 }
    ));
    assert_eq!(signed_in.at(), later);
    // The replay above was reported by its own event: one replay, one notice.
    assert_eq!(signed_in.failed_attempts(), 0);
    assert!(first.events.is_empty(), "{:?}", first.events);
    let again = record.run(|r| r.verify_code(&fx.ctx(), &code, later + 2));
    let error = again.result.unwrap_err();
    assert_eq!(error, Error::ReplayedCode);
    assert!(error.is_wrong_code());
}

#[test]
fn failures_since_the_last_success_are_reported_at_sign_in() {
    let fx = Fixture::new();
    let (mut record, app, codes) = enabled(&fx);
    let now = T0 + 30;
    for _ in 0..3 {
        let code = wrong_code(&app, now);
        record.advance(|r| r.verify_code(&fx.ctx(), &code, now));
    }
    record.advance(|r| r.use_recovery_code(&fx.ctx(), "AAAAA-AAAAA", now));
    let code = app.generate(now).to_string();
    let signed_in = record.run(|r| r.verify_code(&fx.ctx(), &code, now));
    assert_eq!(signed_in.result.unwrap().failed_attempts(), 4);
    assert_eq!(signed_in.events, [Event::FailedAttempts { failures: 4 }]);
    // None since: nothing to report.
    let later = now + 30;
    let code = app.generate(later).to_string();
    let clean = record.run(|r| r.verify_code(&fx.ctx(), &code, later));
    assert_eq!(clean.result.unwrap().failed_attempts(), 0);
    assert!(clean.events.is_empty());
    // A recovery code reports them too.
    let wrong = wrong_code(&app, later);
    record.advance(|r| r.verify_code(&fx.ctx(), &wrong, later));
    let first = codes.iter().next().unwrap();
    let recovered = record.run(|r| r.use_recovery_code(&fx.ctx(), first, later));
    assert_eq!(recovered.result.unwrap().failed_attempts(), 1);
    assert_eq!(
        recovered.events,
        [
            Event::RecoveryCodeUsed { remaining: 9 },
            Event::FailedAttempts { failures: 1 }
        ]
    );
}

#[test]
fn each_recovery_code_works_exactly_once() {
    let fx = Fixture::new();
    let (mut record, _, codes) = enabled(&fx);
    assert_eq!(codes.len(), 10);
    for (i, code) in codes.iter().enumerate() {
        let used = record.run(|r| r.use_recovery_code(&fx.ctx(), code, T0 + 1));
        let remaining = 9 - i;
        assert_eq!(
            used.result.as_ref().unwrap().method(),
            SignInMethod::RecoveryCode { remaining }
        );
        // The failure of the round before (kept through `unlock`) is reported once.
        let mut expected = vec![Event::RecoveryCodeUsed { remaining }];
        if i > 0 {
            expected.push(Event::FailedAttempts { failures: 1 });
        }
        assert_eq!(used.events, expected);
        let again = record.run(|r| r.use_recovery_code(&fx.ctx(), code, T0 + 1));
        assert_eq!(
            again.result.err(),
            Some(Error::Recovery(RecoveryError::InvalidCode))
        );
        assert_eq!(record.recovery_code_failures(), 1);
        assert_eq!(
            record.failures(),
            0,
            "recovery codes have a count of their own"
        );
        assert_eq!(record.recovery_codes_left(), Some(remaining));
        record.advance(|r| r.unlock()); // keep the throttle out of this test
    }
    assert_eq!(record.recovery_codes_left(), Some(0));
}

#[test]
fn regenerating_kills_every_old_code_and_needs_reauthentication() {
    let fx = Fixture::new();
    let (record, app, old) = enabled(&fx);
    let mut rng = twofa::os_rng();

    // A stale or foreign password proof is refused.
    let stale = password(USER, T0 - 3600);
    assert_eq!(
        refused(record.regenerate_recovery_codes(
            &fx.ctx(),
            Reauthentication::Password(stale),
            &mut rng,
            T0,
        )),
        Error::ReauthenticationRequired
    );
    let foreign = PasswordConfirmed::check(&|_: &str, _: &str| true, "user-7", "x", T0).unwrap();
    assert_eq!(
        refused(record.regenerate_recovery_codes(
            &fx.ctx(),
            Reauthentication::Password(foreign),
            &mut rng,
            T0
        )),
        Error::ReauthenticationRequired
    );
    let check = |_: &str, p: &str| p == "correct horse";
    assert_eq!(
        PasswordConfirmed::check(&check, USER, "wrong", T0).err(),
        Some(Error::InvalidPassword)
    );

    let mut record = record;
    let regenerated = record.run(|r| {
        r.regenerate_recovery_codes(
            &fx.ctx(),
            Reauthentication::Password(password(USER, T0)),
            &mut rng,
            T0 + 10,
        )
    });
    assert_eq!(regenerated.events, [Event::RecoveryCodesRegenerated]);
    let new = regenerated.result.unwrap();
    for code in old.iter() {
        let attempt = record.run(|r| r.use_recovery_code(&fx.ctx(), code, T0 + 20));
        assert!(attempt.result.is_err(), "an old code still works");
        record.advance(|r| r.unlock());
    }
    let first = new.iter().next().unwrap();
    let used = record.run(|r| r.use_recovery_code(&fx.ctx(), first, T0 + 20));
    assert!(used.result.is_ok());

    // A current TOTP code is proof too.
    let code = app.generate(T0 + 60).to_string();
    let by_code = record.run(|r| {
        r.regenerate_recovery_codes(&fx.ctx(), Reauthentication::Code(&code), &mut rng, T0 + 60)
    });
    assert!(by_code.result.is_ok());
}

#[test]
fn a_wrong_or_replayed_code_is_no_reauthentication_and_counts() {
    let fx = Fixture::new();
    let (mut record, app, codes) = enabled(&fx);
    let now = T0 + 30;
    let wrong = wrong_code(&app, now);
    let by_wrong = record.run(|r| r.disable(&fx.ctx(), Reauthentication::Code(&wrong), now));
    assert_eq!(by_wrong.result.err(), Some(Error::InvalidCode));
    assert_eq!(record.failures(), 1);
    assert!(record.is_enabled());
    // The confirming code was used: as a proof it is a replay, reported and counted.
    let used = app.generate(T0).to_string();
    let by_replay = record.run(|r| {
        r.regenerate_recovery_codes(
            &fx.ctx(),
            Reauthentication::Code(&used),
            &mut twofa::os_rng(),
            now,
        )
    });
    assert_eq!(by_replay.result.err(), Some(Error::ReplayedCode));
    assert!(by_replay.events.contains(&Event::ReplayDetected));
    assert_eq!(record.failures(), 2);
    // The old codes still work: nothing was regenerated.
    let first = codes.iter().next().unwrap();
    assert!(
        record
            .run(|r| r.use_recovery_code(&fx.ctx(), first, now))
            .result
            .is_ok()
    );
}

/// A hasher that cannot hash: making recovery codes fails.
#[derive(Debug)]
struct BrokenHasher;

impl twofa::CodeHasher for BrokenHasher {
    fn algorithm(&self) -> &str {
        "broken"
    }

    fn parameters(&self) -> String {
        String::new()
    }

    fn hash(&self, _: &[u8], _: &[u8], _: &str) -> Result<Vec<u8>, Error> {
        Err(Error::Recovery(RecoveryError::InvalidHasher))
    }
}

#[test]
fn a_code_spent_on_a_failed_regeneration_stays_spent() {
    let fx = Fixture::new();
    let (mut record, app, _) = enabled(&fx);
    let ctx = Context::new(USER, &fx.settings, &*fx.sealer, &BrokenHasher).unwrap();
    let now = T0 + 30;
    let code = app.generate(now).to_string();
    let failed = record.run(|r| {
        r.regenerate_recovery_codes(
            &ctx,
            Reauthentication::Code(&code),
            &mut twofa::os_rng(),
            now,
        )
    });
    assert!(failed.result.is_err());
    assert!(!failed.events.contains(&Event::RecoveryCodesRegenerated));
    assert_eq!(record.recovery_codes_left(), Some(10));
    // The code's step was kept, so the code cannot sign in now.
    let replay = record.run(|r| r.verify_code(&fx.ctx(), &code, now));
    assert_eq!(replay.result.err(), Some(Error::ReplayedCode));
}

#[test]
fn password_proofs_expire_and_tolerate_a_little_clock_skew() {
    let fx = Fixture::new();
    let (record, _, _) = enabled(&fx);
    let now = T0 + 1000;
    let lifetime = Settings::DEFAULT_REAUTHENTICATION_LIFETIME;
    let skew = PasswordConfirmed::CLOCK_SKEW;
    let disable = |at: u64| {
        let proof = password(USER, at);
        assert_eq!(proof.confirmed_at(), at);
        record.disable(&fx.ctx(), Reauthentication::Password(proof), now)
    };
    // From CLOCK_SKEW in the future to `lifetime` in the past, and not a second more.
    assert!(disable(now + skew).changed());
    assert!(disable(now - lifetime).changed());
    assert_eq!(
        refused(disable(now + skew + 1)),
        Error::ReauthenticationRequired
    );
    assert_eq!(
        refused(disable(now - lifetime - 1)),
        Error::ReauthenticationRequired
    );
}

#[test]
fn disable_wipes_everything() {
    let fx = Fixture::new();
    let (mut record, app, codes) = enabled(&fx);
    let mut rng = twofa::os_rng();
    let code = app.generate(T0 + 30).to_string();
    let proof = record
        .run(|r| r.verify_code(&fx.ctx(), &code, T0 + 30))
        .result
        .unwrap();
    let token = record
        .run(|r| r.trust_device(&fx.ctx(), &proof, Some("Firefox"), &mut rng, T0 + 30))
        .result
        .unwrap();
    assert!(
        record
            .check_device(&fx.ctx(), token.as_str(), T0 + 31)
            .is_ok()
    );

    let disabled = record.run(|r| {
        r.disable(
            &fx.ctx(),
            Reauthentication::Password(password(USER, T0 + 40)),
            T0 + 40,
        )
    });
    assert_eq!(disabled.events, [Event::Disabled]);
    let off = record;
    // Blank but for the revocation time: turning 2FA off revokes every device.
    assert_eq!(off.status(), Status::Disabled);
    assert_eq!(off.devices(), []);
    assert_eq!(off.recovery_codes_left(), None);
    assert_eq!(
        (
            off.failures(),
            off.recovery_code_failures(),
            off.unreported_failures()
        ),
        (0, 0, 0)
    );
    assert_eq!(off.devices_revoked_at(), Some(T0 + 40));
    let code = app.generate(T0 + 90).to_string();
    assert_eq!(
        refused(off.verify_code(&fx.ctx(), &code, T0 + 90)),
        Error::NotEnabled
    );
    let first = codes.iter().next().unwrap();
    assert_eq!(
        refused(off.use_recovery_code(&fx.ctx(), first, T0 + 90)),
        Error::NotEnabled
    );
    assert_eq!(
        off.check_device(&fx.ctx(), token.as_str(), T0 + 90).err(),
        Some(Error::InvalidDeviceToken)
    );
}

/// An enabled record with a fresh sign-in proof, at `T0 + 30`.
fn signed_in(fx: &Fixture) -> (TwoFactorRecord, Totp, SignedIn) {
    let (mut record, app, _) = enabled(fx);
    let code = app.generate(T0 + 30).to_string();
    let proof = record
        .run(|r| r.verify_code(&fx.ctx(), &code, T0 + 30))
        .result
        .unwrap();
    (record, app, proof)
}

#[test]
fn device_tokens_fail_when_expired_revoked_foreign_or_after_re_enrolment() {
    let fx = Fixture::new();
    let (mut record, _, proof) = signed_in(&fx);
    let mut rng = twofa::os_rng();
    let now = T0 + 30;
    let token_a = record
        .run(|r| r.trust_device(&fx.ctx(), &proof, Some("laptop"), &mut rng, now))
        .result
        .unwrap();
    let token_b = record
        .run(|r| r.trust_device(&fx.ctx(), &proof, None, &mut rng, now))
        .result
        .unwrap();
    assert!(!format!("{token_a:?}").contains(token_a.as_str()));
    assert_eq!(record.devices().len(), 2);

    // Valid, then expired at the end of its lifetime.
    let device = record
        .check_device(&fx.ctx(), token_a.as_str(), now + 10)
        .unwrap();
    assert_eq!(device.label(), Some("laptop"));
    assert_eq!(device.id(), token_a.device_id());
    assert_eq!(device.id().len(), 16);
    assert!(
        device
            .id()
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    let expiry = now + Settings::DEFAULT_DEVICE_LIFETIME;
    assert_eq!(token_a.expires_at(), expiry);
    assert!(
        record
            .check_device(&fx.ctx(), token_a.as_str(), expiry - 1)
            .is_ok()
    );
    assert_eq!(
        record
            .check_device(&fx.ctx(), token_a.as_str(), expiry)
            .err(),
        Some(Error::InvalidDeviceToken)
    );
    // Another user's record, or the same token under another user id, fails.
    assert!(
        record
            .check_device(&fx.ctx_for("user-7"), token_a.as_str(), now)
            .is_err()
    );
    let (other, _, _) = enabled(&fx);
    assert!(
        other
            .check_device(&fx.ctx(), token_a.as_str(), now)
            .is_err()
    );
    // Garbage never matches.
    for junk in ["", "x", &"A".repeat(10_000)] {
        assert!(record.check_device(&fx.ctx(), junk, now).is_err());
    }
    // Revoke one.
    let mut revoked = record.clone();
    let outcome = revoked.run(|r| r.revoke_device(token_a.device_id()));
    assert_eq!(
        outcome.events,
        [Event::DeviceRevoked {
            device_id: token_a.device_id().into()
        }]
    );
    assert!(
        revoked
            .check_device(&fx.ctx(), token_a.as_str(), now)
            .is_err()
    );
    assert!(
        revoked
            .check_device(&fx.ctx(), token_b.as_str(), now)
            .is_ok()
    );
    // An unknown id is its own error, and changes nothing.
    assert_eq!(refused(revoked.revoke_device("nope")), Error::UnknownDevice);
    assert_eq!(
        refused(revoked.revoke_device(token_a.device_id())),
        Error::UnknownDevice
    );
    // Revoke all.
    let all = revoked.run(|r| r.revoke_all_devices(now));
    assert_eq!(all.events, [Event::AllDevicesRevoked]);
    assert!(
        revoked
            .check_device(&fx.ctx(), token_b.as_str(), now)
            .is_err()
    );
    // A new enrolment revokes them too.
    record.advance(|r| {
        r.disable(
            &fx.ctx(),
            Reauthentication::Password(password(USER, now)),
            now,
        )
    });
    let (again, _) = pending(&fx, now);
    assert!(again.devices().is_empty());
}

#[test]
fn revoking_all_devices_also_refuses_older_sign_in_proofs() {
    let fx = Fixture::new();
    let (mut record, app, proof) = signed_in(&fx);
    let mut rng = twofa::os_rng();
    let now = T0 + 60;
    // Revoking with no device still records the time.
    let revoke = record.revoke_all_devices(now);
    assert!(revoke.changed());
    let outcome = record.run(|_| revoke);
    assert!(outcome.events.is_empty());
    assert_eq!(record.devices_revoked_at(), Some(now));
    // The proof from before (the session an attacker may hold) can no longer trust a device.
    assert_eq!(
        refused(record.trust_device(&fx.ctx(), &proof, None, &mut rng, now + 1)),
        Error::ReauthenticationRequired
    );
    // Nor one from the same second; a sign-in after the revocation can.
    let code = app.generate(now).to_string();
    let same_second = record
        .run(|r| r.verify_code(&fx.ctx(), &code, now))
        .result
        .unwrap();
    assert_eq!(
        refused(record.trust_device(&fx.ctx(), &same_second, None, &mut rng, now + 1)),
        Error::ReauthenticationRequired
    );
    let later = now + 30;
    let code = app.generate(later).to_string();
    let fresh = record
        .run(|r| r.verify_code(&fx.ctx(), &code, later))
        .result
        .unwrap();
    assert!(
        record
            .run(|r| r.trust_device(&fx.ctx(), &fresh, None, &mut rng, later))
            .result
            .is_ok()
    );
    // An earlier time never moves the revocation back.
    record.advance(|r| r.revoke_all_devices(now - 100));
    assert_eq!(record.devices_revoked_at(), Some(now));
    assert!(!record.revoke_all_devices(now).changed());
    // It survives the encoding.
    assert_eq!(
        TwoFactorRecord::decode(&record.encode())
            .unwrap()
            .devices_revoked_at(),
        Some(now)
    );
}

#[test]
fn the_device_list_is_bounded_and_evicts_the_oldest() {
    let mut fx = Fixture::new();
    fx.settings = fx.settings.clone().max_devices(3).unwrap();
    let (mut record, _, proof) = signed_in(&fx);
    let mut rng = twofa::os_rng();
    let now = T0 + 30;
    let mut tokens = Vec::new();
    let mut events = Vec::new();
    for i in 0..5 {
        let trusted = record.run(|r| r.trust_device(&fx.ctx(), &proof, None, &mut rng, now + i));
        events.extend(trusted.events);
        tokens.push(trusted.result.unwrap());
    }
    assert_eq!(record.devices().len(), 3);
    // The two oldest were evicted, and said so with their own event.
    let evicted: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::DeviceEvicted { .. }))
        .collect();
    assert_eq!(
        evicted,
        [
            &Event::DeviceEvicted {
                device_id: tokens[0].device_id().into()
            },
            &Event::DeviceEvicted {
                device_id: tokens[1].device_id().into()
            }
        ]
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::DeviceRevoked { .. }))
    );
    for (i, token) in tokens.iter().enumerate() {
        let works = record
            .check_device(&fx.ctx(), token.as_str(), now + 10)
            .is_ok();
        assert_eq!(works, i >= 2, "token {i}");
    }
    assert_eq!(
        refused(record.trust_device(&fx.ctx(), &proof, Some(&"x".repeat(101)), &mut rng, now)),
        Error::DeviceLabelTooLong
    );
    // The sign-in proof must be this user's, and recent.
    let late = now + SignedIn::TRUST_WINDOW + 1;
    assert_eq!(
        refused(record.trust_device(&fx.ctx(), &proof, None, &mut rng, late)),
        Error::ReauthenticationRequired
    );
    assert!(
        record
            .trust_device(&fx.ctx(), &proof, None, &mut rng, late - 1)
            .changed()
    );
    // Nor from the future (a proof stamped by a clock ahead of this one).
    assert_eq!(
        refused(record.trust_device(&fx.ctx(), &proof, None, &mut rng, proof.at() - 1)),
        Error::ReauthenticationRequired
    );
    assert_eq!(
        refused(record.trust_device(&fx.ctx_for("user-7"), &proof, None, &mut rng, now)),
        Error::ReauthenticationRequired
    );
}

#[test]
fn device_tokens_need_the_server_key() {
    let fx = Fixture::new();
    let (mut record, _, proof) = signed_in(&fx);
    let mut rng = twofa::os_rng();
    let now = T0 + 30;
    let token = record
        .run(|r| r.trust_device(&fx.ctx(), &proof, None, &mut rng, now))
        .result
        .unwrap();
    // Without a key, trusting and checking are refused as a configuration error.
    let mut keyless = Fixture::new();
    keyless.settings = Settings::new("Plausible Analytics").unwrap();
    let missing = Error::InvalidSetting {
        setting: "device_key",
    };
    assert_eq!(
        refused(record.trust_device(&keyless.ctx(), &proof, None, &mut rng, now)),
        missing
    );
    assert_eq!(
        record
            .check_device(&keyless.ctx(), token.as_str(), now)
            .err(),
        Some(missing)
    );
    // Under another key, the token does not match.
    let mut rekeyed = Fixture::new();
    rekeyed.settings = rekeyed
        .settings
        .clone()
        .device_key(DeviceKey::from_bytes(&[6; 32]).unwrap());
    assert_eq!(
        record
            .check_device(&rekeyed.ctx(), token.as_str(), now)
            .err(),
        Some(Error::InvalidDeviceToken)
    );
    assert!(DeviceKey::from_bytes(&[1; 31]).is_err());
    assert!(DeviceKey::from_bytes(&[1; 33]).is_err());
    let key = DeviceKey::generate();
    assert_eq!(DeviceKey::from_bytes(key.as_bytes()).unwrap(), key);
    assert_ne!(DeviceKey::generate(), key);
    assert_eq!(format!("{key:?}"), "DeviceKey([redacted])");
}

/// The unkeyed hash of version 1, which a writer of the database can compute.
fn unkeyed_hash(user: &str, token: &str) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(b"twofa device token v1\0");
    hasher.update((user.len() as u64).to_be_bytes());
    hasher.update(user.as_bytes());
    hasher.update(token.as_bytes());
    hasher.finalize().to_vec()
}

/// Recomputes the record's checksum, as anyone who can write the column can: CRC-32 for
/// version 3, the first 8 bytes of SHA-256 before it.
fn rechecked(mut bytes: Vec<u8>) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    if bytes[3] >= 3 {
        let body = bytes.len() - 4;
        let check = crc32(&bytes[..body]);
        bytes[body..].copy_from_slice(&check.to_be_bytes());
    } else {
        let body = bytes.len() - 8;
        let check = Sha256::digest(&bytes[..body]);
        bytes[body..].copy_from_slice(&check[..8]);
    }
    bytes
}

/// CRC-32 as the IEEE 802.3 / gzip / PNG standard defines it, bit by bit (reflected
/// polynomial 0xEDB88320, initial value and final XOR all ones), written here from the
/// definition rather than taken from the crate the library uses.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let low_bit_set = crc & 1 == 1;
            crc >>= 1;
            if low_bit_set {
                crc ^= 0xEDB8_8320;
            }
        }
    }
    !crc
}

#[test]
fn reading_a_record_allocates_a_few_times_whatever_the_number_of_codes() {
    for count in [1, 10, 32] {
        let mut fx = Fixture::new();
        fx.settings = fx.settings.recovery_codes(count).unwrap();
        let (mut record, _, proof) = signed_in(&fx);
        let bytes = record.to_bytes();
        let read = allocation_counter::measure(|| {
            std::hint::black_box(TwoFactorRecord::from_bytes(&bytes).unwrap());
        });
        // The sealed secret; the set's scheme name, parameters, salt, and all its hashes.
        assert_eq!(read.count_total, 5, "{count} codes");
        // Written in one allocation of the exact size, and none into a buffer that fits.
        let mut buffer = Vec::new();
        let written = allocation_counter::measure(|| record.write_bytes(&mut buffer));
        assert_eq!((written.count_total, buffer.capacity()), (1, bytes.len()));
        let again = allocation_counter::measure(|| record.write_bytes(&mut buffer));
        assert_eq!(again.count_total, 0);
        // With trusted devices, the exact size still holds.
        for label in [None, Some("phone"), Some(&*"l".repeat(100))] {
            record.advance(|r| {
                r.trust_device(&fx.ctx(), &proof, label, &mut twofa::os_rng(), T0 + 40)
            });
        }
        let mut buffer = Vec::new();
        record.write_bytes(&mut buffer);
        assert_eq!(buffer.capacity(), buffer.len());
        assert_eq!(TwoFactorRecord::from_bytes(&buffer).unwrap(), record);
    }
    // And in the other states.
    let fx = Fixture::new();
    for record in [TwoFactorRecord::new(), pending(&fx, T0).0] {
        let mut buffer = Vec::new();
        record.write_bytes(&mut buffer);
        assert_eq!(buffer.capacity(), buffer.len());
        assert_eq!(TwoFactorRecord::from_bytes(&buffer).unwrap(), record);
    }
}

#[test]
fn the_reference_crc32_gives_the_catalogued_check_value() {
    // The check value of CRC-32/ISO-HDLC in the catalogue of CRC parameters.
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32(b""), 0);
}

#[test]
fn a_version_4_record_ends_in_the_crc32_of_everything_before() {
    let fx = Fixture::new();
    let (mut record, _, proof) = signed_in(&fx);
    record.advance(|r| r.trust_device(&fx.ctx(), &proof, None, &mut twofa::os_rng(), T0 + 30));
    let bytes = record.to_bytes();
    assert_eq!(&bytes[..4], b"2FA\x04");
    let (body, check) = bytes.split_at(bytes.len() - 4);
    assert_eq!(check, crc32(body).to_be_bytes());
    // `write_bytes` gives the same bytes, whatever the buffer held before.
    let mut buffer = vec![0xff; 3000];
    record.write_bytes(&mut buffer);
    assert_eq!(buffer, bytes);
}

#[test]
fn a_writer_of_the_column_cannot_plant_a_device_token() {
    let fx = Fixture::new();
    let (mut record, _, proof) = signed_in(&fx);
    let now = T0 + 30;
    let real = record
        .run(|r| r.trust_device(&fx.ctx(), &proof, None, &mut twofa::os_rng(), now))
        .result
        .unwrap();
    // The attacker finds the device's hash in the bytes (its id is the hash's first 8 bytes)
    // and puts in the hash of their own token, with a valid checksum.
    let bytes = record.to_bytes();
    let id = data_encoding::HEXLOWER
        .decode(real.device_id().as_bytes())
        .unwrap();
    let at = bytes.windows(8).position(|w| w == id.as_slice()).unwrap();
    let chosen = "A".repeat(43);
    for kind in [0u8, 1] {
        let mut planted = bytes.clone();
        planted[at - 1] = kind;
        planted[at..at + 32].copy_from_slice(&unkeyed_hash(USER, &chosen));
        let planted = TwoFactorRecord::from_bytes(&rechecked(planted)).unwrap();
        assert_eq!(planted.devices().len(), 1);
        assert_eq!(
            planted.check_device(&fx.ctx(), &chosen, now).err(),
            Some(Error::InvalidDeviceToken),
            "kind {kind}"
        );
    }
}

#[test]
fn the_throttle_stops_a_brute_force_of_10000_guesses() {
    let fx = Fixture::new();
    let (mut record, app, _) = enabled(&fx);
    let policy = *fx.settings.throttle_policy();
    let mut now = T0 + 30;
    let mut evaluated = 0;
    let mut locked_at = None;
    // An attacker who tries every code in turn, as fast as the throttle lets them. The codes
    // the window would accept are skipped, so no guess can be right by luck: the test is about
    // the throttle, not about the odds.
    for guess in 0..10_000u32 {
        let code = format!("{guess:06}");
        if near_codes(&app, now).contains(&code) {
            continue;
        }
        let attempt = record.verify_code(&fx.ctx(), &code, now);
        let changed = attempt.changed();
        let outcome = record.run(|_| attempt);
        match outcome.result {
            Ok(_) => panic!("guess {guess} signed in"),
            Err(Error::Throttled { retry_at }) => {
                assert!(!changed, "a throttled attempt must change nothing");
                assert!(retry_at > now);
                now = retry_at;
            }
            Err(Error::LockedOut) => {
                assert!(!changed);
                locked_at = Some(now);
                break;
            }
            Err(Error::InvalidCode) => {
                evaluated += 1;
                now += 1;
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    let now = locked_at.expect("the lockout never came");
    assert_eq!(evaluated, policy.lockout_threshold());
    assert!(record.is_locked_out(&policy, now));
    // Locked: even the right code is not evaluated, until the host unlocks.
    let right = app.generate(now).to_string();
    assert_eq!(
        refused(record.verify_code(&fx.ctx(), &right, now)),
        Error::LockedOut
    );
    let unlocked = record.run(|r| r.unlock());
    assert_eq!(unlocked.events, [Event::Unlocked]);
    assert!(!record.is_locked_out(&policy, now));
    assert!(
        record
            .run(|r| r.verify_code(&fx.ctx(), &right, now))
            .result
            .is_ok()
    );
}

#[test]
fn the_right_code_passes_after_the_delay() {
    let fx = Fixture::new();
    let (mut record, app, codes) = enabled(&fx);
    let mut now = T0 + 30;
    let mut events = Vec::new();
    // Six wrong codes. The first five are free; from the fifth on, each one delays the next
    // attempt.
    for i in 0..6 {
        let wrong = wrong_code(&app, now);
        let attempt = record.verify_code(&fx.ctx(), &wrong, now);
        assert!(attempt.changed());
        let outcome = record.run(|_| attempt);
        assert!(outcome.result.unwrap_err().is_wrong_code());
        // No `Throttled` event while the attempts are free.
        let throttled = outcome
            .events
            .iter()
            .any(|e| matches!(e, Event::Throttled { .. }));
        assert_eq!(throttled, i >= 4, "failure {}", i + 1);
        events.extend(outcome.events);
        if let Some(Event::Throttled { retry_at, .. }) = events.last() {
            now = *retry_at;
        }
    }
    assert_eq!(record.failures(), 6);
    assert_eq!(
        events,
        [
            Event::Throttled {
                failures: 5,
                retry_at: T0 + 30 + 1
            },
            Event::Throttled {
                failures: 6,
                retry_at: T0 + 30 + 1 + 2
            }
        ]
    );
    let right = app.generate(now).to_string();
    assert_eq!(
        refused(record.verify_code(&fx.ctx(), &right, now - 1)),
        Error::Throttled { retry_at: now }
    );
    // A wrong recovery code meanwhile counts against the recovery codes' own budget, not this
    // delay (and is not delayed by it).
    let wrong_recovery = record.run(|r| r.use_recovery_code(&fx.ctx(), "AAAAA-AAAAA", now - 1));
    assert!(wrong_recovery.result.unwrap_err().is_wrong_code());
    assert_eq!((record.failures(), record.recovery_code_failures()), (6, 1));
    assert_eq!(record.recovery_codes_left(), Some(codes.len()));
    // Once the delay has passed, the right code goes through and the count is reset.
    let ok = record.run(|r| r.verify_code(&fx.ctx(), &right, now));
    assert_eq!(ok.result.unwrap().failed_attempts(), 7);
    assert_eq!((record.failures(), record.recovery_code_failures()), (0, 0));
}

#[test]
fn a_lockout_ends_by_itself_after_its_duration() {
    let fx = Fixture::new();
    let (mut record, app, _) = enabled(&fx);
    let policy = *fx.settings.throttle_policy();
    let duration = ThrottlePolicy::DEFAULT_LOCKOUT_DURATION;
    assert_eq!(duration, 24 * 60 * 60, "a day, as the docs promise");
    assert_eq!(policy.lockout_time(), Some(duration));
    let start = T0 + 30;
    let code = wrong_code(&app, start);
    // The lockout event says when it ends.
    let mut last = Vec::new();
    let mut now = start;
    for _ in 0..policy.lockout_threshold() {
        let outcome = record.run(|r| r.verify_code(&fx.ctx(), &code, now));
        last = outcome.events;
        if let Some(Event::Throttled { retry_at, .. }) = last.last() {
            now = *retry_at;
        }
    }
    let locked_at = now;
    assert_eq!(
        last,
        [Event::LockedOut {
            failures: policy.lockout_threshold(),
            until: Some(locked_at + duration)
        }]
    );
    // Until then, neither codes nor password proofs are evaluated (recovery codes are: see
    // `a_recovery_code_ends_a_lockout_of_codes`).
    let end = locked_at + duration;
    assert!(record.is_locked_out(&policy, end - 1));
    let proof = Reauthentication::Password(password(USER, end - 1));
    assert_eq!(
        refused(record.disable(&fx.ctx(), proof, end - 1)),
        Error::LockedOut
    );
    // Then one attempt is evaluated; a failure locks again, for another full duration.
    assert!(!record.is_locked_out(&policy, end));
    let wrong = wrong_code(&app, end);
    let relocked = record.run(|r| r.verify_code(&fx.ctx(), &wrong, end));
    assert_eq!(relocked.result.err(), Some(Error::InvalidCode));
    assert_eq!(
        relocked.events,
        [Event::LockedOut {
            failures: policy.lockout_threshold() + 1,
            until: Some(end + duration)
        }]
    );
    assert_eq!(
        refused(record.verify_code(&fx.ctx(), &wrong, end + duration - 1)),
        Error::LockedOut
    );
    // After the next end, the right code signs in and reports every failure.
    let later = end + duration;
    let right = app.generate(later).to_string();
    let ok = record.run(|r| r.verify_code(&fx.ctx(), &right, later));
    assert_eq!(
        ok.result.unwrap().failed_attempts(),
        policy.lockout_threshold() + 1
    );
    assert!(!record.is_locked_out(&policy, later));
    assert_eq!(record.failures(), 0);
}

#[test]
fn a_lockout_without_duration_waits_for_the_host() {
    let mut fx = Fixture::new();
    let policy = ThrottlePolicy::default().lockout_duration(None).unwrap();
    fx.settings = fx.settings.clone().throttle(policy);
    let (mut record, app, _) = enabled(&fx);
    let now = lock_out(&fx, &mut record, &app, T0 + 30);
    let years = now + 10 * 365 * 24 * 3600;
    assert!(record.is_locked_out(&policy, years));
    let right = app.generate(years).to_string();
    assert_eq!(
        refused(record.verify_code(&fx.ctx(), &right, years)),
        Error::LockedOut
    );
    // The same record under the default policy is free again after a day.
    assert!(!record.is_locked_out(&ThrottlePolicy::default(), years));
}

#[test]
fn a_lockout_also_blocks_the_password_proof() {
    let fx = Fixture::new();
    let (mut record, app, _) = enabled(&fx);
    let mut rng = twofa::os_rng();
    let now = lock_out(&fx, &mut record, &app, T0 + 30);
    let proof = Reauthentication::Password(password(USER, now));
    assert_eq!(
        refused(record.disable(&fx.ctx(), proof.clone(), now)),
        Error::LockedOut
    );
    assert_eq!(
        refused(record.regenerate_recovery_codes(&fx.ctx(), proof, &mut rng, now)),
        Error::LockedOut
    );
}

#[test]
fn throttle_policy_settings() {
    assert_eq!(
        ThrottlePolicy::default().lockout_after(101).err(),
        Some(Error::InvalidThrottlePolicy)
    );
    assert_eq!(
        ThrottlePolicy::default()
            .lockout_after(100)
            .unwrap()
            .lockout_threshold(),
        100
    );
    // Delays: the first, doubling, up to the cap.
    let policy = ThrottlePolicy::default().free_attempts(2).delays(10, 35);
    let delays: Vec<u64> = (0..6).map(|n| policy.delay_after(n)).collect();
    assert_eq!(delays, [0, 0, 10, 20, 35, 35]);
    // A first delay of 0 is 1 s; a cap below the first delay is the first delay.
    let floor = ThrottlePolicy::default().free_attempts(0).delays(0, 0);
    assert_eq!([floor.delay_after(0), floor.delay_after(5)], [1, 1]);
    // Timed lockouts are at least an hour.
    let short = ThrottlePolicy::MIN_LOCKOUT_DURATION - 1;
    assert_eq!(
        ThrottlePolicy::default()
            .lockout_duration(Some(short))
            .err(),
        Some(Error::InvalidThrottlePolicy)
    );
    let hour = ThrottlePolicy::default()
        .lockout_duration(Some(ThrottlePolicy::MIN_LOCKOUT_DURATION))
        .unwrap();
    assert_eq!(hour.lockout_time(), Some(3600));
}

#[test]
fn with_no_failures_there_is_no_delay() {
    // With no free attempts the first failure already delays; before any failure nothing
    // does, whatever the time.
    let mut fx = Fixture::new();
    let policy = ThrottlePolicy::default().free_attempts(0);
    fx.settings = fx.settings.clone().throttle(policy);
    let (record, app, _) = enabled(&fx);
    let at_zero = record.verify_code(&fx.ctx(), &app.generate(0).to_string(), 0);
    let (outcome, after) = step(&record, |_| at_zero);
    assert_eq!(outcome.result.err(), Some(Error::ReplayedCode));
    assert_eq!(
        outcome.events,
        [
            Event::ReplayDetected,
            Event::Throttled {
                failures: 1,
                retry_at: 2
            }
        ]
    );
    assert_eq!(after.failures(), 1);
}

#[test]
fn a_sealed_secret_under_another_user_id_fails() {
    let fx = Fixture::new();
    let (record, app, _) = enabled(&fx);
    let code = app.generate(T0 + 30).to_string();
    let moved = refused(record.verify_code(&fx.ctx_for("user-7"), &code, T0 + 30));
    assert!(matches!(moved, Error::Seal(_)), "{moved:?}");
}

#[test]
fn key_rotation_reseals_the_record() {
    let mut fx = Fixture::new();
    let (mut record, app, _) = enabled(&fx);
    fx.sealer = Box::new(
        AesGcmSealer::new("k2", &[9; 32])
            .unwrap()
            .with_old_key("k1", &[7; 32])
            .unwrap(),
    );
    let resealed = record.run(|r| r.reseal(&fx.ctx()));
    assert_eq!(resealed.result, Ok(true));
    assert_eq!(resealed.events, [Event::SecretResealed]);
    let again = record.reseal(&fx.ctx());
    assert!(!again.changed());
    assert_eq!(step(&record, |_| again).0.result, Ok(false));
    // Only the new key is needed now.
    fx.sealer = Box::new(AesGcmSealer::new("k2", &[9; 32]).unwrap());
    let code = app.generate(T0 + 30).to_string();
    assert!(
        record
            .run(|r| r.verify_code(&fx.ctx(), &code, T0 + 30))
            .result
            .is_ok()
    );
}

#[test]
fn user_ids_follow_one_rule() {
    let fx = Fixture::new();
    let ctx = |user: &str| {
        Context::new(user, &fx.settings, &*fx.sealer, &fx.hasher)
            .map(|c| c.user_id().to_owned())
            .err()
    };
    let longest = "é".repeat(127) + "x"; // 255 bytes
    assert_eq!(longest.len(), twofa::account::MAX_USER_ID_LEN);
    for good in [
        "u",
        "user-42",
        "Ünïcødé@example.com",
        "📱",
        longest.as_str(),
    ] {
        assert_eq!(ctx(good), None, "{good:?}");
    }
    let too_long = longest.clone() + "x";
    for bad in [
        "",
        "user\0",
        "user\n",
        "\u{1b}[31m",
        "tab\there",
        "\u{85}",
        &too_long,
    ] {
        assert_eq!(ctx(bad), Some(Error::InvalidUserId), "{bad:?}");
    }
}

#[test]
fn encoding_round_trips_every_state() {
    let fx = Fixture::new();
    let (pending, _) = pending(&fx, T0);
    let (on, app, _) = enabled(&fx);
    let (mut with_device, _, proof) = signed_in(&fx);
    with_device.advance(|r| {
        r.trust_device(
            &fx.ctx(),
            &proof,
            Some("Ünïcødé 📱"),
            &mut twofa::os_rng(),
            T0 + 30,
        )
    });
    let mut throttled = with_device.clone();
    let wrong = wrong_code(&app, T0 + 40);
    throttled.advance(|r| r.verify_code(&fx.ctx(), &wrong, T0 + 40));
    let mut revoked = throttled.clone();
    revoked.advance(|r| r.revoke_all_devices(T0 + 50));
    let mut locked = on.clone();
    lock_out(&fx, &mut locked, &app, T0 + 60);
    for record in [
        TwoFactorRecord::new(),
        pending,
        on,
        with_device,
        throttled,
        revoked,
        locked,
    ] {
        let text = record.encode();
        assert!(text.starts_with("2fa1."));
        assert_eq!(TwoFactorRecord::decode(&text).unwrap(), record);
        let bytes = record.to_bytes();
        assert_eq!(bytes[3], 4, "written as version 4");
        assert_eq!(TwoFactorRecord::from_bytes(&bytes).unwrap(), record);
    }
}

#[test]
fn decoding_refuses_truncated_tampered_and_unknown_input() {
    let fx = Fixture::new();
    let (mut record, _, proof) = signed_in(&fx);
    record.advance(|r| r.trust_device(&fx.ctx(), &proof, Some("d"), &mut twofa::os_rng(), T0 + 30));
    record.advance(|r| r.revoke_all_devices(T0 + 31));
    let bytes = record.to_bytes();
    for len in 0..bytes.len() {
        assert!(
            TwoFactorRecord::from_bytes(&bytes[..len]).is_err(),
            "truncated at {len}"
        );
    }
    for i in 0..bytes.len() {
        let mut tampered = bytes.clone();
        tampered[i] ^= 0x01;
        assert!(
            TwoFactorRecord::from_bytes(&tampered).is_err(),
            "bit flipped at {i}"
        );
    }
    for version in [0, 5, 255] {
        let mut other = bytes.clone();
        other[3] = version;
        assert_eq!(
            TwoFactorRecord::from_bytes(&other).err(),
            Some(Error::InvalidRecord(RecordError::UnknownVersion(version)))
        );
    }
    assert_eq!(
        TwoFactorRecord::decode("hello").err(),
        Some(Error::InvalidRecord(RecordError::NotARecord))
    );
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(TwoFactorRecord::from_bytes(&longer).is_err());
    // Flags and their values must agree, even under a valid checksum.
    let empty = TwoFactorRecord::new().to_bytes();
    // "2FA" 4 state=0, the code throttle (failures:4 last_failure:8 locked:1) at 5, the
    // recovery-code throttle at 18 (its lockout flag at 30), unreported:4 at 31, then
    // has_revoked_at at 35.
    let mut stray = empty.clone();
    stray[43] = 1; // a revocation time without its flag
    assert_eq!(
        TwoFactorRecord::from_bytes(&rechecked(stray)).err(),
        Some(Error::InvalidRecord(RecordError::InvalidField(
            "revocation time"
        )))
    );
    let mut bad_flag = empty.clone();
    bad_flag[35] = 2;
    assert_eq!(
        TwoFactorRecord::from_bytes(&rechecked(bad_flag)).err(),
        Some(Error::InvalidRecord(RecordError::InvalidField(
            "revocation time"
        )))
    );
    let mut bad_lockout = empty;
    bad_lockout[30] = 2;
    assert_eq!(
        TwoFactorRecord::from_bytes(&rechecked(bad_lockout)).err(),
        Some(Error::InvalidRecord(RecordError::InvalidField(
            "recovery lockout"
        )))
    );
}

/// A predictable generator, for the golden record only: the secret comes out as the RFC 6238
/// seed and everything after it is a counter. Never do this outside tests.
struct PredictableRng(u64);

impl twofa::rand_core::TryRng for PredictableRng {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.try_next_u64()? as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut bytes = [0u8; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        const SEED: &[u8] = b"12345678901234567890";
        for byte in dst {
            *byte = match SEED.get(self.0 as usize) {
                Some(b) => *b,
                None => (self.0 as u8).wrapping_mul(31),
            };
            self.0 += 1;
        }
        Ok(())
    }
}

impl twofa::rand_core::TryCryptoRng for PredictableRng {}

fn golden_path(version: u8) -> String {
    format!(
        "{}/tests/data/account/enabled-v{version}.txt",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// The golden record's settings: a fixed device key, and the plaintext sealer so that the
/// file needs no key to read.
fn golden_settings() -> Settings {
    Settings::new("Golden")
        .unwrap()
        .device_key(DeviceKey::from_bytes(&[0x42; 32]).unwrap())
}

/// Records written by each version, kept in `tests/data/`, must stay readable by every later
/// version. The version 1 file was written by 0.1 and is never rewritten. The current one is
/// built deterministically; set `TWOFA_WRITE_GOLDEN=1` to write it, which is done once per
/// format version and never to make this test pass.
#[test]
fn golden_records_still_decode() {
    let sealer = DangerPlaintextSealer;
    let hasher = Pbkdf2Hasher::new().with_iterations(1_000).unwrap();
    let settings = golden_settings();
    let ctx = Context::new(USER, &settings, &sealer, &hasher).unwrap();
    let app = Totp::new(twofa::Secret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap());

    if std::env::var_os("TWOFA_WRITE_GOLDEN").is_some() {
        let mut rng = PredictableRng(0);
        let mut record = TwoFactorRecord::new();
        let proof = password(USER, T0);
        record.advance(|r| r.start_enrollment(&ctx, Some(&proof), "golden", &mut rng, T0));
        let code = app.generate(T0).to_string();
        let codes = record
            .run(|r| r.confirm_enrollment(&ctx, &code, &mut rng, T0))
            .result
            .unwrap();
        let first = codes.iter().next().unwrap();
        let signed_in = record
            .run(|r| r.use_recovery_code(&ctx, first, T0 + 1))
            .result
            .unwrap();
        record.advance(|r| r.revoke_all_devices(T0));
        record
            .advance(|r| r.trust_device(&ctx, &signed_in, Some("golden device"), &mut rng, T0 + 2));
        // Version 4's own fields, not zero: a wrong code and a wrong recovery code.
        let wrong = wrong_code(&app, T0);
        record.advance(|r| r.verify_code(&ctx, &wrong, T0));
        record.advance(|r| r.use_recovery_code(&ctx, "AAAAA-AAAAA", T0));
        std::fs::write(golden_path(4), record.encode() + "\n").unwrap();
    }

    for version in [1, 2, 3, 4] {
        let text = std::fs::read_to_string(golden_path(version)).unwrap();
        let record = TwoFactorRecord::decode(text.trim()).unwrap();
        assert_eq!(record.status(), Status::Enabled { enabled_at: T0 });
        assert_eq!(record.recovery_codes_left(), Some(9));
        assert_eq!(record.devices().len(), 1);
        assert_eq!(record.devices()[0].label(), Some("golden device"));
        assert_eq!(
            record.devices()[0].expires_at(),
            T0 + 2 + Settings::DEFAULT_DEVICE_LIFETIME
        );
        let revoked_at = (version >= 2).then_some(T0);
        assert_eq!(record.devices_revoked_at(), revoked_at, "v{version}");
        let failures = if version == 4 { (1, 1, 2) } else { (0, 0, 0) };
        assert_eq!(
            (
                record.failures(),
                record.recovery_code_failures(),
                record.unreported_failures()
            ),
            failures,
            "v{version}"
        );
        // The stored secret still opens, and the confirming code is still a replay.
        let mut copy = record.clone();
        let replay = copy.run(|r| r.verify_code(&ctx, &app.generate(T0).to_string(), T0));
        assert_eq!(replay.result.err(), Some(Error::ReplayedCode));
        let mut copy = record.clone();
        let code = app.generate(T0 + 30).to_string();
        assert!(
            copy.run(|r| r.verify_code(&ctx, &code, T0 + 30))
                .result
                .is_ok()
        );
        // Read and written again, a record is the current version.
        let rewritten = TwoFactorRecord::decode(&record.encode()).unwrap();
        assert_eq!(rewritten, record);
        assert_eq!(
            record.to_bytes()[3],
            4,
            "v{version} is written as version 4"
        );
        if version == 4 {
            assert_eq!(record.encode(), text.trim());
        }
    }
}

proptest::proptest! {
    #[test]
    fn decoding_arbitrary_input_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
        let _ = TwoFactorRecord::from_bytes(&bytes);
        for version in [1u8, 2, 3, 4] {
            let mut framed = b"2FA".to_vec();
            framed.push(version);
            framed.extend_from_slice(&bytes);
            let _ = TwoFactorRecord::from_bytes(&framed);
            // With a valid checksum, the fields themselves are parsed.
            framed.extend_from_slice(&[0; 8][..if version >= 3 { 4 } else { 8 }]);
            let _ = TwoFactorRecord::from_bytes(&rechecked(framed));
        }
    }

    #[test]
    fn decoding_arbitrary_text_never_panics(text in ".*") {
        let _ = TwoFactorRecord::decode(&text);
        let _ = TwoFactorRecord::decode(&format!("2fa1.{text}"));
    }
}

#[test]
fn events_only_for_what_happened() {
    let fx = Fixture::new();
    let (record, _, _) = enabled(&fx);
    let unlock = record.unlock();
    assert!(!unlock.changed());
    assert!(step(&record, |_| unlock).0.events.is_empty());
}

#[test]
fn debug_output_shows_no_code_or_secret() {
    // The plaintext sealer keeps the secret in the record as it is, so a leak would show.
    let mut fx = Fixture::new();
    fx.sealer = Box::new(DangerPlaintextSealer);
    let (mut record, app, codes) = enabled(&fx);
    let code = app.generate(T0 + 30).to_string();
    let shown = format!("{:?}", Reauthentication::Code(&code));
    assert_eq!(shown, "Code([redacted])");
    let proof = password(USER, T0);
    assert_eq!(
        format!("{:?}", Reauthentication::Password(proof.clone())),
        format!("Password({proof:?})")
    );
    assert_eq!(
        format!("{proof:?}"),
        format!("PasswordConfirmed {{ user_id: \"{USER}\", at: {T0} }}")
    );
    let signed_in = record
        .run(|r| r.verify_code(&fx.ctx(), &code, T0 + 30))
        .result
        .unwrap();
    let token = record
        .run(|r| r.trust_device(&fx.ctx(), &signed_in, None, &mut twofa::os_rng(), T0 + 30))
        .result
        .unwrap();
    let secret = app.secret().to_base32();
    let raw_secret = format!("{:?}", app.secret().expose_bytes());
    let raw_secret = &raw_secret[1..raw_secret.len() - 1]; // the numbers, without brackets
    let shown = format!(
        "{record:?} {codes:?} {token:?} {:?} {:?}",
        fx.ctx(),
        record.devices()
    );
    for leak in [&*secret, raw_secret, token.as_str(), &code] {
        assert!(!shown.contains(leak), "{shown}");
    }
    for c in codes.iter() {
        assert!(!shown.contains(c));
    }
    // What Debug does show: the state, counts and public ids.
    assert!(shown.contains("TwoFactorRecord { status: Enabled { enabled_at: 1700000000 }"));
    assert!(shown.contains("recovery_codes_left: Some(10), failures: 0"));
    assert!(shown.contains(token.device_id()));
    assert!(shown.contains("user_id: \"user-42\""));
}

#[test]
fn settings_refuse_what_would_break_every_user() {
    assert!(matches!(Settings::new("Acme: EU"), Err(Error::Uri(_))));
    let settings = Settings::new("Acme").unwrap();
    assert!(settings.clone().window(11, 1).is_err());
    assert!(
        settings
            .clone()
            .totp(twofa::Algorithm::Sha1, 9, 30)
            .is_err()
    );
    assert!(settings.clone().totp(twofa::Algorithm::Sha1, 6, 0).is_err());
    assert!(settings.clone().recovery_codes(0).is_err());
    assert!(settings.clone().recovery_codes(33).is_err());
    let invalid = |setting| Some(Error::InvalidSetting { setting });
    let year = Settings::MAX_DEVICE_LIFETIME;
    assert_eq!(year, 365 * 24 * 3600);
    assert_eq!(
        settings.clone().device_lifetime(0).err(),
        invalid("device_lifetime")
    );
    assert_eq!(
        settings.clone().device_lifetime(year + 1).err(),
        invalid("device_lifetime")
    );
    assert!(settings.clone().device_lifetime(year).is_ok());
    assert!(settings.clone().device_lifetime(60).is_ok());
    let hour = Settings::MAX_REAUTHENTICATION_LIFETIME;
    assert_eq!(hour, 3600);
    for bad in [0, hour + 1, u64::MAX] {
        assert_eq!(
            settings.clone().reauthentication_lifetime(bad).err(),
            invalid("reauthentication_lifetime")
        );
    }
    assert!(settings.clone().reauthentication_lifetime(hour).is_ok());
    assert!(settings.clone().max_devices(0).is_err());
    assert!(settings.clone().max_devices(51).is_err());
    assert!(settings.clone().max_devices(Settings::MAX_DEVICES).is_ok());
    assert!(settings.clone().max_devices(1).is_ok());
    assert!(settings.totp(twofa::Algorithm::Sha256, 8, 60).is_ok());
}

#[test]
fn the_reauthentication_lifetime_applies() {
    let mut fx = Fixture::new();
    fx.settings = fx.settings.clone().reauthentication_lifetime(3600).unwrap();
    let (record, _, _) = enabled(&fx);
    let now = T0 + 5000;
    let proof = |at| Reauthentication::Password(password(USER, at));
    assert!(record.disable(&fx.ctx(), proof(now - 3600), now).changed());
    assert_eq!(
        refused(record.disable(&fx.ctx(), proof(now - 3601), now)),
        Error::ReauthenticationRequired
    );
}

#[test]
fn a_recovery_code_of_another_hasher_is_not_counted_as_a_guess() {
    let fx = Fixture::new();
    let (record, _, codes) = enabled(&fx);
    // The host misconfigured its hasher (a pepper it did not have before).
    let peppered = Pbkdf2Hasher::new()
        .with_iterations(Pbkdf2Hasher::MIN_ITERATIONS)
        .unwrap()
        .with_pepper(&[1; 32])
        .unwrap();
    let ctx = Context::new(USER, &fx.settings, &*fx.sealer, &peppered).unwrap();
    let first = codes.iter().next().unwrap();
    assert_eq!(
        refused(record.use_recovery_code(&ctx, first, T0 + 1)),
        Error::Recovery(RecoveryError::HasherMismatch)
    );
}

#[test]
fn a_devices_page_sees_when_and_what_but_never_the_token() {
    let fx = Fixture::new();
    let (mut record, _, proof) = signed_in(&fx);
    let mut rng = twofa::os_rng();
    let now = T0 + 30;
    // The longest label is accepted; one byte more is refused (tested beside eviction).
    let label = "L".repeat(twofa::account::TrustedDevice::MAX_LABEL_LEN);
    let token = record
        .run(|r| r.trust_device(&fx.ctx(), &proof, Some(&label), &mut rng, now))
        .result
        .unwrap();
    let device = &record.devices()[0];
    assert_eq!(device.label(), Some(label.as_str()));
    assert_eq!(device.created_at(), now);
    assert_eq!(device.expires_at(), now + Settings::DEFAULT_DEVICE_LIFETIME);
    assert_eq!(token.expires_at(), device.expires_at());
    assert_eq!(
        format!("{device:?}"),
        format!(
            "TrustedDevice {{ id: {:?}, label: Some({label:?}), created_at: {now}, expires_at: {} }}",
            device.id(),
            device.expires_at()
        )
    );
    assert_eq!(
        format!("{token:?}"),
        format!(
            "DeviceToken {{ device_id: {:?}, expires_at: {}, .. }}",
            device.id(),
            device.expires_at()
        )
    );
}

#[test]
fn an_enrollment_debugs_as_its_redacted_uri() {
    let fx = Fixture::new();
    let enrollment = TwoFactorRecord::new()
        .run(|r| {
            r.start_enrollment(
                &fx.ctx(),
                Some(&password(USER, T0)),
                "alice@example.com",
                &mut twofa::os_rng(),
                T0,
            )
        })
        .result
        .unwrap();
    assert_eq!(
        format!("{enrollment:?}"),
        format!("Enrollment {{ uri: {:?} }}", enrollment.uri())
    );
}

/// Counts derivations and the threads they ran on.
struct CountingHasher {
    inner: Pbkdf2Hasher,
    threads: std::sync::Mutex<Vec<std::thread::ThreadId>>,
}

impl twofa::recovery::CodeHasher for CountingHasher {
    fn algorithm(&self) -> &str {
        self.inner.algorithm()
    }
    fn parameters(&self) -> String {
        self.inner.parameters()
    }
    fn hash(&self, code: &[u8], salt: &[u8], parameters: &str) -> Result<Vec<u8>, Error> {
        self.threads
            .lock()
            .unwrap()
            .push(std::thread::current().id());
        self.inner.hash(code, salt, parameters)
    }
}

#[test]
fn the_record_api_needs_no_runtime_and_derives_on_the_callers_thread() {
    // No executor, no blocking pool: the sans-IO flows derive in place, once per code.
    let settings = Settings::new("Plausible Analytics").unwrap();
    let hasher = CountingHasher {
        inner: Pbkdf2Hasher::new()
            .with_iterations(Pbkdf2Hasher::MIN_ITERATIONS)
            .unwrap(),
        threads: std::sync::Mutex::new(Vec::new()),
    };
    let ctx = Context::new(USER, &settings, &DangerPlaintextSealer, &hasher).unwrap();
    let mut rng = twofa::os_rng();
    let mut record = TwoFactorRecord::new();
    let proof = password(USER, T0);
    let app = record
        .run(|r| r.start_enrollment(&ctx, Some(&proof), "alice@example.com", &mut rng, T0))
        .result
        .unwrap()
        .uri()
        .to_totp()
        .unwrap();
    let code = app.generate(T0).to_string();
    let codes = record
        .run(|r| r.confirm_enrollment(&ctx, &code, &mut rng, T0))
        .result
        .unwrap();
    assert_eq!(hasher.threads.lock().unwrap().len(), 10);
    let used = record.run(|r| r.use_recovery_code(&ctx, codes.iter().next().unwrap(), T0 + 1));
    assert!(used.result.is_ok());
    let wrong = record.run(|r| r.use_recovery_code(&ctx, "ZZZZZ-ZZZZZ", T0 + 2));
    assert_eq!(wrong.result.err(), Some(RecoveryError::InvalidCode.into()));
    let proof = Reauthentication::Password(password(USER, T0 + 3));
    let regenerated = record.run(|r| r.regenerate_recovery_codes(&ctx, proof, &mut rng, T0 + 3));
    assert_eq!(regenerated.result.unwrap().len(), 10);
    let threads = hasher.threads.lock().unwrap();
    assert_eq!(threads.len(), 22);
    let here = std::thread::current().id();
    assert!(threads.iter().all(|thread| *thread == here));
}

#[test]
fn the_largest_records_round_trip_and_larger_input_is_refused_unread() {
    let fx = Fixture {
        settings: Fixture::new()
            .settings
            .max_devices(Settings::MAX_DEVICES)
            .unwrap(),
        ..Fixture::new()
    };
    assert_eq!(fx.ctx().user_id(), USER);
    let (mut record, _, proof) = signed_in(&fx);
    let label = "L".repeat(twofa::account::TrustedDevice::MAX_LABEL_LEN);
    for i in 0..Settings::MAX_DEVICES as u64 {
        record.advance(|r| {
            r.trust_device(
                &fx.ctx(),
                &proof,
                Some(&label),
                &mut twofa::os_rng(),
                T0 + 30 + i,
            )
        });
    }
    let bytes = record.to_bytes();
    assert!(bytes.len() > 4 * 1024, "{} bytes", bytes.len());
    assert_eq!(TwoFactorRecord::from_bytes(&bytes).unwrap(), record);
    assert_eq!(TwoFactorRecord::decode(&record.encode()).unwrap(), record);

    let huge = vec![0u8; 64 * 1024 + 1];
    assert_eq!(
        TwoFactorRecord::from_bytes(&huge).err(),
        Some(Error::InvalidRecord(RecordError::TooLarge))
    );
    let huge_text = format!("2fa1.{}", "A".repeat(64 * 1024 * 4 / 3 + 8));
    let mut decoded = None;
    let counted =
        allocation_counter::measure(|| decoded = Some(TwoFactorRecord::decode(&huge_text)));
    assert_eq!(
        decoded.unwrap().err(),
        Some(Error::InvalidRecord(RecordError::TooLarge))
    );
    assert_eq!(counted.count_total, 0, "refused before base64 decoding");
    // The shortest inputs: a header alone, and a header with a check but no body.
    let truncated = Some(Error::InvalidRecord(RecordError::Truncated));
    assert_eq!(TwoFactorRecord::from_bytes(b"2FA\x02").err(), truncated);
    assert_eq!(
        TwoFactorRecord::from_bytes(b"2FA\x02\0\0\0\0\0\0\0\0").err(),
        truncated
    );
    assert_eq!(
        TwoFactorRecord::from_bytes(b"2FA").err(),
        Some(Error::InvalidRecord(RecordError::NotARecord))
    );
    assert_eq!(RecordError::TooLarge.to_string(), "the record is too large");
    assert_eq!(
        RecordError::InvalidField("secret").to_string(),
        "the record's secret is invalid"
    );
    assert_eq!(
        RecordError::UnknownVersion(9).to_string(),
        "unknown record version 9"
    );
}

/// Fails recovery codes until they are locked out, waiting as the throttle asks; returns the
/// time of the lockout and its event.
fn lock_out_recovery(fx: &Fixture, record: &mut TwoFactorRecord, mut now: u64) -> (u64, Event) {
    let policy = *fx.settings.recovery_code_throttle_policy();
    for _ in 0..policy.lockout_threshold() {
        let attempt = record.run(|r| r.use_recovery_code(&fx.ctx(), "AAAAA-AAAAA", now));
        assert!(attempt.result.unwrap_err().is_wrong_code());
        match attempt.events.last() {
            Some(event @ Event::RecoveryCodesLockedOut { .. }) => return (now, event.clone()),
            Some(Event::RecoveryCodesThrottled { retry_at, .. }) => now = *retry_at,
            _ => {}
        }
    }
    panic!("no lockout after {} failures", policy.lockout_threshold());
}

#[test]
fn a_recovery_code_ends_a_lockout_of_codes() {
    let fx = Fixture::new();
    let (mut record, app, codes) = enabled(&fx);
    let locked_at = lock_out(&fx, &mut record, &app, T0 + 30);
    let policy = *fx.settings.throttle_policy();
    assert!(record.is_locked_out(&policy, locked_at + 1));
    // The owner's recovery code is evaluated during the lockout, works, and ends it.
    let first = codes.iter().next().unwrap();
    let recovered = record.run(|r| r.use_recovery_code(&fx.ctx(), first, locked_at + 1));
    let signed_in = recovered.result.unwrap();
    assert_eq!(signed_in.failed_attempts(), 30);
    assert_eq!(
        recovered.events,
        [
            Event::RecoveryCodeUsed { remaining: 9 },
            Event::FailedAttempts { failures: 30 }
        ]
    );
    assert!(!record.is_locked_out(&policy, locked_at + 1));
    assert_eq!((record.failures(), record.unreported_failures()), (0, 0));
    // Codes work again at once.
    let code = app.generate(locked_at + 2).to_string();
    let signed = record.run(|r| r.verify_code(&fx.ctx(), &code, locked_at + 2));
    assert_eq!(signed.result.unwrap().failed_attempts(), 0, "reported once");
}

#[test]
fn recovery_codes_have_a_budget_of_their_own_that_a_code_ends() {
    let fx = Fixture::new();
    let (mut record, app, codes) = enabled(&fx);
    let recovery_policy = *fx.settings.recovery_code_throttle_policy();
    assert_eq!(recovery_policy, ThrottlePolicy::for_recovery_codes());
    assert_eq!(recovery_policy.lockout_threshold(), 50);
    let (locked_at, event) = lock_out_recovery(&fx, &mut record, T0 + 30);
    let until = locked_at + ThrottlePolicy::DEFAULT_LOCKOUT_DURATION;
    assert_eq!(
        event,
        Event::RecoveryCodesLockedOut {
            failures: 50,
            until: Some(until)
        }
    );
    // About nine hours of paced guessing: 5 free, 10 doubling delays, then one per 15 minutes.
    let paced: u64 = (1..50).map(|n| recovery_policy.delay_after(n)).sum();
    assert_eq!(locked_at - (T0 + 30), paced);
    assert!(paced > 8 * 3600, "{paced} s");
    // The right recovery code is refused without being looked at (nothing changes)...
    let first = codes.iter().next().unwrap();
    assert_eq!(
        refused(record.use_recovery_code(&fx.ctx(), first, until - 1)),
        Error::LockedOut
    );
    assert!(record.is_recovery_locked_out(&recovery_policy, until - 1));
    // ...and so is a password proof, but codes have their own budget and are untouched.
    let proof = Reauthentication::Password(password(USER, until - 1));
    assert_eq!(
        refused(record.regenerate_recovery_codes(
            &fx.ctx(),
            proof,
            &mut twofa::os_rng(),
            until - 1
        )),
        Error::LockedOut
    );
    assert_eq!(record.failures(), 0);
    let code = app.generate(until - 1).to_string();
    let signed = record.run(|r| r.verify_code(&fx.ctx(), &code, until - 1));
    assert_eq!(signed.result.unwrap().failed_attempts(), 50);
    // The code ended the recovery lockout.
    assert!(!record.is_recovery_locked_out(&recovery_policy, until - 1));
    assert!(
        record
            .run(|r| r.use_recovery_code(&fx.ctx(), first, until - 1))
            .result
            .is_ok()
    );
}

/// The threat model of the crate docs, played out: someone who has only the password.
#[test]
fn an_attacker_with_only_the_password_cannot_keep_the_owner_out() {
    let fx = Fixture::new();
    let (mut record, app, codes) = enabled(&fx);
    let mut rng = twofa::os_rng();
    // The owner trusted a laptop earlier.
    let code = app.generate(T0 + 30).to_string();
    let earlier = record.run(|r| r.verify_code(&fx.ctx(), &code, T0 + 30));
    let laptop = record
        .run(|r| r.trust_device(&fx.ctx(), &earlier.result.unwrap(), None, &mut rng, T0 + 30))
        .result
        .unwrap();
    let policy = *fx.settings.throttle_policy();
    let recovery_policy = *fx.settings.recovery_code_throttle_policy();

    // The attacker locks codes (30 guesses), then recovery codes (50 more).
    let codes_locked = lock_out(&fx, &mut record, &app, T0 + 60);
    let (recovery_locked, _) = lock_out_recovery(&fx, &mut record, codes_locked);
    assert!(
        recovery_locked - T0 > 12 * 3600,
        "both take the attacker half a day"
    );
    let now = recovery_locked + 1;
    // They cannot turn 2FA off or mint recovery codes with the password.
    let proof = || Reauthentication::Password(password(USER, now));
    assert_eq!(
        refused(record.disable(&fx.ctx(), proof(), now)),
        Error::LockedOut
    );
    // The owner's trusted device still signs in, and shows every guess.
    let on_laptop = record.run(|r| r.sign_in_with_device(&fx.ctx(), laptop.as_str(), now));
    assert_eq!(on_laptop.result.unwrap().failed_attempts(), 80);
    assert_eq!(on_laptop.events, [Event::FailedAttempts { failures: 80 }]);
    // Each lockout ends by itself a day later; one more guess a day renews it...
    let mut day = codes_locked;
    while record.failures() < ThrottlePolicy::MAX_LOCKOUT_AFTER {
        day += ThrottlePolicy::DEFAULT_LOCKOUT_DURATION;
        assert!(!record.is_locked_out(&policy, day));
        let wrong = wrong_code(&app, day);
        record.advance(|r| r.verify_code(&fx.ctx(), &wrong, day));
        assert!(day - codes_locked <= 71 * 24 * 3600, "bounded loop");
    }
    // ...until the count reaches 100, NIST's ceiling: then only a success with the other
    // authenticator, or the host's unlock, ends it. Never more than 100 consecutive guesses.
    assert!(record.is_locked_out(&policy, day + 10 * 365 * 24 * 3600));
    let wrong = wrong_code(&app, day + 10 * 365 * 24 * 3600);
    assert_eq!(
        refused(record.verify_code(&fx.ctx(), &wrong, day + 10 * 365 * 24 * 3600)),
        Error::LockedOut
    );
    // The recovery lockout ended by itself long ago: the owner's recovery code gets in and
    // ends the lockout of codes.
    let later = day + 1;
    assert!(!record.is_recovery_locked_out(&recovery_policy, later));
    let first = codes.iter().next().unwrap();
    let recovered = record.run(|r| r.use_recovery_code(&fx.ctx(), first, later));
    assert!(recovered.result.is_ok());
    assert!(!record.is_locked_out(&policy, later));
}

#[test]
fn a_lockout_at_the_ceiling_only_ends_by_the_other_authenticator_or_unlock() {
    let fx = Fixture::new();
    let (mut record, app, _) = enabled(&fx);
    let mut now = T0 + 30;
    // A host policy that locks at the ceiling itself.
    let policy = ThrottlePolicy::default()
        .delays(1, 1)
        .lockout_after(ThrottlePolicy::MAX_LOCKOUT_AFTER)
        .unwrap();
    let settings = Settings::new("Plausible Analytics")
        .unwrap()
        .throttle(policy)
        .device_key(DeviceKey::from_bytes(&[5; 32]).unwrap());
    let ctx = Context::new(USER, &settings, &*fx.sealer, &fx.hasher).unwrap();
    let mut last = Vec::new();
    for _ in 0..ThrottlePolicy::MAX_LOCKOUT_AFTER {
        let wrong = wrong_code(&app, now);
        last = record.run(|r| r.verify_code(&ctx, &wrong, now)).events;
        now += 1;
    }
    assert_eq!(
        last,
        [Event::LockedOut {
            failures: 100,
            until: None
        }]
    );
    assert!(record.is_locked_out(&policy, u64::MAX));
    record.advance(|r| r.unlock());
    assert!(!record.is_locked_out(&policy, now));
    assert_eq!(
        record.unreported_failures(),
        100,
        "unlock keeps them to report"
    );
}

#[test]
fn every_sign_in_reports_the_failures_once_the_trusted_device_path_included() {
    let fx = Fixture::new();
    let (mut record, app, proof) = signed_in(&fx);
    let mut rng = twofa::os_rng();
    let token = record
        .run(|r| r.trust_device(&fx.ctx(), &proof, None, &mut rng, T0 + 30))
        .result
        .unwrap();
    // Three wrong codes and one wrong recovery code.
    for _ in 0..3 {
        let wrong = wrong_code(&app, T0 + 60);
        record.advance(|r| r.verify_code(&fx.ctx(), &wrong, T0 + 60));
    }
    record.advance(|r| r.use_recovery_code(&fx.ctx(), "AAAAA-AAAAA", T0 + 60));
    assert_eq!(record.unreported_failures(), 4);
    // The trusted device reports them: the record changes (and must be saved).
    let transition = record.sign_in_with_device(&fx.ctx(), token.as_str(), T0 + 61);
    assert!(transition.changed());
    let first = record.run(|_| transition);
    let on_device = first.result.unwrap();
    assert_eq!(on_device.method(), SignInMethod::TrustedDevice);
    assert_eq!(on_device.failed_attempts(), 4);
    assert_eq!(first.events, [Event::FailedAttempts { failures: 4 }]);
    // The counts that throttle guesses are left as they were: a device proves no factor now.
    assert_eq!((record.failures(), record.recovery_code_failures()), (3, 1));
    // A second sign-in, on the device or with a code, does not report them again.
    let again = record.sign_in_with_device(&fx.ctx(), token.as_str(), T0 + 62);
    assert!(!again.changed(), "nothing to report: read-only");
    let again = record.run(|_| again);
    assert_eq!(again.result.unwrap().failed_attempts(), 0);
    assert!(again.events.is_empty());
    let code = app.generate(T0 + 90).to_string();
    let with_code = record.run(|r| r.verify_code(&fx.ctx(), &code, T0 + 90));
    assert_eq!(with_code.result.unwrap().failed_attempts(), 0);
    assert!(with_code.events.is_empty());
    assert_eq!((record.failures(), record.recovery_code_failures()), (0, 0));
    // A wrong token is refused without a change.
    assert_eq!(
        refused(record.sign_in_with_device(&fx.ctx(), "not-a-token", T0 + 91)),
        Error::InvalidDeviceToken
    );
}

#[test]
fn a_device_sign_in_neither_trusts_a_device_nor_re_authenticates() {
    let fx = Fixture::new();
    let (mut record, _, proof) = signed_in(&fx);
    let mut rng = twofa::os_rng();
    let token = record
        .run(|r| r.trust_device(&fx.ctx(), &proof, None, &mut rng, T0 + 30))
        .result
        .unwrap();
    let on_device = record
        .run(|r| r.sign_in_with_device(&fx.ctx(), token.as_str(), T0 + 31))
        .result
        .unwrap();
    assert!(!on_device.is_second_factor());
    assert_eq!(
        refused(record.trust_device(&fx.ctx(), &on_device, None, &mut rng, T0 + 32)),
        Error::ReauthenticationRequired
    );
    let step_up = Reauthentication::SecondFactor(on_device);
    assert_eq!(
        refused(record.disable(&fx.ctx(), step_up, T0 + 32)),
        Error::ReauthenticationRequired
    );
}

#[test]
fn a_recent_second_factor_re_authenticates() {
    let fx = Fixture::new();
    let lifetime = Settings::DEFAULT_REAUTHENTICATION_LIFETIME;
    let (mut record, app, by_code) = signed_in(&fx);
    assert!(by_code.is_second_factor());
    assert_eq!(by_code.user_id(), USER);
    let at = by_code.at();
    let regenerate = |record: &TwoFactorRecord, proof: &SignedIn, now: u64| {
        let proof = Reauthentication::SecondFactor(proof.clone());
        record.regenerate_recovery_codes(&fx.ctx(), proof, &mut twofa::os_rng(), now)
    };
    // Within the window, and up to the clock skew ahead; not a second more either way.
    assert!(regenerate(&record, &by_code, at + lifetime).changed());
    assert!(regenerate(&record, &by_code, at - PasswordConfirmed::CLOCK_SKEW).changed());
    for now in [at + lifetime + 1, at - PasswordConfirmed::CLOCK_SKEW - 1] {
        assert_eq!(
            refused(regenerate(&record, &by_code, now)),
            Error::ReauthenticationRequired
        );
    }
    // Another user's sign-in proves nothing here.
    let other = Fixture::new();
    let mut theirs = TwoFactorRecord::new();
    let started = theirs.run(|r| {
        r.start_enrollment(
            &other.ctx_for("user-43"),
            Some(&PasswordConfirmed::check(&|_: &str, _: &str| true, "user-43", "pw", T0).unwrap()),
            "bob",
            &mut twofa::os_rng(),
            T0,
        )
    });
    let their_app = started.result.unwrap().uri().to_totp().unwrap();
    let code = their_app.generate(T0).to_string();
    theirs.advance(|r| {
        r.confirm_enrollment(&other.ctx_for("user-43"), &code, &mut twofa::os_rng(), T0)
    });
    let code = their_app.generate(T0 + 30).to_string();
    let their_sign_in = theirs
        .run(|r| r.verify_code(&other.ctx_for("user-43"), &code, T0 + 30))
        .result
        .unwrap();
    assert_eq!(
        refused(regenerate(&record, &their_sign_in, T0 + 31)),
        Error::ReauthenticationRequired
    );
    // After "sign out everywhere", an older sign-in no longer counts.
    record.advance(|r| r.revoke_all_devices(at));
    assert_eq!(
        refused(regenerate(&record, &by_code, at + 1)),
        Error::ReauthenticationRequired
    );
    // A sign-in with a recovery code during a lockout of codes turns 2FA off.
    let codes = record
        .run(|r| {
            let proof = Reauthentication::Password(password(USER, at + 1));
            r.regenerate_recovery_codes(&fx.ctx(), proof, &mut twofa::os_rng(), at + 1)
        })
        .result
        .unwrap();
    let locked_at = lock_out(&fx, &mut record, &app, at + 60);
    let recovered = record
        .run(|r| r.use_recovery_code(&fx.ctx(), codes.iter().next().unwrap(), locked_at))
        .result
        .unwrap();
    let disabled = record.run(|r| {
        r.disable(
            &fx.ctx(),
            Reauthentication::SecondFactor(recovered.clone()),
            locked_at + 1,
        )
    });
    assert_eq!(disabled.events, [Event::Disabled]);
    // A sign-in of the old enrolment proves nothing for the next one.
    let (fresh, _) = pending(&fx, locked_at + 2);
    let mut fresh = fresh;
    let record_status = fresh.status();
    assert!(matches!(record_status, Status::Pending { .. }));
    assert_eq!(
        refused(fresh.disable(
            &fx.ctx(),
            Reauthentication::SecondFactor(recovered),
            locked_at + 3
        )),
        Error::NotEnabled
    );
    fresh.advance(|r| r.cancel_enrollment());
}

#[test]
fn a_sign_in_from_an_earlier_enrolment_cannot_re_authenticate() {
    let fx = Fixture::new();
    let (mut record, _, old_sign_in) = signed_in(&fx);
    let t = old_sign_in.at();
    // Turned off by the password and enabled again, all within the window.
    record.advance(|r| r.disable(&fx.ctx(), Reauthentication::Password(password(USER, t)), t));
    let started = record.run(|r| {
        r.start_enrollment(
            &fx.ctx(),
            Some(&password(USER, t + 1)),
            "a",
            &mut twofa::os_rng(),
            t + 1,
        )
    });
    let app = started.result.unwrap().uri().to_totp().unwrap();
    let code = app.generate(t + 1).to_string();
    record.advance(|r| r.confirm_enrollment(&fx.ctx(), &code, &mut twofa::os_rng(), t + 1));
    assert!(record.is_enabled());
    let proof = Reauthentication::SecondFactor(old_sign_in.clone());
    assert_eq!(
        refused(record.disable(&fx.ctx(), proof, t + 2)),
        Error::ReauthenticationRequired
    );
    assert_eq!(
        refused(record.trust_device(&fx.ctx(), &old_sign_in, None, &mut twofa::os_rng(), t + 2)),
        Error::ReauthenticationRequired
    );
}

/// The sequence of the issue: revoke all devices (a password change), disable 2FA, enrol
/// again, all within ten minutes; a sign-in proof from before the revoke must not trust a new
/// device — nor one made between the revoke and the disable.
#[test]
fn the_revocation_time_survives_disable_and_re_enrolment() {
    let fx = Fixture::new();
    let (mut record, app, before_revoke) = signed_in(&fx);
    let t = before_revoke.at();
    record.advance(|r| r.revoke_all_devices(t + 10));
    let code = app.generate(t + 30).to_string();
    let between = record
        .run(|r| r.verify_code(&fx.ctx(), &code, t + 30))
        .result
        .unwrap();
    let disabled = record.run(|r| {
        r.disable(
            &fx.ctx(),
            Reauthentication::Password(password(USER, t + 40)),
            t + 40,
        )
    });
    assert_eq!(disabled.events, [Event::Disabled]);
    assert_eq!(record.devices_revoked_at(), Some(t + 40));
    // Enrol again: the revocation time stays through pending and enabled, and through a
    // cancelled enrolment and an unlock.
    let started = record.run(|r| {
        r.start_enrollment(
            &fx.ctx(),
            Some(&password(USER, t + 50)),
            "a",
            &mut twofa::os_rng(),
            t + 50,
        )
    });
    assert_eq!(record.devices_revoked_at(), Some(t + 40));
    record.advance(|r| r.cancel_enrollment());
    assert_eq!(record.devices_revoked_at(), Some(t + 40));
    drop(started);
    let started = record.run(|r| {
        r.start_enrollment(
            &fx.ctx(),
            Some(&password(USER, t + 60)),
            "a",
            &mut twofa::os_rng(),
            t + 60,
        )
    });
    let new_app = started.result.unwrap().uri().to_totp().unwrap();
    let code = new_app.generate(t + 60).to_string();
    record.advance(|r| r.confirm_enrollment(&fx.ctx(), &code, &mut twofa::os_rng(), t + 60));
    record.advance(|r| r.unlock());
    assert!(record.is_enabled());
    assert_eq!(record.devices_revoked_at(), Some(t + 40));
    for old in [&before_revoke, &between] {
        assert!(t + 70 - old.at() <= SignedIn::TRUST_WINDOW);
        assert_eq!(
            refused(record.trust_device(&fx.ctx(), old, None, &mut twofa::os_rng(), t + 70)),
            Error::ReauthenticationRequired
        );
    }
    // Survives the encoding too, and a new sign-in trusts a device as usual.
    let record = TwoFactorRecord::from_bytes(&record.to_bytes()).unwrap();
    assert_eq!(record.devices_revoked_at(), Some(t + 40));
    let mut record = record;
    let code = new_app.generate(t + 90).to_string();
    let new_sign_in = record
        .run(|r| r.verify_code(&fx.ctx(), &code, t + 90))
        .result
        .unwrap();
    assert!(
        record
            .run(|r| r.trust_device(&fx.ctx(), &new_sign_in, None, &mut twofa::os_rng(), t + 90))
            .result
            .is_ok()
    );
}

/// A record of an earlier release may have been turned off without keeping a revocation time
/// and enabled again: a sign-in of the earlier enrolment, still within the window, is refused
/// by the enrolment's own start.
#[test]
fn a_sign_in_older_than_the_enrolment_cannot_step_up_on_a_record_without_a_revocation_time() {
    let sealer = DangerPlaintextSealer;
    let hasher = Pbkdf2Hasher::new().with_iterations(1_000).unwrap();
    let settings = golden_settings();
    let ctx = Context::new(USER, &settings, &sealer, &hasher).unwrap();
    // Version 1: enabled at T0, no revocation time.
    let text = std::fs::read_to_string(golden_path(1)).unwrap();
    let legacy = TwoFactorRecord::decode(text.trim()).unwrap();
    assert_eq!(legacy.devices_revoked_at(), None);
    // A sign-in of the same user on an enrolment before it, 70 s before T0.
    let mut earlier = TwoFactorRecord::new();
    let started = earlier.run(|r| {
        r.start_enrollment(
            &ctx,
            Some(&password(USER, T0 - 100)),
            "a",
            &mut twofa::os_rng(),
            T0 - 100,
        )
    });
    let app = started.result.unwrap().uri().to_totp().unwrap();
    let code = app.generate(T0 - 100).to_string();
    earlier.advance(|r| r.confirm_enrollment(&ctx, &code, &mut twofa::os_rng(), T0 - 100));
    let code = app.generate(T0 - 70).to_string();
    let old = earlier
        .run(|r| r.verify_code(&ctx, &code, T0 - 70))
        .result
        .unwrap();
    let proof = Reauthentication::SecondFactor(old);
    assert_eq!(
        refused(legacy.disable(&ctx, proof, T0 + 10)),
        Error::ReauthenticationRequired
    );
}

/// A proof restored from a server-side session passes the same checks as the one it was
/// made from: fresh from a code it re-authenticates; a trusted-device method, another user,
/// or an age past the window is refused.
#[test]
fn a_proof_restored_from_the_session_is_checked_like_the_original() {
    let fx = Fixture::new();
    let lifetime = Settings::DEFAULT_REAUTHENTICATION_LIFETIME;
    let (record, _, by_code) = signed_in(&fx);
    let at = by_code.at();
    let disable = |proof: SignedIn, now: u64| {
        record.disable(&fx.ctx(), Reauthentication::SecondFactor(proof), now)
    };
    let restore = SignedIn::restore_from_server_session;
    let restored = restore(USER, by_code.method(), at);
    assert_eq!(restored.at(), at);
    assert!(disable(restored.clone(), at + lifetime).changed());
    assert_eq!(
        refused(disable(restored, at + lifetime + 1)),
        Error::ReauthenticationRequired
    );
    for refused_proof in [
        restore(USER, SignInMethod::TrustedDevice, at),
        restore("user-43", by_code.method(), at),
    ] {
        assert_eq!(
            refused(disable(refused_proof, at + 1)),
            Error::ReauthenticationRequired
        );
    }
    // A restored password confirmation is bound to its user and its age too.
    let password = PasswordConfirmed::restore_from_server_session(USER, at);
    assert!(
        record
            .disable(
                &fx.ctx(),
                Reauthentication::Password(password.clone()),
                at + 1
            )
            .changed()
    );
    assert_eq!(
        refused(record.disable(
            &fx.ctx(),
            Reauthentication::Password(password),
            at + lifetime + 1
        )),
        Error::ReauthenticationRequired
    );
    let theirs = PasswordConfirmed::restore_from_server_session("user-43", at);
    assert_eq!(
        refused(record.disable(&fx.ctx(), Reauthentication::Password(theirs), at + 1)),
        Error::ReauthenticationRequired
    );
}

/// A typo while confirming the setup is the owner's own: once the setup succeeds there is
/// nothing to report at the first sign-in.
#[test]
fn typos_while_confirming_the_setup_are_not_reported_at_the_next_sign_in() {
    let fx = Fixture::new();
    let (mut record, app) = pending(&fx, T0);
    let typo = wrong_code(&app, T0);
    let failed = record.run(|r| r.confirm_enrollment(&fx.ctx(), &typo, &mut twofa::os_rng(), T0));
    assert!(failed.result.unwrap_err().is_wrong_code());
    assert_eq!(record.unreported_failures(), 1);
    let code = app.generate(T0).to_string();
    let confirmed =
        record.run(|r| r.confirm_enrollment(&fx.ctx(), &code, &mut twofa::os_rng(), T0));
    assert_eq!(
        confirmed.events,
        [Event::Enabled],
        "no failed attempts to report"
    );
    assert_eq!(record.unreported_failures(), 0);
    let code = app.generate(T0 + 30).to_string();
    let first = record.run(|r| r.verify_code(&fx.ctx(), &code, T0 + 30));
    assert_eq!(first.result.unwrap().failed_attempts(), 0);
    assert!(first.events.is_empty(), "{:?}", first.events);
}
