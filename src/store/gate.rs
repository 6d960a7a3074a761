//! One turn at a time per user: the service's recovery-code attempts for one user wait for
//! each other, so that each sees the failures of the one before it and the throttle can stop
//! them before they cost a key derivation.
//!
//! Async and runtime-free: a waiting attempt parks its [`Waker`] and is woken when its turn
//! comes, first come first served. Cancellation is safe at every point: dropping a turn, a
//! waiting attempt, or an attempt that was handed the turn but not yet polled, passes the
//! turn on.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

/// The users whose turn is taken, each with the attempts waiting for it.
#[derive(Default)]
pub(super) struct Gate {
    users: Mutex<HashMap<String, Line>>,
}

/// The attempts waiting for one user's turn. A user is in the map exactly while someone holds
/// (or has been handed) the turn.
#[derive(Default)]
struct Line {
    /// Waiting, in the order they came: their ticket and how to wake them.
    waiting: VecDeque<(u64, Waker)>,
    /// The ticket the turn was handed to, which has not taken it yet.
    handed_to: Option<u64>,
    next_ticket: u64,
}

impl Gate {
    /// Waits for `user`'s turn: at once when nobody has it, otherwise after everyone who
    /// came before has had theirs. The turn lasts until the returned [`Turn`] is dropped.
    pub(super) fn enter<'a>(&'a self, user: &'a str) -> Enter<'a> {
        Enter {
            gate: self,
            user,
            ticket: None,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Line>> {
        // No code of the caller's runs under the lock, so a poisoned lock holds consistent
        // state.
        self.users.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ends the turn of `user`'s current holder: hands it to the first in line, or frees it.
    /// The waker to wake, outside the lock.
    fn pass_on(users: &mut HashMap<String, Line>, user: &str) -> Option<Waker> {
        let line = users.get_mut(user)?;
        match line.waiting.pop_front() {
            Some((ticket, waker)) => {
                line.handed_to = Some(ticket);
                Some(waker)
            }
            None => {
                users.remove(user);
                None
            }
        }
    }
}

/// A future of one user's turn (see [`Gate::enter`]).
#[must_use = "a future does nothing unless awaited"]
pub(super) struct Enter<'a> {
    gate: &'a Gate,
    user: &'a str,
    /// The place in line, once the first poll found the turn taken.
    ticket: Option<u64>,
}

/// One user's turn; dropping it passes the turn on.
#[must_use = "the turn ends when this is dropped"]
pub(super) struct Turn<'a> {
    gate: &'a Gate,
    user: &'a str,
}

impl<'a> Future for Enter<'a> {
    type Output = Turn<'a>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Turn<'a>> {
        let gate = self.gate;
        let user = self.user;
        let mut users = gate.lock();
        let Some(line) = users.get_mut(user) else {
            // Nobody has the turn. (A ticket holder always finds its line: a line lasts while
            // anyone waits in it.)
            users.insert(user.to_owned(), Line::default());
            self.ticket = None;
            return Poll::Ready(Turn { gate, user });
        };
        let Some(ticket) = self.ticket else {
            let ticket = line.next_ticket;
            line.next_ticket = line.next_ticket.wrapping_add(1);
            line.waiting.push_back((ticket, cx.waker().clone()));
            self.ticket = Some(ticket);
            return Poll::Pending;
        };
        if line.handed_to == Some(ticket) {
            line.handed_to = None;
            self.ticket = None;
            return Poll::Ready(Turn { gate, user });
        }
        // Polled again before its turn: the task may have moved, so wake it where it is now.
        if let Some((_, waker)) = line.waiting.iter_mut().find(|(t, _)| *t == ticket) {
            waker.clone_from(cx.waker());
        }
        Poll::Pending
    }
}

impl Drop for Enter<'_> {
    /// Leaves the line; if the turn was handed to this attempt already, passes it on.
    fn drop(&mut self) {
        let Some(ticket) = self.ticket else {
            return;
        };
        let mut users = self.gate.lock();
        let Some(line) = users.get_mut(self.user) else {
            return;
        };
        let waker = if line.handed_to == Some(ticket) {
            line.handed_to = None;
            Gate::pass_on(&mut users, self.user)
        } else {
            line.waiting.retain(|(t, _)| *t != ticket);
            None
        };
        drop(users);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let waker = Gate::pass_on(&mut self.gate.lock(), self.user);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    /// Counts wake-ups.
    #[derive(Default)]
    struct CountingWaker(AtomicUsize);

    impl CountingWaker {
        fn woken(&self) -> usize {
            self.0.load(Ordering::SeqCst)
        }
    }

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// An attempt to enter, polled by hand with its own waker.
    struct Attempt<'a> {
        enter: Pin<Box<Enter<'a>>>,
        waker: Arc<CountingWaker>,
    }

    impl<'a> Attempt<'a> {
        fn new(gate: &'a Gate, user: &'a str) -> Self {
            Attempt {
                enter: Box::pin(gate.enter(user)),
                waker: Arc::default(),
            }
        }

        fn poll(&mut self) -> Option<Turn<'a>> {
            let waker = Waker::from(Arc::clone(&self.waker));
            match self.enter.as_mut().poll(&mut Context::from_waker(&waker)) {
                Poll::Ready(turn) => Some(turn),
                Poll::Pending => None,
            }
        }

