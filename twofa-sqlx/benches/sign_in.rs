//! One sign-in (the success path of `verify_code`) through `TwoFactor`, beside the bare
//! round trip it needs (one load and one compare-and-swap save of the same record, no 2FA
//! work), on SQLite (a file, `synchronous = FULL`) and PostgreSQL (`TWOFA_TEST_POSTGRES_URL`,
//! skipped without it); and the same with 16 users signing in at once. Before criterion's
//! groups, a paired run alternates sign-ins and round trips and prints the ratio of their
//! medians, which holds up on a shared, loaded machine where separate runs do not.
//!
//! ```sh
//! eval "$(.ci/postgres start)"
//! cargo bench -p twofa-sqlx --bench sign_in -- --warm-up-time 1 --measurement-time 3
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use twofa::account::Settings;
use twofa::seal::AesGcmSealer;
use twofa::store::{SaveOutcome, Store, TwoFactor};
use twofa::{Pbkdf2Hasher, Totp};
use twofa_sqlx::{PostgresStore, SqliteStore};

const USERS: usize = 16;
const T0: u64 = 1_700_000_000;

/// A service whose clock the bench moves one TOTP step per sign-in, so each code is fresh.
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
    for i in 0..USERS {
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

impl<S: Store + 'static> Bench<S> {
    /// The next step's time and each user's code for it.
    fn next_step(&self) -> (u64, Vec<String>) {
        let t = self.clock.load(Ordering::Relaxed) + 30;
        (
            t,
            self.apps
                .iter()
                .map(|a| a.generate(t).to_string())
                .collect(),
        )
    }

    async fn sign_in(&self, user: usize, code: &str) {
        let outcome = self.tf.verify_code(&self.users[user], code).await.unwrap();
        assert!(outcome.result.is_ok());
    }

    async fn round_trip(store: &S, user: &str) {
        let loaded = store.load(user).await.unwrap().unwrap();
        let saved = store
            .save(user, &loaded.record, Some(loaded.version))
            .await
            .unwrap();
        assert_eq!(saved, SaveOutcome::Saved);
    }
}

/// Sign-ins and bare round trips measured alternately, so that both meet the same load on
/// a shared machine; prints the medians and their ratio (the figure the goal is about).
fn paired<S: Store + 'static>(rt: &Runtime, name: &str, bench: &Arc<Bench<S>>)
where
    S::Error: std::fmt::Debug,
{
    const ONE: usize = 300;
    const ROUNDS: usize = 60;
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    rt.block_on(async {
        let (mut sign_ins, mut trips) = (Vec::new(), Vec::new());
        for i in 0..ONE {
            let (t, codes) = bench.next_step();
            bench.clock.store(t, Ordering::Relaxed);
            for which in [i % 2, 1 - i % 2] {
                let start = Instant::now();
                if which == 0 {
                    bench.sign_in(0, &codes[0]).await;
                    sign_ins.push(start.elapsed());
                } else {
                    Bench::round_trip(bench.tf.store(), &bench.users[0]).await;
                    trips.push(start.elapsed());
                }
            }
        }
        let (s, r) = (median(sign_ins), median(trips));
        println!(
            "{name}: one sign-in {s:.2?}, bare round trip {r:.2?}, ratio {:.2} \
             (paired medians of {ONE})",
            s.as_secs_f64() / r.as_secs_f64()
        );

        let (mut sign_ins, mut trips) = (Vec::new(), Vec::new());
        for i in 0..ROUNDS {
            let (t, codes) = bench.next_step();
            bench.clock.store(t, Ordering::Relaxed);
            for which in [i % 2, 1 - i % 2] {
                let start = Instant::now();
                let tasks: Vec<_> = (0..USERS)
                    .map(|u| {
                        let (bench, code) = (Arc::clone(bench), codes[u].clone());
                        tokio::spawn(async move {
                            if which == 0 {
                                bench.sign_in(u, &code).await;
                            } else {
                                Bench::round_trip(bench.tf.store(), &bench.users[u]).await;
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
                if which == 0 {
                    sign_ins.push(start.elapsed());
                } else {
                    trips.push(start.elapsed());
                }
            }
        }
        let (s, r) = (median(sign_ins), median(trips));
        println!(
            "{name}: {USERS} users at once: {:.0} sign-ins/s, {:.0} bare round trips/s, \
             ratio {:.2} (paired medians of {ROUNDS} rounds)",
            USERS as f64 / s.as_secs_f64(),
            USERS as f64 / r.as_secs_f64(),
            s.as_secs_f64() / r.as_secs_f64()
        );
    });
}

fn bench_store<S: Store + 'static>(c: &mut Criterion, rt: &Runtime, name: &str, bench: Bench<S>)
where
    S::Error: std::fmt::Debug,
{
    let bench = Arc::new(bench);
    paired(rt, name, &bench);
    let mut group = c.benchmark_group(format!("{name}/one"));
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    group.bench_function("sign-in (verify_code)", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (t, codes) = bench.next_step();
                    bench.clock.store(t, Ordering::Relaxed);
                    let start = Instant::now();
                    bench.sign_in(0, &codes[0]).await;
                    total += start.elapsed();
                }
                total
            })
        })
    });
    group.bench_function("bare round trip (load + CAS save)", |b| {
        b.iter(|| rt.block_on(Bench::round_trip(bench.tf.store(), &bench.users[0])))
    });
    group.finish();

    let mut group = c.benchmark_group(format!("{name}/16 users at once"));
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
        .throughput(Throughput::Elements(USERS as u64));
    group.bench_function("sign-ins", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (t, codes) = bench.next_step();
                    bench.clock.store(t, Ordering::Relaxed);
                    let start = Instant::now();
                    let tasks: Vec<_> = (0..USERS)
                        .map(|u| {
                            let (bench, code) = (Arc::clone(&bench), codes[u].clone());
                            tokio::spawn(async move { bench.sign_in(u, &code).await })
                        })
                        .collect();
                    for task in tasks {
                        task.await.unwrap();
                    }
                    total += start.elapsed();
                }
                total
            })
        })
    });
    group.bench_function("bare round trips", |b| {
        b.iter(|| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..USERS)
                    .map(|u| {
                        let bench = Arc::clone(&bench);
                        tokio::spawn(async move {
                            Bench::round_trip(bench.tf.store(), &bench.users[u]).await
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
            })
        })
    });
    group.finish();
}

fn sign_in(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("twofa-sqlx-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = rt.block_on(async {
        setup(SqliteStore::open(dir.join("bench.db")).await.unwrap(), "s").await
    });
    bench_store(c, &rt, "sqlite", sqlite);
    match std::env::var("TWOFA_TEST_POSTGRES_URL") {
        Ok(url) => {
            let postgres = rt.block_on(async {
                let store = PostgresStore::connect(&url).await.unwrap();
                setup(store, "p").await
            });
            bench_store(c, &rt, "postgres", postgres);
        }
        Err(_) => eprintln!("skipping PostgreSQL: TWOFA_TEST_POSTGRES_URL is not set"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, sign_in);
criterion_main!(benches);
