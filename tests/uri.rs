//! otpauth URIs through the public API: round trips with pyotp in both directions, the text
//! totp-rs writes, URIs as people paste them, a table of malformed URIs with their typed
//! errors, and properties.
// Helpers outside `#[test]` functions fail the test by panicking, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::panic)]

#[path = "data/uri/cases.rs"]
mod cases;
mod common;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use twofa::uri::{CompatibilityWarning, OtpType, SecretProblem, UriError, UriPart};
use twofa::{Algorithm, Error, Hotp, OtpAuthUri, Secret, Totp};

/// A valid 20-byte secret.
const S: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const TIME: u64 = 1_700_000_000;

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> String {
    let bytes: Vec<u8> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect();
    String::from_utf8(bytes).unwrap()
}

/// The code a case's URI gives: at `TIME` for a TOTP, at its counter for an HOTP.
fn code_of(uri: &OtpAuthUri) -> String {
    match uri.otp_type() {
        OtpType::Totp => uri.to_totp().unwrap().generate(TIME).to_string(),
        OtpType::Hotp => {
            let (hotp, counter) = uri.to_hotp().unwrap();
            hotp.generate(counter).to_string()
        }
    }
}

#[test]
fn pyotp_reads_our_uris() {
    if !common::pyotp_available() {
        return;
    }
    const READ: &str = r#"
import sys, pyotp
for line in sys.stdin:
    otp = pyotp.parse_uri(line.rstrip("\n"))
    hotp = isinstance(otp, pyotp.HOTP)
    number = otp.initial_count if hotp else otp.interval
    # HOTP.at counts from the initial counter.
    code = otp.at(0) if hotp else otp.at(int(sys.argv[1]))
    issuer = "-" if otp.issuer is None else otp.issuer.encode().hex()
    print("\t".join(["hotp" if hotp else "totp", otp.secret, issuer, otp.name.encode().hex(),
                     str(otp.digits), otp.digest().name, str(number), code]))
"#;
    let cases = cases::cases();
    assert!(cases.len() >= 50);
    let uris: Vec<OtpAuthUri> = cases.iter().map(cases::Case::uri).collect();
    let input: String = uris.iter().map(|u| format!("{u}\n")).collect();
    let script = READ.replace("int(sys.argv[1])", &TIME.to_string());
    let output = common::python(&script, &input);
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines.len(), cases.len());
    for ((case, uri), line) in cases.iter().zip(&uris).zip(lines) {
        let f: Vec<&str> = line.split('\t').collect();
        let issuer = (f[2] != "-").then(|| unhex(f[2]));
        let expected_type = if case.hotp { "hotp" } else { "totp" };
        assert_eq!(f[0], expected_type, "{uri}");
        assert_eq!(
            Secret::from_base32(f[1]).unwrap(),
            case.secret,
            "secret of {uri}"
        );
        assert_eq!(issuer, case.issuer, "issuer of {uri}");
        assert_eq!(unhex(f[3]), case.account, "account of {uri}");
        assert_eq!(f[4], case.digits.to_string(), "digits of {uri}");
        assert_eq!(
            f[5],
            case.algorithm.as_str().to_lowercase(),
            "algorithm of {uri}"
        );
        assert_eq!(f[6], case.number.to_string(), "period/counter of {uri}");
        assert_eq!(f[7], code_of(uri), "code of {uri}");
    }
}

#[test]
fn we_read_pyotp_uris() {
    if !common::pyotp_available() {
        return;
    }
    const WRITE: &str = r#"
import sys, hashlib, pyotp
for line in sys.stdin:
    kind, secret, issuer, name, digits, algorithm, number, image = line.rstrip("\n").split("\t")
    issuer = None if issuer == "-" else bytes.fromhex(issuer).decode()
    name = bytes.fromhex(name).decode()
    extra = {} if image == "-" else {"image": image}
    digest = getattr(hashlib, algorithm)
    if kind == "hotp":
        otp = pyotp.HOTP(secret, digits=int(digits), digest=digest, initial_count=int(number))
        code = otp.at(0)  # counts from initial_count
        uri = otp.provisioning_uri(name=name, issuer_name=issuer, **extra)
    else:
        otp = pyotp.TOTP(secret, digits=int(digits), digest=digest, interval=int(number))
        code = otp.at(TIME)
        uri = otp.provisioning_uri(name=name, issuer_name=issuer, **extra)
    print(uri + "\t" + code)
"#;
    let cases = cases::cases();
    let input: String = cases
        .iter()
        .map(|c| {
            format!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                if c.hotp { "hotp" } else { "totp" },
                &*c.secret.to_base32(),
                c.issuer.as_deref().map_or("-".to_string(), hex),
                hex(&c.account),
                c.digits,
                c.algorithm.as_str().to_lowercase(),
                c.number,
                c.image.as_deref().unwrap_or("-"),
            )
        })
        .collect();
    let script = WRITE.replace("TIME", &TIME.to_string());
    let output = common::python(&script, &input);
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines.len(), cases.len());
    for (case, line) in cases.iter().zip(lines) {
        let (text, code) = line.rsplit_once('\t').unwrap();
        let uri: OtpAuthUri = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(uri.secret(), &case.secret, "{text}");
        assert_eq!(uri.issuer(), case.issuer.as_deref(), "{text}");
        assert_eq!(uri.account(), case.account, "{text}");
        assert_eq!(uri.algorithm(), case.algorithm, "{text}");
        assert_eq!(uri.digits(), case.digits, "{text}");
        assert_eq!(uri.image(), case.image.as_deref(), "{text}");
        if case.hotp {
            assert_eq!(uri.counter(), Some(case.number), "{text}");
        } else {
            assert_eq!(uri.period(), Some(case.number), "{text}");
        }
        assert_eq!(code_of(&uri), code, "{text}");
        // pyotp and this crate agree on the defaults left out, so the texts are equivalent:
        // ours parses to the same URI.
        assert_eq!(uri.to_string().parse::<OtpAuthUri>().unwrap(), uri);
    }
}

