//! The sealed form of a secret and its byte layout.

// Without a sealer (no `aes-gcm`, no `danger-plaintext-sealer`), sealed secrets can still be
// read and stored, and the sealing side of this module goes unused.
#![cfg_attr(
    not(any(feature = "aes-gcm", feature = "danger-plaintext-sealer")),
    allow(dead_code)
)]

use alloc::borrow::Cow;
use alloc::vec::Vec;
use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use super::SealError;
use crate::{Error, Secret};

/// The way a [`SealedSecret`] was made: which sealer can open it.
///
/// The enum is `#[non_exhaustive]`: later releases may add schemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SealScheme {
    /// AES-256-GCM with a random 96-bit nonce: [`AesGcmSealer`](super::AesGcmSealer).
    Aes256Gcm,
    /// No encryption at all: `DangerPlaintextSealer` (feature `danger-plaintext-sealer`), for
    /// tests only.
    DangerPlaintext,
}

impl SealScheme {
    /// A short human-readable name: `AES-256-GCM` or `danger-plaintext`.
    ///
    /// ```
    /// use twofa::seal::SealScheme;
    ///
    /// assert_eq!(SealScheme::Aes256Gcm.name(), "AES-256-GCM");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Self::Aes256Gcm => "AES-256-GCM",
            Self::DangerPlaintext => "danger-plaintext",
        }
    }

    /// The byte that stands for the scheme in the layout.
    pub(crate) const fn id(self) -> u8 {
        match self {
            Self::Aes256Gcm => 1,
            Self::DangerPlaintext => 2,
        }
    }

    const fn from_id(id: u8) -> Option<Self> {
        match id {
            1 => Some(Self::Aes256Gcm),
            2 => Some(Self::DangerPlaintext),
            _ => None,
        }
    }

    /// The length of the nonce that follows the key id, in bytes.
    pub(crate) const fn nonce_len(self) -> usize {
        match self {
            Self::Aes256Gcm => AES_GCM_NONCE_LEN,
            Self::DangerPlaintext => 0,
        }
    }
}

/// The length of an AES-GCM nonce, in bytes (96 bits, as NIST SP 800-38D recommends).
pub(crate) const AES_GCM_NONCE_LEN: usize = 12;

/// The length of the fixed part of the header: version, scheme and key id length.
const FIXED_HEADER_LEN: usize = 3;

/// A key id that follows the layout's rules (see [`check_key_id`]), so that sealing with it
/// cannot fail on the key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyId(Cow<'static, str>);

impl KeyId {
    /// Checks a key id given by the host.
    #[cfg_attr(not(feature = "aes-gcm"), allow(dead_code))]
    pub(crate) fn new(key_id: &str) -> Result<KeyId, SealError> {
        check_key_id(key_id.as_bytes())?;
        Ok(KeyId(Cow::Owned(key_id.into())))
    }

