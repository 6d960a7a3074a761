//! The SQLite store: the embedded default, one file beside your application.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row, SqlSafeStr, SqlStr};
use twofa::account::TwoFactorRecord;
use twofa::store::{SaveOutcome, Store, Versioned};

use crate::outage::within;
use crate::sqlite_setup::Source;
use crate::{Error, ListUsers, Outage, SqliteStoreBuilder, TableName, decode_row};

/// A [`Store`] in a SQLite database.
///
/// [`SqliteStore::open`] is the one-line setup: it opens (or creates) a database file in WAL
/// mode with a busy timeout, and creates the table if it is missing. [`SqliteStore::builder`]
/// sets the table's name, the pool and what to do about the table before any SQL runs.
/// Several processes may share the file; writers take turns, waiting up to
/// [`SqliteStore::BUSY_TIMEOUT`] for one another.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = std::env::temp_dir().join(format!("twofa-sqlx-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let path = dir.join("app.db");
/// use twofa::store::Store;
/// use twofa_sqlx::{SqliteStore, TableName, TableSetup};
///
/// let store = SqliteStore::open(&path).await?;
/// assert!(store.load("user-42").await?.is_none());
///
/// // A table of another name, which must already exist: no DDL runs.
/// # SqliteStore::builder(&path).table_name(TableName::new("auth_2fa")?).open().await?;
/// let store = SqliteStore::builder(&path)
///     .table_name(TableName::new("auth_2fa")?)
///     .setup(TableSetup::VerifyOnly)
///     .open()
///     .await?;
/// # drop(store); std::fs::remove_dir_all(&dir)?;
/// # Ok(()) }
/// ```
///
/// The table (see [`SqliteStore::migrate`], and `migrations/sqlite/` for the same as a
/// migration file):
///
/// ```sql
/// CREATE TABLE IF NOT EXISTS "two_factor" (
///     user_id TEXT COLLATE BINARY PRIMARY KEY NOT NULL,
///     record  TEXT NOT NULL,
///     version INTEGER NOT NULL
/// ) STRICT
/// ```
///
/// User ids compare byte for byte (`BINARY`), with no length limit: `Alice` and `alice` are
/// two users, and so are a precomposed and a decomposed `é`.
///
/// SQLite compares *table names* without regard to ASCII case (`"CaseTable"` and
/// `"casetable"` are one table), whatever the quoting: a store refuses a table whose name
/// differs from its own only in case ([`TableProblem::NameCase`](crate::TableProblem)), so
/// two stores cannot share one table by accident.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    pub(crate) table: TableName,
    pub(crate) sql: Arc<Queries>,
    /// SQLite admits one writer at a time, and a writer that finds the lock taken sleeps in
    /// growing steps (1, 2, 5, 10 ms…) before trying again. Queueing this process's writers
    /// here instead hands the lock straight on: with 16 users signing in at once, several
    /// times the throughput. Other processes still wait through the busy timeout.
    pub(crate) writer: Arc<tokio::sync::Mutex<()>>,
    /// Each call's deadline, lock waits included.
    pub(crate) request_timeout: Duration,
}

impl SqliteStore {
    /// How long [`SqliteStore::open`]'s connections wait for another writer.
    ///
    /// A write holds the lock for one statement (well under a millisecond, plus the `fsync`),
    /// so this bounds a queue of thousands of writers. Past it, a save fails with
    /// [`Outage::Busy`]: a lock held that long is an outage, and retrying it as a conflict
    /// would hold the request for another busy timeout each time.
    pub const BUSY_TIMEOUT: Duration = Duration::from_secs(4);

    /// The default deadline of each store call ([`SqliteStoreBuilder::request_timeout`]),
    /// waits for a connection and for the write lock included: past it the call fails with
    /// [`Outage::TimedOut`].
    pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

    /// The default timeout for opening a connection, which is also the pool's acquire
    /// timeout ([`SqliteStore::default_pool_options`]).
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

    /// A store over `pool`, with the default table name `two_factor`, running no SQL: call
    /// [`SqliteStore::migrate`] or [`SqliteStore::verify`] before using it, or use
    /// [`SqliteStore::builder_with_pool`], which does.
    ///
    /// Configure the pool's connections as [`SqliteStore::connect_options`] does (WAL, a busy
    /// timeout), or writers in other processes fail with "database is locked".
    pub fn new(pool: SqlitePool) -> SqliteStore {
        SqliteStore::with_table(pool, TableName::default())
    }

    pub(crate) fn with_table(pool: SqlitePool, table: TableName) -> SqliteStore {
        SqliteStore {
            sql: Arc::new(Queries::new(&table)),
            pool,
            table,
            writer: Arc::default(),
            request_timeout: Self::REQUEST_TIMEOUT,
        }
    }

