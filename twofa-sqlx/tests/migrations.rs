//! The migration files in `migrations/`, applied the way sqlx-cli and `sqlx::migrate!` apply
//! them, make a table the store accepts with no DDL of its own, and that passes the
//! conformance kit.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers: fail loudly

mod common;

use std::path::Path;

use common::*;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::SqlitePoolOptions;
use twofa::store::conformance::check_store;
use twofa_sqlx::{PostgresStore, SqliteStore, TableSetup};

async fn migrator(database: &str) -> Migrator {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(database);
    Migrator::new(dir).await.unwrap()
}

#[tokio::test]
async fn the_sqlite_migration_makes_the_table_the_store_expects() {
    let path = temp_dir().join("migrated.db");
    let pool = SqlitePoolOptions::new()
        .connect_with(SqliteStore::connect_options(&path))
        .await
        .unwrap();
    migrator("sqlite").await.run(&pool).await.unwrap();
    let store = SqliteStore::builder_with_pool(pool.clone())
        .setup(TableSetup::VerifyOnly)
        .open()
        .await
        .unwrap();
    check_store(&store).await.unwrap();
    // The same columns, types and constraints as `migrate()` makes.
    let made = SqliteStore::open(temp_dir().join("made.db")).await.unwrap();
    assert_eq!(columns(&pool).await, columns(made.pool()).await);
}

async fn columns(pool: &sqlx::SqlitePool) -> Vec<(String, String, bool, i64)> {
    sqlx::query_as("SELECT name, type, \"notnull\", pk FROM pragma_table_info('two_factor')")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_postgres_migration_makes_the_table_the_store_expects() {
    let Some(url) = postgres_url() else { return };
    // A schema of its own, so that the migration's `two_factor` meets no other.
    let schema = unique_name("twofa_migrations");
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
        .execute(&admin)
        .await
        .unwrap();
    let options: PgConnectOptions = url.parse().unwrap();
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(options.options([("search_path", schema.as_str())]))
        .await
        .unwrap();
    migrator("postgres").await.run(&pool).await.unwrap();
    let store = PostgresStore::builder_with_pool(pool)
        .setup(TableSetup::VerifyOnly)
        .connect()
        .await
        .unwrap();
    check_store(&store).await.unwrap();
}
