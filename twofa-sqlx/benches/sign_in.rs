//! One sign-in (the success path of `verify_code`) through `TwoFactor`, beside the bare
//! round trip it needs (one load and one compare-and-swap save of the same record, no 2FA
//! work), for 1 user and for 64 users signing in at once, on SQLite (a file, WAL,
//! `synchronous = FULL`) and PostgreSQL (`TWOFA_TEST_POSTGRES_URL`, skipped without it).
//!
//! Sign-ins and round trips alternate within one run (which goes first swaps every time), so
//! both meet the same load; the figures are medians and their ratio, which holds up on a
//! shared, loaded machine where runs minutes apart do not. The databases' durability settings
//! are printed beside the figures.
//!
//! ```sh
//! eval "$(.ci/postgres start)"
//! cargo bench -p twofa-sqlx --bench sign_in
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use twofa::account::Settings;
use twofa::seal::AesGcmSealer;
use twofa::store::{SaveOutcome, Store, TwoFactor};
use twofa::{Pbkdf2Hasher, Totp};
use twofa_sqlx::{PostgresStore, SqliteStore};

const T0: u64 = 1_700_000_000;
/// Pairs measured with one user, and rounds with many.
const ONE_PAIRS: usize = 300;
const MANY_ROUNDS: usize = 40;
const MANY: usize = 64;

/// A service whose clock the bench moves one TOTP step per round, so each code is fresh.
struct Bench<S: Store> {
    tf: Arc<TwoFactor<S>>,
    clock: Arc<AtomicU64>,
    apps: Vec<Totp>,
    users: Vec<String>,
}

async fn setup<S: Store + 'static>(store: S, tag: &str) -> Bench<S>
where
    S::Error: std::fmt::Debug,
{
    let clock = Arc::new(AtomicU64::new(T0));
    let now = Arc::clone(&clock);
    let tf = TwoFactor::new(
        store,
        Settings::new("bench")
            .unwrap()
            .allow_enrollment_without_reauthentication(),
        Arc::new(AesGcmSealer::new("k", &[5; 32]).unwrap()),
        Arc::new(Pbkdf2Hasher::new()),
    )
    .with_clock(Arc::new(move || now.load(Ordering::Relaxed)));
    let mut apps = Vec::new();
    let mut users = Vec::new();
    for i in 0..MANY {
        let user = format!("bench-{tag}-{}-{i}", std::process::id());
        let enrollment = tf
            .start_enrollment(&user, None, "b@example.com")
            .await
            .unwrap()
            .result
            .unwrap();
        let app = enrollment.uri().to_totp().unwrap();
        tf.confirm_enrollment(&user, &app.generate(T0).to_string())
            .await
            .unwrap()
            .result
            .unwrap();
        apps.push(app);
        users.push(user);
    }
    Bench {
        tf: Arc::new(tf),
        clock,
        apps,
        users,
    }
}

