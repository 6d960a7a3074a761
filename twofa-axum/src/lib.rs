#![doc = include_str!("../README.md")]

mod client;
mod config;
mod csrf;
mod error;
mod extract;
mod flows;
mod hashing;
mod host;
pub mod limits;
pub mod pages;
mod state;
pub mod storage;
mod web;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use twofa::account::Event;
use twofa::store::{Clock, SystemClock};
use twofa::{Store, TwoFactor};

pub use config::{ClientAddress, Config, ConfigError};
pub use csrf::{CsrfForm, FormToken};
pub use error::Failure;
pub use extract::{SecondFactorPending, SignedIn, StepUp, TwoFactorRequired};
pub use host::{HostError, HostUser, NoNotices, Notice, NoticeKind, Notices, Users};
pub use state::{Factor, FactorMethod};
pub use web::format_time;

use crate::error::FailurePage;
use crate::extract::UserFinder;
use crate::hashing::PasswordGate;
use crate::pages::{Chrome, DefaultPages, ErrorPage, MenuLink, Nav, Page, Pages, PlainPage};
use crate::storage::Storage;

/// Two-factor sign-in for an axum app: the host's users, the `twofa` service, the storage of
/// sessions and attempt counts, and the configuration. [`router`](TwoFactorAuth::router)
/// turns the host's routes into the whole app.
pub struct TwoFactorAuth<U: Users, S: Store + 'static, St: Storage> {
    inner: Arc<Inner<U, S, St>>,
}

impl<U: Users, S: Store + 'static, St: Storage> Clone for TwoFactorAuth<U, S, St> {
    fn clone(&self) -> Self {
        TwoFactorAuth {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<U: Users, S: Store + 'static, St: Storage> std::fmt::Debug for TwoFactorAuth<U, S, St> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwoFactorAuth")
            .field("config", &self.inner.shared.config)
            .finish_non_exhaustive()
    }
}

/// What every request of the app shares, whatever the host's types.
pub(crate) struct Shared {
    pub config: Config,
    pub clock: Arc<dyn Clock>,
    pub pages: Arc<dyn Pages>,
    pub site: String,
    pub links: Vec<MenuLink>,
}

impl Shared {
    pub(crate) fn now(&self) -> Result<u64, Failure> {
        self.clock
            .now()
            .map_err(|e| Failure::internal(format!("clock: {e}")))
    }

    pub(crate) fn chrome(&self, nav: Option<Nav>) -> Chrome {
        Chrome {
            site: self.site.clone(),
            nav,
            links: self.links.clone(),
        }
    }

    pub(crate) fn render(&self, page: Page<'_>) -> Response {
        Html(self.pages.render(&page)).into_response()
    }
}

pub(crate) struct Inner<U: Users, S: Store + 'static, St: Storage> {
    pub shared: Arc<Shared>,
    pub two_factor: TwoFactor<S>,
    pub users: Arc<U>,
    pub storage: St,
    pub notices: Arc<dyn Notices>,
    pub gate: PasswordGate,
}

