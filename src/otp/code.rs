//! One-time codes: the ones we compute, and the ones users type.

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::Error;

/// The fewest digits a code may have.
pub const MIN_DIGITS: u32 = 6;
/// The most digits a code may have.
pub const MAX_DIGITS: u32 = 8;

/// A one-time code: 6 to 8 decimal digits, zero-padded.
///
/// `Display` and [`Code::as_str`] give the digits; `Debug` hides them, because a code is a
/// credential for as long as its time step lasts. A `Code` lives on the stack (no heap
/// allocation), compares in constant time and is zeroized on drop.
///
/// ```
/// use twofa::{Hotp, Secret};
///
/// let hotp = Hotp::new(Secret::from_bytes(b"12345678901234567890")?);
/// let code = hotp.generate(0);
/// assert_eq!(code.to_string(), "755224");
/// assert_eq!(code.as_str(), "755224");
/// # Ok::<(), twofa::Error>(())
/// ```
#[derive(Clone)]
pub struct Code {
    digits: [u8; MAX_DIGITS as usize],
    len: u8,
}

impl Code {
    /// The code for an HOTP value before reduction (RFC 4226 section 5.3): its last `digits`
    /// decimal digits, for an already validated number of digits.
    pub(crate) fn new(value: u32, digits: u32) -> Code {
        let digits = digits.clamp(MIN_DIGITS, MAX_DIGITS);
        Code {
            digits: eight_digits(reduce(value, digits)),
            len: digits as u8,
        }
    }

    /// The digits as a string slice.
    pub fn as_str(&self) -> &str {
        // The code is the last `len` of eight digits, which are all ASCII, so this never takes
        // the empty branch.
        let start = self.digits.len() - usize::from(self.len);
        core::str::from_utf8(&self.digits[start..]).unwrap_or_default()
    }

    /// The number of digits.
    #[allow(clippy::len_without_is_empty)] // a code is never empty
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Code([redacted; {} digits])", self.len)
    }
}

impl PartialEq for Code {
    fn eq(&self, other: &Self) -> bool {
        (self.len == other.len) & bool::from(self.digits.ct_eq(&other.digits))
    }
}

impl Eq for Code {}

impl Drop for Code {
    fn drop(&mut self) {
        self.digits.zeroize();
    }
}

impl ZeroizeOnDrop for Code {}

/// The eight decimal digits of `value` (below 10^8) as ASCII, most significant first.
///
/// The number is split into halves of four digits, then pairs, then single digits, each split
/// done for all parts at once inside one `u64` with a multiply and a shift. A code then costs
/// three dependent multiplies instead of eight dependent divisions by ten, which shows on the
/// `generate` benchmark. The multipliers are exact for these ranges: `x * 10486 >> 20` is
/// `x / 100` for every `x < 10^4`, and `x * 103 >> 10` is `x / 10` for every `x < 100`.
const fn eight_digits(value: u32) -> [u8; 8] {
    let high = (value / 10_000) as u64;
    let low = (value % 10_000) as u64;
    // Parts are kept in printing order from the least significant lane up, so that the
    // little-endian bytes at the end read left to right.
    let fours = high | (low << 32);
    let hundreds = ((fours * 10_486) >> 20) & 0x0000_007f_0000_007f;
    let pairs = hundreds | ((fours - hundreds * 100) << 16);
    let tens = ((pairs * 103) >> 10) & 0x000f_000f_000f_000f;
    let singles = tens | ((pairs - tens * 10) << 8);
    (singles | u64::from_ne_bytes([b'0'; 8])).to_le_bytes()
}

/// Reads a code as typed: exactly `digits` ASCII digits once ASCII spaces are removed.
///
/// Returns the numeric value, which is then compared in constant time with each candidate.
/// The shape of the input (its length, a stray letter) is not secret, so this may stop early.
pub(crate) fn parse_input(code: &str, digits: u32) -> Result<u32, Error> {
    // Generous room for spaces between digits; anything longer is not a code.
    const MAX_INPUT: usize = 64;
    if code.len() > MAX_INPUT {
        return Err(Error::InvalidCode);
    }
    let mut value: u32 = 0;
    let mut seen = 0u32;
    for byte in code.bytes() {
        match byte {
            b' ' => {}
            b'0'..=b'9' if seen < digits => {
                value = value * 10 + u32::from(byte - b'0');
                seen += 1;
            }
            _ => return Err(Error::InvalidCode),
        }
    }
    if seen == digits {
        Ok(value)
    } else {
        Err(Error::InvalidCode)
    }
}

/// Checks that a number of digits is within 6 to 8.
pub(crate) fn check_digits(digits: u32) -> Result<u32, Error> {
    if (MIN_DIGITS..=MAX_DIGITS).contains(&digits) {
        Ok(digits)
    } else {
        Err(Error::InvalidDigits { digits })
    }
}

/// The last `digits` decimal digits of `value`, for a validated number of digits.
///
/// One arm per length so that each reduction is by a constant, which compiles to a multiply
/// instead of a division.
#[inline]
pub(crate) const fn reduce(value: u32, digits: u32) -> u32 {
    match digits {
        6 => value % 1_000_000,
        7 => value % 10_000_000,
        _ => value % 100_000_000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_zero_padded() {
        assert_eq!(Code::new(42, 6).as_str(), "000042");
        assert_eq!(Code::new(0, 8).as_str(), "00000000");
        assert_eq!(Code::new(1_234_567, 7).to_string(), "1234567");
        // RFC 4226 Appendix D, count 0: the truncated value and its 6-digit code.
        assert_eq!(Code::new(1_284_755_224, 6).as_str(), "755224");
        assert_eq!(Code::new(1_284_755_224, 8).as_str(), "84755224");
        assert_eq!(
            alloc::format!("{:?}", Code::new(42, 6)),
            "Code([redacted; 6 digits])"
        );
    }

    /// Each part of the number is split on its own, so every four-digit value in each half, and
    /// a spread of whole numbers, covers what [`eight_digits`] can get wrong.
    #[test]
    fn eight_digits_match_the_formatter() {
        let halves = (0..10_000u32).flat_map(|n| [n * 10_000 + n, n * 10_000 + 9_999 - n]);
        let spread = (0..100_000_000u32).step_by(9_973);
        for value in halves.chain(spread).chain([99_999_999, 10_000_000, 1]) {
            assert_eq!(
                &eight_digits(value),
                alloc::format!("{value:08}").as_bytes(),
                "{value}"
            );
        }
    }

    #[test]
    fn input_must_be_exactly_the_digits() {
        assert_eq!(parse_input("012345", 6), Ok(12345));
        assert_eq!(parse_input(" 012 345 ", 6), Ok(12345));
        for bad in [
            "",
            "12345",
            "1234567",
            "12345a",
            "-12345",
            "+123456",
            "12345\0",
            "１２３４５６",
            "123\t456",
            "123-456",
            "12 34 5",
        ] {
            assert_eq!(parse_input(bad, 6), Err(Error::InvalidCode), "{bad:?}");
        }
        assert_eq!(parse_input("99999999", 8), Ok(99_999_999));
    }
}