        fn woken(&self) -> usize {
            self.waker.woken()
        }
    }

    fn users(gate: &Gate) -> usize {
        gate.lock().len()
    }

    #[test]
    fn the_first_attempt_enters_at_once_and_leaving_frees_the_user() {
        let gate = Gate::default();
        let turn = Attempt::new(&gate, "alice").poll().unwrap();
        assert_eq!(users(&gate), 1);
        drop(turn);
        assert_eq!(users(&gate), 0);
        // And again.
        assert!(Attempt::new(&gate, "alice").poll().is_some());
        assert_eq!(users(&gate), 0);
    }

    #[test]
    fn attempts_for_one_user_take_turns_in_the_order_they_came() {
        let gate = Gate::default();
        let first = Attempt::new(&gate, "alice").poll().unwrap();
        let mut second = Attempt::new(&gate, "alice");
        let mut third = Attempt::new(&gate, "alice");
        assert!(second.poll().is_none());
        assert!(third.poll().is_none());
        // Polled again while waiting: still waiting, in the same place.
        assert!(third.poll().is_none());
        assert!(second.poll().is_none());
        assert_eq!((second.woken(), third.woken()), (0, 0));

        drop(first);
        // Only the next in line is woken, and the turn is kept for it.
        assert_eq!((second.woken(), third.woken()), (1, 0));
        assert!(third.poll().is_none());
        assert!(Attempt::new(&gate, "alice").poll().is_none());
        let second = second.poll().unwrap();
        drop(second);
        assert_eq!(third.woken(), 1);
        let third = third.poll().unwrap();
        assert_eq!(users(&gate), 1);
        drop(third);
    }

    #[test]
    fn other_users_never_wait() {
        let gate = Gate::default();
        let alice = Attempt::new(&gate, "alice").poll().unwrap();
        let mut alice_again = Attempt::new(&gate, "alice");
        assert!(alice_again.poll().is_none());
        let bob = Attempt::new(&gate, "bob").poll();
        assert!(bob.is_some());
        assert_eq!(users(&gate), 2);
        // Bob leaving does not touch Alice's line.
        drop(bob);
        assert_eq!(alice_again.woken(), 0);
        assert!(alice_again.poll().is_none());
        drop(alice);
        assert!(alice_again.poll().is_some());
        assert_eq!(users(&gate), 0);
    }

    #[test]
    fn a_waiting_attempt_that_is_dropped_leaves_the_line() {
        let gate = Gate::default();
        let first = Attempt::new(&gate, "alice").poll().unwrap();
        let mut second = Attempt::new(&gate, "alice");
        let mut third = Attempt::new(&gate, "alice");
        assert!(second.poll().is_none());
        assert!(third.poll().is_none());
        drop(second);
        assert_eq!(third.woken(), 0, "leaving the line passes no turn");
        drop(first);
        assert_eq!(third.woken(), 1);
        drop(third.poll().unwrap());
        assert_eq!(users(&gate), 0);
    }

    #[test]
    fn an_attempt_dropped_after_being_handed_the_turn_passes_it_on() {
        let gate = Gate::default();
        let first = Attempt::new(&gate, "alice").poll().unwrap();
        let mut second = Attempt::new(&gate, "alice");
        let mut third = Attempt::new(&gate, "alice");
        assert!(second.poll().is_none());
        assert!(third.poll().is_none());
        drop(first);
        assert_eq!(second.woken(), 1);
        // Cancelled before it ran again: the turn goes to the third.
        drop(second);
        assert_eq!(third.woken(), 1);
        let third = third.poll().unwrap();
        drop(third);
        assert_eq!(users(&gate), 0);

        // The last in line handed the turn and dropped: the user is free.
        let first = Attempt::new(&gate, "alice").poll().unwrap();
        let mut second = Attempt::new(&gate, "alice");
        assert!(second.poll().is_none());
        drop(first);
        drop(second);
        assert_eq!(users(&gate), 0);
    }

    #[test]
    fn an_attempt_never_polled_or_already_in_holds_no_place() {
        let gate = Gate::default();
        drop(Attempt::new(&gate, "alice"));
        assert_eq!(users(&gate), 0);
        let mut first = Attempt::new(&gate, "alice");
        let turn = first.poll().unwrap();
        // The future that gave the turn is dropped; the turn is still held.
        drop(first);
        assert_eq!(users(&gate), 1);
        drop(turn);
        assert_eq!(users(&gate), 0);
    }

    #[test]
    fn a_waiter_polled_with_a_new_waker_is_woken_through_it() {
        let gate = Gate::default();
        let first = Attempt::new(&gate, "alice").poll().unwrap();
        let mut second = Attempt::new(&gate, "alice");
        assert!(second.poll().is_none());
        let old = Arc::clone(&second.waker);
        second.waker = Arc::default();
        assert!(second.poll().is_none());
        drop(first);
        assert_eq!((old.woken(), second.woken()), (0, 1));
        assert!(second.poll().is_some());
    }

    #[test]
    fn turns_work_across_threads() {
        // Eight threads take turns on one user a hundred times each; a count outside the
        // gate's lock, updated in two steps, would lose increments if two ever overlapped.
        let gate = Arc::new(Gate::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let total = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (gate, inside, total) = (gate.clone(), inside.clone(), total.clone());
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        let turn = block_on(gate.enter("alice"));
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                        let seen = total.load(Ordering::SeqCst);
                        std::thread::yield_now();
                        total.store(seen + 1, Ordering::SeqCst);
                        inside.fetch_sub(1, Ordering::SeqCst);
                        drop(turn);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(total.load(Ordering::SeqCst), 800);
        assert_eq!(users(&gate), 0);
    }

    /// Polls `future` on this thread, parking between wake-ups (bounded: a lost wake-up fails
    /// the test instead of hanging it).
    fn block_on<F: Future>(future: F) -> F::Output {
        struct Unpark(std::thread::Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            assert!(!left.is_zero(), "a wake-up was lost");
            std::thread::park_timeout(left);
        }
    }
}
