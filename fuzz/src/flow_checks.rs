//! What each flow must do on any decoded record: the properties [`check_decoded_record`]
//! checks after the encoding, every next record settled by [`settle`].
//!
//! [`check_decoded_record`]: crate::check_decoded_record

use twofa::account::{
    Context, DeviceKey, PasswordConfirmed, Reauthentication, Settings, SignInMethod, SignedIn,
    Status, TwoFactorRecord,
};
use twofa::seal::DangerPlaintextSealer;
use twofa::{Error, Pbkdf2Hasher, Secret, Totp};

use crate::{
    DEVICE_KEY, FuzzRng, ReferenceRecord, ReferenceThrottle, USER, reference_record, settle,
};

/// Runs every flow on `record` (which the reference read as `reference`) at a few times:
/// [`check_flows_at`] with inputs that fail, [`check_sign_in_at`] behind a correct code.
pub(crate) fn check_flows(record: &TwoFactorRecord, reference: &ReferenceRecord) {
    let fixture = Fixture::new();
    for now in [0, 1_700_000_000, u64::MAX] {
        check_flows_at(record, reference, &fixture, now);
    }
    for now in [0, 1_700_000_030, u64::MAX] {
        check_sign_in_at(record, &fixture, now);
    }
}

/// The settings (the defaults, and [`DEVICE_KEY`]), sealer and hasher every record target's
/// flows run with.
struct Fixture {
    settings: Settings,
    sealer: DangerPlaintextSealer,
    hasher: Pbkdf2Hasher,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            settings: Settings::new("Fuzz")
                .expect("a valid issuer")
                .device_key(DeviceKey::from_bytes(&DEVICE_KEY).expect("32 bytes")),
            sealer: DangerPlaintextSealer::new(),
            hasher: Pbkdf2Hasher::new()
                .danger_with_iterations(1)
                .expect("one iteration is allowed"),
        }
    }

    /// The context of [`USER`].
    fn ctx(&self) -> Context<'_> {
        self.ctx_of(USER)
    }

    fn ctx_of<'a>(&'a self, user: &'a str) -> Context<'a> {
        Context::new(user, &self.settings, &self.sealer, &self.hasher).expect("a valid user id")
    }
}

