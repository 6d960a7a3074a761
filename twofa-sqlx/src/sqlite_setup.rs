//! Setting a SQLite store up: the builder, and creating and checking the table.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

use crate::outage::within;
use crate::sqlite_store::fail;
use crate::{Error, SqliteStore, TableName, TableProblem, TableSetup};

/// Everything about a [`SqliteStore`] that is decided before any SQL runs: the database, the
/// pool, the table's name and what to do about the table. Made by [`SqliteStore::builder`]
/// and its siblings; [`SqliteStoreBuilder::open`] makes the store.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use twofa_sqlx::{SqliteStore, TableName};
///
/// let store = SqliteStore::builder_in_memory()
///     .table_name(TableName::new("auth_two_factor")?) // checked before any SQL
///     .open()
///     .await?;
/// assert_eq!(store.table_name().as_str(), "auth_two_factor");
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `open` is awaited"]
pub struct SqliteStoreBuilder {
    source: Source,
    table: TableName,
    setup: TableSetup,
    pool_options: Option<SqlitePoolOptions>,
    request_timeout: Duration,
}

/// Where the connections come from.
#[derive(Debug)]
pub(crate) enum Source {
    Options(Box<SqliteConnectOptions>),
    Memory,
    Pool(SqlitePool),
}

impl SqliteStoreBuilder {
    pub(crate) fn new(source: Source) -> SqliteStoreBuilder {
        SqliteStoreBuilder {
            source,
            table: TableName::default(),
            setup: TableSetup::default(),
            pool_options: None,
            request_timeout: SqliteStore::REQUEST_TIMEOUT,
        }
    }

    /// Keeps the records in `table` instead of `two_factor`.
    pub fn table_name(mut self, table: TableName) -> SqliteStoreBuilder {
        self.table = table;
        self
    }

    /// What to do about the table (default: [`TableSetup::CreateIfMissing`]).
    pub fn setup(mut self, setup: TableSetup) -> SqliteStoreBuilder {
        self.setup = setup;
        self
    }

    /// The deadline of each store call, waits for a connection and for the write lock
    /// included (default [`SqliteStore::REQUEST_TIMEOUT`]): past it the call fails with
    /// [`Outage::TimedOut`](crate::Outage::TimedOut). Keep the busy timeout below it, so
    /// that a lock held too long is reported as [`Outage::Busy`](crate::Outage::Busy).
    pub fn request_timeout(mut self, timeout: Duration) -> SqliteStoreBuilder {
        self.request_timeout = timeout;
        self
    }

    /// The pool's options, used as they are (default:
    /// [`SqliteStore::default_pool_options`]). Not used by
    /// [`SqliteStore::builder_with_pool`] (the pool is made) nor for a database in memory
    /// (which needs exactly one connection, kept forever).
    pub fn pool_options(mut self, options: SqlitePoolOptions) -> SqliteStoreBuilder {
        self.pool_options = Some(options);
        self
    }

    /// Connects, then creates the table if it is missing (with
    /// [`TableSetup::CreateIfMissing`]) and checks it.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] when the database cannot be opened or the table cannot be created;
    /// [`Error::Table`] when the table is missing (with [`TableSetup::VerifyOnly`]) or is not
    /// one the store can use. A pool the builder made is closed again on error (a pool you
    /// gave it is left open).
    pub async fn open(self) -> Result<SqliteStore, Error> {
        let owned = !matches!(self.source, Source::Pool(_));
        let pool = match self.source {
            Source::Pool(pool) => pool,
            Source::Options(options) => {
                let options = *options;
                self.pool_options
                    .unwrap_or_else(SqliteStore::default_pool_options)
                    .connect_with(options)
                    .await
                    .map_err(fail)?
            }
            Source::Memory => {
                // Each connection to `:memory:` has a database of its own: keep exactly one,
                // forever.
                SqlitePoolOptions::new()
                    .min_connections(1)
                    .max_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_with(SqliteConnectOptions::from_str("sqlite::memory:")?)
                    .await?
            }
        };
        let mut store = SqliteStore::with_table(pool, self.table);
        store.request_timeout = self.request_timeout;
        let ready = within(self.request_timeout, async {
            match self.setup {
                TableSetup::CreateIfMissing => store.migrate().await,
                TableSetup::VerifyOnly => store.verify().await,
            }
        })
        .await;
        match ready {
            Ok(()) => Ok(store),
            Err(e) => {
                if owned {
                    store.pool.close().await;
                }
                Err(e)
            }
        }
    }
}

