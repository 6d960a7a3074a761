//! Reading otpauth URIs. The rules are listed on `OtpAuthUri`'s `FromStr` impl.

use alloc::string::String;

use zeroize::Zeroizing;

use super::encoding::{self, Plus};
use super::error::check_cap;
use super::write::{check_names, is_https, refuse_colon, refuse_controls};
use super::{DEFAULT_ALGORITHM, DEFAULT_DIGITS, DEFAULT_PERIOD};
use super::{Kind, OtpAuthUri, SecretProblem, UriError, UriPart};
use crate::Secret;
use crate::otp::{check_digits, check_period};

/// How forgiving the parser is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// `str::parse`: secrets of [`Secret::MIN_LEN`] bytes or more; an `issuer` parameter
    /// must agree with the label's prefix.
    Strict,
    /// `OtpAuthUri::parse_legacy`: legacy secrets, and the `issuer` parameter wins over the
    /// label's prefix.
    Legacy,
}

/// Parses `text`.
pub(super) fn parse(text: &str, mode: Mode) -> Result<OtpAuthUri, UriError> {
    // Pasted text often brings a space or a newline with it.
    let text = text.trim();
    check_cap(UriPart::Uri, text.len(), OtpAuthUri::MAX_LEN)?;
    let (scheme, rest) = text.split_once("://").ok_or(UriError::NotOtpAuth)?;
    if !scheme.eq_ignore_ascii_case("otpauth") {
        return Err(UriError::NotOtpAuth);
    }
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (otp_type, label) = path.split_once('/').unwrap_or((path, ""));
    let is_totp = if otp_type.eq_ignore_ascii_case("totp") {
        true
    } else if otp_type.eq_ignore_ascii_case("hotp") {
        false
    } else {
        return Err(UriError::UnknownType);
    };

    let label = decode_label(label)?;
    let (prefix, account) = match label.split_once(':') {
        Some((prefix, account)) => (Some(prefix), account),
        None => (None, label.as_str()),
    };
    let params = Params::read(query, if is_totp { Name::Counter } else { Name::Period })?;
    if params
        .get(Name::Encoder)
        .is_some_and(|e| !e.trim().is_empty())
    {
        return Err(UriError::UnsupportedEncoder);
    }

    let secret_text = params
        .get(Name::Secret)
        .filter(|s| !s.trim().is_empty())
        .ok_or(UriError::MissingSecret)?;
    let secret = read_secret(secret_text, mode)?;

    let param = params.get(Name::Issuer);
    if let Some(param) = param {
        refuse_controls(param, UriPart::Parameter("issuer"))?;
    }
    refuse_colons(param, account)?;
    let issuer = settle_issuer(prefix, param, mode)?;
    // The label written back must pass the same checks as one built from these names.
    let (issuer, account) = check_names(issuer, account)?;

    let algorithm = match params.get(Name::Algorithm) {
        None => DEFAULT_ALGORITHM,
        Some(name) => name.parse().map_err(|_| UriError::UnknownAlgorithm)?,
    };
    let digits = match params.get(Name::Digits) {
        None => DEFAULT_DIGITS,
        Some(value) => decimal(value)
            .and_then(|d| u32::try_from(d).ok())
            .and_then(|d| check_digits(d).ok())
            .ok_or(UriError::InvalidDigits)?,
    };
    let kind = if is_totp {
        let period = match params.get(Name::Period) {
            None => DEFAULT_PERIOD,
            Some(value) => decimal(value)
                .filter(|&p| check_period(p).is_ok())
                .ok_or(UriError::InvalidPeriod)?,
        };
        Kind::Totp { period }
    } else {
        let value = params.get(Name::Counter).ok_or(UriError::MissingCounter)?;
        Kind::Hotp {
            counter: decimal(value).ok_or(UriError::InvalidCounter)?,
        }
    };
    // A logo is not worth refusing the secret over: a non-https one is left out and reported.
    let image = params.get(Name::Image);
    let image_dropped = image.is_some_and(|url| !is_https(url));

    let uri = OtpAuthUri {
        secret,
        kind,
        issuer: issuer.map(String::from),
        account: String::from(account),
        algorithm,
        digits,
        image: image.filter(|_| !image_dropped).map(String::from),
        image_dropped,
    };
    // A URI that arrived with raw non-ASCII characters is longer once we percent-encode it;
    // refusing it here keeps every `OtpAuthUri` displayable within the cap.
    uri.check_len()?;
    Ok(uri)
}

