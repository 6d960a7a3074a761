//! AES-256-GCM sealing with a keyring, for production.

use alloc::vec::Vec;
use core::fmt;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::sealed::{AES_GCM_NONCE_LEN as NONCE_LEN, KeyId};
use super::{SealError, SealScheme, SealedSecret, SecretSealer};
use crate::{Error, Secret};

/// A [`SecretSealer`] that encrypts with AES-256-GCM under a keyring of named keys.
///
/// Each key is 32 random bytes with an id the host chooses, such as `2025-01`: 1 to 64
/// characters of printable ASCII. One key is *current*: [`seal`](SecretSealer::seal)
/// encrypts with it and writes its id into the [`SealedSecret`].
/// [`open`](SecretSealer::open) decrypts with whichever key of the keyring the sealed
/// secret names, so old keys keep working while records move to the new one.
///
/// ```
/// use twofa::{AesGcmSealer, Secret, SecretSealer};
///
/// // In production the key comes from a secret store or an environment variable,
/// // never from the database that holds the records.
/// let key = AesGcmSealer::generate_key()?;
/// let sealer = AesGcmSealer::new("2025-01", &*key)?;
///
/// let secret = Secret::from_bytes(b"12345678901234567890")?;
/// let sealed = sealer.seal(&secret, "user-42")?;
/// assert_eq!(sealer.open(&sealed, "user-42")?, secret);
/// assert!(sealer.open(&sealed, "user-43").is_err());
/// # Ok::<(), twofa::Error>(())
/// ```
///
/// # Key rotation
///
/// Make a new key the current one and keep the old keys for opening:
///
/// ```
/// use twofa::{AesGcmSealer, Secret, SecretSealer};
///
/// let old = AesGcmSealer::new("2024-01", &[1; 32])?;
/// let sealed = old.seal(&Secret::from_bytes(&[9; 20])?, "user-42")?;
///
/// let sealer = AesGcmSealer::new("2025-01", &[2; 32])?.with_old_key("2024-01", &[1; 32])?;
/// assert!(sealer.needs_reseal(&sealed));
/// let resealed = sealer.reseal(&sealed, "user-42")?.expect("was under the old key");
/// assert_eq!(resealed.key_id(), "2025-01");
/// assert_eq!(sealer.reseal(&resealed, "user-42")?, None);
/// # Ok::<(), twofa::Error>(())
/// ```
///
/// Reseal records as they are loaded (on sign-in) or in a batch job; once no stored record
/// names the old key id, remove the old key from the configuration.
///
/// # Security
///
/// - The key is what protects the secrets: keep it out of the database, its backups and the
///   logs. Whoever has both the key and a record can make codes for that user.
/// - Every seal draws a fresh random 96-bit nonce. NIST SP 800-38D bounds random nonces to
///   2<sup>32</sup> encryptions per key; one seal per enrolment and per rotation stays far
///   below that.
/// - The associated data binds the header (version, scheme, key id) and the user id, so a
///   sealed secret copied into another user's record, or relabelled with another key id,
///   fails with [`SealError::OpenFailed`].
/// - The key schedules are zeroized when the sealer is dropped, and `Debug` shows key ids
///   only. The key bytes you pass in are copied into the cipher state; zeroize your own copy
///   (for example with [`zeroize::Zeroizing`]).
pub struct AesGcmSealer {
    current: SealingKey,
    old: Vec<SealingKey>,
}

struct SealingKey {
    id: KeyId,
    // With the `zeroize` feature of `aes-gcm`, the cipher zeroizes its round keys and
    // GHASH key on drop.
    cipher: Aes256Gcm,
}

impl AesGcmSealer {
    /// The length of a key, in bytes (AES-256).
    pub const KEY_LEN: usize = 32;

    /// Makes a sealer with one key, which is the current one.
    ///
    /// # Errors
    ///
    /// Inside [`Error::Seal`]: [`SealError::InvalidKeyLength`] unless the key is 32 bytes,
    /// and the key id errors [`SealError::EmptyKeyId`], [`SealError::KeyIdTooLong`] and
    /// [`SealError::InvalidKeyIdCharacter`].
    ///
    /// # Security
    ///
    /// The key must be 32 bytes from a cryptographically secure generator (see
    /// [`AesGcmSealer::generate_key`]), not a password.
    pub fn new(key_id: &str, key: &[u8]) -> Result<AesGcmSealer, Error> {
        Ok(AesGcmSealer {
            current: SealingKey::new(key_id, key)?,
            old: Vec::new(),
        })
    }

