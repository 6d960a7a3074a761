//! What can go wrong with recovery codes.

use core::fmt;

/// Why recovery codes could not be made, decoded or checked.
///
/// It reaches callers inside [`Error::Recovery`](crate::Error::Recovery). No variant carries a
/// code, a hash, a salt or a pepper: these errors are safe to log.
///
/// The enum is `#[non_exhaustive]`: later releases add variants, so keep a `_` arm.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecoveryError {
    /// The code typed is not one of the unused codes of the set: it is wrong, already used,
    /// from another set, or not shaped like a recovery code at all. These cases are one error
    /// on purpose, so that nobody learns which one happened.
    InvalidCode,
    /// A number of codes outside the bounds of
    /// [`RecoveryCodeSet::MIN_COUNT`](super::RecoveryCodeSet::MIN_COUNT) to
    /// [`RecoveryCodeSet::MAX_COUNT`](super::RecoveryCodeSet::MAX_COUNT).
    InvalidCount {
        /// The number requested.
        requested: usize,
        /// The fewest allowed.
        min: usize,
        /// The most allowed.
        max: usize,
    },
    /// The set was hashed by another scheme than the hasher given: another algorithm, or with
    /// a pepper where the hasher has none (or the other way round). This is a configuration
    /// problem of the host, not a wrong code.
    HasherMismatch,
    /// The hasher does not accept the parameters stored with the set (for PBKDF2: an unknown
    /// parameter, or an iteration count out of bounds).
    InvalidParameters,
    /// A PBKDF2 iteration count outside the bounds of
    /// [`Pbkdf2Hasher::MIN_ITERATIONS`](super::Pbkdf2Hasher::MIN_ITERATIONS) to
    /// [`Pbkdf2Hasher::MAX_ITERATIONS`](super::Pbkdf2Hasher::MAX_ITERATIONS) (from 1 for
    /// [`Pbkdf2Hasher::danger_with_iterations`](super::Pbkdf2Hasher::danger_with_iterations)).
    InvalidIterations {
        /// The count requested.
        requested: u32,
        /// The lowest allowed.
        min: u32,
        /// The highest allowed.
        max: u32,
    },
    /// A pepper shorter than [`Pbkdf2Hasher::MIN_PEPPER_LEN`](super::Pbkdf2Hasher::MIN_PEPPER_LEN)
    /// or longer than [`Pbkdf2Hasher::MAX_PEPPER_LEN`](super::Pbkdf2Hasher::MAX_PEPPER_LEN) bytes.
    InvalidPepperLength {
        /// The length given, in bytes.
        len: usize,
        /// The shortest allowed.
        min: usize,
        /// The longest allowed.
        max: usize,
    },
    /// A [`CodeHasher`](super::CodeHasher) broke its contract: a name or parameters that
    /// cannot be written in the encoding, or hashes of a length outside 16 to 64 bytes or
    /// of varying length.
    InvalidHasher,
    /// The random number generator kept producing codes already in the set. A working
    /// generator does that with a probability below 2<sup>-40</sup>; this one is broken.
    BrokenRandomness,
    /// An encoded set is longer than
    /// [`RecoveryCodeSet::MAX_ENCODED_LEN`](super::RecoveryCodeSet::MAX_ENCODED_LEN) bytes.
    EncodingTooLong {
        /// The length given, in bytes.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// An encoded set is not well formed; the part named is the first one found wrong.
    MalformedEncoding {
        /// Which part of the encoding is wrong.
        part: EncodingPart,
    },
    /// An encoded set has a format version this release does not know.
    UnsupportedVersion {
        /// The version found.
        version: u32,
    },
    /// The set was stored by an earlier release, in version 1 of the encoding, whose hashes
    /// are not bound to a user id; no code of it is accepted, since such a set would work in
    /// any user's record. It still decodes, so the record that holds it stays readable:
    /// generate a new set for the user (for example after they confirm their password).
    UnboundSet,
}

/// A part of the text encoding of a [`RecoveryCodeSet`](super::RecoveryCodeSet), named in
/// [`RecoveryError::MalformedEncoding`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodingPart {
    /// The overall shape: a leading `$`, the `twofa-recovery` marker and seven fields.
    Format,
    /// The `v=` field.
    Version,
    /// The hashing algorithm's name.
    Algorithm,
    /// The hashing parameters.
    Parameters,
    /// The salt: not base64, or of a length outside the bounds.
    Salt,
    /// The hashes: not base64, of a wrong or varying length, repeated, or too many.
    Hashes,
}

impl core::error::Error for RecoveryError {}

impl fmt::Display for RecoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidCode => f.write_str("the recovery code is not valid"),
            Self::InvalidCount {
                requested,
                min,
                max,
            } => write!(
                f,
                "a set of {requested} recovery codes is not allowed; use {min} to {max}"
            ),
            Self::HasherMismatch => {
                f.write_str("the set was hashed with another scheme or pepper setting")
            }
            Self::InvalidParameters => {
                f.write_str("the hasher does not accept the set's hashing parameters")
            }
            Self::InvalidIterations {
                requested,
                min,
                max,
            } => write!(
                f,
                "{requested} PBKDF2 iterations are not allowed; use {min} to {max}"
            ),
            Self::InvalidPepperLength { len, min, max } => write!(
                f,
                "a pepper of {len} bytes is not allowed; use {min} to {max} bytes"
            ),
            Self::InvalidHasher => f.write_str("the code hasher broke its contract"),
            Self::BrokenRandomness => {
                f.write_str("the random number generator keeps repeating itself")
            }
            Self::EncodingTooLong { len, max } => write!(
                f,
                "encoded set is {len} bytes long; at most {max} are allowed"
            ),
            Self::MalformedEncoding { part } => write!(f, "encoded set has a malformed {part}"),
            Self::UnsupportedVersion { version } => {
                write!(f, "encoded set has unsupported format version {version}")
            }
            Self::UnboundSet => f.write_str(
                "the set predates recovery codes bound to the user id; generate new codes",
            ),
        }
    }
}

impl fmt::Display for EncodingPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Format => "format",
            Self::Version => "version",
            Self::Algorithm => "algorithm name",
            Self::Parameters => "parameter list",
            Self::Salt => "salt",
            Self::Hashes => "hash list",
        })
    }
}
