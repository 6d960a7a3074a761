//! The service on an async runtime: what a sign-in costs through `TwoFactor<MemoryStore>`
//! beside the bare `Totp::verify`, and its parts (reading the record, the flow, writing it); the longest single poll of each flow's future (how long
//! the flow can hold an executor thread); key derivations per recovery-code attempt under
//! 64-way contention; and the latency of `confirm_enrollment` with the default work factor.
//!
//! The machine this runs on is shared: the groups use short measurement times, and the
//! figures are printed (`eprintln!`) as well as measured, so one run gives all of them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // bench setup: fail loudly

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use twofa::account::Context as FlowContext;
use twofa::account::{
    DeviceKey, PasswordConfirmed, Reauthentication, Settings, ThrottlePolicy, TwoFactorRecord,
};
use twofa::recovery::CodeHasher;
use twofa::seal::AesGcmSealer;
use twofa::store::{MemoryStore, SaveOutcome, Store, ThreadPool, TwoFactor, Versioned};
use twofa::{Error, Pbkdf2Hasher, Totp};

const USER: &str = "user-42";
const T0: u64 = 1_700_000_000;

/// Runs a future to completion with a waker that does nothing, for futures that never wait
/// (a sign-in through `MemoryStore` runs no job elsewhere).
fn block_on_ready<F: Future>(future: F) -> F::Output {
    let waker = std::task::Waker::noop();
    let mut cx = Context::from_waker(waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
        std::thread::yield_now();
    }
}

/// Wraps a future and keeps the longest time one `poll` took: on the wall clock, and on the
/// CPU (the time the thread actually ran). On a shared machine a poll can be preempted; its
/// CPU time says how long it held the thread.
struct PollTimer<F> {
    inner: Pin<Box<F>>,
    longest: Longest,
}

/// The longest poll of a future, on the wall clock and on the CPU, and how many polls.
#[derive(Debug, Clone, Copy, Default)]
struct Longest {
    wall: Duration,
    cpu: Option<Duration>,
    polls: u32,
}

impl<F: Future> Future for PollTimer<F> {
    type Output = (F::Output, Longest);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let cpu_before = thread_cpu_time();
        let start = Instant::now();
        let polled = self.inner.as_mut().poll(cx);
        let took = start.elapsed();
        let cpu = thread_cpu_time()
            .zip(cpu_before)
            .map(|(after, before)| after.saturating_sub(before));
        let longest = &mut self.longest;
        longest.wall = longest.wall.max(took);
        longest.cpu = cpu.map(|cpu| longest.cpu.map_or(cpu, |so_far| so_far.max(cpu)));
        longest.polls += 1;
        match polled {
            Poll::Ready(value) => Poll::Ready((value, self.longest)),
            Poll::Pending => Poll::Pending,
        }
    }
}

fn timed<F: Future>(future: F) -> PollTimer<F> {
    PollTimer {
        inner: Box::pin(future),
        longest: Longest::default(),
    }
}

/// The CPU time this thread has run so far, where the system tells it.
fn thread_cpu_time() -> Option<Duration> {
    cpu_time::ThreadTime::try_now()
        .ok()
        .map(|time| time.as_duration())
}

/// Counts derivations, around the default hasher.
#[derive(Debug)]
struct Counting {
    inner: Pbkdf2Hasher,
    count: AtomicUsize,
}

impl CodeHasher for Counting {
    fn algorithm(&self) -> &str {
        self.inner.algorithm()
    }
    fn parameters(&self) -> String {
        self.inner.parameters()
    }
    fn hash(&self, code: &[u8], salt: &[u8], parameters: &str) -> Result<Vec<u8>, Error> {
        self.count.fetch_add(1, Ordering::SeqCst);
        self.inner.hash(code, salt, parameters)
    }
}

/// A store that yields before each call, so that concurrent flows interleave between their
/// load and their save as they would against a database.
#[derive(Debug, Default)]
struct YieldingStore(MemoryStore);

impl Store for YieldingStore {
    type Error = Error;

    async fn load(&self, user_id: &str) -> Result<Option<Versioned>, Error> {
        tokio::task::yield_now().await;
        self.0.load(user_id).await
    }

    async fn save(
        &self,
        user_id: &str,
        record: &TwoFactorRecord,
        expected: Option<u64>,
    ) -> Result<SaveOutcome, Error> {
        tokio::task::yield_now().await;
        self.0.save(user_id, record, expected).await
    }

