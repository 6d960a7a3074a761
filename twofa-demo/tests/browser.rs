//! End to end in a real browser: headless Chromium, 390 px wide as a phone, driven through
//! chromedriver, plays the user through every flow of the demo, reading the key off the
//! enrolment page (and the QR code through zbarimg) and computing codes with `twofa::Totp` as
//! an authenticator app would. A second browser (plain HTTP with its own cookies) is the same
//! person's other device. Every page the walk stops at is checked for horizontal overflow and
//! photographed to `target/screenshots/`.
//!
//! Without chromedriver, Chromium or zbarimg the test is skipped with a note, unless `CI` is
//! set: then it fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: fail loudly

mod support;

use std::io::Write;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use support::{EMAIL, PASSWORD, Running, TempDir, TestClock, TestResult, wrong_code};
use twofa::{OtpAuthUri, Secret, Totp};
use twofa_demo::SITE;

/// The width of the window: a phone's.
const WIDTH: i64 = 390;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flow_in_headless_chromium_at_390_px() -> TestResult {
    let Some(tools) = Tools::find() else {
        return Ok(());
    };
    let dir = TempDir::new("twofa-demo-browser");
    let clock = TestClock::new();
    let demo = Running::sqlite(&dir, &clock).await;
    let driver = Driver::start(&tools.chromedriver)?;
    let profile = TempDir::new("twofa-demo-chromium");
    let browser = Browser::connect(&driver, &tools.chromium, &profile.0).await?;

    let mut result = walk_every_flow(&browser, &demo, &clock).await;
    if result.is_ok() {
        result = throttle_and_lockout(&browser, &demo, &clock).await;
    }
    browser.client.clone().close().await?;
    result
}

