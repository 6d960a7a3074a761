//! Record decoding, binary: `TwoFactorRecord::from_bytes`.
//!
//! The input is tried as it is, and as a record body followed by a freshly computed check
//! (the first 8 bytes of SHA-256 of the body, as `src/account/encoding.rs` lays it out), so
//! that mutations get past the check into the field decoders behind it.
//!
//! Properties: a decoded version 2 record re-encodes to the very same bytes; a decoded
//! version 1 record re-encodes to version 2 bytes that decode to the same record and are then a
//! fixed point; either way the text form decodes to the same record; every flow on a decoded
//! record gives a record that reads back, is saved exactly when it changed, and needs the
//! proofs the settings ask for (see `check_decoded_record`); a record over the size cap is
//! refused before anything is allocated; decoding allocates a bounded amount; an unknown
//! version is refused as such.
#![no_main]

use std::sync::Once;

use libfuzzer_sys::fuzz_target;
use twofa::Error;
use twofa::account::{RecordError, TwoFactorRecord};
use twofa_fuzz::{
    RECORD_VERSION, RECORD_VERSION_1, RECORD_VERSION_AT, check_decoded_record, measured,
    with_record_check,
};

/// Real records are about 1 KiB; the decoder holds at most the record, its devices (255 at
/// most, counted by a byte) and the recovery set's text.
fn max_decode_heap(len: usize) -> u64 {
    (2 * len + 32 * 1024) as u64
}

static OVERSIZED: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    OVERSIZED.call_once(|| {
        let huge = vec![0u8; 1 << 20];
        let (refused, info) = measured(|| TwoFactorRecord::from_bytes(&huge));
        assert_eq!(refused, Err(Error::InvalidRecord(RecordError::TooLarge)));
        assert_eq!(info.count_total, 0, "an oversized record was worked on");
    });
    let repaired = with_record_check(data);
    for bytes in [data, repaired.as_slice()] {
        let (decoded, info) = measured(|| TwoFactorRecord::from_bytes(bytes));
        assert!(
            info.bytes_max <= max_decode_heap(bytes.len()),
            "{} bytes for {}",
            info.bytes_max,
            bytes.len()
        );
        match decoded {
            Ok(record) => check_decoded_record(&record, bytes),
            Err(Error::InvalidRecord(RecordError::UnknownVersion(v))) => {
                assert!(bytes.starts_with(b"2FA"));
                assert_eq!(bytes[RECORD_VERSION_AT], v);
                assert!(v != RECORD_VERSION && v != RECORD_VERSION_1, "version {v}");
            }
            Err(error) => assert!(matches!(error, Error::InvalidRecord(_)), "{error:?}"),
        }
    }
});
