//! [`SqliteStorage`]: sessions and attempt counts in a SQLite database, shared by every process
//! that opens the same file.

use async_trait::async_trait;
use sqlx::SqlitePool;
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};

use super::rows::{AttemptRow, SessionRow, decode_record, session_info};
use super::{PasswordAttempts, SessionInfo, StorageError, UserSessions, session_handle, unix_time};
use crate::limits::{Attempt, AttemptPolicy};

/// Sessions and password-attempt counts in SQLite, in the tables `twofa_sessions` and
/// `twofa_password_attempts` (created by [`SqliteStorage::migrate`]). Clones share the pool.
///
/// Several processes may use one database file. Writers take turns, so the pool's connections
/// need a busy timeout: sqlx's default of 5 seconds will do
/// ([`SqliteConnectOptions::busy_timeout`](sqlx::sqlite::SqliteConnectOptions::busy_timeout)),
/// and WAL mode lets readers go on while one writes.
///
/// A session is stored under [`session_handle`] of its id, never the id itself. Its expiry is
/// kept in whole seconds, rounded down: a session ends up to a second early, never late.
#[derive(Debug, Clone)]
pub struct SqliteStorage {
    pool: SqlitePool,
}

impl SqliteStorage {
    /// Storage over `pool`. Runs no SQL: call [`SqliteStorage::migrate`] once before use.
    pub fn new(pool: SqlitePool) -> Self {
        SqliteStorage { pool }
    }

    /// Creates the tables and their indexes if they are missing; running it again changes
    /// nothing.
    ///
    /// # Errors
    ///
    /// [`StorageError`] when the database fails (unreachable, read-only, not a database).
    pub async fn migrate(&self) -> Result<(), StorageError> {
        for statement in MIGRATION {
            sqlx::query(*statement)
                .execute(&self.pool)
                .await
                .map_err(StorageError::new)?;
        }
        Ok(())
    }
}

const MIGRATION: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS twofa_sessions (\
     handle TEXT PRIMARY KEY NOT NULL, \
     user_id TEXT, \
     label TEXT, \
     signed_in_at INTEGER, \
     last_seen INTEGER, \
     expires_at INTEGER NOT NULL, \
     data TEXT NOT NULL) STRICT",
    "CREATE INDEX IF NOT EXISTS twofa_sessions_user_id ON twofa_sessions (user_id)",
    "CREATE INDEX IF NOT EXISTS twofa_sessions_expires_at ON twofa_sessions (expires_at)",
    "CREATE TABLE IF NOT EXISTS twofa_password_attempts (\
     key TEXT PRIMARY KEY NOT NULL, \
     attempts INTEGER NOT NULL, \
     last_at INTEGER NOT NULL, \
     blocked_until INTEGER NOT NULL) STRICT",
];

/// How many fresh ids [`SessionStore::create`] draws before it gives up. A 128-bit random id
/// collides almost never; eight in a row means the random source is broken.
const CREATE_TRIES: usize = 8;

