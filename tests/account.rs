//! Every flow of the account record, end to end, through the public API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// test code: failing loudly is the point
// The golden record and the Debug leak test seal with the test-only plaintext sealer.
#![cfg(feature = "danger-plaintext-sealer")]

use twofa::account::{
    Context, Event, PasswordConfirmed, Reauthentication, RecordError, Settings, SignInMethod,
    SignedIn, Status, ThrottlePolicy, TwoFactorRecord,
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
            settings: Settings::new("Plausible Analytics").unwrap(),
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
        Context::new(user, &self.settings, &*self.sealer, &self.hasher)
    }
}

/// An enabled record, the user's authenticator (as a `Totp`), and the recovery codes.
fn enabled(fx: &Fixture) -> (TwoFactorRecord, Totp, RecoveryCodes) {
    let mut rng = twofa::os_rng();
    let started =
        TwoFactorRecord::new().start_enrollment(&fx.ctx(), "alice@example.com", &mut rng, T0);
    let app = started.outcome.unwrap().uri().to_totp().unwrap();
    let confirmed =
        started
            .record
            .confirm_enrollment(&fx.ctx(), &app.generate(T0).to_string(), &mut rng, T0);
    assert_eq!(confirmed.events, [Event::Enabled]);
    (confirmed.record, app, confirmed.outcome.unwrap())
}

/// A code of `app`'s length that matches no step near `now`.
fn wrong_code(app: &Totp, now: u64) -> String {
    let near: Vec<String> = (0..5)
        .map(|i| app.generate(now.saturating_sub(60) + i * 30).to_string())
        .collect();
    (0..100)
        .map(|n| format!("{n:06}"))
        .find(|c| !near.contains(c))
        .unwrap()
}

fn password(user: &str, now: u64) -> PasswordConfirmed {
    let check = |u: &str, p: &str| u == USER && p == "correct horse";
    PasswordConfirmed::check(&check, user, "correct horse", now).unwrap()
}

#[test]
fn enrolment_shows_a_uri_a_qr_code_and_the_key() {
    let fx = Fixture::new();
    let mut rng = twofa::os_rng();
    let started =
        TwoFactorRecord::new().start_enrollment(&fx.ctx(), "alice@example.com", &mut rng, T0);
    assert!(started.changed());
    assert_eq!(started.events, [Event::EnrollmentStarted]);
    assert_eq!(started.record.status(), Status::Pending { started_at: T0 });
    let enrollment = started.outcome.unwrap();
    let uri = enrollment.uri().to_string();
    assert!(uri.starts_with("otpauth://totp/Plausible%20Analytics:alice%40example.com?secret="));
    let key = enrollment.manual_key();
    assert_eq!(key.replace(' ', ""), *enrollment.uri().secret().to_base32());
    assert!(enrollment.qr_code().unwrap().to_svg().starts_with("<svg"));
    assert!(!format!("{enrollment:?}").contains(&*enrollment.uri().secret().to_base32()));
}

#[test]
fn starting_again_replaces_the_pending_secret() {
    let fx = Fixture::new();
    let mut rng = twofa::os_rng();
    let first = TwoFactorRecord::new().start_enrollment(&fx.ctx(), "alice", &mut rng, T0);
    let first_app = first.outcome.unwrap().uri().to_totp().unwrap();
    let second = first
        .record
        .start_enrollment(&fx.ctx(), "alice", &mut rng, T0 + 5);
    let second_app = second.outcome.unwrap().uri().to_totp().unwrap();
    assert_ne!(first_app.secret(), second_app.secret());
    // The first secret no longer confirms.
    let stale = second.record.confirm_enrollment(
        &fx.ctx(),
        &first_app.generate(T0 + 5).to_string(),
        &mut rng,
        T0 + 5,
    );
    if first_app.generate(T0 + 5) != second_app.generate(T0 + 5) {
        assert_eq!(stale.outcome.err(), Some(Error::InvalidCode));
    }
    assert!(matches!(stale.record.status(), Status::Pending { .. }));
    let ok = stale.record.confirm_enrollment(
        &fx.ctx(),
        &second_app.generate(T0 + 5).to_string(),
        &mut rng,
        T0 + 5,
    );
    assert!(ok.outcome.is_ok());
}

