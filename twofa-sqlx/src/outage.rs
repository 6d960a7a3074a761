//! A database that cannot be reached, or does not answer in time: what the error says, and
//! the deadline every request runs under.

use std::fmt;

/// Why the database was unavailable to a request (see
/// [`Error::Unavailable`](crate::Error::Unavailable)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outage {
    /// Nothing accepts connections at the address: the server is down, or the host or port
    /// is wrong.
    Refused,
    /// The connection could not be made or was lost (host or network unreachable, connection
    /// reset, the server shutting down or starting up).
    Unreachable,
    /// No answer within the deadline (the connect timeout, the pool's acquire timeout, or the
    /// store's request timeout): a server or network that hangs, or every connection busy.
    TimedOut,
    /// The server refused the credentials (wrong password, unknown role).
    Authentication,
    /// TLS could not be set up: the server does not offer it, or its certificate was not
    /// trusted for this host name.
    Tls,
    /// SQLite: another connection kept the write lock past the busy timeout.
    Busy,
}

impl fmt::Display for Outage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Refused => "connection refused",
            Self::Unreachable => "unreachable or connection lost",
            Self::TimedOut => "timed out",
            Self::Authentication => "authentication failed",
            Self::Tls => "TLS failed",
            Self::Busy => "database locked by another writer past the busy timeout",
        })
    }
}

/// The outage `error` shows, if it shows one.
pub(crate) fn outage_of(error: &sqlx::Error) -> Option<Outage> {
    use std::io::ErrorKind;
    match error {
        sqlx::Error::Io(io) if is_tls(io) => Some(Outage::Tls),
        sqlx::Error::Io(io) => Some(match io.kind() {
            ErrorKind::ConnectionRefused => Outage::Refused,
            ErrorKind::TimedOut => Outage::TimedOut,
            _ => Outage::Unreachable,
        }),
        sqlx::Error::PoolTimedOut => Some(Outage::TimedOut),
        sqlx::Error::Tls(_) => Some(Outage::Tls),
        sqlx::Error::Database(db) => match db.code().as_deref() {
            // invalid_password, invalid_authorization_specification
            Some("28P01" | "28000") => Some(Outage::Authentication),
            // admin_shutdown, crash_shutdown, cannot_connect_now
            Some("57P01" | "57P02" | "57P03") => Some(Outage::Unreachable),
            _ => None,
        },
        _ => None,
    }
}

/// Whether the I/O error is rustls's (a certificate not trusted, a handshake that failed), by
/// its type.
fn is_tls(error: &std::io::Error) -> bool {
    #[cfg(any(feature = "tls-rustls-ring", feature = "tls-rustls-ring-native-roots"))]
    if error
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
    {
        return true;
    }
    let _ = error;
    false
}

/// Runs `request` under one deadline, whatever it does inside (acquiring a connection,
/// waiting for a lock, telling why a connection failed): past `timeout` it is dropped and the
/// answer is [`Outage::TimedOut`].
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) async fn within<T>(
    timeout: std::time::Duration,
    request: impl std::future::Future<Output = Result<T, crate::Error>>,
) -> Result<T, crate::Error> {
    match tokio::time::timeout(timeout, request).await {
        Ok(result) => result,
        Err(_) => Err(crate::Error::Unavailable {
            outage: Outage::TimedOut,
            error: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::io;

    use super::*;

    /// A database error with a given SQLSTATE.
    #[derive(Debug)]
    struct Sqlstate(&'static str);

    impl fmt::Display for Sqlstate {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "SQLSTATE {}", self.0)
        }
    }

    impl std::error::Error for Sqlstate {}

    impl sqlx::error::DatabaseError for Sqlstate {
        fn message(&self) -> &str {
            self.0
        }

        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }

        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }

        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }

        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }

        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    fn database(code: &'static str) -> sqlx::Error {
        sqlx::Error::Database(Box::new(Sqlstate(code)))
    }

    #[test]
    fn each_cause_is_told_by_its_type_or_code() {
        let io = |kind| sqlx::Error::Io(io::Error::from(kind));
        let cases = [
            (io(io::ErrorKind::ConnectionRefused), Some(Outage::Refused)),
            (io(io::ErrorKind::TimedOut), Some(Outage::TimedOut)),
            (
                io(io::ErrorKind::ConnectionReset),
                Some(Outage::Unreachable),
            ),
            (sqlx::Error::PoolTimedOut, Some(Outage::TimedOut)),
            (sqlx::Error::Tls("no".into()), Some(Outage::Tls)),
            (database("28P01"), Some(Outage::Authentication)),
            (database("28000"), Some(Outage::Authentication)),
            (database("57P01"), Some(Outage::Unreachable)),
            (database("57P03"), Some(Outage::Unreachable)),
            (database("42501"), None),
            (database("23505"), None),
            (sqlx::Error::RowNotFound, None),
        ];
        for (error, outage) in cases {
            assert_eq!(outage_of(&error), outage, "{error}");
        }
    }

    #[test]
    fn each_outage_says_what_happened() {
        assert_eq!(Outage::Refused.to_string(), "connection refused");
        assert_eq!(Outage::TimedOut.to_string(), "timed out");
        assert_eq!(Outage::Authentication.to_string(), "authentication failed");
        assert_eq!(Outage::Tls.to_string(), "TLS failed");
        assert!(Outage::Busy.to_string().contains("busy timeout"));
        assert!(Outage::Unreachable.to_string().contains("unreachable"));
    }
}