#[async_trait]
impl SessionStore for SqliteStorage {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let row = SessionRow::of(record)?;
        for _ in 0..CREATE_TRIES {
            let inserted = sqlx::query(
                "INSERT INTO twofa_sessions \
                 (handle, user_id, label, signed_in_at, last_seen, expires_at, data) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (handle) DO NOTHING",
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
            "UPDATE twofa_sessions SET user_id = ?, label = ?, signed_in_at = ?, \
             last_seen = ?, expires_at = ?, data = ? WHERE handle = ?",
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
            "SELECT data, expires_at FROM twofa_sessions WHERE handle = ? AND expires_at > ?",
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
        sqlx::query("DELETE FROM twofa_sessions WHERE handle = ?")
            .bind(session_handle(id))
            .execute(&self.pool)
            .await
            .map_err(StorageError::new)?;
        Ok(())
    }
}

#[async_trait]
impl ExpiredDeletion for SqliteStorage {
    async fn delete_expired(&self) -> session_store::Result<()> {
        sqlx::query("DELETE FROM twofa_sessions WHERE expires_at <= ?")
            .bind(unix_time(OffsetDateTime::now_utc()))
            .execute(&self.pool)
            .await
            .map_err(StorageError::new)?;
        Ok(())
    }
}

#[async_trait]
impl UserSessions for SqliteStorage {
    async fn sessions_of(&self, user_id: &str) -> Result<Vec<SessionInfo>, StorageError> {
        let rows = sqlx::query_as(
            "SELECT handle, label, signed_in_at, last_seen FROM twofa_sessions \
             WHERE user_id = ? AND expires_at > ? \
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
        let deleted = sqlx::query("DELETE FROM twofa_sessions WHERE handle = ? AND user_id = ?")
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
                sqlx::query("DELETE FROM twofa_sessions WHERE user_id = ? AND handle <> ?")
                    .bind(user_id)
                    .bind(session_handle(keep))
            }
            None => sqlx::query("DELETE FROM twofa_sessions WHERE user_id = ?").bind(user_id),
        };
        let deleted = query.execute(&self.pool).await.map_err(StorageError::new)?;
        Ok(deleted.rows_affected())
    }
}

#[async_trait]
impl PasswordAttempts for SqliteStorage {
    async fn begin_attempt(
        &self,
        key: &str,
        policy: &AttemptPolicy,
        now: u64,
    ) -> Result<Attempt, StorageError> {
        // `BEGIN IMMEDIATE` takes the database's write lock before the read: concurrent
        // callers, in this process or another, take turns (waiting up to the busy timeout),
        // each reading the count the one before left.
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StorageError::new)?;
        let stored: Option<(i64, i64, i64)> = sqlx::query_as(
            "SELECT attempts, last_at, blocked_until FROM twofa_password_attempts WHERE key = ?",
        )
        .bind(key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StorageError::new)?;
        let stored = stored.map(AttemptRow::decode).transpose()?;
        if let Some(row) = stored
            && row.blocked_until > now
        {
            return Ok(Attempt::Refused {
                retry_at: row.blocked_until,
            });
        }
        let (attempts, blocked_until) =
            policy.charge(stored.map(|row| (row.attempts, row.last_at)), now);
        let next = AttemptRow {
            attempts,
            last_at: now,
            blocked_until,
        }
        .encode()?;
        sqlx::query(
            "INSERT INTO twofa_password_attempts (key, attempts, last_at, blocked_until) \
             VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET attempts = excluded.attempts, \
             last_at = excluded.last_at, blocked_until = excluded.blocked_until",
        )
        .bind(key)
        .bind(next.0)
        .bind(next.1)
        .bind(next.2)
        .execute(&mut *tx)
        .await
        .map_err(StorageError::new)?;
        tx.commit().await.map_err(StorageError::new)?;
        Ok(Attempt::Allowed)
    }

    async fn refund_attempt(&self, key: &str) -> Result<(), StorageError> {
        sqlx::query(
            "UPDATE twofa_password_attempts SET attempts = attempts - 1 \
             WHERE key = ? AND attempts > 0",
        )
        .bind(key)
        .execute(&self.pool)
        .await
        .map_err(StorageError::new)?;
        Ok(())
    }

    async fn clear_attempts(&self, key: &str) -> Result<(), StorageError> {
        sqlx::query("DELETE FROM twofa_password_attempts WHERE key = ?")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(StorageError::new)?;
        Ok(())
    }

    async fn purge_attempts(&self, before: u64) -> Result<u64, StorageError> {
        // A time past what the column holds is after every stored one.
        let before = i64::try_from(before).unwrap_or(i64::MAX);
        let deleted = sqlx::query("DELETE FROM twofa_password_attempts WHERE last_at < ?")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(StorageError::new)?;
        Ok(deleted.rows_affected())
    }
}