impl<U: Users, S: Store + 'static, St: Storage> TwoFactorAuth<U, S, St> {
    /// Two-factor sign-in over `two_factor` (the `twofa` service, whose store keeps the 2FA
    /// records), the host's `users`, `storage` (sessions and attempt counts:
    /// [`MemoryStorage`](storage::MemoryStorage), `SqliteStorage` or `PostgresStorage`) and
    /// `config`. Pages are [`DefaultPages`] titled with the service's issuer; notices go
    /// nowhere until [`with_notices`](Self::with_notices).
    ///
    /// # Errors
    ///
    /// [`ConfigError::StepUpWindowTooLong`] when the step-up window is longer than the
    /// service accepts a recent sign-in for: raise
    /// `twofa::account::Settings::reauthentication_lifetime` to at least the window (600 s
    /// by default).
    pub fn new(
        two_factor: TwoFactor<S>,
        users: U,
        storage: St,
        config: Config,
    ) -> Result<Self, ConfigError> {
        let service_limit = two_factor.settings().reauthentication_secs();
        if config.step_up_window > service_limit {
            return Err(ConfigError::StepUpWindowTooLong {
                step_up_window: config.step_up_window,
                service_limit,
            });
        }
        let site = two_factor.settings().issuer().to_owned();
        let gate = PasswordGate::new(config.hashing_threads, config.hashing_queue);
        Ok(TwoFactorAuth {
            inner: Arc::new(Inner {
                shared: Arc::new(Shared {
                    config,
                    clock: Arc::new(SystemClock),
                    pages: Arc::new(DefaultPages),
                    site,
                    links: Vec::new(),
                }),
                two_factor,
                users: Arc::new(users),
                storage,
                notices: Arc::new(NoNotices),
                gate,
            }),
        })
    }

    /// Sends notices (for e-mail) to `notices`. Like every `with_*` method, call it while
    /// building, before cloning the `TwoFactorAuth` or calling [`router`](Self::router).
    #[must_use]
    pub fn with_notices(self, notices: impl Notices) -> Self {
        self.map_inner(|inner| inner.notices = Arc::new(notices))
    }

    /// Renders pages with `pages` instead of [`DefaultPages`].
    #[must_use]
    pub fn with_pages(self, pages: impl Pages) -> Self {
        self.map_shared(|shared| shared.pages = Arc::new(pages))
    }

    /// Adds a link to the account menu, after "Account Settings" (such as the host's own
    /// pages). `path` must be a path on this site; anything else is ignored.
    #[must_use]
    pub fn with_menu_link(self, label: &str, path: &str) -> Self {
        if !web::is_local_path(path) {
            return self;
        }
        let link = MenuLink {
            label: label.to_owned(),
            path: path.to_owned(),
        };
        self.map_shared(|shared| shared.links.push(link))
    }

    /// A host's own page in the look of the crate's pages (through the same [`Pages`]), with
    /// the signed-in header when `signed_in` is given. `trusted_html` is the page's content:
    /// escape every value in it ([`pages::escape_html`]).
    ///
    /// ```
    /// use axum::response::Response;
    /// use twofa_axum::{FormToken, HostUser, SignedIn, TwoFactorAuth, Users};
    /// use twofa_axum::pages::escape_html;
    ///
    /// async fn profile<U: Users, S: twofa::Store + 'static, St: twofa_axum::storage::Storage>(
    ///     auth: TwoFactorAuth<U, S, St>,
    ///     signed_in: SignedIn<U::User>,
    ///     token: FormToken,
    /// ) -> Response {
    ///     let html = format!("<h1>Profile</h1><p>{}</p>", escape_html(signed_in.user.account_name()));
    ///     auth.page(Some(&signed_in), &token, "Profile", html)
    /// }
    /// ```
    pub fn page(
        &self,
        signed_in: Option<&SignedIn<U::User>>,
        token: &FormToken,
        title: &str,
        trusted_html: String,
    ) -> Response {
        let shared = &self.inner.shared;
        let nav = signed_in.and_then(|s| flows::nav(&s.user, &token.0));
        let page = PlainPage {
            chrome: shared.chrome(nav),
            title: title.to_owned(),
            trusted_html,
        };
        shared.render(Page::Plain(&page))
    }

    /// Reads the time from `clock` (give the service the same one); the system clock by
    /// default. For tests.
    #[must_use]
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        self.map_shared(|shared| shared.clock = clock)
    }

    fn map_shared(self, f: impl FnOnce(&mut Shared)) -> Self {
        self.map_inner(|inner| match Arc::get_mut(&mut inner.shared) {
            Some(shared) => f(shared),
            None => tracing::error!("twofa-axum: a TwoFactorAuth::with_* setting was ignored"),
        })
    }

    /// The `with_*` builders change the one `TwoFactorAuth` there is; after a clone (or
    /// `router`) they would change nothing, so they say so in the log.
    fn map_inner(mut self, f: impl FnOnce(&mut Inner<U, S, St>)) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => f(inner),
            None => tracing::error!(
                "twofa-axum: a TwoFactorAuth::with_* setting was ignored: call the with_* \
                 methods before cloning the TwoFactorAuth or calling router"
            ),
        }
        self
    }

    /// The two-factor service.
    pub fn two_factor(&self) -> &TwoFactor<S> {
        &self.inner.two_factor
    }

    /// The storage of sessions and attempt counts.
    pub fn storage(&self) -> &St {
        &self.inner.storage
    }

    /// The whole app: the host's `routes`, the crate's pages (sign-in, the code, recovery
    /// codes, sign-out, Account Settings → Security, enable, "Generate new", "Disable 2FA",
    /// devices, sessions, the confirm page), and the layers every route needs: sessions
    /// (stored in the storage, cookie `__Host-session`), CSRF, the security headers and the
    /// error pages. The extractors ([`SignedIn`], [`StepUp`], ...) work in the host's routes.
    ///
    /// Serve it with `into_make_service_with_connect_info::<SocketAddr>()`, so that password
    /// attempts are counted per client address (or configure
    /// [`ClientAddress::TrustedProxyHeader`]).
    pub fn router(&self, routes: Router) -> Router {
        let shared = Arc::clone(&self.inner.shared);
        let config = &shared.config;
        let idle = tower_sessions::cookie::time::Duration::seconds(
            i64::try_from(config.idle_timeout).unwrap_or(i64::MAX / 2),
        );
        let sessions = SessionManagerLayer::new(self.inner.storage.clone())
            .with_name(config.cookie_name("session"))
            .with_http_only(true)
            .with_same_site(SameSite::Lax)
            .with_secure(config.secure_cookies())
            .with_path("/")
            .with_expiry(Expiry::OnInactivity(idle));
        let finder: UserFinder<<U as Users>::User> = UserFinder(self.inner.users.clone());
        routes
            .merge(flows::routes(Arc::clone(&self.inner)))
            .layer(middleware::from_fn(csrf::middleware))
            .layer(sessions)
            .layer(axum::Extension(finder))
            .layer(axum::Extension(Arc::clone(&shared)))
            .layer(middleware::from_fn_with_state(shared, finish))
    }

    /// Deletes expired sessions, and the password-attempt counts of keys that have been quiet
    /// for longer than both policies forget them. Stored sessions also stop working when they
    /// expire without this; it keeps the tables small. See
    /// [`spawn_purge`](Self::spawn_purge) to run it on a timer.
    ///
    /// # Errors
    ///
    /// When the storage fails.
    pub async fn purge_expired(&self) -> Result<(), Failure> {
        let inner = &self.inner;
        inner
            .storage
            .delete_expired()
            .await
            .map_err(|e| Failure::internal(format!("purging sessions: {e}")))?;
        let config = &inner.shared.config;
        let quiet = config
            .per_account
            .forget_after()
            .max(config.per_address.forget_after());
        let before = inner.shared.now()?.saturating_sub(quiet);
        inner.storage.purge_attempts(before).await?;
        Ok(())
    }

    /// Runs [`purge_expired`](Self::purge_expired) every `period` on the current Tokio
    /// runtime, logging failures, until the returned task is aborted.
    ///
    /// ```no_run
    /// # async fn run<U: twofa_axum::Users, S: twofa::Store + 'static, St: twofa_axum::storage::Storage>(auth: twofa_axum::TwoFactorAuth<U, S, St>) {
    /// let purging = auth.spawn_purge(std::time::Duration::from_secs(15 * 60));
    /// # purging.abort();
    /// # }
    /// ```
    pub fn spawn_purge(&self, period: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let auth = self.clone();
        tokio::spawn(async move {
            let mut timer = tokio::time::interval(period);
            loop {
                timer.tick().await;
                if let Err(e) = auth.purge_expired().await {
                    tracing::error!(error = %e, "twofa-axum: purging expired sessions failed");
                }
            }
        })
    }

    /// The host changed the user's password: ends every other session of the user and revokes
    /// every trusted device, and sends a notice. Call it from the host's change-password
    /// handler (guard that with [`StepUp`]).
    ///
    /// # Errors
    ///
    /// When the storage or the two-factor service fails.
    pub async fn password_changed(&self, signed_in: &SignedIn<U::User>) -> Result<(), Failure> {
        let inner = &self.inner;
        let user = &signed_in.user;
        inner
            .end_other_sessions(user, Some(&signed_in.session))
            .await?;
        let outcome = inner.two_factor.revoke_all_devices(user.id()).await?;
        inner.notify_events(user, &outcome.events)?;
        inner.notify(user, NoticeKind::PasswordChanged)?;
        Ok(())
    }
}

