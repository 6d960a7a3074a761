//! Where records live: the [`Store`] trait a host implements, a [`MemoryStore`], and the
//! [`TwoFactor`] service that runs every flow against a store safely under concurrency.
//!
//! # The store contract
//!
//! A store keeps one [`TwoFactorRecord`] per user, with a version number. It makes two
//! promises, and the security of the whole crate rests on them:
//!
//! 1. [`load`](Store::load) returns the record and the version it was stored under.
//! 2. [`save`](Store::save) writes only if the stored version still equals the one the caller
//!    loaded (or, when the caller loaded nothing, only if there is still no record), and
//!    reports [`SaveOutcome::Conflict`] otherwise — atomically, with nothing written.
//!
//! This compare-and-swap is what makes a code work exactly once: two sign-ins with the same
//! code both load version 7, both compute "accepted", but only one save of version 8 can win;
//! the other sees the conflict, and the service re-runs its flow on the fresh record, where
//! the code is now a replay. The same holds for recovery codes and the failure count.
//!
//! In SQL it is one statement each way:
//!
//! ```sql
//! -- CREATE TABLE two_factor (user_id TEXT PRIMARY KEY, record TEXT NOT NULL, version BIGINT NOT NULL);
//! -- load:
//! SELECT record, version FROM two_factor WHERE user_id = $1;
//! -- save with an expected version: a conflict when no row was updated
//! UPDATE two_factor SET record = $2, version = version + 1 WHERE user_id = $1 AND version = $3;
//! -- save with none expected: a conflict when the row already exists
//! INSERT INTO two_factor (user_id, record, version) VALUES ($1, $2, 1) ON CONFLICT DO NOTHING;
//! ```
//!
//! Store the record with [`TwoFactorRecord::encode`] (text) or
//! [`TwoFactorRecord::to_bytes`] (binary). Check an implementation with the conformance suite
//! in `twofa::store::conformance` (feature `testing`).

mod blocking;
mod memory;
mod service;

#[cfg(feature = "testing")]
pub mod conformance;

use core::future::Future;

pub use crate::account::Outcome;
pub use blocking::{BlockingJob, BlockingPool, ThreadPerJob};
pub use memory::MemoryStore;
pub use service::{Clock, ServiceError, SystemClock, TwoFactor};

use crate::account::TwoFactorRecord;

/// A record as loaded, with the version to pass back to [`Store::save`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// The record.
    pub record: TwoFactorRecord,
    /// The version it was stored under.
    pub version: u64,
}

/// What [`Store::save`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum SaveOutcome {
    /// The record was written.
    Saved,
    /// Someone else wrote first (or inserted first); nothing was written.
    Conflict,
}

/// Persistence for two-factor records, implemented by the host (see the module docs for the
/// contract and its SQL).
///
/// The methods return futures that are `Send`, so handlers in async web frameworks (axum,
/// actix-web) can await them; the store's own error type is carried through the service as
/// [`ServiceError::Store`].
pub trait Store: Send + Sync {
    /// The store's error (a database error, say).
    type Error: core::error::Error + Send + Sync + 'static;

    /// The user's record and its version, or `None` when the user has none.
    fn load(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Option<Versioned>, Self::Error>> + Send;

    /// Writes `record` if the stored version is still `expected_version` (`None`: only if
    /// there is no record yet); otherwise writes nothing and returns
    /// [`SaveOutcome::Conflict`].
    fn save(
        &self,
        user_id: &str,
        record: &TwoFactorRecord,
        expected_version: Option<u64>,
    ) -> impl Future<Output = Result<SaveOutcome, Self::Error>> + Send;
}
