//! The crate's promises, tried over HTTP against a running app as an attacker would try them:
//! sign-in, sign-out that sticks, sessions ended by 2FA changes, step-up, password-attempt
//! limits, cookies, CSRF. Each test runs on every storage backend: memory, SQLite and
//! PostgreSQL (through `.ci/postgres`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: fail loudly

mod common;
mod support;

use axum::http::StatusCode;
use twofa::account::DeviceKey;
use twofa::{MemoryStore, Store};
use twofa_axum::limits::AttemptPolicy;
use twofa_axum::storage::{MemoryStorage, Storage, UserSessions};
use twofa_axum::{Config, NoticeKind};

use support::{App, Browser, PASSWORD, TestClock, TestUsers, Tweak, to_sign_in};

/// Runs `test` on an app over each backend.
macro_rules! on_every_backend {
    ($($name:ident($tweak:ident)),* $(,)?) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let app = crate::memory_app(crate::$tweak).await;
                super::$name(app).await;
            })*
        }
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let db = crate::common::SqliteDatabase::new().await;
                let store = twofa_sqlx::SqliteStore::builder_with_pool(db.shared_pool()).open().await.unwrap();
                let storage = twofa_axum::storage::SqliteStorage::new(db.shared_pool());
                let app = crate::app(store, storage, crate::$tweak).await;
                super::$name(app).await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(db) = crate::common::PostgresDatabase::new().await else { return };
                let store = twofa_sqlx::PostgresStore::builder_with_pool(db.shared_pool()).connect().await.unwrap();
                let storage = twofa_axum::storage::PostgresStorage::new(db.shared_pool());
                let app = crate::app(store, storage, crate::$tweak).await;
                super::$name(app).await;
                db.drop_schema().await;
            })*
        }
    };
}

fn same(config: Config) -> Config {
    config
}

async fn memory_app(tweak: Tweak) -> App<MemoryStore, MemoryStorage> {
    app(MemoryStore::new(), MemoryStorage::new(), tweak).await
}

/// An app with users `alice` (alice@example.com) and `bob`.
async fn app<S: Store + 'static, St: Storage>(store: S, storage: St, tweak: Tweak) -> App<S, St> {
    let users = TestUsers::default();
    users.add("alice", "alice@example.com");
    users.add("bob", "bob@example.com");
    support::start(
        store,
        storage,
        users,
        TestClock::new(),
        DeviceKey::generate(),
        tweak,
    )
    .await
}

/// Alice, signed in with her password (2FA off).
async fn signed_in<S: Store + 'static, St: Storage>(app: &App<S, St>) -> Browser {
    let browser = Browser::new(&app.url);
    let page = browser.password("alice@example.com", PASSWORD).await;
    assert_eq!(page.location(), Some("/settings"), "{page:?}");
    browser
}

/// Alice with 2FA on, signed in with a code; her app.
async fn with_2fa<S: Store + 'static, St: Storage>(
    app: &App<S, St>,
) -> (Browser, twofa::Totp, Vec<String>) {
    let browser = signed_in(app).await;
    let (totp, codes) = browser.enable_2fa(&app.clock).await;
    assert!(app.users.get("alice").two_factor, "the host's flag is set");
    (browser, totp, codes)
}

/// Alice signs in on a new browser with the password and a code (moving the clock a step so
/// the code is fresh).
async fn sign_in_with_code<S: Store + 'static, St: Storage>(
    app: &App<S, St>,
    totp: &twofa::Totp,
) -> Browser {
    let browser = Browser::new(&app.url);
    let page = browser.password("alice@example.com", PASSWORD).await;
    assert_eq!(page.location(), Some("/login/code"), "{page:?}");
    app.clock.advance(30);
    let code = totp.generate(app.clock.now()).to_string();
    let page = browser
        .submit("/login/code", "/login/code", &[("code", &code)])
        .await;
    assert_eq!(page.location(), Some("/settings"), "{page:?}");
    browser
}

on_every_backend! {
    the_whole_sign_in_asks_for_the_code_and_sign_out_ends_every_copy(same),
    a_request_in_flight_cannot_undo_a_sign_out(same),
    a_held_request_that_writes_after_sign_out_writes_nothing(same),
    turning_2fa_on_ends_sessions_opened_before(same),
    a_password_only_session_is_refused_once_the_flag_says_on(same),
    step_up_asks_for_the_factor_not_the_password(same),
    step_up_without_2fa_asks_for_the_password(same),
    the_confirm_page_limits_password_guesses_like_sign_in(same),
    new_codes_and_disabling_end_other_sessions(same),
    the_sessions_list_ends_one_session_and_only_the_users_own(same),
    logging_out_other_devices_ends_sessions_and_revokes_devices(same),
    a_password_change_ends_other_sessions_and_revokes_devices(same),
    anonymous_visitors_and_wrong_passwords_store_no_session(same),
    a_burst_of_wrong_passwords_is_mostly_refused_unchecked(same),
    a_missing_2fa_record_fails_closed(same),
    lockouts_render_pages_that_say_what_to_do(same),
    a_recovery_code_signs_in_once_and_says_how_many_are_left(same),
    a_device_that_cannot_be_trusted_still_signs_in_and_is_told(same),
    routes_that_require_2fa_send_users_without_it_to_enrolment(same),
    the_hashing_pool_runs_few_checks_at_once_and_refuses_the_rest(small_hashing_pool),
    attempts_are_limited_per_address_too(small_address_limit),
}

fn small_hashing_pool(config: Config) -> Config {
    let generous = AttemptPolicy::new(1_000, 1, 1, 60);
    config
        .with_hashing_pool(1, 4)
        .with_attempt_limits(generous, generous)
}

fn small_address_limit(config: Config) -> Config {
    let generous = AttemptPolicy::new(1_000, 1, 1, 60);
    config.with_attempt_limits(generous, AttemptPolicy::new(3, 60, 900, 86_400))
}

