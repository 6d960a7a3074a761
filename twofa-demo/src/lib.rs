//! The reference web application for [`twofa`], as a host of [`twofa_axum`]: the demo keeps
//! what a host owns — its users table (argon2id hashes and the 2FA flag) in the same SQLite or
//! PostgreSQL database as the sessions and the 2FA records, its mail outbox, its keys — and
//! `twofa-axum` does the rest: sign-in with a second factor, sessions, step-up, limits, and
//! every page of Account Settings → Security.
//!
//! `main` opens a database with [`open_sqlite`] or [`open_postgres`], builds [`Demo`] and
//! serves [`Demo::app`]; tests do the same with their own clock.
//!
//! ```no_run
//! use twofa_demo::{Keys, Setup, open_sqlite};
//!
//! # async fn run() -> Result<(), twofa_demo::Error> {
//! let (keys, _) = Keys::load_or_create("/home/me/.config/twofa-demo/keys".as_ref())?;
//! let setup = Setup::new(keys, "http://127.0.0.1:3000", false);
//! let demo = open_sqlite("twofa-demo.db".as_ref(), setup).await?;
//! demo.users.set_password("demo", "demo@example.com", "a long password").await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! let app = demo.app().into_make_service_with_connect_info::<std::net::SocketAddr>();
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```

pub mod keys;
pub mod outbox;
pub mod users;

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use twofa::account::Settings;
use twofa::store::{Clock, SystemClock};
use twofa::{AesGcmSealer, Pbkdf2Hasher, Store, TwoFactor};
use twofa_axum::storage::{PostgresStorage, SqliteStorage, Storage};
use twofa_axum::{Config, FormToken, SignedIn, TwoFactorAuth};

pub use keys::Keys;
pub use outbox::{Mail, Outbox};
pub use users::{Db, DemoUsers, User};

/// The site's name: the issuer in authenticator apps, and the pages' title.
pub const SITE: &str = "twofa demo";

/// An error of setting the demo up.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// How the demo is set up.
pub struct Setup {
    /// The keys, from outside the database.
    pub keys: Keys,
    /// The address people use (`https://…` with `secure_cookies`; `http://localhost:…` or
    /// `http://127.0.0.1:…` without).
    pub public_origin: String,
    /// Served over HTTPS: `__Host-` cookies marked `Secure`, and HSTS.
    pub secure_cookies: bool,
    /// The clock (tests move it).
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Setup")
            .field("public_origin", &self.public_origin)
            .field("secure_cookies", &self.secure_cookies)
            .finish_non_exhaustive()
    }
}

impl Setup {
    /// With the system clock.
    pub fn new(keys: Keys, public_origin: &str, secure_cookies: bool) -> Setup {
        Setup {
            keys,
            public_origin: public_origin.to_owned(),
            secure_cookies,
            clock: Arc::new(SystemClock),
        }
    }
}

/// The demo over one database: the web layer, the users table and the outbox.
#[derive(Debug)]
pub struct Demo<S: Store + 'static, St: Storage> {
    /// `twofa-axum` over the database, with the demo's users and outbox.
    pub auth: TwoFactorAuth<DemoUsers, S, St>,
    /// The users table.
    pub users: DemoUsers,
    /// The mail outbox.
    pub outbox: Outbox,
}

/// The demo over a SQLite file, made (mode 0600) if missing.
///
/// # Errors
///
/// When the file cannot be made or opened, or a key is refused.
pub async fn open_sqlite(
    path: &Path,
    setup: Setup,
) -> Result<Demo<twofa_sqlx::SqliteStore, SqliteStorage>, Error> {
    if !path.exists() {
        // SQLite makes its -wal and -shm files with the database file's permissions.
        keys::create_private(path)?;
    }
    let pool =
        sqlx::SqlitePool::connect_with(twofa_sqlx::SqliteStore::connect_options(path)).await?;
    let store = twofa_sqlx::SqliteStore::builder_with_pool(pool.clone())
        .open()
        .await?;
    let storage = SqliteStorage::new(pool.clone());
    storage.migrate().await?;
    Demo::new(store, storage, Db::Sqlite(pool), setup).await
}

/// The demo over a PostgreSQL database (several app servers may share it).
///
/// # Errors
///
/// When the server cannot be reached or refuses the tables, or a key is refused.
pub async fn open_postgres(
    url: &str,
    setup: Setup,
) -> Result<Demo<twofa_sqlx::PostgresStore, PostgresStorage>, Error> {
    let pool = sqlx::PgPool::connect(url).await?;
    let store = twofa_sqlx::PostgresStore::builder_with_pool(pool.clone())
        .connect()
        .await?;
    let storage = PostgresStorage::new(pool.clone());
    storage.migrate().await?;
    Demo::new(store, storage, Db::Postgres(pool), setup).await
}

impl<S: Store + 'static, St: Storage> Demo<S, St> {
    /// The demo over `store` (the 2FA records), `storage` (sessions and attempt counts) and
    /// `db` (the users table), all in one database.
    ///
    /// # Errors
    ///
    /// When the users table cannot be made or a key or the origin is refused.
    pub async fn new(store: S, storage: St, db: Db, setup: Setup) -> Result<Self, Error> {
        let Setup {
            keys,
            public_origin,
            secure_cookies,
            clock,
        } = setup;
        let settings = Settings::new(SITE)?
            .reauthentication_lifetime(Config::DEFAULT_STEP_UP_WINDOW)?
            .device_key(keys.device.clone());
        let mut hasher = Pbkdf2Hasher::new();
        if let Some(pepper) = &keys.pepper {
            hasher = hasher.with_pepper(pepper)?;
        }
        let sealer = AesGcmSealer::new("demo-1", &keys.sealing)?;
        let service = TwoFactor::new(store, settings, Arc::new(sealer), Arc::new(hasher))
            .with_clock(Arc::clone(&clock));
        let config = if secure_cookies {
            Config::new(&public_origin, *keys.form)?
        } else {
            Config::danger_plain_http_on_localhost(&public_origin, *keys.form)?
        };
        let users = DemoUsers::open(db).await?;
        let outbox = Outbox::default();
        let auth = TwoFactorAuth::new(service, users.clone(), storage, config)?
            .with_notices(outbox.clone())
            .with_menu_link("Mail outbox", "/outbox")
            .with_clock(clock);
        Ok(Demo {
            auth,
            users,
            outbox,
        })
    }

    /// The app: the demo's pages (`/`, `/outbox`, the favicon) and everything of
    /// `twofa-axum`.
    pub fn app(&self) -> Router {
        let (auth, outbox) = (self.auth.clone(), self.outbox.clone());
        let outbox_page = move |signed_in: SignedIn<User>, token: FormToken| async move {
            let html = outbox::page(&outbox.to(&signed_in.user.email));
            auth.page(Some(&signed_in), &token, "Mail outbox", html)
        };
        let routes = Router::new()
            .route("/", get(|| async { to("/settings") }))
            .route("/outbox", get(outbox_page))
            .route("/favicon.ico", get(|| async { to("/twofa/icon.svg") }));
        self.auth.router(routes)
    }
}

fn to(path: &str) -> Response {
    Redirect::to(path).into_response()
}
