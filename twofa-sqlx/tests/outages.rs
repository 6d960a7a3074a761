//! A database that is down, refuses us, hangs or stays locked: each request fails within its
//! deadline, whatever the retries, with an error that names the cause.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers: fail loudly

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::*;
use sqlx::postgres::PgPoolOptions;
use twofa::account::TwoFactorRecord;
use twofa::store::{ServiceError, Store};
use twofa_sqlx::{Error, Outage, PostgresStore, SqliteStore, TableSetup};

/// A loopback port nothing listens on (bound, then let go).
fn dead_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn outage(error: &Error) -> Option<Outage> {
    match error {
        Error::Unavailable { outage, .. } => Some(*outage),
        _ => None,
    }
}

#[tokio::test]
async fn connecting_to_a_port_nothing_listens_on_is_refused_at_once() {
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", dead_port());
    let started = Instant::now();
    let error = PostgresStore::connect(&url).await.unwrap_err();
    assert_eq!(outage(&error), Some(Outage::Refused), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(error.to_string().contains("connection refused"), "{error}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_within_the_connect_timeout() {
    // Accepts connections and then says nothing.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let started = Instant::now();
    let error = PostgresStore::builder(&url)
        .connect_timeout(Duration::from_millis(800))
        .connect()
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(outage(&error), Some(Outage::TimedOut), "{error}");
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_secs(3),
        "{took:?}"
    );
    hold.abort();
}

#[tokio::test]
async fn a_wrong_password_is_an_authentication_error() {
    let Some(url) = postgres_url() else { return };
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    // `.ci/postgres` makes this one role give a password.
    sqlx::query(
        "DO $$ BEGIN \
           IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'twofa_password') THEN \
             CREATE ROLE twofa_password LOGIN PASSWORD 'right'; \
           END IF; \
         END $$",
    )
    .execute(&admin)
    .await
    .unwrap();
    let as_role =
        |password: &str| url.replacen("postgres@", &format!("twofa_password:{password}@"), 1);
    let started = Instant::now();
    let error = PostgresStore::builder(&as_role("wrong"))
        .setup(TableSetup::VerifyOnly)
        .connect()
        .await
        .unwrap_err();
    assert_eq!(outage(&error), Some(Outage::Authentication), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // The right one gets through (to a missing table), so the password was what failed.
    let missing = twofa_sqlx::TableName::new(&unique_name("twofa_absent")).unwrap();
    let error = PostgresStore::builder(&as_role("right"))
        .table_name(missing)
        .setup(TableSetup::VerifyOnly)
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Table { .. }), "{error}");
}

#[tokio::test]
async fn a_request_while_the_server_is_down_fails_fast_and_says_it_was_refused() {
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", dead_port());
    // A store whose server went away after it started.
    let pool = PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy(&url)
        .unwrap();
    let tf = service(PostgresStore::new(pool), T0);
    let started = Instant::now();
    let error = tf.verify_code("alice", "123456").await.unwrap_err();
    let took = started.elapsed();
    match &error {
        ServiceError::Store(e) => assert_eq!(outage(e), Some(Outage::Refused), "{e}"),
        other => panic!("{other}"),
    }
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test]
async fn a_request_waiting_for_a_connection_ends_at_its_deadline() {
    let Some(url) = postgres_url() else { return };
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(60))
        .connect(&url)
        .await
        .unwrap();
    let store = PostgresStore::builder_with_pool(pool.clone())
        .table_name(twofa_sqlx::TableName::new(&unique_name("twofa_deadline")).unwrap())
        .request_timeout(Duration::from_millis(600))
        .connect()
        .await
        .unwrap();
    let held = pool.acquire().await.unwrap(); // every connection busy
    let started = Instant::now();
    let error = store.load("alice").await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(outage(&error), Some(Outage::TimedOut), "{error}");
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(3),
        "{took:?}"
    );
    drop(held);
    assert!(store.load("alice").await.unwrap().is_none());
}

#[tokio::test]
async fn a_sign_in_waits_for_the_sqlite_lock_once_not_once_per_retry() {
    let path = temp_dir().join("locked.db");
    let store = SqliteStore::builder_with(
        SqliteStore::connect_options(&path).busy_timeout(Duration::from_millis(300)),
    )
    .open()
    .await
    .unwrap();
    let (app, _) = enable(&store, "alice").await;
    let holder = hold_write_lock(&path, Duration::from_secs(4)).await;
    // 1000 retries: were a busy lock a conflict, this would wait 300 ms a thousand times.
    let tf = service(&store, T0 + 30);
    let started = Instant::now();
    let error = tf
        .verify_code("alice", &app.generate(T0 + 30).to_string())
        .await
        .unwrap_err();
    let took = started.elapsed();
    match &error {
        ServiceError::Store(e) => assert_eq!(outage(e), Some(Outage::Busy), "{e}"),
        other => panic!("{other}"),
    }
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    holder.await.unwrap();
    // Nothing was written: the code still signs in once the lock is free.
    assert!(
        tf.verify_code("alice", &app.generate(T0 + 30).to_string())
            .await
            .unwrap()
            .result
            .is_ok()
    );
}

#[tokio::test]
async fn a_sqlite_request_ends_at_its_deadline_even_with_a_long_busy_timeout() {
    let path = temp_dir().join("slow.db");
    let store = SqliteStore::builder_with(
        SqliteStore::connect_options(&path).busy_timeout(Duration::from_secs(30)),
    )
    .request_timeout(Duration::from_millis(600))
    .open()
    .await
    .unwrap();
    let holder = hold_write_lock(&path, Duration::from_secs(3)).await;
    let started = Instant::now();
    let error = store
        .save("bob", &TwoFactorRecord::new(), None)
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(outage(&error), Some(Outage::TimedOut), "{error}");
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(2),
        "{took:?}"
    );
    holder.await.unwrap();
}

#[test]
fn pools_wait_seconds_for_a_connection_not_sqlx_s_thirty() {
    assert_eq!(
        SqliteStore::default_pool_options().get_acquire_timeout(),
        SqliteStore::CONNECT_TIMEOUT
    );
    assert_eq!(
        PostgresStore::default_pool_options().get_acquire_timeout(),
        PostgresStore::CONNECT_TIMEOUT
    );
    assert!(SqliteStore::CONNECT_TIMEOUT <= Duration::from_secs(5));
    assert!(SqliteStore::BUSY_TIMEOUT < SqliteStore::REQUEST_TIMEOUT);
    assert!(PostgresStore::CONNECT_TIMEOUT < PostgresStore::REQUEST_TIMEOUT);
}
