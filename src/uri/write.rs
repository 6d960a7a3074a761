//! Writing URIs: the checks that keep every URI writable and parseable, and the text itself.

use core::fmt;

use super::encoding;
use super::error::check_cap;
use super::{
    DEFAULT_ALGORITHM, DEFAULT_DIGITS, DEFAULT_PERIOD, Kind, OtpAuthUri, UriError, UriPart,
};

impl OtpAuthUri {
    /// Holds every URI, built or parsed, to [`OtpAuthUri::MAX_LEN`] once written out, so that
    /// anything this type displays parses back and fits a QR code.
    pub(super) fn check_len(&self) -> Result<(), UriError> {
        check_cap(UriPart::Uri, self.len(), Self::MAX_LEN)
    }
    /// The length of the URI text in bytes.
    pub(super) fn len(&self) -> usize {
        let mut counter = Counter(0);
        let _ = self.write_to(&mut counter);
        counter.0
    }
    pub(super) fn write_to<W: fmt::Write + ?Sized>(&self, out: &mut W) -> fmt::Result {
        out.write_str("otpauth://")?;
        out.write_str(self.otp_type().as_str())?;
        out.write_char('/')?;
        if let Some(issuer) = &self.issuer {
            encoding::write_encoded(out, issuer)?;
            out.write_char(':')?;
        }
        encoding::write_encoded(out, &self.account)?;
        out.write_str("?secret=")?;
        out.write_str(&self.secret.to_base32())?;
        if let Some(issuer) = &self.issuer {
            out.write_str("&issuer=")?;
            encoding::write_encoded(out, issuer)?;
        }
        if self.algorithm != DEFAULT_ALGORITHM {
            out.write_str("&algorithm=")?;
            out.write_str(self.algorithm.as_str())?;
        }
        if self.digits != DEFAULT_DIGITS {
            write!(out, "&digits={}", self.digits)?;
        }
        match self.kind {
            Kind::Totp { period } if period == DEFAULT_PERIOD => {}
            Kind::Totp { period } => write!(out, "&period={period}")?,
            Kind::Hotp { counter } => write!(out, "&counter={counter}")?,
        }
        if let Some(image) = &self.image {
            out.write_str("&image=")?;
            encoding::write_encoded(out, image)?;
        }
        Ok(())
    }
}

/// Trims the names and refuses what a label cannot hold: a colon in either, an empty account
/// name, a label over [`OtpAuthUri::MAX_LABEL_LEN`]. An issuer, when given, is not blank.
pub(super) fn check_names<'n>(
    issuer: Option<&'n str>,
    account: &'n str,
) -> Result<(Option<&'n str>, &'n str), UriError> {
    let issuer = issuer.map(str::trim);
    let account = account.trim();
    if let Some(issuer) = issuer {
        refuse_colon(issuer, UriPart::Issuer)?;
    }
    refuse_colon(account, UriPart::Account)?;
    if account.is_empty() {
        return Err(UriError::EmptyAccount);
    }
    let len = issuer.map_or(0, |issuer| issuer.len() + 1) + account.len();
    check_cap(UriPart::Label, len, OtpAuthUri::MAX_LABEL_LEN)?;
    Ok((issuer, account))
}

/// Refuses a colon in a name: the label holds one colon, between the issuer and the account.
pub(super) fn refuse_colon(name: &str, part: UriPart) -> Result<(), UriError> {
    if name.contains(':') {
        return Err(UriError::ColonInName { part });
    }
    Ok(())
}

/// Refuses control characters (Unicode `Cc`: NUL, newline, ESC, DEL, C1 controls), which would
/// reach the host's logs and terminals and which some databases cannot store.
pub(super) fn refuse_controls(text: &str, part: UriPart) -> Result<(), UriError> {
    if text.chars().any(char::is_control) {
        return Err(UriError::ControlCharacter { part });
    }
    Ok(())
}

/// The builder's rule for the `image` URL: https, and within [`OtpAuthUri::MAX_VALUE_LEN`].
pub(super) fn check_image(url: &str) -> Result<(), UriError> {
    check_cap(
        UriPart::Parameter("image"),
        url.len(),
        OtpAuthUri::MAX_VALUE_LEN,
    )?;
    if !is_https(url) {
        return Err(UriError::ImageNotHttps);
    }
    Ok(())
}

/// Whether `url` starts with `https://` (in any case) and has more after it.
pub(super) fn is_https(url: &str) -> bool {
    const HTTPS: &str = "https://";
    url.as_bytes()
        .split_at_checked(HTTPS.len())
        .is_some_and(|(scheme, rest)| {
            scheme.eq_ignore_ascii_case(HTTPS.as_bytes()) && !rest.is_empty()
        })
}

/// A `fmt::Write` that only counts bytes, to measure a URI without writing out its secret.
struct Counter(usize);

impl fmt::Write for Counter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 = self.0.saturating_add(s.len());
        Ok(())
    }
}
