//! The stable, versioned encoding of a [`TwoFactorRecord`], for one database column.
//!
//! Version 4, all integers big-endian:
//!
//! ```text
//! "2FA" version=4 state
//!   state 0 (off):      nothing
//!   state 1 (pending):  sealed totp started_at:u64
//!   state 2 (enabled):  sealed totp enabled_at:u64 has_step:u8 last_step:u64 recovery
//!     sealed   = len:u16 SealedSecret::to_bytes
//!     totp     = algorithm:u8 (1 SHA1, 2 SHA256, 3 SHA512) digits:u8 period:u64
//!     recovery = len:u16 the set's binary form:
//!                version:u8 (1, 2) algorithm_len:u8 algorithm parameters_len:u16 parameters
//!                salt_len:u8 salt hash_len:u8 count:u8 hashes (count × hash_len bytes;
//!                hash_len is 0 exactly when count is 0)
//! failures:u32 last_failure:u64 locked:u8                      (codes)
//! recovery_failures:u32 recovery_last_failure:u64 recovery_locked:u8
//! unreported_failures:u32
//! has_revoked_at:u8 devices_revoked_at:u64
//! devices:u8, each: kind:u8 hash:[32] created_at:u64 expires_at:u64 label_len:u8 label (UTF-8)
//!   kind 0: a version 1 device (unkeyed SHA-256; listed, never matches), 1: HMAC-SHA-256
//! check:u32 = CRC-32 (IEEE, as in gzip and PNG) of everything before
//! ```
//!
//! Older versions are still read, and written back as version 4:
//! - version 3 has no recovery-code throttle (it reads as no failures) and no unreported
//!   count (it reads as the code failures, which version 3 reported at the next sign-in);
//! - version 2 is version 3 except that it holds the recovery set in its text form
//!   ([`RecoveryCodeSet::encode`], UTF-8) and ends in an 8-byte check, the first 8 bytes of
//!   SHA-256 of everything before;
//! - version 1 is version 2 without `has_revoked_at devices_revoked_at` and without each
//!   device's `kind` (its devices decode as kind 0).
//!
//! The check catches truncation and accidental corruption; it is not a MAC, by choice. What
//! a MAC would protect is already protected field by field: the secret is sealed
//! (authenticated encryption bound to the user id), recovery-code hashes are bound to the
//! user id, and device hashes are keyed. What is left — counters, the last step, flags — is
//! what someone able to write the column can reset anyway by restoring an older row of the
//! same user, which no MAC can tell from the current one (see the threat model in the crate
//! docs). So the check need only be good at what it is for: CRC-32 detects every burst of
//! up to 32 changed bits and costs a few tens of nanoseconds on a record read at every
//! sign-in, where SHA-256 cost ten times as much. Every field is still validated behind it.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use sha2::{Digest, Sha256};

use super::devices::TrustedDevice;
use super::settings::TotpParameters;
use super::throttle::Throttle;
use super::{State, TwoFactorRecord};
use crate::recovery::RecoveryCodeSet;
use crate::seal::SealedSecret;
use crate::{Algorithm, Error};

const MAGIC: &[u8; 3] = b"2FA";
const VERSION: u8 = 4;
/// Without the recovery-code throttle and the unreported count: still read.
const VERSION_3: u8 = 3;
/// The recovery set as text, and a SHA-256 check: still read.
const VERSION_2: u8 = 2;
/// The first version, still read.
const VERSION_1: u8 = 1;
/// The length of the version 3 and 4 check: CRC-32.
const CRC_CHECK_LEN: usize = 4;
/// The length of the version 1 and 2 check: the first 8 bytes of SHA-256.
const SHA256_CHECK_LEN: usize = 8;
/// The prefix of the text form.
const TEXT_PREFIX: &str = "2fa1.";
/// The largest encoded record accepted, in bytes; real ones are about 1 KiB.
const MAX_LEN: usize = 64 * 1024;

/// Why a stored record could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// The input does not start like a record.
    NotARecord,
    /// A version this release cannot read (from a newer release, or garbage).
    UnknownVersion(u8),
    /// The input ends before the record does.
    Truncated,
    /// The integrity check failed: the bytes were changed or corrupted.
    ChecksumMismatch,
    /// A field holds a value no record can have; names the field.
    InvalidField(&'static str),
    /// Bytes follow the end of the record.
    TrailingBytes,
    /// The input is larger than any record.
    TooLarge,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotARecord => f.write_str("not a two-factor record"),
            Self::UnknownVersion(v) => write!(f, "unknown record version {v}"),
            Self::Truncated => f.write_str("the record is truncated"),
            Self::ChecksumMismatch => f.write_str("the record's integrity check failed"),
            Self::InvalidField(field) => write!(f, "the record's {field} is invalid"),
            Self::TrailingBytes => f.write_str("unexpected bytes after the record"),
            Self::TooLarge => f.write_str("the record is too large"),
        }
    }
}

