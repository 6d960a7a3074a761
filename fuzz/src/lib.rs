//! What the fuzz targets share: a predictable generator, allocation measuring, the record's
//! check and the plaintext sealer's tag (recomputed so that mutated inputs get past them),
//! reference readers written from the documentation, to compare the crate against (the
//! record's in [`record`], the recovery set's in [`recovery_set`]), and the checks the record
//! targets run on every record they decode or a flow makes ([`check_decoded_record`],
//! [`settle`]).

mod flow_checks;
pub mod record;
mod record_checks;
pub mod recovery_set;

use allocation_counter::AllocationInfo;
use sha2::{Digest, Sha256};
use twofa::rand_core::{TryCryptoRng, TryRng};

pub use record::{
    ReferenceRecord, ReferenceThrottle, crc32, reference_record, reference_record_text,
};
pub use record_checks::{check_against_reference, check_decoded_record, record_bytes, settle};

/// Runs `f` and returns its result with the heap allocations this thread made meanwhile.
pub fn measured<R>(f: impl FnOnce() -> R) -> (R, AllocationInfo) {
    let mut out = None;
    let info = allocation_counter::measure(|| out = Some(f()));
    match out {
        Some(result) => (result, info),
        None => unreachable!("measure runs the closure once"),
    }
}

/// A deterministic generator (SplitMix64) so that every run of an input is the same. Never
/// use anything like it outside tests.
#[derive(Debug, Clone)]
pub struct FuzzRng(pub u64);

impl TryRng for FuzzRng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.try_next_u64()? as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let word = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}

impl TryCryptoRng for FuzzRng {}

/// `body` followed by the check its version byte calls for (`src/account/encoding.rs`): the
/// first 8 bytes of SHA-256 of the body for versions 1 and 2; otherwise, as for versions 3
/// and 4 and for a body too short to have a version byte, the CRC-32 of the body, big-endian.
/// A mutated body then fails, if at all, in the field decoders behind the check.
pub fn with_record_check(body: &[u8]) -> Vec<u8> {
    let version = body
        .get(RECORD_VERSION_AT)
        .copied()
        .unwrap_or(RECORD_VERSION);
    let mut out = body.to_vec();
    out.extend_from_slice(&record::check_of(version, body));
    out
}

/// Asserts the known answers of the reference coders, so that a broken reference cannot pass
/// for a broken crate or hide one.
pub fn self_check() {
    // The check value of CRC-32/ISO-HDLC in the catalogue of CRC parameters.
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32(b""), 0);
    // RFC 4648, section 10, in the URL-safe alphabet.
    assert_eq!(base64url_encode(b"foobar"), "Zm9vYmFy");
    assert_eq!(base64url_encode(b"fo"), "Zm8");
    assert_eq!(base64url_encode(&[0xfb, 0xff]), "-_8");
    assert_eq!(base64url_decode_lenient("-_8"), Some(vec![0xfb, 0xff]));
}

/// The tag the plaintext sealer writes (`src/seal/plaintext.rs`): the first 16 bytes of
/// SHA-256 over a label, the header, the user id with its length, and the secret.
pub fn plaintext_tag(header: &[u8], user_id: &str, body: &[u8]) -> [u8; 16] {
    let digest = Sha256::new()
        .chain_update(b"twofa danger-plaintext seal v1\0")
        .chain_update(header)
        .chain_update((user_id.len() as u64).to_be_bytes())
        .chain_update(user_id.as_bytes())
        .chain_update(body)
        .finalize();
    let mut tag = [0u8; 16];
    tag.copy_from_slice(&digest[..16]);
    tag
}

/// What a recovery code typed by a user means, read as the documentation of
/// `RecoveryCodeSet::use_code` and `twofa::recovery` says: at most 80 bytes; Unicode white
/// space, hyphens and dashes ignored anywhere; either case; `O` is `0`, `I` and `L` are `1`,
/// `U` is `V`; then exactly ten symbols of `0-9A-Z` without `I L O U`.
pub fn reference_recovery_code(typed: &str) -> Option<String> {
    const DASHES: &[char] = &[
        '-', '\u{2010}', '\u{2011}', '\u{2012}', '\u{2013}', '\u{2014}', '\u{2015}', '\u{2212}',
        '\u{FE63}', '\u{FF0D}',
    ];
    if typed.len() > 80 {
        return None;
    }
    let mut out = String::new();
    for c in typed.chars() {
        if c.is_whitespace() || DASHES.contains(&c) {
            continue;
        }
        if !c.is_ascii_alphanumeric() {
            return None;
        }
        out.push(match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            'U' => 'V',
            other => other,
        });
    }
    (out.chars().count() == 10).then_some(out)
}

