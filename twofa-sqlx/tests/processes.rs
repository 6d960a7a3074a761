//! The store's guarantees across OS processes, not only across tasks: this test binary
//! starts copies of itself (`TWOFA_SQLX_CHILD` set), each running several tasks against one
//! SQLite file, and separately one PostgreSQL database.
//!
//! - the same valid code from every task of every process: exactly one success;
//! - the same recovery code: exactly one success;
//! - many wrong codes: the stored failure count is the number of evaluated attempts, and the
//!   throttle stops evaluation at the same count across processes;
//! - a regeneration racing uses of old recovery codes: afterwards no old code works, a new
//!   one does;
//! - crash safety: processes killed with SIGKILL in the middle of flows, round after round;
//!   every record still decodes and is exactly one that some flow saved, at the version it
//!   saved it under (or the state before).
//!
//! A custom `main` (harness = false), so a child runs its part and nothing else.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use sqlx::postgres::PgPoolOptions;
use twofa::Error as TwofaError;
use twofa::account::{
    PasswordConfirmed, Reauthentication, Settings, ThrottlePolicy, TwoFactorRecord,
};
use twofa::store::{SaveOutcome, Store, Versioned};
use twofa::{RecoveryError, Totp};
use twofa_sqlx::{PostgresStore, SqliteStore, TableName};

/// Processes per scenario, and tasks per process.
const PROCESSES: usize = 4;
const TASKS: usize = 4;
/// Kill-9 rounds per database.
const CRASH_ROUNDS: u64 = 8;