    /// Adds a key that opens secrets sealed under it but never seals new ones: a key being
    /// rotated out.
    ///
    /// ```
    /// use twofa::AesGcmSealer;
    ///
    /// let sealer = AesGcmSealer::new("2025-01", &[2; 32])?.with_old_key("2024-01", &[1; 32])?;
    /// assert_eq!(sealer.current_key_id(), "2025-01");
    /// assert_eq!(sealer.key_ids().collect::<Vec<_>>(), ["2025-01", "2024-01"]);
    /// # Ok::<(), twofa::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`AesGcmSealer::new`], and [`SealError::DuplicateKeyId`] when the keyring already
    /// has the key id.
    pub fn with_old_key(mut self, key_id: &str, key: &[u8]) -> Result<AesGcmSealer, Error> {
        let key = SealingKey::new(key_id, key)?;
        key.check_unique(self.keys())?;
        self.old.push(key);
        Ok(self)
    }

    /// Makes a sealer from a whole keyring of `(key id, key)` pairs, such as one read from
    /// configuration, sealing with the key named `current_key_id`.
    ///
    /// ```
    /// use twofa::AesGcmSealer;
    ///
    /// let keyring = [("2024-01", [1; 32]), ("2025-01", [2; 32]), ("2023-01", [3; 32])];
    /// let sealer = AesGcmSealer::from_keyring("2025-01", keyring)?;
    /// assert_eq!(sealer.current_key_id(), "2025-01");
    /// assert_eq!(sealer.key_ids().collect::<Vec<_>>(), ["2025-01", "2024-01", "2023-01"]);
    /// # Ok::<(), twofa::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Inside [`Error::Seal`]: [`SealError::EmptyKeyring`] for no keys,
    /// [`SealError::DuplicateKeyId`] for an id given twice, [`SealError::UnknownCurrentKeyId`]
    /// when no key has the current id, [`SealError::InvalidKeyLength`] for a key that is not
    /// 32 bytes, and the key id errors of [`AesGcmSealer::new`] for any id, the current one
    /// included.
    pub fn from_keyring<I, K, V>(current_key_id: &str, keys: I) -> Result<AesGcmSealer, Error>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<[u8]>,
    {
        KeyId::new(current_key_id)?;
        let mut old: Vec<SealingKey> = Vec::new();
        for (key_id, key) in keys {
            let key = SealingKey::new(key_id.as_ref(), key.as_ref())?;
            key.check_unique(old.iter())?;
            old.push(key);
        }
        if old.is_empty() {
            return Err(SealError::EmptyKeyring.into());
        }
        let current = old
            .iter()
            .position(|key| key.id.as_str() == current_key_id)
            .ok_or_else(|| SealError::UnknownCurrentKeyId {
                key_id: current_key_id.into(),
            })?;
        let current = old.remove(current);
        Ok(AesGcmSealer { current, old })
    }

    /// Makes a new random 32-byte key from the operating system's generator.
    ///
    /// Print it once (for example as hex or base64) into the secret store the application
    /// reads its configuration from.
    ///
    /// # Errors
    ///
    /// [`SealError::RandomUnavailable`] if the operating system cannot provide random bytes.
    ///
    /// # Security
    ///
    /// The returned key is zeroized when dropped; copies you make of it are not.
    pub fn generate_key() -> Result<Zeroizing<[u8; 32]>, Error> {
        let mut key = Zeroizing::new([0; Self::KEY_LEN]);
        getrandom::fill(&mut *key).map_err(|_| SealError::RandomUnavailable)?;
        Ok(key)
    }

    /// Makes a new random 32-byte key from the given cryptographically secure generator.
    ///
    /// ```
    /// use twofa::AesGcmSealer;
    /// use twofa::rand_core::UnwrapErr;
    ///
    /// let key = AesGcmSealer::generate_key_with(&mut UnwrapErr(getrandom::SysRng));
    /// assert!(AesGcmSealer::new("k1", &*key).is_ok());
    /// ```
    ///
    /// # Security
    ///
    /// As [`AesGcmSealer::generate_key`].
    pub fn generate_key_with<R: CryptoRng + ?Sized>(rng: &mut R) -> Zeroizing<[u8; 32]> {
        let mut key = Zeroizing::new([0; Self::KEY_LEN]);
        rng.fill_bytes(&mut *key);
        key
    }

    /// The id of the key new secrets are sealed under.
    pub fn current_key_id(&self) -> &str {
        self.current.id.as_str()
    }

