//! What the demo itself promises, over HTTP against the running demo and through its binary:
//! its data survives a restart (SQLite and PostgreSQL), its files are private, its key file is
//! checked, its command line, its outbox, and its pages' names and icon. The web layer's own
//! promises (sign-out races, CSRF, limits, headers) are `twofa-axum/tests/http.rs`'s.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: fail loudly

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use support::{
    Browser, Database, EMAIL, PASSWORD, Running, TempDir, TestClock, drop_postgres_schema,
    postgres_schema, postgres_url, recovery_codes, unique_name, wrong_code,
};
use twofa_demo::{Keys, SITE};

const BINARY: &str = env!("CARGO_BIN_EXE_twofa-demo");

// ---- restarts ----

#[tokio::test]
async fn users_sessions_and_2fa_survive_a_restart_on_sqlite() {
    let dir = TempDir::new("twofa-demo-restart");
    survives_a_restart(&Database::Sqlite(dir.join("demo.db")), &dir).await;
}

#[tokio::test]
async fn users_sessions_and_2fa_survive_a_restart_on_postgres() {
    let Some(url) = postgres_url() else { return };
    let schema = unique_name("twofa_demo_test");
    let database = Database::Postgres(postgres_schema(&url, &schema).await);
    let dir = TempDir::new("twofa-demo-restart-pg");
    survives_a_restart(&database, &dir).await;
    drop_postgres_schema(&url, &schema).await;
}

/// Signs in and turns 2FA on; stops the demo; starts a second one on the same database with
/// the same key file: the old session cookie still works, 2FA is still on (sign-in asks for
/// the code, and the app's code passes), and the password set before the restart signs in.
async fn survives_a_restart(database: &Database, dir: &TempDir) {
    let key_file = dir.join("keys");
    let clock = TestClock::new();
    let (keys, made) = Keys::load_or_create(&key_file).unwrap();
    assert!(made);
    let first = Running::start(database, keys, &clock)
        .await
        .with_account()
        .await;
    let browser = first.browser();
    browser.sign_in(None, clock.now()).await;
    let (app, _) = browser.enable_2fa(clock.now()).await;
    drop(first);

    let now = clock.advance(30);
    let (keys, made) = Keys::load_or_create(&key_file).unwrap();
    assert!(!made, "the key file was made again");
    // No `with_account`: the password is the one stored before.
    let second = Running::start(database, keys, &clock).await;
    let old_cookie = browser.at(&second.url);
    let settings = old_cookie.get("/settings").await;
    assert_eq!(settings.status, StatusCode::OK, "{settings:?}");
    assert_eq!(settings.by_id("account-email").as_deref(), Some(EMAIL));
    assert_eq!(settings.by_id("twofa-status").as_deref(), Some("Enabled"));

    let fresh = second.browser();
    let wrong = fresh.password(EMAIL, "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    // The password passes, and the code is asked for: the flag and the record survived.
    fresh.sign_in(Some(&app), now).await;
    let settings = fresh.get("/settings").await;
    assert_eq!(settings.by_id("twofa-status").as_deref(), Some("Enabled"));
}

// ---- files ----

#[cfg(unix)]
#[tokio::test]
async fn the_database_and_the_key_file_are_readable_by_their_owner_only() {
    let dir = TempDir::new("twofa-demo-modes");
    let db = dir.join("demo.db");
    let clock = TestClock::new();
    let running = Running::start(
        &Database::Sqlite(db.clone()),
        Keys::generate().unwrap(),
        &clock,
    )
    .await
    .with_account()
    .await;
    running.browser().sign_in(None, clock.now()).await;
    for suffix in ["", "-wal", "-shm"] {
        let file = Path::new(&format!("{}{suffix}", db.display())).to_owned();
        assert!(file.exists(), "{} is missing", file.display());
        assert_eq!(support::mode(&file), 0o600, "{}", file.display());
    }

    let key_file = dir.join("config").join("twofa-demo").join("keys");
    let (_, made) = Keys::load_or_create(&key_file).unwrap();
    assert!(made);
    assert_eq!(support::mode(&key_file), 0o600);
    assert_eq!(support::mode(key_file.parent().unwrap()), 0o700);
}

#[cfg(unix)]
#[test]
fn a_key_file_others_can_read_is_refused_by_the_library_and_the_binary() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("twofa-demo-shared-key");
    let key_file = dir.join("keys");
    Keys::load_or_create(&key_file).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();

    let error = Keys::load_or_create(&key_file).unwrap_err().to_string();
    assert!(error.contains("chmod 600"), "{error}");

    let db = dir.join("demo.db");
    let out = run_to_end(Command::new(BINARY).args([
        "--addr",
        "127.0.0.1:0",
        "--database",
        db.to_str().unwrap(),
        "--key-file",
        key_file.to_str().unwrap(),
    ]));
    assert!(!out.status.success(), "started with a shared key file");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("chmod 600"), "{stderr}");
    assert!(
        !db.exists(),
        "the database was made before the keys were checked"
    );
}