impl core::error::Error for RecordError {}

impl TwoFactorRecord {
    /// The record as bytes, for a binary column (`BLOB`, `BYTEA`).
    ///
    /// The layout is stable and versioned: this release writes version 4 (about 500 bytes for
    /// an enabled record with ten recovery codes and no trusted device), and every later
    /// release reads it. Records written as versions 1 to 3 by earlier releases are still
    /// read, and written back as version 4. The bytes end in a CRC-32 of the rest, which
    /// catches truncation and accidental damage; it is not a MAC (see the threat model in the
    /// [crate docs](crate)), and every field is validated behind it when read.
    ///
    /// ```
    /// use twofa::account::TwoFactorRecord;
    ///
    /// let bytes = TwoFactorRecord::new().to_bytes();
    /// assert_eq!(&bytes[..4], b"2FA\x04");
    /// assert_eq!(TwoFactorRecord::from_bytes(&bytes)?, TwoFactorRecord::new());
    /// # Ok::<(), twofa::Error>(())
    /// ```
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_bytes(&mut out);
        out
    }

    /// Replaces the contents of `out` with [`to_bytes`](TwoFactorRecord::to_bytes), reusing
    /// its allocation when it is large enough: a store that keeps a buffer per row or per
    /// connection writes a record without allocating.
    ///
    /// ```
    /// use twofa::account::TwoFactorRecord;
    ///
    /// let mut buffer = Vec::new();
    /// TwoFactorRecord::new().write_bytes(&mut buffer);
    /// assert_eq!(buffer, TwoFactorRecord::new().to_bytes());
    /// ```
    pub fn write_bytes(&self, out: &mut Vec<u8>) {
        out.clear();
        out.reserve_exact(self.encoded_len());
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        match &self.state {
            State::Disabled => out.push(0),
            State::Pending {
                secret,
                parameters,
                started_at,
            } => {
                out.push(1);
                put_bytes16(out, secret.as_bytes());
                put_parameters(out, *parameters);
                out.extend_from_slice(&started_at.to_be_bytes());
            }
            State::Enabled {
                secret,
                parameters,
                enabled_at,
                last_step,
                recovery,
            } => {
                out.push(2);
                put_bytes16(out, secret.as_bytes());
                put_parameters(out, *parameters);
                out.extend_from_slice(&enabled_at.to_be_bytes());
                out.push(u8::from(last_step.is_some()));
                out.extend_from_slice(&last_step.unwrap_or(0).to_be_bytes());
                // A set is at most a few kilobytes (see `RecoveryCodeSet::binary_len`).
                out.extend_from_slice(&(recovery.binary_len() as u16).to_be_bytes());
                recovery.write_binary(out);
            }
        }
        out.extend_from_slice(&self.throttle.failures.to_be_bytes());
        out.extend_from_slice(&self.throttle.last_failure.to_be_bytes());
        out.push(u8::from(self.throttle.locked));
        out.extend_from_slice(&self.recovery_throttle.failures.to_be_bytes());
        out.extend_from_slice(&self.recovery_throttle.last_failure.to_be_bytes());
        out.push(u8::from(self.recovery_throttle.locked));
        out.extend_from_slice(&self.unreported_failures.to_be_bytes());
        out.push(u8::from(self.devices_revoked_at.is_some()));
        out.extend_from_slice(&self.devices_revoked_at.unwrap_or(0).to_be_bytes());
        // Settings cap the list at 50 devices; u8 is ample.
        out.push(self.devices.len().min(usize::from(u8::MAX)) as u8);
        for device in self.devices.iter().take(usize::from(u8::MAX)) {
            out.push(u8::from(device.keyed));
            out.extend_from_slice(&device.hash);
            out.extend_from_slice(&device.created_at.to_be_bytes());
            out.extend_from_slice(&device.expires_at.to_be_bytes());
            let label = device_label(device);
            out.push(label.len() as u8);
            out.extend_from_slice(label);
        }
        let check = crc32fast::hash(out);
        out.extend_from_slice(&check.to_be_bytes());
    }

    /// The exact length of [`to_bytes`](TwoFactorRecord::to_bytes), so that it is written in
    /// one allocation.
    fn encoded_len(&self) -> usize {
        const PARAMETERS: usize = 1 + 1 + 8;
        let state = match &self.state {
            State::Disabled => 0,
            State::Pending { secret, .. } => 2 + secret.as_bytes().len() + PARAMETERS + 8,
            State::Enabled {
                secret, recovery, ..
            } => 2 + secret.as_bytes().len() + PARAMETERS + 8 + 1 + 8 + 2 + recovery.binary_len(),
        };
        let devices: usize = self
            .devices
            .iter()
            .take(usize::from(u8::MAX))
            .map(|device| 1 + 32 + 8 + 8 + 1 + device_label(device).len())
            .sum();
        const THROTTLE: usize = 4 + 8 + 1;
        MAGIC.len() + 1 + 1 + state + 2 * THROTTLE + 4 + 1 + 8 + 1 + devices + CRC_CHECK_LEN
    }

    /// Reads a record written by [`TwoFactorRecord::to_bytes`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRecord`] for truncated, corrupted, oversized or unknown-version input,
    /// naming what is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Result<TwoFactorRecord, Error> {
        Ok(decode(bytes)?)
    }

    /// The record as text for a text column: `2fa1.` and the bytes in URL-safe base64.
    ///
    /// ```
    /// use twofa::account::TwoFactorRecord;
    ///
    /// let text = TwoFactorRecord::new().encode();
    /// assert!(text.starts_with("2fa1."));
    /// assert_eq!(TwoFactorRecord::decode(&text)?, TwoFactorRecord::new());
    /// # Ok::<(), twofa::Error>(())
    /// ```
    pub fn encode(&self) -> String {
        let mut text = String::from(TEXT_PREFIX);
        data_encoding::BASE64URL_NOPAD.encode_append(&self.to_bytes(), &mut text);
        text
    }

    /// Reads a record written by [`TwoFactorRecord::encode`].
    ///
    /// # Errors
    ///
    /// As [`TwoFactorRecord::from_bytes`], and [`RecordError::NotARecord`] when the text is
    /// not `2fa1.` followed by base64.
    pub fn decode(text: &str) -> Result<TwoFactorRecord, Error> {
        let body = text
            .strip_prefix(TEXT_PREFIX)
            .ok_or(RecordError::NotARecord)?;
        if body.len() > MAX_LEN * 4 / 3 + 4 {
            return Err(RecordError::TooLarge.into());
        }
        let bytes = data_encoding::BASE64URL_NOPAD
            .decode(body.as_bytes())
            .map_err(|_| RecordError::NotARecord)?;
        Self::from_bytes(&bytes)
    }
}

