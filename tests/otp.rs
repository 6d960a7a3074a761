//! The OTP layer through its public API: RFC vectors, independent oracles, properties and
//! configuration errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod common;

use std::process::Command;

use proptest::prelude::*;
use twofa::{Algorithm, Error, Hotp, Secret, Totp};

const SEED_20: &[u8] = b"12345678901234567890";
const SEED_32: &[u8] = b"12345678901234567890123456789012";
const SEED_64: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

#[test]
fn rfc4226_appendix_d() {
    let hotp = Hotp::new(Secret::from_bytes(SEED_20).unwrap());
    let expected = [
        "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
        "520489",
    ];
    for (counter, code) in expected.iter().enumerate() {
        assert_eq!(
            hotp.generate(counter as u64).as_str(),
            *code,
            "counter {counter}"
        );
        assert_eq!(hotp.verify(code, counter as u64, 0), Ok(counter as u64));
    }
}

#[test]
fn rfc6238_appendix_b() {
    let table: [(u64, &str, &str, &str); 6] = [
        (59, "94287082", "46119246", "90693936"),
        (1_111_111_109, "07081804", "68084774", "25091201"),
        (1_111_111_111, "14050471", "67062674", "99943326"),
        (1_234_567_890, "89005924", "91819424", "93441116"),
        (2_000_000_000, "69279037", "90698825", "38618901"),
        (20_000_000_000, "65353130", "77737706", "47863826"),
    ];
    let totp = |seed: &[u8], algorithm| {
        Totp::builder(Secret::from_bytes(seed).unwrap())
            .algorithm(algorithm)
            .digits(8)
            .build()
            .unwrap()
    };
    let sha1 = totp(SEED_20, Algorithm::Sha1);
    let sha256 = totp(SEED_32, Algorithm::Sha256);
    let sha512 = totp(SEED_64, Algorithm::Sha512);
    for (time, c1, c256, c512) in table {
        for (t, code) in [(&sha1, c1), (&sha256, c256), (&sha512, c512)] {
            assert_eq!(
                t.generate(time).as_str(),
                code,
                "{:?} at {time}",
                t.algorithm()
            );
            let matched = t.verify(code, time).unwrap();
            assert_eq!((matched.step, matched.offset), (time / 30, 0));
        }
    }
}

#[test]
fn hotp_look_ahead_resynchronises() {
    let hotp = Hotp::new(Secret::from_bytes(SEED_20).unwrap());
    // "520489" is counter 9: found from 5 with a look-ahead of 4, not of 3.
    assert_eq!(hotp.verify("520489", 5, 4), Ok(9));
    assert_eq!(hotp.verify("520489", 5, 3), Err(Error::InvalidCode));
    // Counters already passed do not verify.
    assert_eq!(hotp.verify("755224", 1, 20), Err(Error::InvalidCode));
    assert_eq!(
        hotp.verify("755224", 0, Hotp::MAX_LOOK_AHEAD + 1),
        Err(Error::WindowTooLarge {
            requested: Hotp::MAX_LOOK_AHEAD + 1,
            max: Hotp::MAX_LOOK_AHEAD
        })
    );
    // The end of the counter space does not overflow.
    let last = hotp.generate(u64::MAX).to_string();
    assert_eq!(hotp.verify(&last, u64::MAX - 2, 10), Ok(u64::MAX));
}

#[test]
fn bad_configuration_is_a_typed_error() {
    let secret = || Secret::from_bytes(SEED_20).unwrap();
    for digits in [0, 5, 9, 10, u32::MAX] {
        assert_eq!(
            Totp::builder(secret()).digits(digits).build().err(),
            Some(Error::InvalidDigits { digits })
        );
        assert_eq!(
            Hotp::builder(secret()).digits(digits).build().err(),
            Some(Error::InvalidDigits { digits })
        );
    }
    assert_eq!(
        Totp::builder(secret()).period(0).build().err(),
        Some(Error::InvalidPeriod)
    );
    let over = Totp::MAX_WINDOW + 1;
    let too_wide = Some(Error::WindowTooLarge {
        requested: over,
        max: Totp::MAX_WINDOW,
    });
    assert_eq!(
        Totp::builder(secret()).window(over, 1).build().err(),
        too_wide
    );
    assert_eq!(
        Totp::builder(secret()).window(0, over).build().err(),
        too_wide
    );
    assert!(
        Totp::builder(secret())
            .window(Totp::MAX_WINDOW, Totp::MAX_WINDOW)
            .period(1)
            .build()
            .is_ok()
    );
    assert_eq!(
        Secret::from_bytes(&[1; 10]),
        Err(Error::SecretTooShort { len: 10, min: 16 })
    );
    assert_eq!(
        Secret::from_legacy_bytes(&[1; 5]),
        Err(Error::SecretTooShort { len: 5, min: 10 })
    );
}

