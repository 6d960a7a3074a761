//! A test suite for [`Store`] implementations (feature `testing`).
//!
//! Run [`check_store`] against your store in your own test, on a fresh database:
//!
//! ```
//! # fn block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     let waker = std::task::Waker::noop();
//! #     let mut cx = std::task::Context::from_waker(&waker);
//! #     let mut f = std::pin::pin!(f);
//! #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
//! # }
//! use twofa::store::MemoryStore;
//! use twofa::store::conformance::check_store;
//!
//! // In a real test: #[tokio::test] async fn my_store_conforms() { ... .await }
//! block_on(check_store(&MemoryStore::new())).unwrap();
//! ```
//!
//! It uses user ids starting with `twofa-conformance-`, and checks: a round trip keeps the
//! record; a missing user loads as `None`; an insert happens only where no record exists; a
//! save with a stale version conflicts and writes nothing; and of many concurrent saves from
//! the same version exactly one wins.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use super::{SaveOutcome, Store};
use crate::account::{Context, Settings, TwoFactorRecord};
use crate::recovery::Pbkdf2Hasher;
use crate::seal::DangerPlaintextSealer;

/// A conformance check that failed: which one, and what was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConformanceFailure {
    /// The check, such as `"stale-version conflict"`.
    pub check: &'static str,
    /// What went wrong.
    pub detail: String,
}

impl fmt::Display for ConformanceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "store conformance check `{}` failed: {}",
            self.check, self.detail
        )
    }
}

impl std::error::Error for ConformanceFailure {}

/// How many saves race in the concurrency check.
const RACERS: usize = 16;

/// Runs every check against `store`.
///
/// # Errors
///
/// The first [`ConformanceFailure`], including a store error met on the way.
pub async fn check_store<S: Store>(store: &S) -> Result<(), ConformanceFailure> {
    let user = |name: &str| format!("twofa-conformance-{name}");
    let distinct = distinct_record();

    // Missing user.
    let missing = load(store, &user("missing"), "missing user").await?;
    ensure(
        missing.is_none(),
        "missing user",
        "loaded a record nobody saved",
    )?;

    // Insert if absent, then round trip.
    let id = user("round-trip");
    let first = save(store, &id, &distinct, None, "insert").await?;
    ensure(
        first == SaveOutcome::Saved,
        "insert",
        "the first insert conflicted",
    )?;
    let again = save(
        store,
        &id,
        &TwoFactorRecord::new(),
        None,
        "insert if absent",
    )
    .await?;
    ensure(
        again == SaveOutcome::Conflict,
        "insert if absent",
        "a second insert for the same user was accepted",
    )?;
    let loaded = load(store, &id, "round trip")
        .await?
        .ok_or_else(|| failure("round trip", "the saved record did not load"))?;
    ensure(
        loaded.record == distinct,
        "round trip",
        "the loaded record differs from the saved one",
    )?;

    // Stale version.
    let stale = loaded.version;
    let fresh = save(store, &id, &TwoFactorRecord::new(), Some(stale), "update").await?;
    ensure(
        fresh == SaveOutcome::Saved,
        "update",
        "a save with the current version conflicted",
    )?;
    let late = save(store, &id, &distinct, Some(stale), "stale-version conflict").await?;
    ensure(
        late == SaveOutcome::Conflict,
        "stale-version conflict",
        "a save with a stale version was accepted",
    )?;
    let after = load(store, &id, "stale-version conflict").await?;
    ensure(
        after.as_ref().map(|v| &v.record) == Some(&TwoFactorRecord::new()),
        "stale-version conflict",
        "the conflicting save wrote something",
    )?;
    ensure(
        after.is_some_and(|v| v.version != stale),
        "update",
        "the version did not change on save",
    )?;

    // Concurrent savers from the same version: exactly one wins.
    let id = user("race");
    let _ = save(store, &id, &TwoFactorRecord::new(), None, "race setup").await?;
    let base = load(store, &id, "race setup")
        .await?
        .ok_or_else(|| failure("race setup", "the record did not load"))?;
    let savers: Vec<_> = (0..RACERS)
        .map(|_| Box::pin(store.save(&id, &distinct, Some(base.version))))
        .collect();
    let results = join_all(savers).await;
    let mut wins = 0;
    for result in results {
        match result {
            Ok(SaveOutcome::Saved) => wins += 1,
            Ok(SaveOutcome::Conflict) => {}
            Err(e) => return Err(failure("concurrent savers", &e.to_string())),
        }
    }
    ensure(
        wins == 1,
        "concurrent savers",
        &format!("{wins} of {RACERS} concurrent saves from one version won; exactly 1 must"),
    )
}

/// A record unlike a new one, so a store that drops fields is caught.
fn distinct_record() -> TwoFactorRecord {
    let settings = Settings::new("Conformance");
    let sealer = DangerPlaintextSealer;
    let hasher = Pbkdf2Hasher::new();
    let ctx = Context::new("twofa-conformance", &settings, &sealer, &hasher);
    TwoFactorRecord::new()
        .start_enrollment(&ctx, "conformance", &mut crate::os_rng(), 1_700_000_000)
        .record
}

async fn load<S: Store>(
    store: &S,
    user_id: &str,
    check: &'static str,
) -> Result<Option<super::Versioned>, ConformanceFailure> {
    store
        .load(user_id)
        .await
        .map_err(|e| failure(check, &e.to_string()))
}

async fn save<S: Store>(
    store: &S,
    user_id: &str,
    record: &TwoFactorRecord,
    expected: Option<u64>,
    check: &'static str,
) -> Result<SaveOutcome, ConformanceFailure> {
    store
        .save(user_id, record, expected)
        .await
        .map_err(|e| failure(check, &e.to_string()))
}

fn ensure(ok: bool, check: &'static str, detail: &str) -> Result<(), ConformanceFailure> {
    if ok {
        Ok(())
    } else {
        Err(failure(check, detail))
    }
}

fn failure(check: &'static str, detail: &str) -> ConformanceFailure {
    ConformanceFailure {
        check,
        detail: detail.into(),
    }
}

/// Polls every future until all are done, so their store calls interleave on whatever
/// runtime the caller uses (the suite depends on none).
async fn join_all<F: Future>(futures: Vec<Pin<Box<F>>>) -> Vec<F::Output> {
    /// A future and, once it finished, its output.
    type Slot<F> = (Pin<Box<F>>, Option<<F as Future>::Output>);
    let mut slots: Vec<Slot<F>> = futures.into_iter().map(|f| (f, None)).collect();
    std::future::poll_fn(move |cx| {
        let mut pending = false;
        for (future, output) in slots.iter_mut() {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(slots.iter_mut().filter_map(|(_, o)| o.take()).collect())
        }
    })
    .await
}