#[test]
fn a_wrong_confirmation_code_keeps_the_record_pending() {
    let fx = Fixture::new();
    let mut rng = twofa::os_rng();
    let started = TwoFactorRecord::new().start_enrollment(&fx.ctx(), "alice", &mut rng, T0);
    let app = started.outcome.unwrap().uri().to_totp().unwrap();
    let wrong = started
        .record
        .confirm_enrollment(&fx.ctx(), &wrong_code(&app, T0), &mut rng, T0);
    assert!(wrong.changed(), "the failure must be stored");
    assert_eq!(wrong.outcome.err(), Some(Error::InvalidCode));
    assert!(matches!(wrong.record.status(), Status::Pending { .. }));
    assert_eq!(wrong.record.failures(), 1);
}

#[test]
fn flows_refuse_the_wrong_state() {
    let fx = Fixture::new();
    let mut rng = twofa::os_rng();
    let off = TwoFactorRecord::new();
    assert_eq!(
        off.verify_code(&fx.ctx(), "123456", T0).outcome.err(),
        Some(Error::NotEnabled)
    );
    assert_eq!(
        off.confirm_enrollment(&fx.ctx(), "123456", &mut rng, T0)
            .outcome
            .err(),
        Some(Error::NotPending)
    );
    assert_eq!(
        off.use_recovery_code(&fx.ctx(), "AAAAA-AAAAA", T0)
            .outcome
            .err(),
        Some(Error::NotEnabled)
    );
    let (on, _, _) = enabled(&fx);
    assert_eq!(
        on.start_enrollment(&fx.ctx(), "alice", &mut rng, T0)
            .outcome
            .err(),
        Some(Error::AlreadyEnabled)
    );
    assert_eq!(
        on.confirm_enrollment(&fx.ctx(), "123456", &mut rng, T0)
            .outcome
            .err(),
        Some(Error::NotPending)
    );
}

#[test]
fn the_confirming_code_cannot_sign_in_and_a_replay_is_reported() {
    let fx = Fixture::new();
    let (record, app, _) = enabled(&fx);
    let same = record.verify_code(&fx.ctx(), &app.generate(T0).to_string(), T0 + 1);
    assert_eq!(same.outcome.err(), Some(Error::ReplayedCode));
    assert!(same.events.contains(&Event::ReplayDetected));

    let later = T0 + 30;
    let code = app.generate(later).to_string();
    let first = record.verify_code(&fx.ctx(), &code, later);
    assert!(matches!(
        first.outcome.as_ref().unwrap().method(),
        SignInMethod::Code { offset: 0 }
    ));
    let again = first.record.verify_code(&fx.ctx(), &code, later + 2);
    assert_eq!(again.outcome.err(), Some(Error::ReplayedCode));
}