/// The URI totp-rs (an independent implementation) writes for the defaults, an issuer and an
/// account.
fn totp_rs_url(issuer: Option<&str>, account: &str) -> String {
    totp_rs::Builder::new()
        .with_secret(Secret::from_base32(S).unwrap().expose_bytes().to_vec())
        .with_issuer(issuer)
        .with_account_name(account)
        .build()
        .unwrap()
        .to_url()
        .unwrap()
}

#[test]
fn writes_what_totp_rs_writes() {
    let totp = Totp::new(Secret::from_base32(S).unwrap());
    for (issuer, account) in [
        (Some("Plausible Analytics"), "alice@example.com"),
        (None, "bob"),
        (Some("Ünïcødé GmbH"), "jörg+1@example.com"),
    ] {
        let expected = totp_rs_url(issuer, account);
        let uri = OtpAuthUri::for_totp(&totp, account)
            .issuer(issuer)
            .build()
            .unwrap();
        assert_eq!(uri.to_string(), expected);
        assert_eq!(*uri.to_zeroizing_string(), expected);
        assert!(uri.compatibility().is_widely_supported());
    }
}

/// The secret `12345678901234567890` of RFC 4226's test vectors, base32 `S`.
fn secret20() -> Secret {
    Secret::from_bytes(b"12345678901234567890").unwrap()
}

/// Byte for byte the text pyotp writes, defaults left out, for TOTP settings and names that
/// need encoding (pyotp puts `counter` elsewhere, so HOTP is compared field by field above;
/// and it leaves `/` unencoded in the label, where this crate encodes it).
#[test]
fn writes_what_pyotp_writes() {
    if !common::pyotp_available() {
        return;
    }
    const WRITE: &str = r#"
import sys, hashlib, pyotp
for line in sys.stdin:
    issuer, name, algorithm, digits, period, image = line.rstrip("\n").split("\t")
    issuer = None if issuer == "-" else bytes.fromhex(issuer).decode()
    extra = {} if image == "-" else {"image": image}
    otp = pyotp.TOTP(sys.argv[1] if len(sys.argv) > 1 else "SECRET", digits=int(digits),
                     digest=getattr(hashlib, algorithm), interval=int(period))
    print(otp.provisioning_uri(name=bytes.fromhex(name).decode(), issuer_name=issuer, **extra))
"#;
    let cases = [
        (Some("A B"), "c+d@e", Algorithm::Sha1, 6, 60, None),
        (
            Some("Acme"),
            "x",
            Algorithm::Sha512,
            7,
            30,
            Some("https://example.com/logo.png?size=64&v=2"),
        ),
        (None, "alice@example.com", Algorithm::Sha256, 8, 15, None),
        (
            Some("Ünïcødé GmbH"),
            "jörg.ops~1_y-z",
            Algorithm::Sha1,
            6,
            30,
            None,
        ),
        (
            Some("a&b=c?d#e%f"),
            "🔐 'quoted' \"name\"",
            Algorithm::Sha1,
            6,
            30,
            None,
        ),
    ];
    let input: String = cases
        .iter()
        .map(|(issuer, account, algorithm, digits, period, image)| {
            format!(
                "{}\t{}\t{}\t{digits}\t{period}\t{}\n",
                issuer.map_or("-".to_string(), hex),
                hex(account),
                algorithm.as_str().to_lowercase(),
                image.unwrap_or("-"),
            )
        })
        .collect();
    let output = common::python(&WRITE.replace("\"SECRET\"", &format!("{S:?}")), &input);
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines.len(), cases.len());
    for ((issuer, account, algorithm, digits, period, image), expected) in cases.iter().zip(lines) {
        let totp = Totp::builder(secret20())
            .algorithm(*algorithm)
            .digits(*digits)
            .period(*period)
            .build()
            .unwrap();
        // Padded names: the builder trims them.
        let padded_issuer = issuer.map(|issuer| format!(" {issuer}\u{a0}"));
        let padded_account = format!("  {account} ");
        let builder = OtpAuthUri::for_totp(&totp, &padded_account).issuer(padded_issuer.as_deref());
        let uri = match image {
            Some(image) => builder.image(image),
            None => builder,
        }
        .build()
        .unwrap();
        assert_eq!(uri.to_string(), expected);
        assert_eq!(*uri.to_zeroizing_string(), expected);
    }
}

#[test]
fn refuses_names_the_label_cannot_hold() {
    let totp = Totp::new(secret20());
    let build = |issuer: Option<&str>, account: &str| {
        OtpAuthUri::for_totp(&totp, account).issuer(issuer).build()
    };
    let refused = |part| Err(Error::Uri(UriError::ColonInName { part }));
    assert_eq!(build(Some("A:B"), "alice"), refused(UriPart::Issuer));
    assert_eq!(build(Some("AB"), "alice:x"), refused(UriPart::Account));
    assert_eq!(
        build(Some("AB"), " "),
        Err(Error::Uri(UriError::EmptyAccount))
    );
    assert_eq!(
        build(None, &"a".repeat(513)),
        Err(Error::Uri(UriError::TooLong {
            part: UriPart::Label,
            len: 513,
            max: 512
        }))
    );
    assert!(build(None, &"a".repeat(512)).is_ok());
    // The issuer and its colon count: 510 + 1 + 1 fits, 510 + 1 + 2 does not.
    let issuer = "i".repeat(510);
    assert!(build(Some(&issuer), "a").is_ok());
    assert!(build(Some(&issuer), "ab").is_err());
    // 500 characters that each take 3 bytes once encoded: the label fits, the URI not.
    let wide = "é".repeat(250);
    assert!(matches!(
        build(Some(&wide[..200]), &wide[..300]),
        Err(Error::Uri(UriError::TooLong {
            part: UriPart::Uri,
            ..
        }))
    ));
    let uri = build(None, "alice").unwrap();
    assert_eq!(uri.issuer(), None);
    assert!(!uri.to_string().contains("issuer"));
}

