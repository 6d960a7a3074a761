//! Both stores against twofa's conformance kit, and what each store adds: migrations, table
//! names, failing closed on bad rows, and SQLite's behaviour under a busy writer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers: fail loudly

mod common;

use std::time::Duration;

use common::*;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::SqlitePoolOptions;
use twofa::account::TwoFactorRecord;
use twofa::store::conformance::check_store;
use twofa::store::{SaveOutcome, ServiceError, Store};
use twofa_sqlx::{Error, PostgresStore, SqliteStore, TableName};

#[tokio::test]
async fn sqlite_on_a_file_passes_the_conformance_kit() {
    check_store(&sqlite_file_store().await).await.unwrap();
}

#[tokio::test]
async fn sqlite_in_memory_passes_the_conformance_kit() {
    check_store(&SqliteStore::open_in_memory().await.unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn postgres_passes_the_conformance_kit() {
    let Some(store) = postgres_store().await else {
        return;
    };
    check_store(&store).await.unwrap();
}

#[tokio::test]
async fn postgres_passes_the_conformance_kit_under_stricter_isolation_levels() {
    let Some(url) = postgres_url() else { return };
    for level in ["repeatable read", "serializable"] {
        let options: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options.options([("default_transaction_isolation", level)]))
            .await
            .unwrap();
        let level_seen: String = sqlx::query_scalar("SHOW transaction_isolation")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(level_seen, level);
        let store = PostgresStore::builder_with_pool(pool)
            .table_name(TableName::new(&unique_name("twofa_iso")).unwrap())
            .connect()
            .await
            .unwrap();
        check_store(&store)
            .await
            .unwrap_or_else(|e| panic!("{level}: {e}"));
    }
}

#[tokio::test]
async fn sqlite_open_creates_the_file_in_wal_mode_and_migrate_is_idempotent() {
    let path = temp_dir().join("new.db");
    assert!(!path.exists());
    let store = SqliteStore::open(&path).await.unwrap();
    assert!(path.exists());
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let timeout: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(timeout, 4_000);
    let _ = store
        .save("u", &TwoFactorRecord::new(), None)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    drop(store);
    let reopened = SqliteStore::open(&path).await.unwrap();
    assert_eq!(reopened.load("u").await.unwrap().unwrap().version, 1);
}

#[tokio::test]
async fn postgres_migrate_is_idempotent_also_when_servers_start_at_once() {
    let Some(store) = postgres_store().await else {
        return;
    };
    let _ = store
        .save("u", &TwoFactorRecord::new(), None)
        .await
        .unwrap();
    let clones: Vec<_> = (0..4).map(|_| store.clone()).collect();
    let handles: Vec<_> = clones
        .into_iter()
        .map(|s| tokio::spawn(async move { s.migrate().await }))
        .collect();
    for handle in handles {
        handle.await.unwrap().unwrap();
    }
    assert_eq!(store.load("u").await.unwrap().unwrap().version, 1);
    // A brand-new table, created by several at once.
    let fresh = TableName::new(&unique_name("twofa_race")).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let builder =
                PostgresStore::builder_with_pool(store.pool().clone()).table_name(fresh.clone());
            tokio::spawn(builder.connect())
        })
        .collect();
    for handle in handles {
        handle.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn tables_are_separate() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    let other = SqliteStore::builder_with_pool(store.pool().clone())
        .table_name(TableName::new("other_2fa").unwrap())
        .open()
        .await
        .unwrap();
    assert_eq!(other.table_name().as_str(), "other_2fa");
    let _ = other
        .save("u", &TwoFactorRecord::new(), None)
        .await
        .unwrap();
    assert!(store.load("u").await.unwrap().is_none());
    assert!(other.load("u").await.unwrap().is_some());
}

/// Writes a row behind the store's back.
async fn plant_sqlite(store: &SqliteStore, user: &str, record: &str, version: i64) {
    sqlx::query("INSERT INTO two_factor (user_id, record, version) VALUES (?1, ?2, ?3)")
        .bind(user)
        .bind(record)
        .bind(version)
        .execute(store.pool())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_row_that_does_not_decode_fails_closed_never_as_no_record() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    let (_, _) = enable(&store, "alice").await;
    plant_sqlite(&store, "mallory", "not a record", 1).await;
    plant_sqlite(&store, "trudy", &TwoFactorRecord::new().encode(), -1).await;
    assert!(matches!(
        store.load("mallory").await,
        Err(Error::Record { ref user_id, .. }) if user_id == "mallory"
    ));
    assert!(matches!(
        store.load("trudy").await,
        Err(Error::Version { version: -1, .. })
    ));
    // The service refuses the flow rather than treating the user as without 2FA.
    let tf = service(&store, T0 + 60);
    assert!(matches!(
        tf.verify_code("mallory", "123456").await,
        Err(ServiceError::Store(Error::Record { .. }))
    ));
    assert!(matches!(
        tf.start_enrollment("mallory", None, "m@example.com").await,
        Err(ServiceError::Store(Error::Record { .. }))
    ));

    let Some(pg) = postgres_store().await else {
        return;
    };
    let insert = format!(
        "INSERT INTO \"{}\" (user_id, record, version) VALUES ($1, $2, $3)",
        pg.table_name()
    );
    sqlx::query(sqlx::AssertSqlSafe(insert))
        .bind("mallory")
        .bind("twofa-but-garbage")
        .bind(1_i64)
        .execute(pg.pool())
        .await
        .unwrap();
    assert!(matches!(
        pg.load("mallory").await,
        Err(Error::Record { .. })
    ));
}

