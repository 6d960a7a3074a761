//! Authenticator-app two-factor authentication for Rust web applications.
//!
//! `twofa` gives your users what the best products offer: an "Enable 2FA" page with a QR code
//! and a key to type, codes from any authenticator app at sign-in, recovery codes for a lost
//! phone, "trust this device for 30 days", and re-confirmed regeneration and disabling. Every
//! security decision (secrets, time windows, replay, throttling, hashing, sealing) is made
//! here; every storage decision is yours, through the [`Store`] trait.
//!
//! # Getting started
//!
//! ```
//! use std::sync::Arc;
//! use twofa::account::{DeviceKey, PasswordConfirmed, Reauthentication, Settings};
//! use twofa::seal::AesGcmSealer;
//! use twofa::{Error, MemoryStore, Pbkdf2Hasher, TwoFactor};
//!
//! async fn tour() -> Result<(), Box<dyn std::error::Error>> {
//!     // Once, at start-up: your store (here in memory), your settings, keys kept outside the
//!     // database (for sealing secrets and for trusted-device tokens), and the recovery-code
//!     // hasher.
//!     let key = AesGcmSealer::generate_key()?;
//!     let tf = TwoFactor::new(
//!         MemoryStore::new(),
//!         Settings::new("Plausible Analytics")?.device_key(DeviceKey::generate()),
//!         Arc::new(AesGcmSealer::new("2026-11", &*key)?),
//!         Arc::new(Pbkdf2Hasher::new()),
//!     );
//!     // Your own password check; 2FA settings change only after the password is typed again.
//!     let check = |_user: &str, password: &str| password == "correct horse";
//!     let now = tf.now()?;
//!
//!     // Enable: show the QR code (SVG) and the key; the user scans it.
//!     let proof = PasswordConfirmed::check(&check, "user-42", "correct horse", now)?;
//!     let enrollment = tf
//!         .start_enrollment("user-42", Some(&proof), "alice@example.com")
//!         .await?
//!         .result?;
//!     let svg = enrollment.qr_code()?.to_svg();
//!     let key_to_type = enrollment.manual_key();
//!
//!     // In this example we play the user's phone; in your app, `typed` comes from a form.
//!     let phone = enrollment.uri().to_totp()?;
//!     let typed = phone.generate(now).to_string();
//!
//!     // The user types the code the app shows; on success show the recovery codes, once.
//!     let recovery_codes = tf.confirm_enrollment("user-42", &typed).await?.result?;
//!
//!     // Sign in, after the password, with the app's next code.
//!     let typed = phone.generate(now + 30).to_string();
//!     let signed_in = tf.verify_code("user-42", &typed).await?;
//!     assert!(signed_in.result.is_ok());
//!
//!     // The same code again is refused, and reported so you can log it.
//!     let again = tf.verify_code("user-42", &typed).await?;
//!     assert_eq!(again.result.err(), Some(Error::ReplayedCode));
//!
//!     // Disable, after the password is confirmed again.
//!     let proof = PasswordConfirmed::check(&check, "user-42", "correct horse", now)?;
//!     tf.disable("user-42", Reauthentication::Password(proof)).await?.result?;
//! #     let _ = (svg, key_to_type, recovery_codes);
//!     Ok(())
//! }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(tour()).unwrap();
//! ```
//!
//! `cargo run --example quickstart` runs the whole flow and prints each step.
//!
//! # The flows, step by step
//!
//! | the user… | you call | and then |
//! |---|---|---|
//! | opens "Enable 2FA" | [`PasswordConfirmed::check`](account::PasswordConfirmed::check), then [`TwoFactor::start_enrollment`] | show [`Enrollment::qr_code`](account::Enrollment::qr_code) and [`manual_key`](account::Enrollment::manual_key); 2FA is *pending* |
//! | types the first code | [`TwoFactor::confirm_enrollment`] | show the [`RecoveryCodes`] once; 2FA is *enabled* |
//! | signs in (after the password) | [`TwoFactor::verify_code`] | on an error where [`Error::is_wrong_code`] show one "invalid code" message; on [`Error::Throttled`] say when to retry; on success show [`SignedIn::failed_attempts`](account::SignedIn::failed_attempts) when not 0 |
//! | lost the phone | [`TwoFactor::use_recovery_code`] | tell them how many codes remain ([`account::Event::RecoveryCodeUsed`]) |
//! | ticks "trust this device" | [`TwoFactor::trust_device`] with the [`SignedIn`](account::SignedIn) value | put the token in a `Secure`, `HttpOnly` cookie; next time [`TwoFactor::sign_in_with_device`] |
//! | asks for new recovery codes | [`TwoFactor::regenerate_recovery_codes`] with a recent [`SignedIn`](account::SignedIn) ([`Reauthentication::SecondFactor`](account::Reauthentication::SecondFactor)) or [`PasswordConfirmed::check`](account::PasswordConfirmed::check) | show the new codes once; the old ones are dead |
//! | turns 2FA off | [`PasswordConfirmed::check`](account::PasswordConfirmed::check), then [`TwoFactor::disable`] | secret, codes and devices are gone |
//! | changes the password | [`TwoFactor::revoke_all_devices`] | older sign-ins can no longer trust a device |
//!
//! Every flow returns an [`Outcome`](account::Outcome): the result, and [`account::Event`]s to
//! turn into e-mails or audit-log lines ("2FA was turned off", "a recovery code was used",
//! "a code was replayed", "locked out"). Hosts that load and save records themselves run the
//! same flows on a [`TwoFactorRecord`](account::TwoFactorRecord), and reach the same
//! `Outcome` only through [`Transition::save_with`](account::Transition::save_with), which
//! saves the changed record first; [`account`] says how to keep replay protection.
//!
//! # Async without stalls
//!
//! Checking or making recovery codes costs a key derivation each (PBKDF2, about 4 ms with
//! the default 30,000 iterations). The [`TwoFactor`] service never runs one in a poll of its
//! futures: it hands them to a [`BlockingPool`](store::BlockingPool) — by default a
//! [`ThreadPool`](store::ThreadPool) of one thread per core, on tokio `spawn_blocking` in five
//! lines — and awaits the result, so the executor thread keeps serving other requests. A
//! request derives once, also when a compare-and-swap conflict makes it run again, and the ten
//! derivations of a new set run side by side on every core; a flood of attempts queues
//! instead of starting a thread each, and the queue is bounded (128 jobs by default): beyond
//! it a flow fails at once with [`ServiceError::Busy`](store::ServiceError::Busy), writing
//! nothing, for the host to answer "try again in a moment". One user's recovery-code attempts
//! take turns within a service, each checking the throttle on the record the one before it
//! saved, so attempts beyond the throttle's allowance are refused without a derivation. The
//! core depends on no runtime; the record API derives in place and needs no executor at all.
//!
//! # Threat model
//!
//! What `twofa` defends against, and how:
//!
//! - **Guessing codes.** A guess hits one of the three codes a ±1 window accepts with
//!   probability 3 in a million. Failures are counted in the stored record, so restarts and
//!   multiple servers do not reset them: after 5 free attempts each failure doubles the wait
//!   (1 s up to 15 minutes), and 30 consecutive failures lock codes for 24 hours, or until you
//!   unlock them ([`account::ThrottlePolicy`], after RFC 4226 §7.3 and NIST SP 800-63B).
//!   While throttled, nothing is evaluated. Recovery codes (50 random bits each) have a
//!   budget of their own, locked after 50 failures.
//! - **Someone who has only the password**, and wants in or wants the owner out. They can:
//!   lock codes (30 guesses, about four hours of paced guessing) and then recovery codes (50
//!   more, about nine hours more), and renew each lockout with one guess a day once it ends.
//!   They cannot: get in (30 guesses at codes succeed with a chance of about 1 in 11,000,
//!   50 at recovery codes about 1 in 2 × 10^12); turn 2FA off or mint recovery codes, since
//!   the password alone is refused during a lockout; keep the owner out of a trusted device;
//!   keep the owner out of recovery codes while only codes are locked — a recovery code ends
//!   that lockout, and a code ends one of recovery codes; push past 100 consecutive failures
//!   per authenticator (NIST's limit): at 100 a lockout no longer ends by itself, only by a
//!   success with the other authenticator or [`TwoFactor::unlock`]; or stay unseen: each
//!   lockout is an event to e-mail at once, and every failure is reported at the owner's next
//!   sign-in on any path, trusted devices included ([`account::Event::FailedAttempts`]). A
//!   password change ends all of it, so say so in the e-mail.
//! - **Replay.** A code, once accepted, cannot be used again: the accepted time step is
//!   stored, and codes at or before it are refused as [`Error::ReplayedCode`]. Concurrent
//!   requests cannot both win, because the store saves with compare-and-swap (see
//!   [`store`]); the same holds for recovery codes.
//! - **Timing.** Codes, recovery-code hashes and device tokens are compared in constant time,
//!   and every step of the window is computed, with no early exit.
//! - **A stolen database.** The TOTP secret is sealed with AES-256-GCM under your key, bound
//!   to the user id ([`seal`]); recovery codes are stored only as salted PBKDF2 hashes
//!   ([`recovery`]); device tokens only as HMAC-SHA-256 hashes under your
//!   [`DeviceKey`](account::DeviceKey), bound to the user id. Without the keys, a database
//!   dump yields no secret and no usable token.
//! - **Someone who can write the 2FA column** (an SQL injection, a rogue admin tool) but not
//!   read your keys cannot plant a secret they know (it would not open), a device token of
//!   their choosing (its hash needs the device key), or one user's sealed secret, device or
//!   recovery-code set in another user's record (each is bound to the user id). Without a
//!   recovery-code pepper ([`Pbkdf2Hasher::with_pepper`]) they can still *compute* a fresh set
//!   of recovery codes for a user, since the key derivation needs no secret; with a pepper
//!   they cannot. What such a writer *can* still do,
//!   and no checksum or MAC in the record could stop: delete the row, or write a disabled
//!   record, which turns 2FA off for that user; and restore an older row of the same user,
//!   which brings back the failure count, lockout, last accepted step, recovery codes and
//!   devices of that time (so a recovery code used since works again, and a lockout is
//!   lifted). Treat write access to that column like write access to password hashes, and
//!   keep an audit trail of changes to it. The record's checksum only catches corruption.
//! - **A stolen session.** Enabling, regenerating recovery codes and disabling need the
//!   password typed again ([`PasswordConfirmed`](account::PasswordConfirmed), valid 5
//!   minutes by default, at most an hour), and regenerating and disabling accept instead a
//!   current code or a sign-in with a code or a recovery code within that window
//!   ([`Reauthentication::SecondFactor`](account::Reauthentication::SecondFactor): the
//!   step-up a web layer asks for before sensitive actions). A sign-in on a trusted device
//!   proves no factor and counts for neither. [`TwoFactor::revoke_all_devices`] and
//!   turning 2FA off also stop sign-ins made before them from trusting a new device or
//!   re-authenticating, through a later enrolment too.
//! - **Leaks through logs.** No secret, code, hash or token appears in `Debug`, `Display` of
//!   errors, or events, nor in the spans and events of the `tracing` feature (which leave out
//!   the user id too, unless you opt in); secrets are zeroized when dropped.
//!
//! What remains yours: passwords and sessions (2FA runs after the password check, and the
//! session must only be upgraded on success); HTTPS; cookie flags; keeping the sealing key
//! out of the database; rate limits per user and per address in front of the password step
//! and of these flows (each recovery-code check costs a few milliseconds of key derivation:
//! the stored throttle and the per-user turns bound what one user's attempts cost, but
//! attempts spread over many users, or one user's on several servers at once, each pay it,
//! up to the blocking pool's bound); and telling users by e-mail about the events above.
//! A [`PasswordConfirmed`](account::PasswordConfirmed) or [`SignedIn`](account::SignedIn)
//! proof can be used again within its short lifetime; keep it in the request that made it.
//! User ids are 1 to 255 bytes of UTF-8 without control characters
//! ([`account::check_user_id`]); your store must keep every such id apart, byte for byte.
//!
//! # Feature flags
//!
//! | feature | default | adds |
//! |---|---|---|
//! | `std` | yes | the system clock helpers, [`QrCode`], the [`store`] layer |
//! | `os-rng` | yes | [`Secret::generate`], [`os_rng`] and the service (OS randomness through `getrandom`) |
//! | `aes-gcm` | yes | [`seal::AesGcmSealer`] |
//! | `png` | no | [`QrCode::to_png`](qr::QrCode) |
//! | `danger-plaintext-sealer` | no | `seal::DangerPlaintextSealer`, which does not encrypt: for tests only, never in a release build |
//! | `testing` | no | `store::conformance`, a test suite for your [`Store`]; enables `danger-plaintext-sealer` |
//! | `tracing` | no | a [`tracing`](https://docs.rs/tracing) span per [`TwoFactor`] flow, and events for failures, lockouts, replays and device changes; no secret, code, token or hash in any field, and the user id only after `TwoFactor::with_user_ids_in_spans` |
//!
//! Without default features, the [`otp`], [`uri`], [`recovery`], [`seal`] and [`account`]
//! layers build for `no_std` targets with `alloc`.
#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;

pub mod account;
mod error;
pub mod otp;
#[cfg(feature = "std")]
pub mod qr;
mod random;
pub mod recovery;
pub mod seal;
#[cfg(all(feature = "std", feature = "os-rng"))]
pub mod store;
pub mod uri;

pub use error::Error;
pub use otp::{Algorithm, Code, Hotp, HotpBuilder, Secret, Totp, TotpBuilder, Verified};
#[cfg(feature = "std")]
pub use qr::QrCode;
pub use rand_core;
#[cfg(feature = "os-rng")]
pub use random::os_rng;
pub use recovery::{CodeHasher, Pbkdf2Hasher, RecoveryCodeSet, RecoveryCodes, RecoveryError};
#[cfg(feature = "aes-gcm")]
pub use seal::AesGcmSealer;
pub use seal::{SealedSecret, SecretSealer};
#[cfg(all(feature = "std", feature = "os-rng"))]
pub use store::{MemoryStore, Store, TwoFactor};
pub use uri::OtpAuthUri;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
