//! Setting a PostgreSQL store up: the builder, and creating and checking the table.

use std::net::IpAddr;
use std::time::Duration;

use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode};

use crate::outage::within;
use crate::postgres_store::probe;
use crate::{Error, PostgresStore, TableName, TableProblem, TableSetup};

/// Everything about a [`PostgresStore`] that is decided before any SQL runs: the server, the
/// pool, the table's name and what to do about the table. Made by [`PostgresStore::builder`]
/// and its siblings; [`PostgresStoreBuilder::connect`] makes the store.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sqlx::postgres::PgPoolOptions;
/// use twofa_sqlx::{PostgresStore, TableName, TableSetup};
///
/// let store = PostgresStore::builder("postgres://app@db.internal/app?sslmode=verify-full")
///     .table_name(TableName::new("auth_two_factor")?) // checked before any SQL
///     .setup(TableSetup::VerifyOnly)                 // no DDL: the table must exist
///     .pool_options(PgPoolOptions::new().max_connections(20))
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `connect` is awaited"]
pub struct PostgresStoreBuilder {
    source: Source,
    table: TableName,
    setup: TableSetup,
    pool_options: Option<PgPoolOptions>,
    connect_timeout: Duration,
    request_timeout: Duration,
    plaintext_to_remote_host: bool,
}

/// Where the connections come from.
#[derive(Debug)]
pub(crate) enum Source {
    Url(String),
    Options(Box<PgConnectOptions>),
    Pool(PgPool),
}

impl PostgresStoreBuilder {
    pub(crate) fn new(source: Source) -> PostgresStoreBuilder {
        PostgresStoreBuilder {
            source,
            table: TableName::default(),
            setup: TableSetup::default(),
            pool_options: None,
            connect_timeout: PostgresStore::CONNECT_TIMEOUT,
            request_timeout: PostgresStore::REQUEST_TIMEOUT,
            plaintext_to_remote_host: false,
        }
    }

    /// Keeps the records in `table` (in the connection's `search_path`) instead of
    /// `two_factor`.
    pub fn table_name(mut self, table: TableName) -> PostgresStoreBuilder {
        self.table = table;
        self
    }

    /// What to do about the table (default: [`TableSetup::CreateIfMissing`]).
    pub fn setup(mut self, setup: TableSetup) -> PostgresStoreBuilder {
        self.setup = setup;
        self
    }

