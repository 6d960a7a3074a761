//! Counter-based one-time passwords (RFC 4226).

use core::fmt;

use subtle::{ConditionallySelectable, ConstantTimeEq};

use super::code::{check_digits, parse_input, reduce};
use super::mac::KeyedMac;
use super::{Algorithm, Code, Secret};
use crate::Error;

/// An HOTP generator and verifier (RFC 4226): codes from a counter that both sides advance.
///
/// Prefer [`Totp`](crate::Totp) for sign-in; HOTP is here for hardware tokens and systems that
/// already use it.
///
/// ```
/// use twofa::{Hotp, Secret};
///
/// let hotp = Hotp::new(Secret::from_bytes(b"12345678901234567890")?);
/// assert_eq!(hotp.generate(1).as_str(), "287082");
///
/// // The user's token is ahead of the server's counter 0: a look-ahead of 5 finds it.
/// let matched = hotp.verify("359152", 0, 5)?;
/// assert_eq!(matched, 2); // store 3 as the next expected counter
/// # Ok::<(), twofa::Error>(())
/// ```
#[derive(Clone)]
pub struct Hotp {
    secret: Secret,
    mac: KeyedMac,
    digits: u32,
}

impl Hotp {
    /// The widest look-ahead [`Hotp::verify`] accepts.
    pub const MAX_LOOK_AHEAD: u32 = 100;

    /// An HOTP with the defaults: SHA-1 and 6 digits.
    pub fn new(secret: Secret) -> Hotp {
        Self::with(secret, Algorithm::Sha1, 6)
    }

    /// Starts configuring an HOTP with other settings.
    pub fn builder(secret: Secret) -> HotpBuilder {
        HotpBuilder {
            secret,
            algorithm: Algorithm::Sha1,
            digits: 6,
        }
    }

    fn with(secret: Secret, algorithm: Algorithm, digits: u32) -> Hotp {
        let mac = KeyedMac::new(algorithm, secret.expose_bytes());
        Hotp {
            secret,
            mac,
            digits,
        }
    }

    /// The code for `counter`.
    pub fn generate(&self, counter: u64) -> Code {
        Code::new(self.mac.truncated(counter), self.digits)
    }

    /// Checks `code` against the counters `counter ..= counter + look_ahead` and returns the
    /// counter that matched (RFC 4226 section 7.4, resynchronisation).
    ///
    /// The caller stores the returned counter plus one as the next expected counter, so the
    /// same code cannot be used twice. Every counter in the window is computed and compared in
    /// constant time; when several match, the lowest wins.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCode`] when the code is malformed or matches no counter in the window;
    /// [`Error::WindowTooLarge`] when `look_ahead` exceeds [`Hotp::MAX_LOOK_AHEAD`].
    pub fn verify(&self, code: &str, counter: u64, look_ahead: u32) -> Result<u64, Error> {
        if look_ahead > Self::MAX_LOOK_AHEAD {
            return Err(Error::WindowTooLarge {
                requested: look_ahead,
                max: Self::MAX_LOOK_AHEAD,
            });
        }
        let typed = parse_input(code, self.digits)?;
        let mut found = subtle::Choice::from(0);
        let mut matched = 0u64;
        let last = counter.saturating_add(u64::from(look_ahead));
        let mut values = [0u32; Self::MAX_LOOK_AHEAD as usize + 1];
        let values = &mut values[..=(last - counter) as usize];
        self.mac.truncated_range(counter, values);
        // Walk from the top down so that the lowest matching counter is selected last.
        for (ahead, value) in values.iter().enumerate().rev() {
            let candidate = counter + ahead as u64;
            let hit = reduce(*value, self.digits).ct_eq(&typed);
            matched.conditional_assign(&candidate, hit);
            found |= hit;
        }
        if bool::from(found) {
            Ok(matched)
        } else {
            Err(Error::InvalidCode)
        }
    }

    /// The secret.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// The hash algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.mac.algorithm()
    }

    /// The number of digits in a code.
    pub fn digits(&self) -> u32 {
        self.digits
    }
}

impl fmt::Debug for Hotp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hotp")
            .field("secret", &self.secret)
            .field("algorithm", &self.algorithm())
            .field("digits", &self.digits)
            .finish()
    }
}

/// Settings for an [`Hotp`]; made by [`Hotp::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct HotpBuilder {
    secret: Secret,
    algorithm: Algorithm,
    digits: u32,
}

impl HotpBuilder {
    /// The hash algorithm (default SHA-1).
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// The number of digits, 6 to 8 (default 6).
    pub fn digits(mut self, digits: u32) -> Self {
        self.digits = digits;
        self
    }

    /// Checks the settings and makes the [`Hotp`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidDigits`] outside 6 to 8.
    pub fn build(self) -> Result<Hotp, Error> {
        let digits = check_digits(self.digits)?;
        Ok(Hotp::with(self.secret, self.algorithm, digits))
    }
}