    async fn delete(&self, user_id: &str) -> Result<bool, Error> {
        tokio::task::yield_now().await;
        self.0.delete(user_id).await
    }
}

fn settings() -> Settings {
    Settings::new("Example")
        .unwrap()
        .device_key(DeviceKey::from_bytes(&[5; 32]).unwrap())
        .throttle(
            ThrottlePolicy::default()
                .free_attempts(100)
                .lockout_after(100)
                .unwrap(),
        )
}

fn service<S: Store>(store: S, hasher: Arc<dyn CodeHasher>, clock: Arc<AtomicU64>) -> TwoFactor<S> {
    TwoFactor::new(
        store,
        settings(),
        Arc::new(AesGcmSealer::new("k1", &[3; 32]).unwrap()),
        hasher,
    )
    .with_clock(Arc::new(move || clock.load(Ordering::SeqCst)))
    .with_max_retries(1024)
}

fn password(user: &str, now: u64) -> PasswordConfirmed {
    let check = |_: &str, password: &str| password == "correct horse";
    PasswordConfirmed::check(&check, user, "correct horse", now).unwrap()
}

/// Starts an enrolment for `user` and returns the user's app.
async fn start<S: Store>(tf: &TwoFactor<S>, user: &str, now: u64) -> Totp
where
    S::Error: std::fmt::Debug,
{
    let enrollment = tf
        .start_enrollment(user, Some(&password(user, now)), "alice@example.com")
        .await
        .unwrap()
        .result
        .unwrap();
    enrollment.uri().to_totp().unwrap()
}

