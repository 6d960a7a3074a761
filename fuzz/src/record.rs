//! A reference reader and writer of the stored record's binary layout, written from its
//! documentation (the module docs of `src/account/encoding.rs`, the sealed secret's layout
//! table, and for the recovery set [`recovery_set`]) and not from the crate's code: it
//! shares no code with the crate and checks every rule itself, so that the crate can be held
//! to refuse exactly what it refuses and to write exactly the bytes it writes.
//!
//! Every version it reads (1 to 4) is written back as version 4. What the older ones lack
//! reads as the documentation says: version 3 has no recovery-code throttle (no failures, not
//! locked) and no count of unreported failures (the code failures, which version 3 reported
//! at the next sign-in); version 1 also has no revocation time and no device kinds.

use sha2::{Digest, Sha256};
use twofa::account::RecordError;

use crate::recovery_set::{self, ReferenceRecoverySet};

/// The layout version the reference writes, and the crate's `to_bytes`.
const VERSION: u8 = 4;
/// The first version with the recovery-code throttle and the unreported count.
const SEPARATE_THROTTLES_FROM: u8 = 4;
/// The first version with the recovery set in its binary form and a CRC-32 check.
const BINARY_SET_FROM: u8 = 3;
/// The first version with the revocation time and device kinds.
const REVOCATION_FROM: u8 = 2;
/// The largest record read, in bytes.
const MAX_LEN: usize = 64 * 1024;
/// The longest device label, in bytes.
const MAX_LABEL_LEN: usize = 100;

/// CRC-32 as the IEEE 802.3 / gzip / PNG standard defines it, bit by bit: reflected
/// polynomial 0xEDB88320, initial value and final XOR all ones. Written from the definition,
/// not taken from the crate the library uses; its catalogued check value is asserted in
/// [`self_check`](crate::self_check).
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let low_bit = crc & 1;
            crc >>= 1;
            if low_bit == 1 {
                crc ^= 0xEDB8_8320;
            }
        }
    }
    !crc
}

/// The length of the check that ends a record of `version`: CRC-32 from version 3, the
/// first 8 bytes of SHA-256 before it.
fn check_len(version: u8) -> usize {
    if version >= BINARY_SET_FROM { 4 } else { 8 }
}

/// The check that ends a record of `version` whose bytes before the check are `body`.
pub fn check_of(version: u8, body: &[u8]) -> Vec<u8> {
    if version >= BINARY_SET_FROM {
        crc32(body).to_be_bytes().to_vec()
    } else {
        Sha256::digest(body)[..8].to_vec()
    }
}

/// A record as the reference read it: every field checked, nothing interpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceRecord {
    /// The version it was read from.
    pub version: u8,
    pub state: ReferenceState,
    /// Failed codes from the app.
    pub codes: ReferenceThrottle,
    /// Failed recovery codes; nothing failed, nothing locked, from versions 1 to 3.
    pub recovery_codes: ReferenceThrottle,
    /// Failures not yet reported at a sign-in; the code failures from versions 1 to 3.
    pub unreported_failures: u32,
    /// Always `None` from version 1, which lacks the field.
    pub devices_revoked_at: Option<u64>,
    pub devices: Vec<ReferenceDevice>,
}

/// One authenticator's failure count as stored: `failures:u32 last_failure:u64 locked:u8`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReferenceThrottle {
    pub failures: u32,
    pub last_failure: u64,
    pub locked: bool,
}

/// The state byte (0, 1, 2) and the fields that follow it; `sealed` is a sealed secret's
/// bytes, checked against its layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceState {
    Disabled,
    Pending {
        sealed: Vec<u8>,
        totp: Totp,
        started_at: u64,
    },
    Enabled {
        sealed: Vec<u8>,
        totp: Totp,
        enabled_at: u64,
        last_step: Option<u64>,
        recovery: ReferenceRecoverySet,
    },
}

