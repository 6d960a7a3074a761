//! A host app for the HTTP tests, served on a real socket, and a browser with a cookie jar
//! that talks to it.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: fail loudly

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use twofa::account::{DeviceKey, Settings};
use twofa::seal::DangerPlaintextSealer;
use twofa::store::Clock;
use twofa::{Pbkdf2Hasher, Secret, Store, Totp, TwoFactor};
use twofa_axum::storage::Storage;
use twofa_axum::{
    Config, CsrfForm, HostError, HostUser, Notice, NoticeKind, Notices, SecondFactorPending,
    SignedIn, StepUp, TwoFactorAuth, TwoFactorRequired, Users,
};

/// The public origin every test app is configured with (the tests talk plain HTTP to it on
/// loopback, but the app is configured as production would be).
pub const ORIGIN: &str = "https://app.example";

/// The start of the tests' clock.
pub const T0: u64 = 1_800_000_000;

pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub email: String,
    pub two_factor: bool,
    pub grace_until: Option<u64>,
}

impl HostUser for TestUser {
    fn id(&self) -> &str {
        &self.id
    }
    fn account_name(&self) -> &str {
        &self.email
    }
    fn two_factor_enabled(&self) -> bool {
        self.two_factor
    }
    fn two_factor_grace_until(&self) -> Option<u64> {
        self.grace_until
    }
}

/// The host's users table, shared by every app server of a test. Counts password checks and
/// the most that ran at once.
#[derive(Debug, Clone, Default)]
pub struct TestUsers {
    users: Arc<Mutex<HashMap<String, TestUser>>>,
    pub checks: Arc<AtomicUsize>,
    running: Arc<AtomicUsize>,
    pub most_at_once: Arc<AtomicUsize>,
    /// How long a check takes (ms), to make bursts overlap.
    pub check_ms: Arc<AtomicU64>,
}

impl TestUsers {
    pub fn add(&self, id: &str, email: &str) {
        self.users.lock().unwrap().insert(
            id.to_owned(),
            TestUser {
                id: id.to_owned(),
                email: email.to_owned(),
                two_factor: false,
                grace_until: None,
            },
        );
    }

    pub fn get(&self, id: &str) -> TestUser {
        self.users.lock().unwrap()[id].clone()
    }

    pub fn set_flag(&self, id: &str, on: bool) {
        self.users.lock().unwrap().get_mut(id).unwrap().two_factor = on;
    }

    pub fn set_grace(&self, id: &str, until: Option<u64>) {
        self.users.lock().unwrap().get_mut(id).unwrap().grace_until = until;
    }
}

impl Users for TestUsers {
    type User = TestUser;

    async fn find_by_login(&self, login: &str) -> Result<Option<TestUser>, HostError> {
        let users = self.users.lock().unwrap();
        Ok(users.values().find(|u| u.email == login.trim()).cloned())
    }

    async fn find_by_id(&self, user_id: &str) -> Result<Option<TestUser>, HostError> {
        Ok(self.users.lock().unwrap().get(user_id).cloned())
    }

    fn verify_password(&self, user: Option<&TestUser>, password: &str) -> bool {
        self.checks.fetch_add(1, Ordering::SeqCst);
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_at_once.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(std::time::Duration::from_millis(
            self.check_ms.load(Ordering::SeqCst),
        ));
        self.running.fetch_sub(1, Ordering::SeqCst);
        user.is_some() && password == PASSWORD
    }

    async fn set_two_factor(&self, user_id: &str, enabled: bool) -> Result<(), HostError> {
        self.set_flag(user_id, enabled);
        Ok(())
    }
}

/// The notices the app sent, as (user id, notice).
#[derive(Debug, Clone, Default)]
pub struct Outbox(pub Arc<Mutex<Vec<(String, Notice)>>>);

impl Notices for Outbox {
    fn notify(&self, user_id: &str, _: &str, notice: &Notice) {
        self.0
            .lock()
            .unwrap()
            .push((user_id.to_owned(), notice.clone()));
    }
}

impl Outbox {
    pub fn kinds(&self, user_id: &str) -> Vec<NoticeKind> {
        let sent = self.0.lock().unwrap();
        sent.iter()
            .filter(|(to, _)| to == user_id)
            .map(|(_, n)| n.kind.clone())
            .collect()
    }
}

/// A clock the test moves.
#[derive(Debug, Clone)]
pub struct TestClock(pub Arc<AtomicU64>);