async fn the_whole_sign_in_asks_for_the_code_and_sign_out_ends_every_copy<
    S: Store + 'static,
    St: Storage,
>(
    app: App<S, St>,
) {
    let (_, totp, _) = with_2fa(&app).await;
    let browser = Browser::new(&app.url);
    let page = browser.password("alice@example.com", PASSWORD).await;
    assert_eq!(page.location(), Some("/login/code"));
    // Past the password only: nothing signed-in is reachable.
    assert!(to_sign_in(&browser.get("/settings").await));
    assert!(to_sign_in(&browser.get("/").await));
    let wrong = browser
        .submit("/login/code", "/login/code", &[("code", "000000")])
        .await;
    assert!(
        wrong.body.contains("That code is not valid"),
        "{}",
        wrong.body
    );
    app.clock.advance(30);
    let code = totp.generate(app.clock.now()).to_string();
    let page = browser
        .submit("/login/code", "/login/code", &[("code", &code)])
        .await;
    assert_eq!(page.location(), Some("/settings"));
    assert_eq!(browser.get("/").await.body, "home of alice@example.com");
    // The same code again is a replay, on a second browser.
    let second = Browser::new(&app.url);
    second.password("alice@example.com", PASSWORD).await;
    let replay = second
        .submit("/login/code", "/login/code", &[("code", &code)])
        .await;
    assert!(replay.body.contains("That code is not valid"));
    assert!(app.outbox.kinds("alice").contains(&NoticeKind::TwoFactor(
        twofa::account::Event::ReplayDetected
    )));

    let stolen = browser.copy_cookies();
    assert_eq!(stolen.get("/").await.status, StatusCode::OK);
    let out = browser.submit("/settings", "/logout", &[]).await;
    assert!(to_sign_in(&out), "{out:?}");
    assert!(to_sign_in(&browser.get("/settings").await));
    assert!(
        to_sign_in(&stolen.get("/settings").await),
        "a copied cookie is signed out too"
    );
}

async fn a_request_in_flight_cannot_undo_a_sign_out<S: Store + 'static, St: Storage>(
    app: App<S, St>,
) {
    for _ in 0..5 {
        let browser = signed_in(&app).await;
        let stolen = browser.copy_cookies();
        // Every poll writes the session (its last-seen time moves on), as a request in flight
        // during the sign-out would.
        let clock = app.clock.clone();
        let poller = tokio::spawn(async move {
            let mut signed_out_at = None;
            for i in 0..5_000 {
                clock.advance(61);
                let page = stolen.get("/settings").await;
                if to_sign_in(&page) {
                    signed_out_at.get_or_insert(i);
                } else if signed_out_at.is_some() {
                    panic!("signed in again after being signed out: poll {i}");
                }
                // Keep polling a while after the sign-out, as the attacker would.
                if signed_out_at.is_some_and(|at| i >= at + 20) {
                    break;
                }
            }
            signed_out_at
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let out = browser.submit("/settings", "/logout", &[]).await;
        assert!(to_sign_in(&out));
        let signed_out_at = poller.await.unwrap();
        assert!(
            signed_out_at.is_some(),
            "the copied cookie was never signed out"
        );
        let after = browser.copy_cookies();
        assert!(to_sign_in(&after.get("/settings").await));
        let left = app.auth.storage().sessions_of("alice").await.unwrap();
        assert!(left.is_empty(), "no session of alice is left: {left:?}");
    }
}

async fn a_held_request_that_writes_after_sign_out_writes_nothing<
    S: Store + 'static,
    St: Storage,
>(
    app: App<S, St>,
) {
    let browser = signed_in(&app).await;
    let stolen = browser.copy_cookies();
    let copy = browser.copy_cookies();
    let held = tokio::spawn(async move { copy.get("/slow").await });
    let entered = tokio::time::timeout(std::time::Duration::from_secs(5), app.entered.notified());
    entered
        .await
        .expect("the held request reached the host's handler");
    let out = browser.submit("/settings", "/logout", &[]).await;
    assert!(to_sign_in(&out));
    app.release.notify_one();
    let held = tokio::time::timeout(std::time::Duration::from_secs(5), held).await;
    let held = held.expect("the held request was answered").unwrap();
    assert_eq!(held.body, "slow page", "the request in flight was answered");
    assert!(
        to_sign_in(&stolen.get("/settings").await),
        "the sign-out held"
    );
    assert!(
        app.auth
            .storage()
            .sessions_of("alice")
            .await
            .unwrap()
            .is_empty()
    );
}

async fn turning_2fa_on_ends_sessions_opened_before<S: Store + 'static, St: Storage>(
    app: App<S, St>,
) {
    let other = signed_in(&app).await;
    let phished = other.copy_cookies();
    assert_eq!(phished.get("/settings").await.status, StatusCode::OK);
    let (_owner, _, _) = with_2fa(&app).await;
    assert!(to_sign_in(&other.get("/settings").await));
    assert!(to_sign_in(
        &phished.get("/settings/2fa/recovery-codes").await
    ));
    // And the phished session cannot mint codes with a form either: with a valid CSRF token
    // for its browser, the post is still sent to sign in.
    let csrf = phished.get("/login").await.csrf();
    let page = phished
        .post("/settings/2fa/recovery-codes", &[("csrf", &csrf)])
        .await;
    assert!(to_sign_in(&page), "{page:?}");
    assert_eq!(
        app.auth.storage().sessions_of("alice").await.unwrap().len(),
        1
    );
}

async fn a_password_only_session_is_refused_once_the_flag_says_on<
    S: Store + 'static,
    St: Storage,
>(
    app: App<S, St>,
) {
    // 2FA turned on elsewhere (another server that could not end this session, or an admin
    // tool): the flag alone ends a session that never passed a second factor.
    let browser = signed_in(&app).await;
    app.users.set_flag("alice", true);
    assert!(to_sign_in(&browser.get("/").await));
    assert!(
        app.auth
            .storage()
            .sessions_of("alice")
            .await
            .unwrap()
            .is_empty()
    );
}

async fn step_up_asks_for_the_factor_not_the_password<S: Store + 'static, St: Storage>(
    app: App<S, St>,
) {
    let (_, totp, _) = with_2fa(&app).await;
    let browser = sign_in_with_code(&app, &totp).await;
    // Fresh: straight in.
    assert_eq!(
        browser.get("/settings/2fa/disable").await.status,
        StatusCode::OK
    );
    app.clock.advance(601);
    let page = browser.get("/settings/2fa/disable").await;
    assert_eq!(
        page.location(),
        Some("/confirm?next=%2Fsettings%2F2fa%2Fdisable")
    );
    // A page is returned to with its query.
    let page = browser.get("/password?tab=security").await;
    assert_eq!(
        page.location(),
        Some("/confirm?next=%2Fpassword%3Ftab%3Dsecurity")
    );
    // A form post is sent to the page at its path.
    let csrf = browser.get("/settings").await.csrf();
    let post = browser
        .post("/settings/2fa/disable", &[("csrf", &csrf)])
        .await;
    assert_eq!(
        post.location(),
        Some("/confirm?next=%2Fsettings%2F2fa%2Fdisable")
    );
    assert!(app.users.get("alice").two_factor, "nothing was disabled");
    let confirm = browser
        .get("/confirm?next=%2Fsettings%2F2fa%2Fdisable")
        .await;
    assert!(
        confirm
            .body
            .contains("fresh code from your authenticator app"),
        "{}",
        confirm.body
    );
    assert!(
        !confirm.body.contains("type=\"password\""),
        "the password alone does not step up"
    );
    // The password is refused as the proof.
    let csrf = confirm.csrf();
    let fields = [
        ("csrf", csrf.as_str()),
        ("secret", PASSWORD),
        ("with", "password"),
        ("next", "/settings/2fa/disable"),
    ];
    let refused = browser.post("/confirm", &fields).await;
    assert!(
        refused.body.contains("That code is not valid"),
        "{}",
        refused.body
    );
    let code = totp.generate(app.clock.now()).to_string();
    let fields = [
        ("csrf", csrf.as_str()),
        ("secret", &code),
        ("with", "code"),
        ("next", "/settings/2fa/disable"),
    ];
    let ok = browser.post("/confirm", &fields).await;
    assert_eq!(ok.location(), Some("/settings/2fa/disable"));
    let disabled = browser
        .submit("/settings/2fa/disable", "/settings/2fa/disable", &[])
        .await;
    assert_eq!(disabled.location(), Some("/settings"));
    assert!(!app.users.get("alice").two_factor);
    assert!(
        browser
            .get("/settings")
            .await
            .body
            .contains("Two-factor authentication is off.")
    );
    // An open redirect through `next` is refused.
    let csrf = browser.get("/confirm").await.csrf();
    let fields = [
        ("csrf", csrf.as_str()),
        ("secret", PASSWORD),
        ("with", "password"),
        ("next", "//evil.example"),
    ];
    let page = browser.post("/confirm", &fields).await;
    assert_eq!(page.location(), Some("/settings"));
}

