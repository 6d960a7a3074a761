//! The default [`BlockingPool`]: a few reused threads and a bounded queue, with the standard
//! library only.

use std::collections::VecDeque;
use std::fmt;
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use super::blocking::{BlockingJob, BlockingPool, PoolBusy};

/// The default [`BlockingPool`]: at most one thread per core (or
/// [`with_threads`](ThreadPool::with_threads)), started as jobs arrive and then kept for the
/// next ones; jobs beyond that wait in a queue, in the order they came, up to a bound
/// ([`with_max_queued`](ThreadPool::with_max_queued), by default
/// [`DEFAULT_MAX_QUEUED`](ThreadPool::DEFAULT_MAX_QUEUED)); beyond it a job is refused
/// ([`PoolBusy`]) and its flow fails at once with [`ServiceError::Busy`], writing nothing.
///
/// Key derivation is CPU work, so more threads than cores would only share the cores: the
/// ten derivations of a new set run as many at a time as there are cores, and a flood of
/// recovery-code attempts queues instead of starting a thread each — and, past the bound, is
/// told to try again in a moment rather than filling memory with jobs that would run seconds
/// late. A job that panics fails only the flow that waits for it
/// ([`ServiceError::BlockingPoolFailed`]); the thread goes on with the next job. When the pool
/// is dropped, its threads finish the jobs already queued and end.
///
/// Each [`TwoFactor`] service makes its own pool; services that should share one take it
/// through [`with_blocking_pool`]:
///
/// ```
/// # #[cfg(feature = "aes-gcm")] {
/// use std::sync::Arc;
/// use twofa::account::Settings;
/// use twofa::recovery::Pbkdf2Hasher;
/// use twofa::seal::AesGcmSealer;
/// use twofa::store::{BlockingPool, MemoryStore, ThreadPool, TwoFactor};
///
/// let shared: Arc<dyn BlockingPool> = Arc::new(ThreadPool::with_threads(4).with_max_queued(256));
/// let sealer = Arc::new(AesGcmSealer::new("k1", &[7; 32])?);
/// let hasher = Arc::new(Pbkdf2Hasher::new());
/// let staff = TwoFactor::new(
///     MemoryStore::new(),
///     Settings::new("Example Staff")?,
///     sealer.clone(),
///     hasher.clone(),
/// )
/// .with_blocking_pool(Arc::clone(&shared));
/// let customers = TwoFactor::new(MemoryStore::new(), Settings::new("Example")?, sealer, hasher)
///     .with_blocking_pool(shared);
/// # drop((staff, customers));
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`ServiceError::BlockingPoolFailed`]: super::ServiceError::BlockingPoolFailed
/// [`ServiceError::Busy`]: super::ServiceError::Busy
/// [`TwoFactor`]: super::TwoFactor
/// [`with_blocking_pool`]: super::TwoFactor::with_blocking_pool
pub struct ThreadPool {
    shared: Arc<Shared>,
    /// Starts a thread that runs [`Shared::work`]: [`start_thread`], or in tests a system that
    /// refuses.
    start: fn(Arc<Shared>) -> std::io::Result<()>,
    /// The most jobs waiting for a thread; only [`spawn`](ThreadPool::spawn) reads it.
    max_queued: usize,
}

impl ThreadPool {
    /// The default bound on queued jobs: 128.
    ///
    /// A recovery-code attempt is one job and a new set of codes ten, so 128 is a burst of
    /// over a hundred attempts, or a dozen enrolments, beyond the ones running. At the default
    /// work factor (about 4 ms a job) the last of 128 queued jobs starts some 128 × 4 ms /
    /// threads later: half a second on one core, a quarter on two. A deeper queue would only
    /// make every request of the burst slower and hold more memory, where a prompt "try again
    /// in a moment" ([`ServiceError::Busy`](super::ServiceError::Busy)) serves the user
    /// better. On a machine with many cores the same wait allows a deeper queue; raise it
    /// with [`with_max_queued`](ThreadPool::with_max_queued).
    pub const DEFAULT_MAX_QUEUED: usize = 128;

    /// A pool of at most as many threads as the machine has cores
    /// ([`std::thread::available_parallelism`]; one when that is unknown). No thread starts
    /// before the first job.
    pub fn new() -> Self {
        Self::with_threads(std::thread::available_parallelism().map_or(1, NonZeroUsize::get))
    }