#[test]
fn an_issuer_is_given_or_left_out_never_empty() {
    let totp = Totp::new(secret20());
    for blank in ["", "  "] {
        assert_eq!(
            OtpAuthUri::for_totp(&totp, "alice").issuer(blank).build(),
            Err(Error::Uri(UriError::EmptyIssuer)),
            "{blank:?}"
        );
    }
    let hotp = Hotp::new(secret20());
    let uri = OtpAuthUri::for_hotp(&hotp, 3, "alice")
        .issuer(None)
        .build()
        .unwrap();
    assert_eq!((uri.issuer(), uri.account()), (None, "alice"));
}

#[test]
fn refuses_control_characters_in_names() {
    let totp = Totp::new(secret20());
    for control in [
        '\0', '\n', '\r', '\t', '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}',
    ] {
        let name = format!("a{control}b");
        let edge = format!("ab{control}");
        for (issuer, account, part) in [
            (name.as_str(), "alice", UriPart::Issuer),
            ("Acme", name.as_str(), UriPart::Account),
            // At the edge, before trimming could hide it.
            (edge.as_str(), "alice", UriPart::Issuer),
            ("Acme", edge.as_str(), UriPart::Account),
        ] {
            assert_eq!(
                OtpAuthUri::for_totp(&totp, account).issuer(issuer).build(),
                Err(Error::Uri(UriError::ControlCharacter { part })),
                "{issuer:?} {account:?}"
            );
        }
    }
    // Other characters outside ASCII are names like any other.
    let uri = OtpAuthUri::for_totp(&totp, "j\u{f6}rg \u{1f510}")
        .issuer("\u{a0}\u{dc}nic\u{f8}de\u{200b}")
        .build()
        .unwrap();
    assert_eq!(uri.issuer(), Some("\u{dc}nic\u{f8}de\u{200b}"));
}

#[test]
fn refuses_a_start_time_the_uri_cannot_express() {
    let totp = Totp::builder(secret20()).t0(1).build().unwrap();
    assert_eq!(
        OtpAuthUri::for_totp(&totp, "b").build(),
        Err(Error::Uri(UriError::NonZeroT0))
    );
}

#[test]
fn image_must_be_https() {
    let totp = Totp::new(secret20());
    let build = |url| OtpAuthUri::for_totp(&totp, "b").image(url).build();
    for bad in [
        "http://example.com/x.png",
        "https://",
        "example.com",
        "",
        "javascript:x",
    ] {
        assert_eq!(
            build(bad),
            Err(Error::Uri(UriError::ImageNotHttps)),
            "{bad}"
        );
    }
    assert_eq!(
        build("HTTPS://example.com/").unwrap().image(),
        Some("HTTPS://example.com/")
    );
    let long = format!("https://example.com/{}", "x".repeat(600));
    assert_eq!(
        build(&long),
        Err(Error::Uri(UriError::TooLong {
            part: UriPart::Parameter("image"),
            len: 620,
            max: 512
        }))
    );
}

#[test]
fn every_case_parses_back_to_itself() {
    for case in cases::cases() {
        let uri = case.uri();
        let text = uri.to_string();
        assert!(text.is_ascii(), "{text}");
        assert!(!text.contains('+') && !text.contains(' '), "{text}");
        let parsed: OtpAuthUri = text.parse().unwrap();
        assert_eq!(parsed, uri);
        assert_eq!(parsed.to_string(), text);
        assert_eq!(parsed.issuer(), case.issuer.as_deref());
        assert_eq!(parsed.account(), case.account);
    }
}

/// Whatever parses displays as text that parses again: an issuer taken from the parameter
/// counts towards the label cap it will be written into.
#[test]
fn what_parses_displays_as_something_that_parses() {
    let issuer = "a".repeat(OtpAuthUri::MAX_LABEL_LEN);
    let text = format!("otpauth://totp/x?secret={S}&issuer={issuer}");
    assert!(matches!(
        text.parse::<OtpAuthUri>(),
        Err(Error::Uri(UriError::TooLong {
            part: UriPart::Label,
            ..
        }))
    ));
    // Just under the cap: parses, and its text parses back to the same URI.
    let issuer = "a".repeat(OtpAuthUri::MAX_LABEL_LEN - 2);
    let text = format!("otpauth://totp/x?secret={S}&issuer={issuer}");
    let uri: OtpAuthUri = text.parse().unwrap();
    assert_eq!(uri.to_string().parse::<OtpAuthUri>().unwrap(), uri);
}