/// The flows, in order, through clicks and typing.
async fn walk_every_flow(b: &Browser, demo: &Running, clock: &TestClock) -> TestResult {
    // Sign in with the password only: 2FA is off.
    b.goto(&demo.url("/login")).await?;
    let width: i64 = serde_json::from_value(
        b.client
            .execute("return window.innerWidth", Vec::new())
            .await?,
    )?;
    assert_eq!(width, WIDTH, "the window is not a phone's width");
    b.shot("01-sign-in").await?;
    b.sign_in(EMAIL, PASSWORD).await?;
    b.expect_path("/settings").await?;
    b.expect_text("#twofa-status", "Disabled").await?;
    b.shot("02-settings-2fa-off").await?;

    // The favicon: linked, served, and /favicon.ico leads to it.
    favicon(b, demo).await?;

    // The sessions list: another device signs in; this one sees both and ends the other.
    let other = demo.browser();
    other.sign_in(None, clock.now()).await;
    b.goto(&demo.url("/settings")).await?;
    assert_eq!(b.texts("#sessions li.session").await?.len(), 2);
    b.expect_text("#sessions li.session:first-child", "This device")
        .await?;
    b.expect_text(
        "#sessions li.session:first-child",
        "Chrome (headless) on Linux",
    )
    .await?;
    b.expect_text("#sessions li.session:last-child", "Firefox on Linux")
        .await?;
    b.shot("03-settings-two-sessions").await?;
    assert_eq!(b.texts("button.end-session").await?.len(), 1);
    b.click("button.end-session").await?;
    b.expect_text(".notice", "That session was signed out")
        .await?;
    assert_eq!(b.texts("#sessions li.session").await?.len(), 1);
    b.shot("04-session-ended").await?;
    assert!(other.get("/settings").await.redirects_to("/login"));

    // The other device signs in again, before 2FA is turned on (checked below).
    other.sign_in(None, clock.now()).await;

    // Enable 2FA (right after sign-in the step-up passes), and cancel on the QR page.
    b.click("#enable-2fa").await?;
    b.expect_path("/settings/2fa/enable").await?;
    b.shot("05-enable-2fa").await?;
    b.click("#start-2fa").await?;
    b.click("#cancel-2fa").await?;
    b.expect_text("#twofa-status", "Disabled").await?;

    // Start again: the QR code and the key.
    b.click("#enable-2fa").await?;
    b.click("#start-2fa").await?;
    b.shot("06-scan-qr").await?;
    let key = b.text("#manual-key").await?;
    let phone = Totp::new(Secret::from_base32(&key)?);
    // The QR code beside the key is real: zbarimg reads the same key back from the pixels.
    let qr_png = b
        .client
        .find(Locator::Css("#qr"))
        .await?
        .screenshot()
        .await?;
    let qr_path = screenshots_dir().join("06-scan-qr-code-only.png");
    std::fs::write(&qr_path, qr_png)?;
    let uri = OtpAuthUri::from_str(zbarimg(&qr_path)?.trim())?;
    assert_eq!(normalise(&uri.manual_entry_key()), normalise(&key));
    assert_eq!(uri.account(), EMAIL);
    assert_eq!(uri.issuer(), Some(SITE));
    b.click("#proceed").await?;
    b.expect_path("/settings/2fa/verify").await?;

    // Leave for Settings through the account menu: the setup waits, "Not finished".
    b.menu("#account-settings").await?;
    b.expect_path("/settings").await?;
    b.expect_text("#twofa-status", "Not finished").await?;
    b.expect_text("#finish-2fa", "Finish setup").await?;
    b.shot("07-settings-setup-not-finished").await?;

    // "Finish setup": a wrong code first, then one from the key scanned before.
    b.click("#finish-2fa").await?;
    b.expect_path("/settings/2fa/verify").await?;
    let now = clock.now();
    b.type_into("#code", &wrong_code(&phone, now)).await?;
    b.click("#verify").await?;
    b.expect_text(".error", "That code is not valid").await?;
    b.shot("08-confirm-code-wrong").await?;
    b.type_into("#code", &phone.generate(now).to_string())
        .await?;
    b.click("#verify").await?;
    b.expect_text("h1", "Two-Factor Authentication is on")
        .await?;
    b.expect_text("#codes-for", &format!("For {EMAIL} at {SITE}."))
        .await?;
    b.shot("09-recovery-codes").await?;
    let codes = b.texts("#recovery-codes code").await?;
    assert_eq!(codes.len(), 10);
    let download = b.attr("#download-codes", "href").await?;
    assert!(download.starts_with("data:text/plain"), "{download}");
    assert!(download.contains("twofa%20demo"), "{download}");
    assert!(codes.iter().all(|c| download.contains(c.as_str())));

    // The other device, signed in before 2FA was on, is signed out now.
    assert!(other.get("/settings").await.redirects_to("/login"));

    b.click("#finish").await?;
    b.expect_text("#twofa-status", "Enabled").await?;
    b.expect_text("#codes-left", "10 recovery codes left")
        .await?;

    // Sign out through the menu → sign in with a code and "Trust this device".
    b.tick("#account-menu").await?;
    b.shot("10-account-menu").await?;
    b.click("#sign-out").await?;
    b.expect_path("/login").await?;
    let now = clock.advance(30);
    b.sign_in(EMAIL, PASSWORD).await?;
    b.expect_path("/login/code").await?;
    let code = b.client.find(Locator::Css("#code")).await?;
    assert_eq!(
        code.attr("autocomplete").await?.as_deref(),
        Some("one-time-code")
    );
    assert_eq!(code.attr("inputmode").await?.as_deref(), Some("numeric"));
    b.shot("10-verify-code-page").await?;
    b.type_into("#code", &phone.generate(now).to_string())
        .await?;
    b.tick("#trust").await?;
    b.click("#verify").await?;
    b.expect_path("/settings").await?;

    // The other device signs in with its own code: Settings lists both, and the device.
    let now = clock.advance(30);
    other.sign_in(Some(&phone), now).await;
    b.goto(&demo.url("/settings")).await?;
    b.expect_text("#devices li.device", "Chrome (headless) on Linux")
        .await?;
    assert_eq!(b.texts("#sessions li.session").await?.len(), 2);
    b.shot("11-settings-2fa-on-devices-and-sessions").await?;
    b.scroll_to("#sessions").await?;
    b.shot("11-settings-2fa-on-sessions").await?;

    // Sign out → sign in again: the device's cookie skips the code.
    b.menu("#sign-out").await?;
    clock.advance(30);
    b.sign_in(EMAIL, PASSWORD).await?;
    b.expect_path("/settings").await?;

    // Revoking the device needs a fresh code (the device is not one); the click is asked again
    // after it.
    b.click("button.revoke").await?;
    b.expect_path("/confirm").await?;
    b.expect_text("h1", "Confirm it's you").await?;
    assert!(!b.exists("#password").await?, "the password alone is asked");
    b.shot("12-step-up-code").await?;
    let now = clock.advance(30);
    b.type_into("#code", &phone.generate(now).to_string())
        .await?;
    b.click("#confirm").await?;
    b.expect_path("/settings").await?;
    b.click("button.revoke").await?;
    b.expect_text(".notice", "revoked").await?;
    b.expect_text("#no-devices", "No trusted devices").await?;
    b.shot("13-device-revoked").await?;

    // "Log out of all other devices" ends the other device's session.
    b.click("#logout-others").await?;
    b.expect_text(".notice", "logged out of all other devices")
        .await?;
    assert_eq!(b.texts("#sessions li.session").await?.len(), 1);
    assert!(other.get("/settings").await.redirects_to("/login"));

    // The code is asked again; a recovery code instead, and the same one again is refused.
    b.menu("#sign-out").await?;
    clock.advance(30);
    b.sign_in(EMAIL, PASSWORD).await?;
    b.expect_path("/login/code").await?;
    b.click("#use-recovery").await?;
    b.expect_path("/login/recovery").await?;
    b.shot("14-recovery-code").await?;
    b.type_into("#recovery-code", &codes[0]).await?;
    b.click("#verify").await?;
    b.expect_path("/settings").await?;
    b.expect_text(".notice", "9 recovery codes left").await?;
    b.menu("#sign-out").await?;
    b.sign_in(EMAIL, PASSWORD).await?;
    b.click("#use-recovery").await?;
    b.type_into("#recovery-code", &codes[0]).await?;
    b.click("#verify").await?;
    b.expect_text(".error", "That recovery code is not valid")
        .await?;
    b.shot("15-recovery-code-used-twice").await?;
    b.type_into("#recovery-code", &codes[1]).await?;
    b.click("#verify").await?;
    b.expect_path("/settings").await?;

    // "Generate new" (the recovery code just now is a fresh factor): an old code is refused
    // after it, a new one works.
    b.click("#generate-new").await?;
    b.expect_path("/settings/2fa/recovery-codes").await?;
    b.shot("16-generate-new-codes").await?;
    b.click("#generate").await?;
    b.expect_text("h1", "New recovery codes").await?;
    b.shot("17-new-recovery-codes").await?;
    let new_codes = b.texts("#recovery-codes code").await?;
    assert_eq!(new_codes.len(), 10);
    assert!(new_codes.iter().all(|c| !codes.contains(c)));
    b.click("#finish").await?;
    b.menu("#sign-out").await?;
    b.sign_in(EMAIL, PASSWORD).await?;
    b.click("#use-recovery").await?;
    b.type_into("#recovery-code", &codes[2]).await?;
    b.click("#verify").await?;
    b.expect_text(".error", "That recovery code is not valid")
        .await?;
    b.type_into("#recovery-code", &new_codes[0]).await?;
    b.click("#verify").await?;
    b.expect_path("/settings").await?;

    // Ten minutes and a second later, "Disable 2FA" asks for a code (not the password), then
    // goes on to the Disable page.
    let now = clock.advance(601);
    b.click("#disable-2fa").await?;
    b.expect_path("/confirm").await?;
    assert!(b.exists("#code").await?);
    assert!(!b.exists("#password").await?, "the password alone is asked");
    b.shot("18-step-up-code-before-disable").await?;
    b.type_into("#code", &wrong_code(&phone, now)).await?;
    b.click("#confirm").await?;
    b.expect_text(".error", "That code is not valid").await?;
    b.type_into("#code", &phone.generate(now).to_string())
        .await?;
    b.click("#confirm").await?;
    b.expect_path("/settings/2fa/disable").await?;
    b.shot("19-disable-2fa").await?;
    b.click("#disable").await?;
    b.expect_text("#twofa-status", "Disabled").await?;
    b.expect_text(".notice", "Two-factor authentication is off")
        .await?;
    b.shot("20-settings-2fa-disabled").await?;

    // With 2FA off, a step-up asks for the password.
    clock.advance(601);
    b.click("#enable-2fa").await?;
    b.expect_path("/confirm").await?;
    b.shot("21-step-up-password").await?;
    b.type_into("#password", "not the password").await?;
    b.click("#confirm").await?;
    b.expect_text(".error", "Wrong password").await?;
    b.type_into("#password", PASSWORD).await?;
    b.click("#confirm").await?;
    b.expect_path("/settings/2fa/enable").await?;

    // No code is asked at sign-in any more.
    b.menu("#sign-out").await?;
    clock.advance(30);
    b.sign_in(EMAIL, PASSWORD).await?;
    b.expect_path("/settings").await?;

    // The outbox, from the menu, holds the notices the events called for, newest first.
    b.menu_link("Mail outbox").await?;
    b.expect_path("/outbox").await?;
    let subjects = b.texts(".mail h2").await?;
    // Each wrong code typed in the walk (a used recovery code twice, one in the step-up) is
    // reported once, by the next factor that passes; the typo while confirming the setup is
    // not (it was the owner's own).
    let expected = [
        "Two-factor authentication was turned off",
        "1 wrong code since your last sign-in",
        "1 wrong code since your last sign-in",
        "A recovery code was used to sign in",
        "New recovery codes were generated",
        "1 wrong code since your last sign-in",
        "A recovery code was used to sign in",
        "A recovery code was used to sign in",
        "You were logged out of all other devices",
        "A device was trusted",
        "Two-factor authentication was turned on",
    ];
    assert_eq!(subjects, expected);
    b.shot("22-mail-outbox").await?;
    b.menu("#sign-out").await?;
    Ok(())
}

