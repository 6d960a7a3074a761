//! Why an otpauth URI could not be built or parsed.

use core::fmt;

use super::OtpType;
use crate::Error;

/// Why an otpauth URI could not be built or parsed.
///
/// Returned inside [`Error::Uri`]. No variant carries the secret or any other text taken from
/// the URI, so these errors are safe to log and to show.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UriError {
    /// The text does not start with `otpauth://`.
    NotOtpAuth,
    /// The type after `otpauth://` is neither `totp` nor `hotp`.
    UnknownType,
    /// The URI is of the other type than the one asked for, e.g. an `hotp` URI given to
    /// [`OtpAuthUri::to_totp`](super::OtpAuthUri::to_totp).
    WrongType {
        /// The type the URI has.
        found: OtpType,
    },
    /// An issuer or account name contains a colon, which the Key URI format forbids because
    /// the colon separates the two in the label.
    ///
    /// A parsed label splits at its first colon (raw or `%3A`), so a second one is the
    /// account name's, unless the `issuer` parameter holds a colon too: then the issuer is
    /// named. The parser checks this before it compares the parameter with the label's
    /// prefix, so a colon is never reported as [`UriError::IssuerMismatch`].
    ColonInName {
        /// [`UriPart::Issuer`] or [`UriPart::Account`].
        part: UriPart,
    },
    /// The account name is empty (or only white space).
    EmptyAccount,
    /// The issuer given to [`OtpAuthUriBuilder::issuer`](super::OtpAuthUriBuilder::issuer) is
    /// empty or only white space; pass `None` for a URI without an issuer.
    EmptyIssuer,
    /// The label, an issuer or an account name holds a control character (Unicode `Cc`: NUL,
    /// newline, ESC, ...), raw or percent-encoded. Such names would end up in logs and
    /// terminals, and some databases cannot store them.
    ControlCharacter {
        /// [`UriPart::Label`], [`UriPart::Issuer`], [`UriPart::Account`] or
        /// [`UriPart::Parameter`]`("issuer")`.
        part: UriPart,
    },
    /// The `issuer` parameter and the issuer prefix of the label name different issuers.
    IssuerMismatch,
    /// There is no `secret` parameter, or it is empty.
    MissingSecret,
    /// The `secret` parameter is not a usable base32 secret.
    InvalidSecret(SecretProblem),
    /// An `hotp` URI has no `counter` parameter.
    MissingCounter,
    /// The `counter` parameter is not a whole number that fits in 64 bits.
    InvalidCounter,
    /// The `digits` parameter is not 6, 7 or 8.
    InvalidDigits,
    /// The `period` parameter is not a whole number of seconds, at least 1.
    InvalidPeriod,
    /// The `algorithm` parameter is not `SHA1`, `SHA256` or `SHA512` (in any case).
    UnknownAlgorithm,
    /// The `image` URL given to the builder does not start with `https://`. (The parser drops
    /// such an image instead; see
    /// [`CompatibilityWarning::ImageDropped`](super::CompatibilityWarning::ImageDropped).)
    ImageNotHttps,
    /// The URI has an `encoder` parameter, such as Steam Guard's `encoder=steam`: its codes are
    /// not the decimal digits this crate makes, so accepting it would give the user codes that
    /// never verify.
    UnsupportedEncoder,
    /// A TOTP with a start time `T0` other than 0: the Key URI format cannot express it, so an
    /// app would compute different codes.
    NonZeroT0,
    /// A parameter the parser reads appears more than once, so which one an app would use is
    /// anyone's guess.
    DuplicateParameter {
        /// The parameter's name.
        name: &'static str,
    },
    /// A `%` not followed by two hex digits.
    InvalidPercentEncoding {
        /// Where.
        part: UriPart,
    },
    /// Percent-decoding gave bytes that are not UTF-8.
    NotUtf8 {
        /// Where.
        part: UriPart,
    },
    /// A part of the URI is longer than the cap that applies to it (see
    /// [`OtpAuthUri::MAX_LEN`](super::OtpAuthUri::MAX_LEN) and the constants next to it).
    TooLong {
        /// Which part.
        part: UriPart,
        /// Its length in bytes (decoded, except for [`UriPart::Uri`]).
        len: usize,
        /// The cap, in bytes.
        max: usize,
    },
}

/// A part of an otpauth URI, named by [`UriError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UriPart {
    /// The whole URI.
    Uri,
    /// The label: `issuer:account` between the type and the `?`.
    Label,
    /// The issuer.
    Issuer,
    /// The account name.
    Account,
    /// The value of the parameter with this name.
    Parameter(&'static str),
}

