//! `Secret::from_base32` and `Secret::from_legacy_base32`.
//!
//! Properties: both agree with a bit-by-bit reference decoder written from the documentation
//! (the same bytes, or a failure of the same kind at the same position); a secret read back
//! from `to_base32` is the same secret, and `to_base32` is upper case without padding; input of
//! any length allocates no more than a secret's cap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twofa::{Error, Secret};
use twofa_fuzz::{Base32Failure, measured, reference_base32};

/// The decoder reserves room for `MAX_LEN` bytes once, and the secret copies them: nothing in
/// the heap grows with the input.
const MAX_DECODE_HEAP: u64 = 4 * Secret::MAX_LEN as u64;

fuzz_target!(|text: &str| {
    let expected = reference_base32(text, Secret::MAX_LEN);
    for (min, read) in [
        (
            Secret::MIN_LEN,
            Secret::from_base32 as fn(&str) -> Result<Secret, Error>,
        ),
        (Secret::LEGACY_MIN_LEN, Secret::from_legacy_base32),
    ] {
        let (got, info) = measured(|| read(text));
        assert!(
            info.bytes_max <= MAX_DECODE_HEAP,
            "{} bytes",
            info.bytes_max
        );
        match (&expected, &got) {
            (Ok(bytes), Ok(secret)) => {
                assert_eq!(secret.expose_bytes(), bytes.as_slice());
                assert!((min..=Secret::MAX_LEN).contains(&bytes.len()));
                check_round_trip(secret);
            }
            (Ok(bytes), Err(Error::SecretTooShort { len, min: m })) => {
                assert!(bytes.len() < min);
                assert_eq!((*len, *m), (bytes.len(), min));
            }
            (Ok(bytes), Err(Error::SecretTooLong { max, .. })) => {
                assert!(bytes.len() > Secret::MAX_LEN);
                assert_eq!(*max, Secret::MAX_LEN);
            }
            (Err(Base32Failure::Character(p)), Err(Error::InvalidBase32Character { position })) => {
                assert_eq!(p, position)
            }
            (Err(Base32Failure::Length), Err(Error::InvalidBase32Length)) => {}
            (Err(Base32Failure::TooLong), Err(Error::SecretTooLong { .. })) => {}
            (expected, got) => panic!("reference {expected:?}, crate {got:?}"),
        }
    }
});

fn check_round_trip(secret: &Secret) {
    let text = secret.to_base32();
    assert!(!text.contains('='));
    assert!(
        text.bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
    );
    assert_eq!(text.len(), (secret.len() * 8).div_ceil(5));
    let again = Secret::from_legacy_base32(&text).expect("to_base32 reads back");
    assert_eq!(&again, secret);
    assert_eq!(*again.to_base32(), *text);
    assert!(!format!("{secret:?}").contains(&*text));
}