/// The TOTP parameters as stored: algorithm 1 to 3, 6 to 8 digits, a period of at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totp {
    pub algorithm: u8,
    pub digits: u8,
    pub period: u64,
}

/// A trusted device as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceDevice {
    /// `false` for a version 1 device (kind 0).
    pub keyed: bool,
    pub hash: [u8; 32],
    pub created_at: u64,
    pub expires_at: u64,
    /// UTF-8, at most 100 bytes; empty for none.
    pub label: Vec<u8>,
}

/// Reads a record's bytes, or says why the crate must refuse them. The error is the crate's
/// type so that the kinds compare; the name an `InvalidField` carries is the reference's own.
pub fn reference_record(bytes: &[u8]) -> Result<ReferenceRecord, RecordError> {
    if bytes.len() > MAX_LEN {
        return Err(RecordError::TooLarge);
    }
    if bytes.len() < 4 || &bytes[..3] != b"2FA" {
        return Err(RecordError::NotARecord);
    }
    let version = bytes[3];
    if !(1..=VERSION).contains(&version) {
        return Err(RecordError::UnknownVersion(version));
    }
    // The shortest body: magic, version and state.
    let Some(body_len) = bytes
        .len()
        .checked_sub(check_len(version))
        .filter(|&n| n >= 5)
    else {
        return Err(RecordError::Truncated);
    };
    let (body, check) = bytes.split_at(body_len);
    if check != check_of(version, body) {
        return Err(RecordError::ChecksumMismatch);
    }
    let mut r = Cursor(&body[4..]);
    let state = match r.u8()? {
        0 => ReferenceState::Disabled,
        1 => ReferenceState::Pending {
            sealed: r.sealed()?,
            totp: r.totp()?,
            started_at: r.u64()?,
        },
        2 => {
            let sealed = r.sealed()?;
            let totp = r.totp()?;
            let enabled_at = r.u64()?;
            let last_step = r.optional_u64()?;
            let field = r.sized(2)?;
            let recovery = if version >= BINARY_SET_FROM {
                recovery_set::from_binary(field)
            } else {
                core::str::from_utf8(field)
                    .ok()
                    .and_then(recovery_set::from_text)
            };
            ReferenceState::Enabled {
                sealed,
                totp,
                enabled_at,
                last_step,
                recovery: recovery.ok_or(RecordError::InvalidField("recovery set"))?,
            }
        }
        _ => return Err(RecordError::InvalidField("state")),
    };
    let codes = r.throttle()?;
    let (recovery_codes, unreported_failures) = if version >= SEPARATE_THROTTLES_FROM {
        (r.throttle()?, r.u32()?)
    } else {
        (ReferenceThrottle::default(), codes.failures)
    };
    let devices_revoked_at = if version >= REVOCATION_FROM {
        r.optional_u64()?
    } else {
        None
    };
    let count = r.u8()?;
    let mut devices = Vec::new();
    for _ in 0..count {
        let keyed = version >= REVOCATION_FROM && r.flag()?;
        let hash = r.take(32)?.try_into().expect("32 bytes");
        let created_at = r.u64()?;
        let expires_at = r.u64()?;
        let label_len = usize::from(r.u8()?);
        if label_len > MAX_LABEL_LEN {
            return Err(RecordError::InvalidField("label"));
        }
        let label = r.take(label_len)?;
        if core::str::from_utf8(label).is_err() {
            return Err(RecordError::InvalidField("label"));
        }
        devices.push(ReferenceDevice {
            keyed,
            hash,
            created_at,
            expires_at,
            label: label.to_vec(),
        });
    }
    if !r.0.is_empty() {
        return Err(RecordError::TrailingBytes);
    }
    // Devices are trusted by signing in, so only an enabled record has any.
    if !devices.is_empty() && !matches!(state, ReferenceState::Enabled { .. }) {
        return Err(RecordError::InvalidField("devices"));
    }
    Ok(ReferenceRecord {
        version,
        state,
        codes,
        recovery_codes,
        unreported_failures,
        devices_revoked_at,
        devices,
    })
}

