//! Where the service runs its CPU-heavy work (recovery-code key derivation): never on the
//! thread that polls its futures.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

/// A job for a [`BlockingPool`]: a closure that may take milliseconds of CPU.
pub type BlockingJob = Box<dyn FnOnce() + Send + 'static>;

/// Runs blocking jobs away from the async executor's threads.
///
/// A [`TwoFactor`](super::TwoFactor) service derives recovery-code hashes (a few milliseconds
/// of CPU each with the default work factor) in jobs handed to its pool, and awaits their
/// results, so no poll of its futures holds an executor thread for a derivation. The ten
/// derivations of a new set are ten jobs, so a pool with several threads runs them in
/// parallel.
///
/// The default, [`ThreadPool`](super::ThreadPool), needs no runtime: a few threads of its
/// own, reused, and a bounded queue. On tokio, the jobs can go to tokio's own blocking pool
/// instead:
///
/// ```
/// # #[cfg(feature = "aes-gcm")] {
/// use std::sync::Arc;
/// use twofa::account::Settings;
/// use twofa::recovery::Pbkdf2Hasher;
/// use twofa::seal::AesGcmSealer;
/// use twofa::store::{BlockingJob, BlockingPool, MemoryStore, PoolBusy, TwoFactor};
///
/// #[derive(Debug)]
/// struct TokioBlocking;
///
/// impl BlockingPool for TokioBlocking {
///     fn spawn(&self, job: BlockingJob) -> Result<(), PoolBusy> {
///         tokio::task::spawn_blocking(job);
///         Ok(())
///     }
/// }
///
/// let service = TwoFactor::new(
///     MemoryStore::new(),
///     Settings::new("Example")?,
///     Arc::new(AesGcmSealer::new("k1", &[7; 32])?),
///     Arc::new(Pbkdf2Hasher::new()),
/// )
/// .with_blocking_pool(Arc::new(TokioBlocking));
/// # drop(service);
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Tokio's blocking pool never refuses: past its thread limit it queues without bound. A pool
/// that should shed load counts the jobs it holds and refuses past a limit, as
/// [`ThreadPool`](super::ThreadPool) does.
///
/// # Contract
///
/// `spawn` either refuses the job at once, returning [`PoolBusy`] and dropping it without
/// running it; or accepts it and runs it exactly once, soon, on a thread that is not polling
/// async tasks — or, if it then cannot (the pool is shut down, or could not start a thread),
/// drops it without running it. A refused job fails the flow that made it with
/// [`ServiceError::Busy`](super::ServiceError::Busy), an accepted job dropped unrun with
/// [`ServiceError::BlockingPoolFailed`](super::ServiceError::BlockingPoolFailed); neither
/// writes anything. `spawn` itself must not block.
pub trait BlockingPool: Send + Sync {
    /// Runs `job` on another thread, or refuses it (see the
    /// [trait's contract](BlockingPool#contract)).
    ///
    /// # Errors
    ///
    /// [`PoolBusy`] when the pool has no room for the job (its queue is full); the job is
    /// dropped without running.
    fn spawn(&self, job: BlockingJob) -> Result<(), PoolBusy>;
}

/// A [`BlockingPool`] refused a job: it has no room for more just now.
///
/// The service turns it into [`ServiceError::Busy`](super::ServiceError::Busy).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PoolBusy;

impl fmt::Display for PoolBusy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("blocking pool is full")
    }
}

impl core::error::Error for PoolBusy {}

/// Runs `work` on `pool`, and returns a future of its value that waits without blocking the
/// caller's thread; or the pool's refusal. If the future is dropped before the job starts,
/// the job skips `work`.
pub(super) fn run<T: Send + 'static>(
    pool: &dyn BlockingPool,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<Receiver<T>, PoolBusy> {
    let shared = Arc::new(Mutex::new(Slot {
        value: None,
        sender_gone: false,
        receiver_gone: false,
        waker: None,
    }));
    let sender = Sender {
        shared: Arc::clone(&shared),
    };
    pool.spawn(Box::new(move || {
        // Nobody waits for the value any more (the request was cancelled, or its flow failed
        // on another job): a derivation would only burn a core that others queue for.
        if !sender.abandoned() {
            sender.send(work());
        }
    }))?;
    Ok(Receiver { shared })
}

/// The job was dropped before it produced a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Dropped;

