//! The shared secret between the server and the user's authenticator app.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::Error;

/// The key shared with an authenticator app: the `secret` of an otpauth URI.
///
/// A `Secret` is between [`Secret::MIN_LEN`] (16) and [`Secret::MAX_LEN`] (128) bytes long;
/// [`Secret::generate`] makes 20 random bytes, the 160 bits RFC 4226 (R6) recommends.
/// Secrets of 10 to 15 bytes, which some older services issued, are accepted only through
/// [`Secret::from_legacy_bytes`] and [`Secret::from_legacy_base32`].
///
/// `Debug` shows the length and nothing else, equality is checked in constant time, and the
/// bytes are overwritten with zeros when the value is dropped.
///
/// ```
/// use twofa::Secret;
///
/// let secret = Secret::from_base32("jbsw y3dp ehpk 3pxp jbsw y3dp ehpk 3pxp")?;
/// assert_eq!(secret.len(), 20);
/// assert_eq!(&*secret.to_base32(), "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP");
/// # Ok::<(), twofa::Error>(())
/// ```
#[derive(Clone)]
pub struct Secret {
    bytes: Vec<u8>,
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl ZeroizeOnDrop for Secret {}

impl Secret {
    /// The length of a generated secret, in bytes (160 bits, RFC 4226 R6).
    pub const DEFAULT_LEN: usize = 20;
    /// The shortest secret accepted by the normal constructors (128 bits, RFC 4226 R6).
    pub const MIN_LEN: usize = 16;
    /// The shortest secret accepted by the legacy constructors (80 bits).
    pub const LEGACY_MIN_LEN: usize = 10;
    /// The longest secret accepted, in bytes.
    pub const MAX_LEN: usize = 128;

    /// Makes a new 20-byte secret from the operating system's random number generator.
    ///
    /// # Panics
    ///
    /// If the operating system cannot provide random bytes, which on supported platforms
    /// happens only when the system is broken. Use [`Secret::generate_with`] to supply another
    /// generator.
    #[cfg(feature = "os-rng")]
    pub fn generate() -> Secret {
        Self::generate_with(&mut crate::random::os_rng())
    }

    /// Makes a new 20-byte secret from the given cryptographically secure generator.
    ///
    /// ```
    /// # #[cfg(feature = "os-rng")] {
    /// use twofa::Secret;
    /// use twofa::rand_core::UnwrapErr;
    ///
    /// let secret = Secret::generate_with(&mut UnwrapErr(getrandom::SysRng));
    /// assert_eq!(secret.len(), Secret::DEFAULT_LEN);
    /// # }
    /// ```
    pub fn generate_with<R: CryptoRng + ?Sized>(rng: &mut R) -> Secret {
        let mut bytes = alloc::vec![0u8; Self::DEFAULT_LEN];
        rng.fill_bytes(&mut bytes);
        Secret { bytes }
    }

    /// Takes a secret from raw bytes.
    ///
    /// # Errors
    ///
    /// [`Error::SecretTooShort`] under 16 bytes, [`Error::SecretTooLong`] over 128.
    pub fn from_bytes(bytes: &[u8]) -> Result<Secret, Error> {
        Self::checked(bytes, Self::MIN_LEN)
    }

    /// Takes a secret from its base32 form, as shown to users and written in otpauth URIs.
    ///
    /// Input is read leniently, the way people type it: upper or lower case, spaces and
    /// hyphens anywhere, `=` padding optional at the end.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidBase32Character`] naming the position of any other character,
    /// [`Error::InvalidBase32Length`] when the symbols cannot encode whole bytes, and the
    /// length errors of [`Secret::from_bytes`].
    pub fn from_base32(text: &str) -> Result<Secret, Error> {
        let bytes = decode_base32(text, Self::MAX_LEN)?;
        Self::from_bytes(&bytes)
    }

    /// Takes a legacy secret of 10 bytes (80 bits) or more from raw bytes.
    ///
    /// Use this only to import secrets that another system already issued; new secrets should
    /// come from [`Secret::generate`].
    ///
    /// # Errors
    ///
    /// [`Error::SecretTooShort`] under 10 bytes, [`Error::SecretTooLong`] over 128.
    pub fn from_legacy_bytes(bytes: &[u8]) -> Result<Secret, Error> {
        Self::checked(bytes, Self::LEGACY_MIN_LEN)
    }

    /// Takes a legacy secret of 10 bytes (80 bits) or more from its base32 form, read as
    /// leniently as by [`Secret::from_base32`].
    ///
    /// # Errors
    ///
    /// As [`Secret::from_base32`], with a minimum of 10 bytes.
    pub fn from_legacy_base32(text: &str) -> Result<Secret, Error> {
        let bytes = decode_base32(text, Self::MAX_LEN)?;
        Self::from_legacy_bytes(&bytes)
    }

    /// The secret in base32: upper case, without padding, as authenticator apps expect it.
    ///
    /// # Security
    ///
    /// This is the secret itself. Show it only to its owner, over HTTPS, while enrolling.
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(data_encoding::BASE32_NOPAD.encode(&self.bytes))
    }