#[test]
fn each_recovery_code_works_exactly_once() {
    let fx = Fixture::new();
    let (mut record, _, codes) = enabled(&fx);
    assert_eq!(codes.len(), 10);
    for (i, code) in codes.iter().enumerate() {
        let used = record.use_recovery_code(&fx.ctx(), code, T0 + 1);
        let remaining = 9 - i;
        assert_eq!(
            used.outcome.as_ref().unwrap().method(),
            SignInMethod::RecoveryCode { remaining }
        );
        assert_eq!(used.events, [Event::RecoveryCodeUsed { remaining }]);
        record = used.record;
        let again = record.use_recovery_code(&fx.ctx(), code, T0 + 1);
        assert_eq!(
            again.outcome.err(),
            Some(Error::Recovery(RecoveryError::InvalidCode))
        );
        record = again.record;
        record = record.unlock().record; // keep the throttle out of this test
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
    let refused = record.regenerate_recovery_codes(
        &fx.ctx(),
        Reauthentication::Password(stale),
        &mut rng,
        T0,
    );
    assert_eq!(refused.outcome.err(), Some(Error::ReauthenticationRequired));
    let foreign = PasswordConfirmed::check(&|_: &str, _: &str| true, "user-7", "x", T0).unwrap();
    assert_eq!(
        record
            .regenerate_recovery_codes(&fx.ctx(), Reauthentication::Password(foreign), &mut rng, T0)
            .outcome
            .err(),
        Some(Error::ReauthenticationRequired)
    );
    let check = |_: &str, p: &str| p == "correct horse";
    assert_eq!(
        PasswordConfirmed::check(&check, USER, "wrong", T0).err(),
        Some(Error::InvalidPassword)
    );

    let regenerated = record.regenerate_recovery_codes(
        &fx.ctx(),
        Reauthentication::Password(password(USER, T0)),
        &mut rng,
        T0 + 10,
    );
    assert!(
        regenerated
            .events
            .contains(&Event::RecoveryCodesRegenerated)
    );
    let new = regenerated.outcome.unwrap();
    let mut record = regenerated.record;
    for code in old.iter() {
        let attempt = record.use_recovery_code(&fx.ctx(), code, T0 + 20);
        assert!(attempt.outcome.is_err(), "an old code still works");
        record = attempt.record.unlock().record;
    }
    assert!(
        record
            .use_recovery_code(&fx.ctx(), new.iter().next().unwrap(), T0 + 20)
            .outcome
            .is_ok()
    );

    // A current TOTP code is proof too.
    let code = app.generate(T0 + 60).to_string();
    let by_code = record.regenerate_recovery_codes(
        &fx.ctx(),
        Reauthentication::Code(&code),
        &mut rng,
        T0 + 60,
    );
    assert!(by_code.outcome.is_ok());
}

#[test]
fn disable_wipes_everything() {
    let fx = Fixture::new();
    let (record, app, codes) = enabled(&fx);
    let mut rng = twofa::os_rng();
    let signed_in = record.verify_code(&fx.ctx(), &app.generate(T0 + 30).to_string(), T0 + 30);
    let proof = signed_in.outcome.unwrap();
    let trusted =
        signed_in
            .record
            .trust_device(&fx.ctx(), &proof, Some("Firefox"), &mut rng, T0 + 30);
    let token = trusted.outcome.unwrap();
    let record = trusted.record;
    assert!(
        record
            .check_device(&fx.ctx(), token.as_str(), T0 + 31)
            .is_ok()
    );

    let disabled = record.disable(
        &fx.ctx(),
        Reauthentication::Password(password(USER, T0 + 40)),
        T0 + 40,
    );
    assert_eq!(disabled.events, [Event::Disabled]);
    let off = disabled.record;
    assert_eq!(off, TwoFactorRecord::new());
    assert_eq!(
        off.verify_code(&fx.ctx(), &app.generate(T0 + 90).to_string(), T0 + 90)
            .outcome
            .err(),
        Some(Error::NotEnabled)
    );
    assert!(
        off.use_recovery_code(&fx.ctx(), codes.iter().next().unwrap(), T0 + 90)
            .outcome
            .is_err()
    );
    assert_eq!(
        off.check_device(&fx.ctx(), token.as_str(), T0 + 90).err(),
        Some(Error::InvalidDeviceToken)
    );
}

#[test]
fn device_tokens_fail_when_expired_revoked_foreign_or_after_re_enrolment() {
    let fx = Fixture::new();
    let (record, app, _) = enabled(&fx);
    let mut rng = twofa::os_rng();
    let now = T0 + 30;
    let signed_in = record.verify_code(&fx.ctx(), &app.generate(now).to_string(), now);
    let proof: SignedIn = signed_in.outcome.unwrap();
    let a = signed_in
        .record
        .trust_device(&fx.ctx(), &proof, Some("laptop"), &mut rng, now);
    let token_a = a.outcome.unwrap();
    let b = a
        .record
        .trust_device(&fx.ctx(), &proof, None, &mut rng, now);
    let token_b = b.outcome.unwrap();
    let record = b.record;
    assert!(!format!("{token_a:?}").contains(token_a.as_str()));
    assert_eq!(record.devices().len(), 2);

    // Valid, then expired at the end of its lifetime.
    let device = record
        .check_device(&fx.ctx(), token_a.as_str(), now + 10)
        .unwrap();
    assert_eq!(device.label(), Some("laptop"));
    let expiry = now + Settings::DEFAULT_DEVICE_LIFETIME;
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
    let revoked = record.revoke_device(token_a.device_id());
    assert!(
        revoked
            .record
            .check_device(&fx.ctx(), token_a.as_str(), now)
            .is_err()
    );
    assert!(
        revoked
            .record
            .check_device(&fx.ctx(), token_b.as_str(), now)
            .is_ok()
    );
    assert_eq!(
        revoked.record.revoke_device("nope").outcome.err(),
        Some(Error::InvalidDeviceToken)
    );
    // Revoke all.
    let all = revoked.record.revoke_all_devices();
    assert!(
        all.record
            .check_device(&fx.ctx(), token_b.as_str(), now)
            .is_err()
    );
    // A new enrolment revokes them too.
    let disabled = record.disable(
        &fx.ctx(),
        Reauthentication::Password(password(USER, now)),
        now,
    );
    let again = disabled
        .record
        .start_enrollment(&fx.ctx(), "alice", &mut rng, now);
    assert!(again.record.devices().is_empty());
}

#[test]
fn the_device_list_is_bounded_and_forgets_the_oldest() {
    let mut fx = Fixture::new();
    fx.settings = fx.settings.clone().max_devices(3).unwrap();
    let (mut record, app, _) = enabled(&fx);
    let mut rng = twofa::os_rng();
    let now = T0 + 30;
    let proof = record
        .verify_code(&fx.ctx(), &app.generate(now).to_string(), now)
        .outcome
        .unwrap();
    let mut tokens = Vec::new();
    for i in 0..5 {
        let t = record.trust_device(&fx.ctx(), &proof, None, &mut rng, now + i);
        tokens.push(t.outcome.unwrap());
        record = t.record;
    }
    assert_eq!(record.devices().len(), 3);
    assert!(
        record
            .check_device(&fx.ctx(), tokens[0].as_str(), now + 10)
            .is_err()
    );
    assert!(
        record
            .check_device(&fx.ctx(), tokens[1].as_str(), now + 10)
            .is_err()
    );
    assert!(
        record
            .check_device(&fx.ctx(), tokens[4].as_str(), now + 10)
            .is_ok()
    );
    assert_eq!(
        record
            .trust_device(&fx.ctx(), &proof, Some(&"x".repeat(101)), &mut rng, now)
            .outcome
            .err(),
        Some(Error::DeviceLabelTooLong)
    );
    // The sign-in proof must be this user's, and recent.
    let late = now + SignedIn::TRUST_WINDOW + 1;
    assert_eq!(
        record
            .trust_device(&fx.ctx(), &proof, None, &mut rng, late)
            .outcome
            .err(),
        Some(Error::ReauthenticationRequired)
    );
    assert_eq!(
        record
            .trust_device(&fx.ctx_for("user-7"), &proof, None, &mut rng, now)
            .outcome
            .err(),
        Some(Error::ReauthenticationRequired)
    );
}

#[test]
fn the_throttle_stops_a_brute_force_of_10000_guesses() {
    let fx = Fixture::new();
    let (mut record, app, _) = enabled(&fx);
    let policy = *fx.settings.throttle_policy();
    let mut now = T0 + 30;
    let mut evaluated = 0;
    let mut locked = false;
    // An attacker who tries every code in turn, as fast as the throttle lets them.
    for guess in 0..10_000u32 {
        let code = format!("{guess:06}");
        let attempt = record.verify_code(&fx.ctx(), &code, now);
        match attempt.outcome {
            Ok(_) => panic!("guess {guess} signed in"),
            Err(Error::Throttled { retry_at }) => {
                assert!(
                    !attempt.changed(),
                    "a throttled attempt must change nothing"
                );
                assert!(retry_at > now);
                now = retry_at;
            }
            Err(Error::LockedOut) => {
                locked = true;
                break;
            }
            Err(Error::InvalidCode | Error::ReplayedCode) => {
                evaluated += 1;
                now += 1;
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
        record = attempt.record;
    }
    assert!(locked, "the lockout never came");
    assert_eq!(evaluated, policy.lockout_threshold());
    assert!(record.is_locked_out());
    // Locked: even the right code is not evaluated, until the host unlocks.
    let right = app.generate(now).to_string();
    assert_eq!(
        record.verify_code(&fx.ctx(), &right, now).outcome.err(),
        Some(Error::LockedOut)
    );
    let unlocked = record.unlock().record;
    assert!(unlocked.verify_code(&fx.ctx(), &right, now).outcome.is_ok());
}

#[test]
fn the_right_code_passes_after_the_delay() {
    let fx = Fixture::new();
    let (mut record, app, codes) = enabled(&fx);
    let mut now = T0 + 30;
    let mut events = Vec::new();
    // Six failures, alternating wrong TOTP codes and wrong recovery codes: they count together.
    // The first five are free; from the fifth on, each one delays the next attempt.
    for i in 0..6 {
        let attempt = if i % 2 == 0 {
            record.verify_code(&fx.ctx(), &wrong_code(&app, now), now)
        } else {
            record.use_recovery_code(&fx.ctx(), "AAAAA-AAAAA", now)
        };
        assert!(attempt.outcome.is_err());
        assert!(attempt.changed());
        events.extend(attempt.events);
        record = attempt.record;
        if let Some(Event::Throttled { retry_at, .. }) = events.last() {
            now = *retry_at;
        }
    }
    assert_eq!(record.failures(), 6);
    assert!(events.contains(&Event::Throttled {
        failures: 5,
        retry_at: T0 + 30 + 1
    }));
    assert!(events.contains(&Event::Throttled {
        failures: 6,
        retry_at: T0 + 30 + 1 + 2
    }));
    let right = app.generate(now).to_string();
    assert_eq!(
        record.verify_code(&fx.ctx(), &right, now - 1).outcome.err(),
        Some(Error::Throttled { retry_at: now })
    );
    // A recovery code is refused while throttled too, without being used up.
    let blocked = record.use_recovery_code(&fx.ctx(), codes.iter().next().unwrap(), now - 1);
    assert!(matches!(blocked.outcome, Err(Error::Throttled { .. })));
    assert!(!blocked.changed());
    // Once the delay has passed, the right code goes through and the count is reset.
    let ok = record.verify_code(&fx.ctx(), &right, now);
    assert!(ok.outcome.is_ok());
    assert_eq!(ok.record.failures(), 0);
}

#[test]
fn a_sealed_secret_under_another_user_id_fails() {
    let fx = Fixture::new();
    let (record, app, _) = enabled(&fx);
    let code = app.generate(T0 + 30).to_string();
    let moved = record.verify_code(&fx.ctx_for("user-7"), &code, T0 + 30);
    assert!(
        matches!(moved.outcome, Err(Error::Seal(_))),
        "{:?}",
        moved.outcome
    );
    assert!(!moved.changed());
}

#[test]
fn key_rotation_reseals_the_record() {
    let mut fx = Fixture::new();
    let (record, app, _) = enabled(&fx);
    fx.sealer = Box::new(
        AesGcmSealer::new("k2", &[9; 32])
            .unwrap()
            .with_old_key("k1", &[7; 32])
            .unwrap(),
    );
    let resealed = record.reseal(&fx.ctx());
    assert_eq!(resealed.outcome, Ok(true));
    assert_eq!(resealed.events, [Event::SecretResealed]);
    assert_eq!(resealed.record.reseal(&fx.ctx()).outcome, Ok(false));
    // Only the new key is needed now.
    fx.sealer = Box::new(AesGcmSealer::new("k2", &[9; 32]).unwrap());
    let code = app.generate(T0 + 30).to_string();
    assert!(
        resealed
            .record
            .verify_code(&fx.ctx(), &code, T0 + 30)
            .outcome
            .is_ok()
    );
}

#[test]
fn throttle_policy_bounds() {
    assert_eq!(
        ThrottlePolicy::default().lockout_after(101).err(),
        Some(Error::InvalidThrottlePolicy)
    );
    assert!(ThrottlePolicy::default().lockout_after(100).is_ok());
}

#[test]
fn encoding_round_trips_every_state() {
    let fx = Fixture::new();
    let mut rng = twofa::os_rng();
    let pending = TwoFactorRecord::new()
        .start_enrollment(&fx.ctx(), "alice", &mut rng, T0)
        .record;
    let (on, app, _) = enabled(&fx);
    let proof = on
        .verify_code(&fx.ctx(), &app.generate(T0 + 30).to_string(), T0 + 30)
        .outcome
        .unwrap();
    let with_device = on
        .trust_device(&fx.ctx(), &proof, Some("Ünïcødé 📱"), &mut rng, T0 + 30)
        .record;
    let throttled = with_device
        .verify_code(&fx.ctx(), &wrong_code(&app, T0 + 40), T0 + 40)
        .record;
    for record in [TwoFactorRecord::new(), pending, on, with_device, throttled] {
        let text = record.encode();
        assert_eq!(TwoFactorRecord::decode(&text).unwrap(), record);
        assert_eq!(
            TwoFactorRecord::from_bytes(&record.to_bytes()).unwrap(),
            record
        );
    }
}

#[test]
fn decoding_refuses_truncated_tampered_and_unknown_input() {
    let fx = Fixture::new();
    let (record, _, _) = enabled(&fx);
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
    let mut newer = bytes.clone();
    newer[3] = 2;
    assert_eq!(
        TwoFactorRecord::from_bytes(&newer).err(),
        Some(Error::InvalidRecord(RecordError::UnknownVersion(2)))
    );
    assert_eq!(
        TwoFactorRecord::decode("hello").err(),
        Some(Error::InvalidRecord(RecordError::NotARecord))
    );
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(TwoFactorRecord::from_bytes(&longer).is_err());
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

/// Records written by this version, kept in `tests/data/`, must stay readable by every later
/// version. The record is built deterministically; set `TWOFA_WRITE_GOLDEN=1` to write the
/// file, which is done once per format version and never to make this test pass.
#[test]
fn golden_records_still_decode() {
    let sealer = DangerPlaintextSealer;
    let hasher = Pbkdf2Hasher::new().with_iterations(1_000).unwrap();
    let settings = Settings::new("Golden").unwrap();
    let ctx = Context::new(USER, &settings, &sealer, &hasher);
    let app = Totp::new(twofa::Secret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap());
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/account/enabled-v1.txt"
    );

    if std::env::var_os("TWOFA_WRITE_GOLDEN").is_some() {
        let mut rng = PredictableRng(0);
        let started = TwoFactorRecord::new().start_enrollment(&ctx, "golden", &mut rng, T0);
        let confirmed =
            started
                .record
                .confirm_enrollment(&ctx, &app.generate(T0).to_string(), &mut rng, T0);
        let codes = confirmed.outcome.unwrap();
        let proof = confirmed
            .record
            .use_recovery_code(&ctx, codes.iter().next().unwrap(), T0 + 1);
        let signed_in = proof.outcome.unwrap();
        let trusted =
            proof
                .record
                .trust_device(&ctx, &signed_in, Some("golden device"), &mut rng, T0 + 2);
        std::fs::create_dir_all(std::path::Path::new(path).parent().unwrap()).unwrap();
        std::fs::write(path, trusted.record.encode() + "\n").unwrap();
    }

    let text = std::fs::read_to_string(path).unwrap();
    let record = TwoFactorRecord::decode(text.trim()).unwrap();
    assert!(record.is_enabled());
    assert_eq!(record.status(), Status::Enabled { enabled_at: T0 });
    assert_eq!(record.recovery_codes_left(), Some(9));
    assert_eq!(record.devices().len(), 1);
    assert_eq!(record.devices()[0].label(), Some("golden device"));
    assert_eq!(
        record.devices()[0].expires_at(),
        T0 + 2 + Settings::DEFAULT_DEVICE_LIFETIME
    );
    // The stored secret still opens, and the confirming code is still a replay.
    let replay = record.verify_code(&ctx, &app.generate(T0).to_string(), T0);
    assert_eq!(replay.outcome.err(), Some(Error::ReplayedCode));
    let fresh = record.verify_code(&ctx, &app.generate(T0 + 30).to_string(), T0 + 30);
    assert!(fresh.outcome.is_ok());
    assert_eq!(record.encode(), text.trim());
}

proptest::proptest! {
    #[test]
    fn decoding_arbitrary_input_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
        let _ = TwoFactorRecord::from_bytes(&bytes);
        let mut framed = b"2FA\x01".to_vec();
        framed.extend_from_slice(&bytes);
        let _ = TwoFactorRecord::from_bytes(&framed);
    }

    #[test]
    fn decoding_arbitrary_text_never_panics(text in ".*") {
        let _ = TwoFactorRecord::decode(&text);
        let _ = TwoFactorRecord::decode(&format!("2fa1.{text}"));
    }
}

#[test]
fn a_lockout_also_blocks_the_password_proof() {
    let fx = Fixture::new();
    let (mut record, app, _) = enabled(&fx);
    let mut rng = twofa::os_rng();
    let mut now = T0 + 30;
    while !record.is_locked_out() {
        let attempt = record.verify_code(&fx.ctx(), &wrong_code(&app, now), now);
        if let Err(Error::Throttled { retry_at }) = attempt.outcome {
            now = retry_at;
        }
        record = attempt.record;
    }
    let proof = Reauthentication::Password(password(USER, now));
    assert_eq!(
        record.disable(&fx.ctx(), proof.clone(), now).outcome.err(),
        Some(Error::LockedOut)
    );
    assert_eq!(
        record
            .regenerate_recovery_codes(&fx.ctx(), proof, &mut rng, now)
            .outcome
            .err(),
        Some(Error::LockedOut)
    );
}

#[test]
fn events_only_for_what_happened() {
    let fx = Fixture::new();
    let (record, app, _) = enabled(&fx);
    assert!(record.unlock().events.is_empty());
    assert!(!record.unlock().changed());
    assert!(record.revoke_all_devices().events.is_empty());

    // Evicting the oldest device is reported as its revocation.
    let mut fx = fx;
    fx.settings = fx.settings.clone().max_devices(1).unwrap();
    let mut rng = twofa::os_rng();
    let now = T0 + 30;
    let proof = record
        .verify_code(&fx.ctx(), &app.generate(now).to_string(), now)
        .outcome
        .unwrap();
    let first = record.trust_device(&fx.ctx(), &proof, None, &mut rng, now);
    let first_id = first.outcome.as_ref().unwrap().device_id().to_owned();
    let second = first
        .record
        .trust_device(&fx.ctx(), &proof, None, &mut rng, now + 1);
    assert_eq!(second.events.len(), 2);
    assert_eq!(
        second.events[0],
        Event::DeviceRevoked {
            device_id: first_id
        }
    );
}

#[test]
fn debug_output_shows_no_code_or_secret() {
    let fx = Fixture::new();
    let (record, app, codes) = enabled(&fx);
    let code = app.generate(T0 + 30).to_string();
    let shown = format!("{:?}", Reauthentication::Code(&code));
    assert!(!shown.contains(&code), "{shown}");
    let shown = format!("{record:?} {codes:?}");
    assert!(!shown.contains(&*app.secret().to_base32()));
    for c in codes.iter() {
        assert!(!shown.contains(c));
    }
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
    assert_eq!(
        settings.clone().device_lifetime(0).err(),
        Some(Error::InvalidSetting {
            setting: "device_lifetime"
        })
    );
    assert!(settings.clone().max_devices(0).is_err());
    assert!(settings.clone().max_devices(51).is_err());
    assert!(settings.totp(twofa::Algorithm::Sha256, 8, 60).is_ok());
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
    let ctx = Context::new(USER, &fx.settings, &*fx.sealer, &peppered);
    let attempt = record.use_recovery_code(&ctx, codes.iter().next().unwrap(), T0 + 1);
    assert!(matches!(
        attempt.outcome,
        Err(Error::Recovery(RecoveryError::HasherMismatch))
    ));
    assert!(!attempt.changed());
}