fn main() {
    if let Ok(scenario) = std::env::var("TWOFA_SQLX_CHILD") {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(child(&scenario));
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut databases = vec![("sqlite", Db::Sqlite(temp_dir().join("shared.db")))];
    if let Some(url) = postgres_url() {
        databases.push((
            "postgres",
            Db::Postgres {
                url,
                table: unique_name("twofa_proc"),
            },
        ));
    }
    // `cargo test --test processes -- NAME` runs the scenarios whose name contains NAME.
    let filter = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_default();
    let started = Instant::now();
    let mut count = 0;
    for (name, db) in &databases {
        runtime.block_on(db.migrate());
        for (test, run) in SCENARIOS {
            if !format!("{name}::{test}").contains(&filter) {
                continue;
            }
            let t = Instant::now();
            runtime.block_on(run(db));
            count += 1;
            println!("test {name}::{test} ... ok ({:.1?})", t.elapsed());
        }
    }
    println!(
        "\ntest result: ok. {count} passed; 0 failed; finished in {:.1?}",
        started.elapsed()
    );
}

type Scenario = fn(&Db) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>>;

const SCENARIOS: &[(&str, Scenario)] = &[
    ("the_same_code_from_every_process_signs_in_once", |db| {
        Box::pin(same_code(db))
    }),
    (
        "the_same_recovery_code_from_every_process_works_once",
        |db| Box::pin(same_recovery_code(db)),
    ),
    (
        "wrong_codes_from_every_process_are_all_counted_and_throttled",
        |db| Box::pin(wrong_codes(db)),
    ),
    (
        "a_regeneration_racing_old_recovery_codes_leaves_none_working",
        |db| Box::pin(regeneration_race(db)),
    ),
    ("records_survive_processes_killed_mid_flow", |db| {
        Box::pin(crash_safety(db))
    }),
];

// ---------------------------------------------------------------------------------------
// The database every process opens.

#[derive(Debug, Clone)]
enum Db {
    Sqlite(PathBuf),
    Postgres { url: String, table: String },
}

impl Db {
    fn to_env(&self) -> String {
        match self {
            Db::Sqlite(path) => format!("sqlite\t{}", path.display()),
            Db::Postgres { url, table } => format!("postgres\t{url}\t{table}"),
        }
    }

    fn from_env() -> Db {
        let text = std::env::var("TWOFA_SQLX_DB").unwrap();
        let parts: Vec<&str> = text.split('\t').collect();
        match parts[..] {
            ["sqlite", path] => Db::Sqlite(path.into()),
            ["postgres", url, table] => Db::Postgres {
                url: url.into(),
                table: table.into(),
            },
            _ => panic!("bad TWOFA_SQLX_DB {text:?}"),
        }
    }

    async fn open(&self) -> AnyStore {
        match self {
            Db::Sqlite(path) => AnyStore::Sqlite(SqliteStore::open(path).await.unwrap()),
            Db::Postgres { url, table } => {
                let pool = PgPoolOptions::new()
                    .max_connections(4)
                    .connect(url)
                    .await
                    .unwrap();
                let store = PostgresStore::builder_with_pool(pool)
                    .table_name(TableName::new(table).unwrap())
                    .connect()
                    .await
                    .unwrap();
                AnyStore::Postgres(store)
            }
        }
    }

    async fn migrate(&self) {
        match self.open().await {
            AnyStore::Sqlite(s) => s.migrate().await.unwrap(),
            AnyStore::Postgres(s) => s.migrate().await.unwrap(),
        }
    }
}

/// Either store, so that one scenario runs on both.
#[derive(Debug, Clone)]
enum AnyStore {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Store for AnyStore {
    type Error = twofa_sqlx::Error;

    async fn load(&self, user_id: &str) -> Result<Option<Versioned>, Self::Error> {
        match self {
            AnyStore::Sqlite(s) => s.load(user_id).await,
            AnyStore::Postgres(s) => s.load(user_id).await,
        }
    }

    async fn save(
        &self,
        user_id: &str,
        record: &TwoFactorRecord,
        expected_version: Option<u64>,
    ) -> Result<SaveOutcome, Self::Error> {
        match self {
            AnyStore::Sqlite(s) => s.save(user_id, record, expected_version).await,
            AnyStore::Postgres(s) => s.save(user_id, record, expected_version).await,
        }
    }

    async fn delete(&self, user_id: &str) -> Result<bool, Self::Error> {
        match self {
            AnyStore::Sqlite(s) => s.delete(user_id).await,
            AnyStore::Postgres(s) => s.delete(user_id).await,
        }
    }
}

/// Settings whose throttle never stands in the way of a race scenario (the failures that
/// losing racers cause must not lock the winner out).
fn lenient() -> Settings {
    let policy = ThrottlePolicy::default()
        .free_attempts(1000)
        .lockout_after(ThrottlePolicy::MAX_LOCKOUT_AFTER)
        .unwrap();
    // Recovery codes have a throttle of their own.
    settings().throttle(policy).recovery_code_throttle(policy)
}

fn reauth(user: &str, now: u64) -> Reauthentication<'static> {
    Reauthentication::Password(
        PasswordConfirmed::check(&|_: &str, _: &str| true, user, "pw", now).unwrap(),
    )
}

// ---------------------------------------------------------------------------------------
// Parent side.

/// Starts `PROCESSES` children running `scenario`, each with `TWOFA_SQLX_ARG=arg(i)`.
fn spawn(db: &Db, scenario: &str, arg: impl Fn(usize) -> String) -> Vec<Child> {
    let exe = std::env::current_exe().unwrap();
    (0..PROCESSES)
        .map(|i| {
            Command::new(&exe)
                .env("TWOFA_SQLX_CHILD", scenario)
                .env("TWOFA_SQLX_DB", db.to_env())
                .env("TWOFA_SQLX_ARG", arg(i))
                .env("TWOFA_SQLX_INDEX", i.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap()
        })
        .collect()
}

/// Waits for the children and returns the `RESULT` line of each.
fn results(children: Vec<Child>) -> Vec<String> {
    children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "a child failed: {:?}", out.status);
            let stdout = String::from_utf8(out.stdout).unwrap();
            stdout
                .lines()
                .find_map(|l| l.strip_prefix("RESULT "))
                .unwrap_or_else(|| panic!("no RESULT line in {stdout:?}"))
                .to_owned()
        })
        .collect()
}

/// The value of `key=` in a `RESULT` line.
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key} in {line:?}"))
}

fn sum(lines: &[String], key: &str) -> u64 {
    lines
        .iter()
        .map(|l| field(l, key).parse::<u64>().unwrap())
        .sum()
}

