//! What the crate costs at sign-in.
//!
//! - `code_step/<db>/crate`: the POST of the code page (a fresh, valid TOTP code for a session
//!   already past the password) through the crate's router, driven in-process with
//!   `tower::ServiceExt::oneshot`.
//! - `code_step/<db>/bare`: a bare axum handler, driven the same way in the same run, making
//!   the same store round trips with none of the crate's logic: load the session row, load
//!   the user's 2FA record and save the same bytes back (compare-and-swap), delete the session
//!   and create it under a new id. Before measuring, both sides run once under a counting
//!   wrapper of the storage and the store, and the bench stops if their round trips differ.
//!   Both sides start each iteration the same way, untimed: the crate's password POST makes
//!   the pending session (so SQLite's WAL checkpoints fall alike on both).
//! - `sign_ins_64_clients/<db>`: full sign-ins (password, then code) per second, 64 clients
//!   at once over loopback TCP against the crate's app.
//!
//! The crate's share of a code step is (crate − bare) / crate.
//!
//! SQLite is a temporary file (WAL); PostgreSQL is the server in `TWOFA_TEST_POSTGRES_URL`
//! (`eval "$(bash .ci/postgres start)"`), in a schema of its own dropped at the end, and is
//! skipped with a note when the variable is unset.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // bench code: fail loudly

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/support/mod.rs"]
mod support;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderName, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use criterion::{Criterion, SamplingMode, Throughput};
use tower::ServiceExt;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use twofa::account::{DeviceKey, PasswordConfirmed, Settings, TwoFactorRecord};
use twofa::seal::DangerPlaintextSealer;
use twofa::store::{SaveOutcome, Versioned};
use twofa::{Pbkdf2Hasher, Secret, Store, Totp, TwoFactor};
use twofa_axum::limits::{Attempt, AttemptPolicy};
use twofa_axum::storage::{PasswordAttempts, SessionInfo, Storage, StorageError, UserSessions};
use twofa_axum::{ClientAddress, Config, TwoFactorAuth};

use support::{Browser, ORIGIN, PASSWORD, Page, TestClock, TestUsers};

/// Full sign-ins per measured batch of the throughput group, each by a user of its own (a
/// TOTP code works once per user and time step).
const SIGN_INS: usize = 640;
/// Clients signing in at once in the throughput group.
const CLIENTS: usize = 64;
/// The address in-process requests come from (there is no socket; the app reads the address
/// from `X-Real-IP`, the connection info is there for apps that read the socket).
const CLIENT: ([u8; 4], u16) = ([127, 0, 0, 1], 40_000);