    /// Opens the database file at `path`, creating it when missing, and creates the table if
    /// it is missing: `SqliteStore::builder(path).open()`.
    ///
    /// The connections use WAL mode (readers never wait for a writer), `synchronous = FULL`
    /// (a saved record survives a power cut, so a used code cannot come back), and a busy
    /// timeout of [`SqliteStore::BUSY_TIMEOUT`].
    ///
    /// # Errors
    ///
    /// [`Error::Database`] when the file cannot be opened or created, or is not a database;
    /// [`Error::Table`] when an existing table is not one the store can use.
    pub async fn open(path: impl AsRef<Path>) -> Result<SqliteStore, Error> {
        SqliteStore::builder(path).open().await
    }

    /// A fresh database in memory, with the table created: for tests and examples. It lives
    /// as long as the store (and its clones) and is gone afterwards.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] when SQLite cannot allocate it.
    pub async fn open_in_memory() -> Result<SqliteStore, Error> {
        SqliteStore::builder_in_memory().open().await
    }

    /// A builder for a store on the database file at `path` (created when missing), with the
    /// settings of [`SqliteStore::connect_options`].
    pub fn builder(path: impl AsRef<Path>) -> SqliteStoreBuilder {
        SqliteStoreBuilder::new(Source::Options(Box::new(Self::connect_options(path))))
    }

    /// A builder for a store whose connections use `options` as they are (start from
    /// [`SqliteStore::connect_options`] to keep WAL, `synchronous = FULL` and the busy
    /// timeout).
    pub fn builder_with(options: SqliteConnectOptions) -> SqliteStoreBuilder {
        SqliteStoreBuilder::new(Source::Options(Box::new(options)))
    }

    /// A builder for a store over a pool you made (its pool options are yours; the
    /// builder's [`pool_options`](SqliteStoreBuilder::pool_options) do not apply).
    pub fn builder_with_pool(pool: SqlitePool) -> SqliteStoreBuilder {
        SqliteStoreBuilder::new(Source::Pool(pool))
    }

    /// A builder for a fresh database in memory (see [`SqliteStore::open_in_memory`]).
    pub fn builder_in_memory() -> SqliteStoreBuilder {
        SqliteStoreBuilder::new(Source::Memory)
    }

    /// The pool options the builder uses unless given others: an acquire timeout of
    /// [`SqliteStore::CONNECT_TIMEOUT`] (sqlx's default is 30 s), otherwise sqlx's defaults.
    pub fn default_pool_options() -> SqlitePoolOptions {
        SqlitePoolOptions::new().acquire_timeout(Self::CONNECT_TIMEOUT)
    }

    /// The connection options [`SqliteStore::open`] uses, for a host that builds its own
    /// pool: create if missing, WAL, `synchronous = FULL`, [`SqliteStore::BUSY_TIMEOUT`].
    pub fn connect_options(path: impl AsRef<Path>) -> SqliteConnectOptions {
        SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Self::BUSY_TIMEOUT)
    }

    /// The table's name.
    pub fn table_name(&self) -> &TableName {
        &self.table
    }

    /// The pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

impl Store for SqliteStore {
    type Error = Error;

    async fn load(&self, user_id: &str) -> Result<Option<Versioned>, Error> {
        let user_id = crate::error::checked(user_id)?;
        within(self.request_timeout, async {
            let row = sqlx::query(self.sql.load.clone())
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(fail)?;
            match row {
                None => Ok(None),
                Some(row) => decode_row(user_id, row.try_get(0)?, row.try_get(1)?).map(Some),
            }
        })
        .await
    }

    async fn save(
        &self,
        user_id: &str,
        record: &TwoFactorRecord,
        expected_version: Option<u64>,
    ) -> Result<SaveOutcome, Error> {
        let user_id = crate::error::checked(user_id)?;
        // A version beyond i64 was never stored: nothing can match it.
        let expected = match expected_version.map(i64::try_from) {
            Some(Err(_)) => return Ok(SaveOutcome::Conflict),
            Some(Ok(expected)) => Some(expected),
            None => None,
        };
        let text = record.encode();
        within(self.request_timeout, async {
            let _turn = self.writer.lock().await;
            let query = match expected {
                None => sqlx::query(self.sql.insert.clone())
                    .bind(user_id)
                    .bind(text),
                Some(expected) => sqlx::query(self.sql.update.clone())
                    .bind(user_id)
                    .bind(text)
                    .bind(expected),
            };
            // A writer that kept the lock past the busy timeout is an outage, not a
            // conflict: retrying would hold the request for another busy timeout each time.
            let changed = query.execute(&self.pool).await.map_err(fail)?;
            Ok(match changed.rows_affected() {
                1 => SaveOutcome::Saved,
                _ => SaveOutcome::Conflict,
            })
        })
        .await
    }

