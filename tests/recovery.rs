//! Recovery codes through the public API: generate, show, type, check, store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::sync::atomic::{AtomicUsize, Ordering};

use data_encoding::BASE64_NOPAD;
use proptest::prelude::*;
use twofa::recovery::{
    CodeHasher, EncodingPart, Pbkdf2Hasher, RecoveryCodeSet, RecoveryCodes, RecoveryError,
};
use twofa::{Error, os_rng};

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const INVALID: Error = Error::Recovery(RecoveryError::InvalidCode);
/// The user the sets of these tests are made for.
const USER: &str = "user-42";

/// PBKDF2 at one iteration. Tests run unoptimised, where a derivation at the minimum of 1,000
/// iterations takes some 7 ms (fifty times a release build). What the tests check (which codes match, how input is read, the
/// encoding) does not depend on the work factor; the known answers in `hasher.rs` check the
/// derivation, and the benchmark its cost.
fn cheap() -> Pbkdf2Hasher {
    Pbkdf2Hasher::new().danger_with_iterations(1).unwrap()
}

fn generate(count: usize) -> (RecoveryCodes, RecoveryCodeSet) {
    RecoveryCodeSet::generate_with(&cheap(), USER, &mut os_rng(), count).unwrap()
}

fn owned(codes: &RecoveryCodes) -> Vec<String> {
    codes.iter().map(str::to_owned).collect()
}

fn is_well_formed(code: &str) -> bool {
    let bytes = code.as_bytes();
    bytes.len() == 11
        && bytes[5] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 5 || ALPHABET.contains(b))
}

#[test]
fn a_default_set_is_ten_distinct_well_formed_codes() {
    let (codes, set) = RecoveryCodeSet::generate(&cheap(), USER).unwrap();
    assert_eq!((codes.len(), set.remaining()), (10, 10));
    let mut all = owned(&codes);
    assert!(all.iter().all(|code| is_well_formed(code)), "{all:?}");
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 10);
    let shown = codes.to_string();
    assert_eq!(shown.lines().collect::<Vec<_>>(), owned(&codes));
    assert_eq!(format!("{codes:?}"), "RecoveryCodes([redacted; 10 codes])");
    assert_eq!(format!("{set:?}"), "RecoveryCodeSet { remaining: 10, .. }");
}

#[test]
fn every_code_works_exactly_once() {
    let hasher = cheap();
    let (codes, mut set) = generate(RecoveryCodeSet::MAX_COUNT);
    let codes = owned(&codes);
    // In an order other than the one they were made in.
    for (used, code) in codes.iter().rev().enumerate() {
        let left = RecoveryCodeSet::MAX_COUNT - used - 1;
        assert_eq!(set.use_code(code, USER, &hasher), Ok(left), "{used}");
        assert_eq!(set.use_code(code, USER, &hasher), Err(INVALID));
        assert_eq!(set.remaining(), left);
    }
    for code in &codes {
        assert_eq!(set.use_code(code, USER, &hasher), Err(INVALID));
    }
    let round_trip = RecoveryCodeSet::decode(&set.encode()).unwrap();
    assert_eq!(round_trip.remaining(), 0);
}

#[test]
fn codes_of_another_set_never_work() {
    let hasher = cheap();
    let (codes_a, set_a) = generate(10);
    // Regenerating: a new set with a new salt.
    let (codes_b, set_b) = generate(10);
    let salt = |set: &RecoveryCodeSet| set.encode().split('$').nth(5).unwrap().to_owned();
    assert_ne!(salt(&set_a), salt(&set_b));
    for code in codes_b.iter() {
        assert_eq!(set_a.clone().use_code(code, USER, &hasher), Err(INVALID));
    }
    for code in codes_a.iter() {
        assert_eq!(set_b.clone().use_code(code, USER, &hasher), Err(INVALID));
    }
    // The same codes under another salt give other hashes: a set's hashes say nothing about
    // another's.
    let hashes = |set: &RecoveryCodeSet| set.encode().split('$').nth(6).unwrap().to_owned();
    assert!(
        hashes(&set_a)
            .split(',')
            .all(|h| !hashes(&set_b).contains(h))
    );
}

