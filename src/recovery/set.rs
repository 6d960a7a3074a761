//! The stored side of recovery codes: one salt and one hash per unused code.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroizing;

use super::alphabet::{self, CODE_BITS, CODE_CHARS};
use super::encoding::{self, MAX_HASH_LEN, MIN_HASH_LEN};
use super::{CodeHasher, RecoveryCodes, RecoveryError};
use crate::Error;

/// The hashes of a user's unused recovery codes: what the host stores.
///
/// A set holds one random 128-bit salt, the name and parameters of the hashing scheme, and
/// one hash per unused code; never a code. All the codes of a set share its salt, so checking
/// a guess costs one key derivation however many codes are left (NIST SP 800-63B asks for a
/// salt of at least 32 bits per look-up secret; a per-set salt still differs between users
/// and between generations). Regenerating makes a new salt, so nothing of an old set works
/// against a new one.
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
/// let (codes, set) = RecoveryCodeSet::generate(&hasher)?;
/// let stored: String = set.encode(); // keep this; show `codes` to the user once
///
/// // Later, at sign-in:
/// let mut set = RecoveryCodeSet::decode(&stored)?;
/// let typed = codes.iter().next().unwrap().to_lowercase(); // how a user might type it
/// assert_eq!(set.use_code(&typed, &hasher)?, 9);
/// // A code works once.
/// assert_eq!(
///     set.use_code(&typed, &hasher),
///     Err(Error::Recovery(RecoveryError::InvalidCode))
/// );
/// let stored = set.encode(); // save the set without the used code
/// # }
/// # Ok::<(), twofa::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCodeSet {
    pub(super) algorithm: String,
    pub(super) parameters: String,
    pub(super) salt: Vec<u8>,
    pub(super) hashes: Vec<Vec<u8>>,
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

    /// Makes [`DEFAULT_COUNT`](RecoveryCodeSet::DEFAULT_COUNT) (10) new codes with the
    /// operating system's random number generator, and the set of their hashes.
    ///
    /// Show the codes to the user once and store the set; see [`RecoveryCodeSet`].
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
    pub fn generate(hasher: &dyn CodeHasher) -> Result<(RecoveryCodes, RecoveryCodeSet), Error> {
        Self::generate_with(
            hasher,
            &mut rand_core::UnwrapErr(getrandom::SysRng),
            Self::DEFAULT_COUNT,
        )
    }

    /// Makes `count` new codes with the given cryptographically secure generator, and the set
    /// of their hashes.
    ///
    /// Each code is 50 random bits; no two codes of a set are the same. Hashing costs one key
    /// derivation per code.
    ///
    /// ```
    /// # #[cfg(feature = "os-rng")] {
    /// use twofa::rand_core::UnwrapErr;
    /// use twofa::recovery::{Pbkdf2Hasher, RecoveryCodeSet};
    ///
    /// let hasher = Pbkdf2Hasher::new();
    /// let (codes, set) =
    ///     RecoveryCodeSet::generate_with(&hasher, &mut UnwrapErr(getrandom::SysRng), 16)?;
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
        rng: &mut R,
        count: usize,
    ) -> Result<(RecoveryCodes, RecoveryCodeSet), Error> {
        if !(Self::MIN_COUNT..=Self::MAX_COUNT).contains(&count) {
            return Err(RecoveryError::InvalidCount {
                requested: count,
                min: Self::MIN_COUNT,
                max: Self::MAX_COUNT,
            }
            .into());
        }
        let algorithm = String::from(hasher.algorithm());
        let parameters = hasher.parameters();
        if !encoding::is_algorithm(&algorithm) || !encoding::is_parameter_list(&parameters) {
            return Err(RecoveryError::InvalidHasher.into());
        }

        let mut salt = alloc::vec![0u8; Self::SALT_LEN];
        rng.fill_bytes(&mut salt);
        let codes = unique_codes(rng, count)?;

        let mut hashes: Vec<Vec<u8>> = Vec::with_capacity(count);
        for code in codes.iter() {
            let hash = hasher.hash(code, &salt, &parameters)?;
            let consistent = hashes.first().is_none_or(|first| first.len() == hash.len());
            if !consistent
                || !(MIN_HASH_LEN..=MAX_HASH_LEN).contains(&hash.len())
                || hashes.contains(&hash)
            {
                return Err(RecoveryError::InvalidHasher.into());
            }
            hashes.push(hash);
        }
        let set = RecoveryCodeSet {
            algorithm,
            parameters,
            salt,
            hashes,
        };
        Ok((RecoveryCodes::from_canonical(&codes), set))
    }

    /// Checks a code the user typed and, if it is one of the unused codes, uses it up.
    ///
    /// The input is read leniently: case, spaces and dashes anywhere, and the look-alike
    /// letters `O` (for `0`), `I` and `L` (for `1`) and `U` (for `V`) do not matter. Input over
    /// [`MAX_INPUT_LEN`](RecoveryCodeSet::MAX_INPUT_LEN) bytes, or not made of exactly ten
    /// symbols, is refused before any hashing. Otherwise the code is hashed once and compared,
    /// in constant time, with every remaining hash: the time taken does not depend on which
    /// code matched, or whether one did.
    ///
    /// On success the code's hash is removed and the number of codes left is returned. Store
    /// the changed set before telling the user they are signed in (with compare-and-swap, so
    /// that two concurrent uses of one code cannot both succeed).
    ///
    /// # Errors
    ///
    /// - [`RecoveryError::InvalidCode`] for a wrong, used, or malformed code, all alike;
    /// - [`RecoveryError::HasherMismatch`] if the set was made with another scheme than
    ///   `hasher` (a different name is found before the input is read; a different pepper
    ///   setting of [`Pbkdf2Hasher`](super::Pbkdf2Hasher) when a well-formed code is hashed);
    /// - any error of the hasher, such as [`RecoveryError::InvalidParameters`].
    pub fn use_code(&mut self, typed: &str, hasher: &dyn CodeHasher) -> Result<usize, Error> {
        if hasher.algorithm() != self.algorithm {
            return Err(RecoveryError::HasherMismatch.into());
        }
        let Some(code) = alphabet::normalise(typed) else {
            return Err(RecoveryError::InvalidCode.into());
        };
        if self.hashes.is_empty() {
            return Err(RecoveryError::InvalidCode.into());
        }
        let candidate = Zeroizing::new(hasher.hash(&*code, &self.salt, &self.parameters)?);
        let mut found = Choice::from(0);
        let mut position = 0u32;
        for (i, stored) in self.hashes.iter().enumerate() {
            // At most MAX_COUNT hashes after decode or generate, so the index fits.
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            let matched = stored.as_slice().ct_eq(candidate.as_slice());
            position.conditional_assign(&index, matched);
            found |= matched;
        }
        if bool::from(found) {
            let position = usize::try_from(position).unwrap_or(usize::MAX);
            if position < self.hashes.len() {
                self.hashes.remove(position);
                return Ok(self.hashes.len());
            }
        }
        Err(RecoveryError::InvalidCode.into())
    }

    /// How many unused codes the set holds.
    pub fn remaining(&self) -> usize {
        self.hashes.len()
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

impl fmt::Debug for RecoveryCodeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveryCodeSet")
            .field("remaining", &self.hashes.len())
            .finish_non_exhaustive()
    }
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

    fn cheap() -> Pbkdf2Hasher {
        Pbkdf2Hasher::new()
            .with_iterations(Pbkdf2Hasher::MIN_ITERATIONS)
            .unwrap()
    }

    #[test]
    fn codes_come_from_the_generator() {
        let (codes, set) = RecoveryCodeSet::generate_with(&cheap(), &mut Replay(0), 3).unwrap();
        assert_eq!(
            codes.iter().collect::<Vec<_>>(),
            ["00000-00001", "00000-00002", "00000-00003"]
        );
        assert_eq!(set.salt, [0xa5; 16]);
        assert_eq!(set.algorithm(), "pbkdf2-sha256");
        assert_eq!(set.parameters(), "i=1000");
        // The high bits of each draw are dropped: 2^50 + 1 makes the same code as 1.
        let (codes, _) = RecoveryCodeSet::generate_with(&cheap(), &mut Replay(1 << 50), 1).unwrap();
        assert_eq!(codes.iter().next(), Some("00000-00001"));
    }

    #[test]
    fn a_stuck_generator_is_an_error_not_a_loop() {
        assert_eq!(
            RecoveryCodeSet::generate_with(&cheap(), &mut Stuck, 2).unwrap_err(),
            Error::Recovery(RecoveryError::BrokenRandomness)
        );
        // One code needs no second draw.
        assert!(RecoveryCodeSet::generate_with(&cheap(), &mut Stuck, 1).is_ok());
    }

    #[test]
    fn count_is_bounded() {
        for count in [0, 33, usize::MAX] {
            assert_eq!(
                RecoveryCodeSet::generate_with(&cheap(), &mut Replay(0), count).unwrap_err(),
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
        let (codes, mut set) = RecoveryCodeSet::generate_with(&cheap(), &mut Replay(0), 4).unwrap();
        let before = set.hashes.clone();
        assert_eq!(set.use_code("00000-00003", &cheap()), Ok(3));
        assert_eq!(
            set.hashes,
            [before[0].clone(), before[1].clone(), before[3].clone()]
        );
        assert_eq!(
            set.use_code("00000-00003", &cheap()),
            Err(RecoveryError::InvalidCode.into())
        );
        assert_eq!(set.use_code("00000-00001", &cheap()), Ok(2));
        assert_eq!(set.hashes, [before[1].clone(), before[3].clone()]);
        drop(codes);
    }

    #[test]
    fn debug_shows_only_the_count() {
        let (_, set) = RecoveryCodeSet::generate_with(&cheap(), &mut Replay(0), 2).unwrap();
        assert_eq!(
            alloc::format!("{set:?}"),
            "RecoveryCodeSet { remaining: 2, .. }"
        );
    }
}
