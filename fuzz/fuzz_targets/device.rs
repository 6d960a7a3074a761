//! Device tokens: `TwoFactorRecord::check_device` and `sign_in_with_device` on an enabled
//! record with trusted devices and failures not yet reported, with a fuzzed token (arbitrary
//! text, or a real token changed a little), time, user and device key.
//!
//! Properties: a token is accepted exactly when it is one of the issued tokens, for its own
//! user, before its expiry, checked with the device key it was issued under, on a record
//! whose devices are keyed, and then names that device — also while codes are locked out;
//! the same devices read as version 1 (unkeyed) devices never match, not even their own
//! tokens; without a device key every check is `InvalidSetting`; the check allocates nothing
//! (nor does refusing a token of any length). `sign_in_with_device` accepts and refuses the
//! same tokens with the same errors, leaving the record as it was when it refuses; when it
//! accepts, it signs in with `SignInMethod::TrustedDevice` at that time, reports the failures
//! not yet reported, once, and leaves the failure counts and devices as they were.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use twofa::account::{Context, DeviceKey, Settings, SignInMethod, TwoFactorRecord};
use twofa::seal::DangerPlaintextSealer;
use twofa::{Error, Pbkdf2Hasher, Totp};
use twofa_fuzz::{DEVICE_KEY, FuzzRng, USER, measured, reference_record, settle};

const T0: u64 = 1_700_000_000;

/// An enabled record with two trusted devices, and their tokens with expiry times, on which
/// two codes and a recovery code failed since; the same record with codes locked out; the
/// same record with its devices made version 1 (unkeyed) devices; settings with the right
/// key, another key and none.
struct Fixture {
    settings: Settings,
    other_key: Settings,
    no_key: Settings,
    hasher: Pbkdf2Hasher,
    record: TwoFactorRecord,
    locked: TwoFactorRecord,
    unkeyed: TwoFactorRecord,
    tokens: Vec<(String, u64, String)>,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let no_key = Settings::new("Fuzz").expect("a valid issuer");
    let settings = no_key
        .clone()
        .device_key(DeviceKey::from_bytes(&DEVICE_KEY).expect("32 bytes"));
    let other_key = no_key
        .clone()
        .device_key(DeviceKey::from_bytes(&[DEVICE_KEY[0] ^ 1; 32]).expect("32 bytes"));
    let hasher = Pbkdf2Hasher::new()
        .danger_with_iterations(1)
        .expect("valid");
    let (record, locked, tokens) = {
        let ctx = Context::new(USER, &settings, &DangerPlaintextSealer, &hasher).expect("valid");
        let mut rng = FuzzRng(1);
        let proof =
            twofa::account::PasswordConfirmed::check(&|_: &str, _: &str| true, USER, "pw", T0)
                .expect("passes");
        let new = TwoFactorRecord::new();
        let (started, outcome) = settle(
            new.start_enrollment(&ctx, Some(&proof), "fuzz", &mut rng, T0),
            &new,
        );
        let app: Totp = outcome
            .result
            .expect("starts")
            .uri()
            .to_totp()
            .expect("totp");
        let code = app.generate(T0).to_string();
        let (mut record, confirmed) = settle(
            started.confirm_enrollment(&ctx, &code, &mut rng, T0),
            &started,
        );
        assert!(confirmed.result.is_ok());
        let mut tokens = Vec::new();
        for (i, at) in [T0 + 30, T0 + 90].into_iter().enumerate() {
            let (signed_in, outcome) = settle(
                record.verify_code(&ctx, &app.generate(at).to_string(), at),
                &record,
            );
            let label = format!("device {i}");
            let (trusted, outcome) = settle(
                signed_in.trust_device(
                    &ctx,
                    &outcome.result.expect("signs in"),
                    Some(&label),
                    &mut rng,
                    at,
                ),
                &signed_in,
            );
            let token = outcome.result.expect("trusts");
            tokens.push((
                token.as_str().to_owned(),
                token.expires_at(),
                token.device_id().to_owned(),
            ));
            record = trusted;
        }
        // Failures after the last sign-in: the tokens' next sign-in reports them.
        let wrong = app.generate(0).to_string();
        for at in [T0 + 100, T0 + 101] {
            let (next, outcome) = settle(record.verify_code(&ctx, &wrong, at), &record);
            assert_eq!(outcome.result.err(), Some(Error::InvalidCode));
            record = next;
        }
        let (next, outcome) = settle(
            record.use_recovery_code(&ctx, "AAAAA-AAAAA", T0 + 102),
            &record,
        );
        assert!(outcome.result.is_err());
        record = next;
        assert_eq!(
            (
                record.failures(),
                record.recovery_code_failures(),
                record.unreported_failures()
            ),
            (2, 1, 3)
        );
        // Codes locked out: one failure every half hour, past every delay.
        let mut locked = record.clone();
        let mut at = T0 + 200;
        while !locked.is_locked_out(settings.throttle_policy(), at) {
            at += 1800;
            let (next, outcome) = settle(locked.verify_code(&ctx, &wrong, at), &locked);
            assert!(outcome.result.is_err());
            locked = next;
        }
        (record, locked, tokens)
    };
    let unkeyed = unkeyed(&record);
    assert_eq!(unkeyed.devices().len(), 2);
    Fixture {
        settings,
        other_key,
        no_key,
        hasher,
        record,
        locked,
        unkeyed,
        tokens,
    }
});