/// The label as stored: at most [`TrustedDevice::MAX_LABEL_LEN`] bytes, empty for none.
fn device_label(device: &TrustedDevice) -> &[u8] {
    let label = device.label.as_deref().unwrap_or("").as_bytes();
    &label[..label.len().min(TrustedDevice::MAX_LABEL_LEN)]
}

fn put_parameters(out: &mut Vec<u8>, parameters: TotpParameters) {
    out.push(match parameters.algorithm {
        Algorithm::Sha1 => 1,
        Algorithm::Sha256 => 2,
        Algorithm::Sha512 => 3,
    });
    out.push(parameters.digits as u8);
    out.extend_from_slice(&parameters.period.to_be_bytes());
}

fn put_bytes16(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = bytes.len().min(usize::from(u16::MAX));
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(&bytes[..len]);
}

fn decode(bytes: &[u8]) -> Result<TwoFactorRecord, RecordError> {
    if bytes.len() > MAX_LEN {
        return Err(RecordError::TooLarge);
    }
    if bytes.len() < MAGIC.len() + 1 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(RecordError::NotARecord);
    }
    let version = bytes[MAGIC.len()];
    let check_len = match version {
        VERSION | VERSION_3 => CRC_CHECK_LEN,
        VERSION_2 | VERSION_1 => SHA256_CHECK_LEN,
        _ => return Err(RecordError::UnknownVersion(version)),
    };
    let Some(body_len) = bytes.len().checked_sub(check_len) else {
        return Err(RecordError::Truncated);
    };
    let (body, check) = bytes.split_at(body_len);
    if body.len() < MAGIC.len() + 2 {
        return Err(RecordError::Truncated);
    }
    let binary = version >= VERSION_3;
    let intact = if binary {
        crc32fast::hash(body).to_be_bytes() == *check
    } else {
        Sha256::digest(body)[..SHA256_CHECK_LEN] == *check
    };
    if !intact {
        return Err(RecordError::ChecksumMismatch);
    }
    let mut reader = Reader {
        rest: &body[MAGIC.len() + 1..],
    };
    let state = match reader.u8()? {
        0 => State::Disabled,
        1 => State::Pending {
            secret: reader.sealed()?,
            parameters: reader.parameters()?,
            started_at: reader.u64()?,
        },
        2 => {
            let secret = reader.sealed()?;
            let parameters = reader.parameters()?;
            let enabled_at = reader.u64()?;
            let last_step = reader.optional_u64("last step")?;
            let recovery = reader.bytes16()?;
            let recovery = if binary {
                RecoveryCodeSet::read_binary(recovery).ok()
            } else {
                core::str::from_utf8(recovery)
                    .ok()
                    .and_then(|text| RecoveryCodeSet::decode(text).ok())
            }
            .ok_or(RecordError::InvalidField("recovery codes"))?;
            State::Enabled {
                secret,
                parameters,
                enabled_at,
                last_step,
                recovery,
            }
        }
        _ => return Err(RecordError::InvalidField("state")),
    };
    let throttle = reader.throttle("lockout")?;
    let (recovery_throttle, unreported_failures) = if version >= VERSION {
        (reader.throttle("recovery lockout")?, reader.u32()?)
    } else {
        // Before version 4 recovery codes counted as codes, and the code failures were the
        // ones the next sign-in reported.
        (Throttle::default(), throttle.failures)
    };
    let devices_revoked_at = if version == VERSION_1 {
        None
    } else {
        reader.optional_u64("revocation time")?
    };
    let count = reader.u8()?;
    let mut devices = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let keyed = version != VERSION_1 && reader.flag("device kind")?;
        let mut hash = [0u8; 32];
        hash.copy_from_slice(reader.take(32)?);
        let created_at = reader.u64()?;
        let expires_at = reader.u64()?;
        let label_len = usize::from(reader.u8()?);
        if label_len > TrustedDevice::MAX_LABEL_LEN {
            return Err(RecordError::InvalidField("device label"));
        }
        let label = core::str::from_utf8(reader.take(label_len)?)
            .map_err(|_| RecordError::InvalidField("device label"))?;
        devices.push(TrustedDevice {
            hash,
            keyed,
            created_at,
            expires_at,
            label: (!label.is_empty()).then(|| label.into()),
        });
    }
    if !reader.rest.is_empty() {
        return Err(RecordError::TrailingBytes);
    }
    if !matches!(state, State::Enabled { .. }) && !devices.is_empty() {
        return Err(RecordError::InvalidField("devices"));
    }
    Ok(TwoFactorRecord {
        state,
        throttle,
        recovery_throttle,
        unreported_failures,
        devices,
        devices_revoked_at,
    })
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        if self.rest.len() < n {
            return Err(RecordError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, RecordError> {
        Ok(self.take(1)?[0])
    }

    fn flag(&mut self, field: &'static str) -> Result<bool, RecordError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(RecordError::InvalidField(field)),
        }
    }

    /// A flag and a `u64` that must be 0 when the flag is not set.
    fn optional_u64(&mut self, field: &'static str) -> Result<Option<u64>, RecordError> {
        let present = self.flag(field)?;
        let value = self.u64()?;
        if !present && value != 0 {
            return Err(RecordError::InvalidField(field));
        }
        Ok(present.then_some(value))
    }

    /// A failure count, its time and its lockout flag.
    fn throttle(&mut self, lockout_field: &'static str) -> Result<Throttle, RecordError> {
        Ok(Throttle {
            failures: self.u32()?,
            last_failure: self.u64()?,
            locked: self.flag(lockout_field)?,
        })
    }

    fn u32(&mut self) -> Result<u32, RecordError> {
        let mut word = [0u8; 4];
        word.copy_from_slice(self.take(4)?);
        Ok(u32::from_be_bytes(word))
    }

    fn u64(&mut self) -> Result<u64, RecordError> {
        let mut word = [0u8; 8];
        word.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(word))
    }

    fn bytes16(&mut self) -> Result<&'a [u8], RecordError> {
        let mut len = [0u8; 2];
        len.copy_from_slice(self.take(2)?);
        self.take(usize::from(u16::from_be_bytes(len)))
    }

    fn sealed(&mut self) -> Result<SealedSecret, RecordError> {
        SealedSecret::from_bytes(self.bytes16()?).map_err(|_| RecordError::InvalidField("secret"))
    }

    fn parameters(&mut self) -> Result<TotpParameters, RecordError> {
        let algorithm = match self.u8()? {
            1 => Algorithm::Sha1,
            2 => Algorithm::Sha256,
            3 => Algorithm::Sha512,
            _ => return Err(RecordError::InvalidField("algorithm")),
        };
        let digits = u32::from(self.u8()?);
        if !(crate::otp::MIN_DIGITS..=crate::otp::MAX_DIGITS).contains(&digits) {
            return Err(RecordError::InvalidField("digits"));
        }
        let period = self.u64()?;
        if period == 0 {
            return Err(RecordError::InvalidField("period"));
        }
        Ok(TotpParameters {
            algorithm,
            digits,
            period,
        })
    }
}
