//! Record decoding, text: `TwoFactorRecord::decode` (`2fa1.` and URL-safe base64).
//!
//! Properties: the crate reads text exactly when the reference reader does
//! (`twofa_fuzz::reference_record_text`: the prefix, canonical base64 written out here, then
//! the binary layout), and refuses it for the same kind of reason; so only canonical text
//! decodes (no second spelling of one record's bytes: no padding, no stray trailing bits); a
//! decoded version 4 record encodes to the very same text, a record of versions 1 to 3 to the
//! text of its version 4 bytes; beyond that, as `record_bytes` (see `check_decoded_record`);
//! text over the size cap is refused before anything is allocated.
#![no_main]

use std::sync::Once;

use libfuzzer_sys::fuzz_target;
use twofa::Error;
use twofa::account::{RecordError, TwoFactorRecord};
use twofa_fuzz::{
    RECORD_VERSION, RECORD_VERSION_AT, base64url_decode_lenient, base64url_encode,
    check_against_reference, check_decoded_record, measured, reference_record_text, self_check,
};

static ONCE: Once = Once::new();

fuzz_target!(|text: &str| {
    ONCE.call_once(|| {
        self_check();
        let huge = format!("2fa1.{}", "A".repeat(1 << 20));
        let (refused, info) = measured(|| TwoFactorRecord::decode(&huge));
        assert_eq!(refused, Err(Error::InvalidRecord(RecordError::TooLarge)));
        assert_eq!(info.count_total, 0, "an oversized record was worked on");
    });
    let (decoded, info) = measured(|| TwoFactorRecord::decode(text));
    assert!(
        info.bytes_max <= (2 * text.len() + 32 * 1024) as u64,
        "{} bytes for {}",
        info.bytes_max,
        text.len()
    );
    check_against_reference(&decoded, &reference_record_text(text));
    if let Ok(record) = decoded {
        let body = text
            .strip_prefix("2fa1.")
            .expect("decoded text has the prefix");
        let bytes = base64url_decode_lenient(body).expect("decoded text is base64");
        assert_eq!(
            base64url_encode(&bytes),
            body,
            "the text encoding is not canonical"
        );
        if bytes[RECORD_VERSION_AT] == RECORD_VERSION {
            assert_eq!(record.encode(), text, "a version 4 record's text changed");
        }
        check_decoded_record(&record, &bytes);
    }
});
