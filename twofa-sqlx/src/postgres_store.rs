//! The PostgreSQL store: one database shared by several application servers.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, Row, SqlSafeStr, SqlStr};
use twofa::account::TwoFactorRecord;
use twofa::store::{SaveOutcome, Store, Versioned};

use crate::outage::within;
use crate::postgres_setup::Source;
use crate::{Error, ListUsers, PostgresStoreBuilder, TableName, decode_row};

/// A [`Store`] in a PostgreSQL database.
///
/// [`PostgresStore::connect`] is the one-line setup; [`PostgresStore::builder`] sets the
/// table's name, the pool and what to do about the table before any SQL runs. Every
/// application server may use the same database: a code works once across all of them,
/// because each save is one compare-and-swap `UPDATE`.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use twofa_sqlx::{PostgresStore, TableName, TableSetup};
///
/// let store = PostgresStore::connect("postgres://app@localhost/app").await?;
///
/// // An application role that may only read and write rows: no DDL runs.
/// let store = PostgresStore::builder("postgres://app@localhost/app")
///     .table_name(TableName::new("auth_two_factor")?)
///     .setup(TableSetup::VerifyOnly)
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
///
/// The table (see [`PostgresStore::migrate`], and `migrations/postgres/` for the same as a
/// migration file):
///
/// ```sql
/// CREATE TABLE IF NOT EXISTS "two_factor" (
///     user_id TEXT COLLATE "C" PRIMARY KEY,
///     record  TEXT NOT NULL,
///     version BIGINT NOT NULL
/// )
/// ```
///
/// `COLLATE "C"` makes user ids compare (and sort, for [`ListUsers`]) byte for byte whatever
/// the database's default collation: `Alice` and `alice` are two users. `TEXT` has no length
/// limit short of the index's (about 2,700 bytes), far beyond the core's 255; it cannot hold
/// NUL, which the core refuses in user ids. The table name is double-quoted, so it is
/// case-sensitive: `"CaseTable"` and `"casetable"` are two tables.
///
/// The rights an application role needs on an existing table: `SELECT, INSERT, UPDATE,
/// DELETE`; with [`TableSetup::VerifyOnly`](crate::TableSetup::VerifyOnly) (or an existing table and the default
/// [`TableSetup::CreateIfMissing`](crate::TableSetup::CreateIfMissing)) it needs nothing else.
///
/// Saves work under any isolation level: under `REPEATABLE READ` or `SERIALIZABLE`, a losing
/// writer's serialization failure (SQLSTATE `40001`) is reported as a conflict.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pub(crate) pool: PgPool,
    pub(crate) table: TableName,
    pub(crate) sql: Arc<Queries>,
    /// Each call's deadline, the wait for a connection included.
    pub(crate) request_timeout: Duration,
}

impl PostgresStore {
    /// A store over `pool`, with the default table name `two_factor`, running no SQL: call
    /// [`PostgresStore::migrate`] or [`PostgresStore::verify`] before using it, or use
    /// [`PostgresStore::builder_with_pool`], which does.
    pub fn new(pool: PgPool) -> PostgresStore {
        PostgresStore::with_table(pool, TableName::default())
    }

    pub(crate) fn with_table(pool: PgPool, table: TableName) -> PostgresStore {
        PostgresStore {
            sql: Arc::new(Queries::new(&table)),
            pool,
            table,
            request_timeout: Self::REQUEST_TIMEOUT,
        }
    }

    /// The default deadline of each store call ([`PostgresStoreBuilder::request_timeout`]),
    /// the wait for a connection included: past it the call fails with
    /// [`Outage::TimedOut`](crate::Outage::TimedOut), however many retries it would take.
    pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

    /// The default timeout for opening a connection, which is also the pool's acquire
    /// timeout ([`PostgresStore::default_pool_options`]).
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

    /// The pool options the builder uses unless given others: an acquire timeout of
    /// [`PostgresStore::CONNECT_TIMEOUT`] (sqlx's default is 30 s), otherwise sqlx's defaults.
    pub fn default_pool_options() -> PgPoolOptions {
        PgPoolOptions::new().acquire_timeout(Self::CONNECT_TIMEOUT)
    }

    /// Connects to the database at `url` (`postgres://user:password@host/database`) and
    /// creates the table if it is missing: `PostgresStore::builder(url).connect()`.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] when the server cannot be reached or refuses the connection;
    /// [`Error::Table`] when an existing table is not one the store can use.
    pub async fn connect(url: &str) -> Result<PostgresStore, Error> {
        PostgresStore::builder(url).connect().await
    }

