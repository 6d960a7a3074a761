//! Record decoding, text: `TwoFactorRecord::decode` (`2fa1.` and URL-safe base64).
//!
//! Properties: a decoded record encodes to the very same text (no second spelling of one
//! record: no padding, no stray trailing bits) and to bytes that decode to it; text over the
//! size cap is refused before anything is allocated.
#![no_main]

use std::sync::Once;

use libfuzzer_sys::fuzz_target;
use twofa::Error;
use twofa::account::{RecordError, TwoFactorRecord};
use twofa_fuzz::{check_decoded_record, measured};

static OVERSIZED: Once = Once::new();

fuzz_target!(|text: &str| {
    OVERSIZED.call_once(|| {
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
    if let Ok(record) = decoded {
        assert_eq!(record.encode(), text, "the text encoding is not canonical");
        check_decoded_record(&record, &record.to_bytes());
    }
});
