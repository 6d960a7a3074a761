//! What the fuzz targets share: a predictable generator, allocation measuring, the record's
//! check and the plaintext sealer's tag (recomputed so that mutated inputs get past them),
//! and reference readers written from the documentation, to compare the crate against (the
//! record's in [`record`], the recovery set's in [`recovery_set`]).

pub mod record;
pub mod recovery_set;

use allocation_counter::AllocationInfo;
use sha2::{Digest, Sha256};
use twofa::rand_core::{TryCryptoRng, TryRng};

pub use record::{ReferenceRecord, crc32, reference_record, reference_record_text};

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
/// first 8 bytes of SHA-256 of the body for versions 1 and 2; otherwise, as for version 3 and
/// for a body too short to have a version byte, the CRC-32 of the body, big-endian. A mutated
/// body then fails, if at all, in the field decoders behind the check.
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
pub const RECORD_VERSION: u8 = 3;

/// The version before: the recovery set as text, a SHA-256 check. Still read, and
/// re-encoded as [`RECORD_VERSION`].
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

/// Checks a transition against the record it started from, and settles it: the next record
/// reads back from its bytes, which are a fixed point, version 3, and what the reference
/// reader reads and writes back; a transition says it changed the record exactly when it
/// did; `save_with` saves exactly when the record changed, and saves the record `record()`
/// shows. Returns the next record and the outcome.
pub fn settle<T>(
    transition: twofa::account::Transition<T>,
    from: &twofa::account::TwoFactorRecord,
) -> (twofa::account::TwoFactorRecord, twofa::account::Outcome<T>) {
    use twofa::account::TwoFactorRecord;

    let next = transition.record().clone();
    let changed = transition.changed();
    let bytes = record_bytes(&next);
    assert_eq!(
        reference_record(&bytes).map(|r| r.to_v3_bytes()),
        Ok(bytes.clone()),
        "a flow made a record the reference does not read, or writes otherwise"
    );
    assert_eq!(
        TwoFactorRecord::from_bytes(&bytes).as_ref(),
        Ok(&next),
        "a flow made a record that does not read back"
    );
    assert_eq!(
        TwoFactorRecord::from_bytes(&bytes).map(|r| r.to_bytes()),
        Ok(bytes),
        "a flow made a record whose encoding is not a fixed point"
    );
    // `changed` says whether the record differs from the one the flow started from.
    if changed {
        assert_ne!(
            &next, from,
            "a changed transition left the record as it was"
        );
    } else {
        assert_eq!(&next, from, "an unchanged transition changed the record");
    }
    let mut saved = None;
    let outcome = transition
        .save_with(|record| {
            saved = Some(record.clone());
            Ok::<(), core::convert::Infallible>(())
        })
        .unwrap_or_else(|never| match never {});
    assert_eq!(
        saved.is_some(),
        changed,
        "saved when unchanged, or not when changed"
    );
    if let Some(saved) = saved {
        assert_eq!(saved, next, "saved another record than the transition's");
    }
    (next, outcome)
}

/// The record's bytes (`to_bytes`, version 3, in one allocation), checked against
/// `write_bytes`: into a buffer holding junk of any length it writes the same bytes, and into
/// one with room enough it allocates nothing.
pub fn record_bytes(record: &twofa::account::TwoFactorRecord) -> Vec<u8> {
    let (bytes, info) = measured(|| record.to_bytes());
    assert_eq!(bytes[RECORD_VERSION_AT], RECORD_VERSION);
    assert_eq!(info.count_total, 1, "to_bytes allocated more than once");
    for junk in [0, 1, bytes.len() - 1, bytes.len(), bytes.len() + 100] {
        let mut buffer = vec![0xa5; junk];
        let room = buffer.capacity() >= bytes.len();
        let ((), info) = measured(|| record.write_bytes(&mut buffer));
        assert_eq!(buffer, bytes, "write_bytes over {junk} bytes of junk");
        if room {
            assert_eq!(
                info.count_total, 0,
                "write_bytes allocated with room enough"
            );
        }
    }
    bytes
}