#[test]
fn an_old_two_line_key_file_loads_without_a_pepper_and_a_malformed_one_is_refused() {
    let dir = TempDir::new("twofa-demo-old-key");
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::io::Write::write_all(
            &mut twofa_demo::keys::create_private(&path).unwrap(),
            text.as_bytes(),
        )
        .unwrap();
        path
    };
    let hex32 = |byte: &str| byte.repeat(32);
    let old = write("old", &format!("{}\n{}\n", hex32("07"), hex32("08")));
    let (keys, made) = Keys::load_or_create(&old).unwrap();
    assert!(!made);
    assert!(keys.pepper.is_none(), "an old file has no pepper");
    assert_eq!(&keys.sealing[..], &[7u8; 32][..]);
    // The form key is derived, not the sealing key itself.
    assert_ne!(&keys.form[..], &[7u8; 32][..]);
    let (again, _) = Keys::load_or_create(&old).unwrap();
    assert_eq!(
        *again.form, *keys.form,
        "the derived form key changes between starts"
    );
    // Derived from that file's sealing key: another file's form key differs.
    let other = write("other", &format!("{}\n{}\n", hex32("0a"), hex32("08")));
    let (other, _) = Keys::load_or_create(&other).unwrap();
    assert_ne!(*other.form, *keys.form);

    for (name, text) in [
        ("one-line", format!("{}\n", hex32("07"))),
        ("three-lines", format!("{0}\n{0}\n{0}\n", hex32("07"))),
        ("not-hex", "zz\nzz\n".to_owned()),
        ("upper-case", format!("{}\n{}\n", hex32("AB"), hex32("08"))),
        (
            "short-form-key",
            format!(
                "{0}\n{0}\n{1}\n{0}\n",
                hex32("07"),
                hex32("09")[..10].to_owned()
            ),
        ),
    ] {
        let path = write(name, &text);
        assert!(Keys::load_or_create(&path).is_err(), "{name} was accepted");
    }
}

// ---- the binary ----

#[test]
fn help_prints_the_options_and_an_unknown_option_fails() {
    for flag in ["--help", "-h"] {
        let out = run_to_end(Command::new(BINARY).arg(flag));
        assert!(out.status.success(), "{flag}: {:?}", out.status);
        let stdout = String::from_utf8_lossy(&out.stdout);
        for option in [
            "--addr",
            "--database",
            "--database-url",
            "--key-file",
            "--secure-cookies",
            "--public-origin",
        ] {
            assert!(stdout.contains(option), "{flag} lacks {option}: {stdout}");
        }
    }
    let out = run_to_end(Command::new(BINARY).arg("--no-such-option"));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown option --no-such-option"),
        "{stderr}"
    );
    let out = run_to_end(Command::new(BINARY).arg("--addr"));
    assert!(
        !out.status.success(),
        "an option without its value was accepted"
    );
}

