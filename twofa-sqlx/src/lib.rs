//! SQLite and PostgreSQL stores for [`twofa`], the authenticator-app 2FA library, on
//! [sqlx](https://docs.rs/sqlx) 0.9.
//!
//! `twofa`'s guarantees — a code works once, a recovery code works once, every failed guess
//! is counted — rest on its [`Store`](twofa::store::Store)'s compare-and-swap. This crate
//! gives you that store for your database in one line, checked against `twofa`'s conformance
//! kit and across several processes sharing one database:
//!
//! - [`SqliteStore`]: the embedded default, one file. [`SqliteStore::open`] creates it and
//!   sets it up (WAL, a busy timeout) so that several processes can share it.
//! - [`PostgresStore`]: for several application servers sharing one database.
//!   [`PostgresStore::connect`] connects and creates the table.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = std::env::temp_dir().join(format!("twofa-sqlx-crate-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! # let path = dir.join("app.db");
//! use std::sync::Arc;
//! use twofa::account::{PasswordConfirmed, Settings};
//! use twofa::seal::AesGcmSealer;
//! use twofa::{Pbkdf2Hasher, TwoFactor};
//! use twofa_sqlx::SqliteStore;
//!
//! # let check = |_: &str, password: &str| password == "correct horse";
//! # let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
//! # let proof = PasswordConfirmed::check(&check, "user-42", "correct horse", now)?;
//! # let key = AesGcmSealer::generate_key()?;
//! let store = SqliteStore::open(&path).await?; // or PostgresStore::connect(url)
//! let tf = TwoFactor::new(
//!     store,
//!     Settings::new("Example")?,
//!     Arc::new(AesGcmSealer::new("2026-11", &*key)?),
//!     Arc::new(Pbkdf2Hasher::new()),
//! );
//! // "Enable 2FA", with the proof that the user just typed their password again.
//! let enrollment = tf
//!     .start_enrollment("user-42", Some(&proof), "alice@example.com")
//!     .await?
//!     .result?;
//! # let _ = enrollment;
//! # drop(tf); std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! ```
//!
//! # The table
//!
//! One row per user: `user_id` (text compared byte for byte: no case folding, no
//! truncation), `record`, `version`. The record is kept as **text**, the output of
//! [`TwoFactorRecord::encode`](twofa::account::TwoFactorRecord::encode): it is ASCII
//! (a prefix and base64url), so it survives every client, dump and copy-paste unchanged, an
//! operator can tell a 2FA row at a glance in `psql`, and it is the form `twofa`'s own
//! `MemoryStore` keeps. Binary would save a quarter of the space (a record is 0.3 to 11 KB);
//! that was not worth a column a human cannot read. The stores never interpret the text: it
//! is decoded by `twofa`, which versions its encoding.
//!
//! One more row may appear: the one whose `user_id` is the empty string (an id the core never
//! accepts) holds the highest version of any deleted record, so that a record inserted after
//! a deletion starts above it (see `twofa`'s store docs, "Deletion"). It names nobody and is
//! left out of every listing.
//!
//! A record that does not decode is an [`Error::Record`], never "no record" (which would show
//! 2FA as off). A user id the core refuses is an [`Error::InvalidUserId`], before any SQL.
//!
//! # Setup
//!
//! The one-line constructors create the table when it is missing. A builder
//! ([`SqliteStore::builder`], [`PostgresStore::builder`]) sets the table's [`TableName`], the
//! pool's options and the [`TableSetup`] before any SQL runs: with
//! [`TableSetup::CreateIfMissing`] (the default) DDL runs only when the table is missing, so a
//! role with only `SELECT, INSERT, UPDATE, DELETE` on an existing table connects; with
//! [`TableSetup::VerifyOnly`] no DDL runs at all. Either way the table is checked (columns,
//! key, a user-id collation that compares byte for byte), and a table the store cannot use is
//! an [`Error::Table`] that says what is wrong. For schemas managed by migrations,
//! `migrations/sqlite/` and `migrations/postgres/` hold the same table as SQL files for
//! sqlx-cli and `sqlx::migrate!`. See the `Store` docs for the pitfalls of hand-written
//! stores.
//!
//! # TLS
//!
//! A PostgreSQL server on another machine is reached over TLS or not at all: the builders
//! refuse, before connecting, a host other than loopback or a Unix socket unless the URL asks
//! for TLS ([`Error::PlaintextToRemoteHost`]). Without TLS, anyone on the network path could
//! answer the 2FA lookup with "no record", which reads as 2FA off. Enable the
//! `tls-rustls-ring` feature (or `tls-rustls-ring-native-roots` for the system's roots) and
//! say `sslmode=verify-full`, which checks that the certificate is the host's:
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use twofa_sqlx::PostgresStore;
//!
//! let store = PostgresStore::connect(
//!     "postgres://app@db.internal:5432/app?sslmode=verify-full&sslrootcert=/etc/ssl/db-ca.pem",
//! )
//! .await?;
//! # Ok(()) }
//! ```
//!
//! `sslmode=require` and `verify-ca` are accepted too, but `require` trusts any certificate
//! and `verify-ca` any host name the CA vouches for. A failed handshake is an
//! [`Error::Unavailable`] with [`Outage::Tls`]. On a network trusted as much as the database,
//! [`PostgresStoreBuilder::danger_allow_plaintext_to_remote_host`] turns the check off.
//!
//! # Key rotation
//!
//! [`reseal_all`] reseals every record under the sealer's current key, in batches, resumable,
//! with progress for a progress bar. A row it cannot reseal (a key the sealer lacks, a record
//! that does not decode, a user id the core refuses) is listed with the reason and the run
//! goes on, so that one bad row never leaves every user after it on the old key.
//! [`ResealCursor`] ties the resume cursor to the database, the table and the target key, and
//! refuses a cursor from another run; [`users_left`] checks every row, writing nothing, before
//! you retire the old key. `examples/rotate_key.rs` is a command-line tool for all three that
//! exits non-zero, listing the users left, unless every record is under the new key.
//!
//! # Features
//!
//! | feature | default | what |
//! |---|---|---|
//! | `sqlite` | yes | [`SqliteStore`] (SQLite compiled in) |
//! | `postgres` | yes | [`PostgresStore`] (without TLS: a server on this machine only) |
//! | `tls-rustls-ring` | no | TLS for PostgreSQL: rustls, *ring*, the Mozilla roots and any `sslrootcert` |
//! | `tls-rustls-ring-native-roots` | no | the same, trusting the system's roots |