#[test]
fn lenient_forms_real_uris_take() {
    let table: &[(&str, Option<&str>, &str)] = &[
        // The examples of Google's Key URI format description (secret made long enough).
        (
            "otpauth://totp/Example:alice@google.com?secret=S&issuer=Example",
            Some("Example"),
            "alice@google.com",
        ),
        (
            "otpauth://totp/ACME%20Co:john.doe@email.com?secret=S&issuer=ACME%20Co\
             &algorithm=SHA1&digits=6&period=30",
            Some("ACME Co"),
            "john.doe@email.com",
        ),
        (
            "otpauth://totp/Big%20Corporation%3A%20alice%40bigco.com?secret=S",
            Some("Big Corporation"),
            "alice@bigco.com",
        ),
        (
            "otpauth://totp/Provider1:Alice%20Smith?secret=S",
            Some("Provider1"),
            "Alice Smith",
        ),
        // Upper-case scheme and type, odd-case names, form-encoded spaces in values.
        (
            "OTPAUTH://TOTP/x?SECRET=S&Issuer=Big+Co",
            Some("Big Co"),
            "x",
        ),
        // Lower-case, spaced, padded secret; unknown and repeated unknown parameters; fragment.
        (
            "otpauth://totp/x?secret=gezd%20gnbv-gy3tqojqgezdgnbvgy3tqojq%3D%3D&foo=1&foo=2#f",
            None,
            "x",
        ),
        // An empty issuer parameter is no issuer.
        ("otpauth://totp/x?secret=S&issuer=", None, "x"),
        ("otpauth://totp/Acme:x?secret=S&issuer=", Some("Acme"), "x"),
        // Raw UTF-8 in the label (an IRI) reads as its characters.
        (
            "otpauth://totp/Ünïcødé%20GmbH:jörg?secret=S",
            Some("Ünïcødé GmbH"),
            "jörg",
        ),
    ];
    for &(text, issuer, account) in table {
        let text = text
            .replace("secret=S", &format!("secret={S}"))
            .replace("SECRET=S", &format!("SECRET={S}"));
        let uri: OtpAuthUri = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!((uri.issuer(), uri.account()), (issuer, account), "{text}");
        assert_eq!(uri.secret(), &Secret::from_base32(S).unwrap(), "{text}");
    }
    let uri: OtpAuthUri = format!("otpauth://totp/x?secret={S}&algorithm=sha-512&digits=8")
        .parse()
        .unwrap();
    assert_eq!((uri.algorithm(), uri.digits()), (Algorithm::Sha512, 8));
}