/// A fresh user with 2FA on, in `db`.
async fn enabled_user(db: &Db) -> (String, Totp, Vec<String>) {
    let user = unique_name("user");
    let (app, codes) = enable(db.open().await, &user).await;
    (user, app, codes)
}

async fn same_code(db: &Db) {
    let (user, app, _) = enabled_user(db).await;
    let code = app.generate(T0 + 30).to_string();
    let lines = results(spawn(db, "code", |_| format!("{user}\t{code}")));
    assert_eq!(sum(&lines, "ok"), 1, "{lines:?}");
    assert_eq!(sum(&lines, "refused"), (PROCESSES * TASKS - 1) as u64);
}

async fn same_recovery_code(db: &Db) {
    let (user, _, codes) = enabled_user(db).await;
    let lines = results(spawn(db, "recovery", |_| format!("{user}\t{}", codes[0])));
    assert_eq!(sum(&lines, "ok"), 1, "{lines:?}");
    let record = service(db.open().await, T0)
        .record(&user)
        .await
        .unwrap()
        .expect("enabled user has a record");
    assert_eq!(record.recovery_codes_left(), Some(codes.len() - 1));
}

async fn wrong_codes(db: &Db) {
    let (user, app, _) = enabled_user(db).await;
    let wrong = wrong_code(&app, T0 + 30);
    let lines = results(spawn(db, "wrong", |_| format!("{user}\t{wrong}")));
    let evaluated = sum(&lines, "evaluated");
    let throttled = sum(&lines, "throttled");
    assert_eq!(evaluated + throttled, (PROCESSES * TASKS * 5) as u64);
    let record = service(db.open().await, T0)
        .record(&user)
        .await
        .unwrap()
        .expect("enabled user has a record");
    // Every evaluated guess was stored: no lost update across processes.
    assert_eq!(u64::from(record.failures()), evaluated, "{lines:?}");
    // And the throttle held across processes: at one instant, only the free attempts.
    let free = (0..)
        .take_while(|&n| throttle(&settings()).delay_after(n) == 0)
        .count() as u64;
    assert_eq!(evaluated, free, "{lines:?}");
}

async fn regeneration_race(db: &Db) {
    let (user, _, old) = enabled_user(db).await;
    let lines = results(spawn(db, "regenerate", |_| {
        format!("{user}\t{}", old.join(","))
    }));
    let new: Vec<&str> = lines
        .iter()
        .find_map(|l| l.split(' ').find_map(|kv| kv.strip_prefix("new=")))
        .expect("the regenerating child reports the new codes")
        .split(',')
        .collect();
    assert_eq!(new.len(), old.len());
    let tf = service_with(db.open().await, T0 + 60, lenient());
    for code in &old {
        let result = tf.use_recovery_code(&user, code).await.unwrap().result;
        assert!(
            matches!(
                result,
                Err(TwofaError::Recovery(RecoveryError::InvalidCode))
            ),
            "an old code still answers {result:?}"
        );
    }
    assert!(
        tf.use_recovery_code(&user, new[3])
            .await
            .unwrap()
            .result
            .is_ok()
    );
}

/// A code that is wrong at `now` and the steps around it.
fn wrong_code(app: &Totp, now: u64) -> String {
    let near: HashSet<String> = [now - 30, now, now + 30]
        .iter()
        .map(|&t| app.generate(t).to_string())
        .collect();
    (0..10u32)
        .map(|d| format!("{d}{d}{d}{d}{d}{d}"))
        .find(|c| !near.contains(c))
        .unwrap()
}