/// What is wrong with the `secret` of an otpauth URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretProblem {
    /// A character outside the base32 alphabet, spaces, hyphens and trailing `=`.
    InvalidCharacter {
        /// Zero-based index of the character in the decoded value (in `char`s).
        position: usize,
    },
    /// A number of base32 symbols that cannot encode whole bytes.
    InvalidLength,
    /// Fewer bytes than the minimum (see [`Secret::MIN_LEN`](crate::Secret::MIN_LEN)).
    TooShort {
        /// How many bytes the secret has.
        len: usize,
        /// The minimum that applies.
        min: usize,
    },
    /// More bytes than [`Secret::MAX_LEN`](crate::Secret::MAX_LEN).
    TooLong {
        /// How many bytes the secret has (or would have).
        len: usize,
        /// The maximum.
        max: usize,
    },
}

impl SecretProblem {
    /// The problem behind an error of [`Secret::from_base32`](crate::Secret::from_base32).
    pub(crate) fn from_secret_error(error: &Error) -> SecretProblem {
        match *error {
            Error::InvalidBase32Character { position } => Self::InvalidCharacter { position },
            Error::SecretTooShort { len, min } => Self::TooShort { len, min },
            Error::SecretTooLong { len, max } => Self::TooLong { len, max },
            // The base32 decoder reports nothing else.
            _ => Self::InvalidLength,
        }
    }
}

/// Refuses `len` bytes of `part` over the cap `max` with [`UriError::TooLong`].
pub(super) fn check_cap(part: UriPart, len: usize, max: usize) -> Result<(), UriError> {
    if len > max {
        return Err(UriError::TooLong { part, len, max });
    }
    Ok(())
}

impl core::error::Error for UriError {}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotOtpAuth => f.write_str("not an otpauth:// URI"),
            Self::UnknownType => f.write_str("the type is neither totp nor hotp"),
            Self::WrongType { found } => write!(f, "this is a {found} URI"),
            Self::ColonInName { part } => write!(
                f,
                "{part} contains a colon, which the Key URI format reserves to separate the \
                 issuer from the account name"
            ),
            Self::EmptyAccount => f.write_str("the account name is empty"),
            Self::EmptyIssuer => f.write_str("the issuer is empty; leave it out instead"),
            Self::ControlCharacter { part } => write!(f, "{part} contains a control character"),
            Self::IssuerMismatch => {
                f.write_str("the issuer parameter and the issuer prefix of the label are different")
            }
            Self::MissingSecret => f.write_str("the secret parameter is missing"),
            Self::InvalidSecret(problem) => write!(f, "the secret is not valid: {problem}"),
            Self::MissingCounter => f.write_str("an hotp URI needs a counter parameter"),
            Self::InvalidCounter => f.write_str("the counter is not a 64-bit whole number"),
            Self::InvalidDigits => f.write_str("digits must be 6, 7 or 8"),
            Self::InvalidPeriod => {
                f.write_str("the period must be a whole number of seconds, at least 1")
            }
            Self::UnknownAlgorithm => {
                f.write_str("unknown algorithm; expected SHA1, SHA256 or SHA512")
            }
            Self::ImageNotHttps => f.write_str("the image URL must start with https://"),
            Self::UnsupportedEncoder => f.write_str(
                "the encoder parameter asks for codes other than decimal digits, which are not \
                 supported",
            ),
            Self::NonZeroT0 => {
                f.write_str("the TOTP start time is not 0, which an otpauth URI cannot express")
            }
            Self::DuplicateParameter { name } => {
                write!(f, "the {name} parameter appears more than once")
            }
            Self::InvalidPercentEncoding { part } => {
                write!(f, "{part} has a % not followed by two hex digits")
            }
            Self::NotUtf8 { part } => write!(f, "{part} is not UTF-8 once percent-decoded"),
            Self::TooLong { part, len, max } => {
                write!(f, "{part} is {len} bytes long; at most {max} are allowed")
            }
        }
    }
}

impl fmt::Display for UriPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Uri => f.write_str("the URI"),
            Self::Label => f.write_str("the label"),
            Self::Issuer => f.write_str("the issuer"),
            Self::Account => f.write_str("the account name"),
            Self::Parameter(name) => write!(f, "the {name} parameter"),
        }
    }
}

impl fmt::Display for SecretProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidCharacter { position } => write!(
                f,
                "invalid base32 character at position {}",
                position.saturating_add(1)
            ),
            Self::InvalidLength => f.write_str("a base32 length that cannot encode whole bytes"),
            Self::TooShort { len, min } => {
                write!(f, "{len} bytes long; at least {min} are required")
            }
            Self::TooLong { len, max } => write!(f, "{len} bytes long; at most {max} are allowed"),
        }
    }
}
