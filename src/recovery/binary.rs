//! The binary form of a [`RecoveryCodeSet`], the one a stored record holds (record layout
//! version 3): the same fields as the text form, checked by the same rules, without a base64
//! pass each way at every sign-in.
//!
//! ```text
//! version:u8 (1 or 2, as `v=` in the text form)
//! algorithm_len:u8 algorithm
//! parameters_len:u16 parameters      (big-endian)
//! salt_len:u8 salt
//! hash_len:u8 count:u8 hashes        (count × hash_len bytes; hash_len is 0 exactly when
//!                                     count is 0)
//! ```

use alloc::string::String;
use alloc::vec::Vec;

use super::encoding::{Version, is_algorithm, is_parameter_list, is_salt};
use super::hashes::Hashes;
use super::{EncodingPart, RecoveryCodeSet, RecoveryError};
use crate::Error;

impl RecoveryCodeSet {
    /// How many bytes [`write_binary`](RecoveryCodeSet::write_binary) appends.
    pub(crate) fn binary_len(&self) -> usize {
        1 + 1
            + self.algorithm.len()
            + 2
            + self.parameters.len()
            + 1
            + self.salt.len()
            + 2
            + self.hashes.as_concatenated().len()
    }

    /// Appends the set in its binary form (see the module docs).
    pub(crate) fn write_binary(&self, out: &mut Vec<u8>) {
        // Every length below was bounded when the set was made or read (a name of at most 32
        // bytes, parameters of at most 256, a salt of at most 64, at most 32 hashes of at
        // most 64 bytes), so the narrowing casts cannot cut.
        out.push(self.version as u8);
        out.push(self.algorithm.len() as u8);
        out.extend_from_slice(self.algorithm.as_bytes());
        out.extend_from_slice(&(self.parameters.len() as u16).to_be_bytes());
        out.extend_from_slice(self.parameters.as_bytes());
        out.push(self.salt.len() as u8);
        out.extend_from_slice(&self.salt);
        out.push(self.hashes.hash_len() as u8);
        out.push(self.hashes.count() as u8);
        out.extend_from_slice(self.hashes.as_concatenated());
    }

    /// Reads a set written by [`write_binary`](RecoveryCodeSet::write_binary), all of
    /// `bytes` and nothing else.
    ///
    /// # Errors
    ///
    /// [`RecoveryError::UnsupportedVersion`]; [`RecoveryError::MalformedEncoding`] naming the
    /// part that is cut short, followed by stray bytes, or against the rules of the text form
    /// (see [`decode`](RecoveryCodeSet::decode)).
    pub(crate) fn read_binary(bytes: &[u8]) -> Result<RecoveryCodeSet, Error> {
        let malformed = |part| Error::from(RecoveryError::MalformedEncoding { part });
        let mut rest = bytes;
        // Each field is checked as it is read, by the text form's rules, so that the first
        // part found wrong is the one named.
        let version = take(&mut rest, 1).ok_or(malformed(EncodingPart::Format))?[0];
        let version = Version::from_number(u32::from(version))?;
        let algorithm = take_sized(&mut rest, 1)
            .and_then(|name| core::str::from_utf8(name).ok())
            .filter(|name| is_algorithm(name))
            .ok_or(malformed(EncodingPart::Algorithm))?;
        let parameters = take_sized(&mut rest, 2)
            .and_then(|list| core::str::from_utf8(list).ok())
            .filter(|list| is_parameter_list(list))
            .ok_or(malformed(EncodingPart::Parameters))?;
        let salt = take_sized(&mut rest, 1)
            .filter(|salt| is_salt(salt))
            .ok_or(malformed(EncodingPart::Salt))?;
        let hashes = take(&mut rest, 2)
            .and_then(|sizes| {
                let (hash_len, count) = (usize::from(sizes[0]), usize::from(sizes[1]));
                Hashes::from_concatenated(take(&mut rest, hash_len * count)?, hash_len)
                    .filter(|hashes| hashes.count() == count)
            })
            .ok_or(malformed(EncodingPart::Hashes))?;
        if !rest.is_empty() {
            return Err(malformed(EncodingPart::Format));
        }
        Ok(RecoveryCodeSet {
            version,
            algorithm: String::from(algorithm),
            parameters: String::from(parameters),
            salt: salt.to_vec(),
            hashes,
        })
    }
}

/// The next `n` bytes of `rest`, or `None` when fewer are left.
fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, tail) = rest.split_at_checked(n)?;
    *rest = tail;
    Some(head)
}