async fn step_up_without_2fa_asks_for_the_password<S: Store + 'static, St: Storage>(
    app: App<S, St>,
) {
    let browser = signed_in(&app).await;
    app.clock.advance(601);
    let page = browser.get("/settings/2fa/enable").await;
    assert_eq!(
        page.location(),
        Some("/confirm?next=%2Fsettings%2F2fa%2Fenable")
    );
    let confirm = browser
        .get("/confirm?next=%2Fsettings%2F2fa%2Fenable")
        .await;
    assert!(confirm.body.contains("type=\"password\""));
    let csrf = confirm.csrf();
    let wrong = [
        ("csrf", csrf.as_str()),
        ("secret", "guess"),
        ("with", "password"),
        ("next", "/settings/2fa/enable"),
    ];
    assert!(
        browser
            .post("/confirm", &wrong)
            .await
            .body
            .contains("Wrong password.")
    );
    let right = [
        ("csrf", csrf.as_str()),
        ("secret", PASSWORD),
        ("with", "password"),
        ("next", "/settings/2fa/enable"),
    ];
    assert_eq!(
        browser.post("/confirm", &right).await.location(),
        Some("/settings/2fa/enable")
    );
    browser.enable_2fa(&app.clock).await;
}

async fn the_confirm_page_limits_password_guesses_like_sign_in<S: Store + 'static, St: Storage>(
    app: App<S, St>,
) {
    // A stolen session of a user without 2FA: guessing the password to step up is limited.
    let browser = signed_in(&app).await;
    app.clock.advance(601);
    let csrf = browser
        .get("/confirm?next=%2Fsettings%2F2fa%2Fenable")
        .await
        .csrf();
    let mut statuses = Vec::new();
    for i in 0..8 {
        let guess = format!("guess {i}");
        let fields = [
            ("csrf", csrf.as_str()),
            ("secret", guess.as_str()),
            ("with", "password"),
            ("next", "/settings/2fa/enable"),
        ];
        statuses.push(browser.post("/confirm", &fields).await.status);
    }
    assert_eq!(&statuses[..5], &[StatusCode::OK; 5], "{statuses:?}");
    assert_eq!(
        &statuses[5..],
        &[StatusCode::TOO_MANY_REQUESTS; 3],
        "{statuses:?}"
    );
    assert_eq!(
        app.users.checks.load(std::sync::atomic::Ordering::SeqCst),
        1 + 5,
        "the sign-in and 5 guesses"
    );
}