/// Percent-decodes the label (`issuer:account`), checking its length, encoding and
/// characters.
fn decode_label(raw: &str) -> Result<String, UriError> {
    let part = UriPart::Label;
    let bytes =
        encoding::decode(raw, Plus::Literal).ok_or(UriError::InvalidPercentEncoding { part })?;
    check_cap(part, bytes.len(), OtpAuthUri::MAX_LABEL_LEN)?;
    let label = String::from_utf8(bytes).map_err(|_| UriError::NotUtf8 { part })?;
    refuse_controls(&label, part)?;
    Ok(label)
}

/// Refuses a colon in the `issuer` parameter or the account name, before the parameter is
/// compared with the label's prefix.
///
/// The label splits at its first colon, so a colon in a name also splits it in the wrong
/// place, and comparing issuers would report only that side effect. pyotp writes the issuer
/// `Foo: Bar` as `Foo%3A%20Bar:alice?...&issuer=Foo%3A%20Bar`, whose label reads as the issuer
/// `Foo` and the account ` Bar:alice`: the parameter, checked first, names the issuer. The
/// prefix ends at the first colon and so never holds one; a second colon in the label is
/// reported as the account name's.
fn refuse_colons(param: Option<&str>, account: &str) -> Result<(), UriError> {
    if let Some(param) = param {
        refuse_colon(param, UriPart::Issuer)?;
    }
    refuse_colon(account, UriPart::Account)
}

/// The issuer from the label's `prefix` and the `issuer` parameter, untrimmed, or `None` when
/// both are absent or blank.
fn settle_issuer<'a>(
    prefix: Option<&'a str>,
    param: Option<&'a str>,
    mode: Mode,
) -> Result<Option<&'a str>, UriError> {
    let given = |name: Option<&'a str>| name.filter(|name| !name.trim().is_empty());
    match (given(prefix), given(param)) {
        (Some(prefix), Some(param)) if prefix.trim() != param.trim() && mode == Mode::Strict => {
            Err(UriError::IssuerMismatch)
        }
        (_, Some(param)) => Ok(Some(param)),
        (prefix, None) => Ok(prefix),
    }
}

/// The parameters the parser reads; all others are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Name {
    Secret,
    Issuer,
    Algorithm,
    Digits,
    Period,
    Counter,
    Image,
    Encoder,
}

impl Name {
    const ALL: [Name; 8] = [
        Name::Secret,
        Name::Issuer,
        Name::Algorithm,
        Name::Digits,
        Name::Period,
        Name::Counter,
        Name::Image,
        Name::Encoder,
    ];

    /// The name as written in URIs (matched ignoring case).
    const fn as_str(self) -> &'static str {
        match self {
            Name::Secret => "secret",
            Name::Issuer => "issuer",
            Name::Algorithm => "algorithm",
            Name::Digits => "digits",
            Name::Period => "period",
            Name::Counter => "counter",
            Name::Image => "image",
            Name::Encoder => "encoder",
        }
    }
}

/// The decoded values of the parameters the parser reads, indexed by [`Name`]. Zeroized on
/// drop, since one of them is the secret.
struct Params {
    values: [Option<Zeroizing<String>>; Name::ALL.len()],
}

impl Params {
    /// Reads the query string, skipping unknown parameters and `ignored`.
    fn read(query: &str, ignored: Name) -> Result<Params, UriError> {
        let mut params = Params {
            values: Default::default(),
        };
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let Some(name) = Name::ALL
                .into_iter()
                .find(|known| name.eq_ignore_ascii_case(known.as_str()))
            else {
                continue;
            };
            if name == ignored {
                continue;
            }
            let value = decode_value(name.as_str(), value)?;
            let slot = &mut params.values[name as usize];
            if slot.is_some() {
                return Err(UriError::DuplicateParameter {
                    name: name.as_str(),
                });
            }
            *slot = Some(value);
        }
        Ok(params)
    }

    fn get(&self, name: Name) -> Option<&str> {
        self.values[name as usize].as_deref().map(String::as_str)
    }
}

/// Percent-decodes a parameter value, checking its length and encoding. The result is
/// zeroized on drop, since for `secret` it is the secret.
fn decode_value(name: &'static str, raw: &str) -> Result<Zeroizing<String>, UriError> {
    let part = UriPart::Parameter(name);
    let bytes = Zeroizing::new(
        encoding::decode(raw, Plus::Space).ok_or(UriError::InvalidPercentEncoding { part })?,
    );
    check_cap(part, bytes.len(), OtpAuthUri::MAX_VALUE_LEN)?;
    let text = core::str::from_utf8(&bytes).map_err(|_| UriError::NotUtf8 { part })?;
    Ok(Zeroizing::new(String::from(text)))
}

fn read_secret(text: &str, mode: Mode) -> Result<Secret, UriError> {
    let read = match mode {
        Mode::Strict => Secret::from_base32(text),
        Mode::Legacy => Secret::from_legacy_base32(text),
    };
    read.map_err(|e| UriError::InvalidSecret(SecretProblem::from_secret_error(&e)))
}

