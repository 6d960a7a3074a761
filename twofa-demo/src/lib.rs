//! The reference web application for [`twofa`]: sign-in with a second factor, and the
//! "Security → Two-Factor Authentication (2FA)" part of an account settings page, on axum.
//!
//! `main` serves [`app`]; tests call it directly. Everything the app shares lives in one
//! [`AppState`] behind an `Arc`. Handlers are small: parse the form, make one library call,
//! render a template from `templates/`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use twofa::account::DeviceKey;
//! use twofa_demo::{AppState, Config, app, two_factor};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // In real life both keys come from your secret store, never from the database.
//! let key = twofa::AesGcmSealer::generate_key()?;
//! let clock: Arc<dyn twofa::store::Clock> = Arc::new(twofa::store::SystemClock);
//! let store = twofa_sqlx::SqliteStore::open("twofa-demo.db").await?;
//! let tf = two_factor(store, "twofa demo", &*key, DeviceKey::generate(), clock.clone())?;
//! let state = Arc::new(AppState::new(tf, clock, Config::default()));
//! state.accounts.create("demo@example.com", "a long password")?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app(state)).await?;
//! # Ok(())
//! # }
//! ```

pub mod accounts;
mod csrf;
pub mod error;
mod layout;
mod pages;
mod session;
mod templates;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, MemoryStore as SessionMemoryStore, SessionManagerLayer};
use twofa::account::{DeviceKey, Settings};
use twofa::store::Clock;
use twofa::{AesGcmSealer, Pbkdf2Hasher, Store, TwoFactor};

pub use accounts::Accounts;
pub use error::AppError;

/// Name of the cookie that holds a trusted device's token.
pub const DEVICE_COOKIE: &str = "twofa_device";

/// Options of the app.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Mark the session and trusted-device cookies `Secure` (serve over HTTPS then).
    pub secure_cookies: bool,
}

/// What every handler shares.
pub struct AppState<S: Store> {
    /// The two-factor service over the app's store.
    pub two_factor: TwoFactor<S>,
    /// Users, passwords, sessions to log out, and the mail outbox.
    pub accounts: Arc<Accounts>,
    /// The clock of the app, the same one the service uses (tests move it).
    pub clock: Arc<dyn Clock>,
    /// Options.
    pub config: Config,
}

impl<S: Store> AppState<S> {
    /// State with no users yet.
    pub fn new(two_factor: TwoFactor<S>, clock: Arc<dyn Clock>, config: Config) -> Self {
        AppState {
            two_factor,
            accounts: Arc::new(Accounts::new()),
            clock,
            config,
        }
    }

    /// The app's current time (Unix seconds).
    ///
    /// # Errors
    ///
    /// When the clock cannot be read.
    pub fn now(&self) -> Result<u64, AppError> {
        self.clock
            .now()
            .map_err(|e| AppError::Internal(format!("clock: {e}")))
    }
}

impl<S: Store> std::fmt::Debug for AppState<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The two-factor service: `store` (a `twofa_sqlx` SQLite or PostgreSQL store in this app),
/// the issuer shown in authenticator apps, the sealing key of the secrets at rest and the key
/// of the trusted-device tokens (keep both outside the database), and the clock.
///
/// # Errors
///
/// A bad issuer name or key length.
pub fn two_factor<S: Store>(
    store: S,
    issuer: &str,
    sealing_key: &[u8],
    device_key: DeviceKey,
    clock: Arc<dyn Clock>,
) -> Result<TwoFactor<S>, twofa::Error> {
    Ok(TwoFactor::new(
        store,
        Settings::new(issuer)?.device_key(device_key),
        Arc::new(AesGcmSealer::new("demo-1", sealing_key)?),
        Arc::new(Pbkdf2Hasher::new()),
    )
    .with_clock(clock))
}

/// The application: every page, the session layer and the security headers.
pub fn app<S: Store + 'static>(state: Arc<AppState<S>>) -> Router {
    use pages::{enable, settings, sign_in};

    let sessions = SessionManagerLayer::new(SessionMemoryStore::default())
        .with_name("session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.config.secure_cookies)
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::hours(8),
        ));

    Router::new()
        .route("/", get(sign_in::home))
        .route("/login", get(sign_in::page).post(sign_in::submit::<S>))
        .route(
            "/login/code",
            get(sign_in::code_page).post(sign_in::code_submit::<S>),
        )
        .route(
            "/login/recovery",
            get(sign_in::recovery_page).post(sign_in::recovery_submit::<S>),
        )
        .route("/logout", post(sign_in::logout))
        .route("/settings", get(settings::page::<S>))
        .route(
            "/settings/2fa/enable",
            get(enable::password_page::<S>).post(enable::start::<S>),
        )
        .route(
            "/settings/2fa/verify",
            get(enable::code_page::<S>).post(enable::confirm::<S>),
        )
        .route("/settings/2fa/cancel", post(enable::cancel::<S>))
        .route(
            "/settings/2fa/recovery-codes",
            get(settings::generate_page).post(settings::generate::<S>),
        )
        .route(
            "/settings/2fa/disable",
            get(settings::disable_page).post(settings::disable::<S>),
        )
        .route(
            "/settings/devices/revoke",
            post(settings::revoke_device::<S>),
        )
        .route(
            "/settings/sessions/logout-others",
            post(settings::logout_others::<S>),
        )
        .route("/outbox", get(settings::outbox::<S>))
        .route("/static/style.css", get(layout::stylesheet))
        .route("/static/app.js", get(layout::script))
        .layer(axum::middleware::map_response(layout::security_headers))
        .layer(sessions)
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lockout page promises the lock lifts after 24 hours; the service must agree.
    #[test]
    fn the_lockout_page_tells_the_policy() {
        let clock: Arc<dyn Clock> = Arc::new(|| 1_800_000_000);
        let tf = two_factor(
            twofa::MemoryStore::new(),
            "twofa demo",
            &[1; 32],
            DeviceKey::generate(),
            clock,
        )
        .unwrap();
        let page = include_str!("../templates/locked_out.html");
        let hours = tf.settings().throttle_policy().lockout_time().unwrap() / 3600;
        assert!(page.contains(&format!("after {hours} hours")), "{page}");
    }
}