/// How a reference base32 read failed; compared with the crate's error by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base32Failure {
    /// A character that is not allowed, at this index (in `char`s).
    Character(usize),
    /// A number of symbols that cannot encode whole bytes, or none.
    Length,
    /// More bytes than the maximum.
    TooLong,
}

/// Lenient base32 as `Secret::from_base32` documents it: RFC 4648 alphabet in either case,
/// spaces and hyphens ignored anywhere, `=` only at the end; the last partial byte's bits are
/// dropped. Decodes at most `max_len` bytes (more is `TooLong` as soon as the symbols say so).
pub fn reference_base32(text: &str, max_len: usize) -> Result<Vec<u8>, Base32Failure> {
    let max_symbols = max_len.div_ceil(5) * 8;
    let mut values = Vec::new();
    let mut padding = false;
    for (position, c) in text.chars().enumerate() {
        let value = match c {
            'A'..='Z' => c as u8 - b'A',
            'a'..='z' => c as u8 - b'a',
            '2'..='7' => c as u8 - b'2' + 26,
            ' ' | '-' => continue,
            '=' => {
                padding = true;
                continue;
            }
            _ => return Err(Base32Failure::Character(position)),
        };
        if padding {
            return Err(Base32Failure::Character(position));
        }
        values.push(value);
        if values.len() > max_symbols {
            return Err(Base32Failure::TooLong);
        }
    }
    if values.is_empty() || matches!(values.len() % 8, 1 | 3 | 6) {
        return Err(Base32Failure::Length);
    }
    // Bit by bit, on purpose unlike the crate's decoder.
    let bits: Vec<bool> = values
        .iter()
        .flat_map(|v| (0..5).rev().map(move |i| v >> i & 1 == 1))
        .collect();
    Ok(bits
        .chunks_exact(8)
        .map(|byte| byte.iter().fold(0u8, |acc, &bit| acc << 1 | u8::from(bit)))
        .collect())
}

/// The user every record target acts for.
pub const USER: &str = "user-42";

/// The device key every record target's settings hold.
pub const DEVICE_KEY: [u8; 32] = [9; 32];

/// The version byte of a record's binary encoding (`"2FA"` then the version).
pub const RECORD_VERSION_AT: usize = 3;

/// The version `to_bytes` writes.
pub const RECORD_VERSION: u8 = 4;

/// The version before: no recovery-code throttle (read as no failures) and no count of
/// unreported failures (read as the code failures). Still read, and re-encoded as
/// [`RECORD_VERSION`].
pub const RECORD_VERSION_3: u8 = 3;

/// Version 3 with the recovery set as text and a SHA-256 check. Still read, and re-encoded
/// as [`RECORD_VERSION`].
pub const RECORD_VERSION_2: u8 = 2;

/// The first version: version 2 without the revocation time and device kinds. Still read,
/// and re-encoded as [`RECORD_VERSION`].
pub const RECORD_VERSION_1: u8 = 1;

/// URL-safe base64 without padding, written out so as not to trust the crate's encoder.
pub fn base64url_encode(bytes: &[u8]) -> String {
    base64_encode_with(URL_SAFE, bytes)
}

/// The URL-safe base64 alphabet of RFC 4648.
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64 without padding in `alphabet` (standard or URL-safe), written out from RFC 4648.
pub fn base64_encode_with(alphabet: &[u8; 64], bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let word = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(alphabet[(word >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// URL-safe base64 without padding, read leniently (stray trailing bits are dropped), so that
/// comparing with [`base64url_encode`] of the result tells whether the text was canonical.
pub fn base64url_decode_lenient(text: &str) -> Option<Vec<u8>> {
    base64_decode_lenient_with(URL_SAFE, text)
}

/// Base64 without padding in `alphabet`, read leniently: stray trailing bits are dropped.
pub fn base64_decode_lenient_with(alphabet: &[u8; 64], text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for b in text.bytes() {
        let value = alphabet.iter().position(|&a| a == b)? as u32;
        buffer = (buffer << 6 | value) & 0xffff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}