/// The flows on any record, at `now`, with inputs that fail (or, for a fuzzed secret, may
/// happen to pass):
///
/// - a lockout holds only where the record says it is locked; a code is refused during a
///   lockout of codes, a recovery code during a lockout of recovery codes and only then (a
///   lockout of codes leaves the owner their recovery codes);
/// - a wrong code counts against codes only, a wrong recovery code against recovery codes
///   only, each as one failure to report (see [`check_code_attempt`],
///   [`check_recovery_attempt`]); a malformed recovery code never signs in;
/// - text that is no token is refused by `check_device` and `sign_in_with_device` alike, and
///   leaves the record as it was;
/// - revoking all devices leaves none, revoked no earlier than `now`; revoking one removes it;
/// - `unlock` clears both counts and both lockouts, and keeps the failures to report;
/// - only a pending enrolment can be cancelled, and is; enrolment needs a password proof.
fn check_flows_at(
    record: &TwoFactorRecord,
    reference: &ReferenceRecord,
    fixture: &Fixture,
    now: u64,
) {
    let ctx = fixture.ctx();
    let policy = fixture.settings.throttle_policy();
    let recovery_policy = fixture.settings.recovery_code_throttle_policy();
    let _ = record.status();
    let codes_locked = record.is_locked_out(policy, now);
    let recovery_locked = record.is_recovery_locked_out(recovery_policy, now);
    assert!(
        !codes_locked || reference.codes.locked,
        "locked out, not locked"
    );
    assert!(
        !recovery_locked || reference.recovery_codes.locked,
        "recovery codes locked out, not locked"
    );

    let (after_code, verified) = settle(record.verify_code(&ctx, "123456", now), record);
    check_code_attempt(record, &after_code, &verified.result);
    let (after_recovery, recovered) =
        settle(record.use_recovery_code(&ctx, "not a code", now), record);
    assert!(
        recovered.result.is_err(),
        "a malformed recovery code signed in"
    );
    check_recovery_attempt(record, &after_recovery, &recovered.result);
    if record.is_enabled() {
        if codes_locked {
            assert_eq!(verified.result.err(), Some(Error::LockedOut));
        }
        assert_eq!(
            recovered.result.err() == Some(Error::LockedOut),
            recovery_locked,
            "a recovery code refused as locked out other than by the recovery codes' own lockout"
        );
    } else {
        assert_eq!(verified.result.err(), Some(Error::NotEnabled));
        assert_eq!(recovered.result.err(), Some(Error::NotEnabled));
    }

    assert_eq!(
        record.check_device(&ctx, "not a token", now).err(),
        Some(Error::InvalidDeviceToken)
    );
    let (after_device, device) =
        settle(record.sign_in_with_device(&ctx, "not a token", now), record);
    assert_eq!(device.result.err(), Some(Error::InvalidDeviceToken));
    assert_eq!(&after_device, record);

    let (next, _) = settle(record.revoke_all_devices(now), record);
    assert!(next.devices().is_empty());
    assert!(next.devices_revoked_at().is_some_and(|at| at >= now));
    let (unlocked, outcome) = settle(record.unlock(), record);
    assert_eq!(outcome.result, Ok(()));
    assert_eq!(
        counts(&unlocked),
        (0, 0, record.unreported_failures()),
        "unlock left a count, or forgot failures still to report"
    );
    assert!(!unlocked.is_locked_out(policy, now));
    assert!(!unlocked.is_recovery_locked_out(recovery_policy, now));
    let (cancelled, outcome) = settle(record.cancel_enrollment(), record);
    let pending = matches!(record.status(), Status::Pending { .. });
    assert_eq!(outcome.result.is_ok(), pending);
    if pending {
        assert_eq!(cancelled.status(), Status::Disabled);
    }
    let _ = settle(record.reseal(&ctx), record).1.result;
    for device in record.devices() {
        let (next, outcome) = settle(record.revoke_device(&device.id()), record);
        assert_eq!(outcome.result, Ok(()));
        assert!(next.devices().iter().all(|d| d.id() != device.id()));
    }
    // Enrolment without a proof is refused, as the settings ask for one.
    let mut rng = FuzzRng(now);
    let (_, outcome) = settle(
        record.start_enrollment(&ctx, None, "fuzz", &mut rng, now),
        record,
    );
    let expected = if record.is_enabled() {
        Error::AlreadyEnabled
    } else {
        Error::ReauthenticationRequired
    };
    assert_eq!(outcome.result.err(), Some(expected));
}

