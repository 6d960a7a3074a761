//! otpauth URI parsing, strict (`str::parse`) and legacy (`OtpAuthUri::parse_legacy`).
//!
//! Properties: a URI that parses displays as text within `MAX_LEN` that parses back to the
//! same value, and that text is a fixed point; it gives a generator of its own type; strict
//! and legacy parsing agree wherever the secret is long enough for both; text over `MAX_LEN`
//! is refused before anything is allocated; no parse allocates more than a few times the cap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twofa::uri::{OtpType, UriError, UriPart};
use twofa::{Error, OtpAuthUri, Secret};
use twofa_fuzz::measured;

/// Peak heap use of one parse: the URI is at most 2 KiB, and the parser holds a decoded copy
/// of the label and of each parameter value it reads, all capped.
const MAX_PARSE_HEAP: u64 = 8 * OtpAuthUri::MAX_LEN as u64;

fuzz_target!(|text: &str| {
    let (strict, info) = measured(|| text.parse::<OtpAuthUri>());
    assert!(info.bytes_max <= MAX_PARSE_HEAP, "{} bytes", info.bytes_max);
    let (legacy, info) = measured(|| OtpAuthUri::parse_legacy(text));
    assert!(info.bytes_max <= MAX_PARSE_HEAP, "{} bytes", info.bytes_max);

    if text.len() > OtpAuthUri::MAX_LEN {
        let expected = Err(Error::Uri(UriError::TooLong {
            part: UriPart::Uri,
            len: text.len(),
            max: OtpAuthUri::MAX_LEN,
        }));
        assert_eq!(strict, expected);
        assert_eq!(legacy, expected);
    } else {
        // The same text made too long by one byte is refused before any allocation.
        let mut long = String::with_capacity(OtpAuthUri::MAX_LEN + 1);
        long.push_str(text);
        while long.len() <= OtpAuthUri::MAX_LEN {
            long.push('x');
        }
        let (refused, info) = measured(|| long.parse::<OtpAuthUri>());
        assert!(matches!(
            refused,
            Err(Error::Uri(UriError::TooLong {
                part: UriPart::Uri,
                ..
            }))
        ));
        assert_eq!(info.count_total, 0);
    }

    match (&strict, &legacy) {
        (Ok(s), Ok(l)) => assert_eq!(s, l, "strict and legacy disagree"),
        (Ok(_), Err(e)) => panic!("strict parse succeeded, legacy failed: {e}"),
        (Err(_), Ok(l)) => assert!(
            l.secret().len() < Secret::MIN_LEN,
            "legacy parse succeeded with a {}-byte secret where strict failed: {:?}",
            l.secret().len(),
            strict
        ),
        (Err(_), Err(_)) => {}
    }

    if let Ok(uri) = &legacy {
        check_round_trip(uri);
    }
});

fn check_round_trip(uri: &OtpAuthUri) {
    let shown = uri.to_string();
    assert!(shown.len() <= OtpAuthUri::MAX_LEN, "{} bytes", shown.len());
    assert_eq!(*uri.to_zeroizing_string(), shown);
    let again = OtpAuthUri::parse_legacy(&shown)
        .unwrap_or_else(|e| panic!("displayed URI does not parse: {e}: {shown}"));
    assert_eq!(&again, uri, "{shown}");
    assert_eq!(again.to_string(), shown, "display is not a fixed point");
    if uri.secret().len() >= Secret::MIN_LEN {
        assert_eq!(shown.parse::<OtpAuthUri>().as_ref(), Ok(uri));
    }

    assert!(uri.issuer() != Some(""), "Some(\"\") issuer");
    assert!((6..=8).contains(&uri.digits()));
    match uri.otp_type() {
        OtpType::Totp => {
            let totp = uri.to_totp().expect("a parsed TOTP URI gives a Totp");
            assert_eq!(Some(totp.period()), uri.period());
            assert_eq!(totp.digits(), uri.digits());
            assert!(uri.to_hotp().is_err());
        }
        OtpType::Hotp => {
            let (hotp, counter) = uri.to_hotp().expect("a parsed HOTP URI gives a Hotp");
            assert_eq!(Some(counter), uri.counter());
            assert_eq!(hotp.digits(), uri.digits());
            assert!(uri.to_totp().is_err());
        }
    }
    let _ = uri.compatibility();
    let key = uri.manual_entry_key();
    assert_eq!(
        Secret::from_legacy_base32(&key).as_ref(),
        Ok(uri.secret()),
        "the manual entry key reads back as the secret"
    );
    let debug = format!("{uri:?}");
    assert!(debug.contains("redacted"), "{debug}");
}