#[tokio::test]
async fn database_errors_are_typed_and_their_source_is_the_sqlx_error() {
    // A store over a pool whose database has no table: nothing checked it.
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .unwrap();
    let store = SqliteStore::new(pool);
    let error = store.load("u").await.unwrap_err();
    assert!(matches!(error, Error::Database(sqlx::Error::Database(_))));
    let source = std::error::Error::source(&error).unwrap();
    assert!(source.downcast_ref::<sqlx::Error>().is_some());
}

#[tokio::test]
async fn a_sign_in_waits_for_another_writer_instead_of_failing_with_database_is_locked() {
    let dir = temp_dir();
    let path = dir.join("busy.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let (app, _) = enable(&store, "alice").await;
    let holder = hold_write_lock(&path, Duration::from_millis(700)).await;
    let started = std::time::Instant::now();
    let tf = service(&store, T0 + 30);
    let signed_in = tf
        .verify_code("alice", &app.generate(T0 + 30).to_string())
        .await
        .unwrap();
    assert!(signed_in.result.is_ok());
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "it did wait"
    );
    holder.await.unwrap();
}

/// Ids the core refuses, and ids it accepts at the edges.
fn edge_ids() -> Vec<String> {
    vec![
        String::new(),
        "x".repeat(255),
        "x".repeat(256),
        "\u{e9}".repeat(128), // 256 bytes
        "nul\0".into(),
        "tab\there".into(),
        "newline\n".into(),
        "del\u{7f}".into(),
        "c1\u{85}".into(),
        " ".into(),
        "ok@example.com".into(),
    ]
}

async fn ids_are_checked_as_the_core_checks_them<S: Store<Error = Error>>(store: &S) {
    let record = TwoFactorRecord::new();
    for id in edge_ids() {
        let core_accepts = twofa::account::check_user_id(&id).is_ok();
        let saved = store.save(&id, &record, None).await;
        let loaded = store.load(&id).await;
        let deleted = store.delete(&id).await;
        if core_accepts {
            assert_eq!(saved.unwrap(), SaveOutcome::Saved, "{id:?}");
            assert!(loaded.unwrap().is_some(), "{id:?}");
            assert!(deleted.unwrap(), "{id:?}");
        } else {
            assert!(matches!(saved, Err(Error::InvalidUserId)), "{id:?}");
            assert!(matches!(loaded, Err(Error::InvalidUserId)), "{id:?}");
            assert!(matches!(deleted, Err(Error::InvalidUserId)), "{id:?}");
        }
    }
}

#[tokio::test]
async fn both_stores_refuse_the_ids_the_core_refuses_and_write_nothing() {
    let sqlite = SqliteStore::open_in_memory().await.unwrap();
    ids_are_checked_as_the_core_checks_them(&sqlite).await;
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM two_factor WHERE user_id <> ''")
        .fetch_one(sqlite.pool())
        .await
        .unwrap();
    assert_eq!(rows, 0);
    let Some(pg) = postgres_store().await else {
        return;
    };
    ids_are_checked_as_the_core_checks_them(&pg).await;
    let count = format!(
        "SELECT COUNT(*) FROM \"{}\" WHERE user_id <> ''",
        pg.table_name()
    );
    let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count))
        .fetch_one(pg.pool())
        .await
        .unwrap();
    assert_eq!(rows, 0);
}

/// A deletion racing a fresh enrolment and a request that loaded the record before it: the
/// stale request never wins, whichever way the race goes.
async fn deletion_races<S: twofa_sqlx::ListUsers<Error = Error> + Clone + 'static>(store: S) {
    let user = "racer";
    let record = TwoFactorRecord::new();
    for round in 0..40 {
        let _ = store.save(user, &record, None).await.unwrap();
        let stale = store.load(user).await.unwrap().unwrap();
        let (deleter, inserter) = (store.clone(), store.clone());
        let delete = tokio::spawn(async move { deleter.delete(user).await.unwrap() });
        let insert = tokio::spawn(async move {
            inserter
                .save(user, &TwoFactorRecord::new(), None)
                .await
                .unwrap()
        });
        assert!(delete.await.unwrap(), "round {round}");
        let inserted = insert.await.unwrap();
        // Whichever came first, the stale save is refused.
        assert_eq!(
            store
                .save(user, &stale.record, Some(stale.version))
                .await
                .unwrap(),
            SaveOutcome::Conflict,
            "round {round}: inserted {inserted:?}"
        );
        if let Some(now) = store.load(user).await.unwrap() {
            assert!(now.version > stale.version, "round {round}");
        }
        let _ = store.delete(user).await.unwrap();
    }
    // The high-water mark is no user.
    assert!(store.user_ids_after("", 10).await.unwrap().is_empty());
    assert_eq!(store.count_users_after("").await.unwrap(), 0);
}

