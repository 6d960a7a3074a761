//! The stored side of recovery codes: one salt and one hash per unused code.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroizing;

use super::alphabet::{self, CODE_BITS, CODE_CHARS, Canonical};
use super::encoding::{self, Version};
use super::hashes::Hashes;
use super::{CodeHasher, RecoveryCodes, RecoveryError};
use crate::Error;

/// The length of the salt a [`CodeHasher`] receives: the set's salt bound to the user id.
pub(super) const BOUND_SALT_LEN: usize = 32;

/// The hashes of a user's unused recovery codes: what the host stores.
///
/// A set holds one random 128-bit salt, the name and parameters of the hashing scheme, and
/// one hash per unused code; never a code. All the codes of a set share its salt, so checking
/// a guess costs one key derivation however many codes are left (NIST SP 800-63B asks for a
/// salt of at least 32 bits per look-up secret; a per-set salt still differs between users
/// and between generations). Regenerating makes a new salt, so nothing of an old set works
/// against a new one.
///
/// A set belongs to one user: the user id goes into every derivation (see
/// [`CodeHasher::hash`]), so a set copied into another user's record accepts none of its
/// codes there. With a pepper (see [`Pbkdf2Hasher`](super::Pbkdf2Hasher)), someone who can
/// write to the store but does not hold the pepper can neither make a set nor move one between
/// users.
///
/// [`encode`](RecoveryCodeSet::encode) gives a stable, versioned line of text for one database
/// column, and [`decode`](RecoveryCodeSet::decode) reads it back. `Debug` shows only how many
/// codes remain.
///
/// ```
/// # #[cfg(feature = "os-rng")] {
/// use twofa::Error;
/// use twofa::recovery::{Pbkdf2Hasher, RecoveryCodeSet, RecoveryError};
///
/// let hasher = Pbkdf2Hasher::new();
/// let (codes, set) = RecoveryCodeSet::generate(&hasher, "user-42")?;
/// let stored: String = set.encode(); // keep this; show `codes` to the user once
///
/// // Later, at sign-in:
/// let mut set = RecoveryCodeSet::decode(&stored)?;
/// let typed = codes.iter().next().unwrap().to_lowercase(); // how a user might type it
/// // Only for the user it was made for.
/// assert_eq!(
///     set.use_code(&typed, "user-43", &hasher),
///     Err(Error::Recovery(RecoveryError::InvalidCode))
/// );
/// assert_eq!(set.use_code(&typed, "user-42", &hasher)?, 9);
/// // A code works once.
/// assert_eq!(
///     set.use_code(&typed, "user-42", &hasher),
///     Err(Error::Recovery(RecoveryError::InvalidCode))
/// );
/// let stored = set.encode(); // save the set without the used code
/// # }
/// # Ok::<(), twofa::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCodeSet {
    pub(super) version: Version,
    pub(super) algorithm: String,
    pub(super) parameters: String,
    pub(super) salt: Vec<u8>,
    pub(super) hashes: Hashes,
}

impl RecoveryCodeSet {
    /// The number of codes [`RecoveryCodeSet::generate`] makes.
    pub const DEFAULT_COUNT: usize = 10;
    /// The fewest codes a set may be generated with.
    pub const MIN_COUNT: usize = 1;
    /// The most codes a set may hold. Each code is one more chance for a guess to hit, so
    /// sets stay small.
    pub const MAX_COUNT: usize = 32;
    /// The length of a generated salt, in bytes (128 bits).
    pub const SALT_LEN: usize = 16;
    /// Bits of entropy per code: ten characters of a 32-symbol alphabet.
    pub const CODE_BITS: u32 = CODE_BITS;
    /// The longest input, in bytes, that [`use_code`](RecoveryCodeSet::use_code) reads; longer
    /// input is refused before any hashing.
    pub const MAX_INPUT_LEN: usize = alphabet::MAX_INPUT_LEN;