/// The record with each device's kind byte set to 0 (a version 1 device), as the reference
/// reader of the layout (`twofa_fuzz::record`) reads and writes it, check and all.
fn unkeyed(record: &TwoFactorRecord) -> TwoFactorRecord {
    let mut read = reference_record(&record.to_bytes()).expect("the reference reads the record");
    for device in &mut read.devices {
        assert!(device.keyed, "a keyed device");
        device.keyed = false;
    }
    TwoFactorRecord::from_bytes(&read.to_v4_bytes()).expect("the unkeyed record decodes")
}

#[derive(Arbitrary, Debug)]
struct Input {
    token: Token,
    now: u64,
    other_user: bool,
    check: Check,
}

/// Which settings and record the token is checked with.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Keyed,
    OtherKey,
    NoKey,
    Unkeyed,
    /// The keyed record with codes locked out.
    Locked,
}

#[derive(Arbitrary, Debug)]
enum Token {
    Raw(String),
    Issued {
        which: bool,
        change: Option<(u8, char)>,
        cut: Option<u8>,
        extra: Option<char>,
    },
    /// An issued token at a time near its expiry.
    AtExpiry {
        which: bool,
        delta: i8,
    },
}

fuzz_target!(|input: Input| {
    let f = &*FIXTURE;
    let user = if input.other_user { "user-43" } else { USER };
    let (settings, record) = match input.check {
        Check::Keyed => (&f.settings, &f.record),
        Check::OtherKey => (&f.other_key, &f.record),
        Check::NoKey => (&f.no_key, &f.record),
        Check::Unkeyed => (&f.settings, &f.unkeyed),
        Check::Locked => (&f.settings, &f.locked),
    };
    let ctx = Context::new(user, settings, &DangerPlaintextSealer, &f.hasher).expect("valid");
    let (token, now) = match &input.token {
        Token::Raw(text) => (text.clone(), input.now),
        Token::Issued {
            which,
            change,
            cut,
            extra,
        } => {
            let mut chars: Vec<char> = f.tokens[usize::from(*which)].0.chars().collect();
            if let Some((at, c)) = change {
                let at = usize::from(*at) % chars.len();
                chars[at] = *c;
            }
            if let Some(cut) = cut {
                chars.truncate(usize::from(*cut) % (chars.len() + 1));
            }
            chars.extend(extra);
            (chars.into_iter().collect(), input.now)
        }
        Token::AtExpiry { which, delta } => {
            let (token, expires_at, _) = &f.tokens[usize::from(*which)];
            (
                token.clone(),
                expires_at.saturating_add_signed(i64::from(*delta)),
            )
        }
    };

    let (got, info) = measured(|| record.check_device(&ctx, &token, now).map(|d| d.id()));
    let expected = if input.check == Check::NoKey {
        Err(Error::InvalidSetting {
            setting: "device_key",
        })
    } else {
        f.tokens
            .iter()
            .find(|(issued, expires_at, _)| {
                let keyed = matches!(input.check, Check::Keyed | Check::Locked);
                *issued == token && now < *expires_at && user == USER && keyed
            })
            .map(|(_, _, id)| id.clone())
            .ok_or(Error::InvalidDeviceToken)
    };
    assert_eq!(got, expected, "{token:?} at {now}, {:?}", input.check);
    // Only the device id of an accepted token (built above for the comparison) allocates.
    if got.is_err() {
        assert_eq!(info.count_total, 0, "checking a token allocated");
    }

    let (next, outcome) = settle(record.sign_in_with_device(&ctx, &token, now), record);
    match (outcome.result, &expected) {
        (Ok(signed_in), Ok(_)) => {
            assert_eq!(signed_in.method(), SignInMethod::TrustedDevice);
            assert_eq!(signed_in.at(), now);
            assert_eq!(signed_in.failed_attempts(), record.unreported_failures());
            assert!(record.unreported_failures() > 0, "the fixture has failures");
            assert_eq!(
                (
                    next.failures(),
                    next.recovery_code_failures(),
                    next.unreported_failures()
                ),
                (record.failures(), record.recovery_code_failures(), 0),
                "a sign-in on a device changed a failure count, or reported a failure twice"
            );
            assert_eq!(next.devices(), record.devices());
            assert_eq!(
                next.is_locked_out(settings.throttle_policy(), now),
                record.is_locked_out(settings.throttle_policy(), now)
            );
            let (_, again) = settle(next.sign_in_with_device(&ctx, &token, now), &next);
            assert_eq!(again.result.map(|s| s.failed_attempts()), Ok(0));
        }
        (Err(error), Err(expected)) => {
            assert_eq!(&error, expected, "sign_in_with_device refused otherwise");
            assert_eq!(&next, record, "a refused device changed the record");
        }
        (result, expected) => {
            panic!("sign_in_with_device: {result:?}, check_device: {expected:?}")
        }
    }
});
