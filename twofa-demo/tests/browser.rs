//! End to end in a real browser: headless Chromium driven through chromedriver plays the user
//! through every flow, reading the key off the enrolment page and computing codes with
//! `twofa::Totp` as an authenticator app would. A screenshot of each page goes to
//! `target/screenshots/`.
//!
//! Without chromedriver, Chromium or zbarimg the test is skipped with a note, unless `CI` is
//! set: then it fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::io::Write;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use twofa::account::{DeviceKey, PasswordConfirmed};
use twofa::store::Clock;
use twofa::{OtpAuthUri, Secret, Totp};
use twofa_demo::{AppState, Config, app, two_factor};
use twofa_sqlx::SqliteStore;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const EMAIL: &str = "alice@example.com";
const PASSWORD: &str = "correct horse battery staple";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flow_in_headless_chromium() -> TestResult {
    let Some(tools) = Tools::find() else {
        return Ok(());
    };
    let time = Arc::new(AtomicU64::new(unix_now()));
    let app = App::start(time.clone()).await?;
    let driver = Driver::start(&tools.chromedriver)?;
    let profile = TempDir::new("twofa-demo-chromium")?;
    let browser = Browser::connect(&driver, &tools.chromium, &profile.0).await?;

    let result = walk_every_flow(&browser, &app, &time).await;
    let lockout = match result {
        Ok(()) => throttle_and_lockout(&browser, &app, &time).await,
        Err(e) => Err(e),
    };
    browser.client.clone().close().await?;
    lockout
}

