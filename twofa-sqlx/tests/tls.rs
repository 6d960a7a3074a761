//! TLS: a connection to another machine without TLS is refused before it is made, unless the
//! URL or a `danger_` option says otherwise; with a `tls-rustls-*` feature, `verify-full`
//! works against the test server's self-signed certificate and refuses a wrong host name.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers: fail loudly

mod common;

use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use twofa_sqlx::{Error, Outage, PostgresStore};

#[tokio::test]
async fn a_plaintext_connection_to_another_machine_is_refused_before_connecting() {
    for url in [
        "postgres://app@db.example.com/app",
        "postgres://app@db.example.com/app?sslmode=prefer",
        "postgres://app@db.example.com/app?sslmode=allow",
        "postgres://app@db.example.com/app?sslmode=disable",
        "postgres://app:secret@10.1.2.3:5432/app",
        "postgres://app@[2001:db8::1]/app",
        "postgres://app@localhost.example.com/app",
    ] {
        let started = Instant::now();
        let error = PostgresStore::connect(url).await.unwrap_err();
        assert!(
            matches!(&error, Error::PlaintextToRemoteHost { .. }),
            "{url}: {error}"
        );
        // Refused before any name lookup or connection.
        assert!(started.elapsed() < Duration::from_millis(200), "{url}");
        assert!(error.to_string().contains("sslmode=verify-full"), "{error}");
        assert!(!error.to_string().contains("secret"), "{error}");
    }
    // Also with sqlx's options, and with a pool made elsewhere.
    let options = PgConnectOptions::new()
        .host("db.example.com")
        .ssl_mode(PgSslMode::Prefer);
    let error = PostgresStore::builder_with(options.clone())
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::PlaintextToRemoteHost { ref host } if host == "db.example.com"));
    let pool = PgPoolOptions::new().connect_lazy_with(options);
    let error = PostgresStore::builder_with_pool(pool.clone())
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::PlaintextToRemoteHost { .. }));
    assert!(!pool.is_closed(), "a pool the caller made is left open");
}

/// What connecting to `url` fails with, quickly (the host does not answer).
async fn connecting(builder: twofa_sqlx::PostgresStoreBuilder) -> Error {
    builder
        .connect_timeout(Duration::from_millis(300))
        .connect()
        .await
        .unwrap_err()
}

#[tokio::test]
async fn tls_in_the_url_or_the_danger_option_lets_the_connection_be_tried() {
    // 192.0.2.1 is TEST-NET-1: nothing answers, so each attempt ends as an outage, which
    // shows that the transport check let it through.
    for url in [
        "postgres://app@192.0.2.1/app?sslmode=verify-full",
        "postgres://app@192.0.2.1/app?sslmode=verify-ca",
        "postgres://app@192.0.2.1/app?sslmode=require",
    ] {
        let error = connecting(PostgresStore::builder(url)).await;
        assert!(matches!(error, Error::Unavailable { .. }), "{url}: {error}");
    }
    let error = connecting(
        PostgresStore::builder("postgres://app@192.0.2.1/app")
            .danger_allow_plaintext_to_remote_host(),
    )
    .await;
    assert!(matches!(error, Error::Unavailable { .. }), "{error}");
    // This machine needs no TLS: loopback addresses, `localhost`, a Unix socket.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for url in [
        format!("postgres://app@127.0.0.1:{port}/app"),
        format!("postgres://app@127.8.9.10:{port}/app"),
        format!("postgres://app@localhost:{port}/app"),
        format!("postgres://app@[::1]:{port}/app"),
        format!("postgres:///app?host=/nonexistent-twofa-socket-dir&port={port}"),
    ] {
        let error = connecting(PostgresStore::builder(&url)).await;
        assert!(matches!(error, Error::Unavailable { .. }), "{url}: {error}");
    }
}

/// The test server's certificate (`.ci/postgres` makes one for `localhost`).
#[cfg(feature = "tls-rustls-ring")]
fn certificate() -> Option<String> {
    common::postgres_url()?;
    Some(std::env::var("TWOFA_TEST_POSTGRES_CA").expect("`.ci/postgres start` prints it"))
}

#[cfg(feature = "tls-rustls-ring")]
#[tokio::test]
async fn verify_full_connects_to_the_right_host_and_refuses_a_wrong_one() {
    use twofa::store::Store;

    let Some(ca) = certificate() else { return };
    let url = common::postgres_url().unwrap();
    let port = url
        .rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let at = |host: &str, root: Option<&str>| {
        let mut url = format!("postgres://postgres@{host}:{port}/postgres?sslmode=verify-full");
        if let Some(root) = root {
            url.push_str(&format!("&sslrootcert={root}"));
        }
        url
    };
    let store = PostgresStore::builder(&at("localhost", Some(&ca)))
        .table_name(twofa_sqlx::TableName::new(&common::unique_name("twofa_tls")).unwrap())
        .connect()
        .await
        .unwrap();
    let tls: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(tls, "the connection uses TLS");
    check_round_trip(&store).await;

    // The certificate is for `localhost`, not for 127.0.0.1.
    let error = PostgresStore::connect(&at("127.0.0.1", Some(&ca)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Unavailable {
                outage: Outage::Tls,
                ..
            }
        ),
        "{error}"
    );
    // Nor is a self-signed certificate among the trusted roots.
    let error = PostgresStore::connect(&at("localhost", None))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Unavailable {
                outage: Outage::Tls,
                ..
            }
        ),
        "{error}"
    );

    async fn check_round_trip(store: &PostgresStore) {
        let record = twofa::account::TwoFactorRecord::new();
        let _ = store.save("tls-user", &record, None).await.unwrap();
        assert_eq!(
            store.load("tls-user").await.unwrap().unwrap().record,
            record
        );
    }
}
