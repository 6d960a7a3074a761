//! otpauth Key URIs: what the QR code on an "Enable 2FA" page holds.
//!
//! An [`OtpAuthUri`] is built from a [`Totp`] (or an [`Hotp`] and its counter) plus the names an
//! authenticator app shows ([`OtpAuthUri::for_totp`], [`OtpAuthUriBuilder`]), and parsed from
//! text that users and other systems hand over:
//!
//! ```text
//! otpauth://totp/Plausible%20Analytics:alice%40example.com?secret=...&issuer=Plausible%20Analytics
//! ```
//!
//! Writing follows the Key URI format as authenticator apps read it: RFC 3986
//! percent-encoding (a space is `%20`), the issuer both as the label prefix and as the `issuer`
//! parameter, the secret in base32 without padding, and `algorithm`, `digits` and `period`
//! only when they differ from the defaults (SHA-1, 6, 30), since some apps refuse URIs that
//! spell them out. [`OtpAuthUri::compatibility`] says which settings some apps ignore.
//!
//! Parsing is lenient where real-world URIs vary and strict where a mistake would give the user
//! wrong codes; every refusal is a typed [`UriError`], and no input makes it panic.
//!
//! # Security
//!
//! The URI contains the secret: whoever sees it can make codes. Show it (or its QR code) only
//! to the account owner, while enrolling, and do not log it. [`OtpAuthUri`]'s `Debug` leaves
//! the secret out; its `Display` does not.

mod build;
mod compat;
mod encoding;
mod error;
mod parse;
mod write;

use alloc::string::String;
use core::fmt;
use core::str::FromStr;

use zeroize::Zeroizing;

pub use build::OtpAuthUriBuilder;
pub(crate) use build::check_issuer;
pub use compat::{Compatibility, CompatibilityWarning};
pub use error::{SecretProblem, UriError, UriPart};

use crate::{Algorithm, Error, Hotp, Secret, Totp};

/// What a URI means when it leaves a setting out: the Key URI format's defaults, which are
/// also the only settings every authenticator app honours.
const DEFAULT_ALGORITHM: Algorithm = Algorithm::Sha1;
const DEFAULT_DIGITS: u32 = 6;
const DEFAULT_PERIOD: u64 = 30;

/// The two kinds of one-time password an otpauth URI can describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OtpType {
    /// Time-based (`otpauth://totp/...`, RFC 6238).
    Totp,
    /// Counter-based (`otpauth://hotp/...`, RFC 4226).
    Hotp,
}

impl OtpType {
    /// The name as written in the URI: `totp` or `hotp`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Hotp => "hotp",
        }
    }
}

impl fmt::Display for OtpType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An otpauth Key URI: a secret, its settings, and the names an authenticator app shows.
///
/// Build one with [`OtpAuthUri::for_totp`] or [`OtpAuthUri::for_hotp`]; parse one with
/// [`str::parse`] (`FromStr`) or [`OtpAuthUri::parse_legacy`]; turn it into text with `Display`
/// (`to_string()`), and into a generator with [`OtpAuthUri::to_totp`] or
/// [`OtpAuthUri::to_hotp`].
///
/// ```
/// use twofa::{OtpAuthUri, Secret, Totp};
///
/// let totp = Totp::new(Secret::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")?);
/// let uri = OtpAuthUri::for_totp(&totp, "alice@example.com")
///     .issuer("Plausible Analytics")
///     .build()?;
/// assert_eq!(
///     uri.to_string(),
///     "otpauth://totp/Plausible%20Analytics:alice%40example.com\
///      ?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Plausible%20Analytics"
/// );
///
/// // Parsing gives the same URI back, and a TOTP that makes the same codes.
/// let parsed: OtpAuthUri = uri.to_string().parse()?;
/// assert_eq!(parsed, uri);
/// assert_eq!(parsed.issuer(), Some("Plausible Analytics"));
/// assert_eq!(parsed.account(), "alice@example.com");
/// assert_eq!(parsed.to_totp()?.generate(59), totp.generate(59));
/// # Ok::<(), twofa::Error>(())
/// ```
///
/// # No issuer
///
/// The Key URI format makes the issuer optional. A URI built without
/// [`OtpAuthUriBuilder::issuer`] (or with `.issuer(None)`) has none, and its label is just the
/// account name; a parsed URI whose label has no `issuer:` prefix and whose `issuer` parameter
/// is absent or empty has none either. [`OtpAuthUri::issuer`] returns `None` in both cases,
/// never `Some("")`.
///
/// # Equality
///
/// Two URIs are equal when they say the same thing: the same secret, settings, names and
/// image, hence the same text. How a URI was read does not count: one whose non-https `image`
/// the parser dropped equals the same URI built without an image.
///
/// # Security
///
/// `Display` writes the secret, since the URI is made to carry it: see the
/// [module documentation](self). `Debug` leaves it out.
#[derive(Clone)]
pub struct OtpAuthUri {
    secret: Secret,
    kind: Kind,
    issuer: Option<String>,
    account: String,
    algorithm: Algorithm,
    digits: u32,
    image: Option<String>,
    /// Whether the parser left out an `image` that was not https; see
    /// [`CompatibilityWarning::ImageDropped`].
    image_dropped: bool,
}