#[tokio::test]
async fn sqlite_a_request_in_flight_never_writes_a_deleted_record_back() {
    deletion_races(sqlite_file_store().await).await;
}

#[tokio::test]
async fn postgres_a_request_in_flight_never_writes_a_deleted_record_back() {
    if let Some(store) = postgres_store().await {
        deletion_races(store).await;
    }
}

#[tokio::test]
async fn delete_record_erases_the_row() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    let _ = enable(&store, "alice").await;
    let tf = service(&store, T0 + 30);
    assert!(tf.delete_record("alice").await.unwrap());
    let left: Vec<String> = sqlx::query_scalar("SELECT user_id FROM two_factor")
        .fetch_all(store.pool())
        .await
        .unwrap();
    // Only the high-water mark, which names nobody.
    assert_eq!(left, [""]);
    let mark: (String, i64) = sqlx::query_as("SELECT record, version FROM two_factor")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(mark, (String::new(), 2));
}

#[tokio::test]
async fn postgres_setup_adds_the_high_water_mark_before_any_deletion() {
    let Some(store) = postgres_store().await else {
        return;
    };
    let mark = format!(
        "SELECT record, version FROM \"{}\" WHERE user_id = ''",
        store.table_name()
    );
    let row: (String, i64) = sqlx::query_as(sqlx::AssertSqlSafe(mark))
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(row, (String::new(), 0));
    assert_eq!(
        twofa_sqlx::ListUsers::count_users_after(&store, "")
            .await
            .unwrap(),
        0
    );
}

/// A store whose sessions run under REPEATABLE READ, and a connection of the test's own.
async fn repeatable_read() -> Option<(PostgresStore, sqlx::PgPool)> {
    let url = postgres_url()?;
    let options: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(options.options([("default_transaction_isolation", "repeatable read")]))
        .await
        .unwrap();
    let store = PostgresStore::builder_with_pool(pool)
        .table_name(TableName::new(&unique_name("twofa_rr")).unwrap())
        .connect()
        .await
        .unwrap();
    let other = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    Some((store, other))
}

/// Starts a transaction on `other` that updates `user`'s row and holds it until the returned
/// sender fires, then commits.
async fn hold_row(
    other: &sqlx::PgPool,
    table: &TableName,
    user: &str,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let mut tx = other.begin().await.unwrap();
    let touch = format!("UPDATE \"{table}\" SET version = version + 1 WHERE user_id = $1");
    sqlx::query(sqlx::AssertSqlSafe(touch))
        .bind(user.to_owned())
        .execute(&mut *tx)
        .await
        .unwrap();
    let (release, released) = tokio::sync::oneshot::channel();
    let holder = tokio::spawn(async move {
        let _ = released.await;
        tx.commit().await.unwrap();
    });
    (release, holder)
}

#[tokio::test]
async fn postgres_a_save_that_loses_to_a_concurrent_update_is_a_conflict_under_repeatable_read() {
    let Some((store, other)) = repeatable_read().await else {
        return;
    };
    let _ = store
        .save("alice", &TwoFactorRecord::new(), None)
        .await
        .unwrap();
    let loaded = store.load("alice").await.unwrap().unwrap();
    let (release, holder) = hold_row(&other, store.table_name(), "alice").await;
    // The save starts (its snapshot has the old row), waits for the other writer's lock,
    // and then fails with a serialization failure: a conflict, nothing written.
    let saving = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .save("alice", &loaded.record, Some(loaded.version))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    release.send(()).unwrap();
    holder.await.unwrap();
    assert_eq!(saving.await.unwrap().unwrap(), SaveOutcome::Conflict);
    assert_eq!(store.load("alice").await.unwrap().unwrap().version, 2);
}

#[tokio::test]
async fn postgres_a_deletion_that_loses_to_a_concurrent_update_runs_again() {
    let Some((store, other)) = repeatable_read().await else {
        return;
    };
    let _ = store
        .save("alice", &TwoFactorRecord::new(), None)
        .await
        .unwrap();
    let (release, holder) = hold_row(&other, store.table_name(), "alice").await;
    let deleting = {
        let store = store.clone();
        tokio::spawn(async move { store.delete("alice").await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    release.send(()).unwrap();
    holder.await.unwrap();
    assert!(deleting.await.unwrap().unwrap());
    assert!(store.load("alice").await.unwrap().is_none());
    // The mark took the version the other writer left (2), not the one first seen.
    let _ = store
        .save("alice", &TwoFactorRecord::new(), None)
        .await
        .unwrap();
    assert_eq!(store.load("alice").await.unwrap().unwrap().version, 3);
}
