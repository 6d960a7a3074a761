//! Randomness from the operating system: the ground floor, below every layer that makes
//! secrets, codes or tokens, and depending on none of them.

/// The operating system's random number generator, as the infallible [`rand_core::CryptoRng`]
/// that the flows of [`account`](crate::account) take.
///
/// # Panics
///
/// When used, if the operating system cannot provide random bytes (a broken system).
#[cfg(feature = "os-rng")]
pub fn os_rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}