impl<S: Store + 'static> Bench<S>
where
    S::Error: std::fmt::Debug,
{
    /// Moves to the next step and returns each user's code for it.
    fn next_step(&self) -> Vec<String> {
        let t = self.clock.fetch_add(30, Ordering::Relaxed) + 30;
        self.apps
            .iter()
            .map(|a| a.generate(t).to_string())
            .collect()
    }

    async fn sign_in(&self, user: usize, code: &str) {
        let outcome = self.tf.verify_code(&self.users[user], code).await.unwrap();
        assert!(outcome.result.is_ok());
    }

    async fn round_trip(&self, user: usize) {
        let store = self.tf.store();
        let loaded = store.load(&self.users[user]).await.unwrap().unwrap();
        let saved = store
            .save(&self.users[user], &loaded.record, Some(loaded.version))
            .await
            .unwrap();
        assert_eq!(saved, SaveOutcome::Saved);
    }

    /// `users` tasks at once, each signing in (or making its round trip): the time for all.
    async fn round(self: &Arc<Self>, users: usize, sign_in: bool, codes: &[String]) -> Duration {
        let start = Instant::now();
        let tasks: Vec<_> = (0..users)
            .map(|u| {
                let (bench, code) = (Arc::clone(self), codes[u].clone());
                tokio::spawn(async move {
                    if sign_in {
                        bench.sign_in(u, &code).await;
                    } else {
                        bench.round_trip(u).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        start.elapsed()
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Sign-ins and round trips alternately, `users` at once, `rounds` of each.
async fn paired<S: Store + 'static>(bench: &Arc<Bench<S>>, name: &str, users: usize, rounds: usize)
where
    S::Error: std::fmt::Debug,
{
    let (mut sign_ins, mut trips) = (Vec::new(), Vec::new());
    for i in 0..rounds {
        let codes = bench.next_step();
        for sign_in in [i % 2 == 0, i % 2 == 1] {
            let took = bench.round(users, sign_in, &codes).await;
            if sign_in {
                sign_ins.push(took);
            } else {
                trips.push(took);
            }
        }
    }
    let (s, r) = (median(sign_ins), median(trips));
    let ratio = s.as_secs_f64() / r.as_secs_f64();
    if users == 1 {
        println!(
            "{name}, 1 user: sign-in {s:.2?}, bare round trip {r:.2?}: {ratio:.2}x \
             (medians of {rounds} pairs)"
        );
    } else {
        let per_s = |d: Duration| users as f64 / d.as_secs_f64();
        println!(
            "{name}, {users} users at once: {:.0} sign-ins/s, {:.0} bare round trips/s: \
             {ratio:.2}x (medians of {rounds} rounds each)",
            per_s(s),
            per_s(r)
        );
    }
}

async fn run<S: Store + 'static>(name: &str, bench: Bench<S>)
where
    S::Error: std::fmt::Debug,
{
    let bench = Arc::new(bench);
    // Warm up: connections open, statements prepared, caches filled.
    paired(&bench, &format!("{name} (warm-up)"), MANY, 3).await;
    paired(&bench, name, 1, ONE_PAIRS).await;
    paired(&bench, name, MANY, MANY_ROUNDS).await;
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "{cores} cores, load average {}",
        load.split(' ').next().unwrap_or("?")
    );
    let dir = std::env::temp_dir().join(format!("twofa-sqlx-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    rt.block_on(async {
        let store = SqliteStore::open(dir.join("bench.db")).await.unwrap();
        let settings: (String, i64, String) = sqlx::query_as(
            "SELECT (SELECT journal_mode FROM pragma_journal_mode), \
                    (SELECT synchronous FROM pragma_synchronous), sqlite_version()",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        println!(
            "SQLite {}: a file in {}, journal_mode={}, synchronous={} (2 = FULL)",
            settings.2,
            dir.display(),
            settings.0,
            settings.1
        );
        run("sqlite", setup(store, "s").await).await;

        let Ok(url) = std::env::var("TWOFA_TEST_POSTGRES_URL") else {
            eprintln!("skipping PostgreSQL: TWOFA_TEST_POSTGRES_URL is not set");
            return;
        };
        // Loopback: no TLS, as an application beside its database would connect.
        let separator = if url.contains('?') { '&' } else { '?' };
        let url = format!("{url}{separator}sslmode=disable");
        let store = PostgresStore::connect(&url).await.unwrap();
        let mut shown = Vec::new();
        for setting in [
            "server_version",
            "fsync",
            "synchronous_commit",
            "wal_sync_method",
            "shared_buffers",
        ] {
            let value: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SHOW {setting}")))
                .fetch_one(store.pool())
                .await
                .unwrap();
            shown.push(format!("{setting}={value}"));
        }
        println!(
            "PostgreSQL over loopback TCP, no TLS, pool of {} connections: {}",
            store.pool().options().get_max_connections(),
            shown.join(", ")
        );
        run("postgres", setup(store, "p").await).await;
    });
    let _ = std::fs::remove_dir_all(&dir);
}