/// The flows of the issue, in order, through clicks and typing.
async fn walk_every_flow(b: &Browser, app: &App, time: &AtomicU64) -> TestResult {
    // Sign in with the password only: 2FA is off.
    b.goto(&app.url("/login")).await?;
    b.shot("01-sign-in").await?;
    b.sign_in(EMAIL, PASSWORD).await?;
    b.expect_path("/settings").await?;
    b.expect_text("#twofa-status", "Disabled").await?;
    b.shot("02-settings-2fa-off").await?;

    // Enable 2FA: the password first, then the QR code and the key.
    b.click("#enable-2fa").await?;
    b.shot("03-enable-2fa-confirm-password").await?;
    b.tick("#continue").await?; // an empty password: the browser itself refuses to send it
    b.expect_path("/settings/2fa/enable").await?;
    b.type_into("#password", "wrong password").await?;
    b.click("#continue").await?;
    b.expect_text(".error", "Wrong password").await?;
    b.type_into("#password", PASSWORD).await?;
    b.click("#continue").await?;
    b.shot("04-scan-qr").await?;
    let key = b.text("#manual-key").await?;
    let phone = Totp::new(Secret::from_base32(&key)?);

    // The QR code beside the key is real: zbarimg reads the same key back from the pixels.
    let qr_png = b
        .client
        .find(Locator::Css("#qr"))
        .await?
        .screenshot()
        .await?;
    let qr_path = screenshots_dir().join("04-scan-qr-code-only.png");
    std::fs::write(&qr_path, qr_png)?;
    let decoded = zbarimg(&qr_path)?;
    let uri = OtpAuthUri::from_str(decoded.trim())?;
    assert_eq!(normalise(&uri.manual_entry_key()), normalise(&key));
    assert_eq!(uri.account(), EMAIL);
    assert_eq!(uri.issuer(), Some("twofa demo"));

    // Proceed → a wrong code first, then the right one.
    b.click("#proceed").await?;
    b.expect_path("/settings/2fa/verify").await?;
    let now = time.load(Ordering::SeqCst);
    b.type_into("#code", &wrong_code(&phone, now)).await?;
    b.click("#verify").await?;
    b.expect_text(".error", "That code is not valid").await?;
    b.shot("05-confirm-code-wrong").await?;
    b.type_into("#code", &phone.generate(now).to_string())
        .await?;
    b.click("#verify").await?;
    b.expect_text("h1", "Two-Factor Authentication is on")
        .await?;
    b.shot("06-recovery-codes").await?;
    let codes = b.texts("#recovery-codes code").await?;
    assert_eq!(codes.len(), 10);
    let download = b.attr("#download-codes", "href").await?;
    assert!(download.starts_with("data:text/plain"));
    assert!(download.contains(&codes[0]));
    b.click("#finish").await?;
    b.expect_text("#twofa-status", "Enabled").await?;
    b.expect_text("#codes-left", "10 recovery codes left")
        .await?;
    b.shot("07-settings-2fa-on").await?;

    // Sign out → sign in with a code and "trust this device".
    b.click("#sign-out").await?;
    b.expect_path("/login").await?;
    let now = advance(time, 30);
    b.sign_in(EMAIL, PASSWORD).await?;
    b.expect_path("/login/code").await?;
    let code = b.client.find(Locator::Css("#code")).await?;
    assert_eq!(
        code.attr("autocomplete").await?.as_deref(),
        Some("one-time-code")
    );
    assert_eq!(code.attr("inputmode").await?.as_deref(), Some("numeric"));
    b.shot("08-verify-code").await?;
    b.type_into("#code", &phone.generate(now).to_string())
        .await?;
    b.tick("#trust").await?;
    b.click("#verify").await?;
    b.expect_path("/settings").await?;
    b.expect_text("table.devices", "Chrome (headless) on Linux")
        .await?;
    b.shot("09-settings-trusted-device").await?;

    // Sign out → sign in again: the cookie skips the code.
    b.click("#sign-out").await?;
    advance(time, 30);
    b.sign_in(EMAIL, PASSWORD).await?;
    b.expect_path("/settings").await?;

    // Revoke the device → the code is asked again.
    b.click(".revoke").await?;
    b.expect_text(".notice", "revoked").await?;
    b.expect_text("#no-devices", "No trusted devices").await?;
    b.shot("10-device-revoked").await?;
    b.click("#sign-out").await?;
    b.sign_in(EMAIL, PASSWORD).await?;
    b.expect_path("/login/code").await?;

    // A recovery code instead; the same one again is refused.
    b.click("#use-recovery").await?;
    b.expect_path("/login/recovery").await?;
    b.shot("11-recovery-code").await?;
    b.type_into("#recovery-code", &codes[0]).await?;
    b.click("#verify").await?;
    b.expect_path("/settings").await?;
    b.expect_text(".notice", "9 recovery codes left").await?;
    b.shot("12-signed-in-with-recovery-code").await?;
    b.click("#sign-out").await?;
    b.sign_in(EMAIL, PASSWORD).await?;
    b.click("#use-recovery").await?;
    b.type_into("#recovery-code", &codes[0]).await?;
    b.click("#verify").await?;
    b.expect_text(".error", "That recovery code is not valid")
        .await?;
    b.shot("13-recovery-code-used-twice").await?;
    b.type_into("#recovery-code", &codes[1]).await?;
    b.click("#verify").await?;
    b.expect_path("/settings").await?;

    // Generate new codes: an old one is refused, a new one works.
    b.click("#generate-new").await?;
    b.shot("14-generate-new-codes").await?;
    b.type_into("#password", PASSWORD).await?;
    b.click("#generate").await?;
    b.expect_text("h1", "New recovery codes").await?;
    b.shot("15-new-recovery-codes").await?;
    let new_codes = b.texts("#recovery-codes code").await?;
    assert_eq!(new_codes.len(), 10);
    assert!(new_codes.iter().all(|c| !codes.contains(c)));
    b.click("#finish").await?;
    b.click("#sign-out").await?;
    b.sign_in(EMAIL, PASSWORD).await?;
    b.click("#use-recovery").await?;
    b.type_into("#recovery-code", &codes[2]).await?;
    b.click("#verify").await?;
    b.expect_text(".error", "That recovery code is not valid")
        .await?;
    b.type_into("#recovery-code", &new_codes[0]).await?;
    b.click("#verify").await?;
    b.expect_path("/settings").await?;

    // Disable → no code is asked at sign-in any more.
    b.click("#disable-2fa").await?;
    b.shot("16-disable-2fa").await?;
    b.type_into("#password", PASSWORD).await?;
    b.click("#disable").await?;
    b.expect_text("#twofa-status", "Disabled").await?;
    b.expect_text(".notice", "Two-factor authentication is off")
        .await?;
    b.shot("17-settings-2fa-disabled").await?;
    b.click("#sign-out").await?;
    advance(time, 30);
    b.sign_in(EMAIL, PASSWORD).await?;
    b.expect_path("/settings").await?;

    // The outbox holds the notices the events called for.
    b.goto(&app.url("/outbox")).await?;
    for subject in [
        "Two-factor authentication was turned on",
        "A recovery code was used to sign in",
        "New recovery codes were generated",
        "Two-factor authentication was turned off",
    ] {
        b.expect_text("main", subject).await?;
    }
    b.shot("18-mail-outbox").await?;
    b.click("#sign-out").await?;
    Ok(())
}

