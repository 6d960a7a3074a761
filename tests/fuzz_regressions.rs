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