    /// Makes [`DEFAULT_COUNT`](RecoveryCodeSet::DEFAULT_COUNT) (10) new codes for the user
    /// `user_id` with the operating system's random number generator, and the set of their
    /// hashes.
    ///
    /// Show the codes to the user once and store the set; see [`RecoveryCodeSet`]. `user_id`
    /// is the stable id of the user whose record holds the set, the same that is given to
    /// [`use_code`](RecoveryCodeSet::use_code).
    ///
    /// # Errors
    ///
    /// As [`generate_with`](RecoveryCodeSet::generate_with).
    ///
    /// # Panics
    ///
    /// If the operating system cannot provide random bytes, which on supported platforms
    /// happens only when the system is broken.
    #[cfg(feature = "os-rng")]
    pub fn generate(
        hasher: &dyn CodeHasher,
        user_id: &str,
    ) -> Result<(RecoveryCodes, RecoveryCodeSet), Error> {
        Self::generate_with(
            hasher,
            user_id,
            &mut crate::random::os_rng(),
            Self::DEFAULT_COUNT,
        )
    }

    /// Refuses a number of codes outside [`MIN_COUNT`](Self::MIN_COUNT) to
    /// [`MAX_COUNT`](Self::MAX_COUNT): the one rule for sets and settings.
    pub(crate) fn check_count(count: usize) -> Result<(), Error> {
        if (Self::MIN_COUNT..=Self::MAX_COUNT).contains(&count) {
            return Ok(());
        }
        Err(RecoveryError::InvalidCount {
            requested: count,
            min: Self::MIN_COUNT,
            max: Self::MAX_COUNT,
        }
        .into())
    }

    /// Makes `count` new codes for the user `user_id` with the given cryptographically secure
    /// generator, and the set of their hashes.
    ///
    /// Each code is 50 random bits; no two codes of a set are the same. Hashing costs one key
    /// derivation per code.
    ///
    /// ```
    /// # #[cfg(feature = "os-rng")] {
    /// use twofa::recovery::{Pbkdf2Hasher, RecoveryCodeSet};
    ///
    /// let hasher = Pbkdf2Hasher::new();
    /// let (codes, set) =
    ///     RecoveryCodeSet::generate_with(&hasher, "user-42", &mut twofa::os_rng(), 16)?;
    /// assert_eq!((codes.len(), set.remaining()), (16, 16));
    /// # }
    /// # Ok::<(), twofa::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// - [`RecoveryError::InvalidCount`] for a `count` outside
    ///   [`MIN_COUNT`](RecoveryCodeSet::MIN_COUNT) to [`MAX_COUNT`](RecoveryCodeSet::MAX_COUNT);
    /// - [`RecoveryError::InvalidHasher`] if the hasher breaks the contract of [`CodeHasher`];
    /// - [`RecoveryError::BrokenRandomness`] if the generator keeps repeating codes;
    /// - any error of the hasher.
    pub fn generate_with<R: CryptoRng + ?Sized>(
        hasher: &dyn CodeHasher,
        user_id: &str,
        rng: &mut R,
        count: usize,
    ) -> Result<(RecoveryCodes, RecoveryCodeSet), Error> {
        let draft = Self::draft(hasher, user_id, rng, count)?;
        let hashes = (0..draft.len()).map(|index| draft.derive(index, hasher));
        draft.finish(hashes)
    }

    /// The first half of [`generate_with`](RecoveryCodeSet::generate_with): checks the count
    /// and the hasher, and draws the salt and the codes, without any derivation; the
    /// service then derives the hashes in parallel, away from the executor.
    pub(crate) fn draft<R: CryptoRng + ?Sized>(
        hasher: &dyn CodeHasher,
        user_id: &str,
        rng: &mut R,
        count: usize,
    ) -> Result<Draft, Error> {
        Self::check_count(count)?;
        let algorithm = String::from(hasher.algorithm());
        let parameters = hasher.parameters();
        if !encoding::is_algorithm(&algorithm) || !encoding::is_parameter_list(&parameters) {
            return Err(RecoveryError::InvalidHasher.into());
        }

        let mut salt = alloc::vec![0u8; Self::SALT_LEN];
        rng.fill_bytes(&mut salt);
        let codes = unique_codes(rng, count)?;
        let bound_salt = bound_salt(&salt, user_id);
        Ok(Draft {
            algorithm,
            parameters,
            salt,
            bound_salt,
            codes,
        })
    }