/// `generate_now` and `verify_now` read the system clock: the code is the one of the time
/// read just before or just after, it verifies once, and the same step is then a replay.
#[test]
fn the_now_variants_read_the_system_clock() {
    let unix = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let totp = Totp::new(Secret::from_bytes(SEED_20).unwrap());
    let before = unix();
    let code = totp.generate_now().unwrap();
    let after = unix();
    assert!(code == totp.generate(before) || code == totp.generate(after));
    let matched = totp.verify_now(code.as_str(), None).unwrap();
    let steps = totp.step_at(before).unwrap()..=totp.step_at(unix()).unwrap();
    assert!(steps.contains(&matched.step), "{matched:?}");
    assert_eq!(
        totp.verify_now(code.as_str(), Some(matched.step)),
        Err(Error::ReplayedCode)
    );
    // A clock before T0 is an error, not the code of step 0.
    let future = Totp::builder(Secret::from_bytes(SEED_20).unwrap())
        .t0(u64::MAX)
        .build()
        .unwrap();
    assert_eq!(
        future.generate_now().map(|c| c.len()),
        Err(Error::TimeBeforeEpoch)
    );
    assert_eq!(
        future.verify_now(code.as_str(), None),
        Err(Error::TimeBeforeEpoch)
    );
}

#[test]
fn zero_window_accepts_only_the_current_step() {
    let totp = Totp::builder(Secret::from_bytes(SEED_20).unwrap())
        .window(0, 0)
        .build()
        .unwrap();
    let now = 1_700_000_010;
    assert!(totp.verify(&totp.generate(now).to_string(), now).is_ok());
    let previous = totp.generate(now - 30).to_string();
    if previous != totp.generate(now).to_string() {
        assert_eq!(totp.verify(&previous, now), Err(Error::InvalidCode));
    }
}

#[test]
fn generated_secrets_are_distinct_and_full_length() {
    let a = Secret::generate();
    let b = Secret::generate();
    assert_eq!(a.len(), 20);
    assert_ne!(a, b);
    assert_eq!(Secret::from_base32(&a.to_base32()).unwrap(), a);
}

/// A deterministic generator for the oracle cases, so a failure can be reproduced.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Case {
    secret: Secret,
    algorithm: Algorithm,
    digits: u32,
    period: u64,
    time: u64,
}

impl Case {
    fn totp(&self) -> Totp {
        Totp::builder(self.secret.clone())
            .algorithm(self.algorithm)
            .digits(self.digits)
            .period(self.period)
            .build()
            .unwrap()
    }
}

/// 1000 random cases. Times stay below the year 9999 and periods at or under 120 s, the limits
/// of pyotp 2.12.
fn random_cases(seed: u64) -> Vec<Case> {
    let mut rng = SplitMix(seed);
    (0..1000)
        .map(|_| {
            let len = 16 + rng.below(113) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let algorithm =
                [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512][rng.below(3) as usize];
            let period = [30, 60, 1, 15, 90, 120][rng.below(6) as usize];
            Case {
                secret: Secret::from_bytes(&bytes).unwrap(),
                algorithm,
                digits: 6 + rng.below(3) as u32,
                period,
                time: rng.below(253_402_300_000),
            }
        })
        .collect()
}

#[test]
fn agrees_with_oathtool_on_1000_random_cases() {
    if !common::external_tool("oathtool", &["--version"]) {
        return;
    }
    for (i, case) in random_cases(0x0a7_2fa).iter().enumerate() {
        let out = Command::new("oathtool")
            .arg(format!("--totp={}", case.algorithm))
            .arg(format!("--digits={}", case.digits))
            .arg(format!("--time-step-size={}s", case.period))
            .arg(format!("--now=@{}", case.time))
            .arg("--base32")
            .arg(&*case.secret.to_base32())
            .output()
            .unwrap();
        assert!(out.status.success(), "oathtool failed on case {i}: {out:?}");
        let theirs = String::from_utf8(out.stdout).unwrap();
        let ours = case.totp().generate(case.time);
        assert_eq!(
            theirs.trim(),
            ours.as_str(),
            "case {i}: {:?} {} digits {} s at {}",
            case.algorithm,
            case.digits,
            case.period,
            case.time
        );
    }
}