#[test]
fn malformed_uris_give_typed_errors() {
    use UriError as E;
    let long_value = "a".repeat(513);
    let long_label = "b".repeat(513);
    let table: Vec<(String, UriError)> = vec![
        ("".into(), E::NotOtpAuth),
        ("https://totp/x?secret=S".into(), E::NotOtpAuth),
        ("otpauth:totp/x?secret=S".into(), E::NotOtpAuth),
        ("otpauth//totp/x?secret=S".into(), E::NotOtpAuth),
        ("otpauth://motp/x?secret=S".into(), E::UnknownType),
        ("otpauth://totpx/x?secret=S".into(), E::UnknownType),
        ("otpauth://?secret=S".into(), E::UnknownType),
        ("otpauth://totp?secret=S".into(), E::EmptyAccount),
        ("otpauth://totp/?secret=S".into(), E::EmptyAccount),
        ("otpauth://totp/Acme:%20?secret=S".into(), E::EmptyAccount),
        (
            "otpauth://totp/a:b:c?secret=S".into(),
            E::ColonInName {
                part: UriPart::Account,
            },
        ),
        (
            "otpauth://totp/a%3Ab%3Ac?secret=S".into(),
            E::ColonInName {
                part: UriPart::Account,
            },
        ),
        (
            "otpauth://totp/x?secret=S&issuer=a:b".into(),
            E::ColonInName {
                part: UriPart::Issuer,
            },
        ),
        (
            "otpauth://totp/A:x?secret=S&issuer=B".into(),
            E::IssuerMismatch,
        ),
        ("otpauth://totp/x".into(), E::MissingSecret),
        ("otpauth://totp/x?".into(), E::MissingSecret),
        ("otpauth://totp/x?secret=".into(), E::MissingSecret),
        ("otpauth://totp/x?secret".into(), E::MissingSecret),
        (
            "otpauth://totp/x?issuer=A&secrets=S".into(),
            E::MissingSecret,
        ),
        (
            "otpauth://totp/x?secret=GEZDGNBVGY3TQOJ1GEZDGNBVGY3TQOJQ".into(),
            E::InvalidSecret(SecretProblem::InvalidCharacter { position: 15 }),
        ),
        (
            "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP".into(),
            E::InvalidSecret(SecretProblem::TooShort { len: 10, min: 16 }),
        ),
        (
            format!("otpauth://totp/x?secret={S}G"),
            E::InvalidSecret(SecretProblem::InvalidLength),
        ),
        (
            format!("otpauth://totp/x?secret={}", "A".repeat(300)),
            E::InvalidSecret(SecretProblem::TooLong { len: 187, max: 128 }),
        ),
        (
            "otpauth://totp/x?secret=S&secret=S".into(),
            E::DuplicateParameter { name: "secret" },
        ),
        (
            "otpauth://totp/x?secret=S&digits=6&Digits=6".into(),
            E::DuplicateParameter { name: "digits" },
        ),
        (
            "otpauth://totp/x?issuer=A&secret=S&issuer=A".into(),
            E::DuplicateParameter { name: "issuer" },
        ),
        (
            "otpauth://totp/x?secret=S&period=30&period=30".into(),
            E::DuplicateParameter { name: "period" },
        ),
        (
            "otpauth://hotp/x?secret=S&counter=1&counter=1".into(),
            E::DuplicateParameter { name: "counter" },
        ),
        (
            "otpauth://totp/x?secret=S&algorithm=SHA1&algorithm=SHA1".into(),
            E::DuplicateParameter { name: "algorithm" },
        ),
        ("otpauth://hotp/x?secret=S".into(), E::MissingCounter),
        (
            "otpauth://hotp/x?secret=S&counter=-1".into(),
            E::InvalidCounter,
        ),
        (
            "otpauth://hotp/x?secret=S&counter=1.5".into(),
            E::InvalidCounter,
        ),
        (
            "otpauth://hotp/x?secret=S&counter=".into(),
            E::InvalidCounter,
        ),
        (
            "otpauth://hotp/x?secret=S&counter=18446744073709551616".into(),
            E::InvalidCounter,
        ),
        (
            "otpauth://totp/x?secret=S&digits=5".into(),
            E::InvalidDigits,
        ),
        (
            "otpauth://totp/x?secret=S&digits=9".into(),
            E::InvalidDigits,
        ),
        (
            "otpauth://totp/x?secret=S&digits=six".into(),
            E::InvalidDigits,
        ),
        (
            "otpauth://totp/x?secret=S&digits=+6".into(),
            E::InvalidDigits,
        ),
        (
            "otpauth://totp/x?secret=S&digits=4294967302".into(),
            E::InvalidDigits,
        ),
        (
            "otpauth://totp/x?secret=S&period=0".into(),
            E::InvalidPeriod,
        ),
        (
            "otpauth://totp/x?secret=S&period=-30".into(),
            E::InvalidPeriod,
        ),
        (
            "otpauth://totp/x?secret=S&period=30s".into(),
            E::InvalidPeriod,
        ),
        (
            "otpauth://totp/x?secret=S&algorithm=MD5".into(),
            E::UnknownAlgorithm,
        ),
        (
            "otpauth://totp/x?secret=S&algorithm=SHA384".into(),
            E::UnknownAlgorithm,
        ),
        (
            "otpauth://totp/x?secret=S&algorithm=".into(),
            E::UnknownAlgorithm,
        ),
        (
            "otpauth://totp/x?secret=S&encoder=steam".into(),
            E::UnsupportedEncoder,
        ),
        (
            "otpauth://totp/Steam:x?secret=S&issuer=Steam&ENCODER=Steam&digits=5".into(),
            E::UnsupportedEncoder,
        ),
        (
            "otpauth://hotp/x?secret=S&counter=1&encoder=base26".into(),
            E::UnsupportedEncoder,
        ),
        (
            "otpauth://totp/x?secret=S&encoder=steam&encoder=steam".into(),
            E::DuplicateParameter { name: "encoder" },
        ),
        (
            "otpauth://totp/x?secret=S&image=a&image=b".into(),
            E::DuplicateParameter { name: "image" },
        ),
        (
            "otpauth://totp/%E?secret=S".into(),
            E::InvalidPercentEncoding {
                part: UriPart::Label,
            },
        ),
        (
            "otpauth://totp/a%zz?secret=S".into(),
            E::InvalidPercentEncoding {
                part: UriPart::Label,
            },
        ),
        (
            "otpauth://totp/x?secret=S%2".into(),
            E::InvalidPercentEncoding {
                part: UriPart::Parameter("secret"),
            },
        ),
        (
            "otpauth://totp/x?secret=S&issuer=%".into(),
            E::InvalidPercentEncoding {
                part: UriPart::Parameter("issuer"),
            },
        ),
        (
            "otpauth://totp/%FF?secret=S".into(),
            E::NotUtf8 {
                part: UriPart::Label,
            },
        ),
        (
            "otpauth://totp/x?secret=S&issuer=%C3%28".into(),
            E::NotUtf8 {
                part: UriPart::Parameter("issuer"),
            },
        ),
        (
            "otpauth://totp/x?secret=S%C3".into(),
            E::NotUtf8 {
                part: UriPart::Parameter("secret"),
            },
        ),
        (
            format!("otpauth://totp/x?secret=S&x={}", "y".repeat(2048)),
            E::TooLong {
                part: UriPart::Uri,
                len: 2107,
                max: 2048,
            },
        ),
        (
            format!("otpauth://totp/{long_label}?secret=S"),
            E::TooLong {
                part: UriPart::Label,
                len: 513,
                max: 512,
            },
        ),
        (
            format!("otpauth://totp/x?secret=S&issuer={long_value}"),
            E::TooLong {
                part: UriPart::Parameter("issuer"),
                len: 513,
                max: 512,
            },
        ),
        (
            // Under the cap as received (574 bytes), over it as written: raw UTF-8 is
            // percent-encoded, and the issuer is written twice.
            format!("otpauth://totp/x?secret=S&issuer={}", "é".repeat(255)),
            E::TooLong {
                part: UriPart::Uri,
                len: 3125,
                max: 2048,
            },
        ),
        (
            // Measured once decoded: 1539 bytes of escapes are 513 bytes.
            format!("otpauth://totp/x?secret=S&image={}", "%41".repeat(513)),
            E::TooLong {
                part: UriPart::Parameter("image"),
                len: 513,
                max: 512,
            },
        ),
    ];
    for (text, expected) in table {
        let text = text.replace("secret=S", &format!("secret={S}"));
        let got = text.parse::<OtpAuthUri>();
        assert_eq!(got, Err(Error::Uri(expected.clone())), "{text}");
        // The error is safe to log: it never repeats the secret.
        let error = got.unwrap_err();
        let shown = format!("{error} / {error:?}");
        assert!(!shown.contains(&S[..8]), "{shown}");
    }
}

#[test]
fn errors_say_what_is_wrong_and_where() {
    let message = |text: String| text.parse::<OtpAuthUri>().unwrap_err().to_string();
    assert_eq!(
        message(format!("otpauth://totp/{}?secret={S}", "b".repeat(513))),
        "otpauth URI: the label is 513 bytes long; at most 512 are allowed"
    );
    assert_eq!(
        message("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP".into()),
        "otpauth URI: the secret is not valid: 10 bytes long; at least 16 are required"
    );
    assert_eq!(
        message(format!("otpauth://totp/x?issuer=a%00&secret={S}")),
        "otpauth URI: the issuer parameter contains a control character"
    );
    assert_eq!(
        message(format!("otpauth://totp/x?secret={S}&encoder=steam")),
        "otpauth URI: the encoder parameter asks for codes other than decimal digits, which \
         are not supported"
    );
}

