//! Helpers shared by the twofa-axum integration tests: databases for the storage backends.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: fail loudly

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, Row};
use twofa_axum::storage::{PostgresStorage, SqliteStorage, Storage};

/// The environment variable with the test server's URL (`.ci/postgres start` prints it).
pub const POSTGRES_URL: &str = "TWOFA_TEST_POSTGRES_URL";

/// The test server's URL; without one, a note and `None` on a developer's machine, and a
/// failure under CI, so a PostgreSQL test never passes by not running.
pub fn postgres_url() -> Option<String> {
    match std::env::var(POSTGRES_URL) {
        Ok(url) => Some(url),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{POSTGRES_URL} is required under CI (run `eval \"$(.ci/postgres start)\"`)"
            );
            eprintln!(
                "skipping the PostgreSQL part: {POSTGRES_URL} is not set \
                 (run `eval \"$(.ci/postgres start)\"` first)"
            );
            None
        }
    }
}

/// A name no other test (or earlier run against the same server) has used: lower-case
/// letters, digits and underscores, so it is also a plain SQL identifier.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A database a test can also reach with plain SQL, and open a second time as another app
/// server would.
#[allow(async_fn_in_trait)] // called from the test's own task only
pub trait SqlDatabase {
    /// The storage type over this database.
    type Storage: Storage;

    /// The storage the test uses (migrated).
    fn storage(&self) -> Self::Storage;

    /// Storage over a pool of its own on the same database, as a second app server has.
    async fn second_storage(&self) -> Self::Storage;

    /// Runs the storage's `migrate` again.
    async fn migrate(&self, storage: &Self::Storage);

    /// Runs `sql`; the number of rows it changed.
    async fn execute(&self, sql: String) -> u64;

    /// The one `BIGINT`/`INTEGER` that `sql` selects.
    async fn select_int(&self, sql: String) -> i64;
}

/// A SQLite database in a file of its own, deleted when this is dropped.
#[derive(Debug)]
pub struct SqliteDatabase {
    storage: SqliteStorage,
    pool: SqlitePool,
    path: PathBuf,
}

impl SqliteDatabase {
    /// A new database file with the tables created.
    pub async fn new() -> SqliteDatabase {
        let path = std::env::temp_dir().join(format!("{}.db", unique_name("twofa_axum_test")));
        let pool = Self::pool(&path).await;
        let storage = SqliteStorage::new(pool.clone());
        storage.migrate().await.unwrap();
        SqliteDatabase {
            storage,
            pool,
            path,
        }
    }

    async fn pool(path: &std::path::Path) -> SqlitePool {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .unwrap()
    }
}

impl SqliteDatabase {
    /// The database's pool (for a `twofa_sqlx` store beside the storage).
    pub fn shared_pool(&self) -> SqlitePool {
        self.pool.clone()
    }
}

impl SqlDatabase for SqliteDatabase {
    type Storage = SqliteStorage;

    fn storage(&self) -> SqliteStorage {
        self.storage.clone()
    }

    async fn second_storage(&self) -> SqliteStorage {
        SqliteStorage::new(Self::pool(&self.path).await)
    }

    async fn migrate(&self, storage: &SqliteStorage) {
        storage.migrate().await.unwrap();
    }

    async fn execute(&self, sql: String) -> u64 {
        sqlx::query(AssertSqlSafe(sql))
            .execute(&self.pool)
            .await
            .unwrap()
            .rows_affected()
    }

    async fn select_int(&self, sql: String) -> i64 {
        sqlx::query(AssertSqlSafe(sql))
            .fetch_one(&self.pool)
            .await
            .unwrap()
            .get(0)
    }
}

impl Drop for SqliteDatabase {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = self.path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

/// A schema of its own on the test server, first in the `search_path` of every connection the
/// test makes, so the fixed table names are the test's alone. Drop it with
/// [`PostgresDatabase::drop_schema`].
#[derive(Debug)]
pub struct PostgresDatabase {
    storage: PostgresStorage,
    pool: PgPool,
    options: PgConnectOptions,
    schema: String,
}

impl PostgresDatabase {
    /// A new schema with the tables created, or `None` without a server (see
    /// [`postgres_url`]).
    pub async fn new() -> Option<PostgresDatabase> {
        let database = Self::without_tables().await?;
        database.storage.migrate().await.unwrap();
        Some(database)
    }

    /// A new, empty schema, or `None` without a server (see [`postgres_url`]).
    pub async fn without_tables() -> Option<PostgresDatabase> {
        let url = postgres_url()?;
        let schema = unique_name("twofa_axum_test");
        let admin = PgPool::connect(&url).await.unwrap();
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        let options = PgConnectOptions::from_str(&url)
            .unwrap()
            .options([("search_path", schema.as_str())]);
        let pool = Self::pool(&options).await;
        Some(PostgresDatabase {
            storage: PostgresStorage::new(pool.clone()),
            pool,
            options,
            schema,
        })
    }

    async fn pool(options: &PgConnectOptions) -> PgPool {
        PgPoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone())
            .await
            .unwrap()
    }

    /// The schema's pool (for a `twofa_sqlx` store beside the storage).
    pub fn shared_pool(&self) -> PgPool {
        self.pool.clone()
    }

    /// A new pool on the same schema, as a second app server would have.
    pub async fn second_pool(&self) -> PgPool {
        Self::pool(&self.options).await
    }

    /// Drops the schema and everything in it.
    pub async fn drop_schema(self) {
        let schema = &self.schema;
        sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&self.pool)
            .await
            .unwrap();
        self.pool.close().await;
    }
}

impl SqlDatabase for PostgresDatabase {
    type Storage = PostgresStorage;

    fn storage(&self) -> PostgresStorage {
        self.storage.clone()
    }

    async fn second_storage(&self) -> PostgresStorage {
        PostgresStorage::new(Self::pool(&self.options).await)
    }

    async fn migrate(&self, storage: &PostgresStorage) {
        storage.migrate().await.unwrap();
    }

    async fn execute(&self, sql: String) -> u64 {
        sqlx::query(AssertSqlSafe(sql))
            .execute(&self.pool)
            .await
            .unwrap()
            .rows_affected()
    }

    async fn select_int(&self, sql: String) -> i64 {
        sqlx::query(AssertSqlSafe(sql))
            .fetch_one(&self.pool)
            .await
            .unwrap()
            .get(0)
    }
}
