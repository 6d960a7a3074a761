//! The stored text form of a [`RecoveryCodeSet`], in the style of PHC strings.
//!
//! ```text
//! $twofa-recovery$v=2$pbkdf2-sha256$i=30000$<salt>$<hash>,<hash>,...
//! ```
//!
//! Seven `$`-separated fields, the first empty: the format's name; its version; the hashing
//! scheme's PHC identifier; its parameters (possibly empty); the salt; and the hashes of the
//! unused codes, separated by commas (empty once every code is used). Salt and hashes are in
//! the PHC strings' base64: the standard alphabet without padding. The encoding is canonical:
//! a set has exactly one, so decoding and encoding again gives back the same text.

use alloc::string::String;
use alloc::vec::Vec;

use data_encoding::BASE64_NOPAD;

use super::hashes::{Hashes, MAX_HASH_LEN};
use super::{EncodingPart, RecoveryCodeSet, RecoveryError};
use crate::Error;

const FORMAT: &str = "twofa-recovery";
const MIN_SALT_LEN: usize = RecoveryCodeSet::SALT_LEN;
const MAX_SALT_LEN: usize = 64;
const MAX_NAME_LEN: usize = 32;
const MAX_VALUE_LEN: usize = 64;
const MAX_PARAMETERS_LEN: usize = 256;

/// The versions of the encoding, which differ in what the hashes were derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Version {
    /// `v=1`, written before recovery codes were bound to the user id: the hasher was given
    /// the stored salt itself. Read so that a record holding such a set still decodes, but
    /// never checked: any user's version-1 set would work in any other user's record.
    Unbound = 1,
    /// `v=2`: the hasher is given the salt bound to the user id.
    BoundToUser = 2,
}

impl Version {
    /// The version numbered `number` (`v=` in the text form, the first byte of the binary
    /// form).
    pub(super) fn from_number(number: u32) -> Result<Version, Error> {
        match number {
            1 => Ok(Version::Unbound),
            2 => Ok(Version::BoundToUser),
            version => Err(RecoveryError::UnsupportedVersion { version }.into()),
        }
    }
}

impl RecoveryCodeSet {
    /// The longest text [`decode`](RecoveryCodeSet::decode) reads, in bytes: room for
    /// [`MAX_COUNT`](RecoveryCodeSet::MAX_COUNT) hashes of 64 bytes.
    pub const MAX_ENCODED_LEN: usize = 4096;

