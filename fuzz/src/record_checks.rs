//! The checks the record targets run on what they decode and on every flow's next record:
//! the encoding against the reference reader ([`crate::record`]), and the properties of each
//! flow (see [`check_decoded_record`]).

use crate::{
    DEVICE_KEY, FuzzRng, RECORD_VERSION, RECORD_VERSION_1, RECORD_VERSION_2, RECORD_VERSION_AT,
    ReferenceRecord, USER, base64url_encode, measured, reference_record,
};

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
