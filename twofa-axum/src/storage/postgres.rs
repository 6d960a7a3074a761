//! [`PostgresStorage`]: sessions and attempt counts in PostgreSQL, shared by every app server
//! that uses the same database.

use async_trait::async_trait;
use sqlx::PgPool;
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};

use super::rows::{AttemptRow, SessionRow, decode_record, session_info};
use super::{PasswordAttempts, SessionInfo, StorageError, UserSessions, session_handle, unix_time};
use crate::limits::{Attempt, AttemptPolicy};

/// Sessions and password-attempt counts in PostgreSQL, in the tables `twofa_sessions` and
/// `twofa_password_attempts` (created by [`PostgresStorage::migrate`], in the connection's
/// `search_path`). Clones share the pool.
///
/// Any number of app servers may share the database: a sign-out on one ends the session on
/// all, and they count password attempts together.
///
/// A session is stored under [`session_handle`] of its id, never the id itself. Its expiry is
/// kept in whole seconds, rounded down: a session ends up to a second early, never late.
#[derive(Debug, Clone)]
pub struct PostgresStorage {
    pool: PgPool,
}

impl PostgresStorage {
    /// Storage over `pool`. Runs no SQL: call [`PostgresStorage::migrate`] once before use.
    pub fn new(pool: PgPool) -> Self {
        PostgresStorage { pool }
    }

    /// Creates the tables and their indexes if they are missing; running it again changes
    /// nothing. Servers starting at once may all call it: they take turns.
    ///
    /// # Errors
    ///
    /// [`StorageError`] when the database fails (unreachable, or the role may not create
    /// tables in the schema: PostgreSQL checks that right even when the tables exist).
    pub async fn migrate(&self) -> Result<(), StorageError> {
        let mut tx = self.pool.begin().await.map_err(StorageError::new)?;
        // Concurrent `CREATE TABLE IF NOT EXISTS` can fail on a unique violation in
        // PostgreSQL's catalog; the lock lasts until the transaction ends.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(StorageError::new)?;
        for statement in MIGRATION {
            sqlx::query(*statement)
                .execute(&mut *tx)
                .await
                .map_err(StorageError::new)?;
        }
        tx.commit().await.map_err(StorageError::new)
    }
}

/// The advisory lock [`PostgresStorage::migrate`] takes ("2FAX" in ASCII), so that
/// concurrent migrations take turns.
const MIGRATION_LOCK: i64 = 0x3246_4158;

const MIGRATION: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS twofa_sessions (\
     handle TEXT PRIMARY KEY NOT NULL, \
     user_id TEXT, \
     label TEXT, \
     signed_in_at BIGINT, \
     last_seen BIGINT, \
     expires_at BIGINT NOT NULL, \
     data TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS twofa_sessions_user_id ON twofa_sessions (user_id)",
    "CREATE INDEX IF NOT EXISTS twofa_sessions_expires_at ON twofa_sessions (expires_at)",
    "CREATE TABLE IF NOT EXISTS twofa_password_attempts (\
     key TEXT PRIMARY KEY NOT NULL, \
     attempts BIGINT NOT NULL, \
     last_at BIGINT NOT NULL, \
     blocked_until BIGINT NOT NULL)",
];

/// How many fresh ids [`SessionStore::create`] draws before it gives up. A 128-bit random id
/// collides almost never; eight in a row means the random source is broken.
const CREATE_TRIES: usize = 8;

#[async_trait]
impl SessionStore for PostgresStorage {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let row = SessionRow::of(record)?;
        for _ in 0..CREATE_TRIES {
            let inserted = sqlx::query(
                "INSERT INTO twofa_sessions \
                 (handle, user_id, label, signed_in_at, last_seen, expires_at, data) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (handle) DO NOTHING",
            )
            .bind(session_handle(&record.id))
            .bind(&row.user_id)
            .bind(&row.label)
            .bind(row.signed_in_at)
            .bind(row.last_seen)
            .bind(row.expires_at)
            .bind(&row.data)
            .execute(&self.pool)
            .await
            .map_err(StorageError::new)?
            .rows_affected();
            if inserted == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
        Err(StorageError::new("no free session id after several tries").into())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        // Never creates: a session deleted while a request was in flight stays deleted.
        let row = SessionRow::of(record)?;
        sqlx::query(
            "UPDATE twofa_sessions SET user_id = $1, label = $2, signed_in_at = $3, \
             last_seen = $4, expires_at = $5, data = $6 WHERE handle = $7",
        )
        .bind(&row.user_id)
        .bind(&row.label)
        .bind(row.signed_in_at)
        .bind(row.last_seen)
        .bind(row.expires_at)
        .bind(&row.data)
        .bind(session_handle(&record.id))
        .execute(&self.pool)
        .await
        .map_err(StorageError::new)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let found: Option<(String, i64)> = sqlx::query_as(
            "SELECT data, expires_at FROM twofa_sessions WHERE handle = $1 AND expires_at > $2",
        )
        .bind(session_handle(id))
        .bind(unix_time(OffsetDateTime::now_utc()))
        .fetch_optional(&self.pool)
        .await
        .map_err(StorageError::new)?;
        found
            .map(|(data, expires_at)| decode_record(*id, &data, expires_at))
            .transpose()
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query("DELETE FROM twofa_sessions WHERE handle = $1")
            .bind(session_handle(id))
            .execute(&self.pool)
            .await
            .map_err(StorageError::new)?;
        Ok(())
    }
}

