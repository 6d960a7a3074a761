//! Secrets at rest: the TOTP secret is sealed (encrypted) before it is stored.
//!
//! A TOTP secret is a password the server must be able to read back: it cannot be hashed.
//! If the records leak (a backup, a read-only SQL injection, a copied replica), every secret
//! in them lets the thief make valid codes. Sealing keeps them useless without a key that
//! lives somewhere else: a secret store, an environment variable, a KMS.
//!
//! [`SecretSealer`] is the seam. [`AesGcmSealer`] (feature `aes-gcm`, on by default) is the
//! one to use: AES-256-GCM under a keyring of named keys. `DangerPlaintextSealer` does not
//! encrypt at all and is for tests only: it exists only with the feature
//! `danger-plaintext-sealer`, off by default, so that a release build cannot use it by
//! accident. Enable it for tests alone, in `[dev-dependencies]`.
//!
//! # What sealing protects, and what it does not
//!
//! - A leak of the records alone reveals no secret.
//! - The user id is part of the authenticated data, so a sealed secret copied into another
//!   user's record does not open ([`SealError::OpenFailed`]). This stops a mix-up of rows,
//!   not an attacker who can write to the database: such an attacker can simply write a
//!   record with two-factor authentication turned off. Write access to the store is outside
//!   what `twofa` can defend; protect it like the password table.
//! - Any changed byte (key id, nonce, ciphertext, tag) makes opening fail.
//! - Whoever holds both the key and the records, or the memory of the running server, can
//!   read the secrets. Sealing does not replace protecting the server.
//!
//! # Key rotation
//!
//! Every [`SealedSecret`] names the key it was sealed under. To rotate, configure a new key as
//! current and keep the old ones; [`SecretSealer::needs_reseal`] and
//! [`SecretSealer::reseal`] move each record to the current key, and once none names an old
//! key, the old key can go.
//!
//! ```
//! # #[cfg(feature = "aes-gcm")] {
//! use twofa::{AesGcmSealer, Secret, SealedSecret, SecretSealer};
//!
//! let sealer = AesGcmSealer::new("2025-01", &[7; 32])?;
//! let secret = Secret::from_bytes(b"12345678901234567890")?;
//!
//! // Store these bytes in the user's record.
//! let stored = sealer.seal(&secret, "user-42")?.to_bytes();
//!
//! // Later, when the user signs in:
//! let sealed = SealedSecret::from_bytes(&stored)?;
//! assert_eq!(sealer.open(&sealed, "user-42")?, secret);
//! # }
//! # Ok::<(), twofa::Error>(())
//! ```

use alloc::boxed::Box;

#[cfg(feature = "aes-gcm")]
mod aes;
mod error;
#[cfg(feature = "danger-plaintext-sealer")]
mod plaintext;
mod sealed;

#[cfg(feature = "aes-gcm")]
pub use aes::AesGcmSealer;
pub use error::SealError;
#[cfg(feature = "danger-plaintext-sealer")]
#[cfg_attr(docsrs, doc(cfg(feature = "danger-plaintext-sealer")))]
pub use plaintext::DangerPlaintextSealer;
pub use sealed::{SealScheme, SealedSecret};

use crate::{Error, Secret};

/// The test-only sealer is not re-exported at the crate root: code that names it says
/// `seal::DangerPlaintextSealer`, and compiles only with the `danger-plaintext-sealer` feature.
///
/// ```compile_fail
/// use twofa::DangerPlaintextSealer;
/// ```
#[cfg(doctest)]
pub struct PlaintextSealerIsNotAtTheRoot;

/// Seals secrets for storage and opens them again.
///
/// The trait is object-safe: a service can hold an `Arc<dyn SecretSealer>`. It is
/// implemented by `AesGcmSealer` and `DangerPlaintextSealer`, and by references, boxes and
/// `Arc`s of sealers.
///
/// The user id passed in must be the stable id of the user whose record holds the secret,
/// the same on [`seal`](SecretSealer::seal) and [`open`](SecretSealer::open): it is
/// authenticated with the secret, so that a sealed secret moved to another user's record
/// does not open.
///
/// ```
/// # #[cfg(feature = "aes-gcm")] {
/// use std::sync::Arc;
/// use twofa::{AesGcmSealer, Secret, SecretSealer};
///
/// let sealer: Arc<dyn SecretSealer> = Arc::new(AesGcmSealer::new("2025-01", &[7; 32])?);
/// let secret = Secret::from_bytes(&[5; 20])?;
/// let sealed = sealer.seal(&secret, "user-42")?;
/// assert_eq!(sealer.open(&sealed, "user-42")?, secret);
/// # }
/// # Ok::<(), twofa::Error>(())
/// ```
pub trait SecretSealer: Send + Sync {
    /// Seals a secret for the given user.
    ///
    /// # Errors
    ///
    /// A [`SealError`] inside [`Error::Seal`] when the sealer cannot work (for
    /// `AesGcmSealer`, when the operating system has no random bytes).
    fn seal(&self, secret: &Secret, user_id: &str) -> Result<SealedSecret, Error>;