#[tokio::test]
async fn the_binary_prints_its_address_and_a_password_that_signs_in() {
    let dir = TempDir::new("twofa-demo-binary");
    let child = Command::new(BINARY)
        .args(["--addr", "127.0.0.1:0", "--database"])
        .arg(dir.join("demo.db"))
        .arg("--key-file")
        .arg(dir.join("keys"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Killed(child);
    let stdout = child.0.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut origin, mut password) = (None, None);
    while origin.is_none() || password.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = received
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("no address and password within 30 s: {e}"));
        if let Some(rest) = line.strip_prefix("twofa demo on ") {
            origin = Some(rest.trim_end_matches('/').to_owned());
        }
        if let Some(rest) = line.strip_prefix("sign in as demo@example.com with password ") {
            password = Some(rest.to_owned());
        }
    }
    let (origin, password) = (origin.unwrap(), password.unwrap());
    assert!(origin.starts_with("http://127.0.0.1:"), "{origin}");
    assert!(password.len() >= 16, "a short password: {password}");
    let browser = Browser::new(&origin);
    let wrong = browser.password("demo@example.com", "not it").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let signed_in = browser.password("demo@example.com", &password).await;
    assert!(signed_in.redirects_to("/settings"), "{signed_in:?}");
    let settings = browser.get("/settings").await;
    assert_eq!(
        settings.by_id("account-email").as_deref(),
        Some("demo@example.com")
    );
}

// ---- the outbox ----

#[tokio::test]
async fn the_outbox_gets_one_mail_per_event_and_its_page_shows_them_newest_first() {
    const ON: &str = "Two-factor authentication was turned on";
    const REPLAY: &str = "A sign-in code was used twice";
    let dir = TempDir::new("twofa-demo-outbox");
    let clock = TestClock::new();
    let demo = Running::sqlite(&dir, &clock).await;
    let browser = demo.browser();
    browser.sign_in(None, clock.now()).await;
    let empty = browser.get("/outbox").await;
    assert!(empty.body.contains("id=\"no-mail\""), "{}", empty.body);

    // A typo while confirming the setup, then the right code: one mail, dated.
    let app = browser.start_2fa().await;
    let typo = browser.confirm_2fa(&wrong_code(&app, clock.now())).await;
    assert!(
        typo.body.contains("That code is not valid"),
        "{}",
        typo.body
    );
    let enabled_at = clock.now();
    browser
        .confirm_2fa(&app.generate(enabled_at).to_string())
        .await;
    let mails = demo.outbox.to(EMAIL);
    assert_eq!(demo.subjects(EMAIL), [ON], "{mails:?}");
    let dated = format!("{}.", twofa_axum::format_time(enabled_at));
    assert!(mails[0].body.ends_with(&dated), "{:?}", mails[0].body);

    // The next sign-in reports no wrong codes: the typo was the owner's own.
    browser.sign_out().await;
    let now = clock.advance(30);
    browser.sign_in(Some(&app), now).await;
    assert_eq!(demo.subjects(EMAIL), [ON]);

    // A replayed code: refused, and one mail, not a second one at the next sign-in.
    browser.sign_out().await;
    let page = browser.password(EMAIL, PASSWORD).await;
    assert!(page.redirects_to("/login/code"));
    let replayed = browser
        .submit(
            "/login/code",
            "/login/code",
            &[("code", &app.generate(now).to_string())],
        )
        .await;
    assert!(
        replayed.body.contains("That code is not valid"),
        "{replayed:?}"
    );
    assert_eq!(demo.subjects(EMAIL), [REPLAY, ON]);
    let later = clock.advance(30);
    let code = app.generate(later).to_string();
    let done = browser
        .submit("/login/code", "/login/code", &[("code", &code)])
        .await;
    assert!(done.redirects_to("/settings"), "{done:?}");
    let subjects = demo.subjects(EMAIL);
    assert_eq!(subjects, [REPLAY, ON], "a replay was reported twice");

    let outbox = browser.get("/outbox").await;
    assert_eq!(outbox.status, StatusCode::OK);
    let replay_at = outbox.body.find(REPLAY).expect("the replay mail is listed");
    let on_at = outbox.body.find(ON).expect("the 2FA mail is listed");
    assert!(replay_at < on_at, "not newest first: {}", outbox.body);
    assert!(outbox.body.contains(&twofa_axum::format_time(enabled_at)));
    // Mails go to their addressee only.
    assert!(demo.outbox.to("someone@example.com").is_empty());
}

