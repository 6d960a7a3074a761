//! Setting a store up: the builder (no stray table, nothing half-built), least privilege (a
//! role that may only read and write rows), and the check of an existing table.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers: fail loudly

mod common;

use common::*;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::{AssertSqlSafe, PgPool, SqlitePool};
use twofa::store::Store;
use twofa::store::conformance::check_store;
use twofa_sqlx::{Error, PostgresStore, SqliteStore, TableName, TableProblem, TableSetup};

fn name(text: &str) -> TableName {
    TableName::new(text).unwrap()
}

async fn sqlite_tables(pool: &SqlitePool) -> Vec<String> {
    sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn sqlite_pool(path: &std::path::Path) -> SqlitePool {
    SqlitePoolOptions::new()
        .connect_with(SqliteStore::connect_options(path))
        .await
        .unwrap()
}

#[tokio::test]
async fn the_builder_creates_only_the_table_it_is_given() {
    let path = temp_dir().join("named.db");
    let store = SqliteStore::builder(&path)
        .table_name(name("auth_two_factor"))
        .open()
        .await
        .unwrap();
    assert_eq!(sqlite_tables(store.pool()).await, ["auth_two_factor"]);
    check_store(&store).await.unwrap();
}

#[tokio::test]
async fn verify_only_runs_no_ddl_and_refuses_a_missing_table() {
    let path = temp_dir().join("verify.db");
    let missing = SqliteStore::builder(&path)
        .setup(TableSetup::VerifyOnly)
        .open()
        .await
        .unwrap_err();
    assert!(
        matches!(
            &missing,
            Error::Table { table, problem: TableProblem::Missing } if table == "two_factor"
        ),
        "{missing}"
    );
    assert!(missing.to_string().contains("does not exist"), "{missing}");
    let pool = sqlite_pool(&path).await;
    assert!(
        sqlite_tables(&pool).await.is_empty(),
        "no table was created"
    );
    // Once an administrator made it, the store uses it.
    let _ = SqliteStore::open(&path).await.unwrap();
    let store = SqliteStore::builder(&path)
        .setup(TableSetup::VerifyOnly)
        .open()
        .await
        .unwrap();
    assert!(store.load("alice").await.unwrap().is_none());
}

#[tokio::test]
async fn sqlite_refuses_a_table_whose_name_differs_only_in_case() {
    let path = temp_dir().join("case.db");
    let first = SqliteStore::builder(&path)
        .table_name(name("CaseTable"))
        .open()
        .await
        .unwrap();
    for setup in [TableSetup::CreateIfMissing, TableSetup::VerifyOnly] {
        let error = SqliteStore::builder(&path)
            .table_name(name("casetable"))
            .setup(setup)
            .open()
            .await
            .unwrap_err();
        assert!(
            matches!(
                &error,
                Error::Table { problem: TableProblem::NameCase { existing }, .. }
                    if existing == "CaseTable"
            ),
            "{error}"
        );
    }
    // The same name again is the same table, and fine.
    let again = SqliteStore::builder(&path)
        .table_name(name("CaseTable"))
        .open()
        .await
        .unwrap();
    let _ = again
        .save("u", &twofa::account::TwoFactorRecord::new(), None)
        .await
        .unwrap();
    assert!(first.load("u").await.unwrap().is_some());
}

/// Tables a store must refuse, each with the problem it must name.
fn sqlite_bad_tables() -> Vec<(&'static str, TableProblem)> {
    vec![
        (
            "user_id TEXT COLLATE NOCASE PRIMARY KEY NOT NULL, record TEXT NOT NULL, \
             version INTEGER NOT NULL",
            TableProblem::Collation {
                found: "NOCASE".into(),
            },
        ),
        (
            "user_id TEXT PRIMARY KEY NOT NULL, record TEXT NOT NULL",
            TableProblem::MissingColumn { column: "version" },
        ),
        (
            "user_id TEXT PRIMARY KEY NOT NULL, record TEXT, version INTEGER NOT NULL",
            TableProblem::Nullable { column: "record" },
        ),
        (
            "user_id TEXT NOT NULL, record TEXT NOT NULL, version INTEGER NOT NULL",
            TableProblem::PrimaryKey,
        ),
        (
            "user_id TEXT, record TEXT NOT NULL, version INTEGER NOT NULL, \
             PRIMARY KEY (user_id, version)",
            TableProblem::PrimaryKey,
        ),
        (
            "user_id TEXT PRIMARY KEY NOT NULL, record BLOB NOT NULL, version INTEGER NOT NULL",
            TableProblem::ColumnType {
                column: "record",
                expected: "TEXT",
                found: "BLOB".into(),
            },
        ),
    ]
}

#[tokio::test]
async fn sqlite_refuses_a_table_of_the_wrong_shape_and_says_what_is_wrong() {
    let path = temp_dir().join("shapes.db");
    let pool = sqlite_pool(&path).await;
    for (i, (columns, problem)) in sqlite_bad_tables().into_iter().enumerate() {
        let table = format!("bad_{i}");
        sqlx::query(AssertSqlSafe(format!("CREATE TABLE {table} ({columns})")))
            .execute(&pool)
            .await
            .unwrap();
        for setup in [TableSetup::CreateIfMissing, TableSetup::VerifyOnly] {
            let error = SqliteStore::builder_with_pool(pool.clone())
                .table_name(name(&table))
                .setup(setup)
                .open()
                .await
                .unwrap_err();
            match error {
                Error::Table {
                    table: ref t,
                    problem: ref p,
                } if *t == table && *p == problem => {}
                other => panic!("{columns}: {other:?}"),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// PostgreSQL.

async fn admin_pool(url: &str) -> PgPool {
    PgPoolOptions::new()
        .max_connections(2)
        .connect(url)
        .await
        .unwrap()
}

#[tokio::test]
async fn postgres_refuses_a_table_of_the_wrong_shape_and_says_what_is_wrong() {
    let Some(url) = postgres_url() else { return };
    let pool = admin_pool(&url).await;
    let cases = [
        (
            "user_id TEXT PRIMARY KEY, record TEXT NOT NULL, version BIGINT NOT NULL",
            TableProblem::Collation {
                found: "default".into(),
            },
        ),
        (
            "user_id VARCHAR(64) COLLATE \"C\" PRIMARY KEY, record TEXT NOT NULL, \
             version BIGINT NOT NULL",
            TableProblem::ColumnType {
                column: "user_id",
                expected: "text",
                found: "character varying(64)".into(),
            },
        ),
        (
            "user_id TEXT COLLATE \"C\" PRIMARY KEY, record TEXT NOT NULL, \
             version INTEGER NOT NULL",
            TableProblem::ColumnType {
                column: "version",
                expected: "bigint",
                found: "integer".into(),
            },
        ),
        (
            "user_id TEXT COLLATE \"C\" NOT NULL, record TEXT NOT NULL, version BIGINT NOT NULL",
            TableProblem::PrimaryKey,
        ),
        (
            "user_id TEXT COLLATE \"C\" PRIMARY KEY, record TEXT, version BIGINT NOT NULL",
            TableProblem::Nullable { column: "record" },
        ),
    ];
    for (columns, problem) in cases {
        let table = unique_name("twofa_bad");
        sqlx::query(AssertSqlSafe(format!(
            "CREATE TABLE \"{table}\" ({columns})"
        )))
        .execute(&pool)
        .await
        .unwrap();
        let error = PostgresStore::builder_with_pool(pool.clone())
            .table_name(name(&table))
            .connect()
            .await;
        match error {
            Err(Error::Table {
                table: ref t,
                problem: ref p,
            }) if *t == table && *p == problem => {}
            other => panic!("{columns}: {other:?}"),
        }
    }
    let missing = PostgresStore::builder_with_pool(pool.clone())
        .table_name(name(&unique_name("twofa_missing")))
        .setup(TableSetup::VerifyOnly)
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(
        missing,
        Error::Table {
            problem: TableProblem::Missing,
            ..
        }
    ));
}

#[tokio::test]
async fn postgres_table_names_are_case_sensitive() {
    let Some(url) = postgres_url() else { return };
    let pool = admin_pool(&url).await;
    let base = unique_name("Twofa_case");
    let upper = PostgresStore::builder_with_pool(pool.clone())
        .table_name(name(&base))
        .connect()
        .await
        .unwrap();
    let lower = PostgresStore::builder_with_pool(pool.clone())
        .table_name(name(&base.to_lowercase()))
        .connect()
        .await
        .unwrap();
    let _ = upper
        .save("u", &twofa::account::TwoFactorRecord::new(), None)
        .await
        .unwrap();
    assert!(lower.load("u").await.unwrap().is_none());
}

/// A role that may only `SELECT, INSERT, UPDATE, DELETE` on one existing table: it connects
/// with either setup, runs the whole conformance kit (deletion included), and without the
/// table gets a clear error instead of a half-made store.
#[tokio::test]
async fn a_role_with_only_row_rights_on_the_table_uses_it() {
    let Some(url) = postgres_url() else { return };
    let admin = admin_pool(&url).await;
    let table = unique_name("twofa_lp");
    let role = unique_name("twofa_app").to_lowercase();
    let _ = PostgresStore::builder_with_pool(admin.clone())
        .table_name(name(&table))
        .connect()
        .await
        .unwrap();
    for statement in [
        format!("CREATE ROLE {role} LOGIN"),
        format!("REVOKE ALL ON SCHEMA public FROM {role}"),
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC".to_owned(),
        format!("GRANT USAGE ON SCHEMA public TO {role}"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON \"{table}\" TO {role}"),
    ] {
        sqlx::query(AssertSqlSafe(statement))
            .execute(&admin)
            .await
            .unwrap();
    }
    let app_url = url.replacen("postgres@", &format!("{role}@"), 1);
    assert_ne!(app_url, url);

    // What the old `connect` ran fails for this role, so the test means something.
    let app_pool = admin_pool(&app_url).await;
    let ddl = format!(
        "CREATE TABLE IF NOT EXISTS \"{table}\" (user_id TEXT COLLATE \"C\" PRIMARY KEY, \
         record TEXT NOT NULL, version BIGINT NOT NULL)"
    );
    let denied = sqlx::query(AssertSqlSafe(ddl))
        .execute(&app_pool)
        .await
        .unwrap_err();
    assert_eq!(
        denied.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("42501"),
        "{denied}"
    );

    for setup in [TableSetup::CreateIfMissing, TableSetup::VerifyOnly] {
        let store = PostgresStore::builder(&app_url)
            .table_name(name(&table))
            .setup(setup)
            .connect()
            .await
            .unwrap();
        if setup == TableSetup::VerifyOnly {
            check_store(&store).await.unwrap();
        }
    }

    // A role that may only read gets the database's refusal, never a conflict (which the
    // service would retry until it gave up) nor a success.
    let reader = unique_name("twofa_reader").to_lowercase();
    for statement in [
        format!("CREATE ROLE {reader} LOGIN"),
        format!("GRANT USAGE ON SCHEMA public TO {reader}"),
        format!("GRANT SELECT ON \"{table}\" TO {reader}"),
    ] {
        sqlx::query(AssertSqlSafe(statement))
            .execute(&admin)
            .await
            .unwrap();
    }
    let reader_url = url.replacen("postgres@", &format!("{reader}@"), 1);
    let reader_store = PostgresStore::builder_with_pool(admin_pool(&reader_url).await)
        .table_name(name(&table))
        .setup(TableSetup::VerifyOnly)
        .connect()
        .await
        .unwrap();
    let record = twofa::account::TwoFactorRecord::new();
    let denied = |result: Result<_, Error>| match result {
        Err(Error::Database(e)) => {
            e.as_database_error().and_then(|d| d.code()).as_deref() == Some("42501")
        }
        _ => false,
    };
    assert!(denied(
        reader_store.save("r", &record, None).await.map(|_| ())
    ));
    assert!(denied(
        reader_store.save("r", &record, Some(1)).await.map(|_| ())
    ));
    assert!(denied(reader_store.delete("r").await.map(|_| ())));

    // No table: the role cannot create one; a clear error either way.
    let absent = name(&unique_name("twofa_absent"));
    let error = PostgresStore::builder(&app_url)
        .table_name(absent.clone())
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Database(e) if e.as_database_error().and_then(|d| d.code()).as_deref() == Some("42501")),
        "{error}"
    );
    let error = PostgresStore::builder(&app_url)
        .table_name(absent)
        .setup(TableSetup::VerifyOnly)
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        Error::Table {
            problem: TableProblem::Missing,
            ..
        }
    ));
}
