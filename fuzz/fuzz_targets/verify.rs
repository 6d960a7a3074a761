//! Code verification input: `Totp::verify`, `Totp::verify_after` and `Hotp::verify` with
//! fuzzed codes, times, settings and replay guards.
//!
//! Properties: each result is the one a plain reference gives (strip ASCII spaces, require
//! exactly `digits` ASCII digits within 64 bytes, compare with the code of every step in the
//! window; the latest fresh TOTP step wins, the lowest HOTP counter wins; a match only at or
//! before the last accepted step is a replay); a bad configuration is an error, not a panic;
//! verifying allocates nothing.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use twofa::{Algorithm, Code, Error, Hotp, Secret, Totp, Verified};
use twofa_fuzz::measured;

#[derive(Arbitrary, Debug)]
struct Input {
    secret: Vec<u8>,
    algorithm: u8,
    digits: u8,
    period: u64,
    t0: u64,
    back: u8,
    forward: u8,
    time: u64,
    last_accepted: Option<u64>,
    code: Typed,
    counter: u64,
    look_ahead: u8,
}

/// A code: arbitrary text, or the right code of a nearby step with spaces put in and
/// perhaps one character changed, so that the fuzzer reaches the matching paths.
#[derive(Arbitrary, Debug)]
enum Typed {
    Raw(String),
    Near {
        delta: i8,
        spaces: Vec<u8>,
        change: Option<(u8, char)>,
    },
}

fuzz_target!(|input: Input| {
    let secret = match Secret::from_legacy_bytes(&input.secret) {
        Ok(secret) => secret,
        Err(_) => Secret::from_bytes(b"12345678901234567890").expect("20 bytes"),
    };
    let algorithm = match input.algorithm % 3 {
        0 => Algorithm::Sha1,
        1 => Algorithm::Sha256,
        _ => Algorithm::Sha512,
    };
    let digits = u32::from(input.digits % 10);
    let (back, forward) = (u32::from(input.back % 12), u32::from(input.forward % 12));
    let period = input.period % 200;
    let built = Totp::builder(secret.clone())
        .algorithm(algorithm)
        .digits(digits)
        .period(period)
        .t0(input.t0)
        .window(back, forward)
        .build();
    let totp = match built {
        Ok(totp) => totp,
        Err(error) => {
            let expected = if !(6..=8).contains(&digits) {
                Error::InvalidDigits { digits }
            } else if period == 0 {
                Error::InvalidPeriod
            } else {
                assert!(back.max(forward) > Totp::MAX_WINDOW);
                return assert!(matches!(error, Error::WindowTooLarge { .. }), "{error:?}");
            };
            return assert_eq!(error, expected);
        }
    };

    check_totp(&totp, &input);
    let hotp = Hotp::builder(secret)
        .algorithm(algorithm)
        .digits(digits)
        .build()
        .expect("the TOTP settings were valid");
    check_hotp(&hotp, &input);
});

fn check_totp(totp: &Totp, input: &Input) {
    let current = totp.step_at(input.time);
    let near = current
        .clone()
        .unwrap_or(0)
        .saturating_add_signed(input.code.delta());
    let code = input.code.text(&totp.generate_at_step(near));
    let (got, info) = measured(|| totp.verify_after(&code, input.time, input.last_accepted));
    assert_eq!(info.count_total, 0, "verify allocated");
    let (plain, info) = measured(|| totp.verify(&code, input.time));
    assert_eq!(info.count_total, 0, "verify allocated");

    let Ok(current) = current else {
        assert!(input.time < totp.t0());
        assert_eq!(got, Err(Error::TimeBeforeEpoch));
        return assert_eq!(plain, Err(Error::TimeBeforeEpoch));
    };
    let (back, forward) = totp.window();
    let steps =
        current.saturating_sub(u64::from(back))..=current.saturating_add(u64::from(forward));
    let typed = well_formed(&code, totp.digits());
    let matching: Vec<u64> = steps
        .filter(|&step| typed.as_deref() == Some(totp.generate_at_step(step).as_str()))
        .collect();
    let expected = |last: Option<u64>| {
        let fresh = matching
            .iter()
            .copied()
            .filter(|&s| last.is_none_or(|a| s > a))
            .max();
        match (fresh, matching.is_empty()) {
            (Some(step), _) => Ok(Parts {
                step,
                offset: (i128::from(step) - i128::from(current)) as i64,
            }),
            (None, false) => Err(Error::ReplayedCode),
            (None, true) => Err(Error::InvalidCode),
        }
    };
    assert_eq!(
        got.map(Parts::of),
        expected(input.last_accepted),
        "{code:?}"
    );
    assert_eq!(plain.map(Parts::of), expected(None), "{code:?}");

    // The code of the current step always verifies when nothing was accepted yet.
    let now = totp.generate(input.time);
    assert!(totp.verify(now.as_str(), input.time).is_ok());
}

fn check_hotp(hotp: &Hotp, input: &Input) {
    let look_ahead = u32::from(input.look_ahead % 128);
    let near = input.counter.saturating_add_signed(input.code.delta());
    let code = input.code.text(&hotp.generate(near));
    let (got, info) = measured(|| hotp.verify(&code, input.counter, look_ahead));
    assert_eq!(info.count_total, 0, "verify allocated");
    if look_ahead > Hotp::MAX_LOOK_AHEAD {
        return assert!(matches!(got, Err(Error::WindowTooLarge { .. })), "{got:?}");
    }
    let typed = well_formed(&code, hotp.digits());
    let expected = (input.counter..=input.counter.saturating_add(u64::from(look_ahead)))
        .find(|&c| typed.as_deref() == Some(hotp.generate(c).as_str()))
        .ok_or(Error::InvalidCode);
    assert_eq!(got, expected, "{code:?}");
}

/// The code with ASCII spaces removed, if it is exactly `digits` ASCII digits and the input
/// is at most 64 bytes.
fn well_formed(code: &str, digits: u32) -> Option<String> {
    let stripped: String = code.chars().filter(|&c| c != ' ').collect();
    let ok = code.len() <= 64
        && stripped.len() == digits as usize
        && stripped.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(stripped)
}

impl Typed {
    fn delta(&self) -> i64 {
        match self {
            Typed::Raw(_) => 0,
            Typed::Near { delta, .. } => i64::from(*delta % 13),
        }
    }

    fn text(&self, right: &Code) -> String {
        match self {
            Typed::Raw(text) => text.clone(),
            Typed::Near { spaces, change, .. } => {
                let mut text: Vec<char> = right.as_str().chars().collect();
                if let Some((at, c)) = change {
                    let at = usize::from(*at) % text.len();
                    text[at] = *c;
                }
                for &at in spaces.iter().take(70) {
                    let at = usize::from(at) % (text.len() + 1);
                    text.insert(at, ' ');
                }
                text.into_iter().collect()
            }
        }
    }
}

/// `Verified` is `#[non_exhaustive]`: compare its public fields.
#[derive(Debug, PartialEq, Eq)]
struct Parts {
    step: u64,
    offset: i64,
}

impl Parts {
    fn of(v: Verified) -> Parts {
        Parts {
            step: v.step,
            offset: v.offset,
        }
    }
}