impl TestClock {
    pub fn new() -> Self {
        TestClock(Arc::new(AtomicU64::new(T0)))
    }
    pub fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
    pub fn advance(&self, seconds: u64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
    pub fn as_clock(&self) -> Arc<dyn Clock> {
        let at = self.0.clone();
        Arc::new(move || at.load(Ordering::SeqCst))
    }
}

/// What a test can change in the app's configuration.
pub type Tweak = fn(Config) -> Config;

/// A running app server.
pub struct App<S: Store + 'static, St: Storage> {
    pub url: String,
    pub auth: TwoFactorAuth<TestUsers, S, St>,
    pub users: TestUsers,
    pub outbox: Outbox,
    pub clock: TestClock,
    /// `/slow` signals this once it holds a signed-in session...
    pub entered: Arc<tokio::sync::Notify>,
    /// ...and waits for this before it writes to the session and answers.
    pub release: Arc<tokio::sync::Notify>,
}

/// The service with the settings the web crate wants (step-up needs 600 s).
pub fn service<S: Store>(store: S, clock: &TestClock, device_key: DeviceKey) -> TwoFactor<S> {
    let settings = Settings::new("Example App")
        .unwrap()
        .reauthentication_lifetime(600)
        .unwrap()
        .device_key(device_key);
    TwoFactor::new(
        store,
        settings,
        Arc::new(DangerPlaintextSealer::new()),
        Arc::new(Pbkdf2Hasher::new()),
    )
    .with_clock(clock.as_clock())
}

/// Starts an app server over `store` (2FA records) and `storage` (sessions, attempts), with
/// the host's `users` and `clock` (shared with other servers of the same test).
pub async fn start<S: Store + 'static, St: Storage>(
    store: S,
    storage: St,
    users: TestUsers,
    clock: TestClock,
    device_key: DeviceKey,
    tweak: Tweak,
) -> App<S, St> {
    let outbox = Outbox::default();
    let config = tweak(Config::new(ORIGIN, [9; 32]).unwrap());
    let auth = TwoFactorAuth::new(
        service(store, &clock, device_key),
        users.clone(),
        storage,
        config,
    )
    .unwrap()
    .with_notices(outbox.clone())
    .with_clock(clock.as_clock());
    let entered = Arc::new(tokio::sync::Notify::new());
    let release = Arc::new(tokio::sync::Notify::new());
    let host_routes = host_routes(auth.clone(), entered.clone(), release.clone());
    let app = auth.router(host_routes);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    App {
        url: format!("http://{addr}"),
        auth,
        users,
        outbox,
        clock,
        entered,
        release,
    }
}

/// The host's own pages: a home page for signed-in users, a team page that requires 2FA,
/// and a password change behind step-up.
fn host_routes<S: Store + 'static, St: Storage>(
    auth: TwoFactorAuth<TestUsers, S, St>,
    entered: Arc<tokio::sync::Notify>,
    release: Arc<tokio::sync::Notify>,
) -> Router {
    Router::new()
        .route(
            "/slow",
            get(move |signed_in: SignedIn<TestUser>| async move {
                entered.notify_one();
                release.notified().await;
                signed_in.session.insert("host-value", 1).await.unwrap();
                "slow page"
            }),
        )
        .route(
            "/",
            get(|signed_in: SignedIn<TestUser>| async move {
                format!("home of {}", signed_in.user.email)
            }),
        )
        .route(
            "/debug",
            get(|signed_in: SignedIn<TestUser>| async move { format!("{signed_in:?}") }),
        )
        .route(
            "/debug-pending",
            get(|pending: SecondFactorPending<TestUser>| async move { format!("{pending:?}") }),
        )
        .route(
            "/whoami",
            get(|s: SignedIn<TestUser>| async move {
                let factor = s.second_factor().map(|f| (f.at, f.method));
                format!("{} {} {:?}", s.signed_in_at(), s.password_at(), factor)
            }),
        )
        .route(
            "/team",
            get(
                |TwoFactorRequired(signed_in): TwoFactorRequired<TestUser>| async move {
                    format!("team page of {}", signed_in.user.email)
                },
            ),
        )
        .route(
            "/password",
            get(|StepUp(_): StepUp<TestUser>| async { "change your password" }).post(
                move |StepUp(signed_in): StepUp<TestUser>,
                      CsrfForm(_): CsrfForm<HashMap<String, String>>| async move {
                    match auth.password_changed(&signed_in).await {
                        Ok(()) => "password changed".into_response(),
                        Err(e) => e.into_response(),
                    }
                },
            ),
        )
}

