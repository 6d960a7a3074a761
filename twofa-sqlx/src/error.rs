//! The stores' error.

use std::fmt;

use crate::{Outage, TableProblem};

/// Why a store call failed.
///
/// A conflict (another writer was first) is not an error: it is
/// [`SaveOutcome::Conflict`](twofa::store::SaveOutcome::Conflict), and the service retries on
/// fresh state.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The database refused or failed a statement. Match on the wrapped [`sqlx::Error`] for
    /// details; nothing was half-written.
    Database(sqlx::Error),
    /// The database could not be reached, or did not answer within the store's deadline:
    /// `outage` says why (refused, timed out, authentication…), so that the log and the
    /// alert name the cause.
    ///
    /// The request failed; show the user "try again in a minute", never "2FA is off". A save
    /// that timed out may have been written or not (as with any connection lost mid-write);
    /// either way the record is one some flow saved, whole.
    Unavailable {
        /// Why.
        outage: Outage,
        /// The driver's error, when there is one (none when the store's own deadline ran
        /// out).
        error: Option<sqlx::Error>,
    },
    /// A stored record does not decode. The store refuses to treat it as "no record", which
    /// would show 2FA as off (fail open); the user's flows fail until the row is repaired.
    Record {
        /// Whose record.
        user_id: String,
        /// Why it does not decode.
        error: twofa::Error,
    },
    /// A stored version is negative, which no save of this crate writes.
    Version {
        /// Whose record.
        user_id: String,
        /// The stored value.
        version: i64,
    },
    /// A table name that is not a plain SQL identifier (see
    /// [`TableName`](crate::TableName)).
    InvalidTableName,
    /// A user id that [`twofa::account::check_user_id`] refuses (empty, over 255 bytes, or
    /// with a control character such as NUL), the same ids the service refuses with
    /// [`ServiceError::InvalidUserId`](twofa::store::ServiceError::InvalidUserId). The
    /// database was not asked: no row the service would later trip on is ever written.
    InvalidUserId,
    /// A PostgreSQL connection to a host that is not this machine would not use TLS, and the
    /// builder refused it before connecting: someone on the network path could answer the
    /// 2FA lookup with "no record", which reads as 2FA off. Add `sslmode=verify-full` to the
    /// URL (with a `tls-rustls-*` feature), or, on a network you trust completely, call
    /// [`danger_allow_plaintext_to_remote_host`](crate::PostgresStoreBuilder::danger_allow_plaintext_to_remote_host).
    PlaintextToRemoteHost {
        /// The host.
        host: String,
    },
    /// A [`ResealCursor`](crate::ResealCursor) from another run: another database or table,
    /// or another target key. Resuming from it would skip users; start the run afresh (delete
    /// the cursor) or resume it where it belongs.
    ForeignCursor {
        /// Where the cursor's run walked.
        cursor_location: String,
        /// The key the cursor's run rotated to.
        cursor_key_id: String,
        /// Where this run walks.
        location: String,
        /// The key this run rotates to.
        key_id: String,
    },
    /// Text that is not a [`ResealCursor`](crate::ResealCursor).
    MalformedCursor,
    /// The table fails the check a store's builder (or its `migrate()` or `verify()`) makes
    /// before the store is used. Nothing was changed.
    Table {
        /// The table's name.
        table: String,
        /// What is wrong.
        problem: TableProblem,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Database(e) => write!(f, "database: {e}"),
            Self::Unavailable { outage, error } => {
                write!(f, "database unavailable: {outage}")?;
                match error {
                    Some(e) => write!(f, " ({e})"),
                    None => Ok(()),
                }
            }
            Self::Record { user_id, error } => {
                write!(
                    f,
                    "the stored record of user {user_id:?} does not decode: {error}"
                )
            }
            Self::Version { user_id, version } => {
                write!(
                    f,
                    "the stored version of user {user_id:?} is negative ({version})"
                )
            }
            Self::InvalidTableName => f.write_str(
                "a table name must be 1 to 63 ASCII letters, digits or underscores, \
                 not starting with a digit",
            ),
            Self::InvalidUserId => f.write_str(
                "the user id must be 1 to 255 bytes of UTF-8 without control characters",
            ),
            Self::PlaintextToRemoteHost { host } => write!(
                f,
                "refusing to connect to {host:?} without TLS: add sslmode=verify-full to the \
                 URL (and enable a tls-rustls-* feature of twofa-sqlx)"
            ),
            Self::ForeignCursor {
                cursor_location,
                cursor_key_id,
                location,
                key_id,
            } => write!(
                f,
                "the rotation cursor belongs to another run ({cursor_location}, towards key \
                 {cursor_key_id:?}), not to this one ({location}, towards key {key_id:?}); \
                 resuming from it would skip users"
            ),
            Self::MalformedCursor => f.write_str("not a twofa-sqlx rotation cursor"),
            Self::Table { table, problem } => {
                write!(f, "the 2FA table {table:?} cannot be used: {problem}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Database(e) => Some(e),
            Self::Unavailable { error, .. } => error.as_ref().map(|e| e as _),
            Self::Record { error, .. } => Some(error),
            Self::Version { .. }
            | Self::InvalidTableName
            | Self::InvalidUserId
            | Self::PlaintextToRemoteHost { .. }
            | Self::ForeignCursor { .. }
            | Self::MalformedCursor
            | Self::Table { .. } => None,
        }
    }
}

/// An outage when the error shows one ([`Error::Unavailable`]), else [`Error::Database`].
impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match crate::outage::outage_of(&e) {
            Some(outage) => Self::Unavailable {
                outage,
                error: Some(e),
            },
            None => Self::Database(e),
        }
    }
}

impl Error {
    /// Whether the error concerns one stored record alone (it does not decode, its version or
    /// user id is one no save of this crate writes) rather than the database as a whole.
    pub fn concerns_one_record(&self) -> bool {
        matches!(
            self,
            Self::Record { .. } | Self::Version { .. } | Self::InvalidUserId
        )
    }
}

/// `user_id` if the core accepts it, else [`Error::InvalidUserId`].
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn checked(user_id: &str) -> Result<&str, Error> {
    twofa::account::check_user_id(user_id).map_err(|_| Error::InvalidUserId)?;
    Ok(user_id)
}
