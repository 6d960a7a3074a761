//! Writing URIs: building one from its parts, the checks that keep every URI writable and
//! parseable, and the text itself.

use alloc::string::String;
use core::fmt;

use super::{Kind, OtpAuthUri, UriError, UriPart, encoding};
use crate::{Algorithm, Error, Secret};

impl OtpAuthUri {
    pub(super) fn build(
        secret: &Secret,
        kind: Kind,
        algorithm: Algorithm,
        digits: u32,
        issuer: &str,
        account: &str,
    ) -> Result<OtpAuthUri, Error> {
        let issuer = issuer.trim();
        let account = account.trim();
        check_names(issuer, account)?;
        let uri = OtpAuthUri {
            secret: secret.clone(),
            kind,
            issuer: (!issuer.is_empty()).then(|| String::from(issuer)),
            account: String::from(account),
            algorithm,
            digits,
            image: None,
        };
        uri.check_len()?;
        Ok(uri)
    }
    /// Holds every URI, built or parsed, to [`OtpAuthUri::MAX_LEN`] once written out, so that
    /// anything this type displays parses back and fits a QR code.
    pub(super) fn check_len(&self) -> Result<(), UriError> {
        let len = self.len();
        if len > Self::MAX_LEN {
            return Err(UriError::TooLong {
                part: UriPart::Uri,
                len,
                max: Self::MAX_LEN,
            });
        }
        Ok(())
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
        if self.algorithm != Algorithm::Sha1 {
            out.write_str("&algorithm=")?;
            out.write_str(self.algorithm.as_str())?;
        }
        if self.digits != 6 {
            write!(out, "&digits={}", self.digits)?;
        }
        match self.kind {
            Kind::Totp { period: 30 } => {}
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

/// Refuses an issuer that no label could carry, whatever the account name.
pub(crate) fn check_issuer(issuer: &str) -> Result<(), UriError> {
    check_names(issuer.trim(), "x")
}

/// Refuses names that cannot be written in a label, and labels over the cap.
pub(super) fn check_names(issuer: &str, account: &str) -> Result<(), UriError> {
    if issuer.contains(':') {
        return Err(UriError::ColonInName {
            part: UriPart::Issuer,
        });
    }
    if account.contains(':') {
        return Err(UriError::ColonInName {
            part: UriPart::Account,
        });
    }
    if account.is_empty() {
        return Err(UriError::EmptyAccount);
    }
    let len = issuer.len() + usize::from(!issuer.is_empty()) + account.len();
    if len > OtpAuthUri::MAX_LABEL_LEN {
        return Err(UriError::TooLong {
            part: UriPart::Label,
            len,
            max: OtpAuthUri::MAX_LABEL_LEN,
        });
    }
    Ok(())
}

pub(super) fn check_image(url: &str) -> Result<(), UriError> {
    const HTTPS: &str = "https://";
    if url.len() > OtpAuthUri::MAX_VALUE_LEN {
        return Err(UriError::TooLong {
            part: UriPart::Parameter("image"),
            len: url.len(),
            max: OtpAuthUri::MAX_VALUE_LEN,
        });
    }
    match url.as_bytes().split_at_checked(HTTPS.len()) {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case(HTTPS.as_bytes()) && !rest.is_empty() =>
        {
            Ok(())
        }
        _ => Err(UriError::ImageNotHttps),
    }
}

/// A `fmt::Write` that only counts bytes, to measure a URI without writing out its secret.
struct Counter(usize);

impl fmt::Write for Counter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 = self.0.saturating_add(s.len());
        Ok(())
    }
}
