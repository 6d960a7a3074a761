//! Device-token checking: `TwoFactorRecord::check_device` on an enabled record with trusted
//! devices, with a fuzzed token (arbitrary text, or a real token changed a little) and time.
//!
//! Properties: a token is accepted exactly when it is one of the issued tokens, for its own
//! user, before its expiry, and then names that device; the check allocates nothing (nor
//! does refusing a token of any length).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use twofa::account::{Context, Settings, TwoFactorRecord};
use twofa::{DangerPlaintextSealer, Error, Pbkdf2Hasher, Totp};
use twofa_fuzz::{FuzzRng, USER, measured};

const T0: u64 = 1_700_000_000;

/// An enabled record with two trusted devices, and their tokens with expiry times.
struct Fixture {
    settings: Settings,
    hasher: Pbkdf2Hasher,
    record: TwoFactorRecord,
    tokens: Vec<(String, u64, String)>,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let settings = Settings::new("Fuzz").expect("a valid issuer");
    let hasher = Pbkdf2Hasher::new()
        .danger_with_iterations(1)
        .expect("valid");
    let (record, tokens) = {
        let ctx = Context::new(USER, &settings, &DangerPlaintextSealer, &hasher);
        let mut rng = FuzzRng(1);
        let started = TwoFactorRecord::new().start_enrollment(&ctx, "fuzz", &mut rng, T0);
        let app: Totp = started
            .outcome
            .expect("starts")
            .uri()
            .to_totp()
            .expect("totp");
        let confirmed =
            started
                .record
                .confirm_enrollment(&ctx, &app.generate(T0).to_string(), &mut rng, T0);
        assert!(confirmed.outcome.is_ok());
        let mut record = confirmed.record;
        let mut tokens = Vec::new();
        for (i, at) in [T0 + 30, T0 + 90].into_iter().enumerate() {
            let signed_in = record.verify_code(&ctx, &app.generate(at).to_string(), at);
            let label = format!("device {i}");
            let trusted = signed_in.record.trust_device(
                &ctx,
                &signed_in.outcome.expect("signs in"),
                Some(&label),
                &mut rng,
                at,
            );
            let token = trusted.outcome.expect("trusts");
            tokens.push((
                token.as_str().to_owned(),
                token.expires_at(),
                token.device_id().to_owned(),
            ));
            record = trusted.record;
        }
        (record, tokens)
    };
    Fixture {
        settings,
        hasher,
        record,
        tokens,
    }
});

#[derive(Arbitrary, Debug)]
struct Input {
    token: Token,
    now: u64,
    other_user: bool,
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
    let ctx = Context::new(user, &f.settings, &DangerPlaintextSealer, &f.hasher);
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

    let (got, info) = measured(|| f.record.check_device(&ctx, &token, now).map(|d| d.id()));
    let expected = f
        .tokens
        .iter()
        .find(|(issued, expires_at, _)| *issued == token && now < *expires_at && user == USER)
        .map(|(_, _, id)| id.clone())
        .ok_or(Error::InvalidDeviceToken);
    assert_eq!(got, expected, "{token:?} at {now}");
    // Only the device id of an accepted token (built above for the comparison) allocates.
    if got.is_err() {
        assert_eq!(info.count_total, 0, "checking a token allocated");
    }
});