/// Kill-9 rounds: children run flows on two shared users in a loop, logging each save they
/// are about to make; the parent kills them at a varying moment and checks every record.
async fn crash_safety(db: &Db) {
    let store = db.open().await;
    let users: Vec<String> = (0..2).map(|_| unique_name("crash")).collect();
    let mut secrets = Vec::new();
    for user in &users {
        let tf = service_with(store.clone(), T0, lenient());
        let enrollment = tf
            .start_enrollment(user, None, "c@example.com")
            .await
            .unwrap()
            .result
            .unwrap();
        let app = enrollment.uri().to_totp().unwrap();
        let _ = tf
            .confirm_enrollment(user, &app.generate(T0).to_string())
            .await
            .unwrap()
            .result
            .unwrap();
        secrets.push(app);
    }
    let logs = temp_dir();
    let mut saves_logged = 0;
    for round in 0..CRASH_ROUNDS {
        let mut before = Vec::new();
        for user in &users {
            before.push(store.load(user).await.unwrap().unwrap());
        }
        let log_dir = logs.join(format!("round-{round}"));
        std::fs::create_dir_all(&log_dir).unwrap();
        let mut children = spawn(db, "crash", |i| {
            format!(
                "{}\t{}",
                users.join(","),
                log_dir.join(i.to_string()).display()
            )
        });
        // Vary the moment of the kill over the rounds: 150 to 500 ms after the start.
        tokio::time::sleep(Duration::from_millis(150 + (round * 53) % 350)).await;
        for child in &mut children {
            child.kill().unwrap(); // SIGKILL
        }
        for mut child in children {
            let _ = child.wait();
        }
        let logged = read_logs(&log_dir);
        saves_logged += logged.len();
        for (user, before) in users.iter().zip(&before) {
            let now = store
                .load(user)
                .await
                .unwrap_or_else(|e| panic!("round {round}: the record no longer loads: {e}"))
                .unwrap();
            let text = now.record.encode();
            let is_before = now.version == before.version && now.record == before.record;
            let is_a_save = logged.contains(&(user.clone(), now.version, text));
            assert!(
                is_before || is_a_save,
                "round {round}: {user} holds version {} that no flow saved",
                now.version
            );
        }
    }
    assert!(
        saves_logged > 50,
        "the children barely ran ({saves_logged} saves)"
    );
}

/// Every complete `user \t version \t record` line the children logged.
fn read_logs(dir: &Path) -> HashSet<(String, u64, String)> {
    let mut all = HashSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
            let mut parts = line.trim_end().split('\t');
            if let (Some(user), Some(version), Some(record)) =
                (parts.next(), parts.next(), parts.next())
            {
                all.insert((user.into(), version.parse().unwrap(), record.into()));
            }
        }
    }
    all
}

// ---------------------------------------------------------------------------------------
// Child side: run TASKS tasks, print one `RESULT` line.