/// A second user, enrolled directly through the service, types wrong codes: first "try again
/// in N seconds", then the lockout page.
async fn throttle_and_lockout(b: &Browser, app: &App, time: &AtomicU64) -> TestResult {
    const BOB: &str = "bob@example.com";
    let bob = app.state.accounts.create(BOB, PASSWORD)?;
    let check = |_: &str, password: &str| password == PASSWORD;
    let proof = PasswordConfirmed::check(&check, &bob.id, PASSWORD, time.load(Ordering::SeqCst))?;
    let enrollment = app
        .state
        .two_factor
        .start_enrollment(&bob.id, Some(&proof), BOB)
        .await?
        .result?;
    let phone = enrollment.uri().to_totp()?;
    let now = time.load(Ordering::SeqCst);
    let typed = phone.generate(now).to_string();
    app.state
        .two_factor
        .confirm_enrollment(&bob.id, &typed)
        .await?
        .result?;

    let mut throttled_seen = false;
    // 30 failures lock the account (the default policy); each throttle is waited out.
    for _ in 0..80 {
        if b.path().await? != "/login/code" {
            b.goto(&app.url("/login")).await?;
            b.sign_in(BOB, PASSWORD).await?;
        }
        if b.path().await? != "/login/code" {
            break;
        }
        let now = time.load(Ordering::SeqCst);
        b.type_into("#code", &wrong_code(&phone, now)).await?;
        b.click("#verify").await?;
        if b.exists(".locked").await? {
            break;
        }
        if !b.exists(".error").await? {
            continue; // the password step expired while waiting: sign in again
        }
        let error = b.text(".error").await?;
        if let Some(seconds) = retry_seconds(&error) {
            if !throttled_seen && seconds >= 8 {
                b.shot("19-throttled").await?;
                throttled_seen = true;
            }
            advance(time, seconds);
        }
    }
    assert!(throttled_seen, "no \"try again in N seconds\" message");
    b.expect_text("h1", "Two-factor sign-in is locked").await?;
    b.shot("20-locked-out").await?;
    Ok(())
}

fn retry_seconds(message: &str) -> Option<u64> {
    let rest = message.split("Try again in ").nth(1)?;
    rest.split(' ').next()?.parse().ok()
}

/// A six-digit code the app does not show in any step the server accepts now.
fn wrong_code(phone: &Totp, now: u64) -> String {
    let near: Vec<String> = (0..=2)
        .map(|i| phone.generate(now + i * 30 - 30).to_string())
        .collect();
    (0..10u32)
        .map(|d| format!("{d}{d}{d}{d}{d}{d}"))
        .find(|c| !near.contains(c))
        .unwrap()
}

fn normalise(key: &str) -> String {
    key.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase()
}

