//! The hash function behind the HMAC.

use core::fmt;
use core::str::FromStr;

use crate::Error;

/// The hash function of the HMAC that computes codes (RFC 6238 section 1.2).
///
/// SHA-1 is the default and the only one every authenticator app supports; HMAC-SHA-1 remains
/// sound for this use, since HMAC does not rely on collision resistance.
///
/// Parsing ignores case and an optional hyphen (`sha1`, `SHA-256`); `Display` writes the form
/// used in otpauth URIs (`SHA1`, `SHA256`, `SHA512`).
///
/// ```
/// use twofa::Algorithm;
///
/// let algorithm: Algorithm = "sha-256".parse()?;
/// assert_eq!(algorithm, Algorithm::Sha256);
/// assert_eq!(algorithm.to_string(), "SHA256");
/// # Ok::<(), twofa::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    /// HMAC-SHA-1, the default.
    #[default]
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl Algorithm {
    /// The name as written in otpauth URIs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = Error;

    /// # Errors
    ///
    /// [`Error::UnknownAlgorithm`] for anything but SHA1, SHA256 or SHA512.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const NAMES: [(&str, &str, Algorithm); 3] = [
            ("SHA1", "SHA-1", Algorithm::Sha1),
            ("SHA256", "SHA-256", Algorithm::Sha256),
            ("SHA512", "SHA-512", Algorithm::Sha512),
        ];
        NAMES
            .iter()
            .find(|(plain, hyphen, _)| {
                s.eq_ignore_ascii_case(plain) || s.eq_ignore_ascii_case(hyphen)
            })
            .map(|&(_, _, algorithm)| algorithm)
            .ok_or(Error::UnknownAlgorithm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_spelling_and_displays_the_uri_form() {
        for (text, expected) in [
            ("SHA1", Algorithm::Sha1),
            ("sha1", Algorithm::Sha1),
            ("Sha-1", Algorithm::Sha1),
            ("SHA256", Algorithm::Sha256),
            ("sha-256", Algorithm::Sha256),
            ("sHa512", Algorithm::Sha512),
        ] {
            assert_eq!(text.parse::<Algorithm>(), Ok(expected));
        }
        for bad in ["", "SHA", "MD5", "SHA384", "SHA1 ", "SHA--1"] {
            assert_eq!(
                bad.parse::<Algorithm>(),
                Err(Error::UnknownAlgorithm),
                "{bad}"
            );
        }
        assert_eq!(Algorithm::Sha512.to_string(), "SHA512");
    }
}