/// The type-specific part of a URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Totp { period: u64 },
    Hotp { counter: u64 },
}

impl OtpAuthUri {
    /// The longest URI accepted, in bytes: 2048, which fits a QR code at the default error
    /// correction level (M) whatever the URI holds. Built URIs are held to it as well.
    pub const MAX_LEN: usize = 2048;
    /// The longest label accepted (`issuer:account`, percent-decoded), in bytes.
    pub const MAX_LABEL_LEN: usize = 512;
    /// The longest value of a parameter the parser reads (percent-decoded), in bytes.
    pub const MAX_VALUE_LEN: usize = 512;

    /// Reads a URI that another system issued, with two allowances `str::parse` does not
    /// make:
    ///
    /// - the secret may be a legacy one of 10 to 15 bytes, as [`Secret::from_legacy_base32`]
    ///   allows;
    /// - an `issuer` parameter that names another issuer than the label's prefix wins over it,
    ///   as other libraries now read such URIs (Microsoft's Entra ID issues
    ///   `otpauth://totp/Contoso:me@example.com?...&issuer=Microsoft`). `str::parse` refuses
    ///   them with [`UriError::IssuerMismatch`], since an app may show either name.
    ///
    /// Otherwise the same as `str::parse`. Use it only to import secrets another system
    /// already issued.
    ///
    /// ```
    /// use twofa::OtpAuthUri;
    ///
    /// let text = "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example";
    /// assert!(text.parse::<OtpAuthUri>().is_err()); // an 80-bit secret
    /// let uri = OtpAuthUri::parse_legacy(text)?;
    /// assert_eq!(uri.secret().len(), 10);
    ///
    /// let text = "otpauth://totp/Contoso:me@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Microsoft";
    /// let uri = OtpAuthUri::parse_legacy(text)?;
    /// assert_eq!((uri.issuer(), uri.account()), (Some("Microsoft"), "me@example.com"));
    /// # Ok::<(), twofa::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As `str::parse`, with a minimum secret length of 10 bytes and never
    /// [`UriError::IssuerMismatch`].
    pub fn parse_legacy(text: &str) -> Result<OtpAuthUri, Error> {
        Ok(parse::parse(text, parse::Mode::Legacy)?)
    }

    /// A TOTP with this URI's secret and settings, ready to generate and verify codes, with the
    /// crate's defaults for what the URI does not say (`T0` = 0, a window of one step each
    /// way).
    ///
    /// # Errors
    ///
    /// [`UriError::WrongType`] for an `hotp` URI.
    pub fn to_totp(&self) -> Result<Totp, Error> {
        match self.kind {
            Kind::Totp { period } => Totp::builder(self.secret.clone())
                .algorithm(self.algorithm)
                .digits(self.digits)
                .period(period)
                .build(),
            Kind::Hotp { .. } => Err(UriError::WrongType {
                found: OtpType::Hotp,
            }
            .into()),
        }
    }

    /// An HOTP with this URI's secret and settings, and the counter the URI gives.
    ///
    /// # Errors
    ///
    /// [`UriError::WrongType`] for a `totp` URI.
    pub fn to_hotp(&self) -> Result<(Hotp, u64), Error> {
        match self.kind {
            Kind::Hotp { counter } => {
                let hotp = Hotp::builder(self.secret.clone())
                    .algorithm(self.algorithm)
                    .digits(self.digits)
                    .build()?;
                Ok((hotp, counter))
            }
            Kind::Totp { .. } => Err(UriError::WrongType {
                found: OtpType::Totp,
            }
            .into()),
        }
    }