    /// The ids of every key in the keyring: the current key's first, then the old keys' in
    /// the order they were given.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys().map(|key| key.id.as_str())
    }

    /// Seals as [`SecretSealer::seal`] does, drawing the nonce from the given generator
    /// instead of the operating system's.
    ///
    /// ```
    /// use twofa::{AesGcmSealer, Secret, SecretSealer};
    /// use twofa::rand_core::UnwrapErr;
    ///
    /// let sealer = AesGcmSealer::new("k1", &[7; 32])?;
    /// let secret = Secret::from_bytes(&[1; 20])?;
    /// let sealed = sealer.seal_with_rng(&secret, "user-42", &mut UnwrapErr(getrandom::SysRng))?;
    /// assert_eq!(sealer.open(&sealed, "user-42")?, secret);
    /// # Ok::<(), twofa::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`SecretSealer::seal`].
    ///
    /// # Security
    ///
    /// The generator must never repeat itself under the same key: two secrets sealed with
    /// the same nonce and key reveal their XOR and let an attacker forge tags. Use a
    /// seeded, deterministic generator only in tests.
    pub fn seal_with_rng<R: CryptoRng + ?Sized>(
        &self,
        secret: &Secret,
        user_id: &str,
        rng: &mut R,
    ) -> Result<SealedSecret, Error> {
        let mut nonce = [0; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        self.seal_with_nonce(secret, user_id, &nonce)
    }

    fn seal_with_nonce(
        &self,
        secret: &Secret,
        user_id: &str,
        nonce: &[u8; NONCE_LEN],
    ) -> Result<SealedSecret, Error> {
        let key = &self.current;
        Ok(SealedSecret::build(
            SealScheme::Aes256Gcm,
            &key.id,
            nonce,
            secret,
            |header, body| encrypt(&key.cipher, nonce, &associated_data(header, user_id), body),
        )?)
    }

    /// Every key: the current one first, then the old ones.
    fn keys(&self) -> impl Iterator<Item = &SealingKey> {
        core::iter::once(&self.current).chain(&self.old)
    }
}

impl SecretSealer for AesGcmSealer {
    /// Encrypts the secret with the current key and a fresh nonce from the operating
    /// system's random number generator.
    ///
    /// # Errors
    ///
    /// Inside [`Error::Seal`]: [`SealError::RandomUnavailable`] if the operating system
    /// cannot provide random bytes.
    fn seal(&self, secret: &Secret, user_id: &str) -> Result<SealedSecret, Error> {
        let mut nonce = [0; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| SealError::RandomUnavailable)?;
        self.seal_with_nonce(secret, user_id, &nonce)
    }

    /// Decrypts the secret with the key it names, checking the tag over the header, the
    /// user id and the ciphertext.
    ///
    /// # Errors
    ///
    /// Inside [`Error::Seal`]: [`SealError::SchemeMismatch`] for a secret not sealed with
    /// AES-256-GCM, [`SealError::UnknownKeyId`] when the keyring lacks its key, and
    /// [`SealError::OpenFailed`] for another user id, altered bytes, or other key bytes
    /// behind the same key id.
    fn open(&self, sealed: &SealedSecret, user_id: &str) -> Result<Secret, Error> {
        if sealed.scheme() != SealScheme::Aes256Gcm {
            return Err(SealError::SchemeMismatch {
                expected: SealScheme::Aes256Gcm,
                found: sealed.scheme(),
            }
            .into());
        }
        let key = self
            .keys()
            .find(|key| key.id.as_str() == sealed.key_id())
            .ok_or_else(|| SealError::UnknownKeyId {
                key_id: sealed.key_id().into(),
            })?;
        let nonce: &[u8; NONCE_LEN] = sealed
            .nonce()
            .try_into()
            .map_err(|_| SealError::OpenFailed)?;
        let aad = associated_data(sealed.header(), user_id);
        let mut body = Zeroizing::new(sealed.body().to_vec());
        decrypt(&key.cipher, nonce, &aad, &mut body, sealed.tag())?;
        // The layout guarantees 10 to 128 bytes: every length a `Secret` can have.
        Secret::from_legacy_bytes(&body)
    }

    fn needs_reseal(&self, sealed: &SealedSecret) -> bool {
        sealed.scheme() != SealScheme::Aes256Gcm || sealed.key_id() != self.current_key_id()
    }
}

impl fmt::Debug for AesGcmSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct KeyIds<'a>(&'a AesGcmSealer);
        impl fmt::Debug for KeyIds<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list().entries(self.0.key_ids()).finish()
            }
        }
        f.debug_struct("AesGcmSealer")
            .field("current_key_id", &self.current_key_id())
            .field("key_ids", &KeyIds(self))
            .finish_non_exhaustive()
    }
}