async fn new_codes_and_disabling_end_other_sessions<S: Store + 'static, St: Storage>(
    app: App<S, St>,
) {
    let (owner, totp, _) = with_2fa(&app).await;
    let other = sign_in_with_code(&app, &totp).await;
    let page = owner
        .submit(
            "/settings/2fa/recovery-codes",
            "/settings/2fa/recovery-codes",
            &[],
        )
        .await;
    assert_eq!(support::recovery_codes(&page).len(), 10, "{}", page.body);
    assert!(
        page.body.contains("alice@example.com"),
        "the codes name the account"
    );
    assert!(to_sign_in(&other.get("/settings").await));
    assert_eq!(owner.get("/settings").await.status, StatusCode::OK);

    let other = sign_in_with_code(&app, &totp).await;
    let page = owner
        .submit("/settings/2fa/disable", "/settings/2fa/disable", &[])
        .await;
    assert_eq!(page.location(), Some("/settings"));
    assert!(to_sign_in(&other.get("/settings").await));
    assert_eq!(
        owner.get("/").await.status,
        StatusCode::OK,
        "the owner stays signed in"
    );
}

async fn the_sessions_list_ends_one_session_and_only_the_users_own<
    S: Store + 'static,
    St: Storage,
>(
    app: App<S, St>,
) {
    let mine = signed_in(&app).await;
    let mut phone = Browser::new(&app.url);
    phone.user_agent = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Safari/605.1".into();
    phone.password("alice@example.com", PASSWORD).await;
    let bob = Browser::new(&app.url);
    bob.password("bob@example.com", PASSWORD).await;
    let page = mine.get("/settings").await;
    assert!(page.body.contains("Safari on iOS"), "{}", page.body);
    assert!(page.body.contains("This device"));
    let handle = page
        .field("session")
        .expect("the other session has a sign-out form");
    // Bob cannot end Alice's session with its handle.
    let csrf = bob.get("/settings").await.csrf();
    bob.post(
        "/settings/sessions/end",
        &[("csrf", &csrf), ("session", &handle)],
    )
    .await;
    assert_eq!(phone.get("/").await.status, StatusCode::OK);
    let page = mine
        .post(
            "/settings/sessions/end",
            &[("csrf", &page.csrf()), ("session", &handle)],
        )
        .await;
    assert_eq!(page.location(), Some("/settings"));
    assert!(to_sign_in(&phone.get("/").await));
    assert_eq!(mine.get("/").await.status, StatusCode::OK);
    assert_eq!(bob.get("/").await.status, StatusCode::OK);
}

async fn logging_out_other_devices_ends_sessions_and_revokes_devices<
    S: Store + 'static,
    St: Storage,
>(
    app: App<S, St>,
) {
    let (owner, totp, _) = with_2fa(&app).await;
    // A trusted device: signs in without a code.
    let laptop = Browser::new(&app.url);
    laptop.password("alice@example.com", PASSWORD).await;
    app.clock.advance(30);
    let code = totp.generate(app.clock.now()).to_string();
    laptop
        .submit(
            "/login/code",
            "/login/code",
            &[("code", &code), ("trust", "1")],
        )
        .await;
    laptop.submit("/settings", "/logout", &[]).await;
    assert_eq!(
        laptop
            .password("alice@example.com", PASSWORD)
            .await
            .location(),
        Some("/settings")
    );
    // A trusted device's sign-in is no step-up.
    assert!(
        laptop
            .get("/settings/2fa/disable")
            .await
            .location()
            .unwrap()
            .starts_with("/confirm")
    );

    let page = owner
        .submit("/settings", "/settings/sessions/logout-others", &[])
        .await;
    assert_eq!(page.location(), Some("/settings"));
    assert!(to_sign_in(&laptop.get("/").await));
    assert_eq!(
        laptop
            .password("alice@example.com", PASSWORD)
            .await
            .location(),
        Some("/login/code"),
        "the device was revoked"
    );
    assert!(
        app.outbox
            .kinds("alice")
            .contains(&NoticeKind::OtherSessionsEnded)
    );
}

async fn a_password_change_ends_other_sessions_and_revokes_devices<
    S: Store + 'static,
    St: Storage,
>(
    app: App<S, St>,
) {
    let owner = signed_in(&app).await;
    let other = signed_in(&app).await;
    let page = owner.submit("/settings", "/password", &[]).await;
    assert_eq!(page.body, "password changed");
    assert!(to_sign_in(&other.get("/").await));
    assert_eq!(owner.get("/").await.status, StatusCode::OK);
    assert!(
        app.outbox
            .kinds("alice")
            .contains(&NoticeKind::PasswordChanged)
    );
    // Behind step-up: an old session must confirm the password first.
    app.clock.advance(601);
    assert!(
        owner
            .get("/password")
            .await
            .location()
            .unwrap()
            .starts_with("/confirm")
    );
}

async fn anonymous_visitors_and_wrong_passwords_store_no_session<
    S: Store + 'static,
    St: Storage,
>(
    app: App<S, St>,
) {
    for _ in 0..50 {
        let visitor = Browser::new(&app.url);
        assert_eq!(visitor.get("/login").await.status, StatusCode::OK);
        assert!(to_sign_in(&visitor.get("/settings").await));
    }
    let guesser = Browser::new(&app.url);
    let page = guesser.password("bob@example.com", "guess").await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.body.contains("Wrong e-mail address or password."));
    assert!(
        page.set_cookies().iter().all(|c| !c.contains("session=")),
        "{:?}",
        page.set_cookies()
    );
    assert!(
        app.auth
            .storage()
            .sessions_of("bob")
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_burst_of_wrong_passwords_is_mostly_refused_unchecked<S: Store + 'static, St: Storage>(
    app: App<S, St>,
) {
    app.users
        .check_ms
        .store(20, std::sync::atomic::Ordering::SeqCst);
    let mut burst = Vec::new();
    for i in 0..20 {
        let guesser = Browser::new(&app.url);
        burst.push(tokio::spawn(async move {
            guesser
                .password("bob@example.com", &format!("guess {i}"))
                .await
                .status
        }));
    }
    let mut statuses = Vec::new();
    for task in burst {
        statuses.push(task.await.unwrap());
    }
    let checked = app.users.checks.load(std::sync::atomic::Ordering::SeqCst);
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(
        checked, 5,
        "4 free attempts and the one that starts the wait: {statuses:?}"
    );
    assert_eq!(refused, 15);
    // The right password is refused too while the account waits, without a check.
    let owner = Browser::new(&app.url);
    let page = owner.password("bob@example.com", PASSWORD).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        page.body
            .contains("Too many sign-in attempts. Try again in"),
        "{}",
        page.body
    );
    assert!(page.headers.contains_key("retry-after"));
    assert_eq!(
        app.users.checks.load(std::sync::atomic::Ordering::SeqCst),
        5
    );
}