/// The page links `/twofa/icon.svg`, which loads as an image; `/favicon.ico` leads to it.
async fn favicon(b: &Browser, demo: &Running) -> TestResult {
    let href = b.attr("link[rel=icon]", "href").await?;
    assert_eq!(href, demo.url("/twofa/icon.svg"));
    let loaded = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const img = new Image();
             img.onload = () => done(img.naturalWidth > 0);
             img.onerror = () => done(false);
             img.src = document.querySelector('link[rel=icon]').href;",
            Vec::new(),
        )
        .await?;
    assert_eq!(
        loaded,
        serde_json::Value::Bool(true),
        "the icon did not load"
    );
    let path = b.path().await?;
    b.goto(&demo.url("/favicon.ico")).await?;
    b.expect_path("/twofa/icon.svg").await?;
    b.goto(&demo.url(&path)).await
}

/// A second user with 2FA on (enabled over HTTP) types wrong codes in Chromium: first "try
/// again in N seconds", then the lockout page.
async fn throttle_and_lockout(b: &Browser, demo: &Running, clock: &TestClock) -> TestResult {
    const BOB: &str = "bob@example.com";
    demo.users.set_password("bob", BOB, PASSWORD).await.unwrap();
    let setup = demo.browser();
    assert!(
        setup
            .password(BOB, PASSWORD)
            .await
            .redirects_to("/settings")
    );
    let (phone, _) = setup.enable_2fa(clock.now()).await;

    let mut throttled_seen = false;
    // 30 failures lock the account (the default policy); each throttle is waited out.
    for _ in 0..80 {
        if b.path().await? != "/login/code" {
            b.goto(&demo.url("/login")).await?;
            b.sign_in(BOB, PASSWORD).await?;
        }
        b.expect_path("/login/code").await?;
        let now = clock.now();
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
                b.shot("23-throttled").await?;
                throttled_seen = true;
            }
            clock.advance(seconds);
        }
    }
    assert!(throttled_seen, "no \"try again in N seconds\" message");
    b.expect_text("h1", "Two-factor sign-in is locked").await?;
    b.expect_text(".locked", "Use a recovery code").await?;
    b.shot("24-locked-out").await?;
    Ok(())
}