fn advance(time: &AtomicU64, seconds: u64) -> u64 {
    time.fetch_add(seconds, Ordering::SeqCst) + seconds
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn screenshots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn zbarimg(png: &Path) -> Result<String, Box<dyn std::error::Error>> {
    let out = Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(png)
        .output()?;
    if !out.status.success() {
        return Err(format!("zbarimg could not read {}", png.display()).into());
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// The external programs the test needs.
struct Tools {
    chromedriver: PathBuf,
    chromium: PathBuf,
}

impl Tools {
    fn find() -> Option<Tools> {
        let chromedriver = program("CHROMEDRIVER", &["chromedriver"]);
        let chromium = program(
            "CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        );
        let zbarimg = program("ZBARIMG", &["zbarimg"]);
        match (chromedriver, chromium, zbarimg) {
            (Some(chromedriver), Some(chromium), Some(_)) => Some(Tools {
                chromedriver,
                chromium,
            }),
            _ => {
                let note = "browser test needs chromedriver, chromium and zbarimg \
                            (apt-get install chromium chromium-driver zbar-tools)";
                assert!(std::env::var_os("CI").is_none(), "{note}");
                // Straight to the stream: libtest captures `eprintln!`, and the note must show.
                let _ = writeln!(std::io::stderr(), "skipped: {note}");
                None
            }
        }
    }
}

fn program(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// The app on a free loopback port, with a clock the test moves.
struct App {
    base: String,
    state: Arc<AppState<SqliteStore>>,
}

impl App {
    async fn start(time: Arc<AtomicU64>) -> Result<App, Box<dyn std::error::Error>> {
        let clock: Arc<dyn Clock> = Arc::new(move || time.load(Ordering::SeqCst));
        let key = [7u8; 32];
        let store = SqliteStore::open_in_memory().await?;
        let device_key = DeviceKey::from_bytes(&[8u8; 32])?;
        let tf = two_factor(store, "twofa demo", &key, device_key, clock.clone())?;
        let state = Arc::new(AppState::new(tf, clock, Config::default()));
        state.accounts.create(EMAIL, PASSWORD)?;
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let base = format!("http://{}", listener.local_addr()?);
        let router = app(state.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Ok(App { base, state })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// chromedriver on a free loopback port, killed on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start(program: &Path) -> Result<Driver, Box<dyn std::error::Error>> {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        let child = Command::new(program)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let driver = Driver { child, port };
        for _ in 0..100 {
            if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
                return Ok(driver);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err("chromedriver did not start listening within 10 s".into())
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> std::io::Result<TempDir> {
        let dir =
            std::env::temp_dir().join(format!("{prefix}-{}-{}", std::process::id(), unix_now()));
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The browser, with the small vocabulary the flows are written in.
struct Browser {
    client: Client,
}

impl Browser {
    async fn connect(
        driver: &Driver,
        chromium: &Path,
        profile: &Path,
    ) -> Result<Browser, Box<dyn std::error::Error>> {
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--no-first-run".to_owned(),
            "--window-size=1000,1100".to_owned(),
            format!("--user-data-dir={}", profile.display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": chromium, "args": args }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await?;
        Ok(Browser { client })
    }

    async fn goto(&self, url: &str) -> TestResult {
        Ok(self.client.goto(url).await?)
    }

    async fn path(&self) -> Result<String, Box<dyn std::error::Error>> {
        Ok(self.client.current_url().await?.path().to_owned())
    }

    async fn expect_path(&self, path: &str) -> TestResult {
        let now = self.path().await?;
        if now != path {
            let page = self.text("body").await.unwrap_or_default();
            panic!("expected to be on {path}, but on {now}: {page}");
        }
        Ok(())
    }

    /// Clicks a link or button and waits for the next page to be loaded.
    async fn click(&self, css: &str) -> TestResult {
        let before = self.client.find(Locator::Css("body")).await?.element_id();
        self.client.find(Locator::Css(css)).await?.click().await?;
        for _ in 0..200 {
            let ready = self
                .client
                .execute("return document.readyState", Vec::new())
                .await?;
            if ready == "complete"
                && let Ok(body) = self.client.find(Locator::Css("body")).await
                && body.element_id() != before
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("no new page within 10 s after clicking {css}").into())
    }

    /// Clicks a checkbox (no navigation).
    async fn tick(&self, css: &str) -> TestResult {
        Ok(self.client.find(Locator::Css(css)).await?.click().await?)
    }

    async fn type_into(&self, css: &str, text: &str) -> TestResult {
        let field = self.client.find(Locator::Css(css)).await?;
        field.clear().await?;
        Ok(field.send_keys(text).await?)
    }

    async fn text(&self, css: &str) -> Result<String, Box<dyn std::error::Error>> {
        Ok(self.client.find(Locator::Css(css)).await?.text().await?)
    }

    async fn texts(&self, css: &str) -> Result<Vec<String>, Box<dyn std::error::Error>> {
        let mut texts = Vec::new();
        for element in self.client.find_all(Locator::Css(css)).await? {
            texts.push(element.text().await?);
        }
        Ok(texts)
    }

    async fn attr(&self, css: &str, name: &str) -> Result<String, Box<dyn std::error::Error>> {
        let element = self.client.find(Locator::Css(css)).await?;
        Ok(element.attr(name).await?.unwrap_or_default())
    }

    async fn exists(&self, css: &str) -> Result<bool, Box<dyn std::error::Error>> {
        Ok(!self.client.find_all(Locator::Css(css)).await?.is_empty())
    }

    async fn expect_text(&self, css: &str, needle: &str) -> TestResult {
        let text = self.text(css).await?;
        assert!(text.contains(needle), "{css}: {text:?} lacks {needle:?}");
        Ok(())
    }

    async fn sign_in(&self, email: &str, password: &str) -> TestResult {
        self.type_into("#email", email).await?;
        self.type_into("#password", password).await?;
        self.click("#sign-in").await
    }

    async fn shot(&self, name: &str) -> TestResult {
        let png = self.client.screenshot().await?;
        std::fs::write(screenshots_dir().join(format!("{name}.png")), png)?;
        Ok(())
    }
}