impl SqliteStore {
    /// Creates the table if it does not exist, then checks it ([`SqliteStore::verify`]);
    /// running it again changes nothing. Whether the table exists is looked up first, so no
    /// DDL runs when it does.
    ///
    /// # Errors
    ///
    /// [`Error::Database`]; [`Error::Table`] when the table exists but is not one the store
    /// can use.
    pub async fn migrate(&self) -> Result<(), Error> {
        if self.existing_name().await?.is_none() {
            let _turn = self.writer.lock().await;
            sqlx::query(self.sql.create.clone())
                .execute(&self.pool)
                .await?;
        }
        self.verify().await
    }

    /// Checks, without changing anything, that the table exists under exactly this name and
    /// has the columns the store needs: `user_id` of type `TEXT` with collation `BINARY` as
    /// the primary key, `record TEXT NOT NULL`, `version INTEGER NOT NULL`.
    ///
    /// # Errors
    ///
    /// [`Error::Table`] with what is wrong; [`Error::Database`].
    pub async fn verify(&self) -> Result<(), Error> {
        let table = self.table.as_str();
        let fail = |problem| {
            Err(Error::Table {
                table: table.to_owned(),
                problem,
            })
        };
        match self.existing_name().await? {
            None => return fail(TableProblem::Missing),
            Some(existing) if existing != table => {
                return fail(TableProblem::NameCase { existing });
            }
            Some(_) => {}
        }
        let columns = sqlx::query(
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1) ORDER BY cid",
        )
        .bind(table)
        .fetch_all(&self.pool)
        .await?;
        let mut seen = Vec::new();
        for row in &columns {
            let name: String = row.try_get(0)?;
            let declared: String = row.try_get(1)?;
            let not_null: bool = row.try_get(2)?;
            let pk: i64 = row.try_get(3)?;
            seen.push((name, declared.to_ascii_uppercase(), not_null, pk));
        }
        let keys = seen.iter().filter(|c| c.3 > 0).count();
        for (column, affinity) in [
            ("user_id", "TEXT"),
            ("record", "TEXT"),
            ("version", "INTEGER"),
        ] {
            let Some((_, declared, not_null, pk)) = seen.iter().find(|c| c.0 == column) else {
                return fail(TableProblem::MissingColumn { column });
            };
            let fits = match affinity {
                // SQLite's own affinity rules: INT anywhere is INTEGER; else CHAR, CLOB or
                // TEXT is TEXT.
                "INTEGER" => declared.contains("INT"),
                _ => {
                    !declared.contains("INT")
                        && ["CHAR", "CLOB", "TEXT"]
                            .iter()
                            .any(|t| declared.contains(t))
                }
            };
            if !fits {
                return fail(TableProblem::ColumnType {
                    column,
                    expected: affinity,
                    found: declared.clone(),
                });
            }
            if column == "user_id" {
                if *pk != 1 || keys != 1 {
                    return fail(TableProblem::PrimaryKey);
                }
            } else if !not_null {
                return fail(TableProblem::Nullable { column });
            }
        }
        let collation = self.key_collation().await?;
        if !collation.eq_ignore_ascii_case("BINARY") {
            return fail(TableProblem::Collation { found: collation });
        }
        Ok(())
    }

    /// The name of the table SQLite takes for ours (its names compare without regard to ASCII
    /// case), as it was created; `None` when there is none.
    async fn existing_name(&self) -> Result<Option<String>, Error> {
        Ok(sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?1 COLLATE NOCASE",
        )
        .bind(self.table.as_str())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The collation of `user_id` in the primary key's index, which is what lookups use.
    async fn key_collation(&self) -> Result<String, Error> {
        let index: Option<String> =
            sqlx::query_scalar("SELECT name FROM pragma_index_list(?1) WHERE origin = 'pk'")
                .bind(self.table.as_str())
                .fetch_optional(&self.pool)
                .await?;
        let Some(index) = index else {
            return Err(Error::Table {
                table: self.table.as_str().to_owned(),
                problem: TableProblem::PrimaryKey,
            });
        };
        let collation: Option<String> = sqlx::query_scalar(
            "SELECT coll FROM pragma_index_xinfo(?1) WHERE name = 'user_id' AND key = 1",
        )
        .bind(index)
        .fetch_optional(&self.pool)
        .await?;
        Ok(collation.unwrap_or_default())
    }
}