async fn a_missing_2fa_record_fails_closed<S: Store + 'static, St: Storage>(app: App<S, St>) {
    // The host's flag says on, but the 2FA store has no record (a new, empty database).
    app.users.set_flag("alice", true);
    let browser = Browser::new(&app.url);
    let page = browser.password("alice@example.com", PASSWORD).await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        page.body
            .contains("Two-factor sign-in is not available for this account"),
        "{}",
        page.body
    );
    assert!(to_sign_in(&browser.get("/").await));
    assert!(
        app.auth
            .storage()
            .sessions_of("alice")
            .await
            .unwrap()
            .is_empty()
    );
}

async fn lockouts_render_pages_that_say_what_to_do<S: Store + 'static, St: Storage>(
    app: App<S, St>,
) {
    let (owner, _, codes) = with_2fa(&app).await;
    let browser = Browser::new(&app.url);
    let mut locked = None;
    for _ in 0..40 {
        // Paced past every wait; the password step (10 minutes) is passed again each time.
        app.clock.advance(1000);
        browser.password("alice@example.com", PASSWORD).await;
        let page = browser
            .submit("/login/code", "/login/code", &[("code", "000000")])
            .await;
        if page.status == StatusCode::FORBIDDEN {
            locked = Some(page);
            break;
        }
        assert!(
            page.body.contains("That code is not valid"),
            "{}",
            page.body
        );
    }
    let locked = locked.expect("codes lock after enough wrong ones");
    assert!(
        locked.body.contains("Use a recovery code"),
        "{}",
        locked.body
    );
    // The owner, signed in elsewhere, can still step up with a recovery code and disable.
    app.clock.advance(10);
    let page = owner.get("/settings/2fa/disable").await;
    assert!(page.location().unwrap().starts_with("/confirm"));
    let confirm = owner.get("/confirm?next=%2Fsettings%2F2fa%2Fdisable").await;
    let csrf = confirm.csrf();
    let code_try = [
        ("csrf", csrf.as_str()),
        ("secret", "123456"),
        ("with", "code"),
        ("next", "/settings/2fa/disable"),
    ];
    let page = owner.post("/confirm", &code_try).await;
    assert_eq!(page.status, StatusCode::OK, "never a 500");
    assert!(
        page.body.contains("Use a recovery code instead"),
        "{}",
        page.body
    );
    let recovery = [
        ("csrf", csrf.as_str()),
        ("secret", codes[0].as_str()),
        ("with", "recovery"),
        ("next", "/settings/2fa/disable"),
    ];
    assert_eq!(
        owner.post("/confirm", &recovery).await.location(),
        Some("/settings/2fa/disable")
    );
    let page = owner
        .submit("/settings/2fa/disable", "/settings/2fa/disable", &[])
        .await;
    assert_eq!(page.location(), Some("/settings"));
}

async fn a_recovery_code_signs_in_once_and_says_how_many_are_left<
    S: Store + 'static,
    St: Storage,
>(
    app: App<S, St>,
) {
    let (_, _, codes) = with_2fa(&app).await;
    let browser = Browser::new(&app.url);
    browser.password("alice@example.com", PASSWORD).await;
    let page = browser
        .submit(
            "/login/recovery",
            "/login/recovery",
            &[("code", "AAAAA-AAAAA")],
        )
        .await;
    assert!(
        page.body.contains("That recovery code is not valid"),
        "{}",
        page.body
    );
    let lower = codes[3].to_lowercase();
    let page = browser
        .submit("/login/recovery", "/login/recovery", &[("code", &lower)])
        .await;
    assert_eq!(page.location(), Some("/settings"));
    let settings = browser.get("/settings").await;
    assert!(
        settings
            .body
            .contains("You signed in with a recovery code. 9 recovery codes left."),
        "{}",
        settings.body
    );
    // Used up: a second browser cannot use it again.
    let again = Browser::new(&app.url);
    again.password("alice@example.com", PASSWORD).await;
    let page = again
        .submit("/login/recovery", "/login/recovery", &[("code", &codes[3])])
        .await;
    assert!(page.body.contains("That recovery code is not valid"));
    // A recovery code is a second factor: it steps up.
    assert_eq!(
        browser.get("/settings/2fa/disable").await.status,
        StatusCode::OK
    );
}

async fn a_device_that_cannot_be_trusted_still_signs_in_and_is_told<
    S: Store + 'static,
    St: Storage,
>(
    app: App<S, St>,
) {
    let (_, totp, _) = with_2fa(&app).await;
    let browser = Browser::new(&app.url);
    browser.password("alice@example.com", PASSWORD).await;
    app.clock.advance(30);
    // Every device revoked in this very second, elsewhere.
    app.auth
        .two_factor()
        .revoke_all_devices("alice")
        .await
        .unwrap()
        .result
        .unwrap();
    let code = totp.generate(app.clock.now()).to_string();
    let page = browser
        .submit(
            "/login/code",
            "/login/code",
            &[("code", &code), ("trust", "1")],
        )
        .await;
    assert_eq!(page.location(), Some("/settings"));
    assert!(
        page.set_cookies()
            .iter()
            .all(|c| !c.contains("twofa-device")),
        "{:?}",
        page.set_cookies()
    );
    let settings = browser.get("/settings").await;
    assert_eq!(settings.status, StatusCode::OK);
    assert!(
        settings
            .body
            .contains("this device could not be remembered"),
        "{}",
        settings.body
    );
}