/// An HTTP response, read whole.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> Option<&str> {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
    }

    /// The value of the first `name="csrf" value="…"` in the page.
    pub fn csrf(&self) -> String {
        self.field("csrf").expect("the page has a CSRF token")
    }

    /// The `value` of the first input named `name`.
    pub fn field(&self, name: &str) -> Option<String> {
        let needle = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&needle)? + needle.len();
        let end = self.body[start..].find('"')? + start;
        Some(self.body[start..end].to_owned())
    }

    /// The text of the element with `id`.
    pub fn by_id(&self, id: &str) -> Option<String> {
        let needle = format!("id=\"{id}\"");
        let at = self.body.find(&needle)?;
        let start = self.body[at..].find('>')? + at + 1;
        let end = self.body[start..].find('<')? + start;
        Some(self.body[start..end].trim().to_owned())
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }
}

/// A browser: a cookie jar, and the last page's CSRF token.
#[derive(Debug, Clone)]
pub struct Browser {
    client: Client<HttpConnector, Body>,
    pub base: String,
    pub jar: Arc<Mutex<HashMap<String, String>>>,
    pub user_agent: String,
    /// Sent as `X-Real-IP` (for apps that trust that header).
    pub address: Option<String>,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Browser {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: base.to_owned(),
            jar: Arc::default(),
            user_agent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0".to_owned(),
            address: None,
        }
    }

    /// Another browser with a copy of this one's cookies (a stolen cookie).
    pub fn copy_cookies(&self) -> Self {
        let copy = Browser::new(&self.base);
        *copy.jar.lock().unwrap() = self.jar.lock().unwrap().clone();
        copy
    }

    /// The same cookies against another app server.
    pub fn at(&self, base: &str) -> Self {
        Browser {
            base: base.to_owned(),
            ..self.clone()
        }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.lock().unwrap().get(name).cloned()
    }

    pub async fn get(&self, path: &str) -> Page {
        self.send(Request::get(format!("{}{path}", self.base)), Body::empty())
            .await
    }

    /// A form post from the app's own origin.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.post_from(ORIGIN, path, form).await
    }

    pub async fn post_from(&self, origin: &str, path: &str, form: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(form).unwrap();
        let request = Request::post(format!("{}{path}", self.base))
            .header(header::ORIGIN, origin)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        self.send(request, Body::from(body)).await
    }

    /// Gets `page` and posts its form (by its CSRF token) to `action` with `fields`.
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.get(page).await.csrf();
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        self.post(action, &form).await
    }

    async fn send(&self, request: axum::http::request::Builder, body: Body) -> Page {
        let cookies: Vec<String> = self
            .jar
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut request = request.header(header::USER_AGENT, &self.user_agent);
        if !cookies.is_empty() {
            request = request.header(header::COOKIE, cookies.join("; "));
        }
        if let Some(address) = &self.address {
            request = request.header("x-real-ip", address);
        }
        let response = self
            .client
            .request(request.body(body).unwrap())
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        for cookie in parts.headers.get_all(header::SET_COOKIE) {
            let cookie = cookie.to_str().unwrap();
            let pair = cookie.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let deleted =
                value.is_empty() || cookie.contains("Max-Age=0") || cookie.contains("1970");
            let mut jar = self.jar.lock().unwrap();
            if deleted {
                jar.remove(name);
            } else {
                jar.insert(name.to_owned(), value.to_owned());
            }
        }
        let bytes = body.collect().await.unwrap().to_bytes();
        Page {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// Signs in with the password; returns the response to the password form.
    pub async fn password(&self, email: &str, password: &str) -> Page {
        self.submit(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await
    }

    /// Turns 2FA on through the pages (the session must be fresh enough for step-up);
    /// returns the authenticator app and the recovery codes.
    pub async fn enable_2fa(&self, clock: &TestClock) -> (Totp, Vec<String>) {
        let started = self
            .submit("/settings/2fa/enable", "/settings/2fa/enable", &[])
            .await;
        assert_eq!(started.status, StatusCode::OK, "{}", started.body);
        let key = started.by_id("manual-key").expect("the key is shown");
        let app = Totp::new(Secret::from_base32(&key).unwrap());
        let code = app.generate(clock.now()).to_string();
        let done = self
            .submit(
                "/settings/2fa/verify",
                "/settings/2fa/verify",
                &[("code", &code)],
            )
            .await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
        let codes = recovery_codes(&done);
        assert_eq!(codes.len(), 10, "{}", done.body);
        (app, codes)
    }
}

/// The recovery codes a page shows.
pub fn recovery_codes(page: &Page) -> Vec<String> {
    page.body
        .split("<li><code>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_owned())
        .collect()
}

/// Whether a page is a redirect to sign-in.
pub fn to_sign_in(page: &Page) -> bool {
    page.status == StatusCode::SEE_OTHER && page.location() == Some("/login")
}