    /// A pool of at most `threads` threads (at least one), and a queue of at most
    /// [`DEFAULT_MAX_QUEUED`](ThreadPool::DEFAULT_MAX_QUEUED) jobs.
    pub fn with_threads(threads: usize) -> Self {
        ThreadPool {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    threads: 0,
                    idle: 0,
                    closed: false,
                }),
                work: Condvar::new(),
                max_threads: threads.max(1),
            }),
            start: start_thread,
            max_queued: Self::DEFAULT_MAX_QUEUED,
        }
    }

    /// Bounds the queue: at most `jobs` jobs (at least one) wait for a thread; one more is
    /// refused with [`PoolBusy`], and its flow fails with
    /// [`ServiceError::Busy`](super::ServiceError::Busy). A job counts as queued from the
    /// moment it is handed to the pool until a thread takes it; the jobs running are not
    /// counted.
    ///
    /// Keep it at least the number of recovery codes in a set (10 by default): a new set is
    /// that many jobs at once, and fails whole if any of them is refused.
    #[must_use]
    pub fn with_max_queued(mut self, jobs: usize) -> Self {
        self.max_queued = jobs.max(1);
        self
    }

    /// The most threads the pool runs at once.
    pub fn max_threads(&self) -> usize {
        self.shared.max_threads
    }

    /// The most jobs that wait for a thread before the pool refuses more.
    pub fn max_queued(&self) -> usize {
        self.max_queued
    }
}

impl Default for ThreadPool {
    fn default() -> Self {
        Self::new()
    }
}

impl BlockingPool for ThreadPool {
    /// Queues the job, and wakes an idle thread for it or starts a new one while there are
    /// fewer than [`max_threads`](ThreadPool::max_threads). If the system refuses a thread and
    /// the pool has none, the queued jobs are dropped (their flows fail, changing nothing).
    ///
    /// # Errors
    ///
    /// [`PoolBusy`] when [`max_queued`](ThreadPool::max_queued) jobs are queued already; the
    /// job is dropped without running, and the queue is unchanged.
    fn spawn(&self, job: BlockingJob) -> Result<(), PoolBusy> {
        let mut state = self.shared.lock();
        if state.queue.len() >= self.max_queued {
            drop(state);
            // Dropped outside the lock: dropping a job wakes the flow waiting for it.
            drop(job);
            return Err(PoolBusy);
        }
        state.queue.push_back(job);
        // Each idle thread takes one queued job; a woken thread counts as idle until it runs,
        // so a burst wakes as many as there are and starts threads for the rest.
        if state.idle >= state.queue.len() {
            drop(state);
            self.shared.work.notify_one();
            return Ok(());
        }
        if state.threads >= self.shared.max_threads {
            return Ok(());
        }
        state.threads += 1;
        drop(state);
        if (self.start)(Arc::clone(&self.shared)).is_err() {
            let mut state = self.shared.lock();
            state.threads -= 1;
            let stranded = if state.threads == 0 {
                core::mem::take(&mut state.queue)
            } else {
                VecDeque::new()
            };
            drop(state);
            // Dropped outside the lock: dropping a job wakes the flow waiting for it.
            drop(stranded);
        }
        Ok(())
    }
}

impl Drop for ThreadPool {
    /// Lets the threads finish the queued jobs and end; does not wait for them.
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.work.notify_all();
    }
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("ThreadPool")
            .field("max_threads", &self.shared.max_threads)
            .field("max_queued", &self.max_queued)
            .field("threads", &state.threads)
            .field("queued", &state.queue.len())
            .finish()
    }
}

/// Starts a pool thread named `twofa-blocking`.
fn start_thread(shared: Arc<Shared>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("twofa-blocking".into())
        .spawn(move || shared.work())
        .map(drop)
}

/// What the pool's handle and its threads share.
struct Shared {
    state: Mutex<State>,
    /// Signalled when a job is queued for an idle thread, and when the pool closes.
    work: Condvar,
    max_threads: usize,
}