fn main() {
    // The crate logs why it answers 500; show it.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::ERROR)
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();

    let sqlite_db = runtime.block_on(common::SqliteDatabase::new());
    let sqlite = runtime.block_on(async {
        let pool = sqlite_db.shared_pool();
        let store = twofa_sqlx::SqliteStore::builder_with_pool(pool.clone())
            .open()
            .await
            .unwrap();
        let storage = twofa_axum::storage::SqliteStorage::new(pool);
        Bench::build(store, storage).await
    });
    let postgres_db = runtime.block_on(common::PostgresDatabase::new());
    let postgres = postgres_db.as_ref().map(|db| {
        runtime.block_on(async {
            let pool = db.shared_pool();
            let store = twofa_sqlx::PostgresStore::builder_with_pool(pool.clone())
                .connect()
                .await
                .unwrap();
            let storage = twofa_axum::storage::PostgresStorage::new(pool);
            Bench::build(store, storage).await
        })
    });

    runtime.block_on(sqlite.check_round_trips("sqlite"));
    runtime.block_on(sqlite.one_address_burst("sqlite"));
    if let Some(postgres) = &postgres {
        runtime.block_on(postgres.check_round_trips("postgres"));
        runtime.block_on(postgres.one_address_burst("postgres"));
    }

    {
        let mut group = criterion.benchmark_group("code_step");
        group.bench_function("sqlite/crate", |b| {
            b.to_async(&runtime)
                .iter_custom(|iters| sqlite.crate_code_steps(iters));
        });
        group.bench_function("sqlite/bare", |b| {
            b.to_async(&runtime)
                .iter_custom(|iters| sqlite.bare_code_steps(iters));
        });
        if let Some(postgres) = &postgres {
            group.bench_function("postgres/crate", |b| {
                b.to_async(&runtime)
                    .iter_custom(|iters| postgres.crate_code_steps(iters));
            });
            group.bench_function("postgres/bare", |b| {
                b.to_async(&runtime)
                    .iter_custom(|iters| postgres.bare_code_steps(iters));
            });
        }
        group.finish();
    }

    {
        let mut group = criterion.benchmark_group("sign_ins_64_clients");
        group
            .sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .throughput(Throughput::Elements(SIGN_INS as u64));
        let clients = runtime.block_on(sqlite.clients());
        group.bench_function("sqlite", |b| {
            b.to_async(&runtime)
                .iter_custom(|iters| sqlite.sign_in_batches(&clients, iters));
        });
        if let Some(postgres) = &postgres {
            let clients = runtime.block_on(postgres.clients());
            group.bench_function("postgres", |b| {
                b.to_async(&runtime)
                    .iter_custom(|iters| postgres.sign_in_batches(&clients, iters));
            });
        }
        group.finish();
    }

    criterion.final_summary();
    if let Some(db) = postgres_db {
        runtime.block_on(db.drop_schema());
    }
    drop(sqlite_db);
}

/// One backend: the crate's app (in-process and over TCP), the bare app, and the users.
struct Bench<S: Store + Clone + 'static, St: Storage> {
    /// The crate's whole app, driven in-process.
    app: Router,
    /// The bare handler on the same databases, driven in-process.
    bare: Router,
    /// The crate's app served on loopback.
    url: String,
    trips: Arc<Trips>,
    clock: TestClock,
    /// Alice's authenticator app (the code-step benches).
    alice: Totp,
    /// The throughput group's users: e-mail address and authenticator app.
    many: Arc<Vec<(String, Totp)>>,
    /// The CSRF cookie (`name=value`) and the matching form token, for in-process requests.
    csrf_cookie: String,
    csrf_token: String,
    _types: std::marker::PhantomData<(S, St)>,
}

