//! What can go wrong when sealing and opening secrets.

use alloc::string::String;
use core::fmt;

use super::SealScheme;

/// Why a secret could not be sealed or opened, or a sealer could not be built.
///
/// It reaches callers inside [`Error::Seal`](crate::Error::Seal). No variant carries key
/// material, a secret or a user id; the key ids some variants name are labels chosen by the
/// host and checked to be printable ASCII. These errors are safe to log.
///
/// The enum is `#[non_exhaustive]`: later releases add variants, so keep a `_` arm.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealError {
    /// The sealed secret does not open with this key and this user id. It was sealed for
    /// another user (copied from another record), changed after sealing, or sealed under
    /// other key bytes that carry the same key id. The cases are one error on purpose: the
    /// cipher cannot tell them apart, and neither should an attacker.
    OpenFailed,
    /// The sealed secret names a key id that is not in the keyring, for example a key that
    /// was removed before every record had been resealed under a newer one.
    UnknownKeyId {
        /// The key id found in the sealed secret.
        key_id: String,
    },
    /// The sealed secret was made by another scheme than the sealer given can open, for
    /// example a secret of the test-only plaintext sealer handed to the AES-GCM sealer.
    SchemeMismatch {
        /// The scheme of the sealer.
        expected: SealScheme,
        /// The scheme of the sealed secret.
        found: SealScheme,
    },
    /// The encoded sealed secret ends before its layout does.
    Truncated,
    /// The encoded sealed secret starts with a layout version this release cannot read.
    UnsupportedVersion {
        /// The version byte found.
        version: u8,
    },
    /// The encoded sealed secret names a scheme this release does not know.
    UnknownScheme {
        /// The scheme byte found.
        scheme: u8,
    },
    /// The encoded sealed secret holds a secret of a length no [`Secret`](crate::Secret)
    /// can have (or carries bytes beyond its end).
    InvalidSecretLength {
        /// The length found, in bytes.
        len: usize,
        /// The shortest allowed.
        min: usize,
        /// The longest allowed.
        max: usize,
    },
    /// A key id is empty.
    EmptyKeyId,
    /// A key id is longer than [`SealedSecret::MAX_KEY_ID_LEN`](super::SealedSecret::MAX_KEY_ID_LEN)
    /// bytes.
    KeyIdTooLong {
        /// The length given, in bytes.
        len: usize,
        /// The longest allowed.
        max: usize,
    },
    /// A key id holds a character other than printable ASCII (`!` to `~`; no spaces).
    InvalidKeyIdCharacter {
        /// Zero-based byte index of the first offending character.
        position: usize,
    },
    /// A keyring was given no keys.
    EmptyKeyring,
    /// A keyring was given two keys with the same id.
    DuplicateKeyId {
        /// The id given twice.
        key_id: String,
    },
    /// The current key id names no key of the keyring.
    UnknownCurrentKeyId {
        /// The id asked for.
        key_id: String,
    },
    /// A key is not of the length the cipher needs (32 bytes for AES-256).
    InvalidKeyLength {
        /// The length given, in bytes.
        len: usize,
        /// The length required.
        expected: usize,
    },
    /// The operating system's random number generator failed while making a nonce or a key.
    RandomUnavailable,
    /// The cipher refused to encrypt. AES-GCM does so only for inputs far longer than any
    /// secret, so this points at a bug rather than at bad input.
    EncryptionFailed,
}

impl core::error::Error for SealError {}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OpenFailed => f.write_str(
                "cannot be opened: it belongs to another user, was altered, or the key differs",
            ),
            Self::UnknownKeyId { key_id } => {
                write!(
                    f,
                    "sealed under key id {key_id:?}, which is not in the keyring"
                )
            }
            Self::SchemeMismatch { expected, found } => write!(
                f,
                "sealed with {}, but this sealer uses {}",
                found.name(),
                expected.name()
            ),
            Self::Truncated => f.write_str("the encoding is truncated"),
            Self::UnsupportedVersion { version } => {
                write!(f, "unsupported encoding version {version}")
            }
            Self::UnknownScheme { scheme } => write!(f, "unknown sealing scheme {scheme}"),
            Self::InvalidSecretLength { len, min, max } => write!(
                f,
                "holds a secret of {len} bytes; a secret has {min} to {max}"
            ),
            Self::EmptyKeyId => f.write_str("a key id must not be empty"),
            Self::KeyIdTooLong { len, max } => {
                write!(
                    f,
                    "a key id of {len} bytes is too long; at most {max} are allowed"
                )
            }
            Self::InvalidKeyIdCharacter { position } => write!(
                f,
                "a key id has a character that is not printable ASCII at byte {}",
                position + 1
            ),
            Self::EmptyKeyring => f.write_str("the keyring has no keys"),
            Self::DuplicateKeyId { key_id } => {
                write!(f, "the keyring has key id {key_id:?} twice")
            }
            Self::UnknownCurrentKeyId { key_id } => {
                write!(f, "the current key id {key_id:?} is not in the keyring")
            }
            Self::InvalidKeyLength { len, expected } => {
                write!(f, "a key of {len} bytes was given; {expected} are required")
            }
            Self::RandomUnavailable => {
                f.write_str("the operating system's random number generator failed")
            }
            Self::EncryptionFailed => f.write_str("the cipher refused to encrypt"),
        }
    }
}
