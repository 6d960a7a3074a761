//! Inputs the fuzzers in `fuzz/` found, kept as tests named for what each found.
#![allow(clippy::unwrap_used)] // test code: failing loudly is the point

use allocation_counter::measure;
use twofa::recovery::{Pbkdf2Hasher, RecoveryCodeSet};
use twofa::{Error, RecoveryError};

/// `fuzz/fuzz_targets/recovery_code.rs`, CI run of the merged branches: after key derivation
/// moved off the executor (the attempt now owns copies of the set's scheme), an over-long
/// typed recovery code made two heap allocations before it was refused. Malformed input must
/// cost nothing: it is what an attacker sends in bulk.
#[test]
fn an_over_long_recovery_code_is_refused_without_allocating() {
    let hasher = Pbkdf2Hasher::new().danger_with_iterations(1).unwrap();
    let (codes, mut set) =
        RecoveryCodeSet::generate_with(&hasher, "user-42", &mut twofa::os_rng(), 21).unwrap();
    // The fuzzer's input: 97 control characters and a few bytes of noise.
    let typed = format!("{}ךW-\0", "\u{15}".repeat(97));
    assert!(typed.len() > RecoveryCodeSet::MAX_INPUT_LEN);
    let mut result = None;
    let counted = measure(|| result = Some(set.use_code(&typed, "user-42", &hasher)));
    assert_eq!(
        result,
        Some(Err(Error::Recovery(RecoveryError::InvalidCode)))
    );
    assert_eq!(counted.count_total, 0, "{counted:?}");

    // Malformed but short, and well formed but wrong: refused too, and the set is intact.
    let counted = measure(|| result = Some(set.use_code("not a code", "user-42", &hasher)));
    assert_eq!(
        result,
        Some(Err(Error::Recovery(RecoveryError::InvalidCode)))
    );
    assert_eq!(counted.count_total, 0, "{counted:?}");
    assert_eq!(set.remaining(), 21);
    let first = codes.iter().next().unwrap();
    assert_eq!(set.use_code(first, "user-42", &hasher), Ok(20));
}

/// `fuzz/fuzz_targets/recovery_set.rs`, against its reference reader: after the hashes moved
/// into one buffer, empty hashes before the first real one (a leading comma) added nothing to
/// the buffer and vanished, so a set had a second spelling, which `decode` must refuse; and a
/// list of nothing but commas read as a set with no codes left.
#[test]
fn empty_hashes_in_a_stored_set_are_refused_not_dropped() {
    use twofa::recovery::EncodingPart;
    let hash = "ERERERERERERERERERERERERERERERERERERERERERE"; // 32 bytes of 0x11
    let salt = "AAAAAAAAAAAAAAAAAAAAAA"; // 16 zero bytes
    let canonical = format!("$twofa-recovery$v=2$pbkdf2-sha256$i=30000${salt}${hash}");
    assert_eq!(RecoveryCodeSet::decode(&canonical).unwrap().remaining(), 1);
    let malformed = Err(Error::Recovery(RecoveryError::MalformedEncoding {
        part: EncodingPart::Hashes,
    }));
    for hashes in [
        format!(",{hash}"),
        format!(",,{hash}"),
        format!("{hash},"),
        ",".into(),
        ",,,,,,,,,,,,,,,".into(),
    ] {
        let text = format!("$twofa-recovery$v=2$pbkdf2-sha256$i=30000${salt}${hashes}");
        assert_eq!(RecoveryCodeSet::decode(&text), malformed, "{hashes}");
    }
    // The fuzzer's own input.
    let found = "$twofa-recovery$v=2$fuzz-identity$$AAAAAAAAAAAAAAAAAAAAAAAAAAA$,,,,,,,,,,,,,,,";
    assert_eq!(RecoveryCodeSet::decode(found), malformed);
}