    /// A builder for a store on the database at `url`.
    pub fn builder(url: &str) -> PostgresStoreBuilder {
        PostgresStoreBuilder::new(Source::Url(url.to_owned()))
    }

    /// A builder for a store whose connections use `options` (sqlx's, for settings a URL
    /// cannot carry).
    pub fn builder_with(options: PgConnectOptions) -> PostgresStoreBuilder {
        PostgresStoreBuilder::new(Source::Options(Box::new(options)))
    }

    /// A builder for a store over a pool you made (its pool options are yours; the
    /// builder's [`pool_options`](PostgresStoreBuilder::pool_options) do not apply).
    pub fn builder_with_pool(pool: PgPool) -> PostgresStoreBuilder {
        PostgresStoreBuilder::new(Source::Pool(pool))
    }

    /// The table's name.
    pub fn table_name(&self) -> &TableName {
        &self.table
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl Store for PostgresStore {
    type Error = Error;

    async fn load(&self, user_id: &str) -> Result<Option<Versioned>, Error> {
        let user_id = crate::error::checked(user_id)?;
        let row = self
            .run(
                sqlx::query(self.sql.load.clone())
                    .bind(user_id)
                    .fetch_optional(&self.pool),
            )
            .await?;
        match row {
            None => Ok(None),
            Some(row) => decode_row(user_id, row.try_get(0)?, row.try_get(1)?).map(Some),
        }
    }

    async fn save(
        &self,
        user_id: &str,
        record: &TwoFactorRecord,
        expected_version: Option<u64>,
    ) -> Result<SaveOutcome, Error> {
        let user_id = crate::error::checked(user_id)?;
        let query = match expected_version.map(i64::try_from) {
            // A version beyond i64 was never stored: nothing can match it.
            Some(Err(_)) => return Ok(SaveOutcome::Conflict),
            Some(Ok(expected)) => sqlx::query(self.sql.update.clone())
                .bind(user_id)
                .bind(record.encode())
                .bind(expected),
            None => sqlx::query(self.sql.insert.clone())
                .bind(user_id)
                .bind(record.encode()),
        };
        let changed = self
            .run(async {
                match query.execute(&self.pool).await {
                    Ok(done) => Ok(done.rows_affected()),
                    // Under REPEATABLE READ or SERIALIZABLE a losing writer fails instead of
                    // updating nothing; nothing was written either way.
                    Err(e) if is_serialization_failure(&e) => Ok(0),
                    Err(e) => Err(e),
                }
            })
            .await?;
        Ok(match changed {
            1 => SaveOutcome::Saved,
            _ => SaveOutcome::Conflict,
        })
    }

    async fn delete(&self, user_id: &str) -> Result<bool, Error> {
        let user_id = crate::error::checked(user_id)?;
        self.run(async {
            // Under REPEATABLE READ or SERIALIZABLE a concurrent save can fail the deletion
            // with a serialization failure; nothing was deleted, so run it again.
            let mut attempt = 0;
            loop {
                match self.try_delete(user_id).await {
                    Err(e) if attempt < DELETE_RETRIES && is_serialization_failure(&e) => {
                        attempt += 1;
                    }
                    done => return done,
                }
            }
        })
        .await
    }
}

/// How many times a deletion that lost a race is run again.
const DELETE_RETRIES: u32 = 16;

impl PostgresStore {
    /// Runs one store call under the store's deadline. When the pool could not hand out a
    /// connection in time, one direct connection attempt tells why (refused, authentication,
    /// TLS…), so that the error names the cause rather than "pool timed out".
    pub(crate) async fn run<T>(
        &self,
        call: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, Error> {
        within(self.request_timeout, async {
            match call.await {
                Ok(value) => Ok(value),
                Err(sqlx::Error::PoolTimedOut) => {
                    let options = self.pool.connect_options();
                    Err(match probe(&options, PROBE_TIMEOUT).await {
                        Err(cause) => cause,
                        // It connects now: every connection was busy.
                        Ok(()) => sqlx::Error::PoolTimedOut.into(),
                    })
                }
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    /// One deletion, in one transaction: lock the high-water mark (creating it if missing),
    /// then delete the record and raise the mark to its version. An insert waits on the
    /// mark's lock (`FOR SHARE`), so it starts above the deleted record's versions.
    async fn try_delete(&self, user_id: &str) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(self.sql.lock_mark.clone())
            .execute(&mut *tx)
            .await?;
        let deleted = sqlx::query(self.sql.delete.clone())
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(deleted == 1)
    }
}

/// How long the attempt that tells why the pool had no connection may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// One connection with `options`, closed again at once: `Ok` when the server accepts it, else
/// why not ([`Outage::TimedOut`](crate::Outage::TimedOut) past `timeout`).
pub(crate) async fn probe(options: &PgConnectOptions, timeout: Duration) -> Result<(), Error> {
    let connection = within(timeout, async {
        Ok(PgConnection::connect_with(options).await?)
    });
    let connection = connection.await?;
    let _ = within(timeout, async { Ok(connection.close().await?) }).await;
    Ok(())
}

impl ListUsers for PostgresStore {
    async fn count_users_after(&self, after: &str) -> Result<u64, Error> {
        let count: i64 = self
            .run(
                sqlx::query_scalar(self.sql.count.clone())
                    .bind(after)
                    .fetch_one(&self.pool),
            )
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    fn location(&self) -> String {
        let options = self.pool.connect_options();
        let host = match options.get_socket() {
            Some(socket) => socket.display().to_string(),
            None => options.get_host().to_owned(),
        };
        let database = options
            .get_database()
            .unwrap_or_else(|| options.get_username());
        format!(
            "postgres://{host}:{}/{database}#{}",
            options.get_port(),
            self.table
        )
    }

    fn concerns_one_record(error: &Error) -> bool {
        error.concerns_one_record()
    }

    async fn user_ids_after(&self, after: &str, limit: u32) -> Result<Vec<String>, Error> {
        self.run(
            sqlx::query_scalar(self.sql.list.clone())
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool),
        )
        .await
    }
}

/// Whether PostgreSQL answered SQLSTATE `40001` (`serialization_failure`) or `40P01`
/// (`deadlock_detected`): the statement lost a race and wrote nothing.
fn is_serialization_failure(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "40001" || code == "40P01")
}

/// The statements, with the table name written in once.
#[derive(Debug)]
pub(crate) struct Queries {
    pub(crate) create: SqlStr,
    pub(crate) load: SqlStr,
    insert: SqlStr,
    update: SqlStr,
    lock_mark: SqlStr,
    pub(crate) add_mark: SqlStr,
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
                 user_id TEXT COLLATE \"C\" PRIMARY KEY, \
                 record TEXT NOT NULL, \
                 version BIGINT NOT NULL)"
            )),
            load: sql(format!(
                "SELECT record, version FROM {t} WHERE user_id = $1"
            )),
            // One above the high-water mark of deleted records, read under a share lock so
            // that a deletion in progress is waited for (see `try_delete`).
            insert: sql(format!(
                "INSERT INTO {t} (user_id, record, version) VALUES ($1, $2, \
                 COALESCE((SELECT version FROM {t} WHERE user_id = '' FOR SHARE), 0) + 1) \
                 ON CONFLICT (user_id) DO NOTHING"
            )),
            update: sql(format!(
                "UPDATE {t} SET record = $2, version = version + 1 \
                 WHERE user_id = $1 AND version = $3"
            )),
            // The mark lives in the row whose id is '', which no check lets a user have and
            // which `user_id > ''` leaves out of every listing.
            lock_mark: sql(format!(
                "INSERT INTO {t} AS t (user_id, record, version) VALUES ('', '', 0) \
                 ON CONFLICT (user_id) DO UPDATE SET version = t.version"
            )),
            add_mark: sql(format!(
                "INSERT INTO {t} (user_id, record, version) VALUES ('', '', 0) \
                 ON CONFLICT (user_id) DO NOTHING"
            )),
            delete: sql(format!(
                "WITH gone AS (DELETE FROM {t} WHERE user_id = $1 RETURNING version) \
                 UPDATE {t} AS t SET version = GREATEST(t.version, gone.version) \
                 FROM gone WHERE t.user_id = ''"
            )),
            count: sql(format!("SELECT COUNT(*) FROM {t} WHERE user_id > $1")),
            list: sql(format!(
                "SELECT user_id FROM {t} WHERE user_id > $1 ORDER BY user_id LIMIT $2"
            )),
        }
    }
}
