//! Where the crate keeps what must outlive a request and be shared by every app server: the
//! sessions (a tower-sessions [`SessionStore`], indexed by user) and the password-attempt
//! counts. One type per database holds both: [`MemoryStorage`] for tests and single-process
//! tools, `SqliteStorage` and `PostgresStorage` (features `sqlite`, `postgres`) for real apps.
//!
//! Two rules make sign-out stick, and every backend keeps them:
//!
//! - **A save never creates.** [`SessionStore::save`] updates a session that exists and does
//!   nothing when it is gone; only [`SessionStore::create`] inserts. A request that was in
//!   flight when its session was deleted (sign-out, "log out of all other devices", a 2FA
//!   change on another server) cannot write it back.
//! - **The stored key is a hash of the session id.** The id is the cookie's secret; a copy of
//!   the database does not hold it, and the sessions page names a session by
//!   [`session_handle`], which is that hash.

mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod rows;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::fmt;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{ExpiredDeletion, SessionStore};

pub use memory::MemoryStorage;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStorage;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStorage;

use crate::limits::{Attempt, AttemptPolicy};

/// Everything the crate stores: sessions (with their per-user index) and password-attempt
/// counts. Implemented by [`MemoryStorage`], `SqliteStorage` and `PostgresStorage`.
pub trait Storage:
    SessionStore + ExpiredDeletion + UserSessions + PasswordAttempts + Clone
{
}

impl<T: SessionStore + ExpiredDeletion + UserSessions + PasswordAttempts + Clone> Storage for T {}

/// A storage backend failed (the database is unreachable, a query failed, a stored row is
/// unreadable). The text is for the log; pages show a generic message.
#[derive(Debug)]
pub struct StorageError(Box<dyn std::error::Error + Send + Sync>);

impl StorageError {
    /// Wraps the backend's error.
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StorageError(error.into())
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session storage: {}", self.0)
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

impl From<StorageError> for tower_sessions::session_store::Error {
    fn from(e: StorageError) -> Self {
        tower_sessions::session_store::Error::Backend(e.to_string())
    }
}

/// One stored session of a user, as the sessions page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Names the session in forms ("sign out this one"): [`session_handle`] of its id, never
    /// the id itself.
    pub handle: String,
    /// The browser and system, from the `User-Agent` at sign-in ("Firefox on Linux").
    pub label: Option<String>,
    /// When the user fully signed in (Unix seconds); `None` while the second factor is due.
    pub signed_in_at: Option<u64>,
    /// The last request seen (Unix seconds, updated at most once a minute).
    pub last_seen: u64,
}

/// The per-user side of the session store: list a user's sessions and end them.
#[async_trait]
pub trait UserSessions: Send + Sync + fmt::Debug + 'static {
    /// The user's sessions that have not expired, newest sign-in first.
    ///
    /// # Errors
    ///
    /// [`StorageError`] when the backend fails.
    async fn sessions_of(&self, user_id: &str) -> Result<Vec<SessionInfo>, StorageError>;

    /// Deletes the user's session named by `handle`. `false` when the user has no such
    /// session (another user's handle ends nothing).
    ///
    /// # Errors
    ///
    /// [`StorageError`] when the backend fails.
    async fn end_session(&self, user_id: &str, handle: &str) -> Result<bool, StorageError>;

    /// Deletes every session of the user except `keep` (the current one, when there is one);
    /// returns how many it deleted.
    ///
    /// # Errors
    ///
    /// [`StorageError`] when the backend fails.
    async fn end_other_sessions(
        &self,
        user_id: &str,
        keep: Option<&Id>,
    ) -> Result<u64, StorageError>;
}

/// Password-attempt counts, per key (an account or a client address), shared by every app
/// server that uses the same storage.
#[async_trait]
pub trait PasswordAttempts: Send + Sync + fmt::Debug + 'static {
    /// Charges one attempt against `key` at `now`, unless the key is blocked.
    ///
    /// Atomic per key: of concurrent callers each sees the count the others left, so a burst
    /// of attempts gets the same answers as the same attempts one after another.
    ///
    /// # Errors
    ///
    /// [`StorageError`] when the backend fails.
    async fn begin_attempt(
        &self,
        key: &str,
        policy: &AttemptPolicy,
        now: u64,
    ) -> Result<Attempt, StorageError>;

    /// The password was right, and this key is shared by many people (a client address):
    /// takes back the one attempt this sign-in charged, leaving any wait in place. A
    /// successful sign-in so costs the address nothing, and cannot wipe out the count of
    /// someone else's guesses from the same address either.
    ///
    /// # Errors
    ///
    /// [`StorageError`] when the backend fails.
    async fn refund_attempt(&self, key: &str) -> Result<(), StorageError>;

    /// The password was right: forgets the key's attempts.
    ///
    /// # Errors
    ///
    /// [`StorageError`] when the backend fails.
    async fn clear_attempts(&self, key: &str) -> Result<(), StorageError>;

    /// Deletes the counts whose last attempt was before `before`; returns how many.
    ///
    /// # Errors
    ///
    /// [`StorageError`] when the backend fails.
    async fn purge_attempts(&self, before: u64) -> Result<u64, StorageError>;
}

/// The handle of a session: SHA-256 of its id, hex. The stores key sessions by it, and forms
/// name a session by it, so the id (the cookie's secret) is never stored or shown.
pub fn session_handle(id: &Id) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(id.0.to_le_bytes()))
}

/// What a store indexes of a session: whose it is, and what the sessions page shows. Read
/// from the crate's state in the record (the `"twofa"` key); `None` for a session that belongs
/// to nobody yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionIndex {
    pub user_id: String,
    pub label: Option<String>,
    pub signed_in_at: Option<u64>,
    pub last_seen: u64,
}

impl SessionIndex {
    pub(crate) fn of(record: &Record) -> Option<SessionIndex> {
        let state = record.data.get(crate::state::SESSION_KEY)?;
        let state = <crate::state::AuthState as serde::Deserialize>::deserialize(state).ok()?;
        Some(SessionIndex {
            user_id: state.user_id,
            label: state.label,
            signed_in_at: state.signed_in_at,
            last_seen: state.last_seen,
        })
    }
}

/// A Unix time (seconds) of tower-sessions' expiry type.
pub(crate) fn unix_time(at: tower_sessions::cookie::time::OffsetDateTime) -> i64 {
    at.unix_timestamp()
}
