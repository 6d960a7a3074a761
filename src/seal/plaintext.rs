//! A sealer that does not encrypt, for tests.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::sealed::KeyId;
use super::{SealError, SealScheme, SealedSecret, SecretSealer};
use crate::{Error, Secret};

/// A [`SecretSealer`] that stores the secret **unencrypted**, for tests and examples only.
///
/// **Never use it in production.** Anyone who can read the stored records can read every
/// secret and produce valid codes for every user.
///
/// It exists so that tests of the account layer and of stores run without keys. It behaves like a real sealer in the ways tests rely on: a
/// [`SealedSecret`] made for one user id fails to open for another, and a changed byte makes
/// it fail, both with [`SealError::OpenFailed`]. The check behind that is a truncated
/// SHA-256 anyone can recompute: it catches mistakes, not attackers.
///
/// Its sealed secrets carry the scheme [`SealScheme::DangerPlaintext`] and the key id
/// [`DangerPlaintextSealer::KEY_ID`], and no other sealer opens them.
///
/// ```
/// use twofa::seal::DangerPlaintextSealer;
/// use twofa::{Secret, SecretSealer};
///
/// let sealer = DangerPlaintextSealer::new();
/// let secret = Secret::from_bytes(b"12345678901234567890")?;
/// let sealed = sealer.seal(&secret, "user-42")?;
///
/// assert_eq!(sealer.open(&sealed, "user-42")?, secret);
/// assert!(sealer.open(&sealed, "user-43").is_err());
/// # Ok::<(), twofa::Error>(())
/// ```
///
/// # Security
///
/// Nothing is protected. The type exists only with the `danger-plaintext-sealer` feature,
/// which is off by default: enable it in `[dev-dependencies]` only, so that a release build
/// cannot construct it. Searching a code base for `danger` finds every use.
#[derive(Debug, Clone, Copy, Default)]
pub struct DangerPlaintextSealer;

impl DangerPlaintextSealer {
    /// The key id written into every sealed secret.
    pub const KEY_ID: &'static str = "danger-plaintext";
    const CHECKED_KEY_ID: KeyId = KeyId::fixed(Self::KEY_ID);

    /// Makes the sealer. See the type's documentation: for tests only.
    pub const fn new() -> DangerPlaintextSealer {
        DangerPlaintextSealer
    }
}

impl SecretSealer for DangerPlaintextSealer {
    /// Writes the secret as it is, followed by a checksum over the header, the user id and
    /// the secret.
    ///
    /// # Errors
    ///
    /// None in practice; the signature is the trait's.
    fn seal(&self, secret: &Secret, user_id: &str) -> Result<SealedSecret, Error> {
        Ok(SealedSecret::build(
            SealScheme::DangerPlaintext,
            &Self::CHECKED_KEY_ID,
            &[],
            secret,
            |header, body| Ok(checksum(header, user_id, body)),
        )?)
    }

    /// Checks the checksum and returns the secret.
    ///
    /// # Errors
    ///
    /// Inside [`Error::Seal`]: [`SealError::SchemeMismatch`] for a secret sealed by another
    /// sealer, [`SealError::UnknownKeyId`] for a key id other than
    /// [`DangerPlaintextSealer::KEY_ID`], and [`SealError::OpenFailed`] for another user id
    /// or altered bytes.
    fn open(&self, sealed: &SealedSecret, user_id: &str) -> Result<Secret, Error> {
        if sealed.scheme() != SealScheme::DangerPlaintext {
            return Err(SealError::SchemeMismatch {
                expected: SealScheme::DangerPlaintext,
                found: sealed.scheme(),
            }
            .into());
        }
        if sealed.key_id() != Self::KEY_ID {
            return Err(SealError::UnknownKeyId {
                key_id: sealed.key_id().into(),
            }
            .into());
        }
        let expected = checksum(sealed.header(), user_id, sealed.body());
        if !bool::from(expected.ct_eq(sealed.tag())) {
            return Err(SealError::OpenFailed.into());
        }
        // The layout guarantees 10 to 128 bytes: every length a `Secret` can have.
        Secret::from_legacy_bytes(sealed.body())
    }

    fn needs_reseal(&self, sealed: &SealedSecret) -> bool {
        sealed.scheme() != SealScheme::DangerPlaintext || sealed.key_id() != Self::KEY_ID
    }
}

/// The first 16 bytes of SHA-256 over a label, the header, the user id (with its length, so
/// that the parts cannot shift) and the secret.
fn checksum(header: &[u8], user_id: &str, body: &[u8]) -> [u8; SealedSecret::TAG_LEN] {
    let digest = Sha256::new()
        .chain_update(b"twofa danger-plaintext seal v1\0")
        .chain_update(header)
        .chain_update((user_id.len() as u64).to_be_bytes())
        .chain_update(user_id.as_bytes())
        .chain_update(body)
        .finalize();
    let mut tag = [0; SealedSecret::TAG_LEN];
    tag.copy_from_slice(&digest[..SealedSecret::TAG_LEN]);
    tag
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret::from_bytes(b"12345678901234567890").unwrap()
    }

    #[test]
    fn layout_holds_the_secret_in_clear() {
        let sealed = DangerPlaintextSealer::new().seal(&secret(), "u").unwrap();
        let bytes = sealed.as_bytes();
        assert_eq!(&bytes[..3], &[1, 2, 16]);
        assert_eq!(&bytes[3..19], b"danger-plaintext");
        assert_eq!(&bytes[19..39], b"12345678901234567890");
        assert_eq!(bytes.len(), 39 + 16);
    }

    #[test]
    fn the_fixed_key_id_follows_the_rules() {
        assert!(
            KeyId::new(DangerPlaintextSealer::KEY_ID) == Ok(DangerPlaintextSealer::CHECKED_KEY_ID)
        );
    }

    #[test]
    fn legacy_secrets_round_trip() {
        let short = Secret::from_legacy_bytes(&[3; 10]).unwrap();
        let sealer = DangerPlaintextSealer::new();
        let sealed = sealer.seal(&short, "u").unwrap();
        assert_eq!(sealer.open(&sealed, "u").unwrap(), short);
    }

    #[test]
    fn user_id_cannot_shift_into_the_secret() {
        // Same bytes after the header, split differently between user id and secret.
        let sealer = DangerPlaintextSealer::new();
        let sealed = sealer.seal(&secret(), "ab").unwrap();
        assert!(sealer.open(&sealed, "a").is_err());
        assert!(sealer.open(&sealed, "").is_err());
        assert!(!sealer.needs_reseal(&sealed));
    }
}