/// The flows behind a correct code, at `now`, with the secret of the seed records (the
/// RFC 6238 seed), so that fuzzed records sealed for [`USER`] by the plaintext sealer reach
/// them:
///
/// - enrolment with a fresh proof starts unless 2FA is on; a confirmed enrolment has as many
///   recovery codes as it showed, and one of them signs in, reporting the failures not yet
///   reported;
/// - a code signs in, reporting the failures not yet reported, and clears every count; that
///   sign-in steps up to disable 2FA exactly when it came after 2FA was enabled and after the
///   last revocation of all devices;
/// - it trusts a device for its own user only, whose token signs in on the device
///   (see [`check_device_sign_in`]);
/// - disabling leaves a blank record but for the revocation time, now or later.
fn check_sign_in_at(record: &TwoFactorRecord, fixture: &Fixture, now: u64) {
    let ctx = fixture.ctx();
    let other = fixture.ctx_of("user-43");
    let app = Totp::new(Secret::from_bytes(b"12345678901234567890").expect("20 bytes"));
    let mut rng = FuzzRng(now);
    let code = app.generate(now).to_string();
    let proof = PasswordConfirmed::check(&|_: &str, _: &str| true, USER, "pw", now)
        .expect("the check passes");
    let (started, outcome) = settle(
        record.start_enrollment(&ctx, Some(&proof), "fuzz", &mut rng, now),
        record,
    );
    if outcome.result.is_ok() {
        assert_eq!(started.status(), Status::Pending { started_at: now });
    } else if !record.is_enabled() {
        panic!(
            "enrolment with a fresh proof failed: {:?}",
            outcome.result.err()
        );
    }
    let (confirmed, outcome) = settle(
        record.confirm_enrollment(&ctx, &code, &mut rng, now),
        record,
    );
    if let Ok(codes) = &outcome.result {
        assert_eq!(confirmed.status(), Status::Enabled { enabled_at: now });
        assert_eq!(confirmed.recovery_codes_left(), Some(codes.len()));
        let first = codes.iter().next().expect("at least one code");
        let (used, outcome) = settle(confirmed.use_recovery_code(&ctx, first, now), &confirmed);
        let signed_in = outcome.result.expect("a new recovery code signs in");
        assert_eq!(
            signed_in.method(),
            SignInMethod::RecoveryCode {
                remaining: codes.len() - 1
            }
        );
        assert_eq!(signed_in.failed_attempts(), confirmed.unreported_failures());
        assert_eq!(counts(&used), (0, 0, 0));
    }

    let (signed_in_record, outcome) = settle(record.verify_code(&ctx, &code, now), record);
    check_code_attempt(record, &signed_in_record, &outcome.result);
    if let Ok(signed_in) = &outcome.result {
        // A sign-in with the factor is a step-up, if it came after 2FA was enabled and after
        // every device was last revoked.
        let since_enabled = match signed_in_record.status() {
            Status::Enabled { enabled_at } => now >= enabled_at,
            other => panic!("signed in on a record {other:?}"),
        };
        let since_revoked = signed_in_record
            .devices_revoked_at()
            .is_none_or(|at| now > at);
        let (stepped_up, outcome) = settle(
            signed_in_record.disable(&ctx, Reauthentication::SecondFactor(signed_in.clone()), now),
            &signed_in_record,
        );
        assert_eq!(
            outcome.result.is_ok(),
            since_enabled && since_revoked,
            "a step-up from a sign-in at {now}: {:?}",
            outcome.result
        );
        if outcome.result.is_ok() {
            check_disabled(&signed_in_record, &stepped_up, now);
        }

        let (trusted_record, trusted) = settle(
            signed_in_record.trust_device(&ctx, signed_in, Some("fuzz"), &mut rng, now),
            &signed_in_record,
        );
        // Another user's sign-in trusts nothing.
        let (_, foreign) = settle(
            signed_in_record.trust_device(&other, signed_in, None, &mut rng, now),
            &signed_in_record,
        );
        assert_eq!(foreign.result.err(), Some(Error::ReauthenticationRequired));
        // A device trusted within its lifetime of u64::MAX is expired at once.
        if let Some(token) = trusted
            .result
            .as_ref()
            .ok()
            .filter(|t| t.expires_at() > now)
        {
            let device = trusted_record.check_device(&ctx, token.as_str(), now);
            assert_eq!(device.map(|d| d.id()), Ok(token.device_id().to_owned()));
            check_device_sign_in(&trusted_record, fixture, token.as_str(), &code, now);
        }
    }
    let (next, disabled) = settle(
        record.disable(&ctx, Reauthentication::Password(proof), now),
        record,
    );
    if disabled.result.is_ok() {
        check_disabled(record, &next, now);
    }
}

/// A device just trusted (on `record`, right after a sign-in with `code` at `now`) signs in
/// with its `token` for its own user only: without failures to report it changes nothing;
/// after the code is replayed (a failure) it reports that failure once, and leaves the
/// failure counts as they are. A sign-in on a device is no proof to trust a device or to
/// re-authenticate.
fn check_device_sign_in(
    record: &TwoFactorRecord,
    fixture: &Fixture,
    token: &str,
    code: &str,
    now: u64,
) {
    let ctx = fixture.ctx();
    let other = fixture.ctx_of("user-43");
    assert_eq!(
        record.check_device(&other, token, now).map(|d| d.id()),
        Err(Error::InvalidDeviceToken),
        "a token worked for another user"
    );
    let (next, outcome) = settle(record.sign_in_with_device(&other, token, now), record);
    assert_eq!(outcome.result.err(), Some(Error::InvalidDeviceToken));
    assert_eq!(&next, record);

    let (next, outcome) = settle(record.sign_in_with_device(&ctx, token, now), record);
    let on_device = outcome.result.expect("a trusted device signs in");
    assert_eq!(on_device.method(), SignInMethod::TrustedDevice);
    assert_eq!((on_device.at(), on_device.failed_attempts()), (now, 0));
    assert_eq!(&next, record, "nothing to report, yet the record changed");

    let (failed, replayed) = settle(record.verify_code(&ctx, code, now), record);
    assert_eq!(replayed.result.as_ref().err(), Some(&Error::ReplayedCode));
    check_code_attempt(record, &failed, &replayed.result);
    assert_eq!(
        failed.unreported_failures(),
        record.unreported_failures(),
        "a replay is reported by its own event, not again at the next sign-in"
    );
    let (reported, outcome) = settle(failed.sign_in_with_device(&ctx, token, now), &failed);
    let signed_in = outcome.result.expect("a trusted device signs in");
    assert_eq!(signed_in.method(), SignInMethod::TrustedDevice);
    assert_eq!(signed_in.failed_attempts(), failed.unreported_failures());
    assert_eq!(
        counts(&reported),
        (failed.failures(), failed.recovery_code_failures(), 0),
        "a sign-in on a device changed a failure count, or reported a failure twice"
    );
    let (again, outcome) = settle(reported.sign_in_with_device(&ctx, token, now), &reported);
    assert_eq!(outcome.result.map(|s| s.failed_attempts()), Ok(0));
    assert_eq!(again, reported);

    let mut rng = FuzzRng(now ^ 1);
    let (_, outcome) = settle(
        record.trust_device(&ctx, &on_device, None, &mut rng, now),
        record,
    );
    assert_eq!(outcome.result.err(), Some(Error::ReauthenticationRequired));
    let (_, outcome) = settle(
        record.disable(&ctx, Reauthentication::SecondFactor(on_device), now),
        record,
    );
    assert_eq!(outcome.result.err(), Some(Error::ReauthenticationRequired));
}