    async fn delete(&self, user_id: &str) -> Result<bool, Error> {
        let user_id = crate::error::checked(user_id)?;
        within(self.request_timeout, async {
            let _turn = self.writer.lock().await;
            let mut tx = self.pool.begin().await.map_err(fail)?;
            // Raise the high-water mark to the deleted record's version, then delete it: a
            // record inserted later starts above every version a request may still hold.
            sqlx::query(self.sql.raise_mark.clone())
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
            let deleted = sqlx::query(self.sql.delete.clone())
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(fail)?
                .rows_affected();
            tx.commit().await.map_err(fail)?;
            Ok(deleted == 1)
        })
        .await
    }
}

impl ListUsers for SqliteStore {
    async fn count_users_after(&self, after: &str) -> Result<u64, Error> {
        within(self.request_timeout, async {
            let count: i64 = sqlx::query_scalar(self.sql.count.clone())
                .bind(after)
                .fetch_one(&self.pool)
                .await
                .map_err(fail)?;
            Ok(u64::try_from(count).unwrap_or(0))
        })
        .await
    }

    fn location(&self) -> String {
        let options = self.pool.connect_options();
        let file = options.get_filename();
        let file = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_owned());
        format!("sqlite:{}#{}", file.display(), self.table)
    }

    fn concerns_one_record(error: &Error) -> bool {
        error.concerns_one_record()
    }

    async fn user_ids_after(&self, after: &str, limit: u32) -> Result<Vec<String>, Error> {
        within(self.request_timeout, async {
            sqlx::query_scalar(self.sql.list.clone())
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(fail)
        })
        .await
    }
}

/// The store's error for `error`: [`Outage::Busy`] when SQLite answered `SQLITE_BUSY` or
/// `SQLITE_LOCKED` (by its result code, whose low byte is the primary code).
pub(crate) fn fail(error: sqlx::Error) -> Error {
    const SQLITE_BUSY: i32 = 5;
    const SQLITE_LOCKED: i32 = 6;
    let busy = error
        .as_database_error()
        .and_then(|e| e.code())
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, SQLITE_BUSY | SQLITE_LOCKED));
    if busy {
        Error::Unavailable {
            outage: Outage::Busy,
            error: Some(error),
        }
    } else {
        error.into()
    }
}

/// The statements, with the table name written in once.
#[derive(Debug)]
pub(crate) struct Queries {
    pub(crate) create: SqlStr,
    load: SqlStr,
    insert: SqlStr,
    update: SqlStr,
    raise_mark: SqlStr,
    delete: SqlStr,
    count: SqlStr,
    list: SqlStr,
}

impl Queries {
    fn new(table: &TableName) -> Queries {
        let t = table.quoted();
        let sql = |text: String| AssertSqlSafe(Arc::<str>::from(text)).into_sql_str();
        Queries {
            create: sql(format!(
                "CREATE TABLE IF NOT EXISTS {t} (\
                 user_id TEXT COLLATE BINARY PRIMARY KEY NOT NULL, \
                 record TEXT NOT NULL, \
                 version INTEGER NOT NULL) STRICT"
            )),
            load: sql(format!(
                "SELECT record, version FROM {t} WHERE user_id = ?1"
            )),
            // One above the high-water mark of deleted records (see `raise_mark`).
            insert: sql(format!(
                "INSERT INTO {t} (user_id, record, version) VALUES (?1, ?2, \
                 COALESCE((SELECT version FROM {t} WHERE user_id = ''), 0) + 1) \
                 ON CONFLICT (user_id) DO NOTHING"
            )),
            update: sql(format!(
                "UPDATE {t} SET record = ?2, version = version + 1 \
                 WHERE user_id = ?1 AND version = ?3"
            )),
            // The mark lives in the row whose id is '', which no check lets a user have and
            // which `user_id > ''` leaves out of every listing.
            raise_mark: sql(format!(
                "INSERT INTO {t} (user_id, record, version) \
                 SELECT '', '', version FROM {t} WHERE user_id = ?1 \
                 ON CONFLICT (user_id) DO UPDATE SET version = MAX(version, excluded.version)"
            )),
            delete: sql(format!("DELETE FROM {t} WHERE user_id = ?1")),
            count: sql(format!("SELECT COUNT(*) FROM {t} WHERE user_id > ?1")),
            list: sql(format!(
                "SELECT user_id FROM {t} WHERE user_id > ?1 ORDER BY user_id LIMIT ?2"
            )),
        }
    }
}