    /// The raw bytes of the secret.
    ///
    /// # Security
    ///
    /// Anyone holding these bytes can produce valid codes. Do not log them, and store them
    /// only sealed (encrypted).
    pub fn expose_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The length of the secret in bytes.
    #[allow(clippy::len_without_is_empty)] // a secret is never empty
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    fn checked(bytes: &[u8], min: usize) -> Result<Secret, Error> {
        if bytes.len() < min {
            return Err(Error::SecretTooShort {
                len: bytes.len(),
                min,
            });
        }
        if bytes.len() > Self::MAX_LEN {
            return Err(Error::SecretTooLong {
                len: bytes.len(),
                max: Self::MAX_LEN,
            });
        }
        Ok(Secret {
            bytes: bytes.to_vec(),
        })
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret([redacted; {} bytes])", self.bytes.len())
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.bytes.ct_eq(&other.bytes).into()
    }
}

impl Eq for Secret {}

/// Decodes lenient base32 (RFC 4648 alphabet) into at most `max_len` bytes.
///
/// Everything that held secret bits is zeroized on every path, including errors, and the
/// output never reallocates (which would leave a copy behind).
fn decode_base32(text: &str, max_len: usize) -> Result<Zeroizing<Vec<u8>>, Error> {
    // Refuse absurd input before allocating for it: every 8 symbols make 5 bytes.
    let max_symbols = max_len.div_ceil(5) * 8;
    let mut out = Zeroizing::new(Vec::with_capacity(max_symbols / 8 * 5));
    let mut buffer = Zeroizing::new(0u64);
    let mut bits = 0u32;
    let mut symbols = 0usize;
    let mut padding = false;
    for (position, c) in text.chars().enumerate() {
        let value = match c {
            'A'..='Z' => c as u32 - 'A' as u32,
            'a'..='z' => c as u32 - 'a' as u32,
            '2'..='7' => c as u32 - '2' as u32 + 26,
            ' ' | '-' => continue,
            '=' => {
                padding = true;
                continue;
            }
            _ => return Err(Error::InvalidBase32Character { position }),
        };
        if padding {
            // Padding is only allowed at the end.
            return Err(Error::InvalidBase32Character { position });
        }
        symbols += 1;
        if symbols > max_symbols {
            return Err(Error::SecretTooLong {
                len: text.len() * 5 / 8,
                max: max_len,
            });
        }
        *buffer = (*buffer << 5) | u64::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((*buffer >> bits) as u8);
        }
    }
    if symbols == 0 || matches!(symbols % 8, 1 | 3 | 6) {
        return Err(Error::InvalidBase32Length);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_base32_reads_what_people_type() {
        let strict = Secret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap();
        for typed in [
            "gezdgnbvgy3tqojqgezdgnbvgy3tqojq",
            "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ",
            "gezd-gnbv-gy3t-qojq-gezd-gnbv-gy3t-qojq",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ======",
        ] {
            assert_eq!(Secret::from_base32(typed).unwrap(), strict, "{typed}");
        }
        assert_eq!(strict.expose_bytes(), b"12345678901234567890");
    }

    #[test]
    fn base32_errors_name_the_position() {
        assert_eq!(
            Secret::from_base32("GEZDGNBVGY3TQOJ1GEZDGNBVGY3TQOJQ"),
            Err(Error::InvalidBase32Character { position: 15 })
        );
        assert_eq!(
            Secret::from_base32("GEZDGNBV=GY3TQOJQGEZDGNBVGY3TQOJQ"),
            Err(Error::InvalidBase32Character { position: 9 })
        );
        assert_eq!(
            Secret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQé"),
            Err(Error::InvalidBase32Character { position: 32 })
        );
        assert_eq!(Secret::from_base32(""), Err(Error::InvalidBase32Length));
        assert_eq!(Secret::from_base32(" - "), Err(Error::InvalidBase32Length));
        assert_eq!(
            Secret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQG"),
            Err(Error::InvalidBase32Length)
        );
    }

    #[test]
    fn length_limits() {
        assert_eq!(
            Secret::from_bytes(&[7; 15]),
            Err(Error::SecretTooShort { len: 15, min: 16 })
        );
        assert!(Secret::from_bytes(&[7; 16]).is_ok());
        assert!(Secret::from_bytes(&[7; 128]).is_ok());
        assert_eq!(
            Secret::from_bytes(&[7; 129]),
            Err(Error::SecretTooLong { len: 129, max: 128 })
        );
        assert!(Secret::from_legacy_bytes(&[7; 10]).is_ok());
        assert_eq!(
            Secret::from_legacy_bytes(&[7; 9]),
            Err(Error::SecretTooShort { len: 9, min: 10 })
        );
        // An 80-bit secret in base32 is 16 symbols.
        assert_eq!(
            Secret::from_base32("JBSWY3DPEHPK3PXP"),
            Err(Error::SecretTooShort { len: 10, min: 16 })
        );
        assert!(Secret::from_legacy_base32("JBSWY3DPEHPK3PXP").is_ok());
        let huge = "A".repeat(100_000);
        assert!(matches!(
            Secret::from_base32(&huge),
            Err(Error::SecretTooLong { .. })
        ));
    }

    #[test]
    fn debug_shows_no_secret() {
        let secret = Secret::from_bytes(b"12345678901234567890").unwrap();
        let shown = alloc::format!("{secret:?}");
        assert_eq!(shown, "Secret([redacted; 20 bytes])");
    }
}