    /// The URI as text, in a buffer that is overwritten with zeros when dropped.
    ///
    /// The same text as `to_string()`, for callers that pass it on (to a QR encoder, say) and
    /// want no copy of the secret left in freed memory.
    ///
    /// # Security
    ///
    /// The text contains the secret; see the [module documentation](self).
    pub fn to_zeroizing_string(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(self.len()));
        // Writing to a String cannot fail.
        let _ = self.write_to(&mut *out);
        out
    }

    /// The secret in base32 in groups of four, `JBSW Y3DP EHPK ...`, for users who type it
    /// into their app instead of scanning the QR code. Apps ignore the spaces.
    ///
    /// ```
    /// use twofa::{OtpAuthUri, Secret, Totp};
    ///
    /// let totp = Totp::new(Secret::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")?);
    /// let uri = OtpAuthUri::for_totp(&totp, "alice").build()?;
    /// assert_eq!(&*uri.manual_entry_key(), "JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP");
    /// # Ok::<(), twofa::Error>(())
    /// ```
    ///
    /// # Security
    ///
    /// This is the secret itself. Show it only to its owner, while enrolling.
    pub fn manual_entry_key(&self) -> Zeroizing<String> {
        let plain = self.secret.to_base32();
        let mut out = Zeroizing::new(String::with_capacity(plain.len() + plain.len() / 4));
        for (i, c) in plain.chars().enumerate() {
            if i > 0 && i % 4 == 0 {
                out.push(' ');
            }
            out.push(c);
        }
        out
    }

    /// Which settings of this URI some authenticator apps ignore or refuse, and what the
    /// parser left out; see [`Compatibility`].
    pub fn compatibility(&self) -> Compatibility {
        Compatibility::of(self)
    }

    /// TOTP or HOTP.
    pub fn otp_type(&self) -> OtpType {
        match self.kind {
            Kind::Totp { .. } => OtpType::Totp,
            Kind::Hotp { .. } => OtpType::Hotp,
        }
    }

    /// The issuer (the service's name), or `None` when the URI has none.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The account name (typically the user's e-mail address or user name).
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The secret.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// The hash algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The number of digits in a code.
    pub fn digits(&self) -> u32 {
        self.digits
    }

    /// The TOTP period in seconds, or `None` for an HOTP URI.
    pub fn period(&self) -> Option<u64> {
        match self.kind {
            Kind::Totp { period } => Some(period),
            Kind::Hotp { .. } => None,
        }
    }

    /// The HOTP counter, or `None` for a TOTP URI.
    pub fn counter(&self) -> Option<u64> {
        match self.kind {
            Kind::Hotp { counter } => Some(counter),
            Kind::Totp { .. } => None,
        }
    }

    /// The `image` URL, if any.
    pub fn image(&self) -> Option<&str> {
        self.image.as_deref()
    }
}

impl fmt::Display for OtpAuthUri {
    /// Writes the URI, secret included: see the [module documentation](self).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_to(f)
    }
}

impl fmt::Debug for OtpAuthUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("OtpAuthUri");
        s.field("type", &self.otp_type())
            .field("issuer", &self.issuer)
            .field("account", &self.account)
            .field("secret", &self.secret)
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits);
        match self.kind {
            Kind::Totp { period } => s.field("period", &period),
            Kind::Hotp { counter } => s.field("counter", &counter),
        };
        s.field("image", &self.image).finish()
    }
}

impl FromStr for OtpAuthUri {
    type Err = Error;