/// Sign-in through the service beside the bare verify, in one run. Each iteration moves the
/// clock on, so that every code is fresh (no replay).
fn sign_in(c: &mut Criterion) {
    let clock = Arc::new(AtomicU64::new(T0));
    let hasher: Arc<dyn CodeHasher> = Arc::new(Pbkdf2Hasher::new());
    let tf = service(MemoryStore::new(), hasher, clock.clone());
    let app = block_on_ready(async {
        let app = start(&tf, USER, T0).await;
        let code = app.generate(T0).to_string();
        tf.confirm_enrollment(USER, &code)
            .await
            .unwrap()
            .result
            .unwrap();
        app
    });
    let bare = app.clone();
    let stored = block_on_ready(tf.store().load(USER))
        .unwrap()
        .unwrap()
        .record;
    let bytes = stored.to_bytes();

    let mut group = c.benchmark_group("service/sign-in");
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_secs(1));
    let mut bare_time = T0;
    group.bench_function("bare-totp-verify", |b| {
        b.iter_batched(
            || {
                bare_time += 30;
                (bare_time, bare.generate(bare_time).to_string())
            },
            |(now, code)| bare.verify(black_box(&code), now).unwrap(),
            BatchSize::SmallInput,
        )
    });
    // The parts of a sign-in: reading the stored record, the flow on it, writing it back.
    group.bench_function("part/record-from-bytes", |b| {
        b.iter(|| TwoFactorRecord::from_bytes(black_box(&bytes)).unwrap())
    });
    let mut buffer = Vec::new();
    group.bench_function("part/record-write-bytes", |b| {
        b.iter(|| black_box(&stored).write_bytes(&mut buffer))
    });
    let sealer = AesGcmSealer::new("k1", &[3; 32]).unwrap();
    let flow_hasher = Pbkdf2Hasher::new();
    let flow_settings = settings();
    let ctx = FlowContext::new(USER, &flow_settings, &sealer, &flow_hasher).unwrap();
    let mut flow_time = T0;
    group.bench_function("part/verify-code-flow", |b| {
        b.iter_batched(
            || {
                flow_time += 90;
                (
                    stored.clone(),
                    flow_time,
                    app.generate(flow_time).to_string(),
                )
            },
            |(record, now, code)| {
                let transition = record.verify_code(&ctx, black_box(&code), now);
                assert!(transition.changed());
                transition
            },
            BatchSize::SmallInput,
        )
    });
    let mut service_time = T0;
    group.bench_function("two-factor-memory-store", |b| {
        b.iter_batched(
            || {
                // Three steps on: a code that happens to equal the next step's (one in a
                // million) records that step, and must not make the next code a replay.
                service_time += 90;
                (service_time, app.generate(service_time).to_string())
            },
            |(now, code)| {
                clock.store(now, Ordering::SeqCst);
                let outcome = block_on_ready(tf.verify_code(USER, black_box(&code))).unwrap();
                if let Err(error) = &outcome.result {
                    panic!("sign-in at {now} failed: {error:?}");
                }
                outcome
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// The longest single poll of each flow's future, on a current-thread runtime, with the
/// default work factor. Criterion reports the mean, over iterations, of the longest poll.
fn longest_poll(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let clock = Arc::new(AtomicU64::new(T0));
    let hasher: Arc<dyn CodeHasher> = Arc::new(Pbkdf2Hasher::new());
    let tf = service(MemoryStore::new(), hasher, clock.clone());
    let users = AtomicU64::new(0);
    let clock_ref: &AtomicU64 = &clock;

    let mut group = c.benchmark_group("service/longest-poll");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(2));
    group.warm_up_time(Duration::from_millis(200));

    // Sets up an enabled user (untimed) and returns its id, app and recovery codes.
    let enabled = |now: u64| {
        runtime.block_on(async {
            let user = format!("user-{}", users.fetch_add(1, Ordering::SeqCst));
            let app = start(&tf, &user, now).await;
            let codes = tf
                .confirm_enrollment(&user, &app.generate(now).to_string())
                .await
                .unwrap()
                .result
                .unwrap();
            (user, app, codes.iter().next().unwrap().to_owned())
        })
    };
    let mut report = Vec::new();
    let mut record = |name: &str, mut walls: Vec<Duration>, cpu: Option<Duration>, polls: u32| {
        if walls.is_empty() {
            // Left out by a filter on the command line.
            return;
        }
        walls.sort();
        let worst = walls.last().copied().unwrap_or_default();
        let p99 = walls[(walls.len() * 99 / 100).min(walls.len() - 1)];
        report.push(format!(
            "{name}: longest poll over {} runs: worst {worst:?} wall, 99th percentile {p99:?} \
             wall, worst on the CPU {cpu:?} ({polls} polls a run)",
            walls.len()
        ));
    };

    macro_rules! flow {
        ($name:literal, $setup:expr, |$tf:ident, $input:pat_param| $body:expr) => {{
            let mut walls = Vec::new();
            let mut worst_cpu: Option<Duration> = None;
            let mut polls = 0;
            group.bench_function($name, |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let $input = $setup;
                        let $tf = &tf;
                        let (outcome, longest) = runtime.block_on(timed($body));
                        assert!(outcome.unwrap().result.is_ok(), $name);
                        walls.push(longest.wall);
                        worst_cpu = longest.cpu.max(worst_cpu);
                        polls = longest.polls;
                        total += longest.wall;
                    }
                    total
                })
            });
            record($name, walls, worst_cpu, polls);
        }};
    }

    flow!(
        "start_enrollment",
        // A thousand users, each restarting enrolment: hundreds of thousands of new users
        // would measure the in-memory store's map growing (a rehash of every row now and
        // then), not the flow.
        format!("restarting-{}", users.fetch_add(1, Ordering::SeqCst) % 1000),
        |tf, user| async move {
            tf.start_enrollment(&user, Some(&password(&user, T0)), "a@example.com")
                .await
        }
    );
    flow!(
        "confirm_enrollment",
        runtime.block_on(async {
            let user = format!("user-{}", users.fetch_add(1, Ordering::SeqCst));
            let app = start(&tf, &user, T0).await;
            (user, app.generate(T0).to_string())
        }),
        |tf, (user, code)| async move { tf.confirm_enrollment(&user, &code).await }
    );
    flow!(
        "verify_code",
        {
            let (user, app, _) = enabled(T0);
            (user, app.generate(T0 + 30).to_string())
        },
        |tf, (user, code)| async move {
            clock_ref.store(T0 + 30, Ordering::SeqCst);
            let outcome = tf.verify_code(&user, &code).await;
            clock_ref.store(T0, Ordering::SeqCst);
            outcome
        }
    );
    flow!(
        "use_recovery_code",
        {
            let (user, _, code) = enabled(T0);
            (user, code)
        },
        |tf, (user, code)| async move { tf.use_recovery_code(&user, &code).await }
    );
    flow!(
        "regenerate_recovery_codes",
        enabled(T0).0,
        |tf, user| async move {
            let proof = Reauthentication::Password(password(&user, T0));
            tf.regenerate_recovery_codes(&user, proof).await
        }
    );
    flow!("disable", enabled(T0).0, |tf, user| async move {
        tf.disable(&user, Reauthentication::Password(password(&user, T0)))
            .await
    });
    // A control: a future that only allocates a little and is ready at once. Its worst poll
    // over as many runs shows what the machine alone adds (preemption, page faults).
    flow!("control-allocate-only", (), |_tf, _unit| async {
        let scratch = black_box(String::from("control"));
        drop(scratch);
        Ok::<_, twofa::store::ServiceError<Error>>(twofa::store::Outcome {
            result: Ok(()),
            events: Vec::new(),
        })
    });
    group.finish();
    for line in report {
        eprintln!("longest poll: {line}");
    }
}

