//! Trusted devices: "don't ask for a code on this device for 30 days".

use alloc::string::String;
use core::fmt;

use hmac::{Hmac, KeyInit, Mac};
use rand_core::CryptoRng;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::Error;

/// The server key that device-token hashes are made with (HMAC-SHA-256), configured with
/// [`Settings::device_key`](super::Settings::device_key). Keep it outside the database, like
/// the sealing key.
///
/// Why a key: a token is 256 random bits, so a plain hash would do against someone who only
/// *reads* the database. But someone who can *write* the 2FA column could then plant the hash
/// of a token of their choosing and skip the second factor. Without this key they cannot make
/// a hash that matches any token.
///
/// `Debug` shows nothing of it; it is zeroized on drop and compared in constant time.
#[derive(Clone)]
pub struct DeviceKey {
    key: Zeroizing<[u8; DeviceKey::LEN]>,
}

impl DeviceKey {
    /// The key length in bytes.
    pub const LEN: usize = 32;

    /// A new random key from the operating system's generator. Store its
    /// [`as_bytes`](DeviceKey::as_bytes) in your secret store once, and load it at start-up
    /// with [`DeviceKey::from_bytes`]; a new key makes every trusted device ask for a code
    /// again.
    #[cfg(feature = "os-rng")]
    pub fn generate() -> DeviceKey {
        Self::generate_with(&mut crate::random::os_rng())
    }

    /// A new random key from `rng`.
    pub fn generate_with<R: CryptoRng + ?Sized>(rng: &mut R) -> DeviceKey {
        let mut key = Zeroizing::new([0u8; Self::LEN]);
        rng.fill_bytes(key.as_mut());
        DeviceKey { key }
    }

    /// A key from its bytes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSetting`] (`"device_key"`) unless `bytes` is exactly
    /// [`DeviceKey::LEN`] bytes long.
    pub fn from_bytes(bytes: &[u8]) -> Result<DeviceKey, Error> {
        let bytes: &[u8; Self::LEN] = bytes.try_into().map_err(|_| Error::InvalidSetting {
            setting: "device_key",
        })?;
        Ok(DeviceKey {
            key: Zeroizing::new(*bytes),
        })
    }

    /// The key's bytes, to keep in a secret store.
    ///
    /// # Security
    ///
    /// With this key and write access to the database, anyone can trust a device for any
    /// user. Never log it or store it beside the records.
    pub fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.key
    }
}

impl PartialEq for DeviceKey {
    fn eq(&self, other: &Self) -> bool {
        self.key.ct_eq(&*other.key).into()
    }
}

impl Eq for DeviceKey {}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceKey([redacted])")
    }
}

/// A device the user chose to trust, as the record keeps it: a hash of its token, never the
/// token itself.
#[derive(Clone, PartialEq, Eq)]
pub struct TrustedDevice {
    pub(crate) hash: [u8; 32],
    /// Whether `hash` is keyed with the [`DeviceKey`]. Devices from version 1 records are not:
    /// they are listed until they expire or are revoked, but never match a token.
    pub(crate) keyed: bool,
    pub(crate) created_at: u64,
    pub(crate) expires_at: u64,
    pub(crate) label: Option<String>,
}

impl TrustedDevice {
    /// The longest label, in bytes.
    pub const MAX_LABEL_LEN: usize = 100;

    /// A public identifier for this device (16 hex digits), to revoke it with
    /// [`TwoFactorRecord::revoke_device`](super::TwoFactorRecord::revoke_device). It is derived
    /// from the token's hash and reveals nothing usable about the token.
    pub fn id(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.hash[..8])
    }

    /// The label the host gave, such as "Firefox on Linux".
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// When the device was trusted (Unix seconds).
    pub fn created_at(&self) -> u64 {
        self.created_at
    }

    /// When the trust ends (Unix seconds).
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// Whether the trust has ended at `now`.
    pub fn is_expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }
}

impl fmt::Debug for TrustedDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedDevice")
            .field("id", &self.id())
            .field("label", &self.label)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The token for a trusted device's cookie: 256 random bits, URL-safe base64 (43 characters).
///
/// Put it in a cookie that is `Secure`, `HttpOnly` and `SameSite=Lax` (or stricter), with the
/// same lifetime as [`DeviceToken::expires_at`]. `Debug` shows nothing of it, and it is
/// zeroized on drop.
pub struct DeviceToken {
    text: Zeroizing<String>,
    expires_at: u64,
    device_id: String,
}

impl DeviceToken {
    /// The token text for the cookie.
    ///
    /// # Security
    ///
    /// Whoever holds this skips the second factor for this user until it expires. Send it only
    /// in a `Secure`, `HttpOnly` cookie; never log it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// When the token stops working (Unix seconds).
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// The public identifier of the device, as in [`TrustedDevice::id`].
    pub fn device_id(&self) -> &str {
        &self.device_id
    }
}

impl fmt::Debug for DeviceToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceToken")
            .field("device_id", &self.device_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The longest token text looked at; real ones are 43 characters.
const MAX_TOKEN_LEN: usize = 64;

/// Makes a new device and its token.
pub(crate) fn issue<R: CryptoRng + ?Sized>(
    key: &DeviceKey,
    user_id: &str,
    label: Option<&str>,
    rng: &mut R,
    now: u64,
    lifetime: u64,
) -> Result<(TrustedDevice, DeviceToken), Error> {
    if label.is_some_and(|l| l.len() > TrustedDevice::MAX_LABEL_LEN) {
        return Err(Error::DeviceLabelTooLong);
    }
    let mut raw = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(raw.as_mut());
    let text = Zeroizing::new(data_encoding::BASE64URL_NOPAD.encode(raw.as_ref()));
    let device = TrustedDevice {
        hash: token_hash(key, user_id, &text),
        keyed: true,
        created_at: now,
        expires_at: now.saturating_add(lifetime),
        label: label.map(String::from),
    };
    let token = DeviceToken {
        text,
        expires_at: device.expires_at,
        device_id: device.id(),
    };
    Ok((device, token))
}

/// Finds the unexpired device whose token this is, comparing with every device in constant
/// time.
pub(crate) fn find<'a>(
    key: &DeviceKey,
    devices: &'a [TrustedDevice],
    user_id: &str,
    token: &str,
    now: u64,
) -> Option<&'a TrustedDevice> {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let presented = token_hash(key, user_id, token);
    let mut found = None;
    for device in devices {
        let same: bool = device.hash.ct_eq(&presented).into();
        if same && device.keyed && !device.is_expired(now) {
            found = Some(device);
        }
    }
    found
}

/// HMAC-SHA-256 under the server's [`DeviceKey`] over a domain tag, the user id and the
/// token: a token is 256 random bits, so no salt or slow hash is needed; the key stops a writer
/// of the database from making a hash that matches a token of their choosing; and binding the
/// user id makes a token useless for any other account even if records are copied around.
fn token_hash(key: &DeviceKey, user_id: &str, token: &str) -> [u8; 32] {
    #[allow(clippy::expect_used)] // HMAC takes keys of any length
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    mac.update(b"twofa device token v2\0");
    mac.update(&(user_id.len() as u64).to_be_bytes());
    mac.update(user_id.as_bytes());
    mac.update(token.as_bytes());
    mac.finalize().into_bytes().into()
}

impl Drop for TrustedDevice {
    fn drop(&mut self) {
        self.hash.zeroize();
    }
}
