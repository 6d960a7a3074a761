//! otpauth URI parsing, strict (`str::parse`) and legacy (`OtpAuthUri::parse_legacy`).
//!
//! Properties: a URI that parses displays as text within `MAX_LEN` that parses back to the
//! same value (a non-https image the parser dropped stays dropped: the text has no image, and
//! the re-read URI reports nothing dropped but the same other warnings), and that text is a
//! fixed point; it gives a generator of its own type; parsing ignores surrounding white space;
//! strict and legacy parsing agree except where the secret is too short for strict parsing or
//! the label's issuer prefix and the `issuer` parameter differ; no parsed name holds a control
//! character; text over `MAX_LEN` once trimmed is refused before anything is allocated; no
//! parse allocates more than a few times the cap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twofa::uri::{CompatibilityWarning, OtpType, UriError, UriPart};
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

    let trimmed = text.trim();
    if trimmed.len() > OtpAuthUri::MAX_LEN {
        let expected = Err(Error::Uri(UriError::TooLong {
            part: UriPart::Uri,
            len: trimmed.len(),
            max: OtpAuthUri::MAX_LEN,
        }));
        assert_eq!(strict, expected);
        assert_eq!(legacy, expected);
    } else {
        // The same text made too long by one byte is refused before any allocation.
        let mut long = String::with_capacity(OtpAuthUri::MAX_LEN + 1);
        long.push_str(trimmed);
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
        // Surrounding white space does not matter, and the trimmed text reads the same.
        if trimmed.len() != text.len() {
            assert_eq!(trimmed.parse::<OtpAuthUri>(), strict);
            assert_eq!(OtpAuthUri::parse_legacy(trimmed), legacy);
        }
        let padded = format!(" \n{trimmed}\t ");
        if padded.len() <= OtpAuthUri::MAX_LEN {
            assert_eq!(padded.parse::<OtpAuthUri>(), strict);
        }
    }

    match (&strict, &legacy) {
        (Ok(s), Ok(l)) => {
            assert_eq!(s, l, "strict and legacy disagree");
            assert_eq!(s.compatibility(), l.compatibility());
        }
        (Ok(_), Err(e)) => panic!("strict parse succeeded, legacy failed: {e}"),
        (Err(e), Ok(l)) => assert!(
            l.secret().len() < Secret::MIN_LEN || *e == Error::Uri(UriError::IssuerMismatch),
            "legacy parse succeeded with a {}-byte secret where strict failed: {e:?}",
            l.secret().len(),
        ),
        (Err(_), Err(_)) => {}
    }

    if let Ok(uri) = &legacy {
        check_round_trip(uri);
    }
});

fn check_round_trip(uri: &OtpAuthUri) {
    let shown = uri.to_string();
    let dropped = uri
        .compatibility()
        .warnings()
        .any(|w| w == CompatibilityWarning::ImageDropped);
    if dropped {
        assert_eq!(uri.image(), None, "a dropped image is still there");
    }
    if let Some(image) = uri.image() {
        assert!(
            image
                .get(..8)
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://")),
            "{image:?}"
        );
    }
    for name in uri.issuer().into_iter().chain([uri.account()]) {
        assert!(!name.chars().any(char::is_control), "{name:?}");
        assert!(!name.contains(':'), "{name:?}");
        assert_eq!(name.trim(), name, "untrimmed name {name:?}");
    }
    assert!(shown.len() <= OtpAuthUri::MAX_LEN, "{} bytes", shown.len());
    assert_eq!(*uri.to_zeroizing_string(), shown);
    let again = OtpAuthUri::parse_legacy(&shown)
        .unwrap_or_else(|e| panic!("displayed URI does not parse: {e}: {shown}"));
    assert_eq!(&again, uri, "{shown}");
    assert_eq!(again.to_string(), shown, "display is not a fixed point");
    // What the parser dropped is not in the text: read back, nothing is reported dropped,
    // and every other warning is the same.
    let others = |u: &OtpAuthUri| {
        u.compatibility()
            .warnings()
            .filter(|w| *w != CompatibilityWarning::ImageDropped)
            .collect::<Vec<_>>()
    };
    assert!(
        !again
            .compatibility()
            .warnings()
            .any(|w| w == CompatibilityWarning::ImageDropped)
    );
    assert_eq!(others(&again), others(uri));
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