#[test]
fn codes_are_read_the_way_people_type_them() {
    let hasher = cheap();
    let (codes, set) = generate(1);
    let code = codes.iter().next().unwrap().to_owned();
    let bare = code.replace('-', "");
    let look_alikes = code.replace('0', "O").replace('1', "l").replace('V', "u");
    let spaced: String = bare.chars().flat_map(|c| [c, ' ']).collect();
    for typed in [
        code.clone(),
        code.to_lowercase(),
        bare.clone(),
        bare.to_lowercase(),
        format!("  {code}\n"),
        code.replace('-', " "),
        code.replace('-', " - "),
        code.replace('-', "\u{2013}"),
        spaced,
        look_alikes.clone(),
        look_alikes.to_lowercase(),
        code.replace('1', "I"),
        code.replace('1', "L"),
        // As long as input may be.
        format!(
            "{}{code}",
            " ".repeat(RecoveryCodeSet::MAX_INPUT_LEN - code.len())
        ),
    ] {
        assert_eq!(
            set.clone().use_code(&typed, USER, &hasher),
            Ok(0),
            "{typed:?}"
        );
    }
}

#[test]
fn malformed_input_is_the_same_error_as_a_wrong_code() {
    let hasher = cheap();
    let (codes, mut set) = generate(3);
    let code = codes.iter().next().unwrap().to_owned();
    for typed in [
        String::new(),
        " ".into(),
        code[..10].to_owned(),
        format!("{code}A"),
        code.replace('-', "_"),
        code.replacen(|c: char| c.is_ascii_alphanumeric(), "!", 1),
        code.replacen(|c: char| c.is_ascii_alphanumeric(), "\u{c9}", 1),
        format!("{code}\0"),
        format!("{}{code}", " ".repeat(RecoveryCodeSet::MAX_INPUT_LEN)),
        "A".repeat(1 << 20),
    ] {
        assert_eq!(
            set.use_code(&typed, USER, &hasher),
            Err(INVALID),
            "{typed:.40?}"
        );
    }
    assert_eq!(set.remaining(), 3);
    let shown = INVALID.to_string();
    assert_eq!(shown, "recovery codes: the recovery code is not valid");
}

/// The stored set with hash number `index` changed by `change`, as stored text.
fn with_changed_hash(
    set: &RecoveryCodeSet,
    index: usize,
    change: impl FnOnce(&mut [u8]),
) -> String {
    let stored = set.encode();
    let (head, hashes) = stored.rsplit_once('$').unwrap();
    let mut hashes: Vec<Vec<u8>> = hashes
        .split(',')
        .map(|hash| BASE64_NOPAD.decode(hash.as_bytes()).unwrap())
        .collect();
    change(&mut hashes[index]);
    let hashes: Vec<String> = hashes
        .iter()
        .map(|hash| BASE64_NOPAD.encode(hash))
        .collect();
    format!("{head}${}", hashes.join(","))
}

/// A guess is compared with the whole of every stored hash: where one byte of a hash differs
/// (the last byte included, which a comparison of a prefix would miss), its code is refused
/// and the set is left as it was, while every other code still works.
#[test]
fn a_hash_that_differs_in_any_byte_matches_nothing() {
    let hasher = cheap();
    let (codes, set) = generate(10);
    let codes = owned(&codes);
    let hash_len = Pbkdf2Hasher::OUTPUT_LEN;
    // Every byte of the last hash, and the last byte of the first.
    let changes = (0..hash_len)
        .map(|byte| (9, byte))
        .chain([(0, hash_len - 1)]);
    for (index, byte) in changes {
        let tampered = with_changed_hash(&set, index, |hash| hash[byte] ^= 0x01);
        let mut tampered = RecoveryCodeSet::decode(&tampered).unwrap();
        let before = tampered.clone();
        assert_ne!(tampered, set);
        assert_eq!(
            tampered.use_code(&codes[index], USER, &hasher),
            Err(INVALID),
            "hash {index}, byte {byte}"
        );
        assert_eq!(tampered, before);
        let other = (index + 1) % 10;
        assert_eq!(tampered.use_code(&codes[other], USER, &hasher), Ok(9));
    }
    // Untouched, the same code works.
    assert_eq!(set.clone().use_code(&codes[9], USER, &hasher), Ok(9));
}