    /// Reads an otpauth URI.
    ///
    /// - White space around the text (a pasted space or newline) is ignored.
    /// - The scheme and the type (`totp` or `hotp`) are matched ignoring case.
    /// - The label is `account` or `issuer:account`; the colon may be written `%3A`, and
    ///   spaces before the account name are dropped. `+` in the label is a plus sign.
    /// - Neither name may hold a colon, raw or `%3A`: the label splits at its first one, so a
    ///   second is refused as the account name's, and an `issuer` parameter with one is
    ///   refused as the issuer's (see [`UriError::ColonInName`]).
    /// - Parameter values are percent-decoded, with `+` read as a space, as form-encoded query
    ///   strings have it. Parameter names are matched ignoring case.
    /// - The label and the `issuer` may not hold control characters (NUL, newline, ESC, any
    ///   Unicode `Cc`), raw or percent-encoded: they would end up in logs and terminals.
    /// - `secret` is required and read leniently (case, spaces, hyphens, padding), and must be
    ///   [`Secret::MIN_LEN`] bytes or more (see [`OtpAuthUri::parse_legacy`]).
    /// - `issuer`, when present, must agree with the label's prefix; either one alone is
    ///   enough. Neither means no issuer. ([`OtpAuthUri::parse_legacy`] lets the parameter
    ///   win instead.)
    /// - `algorithm` ignores case; `digits` is 6 to 8; `period` is at least 1; `counter` is
    ///   required for `hotp`. Defaults: SHA1, 6, 30.
    /// - An `encoder` (such as Steam's `encoder=steam`, whose codes are not digits) is refused:
    ///   this crate makes only decimal codes.
    /// - An `image` that is not an https URL is left out, and
    ///   [`OtpAuthUri::compatibility`] reports [`CompatibilityWarning::ImageDropped`].
    /// - Unknown parameters (and `period` on `hotp`, `counter` on `totp`) are ignored.
    /// - A fragment (`#...`) is ignored.
    ///
    /// ```
    /// use twofa::OtpAuthUri;
    /// use twofa::uri::CompatibilityWarning;
    ///
    /// let pasted = " otpauth://totp/Acme:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\
    ///               &image=http%3A%2F%2Facme.example%2Flogo.png\n";
    /// let uri: OtpAuthUri = pasted.parse()?;
    /// assert_eq!(uri.image(), None);
    /// assert_eq!(
    ///     uri.compatibility().warnings().collect::<Vec<_>>(),
    ///     [CompatibilityWarning::ImageDropped]
    /// );
    /// # Ok::<(), twofa::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Uri`] with the [`UriError`] that says what is wrong: among others
    /// [`UriError::NotOtpAuth`], [`UriError::MissingSecret`], [`UriError::InvalidSecret`],
    /// [`UriError::ControlCharacter`], [`UriError::ColonInName`],
    /// [`UriError::IssuerMismatch`] (only when neither name holds a colon),
    /// [`UriError::UnsupportedEncoder`], [`UriError::DuplicateParameter`],
    /// [`UriError::InvalidPercentEncoding`], [`UriError::NotUtf8`] and [`UriError::TooLong`]
    /// (over [`OtpAuthUri::MAX_LEN`], [`OtpAuthUri::MAX_LABEL_LEN`] or
    /// [`OtpAuthUri::MAX_VALUE_LEN`]).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(parse::parse(text, parse::Mode::Strict)?)
    }
}

impl PartialEq for OtpAuthUri {
    fn eq(&self, other: &Self) -> bool {
        // Destructured so that a new field cannot be forgotten here.
        let OtpAuthUri {
            secret,
            kind,
            issuer,
            account,
            algorithm,
            digits,
            image,
            image_dropped: _,
        } = self;
        *secret == other.secret
            && *kind == other.kind
            && *issuer == other.issuer
            && *account == other.account
            && *algorithm == other.algorithm
            && *digits == other.digits
            && *image == other.image
    }
}

impl Eq for OtpAuthUri {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    fn secret() -> Secret {
        Secret::from_bytes(b"12345678901234567890").unwrap()
    }

    #[test]
    fn converts_to_generators_of_the_right_type() {
        let hotp = Hotp::builder(secret()).digits(8).build().unwrap();
        let uri = OtpAuthUri::for_hotp(&hotp, 42, "b").build().unwrap();
        assert_eq!(uri.otp_type(), OtpType::Hotp);
        assert_eq!((uri.counter(), uri.period()), (Some(42), None));
        let (back, counter) = uri.to_hotp().unwrap();
        assert_eq!(counter, 42);
        assert_eq!(back.generate(42), hotp.generate(42));
        assert_eq!(
            uri.to_totp().map(|_| ()),
            Err(Error::Uri(UriError::WrongType {
                found: OtpType::Hotp
            }))
        );
        let uri = OtpAuthUri::for_totp(&Totp::new(secret()), "b")
            .build()
            .unwrap();
        assert_eq!(
            uri.to_hotp().map(|_| ()),
            Err(Error::Uri(UriError::WrongType {
                found: OtpType::Totp
            }))
        );
    }

    #[test]
    fn debug_redacts_the_secret() {
        let uri = OtpAuthUri::for_totp(&Totp::new(secret()), "b")
            .build()
            .unwrap();
        let shown = format!("{uri:?}");
        assert!(!shown.contains("GEZDGNBV"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
        assert!(shown.contains("period: 30"), "{shown}");
    }
}
