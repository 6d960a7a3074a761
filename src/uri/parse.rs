//! Reading otpauth URIs. The rules are listed on `OtpAuthUri`'s `FromStr` impl.

use alloc::string::String;

use zeroize::Zeroizing;

use super::encoding::{self, Plus};
use super::{Kind, OtpAuthUri, UriError, UriPart, check_image, check_names};
use crate::{Algorithm, Secret};

/// The parameters the parser reads; all others are ignored.
const KNOWN: [&str; 7] = [
    "secret",
    "issuer",
    "algorithm",
    "digits",
    "period",
    "counter",
    "image",
];

/// Parses `text`, accepting secrets of at least `min_secret_len` bytes.
pub(super) fn parse(text: &str, min_secret_len: usize) -> Result<OtpAuthUri, UriError> {
    if text.len() > OtpAuthUri::MAX_LEN {
        return Err(UriError::TooLong {
            part: UriPart::Uri,
            len: text.len(),
            max: OtpAuthUri::MAX_LEN,
        });
    }
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

    let (label_issuer, account) = parse_label(label)?;
    let params = Params::read(query, if is_totp { "counter" } else { "period" })?;

    let secret_text = params.secret.as_deref().ok_or(UriError::MissingSecret)?;
    if secret_text.trim().is_empty() {
        return Err(UriError::MissingSecret);
    }
    let secret = read_secret(secret_text, min_secret_len)?;

    let issuer = match (label_issuer, params.issuer.as_deref().map(str::trim)) {
        (Some(from_label), Some(param)) if !param.is_empty() && param != from_label => {
            return Err(UriError::IssuerMismatch);
        }
        (_, Some(param)) if !param.is_empty() => {
            if param.contains(':') {
                return Err(UriError::ColonInName {
                    part: UriPart::Issuer,
                });
            }
            Some(String::from(param))
        }
        (from_label, _) => from_label,
    };
    // The issuer may come from the parameter rather than the label; the label written back
    // must pass the same checks as one built from these names.
    check_names(issuer.as_deref().unwrap_or(""), &account)?;

    let algorithm = match params.algorithm.as_deref() {
        None => Algorithm::Sha1,
        Some(name) => name.parse().map_err(|_| UriError::UnknownAlgorithm)?,
    };
    let digits = match params.digits.as_deref() {
        None => 6,
        Some(value) => decimal(value)
            .filter(|d| (6..=8).contains(d))
            .and_then(|d| u32::try_from(d).ok())
            .ok_or(UriError::InvalidDigits)?,
    };
    let kind = if is_totp {
        let period = match params.period.as_deref() {
            None => 30,
            Some(value) => decimal(value)
                .filter(|&p| p >= 1)
                .ok_or(UriError::InvalidPeriod)?,
        };
        Kind::Totp { period }
    } else {
        let value = params.counter.as_deref().ok_or(UriError::MissingCounter)?;
        Kind::Hotp {
            counter: decimal(value).ok_or(UriError::InvalidCounter)?,
        }
    };
    if let Some(image) = params.image.as_deref() {
        check_image(image)?;
    }

    let uri = OtpAuthUri {
        secret,
        kind,
        issuer,
        account,
        algorithm,
        digits,
        image: params.image,
    };
    // A URI that arrived with raw non-ASCII characters is longer once we percent-encode it;
    // refusing it here keeps every `OtpAuthUri` displayable within the cap.
    uri.check_len()?;
    Ok(uri)
}

/// Splits the label into its optional issuer prefix and the account name.
fn parse_label(raw: &str) -> Result<(Option<String>, String), UriError> {
    let bytes = encoding::decode(raw, Plus::Literal).ok_or(UriError::InvalidPercentEncoding {
        part: UriPart::Label,
    })?;
    if bytes.len() > OtpAuthUri::MAX_LABEL_LEN {
        return Err(UriError::TooLong {
            part: UriPart::Label,
            len: bytes.len(),
            max: OtpAuthUri::MAX_LABEL_LEN,
        });
    }
    let label = String::from_utf8(bytes).map_err(|_| UriError::NotUtf8 {
        part: UriPart::Label,
    })?;
    let (issuer, account) = match label.split_once(':') {
        Some((issuer, account)) => (Some(issuer.trim()), account.trim()),
        None => (None, label.trim()),
    };
    if account.contains(':') {
        return Err(UriError::ColonInName {
            part: UriPart::Account,
        });
    }
    if account.is_empty() {
        return Err(UriError::EmptyAccount);
    }
    let issuer = issuer.filter(|i| !i.is_empty()).map(String::from);
    Ok((issuer, String::from(account)))
}

/// The decoded values of the parameters the parser reads.
#[derive(Default)]
struct Params {
    secret: Option<Zeroizing<String>>,
    issuer: Option<String>,
    algorithm: Option<String>,
    digits: Option<String>,
    period: Option<String>,
    counter: Option<String>,
    image: Option<String>,
}

impl Params {
    /// Reads the query string, skipping unknown parameters and `ignored`.
    fn read(query: &str, ignored: &str) -> Result<Params, UriError> {
        let mut params = Params::default();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let Some(&name) = KNOWN.iter().find(|known| name.eq_ignore_ascii_case(known)) else {
                continue;
            };
            if name == ignored {
                continue;
            }
            let value = decode_value(name, value)?;
            let slot = match name {
                "secret" => {
                    if params.secret.is_some() {
                        return Err(UriError::DuplicateParameter { name });
                    }
                    params.secret = Some(value);
                    continue;
                }
                "issuer" => &mut params.issuer,
                "algorithm" => &mut params.algorithm,
                "digits" => &mut params.digits,
                "period" => &mut params.period,
                "counter" => &mut params.counter,
                _ => &mut params.image,
            };
            if slot.is_some() {
                return Err(UriError::DuplicateParameter { name });
            }
            *slot = Some(String::from(value.as_str()));
        }
        Ok(params)
    }
}

/// Percent-decodes a parameter value, checking its length and encoding. The result is
/// zeroized on drop, since for `secret` it is the secret.
fn decode_value(name: &'static str, raw: &str) -> Result<Zeroizing<String>, UriError> {
    let part = UriPart::Parameter(name);
    let bytes = Zeroizing::new(
        encoding::decode(raw, Plus::Space).ok_or(UriError::InvalidPercentEncoding { part })?,
    );
    if bytes.len() > OtpAuthUri::MAX_VALUE_LEN {
        return Err(UriError::TooLong {
            part,
            len: bytes.len(),
            max: OtpAuthUri::MAX_VALUE_LEN,
        });
    }
    let text = core::str::from_utf8(&bytes).map_err(|_| UriError::NotUtf8 { part })?;
    Ok(Zeroizing::new(String::from(text)))
}

fn read_secret(text: &str, min_len: usize) -> Result<Secret, UriError> {
    let read = if min_len < Secret::MIN_LEN {
        Secret::from_legacy_base32(text)
    } else {
        Secret::from_base32(text)
    };
    read.map_err(|e| UriError::InvalidSecret(super::SecretProblem::from_secret_error(&e)))
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
    use crate::uri::SecretProblem;

    const S: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    fn ok(text: &str) -> OtpAuthUri {
        parse(text, Secret::MIN_LEN).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn err(text: &str) -> UriError {
        match parse(text, Secret::MIN_LEN) {
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
        assert!(
            parse(
                "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP",
                Secret::LEGACY_MIN_LEN
            )
            .is_ok()
        );
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
