//! The web-security promises of the demo, checked at the HTTP level (the router called
//! directly, with a cookie jar per "browser"): session ids, cookie flags, CSRF on every form,
//! the second-factor page behind the password step, the key only on its owner's page, nothing
//! secret in logs or URLs, escaping, logging out other devices.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;
use twofa::account::{DeviceKey, PasswordConfirmed};
use twofa::store::Clock;
use twofa::{Secret, Totp};
use twofa_demo::{AppState, Config, app, two_factor};
use twofa_sqlx::SqliteStore;

const PASSWORD: &str = "correct horse battery staple";
const START: u64 = 1_800_000_000;

struct Site {
    router: Router,
    state: Arc<AppState<SqliteStore>>,
    time: Arc<AtomicU64>,
}

impl Site {
    /// The subjects of the mails sent to `email`.
    fn mail_subjects(&self, email: &str) -> Vec<String> {
        let outbox = self.state.accounts.outbox(email);
        outbox.into_iter().map(|m| m.subject).collect()
    }

    async fn new(config: Config) -> Site {
        let time = Arc::new(AtomicU64::new(START));
        let t = time.clone();
        let clock: Arc<dyn Clock> = Arc::new(move || t.load(Ordering::SeqCst));
        let store = SqliteStore::open_in_memory().await.unwrap();
        let device_key = DeviceKey::from_bytes(&[8u8; 32]).unwrap();
        let tf = two_factor(store, "twofa demo", &[9u8; 32], device_key, clock.clone()).unwrap();
        let state = Arc::new(AppState::new(tf, clock, config));
        Site {
            router: app(state.clone()),
            state,
            time,
        }
    }

    fn browser(&self) -> Browser {
        Browser {
            router: self.router.clone(),
            cookies: HashMap::new(),
            user_agent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0".into(),
        }
    }

    fn now(&self) -> u64 {
        self.time.load(Ordering::SeqCst)
    }

    fn advance(&self, seconds: u64) -> u64 {
        self.time.fetch_add(seconds, Ordering::SeqCst) + seconds
    }

    /// A user with 2FA on (through the service), and the authenticator app that goes with it.
    async fn user_with_2fa(&self, email: &str) -> Totp {
        self.user_with_2fa_and_codes(email).await.0
    }

    /// As `user_with_2fa`, with the recovery codes shown at enrolment.
    async fn user_with_2fa_and_codes(&self, email: &str) -> (Totp, twofa::RecoveryCodes) {
        let user = self.state.accounts.create(email, PASSWORD).unwrap();
        let tf = &self.state.two_factor;
        let check = |_: &str, password: &str| password == PASSWORD;
        let now = self.time.load(Ordering::SeqCst);
        let proof = PasswordConfirmed::check(&check, &user.id, PASSWORD, now).unwrap();
        let enrollment = tf
            .start_enrollment(&user.id, Some(&proof), email)
            .await
            .unwrap()
            .result
            .unwrap();
        let phone = enrollment.uri().to_totp().unwrap();
        let code = phone.generate(self.now()).to_string();
        let codes = tf
            .confirm_enrollment(&user.id, &code)
            .await
            .unwrap()
            .result
            .unwrap();
        self.advance(30);
        (phone, codes)
    }
}

/// Form fields, in order.
type Fields<'a> = Vec<(&'a str, &'a str)>;

struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Response {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    fn csrf(&self) -> String {
        let start = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a form with a csrf field")
            + 19;
        let end = self.body[start..].find('"').unwrap();
        self.body[start..start + end].to_owned()
    }
}

/// A browser: a cookie jar and a user agent.
struct Browser {
    router: Router,
    cookies: HashMap<String, String>,
    user_agent: String,
}