impl SealingKey {
    fn new(key_id: &str, key: &[u8]) -> Result<SealingKey, SealError> {
        let id = KeyId::new(key_id)?;
        let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| SealError::InvalidKeyLength {
            len: key.len(),
            expected: AesGcmSealer::KEY_LEN,
        })?;
        Ok(SealingKey { id, cipher })
    }

    /// Refuses a key whose id is already among `keys`.
    fn check_unique<'a>(
        &self,
        mut keys: impl Iterator<Item = &'a SealingKey>,
    ) -> Result<(), SealError> {
        if keys.any(|seen| seen.id == self.id) {
            return Err(SealError::DuplicateKeyId {
                key_id: self.id.as_str().into(),
            });
        }
        Ok(())
    }
}

/// The associated data: the header (which ends with the self-delimiting key id) followed by
/// the user id, so that no two (header, user id) pairs give the same bytes.
fn associated_data(header: &[u8], user_id: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + user_id.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(user_id.as_bytes());
    aad
}

/// AES-256-GCM encryption in place; returns the 16-byte tag.
fn encrypt(
    cipher: &Aes256Gcm,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    buffer: &mut [u8],
) -> Result<[u8; SealedSecret::TAG_LEN], SealError> {
    let tag = cipher
        .encrypt_inout_detached(&Nonce::from(*nonce), aad, buffer.into())
        .map_err(|_| SealError::EncryptionFailed)?;
    Ok(tag.into())
}

/// AES-256-GCM decryption in place; the buffer is left untouched unless the tag matches.
fn decrypt(
    cipher: &Aes256Gcm,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    buffer: &mut [u8],
    tag: &[u8],
) -> Result<(), SealError> {
    let tag = Tag::try_from(tag).map_err(|_| SealError::OpenFailed)?;
    cipher
        .decrypt_inout_detached(&Nonce::from(*nonce), aad, buffer.into(), &tag)
        .map_err(|_| SealError::OpenFailed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        data_encoding::HEXLOWER.decode(text.as_bytes()).unwrap()
    }

    // Test Case 16 of McGrew and Viega, "The Galois/Counter Mode of Operation (GCM)"
    // (the AES-256 case with associated data), also in NIST's GCM validation vectors.
    const KEY: &str = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
    const IV: &str = "cafebabefacedbaddecaf888";
    const PLAINTEXT: &str = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
                             1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
    const AAD: &str = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
    const CIPHERTEXT: &str = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
                              8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662";
    const TAG: &str = "76fc6ece0f4e1768cddf8853bb2d551b";

    fn vector_cipher() -> Aes256Gcm {
        SealingKey::new("kat", &hex(KEY)).unwrap().cipher
    }

    fn vector_nonce() -> [u8; NONCE_LEN] {
        hex(IV).try_into().unwrap()
    }

    #[test]
    fn encrypt_matches_gcm_test_case_16() {
        let mut buffer = hex(PLAINTEXT);
        let tag = encrypt(&vector_cipher(), &vector_nonce(), &hex(AAD), &mut buffer).unwrap();
        assert_eq!(buffer, hex(CIPHERTEXT));
        assert_eq!(tag.to_vec(), hex(TAG));
    }

    #[test]
    fn decrypt_matches_gcm_test_case_16_and_refuses_a_flipped_bit() {
        let mut buffer = hex(CIPHERTEXT);
        decrypt(
            &vector_cipher(),
            &vector_nonce(),
            &hex(AAD),
            &mut buffer,
            &hex(TAG),
        )
        .unwrap();
        assert_eq!(buffer, hex(PLAINTEXT));

        let mut aad = hex(AAD);
        aad[0] ^= 1;
        let mut buffer = hex(CIPHERTEXT);
        assert_eq!(
            decrypt(
                &vector_cipher(),
                &vector_nonce(),
                &aad,
                &mut buffer,
                &hex(TAG)
            ),
            Err(SealError::OpenFailed)
        );
        assert_eq!(
            buffer,
            hex(CIPHERTEXT),
            "nothing is decrypted before the tag checks"
        );
    }

    #[test]
    fn debug_shows_key_ids_only() {
        let sealer = AesGcmSealer::new("new", &[0xAB; 32])
            .unwrap()
            .with_old_key("old", &[0xCD; 32])
            .unwrap();
        assert_eq!(
            alloc::format!("{sealer:?}"),
            r#"AesGcmSealer { current_key_id: "new", key_ids: ["new", "old"], .. }"#
        );
    }
}