#[test]
fn a_set_works_only_for_the_user_it_was_made_for() {
    let hasher = cheap();
    let (codes, set) = generate(10);
    let codes = owned(&codes);
    // As if user A's stored set were copied into user B's record.
    let mut copied = RecoveryCodeSet::decode(&set.encode()).unwrap();
    for code in &codes {
        for user in ["user-43", "user-4", "User-42", "user-42\0", ""] {
            assert_eq!(
                copied.use_code(code, user, &hasher),
                Err(INVALID),
                "{user:?}"
            );
        }
    }
    assert_eq!(copied, set);
    assert_eq!(copied.use_code(&codes[4], USER, &hasher), Ok(9));

    // The binding is the set's, not the hasher's: a custom scheme is bound as well, and so is
    // a peppered one.
    let (codes, set) = RecoveryCodeSet::generate_with(&HmacScheme, USER, &mut os_rng(), 2).unwrap();
    let code = codes.iter().next().unwrap();
    assert_eq!(
        set.clone().use_code(code, "user-43", &HmacScheme),
        Err(INVALID)
    );
    assert_eq!(set.clone().use_code(code, USER, &HmacScheme), Ok(1));
    let peppered = cheap().with_pepper(&[9; 32]).unwrap();
    let (codes, set) = RecoveryCodeSet::generate_with(&peppered, USER, &mut os_rng(), 2).unwrap();
    let code = codes.iter().next().unwrap();
    assert_eq!(
        set.clone().use_code(code, "user-43", &peppered),
        Err(INVALID)
    );
    assert_eq!(set.clone().use_code(code, USER, &peppered), Ok(1));

    // The same codes for two users, under one salt, would still give other hashes: a set made
    // for user B holds nothing of user A's.
    let hashes = |set: &RecoveryCodeSet| set.encode().rsplit('$').next().unwrap().to_owned();
    let (_, for_b) = RecoveryCodeSet::generate_with(&cheap(), "user-43", &mut os_rng(), 2).unwrap();
    assert!(hashes(&for_b).split(',').all(|h| !hashes(&set).contains(h)));
}

/// A set stored before codes were bound to the user (encoding version 1) still decodes, so
/// the record holding it stays readable, but none of its codes works for anyone.
#[test]
fn a_set_of_the_unbound_first_version_is_refused_before_any_hashing() {
    let hasher = Counting::default();
    let (codes, set) = generate(2);
    let v1 = set.encode().replacen("$v=2$", "$v=1$", 1);
    let mut old = RecoveryCodeSet::decode(&v1).unwrap();
    assert_eq!(old.remaining(), 2);
    for code in codes.iter() {
        for user in [USER, "user-43", ""] {
            assert_eq!(
                old.use_code(code, user, &hasher),
                Err(Error::Recovery(RecoveryError::UnboundSet))
            );
        }
    }
    assert_eq!(hasher.derivations(), 0);
    assert_eq!(old.remaining(), 2);
    assert_eq!(old.encode(), v1);
    assert_eq!(
        Error::Recovery(RecoveryError::UnboundSet).to_string(),
        "recovery codes: the set predates recovery codes bound to the user id; \
         generate new codes"
    );
}

/// PBKDF2 at one iteration that counts its derivations.
#[derive(Default)]
struct Counting(AtomicUsize);