impl<S: Store + Clone + 'static, St: Storage> Bench<S, St> {
    async fn build(store: S, storage: St) -> Self {
        let trips = Arc::new(Trips::default());
        let store = Counted::new(store, &trips);
        let storage = Counted::new(storage, &trips);
        let clock = TestClock::new();
        let users = TestUsers::default();
        users.add("alice", "alice@example.com");
        for i in 0..SIGN_INS {
            users.add(&format!("user{i}"), &format!("user{i}@example.com"));
        }
        let settings = Settings::new("Example App")
            .unwrap()
            .reauthentication_lifetime(600)
            .unwrap()
            .device_key(DeviceKey::generate());
        // Recovery codes are hashed only at enrolment (never in a sign-in with a code): the
        // fewest iterations keep enrolling 641 users quick.
        let hasher = Pbkdf2Hasher::new()
            .with_iterations(Pbkdf2Hasher::MIN_ITERATIONS)
            .unwrap();
        let two_factor = TwoFactor::new(
            store.clone(),
            settings,
            Arc::new(DangerPlaintextSealer::new()),
            Arc::new(hasher),
        )
        .with_clock(clock.as_clock());
        // No attempt limit refuses a sign-in of the bench, and the hashing queue holds every
        // client's check (the password checks cost nothing: `check_ms` is 0).
        let limits = AttemptPolicy::new(1_000_000, 1, 1, 60);
        let config = Config::new(ORIGIN, [9; 32])
            .unwrap()
            .with_attempt_limits(limits, limits)
            .with_hashing_pool(2, 2 * CLIENTS)
            // Each client has an address of its own (see `clients`).
            .with_client_address(ClientAddress::TrustedProxyHeader(HeaderName::from_static(
                "x-real-ip",
            )));
        let auth = TwoFactorAuth::new(two_factor, users.clone(), storage.clone(), config)
            .unwrap()
            .with_clock(clock.as_clock());

        let alice = enroll(&auth, &users, "alice", "alice@example.com", clock.now()).await;
        let mut many = Vec::with_capacity(SIGN_INS);
        for i in 0..SIGN_INS {
            let email = format!("user{i}@example.com");
            let totp = enroll(&auth, &users, &format!("user{i}"), &email, clock.now()).await;
            many.push((email, totp));
        }

        let app = auth.router(Router::new());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let served = app.clone();
        tokio::spawn(async move {
            axum::serve(
                listener,
                served.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });

        let bare = Router::new()
            .route("/login/code", post(bare_code_step::<S, St>))
            .with_state(Arc::new(BareApp {
                store,
                storage: storage.clone(),
            }));

        let page = send(&app, get("/login")).await;
        let csrf_cookie = page
            .set_cookies()
            .iter()
            .map(|c| c.split(';').next().unwrap().to_owned())
            .find(|c| c.starts_with("__Host-csrf="))
            .expect("a CSRF cookie");
        let csrf_token = page.csrf();

        Bench {
            app,
            bare,
            url,
            trips,
            clock,
            alice,
            many: Arc::new(many),
            csrf_cookie,
            csrf_token,
            _types: std::marker::PhantomData,
        }
    }

    /// POSTs Alice's password in-process; the new session's cookie (`name=value`).
    async fn sign_in_password(&self) -> String {
        let form = [
            ("csrf", self.csrf_token.as_str()),
            ("email", "alice@example.com"),
            ("password", PASSWORD),
        ];
        let page = send(&self.app, post_form("/login", &self.csrf_cookie, &form)).await;
        assert_eq!(page.location(), Some("/login/code"), "{page:?}");
        session_cookie(&page.headers)
    }

    /// The code POST of a session past the password, with a fresh code.
    fn code_request(&self, session: &str) -> Request<Body> {
        self.clock.advance(30);
        let code = self.alice.generate(self.clock.now()).to_string();
        let cookies = format!("{}; {session}", self.csrf_cookie);
        post_form(
            "/login/code",
            &cookies,
            &[("csrf", &self.csrf_token), ("code", &code)],
        )
    }

    async fn crate_code_steps(&self, iters: u64) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let session = self.sign_in_password().await;
            let request = self.code_request(&session);
            let start = Instant::now();
            let response = self.app.clone().oneshot(request).await.unwrap();
            total += start.elapsed();
            assert_signed_in(&response);
        }
        total
    }

    async fn bare_code_steps(&self, iters: u64) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let session = self.sign_in_password().await;
            let request = self.code_request(&session);
            let start = Instant::now();
            let response = self.bare.clone().oneshot(request).await.unwrap();
            total += start.elapsed();
            assert_signed_in(&response);
        }
        total
    }

    /// Runs one code step on each side under the counting wrappers, prints the round trips
    /// and stops the bench if the two sides differ.
    async fn check_round_trips(&self, backend: &str) {
        let session = self.sign_in_password().await;
        let request = self.code_request(&session);
        let before = self.trips.snapshot();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let by_crate = self.trips.since(&before);
        assert_signed_in(&response);

        let session = self.sign_in_password().await;
        let request = self.code_request(&session);
        let before = self.trips.snapshot();
        let response = self.bare.clone().oneshot(request).await.unwrap();
        let by_bare = self.trips.since(&before);
        assert_signed_in(&response);

        eprintln!(
            "{backend}: store round trips of one code step: crate {by_crate}; bare {by_bare}"
        );
        assert_eq!(
            by_crate, by_bare,
            "{backend}: the bare handler must make the crate's round trips"
        );
    }

    /// One browser per client, each with an address of its own and its CSRF cookie (from a
    /// GET of the sign-in page).
    async fn clients(&self) -> Vec<(Browser, String)> {
        let mut clients = Vec::with_capacity(CLIENTS);
        for i in 0..CLIENTS {
            let mut browser = Browser::new(&self.url);
            browser.address = Some(format!("10.0.0.{}", i + 1));
            let csrf = browser.get("/login").await.csrf();
            clients.push((browser, csrf));
        }
        clients
    }

    /// [`CLIENTS`] password sign-ins at once from one address (many users behind one NAT):
    /// prints how they were answered. Not measured; the throughput group gives each client an
    /// address of its own because of what this shows.
    async fn one_address_burst(&self, backend: &str) {
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let mut browser = Browser::new(&self.url);
                browser.address = Some("10.9.9.9".to_owned());
                let email = self.many[i].0.clone();
                tokio::spawn(async move {
                    let csrf = browser.get("/login").await.csrf();
                    browser
                        .post(
                            "/login",
                            &[("csrf", &csrf), ("email", &email), ("password", PASSWORD)],
                        )
                        .await
                        .status
                })
            })
            .collect();
        let mut answers: std::collections::BTreeMap<u16, usize> = std::collections::BTreeMap::new();
        for task in tasks {
            *answers.entry(task.await.unwrap().as_u16()).or_default() += 1;
        }
        eprintln!(
            "{backend}: {CLIENTS} right passwords at once from one address, answered by status: {answers:?}"
        );
    }

    /// `iters` batches of [`SIGN_INS`] full sign-ins, [`CLIENTS`] at a time, each by a user of
    /// its own; the time they took.
    async fn sign_in_batches(&self, clients: &[(Browser, String)], iters: u64) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            // A new time step: every user's code is fresh again.
            self.clock.advance(30);
            let next = Arc::new(AtomicUsize::new(0));
            let start = Instant::now();
            let tasks: Vec<_> = clients
                .iter()
                .cloned()
                .map(|(browser, csrf)| {
                    let next = Arc::clone(&next);
                    let many = Arc::clone(&self.many);
                    let clock = self.clock.clone();
                    tokio::spawn(async move {
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some((email, totp)) = many.get(i) else {
                                break;
                            };
                            browser.jar.lock().unwrap().remove("__Host-session");
                            let page = browser
                                .post(
                                    "/login",
                                    &[("csrf", &csrf), ("email", email), ("password", PASSWORD)],
                                )
                                .await;
                            assert_eq!(page.location(), Some("/login/code"), "{page:?}");
                            let code = totp.generate(clock.now()).to_string();
                            let page = browser
                                .post("/login/code", &[("csrf", &csrf), ("code", &code)])
                                .await;
                            assert_eq!(page.location(), Some("/settings"), "{page:?}");
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            total += start.elapsed();
        }
        total
    }
}

/// Turns 2FA on for `user_id` through the service and sets the host's flag; the user's
/// authenticator app.
async fn enroll<S: Store + 'static, St: Storage>(
    auth: &TwoFactorAuth<TestUsers, S, St>,
    users: &TestUsers,
    user_id: &str,
    email: &str,
    now: u64,
) -> Totp {
    let proof = PasswordConfirmed::restore_from_server_session(user_id, now);
    let started = auth
        .two_factor()
        .start_enrollment(user_id, Some(&proof), email)
        .await
        .unwrap()
        .result
        .unwrap();
    let totp = Totp::new(Secret::from_base32(&started.manual_key()).unwrap());
    let code = totp.generate(now).to_string();
    auth.two_factor()
        .confirm_enrollment(user_id, &code)
        .await
        .unwrap()
        .result
        .unwrap();
    users.set_flag(user_id, true);
    totp
}

