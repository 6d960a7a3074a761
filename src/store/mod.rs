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
//! -- load: record and version from one read
//! SELECT record, version FROM two_factor WHERE user_id = $1;
//! -- save with an expected version: a conflict when no row was updated
//! UPDATE two_factor SET record = $2, version = version + 1 WHERE user_id = $1 AND version = $3;
//! -- save with none expected: a conflict when the row already exists
//! INSERT INTO two_factor (user_id, record, version) VALUES ($1, $2, 1) ON CONFLICT DO NOTHING;
//! ```
//!
//! Store the record with [`TwoFactorRecord::encode`] (text) or
//! [`TwoFactorRecord::to_bytes`] (binary), opaquely: never edit it in SQL. Check an
//! implementation with the conformance suite in `twofa::store::conformance` (feature
//! `testing`), which also checks that user ids the database could confuse stay apart.
//!
//! For SQLite and PostgreSQL, the `twofa-sqlx` crate has ready stores; the SQL below is for
//! other databases.
//!
//! # Pitfalls
//!
//! Each of these has been seen in a hand-written store, and each quietly weakens 2FA:
//!
//! - **A record that does not decode is an error, never "no record".** A `load` that maps a
//!   decoding failure to `Ok(None)` fails open: the user looks as if 2FA were off, and the
//!   next save inserts a blank record over it. Return the error; the service then refuses the
//!   flow.
//! - **Record and version come from one read** (one `SELECT`, or one snapshot). A version read
//!   apart from its record lets a save built on an old record win the compare-and-swap, and a
//!   used code works again.
//! - **Versions never restart.** Never delete a row and insert it again with version 1, nor
//!   restore one from a backup under a lower version than a process may hold: a request that
//!   loaded version 1 before the delete would then win the compare-and-swap against the new
//!   row and write the deleted record back. To turn 2FA off, use the flows
//!   ([`TwoFactor::disable`]), which save a disabled record under the next version. To erase
//!   a user's 2FA data, use [`Store::delete`] (through [`TwoFactor::delete_record`]), whose
//!   contract closes this hole: see [Deletion](#deletion).
//! - **User ids compare byte for byte.** Two ids that differ in case, accents, Unicode
//!   normalisation or a trailing space are two users; a column that is too short or a
//!   collation that folds any of these hands one user's 2FA to another. The core accepts ids
//!   of up to 255 bytes of UTF-8.
//! - **The compare-and-swap is one statement.** Do not emulate it as "`SELECT` the version,
//!   compare in the application, then `UPDATE`" without a row lock: two requests both see the
//!   old version and both write.
//!
//! # Deletion
//!
//! [`Store::delete`] removes a user's record (account deletion, GDPR erasure). A request that
//! loaded the record before the deletion may still be running; the rule that keeps it from
//! writing the deleted record back is:
//!
//! - after a deletion, a save **expecting a version** conflicts, whatever the version, until
//!   a new record is inserted; and a record inserted afterwards starts at a version **greater
//!   than every version the deleted record had**, so no version a request loaded before the
//!   deletion ever matches again;
//! - a save expecting **no record** (an insert) succeeds after a deletion. That is safe,
//!   because it comes from a flow that loaded no record and so computed its record from
//!   nothing: a fresh flow, not a copy of the deleted data. Delete the user's account first
//!   (or in the same transaction), so that no new flow starts for them.
//!
//! A store keeps this with a high-water mark: each deletion raises it to the deleted
//! record's version, and an insert starts one above it. The mark names nobody, so erasure
//! leaves no trace of the user. In SQL (as `twofa-sqlx` does, with the mark in a row whose
//! `user_id` is the empty string, an id the crate never accepts):
//!
//! ```sql
//! -- with the table: the mark, so that it exists before the first deletion (an insert
//! -- racing a deletion finds it and waits)
//! INSERT INTO two_factor (user_id, record, version) VALUES ('', '', 0) ON CONFLICT DO NOTHING;
//! -- delete (PostgreSQL), in one transaction: lock the mark first (creating it if missing),
//! -- then delete the record and raise the mark to its version
//! INSERT INTO two_factor AS t (user_id, record, version) VALUES ('', '', 0)
//!     ON CONFLICT (user_id) DO UPDATE SET version = t.version;
//! WITH gone AS (DELETE FROM two_factor WHERE user_id = $1 RETURNING version)
//!     UPDATE two_factor AS t SET version = GREATEST(t.version, gone.version)
//!     FROM gone WHERE t.user_id = '';
//! -- insert: one above the mark (FOR SHARE waits for a deletion in progress)
//! INSERT INTO two_factor (user_id, record, version) VALUES ($1, $2,
//!     COALESCE((SELECT version FROM two_factor WHERE user_id = '' FOR SHARE), 0) + 1)
//!     ON CONFLICT (user_id) DO NOTHING;
//! ```
//!
//! # SQL for other databases
//!
//! **PostgreSQL** (what `twofa-sqlx` creates):
//!
//! ```sql
//! CREATE TABLE two_factor (
//!     user_id TEXT COLLATE "C" PRIMARY KEY,   -- byte order, whatever the database default
//!     record  TEXT NOT NULL,
//!     version BIGINT NOT NULL
//! );
//! ```
//!
//! Under the default `READ COMMITTED` isolation the `UPDATE … WHERE version = $3` of a
//! losing writer waits for the winner, re-checks the condition on the new row and updates
//! nothing: a clean conflict. Under `REPEATABLE READ` or `SERIALIZABLE` it fails with
//! SQLSTATE `40001` (serialization failure) instead: treat that code as
//! [`SaveOutcome::Conflict`]. A nondeterministic (ICU, case-insensitive) collation on
//! `user_id` mixes users up. PostgreSQL `TEXT` cannot hold NUL; the core refuses control
//! characters in user ids.
//!
//! **SQLite** (what `twofa-sqlx` creates):
//!
//! ```sql
//! CREATE TABLE two_factor (
//!     user_id TEXT COLLATE BINARY PRIMARY KEY NOT NULL,
//!     record  TEXT NOT NULL,
//!     version INTEGER NOT NULL
//! ) STRICT;
//! ```
//!
//! `BINARY` is SQLite's default; never declare `COLLATE NOCASE`. Use WAL mode and a busy
//! timeout, so that a writer waits for another instead of failing with "database is locked"
//! (`SQLITE_BUSY`); a busy error on the `UPDATE`/`INSERT` means nothing was written, so it may
//! be reported as a conflict.
//!
//! **MySQL / MariaDB**:
//!
//! ```sql
//! CREATE TABLE two_factor (
//!     user_id VARBINARY(255) PRIMARY KEY,   -- or VARCHAR(255) COLLATE utf8mb4_0900_bin
//!     record  MEDIUMTEXT CHARACTER SET ascii NOT NULL,
//!     version BIGINT UNSIGNED NOT NULL
//! );
//! -- insert if absent; 0 rows affected is a conflict (INSERT IGNORE would hide other errors)
//! INSERT INTO two_factor (user_id, record, version) VALUES (?, ?, 1)
//!     ON DUPLICATE KEY UPDATE user_id = user_id;
//! ```
//!
//! The default collations (`utf8mb4_0900_ai_ci`, `utf8mb4_general_ci`) are case- and
//! accent-insensitive: `Alice` and `alice` would share one record. Even `utf8mb4_bin` is a
//! `PAD SPACE` collation that ignores trailing spaces; use `VARBINARY(255)`,
//! `utf8mb4_0900_bin` (MySQL 8) or `utf8mb4_nopad_bin` (MariaDB). Keep `STRICT_TRANS_TABLES`
//! on: without it MySQL truncates a too-long value silently. `TEXT` holds only 64 KB;
//! `MEDIUMTEXT` leaves room. Under the default `REPEATABLE READ`, a single-statement
//! `UPDATE … WHERE version = ?` reads the latest committed row (it is a locking read), so it
//! is a correct compare-and-swap; do not split it into a plain `SELECT` and an `UPDATE`.
//!
//! **SQL Server**: `user_id NVARCHAR(255) COLLATE Latin1_General_100_BIN2_UTF8` (the default
//! collations are case-insensitive), `record VARCHAR(MAX)`; insert if absent with
//! `INSERT … SELECT … WHERE NOT EXISTS (…) ` under `WITH (UPDLOCK, HOLDLOCK)`, or catch the
//! primary-key violation (error 2627) as a conflict.
//!
//! # Sharing one store
//!
//! `Store` is implemented for `&S` and `Arc<S>` of any store, so one store (and its
//! connection pool) can serve several [`TwoFactor`] services or other parts of the host.