struct State {
    queue: VecDeque<BlockingJob>,
    /// Threads started and not ended.
    threads: usize,
    /// Of those, how many wait for a job.
    idle: usize,
    /// The handle was dropped: threads end once the queue is empty.
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A job never runs under the lock, so a poisoned lock holds consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A thread's life: run queued jobs one by one, wait when there are none, end when the
    /// pool is closed and the queue empty.
    fn work(&self) {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                // A panicking job unwinds to here and drops its result's sender, so the flow
                // waiting for it fails; the thread goes on. Even the panic's value is dropped
                // under a guard: its own `Drop` may panic, and a thread that ended here would
                // still be counted, with jobs queued for it that never run.
                if let Err(payload) = catch_unwind(AssertUnwindSafe(job))
                    && let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(payload)))
                {
                    core::mem::forget(payload);
                }
                state = self.lock();
                continue;
            }
            if state.closed {
                state.threads -= 1;
                return;
            }
            state.idle += 1;
            state = self
                .work
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.idle -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::blocking::{Dropped, Receiver, run};
    use super::*;
    use std::sync::mpsc;
    use std::thread::ThreadId;
    use std::time::{Duration, Instant};

    /// Long enough for any healthy machine; a broken pool fails the test after it instead of
    /// hanging it.
    const PATIENCE: Duration = Duration::from_secs(10);

    /// Jobs that wait until the test opens the gate, and report how many run at once.
    #[derive(Default)]
    struct Gate {
        state: Mutex<GateState>,
        changed: Condvar,
    }

    #[derive(Default)]
    struct GateState {
        open: bool,
        running: usize,
        most_running: usize,
        finished: usize,
    }

    impl Gate {
        fn job(self: &Arc<Self>) -> BlockingJob {
            let gate = Arc::clone(self);
            Box::new(move || {
                let mut state = gate.state.lock().unwrap();
                state.running += 1;
                state.most_running = state.most_running.max(state.running);
                gate.changed.notify_all();
                let (mut state, _) = gate
                    .changed
                    .wait_timeout_while(state, PATIENCE, |s| !s.open)
                    .unwrap();
                state.running -= 1;
                state.finished += 1;
                gate.changed.notify_all();
            })
        }

        fn open(&self) {
            self.state.lock().unwrap().open = true;
            self.changed.notify_all();
        }

        /// Waits (boundedly) until `done` holds, and returns the state then.
        fn wait_until(&self, done: impl Fn(&GateState) -> bool) -> MutexGuard<'_, GateState> {
            let (state, timeout) = self
                .changed
                .wait_timeout_while(self.state.lock().unwrap(), PATIENCE, |s| !done(s))
                .unwrap();
            assert!(!timeout.timed_out(), "the jobs did not get there in time");
            state
        }
    }

    fn state(pool: &ThreadPool) -> (usize, usize, usize) {
        let state = pool.shared.lock();
        (state.threads, state.idle, state.queue.len())
    }

    /// Runs a job on the pool and waits (boundedly) for it: the thread it ran on.
    fn ran_on(pool: &ThreadPool) -> ThreadId {
        let (sender, receiver) = mpsc::channel();
        pool.spawn(Box::new(move || {
            sender.send(std::thread::current().id()).unwrap();
        }))
        .unwrap();
        receiver.recv_timeout(PATIENCE).unwrap()
    }

    /// Waits (boundedly) until the pool's threads, idle threads and queue are `expected`.
    fn settle(pool: &ThreadPool, expected: (usize, usize, usize)) {
        let deadline = Instant::now() + PATIENCE;
        while state(pool) != expected {
            assert!(Instant::now() < deadline, "pool stuck at {:?}", state(pool));
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn runs_at_most_its_threads_at_once() {
        let pool = ThreadPool::with_threads(2);
        let gate = Arc::new(Gate::default());
        for _ in 0..5 {
            pool.spawn(gate.job()).unwrap();
        }
        drop(gate.wait_until(|s| s.running == 2));
        assert_eq!(state(&pool), (2, 0, 3));
        gate.open();
        let state = gate.wait_until(|s| s.finished == 5);
        assert_eq!(state.most_running, 2);
    }

    #[test]
    fn queued_jobs_start_in_the_order_they_came() {
        // One thread, so that the order they start in is the order they finish in.
        let pool = ThreadPool::with_threads(1);
        let gate = Arc::new(Gate::default());
        pool.spawn(gate.job()).unwrap();
        drop(gate.wait_until(|s| s.running == 1));
        let (order, arrived) = mpsc::channel();
        for i in 0..5 {
            let order = order.clone();
            pool.spawn(Box::new(move || order.send(i).unwrap()))
                .unwrap();
        }
        assert_eq!(state(&pool), (1, 0, 5));
        gate.open();
        let order: Vec<i32> = (0..5)
            .map(|_| arrived.recv_timeout(PATIENCE).unwrap())
            .collect();
        assert_eq!(order, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_burst_runs_side_by_side() {
        let pool = ThreadPool::with_threads(4);
        let gate = Arc::new(Gate::default());
        for _ in 0..4 {
            pool.spawn(gate.job()).unwrap();
        }
        // Each job holds its thread until the gate opens: four at once only if four threads
        // run them.
        drop(gate.wait_until(|s| s.running == 4));
        gate.open();
        drop(gate.wait_until(|s| s.finished == 4));
    }

    #[test]
    fn a_burst_after_a_quiet_spell_wakes_the_idle_thread_and_starts_more() {
        let pool = ThreadPool::with_threads(4);
        ran_on(&pool);
        settle(&pool, (1, 1, 0));
        let gate = Arc::new(Gate::default());
        for _ in 0..4 {
            pool.spawn(gate.job()).unwrap();
        }
        drop(gate.wait_until(|s| s.running == 4));
        gate.open();
        drop(gate.wait_until(|s| s.finished == 4));
        settle(&pool, (4, 4, 0));
    }

    #[test]
    fn idle_threads_are_reused() {
        let pool = ThreadPool::with_threads(4);
        let first = ran_on(&pool);
        assert_ne!(first, std::thread::current().id());
        settle(&pool, (1, 1, 0));
        for _ in 0..3 {
            assert_eq!(ran_on(&pool), first);
            settle(&pool, (1, 1, 0));
        }
    }

    #[test]
    fn a_job_for_a_pool_with_idle_threads_wakes_one_rather_than_starting_another() {
        let pool = ThreadPool::with_threads(3);
        let gate = Arc::new(Gate::default());
        pool.spawn(gate.job()).unwrap();
        pool.spawn(gate.job()).unwrap();
        drop(gate.wait_until(|s| s.running == 2));
        gate.open();
        drop(gate.wait_until(|s| s.finished == 2));
        settle(&pool, (2, 2, 0));
        // Two idle of three allowed: a new job wakes one of them, and no third thread starts.
        ran_on(&pool);
        settle(&pool, (2, 2, 0));
    }

    #[test]
    fn a_panicking_job_fails_alone_and_the_thread_goes_on() {
        struct PanicsOnDrop;
        impl Drop for PanicsOnDrop {
            fn drop(&mut self) {
                panic!("the panic's value panics too");
            }
        }
        // A plain panic, and one whose value panics again when dropped: a thread that ended
        // there would stay counted, with the jobs queued for it never run.
        let panics: [fn() -> u32; 2] = [
            || panic!("job failed"),
            || std::panic::panic_any(PanicsOnDrop),
        ];
        for panicking in panics {
            let pool = ThreadPool::with_threads(1);
            let failed = run(&pool, panicking).unwrap();
            let fine = run(&pool, || 7).unwrap();
            assert_eq!(wait(failed), Err(Dropped));
            assert_eq!(wait(fine), Ok(7));
            settle(&pool, (1, 1, 0));
        }
    }

    fn refuse(_: Arc<Shared>) -> std::io::Result<()> {
        Err(std::io::Error::other("no more threads"))
    }

    #[test]
    fn a_pool_the_system_gives_no_thread_drops_its_jobs() {
        let mut pool = ThreadPool::with_threads(2);
        pool.start = refuse;
        assert_eq!(wait(run(&pool, || 7).unwrap()), Err(Dropped));
        assert_eq!(state(&pool), (0, 0, 0));
    }

    #[test]
    fn a_refused_extra_thread_leaves_the_job_to_the_threads_there_are() {
        let mut pool = ThreadPool::with_threads(2);
        let gate = Arc::new(Gate::default());
        pool.spawn(gate.job()).unwrap();
        drop(gate.wait_until(|s| s.running == 1));
        pool.start = refuse;
        let queued = run(&pool, || 7).unwrap();
        assert_eq!(state(&pool), (1, 0, 1));
        gate.open();
        assert_eq!(wait(queued), Ok(7));
        settle(&pool, (1, 1, 0));
    }

    #[test]
    fn dropping_the_pool_finishes_the_queue_and_ends_the_threads() {
        let pool = ThreadPool::with_threads(1);
        let gate = Arc::new(Gate::default());
        pool.spawn(gate.job()).unwrap();
        pool.spawn(gate.job()).unwrap();
        drop(gate.wait_until(|s| s.running == 1));
        let shared = Arc::clone(&pool.shared);
        drop(pool);
        gate.open();
        drop(gate.wait_until(|s| s.finished == 2));
        let deadline = Instant::now() + PATIENCE;
        // The thread's own reference goes when it ends.
        while Arc::strong_count(&shared) > 1 || shared.lock().threads > 0 {
            assert!(Instant::now() < deadline, "the thread did not end");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn the_default_has_one_thread_per_core_and_at_least_one() {
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        assert_eq!(ThreadPool::new().max_threads(), cores);
        assert_eq!(ThreadPool::default().max_threads(), cores);
        assert_eq!(ThreadPool::with_threads(0).max_threads(), 1);
        assert_eq!(ThreadPool::new().max_queued(), 128);
        assert_eq!(ThreadPool::with_threads(2).max_queued(), 128);
        assert_eq!(ThreadPool::new().with_max_queued(0).max_queued(), 1);
        let pool = ThreadPool::with_threads(3).with_max_queued(7);
        assert_eq!((pool.max_threads(), pool.max_queued()), (3, 7));
        assert_eq!(
            format!("{pool:?}"),
            "ThreadPool { max_threads: 3, max_queued: 7, threads: 0, queued: 0 }"
        );
    }

    #[test]
    fn a_full_queue_refuses_the_job_and_the_queued_ones_still_run() {
        let pool = ThreadPool::with_threads(1).with_max_queued(2);
        let gate = Arc::new(Gate::default());
        pool.spawn(gate.job()).unwrap();
        drop(gate.wait_until(|s| s.running == 1));
        let first = run(&pool, || 1).unwrap();
        let second = run(&pool, || 2).unwrap();
        let ran = Arc::new(Mutex::new(0));
        for _ in 0..3 {
            let ran = Arc::clone(&ran);
            let refused = run(&pool, move || *ran.lock().unwrap() += 1);
            assert_eq!(refused.err(), Some(PoolBusy));
        }
        // Refused jobs take no place: the running job and two queued.
        assert_eq!(state(&pool), (1, 0, 2));
        gate.open();
        assert_eq!(wait(first), Ok(1));
        assert_eq!(wait(second), Ok(2));
        settle(&pool, (1, 1, 0));
        assert_eq!(*ran.lock().unwrap(), 0, "a refused job ran");
        // Room again once the queue drained.
        assert_eq!(wait(run(&pool, || 3).unwrap()), Ok(3));
    }

    #[test]
    fn the_bound_counts_the_jobs_waiting_not_the_ones_running() {
        let pool = ThreadPool::with_threads(2).with_max_queued(1);
        let gate = Arc::new(Gate::default());
        // One at a time: a job counts as queued until its thread takes it.
        pool.spawn(gate.job()).unwrap();
        drop(gate.wait_until(|s| s.running == 1));
        pool.spawn(gate.job()).unwrap();
        drop(gate.wait_until(|s| s.running == 2));
        pool.spawn(gate.job()).unwrap();
        assert_eq!(pool.spawn(gate.job()), Err(PoolBusy));
        assert_eq!(state(&pool), (2, 0, 1));
        gate.open();
        let state = gate.wait_until(|s| s.finished == 3);
        assert_eq!(state.most_running, 2);
    }

    /// Polls a job's result until it is there (bounded).
    fn wait<T>(receiver: Receiver<T>) -> Result<T, Dropped> {
        use std::future::Future;
        use std::task::{Context, Poll, Waker};
        let mut receiver = std::pin::pin!(receiver);
        let mut cx = Context::from_waker(Waker::noop());
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Poll::Ready(result) = receiver.as_mut().poll(&mut cx) {
                return result;
            }
            assert!(Instant::now() < deadline, "the job never finished");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