/// The far end of a one-value channel: a future of the job's value.
pub(super) struct Receiver<T> {
    shared: Arc<Mutex<Slot<T>>>,
}

struct Sender<T> {
    shared: Arc<Mutex<Slot<T>>>,
}

struct Slot<T> {
    value: Option<T>,
    sender_gone: bool,
    receiver_gone: bool,
    waker: Option<Waker>,
}

impl<T> Sender<T> {
    fn abandoned(&self) -> bool {
        self.shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .receiver_gone
    }

    fn send(self, value: T) {
        self.shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .value = Some(value);
        // Dropping `self` wakes the receiver.
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut slot = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
            slot.sender_gone = true;
            slot.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, Dropped>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(value) = slot.value.take() {
            return Poll::Ready(Ok(value));
        }
        if slot.sender_gone {
            return Poll::Ready(Err(Dropped));
        }
        slot.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .receiver_gone = true;
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    /// Counts wake-ups.
    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Keeps jobs to run (or drop) when the test says.
    #[derive(Default)]
    struct Held(Mutex<Vec<BlockingJob>>);

    impl BlockingPool for Held {
        fn spawn(&self, job: BlockingJob) -> Result<(), PoolBusy> {
            self.0.lock().unwrap().push(job);
            Ok(())
        }
    }

    /// Refuses every job, as a full pool does.
    struct Full;

    impl BlockingPool for Full {
        fn spawn(&self, job: BlockingJob) -> Result<(), PoolBusy> {
            drop(job);
            Err(PoolBusy)
        }
    }

    fn next_job(pool: &Held) -> BlockingJob {
        pool.0.lock().unwrap().remove(0)
    }

    fn poll<T>(receiver: &mut Receiver<T>, waker: &Arc<CountingWaker>) -> Poll<Result<T, Dropped>> {
        let waker = Waker::from(Arc::clone(waker));
        Pin::new(receiver).poll(&mut Context::from_waker(&waker))
    }

    #[test]
    fn the_value_arrives_after_the_job_ran_and_the_waiter_is_woken() {
        let pool = Held::default();
        let waker = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let mut receiver = run(&pool, || 7).unwrap();
        assert_eq!(poll(&mut receiver, &waker), Poll::Pending);
        assert_eq!(waker.0.load(Ordering::SeqCst), 0);
        next_job(&pool)();
        assert_eq!(waker.0.load(Ordering::SeqCst), 1);
        assert_eq!(poll(&mut receiver, &waker), Poll::Ready(Ok(7)));
    }

    #[test]
    fn a_value_ready_before_the_first_poll_is_returned_at_once() {
        let pool = Held::default();
        let waker = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let mut receiver = run(&pool, || "done").unwrap();
        next_job(&pool)();
        assert_eq!(poll(&mut receiver, &waker), Poll::Ready(Ok("done")));
        assert_eq!(waker.0.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_dropped_job_ends_the_wait_with_an_error() {
        let pool = Held::default();
        let waker = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let mut receiver = run(&pool, || 7).unwrap();
        assert_eq!(poll(&mut receiver, &waker), Poll::Pending);
        pool.0.lock().unwrap().clear();
        assert_eq!(waker.0.load(Ordering::SeqCst), 1);
        assert_eq!(poll(&mut receiver, &waker), Poll::Ready(Err(Dropped)));
    }

    #[test]
    fn a_refused_job_is_reported_and_never_runs() {
        let ran = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&ran);
        let refused = run(&Full, move || counter.fetch_add(1, Ordering::SeqCst));
        assert_eq!(refused.err(), Some(PoolBusy));
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        assert_eq!(PoolBusy.to_string(), "blocking pool is full");
    }

    #[test]
    fn a_job_whose_waiter_is_gone_skips_its_work() {
        let pool = Held::default();
        let ran = Arc::new(AtomicUsize::new(0));
        let jobs: Vec<_> = (0..2)
            .map(|_| {
                let counter = Arc::clone(&ran);
                run(&pool, move || counter.fetch_add(1, Ordering::SeqCst)).unwrap()
            })
            .collect();
        let mut jobs = jobs.into_iter();
        let mut kept = jobs.next().unwrap();
        drop(jobs);
        next_job(&pool)();
        next_job(&pool)();
        // Only the job still awaited did its work.
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        let waker = Arc::new(CountingWaker(AtomicUsize::new(0)));
        assert_eq!(poll(&mut kept, &waker), Poll::Ready(Ok(0)));
    }
}