#[test]
fn hotp_parameters_and_conversions() {
    let hotp = Hotp::builder(Secret::from_base32(S).unwrap())
        .algorithm(Algorithm::Sha256)
        .build()
        .unwrap();
    let uri = OtpAuthUri::for_hotp(&hotp, u64::MAX, "bob")
        .issuer("Token Co")
        .build()
        .unwrap();
    let text = uri.to_string();
    assert!(text.starts_with("otpauth://hotp/Token%20Co:bob?"), "{text}");
    assert!(text.contains("&counter=18446744073709551615"), "{text}");
    let (back, counter) = text.parse::<OtpAuthUri>().unwrap().to_hotp().unwrap();
    assert_eq!(counter, u64::MAX);
    assert_eq!(back.generate(counter), hotp.generate(counter));
    // `period` means nothing for HOTP and `counter` nothing for TOTP: both are ignored.
    let parsed: OtpAuthUri = format!("{text}&period=abc").parse().unwrap();
    assert_eq!(parsed, uri);
    let totp: OtpAuthUri = format!("otpauth://totp/x?secret={S}&counter=abc")
        .parse()
        .unwrap();
    assert_eq!((totp.period(), totp.counter()), (Some(30), None));
    assert_eq!(
        uri.compatibility().warnings().collect::<Vec<_>>(),
        [
            CompatibilityWarning::Algorithm(Algorithm::Sha256),
            CompatibilityWarning::CounterBased
        ]
    );
}

#[test]
fn legacy_secrets_only_when_asked() {
    let text = "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example";
    assert_eq!(
        text.parse::<OtpAuthUri>(),
        Err(Error::Uri(UriError::InvalidSecret(
            SecretProblem::TooShort { len: 10, min: 16 }
        )))
    );
    let uri = OtpAuthUri::parse_legacy(text).unwrap();
    assert_eq!(uri.secret().expose_bytes(), b"Hello!\xde\xad\xbe\xef");
    assert_eq!(uri.to_string(), text.replace('@', "%40"));
    assert!(OtpAuthUri::parse_legacy("otpauth://totp/x?secret=JBSWY3DP").is_err());
}

#[test]
fn pasted_uris_keep_their_white_space_outside() {
    let uri = format!("otpauth://totp/Acme:alice?secret={S}&issuer=Acme");
    let expected: OtpAuthUri = uri.parse().unwrap();
    for pasted in [
        format!("{uri}\n"),
        format!("{uri}\r\n"),
        format!("  {uri} \t\n"),
        format!("\u{a0}{uri}\u{2028}"),
        // A newline straight after the secret, as a copy of the last parameter gives it.
        format!("otpauth://totp/Acme:alice?issuer=Acme&secret={S}\n"),
    ] {
        assert_eq!(
            pasted.parse::<OtpAuthUri>(),
            Ok(expected.clone()),
            "{pasted:?}"
        );
        assert_eq!(OtpAuthUri::parse_legacy(&pasted), Ok(expected.clone()));
    }
    // White space inside the URI is not trimmed away.
    assert_eq!(
        format!("otpauth://totp/Acme:alice?secret={S}\n&issuer=Acme").parse::<OtpAuthUri>(),
        Err(Error::Uri(UriError::InvalidSecret(
            SecretProblem::InvalidCharacter { position: 32 }
        )))
    );
    // The length cap applies to the URI, not to the white space around it.
    let padded = format!("{uri}{}", " ".repeat(OtpAuthUri::MAX_LEN));
    assert_eq!(padded.parse::<OtpAuthUri>(), Ok(expected));
}

#[test]
fn control_characters_in_names_are_refused_raw_or_encoded() {
    use UriPart::{Label, Parameter};
    for (control, escaped) in [
        ('\0', "%00"),
        ('\n', "%0A"),
        ('\r', "%0d"),
        ('\t', "%09"),
        ('\u{1b}', "%1B"),
        ('\u{7f}', "%7F"),
        ('\u{85}', "%C2%85"),
        ('\u{9b}', "%C2%9B"),
    ] {
        for c in [control.to_string(), escaped.to_string()] {
            for (text, part) in [
                (format!("otpauth://totp/Ac{c}me:alice?secret={S}"), Label),
                (format!("otpauth://totp/Acme:ali{c}ce?secret={S}"), Label),
                // At the edges of a name, where trimming would otherwise hide it.
                (format!("otpauth://totp/Acme{c}:alice?secret={S}"), Label),
                (format!("otpauth://totp/alice{c}?secret={S}"), Label),
                (
                    format!("otpauth://totp/alice?secret={S}&issuer=Ac{c}me"),
                    Parameter("issuer"),
                ),
                // (Before the secret: at the very end, a raw one is white space around the
                // pasted URI.)
                (
                    format!("otpauth://totp/alice?issuer=Acme{c}&secret={S}"),
                    Parameter("issuer"),
                ),
            ] {
                let refused = Err(Error::Uri(UriError::ControlCharacter { part }));
                assert_eq!(text.parse::<OtpAuthUri>(), refused, "{text:?}");
                assert_eq!(OtpAuthUri::parse_legacy(&text), refused, "{text:?}");
            }
        }
    }
    // Even in a label prefix that `parse_legacy` would drop for the issuer parameter.
    assert_eq!(
        OtpAuthUri::parse_legacy(&format!("otpauth://totp/A%1Bb:x?secret={S}&issuer=C")),
        Err(Error::Uri(UriError::ControlCharacter { part: Label }))
    );
}