/// A code tried on `before` left `after` with `result`: a sign-in reports the failures not
/// yet reported and clears every count; a failure counts against codes only, as one failure
/// to report, or changes nothing (a throttled attempt, a lockout).
fn check_code_attempt(
    before: &TwoFactorRecord,
    after: &TwoFactorRecord,
    result: &Result<SignedIn, Error>,
) {
    match result {
        Ok(signed_in) => {
            assert!(matches!(signed_in.method(), SignInMethod::Code { .. }));
            assert_eq!(signed_in.failed_attempts(), before.unreported_failures());
            assert_eq!(counts(after), (0, 0, 0), "a sign-in left a count");
        }
        Err(error) => {
            assert_eq!(
                throttles(after).1,
                throttles(before).1,
                "a failed code changed the recovery codes' throttle"
            );
            if after != before {
                // A replay is reported at once by its own event, not at the next sign-in.
                let to_report = u32::from(*error != Error::ReplayedCode);
                assert_eq!(
                    (after.failures(), after.unreported_failures()),
                    (
                        before.failures().saturating_add(1),
                        before.unreported_failures().saturating_add(to_report)
                    ),
                    "a failed code did not count once"
                );
            }
        }
    }
}

/// As [`check_code_attempt`], for a recovery code that did not sign in: it counts against
/// recovery codes only, as one failure to report, or changes nothing.
fn check_recovery_attempt(
    before: &TwoFactorRecord,
    after: &TwoFactorRecord,
    result: &Result<SignedIn, Error>,
) {
    assert!(result.is_err());
    assert_eq!(
        throttles(after).0,
        throttles(before).0,
        "a failed recovery code changed the codes' throttle"
    );
    if after != before {
        assert_eq!(
            (after.recovery_code_failures(), after.unreported_failures()),
            (
                before.recovery_code_failures().saturating_add(1),
                before.unreported_failures().saturating_add(1)
            ),
            "a failed recovery code did not count once"
        );
    }
}

/// Turning 2FA off at `now` made `after` of `before`: the reference's blank record but for
/// the time every device was last revoked, `now` or the later time `before` held.
fn check_disabled(before: &TwoFactorRecord, after: &TwoFactorRecord, now: u64) {
    let revoked_at = before.devices_revoked_at().map_or(now, |at| at.max(now));
    assert_eq!(
        after.to_bytes(),
        ReferenceRecord::disabled_with(Some(revoked_at)).to_v4_bytes(),
        "disable left more than the revocation time, or moved it back"
    );
}

/// The failure counts: codes, recovery codes, and not yet reported.
pub(crate) fn counts(record: &TwoFactorRecord) -> (u32, u32, u32) {
    (
        record.failures(),
        record.recovery_code_failures(),
        record.unreported_failures(),
    )
}

/// Both throttles as stored (failures, the last one's time, locked), read by the reference.
fn throttles(record: &TwoFactorRecord) -> (ReferenceThrottle, ReferenceThrottle) {
    let read = reference_record(&record.to_bytes()).expect("the reference reads the record");
    (read.codes, read.recovery_codes)
}