/// Checks that the crate and the reference agree on one input: both read a record, or both
/// refuse it for the same kind of reason (the field an `InvalidField` names is not compared).
/// What a record read then holds is checked by [`check_decoded_record`].
pub fn check_against_reference(
    decoded: &Result<twofa::account::TwoFactorRecord, twofa::Error>,
    reference: &Result<ReferenceRecord, twofa::account::RecordError>,
) {
    use twofa::account::RecordError;

    let kind = |error: &RecordError| match error {
        RecordError::InvalidField(_) => RecordError::InvalidField("any"),
        other => *other,
    };
    match (decoded, reference) {
        (Ok(_), Ok(_)) => {}
        (Err(twofa::Error::InvalidRecord(got)), Err(expected)) => assert_eq!(
            kind(got),
            kind(expected),
            "the crate and the reference refuse for different reasons"
        ),
        (decoded, reference) => panic!(
            "the crate and the reference disagree:\ncrate: {decoded:?}\nreference: {reference:?}"
        ),
    }
}

/// Checks what must hold of any record that decoded from `bytes`.
///
/// The encoding: the record encodes to the version 3 bytes the reference reader
/// ([`record`]) writes for the same input; so a version 3 record encodes to the very same
/// bytes, and a version 1 or 2 record to version 3 bytes (its recovery set in the binary
/// form, revocation time and device kinds added, CRC-32 for SHA-256) that decode to the same
/// record and are then a fixed point; either way the text form decodes to the same record,
/// and `write_bytes` writes what `to_bytes` does.
///
/// The flows, run on it at a few times: every next record reads back, is a fixed point of
/// the encoding and is read by the reference; a transition is saved exactly when it changed
/// the record; enrolment needs a password proof; a trusted device's token checks and names its
/// device, for its user only; disabling leaves a new record.
pub fn check_decoded_record(record: &twofa::account::TwoFactorRecord, bytes: &[u8]) {
    use twofa::account::{
        Context, DeviceKey, PasswordConfirmed, Reauthentication, Settings, Status, TwoFactorRecord,
    };
    use twofa::seal::DangerPlaintextSealer;
    use twofa::{Error, Pbkdf2Hasher, Secret, Totp};

    let reference = reference_record(bytes).expect("the reference reads what the crate reads");
    let encoded = record_bytes(record);
    assert_eq!(
        encoded,
        reference.to_v3_bytes(),
        "the crate wrote other bytes than the reference"
    );
    match bytes[RECORD_VERSION_AT] {
        RECORD_VERSION => assert_eq!(encoded, bytes, "the binary encoding is not canonical"),
        version @ (RECORD_VERSION_1 | RECORD_VERSION_2) => {
            let again = TwoFactorRecord::from_bytes(&encoded);
            assert_eq!(
                again.as_ref(),
                Ok(record),
                "v{version} re-encoded as v3 reads back"
            );
            assert_eq!(
                again.map(|r| r.to_bytes()),
                Ok(encoded.clone()),
                "v3 from v{version} is not a fixed point"
            );
            assert_eq!(
                reference_record(&encoded).map(|r| r.to_v3_bytes()),
                Ok(encoded.clone()),
                "the reference's v3 from v{version} is not a fixed point"
            );
            if version == RECORD_VERSION_1 {
                assert_eq!(record.devices_revoked_at(), None);
            }
        }
        other => panic!("version {other} decoded"),
    }
    let text = record.encode();
    assert_eq!(TwoFactorRecord::decode(&text).as_ref(), Ok(record));
    assert_eq!(
        text.strip_prefix("2fa1."),
        Some(&*base64url_encode(&encoded))
    );
    let _ = format!("{record:?}");

    let settings = Settings::new("Fuzz")
        .expect("a valid issuer")
        .device_key(DeviceKey::from_bytes(&DEVICE_KEY).expect("32 bytes"));
    let hasher = Pbkdf2Hasher::new()
        .danger_with_iterations(1)
        .expect("one iteration is allowed");
    let sealer = DangerPlaintextSealer::new();
    let ctx = Context::new(USER, &settings, &sealer, &hasher).expect("a valid user id");
    let other = Context::new("user-43", &settings, &sealer, &hasher).expect("a valid user id");
    for now in [0, 1_700_000_000, u64::MAX] {
        let _ = record.status();
        let _ = record.is_locked_out(settings.throttle_policy(), now);
        let (_, verified) = settle(record.verify_code(&ctx, "123456", now), record);
        let (_, recovered) = settle(record.use_recovery_code(&ctx, "not a code", now), record);
        assert!(
            recovered.result.is_err(),
            "a malformed recovery code signed in"
        );
        if !record.is_enabled() {
            assert_eq!(verified.result.err(), Some(Error::NotEnabled));
            assert_eq!(recovered.result.err(), Some(Error::NotEnabled));
        }
        assert!(record.check_device(&ctx, "not a token", now).is_err());
        let (next, _) = settle(record.revoke_all_devices(now), record);
        assert!(next.devices().is_empty());
        assert!(next.devices_revoked_at().is_some_and(|at| at >= now));
        let (unlocked, outcome) = settle(record.unlock(), record);
        assert_eq!(outcome.result, Ok(()));
        assert_eq!(unlocked.failures(), 0);
        let (cancelled, outcome) = settle(record.cancel_enrollment(), record);
        let pending = matches!(record.status(), Status::Pending { .. });
        assert_eq!(outcome.result.is_ok(), pending);
        if pending {
            assert_eq!(cancelled.status(), Status::Disabled);
        }
        let _ = settle(record.reseal(&ctx), record).1.result;
        for device in record.devices() {
            let (next, outcome) = settle(record.revoke_device(&device.id()), record);
            assert_eq!(outcome.result, Ok(()));
            assert!(next.devices().iter().all(|d| d.id() != device.id()));
        }
        // Enrolment without a proof is refused, as the settings ask for one.
        let mut rng = FuzzRng(now);
        let (_, outcome) = settle(
            record.start_enrollment(&ctx, None, "fuzz", &mut rng, now),
            record,
        );
        let expected = if record.is_enabled() {
            Error::AlreadyEnabled
        } else {
            Error::ReauthenticationRequired
        };
        assert_eq!(outcome.result.err(), Some(expected));
    }
    // The secret of the seed records (the RFC 6238 seed), so that fuzzed records sealed for
    // USER by the plaintext sealer reach the paths behind a correct code.
    let app = Totp::new(Secret::from_bytes(b"12345678901234567890").expect("20 bytes"));
    for now in [0, 1_700_000_030, u64::MAX] {
        let mut rng = FuzzRng(now);
        let code = app.generate(now).to_string();
        let proof = PasswordConfirmed::check(&|_: &str, _: &str| true, USER, "pw", now)
            .expect("the check passes");
        let (started, outcome) = settle(
            record.start_enrollment(&ctx, Some(&proof), "fuzz", &mut rng, now),
            record,
        );
        if outcome.result.is_ok() {
            assert_eq!(started.status(), Status::Pending { started_at: now });
        } else if !record.is_enabled() {
            panic!(
                "enrolment with a fresh proof failed: {:?}",
                outcome.result.err()
            );
        }
        let (confirmed, outcome) = settle(
            record.confirm_enrollment(&ctx, &code, &mut rng, now),
            record,
        );
        if let Ok(codes) = &outcome.result {
            assert_eq!(confirmed.status(), Status::Enabled { enabled_at: now });
            assert_eq!(confirmed.recovery_codes_left(), Some(codes.len()));
        }
        let (signed_in_record, outcome) = settle(record.verify_code(&ctx, &code, now), record);
        if let Ok(signed_in) = &outcome.result {
            let (trusted_record, trusted) = settle(
                signed_in_record.trust_device(&ctx, signed_in, Some("fuzz"), &mut rng, now),
                &signed_in_record,
            );
            // Another user's sign-in trusts nothing.
            let (_, foreign) = settle(
                signed_in_record.trust_device(&other, signed_in, None, &mut rng, now),
                &signed_in_record,
            );
            assert_eq!(foreign.result.err(), Some(Error::ReauthenticationRequired));
            // A device trusted within its lifetime of u64::MAX is expired at once.
            if let Some(token) = trusted
                .result
                .as_ref()
                .ok()
                .filter(|t| t.expires_at() > now)
            {
                let device = trusted_record.check_device(&ctx, token.as_str(), now);
                assert_eq!(device.map(|d| d.id()), Ok(token.device_id().to_owned()));
                assert_eq!(
                    trusted_record
                        .check_device(&other, token.as_str(), now)
                        .map(|d| d.id()),
                    Err(Error::InvalidDeviceToken),
                    "a token worked for another user"
                );
            }
        }
        let (_, regenerated) = settle(
            record.regenerate_recovery_codes(
                &ctx,
                Reauthentication::Password(proof.clone()),
                &mut rng,
                now,
            ),
            record,
        );
        if regenerated.result.is_ok() {
            assert!(record.is_enabled());
        }
        let (next, disabled) = settle(
            record.disable(&ctx, Reauthentication::Password(proof), now),
            record,
        );
        if disabled.result.is_ok() {
            assert_eq!(next, TwoFactorRecord::new());
        }
    }
}