/// The seconds of "Try again in N seconds." (the message may also say minutes).
fn retry_seconds(message: &str) -> Option<u64> {
    let rest = message.split("Try again in ").nth(1)?;
    let mut words = rest.split(' ');
    let n: u64 = words.next()?.parse().ok()?;
    let unit = words.next()?;
    Some(if unit.starts_with("minute") {
        n * 60
    } else {
        n
    })
}

fn normalise(key: &str) -> String {
    key.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase()
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

trait Url {
    fn url(&self, path: &str) -> String;
}

impl Url for Running {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
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
            "--hide-scrollbars".to_owned(),
            "--window-size=800,1000".to_owned(),
            format!("--user-data-dir={}", profile.display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": chromium,
                "args": args,
                // Headless Chromium's windows are at least 500 px wide: a phone's viewport
                // comes from device emulation, as DevTools' device toolbar makes it.
                "mobileEmulation": { "deviceMetrics": {
                    "width": WIDTH, "height": 844, "pixelRatio": 2.0, "mobile": true, "touch": true,
                } },
            }),
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
        let element = self.client.find(Locator::Css(css)).await?;
        self.click_and_wait(element, css).await
    }

    async fn click_and_wait(
        &self,
        element: fantoccini::elements::Element,
        what: &str,
    ) -> TestResult {
        let before = self.client.find(Locator::Css("body")).await?.element_id();
        element.click().await?;
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
        Err(format!("no new page within 10 s after clicking {what}").into())
    }

    /// Opens the account menu and clicks the item `css`.
    async fn menu(&self, css: &str) -> TestResult {
        self.tick("#account-menu").await?;
        self.click(css).await
    }

    /// Opens the account menu and follows the link that says `text`.
    async fn menu_link(&self, text: &str) -> TestResult {
        self.tick("#account-menu").await?;
        let link = self.client.find(Locator::LinkText(text)).await?;
        self.click_and_wait(link, text).await
    }

    /// Clicks something that does not navigate (a checkbox, the menu).
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
        Ok(element.prop(name).await?.unwrap_or_default())
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

    async fn scroll_to(&self, css: &str) -> TestResult {
        let element = self.client.find(Locator::Css(css)).await?;
        let arg = serde_json::to_value(element)?;
        self.client
            .execute("arguments[0].scrollIntoView();", vec![arg])
            .await?;
        Ok(())
    }

    /// Checks that the page fits the window's width (nothing to scroll sideways), then saves
    /// a screenshot of it.
    async fn shot(&self, name: &str) -> TestResult {
        let widths = self
            .client
            .execute(
                "const e = document.documentElement; return [e.scrollWidth, e.clientWidth];",
                Vec::new(),
            )
            .await?;
        let (scroll, client): (i64, i64) = serde_json::from_value(widths)?;
        assert_eq!(client, WIDTH, "{name}: the layout is not a phone's width");
        assert!(
            scroll <= client,
            "{name}: the page is {scroll} px wide in a {client} px window"
        );
        let png = self.client.screenshot().await?;
        std::fs::write(screenshots_dir().join(format!("{name}.png")), png)?;
        Ok(())
    }
}
