//! Record decoding, binary: `TwoFactorRecord::from_bytes`.
//!
//! The input is tried as it is, and as a record body followed by a freshly computed check
//! (as `src/account/encoding.rs` lays it out: the CRC-32 of the body for versions 3 and 4,
//! the first 8 bytes of SHA-256 of the body for versions 1 and 2), so that mutations get past
//! the check into the field decoders behind it.
//!
//! Properties: the crate reads a record exactly when the reference reader written from the
//! layout's documentation (`twofa_fuzz::record`) does, and refuses it for the same kind of
//! reason; a decoded record encodes to the version 4 bytes the reference writes, so a
//! version 4 record to the very same bytes, and a record of versions 1 to 3 to version 4
//! bytes that decode to the same record and are then a fixed point; the text form decodes to the
//! same record; `write_bytes` writes what `to_bytes` does, over any junk; every flow on a
//! decoded record gives a record that reads back, is saved exactly when it changed, needs the
//! proofs the settings ask for, and counts and reports failures as documented (see
//! `check_decoded_record`); a record over the size cap
//! is refused before anything is allocated; decoding allocates a bounded amount.
#![no_main]

use std::sync::Once;

use libfuzzer_sys::fuzz_target;
use twofa::Error;
use twofa::account::{RecordError, TwoFactorRecord};
use twofa_fuzz::{
    RECORD_VERSION, RECORD_VERSION_3, RECORD_VERSION_AT, check_against_reference,
    check_decoded_record, measured, reference_record, self_check, with_record_check,
};

/// Real records are about 1 KiB. The decoder holds at most the record's fields (never more
/// than its bytes), its devices (255 at most, counted by a byte, listed before they are
/// read) and, for versions 1 and 2, the recovery set's text decoded. Versions 3 and 4 hold
/// the set in its binary form, copied once.
fn max_decode_heap(version: Option<u8>, len: usize) -> u64 {
    match version {
        Some(RECORD_VERSION | RECORD_VERSION_3) => (len + 24 * 1024) as u64,
        _ => (2 * len + 32 * 1024) as u64,
    }
}

static ONCE: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    ONCE.call_once(|| {
        self_check();
        let huge = vec![0u8; 1 << 20];
        let (refused, info) = measured(|| TwoFactorRecord::from_bytes(&huge));
        assert_eq!(refused, Err(Error::InvalidRecord(RecordError::TooLarge)));
        assert_eq!(info.count_total, 0, "an oversized record was worked on");
    });
    let repaired = with_record_check(data);
    for bytes in [data, repaired.as_slice()] {
        let (decoded, info) = measured(|| TwoFactorRecord::from_bytes(bytes));
        let version = bytes.get(RECORD_VERSION_AT).copied();
        assert!(
            info.bytes_max <= max_decode_heap(version, bytes.len()),
            "{} bytes for {} (version {version:?})",
            info.bytes_max,
            bytes.len()
        );
        check_against_reference(&decoded, &reference_record(bytes));
        if let Ok(record) = decoded {
            check_decoded_record(&record, bytes);
        }
    }
});