    /// The set as one line of printable ASCII, for one database column.
    ///
    /// ```text
    /// $twofa-recovery$v=2$pbkdf2-sha256$i=30000$<salt>$<hash>,<hash>,...
    /// ```
    ///
    /// After the format's name and version (`v=2`) come the hashing scheme's name and
    /// parameters, then the salt and the hashes of the unused codes in base64 without padding
    /// (as in PHC strings), the hashes separated by commas. It holds no code, and not the user
    /// id either: that is bound into the hashes, and given again when a code is checked. The
    /// format is stable: later releases read every version this one reads. A set read from
    /// version 1 (written before hashes were bound to the user id) is written back as
    /// version 1, unchanged.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(
            64 + self.parameters.len() + (self.hashes.count() + 1) * (MAX_HASH_LEN * 4 / 3 + 2),
        );
        out.push('$');
        out.push_str(FORMAT);
        out.push_str(match self.version {
            Version::Unbound => "$v=1",
            Version::BoundToUser => "$v=2",
        });
        out.push('$');
        out.push_str(&self.algorithm);
        out.push('$');
        out.push_str(&self.parameters);
        out.push('$');
        BASE64_NOPAD.encode_append(&self.salt, &mut out);
        out.push('$');
        for (i, hash) in self.hashes.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            BASE64_NOPAD.encode_append(hash, &mut out);
        }
        out
    }

    /// Reads a set written by [`encode`](RecoveryCodeSet::encode).
    ///
    /// Only the exact, canonical text is accepted; white space around it is not trimmed.
    ///
    /// ```
    /// use twofa::recovery::{EncodingPart, RecoveryCodeSet, RecoveryError};
    /// use twofa::Error;
    ///
    /// let stored = "$twofa-recovery$v=2$pbkdf2-sha256$i=30000$AAAAAAAAAAAAAAAAAAAAAA$\
    ///               ERERERERERERERERERERERERERERERERERERERERERE";
    /// assert_eq!(RecoveryCodeSet::decode(stored)?.remaining(), 1);
    ///
    /// assert_eq!(
    ///     RecoveryCodeSet::decode("$twofa-recovery$v=3$x$$AAAAAAAAAAAAAAAAAAAAAA$"),
    ///     Err(Error::Recovery(RecoveryError::UnsupportedVersion { version: 3 }))
    /// );
    /// assert_eq!(
    ///     RecoveryCodeSet::decode("$twofa-recovery$v=2$x$$AAAA$"),
    ///     Err(Error::Recovery(RecoveryError::MalformedEncoding { part: EncodingPart::Salt }))
    /// );
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// - [`RecoveryError::EncodingTooLong`] over
    ///   [`MAX_ENCODED_LEN`](RecoveryCodeSet::MAX_ENCODED_LEN) bytes;
    /// - [`RecoveryError::UnsupportedVersion`] for a version other than 1 and 2 (a version-1
    ///   set decodes, but [`use_code`](RecoveryCodeSet::use_code) refuses it with
    ///   [`RecoveryError::UnboundSet`]);
    /// - [`RecoveryError::MalformedEncoding`], naming the first part found wrong, for anything
    ///   else that [`encode`](RecoveryCodeSet::encode) would not have written: a wrong number
    ///   of fields; a name or parameters outside the rules of
    ///   [`CodeHasher`](super::CodeHasher); non-canonical base64; a salt of fewer than 16 or
    ///   more than 64 bytes; hashes outside 16 to 64 bytes, of varying length, repeated, or
    ///   more than [`MAX_COUNT`](RecoveryCodeSet::MAX_COUNT).
    pub fn decode(text: &str) -> Result<RecoveryCodeSet, Error> {
        if text.len() > Self::MAX_ENCODED_LEN {
            return Err(RecoveryError::EncodingTooLong {
                len: text.len(),
                max: Self::MAX_ENCODED_LEN,
            }
            .into());
        }
        let malformed = |part| Error::from(RecoveryError::MalformedEncoding { part });
        let mut fields = text.split('$');
        let (Some(""), Some(FORMAT)) = (fields.next(), fields.next()) else {
            return Err(malformed(EncodingPart::Format));
        };
        let version = fields.next().ok_or(malformed(EncodingPart::Format))?;
        let version = version
            .strip_prefix("v=")
            .and_then(parse_decimal)
            .ok_or(malformed(EncodingPart::Version))?;
        let version = Version::from_number(version)?;
        let (Some(algorithm), Some(parameters), Some(salt), Some(hashes), None) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            return Err(malformed(EncodingPart::Format));
        };
        if !is_algorithm(algorithm) {
            return Err(malformed(EncodingPart::Algorithm));
        }
        if !is_parameter_list(parameters) {
            return Err(malformed(EncodingPart::Parameters));
        }
        let salt = BASE64_NOPAD
            .decode(salt.as_bytes())
            .ok()
            .filter(|salt| is_salt(salt))
            .ok_or(malformed(EncodingPart::Salt))?;
        let hashes = parse_hashes(hashes).ok_or(malformed(EncodingPart::Hashes))?;
        Ok(RecoveryCodeSet {
            version,
            algorithm: String::from(algorithm),
            parameters: String::from(parameters),
            salt,
            hashes,
        })
    }
}

/// Whether `salt` has a length a set's salt may have: 16 to 64 bytes.
pub(super) fn is_salt(salt: &[u8]) -> bool {
    (MIN_SALT_LEN..=MAX_SALT_LEN).contains(&salt.len())
}

/// Whether `name` is a PHC identifier: 1 to 32 characters of `a-z`, `0-9` and `-`.
pub(crate) fn is_algorithm(name: &str) -> bool {
    is_name(name)
}

/// Whether `list` is empty or comma-separated `name=value` pairs within the bounds of the
/// [`CodeHasher`](super::CodeHasher) contract.
pub(crate) fn is_parameter_list(list: &str) -> bool {
    list.is_empty()
        || (list.len() <= MAX_PARAMETERS_LEN
            && list.split(',').all(|pair| {
                pair.split_once('=')
                    .is_some_and(|(name, value)| is_name(name) && is_value(value))
            }))
}

