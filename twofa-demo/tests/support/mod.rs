//! What the demo's tests share: a clock the test moves, the demo served on a loopback port
//! (built as `main` builds it, with that clock), temporary directories, and a browser with a
//! cookie jar that talks HTTP to it (after `twofa-axum/tests/support`).
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: fail loudly

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use twofa::store::Clock;
use twofa::{Secret, Store, Totp};
use twofa_axum::storage::Storage;
use twofa_demo::{Demo, DemoUsers, Keys, Outbox, Setup, open_postgres, open_sqlite};

/// The environment variable with the PostgreSQL test server's URL (`.ci/postgres start`).
pub const POSTGRES_URL: &str = "TWOFA_TEST_POSTGRES_URL";

pub const ID: &str = "alice";
pub const EMAIL: &str = "alice@example.com";
pub const PASSWORD: &str = "correct horse battery staple";

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A clock the test moves; it starts at the real time, so that dates on pages look real.
#[derive(Debug, Clone)]
pub struct TestClock(Arc<AtomicU64>);

impl TestClock {
    pub fn new() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        // At the start of a 30-second step, so a test has the whole step for its codes.
        TestClock(Arc::new(AtomicU64::new(now - now % 30)))
    }
    pub fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
    /// Moves the clock on; the new time.
    pub fn advance(&self, seconds: u64) -> u64 {
        self.0.fetch_add(seconds, Ordering::SeqCst) + seconds
    }
    pub fn as_clock(&self) -> Arc<dyn Clock> {
        let at = self.0.clone();
        Arc::new(move || at.load(Ordering::SeqCst))
    }
}

/// A fresh directory, removed on drop.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where a demo keeps its users, sessions and 2FA records.
#[derive(Debug, Clone)]
pub enum Database {
    Sqlite(PathBuf),
    /// A URL whose `search_path` is a schema of the test's own.
    Postgres(String),
}

/// The demo serving on a loopback port; the server stops when this is dropped.
#[derive(Debug)]
pub struct Running {
    pub url: String,
    pub users: DemoUsers,
    pub outbox: Outbox,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Running {
    /// The demo over `database` with `keys` and `clock`, as `main` builds it (no account is
    /// made: see [`Running::with_account`]).
    pub async fn start(database: &Database, keys: Keys, clock: &TestClock) -> Running {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let setup = Setup {
            keys,
            public_origin: format!("http://127.0.0.1:{port}"),
            secure_cookies: false,
            clock: clock.as_clock(),
        };
        match database {
            Database::Sqlite(path) => {
                serve(open_sqlite(path, setup).await.unwrap(), listener).await
            }
            Database::Postgres(url) => {
                serve(open_postgres(url, setup).await.unwrap(), listener).await
            }
        }
    }

    /// Sets the password of `alice@example.com` to [`PASSWORD`], making the account.
    pub async fn with_account(self) -> Running {
        self.users.set_password(ID, EMAIL, PASSWORD).await.unwrap();
        self
    }

    /// On a new SQLite file in `dir`, with new keys and the account.
    pub async fn sqlite(dir: &TempDir, clock: &TestClock) -> Running {
        let database = Database::Sqlite(dir.join("demo.db"));
        Running::start(&database, Keys::generate().unwrap(), clock)
            .await
            .with_account()
            .await
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.url)
    }

    /// The subjects of the mails to `to`, newest first.
    pub fn subjects(&self, to: &str) -> Vec<String> {
        self.outbox.to(to).into_iter().map(|m| m.subject).collect()
    }
}

async fn serve<S: Store + 'static, St: Storage>(
    demo: Demo<S, St>,
    listener: tokio::net::TcpListener,
) -> Running {
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = demo
        .app()
        .into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Running {
        url,
        users: demo.users.clone(),
        outbox: demo.outbox.clone(),
        server,
    }
}

/// The PostgreSQL test server's URL; without one, a note and `None` on a developer's
/// machine, and a failure under CI, so a PostgreSQL test never passes by not running.
pub fn postgres_url() -> Option<String> {
    match std::env::var(POSTGRES_URL) {
        Ok(url) => Some(url),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{POSTGRES_URL} is required under CI (run `eval \"$(.ci/postgres start)\"`)"
            );
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "skipped the PostgreSQL part: {POSTGRES_URL} is not set \
                 (run `eval \"$(.ci/postgres start)\"` first)"
            );
            None
        }
    }
}