impl<U: Users, S: Store + 'static, St: Storage> Inner<U, S, St> {
    pub(crate) fn notify(&self, user: &U::User, kind: NoticeKind) -> Result<(), Failure> {
        let at = self.shared.now()?;
        self.notices
            .notify(user.id(), user.account_name(), &Notice { at, kind });
        Ok(())
    }

    pub(crate) fn notify_events(&self, user: &U::User, events: &[Event]) -> Result<(), Failure> {
        for event in events {
            tracing::info!(event = ?event, "twofa-axum: two-factor event");
            self.notify(user, NoticeKind::TwoFactor(event.clone()))?;
        }
        Ok(())
    }

    /// Ends every session of `user` but `keep`'s.
    pub(crate) async fn end_other_sessions(
        &self,
        user: &U::User,
        keep: Option<&Session>,
    ) -> Result<u64, Failure> {
        let keep = keep.and_then(Session::id);
        Ok(self
            .storage
            .end_other_sessions(user.id(), keep.as_ref())
            .await?)
    }
}

/// The outermost layer: renders [`Failure`] markers as error pages in the host's look, and
/// sets the security headers on every response.
async fn finish(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    if let Some(failure) = response.extensions_mut().remove::<FailurePage>() {
        let page = ErrorPage {
            chrome: shared.chrome(None),
            message: failure.message,
        };
        let body = shared.pages.render(&Page::Error(&page));
        let (mut parts, _) = response.into_parts();
        parts.headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/html; charset=utf-8"),
        );
        parts.headers.remove(header::CONTENT_LENGTH);
        response = Response::from_parts(parts, axum::body::Body::from(body));
    }
    web::set_security_headers(response.headers_mut(), shared.config.secure_cookies());
    response
}