    /// Checks a code the user `user_id` typed and, if it is one of the unused codes of their
    /// set, uses it up.
    ///
    /// `user_id` must be the one the set was generated for: checked for another user, the
    /// set accepts no code.
    ///
    /// The input is read leniently: case, spaces and dashes anywhere, and the look-alike
    /// letters `O` (for `0`), `I` and `L` (for `1`) and `U` (for `V`) do not matter. Input over
    /// [`MAX_INPUT_LEN`](RecoveryCodeSet::MAX_INPUT_LEN) bytes, or not made of exactly ten
    /// symbols, is refused before any hashing. Otherwise the code is hashed once and compared,
    /// in constant time, with every remaining hash: the comparison takes the same time
    /// whichever code matched, or whether one did.
    ///
    /// On success the code's hash is removed and the number of codes left is returned. Store
    /// the changed set before telling the user they are signed in (with compare-and-swap, so
    /// that two concurrent uses of one code cannot both succeed).
    ///
    /// # Errors
    ///
    /// - [`RecoveryError::InvalidCode`] for a wrong, used, or malformed code, or a set made
    ///   for another user, all alike;
    /// - [`RecoveryError::UnboundSet`] for a set stored by an earlier release (encoding
    ///   version 1), before any hashing: generate a new set;
    /// - [`RecoveryError::HasherMismatch`] if the set was made with another scheme than
    ///   `hasher` (a different name is found before the input is read; a different pepper
    ///   setting of [`Pbkdf2Hasher`](super::Pbkdf2Hasher) when a well-formed code is hashed);
    /// - any error of the hasher, such as [`RecoveryError::InvalidParameters`].
    pub fn use_code(
        &mut self,
        typed: &str,
        user_id: &str,
        hasher: &dyn CodeHasher,
    ) -> Result<usize, Error> {
        // Malformed input is refused here, before the attempt (which owns copies of the
        // set's scheme) is even built: it costs neither a derivation nor an allocation.
        self.check_before_hashing(typed, hasher)?;
        let attempt = self.derive_attempt(typed, user_id, hasher);
        self.use_attempt(&attempt)
    }

    /// Every check that needs no hashing, in the order `use_code` reports them; the typed
    /// code in canonical form when all pass.
    pub(crate) fn check_before_hashing(
        &self,
        typed: &str,
        hasher: &dyn CodeHasher,
    ) -> Result<Canonical, Error> {
        if self.version != Version::BoundToUser {
            return Err(RecoveryError::UnboundSet.into());
        }
        if hasher.algorithm() != self.algorithm {
            return Err(RecoveryError::HasherMismatch.into());
        }
        let Some(code) = alphabet::normalise(typed) else {
            return Err(RecoveryError::InvalidCode.into());
        };
        if self.hashes.count() == 0 {
            return Err(RecoveryError::InvalidCode.into());
        }
        Ok(code)
    }

    /// The first half of [`use_code`](RecoveryCodeSet::use_code): the checks before any
    /// hashing, and the one derivation of the typed code with this set's salt and parameters.
    /// The service runs it away from the executor, once per request.
    pub(crate) fn derive_attempt(
        &self,
        typed: &str,
        user_id: &str,
        hasher: &dyn CodeHasher,
    ) -> Attempt {
        let candidate = (|| {
            let code = self.check_before_hashing(typed, hasher)?;
            let salt = bound_salt(&self.salt, user_id);
            Ok(Zeroizing::new(hasher.hash(
                &*code,
                &salt,
                &self.parameters,
            )?))
        })();
        Attempt {
            version: self.version,
            algorithm: self.algorithm.clone(),
            parameters: self.parameters.clone(),
            bound_salt: bound_salt(&self.salt, user_id),
            candidate,
        }
    }