/// Reads the text form: `2fa1.` and the bytes in canonical URL-safe base64 without padding.
pub fn reference_record_text(text: &str) -> Result<ReferenceRecord, RecordError> {
    let body = text.strip_prefix("2fa1.").ok_or(RecordError::NotARecord)?;
    // Longer text than the largest record's is refused before it is decoded.
    if body.len() > MAX_LEN * 4 / 3 + 4 {
        return Err(RecordError::TooLarge);
    }
    let bytes = crate::base64url_decode_lenient(body)
        .filter(|bytes| crate::base64url_encode(bytes) == body)
        .ok_or(RecordError::NotARecord)?;
    reference_record(&bytes)
}

impl ReferenceRecord {
    /// An enabled record holding `recovery`, with a plaintext-sealed secret (under key id
    /// `k`, its tag not checked until it is opened) and nothing else.
    pub fn enabled_with(recovery: ReferenceRecoverySet) -> ReferenceRecord {
        let mut sealed = vec![1, 2, 1, b'k'];
        sealed.extend_from_slice(b"12345678901234567890");
        sealed.extend_from_slice(&[0; 16]);
        ReferenceRecord {
            version: VERSION,
            state: ReferenceState::Enabled {
                sealed,
                totp: Totp {
                    algorithm: 1,
                    digits: 6,
                    period: 30,
                },
                enabled_at: 0,
                last_step: None,
                recovery,
            },
            codes: ReferenceThrottle::default(),
            recovery_codes: ReferenceThrottle::default(),
            unreported_failures: 0,
            devices_revoked_at: None,
            devices: Vec::new(),
        }
    }

    /// A disabled record with nothing in it but the time every device was last revoked: what
    /// turning 2FA off leaves.
    pub fn disabled_with(devices_revoked_at: Option<u64>) -> ReferenceRecord {
        ReferenceRecord {
            version: VERSION,
            state: ReferenceState::Disabled,
            codes: ReferenceThrottle::default(),
            recovery_codes: ReferenceThrottle::default(),
            unreported_failures: 0,
            devices_revoked_at,
            devices: Vec::new(),
        }
    }

    /// The record in the layout of version 4.
    pub fn to_v4_bytes(&self) -> Vec<u8> {
        let mut out = b"2FA".to_vec();
        out.push(VERSION);
        match &self.state {
            ReferenceState::Disabled => out.push(0),
            ReferenceState::Pending {
                sealed,
                totp,
                started_at,
            } => {
                out.push(1);
                put_sized16(&mut out, sealed);
                put_totp(&mut out, *totp);
                out.extend_from_slice(&started_at.to_be_bytes());
            }
            ReferenceState::Enabled {
                sealed,
                totp,
                enabled_at,
                last_step,
                recovery,
            } => {
                out.push(2);
                put_sized16(&mut out, sealed);
                put_totp(&mut out, *totp);
                out.extend_from_slice(&enabled_at.to_be_bytes());
                put_optional_u64(&mut out, *last_step);
                put_sized16(&mut out, &recovery.to_binary());
            }
        }
        put_throttle(&mut out, self.codes);
        put_throttle(&mut out, self.recovery_codes);
        out.extend_from_slice(&self.unreported_failures.to_be_bytes());
        put_optional_u64(&mut out, self.devices_revoked_at);
        out.push(u8::try_from(self.devices.len()).expect("read from a count byte"));
        for device in &self.devices {
            out.push(u8::from(device.keyed));
            out.extend_from_slice(&device.hash);
            out.extend_from_slice(&device.created_at.to_be_bytes());
            out.extend_from_slice(&device.expires_at.to_be_bytes());
            out.push(device.label.len() as u8);
            out.extend_from_slice(&device.label);
        }
        let check = crc32(&out);
        out.extend_from_slice(&check.to_be_bytes());
        out
    }
}