#[test]
fn a_non_https_image_is_dropped_and_reported() {
    for image in [
        "http%3A%2F%2Fexample.com%2Fa.png",
        "javascript:alert(1)",
        "https://",
        "",
    ] {
        let text = format!("otpauth://totp/Acme:alice?secret={S}&issuer=Acme&image={image}");
        let uri: OtpAuthUri = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(uri.image(), None, "{text}");
        let report = uri.compatibility();
        assert!(!report.is_widely_supported(), "{text}");
        assert_eq!(
            report.warnings().collect::<Vec<_>>(),
            [CompatibilityWarning::ImageDropped],
            "{text}"
        );
        assert!(
            CompatibilityWarning::ImageDropped
                .to_string()
                .contains("https")
        );
        // What is left is the URI without the image, and writes as such.
        let without = format!("otpauth://totp/Acme:alice?secret={S}&issuer=Acme");
        assert_eq!(uri.to_string(), without);
        let reread: OtpAuthUri = without.parse().unwrap();
        assert_eq!(reread, uri);
        assert!(reread.compatibility().is_widely_supported());
        assert_eq!(OtpAuthUri::parse_legacy(&text).unwrap().image(), None);
    }
    // An https image is kept, with no warning; other warnings come first.
    let text =
        format!("otpauth://totp/x?secret={S}&digits=8&image=HTTPS%3A%2F%2Fexample.com%2Fa.png");
    let uri: OtpAuthUri = text.parse().unwrap();
    assert_eq!(uri.image(), Some("HTTPS://example.com/a.png"));
    assert_eq!(
        uri.compatibility().warnings().collect::<Vec<_>>(),
        [CompatibilityWarning::Digits(8)]
    );
    let text = format!("otpauth://hotp/x?secret={S}&counter=0&image=ftp://a");
    assert_eq!(
        text.parse::<OtpAuthUri>()
            .unwrap()
            .compatibility()
            .warnings()
            .collect::<Vec<_>>(),
        [
            CompatibilityWarning::CounterBased,
            CompatibilityWarning::ImageDropped
        ]
    );
}

#[test]
fn parse_legacy_lets_the_issuer_parameter_win() {
    // Microsoft's form: the label prefix names the tenant, the parameter the issuer.
    let text = format!("otpauth://totp/Contoso:me@example.com?secret={S}&issuer=Microsoft");
    assert_eq!(
        text.parse::<OtpAuthUri>(),
        Err(Error::Uri(UriError::IssuerMismatch))
    );
    let uri = OtpAuthUri::parse_legacy(&text).unwrap();
    assert_eq!(uri.issuer(), Some("Microsoft"));
    assert_eq!(uri.account(), "me@example.com");
    assert_eq!(
        uri.to_string(),
        format!("otpauth://totp/Microsoft:me%40example.com?secret={S}&issuer=Microsoft")
    );
    // Agreement up to white space is no mismatch, in either mode.
    let text = format!("otpauth://totp/%20Acme%20:x?secret={S}&issuer=Acme+");
    assert_eq!(text.parse::<OtpAuthUri>().unwrap().issuer(), Some("Acme"));
    // The parameter still has to be a name the label can carry.
    let text = format!("otpauth://totp/Contoso:me?secret={S}&issuer=Micro:soft");
    assert_eq!(
        OtpAuthUri::parse_legacy(&text),
        Err(Error::Uri(UriError::ColonInName {
            part: UriPart::Issuer
        }))
    );
}

/// The label splits at its first colon, so a colon in a name, raw or `%3A`, also splits it in
/// the wrong place. Both modes name the colon, and before they compare the `issuer` parameter
/// with the label's prefix, so a colon is never reported as a mismatch.
#[test]
fn a_colon_in_a_name_is_named_before_the_issuers_are_compared() {
    let cases = [
        // pyotp 2.12.1's output, verbatim, for
        // `TOTP(secret).provisioning_uri(name="alice", issuer_name="Foo: Bar")`: the label
        // reads as the issuer `Foo` and the account ` Bar:alice`.
        (
            "otpauth://totp/Foo%3A%20Bar:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\
             &issuer=Foo%3A%20Bar"
                .to_string(),
            UriPart::Issuer,
        ),
        // The same names with raw colons.
        (
            format!("otpauth://totp/Foo:Bar:alice?secret={S}&issuer=Foo:Bar"),
            UriPart::Issuer,
        ),
        // A colon in the parameter, whatever the prefix.
        (
            format!("otpauth://totp/Foo:alice?secret={S}&issuer=Foo%3ABar"),
            UriPart::Issuer,
        ),
        (
            format!("otpauth://totp/alice?secret={S}&issuer=Foo%3ABar"),
            UriPart::Issuer,
        ),
        // With no colon in the parameter, a second colon in the label is the account
        // name's, whether the prefix agrees with the parameter, differs from it, or stands
        // alone.
        (
            format!("otpauth://totp/Foo:Bar:alice?secret={S}&issuer=Foo"),
            UriPart::Account,
        ),
        (
            format!("otpauth://totp/Foo:Bar:alice?secret={S}&issuer=Baz"),
            UriPart::Account,
        ),
        (
            format!("otpauth://totp/Foo:Bar:alice?secret={S}"),
            UriPart::Account,
        ),
        (
            format!("otpauth://totp/Foo%3ABar%3Aalice?secret={S}"),
            UriPart::Account,
        ),
        // pyotp's form for the account `a:b`, and the same with a differing parameter.
        (
            format!("otpauth://totp/Foo:a%3Ab?secret={S}&issuer=Foo"),
            UriPart::Account,
        ),
        (
            format!("otpauth://totp/Foo:a%3Ab?secret={S}&issuer=Baz"),
            UriPart::Account,
        ),
    ];
    for (text, part) in cases {
        let colon = Err(Error::Uri(UriError::ColonInName { part }));
        assert_eq!(text.parse::<OtpAuthUri>(), colon, "{text}");
        assert_eq!(OtpAuthUri::parse_legacy(&text), colon, "legacy: {text}");
    }
    // One colon, raw or encoded, is the separator; a mismatch without a colon is still one.
    let uri: OtpAuthUri = format!("otpauth://totp/Foo%3Aalice?secret={S}&issuer=Foo")
        .parse()
        .unwrap();
    assert_eq!((uri.issuer(), uri.account()), (Some("Foo"), "alice"));
    assert_eq!(
        format!("otpauth://totp/Foo:alice?secret={S}&issuer=Baz").parse::<OtpAuthUri>(),
        Err(Error::Uri(UriError::IssuerMismatch))
    );
}

