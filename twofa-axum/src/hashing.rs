//! The password gate: the host's password check runs on a small fixed pool of threads, and
//! a burst beyond its queue is refused at once.
//!
//! Memory-hard hashes (argon2) keep their memory per thread: a check on `spawn_blocking`
//! would let a burst of sign-ins start hundreds of threads, each holding its own arena.
//! A fixed pool of a few threads holds a few arenas, however many requests arrive.

use std::sync::Arc;

use twofa::store::{BlockingPool, ThreadPool};

/// The pool's queue is full: answer "busy, try again in a moment".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Busy;

#[derive(Debug, Clone)]
pub(crate) struct PasswordGate {
    pool: Arc<ThreadPool>,
}

impl PasswordGate {
    pub(crate) fn new(threads: usize, queued: usize) -> Self {
        PasswordGate {
            pool: Arc::new(ThreadPool::with_threads(threads).with_max_queued(queued)),
        }
    }

    /// Runs `check` on the pool and returns its answer.
    ///
    /// # Errors
    ///
    /// [`Busy`] when the queue is full, or the check was dropped unrun.
    pub(crate) async fn run(
        &self,
        check: impl FnOnce() -> bool + Send + 'static,
    ) -> Result<bool, Busy> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.pool
            .spawn(Box::new(move || {
                // A request cancelled while its check waited needs no hash.
                if !tx.is_closed() {
                    let _ = tx.send(check());
                }
            }))
            .map_err(|_| Busy)?;
        rx.await.map_err(|_| Busy)
    }
}