#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
mod outage;
#[cfg(feature = "postgres")]
mod postgres_setup;
#[cfg(feature = "postgres")]
mod postgres_store;
mod reseal;
mod reseal_cursor;
mod setup;
#[cfg(feature = "sqlite")]
mod sqlite_setup;
#[cfg(feature = "sqlite")]
mod sqlite_store;
mod table;

pub use error::Error;
pub use outage::Outage;
#[cfg(feature = "postgres")]
pub use postgres_setup::PostgresStoreBuilder;
#[cfg(feature = "postgres")]
pub use postgres_store::PostgresStore;
pub use reseal::{ListUsers, ResealFailure, ResealProgress, reseal_all, users_left};
pub use reseal_cursor::ResealCursor;
pub use setup::{TableProblem, TableSetup};
#[cfg(feature = "sqlite")]
pub use sqlite_setup::SqliteStoreBuilder;
#[cfg(feature = "sqlite")]
pub use sqlite_store::SqliteStore;
pub use table::TableName;

/// The README's example, compiled as a doc test.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// A row's record and version, decoded; failing closed on anything odd.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn decode_row(user_id: &str, record: &str, version: i64) -> Result<twofa::store::Versioned, Error> {
    use twofa::account::TwoFactorRecord;
    use twofa::store::Versioned;

    let record = TwoFactorRecord::decode(record).map_err(|error| Error::Record {
        user_id: user_id.to_owned(),
        error,
    })?;
    let version = u64::try_from(version).map_err(|_| Error::Version {
        user_id: user_id.to_owned(),
        version,
    })?;
    Ok(Versioned { record, version })
}
