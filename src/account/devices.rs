//! Trusted devices: "don't ask for a code on this device for 30 days".

use alloc::string::String;
use core::fmt;

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::Error;

/// A device the user chose to trust, as the record keeps it: a hash of its token, never the
/// token itself.
#[derive(Clone, PartialEq, Eq)]
pub struct TrustedDevice {
    pub(crate) hash: [u8; 32],
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
        hex(&self.hash[..8])
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
        hash: token_hash(user_id, &text),
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
    devices: &'a [TrustedDevice],
    user_id: &str,
    token: &str,
    now: u64,
) -> Option<&'a TrustedDevice> {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let presented = token_hash(user_id, token);
    let mut found = None;
    for device in devices {
        let same: bool = device.hash.ct_eq(&presented).into();
        if same && !device.is_expired(now) {
            found = Some(device);
        }
    }
    found
}

/// SHA-256 over a domain tag, the user id and the token: a token is 256 random bits, so no
/// salt or slow hash is needed, and binding the user id makes a token useless for any other
/// account even if records are copied around.
fn token_hash(user_id: &str, token: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"twofa device token v1\0");
    hasher.update((user_id.len() as u64).to_be_bytes());
    hasher.update(user_id.as_bytes());
    hasher.update(token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(&hasher.finalize());
    out
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

impl Drop for TrustedDevice {
    fn drop(&mut self) {
        self.hash.zeroize();
    }
}
