//! Recovery codes: the one-time codes a user keeps somewhere safe and types when the phone
//! with the authenticator app is lost.
//!
//! [`RecoveryCodeSet::generate`] makes ten codes such as `7KQ2M-XH0DP` for one user, and the
//! set of their hashes. Show the [`RecoveryCodes`] once and store the [`RecoveryCodeSet`], as
//! one line of text from [`RecoveryCodeSet::encode`]. At sign-in, [`RecoveryCodeSet::use_code`]
//! checks what the user typed and removes the code it matched; store the set again.
//!
//! # What protects the codes
//!
//! - Each code is 50 random bits from a cryptographically secure generator: ten characters
//!   of the alphabet `0123456789ABCDEFGHJKMNPQRSTVWXYZ` (Crockford's base32, without the
//!   look-alikes `I`, `L`, `O` and `U`). With the throttling of the account layer, an online
//!   attacker gets a few dozen guesses, each with a chance of about 10 in 2<sup>50</sup>.
//! - The server keeps no code, only hashes made by a salted key derivation function, as NIST
//!   SP 800-63B requires for look-up secrets of under 112 bits. The default,
//!   [`Pbkdf2Hasher`], costs about 4 ms per check here, and makes a stolen database worth
//!   years of GPU time per set; an optional pepper (a key outside the database) makes it
//!   worth nothing. Another scheme plugs in through [`CodeHasher`].
//! - The user id goes into every derivation, so a set works only in the record of the user it
//!   was made for: copied into another user's record, it accepts none of its codes. Without a
//!   pepper, someone who can write to the store could still compute a set of their own for
//!   any user; with one, they can neither make a set nor move one between users.
//! - One salt per set: checking a guess costs one derivation however many codes remain, so
//!   the server's cost does not grow with the set. The guess is compared with every hash in
//!   constant time, without stopping at a match.
//! - What the user typed is read leniently (case, spaces, dashes, look-alike letters) but
//!   refused beyond [`RecoveryCodeSet::MAX_INPUT_LEN`] bytes before any hashing; a malformed
//!   code and a wrong one give the same error, [`RecoveryError::InvalidCode`].
//! - Plaintext codes are zeroized on drop and never shown by `Debug`; no error carries a
//!   code, a hash or a key.
//!
//! ```
//! # #[cfg(feature = "os-rng")] {
//! use twofa::recovery::{Pbkdf2Hasher, RecoveryCodeSet};
//!
//! let hasher = Pbkdf2Hasher::new();
//! let (codes, mut set) = RecoveryCodeSet::generate(&hasher, "user-42")?;
//! println!("Keep these codes somewhere safe:\n{codes}");
//!
//! let typed = codes.iter().nth(3).unwrap().replace('-', " ");
//! assert_eq!(set.use_code(&typed, "user-42", &hasher)?, 9);
//! assert!(set.use_code(&typed, "user-42", &hasher).is_err());
//! # }
//! # Ok::<(), twofa::Error>(())
//! ```

mod alphabet;
mod binary;
mod codes;
mod encoding;
mod error;
mod hasher;
mod hashes;
mod set;

pub use codes::RecoveryCodes;
pub use error::{EncodingPart, RecoveryError};
pub use hasher::{CodeHasher, Pbkdf2Hasher};
pub(crate) use set::Attempt;
pub use set::RecoveryCodeSet;