fn is_name(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_value(value: &str) -> bool {
    (1..=MAX_VALUE_LEN).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'+' | b'.' | b'-'))
}

/// Reads a number in canonical decimal: digits only, no sign, no leading zero (except for
/// `0` itself), at most nine digits, so that every value has one spelling and the parse
/// cannot overflow. Both the version and the PBKDF2 iteration count are read with it.
pub(super) fn parse_decimal(digits: &str) -> Option<u32> {
    let canonical = !digits.is_empty()
        && digits.len() <= 9
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if canonical { digits.parse().ok() } else { None }
}

fn parse_hashes(field: &str) -> Option<Hashes> {
    if field.is_empty() {
        return Some(Hashes::default());
    }
    // Hostile input could name thousands of hashes: one more than a set may hold is enough
    // to refuse it.
    let list: Vec<Vec<u8>> = field
        .split(',')
        .take(RecoveryCodeSet::MAX_COUNT + 1)
        .map(|encoded| BASE64_NOPAD.decode(encoded.as_bytes()))
        .collect::<Result<_, _>>()
        .ok()?;
    Hashes::from_list(&list)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT: &str = "AAAAAAAAAAAAAAAAAAAAAA"; // 16 zero bytes
    const HASH_A: &str = "ERERERERERERERERERERERERERERERERERERERERERE"; // 32 bytes of 0x11
    const HASH_B: &str = "IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI"; // 32 bytes of 0x22

    fn text(fields: &str) -> String {
        alloc::format!("$twofa-recovery$v=2${fields}")
    }

    fn part(text: &str) -> Option<EncodingPart> {
        match RecoveryCodeSet::decode(text) {
            Err(Error::Recovery(RecoveryError::MalformedEncoding { part })) => Some(part),
            _ => None,
        }
    }

    #[test]
    fn decodes_and_encodes_back_the_same_text() {
        for fields in [
            alloc::format!("pbkdf2-sha256$i=30000${SALT}${HASH_A},{HASH_B}"),
            alloc::format!("pbkdf2-sha256$i=30000,p=1${SALT}${HASH_A}"),
            alloc::format!("pbkdf2-sha256$i=30000${SALT}$"),
            alloc::format!("bcrypt$${SALT}${HASH_A}"),
        ] {
            let stored = text(&fields);
            let set = RecoveryCodeSet::decode(&stored).unwrap();
            assert_eq!(set.encode(), stored);
        }
        // A set of the first version reads, and writes back as it was.
        let v1 = alloc::format!("$twofa-recovery$v=1$pbkdf2-sha256$i=1000${SALT}${HASH_A}");
        let set = RecoveryCodeSet::decode(&v1).unwrap();
        assert_eq!(set.version, Version::Unbound);
        assert_eq!(set.encode(), v1);
        let set = RecoveryCodeSet::decode(&text(&alloc::format!(
            "pbkdf2-sha256$i=30000${SALT}${HASH_A},{HASH_B}"
        )))
        .unwrap();
        assert_eq!(set.version, Version::BoundToUser);
        assert_eq!(set.remaining(), 2);
        assert_eq!(set.salt, [0; 16]);
        assert_eq!(
            set.hashes.as_concatenated(),
            [[0x11; 32], [0x22; 32]].concat()
        );
    }

    #[test]
    fn names_the_part_that_is_wrong() {
        use EncodingPart::*;
        let ok = alloc::format!("pbkdf2-sha256$i=30000${SALT}${HASH_A}");
        let cases: &[(String, EncodingPart)] = &[
            (String::new(), Format),
            (String::from("$"), Format),
            (
                text(&ok).replacen("$twofa-recovery", "twofa-recovery", 1),
                Format,
            ),
            (
                text(&ok).replacen("twofa-recovery", "twofa-recoverz", 1),
                Format,
            ),
            (alloc::format!("$twofa-recovery$v=2${ok}$"), Format),
            (
                String::from("$twofa-recovery$v=2$pbkdf2-sha256$i=1"),
                Format,
            ),
            (String::from("$twofa-recovery"), Format),
            (text(&ok).replacen("v=2", "v=02", 1), Version),
            (text(&ok).replacen("v=2", "v=", 1), Version),
            (text(&ok).replacen("v=2", "v=+2", 1), Version),
            (text(&ok).replacen("v=2", "v=99999999999", 1), Version),
            (text(&ok).replacen("v=2", "V=2", 1), Version),
            (text(&ok).replacen("pbkdf2-sha256", "PBKDF2", 1), Algorithm),
            (text(&ok).replacen("pbkdf2-sha256", "", 1), Algorithm),
            (
                text(&ok).replacen("pbkdf2-sha256", &"a".repeat(33), 1),
                Algorithm,
            ),
            (text(&ok).replacen("i=30000", "i=", 1), Parameters),
            (text(&ok).replacen("i=30000", "i=1,", 1), Parameters),
            (text(&ok).replacen("i=30000", "i", 1), Parameters),
            (text(&ok).replacen("i=30000", "i=1 ", 1), Parameters),
            (text(&ok).replacen(SALT, "AAAA", 1), Salt),
            (text(&ok).replacen(SALT, "", 1), Salt),
            (
                text(&ok).replacen(SALT, "AAAAAAAAAAAAAAAAAAAAAA==", 1),
                Salt,
            ),
            (text(&ok).replacen(SALT, "AAAAAAAAAAAAAAAAAAAAAB", 1), Salt),
            (text(&ok).replacen(SALT, "AAAAAAAAAAAAAAAAAAAAA!", 1), Salt),
            (text(&alloc::format!("{ok},{HASH_A}")), Hashes),
            (text(&alloc::format!("{ok},")), Hashes),
            (text(&alloc::format!("{ok},AAAA")), Hashes),
            (text(&alloc::format!("{ok},{}", &HASH_B[..22])), Hashes),
            (
                text(&ok).replacen(HASH_A, "AAAAAAAAAAAAAAAAAAAA", 1),
                Hashes,
            ),
            (
                text(&ok).replacen(HASH_A, &HASH_A.to_lowercase(), 1),
                Hashes,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(part(input), Some(*expected), "{input:?}");
        }
    }

    #[test]
    fn with_several_parts_wrong_the_first_is_named() {
        use EncodingPart::*;
        let ok = alloc::format!("pbkdf2-sha256$i=30000${SALT}${HASH_A}");
        let bad_salt = ok.replacen(SALT, "AAAA", 1);
        let cases = [
            (bad_salt.replacen("pbkdf2-sha256", "PBKDF2", 1), Algorithm),
            (ok.replacen("pbkdf2-sha256", "PBKDF2", 1) + ",", Algorithm),
            (ok.replacen("i=30000", "i=", 1) + "," + HASH_A, Parameters),
            (bad_salt.replacen("i=30000", "i=", 1), Parameters),
            (bad_salt.clone() + "," + HASH_A, Salt),
        ];
        for (fields, expected) in cases {
            assert_eq!(part(&text(&fields)), Some(expected), "{fields}");
        }
    }

    #[test]
    fn bounds() {
        assert_eq!(
            RecoveryCodeSet::decode(
                &text(&alloc::format!("pbkdf2-sha256$i=30000${SALT}${HASH_A}"))
                    .replacen("v=2", "v=7", 1)
            ),
            Err(RecoveryError::UnsupportedVersion { version: 7 }.into())
        );
        for version in [0, 3, 999_999_999] {
            assert_eq!(
                RecoveryCodeSet::decode(&alloc::format!("$twofa-recovery$v={version}$x$$")),
                Err(RecoveryError::UnsupportedVersion { version }.into())
            );
        }
        let many: Vec<String> = (0..33u8).map(|i| BASE64_NOPAD.encode(&[i; 16])).collect();
        let mut fields = alloc::format!("x$${SALT}${}", many[..32].join(","));
        assert_eq!(
            RecoveryCodeSet::decode(&text(&fields)).unwrap().remaining(),
            32
        );
        fields = alloc::format!("x$${SALT}${}", many.join(","));
        assert_eq!(part(&text(&fields)), Some(EncodingPart::Hashes));
        // The longest text still read: malformed here, but not refused for its length.
        let longest = "$".repeat(RecoveryCodeSet::MAX_ENCODED_LEN);
        assert_eq!(part(&longest), Some(EncodingPart::Format));
        let huge = "$".repeat(RecoveryCodeSet::MAX_ENCODED_LEN + 1);
        assert_eq!(
            RecoveryCodeSet::decode(&huge),
            Err(RecoveryError::EncodingTooLong {
                len: 4097,
                max: 4096
            }
            .into())
        );
    }
}