    /// How long [`connect`](PostgresStoreBuilder::connect) waits for the first connection
    /// (default [`PostgresStore::CONNECT_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> PostgresStoreBuilder {
        self.connect_timeout = timeout;
        self
    }

    /// The deadline of each store call, the wait for a connection included (default
    /// [`PostgresStore::REQUEST_TIMEOUT`]): past it the call fails with
    /// [`Outage::TimedOut`](crate::Outage::TimedOut).
    pub fn request_timeout(mut self, timeout: Duration) -> PostgresStoreBuilder {
        self.request_timeout = timeout;
        self
    }

    /// Allows a connection without TLS to a host that is not this machine, which
    /// [`connect`](PostgresStoreBuilder::connect) otherwise refuses
    /// ([`Error::PlaintextToRemoteHost`]).
    ///
    /// # Security
    ///
    /// Without TLS, anyone on the network path can read and change what the store reads and
    /// writes: answer a 2FA lookup with "no record" (2FA off), or replay an old record to
    /// make a used code work again. Use it only on a network you trust as much as the
    /// database itself; otherwise use `sslmode=verify-full`.
    pub fn danger_allow_plaintext_to_remote_host(mut self) -> PostgresStoreBuilder {
        self.plaintext_to_remote_host = true;
        self
    }

    /// The pool's options, used as they are (default:
    /// [`PostgresStore::default_pool_options`]). Not used by
    /// [`PostgresStore::builder_with_pool`], whose pool is made.
    pub fn pool_options(mut self, options: PgPoolOptions) -> PostgresStoreBuilder {
        self.pool_options = Some(options);
        self
    }

    /// Connects, then creates the table if it is missing (with
    /// [`TableSetup::CreateIfMissing`]) and checks it.
    ///
    /// The first connection is made directly, within the connect timeout, so that a server
    /// that is down, or refuses the credentials, is reported at once and by its cause.
    ///
    /// A host other than this machine (loopback or a Unix socket) needs TLS: `sslmode=require`,
    /// `verify-ca` or `verify-full` in the URL (or the options), `verify-full` being the one
    /// that also checks the certificate is the host's. Otherwise nothing is connected, unless
    /// [`danger_allow_plaintext_to_remote_host`](Self::danger_allow_plaintext_to_remote_host)
    /// says so.
    ///
    /// # Errors
    ///
    /// [`Error::PlaintextToRemoteHost`] before any connection, as above;
    /// [`Error::Unavailable`] when the server cannot be reached, does not answer in time or
    /// refuses the credentials, with the [`Outage`](crate::Outage) that says which;
    /// [`Error::Database`] when the URL is malformed or the table cannot be created (a role
    /// without the right to create it, and no table); [`Error::Table`] when the table is missing (with
    /// [`TableSetup::VerifyOnly`]) or is not one the store can use. A pool the builder made is
    /// closed again on error (a pool you gave it is left open).
    pub async fn connect(self) -> Result<PostgresStore, Error> {
        let owned = !matches!(self.source, Source::Pool(_));
        let options = match self.source {
            Source::Pool(pool) => Err(pool),
            Source::Url(url) => Ok(url.parse::<PgConnectOptions>()?),
            Source::Options(options) => Ok(*options),
        };
        let checked = match &options {
            Ok(options) => check_transport(options, self.plaintext_to_remote_host),
            Err(pool) => check_transport(&pool.connect_options(), self.plaintext_to_remote_host),
        };
        if let Err(refused) = checked {
            if let (Err(pool), true) = (&options, owned) {
                pool.close().await;
            }
            return Err(refused);
        }
        let pool = match options {
            Err(pool) => pool,
            Ok(options) => {
                probe(&options, self.connect_timeout).await?;
                let pool_options = self
                    .pool_options
                    .unwrap_or_else(PostgresStore::default_pool_options);
                within(self.connect_timeout, async {
                    Ok(pool_options.connect_with(options).await?)
                })
                .await?
            }
        };
        let mut store = PostgresStore::with_table(pool, self.table);
        store.request_timeout = self.request_timeout;
        let ready = within(self.request_timeout, async {
            match self.setup {
                TableSetup::CreateIfMissing => store.migrate().await,
                TableSetup::VerifyOnly => {
                    store.verify().await?;
                    store.ensure_mark().await
                }
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

/// Refuses a connection without TLS to a host that is not this machine, unless `allowed`.
fn check_transport(options: &PgConnectOptions, allowed: bool) -> Result<(), Error> {
    let tls = matches!(
        options.get_ssl_mode(),
        PgSslMode::Require | PgSslMode::VerifyCa | PgSslMode::VerifyFull
    );
    let host = options.get_host();
    if tls || allowed || options.get_socket().is_some() || is_this_machine(host) {
        Ok(())
    } else {
        Err(Error::PlaintextToRemoteHost {
            host: host.to_owned(),
        })
    }
}

/// Whether `host` names this machine: `localhost`, a loopback address, or a Unix socket's
/// directory.
fn is_this_machine(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.starts_with('/')
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl PostgresStore {
    /// Creates the table if it does not exist, then checks it ([`PostgresStore::verify`]) and
    /// adds the row that holds deletions' high-water mark if it is missing; running it again
    /// changes nothing.
    ///
    /// Whether the table exists is looked up first, and no DDL runs when it does: a role with
    /// only `SELECT, INSERT, UPDATE, DELETE` on the table can call it. (PostgreSQL checks the
    /// right to create in the schema before it notices that a table exists, so a bare
    /// `CREATE TABLE IF NOT EXISTS` fails for such a role.) Servers starting at once may all
    /// call it: an advisory lock lets one create the table while the others wait.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] (such as "permission denied for schema" when the table is missing
    /// and the role may not create it); [`Error::Table`] when the table exists but is not one
    /// the store can use.
    pub async fn migrate(&self) -> Result<(), Error> {
        if !self.exists().await? {
            let mut tx = self.pool.begin().await?;
            // Concurrent `CREATE TABLE IF NOT EXISTS` can fail on PostgreSQL's catalog; take
            // turns.
            sqlx::query("SELECT pg_advisory_xact_lock(7303014)")
                .execute(&mut *tx)
                .await?;
            sqlx::query(self.sql.create.clone())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        self.verify().await?;
        self.ensure_mark().await
    }

    /// Adds the high-water-mark row (`user_id` the empty string, see [`Store::delete`]) if
    /// it is missing, so that it exists before any record is deleted: an insert racing the
    /// first deletion then waits for it like any other. (Made by the deletion itself, the mark
    /// would not exist yet for an insert that started just before.)
    ///
    /// [`Store::delete`]: twofa::store::Store::delete
    pub(crate) async fn ensure_mark(&self) -> Result<(), Error> {
        // Looked up first: a store that only reads, or a role that may not insert, starts
        // when the mark is there.
        let found = sqlx::query(self.sql.load.clone())
            .bind("")
            .fetch_optional(&self.pool)
            .await?;
        if found.is_none() {
            sqlx::query(self.sql.add_mark.clone())
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Checks, without changing anything, that the table exists (in the `search_path`) and
    /// has the columns the store needs: `user_id TEXT COLLATE "C"` as the primary key,
    /// `record TEXT NOT NULL`, `version BIGINT NOT NULL`. The collations `"C"`, `"POSIX"`,
    /// `ucs_basic` and `pg_c_utf8` all compare byte for byte and pass.
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
        if !self.exists().await? {
            return fail(TableProblem::Missing);
        }
        let columns = sqlx::query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, \
                    COALESCE(co.collname::text, ''), \
                    EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid \
                            AND i.indisprimary AND i.indnkeyatts = 1 AND i.indkey[0] = a.attnum) \
             FROM pg_attribute a LEFT JOIN pg_collation co ON co.oid = a.attcollation \
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
        )
        .bind(self.table.quoted())
        .fetch_all(&self.pool)
        .await?;
        let mut seen = Vec::new();
        for row in &columns {
            let name: String = row.try_get(0)?;
            let declared: String = row.try_get(1)?;
            let not_null: bool = row.try_get(2)?;
            let collation: String = row.try_get(3)?;
            let key: bool = row.try_get(4)?;
            seen.push((name, declared, not_null, collation, key));
        }
        for (column, expected) in [
            ("user_id", "text"),
            ("record", "text"),
            ("version", "bigint"),
        ] {
            let Some((_, declared, not_null, collation, key)) = seen.iter().find(|c| c.0 == column)
            else {
                return fail(TableProblem::MissingColumn { column });
            };
            if declared != expected {
                return fail(TableProblem::ColumnType {
                    column,
                    expected,
                    found: declared.clone(),
                });
            }
            if column == "user_id" {
                if !key {
                    return fail(TableProblem::PrimaryKey);
                }
                if !["C", "POSIX", "ucs_basic", "pg_c_utf8"].contains(&collation.as_str()) {
                    return fail(TableProblem::Collation {
                        found: collation.clone(),
                    });
                }
            } else if !not_null {
                return fail(TableProblem::Nullable { column });
            }
        }
        Ok(())
    }

    /// Whether the table exists, as a table (not a view) the `search_path` finds.
    async fn exists(&self) -> Result<bool, Error> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_class \
             WHERE oid = to_regclass($1) AND relkind IN ('r', 'p'))",
        )
        .bind(self.table.quoted())
        .fetch_one(&self.pool)
        .await?)
    }
}