/// A field preceded by its length in `width` (1 or 2) big-endian bytes.
fn take_sized<'a>(rest: &mut &'a [u8], width: usize) -> Option<&'a [u8]> {
    let len = take(rest, width)?
        .iter()
        .fold(0usize, |len, &byte| len << 8 | usize::from(byte));
    take(rest, len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec;

    fn set(version: Version, parameters: &str, salt: &[u8], hashes: &[Vec<u8>]) -> RecoveryCodeSet {
        RecoveryCodeSet {
            version,
            algorithm: String::from("pbkdf2-sha256"),
            parameters: String::from(parameters),
            salt: salt.to_vec(),
            hashes: Hashes::from_list(hashes).unwrap(),
        }
    }

    fn written(set: &RecoveryCodeSet) -> Vec<u8> {
        let mut out = Vec::new();
        set.write_binary(&mut out);
        out
    }

    fn part(bytes: &[u8]) -> Option<EncodingPart> {
        match RecoveryCodeSet::read_binary(bytes) {
            Err(Error::Recovery(RecoveryError::MalformedEncoding { part })) => Some(part),
            _ => None,
        }
    }

    #[test]
    fn the_layout_byte_for_byte() {
        let two = set(
            Version::BoundToUser,
            "i=9",
            &[0xa5; 16],
            &[vec![1; 16], vec![2; 16]],
        );
        let mut expected = vec![2, 13];
        expected.extend_from_slice(b"pbkdf2-sha256");
        expected.extend_from_slice(&[0, 3]);
        expected.extend_from_slice(b"i=9");
        expected.push(16);
        expected.extend_from_slice(&[0xa5; 16]);
        expected.extend_from_slice(&[16, 2]);
        expected.extend_from_slice(&[1; 16]);
        expected.extend_from_slice(&[2; 16]);
        assert_eq!(written(&two), expected);
        assert_eq!(two.binary_len(), expected.len());
    }

    #[test]
    fn round_trips_and_agrees_with_the_text_form() {
        // The longest parameters a set may have: their length needs both of its bytes.
        let long_parameters = (0..28)
            .map(|i| alloc::format!("p{i:02}=1234"))
            .collect::<Vec<_>>()
            .join(",")
            + "56789";
        assert_eq!(long_parameters.len(), 256);
        let sets = [
            set(Version::BoundToUser, "i=30000", &[7; 16], &[vec![1; 32]]),
            set(Version::Unbound, "", &[7; 64], &[]),
            set(
                Version::BoundToUser,
                &long_parameters,
                &[9; 20],
                &(0..32u8).map(|i| vec![i; 64]).collect::<Vec<_>>(),
            ),
        ];
        for original in sets {
            let bytes = written(&original);
            assert_eq!(original.binary_len(), bytes.len());
            let read = RecoveryCodeSet::read_binary(&bytes).unwrap();
            assert_eq!(read, original);
            assert_eq!(RecoveryCodeSet::decode(&original.encode()).unwrap(), read);
        }
    }

    #[test]
    fn names_the_part_that_is_wrong() {
        use EncodingPart::{Algorithm, Format, Hashes, Parameters, Salt};
        let good = written(&set(
            super::Version::BoundToUser,
            "i=1",
            &[7; 16],
            &[vec![1; 16], vec![2; 16]],
        ));
        // 0 version, 1 name length, 2..15 name, 15..17 parameter length, 17..20 parameters,
        // 20 salt length, 21..37 salt, 37 hash length, 38 count, 39.. hashes.
        assert_eq!(good.len(), 39 + 32);
        for cut in 0..good.len() {
            let expected = match cut {
                0 => Format,
                1..15 => Algorithm,
                15..20 => Parameters,
                20..37 => Salt,
                _ => Hashes,
            };
            assert_eq!(part(&good[..cut]), Some(expected), "cut at {cut}");
        }
        let changed = |at: usize, value: u8| {
            let mut bytes = good.clone();
            bytes[at] = value;
            part(&bytes)
        };
        assert_eq!(changed(2, b'P'), Some(Algorithm));
        // With several parts wrong, the first in field order is named.
        let mut two_wrong = good.clone();
        two_wrong[2] = b'P';
        assert_eq!(
            part(&two_wrong[..16]),
            Some(Algorithm),
            "name, then cut short"
        );
        two_wrong[2] = b'p';
        two_wrong[18] = b'$';
        assert_eq!(
            part(&two_wrong[..25]),
            Some(Parameters),
            "parameters, then cut short"
        );
        assert_eq!(changed(2, 0xff), Some(Algorithm), "not UTF-8");
        assert_eq!(changed(18, 0xff), Some(Parameters), "not UTF-8");
        assert_eq!(changed(18, b'$'), Some(Parameters));
        assert_eq!(changed(37, 15), Some(Hashes));
        assert_eq!(changed(38, 3), Some(Hashes));
        assert_eq!(changed(38, 1), Some(Format), "one hash and stray bytes");
        let mut repeated = good.clone();
        repeated[55..].fill(1);
        assert_eq!(part(&repeated), Some(Hashes), "a repeated hash");
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(part(&trailing), Some(Format));
        for version in [0, 3, 255] {
            assert_eq!(
                RecoveryCodeSet::read_binary(&[version]),
                Err(RecoveryError::UnsupportedVersion {
                    version: u32::from(version)
                }
                .into())
            );
        }
        // Salt lengths around the bounds.
        for (len, valid) in [(15, false), (16, true), (64, true), (65, false)] {
            let bytes = written(&RecoveryCodeSet {
                salt: vec![7; len],
                ..set(super::Version::BoundToUser, "", &[7; 16], &[])
            });
            assert_eq!(part(&bytes).is_none(), valid, "salt of {len}");
        }
        // An emptied set has hash length 0, and only it.
        let empty = written(&set(super::Version::BoundToUser, "", &[7; 16], &[]));
        assert!(RecoveryCodeSet::read_binary(&empty).is_ok());
        let mut with_length = empty.clone();
        *with_length.iter_mut().rev().nth(1).unwrap() = 16;
        assert_eq!(part(&with_length), Some(Hashes));
    }
}