#[test]
fn an_empty_encoder_is_no_encoder() {
    for text in [
        format!("otpauth://totp/x?secret={S}&encoder="),
        format!("otpauth://totp/x?secret={S}&encoder=+"),
    ] {
        let uri: OtpAuthUri = text.parse().unwrap();
        assert_eq!(uri.digits(), 6);
    }
    let steam = format!("otpauth://totp/Steam:x?secret={S}&encoder=steam");
    assert_eq!(
        OtpAuthUri::parse_legacy(&steam),
        Err(Error::Uri(UriError::UnsupportedEncoder))
    );
}

#[test]
fn debug_redacts_and_display_exposes() {
    let text = totp_rs_url(Some("Acme"), "alice");
    let uri: OtpAuthUri = text.parse().unwrap();
    let debug = format!("{uri:?}");
    assert!(!debug.contains(&S[..8]), "{debug}");
    assert!(debug.contains("Acme") && debug.contains("alice"), "{debug}");
    assert_eq!(uri.to_string(), text);
    assert_eq!(*uri.to_zeroizing_string(), text);
    assert_eq!(
        &*uri.manual_entry_key(),
        "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"
    );
}

/// Strategy for URI-like text that gets past the scheme, to reach the deeper parsing paths.
fn uri_like() -> impl Strategy<Value = String> {
    let name = prop::sample::select(vec![
        "secret",
        "SECRET",
        "issuer",
        "algorithm",
        "digits",
        "period",
        "counter",
        "image",
        "foo",
        "",
    ]);
    // Plausible values often enough that many of the URIs parse, and noise.
    let value = prop_oneof![
        Just(S.to_string()),
        "[A-Za-z2-7 -]{26,60}",
        prop::sample::select(vec!["SHA1", "sha256", "SHA-512", "https://x.io/a.png"])
            .prop_map(String::from),
        "[0-9]{1,3}",
        "([A-Za-z2-7=%+: ]|%[0-9A-Fa-f]{2}|%|[0-9]|é|🔐){0,40}",
    ];
    let label = prop_oneof![
        3 => "[A-Za-z0-9.@ ]{0,12}(:|%3A|%3a)?(%20)?[A-Za-z0-9.@+é ]{1,12}",
        1 => "([A-Za-z:@ %+/?#]|%[0-9A-Fa-f]{2}|é){0,30}",
    ];
    (
        prop::sample::select(vec![
            "otpauth://totp/",
            "otpauth://hotp/",
            "OTPAUTH://TOTP/",
            "otpauth://x/",
            "otpauth://",
        ]),
        label,
        prop::option::weighted(0.8, Just(S)),
        prop::collection::vec((name, value), 0..6),
    )
        .prop_map(|(prefix, label, secret, params)| {
            let query: Vec<String> = secret
                .map(|s| format!("secret={s}"))
                .into_iter()
                .chain(params.iter().map(|(n, v)| format!("{n}={v}")))
                .collect();
            format!("{prefix}{label}?{}", query.join("&"))
        })
}

#[test]
fn uri_like_strategy_reaches_valid_uris() {
    // Guards the property below against passing vacuously.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = uri_like();
    let parsed = (0..2000)
        .filter(|_| {
            let text = strategy.new_tree(&mut runner).unwrap().current();
            text.parse::<OtpAuthUri>().is_ok()
        })
        .count();
    assert!(parsed >= 100, "only {parsed} of 2000 parsed");
}

proptest! {
    #[test]
    fn any_string_parses_without_panic(text in any::<String>()) {
        let _ = text.parse::<OtpAuthUri>();
        let _ = OtpAuthUri::parse_legacy(&text);
    }

    #[test]
    fn uri_like_strings_parse_without_panic_and_round_trip(text in uri_like()) {
        if let Ok(uri) = text.parse::<OtpAuthUri>() {
            // Whatever parses, displays to text that parses to the same URI.
            let again: OtpAuthUri = uri.to_string().parse().unwrap();
            prop_assert_eq!(again, uri);
        }
    }

    #[test]
    fn built_uris_round_trip(
        issuer in prop::option::of("[^:]{0,20}"),
        account in "[^:]{0,20}",
        algorithm in prop::sample::select(vec![Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512]),
        digits in 6u32..=8,
        period in 1u64..=1_000_000,
        counter in any::<u64>(),
        hotp in any::<bool>(),
        bytes in prop::collection::vec(any::<u8>(), 16..=128),
    ) {
        let secret = Secret::from_bytes(&bytes).unwrap();
        let built = if hotp {
            let hotp = Hotp::builder(secret).algorithm(algorithm).digits(digits).build().unwrap();
            OtpAuthUri::for_hotp(&hotp, counter, &account).issuer(issuer.as_deref()).build()
        } else {
            let totp = Totp::builder(secret).algorithm(algorithm).digits(digits).period(period)
                .build().unwrap();
            OtpAuthUri::for_totp(&totp, &account).issuer(issuer.as_deref()).build()
        };
        let has_control = |name: &str| name.chars().any(char::is_control);
        let refusal = match issuer.as_deref() {
            Some(issuer) if has_control(issuer) => Some(UriError::ControlCharacter { part: UriPart::Issuer }),
            Some(issuer) if issuer.trim().is_empty() => Some(UriError::EmptyIssuer),
            _ if has_control(&account) => Some(UriError::ControlCharacter { part: UriPart::Account }),
            _ if account.trim().is_empty() => Some(UriError::EmptyAccount),
            _ => None,
        };
        if let Some(refusal) = refusal {
            prop_assert_eq!(built, Err(Error::Uri(refusal)));
            return Ok(());
        }
        let uri = built.unwrap();
        prop_assert_eq!(uri.issuer(), issuer.as_deref().map(str::trim));
        prop_assert_eq!(uri.account(), account.trim());
        let parsed: OtpAuthUri = uri.to_string().parse().unwrap();
        prop_assert_eq!(parsed, uri);
    }
}
