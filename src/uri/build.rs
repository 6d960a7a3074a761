//! Building a URI from a generator and the names an authenticator app shows.

use alloc::string::String;

use super::write::{check_image, check_names, refuse_controls};
use super::{Kind, OtpAuthUri, UriError, UriPart};
use crate::{Error, Hotp, Totp};

impl OtpAuthUri {
    /// Starts building the URI for a TOTP and the account it belongs to.
    ///
    /// `account` is the name the app shows for this entry, typically the user's e-mail
    /// address. The issuer (your service's name, shown above it) and an image are optional and
    /// set on the [`OtpAuthUriBuilder`], each by its own name, so the two names cannot be
    /// swapped by accident.
    ///
    /// ```
    /// use twofa::{Algorithm, OtpAuthUri, Secret, Totp};
    ///
    /// let totp = Totp::builder(Secret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")?)
    ///     .algorithm(Algorithm::Sha256)
    ///     .digits(8)
    ///     .build()?;
    /// let uri = OtpAuthUri::for_totp(&totp, "alice@example.com")
    ///     .issuer("Example")
    ///     .build()?;
    /// assert_eq!(
    ///     uri.to_string(),
    ///     "otpauth://totp/Example:alice%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
    ///      &issuer=Example&algorithm=SHA256&digits=8"
    /// );
    ///
    /// // Without an issuer the label is the account name alone.
    /// let uri = OtpAuthUri::for_totp(&totp, "alice").build()?;
    /// assert_eq!(uri.issuer(), None);
    /// assert!(uri.to_string().starts_with("otpauth://totp/alice?secret="));
    /// # Ok::<(), twofa::Error>(())
    /// ```
    pub fn for_totp<'a>(totp: &'a Totp, account: &'a str) -> OtpAuthUriBuilder<'a> {
        OtpAuthUriBuilder::new(Source::Totp(totp), account)
    }

    /// Starts building the URI for an HOTP whose next expected counter is `counter`, and the
    /// account it belongs to; see [`OtpAuthUri::for_totp`].
    ///
    /// ```
    /// use twofa::{Hotp, OtpAuthUri, Secret};
    ///
    /// let hotp = Hotp::new(Secret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")?);
    /// let uri = OtpAuthUri::for_hotp(&hotp, 7, "bob").issuer("Example").build()?;
    /// assert_eq!(
    ///     uri.to_string(),
    ///     "otpauth://hotp/Example:bob?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example&counter=7"
    /// );
    /// # Ok::<(), twofa::Error>(())
    /// ```
    pub fn for_hotp<'a>(hotp: &'a Hotp, counter: u64, account: &'a str) -> OtpAuthUriBuilder<'a> {
        OtpAuthUriBuilder::new(Source::Hotp { hotp, counter }, account)
    }
}

/// The names and image of an [`OtpAuthUri`] being built; made by [`OtpAuthUri::for_totp`] or
/// [`OtpAuthUri::for_hotp`], finished by [`OtpAuthUriBuilder::build`].
///
/// Leading and trailing white space is removed from the issuer and the account name (apps
/// drop it anyway).
///
/// ```
/// use twofa::{OtpAuthUri, Secret, Totp};
///
/// let totp = Totp::new(Secret::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")?);
/// // A host that keeps the issuer as an `Option` passes it as it is.
/// let configured: Option<String> = Some("Example".into());
/// let uri = OtpAuthUri::for_totp(&totp, "alice")
///     .issuer(configured.as_deref())
///     .image("https://example.com/logo.png")
///     .build()?;
/// assert_eq!(uri.issuer(), Some("Example"));
/// assert_eq!(uri.image(), Some("https://example.com/logo.png"));
/// # Ok::<(), twofa::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "call `build` to get the URI"]
pub struct OtpAuthUriBuilder<'a> {
    source: Source<'a>,
    account: &'a str,
    issuer: Option<&'a str>,
    image: Option<&'a str>,
}