    /// Whether `attempt` was derived for this set (its salt, scheme and parameters) and
    /// `user_id`, so that [`use_attempt`](RecoveryCodeSet::use_attempt) may compare it
    /// without deriving again. A set regenerated in the meantime has a new salt: not a fit.
    #[cfg_attr(not(all(feature = "std", feature = "os-rng")), allow(dead_code))] // the service's
    pub(crate) fn fits(&self, attempt: &Attempt, user_id: &str) -> bool {
        attempt.version == self.version
            && attempt.algorithm == self.algorithm
            && attempt.parameters == self.parameters
            && attempt.bound_salt == bound_salt(&self.salt, user_id)
    }

    /// The second half of [`use_code`](RecoveryCodeSet::use_code), without any derivation,
    /// for an attempt that [`fits`](RecoveryCodeSet::fits) the set.
    pub(crate) fn use_attempt(&mut self, attempt: &Attempt) -> Result<usize, Error> {
        let candidate = attempt.candidate.as_ref().map_err(Clone::clone)?;
        let mut found = Choice::from(0);
        let mut position = 0u32;
        for (stored, index) in self.hashes.iter().zip(0u32..) {
            let matched = stored.ct_eq(candidate.as_slice());
            position.conditional_assign(&index, matched);
            found |= matched;
        }
        if !bool::from(found) {
            return Err(RecoveryError::InvalidCode.into());
        }
        self.hashes.remove(position as usize);
        Ok(self.hashes.count())
    }

    /// How many unused codes the set holds.
    pub fn remaining(&self) -> usize {
        self.hashes.count()
    }

    /// The name of the scheme the set was hashed with, such as `pbkdf2-sha256`.
    pub fn algorithm(&self) -> &str {
        &self.algorithm
    }

    /// The parameters the set was hashed with, such as `i=30000`.
    ///
    /// Compare them with those of the current hasher to offer users of old sets new codes.
    pub fn parameters(&self) -> &str {
        &self.parameters
    }
}

/// A set's salt and codes, drawn but not yet hashed: the hashes are derived one by one
/// (perhaps on several threads) with [`Draft::derive`], and [`Draft::finish`] makes the set.
pub(crate) struct Draft {
    algorithm: String,
    parameters: String,
    salt: Vec<u8>,
    bound_salt: [u8; BOUND_SALT_LEN],
    codes: Zeroizing<Vec<[u8; CODE_CHARS]>>,
}

impl Draft {
    /// How many codes, and so derivations.
    pub(crate) fn len(&self) -> usize {
        self.codes.len()
    }

    /// The one derivation of code `index`. An index out of range (a bug) is an error, not a
    /// panic.
    pub(crate) fn derive(&self, index: usize, hasher: &dyn CodeHasher) -> Result<Vec<u8>, Error> {
        let code = self.codes.get(index).ok_or(RecoveryError::InvalidHasher)?;
        hasher.hash(code, &self.bound_salt, &self.parameters)
    }

    /// The codes and the set, from the hashes of every code in order; the first error of a
    /// derivation, or [`RecoveryError::InvalidHasher`] when the hashes break the hasher's
    /// contract (or are fewer than the codes).
    pub(crate) fn finish(
        &self,
        hashes: impl IntoIterator<Item = Result<Vec<u8>, Error>>,
    ) -> Result<(RecoveryCodes, RecoveryCodeSet), Error> {
        let hashes: Vec<Vec<u8>> = hashes.into_iter().collect::<Result<_, _>>()?;
        let kept = Hashes::from_list(&hashes)
            .filter(|kept| kept.count() == self.codes.len())
            .ok_or(RecoveryError::InvalidHasher)?;
        let set = RecoveryCodeSet {
            version: Version::BoundToUser,
            algorithm: self.algorithm.clone(),
            parameters: self.parameters.clone(),
            salt: self.salt.clone(),
            hashes: kept,
        };
        Ok((RecoveryCodes::from_canonical(&self.codes), set))
    }
}

/// One typed code derived for one set: what [`RecoveryCodeSet::use_attempt`] compares, and
/// what the set's salt, scheme and parameters were (see [`RecoveryCodeSet::fits`]). The
/// candidate hash is zeroized on drop.
#[cfg_attr(not(all(feature = "std", feature = "os-rng")), allow(dead_code))] // the service's
pub(crate) struct Attempt {
    version: Version,
    algorithm: String,
    parameters: String,
    bound_salt: [u8; BOUND_SALT_LEN],
    candidate: Result<Zeroizing<Vec<u8>>, Error>,
}