/// A decimal number of ASCII digits only (no sign, no spaces) that fits in a `u64`.
fn decimal(text: &str) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    text.bytes().try_fold(0u64, |n, b| {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Algorithm;

    const S: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    fn ok(text: &str) -> OtpAuthUri {
        parse(text, Mode::Strict).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn err(text: &str) -> UriError {
        match parse(text, Mode::Strict) {
            Ok(uri) => panic!("{text} parsed as {uri:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn label_forms_of_the_key_uri_format() {
        for (label, issuer, account) in [
            (
                "Example:alice@google.com",
                Some("Example"),
                "alice@google.com",
            ),
            ("Provider1:Alice%20Smith", Some("Provider1"), "Alice Smith"),
            (
                "Big%20Corporation%3A%20alice%40bigco.com",
                Some("Big Corporation"),
                "alice@bigco.com",
            ),
            ("Acme:%20%20%20bob", Some("Acme"), "bob"),
            ("bob", None, "bob"),
            (":bob", None, "bob"),
            ("a+b/c", None, "a+b/c"),
        ] {
            let uri = ok(&alloc::format!("otpauth://totp/{label}?secret={S}"));
            assert_eq!((uri.issuer(), uri.account()), (issuer, account), "{label}");
        }
    }

    #[test]
    fn issuer_parameter_and_prefix() {
        let uri = ok(&alloc::format!(
            "otpauth://totp/bob?secret={S}&issuer=Big+Co"
        ));
        assert_eq!(uri.issuer(), Some("Big Co"));
        let uri = ok(&alloc::format!(
            "otpauth://totp/Big%20Co:bob?secret={S}&issuer=Big%20Co"
        ));
        assert_eq!(uri.issuer(), Some("Big Co"));
        let uri = ok(&alloc::format!(
            "otpauth://totp/Big%20Co:bob?secret={S}&issuer="
        ));
        assert_eq!(uri.issuer(), Some("Big Co"));
        assert_eq!(
            err(&alloc::format!(
                "otpauth://totp/Big:bob?secret={S}&issuer=Small"
            )),
            UriError::IssuerMismatch
        );
        assert_eq!(
            err(&alloc::format!(
                "otpauth://totp/bob?secret={S}&issuer=a%3Ab"
            )),
            UriError::ColonInName {
                part: UriPart::Issuer
            }
        );
        // The colon is named even where it also makes the prefix differ from the parameter.
        assert_eq!(
            err(&alloc::format!(
                "otpauth://totp/a%3Ab:bob?secret={S}&issuer=a%3Ab"
            )),
            UriError::ColonInName {
                part: UriPart::Issuer
            }
        );
    }

    #[test]
    fn parameters_and_their_defaults() {
        let uri = ok(&alloc::format!(
            "OTPAUTH://TOTP/x?SECRET={S}&algorithm=sha256&Digits=8&period=60&counter=zz&foo=%%"
        ));
        assert_eq!(uri.algorithm(), Algorithm::Sha256);
        assert_eq!((uri.digits(), uri.period()), (8, Some(60)));
        let uri = ok(&alloc::format!(
            "otpauth://hotp/x?secret={S}&counter=0&period=zz#frag"
        ));
        assert_eq!((uri.counter(), uri.period()), (Some(0), None));
        let uri = ok(&alloc::format!(
            "otpauth://totp/x?secret=gezd+gnbv-gy3t%20qojq{}====",
            &S[16..]
        ));
        assert_eq!(uri.secret().expose_bytes(), b"12345678901234567890");
        assert_eq!(
            (uri.algorithm(), uri.digits(), uri.period()),
            (Algorithm::Sha1, 6, Some(30))
        );
    }

    #[test]
    fn secret_problems_are_reported_without_the_secret() {
        assert_eq!(
            err("otpauth://totp/x?secret=GEZDGNBVGY3TQOJ1GEZDGNBVGY3TQOJQ"),
            UriError::InvalidSecret(SecretProblem::InvalidCharacter { position: 15 })
        );
        assert_eq!(
            err("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP"),
            UriError::InvalidSecret(SecretProblem::TooShort { len: 10, min: 16 })
        );
        assert!(parse("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP", Mode::Legacy).is_ok());
        assert_eq!(err("otpauth://totp/x?secret=%20"), UriError::MissingSecret);
    }

    #[test]
    fn decimal_is_strict() {
        assert_eq!(decimal("0"), Some(0));
        assert_eq!(decimal("18446744073709551615"), Some(u64::MAX));
        for bad in [
            "",
            "+1",
            "-1",
            " 1",
            "1 ",
            "18446744073709551616",
            "1e3",
            "٣",
        ] {
            assert_eq!(decimal(bad), None, "{bad}");
        }
    }
}