// ---- names and icon ----

#[tokio::test]
async fn recovery_codes_and_their_download_name_the_site_and_the_account() {
    let dir = TempDir::new("twofa-demo-codes");
    let clock = TestClock::new();
    let demo = Running::sqlite(&dir, &clock).await;
    let browser = demo.browser();
    browser.sign_in(None, clock.now()).await;
    let (_, page) = browser.enable_2fa(clock.now()).await;
    let generate = browser.get("/settings/2fa/recovery-codes").await;
    assert_eq!(generate.status, StatusCode::OK, "{generate:?}");
    let renewed = browser
        .submit(
            "/settings/2fa/recovery-codes",
            "/settings/2fa/recovery-codes",
            &[],
        )
        .await;
    for page in [page, renewed] {
        let codes = recovery_codes(&page);
        assert_eq!(codes.len(), 10);
        let named = format!("For {EMAIL} at {SITE}.");
        assert_eq!(page.by_id("codes-for"), Some(named));
        let href = page
            .attr_after("id=\"download-codes\"", "href")
            .expect("a download link");
        let text = href
            .strip_prefix("data:text/plain;charset=utf-8,")
            .unwrap_or_else(|| panic!("not a data: URI of text: {href}"));
        let text = percent_decode(text);
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some(format!("Recovery codes for {EMAIL} at {SITE}").as_str())
        );
        assert_eq!(lines.collect::<Vec<_>>(), codes);
        assert_eq!(
            page.attr_after("id=\"download-codes\"", "download")
                .as_deref(),
            Some("recovery-codes.txt")
        );
    }
}

#[tokio::test]
async fn pages_link_the_favicon_and_favicon_ico_redirects_to_it() {
    let dir = TempDir::new("twofa-demo-icon");
    let clock = TestClock::new();
    let demo = Running::sqlite(&dir, &clock).await;
    let browser = demo.browser();
    let link = "<link rel=\"icon\" href=\"/twofa/icon.svg\" type=\"image/svg+xml\">";
    let sign_in = browser.get("/login").await;
    assert!(sign_in.body.contains(link), "{}", sign_in.body);
    browser.sign_in(None, clock.now()).await;
    for path in ["/settings", "/outbox"] {
        let page = browser.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.body.contains(link), "{path}: {}", page.body);
    }
    let icon = browser.get("/twofa/icon.svg").await;
    assert_eq!(icon.status, StatusCode::OK);
    assert_eq!(
        icon.headers.get(header::CONTENT_TYPE).unwrap(),
        "image/svg+xml"
    );
    assert!(icon.body.trim_start().starts_with("<svg"), "{}", icon.body);
    let ico = Browser::new(&demo.url).get("/favicon.ico").await;
    assert!(ico.redirects_to("/twofa/icon.svg"), "{ico:?}");
}

// ---- helpers ----

/// Runs `command` to its end, within 30 s.
fn run_to_end(command: &mut Command) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{command:?} still running after 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// A child process, killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// `--database-url` reaches PostgreSQL over TLS when the URL asks for it, checking the
/// server's certificate (the test server's own CA here), and refuses a certificate it cannot
/// check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_over_tls_checks_the_servers_certificate() {
    let Some(url) = support::postgres_url() else {
        return;
    };
    let Ok(ca) = std::env::var("TWOFA_TEST_POSTGRES_CA") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "TWOFA_TEST_POSTGRES_CA is required under CI"
        );
        eprintln!("skipping: TWOFA_TEST_POSTGRES_CA is not set");
        return;
    };
    // The test server's certificate names `localhost`.
    let url = url.replace("127.0.0.1", "localhost");
    let schema = support::unique_name("demo_tls");
    let base = support::postgres_schema(&url, &schema).await;
    let setup = |keys| twofa_demo::Setup::new(keys, "http://127.0.0.1:3000", false);
    let verified = format!("{base}&sslmode=verify-full&sslrootcert={ca}");
    let demo =
        twofa_demo::open_postgres(&verified, setup(twofa_demo::Keys::generate().unwrap())).await;
    assert!(demo.is_ok(), "{:?}", demo.err());
    // Without the CA, only the Mozilla roots are trusted: the test server's certificate is not.
    let unknown = format!("{base}&sslmode=verify-full");
    let refused =
        twofa_demo::open_postgres(&unknown, setup(twofa_demo::Keys::generate().unwrap())).await;
    let error = refused.expect_err("a certificate from an unknown issuer was accepted");
    assert!(format!("{error:?}").contains("UnknownIssuer"), "{error:?}");
    support::drop_postgres_schema(&url, &schema).await;
}