mod blocking;
mod gate;
mod memory;
mod service;
mod thread_pool;
#[cfg(feature = "tracing")]
mod trace;

#[cfg(feature = "testing")]
pub mod conformance;

use core::future::Future;
use std::sync::Arc;

pub use crate::account::Outcome;
pub use blocking::{BlockingJob, BlockingPool, PoolBusy};
pub use memory::MemoryStore;
pub use service::{Clock, ServiceError, SystemClock, TwoFactor};
pub use thread_pool::ThreadPool;

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

    /// Deletes the user's record, if there is one: `true` when there was.
    ///
    /// Afterwards [`load`](Store::load) returns `None`; a save expecting any version conflicts
    /// until a record is inserted again; and a record inserted later starts at a version
    /// greater than every version the deleted one had, so that a request which loaded the
    /// record before the deletion can never write it back (see [Deletion](self#deletion)).
    fn delete(&self, user_id: &str) -> impl Future<Output = Result<bool, Self::Error>> + Send;
}

impl<S: Store + ?Sized> Store for &S {
    type Error = S::Error;

    fn load(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Option<Versioned>, Self::Error>> + Send {
        (**self).load(user_id)
    }

    fn save(
        &self,
        user_id: &str,
        record: &TwoFactorRecord,
        expected_version: Option<u64>,
    ) -> impl Future<Output = Result<SaveOutcome, Self::Error>> + Send {
        (**self).save(user_id, record, expected_version)
    }

    fn delete(&self, user_id: &str) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        (**self).delete(user_id)
    }
}

impl<S: Store + ?Sized> Store for Arc<S> {
    type Error = S::Error;

    fn load(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Option<Versioned>, Self::Error>> + Send {
        (**self).load(user_id)
    }

    fn save(
        &self,
        user_id: &str,
        record: &TwoFactorRecord,
        expected_version: Option<u64>,
    ) -> impl Future<Output = Result<SaveOutcome, Self::Error>> + Send {
        (**self).save(user_id, record, expected_version)
    }

    fn delete(&self, user_id: &str) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        (**self).delete(user_id)
    }
}