/// The bare side: the same databases, through the same storage and store types.
struct BareApp<S: Store + Clone + 'static, St: Storage> {
    store: Counted<S>,
    storage: Counted<St>,
}

/// The code step with none of the crate's logic, only its store round trips: the session
/// row, the 2FA record loaded and saved back unchanged (compare-and-swap), and the session id
/// cycled (delete, create).
async fn bare_code_step<S: Store + Clone + 'static, St: Storage>(
    State(app): State<Arc<BareApp<S, St>>>,
    headers: HeaderMap,
    _form: Bytes,
) -> Response {
    let Some(id) = cookie(&headers, "__Host-session").and_then(|v| v.parse::<Id>().ok()) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Some(record) = SessionStore::load(&app.storage, &id).await.unwrap() else {
        return see_other("/login", None);
    };
    let user_id = record.data["twofa"]["user_id"].as_str().unwrap().to_owned();
    let Versioned {
        record: stored,
        version,
    } = Store::load(&app.store, &user_id).await.unwrap().unwrap();
    let saved = Store::save(&app.store, &user_id, &stored, Some(version))
        .await
        .unwrap();
    assert!(matches!(saved, SaveOutcome::Saved));
    SessionStore::delete(&app.storage, &id).await.unwrap();
    let mut record = Record {
        id: Id::default(),
        ..record
    };
    SessionStore::create(&app.storage, &mut record)
        .await
        .unwrap();
    let cookie = format!(
        "__Host-session={}; HttpOnly; SameSite=Lax; Secure; Path=/",
        record.id
    );
    see_other("/settings", Some(cookie))
}