async fn routes_that_require_2fa_send_users_without_it_to_enrolment<
    S: Store + 'static,
    St: Storage,
>(
    app: App<S, St>,
) {
    let browser = signed_in(&app).await;
    assert_eq!(
        browser.get("/team").await.location(),
        Some("/settings/2fa/enable")
    );
    app.users.set_grace("alice", Some(app.clock.now() + 3600));
    assert_eq!(
        browser.get("/team").await.body,
        "team page of alice@example.com"
    );
    app.clock.advance(3599);
    assert_eq!(
        browser.get("/team").await.body,
        "team page of alice@example.com"
    );
    app.clock.advance(1);
    assert_eq!(
        browser.get("/team").await.location(),
        Some("/settings/2fa/enable")
    );
    let bob = Browser::new(&app.url);
    bob.password("bob@example.com", PASSWORD).await;
    // Confirm the password (the sign-in is older than the step-up window now) and enrol.
    let confirm = bob.get("/confirm?next=%2Fsettings%2F2fa%2Fenable").await;
    let fields = [
        ("csrf", confirm.csrf()),
        ("secret", PASSWORD.into()),
        ("with", "password".into()),
        ("next", "/settings/2fa/enable".into()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    bob.post("/confirm", &fields).await;
    bob.enable_2fa(&app.clock).await;
    assert_eq!(bob.get("/team").await.body, "team page of bob@example.com");
    assert!(to_sign_in(&Browser::new(&app.url).get("/team").await));
}

async fn the_hashing_pool_runs_few_checks_at_once_and_refuses_the_rest<
    S: Store + 'static,
    St: Storage,
>(
    app: App<S, St>,
) {
    app.users
        .check_ms
        .store(30, std::sync::atomic::Ordering::SeqCst);
    let mut burst = Vec::new();
    for i in 0..40 {
        let guesser = Browser::new(&app.url);
        burst.push(tokio::spawn(async move {
            let page = guesser
                .password("bob@example.com", &format!("guess {i}"))
                .await;
            (page.status, page.headers.contains_key("retry-after"))
        }));
    }
    let mut answers = Vec::new();
    for task in burst {
        answers.push(task.await.unwrap());
    }
    let busy = answers
        .iter()
        .filter(|(s, retry)| *s == StatusCode::SERVICE_UNAVAILABLE && *retry)
        .count();
    let checked = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(
        busy + checked,
        40,
        "only 401 or 503 with Retry-After: {answers:?}"
    );
    assert!(busy > 0, "a burst beyond the queue is refused: {answers:?}");
    assert_eq!(
        app.users
            .most_at_once
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    assert_eq!(
        app.users.checks.load(std::sync::atomic::Ordering::SeqCst),
        checked
    );
}

async fn attempts_are_limited_per_address_too<S: Store + 'static, St: Storage>(app: App<S, St>) {
    // An office behind one address: successful sign-ins cost the address nothing.
    for _ in 0..6 {
        signed_in(&app).await;
    }
    // Different accounts (most unknown) from one address: the address's count, not the
    // accounts', stops them.
    let mut statuses = Vec::new();
    for i in 0..6 {
        let guesser = Browser::new(&app.url);
        statuses.push(
            guesser
                .password(&format!("user{i}@example.com"), "guess")
                .await
                .status,
        );
    }
    assert_eq!(
        &statuses[..4],
        &[StatusCode::UNAUTHORIZED; 4],
        "{statuses:?}"
    );
    assert_eq!(
        &statuses[4..],
        &[StatusCode::TOO_MANY_REQUESTS; 2],
        "{statuses:?}"
    );
}

/// Cookies and headers as a browser sees them, with the production configuration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_are_host_only_secure_http_only_and_lax_and_headers_are_safe() {
    let app = memory_app(same).await;
    let (_, totp, _) = with_2fa(&app).await;
    let browser = Browser::new(&app.url);
    let login = browser.get("/login").await;
    let page = browser.password("alice@example.com", PASSWORD).await;
    app.clock.advance(30);
    let code = totp.generate(app.clock.now()).to_string();
    let signed = browser
        .submit(
            "/login/code",
            "/login/code",
            &[("code", &code), ("trust", "1")],
        )
        .await;
    let mut cookies = login.set_cookies();
    cookies.extend(page.set_cookies());
    cookies.extend(signed.set_cookies());
    let csrf = cookies
        .iter()
        .find(|c| c.starts_with("__Host-csrf="))
        .unwrap();
    assert!(
        csrf.contains("Max-Age=31536000"),
        "a form left open a long time still works: {csrf}"
    );
    for name in ["__Host-csrf=", "__Host-session=", "__Host-twofa-device="] {
        let cookie = cookies
            .iter()
            .find(|c| c.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {cookies:?}"));
        for attribute in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
        }
        assert!(!cookie.contains("Domain"), "{cookie}");
    }
    for (name, value) in [
        ("strict-transport-security", "max-age=63072000"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
        ("referrer-policy", "same-origin"),
        ("x-content-type-options", "nosniff"),
    ] {
        assert_eq!(login.headers[name], value, "{name}");
    }
    assert!(
        login.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
}

fn dev(_: Config) -> Config {
    Config::danger_plain_http_on_localhost("http://localhost:3000", [9; 32]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plain_http_switch_drops_only_secure_the_prefix_and_hsts() {
    let app = memory_app(dev).await;
    let browser = Browser::new(&app.url);
    let login = browser.get("/login").await;
    let csrf = login.csrf();
    let page = browser
        .post_from(
            "http://localhost:3000",
            "/login",
            &[
                ("csrf", &csrf),
                ("email", "alice@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(page.location(), Some("/settings"));
    let cookies: Vec<String> = login
        .set_cookies()
        .into_iter()
        .chain(page.set_cookies())
        .collect();
    for name in ["csrf=", "session="] {
        let cookie = cookies.iter().find(|c| c.starts_with(name)).unwrap();
        assert!(
            !cookie.contains("Secure")
                && cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
    }
    assert!(!login.headers.contains_key("strict-transport-security"));
    // The production origin is not this app's.
    let csrf = browser.get("/settings").await.csrf();
    assert_eq!(
        browser.post("/logout", &[("csrf", &csrf)]).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_output_holds_no_session_id() {
    let app = memory_app(same).await;
    let browser = signed_in(&app).await;
    let printed = browser.get("/debug").await.body;
    let cookie = browser.cookie("__Host-session").unwrap();
    assert!(printed.contains("alice@example.com"), "{printed}");
    assert!(
        !printed.contains(&cookie) && !printed.contains("Id("),
        "{printed}"
    );
    let storage = format!("{:?}", app.auth.storage());
    assert!(
        !storage.contains("Id(") && !storage.contains(&cookie),
        "{storage}"
    );
    with_2fa(&app).await;
    let pending = Browser::new(&app.url);
    pending.password("alice@example.com", PASSWORD).await;
    let printed = pending.get("/debug-pending").await.body;
    let cookie = pending.cookie("__Host-session").unwrap();
    assert!(
        printed.starts_with("SecondFactorPending") && printed.contains("alice@example.com"),
        "{printed}"
    );
    assert!(
        !printed.contains(&cookie) && !printed.contains("Id("),
        "{printed}"
    );
}

/// What a host reads of a session: when it signed in, when the password and the second
/// factor were last passed, and how; and the last request, for the sessions list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_tells_the_host_its_factors_and_times() {
    let app = memory_app(same).await;
    let browser = signed_in(&app).await;
    let t = app.clock.now();
    assert_eq!(browser.get("/whoami").await.body, format!("{t} {t} None"));
    let (_, totp, _) = with_2fa(&app).await;
    app.clock.advance(100);
    let browser = sign_in_with_code(&app, &totp).await;
    let t = app.clock.now();
    // The password was passed 30 s before the code (see `sign_in_with_code`).
    let expected = format!("{t} {} Some(({t}, Code))", t - 30);
    assert_eq!(browser.get("/whoami").await.body, expected);
    let last_seen = || async {
        let sessions = app.auth.storage().sessions_of("alice").await.unwrap();
        sessions.iter().map(|s| s.last_seen).max().unwrap()
    };
    assert_eq!(last_seen().await, t);
    app.clock.advance(59);
    browser.get("/").await;
    assert_eq!(last_seen().await, t, "at most once a minute");
    app.clock.advance(1);
    browser.get("/").await;
    assert_eq!(last_seen().await, t + 60);
}

/// The code page is for a session past the password and no further, for ten minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_code_page_is_open_only_between_the_password_and_the_code() {
    let app = memory_app(same).await;
    let (_, totp, _) = with_2fa(&app).await;
    let signed = sign_in_with_code(&app, &totp).await;
    assert!(
        to_sign_in(&signed.get("/login/code").await),
        "a signed-in session has no code step"
    );
    let pending = Browser::new(&app.url);
    pending.password("alice@example.com", PASSWORD).await;
    app.clock.advance(600);
    assert_eq!(pending.get("/login/code").await.status, StatusCode::OK);
    app.clock.advance(1);
    assert!(to_sign_in(&pending.get("/login/code").await));
    assert!(to_sign_in(&pending.get("/login/recovery").await));
}

/// Forged form posts: no token, another browser's token, another origin (also with a `Host`
/// header naming it), the right host over the wrong scheme, and a cross-site fetch without
/// `Origin`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_form_posts_are_refused() {
    let app = memory_app(same).await;
    let victim = signed_in(&app).await;
    let attacker = Browser::new(&app.url);
    let attackers_token = attacker.get("/login").await.csrf();
    let victims_token = victim.get("/settings").await.csrf();
    let forbidden = |page: support::Page| {
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
        assert!(page.body.contains("did not come from this site"));
    };
    forbidden(victim.post("/logout", &[]).await);
    forbidden(victim.post("/logout", &[("csrf", &attackers_token)]).await);
    forbidden(
        victim
            .post_from(
                "https://evil.example",
                "/logout",
                &[("csrf", &victims_token)],
            )
            .await,
    );
    forbidden(
        victim
            .post_from("http://app.example", "/logout", &[("csrf", &victims_token)])
            .await,
    );
    forbidden(
        victim
            .post_from(
                "https://app.example:8443",
                "/logout",
                &[("csrf", &victims_token)],
            )
            .await,
    );
    forbidden(
        victim
            .post_from("null", "/logout", &[("csrf", &victims_token)])
            .await,
    );
    assert_eq!(
        victim.get("/").await.status,
        StatusCode::OK,
        "still signed in"
    );
    assert_eq!(
        victim
            .post("/logout", &[("csrf", &victims_token)])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
}

/// Two app servers on one database: a sign-out on one holds on the other, and turning 2FA on
/// through one ends the older session on the other.
async fn two_servers_share_sign_outs_and_2fa_changes<
    S: Store + 'static,
    St: Storage,
    S2: Store + 'static,
    St2: Storage,
>(
    one: App<S, St>,
    two: App<S2, St2>,
) {
    let on_one = signed_in(&one).await;
    let on_two = on_one.at(&two.url);
    assert_eq!(
        on_two.get("/").await.status,
        StatusCode::OK,
        "one session, both servers"
    );
    on_one.submit("/settings", "/logout", &[]).await;
    assert!(to_sign_in(&on_two.get("/settings").await));

    let older = Browser::new(&two.url);
    assert_eq!(
        older
            .password("alice@example.com", PASSWORD)
            .await
            .location(),
        Some("/settings")
    );
    let owner = signed_in(&one).await;
    owner.enable_2fa(&one.clock).await;
    assert!(to_sign_in(&older.get("/settings").await));
    let older_on_one = older.at(&one.url);
    assert!(to_sign_in(&older_on_one.get("/settings").await));
    // The owner's session works on the other server too.
    assert_eq!(owner.at(&two.url).get("/").await.status, StatusCode::OK);
}

/// The second server shares the first's users, clock and device key, as servers of one app do.
async fn second_server<S: Store + 'static, St: Storage, S2: Store + 'static, St2: Storage>(
    first: &App<S, St>,
    store: S2,
    storage: St2,
    device_key: DeviceKey,
) -> App<S2, St2> {
    support::start(
        store,
        storage,
        first.users.clone(),
        first.clock.clone(),
        device_key,
        same,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgresql_database() {
    let Some(db) = common::PostgresDatabase::new().await else {
        return;
    };
    let key = [5u8; 32];
    let users = TestUsers::default();
    users.add("alice", "alice@example.com");
    let clock = TestClock::new();
    let store = twofa_sqlx::PostgresStore::builder_with_pool(db.shared_pool())
        .connect()
        .await
        .unwrap();
    let storage = twofa_axum::storage::PostgresStorage::new(db.shared_pool());
    let one = support::start(
        store,
        storage,
        users,
        clock,
        DeviceKey::from_bytes(&key).unwrap(),
        same,
    )
    .await;
    let pool = db.second_pool().await;
    let store = twofa_sqlx::PostgresStore::builder_with_pool(pool.clone())
        .connect()
        .await
        .unwrap();
    let storage = twofa_axum::storage::PostgresStorage::new(pool);
    let two = second_server(&one, store, storage, DeviceKey::from_bytes(&key).unwrap()).await;
    two_servers_share_sign_outs_and_2fa_changes(one, two).await;
    db.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_sqlite_file() {
    let db = common::SqliteDatabase::new().await;
    let key = [5u8; 32];
    let users = TestUsers::default();
    users.add("alice", "alice@example.com");
    let clock = TestClock::new();
    let store = twofa_sqlx::SqliteStore::builder_with_pool(db.shared_pool())
        .open()
        .await
        .unwrap();
    let one = support::start(
        store,
        twofa_axum::storage::SqliteStorage::new(db.shared_pool()),
        users,
        clock,
        DeviceKey::from_bytes(&key).unwrap(),
        same,
    )
    .await;
    let storage = common::SqlDatabase::second_storage(&db).await;
    let store = twofa_sqlx::SqliteStore::builder_with_pool(db.shared_pool())
        .open()
        .await
        .unwrap();
    let two = second_server(&one, store, storage, DeviceKey::from_bytes(&key).unwrap()).await;
    two_servers_share_sign_outs_and_2fa_changes(one, two).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purging_deletes_expired_sessions_and_quiet_attempt_counts() {
    use tower_sessions::SessionStore;
    let app = memory_app(same).await;
    let live = signed_in(&app).await;
    Browser::new(&app.url)
        .password("bob@example.com", "guess")
        .await;
    let mut expired = tower_sessions::session::Record {
        id: tower_sessions::session::Id::default(),
        data: Default::default(),
        expiry_date: tower_sessions::cookie::time::OffsetDateTime::now_utc()
            - tower_sessions::cookie::time::Duration::seconds(1),
    };
    app.auth.storage().create(&mut expired).await.unwrap();
    assert_eq!(app.auth.storage().session_count(), 2);
    let counts = app.auth.storage().attempt_count();
    assert!(counts >= 1, "the wrong password left a count");
    app.auth.purge_expired().await.unwrap();
    assert_eq!(
        app.auth.storage().session_count(),
        1,
        "the expired session is gone"
    );
    assert_eq!(
        app.auth.storage().attempt_count(),
        counts,
        "recent counts stay"
    );
    app.clock.advance(24 * 60 * 60 + 1);
    app.auth.purge_expired().await.unwrap();
    assert_eq!(app.auth.storage().attempt_count(), 0);
    assert_eq!(live.get("/").await.status, StatusCode::OK);
}

fn behind_a_proxy(config: Config) -> Config {
    let generous = AttemptPolicy::new(1_000, 1, 1, 60);
    config
        .with_client_address(twofa_axum::ClientAddress::TrustedProxyHeader(
            axum::http::HeaderName::from_static("x-real-ip"),
        ))
        .with_attempt_limits(generous, AttemptPolicy::new(3, 60, 900, 86_400))
}

/// Behind a proxy the client's address comes from the configured header, not the socket:
/// guesses from one address are limited, another address behind the same proxy is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_header_names_the_client() {
    let app = memory_app(behind_a_proxy).await;
    let from = |address: &str| {
        let mut browser = Browser::new(&app.url);
        browser.address = Some(address.to_owned());
        browser
    };
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            from("203.0.113.7")
                .password("bob@example.com", "guess")
                .await
                .status,
        );
    }
    assert_eq!(
        &statuses[..4],
        &[StatusCode::UNAUTHORIZED; 4],
        "{statuses:?}"
    );
    assert_eq!(statuses[4], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    let other = from("198.51.100.9")
        .password("bob@example.com", "guess")
        .await;
    assert_eq!(
        other.status,
        StatusCode::UNAUTHORIZED,
        "another client is not limited"
    );
    // Without the header the address is unknown: refused, never counted as one shared client.
    let unnamed = Browser::new(&app.url)
        .password("bob@example.com", PASSWORD)
        .await;
    assert_eq!(unnamed.status, StatusCode::INTERNAL_SERVER_ERROR);
}