/// Checks a sealed secret against the layout table of `SealedSecret`: version 1; scheme 1
/// (AES-256-GCM, 12-byte nonce) or 2 (plaintext, no nonce); a key id of 1 to 64 bytes of `!`
/// to `~`; then the nonce, 10 to 128 bytes of secret and a 16-byte tag, nothing more.
fn sealed_is_valid(sealed: &[u8]) -> bool {
    let [1, scheme, key_id_len, rest @ ..] = sealed else {
        return false;
    };
    let nonce_len = match scheme {
        1 => 12,
        2 => 0,
        _ => return false,
    };
    let key_id_len = usize::from(*key_id_len);
    if !(1..=64).contains(&key_id_len) || rest.len() < key_id_len {
        return false;
    }
    let (key_id, rest) = rest.split_at(key_id_len);
    let secret_len = rest.len().checked_sub(nonce_len + 16);
    key_id.iter().all(|b| (b'!'..=b'~').contains(b))
        && secret_len.is_some_and(|len| (10..=128).contains(&len))
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        if self.0.len() < n {
            return Err(RecordError::Truncated);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, RecordError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, RecordError> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, RecordError> {
        Ok(u64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    /// A field after its length in `width` big-endian bytes.
    fn sized(&mut self, width: usize) -> Result<&'a [u8], RecordError> {
        let len = self
            .take(width)?
            .iter()
            .fold(0, |len, &b| len << 8 | usize::from(b));
        self.take(len)
    }

    fn flag(&mut self) -> Result<bool, RecordError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(RecordError::InvalidField("flag")),
        }
    }

    /// A flag, then a `u64` that is 0 when the flag is not set.
    fn optional_u64(&mut self) -> Result<Option<u64>, RecordError> {
        let present = self.flag()?;
        match (present, self.u64()?) {
            (true, value) => Ok(Some(value)),
            (false, 0) => Ok(None),
            (false, _) => Err(RecordError::InvalidField("flagged value")),
        }
    }

    fn throttle(&mut self) -> Result<ReferenceThrottle, RecordError> {
        Ok(ReferenceThrottle {
            failures: self.u32()?,
            last_failure: self.u64()?,
            locked: self.flag()?,
        })
    }

    fn sealed(&mut self) -> Result<Vec<u8>, RecordError> {
        let sealed = self.sized(2)?;
        if !sealed_is_valid(sealed) {
            return Err(RecordError::InvalidField("sealed secret"));
        }
        Ok(sealed.to_vec())
    }

    fn totp(&mut self) -> Result<Totp, RecordError> {
        let algorithm = self.u8()?;
        if !(1..=3).contains(&algorithm) {
            return Err(RecordError::InvalidField("algorithm"));
        }
        let digits = self.u8()?;
        if !(6..=8).contains(&digits) {
            return Err(RecordError::InvalidField("digits"));
        }
        let period = self.u64()?;
        if period == 0 {
            return Err(RecordError::InvalidField("period"));
        }
        Ok(Totp {
            algorithm,
            digits,
            period,
        })
    }
}

fn put_sized16(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&u16::try_from(bytes.len()).expect("fits").to_be_bytes());
    out.extend_from_slice(bytes);
}

fn put_totp(out: &mut Vec<u8>, totp: Totp) {
    out.push(totp.algorithm);
    out.push(totp.digits);
    out.extend_from_slice(&totp.period.to_be_bytes());
}

fn put_throttle(out: &mut Vec<u8>, throttle: ReferenceThrottle) {
    out.extend_from_slice(&throttle.failures.to_be_bytes());
    out.extend_from_slice(&throttle.last_failure.to_be_bytes());
    out.push(u8::from(throttle.locked));
}

fn put_optional_u64(out: &mut Vec<u8>, value: Option<u64>) {
    out.push(u8::from(value.is_some()));
    out.extend_from_slice(&value.unwrap_or(0).to_be_bytes());
}