#[test]
fn agrees_with_pyotp_on_1000_random_cases() {
    if !common::pyotp_available() {
        return;
    }
    let cases = random_cases(0x9f_07b);
    let script = r#"
import hashlib, sys, pyotp
for line in sys.stdin:
    secret, algorithm, digits, period, time = line.split()
    digest = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}[algorithm]
    totp = pyotp.TOTP(secret, digits=int(digits), digest=digest, interval=int(period))
    print(totp.at(int(time)))
"#;
    let mut input = String::new();
    for case in &cases {
        input.push_str(&format!(
            "{} {} {} {} {}\n",
            &*case.secret.to_base32(),
            case.algorithm,
            case.digits,
            case.period,
            case.time
        ));
    }
    let theirs: Vec<String> = common::python(script, &input)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(theirs.len(), cases.len());
    for (i, (case, theirs)) in cases.iter().zip(&theirs).enumerate() {
        assert_eq!(case.totp().generate(case.time).as_str(), theirs, "case {i}");
    }
}

fn any_algorithm() -> impl Strategy<Value = Algorithm> {
    prop_oneof![
        Just(Algorithm::Sha1),
        Just(Algorithm::Sha256),
        Just(Algorithm::Sha512)
    ]
}

proptest! {
    #[test]
    fn base32_round_trips(bytes in proptest::collection::vec(any::<u8>(), 16..=128)) {
        let secret = Secret::from_bytes(&bytes).unwrap();
        let text = secret.to_base32();
        prop_assert!(!text.contains('='));
        prop_assert_eq!(text.to_uppercase(), text.as_str());
        prop_assert_eq!(Secret::from_base32(&text).unwrap(), secret.clone());
        prop_assert_eq!(Secret::from_base32(&text.to_lowercase()).unwrap(), secret);
    }

    #[test]
    fn a_code_verifies_inside_the_window_and_not_outside(
        bytes in proptest::collection::vec(any::<u8>(), 16..=64),
        algorithm in any_algorithm(),
        digits in 6u32..=8,
        period in 1u64..=120,
        back in 0u32..=3,
        forward in 0u32..=3,
        now in 1_000_000u64..=(1u64 << 40),
        shift in -6i64..=6,
    ) {
        let totp = Totp::builder(Secret::from_bytes(&bytes).unwrap())
            .algorithm(algorithm)
            .digits(digits)
            .period(period)
            .window(back, forward)
            .build()
            .unwrap();
        let current = totp.step_at(now).unwrap();
        let step = current.checked_add_signed(shift).unwrap();
        let code = totp.generate_at_step(step).to_string();
        let inside = -i64::from(back) <= shift && shift <= i64::from(forward);
        let result = totp.verify(&code, now);
        if inside {
            let matched = result.unwrap();
            // The same digits may also match a later step in the window; never an earlier one.
            prop_assert!(matched.step >= step);
        } else {
            // Outside the window the code verifies only if it collides with a code inside.
            let collides = (current - u64::from(back)..=current + u64::from(forward))
                .any(|s| totp.generate_at_step(s).to_string() == code);
            prop_assert_eq!(result.is_ok(), collides);
        }
    }

    #[test]
    fn no_string_makes_verify_panic(code in ".*", now in any::<u64>()) {
        let totp = Totp::new(Secret::from_bytes(SEED_20).unwrap());
        let _ = totp.verify(&code, now);
        let _ = totp.verify_after(&code, now, Some(now / 30));
        let hotp = Hotp::new(Secret::from_bytes(SEED_20).unwrap());
        let _ = hotp.verify(&code, now, 10);
    }

    #[test]
    fn no_string_makes_base32_panic(text in ".*") {
        let _ = Secret::from_base32(&text);
        let _ = Secret::from_legacy_base32(&text);
    }

    #[test]
    fn spaces_in_a_code_are_ignored(split in 0usize..=6) {
        let totp = Totp::new(Secret::from_bytes(SEED_20).unwrap());
        let code = totp.generate(59).to_string();
        let spaced = format!(" {} {} ", &code[..split], &code[split..]);
        prop_assert!(totp.verify(&spaced, 59).is_ok());
    }
}
