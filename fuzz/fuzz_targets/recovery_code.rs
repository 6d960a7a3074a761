//! Recovery-code input: `RecoveryCodeSet::use_code` on a set generated from the input's seed,
//! with a cheap hasher (one PBKDF2 iteration) so that each run costs microseconds.
//!
//! Properties: a typed code is accepted exactly when a reference reader written from the
//! documentation (case, separators, look-alikes, ten symbols, at most 80 bytes) reads it as
//! one of the unused codes; it then works once and no more; a refused code leaves the set as
//! it was; the same code checked for another user is refused, and the set stays as it was; a
//! well-formed code checked with a peppered hasher is a hasher mismatch; the same set written
//! as version 1 (unbound to the user) decodes but refuses every input as `UnboundSet`; input
//! over `MAX_INPUT_LEN` is refused without allocating.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use twofa::Error;
use twofa::recovery::{Pbkdf2Hasher, RecoveryCodeSet, RecoveryError};
use twofa_fuzz::{FuzzRng, USER, measured, reference_recovery_code};

#[derive(Arbitrary, Debug)]
struct Input {
    seed: u64,
    count: u8,
    typed: Typed,
}

/// Arbitrary text, or one of the set's codes as a person might type it.
#[derive(Arbitrary, Debug)]
enum Typed {
    Raw(String),
    Code { index: u8, edits: Vec<Edit> },
}

#[derive(Arbitrary, Debug)]
enum Edit {
    Lower(u8),
    LookAlike(u8, bool),
    Separator(u8, u8),
    Insert(u8, char),
    Remove(u8),
}

/// Separators users and keyboards put in codes, and a few that are not separators.
const SEPARATORS: &[char] = &[
    ' ', '\t', '\n', '\u{a0}', '\u{3000}', '-', '\u{2010}', '\u{2013}', '\u{2014}', '\u{2212}',
    '\u{FF0D}', '_', '.', '/', '\u{200b}',
];

fuzz_target!(|input: Input| {
    let hasher = Pbkdf2Hasher::new()
        .danger_with_iterations(1)
        .expect("one iteration is allowed");
    let count = usize::from(input.count) % RecoveryCodeSet::MAX_COUNT + 1;
    let (codes, mut set) =
        RecoveryCodeSet::generate_with(&hasher, USER, &mut FuzzRng(input.seed), count)
            .expect("a valid count and hasher");
    let canonical: Vec<String> = codes.iter().map(|c| c.replace('-', "")).collect();
    let typed = match &input.typed {
        Typed::Raw(text) => text.clone(),
        Typed::Code { index, edits } => {
            let shown: &str = codes
                .iter()
                .nth(usize::from(*index) % count)
                .expect("index within the set");
            apply(shown, edits)
        }
    };

    let meant = reference_recovery_code(&typed);
    let expected = meant.as_ref().filter(|code| canonical.contains(code));
    let before = set.encode();

    let peppered = Pbkdf2Hasher::new()
        .danger_with_iterations(1)
        .and_then(|h| h.with_pepper(&[7; 32]))
        .expect("a valid pepper");
    let mismatch = set.clone().use_code(&typed, USER, &peppered);
    if meant.is_some() {
        assert_eq!(mismatch, Err(RecoveryError::HasherMismatch.into()));
    } else {
        assert_eq!(mismatch, Err(RecoveryError::InvalidCode.into()));
    }

    // Another user's id: no code works, and nothing changes.
    let mut copy = set.clone();
    assert_eq!(
        copy.use_code(&typed, "user-43", &hasher),
        Err(RecoveryError::InvalidCode.into()),
        "{typed:?} worked for another user"
    );
    assert_eq!(copy, set);
    // The set as an earlier release stored it: still read, never used.
    let encoded = set.encode();
    assert!(encoded.starts_with("$twofa-recovery$v=2$"));
    let v1 = encoded.replacen("$v=2$", "$v=1$", 1);
    let mut unbound = RecoveryCodeSet::decode(&v1).expect("a version 1 set decodes");
    assert_eq!(
        unbound.encode(),
        v1,
        "a version 1 set is written back as it was"
    );
    assert_eq!(
        unbound.use_code(&typed, USER, &hasher),
        Err(RecoveryError::UnboundSet.into())
    );
    assert_eq!(unbound.encode(), v1);

    let (got, info) = measured(|| set.use_code(&typed, USER, &hasher));
    if typed.len() > RecoveryCodeSet::MAX_INPUT_LEN {
        assert_eq!(info.count_total, 0, "over-long input was worked on");
    }
    assert!(info.bytes_max <= 1024, "{} bytes", info.bytes_max);
    match expected {
        Some(_) => {
            assert_eq!(got, Ok(count - 1), "{typed:?}");
            assert_eq!(set.remaining(), count - 1);
            let again = set.use_code(&typed, USER, &hasher);
            assert_eq!(again, Err(Error::Recovery(RecoveryError::InvalidCode)));
            assert_eq!(set.remaining(), count - 1);
            let decoded = RecoveryCodeSet::decode(&set.encode()).expect("encode reads back");
            assert_eq!(decoded, set);
        }
        None => {
            assert_eq!(got, Err(RecoveryError::InvalidCode.into()), "{typed:?}");
            assert_eq!(set.encode(), before, "a refused code changed the set");
        }
    }
});

fn apply(shown: &str, edits: &[Edit]) -> String {
    let mut text: Vec<char> = shown.chars().collect();
    for edit in edits.iter().take(40) {
        let at = |i: u8, len: usize| usize::from(i) % len.max(1);
        match *edit {
            Edit::Lower(i) if !text.is_empty() => {
                let i = at(i, text.len());
                text[i] = text[i].to_ascii_lowercase();
            }
            Edit::LookAlike(i, lower) if !text.is_empty() => {
                let i = at(i, text.len());
                let swapped = match text[i] {
                    '0' => 'O',
                    '1' if lower => 'L',
                    '1' => 'I',
                    'V' => 'U',
                    other => other,
                };
                text[i] = if lower {
                    swapped.to_ascii_lowercase()
                } else {
                    swapped
                };
            }
            Edit::Separator(i, which) => {
                let c = SEPARATORS[usize::from(which) % SEPARATORS.len()];
                text.insert(at(i, text.len() + 1), c);
            }
            Edit::Insert(i, c) => text.insert(at(i, text.len() + 1), c),
            Edit::Remove(i) if !text.is_empty() => {
                text.remove(at(i, text.len()));
            }
            _ => {}
        }
    }
    text.into_iter().collect()
}