/// 64 concurrent wrong recovery codes for one user on a two-worker runtime, through a store
/// that yields, so that compare-and-swap conflicts happen; counts derivations per attempt.
fn contention(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let clock = Arc::new(AtomicU64::new(T0));
    let counting = Arc::new(Counting {
        inner: Pbkdf2Hasher::new(),
        count: AtomicUsize::new(0),
    });
    let tf = Arc::new(service(
        YieldingStore::default(),
        counting.clone(),
        clock.clone(),
    ));
    runtime.block_on(async {
        let app = start(&tf, USER, T0).await;
        let code = app.generate(T0).to_string();
        tf.confirm_enrollment(USER, &code)
            .await
            .unwrap()
            .result
            .unwrap();
    });
    const ATTEMPTS: usize = 64;
    let round = || {
        runtime.block_on(async {
            let before = counting.count.load(Ordering::SeqCst);
            let tasks: Vec<_> = (0..ATTEMPTS)
                .map(|i| {
                    let tf = tf.clone();
                    tokio::spawn(async move {
                        let wrong = format!("ZZZZZ-{i:05}");
                        tf.use_recovery_code(USER, &wrong).await.unwrap()
                    })
                })
                .collect();
            for task in tasks {
                assert!(task.await.unwrap().result.is_err());
            }
            tf.unlock(USER).await.unwrap().result.unwrap();
            counting.count.load(Ordering::SeqCst) - before
        })
    };
    let mut derivations = 0;
    let mut rounds = 0;
    let mut group = c.benchmark_group("service/contention");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_millis(100));
    group.bench_function("64-wrong-recovery-codes", |b| {
        b.iter(|| {
            derivations += round();
            rounds += 1;
        })
    });
    group.finish();
    eprintln!(
        "contention: {:.2} derivations per recovery attempt ({derivations} in {rounds} rounds of {ATTEMPTS})",
        derivations as f64 / (rounds * ATTEMPTS) as f64
    );
}

/// The latency of `confirm_enrollment` with the default work factor (ten derivations): with
/// the default pool (one thread per core) beside a pool of one thread, which derives the ten
/// hashes in a row.
fn confirm_latency(c: &mut Criterion) {
    let mut group = c.benchmark_group("service/latency");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_millis(200));
    let cores = ThreadPool::new().max_threads();
    eprintln!("latency: the default pool has {cores} threads");
    for (name, threads) in [
        ("confirm_enrollment/default-pool", cores),
        ("confirm_enrollment/one-thread-pool", 1),
    ] {
        confirm_latency_with(&mut group, name, threads);
    }
    group.finish();
}

fn confirm_latency_with(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    threads: usize,
) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let clock = Arc::new(AtomicU64::new(T0));
    let hasher: Arc<dyn CodeHasher> = Arc::new(Pbkdf2Hasher::new());
    let tf = service(MemoryStore::new(), hasher, clock)
        .with_blocking_pool(Arc::new(ThreadPool::with_threads(threads)));
    let users = AtomicU64::new(0);
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let user = format!("user-{}", users.fetch_add(1, Ordering::SeqCst));
                let code = runtime.block_on(async { start(&tf, &user, T0).await.generate(T0) });
                let code = code.to_string();
                let started = Instant::now();
                let outcome = runtime
                    .block_on(tf.confirm_enrollment(&user, &code))
                    .unwrap();
                total += started.elapsed();
                assert!(outcome.result.is_ok());
            }
            total
        })
    });
}

criterion_group!(benches, sign_in, longest_poll, contention, confirm_latency);
criterion_main!(benches);
