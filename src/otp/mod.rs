//! One-time passwords: the shared [`Secret`], [`Hotp`] (RFC 4226) and [`Totp`] (RFC 6238).
//!
//! This layer does no I/O: time and counters are arguments.

mod algorithm;
mod code;
mod hotp;
mod mac;
mod secret;
mod totp;

pub use algorithm::Algorithm;
pub(crate) use code::check_digits;
pub use code::{Code, MAX_DIGITS, MIN_DIGITS};
pub use hotp::{Hotp, HotpBuilder};
pub use secret::Secret;
pub use totp::{Totp, TotpBuilder, Verified};
pub(crate) use totp::{check_period, check_window};

#[cfg(all(feature = "std", feature = "os-rng"))]
pub(crate) use totp::unix_now;