impl fmt::Debug for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attempt").finish_non_exhaustive()
    }
}

impl fmt::Debug for RecoveryCodeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveryCodeSet")
            .field("remaining", &self.hashes.count())
            .finish_non_exhaustive()
    }
}

/// The salt a [`CodeHasher`] receives: SHA-256 over a label, the length of the user id (as
/// eight big-endian bytes), the user id and the set's salt. The label keeps the value apart
/// from any other use of SHA-256, and the length prefix keeps user id and salt from shifting
/// into each other.
fn bound_salt(salt: &[u8], user_id: &str) -> [u8; BOUND_SALT_LEN] {
    // A `usize` always fits in a `u64` on the targets Rust supports.
    let user_id_len = u64::try_from(user_id.len()).unwrap_or(u64::MAX);
    Sha256::new()
        .chain_update(b"twofa-recovery v=2 user salt\0")
        .chain_update(user_id_len.to_be_bytes())
        .chain_update(user_id.as_bytes())
        .chain_update(salt)
        .finalize()
        .into()
}

/// `count` distinct codes in canonical form.
fn unique_codes<R: CryptoRng + ?Sized>(
    rng: &mut R,
    count: usize,
) -> Result<Zeroizing<Vec<[u8; CODE_CHARS]>>, Error> {
    // A working generator repeats a 50-bit value among 40 draws with a probability under
    // 2^-39, so needing more than 8 spare draws means the generator is broken.
    const SPARE_DRAWS: usize = 8;
    let mut values: Zeroizing<Vec<u64>> = Zeroizing::new(Vec::with_capacity(count));
    let mut spare = SPARE_DRAWS;
    while values.len() < count {
        let value = rng.next_u64() & ((1u64 << CODE_BITS) - 1);
        if values.contains(&value) {
            spare = spare
                .checked_sub(1)
                .ok_or(RecoveryError::BrokenRandomness)?;
            continue;
        }
        values.push(value);
    }
    Ok(Zeroizing::new(
        values
            .iter()
            .map(|&value| *alphabet::canonical(value))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recovery::Pbkdf2Hasher;

    /// Replays fixed bytes, to give the generator an input we know.
    struct Replay(u64);

    impl rand_core::TryRng for Replay {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(self.try_next_u64()? as u32)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            self.0 = self.0.wrapping_add(1);
            Ok(self.0)
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            dst.fill(0xa5);
            Ok(())
        }
    }

    impl rand_core::TryCryptoRng for Replay {}

    /// Always the same value.
    struct Stuck;

    impl rand_core::TryRng for Stuck {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(7)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Ok(7)
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            dst.fill(7);
            Ok(())
        }
    }

    impl rand_core::TryCryptoRng for Stuck {}

    const USER: &str = "user-42";

    fn cheap() -> Pbkdf2Hasher {
        Pbkdf2Hasher::new()
            .with_iterations(Pbkdf2Hasher::MIN_ITERATIONS)
            .unwrap()
    }

    #[test]
    fn codes_come_from_the_generator() {
        let (codes, set) =
            RecoveryCodeSet::generate_with(&cheap(), USER, &mut Replay(0), 3).unwrap();
        assert_eq!(
            codes.iter().collect::<Vec<_>>(),
            ["00000-00001", "00000-00002", "00000-00003"]
        );
        assert_eq!(set.salt, [0xa5; 16]);
        assert_eq!(set.algorithm(), "pbkdf2-sha256");
        assert_eq!(set.parameters(), "i=1000");
        // The high bits of each draw are dropped: 2^50 + 1 makes the same code as 1.
        let (codes, _) =
            RecoveryCodeSet::generate_with(&cheap(), USER, &mut Replay(1 << 50), 1).unwrap();
        assert_eq!(codes.iter().next(), Some("00000-00001"));
    }

    #[test]
    fn the_user_id_is_bound_into_the_salt_the_hasher_gets() {
        // Computed independently with Python:
        //   s = hashlib.sha256(b"twofa-recovery v=2 user salt\0" + (7).to_bytes(8, "big")
        //                      + b"user-42" + bytes([0xa5] * 16)).digest()
        //   hashlib.pbkdf2_hmac("sha256", b"0000000003", s, 1000)
        let salt = bound_salt(&[0xa5; 16], USER);
        assert_eq!(
            data_encoding::HEXLOWER.encode(&salt),
            "1f3bf01459e12205cc3aba4a49c1acfdf75d0e24a7b0ef0cb8e5739b5c0f786c"
        );
        let (_, set) = RecoveryCodeSet::generate_with(&cheap(), USER, &mut Replay(0), 3).unwrap();
        assert_eq!(
            data_encoding::HEXLOWER.encode(set.hashes.iter().nth(2).unwrap()),
            "ef7656748a16b527ddfba4a5dcde4dd5c434f25688885a03b11eda63d239bd67"
        );
        // Unambiguous: moving bytes between user id and salt changes the result.
        assert_ne!(bound_salt(b"2", "user-4"), bound_salt(b"", "user-42"));
        assert_ne!(bound_salt(&[0xa5; 16], ""), bound_salt(&[0xa5; 16], "\0"));
    }

    #[test]
    fn a_set_refuses_its_own_codes_for_another_user() {
        let (_, mut set) =
            RecoveryCodeSet::generate_with(&cheap(), USER, &mut Replay(0), 3).unwrap();
        for user in ["user-43", "user-4", "USER-42", "user-42 ", ""] {
            assert_eq!(
                set.use_code("00000-00002", user, &cheap()),
                Err(RecoveryError::InvalidCode.into()),
                "{user:?}"
            );
        }
        assert_eq!(set.remaining(), 3);
        assert_eq!(set.use_code("00000-00002", USER, &cheap()), Ok(2));
    }

    #[test]
    fn a_stuck_generator_is_an_error_not_a_loop() {
        assert_eq!(
            RecoveryCodeSet::generate_with(&cheap(), USER, &mut Stuck, 2).unwrap_err(),
            Error::Recovery(RecoveryError::BrokenRandomness)
        );
        // One code needs no second draw.
        assert!(RecoveryCodeSet::generate_with(&cheap(), USER, &mut Stuck, 1).is_ok());
    }

    #[test]
    fn count_is_bounded() {
        for count in [0, 33, usize::MAX] {
            assert_eq!(
                RecoveryCodeSet::generate_with(&cheap(), USER, &mut Replay(0), count).unwrap_err(),
                Error::Recovery(RecoveryError::InvalidCount {
                    requested: count,
                    min: 1,
                    max: 32
                })
            );
        }
    }

    #[test]
    fn the_matching_hash_is_the_one_removed() {
        let (codes, mut set) =
            RecoveryCodeSet::generate_with(&cheap(), USER, &mut Replay(0), 4).unwrap();
        let list = |set: &RecoveryCodeSet| -> Vec<Vec<u8>> {
            set.hashes.iter().map(<[u8]>::to_vec).collect()
        };
        let before = list(&set);
        assert_eq!(set.use_code("00000-00003", USER, &cheap()), Ok(3));
        assert_eq!(
            list(&set),
            [before[0].clone(), before[1].clone(), before[3].clone()]
        );
        assert_eq!(
            set.use_code("00000-00003", USER, &cheap()),
            Err(RecoveryError::InvalidCode.into())
        );
        assert_eq!(set.use_code("00000-00001", USER, &cheap()), Ok(2));
        assert_eq!(list(&set), [before[1].clone(), before[3].clone()]);
        drop(codes);
    }

    #[test]
    fn debug_shows_only_the_count() {
        let (_, set) = RecoveryCodeSet::generate_with(&cheap(), USER, &mut Replay(0), 2).unwrap();
        assert_eq!(
            alloc::format!("{set:?}"),
            "RecoveryCodeSet { remaining: 2, .. }"
        );
    }
}