    /// Opens a secret sealed for the given user.
    ///
    /// # Errors
    ///
    /// Inside [`Error::Seal`]: [`SealError::OpenFailed`] when the secret was sealed for
    /// another user or altered, [`SealError::UnknownKeyId`] when the sealer lacks its key,
    /// and [`SealError::SchemeMismatch`] when another kind of sealer made it.
    ///
    /// # Security
    ///
    /// The result is the secret itself; it is zeroized when dropped.
    fn open(&self, sealed: &SealedSecret, user_id: &str) -> Result<Secret, Error>;

    /// Whether the secret is sealed under something other than the current key, so that
    /// [`reseal`](SecretSealer::reseal) would replace it.
    fn needs_reseal(&self, sealed: &SealedSecret) -> bool;

    /// Seals the secret again under the current key when it is under another one: `Some`
    /// with the value to store in its place, or `None` when it is already current.
    ///
    /// ```
    /// # #[cfg(feature = "aes-gcm")] {
    /// use twofa::{AesGcmSealer, Secret, SecretSealer};
    ///
    /// let before = AesGcmSealer::new("old", &[1; 32])?;
    /// let sealed = before.seal(&Secret::from_bytes(&[9; 20])?, "user-42")?;
    ///
    /// let after = AesGcmSealer::new("new", &[2; 32])?.with_old_key("old", &[1; 32])?;
    /// if let Some(resealed) = after.reseal(&sealed, "user-42")? {
    ///     // Save `resealed.to_bytes()` in place of the old value.
    ///     assert_eq!(resealed.key_id(), "new");
    /// }
    /// # }
    /// # Ok::<(), twofa::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Those of [`open`](SecretSealer::open) and [`seal`](SecretSealer::seal). A secret
    /// already under the current key is not opened, so it gives `Ok(None)` even for another
    /// user id.
    fn reseal(&self, sealed: &SealedSecret, user_id: &str) -> Result<Option<SealedSecret>, Error> {
        if !self.needs_reseal(sealed) {
            return Ok(None);
        }
        let secret = self.open(sealed, user_id)?;
        self.seal(&secret, user_id).map(Some)
    }
}

/// Forwards every method of [`SecretSealer`] through a pointer type.
macro_rules! forward_sealer {
    ($(#[$attr:meta])* $pointer:ty) => {
        $(#[$attr])*
        impl<S: SecretSealer + ?Sized> SecretSealer for $pointer {
            fn seal(&self, secret: &Secret, user_id: &str) -> Result<SealedSecret, Error> {
                (**self).seal(secret, user_id)
            }

            fn open(&self, sealed: &SealedSecret, user_id: &str) -> Result<Secret, Error> {
                (**self).open(sealed, user_id)
            }

            fn needs_reseal(&self, sealed: &SealedSecret) -> bool {
                (**self).needs_reseal(sealed)
            }

            fn reseal(
                &self,
                sealed: &SealedSecret,
                user_id: &str,
            ) -> Result<Option<SealedSecret>, Error> {
                (**self).reseal(sealed, user_id)
            }
        }
    };
}

forward_sealer!(&S);
forward_sealer!(Box<S>);
forward_sealer!(#[cfg(target_has_atomic = "ptr")] alloc::sync::Arc<S>);

#[cfg(all(test, feature = "danger-plaintext-sealer"))]
mod tests {
    use super::*;
    use alloc::sync::Arc;

    fn assert_object_safe(_: &dyn SecretSealer) {}

    #[test]
    fn sealers_work_behind_pointers() {
        let sealer = DangerPlaintextSealer::new();
        assert_object_safe(&sealer);
        let secret = Secret::from_bytes(&[4; 16]).unwrap();
        let boxed: Box<dyn SecretSealer> = Box::new(sealer);
        let shared: Arc<dyn SecretSealer> = Arc::new(sealer);
        let sealed = boxed.seal(&secret, "u").unwrap();
        assert_eq!(shared.open(&sealed, "u").unwrap(), secret);
        let by_ref: &dyn SecretSealer = &&sealer;
        assert_eq!(by_ref.reseal(&sealed, "u").unwrap(), None);
    }

    #[cfg(feature = "aes-gcm")]
    #[test]
    fn reseal_moves_plaintext_out_only_through_both_sealers() {
        // An AES sealer cannot open a plaintext secret, so it cannot reseal one either: the
        // migration away from the test sealer is an explicit open-then-seal by the host.
        let plain = DangerPlaintextSealer::new();
        let aes = AesGcmSealer::new("k", &[1; 32]).unwrap();
        let secret = Secret::from_bytes(&[4; 20]).unwrap();
        let sealed = plain.seal(&secret, "u").unwrap();
        assert!(aes.needs_reseal(&sealed));
        assert!(matches!(
            aes.reseal(&sealed, "u"),
            Err(Error::Seal(SealError::SchemeMismatch { .. }))
        ));
        let migrated = aes.seal(&plain.open(&sealed, "u").unwrap(), "u").unwrap();
        assert_eq!(aes.open(&migrated, "u").unwrap(), secret);
    }
}