/// A new schema on the test server; the URL that puts it first in the `search_path`.
pub async fn postgres_schema(url: &str, schema: &str) -> String {
    let admin = sqlx::PgPool::connect(url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-csearch_path%3D{schema}")
}

pub async fn drop_postgres_schema(url: &str, schema: &str) {
    let admin = sqlx::PgPool::connect(url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
}

/// A name no other test or earlier run has used, and a plain SQL identifier.
pub fn unique_name(prefix: &str) -> String {
    let dir = TempDir::new(prefix);
    dir.0
        .file_name()
        .unwrap()
        .to_string_lossy()
        .replace('-', "_")
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
        self.field("csrf")
            .unwrap_or_else(|| panic!("no CSRF token in {}", self.body))
    }

    /// The `value` of the first input named `name`.
    pub fn field(&self, name: &str) -> Option<String> {
        self.attr_after(&format!("name=\"{name}\""), "value")
    }

    /// The value of attribute `attr` of the element whose opening tag contains `marker`.
    pub fn attr_after(&self, marker: &str, attr: &str) -> Option<String> {
        let at = self.body.find(marker)?;
        let tag_start = self.body[..at].rfind('<')?;
        let tag_end = self.body[at..].find('>')? + at;
        let tag = &self.body[tag_start..tag_end];
        let needle = format!("{attr}=\"");
        let start = tag.find(&needle)? + needle.len();
        let end = tag[start..].find('"')? + start;
        Some(tag[start..end].to_owned())
    }

    /// The text of the element with `id`, up to its first child tag.
    pub fn by_id(&self, id: &str) -> Option<String> {
        let needle = format!("id=\"{id}\"");
        let at = self.body.find(&needle)?;
        let start = self.body[at..].find('>')? + at + 1;
        let end = self.body[start..].find('<')? + start;
        Some(self.body[start..end].trim().to_owned())
    }

    /// A redirect to `to`.
    pub fn redirects_to(&self, to: &str) -> bool {
        self.status == StatusCode::SEE_OTHER && self.location() == Some(to)
    }
}

/// A browser: a cookie jar and a user agent.
#[derive(Debug, Clone)]
pub struct Browser {
    client: Client<HttpConnector, Body>,
    pub base: String,
    pub jar: Arc<Mutex<HashMap<String, String>>>,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Browser {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: base.to_owned(),
            jar: Arc::default(),
        }
    }

    /// The same cookies against another server (the demo started again elsewhere).
    pub fn at(&self, base: &str) -> Self {
        Browser {
            base: base.to_owned(),
            ..self.clone()
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        self.send(Request::get(format!("{}{path}", self.base)), Body::empty())
            .await
    }

    /// A form post from the demo's own origin.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(form).unwrap();
        let request = Request::post(format!("{}{path}", self.base))
            .header(header::ORIGIN, &self.base)
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
        let mut request = request.header(
            header::USER_AGENT,
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
        );
        if !cookies.is_empty() {
            request = request.header(header::COOKIE, cookies.join("; "));
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

    /// The response to the password form.
    pub async fn password(&self, email: &str, password: &str) -> Page {
        self.submit(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await
    }

    /// Signs in with the password and, when asked, the code `app` shows at `now`.
    pub async fn sign_in(&self, app: Option<&Totp>, now: u64) {
        let page = self.password(EMAIL, PASSWORD).await;
        match app {
            None => assert!(page.redirects_to("/settings"), "{page:?}"),
            Some(app) => {
                assert!(page.redirects_to("/login/code"), "{page:?}");
                let code = app.generate(now).to_string();
                let done = self
                    .submit("/login/code", "/login/code", &[("code", &code)])
                    .await;
                assert!(done.redirects_to("/settings"), "{done:?}");
            }
        }
    }

    pub async fn sign_out(&self) {
        let out = self.submit("/settings", "/logout", &[]).await;
        assert!(out.redirects_to("/login"), "{out:?}");
    }

    /// Starts enabling 2FA (the session must be fresh enough for step-up): the key shown.
    pub async fn start_2fa(&self) -> Totp {
        let started = self
            .submit("/settings/2fa/enable", "/settings/2fa/enable", &[])
            .await;
        assert_eq!(started.status, StatusCode::OK, "{}", started.body);
        let key = started.by_id("manual-key").expect("the key is shown");
        Totp::new(Secret::from_base32(&key).unwrap())
    }

    /// Confirms the setup with `code`.
    pub async fn confirm_2fa(&self, code: &str) -> Page {
        self.submit(
            "/settings/2fa/verify",
            "/settings/2fa/verify",
            &[("code", code)],
        )
        .await
    }

    /// Turns 2FA on through the pages at `now`: the authenticator app and the page with the
    /// recovery codes.
    pub async fn enable_2fa(&self, now: u64) -> (Totp, Page) {
        let app = self.start_2fa().await;
        let done = self.confirm_2fa(&app.generate(now).to_string()).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
        assert_eq!(recovery_codes(&done).len(), 10, "{}", done.body);
        (app, done)
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

/// A six-digit code `app` shows at no step near `now`.
pub fn wrong_code(app: &Totp, now: u64) -> String {
    let near: Vec<String> = (0..=4)
        .map(|i| app.generate(now + i * 30 - 60).to_string())
        .collect();
    (0..10u32)
        .map(|d| format!("{d}{d}{d}{d}{d}{d}"))
        .find(|c| !near.contains(c))
        .unwrap()
}

/// The permission bits of `path`.
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
