//! What the fuzz targets share: a predictable generator, allocation measuring, the record's
//! checksum and the plaintext sealer's tag (recomputed so that mutated inputs get past them),
//! and reference readers written from the documentation, to compare the crate against.

use allocation_counter::AllocationInfo;
use sha2::{Digest, Sha256};
use twofa::rand_core::{TryCryptoRng, TryRng};

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

/// The length of the record's trailing check (`src/account/encoding.rs`).
pub const RECORD_CHECK_LEN: usize = 8;

/// `body` followed by the record's check: the first 8 bytes of SHA-256 over the body. A
/// mutated body then fails, if at all, in the field decoders behind the check.
pub fn with_record_check(body: &[u8]) -> Vec<u8> {
    let mut out = body.to_vec();
    out.extend_from_slice(&Sha256::digest(body)[..RECORD_CHECK_LEN]);
    out
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

/// Checks what must hold of any record that decoded from `bytes`: it encodes to the same
/// bytes and the same text (the encoding is canonical), and every flow run on it, at a few
/// times, gives a record that encodes and decodes back to itself; a transition that says it
/// changed nothing did not; a trusted device's token checks; disabling leaves a new record.
pub fn check_decoded_record(record: &twofa::account::TwoFactorRecord, bytes: &[u8]) {
    use twofa::account::{Context, PasswordConfirmed, Reauthentication, Settings, TwoFactorRecord};
    use twofa::{DangerPlaintextSealer, Pbkdf2Hasher, Secret, Totp};

    assert_eq!(
        record.to_bytes(),
        bytes,
        "the binary encoding is not canonical"
    );
    let text = record.encode();
    assert_eq!(TwoFactorRecord::decode(&text).as_ref(), Ok(record));
    let _ = format!("{record:?}");

    let settings = Settings::new("Fuzz").expect("a valid issuer");
    let hasher = Pbkdf2Hasher::new()
        .danger_with_iterations(1)
        .expect("one iteration is allowed");
    let sealer = DangerPlaintextSealer::new();
    let ctx = Context::new(USER, &settings, &sealer, &hasher);
    let round_trip = |next: &TwoFactorRecord, changed: bool| {
        let again = TwoFactorRecord::from_bytes(&next.to_bytes());
        assert_eq!(
            again.as_ref(),
            Ok(next),
            "a flow made a record that does not read back"
        );
        if !changed {
            assert_eq!(next, record, "an unchanged transition changed the record");
        }
    };
    for now in [0, 1_700_000_000, u64::MAX] {
        let _ = record.status();
        let t = record.verify_code(&ctx, "123456", now);
        round_trip(&t.record, t.changed());
        let t = record.use_recovery_code(&ctx, "not a code", now);
        round_trip(&t.record, t.changed());
        assert!(record.check_device(&ctx, "not a token", now).is_err());
        let t = record.revoke_all_devices();
        round_trip(&t.record, t.changed());
        let t = record.unlock();
        round_trip(&t.record, t.changed());
        let t = record.cancel_enrollment();
        round_trip(&t.record, t.changed());
        let t = record.reseal(&ctx);
        round_trip(&t.record, t.changed());
        for device in record.devices() {
            let t = record.revoke_device(&device.id());
            round_trip(&t.record, t.changed());
        }
    }
    // The secret of the seed records (the RFC 6238 seed), so that fuzzed records sealed for
    // USER by the plaintext sealer reach the paths behind a correct code.
    let app = Totp::new(Secret::from_bytes(b"12345678901234567890").expect("20 bytes"));
    for now in [0, 1_700_000_030, u64::MAX] {
        let mut rng = FuzzRng(now);
        let code = app.generate(now).to_string();
        let t = record.start_enrollment(&ctx, "fuzz", &mut rng, now);
        round_trip(&t.record, t.changed());
        let t = record.confirm_enrollment(&ctx, &code, &mut rng, now);
        round_trip(&t.record, t.changed());
        let t = record.verify_code(&ctx, &code, now);
        round_trip(&t.record, t.changed());
        if let Ok(signed_in) = &t.outcome {
            let trusted = t
                .record
                .trust_device(&ctx, signed_in, Some("fuzz"), &mut rng, now);
            let again = TwoFactorRecord::from_bytes(&trusted.record.to_bytes());
            assert_eq!(again.as_ref(), Ok(&trusted.record));
            // A device trusted within its lifetime of u64::MAX is expired at once.
            if let Some(token) = trusted
                .outcome
                .as_ref()
                .ok()
                .filter(|t| t.expires_at() > now)
            {
                let device = trusted.record.check_device(&ctx, token.as_str(), now);
                assert_eq!(device.map(|d| d.id()), Ok(token.device_id().to_owned()));
            }
        }
        let proof = PasswordConfirmed::check(&|_: &str, _: &str| true, USER, "pw", now)
            .expect("the check passes");
        let t = record.regenerate_recovery_codes(
            &ctx,
            Reauthentication::Password(proof.clone()),
            &mut rng,
            now,
        );
        round_trip(&t.record, t.changed());
        let t = record.disable(&ctx, Reauthentication::Password(proof), now);
        round_trip(&t.record, t.changed());
        if t.outcome.is_ok() {
            assert_eq!(t.record, TwoFactorRecord::new());
        }
    }
}
