//! The plaintext codes, as handed to the user once.

use alloc::vec::Vec;
use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::alphabet::{CODE_CHARS, DISPLAY_LEN, display};

/// A freshly generated set of recovery codes, in plaintext, to show the user once.
///
/// Each code is shown as two groups of five characters, `XXXXX-XXXXX`, from the alphabet
/// `0123456789ABCDEFGHJKMNPQRSTVWXYZ` (50 bits per code). `Display` lists them one per line;
/// [`iter`](RecoveryCodes::iter) gives them one by one for a template. `Debug` shows only how
/// many there are, and the codes are overwritten with zeros when the value is dropped.
///
/// Only the [`RecoveryCodeSet`](super::RecoveryCodeSet) made with them is stored; once this
/// value is dropped, nobody, not even the server, can show the codes again.
///
/// # Security
///
/// These are credentials: each one replaces the second factor once. Show them to their owner
/// only, over HTTPS, right after they were made; do not log them or keep them in a session.
///
/// ```
/// # #[cfg(feature = "os-rng")] {
/// use twofa::recovery::{Pbkdf2Hasher, RecoveryCodeSet};
///
/// let (codes, _set) = RecoveryCodeSet::generate(&Pbkdf2Hasher::new(), "user-42")?;
/// assert_eq!(codes.len(), 10);
/// for code in codes.iter() {
///     assert_eq!(code.len(), 11);
///     assert_eq!(code.as_bytes()[5], b'-');
/// }
/// assert_eq!(codes.to_string().lines().count(), 10);
/// assert_eq!(format!("{codes:?}"), "RecoveryCodes([redacted; 10 codes])");
/// # }
/// # Ok::<(), twofa::Error>(())
/// ```
pub struct RecoveryCodes {
    codes: Vec<[u8; DISPLAY_LEN]>,
}

impl RecoveryCodes {
    pub(crate) fn from_canonical(canonical: &[[u8; CODE_CHARS]]) -> RecoveryCodes {
        RecoveryCodes {
            codes: canonical.iter().map(|code| *display(code)).collect(),
        }
    }

    /// A copy, for the service, which hands the same new codes to every retry of a flow.
    #[cfg_attr(not(all(feature = "std", feature = "os-rng")), allow(dead_code))] // the service's
    pub(crate) fn duplicate(&self) -> RecoveryCodes {
        RecoveryCodes {
            codes: self.codes.clone(),
        }
    }

    /// The codes, each as `XXXXX-XXXXX`, in the order they were made.
    ///
    /// # Security
    ///
    /// See the [type's documentation](RecoveryCodes#security).
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        // Only ASCII symbols and dashes are ever stored, so the empty branch is never taken.
        self.codes
            .iter()
            .map(|code| core::str::from_utf8(code).unwrap_or_default())
    }

    /// How many codes there are.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether there are no codes; never the case for a generated set.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }
}

/// Lists the codes one per line, as `XXXXX-XXXXX`, without a final line break.
///
/// # Security
///
/// See the [type's documentation](RecoveryCodes#security).
impl fmt::Display for RecoveryCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, code) in self.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            f.write_str(code)?;
        }
        Ok(())
    }
}

impl fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecoveryCodes([redacted; {} codes])", self.codes.len())
    }
}

impl Drop for RecoveryCodes {
    fn drop(&mut self) {
        self.codes.zeroize();
    }
}

impl ZeroizeOnDrop for RecoveryCodes {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_lists_one_code_per_line() {
        let codes = RecoveryCodes::from_canonical(&[*b"ABCDE12345", *b"0000000000"]);
        assert_eq!(codes.to_string(), "ABCDE-12345\n00000-00000");
        assert_eq!(
            codes.iter().collect::<Vec<_>>(),
            ["ABCDE-12345", "00000-00000"]
        );
        assert_eq!(codes.len(), 2);
        assert!(!codes.is_empty());
        let none = RecoveryCodes::from_canonical(&[]);
        assert!(none.is_empty());
        assert_eq!(none.to_string(), "");
        assert_eq!(
            alloc::format!("{codes:?}"),
            "RecoveryCodes([redacted; 2 codes])"
        );
    }
}
