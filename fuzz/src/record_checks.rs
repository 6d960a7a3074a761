//! The checks the record targets run on what they decode and on every flow's next record:
//! the encoding against the reference reader ([`crate::record`]); the flows themselves are
//! checked in `flow_checks`.

use twofa::Error;
use twofa::account::{Transition, TwoFactorRecord};

use crate::{
    RECORD_VERSION, RECORD_VERSION_1, RECORD_VERSION_2, RECORD_VERSION_3, RECORD_VERSION_AT,
    ReferenceRecord, ReferenceThrottle, base64url_encode, measured, reference_record,
};

/// Checks a transition against the record it started from, and settles it: the next record
/// reads back from its bytes, which are a fixed point, version 4, and what the reference
/// reader reads and writes back; a transition says it changed the record exactly when it
/// did; `save_with` saves exactly when the record changed, and saves the record `record()`
/// shows. Returns the next record and the outcome.
pub fn settle<T>(
    transition: Transition<T>,
    from: &TwoFactorRecord,
) -> (TwoFactorRecord, twofa::account::Outcome<T>) {
    let next = transition.record().clone();
    let changed = transition.changed();
    let bytes = record_bytes(&next);
    assert_eq!(
        reference_record(&bytes).map(|r| r.to_v4_bytes()),
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

/// The record's bytes (`to_bytes`, version 4, in one allocation), checked against
/// `write_bytes`: into a buffer holding junk of any length it writes the same bytes, and into
/// one with room enough it allocates nothing.
pub fn record_bytes(record: &TwoFactorRecord) -> Vec<u8> {
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
    decoded: &Result<TwoFactorRecord, Error>,
    reference: &Result<ReferenceRecord, twofa::account::RecordError>,
) {
    use twofa::account::RecordError;

    let kind = |error: &RecordError| match error {
        RecordError::InvalidField(_) => RecordError::InvalidField("any"),
        other => *other,
    };
    match (decoded, reference) {
        (Ok(_), Ok(_)) => {}
        (Err(Error::InvalidRecord(got)), Err(expected)) => assert_eq!(
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
/// The encoding: the record encodes to the version 4 bytes the reference reader
/// ([`crate::record`]) writes for the same input; so a version 4 record encodes to the very
/// same bytes, and a record of versions 1 to 3 to version 4 bytes (for version 3: no
/// recovery-code failures, the code failures still to report; before it, the recovery set in
/// the binary form, the revocation time and device kinds, CRC-32 for SHA-256) that decode to
/// the same record and are then a fixed point; either way the text form decodes to the same
/// record, `write_bytes` writes what `to_bytes` does, and the failure counts and revocation
/// time read are the ones the reference reads.
///
/// The flows, run on it at a few times: every next record reads back, is a fixed point of
/// the encoding and is read by the reference; a transition is saved exactly when it changed
/// the record (see [`settle`]); and each flow does what it documents
/// (see `flow_checks::check_flows`).
pub fn check_decoded_record(record: &TwoFactorRecord, bytes: &[u8]) {
    let reference = reference_record(bytes).expect("the reference reads what the crate reads");
    let encoded = record_bytes(record);
    assert_eq!(
        encoded,
        reference.to_v4_bytes(),
        "the crate wrote other bytes than the reference"
    );
    assert_eq!(
        (
            record.failures(),
            record.recovery_code_failures(),
            record.unreported_failures()
        ),
        (
            reference.codes.failures,
            reference.recovery_codes.failures,
            reference.unreported_failures
        ),
        "the crate read other failure counts than the reference"
    );
    assert_eq!(record.devices_revoked_at(), reference.devices_revoked_at);
    match bytes[RECORD_VERSION_AT] {
        RECORD_VERSION => assert_eq!(encoded, bytes, "the binary encoding is not canonical"),
        version @ (RECORD_VERSION_1 | RECORD_VERSION_2 | RECORD_VERSION_3) => {
            let again = TwoFactorRecord::from_bytes(&encoded);
            assert_eq!(
                again.as_ref(),
                Ok(record),
                "v{version} re-encoded as v4 reads back"
            );
            assert_eq!(
                again.map(|r| r.to_bytes()),
                Ok(encoded.clone()),
                "v4 from v{version} is not a fixed point"
            );
            assert_eq!(
                reference_record(&encoded).map(|r| r.to_v4_bytes()),
                Ok(encoded.clone()),
                "the reference's v4 from v{version} is not a fixed point"
            );
            // Before version 4 failed recovery codes counted as codes, and the code failures
            // were reported at the next sign-in.
            assert_eq!(record.recovery_code_failures(), 0);
            assert_eq!(reference.recovery_codes, ReferenceThrottle::default());
            assert_eq!(record.unreported_failures(), record.failures());
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

    crate::flow_checks::check_flows(record, &reference);
}
