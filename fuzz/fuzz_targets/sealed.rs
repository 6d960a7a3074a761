//! Sealed secret decoding and opening: `SealedSecret::from_bytes`, then `open` by
//! `AesGcmSealer` and `DangerPlaintextSealer`.
//!
//! The first byte chooses how the rest is used:
//!
//! - `0`: as stored bytes, as they are;
//! - `1`: as stored bytes whose last 16 bytes are replaced by the plaintext sealer's tag for
//!   the user, so that the fuzzer reaches past the check;
//! - `2`: as a secret to seal with AES-256-GCM (12 bytes of nonce seed, two bytes of position
//!   and one of XOR mask, then the secret), after which one byte of the result is changed.
//!
//! Properties: a decoded value writes back the same bytes and is within `MAX_LEN`; a refusal
//! allocates nothing; whatever opens is a secret of the sealed length that seals and opens
//! again; a sealed secret opens for its own user only, and any changed byte makes it fail
//! to open.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use twofa::seal::{DangerPlaintextSealer, SealError};
use twofa::{AesGcmSealer, Error, SealedSecret, Secret, SecretSealer};
use twofa_fuzz::{FuzzRng, USER, measured, plaintext_tag};

static AES: LazyLock<AesGcmSealer> = LazyLock::new(|| {
    AesGcmSealer::new("k2", &[2; 32])
        .and_then(|s| s.with_old_key("k1", &[1; 32]))
        .expect("valid keys")
});

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode {
        0 => check_stored(rest),
        1 => {
            let mut bytes = rest.to_vec();
            if let Some(header_len) = bytes.get(2).map(|&n| 3 + usize::from(n))
                && bytes.len() >= header_len + 16
            {
                let tag_at = bytes.len() - 16;
                let tag = plaintext_tag(&bytes[..header_len], USER, &bytes[header_len..tag_at]);
                bytes[tag_at..].copy_from_slice(&tag);
            }
            check_stored(&bytes);
        }
        _ => check_tampering(rest),
    }
});

fn check_stored(bytes: &[u8]) {
    let (decoded, info) = measured(|| SealedSecret::from_bytes(bytes));
    let sealed = match decoded {
        Ok(sealed) => sealed,
        Err(error) => {
            assert!(matches!(error, Error::Seal(_)), "{error:?}");
            return assert_eq!(info.count_total, 0, "a refused value allocated");
        }
    };
    assert!(bytes.len() <= SealedSecret::MAX_LEN);
    assert_eq!(sealed.to_bytes(), bytes);
    assert_eq!(sealed.as_bytes(), bytes);
    let key_id = sealed.key_id();
    assert!((1..=SealedSecret::MAX_KEY_ID_LEN).contains(&key_id.len()));
    assert!(
        key_id.bytes().all(|b| (b'!'..=b'~').contains(&b)),
        "{key_id:?}"
    );
    let _ = format!("{sealed:?}");

    let plaintext = DangerPlaintextSealer::new();
    for sealer in [&*AES as &dyn SecretSealer, &plaintext] {
        if let Ok(secret) = sealer.open(&sealed, USER) {
            // Header, nonce, secret, tag.
            let nonce = bytes.len() - 3 - key_id.len() - secret.len() - SealedSecret::TAG_LEN;
            assert!(
                nonce == 0 || nonce == 12,
                "a secret of {} bytes",
                secret.len()
            );
            assert!((Secret::LEGACY_MIN_LEN..=Secret::MAX_LEN).contains(&secret.len()));
            let again = sealer.seal(&secret, USER).expect("sealing works");
            assert_eq!(sealer.open(&again, USER).as_ref(), Ok(&secret));
            assert!(
                sealer.open(&sealed, "user-43").is_err(),
                "opened for another user"
            );
            if let Some(resealed) = sealer.reseal(&sealed, USER).expect("opens, so reseals") {
                assert_eq!(sealer.open(&resealed, USER).as_ref(), Ok(&secret));
                assert!(!sealer.needs_reseal(&resealed));
            }
        }
    }
}

fn check_tampering(rest: &[u8]) {
    if rest.len() < 15 {
        return;
    }
    let (seed, rest) = rest.split_at(12);
    let (change, secret) = rest.split_at(3);
    let Ok(secret) = Secret::from_legacy_bytes(secret) else {
        return;
    };
    let mut seed_word = [0u8; 8];
    seed_word.copy_from_slice(&seed[..8]);
    let sealed = AES
        .seal_with_rng(&secret, USER, &mut FuzzRng(u64::from_le_bytes(seed_word)))
        .expect("sealing works");
    assert_eq!(AES.open(&sealed, USER).as_ref(), Ok(&secret));
    assert!(AES.open(&sealed, "user-43").is_err());
    assert!(!AES.needs_reseal(&sealed));

    let mut bytes = sealed.to_bytes();
    let at = usize::from(u16::from_le_bytes([change[0], change[1]])) % bytes.len();
    bytes[at] ^= change[2];
    let Ok(changed) = SealedSecret::from_bytes(&bytes) else {
        return assert_ne!(change[2], 0);
    };
    match AES.open(&changed, USER) {
        Ok(opened) => {
            assert_eq!(change[2], 0, "a changed byte {at} still opened");
            assert_eq!(opened, secret);
        }
        Err(error) => {
            assert_ne!(change[2], 0);
            assert!(
                matches!(
                    error,
                    Error::Seal(
                        SealError::OpenFailed
                            | SealError::UnknownKeyId { .. }
                            | SealError::SchemeMismatch { .. }
                    )
                ),
                "{error:?}"
            );
        }
    }
}