/// Without `--key-file` the keys go to the user's configuration directory
/// (`$XDG_CONFIG_HOME/twofa-demo/keys`, else `~/.config/twofa-demo/keys`), never beside the
/// database.
#[test]
fn the_default_key_file_is_in_the_configuration_directory_not_beside_the_database() {
    let dir = TempDir::new("twofa-demo-default-keys");
    let home = dir.join("home");
    let xdg = dir.join("xdg");
    for (xdg_config_home, expected) in [
        (None, home.join(".config/twofa-demo/keys")),
        (Some(&xdg), xdg.join("twofa-demo/keys")),
    ] {
        let db = dir.join(&format!("demo-{}.db", xdg_config_home.is_some()));
        let mut command = Command::new(BINARY);
        command
            .args(["--addr", "127.0.0.1:0", "--database"])
            .arg(&db)
            .env("HOME", &home)
            .env_remove("XDG_CONFIG_HOME")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(xdg) = xdg_config_home {
            command.env("XDG_CONFIG_HOME", xdg);
        }
        let mut child = Killed(command.spawn().unwrap());
        let stdout = BufReader::new(child.0.stdout.take().unwrap());
        let (first_line, received) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = first_line.send(stdout.lines().next().map(Result::unwrap));
        });
        let line = received
            .recv_timeout(Duration::from_secs(30))
            .expect("the demo printed a line within 30 s")
            .expect("the demo printed a line");
        let made = line
            .strip_prefix("made new keys in ")
            .unwrap_or_else(|| panic!("the first line says where the keys are: {line}"));
        assert_eq!(std::path::Path::new(&made), expected);
        assert_eq!(support::mode(&expected), 0o600);
        assert_eq!(support::mode(expected.parent().unwrap()), 0o700);
        let beside: Vec<_> = std::fs::read_dir(dir.join(""))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.contains("key"))
            .collect();
        assert!(beside.is_empty(), "keys beside the database: {beside:?}");
        drop(child);
    }
}

/// The setup's `Debug` shows where the app is served, never its keys.
#[test]
fn debug_of_the_setup_shows_no_key() {
    let keys = Keys::generate().unwrap();
    let sealing = data_encoding::HEXLOWER.encode(&keys.sealing);
    let setup = twofa_demo::Setup::new(keys, "http://127.0.0.1:3000", false);
    let printed = format!("{setup:?}");
    assert!(printed.contains("http://127.0.0.1:3000"), "{printed}");
    assert!(
        !printed.contains(&sealing) && !printed.contains("sealing"),
        "{printed}"
    );
    assert_eq!(format!("{:?}", setup.keys), "Keys { .. }");
}

/// A key file that exists but cannot be read is an error naming it, never a reason to make
/// new keys (which would orphan every sealed secret).
#[test]
fn an_unreadable_key_file_is_an_error_not_new_keys() {
    let dir = TempDir::new("twofa-demo-unreadable-key");
    let path = dir.join("keys");
    std::fs::create_dir(&path).unwrap();
    let error = Keys::load_or_create(&path)
        .expect_err("a directory is no key file")
        .to_string();
    assert!(error.contains(&path.display().to_string()), "{error}");
    assert!(path.is_dir(), "nothing was written over it");
}