/// The generator a URI is built for.
#[derive(Debug, Clone, Copy)]
enum Source<'a> {
    Totp(&'a Totp),
    Hotp { hotp: &'a Hotp, counter: u64 },
}

impl<'a> OtpAuthUriBuilder<'a> {
    fn new(source: Source<'a>, account: &'a str) -> OtpAuthUriBuilder<'a> {
        OtpAuthUriBuilder {
            source,
            account,
            issuer: None,
            image: None,
        }
    }

    /// Sets the issuer, the name of the service that the app shows above the account: written
    /// both as the label prefix and as the `issuer` parameter, as apps expect. `None` (the
    /// default) builds a URI without one.
    pub fn issuer(mut self, issuer: impl Into<Option<&'a str>>) -> OtpAuthUriBuilder<'a> {
        self.issuer = issuer.into();
        self
    }

    /// Sets the `image` parameter: the https URL of a logo that some apps show next to the
    /// account.
    pub fn image(mut self, url: &'a str) -> OtpAuthUriBuilder<'a> {
        self.image = Some(url);
        self
    }

    /// The URI.
    ///
    /// # Errors
    ///
    /// [`Error::Uri`] with
    /// - [`UriError::ControlCharacter`] naming the issuer or the account when it holds a
    ///   control character (NUL, newline, ESC, any Unicode `Cc`);
    /// - [`UriError::ColonInName`] naming the issuer or the account when it contains `:`;
    /// - [`UriError::EmptyIssuer`] for an issuer that is empty or only white space (leave it
    ///   out, or pass `None`, for a URI without one);
    /// - [`UriError::EmptyAccount`] for an empty account name;
    /// - [`UriError::ImageNotHttps`] unless the image URL starts with `https://` and has more
    ///   after it;
    /// - [`UriError::NonZeroT0`] when the TOTP's start time is not 0, which the format cannot
    ///   express;
    /// - [`UriError::TooLong`] when the label, the image or the whole URI would exceed
    ///   [`OtpAuthUri::MAX_LABEL_LEN`], [`OtpAuthUri::MAX_VALUE_LEN`] or
    ///   [`OtpAuthUri::MAX_LEN`].
    pub fn build(self) -> Result<OtpAuthUri, Error> {
        let (secret, kind, algorithm, digits) = match self.source {
            Source::Totp(totp) => {
                if totp.t0() != 0 {
                    return Err(UriError::NonZeroT0.into());
                }
                let kind = Kind::Totp {
                    period: totp.period(),
                };
                (totp.secret(), kind, totp.algorithm(), totp.digits())
            }
            Source::Hotp { hotp, counter } => (
                hotp.secret(),
                Kind::Hotp { counter },
                hotp.algorithm(),
                hotp.digits(),
            ),
        };
        let (issuer, account) = builder_names(self.issuer, self.account)?;
        if let Some(url) = self.image {
            check_image(url)?;
        }
        let uri = OtpAuthUri {
            secret: secret.clone(),
            kind,
            issuer: issuer.map(String::from),
            account: String::from(account),
            algorithm,
            digits,
            image: self.image.map(String::from),
            image_dropped: false,
        };
        uri.check_len()?;
        Ok(uri)
    }
}

/// Refuses an issuer that the builder would refuse, whatever the account name; an empty one
/// means none.
pub(crate) fn check_issuer(issuer: &str) -> Result<(), UriError> {
    builder_names(Some(issuer).filter(|i| !i.trim().is_empty()), "x").map(|_| ())
}

/// The builder's rules for the names, on the caller's text: no control characters, no empty
/// issuer, then what every label needs. Returns the names trimmed.
pub(super) fn builder_names<'n>(
    issuer: Option<&'n str>,
    account: &'n str,
) -> Result<(Option<&'n str>, &'n str), UriError> {
    if let Some(issuer) = issuer {
        refuse_controls(issuer, UriPart::Issuer)?;
        if issuer.trim().is_empty() {
            return Err(UriError::EmptyIssuer);
        }
    }
    refuse_controls(account, UriPart::Account)?;
    check_names(issuer, account)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_take_an_issuer_the_builder_takes_or_none() {
        assert_eq!(check_issuer(""), Ok(()));
        assert_eq!(check_issuer(" "), Ok(()));
        assert_eq!(check_issuer(" Acme "), Ok(()));
        assert_eq!(
            check_issuer("Ac\u{1b}me"),
            Err(UriError::ControlCharacter {
                part: UriPart::Issuer
            })
        );
        assert_eq!(
            check_issuer("A:B"),
            Err(UriError::ColonInName {
                part: UriPart::Issuer
            })
        );
    }
}
