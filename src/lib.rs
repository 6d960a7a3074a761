//! Authenticator-app two-factor authentication for Rust web applications.
//!
//! Getting started: see the README; the full flow documentation arrives with the service layer.
#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;

pub mod account;
mod error;
pub mod otp;
#[cfg(feature = "std")]
pub mod qr;
pub mod recovery;
pub mod seal;
#[cfg(all(feature = "std", feature = "os-rng"))]
pub mod store;
pub mod uri;

pub use error::Error;
pub use otp::{Algorithm, Code, Hotp, HotpBuilder, Secret, Totp, TotpBuilder, Verified};
pub use rand_core;
#[cfg(all(feature = "std", feature = "os-rng"))]
pub use store::{MemoryStore, Store, TwoFactor};

/// The operating system's random number generator, as the infallible [`rand_core::CryptoRng`]
/// that the flows of [`account`] take.
///
/// # Panics
///
/// When used, if the operating system cannot provide random bytes (a broken system).
#[cfg(feature = "os-rng")]
pub fn os_rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

// Re-exports of the uri and qr layers (issue 3).
#[cfg(feature = "std")]
pub use qr::QrCode;
pub use uri::OtpAuthUri;

// Re-exports of the recovery layer (issue 4).
pub use recovery::{CodeHasher, Pbkdf2Hasher, RecoveryCodeSet, RecoveryCodes, RecoveryError};

// Re-exports of the seal layer (issue 5).
#[cfg(feature = "aes-gcm")]
pub use seal::AesGcmSealer;
pub use seal::{DangerPlaintextSealer, SealedSecret, SecretSealer};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