fn see_other(to: &str, cookie: Option<String>) -> Response {
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response();
    if let Some(cookie) = cookie {
        response
            .headers_mut()
            .append(header::SET_COOKIE, cookie.parse().unwrap());
    }
    response
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
}

fn assert_signed_in(response: &Response) {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok()),
        Some("/settings")
    );
}

/// The `__Host-session=…` pair a response sets.
fn session_cookie(headers: &HeaderMap) -> String {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|c| c.split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("__Host-session="))
        .expect("a session cookie")
}

fn get(path: &str) -> Request<Body> {
    let mut request = Request::get(path)
        .header(
            header::USER_AGENT,
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
        )
        .body(Body::empty())
        .unwrap();
    request
        .headers_mut()
        .insert("x-real-ip", header::HeaderValue::from_static("127.0.0.1"));
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(CLIENT)));
    request
}

/// A form post from the app's own origin, as a browser sends it, with `cookies`.
fn post_form(path: &str, cookies: &str, form: &[(&str, &str)]) -> Request<Body> {
    let body = serde_urlencoded::to_string(form).unwrap();
    let mut request = Request::post(path)
        .header(header::ORIGIN, ORIGIN)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(
            header::USER_AGENT,
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
        )
        .header(header::COOKIE, cookies)
        .body(Body::from(body))
        .unwrap();
    request
        .headers_mut()
        .insert("x-real-ip", header::HeaderValue::from_static("127.0.0.1"));
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(CLIENT)));
    request
}

/// Sends `request` in-process and reads the whole response.
async fn send(app: &Router, request: Request<Body>) -> Page {
    use http_body_util::BodyExt;
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    Page {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Store round trips, by kind.
#[derive(Debug, Default)]
struct Trips {
    session_load: AtomicU64,
    session_create: AtomicU64,
    session_save: AtomicU64,
    session_delete: AtomicU64,
    record_load: AtomicU64,
    record_save: AtomicU64,
    other: AtomicU64,
}

/// A snapshot of [`Trips`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TripCounts([u64; 7]);

impl fmt::Display for TripCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            "session load",
            "session create",
            "session save",
            "session delete",
            "2FA record load",
            "2FA record save",
            "other",
        ];
        let total: u64 = self.0.iter().sum();
        write!(f, "{total} (")?;
        let mut first = true;
        for (name, count) in names.iter().zip(self.0) {
            if count > 0 {
                if !first {
                    write!(f, ", ")?;
                }
                write!(f, "{name} {count}")?;
                first = false;
            }
        }
        write!(f, ")")
    }
}