#[async_trait]
impl ExpiredDeletion for PostgresStorage {
    async fn delete_expired(&self) -> session_store::Result<()> {
        sqlx::query("DELETE FROM twofa_sessions WHERE expires_at <= $1")
            .bind(unix_time(OffsetDateTime::now_utc()))
            .execute(&self.pool)
            .await
            .map_err(StorageError::new)?;
        Ok(())
    }
}

#[async_trait]
impl UserSessions for PostgresStorage {
    async fn sessions_of(&self, user_id: &str) -> Result<Vec<SessionInfo>, StorageError> {
        let rows = sqlx::query_as(
            "SELECT handle, label, signed_in_at, last_seen FROM twofa_sessions \
             WHERE user_id = $1 AND expires_at > $2 \
             ORDER BY signed_in_at DESC NULLS LAST, handle",
        )
        .bind(user_id)
        .bind(unix_time(OffsetDateTime::now_utc()))
        .fetch_all(&self.pool)
        .await
        .map_err(StorageError::new)?;
        rows.into_iter().map(session_info).collect()
    }

    async fn end_session(&self, user_id: &str, handle: &str) -> Result<bool, StorageError> {
        let deleted = sqlx::query("DELETE FROM twofa_sessions WHERE handle = $1 AND user_id = $2")
            .bind(handle)
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(StorageError::new)?
            .rows_affected();
        Ok(deleted > 0)
    }

    async fn end_other_sessions(
        &self,
        user_id: &str,
        keep: Option<&Id>,
    ) -> Result<u64, StorageError> {
        let query = match keep {
            Some(keep) => {
                sqlx::query("DELETE FROM twofa_sessions WHERE user_id = $1 AND handle <> $2")
                    .bind(user_id)
                    .bind(session_handle(keep))
            }
            None => sqlx::query("DELETE FROM twofa_sessions WHERE user_id = $1").bind(user_id),
        };
        let deleted = query.execute(&self.pool).await.map_err(StorageError::new)?;
        Ok(deleted.rows_affected())
    }
}

#[async_trait]
impl PasswordAttempts for PostgresStorage {
    async fn begin_attempt(
        &self,
        key: &str,
        policy: &AttemptPolicy,
        now: u64,
    ) -> Result<Attempt, StorageError> {
        // The key's row, made if missing, is locked (`FOR UPDATE`) before it is read:
        // concurrent callers, on this server or another, take turns, each reading the count
        // the one before left. A new row says "nothing for a long time", which `charge`
        // counts as a first attempt.
        let mut tx = self.pool.begin().await.map_err(StorageError::new)?;
        sqlx::query(
            "INSERT INTO twofa_password_attempts (key, attempts, last_at, blocked_until) \
             VALUES ($1, 0, 0, 0) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .execute(&mut *tx)
        .await
        .map_err(StorageError::new)?;
        let stored: (i64, i64, i64) = sqlx::query_as(
            "SELECT attempts, last_at, blocked_until FROM twofa_password_attempts \
             WHERE key = $1 FOR UPDATE",
        )
        .bind(key)
        .fetch_one(&mut *tx)
        .await
        .map_err(StorageError::new)?;
        let row = AttemptRow::decode(stored)?;
        if row.blocked_until > now {
            tx.commit().await.map_err(StorageError::new)?;
            return Ok(Attempt::Refused {
                retry_at: row.blocked_until,
            });
        }
        let (attempts, blocked_until) = policy.charge(Some((row.attempts, row.last_at)), now);
        let next = AttemptRow {
            attempts,
            last_at: now,
            blocked_until,
        }
        .encode()?;
        sqlx::query(
            "UPDATE twofa_password_attempts SET attempts = $1, last_at = $2, blocked_until = $3 \
             WHERE key = $4",
        )
        .bind(next.0)
        .bind(next.1)
        .bind(next.2)
        .bind(key)
        .execute(&mut *tx)
        .await
        .map_err(StorageError::new)?;
        tx.commit().await.map_err(StorageError::new)?;
        Ok(Attempt::Allowed)
    }

    async fn refund_attempt(&self, key: &str) -> Result<(), StorageError> {
        sqlx::query(
            "UPDATE twofa_password_attempts SET attempts = attempts - 1 \
             WHERE key = $1 AND attempts > 0",
        )
        .bind(key)
        .execute(&self.pool)
        .await
        .map_err(StorageError::new)?;
        Ok(())
    }

    async fn clear_attempts(&self, key: &str) -> Result<(), StorageError> {
        sqlx::query("DELETE FROM twofa_password_attempts WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(StorageError::new)?;
        Ok(())
    }

    async fn purge_attempts(&self, before: u64) -> Result<u64, StorageError> {
        // A time past what the column holds is after every stored one.
        let before = i64::try_from(before).unwrap_or(i64::MAX);
        let deleted = sqlx::query("DELETE FROM twofa_password_attempts WHERE last_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(StorageError::new)?;
        Ok(deleted.rows_affected())
    }
}
