//! Authenticator-app two-factor authentication for Rust web applications.
//!
//! Getting started: see the README; the full flow documentation arrives with the service layer.
#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;

mod error;
pub mod otp;

pub use error::Error;
pub use otp::{Algorithm, Code, Hotp, HotpBuilder, Secret, Totp, TotpBuilder, Verified};
pub use rand_core;