    /// A key id written in the code; a unit test checks each against the rules.
    #[cfg(feature = "danger-plaintext-sealer")]
    pub(crate) const fn fixed(key_id: &'static str) -> KeyId {
        KeyId(Cow::Borrowed(key_id))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// A [`Secret`] sealed (encrypted) by a [`SecretSealer`](super::SecretSealer), ready to store.
///
/// It holds the scheme, the id of the key it was sealed under, a nonce, the encrypted secret
/// and an authentication tag that also covers the user id it was sealed for. Store it with
/// [`SealedSecret::to_bytes`] (or [`SealedSecret::as_bytes`]) and read it back with
/// [`SealedSecret::from_bytes`]; only the sealer, given the same user id, turns it back into
/// a [`Secret`].
///
/// `Debug` shows the scheme and the key id, never the bytes. Equality is checked in constant
/// time.
///
/// # Layout
///
/// The layout is stable: every later release reads version 1. All lengths are in bytes.
///
/// | offset | length | field |
/// |---|---|---|
/// | 0 | 1 | layout version: `1` |
/// | 1 | 1 | scheme: `1` AES-256-GCM, `2` danger plaintext |
/// | 2 | 1 | key id length *n*, 1 to 64 |
/// | 3 | *n* | key id, printable ASCII (`!` to `~`) |
/// | 3 + *n* | *m* | nonce: *m* = 12 for AES-256-GCM, 0 for plaintext |
/// | 3 + *n* + *m* | *s* | the secret, encrypted (or not, for plaintext); *s* = 10 to 128 |
/// | 3 + *n* + *m* + *s* | 16 | tag |
///
/// The first 3 + *n* bytes are the *header*. For AES-256-GCM the associated data is the
/// header followed by the UTF-8 bytes of the user id, so that neither the key id nor the user
/// can be changed without the tag failing; the tag is the GCM tag. For the plaintext scheme
/// the tag is the first 16 bytes of SHA-256 over a fixed label, the header, the user id and
/// the secret: a checksum anyone can recompute, not a protection.
///
/// ```
/// # #[cfg(feature = "aes-gcm")] {
/// use twofa::{AesGcmSealer, Secret, SealedSecret, SecretSealer};
///
/// let sealer = AesGcmSealer::new("2025-01", &[7; 32])?;
/// let secret = Secret::from_bytes(b"12345678901234567890")?;
/// let stored: Vec<u8> = sealer.seal(&secret, "user-42")?.to_bytes();
/// assert_eq!(stored.len(), 3 + 7 + 12 + 20 + 16);
///
/// let sealed = SealedSecret::from_bytes(&stored)?;
/// assert_eq!(sealed.key_id(), "2025-01");
/// assert_eq!(sealer.open(&sealed, "user-42")?, secret);
/// # }
/// # Ok::<(), twofa::Error>(())
/// ```
#[derive(Clone)]
pub struct SealedSecret {
    bytes: Vec<u8>,
    scheme: SealScheme,
}

impl SealedSecret {
    /// The layout version this release writes.
    pub const VERSION: u8 = 1;
    /// The longest key id, in bytes.
    pub const MAX_KEY_ID_LEN: usize = 64;
    /// The length of the tag at the end, in bytes.
    pub const TAG_LEN: usize = 16;
    /// The longest encoding of a sealed secret, in bytes: what a storage column must hold.
    pub const MAX_LEN: usize = FIXED_HEADER_LEN
        + Self::MAX_KEY_ID_LEN
        + AES_GCM_NONCE_LEN
        + Secret::MAX_LEN
        + Self::TAG_LEN;

    /// Reads a sealed secret from its encoding, as written by [`SealedSecret::to_bytes`].
    ///
    /// This checks the layout only; whether the secret opens is for the sealer to say.
    /// Every encoding accepted is canonical: `to_bytes` gives back the same bytes.
    ///
    /// # Errors
    ///
    /// Inside [`Error::Seal`]: [`SealError::Truncated`] when the input ends early,
    /// [`SealError::UnsupportedVersion`] and [`SealError::UnknownScheme`] for bytes this
    /// release does not know, the key id errors ([`SealError::EmptyKeyId`],
    /// [`SealError::KeyIdTooLong`], [`SealError::InvalidKeyIdCharacter`]), and
    /// [`SealError::InvalidSecretLength`] when what follows the nonce cannot be a sealed
    /// secret (which also refuses input with extra bytes at the end).
    pub fn from_bytes(bytes: &[u8]) -> Result<SealedSecret, Error> {
        let scheme = Self::check(bytes)?;
        Ok(SealedSecret {
            bytes: bytes.to_vec(),
            scheme,
        })
    }

    /// Checks an encoding against the layout and returns its scheme.
    fn check(bytes: &[u8]) -> Result<SealScheme, Error> {
        let (&version, rest) = bytes.split_first().ok_or(SealError::Truncated)?;
        if version != Self::VERSION {
            return Err(SealError::UnsupportedVersion { version }.into());
        }
        let (&scheme_id, rest) = rest.split_first().ok_or(SealError::Truncated)?;
        let scheme =
            SealScheme::from_id(scheme_id).ok_or(SealError::UnknownScheme { scheme: scheme_id })?;
        let (&key_id_len, rest) = rest.split_first().ok_or(SealError::Truncated)?;
        let key_id_len = usize::from(key_id_len);
        if key_id_len > Self::MAX_KEY_ID_LEN {
            return Err(SealError::KeyIdTooLong {
                len: key_id_len,
                max: Self::MAX_KEY_ID_LEN,
            }
            .into());
        }
        let (key_id, after_header) = rest
            .split_at_checked(key_id_len)
            .ok_or(SealError::Truncated)?;
        check_key_id(key_id)?;
        let sealed_len = after_header
            .len()
            .checked_sub(scheme.nonce_len() + Self::TAG_LEN)
            .ok_or(SealError::Truncated)?;
        if !(Secret::LEGACY_MIN_LEN..=Secret::MAX_LEN).contains(&sealed_len) {
            return Err(SealError::InvalidSecretLength {
                len: sealed_len,
                min: Secret::LEGACY_MIN_LEN,
                max: Secret::MAX_LEN,
            }
            .into());
        }
        Ok(scheme)
    }

    /// The encoding to store, as described under [Layout](#layout).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.bytes.clone()
    }

    /// The encoding to store, borrowed.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The id of the key the secret was sealed under.
    ///
    /// ```
    /// # #[cfg(feature = "aes-gcm")] {
    /// use twofa::{AesGcmSealer, Secret, SecretSealer};
    ///
    /// let sealer = AesGcmSealer::new("2025-01", &[7; 32])?;
    /// let sealed = sealer.seal(&Secret::from_bytes(&[1; 20])?, "user-42")?;
    /// assert_eq!(sealed.key_id(), "2025-01");
    /// # }
    /// # Ok::<(), twofa::Error>(())
    /// ```
    pub fn key_id(&self) -> &str {
        // The key id was checked to be ASCII when the value was made, so this never fails;
        // the fallback only keeps the code free of panics.
        core::str::from_utf8(&self.bytes[FIXED_HEADER_LEN..self.header_len()]).unwrap_or("")
    }

    /// The scheme the secret was sealed with.
    pub fn scheme(&self) -> SealScheme {
        self.scheme
    }

    /// Seals `secret`: lays out the header, the nonce (of `scheme.nonce_len()` bytes) and the
    /// secret in one buffer, hands the header and the body to `protect`, which encrypts the
    /// body in place and returns the tag, and appends the tag. The buffer has room for
    /// everything from the start and never grows, so no stray copy of the secret is left on
    /// the heap; if `protect` fails, the buffer is wiped.
    pub(crate) fn build(
        scheme: SealScheme,
        key_id: &KeyId,
        nonce: &[u8],
        secret: &Secret,
        protect: impl FnOnce(&[u8], &mut [u8]) -> Result<[u8; Self::TAG_LEN], SealError>,
    ) -> Result<SealedSecret, SealError> {
        debug_assert_eq!(nonce.len(), scheme.nonce_len());
        let key_id = key_id.as_str();
        let body = secret.expose_bytes();
        let header_len = FIXED_HEADER_LEN + key_id.len();
        let mut bytes = Vec::with_capacity(header_len + nonce.len() + body.len() + Self::TAG_LEN);
        // A `KeyId` has at most MAX_KEY_ID_LEN (64) bytes, so its length fits in the byte.
        bytes.extend_from_slice(&[Self::VERSION, scheme.id(), key_id.len() as u8]);
        bytes.extend_from_slice(key_id.as_bytes());
        bytes.extend_from_slice(nonce);
        bytes.extend_from_slice(body);
        let (header, rest) = bytes.split_at_mut(header_len);
        match protect(header, &mut rest[nonce.len()..]) {
            Ok(tag) => {
                bytes.extend_from_slice(&tag);
                Ok(SealedSecret { bytes, scheme })
            }
            Err(e) => {
                bytes.zeroize();
                Err(e)
            }
        }
    }

    /// The header: version, scheme, key id length and key id.
    pub(crate) fn header(&self) -> &[u8] {
        &self.bytes[..self.header_len()]
    }

    /// The nonce (empty for the plaintext scheme).
    #[cfg_attr(not(feature = "aes-gcm"), allow(dead_code))]
    pub(crate) fn nonce(&self) -> &[u8] {
        let start = self.header_len();
        &self.bytes[start..start + self.scheme.nonce_len()]
    }

    /// The sealed body: the secret, encrypted for AES-256-GCM.
    pub(crate) fn body(&self) -> &[u8] {
        let start = self.header_len() + self.scheme.nonce_len();
        &self.bytes[start..self.bytes.len() - Self::TAG_LEN]
    }

    /// The tag at the end.
    pub(crate) fn tag(&self) -> &[u8] {
        &self.bytes[self.bytes.len() - Self::TAG_LEN..]
    }

    fn header_len(&self) -> usize {
        FIXED_HEADER_LEN + usize::from(self.bytes[FIXED_HEADER_LEN - 1])
    }
}

impl Drop for SealedSecret {
    fn drop(&mut self) {
        // Only the plaintext scheme holds the secret itself, but wiping is cheap.
        self.bytes.zeroize();
    }
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedSecret")
            .field("scheme", &self.scheme)
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

impl PartialEq for SealedSecret {
    fn eq(&self, other: &Self) -> bool {
        // The plaintext scheme holds the secret itself, so compare without early exit.
        self.bytes.ct_eq(&other.bytes).into()
    }
}

impl Eq for SealedSecret {}

/// Checks a key id: 1 to 64 bytes of printable ASCII without spaces.
fn check_key_id(key_id: &[u8]) -> Result<(), SealError> {
    if key_id.is_empty() {
        return Err(SealError::EmptyKeyId);
    }
    if key_id.len() > SealedSecret::MAX_KEY_ID_LEN {
        return Err(SealError::KeyIdTooLong {
            len: key_id.len(),
            max: SealedSecret::MAX_KEY_ID_LEN,
        });
    }
    match key_id.iter().position(|b| !b.is_ascii_graphic()) {
        Some(position) => Err(SealError::InvalidKeyIdCharacter { position }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn plaintext_layout(key_id: &[u8], body_len: usize) -> Vec<u8> {
        let mut bytes = vec![1, 2, key_id.len() as u8];
        bytes.extend_from_slice(key_id);
        bytes.extend(core::iter::repeat_n(0xAB, body_len + SealedSecret::TAG_LEN));
        bytes
    }

    #[test]
    fn parts_are_where_the_layout_says() {
        let mut bytes = vec![1, 1, 2, b'k', b'1'];
        bytes.extend_from_slice(&[9; 12]);
        bytes.extend_from_slice(&[5; 20]);
        bytes.extend_from_slice(&[6; 16]);
        let sealed = SealedSecret::from_bytes(&bytes).unwrap();
        assert_eq!(sealed.scheme(), SealScheme::Aes256Gcm);
        assert_eq!(sealed.key_id(), "k1");
        assert_eq!(sealed.header(), &[1, 1, 2, b'k', b'1']);
        assert_eq!(sealed.nonce(), &[9; 12]);
        assert_eq!(sealed.body(), &[5; 20]);
        assert_eq!(sealed.tag(), &[6; 16]);
        assert_eq!(sealed.as_bytes(), &bytes[..]);
    }

    #[test]
    fn build_lays_out_what_from_bytes_reads() {
        let secret = Secret::from_legacy_bytes(&[5; 10]).unwrap();
        let key_id = KeyId::new("k1").unwrap();
        let sealed = SealedSecret::build(
            SealScheme::Aes256Gcm,
            &key_id,
            &[9; AES_GCM_NONCE_LEN],
            &secret,
            |header, body| {
                assert_eq!(header, &[1, 1, 2, b'k', b'1']);
                assert_eq!(body, &[5; 10]);
                body.fill(7);
                Ok([6; SealedSecret::TAG_LEN])
            },
        )
        .unwrap();
        let mut expected = vec![1, 1, 2, b'k', b'1'];
        expected.extend_from_slice(&[9; 12]);
        expected.extend_from_slice(&[7; 10]);
        expected.extend_from_slice(&[6; 16]);
        assert_eq!(sealed.as_bytes(), &expected[..]);
        assert_eq!(SealedSecret::from_bytes(&expected).unwrap(), sealed);
        assert_eq!(sealed.scheme(), SealScheme::Aes256Gcm);
        let failed =
            SealedSecret::build(SealScheme::Aes256Gcm, &key_id, &[0; 12], &secret, |_, _| {
                Err(SealError::EncryptionFailed)
            });
        assert_eq!(failed, Err(SealError::EncryptionFailed));
        assert_eq!(KeyId::new(""), Err(SealError::EmptyKeyId));
    }

    #[test]
    fn every_prefix_is_refused_as_truncated_or_too_short() {
        let bytes = plaintext_layout(b"key", 10);
        assert!(SealedSecret::from_bytes(&bytes).is_ok());
        for len in 0..bytes.len() {
            let err = SealedSecret::from_bytes(&bytes[..len]).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Seal(SealError::Truncated | SealError::InvalidSecretLength { .. })
                ),
                "{len}: {err:?}"
            );
        }
    }

    #[test]
    fn header_errors_are_typed() {
        let good = plaintext_layout(b"key", 20);
        let mut bad = good.clone();
        bad[0] = 2;
        assert_eq!(
            SealedSecret::from_bytes(&bad),
            Err(SealError::UnsupportedVersion { version: 2 }.into())
        );
        let mut bad = good.clone();
        bad[1] = 0;
        assert_eq!(
            SealedSecret::from_bytes(&bad),
            Err(SealError::UnknownScheme { scheme: 0 }.into())
        );
        let mut bad = good.clone();
        bad[4] = b' ';
        assert_eq!(
            SealedSecret::from_bytes(&bad),
            Err(SealError::InvalidKeyIdCharacter { position: 1 }.into())
        );
        assert_eq!(
            SealedSecret::from_bytes(&plaintext_layout(b"", 20)),
            Err(SealError::EmptyKeyId.into())
        );
        assert_eq!(
            SealedSecret::from_bytes(&plaintext_layout(&[b'k'; 65], 20)),
            Err(SealError::KeyIdTooLong { len: 65, max: 64 }.into())
        );
        assert_eq!(
            SealedSecret::from_bytes(&plaintext_layout(b"key", 129)),
            Err(SealError::InvalidSecretLength {
                len: 129,
                min: 10,
                max: 128
            }
            .into())
        );
        assert_eq!(
            SealedSecret::from_bytes(&plaintext_layout(b"key", 9)),
            Err(SealError::InvalidSecretLength {
                len: 9,
                min: 10,
                max: 128
            }
            .into())
        );
    }

    #[test]
    fn longest_layout_fits_max_len() {
        let mut bytes = vec![1, 1, 64];
        bytes.extend_from_slice(&[b'k'; 64]);
        bytes.extend_from_slice(&[0; 12 + 128 + 16]);
        assert_eq!(bytes.len(), SealedSecret::MAX_LEN);
        assert!(SealedSecret::from_bytes(&bytes).is_ok());
        bytes.push(0);
        assert!(SealedSecret::from_bytes(&bytes).is_err());
    }

    #[test]
    fn debug_shows_key_id_only() {
        let sealed = SealedSecret::from_bytes(&plaintext_layout(b"k-2025", 20)).unwrap();
        assert_eq!(
            alloc::format!("{sealed:?}"),
            r#"SealedSecret { scheme: DangerPlaintext, key_id: "k-2025", .. }"#
        );
    }
}
