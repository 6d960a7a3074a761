//! Recovery-set decoding: `RecoveryCodeSet::decode`, then `use_code` on what it decoded.
//!
//! Properties: a set decodes exactly when the reference reader written from the
//! documentation (`twofa_fuzz::recovery_set`, the one records are checked with) reads it,
//! with the same fields; the encoding is canonical (a decoded set encodes to the very same
//! text, and decoding that gives the same set); the same set in its binary form, inside a
//! version 4 record, reads back with as many codes and writes back the same bytes; a set
//! holds at most `MAX_COUNT` hashes; text over `MAX_ENCODED_LEN` is refused before anything
//! is allocated; decoding allocates a bounded amount. Sets of the test scheme
//! `fuzz-identity`, whose "hash" of a code is the code itself, let the fuzzer write sets
//! whose codes it knows: each such code works exactly once and removes exactly its own hash;
//! any scheme other than the hasher's is a mismatch; a set of version 1 (not bound to a user)
//! decodes but refuses every code as `UnboundSet`, and stays as it was.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twofa::Error;
use twofa::account::TwoFactorRecord;
use twofa::recovery::{CodeHasher, RecoveryCodeSet, RecoveryError};
use twofa_fuzz::{ReferenceRecord, USER, measured, recovery_set};

const MAX_DECODE_HEAP: u64 = 4 * RecoveryCodeSet::MAX_ENCODED_LEN as u64;

/// Ten alphabet symbols are hashed as themselves, followed by six zero bytes (hashes are 16
/// bytes at least).
struct Identity;

impl CodeHasher for Identity {
    fn algorithm(&self) -> &str {
        "fuzz-identity"
    }

    fn parameters(&self) -> String {
        String::new()
    }

    fn hash(&self, code: &[u8], _salt: &[u8], _parameters: &str) -> Result<Vec<u8>, Error> {
        let mut out = code.to_vec();
        out.extend_from_slice(&[0; 6]);
        Ok(out)
    }
}

fuzz_target!(|text: &str| {
    let (decoded, info) = measured(|| RecoveryCodeSet::decode(text));
    assert!(
        info.bytes_max <= MAX_DECODE_HEAP,
        "{} bytes",
        info.bytes_max
    );
    let reference = recovery_set::from_text(text);
    match (&decoded, &reference) {
        (Ok(set), Some(reference)) => {
            assert_eq!(set.encode(), reference.to_text());
            assert_eq!(set.remaining(), reference.hashes.len());
            // The same set in its binary form, inside a version 4 record.
            let bytes = ReferenceRecord::enabled_with(reference.clone()).to_v4_bytes();
            let record = TwoFactorRecord::from_bytes(&bytes);
            assert_eq!(
                record.as_ref().map(|r| r.recovery_codes_left()),
                Ok(Some(set.remaining())),
                "the binary form of a set the text form holds"
            );
            assert_eq!(record.map(|r| r.to_bytes()), Ok(bytes));
        }
        (Err(_), None) => {}
        _ => panic!("the crate and the reference disagree: {decoded:?}, {reference:?}"),
    }
    if text.len() > RecoveryCodeSet::MAX_ENCODED_LEN {
        assert_eq!(info.count_total, 0, "over-long input was worked on");
        assert!(matches!(
            decoded,
            Err(Error::Recovery(RecoveryError::EncodingTooLong { .. }))
        ));
        return;
    }
    let Ok(set) = decoded else { return };
    assert!(set.remaining() <= RecoveryCodeSet::MAX_COUNT);
    let encoded = set.encode();
    assert_eq!(encoded, text, "the encoding is not canonical");
    assert_eq!(RecoveryCodeSet::decode(&encoded).as_ref(), Ok(&set));
    assert!(format!("{set:?}").len() < 100);

    if text.starts_with("$twofa-recovery$v=1$") {
        let mut copy = set.clone();
        for typed in ["00000-00000", "ZZZZZ-ZZZZZ", ""] {
            assert_eq!(
                copy.use_code(typed, USER, &Identity),
                Err(RecoveryError::UnboundSet.into())
            );
        }
        assert_eq!(copy, set);
        return;
    }
    assert!(text.starts_with("$twofa-recovery$v=2$"), "{text:?}");
    if set.algorithm() != Identity.algorithm() {
        let mut copy = set.clone();
        assert_eq!(
            copy.use_code("00000-00000", USER, &Identity),
            Err(RecoveryError::HasherMismatch.into())
        );
        assert_eq!(copy, set);
        return;
    }
    // The codes whose "hashes" the text holds.
    let codes: Vec<String> = hashes(&encoded)
        .into_iter()
        .filter(|h| h.len() == 16 && h[10..] == [0; 6])
        .filter_map(|h| String::from_utf8(h[..10].to_vec()).ok())
        .filter(|c| {
            c.bytes()
                .all(|b| b"0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(&b))
        })
        .collect();
    for code in &codes {
        let mut copy = set.clone();
        assert_eq!(
            copy.use_code(&code.to_lowercase(), USER, &Identity),
            Ok(set.remaining() - 1)
        );
        assert_eq!(
            copy.use_code(code, USER, &Identity),
            Err(RecoveryError::InvalidCode.into()),
            "a code worked twice"
        );
        let left = hashes(&copy.encode());
        let before = hashes(&encoded);
        assert_eq!(left.len() + 1, before.len());
        assert!(left.iter().all(|h| before.contains(h)));
    }
    if codes.is_empty() {
        let mut copy = set.clone();
        assert_eq!(
            copy.use_code("ZZZZZ-ZZZZZ", USER, &Identity),
            Err(RecoveryError::InvalidCode.into())
        );
        assert_eq!(copy, set);
    }
});

/// The hashes of an encoded set, decoded from its last field.
fn hashes(encoded: &str) -> Vec<Vec<u8>> {
    let field = encoded.rsplit('$').next().unwrap_or("");
    field
        .split(',')
        .filter(|h| !h.is_empty())
        .map(|h| base64_decode(h).expect("a canonical hash"))
        .collect()
}

/// Standard base64 without padding, written out so as not to trust the crate's decoder.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for b in text.bytes() {
        let value = ALPHABET.iter().position(|&a| a == b)? as u32;
        buffer = buffer << 6 | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}