async fn child(scenario: &str) {
    let db = Db::from_env();
    let arg = std::env::var("TWOFA_SQLX_ARG").unwrap();
    let index: usize = std::env::var("TWOFA_SQLX_INDEX").unwrap().parse().unwrap();
    let store = db.open().await;
    let args: Vec<String> = arg.split('\t').map(str::to_owned).collect();
    let result = match scenario {
        "code" | "recovery" => {
            let tf = Arc::new(service(store, T0 + 30));
            let outcomes = run_tasks(TASKS, |_| {
                let (tf, user, code) = (tf.clone(), args[0].clone(), args[1].clone());
                let totp = scenario == "code";
                async move {
                    let outcome = if totp {
                        tf.verify_code(&user, &code).await
                    } else {
                        tf.use_recovery_code(&user, &code).await
                    };
                    outcome.unwrap().result.is_ok()
                }
            })
            .await;
            let ok = outcomes.iter().filter(|&&ok| ok).count();
            format!("ok={ok} refused={}", outcomes.len() - ok)
        }
        "wrong" => {
            let tf = Arc::new(service(store, T0 + 30));
            let outcomes = run_tasks(TASKS, |_| {
                let (tf, user, code) = (tf.clone(), args[0].clone(), args[1].clone());
                async move {
                    let (mut evaluated, mut throttled) = (0, 0);
                    for _ in 0..5 {
                        match tf.verify_code(&user, &code).await.unwrap().result {
                            Err(TwofaError::InvalidCode) => evaluated += 1,
                            Err(TwofaError::Throttled { .. }) => throttled += 1,
                            other => panic!("unexpected {other:?}"),
                        }
                    }
                    (evaluated, throttled)
                }
            })
            .await;
            let evaluated: u32 = outcomes.iter().map(|o| o.0).sum();
            let throttled: u32 = outcomes.iter().map(|o| o.1).sum();
            format!("evaluated={evaluated} throttled={throttled}")
        }
        "regenerate" => {
            let tf = Arc::new(service_with(store, T0 + 60, lenient()));
            let old: Vec<String> = args[1].split(',').map(str::to_owned).collect();
            let outcomes = run_tasks(TASKS, |task| {
                let (tf, user, old) = (tf.clone(), args[0].clone(), old.clone());
                async move {
                    if index == 0 && task == 0 {
                        // Let the others get going, then replace the set.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        let codes = tf
                            .regenerate_recovery_codes(&user, reauth(&user, T0 + 60))
                            .await
                            .unwrap()
                            .result
                            .unwrap();
                        let codes: Vec<String> = codes.iter().map(str::to_owned).collect();
                        return format!("new={}", codes.join(","));
                    }
                    // Every other task keeps using old codes, spread over the set.
                    let mut used = 0;
                    for k in 0..6 {
                        let code = &old[(index * TASKS + task + k * 7) % old.len()];
                        if tf
                            .use_recovery_code(&user, code)
                            .await
                            .unwrap()
                            .result
                            .is_ok()
                        {
                            used += 1;
                        }
                    }
                    format!("used{index}_{task}={used}")
                }
            })
            .await;
            outcomes.join(" ")
        }
        "crash" => {
            let users: Vec<String> = args[0].split(',').map(str::to_owned).collect();
            let log = Arc::new(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&args[1])
                    .unwrap(),
            ));
            let store = LoggingStore { inner: store, log };
            let tf = Arc::new(service_with(store, T0 + 60, lenient()));
            run_tasks(TASKS, |task| {
                let (tf, user) = (tf.clone(), users[task % users.len()].clone());
                async move {
                    // Until killed; bounded so a parent that fails to kill does not hang.
                    for i in 0u64..1_000_000 {
                        let _ = tf.verify_code(&user, "000000").await;
                        let _ = tf.use_recovery_code(&user, "AAAAA-AAAAA").await;
                        let record = tf.record(&user).await.unwrap().unwrap_or_default();
                        if record.is_locked_out(tf.settings().throttle_policy(), T0 + 60) {
                            let _ = tf.unlock(&user).await;
                        }
                        if i % 3 == 0 {
                            let _ = tf
                                .regenerate_recovery_codes(&user, reauth(&user, T0 + 60))
                                .await;
                        }
                    }
                }
            })
            .await;
            String::new()
        }
        other => panic!("unknown scenario {other}"),
    };
    println!("RESULT {result}");
}

/// Runs `n` tasks made by `task(i)` and collects their outputs.
async fn run_tasks<F, T>(n: usize, task: impl Fn(usize) -> F) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = (0..n).map(|i| tokio::spawn(task(i))).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

/// A store that writes down each save it is about to make (user, the version it would
/// create, the record) before making it, so the parent can tell a saved state from a torn
/// one after a kill.
struct LoggingStore {
    inner: AnyStore,
    log: Arc<Mutex<std::fs::File>>,
}

impl Store for LoggingStore {
    type Error = twofa_sqlx::Error;

    async fn load(&self, user_id: &str) -> Result<Option<Versioned>, Self::Error> {
        self.inner.load(user_id).await
    }

    async fn save(
        &self,
        user_id: &str,
        record: &TwoFactorRecord,
        expected_version: Option<u64>,
    ) -> Result<SaveOutcome, Self::Error> {
        let line = format!(
            "{user_id}\t{}\t{}\n",
            expected_version.map_or(1, |v| v + 1),
            record.encode()
        );
        // One write call per line, before the save: a line cut short by the kill belongs to
        // a save that never started.
        self.log.lock().unwrap().write_all(line.as_bytes()).unwrap();
        self.inner.save(user_id, record, expected_version).await
    }

    async fn delete(&self, user_id: &str) -> Result<bool, Self::Error> {
        self.inner.delete(user_id).await
    }
}