impl Browser {
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Response {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "demo.test")
            .header(header::USER_AGENT, &self.user_agent)
            .header(header::COOKIE, cookie);
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        let body = if method == "POST" {
            request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            Body::from(serde_urlencoded::to_string(form).unwrap())
        } else {
            Body::empty()
        };
        let response = self
            .router
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let body = String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap();
        for value in parts.headers.get_all(header::SET_COOKIE) {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.into(), value.into());
            }
        }
        Response {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    async fn get(&mut self, path: &str) -> Response {
        self.send("GET", path, &[], None).await
    }

    /// Posts a form with the CSRF token of the page at `page`, as a browser would.
    async fn submit(&mut self, page: &str, action: &str, form: &[(&str, &str)]) -> Response {
        let csrf = self.get(page).await.csrf();
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend_from_slice(form);
        self.send("POST", action, &fields, Some("http://demo.test"))
            .await
    }

    async fn sign_in(&mut self, email: &str, password: &str) -> Response {
        self.submit(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.get(name).cloned()
    }
}

#[tokio::test]
async fn the_session_id_changes_after_the_password_and_after_the_second_factor() {
    let site = Site::new(Config::default()).await;
    let phone = site.user_with_2fa("alice@example.com").await;
    let mut b = site.browser();
    b.get("/login").await;
    let anonymous = b.cookie("session").unwrap();

    let after_password = b.sign_in("alice@example.com", PASSWORD).await;
    assert_eq!(after_password.location(), "/login/code");
    let pending = b.cookie("session").unwrap();
    assert_ne!(pending, anonymous);

    let before = b.get("/login/code").await.csrf();
    let code = phone.generate(site.now()).to_string();
    let signed_in = b
        .submit("/login/code", "/login/code", &[("code", &code)])
        .await;
    assert_eq!(signed_in.location(), "/settings");
    let full = b.cookie("session").unwrap();
    assert_ne!(full, pending);
    let settings = b.get("/settings").await;
    assert_eq!(settings.status, StatusCode::OK);
    assert_ne!(
        settings.csrf(),
        before,
        "the CSRF token is renewed at sign-in"
    );

    // The ids from before are dead: a fixated or stolen early id gets nothing.
    for old in [anonymous, pending] {
        let mut other = site.browser();
        other.cookies.insert("session".into(), old);
        assert_eq!(other.get("/settings").await.location(), "/login");
    }
}

#[tokio::test]
async fn cookies_are_http_only_same_site_lax_and_secure_when_asked() {
    for secure in [false, true] {
        let site = Site::new(Config {
            secure_cookies: secure,
        })
        .await;
        let phone = site.user_with_2fa("alice@example.com").await;
        let mut b = site.browser();
        let login = b.get("/login").await;
        b.sign_in("alice@example.com", PASSWORD).await;
        let code = phone.generate(site.now()).to_string();
        let done = b
            .submit(
                "/login/code",
                "/login/code",
                &[("code", &code), ("trust", "1")],
            )
            .await;
        let session = login.set_cookie("session").unwrap();
        let device = done.set_cookie(twofa_demo::DEVICE_COOKIE).unwrap();
        for cookie in [session, device] {
            assert!(cookie.contains("HttpOnly"), "{cookie}");
            assert!(cookie.contains("SameSite=Lax"), "{cookie}");
            assert_eq!(cookie.contains("Secure"), secure, "{cookie}");
        }
    }
}

#[tokio::test]
async fn every_form_refuses_a_post_without_this_sessions_csrf_token() {
    let site = Site::new(Config::default()).await;
    let phone = site.user_with_2fa("alice@example.com").await;
    let user_id = site
        .state
        .accounts
        .create("bob@example.com", PASSWORD)
        .unwrap()
        .id;

    // A signed-in session (bob, 2FA off) for the settings forms.
    let mut signed_in = site.browser();
    assert_eq!(
        signed_in
            .sign_in("bob@example.com", PASSWORD)
            .await
            .location(),
        "/settings"
    );
    let good = signed_in.get("/settings").await.csrf();
    // A session past the password step (alice) for the second-factor forms.
    let mut pending = site.browser();
    assert_eq!(
        pending
            .sign_in("alice@example.com", PASSWORD)
            .await
            .location(),
        "/login/code"
    );
    let pending_good = pending.get("/login/code").await.csrf();
    let mut anonymous = site.browser();
    let anonymous_good = anonymous.get("/login").await.csrf();

    let code = phone.generate(site.now()).to_string();
    let forms: Vec<(u8, &str, Fields)> = vec![
        (
            0,
            "/login",
            vec![("email", "bob@example.com"), ("password", PASSWORD)],
        ),
        (1, "/login/code", vec![("code", &code)]),
        (1, "/login/recovery", vec![("code", "AAAAA-AAAAA")]),
        (2, "/logout", vec![]),
        (2, "/settings/2fa/enable", vec![("password", PASSWORD)]),
        (2, "/settings/2fa/verify", vec![("code", "123456")]),
        (2, "/settings/2fa/cancel", vec![]),
        (
            2,
            "/settings/2fa/recovery-codes",
            vec![("password", PASSWORD)],
        ),
        (2, "/settings/2fa/disable", vec![("password", PASSWORD)]),
        (2, "/settings/devices/revoke", vec![("device_id", "x")]),
        (2, "/settings/sessions/logout-others", vec![]),
    ];
    for (who, action, fields) in &forms {
        let (browser, token) = match who {
            0 => (&mut anonymous, anonymous_good.as_str()),
            1 => (&mut pending, pending_good.as_str()),
            _ => (&mut signed_in, good.as_str()),
        };
        let missing = browser.send("POST", action, fields, None).await;
        assert_eq!(
            missing.status,
            StatusCode::FORBIDDEN,
            "{action} without a token"
        );
        let mut wrong = vec![("csrf", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")];
        wrong.extend_from_slice(fields);
        let wrong = browser.send("POST", action, &wrong, None).await;
        assert_eq!(
            wrong.status,
            StatusCode::FORBIDDEN,
            "{action} with a wrong token"
        );
        let with_token = with_csrf(token, fields);
        let foreign = browser
            .send("POST", action, &with_token, Some("https://evil.example"))
            .await;
        assert_eq!(
            foreign.status,
            StatusCode::FORBIDDEN,
            "{action} from another origin"
        );
        let null = browser
            .send("POST", action, &with_token, Some("null"))
            .await;
        assert_eq!(
            null.status,
            StatusCode::FORBIDDEN,
            "{action} from an opaque origin"
        );
    }
    // Nothing happened: bob is still signed in, alice is still only past the password.
    assert_eq!(signed_in.get("/settings").await.status, StatusCode::OK);
    assert_eq!(pending.get("/login/code").await.status, StatusCode::OK);
    assert_eq!(pending.get("/settings").await.location(), "/login");
    assert!(
        !site
            .state
            .two_factor
            .record(&user_id)
            .await
            .unwrap()
            .is_some_and(|record| record.is_enabled())
    );
    // With the token, the same kind of post goes through (the check is not refusing all).
    let out = signed_in.submit("/settings", "/logout", &[]).await;
    assert_eq!(out.location(), "/login");
    assert_eq!(signed_in.get("/settings").await.location(), "/login");
}

fn with_csrf<'a>(token: &'a str, fields: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![("csrf", token)];
    all.extend_from_slice(fields);
    all
}

#[tokio::test]
async fn every_form_on_every_page_posts_a_csrf_token() {
    let site = Site::new(Config::default()).await;
    site.user_with_2fa("alice@example.com").await;
    site.state
        .accounts
        .create("bob@example.com", PASSWORD)
        .unwrap();
    let mut alice = site.browser();
    alice.sign_in("alice@example.com", PASSWORD).await;
    let mut pages = vec![];
    for path in ["/login/code", "/login/recovery"] {
        pages.push(alice.get(path).await.body);
    }
    let mut bob = site.browser();
    pages.push(bob.get("/login").await.body);
    bob.sign_in("bob@example.com", PASSWORD).await;
    for path in [
        "/settings",
        "/settings/2fa/enable",
        "/settings/2fa/recovery-codes",
        "/settings/2fa/disable",
        "/outbox",
    ] {
        pages.push(bob.get(path).await.body);
    }
    pages.push(
        bob.submit(
            "/settings/2fa/enable",
            "/settings/2fa/enable",
            &[("password", PASSWORD)],
        )
        .await
        .body,
    );
    pages.push(bob.get("/settings/2fa/verify").await.body);
    for page in &pages {
        let forms = page.matches("<form").count();
        assert!(forms > 0);
        assert_eq!(forms, page.matches("method=\"post\"").count(), "{page}");
        assert_eq!(forms, page.matches("name=\"csrf\"").count(), "{page}");
    }
}

#[tokio::test]
async fn the_second_factor_pages_are_unreachable_without_the_password_step() {
    let site = Site::new(Config::default()).await;
    let phone = site.user_with_2fa("alice@example.com").await;
    let mut b = site.browser();
    for path in [
        "/login/code",
        "/login/recovery",
        "/settings",
        "/settings/2fa/enable",
        "/outbox",
    ] {
        assert_eq!(b.get(path).await.location(), "/login", "{path}");
    }
    // A right code without the password step signs nobody in.
    let code = phone.generate(site.now()).to_string();
    let forged = b.submit("/login", "/login/code", &[("code", &code)]).await;
    assert_eq!(forged.location(), "/login");
    assert_eq!(b.get("/settings").await.location(), "/login");

    // A wrong password does not open the page either.
    let wrong = b.sign_in("alice@example.com", "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(b.get("/login/code").await.location(), "/login");

    // Past the password, the code page opens, the settings do not; and it closes again
    // after ten minutes.
    assert_eq!(
        b.sign_in("alice@example.com", PASSWORD).await.location(),
        "/login/code"
    );
    assert_eq!(b.get("/login/code").await.status, StatusCode::OK);
    assert_eq!(b.get("/settings").await.location(), "/login");
    site.advance(601);
    assert_eq!(b.get("/login/code").await.location(), "/login");
}

#[tokio::test]
async fn the_key_and_qr_code_appear_only_on_the_owners_enrolment_page() {
    let site = Site::new(Config::default()).await;
    for email in ["alice@example.com", "bob@example.com"] {
        site.state.accounts.create(email, PASSWORD).unwrap();
    }
    let mut alice = site.browser();
    alice.sign_in("alice@example.com", PASSWORD).await;
    // Without the password, no key.
    let refused = alice
        .submit(
            "/settings/2fa/enable",
            "/settings/2fa/enable",
            &[("password", "guess")],
        )
        .await;
    assert!(refused.body.contains("Wrong password"));
    assert!(!refused.body.contains("<svg"));
    let page = alice
        .submit(
            "/settings/2fa/enable",
            "/settings/2fa/enable",
            &[("password", PASSWORD)],
        )
        .await;
    let key = text_of(&page.body, "id=\"manual-key\">");
    assert!(Secret::from_base32(&key).is_ok());
    assert!(page.body.contains("<svg"));
    let compact: String = key.split_whitespace().collect();

    let mut bob = site.browser();
    bob.sign_in("bob@example.com", PASSWORD).await;
    let mut others = vec![];
    for path in [
        "/settings",
        "/settings/2fa/verify",
        "/settings/2fa/enable",
        "/outbox",
    ] {
        others.push(alice.get(path).await);
        others.push(bob.get(path).await);
    }
    for response in &others {
        assert!(!response.body.contains(&key) && !response.body.contains(&compact));
        assert!(!response.body.contains("<svg"));
    }
}

#[tokio::test]
async fn no_secret_code_or_token_reaches_the_log_or_a_url() {
    let site = Site::new(Config::default()).await;
    site.state
        .accounts
        .create("alice@example.com", PASSWORD)
        .unwrap();
    let mut b = site.browser();
    let mut responses = vec![b.sign_in("alice@example.com", PASSWORD).await];
    let page = b
        .submit(
            "/settings/2fa/enable",
            "/settings/2fa/enable",
            &[("password", PASSWORD)],
        )
        .await;
    let key: String = text_of(&page.body, "id=\"manual-key\">")
        .split_whitespace()
        .collect();
    let phone = Totp::new(Secret::from_base32(&key).unwrap());
    let enable_code = phone.generate(site.now()).to_string();
    let codes_page = b
        .submit(
            "/settings/2fa/verify",
            "/settings/2fa/verify",
            &[("code", &enable_code)],
        )
        .await;
    let recovery: Vec<String> = codes_page
        .body
        .split("<code>")
        .skip(1)
        .map(|s| s[..s.find('<').unwrap()].to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    responses.push(b.submit("/settings", "/logout", &[]).await);
    let now = site.advance(30);
    responses.push(b.sign_in("alice@example.com", PASSWORD).await);
    let sign_in_code = phone.generate(now).to_string();
    responses.push(
        b.submit(
            "/login/code",
            "/login/code",
            &[("code", &sign_in_code), ("trust", "1")],
        )
        .await,
    );
    let token = b.cookie(twofa_demo::DEVICE_COOKIE).unwrap();
    responses.push(b.submit("/settings", "/logout", &[]).await);
    responses.push(b.sign_in("alice@example.com", PASSWORD).await);
    responses.push(b.submit("/settings", "/logout", &[]).await);
    b.cookies.remove(twofa_demo::DEVICE_COOKIE);
    responses.push(b.sign_in("alice@example.com", PASSWORD).await);
    responses.push(
        b.submit(
            "/login/recovery",
            "/login/recovery",
            &[("code", &recovery[0])],
        )
        .await,
    );
    // Replay the sign-in code: an event, logged and mailed.
    responses.push(b.submit("/settings", "/logout", &[]).await);
    responses.push(b.sign_in("alice@example.com", PASSWORD).await);
    responses.push(
        b.submit("/login/code", "/login/code", &[("code", &sign_in_code)])
            .await,
    );

    let log = site.state.accounts.log_lines();
    assert!(log.iter().any(|l| l.contains("ReplayDetected")), "{log:?}");
    let mails = site.state.accounts.outbox("alice@example.com");
    let mut visible: Vec<String> = log;
    visible.extend(mails.iter().map(|m| format!("{} {}", m.subject, m.body)));
    visible.extend(responses.iter().map(|r| r.location().to_owned()));
    let mut secrets = vec![
        key.clone(),
        enable_code,
        sign_in_code,
        token,
        PASSWORD.to_owned(),
    ];
    secrets.extend(recovery);
    for line in &visible {
        for secret in &secrets {
            assert!(!line.contains(secret.as_str()), "{line:?} leaks a secret");
        }
    }
}

#[tokio::test]
async fn user_values_are_escaped_device_labels_included() {
    let site = Site::new(Config::default()).await;
    let phone = site.user_with_2fa("alice@example.com").await;
    let mut b = site.browser();
    b.user_agent = "<script>alert(1)</script><img src=x onerror=alert(2)>".into();
    b.sign_in("alice@example.com", PASSWORD).await;
    let code = phone.generate(site.now()).to_string();
    b.submit(
        "/login/code",
        "/login/code",
        &[("code", &code), ("trust", "1")],
    )
    .await;
    let settings = b.get("/settings").await.body;
    assert!(
        settings.contains(
            "&#60;script&#62;alert(1)&#60;/script&#62;&#60;img src=x onerror=alert(2)&#62;"
        ),
        "{settings}"
    );
    assert!(!settings.contains("<script>alert"));
    assert!(!settings.contains("<img src=x"));
}

#[tokio::test]
async fn every_page_carries_the_security_headers() {
    let site = Site::new(Config::default()).await;
    let mut b = site.browser();
    for path in ["/login", "/settings", "/static/style.css"] {
        let r = b.get(path).await;
        let h =
            |name: header::HeaderName| r.headers.get(name).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(
            h(header::CACHE_CONTROL).as_deref(),
            Some("no-store"),
            "{path}"
        );
        assert_eq!(
            h(header::X_FRAME_OPTIONS).as_deref(),
            Some("DENY"),
            "{path}"
        );
        let csp = h(header::CONTENT_SECURITY_POLICY).unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    }
}

#[tokio::test]
async fn log_out_of_all_other_devices_ends_other_sessions_and_trusted_devices() {
    let site = Site::new(Config::default()).await;
    let phone = site.user_with_2fa("alice@example.com").await;
    let mut laptop = site.browser();
    let mut phone_browser = site.browser();
    laptop.sign_in("alice@example.com", PASSWORD).await;
    let code = phone.generate(site.now()).to_string();
    laptop
        .submit(
            "/login/code",
            "/login/code",
            &[("code", &code), ("trust", "1")],
        )
        .await;
    let now = site.advance(30);
    phone_browser.sign_in("alice@example.com", PASSWORD).await;
    let code = phone.generate(now).to_string();
    phone_browser
        .submit("/login/code", "/login/code", &[("code", &code)])
        .await;
    assert_eq!(phone_browser.get("/settings").await.status, StatusCode::OK);

    let done = phone_browser
        .submit("/settings", "/settings/sessions/logout-others", &[])
        .await;
    assert_eq!(done.location(), "/settings");
    assert!(
        phone_browser
            .get("/settings")
            .await
            .body
            .contains("logged out of all other devices")
    );
    assert_eq!(laptop.get("/settings").await.location(), "/login");
    // The laptop's trusted-device cookie no longer skips the code.
    assert!(laptop.cookie(twofa_demo::DEVICE_COOKIE).is_some());
    assert_eq!(
        laptop
            .sign_in("alice@example.com", PASSWORD)
            .await
            .location(),
        "/login/code"
    );
}

#[tokio::test]
async fn a_wrong_password_disables_nothing_and_regenerates_nothing() {
    let site = Site::new(Config::default()).await;
    site.user_with_2fa("alice@example.com").await;
    let mut b = site.browser();
    // A trusted-device-free sign-in needs a code; use a fresh user flow through the service.
    let user = site
        .state
        .accounts
        .create("bob@example.com", PASSWORD)
        .unwrap();
    b.sign_in("bob@example.com", PASSWORD).await;
    let page = b
        .submit(
            "/settings/2fa/enable",
            "/settings/2fa/enable",
            &[("password", PASSWORD)],
        )
        .await;
    let key: String = text_of(&page.body, "id=\"manual-key\">")
        .split_whitespace()
        .collect();
    let phone = Totp::new(Secret::from_base32(&key).unwrap());
    let code = phone.generate(site.now()).to_string();
    b.submit(
        "/settings/2fa/verify",
        "/settings/2fa/verify",
        &[("code", &code)],
    )
    .await;
    for (page, action) in [
        ("/settings/2fa/disable", "/settings/2fa/disable"),
        (
            "/settings/2fa/recovery-codes",
            "/settings/2fa/recovery-codes",
        ),
    ] {
        let r = b.submit(page, action, &[("password", "guess")]).await;
        assert!(r.body.contains("Wrong password"), "{action}");
        assert!(!r.body.contains("<code>"));
    }
    let record = site.state.two_factor.record(&user.id).await.unwrap();
    let record = record.expect("the user enrolled");
    assert!(record.is_enabled());
    assert_eq!(record.recovery_codes_left(), Some(10));
}

fn text_of(body: &str, marker: &str) -> String {
    let start = body.find(marker).expect(marker) + marker.len();
    let end = body[start..].find('<').unwrap();
    body[start..start + end].trim().to_owned()
}

/// Submits `code` on `page` as alice, signing in again whenever the page asks for it and
/// waiting out each "try again in N seconds" on the clock, until the lockout page (a 403)
/// comes: whether a delay was ever asked for, and the lockout page. At most 120 attempts.
async fn fail_until_locked(
    site: &Site,
    b: &mut Browser,
    page: &str,
    code: &str,
) -> (bool, Response) {
    let mut throttled = false;
    for _ in 0..120 {
        if b.get(page).await.status != StatusCode::OK {
            b.sign_in("alice@example.com", PASSWORD).await;
        }
        let r = b.submit(page, page, &[("code", code)]).await;
        if r.status == StatusCode::FORBIDDEN {
            return (throttled, r);
        }
        if let Some(rest) = r.body.split("Try again in ").nth(1) {
            let seconds: u64 = rest.split(' ').next().unwrap().parse().unwrap();
            throttled = true;
            site.advance(seconds);
        }
    }
    panic!("no lockout page after 120 attempts on {page}");
}

#[tokio::test]
async fn throttling_says_when_to_try_again_and_the_lockout_page_says_what_to_do() {
    let site = Site::new(Config::default()).await;
    let (_, codes) = site.user_with_2fa_and_codes("alice@example.com").await;
    let mut b = site.browser();
    // The default policy locks after 30 failures.
    let (throttled, locked) = fail_until_locked(&site, &mut b, "/login/code", "000000").await;
    assert!(throttled, "no \"try again in N seconds\"");
    assert!(locked.body.contains("Two-factor sign-in is locked"));
    assert!(locked.body.contains("contact support"));
    // The way out the page offers: a recovery code still signs the owner in, and ends the
    // lockout of codes.
    assert!(locked.body.contains(r#"href="/login/recovery""#));
    assert_eq!(b.get("/login/recovery").await.status, StatusCode::OK);
    let first = codes.iter().next().unwrap().to_owned();
    let recovered = b
        .submit("/login/recovery", "/login/recovery", &[("code", &first)])
        .await;
    assert_eq!(recovered.location(), "/settings");
    assert_eq!(b.get("/settings").await.status, StatusCode::OK);
    let subjects = site.mail_subjects("alice@example.com");
    assert!(
        subjects.contains(&"Two-factor sign-in was locked".to_owned()),
        "{subjects:?}"
    );
}

#[tokio::test]
async fn a_replayed_code_is_refused_like_a_wrong_one_and_mailed_to_the_owner() {
    let site = Site::new(Config::default()).await;
    let phone = site.user_with_2fa("alice@example.com").await;
    let mut b = site.browser();
    b.sign_in("alice@example.com", PASSWORD).await;
    let code = phone.generate(site.now()).to_string();
    b.submit("/login/code", "/login/code", &[("code", &code)])
        .await;
    b.submit("/settings", "/logout", &[]).await;
    b.sign_in("alice@example.com", PASSWORD).await;
    let again = b
        .submit("/login/code", "/login/code", &[("code", &code)])
        .await;
    assert!(again.body.contains("That code is not valid"));
    assert_eq!(b.get("/settings").await.location(), "/login");
    let outbox = site.state.accounts.outbox("alice@example.com");
    assert!(
        outbox
            .iter()
            .any(|m| m.subject == "A sign-in code was used twice")
    );
}

#[tokio::test]
async fn a_lockout_of_recovery_codes_offers_a_code_and_a_code_still_signs_in() {
    let site = Site::new(Config::default()).await;
    let phone = site.user_with_2fa("alice@example.com").await;
    let mut b = site.browser();
    // The default recovery policy locks after 50 failures.
    let (_, locked) = fail_until_locked(&site, &mut b, "/login/recovery", "AAAAA-AAAAA").await;
    assert!(locked.body.contains("wrong recovery codes"));
    assert!(locked.body.contains(r#"href="/login/code""#));
    let subjects = site.mail_subjects("alice@example.com");
    assert!(
        subjects.contains(&"Recovery codes were locked".to_owned()),
        "{subjects:?}"
    );
    let code = phone.generate(site.now()).to_string();
    let signed_in = b
        .submit("/login/code", "/login/code", &[("code", &code)])
        .await;
    assert_eq!(signed_in.location(), "/settings");
}