impl Counting {
    fn derivations(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// The derivations `f` makes.
    fn count<T>(&self, f: impl FnOnce() -> T) -> (usize, T) {
        let before = self.derivations();
        let result = f();
        (self.derivations() - before, result)
    }
}

impl CodeHasher for Counting {
    fn algorithm(&self) -> &str {
        Pbkdf2Hasher::ALGORITHM
    }
    fn parameters(&self) -> String {
        cheap().parameters()
    }
    fn hash(&self, code: &[u8], salt: &[u8], parameters: &str) -> Result<Vec<u8>, Error> {
        self.0.fetch_add(1, Ordering::SeqCst);
        cheap().hash(code, salt, parameters)
    }
}

#[test]
fn one_derivation_per_check_and_none_for_malformed_input() {
    let hasher = Counting::default();
    let (derivations, made) =
        hasher.count(|| RecoveryCodeSet::generate_with(&hasher, USER, &mut os_rng(), 10));
    let (codes, mut set) = made.unwrap();
    assert_eq!(derivations, 10, "one per code at generation");
    let codes = owned(&codes);
    let (others, _) = generate(1);
    let other = others.iter().next().unwrap();

    // Well formed: one derivation each, right or wrong, whatever the number of codes left.
    for (typed, user, expected) in [
        (codes[9].as_str(), USER, Ok(9)),
        (codes[9].as_str(), USER, Err(INVALID)),
        (other, USER, Err(INVALID)),
        (codes[0].as_str(), "user-43", Err(INVALID)),
        (&codes[0].to_lowercase(), USER, Ok(8)),
    ] {
        let (derivations, result) = hasher.count(|| set.use_code(typed, user, &hasher));
        assert_eq!((derivations, result), (1, expected), "{typed}");
    }

    // Malformed: refused before any derivation.
    let long = format!("{}{}", " ".repeat(RecoveryCodeSet::MAX_INPUT_LEN), codes[1]);
    for typed in [
        "",
        "ABCDE-1234",
        "ABCDE-123456",
        "ABCDE_12345",
        "ÀBCDE-12345",
        &long,
    ] {
        let (derivations, result) = hasher.count(|| set.use_code(typed, USER, &hasher));
        assert_eq!((derivations, result), (0, Err(INVALID)), "{typed:.20?}");
    }

    // A set of another scheme: refused before any derivation.
    let (hmac_codes, mut hmac_set) =
        RecoveryCodeSet::generate_with(&HmacScheme, USER, &mut os_rng(), 1).unwrap();
    let typed = hmac_codes.iter().next().unwrap();
    let (derivations, result) = hasher.count(|| hmac_set.use_code(typed, USER, &hasher));
    assert_eq!(
        (derivations, result),
        (0, Err(Error::Recovery(RecoveryError::HasherMismatch)))
    );

    // An empty set: nothing to compare with, so nothing is derived.
    let (one, mut single) =
        RecoveryCodeSet::generate_with(&hasher, USER, &mut os_rng(), 1).unwrap();
    let code = one.iter().next().unwrap();
    assert_eq!(
        hasher.count(|| single.use_code(code, USER, &hasher)),
        (1, Ok(0))
    );
    assert_eq!(
        hasher.count(|| single.use_code(code, USER, &hasher)),
        (0, Err(INVALID))
    );
}

#[test]
fn the_encoding_round_trips_and_holds_no_code() {
    let hasher = cheap();
    let (codes, mut set) = generate(10);
    let stored = set.encode();
    assert!(stored.starts_with("$twofa-recovery$v=2$pbkdf2-sha256$i=1$"));
    assert!(stored.is_ascii() && !stored.contains(char::is_whitespace));
    for code in codes.iter() {
        let bare = code.replace('-', "");
        for form in [code.to_owned(), bare.clone(), bare.to_lowercase()] {
            assert!(!stored.contains(&form), "{form} in {stored}");
        }
    }
    let decoded = RecoveryCodeSet::decode(&stored).unwrap();
    assert_eq!(decoded, set);
    assert_eq!(decoded.encode(), stored);

    // After a use, the stored set shrinks and still round-trips.
    let mut decoded = decoded;
    let first = codes.iter().next().unwrap();
    assert_eq!(decoded.use_code(first, USER, &hasher), Ok(9));
    assert_eq!(set.use_code(first, USER, &hasher), Ok(9));
    let stored = decoded.encode();
    assert_eq!(RecoveryCodeSet::decode(&stored).unwrap(), set);
    assert_eq!(
        RecoveryCodeSet::decode(&stored)
            .unwrap()
            .use_code(first, USER, &hasher),
        Err(INVALID)
    );
}

#[test]
fn a_changed_encoding_is_refused_or_matches_nothing() {
    let hasher = cheap();
    let (codes, set) = generate(2);
    let stored = set.encode();
    let malformed = |text: &str| match RecoveryCodeSet::decode(text) {
        Err(Error::Recovery(RecoveryError::MalformedEncoding { part })) => Some(part),
        _ => None,
    };
    assert_eq!(
        malformed(&stored.replacen("v=2", "v=2$", 1)),
        Some(EncodingPart::Format)
    );
    assert_eq!(
        RecoveryCodeSet::decode(&stored.replacen("v=2", "v=3", 1)),
        Err(Error::Recovery(RecoveryError::UnsupportedVersion {
            version: 3
        }))
    );
    assert_eq!(
        malformed(&format!("{stored},{}", stored.rsplit(',').next().unwrap())),
        Some(EncodingPart::Hashes)
    );
    assert_eq!(malformed(&format!(" {stored}")), Some(EncodingPart::Format));
    // Numbers have one spelling each.
    for version in ["v=02", "v=+2", "v=2a", "v=", "v=-2", "v=0x2"] {
        let text = stored.replacen("v=2", version, 1);
        assert_eq!(malformed(&text), Some(EncodingPart::Version), "{version}");
    }
    assert_eq!(
        RecoveryCodeSet::decode(&stored.replacen("v=2", "v=0", 1)),
        Err(Error::Recovery(RecoveryError::UnsupportedVersion {
            version: 0
        }))
    );
    for iterations in ["i=01", "i=0", "i=+1", "i=10000001"] {
        let mut set = RecoveryCodeSet::decode(&stored.replacen("i=1", iterations, 1)).unwrap();
        assert_eq!(
            set.use_code(codes.iter().next().unwrap(), USER, &hasher),
            Err(Error::Recovery(RecoveryError::InvalidParameters)),
            "{iterations}"
        );
    }
    assert_eq!(
        RecoveryCodeSet::decode(&stored.replacen('$', "", 1))
            .unwrap_err()
            .to_string(),
        "recovery codes: encoded set has a malformed format"
    );
    let salt = stored.split('$').nth(5).unwrap();
    assert_eq!(
        RecoveryCodeSet::decode(&stored.replacen(salt, "AAAA", 1))
            .unwrap_err()
            .to_string(),
        "recovery codes: encoded set has a malformed salt"
    );
    // Changing one character of a hash (to another that keeps the base64 canonical) gives a
    // set that decodes, but where that code no longer works.
    let last = codes.iter().last().unwrap();
    let hash_start = stored.rfind(',').unwrap() + 1;
    let mut bytes = stored.into_bytes();
    bytes[hash_start] = if bytes[hash_start] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let tampered = String::from_utf8(bytes).unwrap();
    let mut set = RecoveryCodeSet::decode(&tampered).unwrap();
    assert_eq!(set.use_code(last, USER, &hasher), Err(INVALID));
    assert_eq!(
        set.use_code(codes.iter().next().unwrap(), USER, &hasher),
        Ok(1)
    );
}

#[test]
fn sets_are_checked_with_the_parameters_they_were_made_with() {
    let (codes, set) = generate(2);
    // A hasher configured for more iterations still checks an older set.
    let newer = Pbkdf2Hasher::new();
    assert_eq!(set.parameters(), "i=1");
    assert_eq!(
        set.clone()
            .use_code(codes.iter().next().unwrap(), USER, &newer),
        Ok(1)
    );
}

#[test]
fn the_hasher_reports_its_configuration() {
    let default = Pbkdf2Hasher::new();
    assert_eq!(default.iterations(), Pbkdf2Hasher::DEFAULT_ITERATIONS);
    assert!(!default.has_pepper());
    let tuned = Pbkdf2Hasher::new().with_iterations(200_000).unwrap();
    assert_eq!(
        (tuned.iterations(), tuned.parameters().as_str()),
        (200_000, "i=200000")
    );
    let peppered = tuned.with_pepper(&[1; 16]).unwrap();
    assert!(peppered.has_pepper());
    assert_eq!(peppered.parameters(), "i=200000,p=1");
    assert_eq!(cheap().iterations(), 1);
}

#[test]
fn a_pepper_must_be_the_same_to_check_a_code() {
    let pepper = [9u8; 32];
    let hasher = cheap().with_pepper(&pepper).unwrap();
    let (codes, set) = RecoveryCodeSet::generate_with(&hasher, USER, &mut os_rng(), 2).unwrap();
    let code = codes.iter().next().unwrap();
    assert_eq!(set.parameters(), "i=1,p=1");
    assert_eq!(set.clone().use_code(code, USER, &hasher), Ok(1));
    let other = cheap().with_pepper(&[8u8; 32]).unwrap();
    assert_eq!(set.clone().use_code(code, USER, &other), Err(INVALID));
    assert_eq!(
        set.clone().use_code(code, USER, &cheap()),
        Err(Error::Recovery(RecoveryError::HasherMismatch))
    );
    let shown = format!("{hasher:?}");
    assert!(!shown.contains('9'), "{shown}");
}

/// A scheme of the application's own, as when migrating from another library.
struct HmacScheme;

impl CodeHasher for HmacScheme {
    fn algorithm(&self) -> &str {
        "test-sha256"
    }
    fn parameters(&self) -> String {
        "k=1".into()
    }
    fn hash(&self, code: &[u8], salt: &[u8], parameters: &str) -> Result<Vec<u8>, Error> {
        if parameters != "k=1" {
            return Err(RecoveryError::InvalidParameters.into());
        }
        use sha2::Digest;
        Ok(sha2::Sha256::new()
            .chain_update(salt)
            .chain_update(code)
            .finalize()
            .to_vec())
    }
}

/// Breaks the contract in the way given.
/// Its name and parameters, and hashes of the given length: distinct for distinct codes
/// unless `constant`.
struct Broken(String, String, usize, bool);

impl Broken {
    fn named(algorithm: &str, parameters: &str) -> Broken {
        Broken(algorithm.into(), parameters.into(), 32, false)
    }
    fn sized(len: usize) -> Broken {
        Broken("ok".into(), String::new(), len, false)
    }
}

impl CodeHasher for Broken {
    fn algorithm(&self) -> &str {
        &self.0
    }
    fn parameters(&self) -> String {
        self.1.clone()
    }
    fn hash(&self, code: &[u8], _: &[u8], _: &str) -> Result<Vec<u8>, Error> {
        let fill = if self.3 { &[0][..] } else { code };
        Ok(fill.iter().copied().cycle().take(self.2).collect())
    }
}

#[test]
fn another_scheme_plugs_in_and_is_never_confused_with_pbkdf2() {
    let (codes, set) = RecoveryCodeSet::generate_with(&HmacScheme, USER, &mut os_rng(), 3).unwrap();
    let code = codes.iter().nth(1).unwrap();
    let mut stored = RecoveryCodeSet::decode(&set.encode()).unwrap();
    assert!(
        set.encode()
            .starts_with("$twofa-recovery$v=2$test-sha256$k=1$")
    );
    assert_eq!(stored.use_code(code, USER, &HmacScheme), Ok(2));
    assert_eq!(
        set.clone().use_code(code, USER, &cheap()),
        Err(Error::Recovery(RecoveryError::HasherMismatch))
    );
    let (_, pbkdf2_set) = generate(1);
    assert_eq!(
        pbkdf2_set.clone().use_code(code, USER, &HmacScheme),
        Err(Error::Recovery(RecoveryError::HasherMismatch))
    );
}

#[test]
fn a_hasher_that_breaks_the_contract_is_refused() {
    let invalid = Err(Error::Recovery(RecoveryError::InvalidHasher));
    let value = |len: usize| "v".repeat(len);
    let broken = [
        Broken::named("Upper", ""),
        Broken::named("", ""),
        Broken::named("has$dollar", ""),
        Broken::named("under_score", ""),
        Broken::named(&"a".repeat(33), ""),
        Broken::named("ok", "no-equals"),
        Broken::named("ok", "a=b$c"),
        Broken::named("ok", "a="),
        Broken::named("ok", "=b"),
        Broken::named("ok", "A=b"),
        Broken::named("ok", "a=b,,c=d"),
        Broken::named("ok", "a=b c"),
        Broken::named("ok", &format!("{}=b", "a".repeat(33))),
        Broken::named("ok", &format!("a={}", value(65))),
        // 257 bytes of pairs that are each fine.
        Broken::named(
            "ok",
            &format!("a={0},b={0},c={0},d={1}", value(62), value(60)),
        ),
        Broken::sized(15),
        Broken::sized(65),
        // The same hash for every code.
        Broken("ok".into(), String::new(), 32, true),
    ];
    for broken in broken {
        let made = RecoveryCodeSet::generate_with(&broken, USER, &mut os_rng(), 2).map(|_| ());
        assert_eq!(made, invalid, "{:?}", (&broken.0, &broken.1, broken.2));
    }
    // At the limits, each rule still accepts.
    let longest = format!("a={0},b={0},c={0},d={1}", value(62), value(59));
    assert_eq!(longest.len(), 256);
    for fine in [
        Broken::named(&"a-1".repeat(10), ""),
        Broken::named(&"z".repeat(32), &format!("a-9={}", "Az09/+.-".repeat(8))),
        Broken::named("ok", &format!("{}=1", "n".repeat(32))),
        Broken::named("ok", &longest),
        Broken::sized(16),
        Broken::sized(64),
    ] {
        let (codes, set) = RecoveryCodeSet::generate_with(&fine, USER, &mut os_rng(), 2).unwrap();
        let decoded = RecoveryCodeSet::decode(&set.encode()).unwrap();
        assert_eq!(decoded, set);
        let code = codes.iter().next().unwrap();
        assert_eq!(decoded.clone().use_code(code, USER, &fine), Ok(1));
    }
    // One code cannot collide with itself, so a constant hash is accepted for a set of one.
    let constant = Broken("ok".into(), String::new(), 16, true);
    assert!(RecoveryCodeSet::generate_with(&constant, USER, &mut os_rng(), 1).is_ok());
}

#[test]
fn counts_outside_the_bounds_are_refused() {
    for count in [0, RecoveryCodeSet::MAX_COUNT + 1] {
        assert_eq!(
            RecoveryCodeSet::generate_with(&cheap(), USER, &mut os_rng(), count).map(|_| ()),
            Err(Error::Recovery(RecoveryError::InvalidCount {
                requested: count,
                min: 1,
                max: 32,
            }))
        );
    }
    let (codes, set) = generate(1);
    assert_eq!((codes.len(), set.remaining()), (1, 1));
}

/// One code and its set, made once for the property tests below.
fn fixture() -> &'static (String, RecoveryCodeSet) {
    static FIXTURE: std::sync::OnceLock<(String, RecoveryCodeSet)> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(|| {
        let (codes, set) = generate(1);
        (codes.iter().next().unwrap().to_owned(), set)
    })
}

