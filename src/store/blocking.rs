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
/// own, reused. On tokio, the jobs can go to tokio's own blocking pool instead:
///
/// ```
/// # #[cfg(feature = "aes-gcm")] {
/// use std::sync::Arc;
/// use twofa::account::Settings;
/// use twofa::recovery::Pbkdf2Hasher;
/// use twofa::seal::AesGcmSealer;
/// use twofa::store::{BlockingJob, BlockingPool, MemoryStore, TwoFactor};
///
/// #[derive(Debug)]
/// struct TokioBlocking;
///
/// impl BlockingPool for TokioBlocking {
///     fn spawn(&self, job: BlockingJob) {
///         tokio::task::spawn_blocking(job);
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
/// # Contract
///
/// `spawn` runs the job exactly once, soon, on a thread that is not polling async tasks; or,
/// if it cannot (the pool is shut down), drops it without running it. A dropped job fails
/// the flow that waits for it with [`ServiceError::BlockingPoolFailed`](super::ServiceError)
/// and changes nothing. `spawn` itself must not block.
pub trait BlockingPool: Send + Sync {
    /// Runs `job` on another thread (see the [trait's contract](BlockingPool#contract)).
    fn spawn(&self, job: BlockingJob);
}

/// Runs `work` on `pool` and waits for its value without blocking the caller's thread.
pub(super) fn run<T: Send + 'static>(
    pool: &dyn BlockingPool,
    work: impl FnOnce() -> T + Send + 'static,
) -> Receiver<T> {
    let shared = Arc::new(Mutex::new(Slot {
        value: None,
        sender_gone: false,
        waker: None,
    }));
    let sender = Sender {
        shared: Arc::clone(&shared),
    };
    pool.spawn(Box::new(move || sender.send(work())));
    Receiver { shared }
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
    waker: Option<Waker>,
}

impl<T> Sender<T> {
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
        fn spawn(&self, job: BlockingJob) {
            self.0.lock().unwrap().push(job);
        }
    }

    fn poll<T>(receiver: &mut Receiver<T>, waker: &Arc<CountingWaker>) -> Poll<Result<T, Dropped>> {
        let waker = Waker::from(Arc::clone(waker));
        Pin::new(receiver).poll(&mut Context::from_waker(&waker))
    }

    #[test]
    fn the_value_arrives_after_the_job_ran_and_the_waiter_is_woken() {
        let pool = Held::default();
        let waker = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let mut receiver = run(&pool, || 7);
        assert_eq!(poll(&mut receiver, &waker), Poll::Pending);
        assert_eq!(waker.0.load(Ordering::SeqCst), 0);
        let job = pool.0.lock().unwrap().pop().unwrap();
        job();
        assert_eq!(waker.0.load(Ordering::SeqCst), 1);
        assert_eq!(poll(&mut receiver, &waker), Poll::Ready(Ok(7)));
    }

    #[test]
    fn a_value_ready_before_the_first_poll_is_returned_at_once() {
        let pool = Held::default();
        let waker = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let mut receiver = run(&pool, || "done");
        let job = pool.0.lock().unwrap().pop().unwrap();
        job();
        assert_eq!(poll(&mut receiver, &waker), Poll::Ready(Ok("done")));
        assert_eq!(waker.0.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_dropped_job_ends_the_wait_with_an_error() {
        let pool = Held::default();
        let waker = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let mut receiver = run(&pool, || 7);
        assert_eq!(poll(&mut receiver, &waker), Poll::Pending);
        pool.0.lock().unwrap().clear();
        assert_eq!(waker.0.load(Ordering::SeqCst), 1);
        assert_eq!(poll(&mut receiver, &waker), Poll::Ready(Err(Dropped)));
    }
}