impl Trips {
    fn all(&self) -> [&AtomicU64; 7] {
        [
            &self.session_load,
            &self.session_create,
            &self.session_save,
            &self.session_delete,
            &self.record_load,
            &self.record_save,
            &self.other,
        ]
    }

    fn snapshot(&self) -> TripCounts {
        TripCounts(self.all().map(|c| c.load(Ordering::SeqCst)))
    }

    fn since(&self, before: &TripCounts) -> TripCounts {
        let now = self.snapshot();
        TripCounts(std::array::from_fn(|i| now.0[i] - before.0[i]))
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// A storage or store that counts its round trips.
#[derive(Debug, Clone)]
struct Counted<T> {
    inner: T,
    trips: Arc<Trips>,
}

impl<T> Counted<T> {
    fn new(inner: T, trips: &Arc<Trips>) -> Self {
        Counted {
            inner,
            trips: Arc::clone(trips),
        }
    }
}

impl<S: Store> Store for Counted<S> {
    type Error = S::Error;

    fn load(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Option<Versioned>, S::Error>> + Send {
        bump(&self.trips.record_load);
        self.inner.load(user_id)
    }

    fn save(
        &self,
        user_id: &str,
        record: &TwoFactorRecord,
        expected_version: Option<u64>,
    ) -> impl Future<Output = Result<SaveOutcome, S::Error>> + Send {
        bump(&self.trips.record_save);
        self.inner.save(user_id, record, expected_version)
    }

    fn delete(&self, user_id: &str) -> impl Future<Output = Result<bool, S::Error>> + Send {
        bump(&self.trips.other);
        self.inner.delete(user_id)
    }
}

#[async_trait]
impl<St: Storage> SessionStore for Counted<St> {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        bump(&self.trips.session_create);
        self.inner.create(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        bump(&self.trips.session_save);
        self.inner.save(record).await
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        bump(&self.trips.session_load);
        self.inner.load(id).await
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        bump(&self.trips.session_delete);
        self.inner.delete(id).await
    }
}

#[async_trait]
impl<St: Storage> ExpiredDeletion for Counted<St> {
    async fn delete_expired(&self) -> session_store::Result<()> {
        bump(&self.trips.other);
        self.inner.delete_expired().await
    }
}

#[async_trait]
impl<St: Storage> UserSessions for Counted<St> {
    async fn sessions_of(&self, user_id: &str) -> Result<Vec<SessionInfo>, StorageError> {
        bump(&self.trips.other);
        self.inner.sessions_of(user_id).await
    }

    async fn end_session(&self, user_id: &str, handle: &str) -> Result<bool, StorageError> {
        bump(&self.trips.other);
        self.inner.end_session(user_id, handle).await
    }

    async fn end_other_sessions(
        &self,
        user_id: &str,
        keep: Option<&Id>,
    ) -> Result<u64, StorageError> {
        bump(&self.trips.other);
        self.inner.end_other_sessions(user_id, keep).await
    }
}

#[async_trait]
impl<St: Storage> PasswordAttempts for Counted<St> {
    async fn begin_attempt(
        &self,
        key: &str,
        policy: &AttemptPolicy,
        now: u64,
    ) -> Result<Attempt, StorageError> {
        bump(&self.trips.other);
        self.inner.begin_attempt(key, policy, now).await
    }

    async fn refund_attempt(&self, key: &str) -> Result<(), StorageError> {
        bump(&self.trips.other);
        self.inner.refund_attempt(key).await
    }

    async fn clear_attempts(&self, key: &str) -> Result<(), StorageError> {
        bump(&self.trips.other);
        self.inner.clear_attempts(key).await
    }

    async fn purge_attempts(&self, before: u64) -> Result<u64, StorageError> {
        bump(&self.trips.other);
        self.inner.purge_attempts(before).await
    }
}