/// How a person might write one character of a code.
fn variant(c: char, choice: u8) -> String {
    let look_alike = match c {
        '0' => 'O',
        '1' => ['I', 'L'][usize::from(choice & 1)],
        'V' => 'U',
        other => other,
    };
    let c = if choice & 2 != 0 { look_alike } else { c };
    let c = if choice & 4 != 0 {
        c.to_ascii_lowercase()
    } else {
        c
    };
    match choice >> 3 {
        0 => c.to_string(),
        1 => format!("{c} "),
        2 => format!("-{c}"),
        _ => format!("{c}\u{2011}"),
    }
}

proptest! {
    #[test]
    fn decode_never_panics(text in any::<String>()) {
        let _ = RecoveryCodeSet::decode(&text);
    }

    #[test]
    fn decode_of_near_misses_never_panics_and_stays_canonical(
        position in any::<prop::sample::Index>(),
        byte in prop::sample::select(b"$,=AZaz09+/-.! \xff".to_vec()),
        cut in any::<bool>(),
    ) {
        let mut bytes = fixture().1.encode().into_bytes();
        let at = position.index(bytes.len());
        if cut { bytes.truncate(at) } else { bytes[at] = byte }
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(set) = RecoveryCodeSet::decode(&text) {
            prop_assert_eq!(set.encode(), text.into_owned());
        }
    }

    #[test]
    fn normalisation_reads_back_every_way_of_typing_a_code(
        choices in prop::collection::vec(0u8..32, 10),
        padding in "[ \t\n]{0,3}",
    ) {
        let (code, set) = fixture();
        let typed: String = code
            .chars()
            .filter(|&c| c != '-')
            .zip(&choices)
            .map(|(c, &choice)| variant(c, choice))
            .collect();
        let typed = format!("{padding}{typed}{padding}");
        prop_assert_eq!(set.clone().use_code(&typed, USER, &cheap()), Ok(0), "{:?}", typed);
    }
}
