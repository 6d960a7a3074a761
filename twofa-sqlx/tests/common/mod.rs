//! Helpers shared by the twofa-sqlx integration tests.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: fail loudly

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::postgres::PgPoolOptions;
use twofa::account::{Settings, ThrottlePolicy};
use twofa::seal::AesGcmSealer;
use twofa::store::{Store, TwoFactor};
use twofa::{Pbkdf2Hasher, Totp};
use twofa_sqlx::{PostgresStore, SqliteStore, TableName};

/// The environment variable with the test server's URL (`.ci/postgres start` prints it).
pub const POSTGRES_URL: &str = "TWOFA_TEST_POSTGRES_URL";

/// The test server's URL; without one, a note and `None` on a developer's machine, and a
/// failure under CI (where `.ci/run` starts the server), so a PostgreSQL test never passes
/// by not running.
pub fn postgres_url() -> Option<String> {
    match std::env::var(POSTGRES_URL) {
        Ok(url) => Some(url),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{POSTGRES_URL} is required under CI; `.ci/run` starts the server \
                 (or run `eval \"$(.ci/postgres start)\"`)"
            );
            eprintln!(
                "skipping the PostgreSQL part: {POSTGRES_URL} is not set \
                 (run `eval \"$(.ci/postgres start)\"` first)"
            );
            None
        }
    }
}

/// A name no other test (or earlier run against the same server) has used.
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

/// A PostgreSQL store on a table of its own, or `None` (see [`postgres_url`]).
pub async fn postgres_store() -> Option<PostgresStore> {
    let url = postgres_url()?;
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .connect(&url)
        .await
        .unwrap();
    let store = PostgresStore::builder_with_pool(pool)
        .table_name(TableName::new(&unique_name("twofa_test")).unwrap())
        .connect()
        .await
        .unwrap();
    Some(store)
}

/// A fresh directory under the system's temporary directory.
pub fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(unique_name("twofa-sqlx-test"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A SQLite store on a new file.
pub async fn sqlite_file_store() -> SqliteStore {
    SqliteStore::open(temp_dir().join("twofa.db"))
        .await
        .unwrap()
}

/// A fixed time, so that every process computes the same codes.
pub const T0: u64 = 1_700_000_000;

/// The sealing key the tests use.
pub const KEY: [u8; 32] = [7; 32];

/// Settings for the tests; `free` failures before the throttle starts.
pub fn settings() -> Settings {
    Settings::new("twofa-sqlx tests")
        .unwrap()
        .allow_enrollment_without_reauthentication()
}

/// A service over `store` at a fixed time, with cheap recovery-code hashing.
pub fn service<S: Store>(store: S, now: u64) -> TwoFactor<S> {
    service_with(store, now, settings())
}

/// As [`service`], with `settings`.
pub fn service_with<S: Store>(store: S, now: u64, settings: Settings) -> TwoFactor<S> {
    TwoFactor::new(
        store,
        settings,
        Arc::new(AesGcmSealer::new("k1", &KEY).unwrap()),
        Arc::new(Pbkdf2Hasher::new().danger_with_iterations(10).unwrap()),
    )
    .with_clock(Arc::new(move || now))
    .with_max_retries(1000)
}

/// The throttle policy of the test settings.
pub fn throttle(settings: &Settings) -> ThrottlePolicy {
    *settings.throttle_policy()
}

/// Enables 2FA for `user` at [`T0`]: the user's authenticator and recovery codes.
pub async fn enable<S: Store>(store: S, user: &str) -> (Totp, Vec<String>)
where
    S::Error: std::fmt::Debug,
{
    let tf = service(store, T0);
    let enrollment = tf
        .start_enrollment(user, None, "someone@example.com")
        .await
        .unwrap()
        .result
        .unwrap();
    let app = enrollment.uri().to_totp().unwrap();
    let codes = tf
        .confirm_enrollment(user, &app.generate(T0).to_string())
        .await
        .unwrap()
        .result
        .unwrap();
    let codes = codes.iter().map(|c| c.to_string()).collect();
    (app, codes)
}

/// Holds SQLite's write lock on `path` from another connection for `hold`.
pub async fn hold_write_lock(
    path: &std::path::Path,
    hold: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(SqliteStore::connect_options(path))
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *conn)
        .await
        .unwrap();
    tokio::spawn(async move {
        tokio::time::sleep(hold).await;
        sqlx::query("COMMIT").execute(&mut *conn).await.unwrap();
    })
}
