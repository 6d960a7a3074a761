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
//! It uses user ids starting with `twofa-conformance-`, and checks: a missing user loads as
//! `None`; an update of a missing record conflicts and creates nothing; a round trip keeps
//! the largest record a user can have (enabled, 50 trusted devices with long labels: about
//! 11 KB of text, so a too-narrow column is caught); an insert happens only where no record
//! exists; a save with a stale version conflicts and writes nothing; of many concurrent
//! inserts, and of many concurrent saves from one version, exactly one wins; a deleted record
//! is gone, and no version it had is accepted again, also once a new record is inserted (see
//! [Deletion](super#deletion)); and user ids that a database could confuse stay different
//! users (also when one of them is deleted) ([`distinct_user_id_pairs`]: 255-byte ids
//! that differ only in the last byte, ids that differ only in case, in an accent, in Unicode
//! normalisation, in a trailing space, non-ASCII and emoji ids). A store that truncates ids or
//! compares them under a case-insensitive collation fails.

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
    let large = large_record()?;

    // Missing user.
    let missing = load(store, &user("missing"), "missing user").await?;
    ensure(
        missing.is_none(),
        "missing user",
        "loaded a record nobody saved",
    )?;

    // An update of a record that does not exist is a conflict, not an insert.
    let ghost = user("update-missing");
    let phantom = save(store, &ghost, &large, Some(1), "update of a missing record").await?;
    ensure(
        phantom == SaveOutcome::Conflict,
        "update of a missing record",
        "a save expecting version 1 created a record",
    )?;
    ensure(
        load(store, &ghost, "update of a missing record")
            .await?
            .is_none(),
        "update of a missing record",
        "the conflicting save wrote something",
    )?;

    // Insert if absent, then a round trip of the largest record a user can have.
    let id = user("round-trip");
    let first = save(store, &id, &large, None, "insert").await?;
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
        loaded.record == large,
        "round trip",
        &format!(
            "the loaded record differs from the saved one (it encodes to {} characters; \
             is the column wide enough?)",
            large.encode().len()
        ),
    )?;

    // Stale version.
    let stale = loaded.version;
    let fresh = save(store, &id, &TwoFactorRecord::new(), Some(stale), "update").await?;
    ensure(
        fresh == SaveOutcome::Saved,
        "update",
        "a save with the current version conflicted",
    )?;
    let late = save(store, &id, &large, Some(stale), "stale-version conflict").await?;
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

    // Concurrent inserts for a new user: exactly one wins.
    let id = user("insert-race");
    let inserts: Vec<_> = (0..RACERS)
        .map(|_| Box::pin(store.save(&id, &large, None)))
        .collect();
    count_single_winner(join_all(inserts).await, "concurrent inserts")?;

    // Concurrent savers from the same version: exactly one wins.
    let id = user("race");
    let _ = save(store, &id, &TwoFactorRecord::new(), None, "race setup").await?;
    let base = load(store, &id, "race setup")
        .await?
        .ok_or_else(|| failure("race setup", "the record did not load"))?;
    let savers: Vec<_> = (0..RACERS)
        .map(|_| Box::pin(store.save(&id, &large, Some(base.version))))
        .collect();
    count_single_winner(join_all(savers).await, "concurrent savers")?;

    check_delete(store, &user("delete"), &user("never-saved"), &large).await?;
    check_distinct_ids(store, &large).await
}

/// Deletion: the record is gone, deleting again finds nothing, and no version the deleted
/// record had is accepted again — not right after the deletion, and not once a fresh flow has
/// inserted a new record (which must start above them all).
async fn check_delete<S: Store>(
    store: &S,
    id: &str,
    never_saved: &str,
    large: &TwoFactorRecord,
) -> Result<(), ConformanceFailure> {
    const CHECK: &str = "delete";
    let blank = TwoFactorRecord::new();
    let inserted = save(store, id, large, None, CHECK).await?;
    ensure(
        inserted == SaveOutcome::Saved,
        CHECK,
        "the insert conflicted",
    )?;
    let first = version(store, id, CHECK).await?;
    let updated = save(store, id, large, Some(first), CHECK).await?;
    ensure(
        updated == SaveOutcome::Saved,
        CHECK,
        "the update conflicted",
    )?;
    let last = version(store, id, CHECK).await?;
    let held = [first, last];

    ensure(
        delete(store, id, CHECK).await?,
        CHECK,
        "deleting an existing record reported that there was none",
    )?;
    ensure(
        load(store, id, CHECK).await?.is_none(),
        CHECK,
        "the deleted record still loads",
    )?;
    ensure(
        !delete(store, id, CHECK).await?,
        CHECK,
        "deleting a second time reported a record",
    )?;
    // A request that loaded the record before the deletion saves now.
    for stale in held {
        let late = save(store, id, large, Some(stale), CHECK).await?;
        ensure(
            late == SaveOutcome::Conflict && load(store, id, CHECK).await?.is_none(),
            CHECK,
            &format!("a save expecting version {stale} wrote the deleted record back"),
        )?;
    }
    // A fresh flow inserts a new record: it starts above every version the old one had.
    let fresh = save(store, id, &blank, None, CHECK).await?;
    ensure(
        fresh == SaveOutcome::Saved,
        CHECK,
        "an insert after the deletion conflicted",
    )?;
    let mut current = version(store, id, CHECK).await?;
    ensure(
        current > last,
        CHECK,
        &format!(
            "the record inserted after the deletion has version {current}, not above the \
             deleted record's {last}: a request holding an old version could write the \
             deleted record back (versions must never restart)"
        ),
    )?;
    for _ in 0..2 {
        for stale in held {
            let late = save(store, id, large, Some(stale), CHECK).await?;
            ensure(
                late == SaveOutcome::Conflict,
                CHECK,
                &format!(
                    "a save expecting version {stale}, loaded before the deletion, won \
                     against the new record"
                ),
            )?;
        }
        let next = save(store, id, &blank, Some(current), CHECK).await?;
        ensure(next == SaveOutcome::Saved, CHECK, "the update conflicted")?;
        current = version(store, id, CHECK).await?;
    }
    let kept = load(store, id, CHECK).await?.map(|v| v.record);
    ensure(
        kept.as_ref() == Some(&blank),
        CHECK,
        "the new record was overwritten",
    )?;
    ensure(
        !delete(store, never_saved, CHECK).await?,
        CHECK,
        "deleting a user without a record reported one",
    )
}

/// Pairs of user ids that name different users, each with what a store that mixes them up
/// does wrong. Every id is at most 255 bytes, the longest the core accepts.
pub fn distinct_user_id_pairs() -> Vec<(&'static str, String, String)> {
    let id = |rest: &str| format!("twofa-conformance-{rest}");
    // 255 bytes: `fill` repeated after the tag, then `last` (one byte, or the tail given).
    let long = |tag: &str, fill: char, last: &str| {
        let mut s = id(tag);
        while s.len() + fill.len_utf8() + last.len() <= 255 {
            s.push(fill);
        }
        while s.len() + last.len() < 255 {
            s.push('x');
        }
        s.push_str(last);
        s
    };
    vec![
        (
            "255-byte ids that differ only in the last byte (a store truncating ids mixes them up)",
            long("long-", 'x', "a"),
            long("long-", 'x', "b"),
        ),
        (
            "255-byte non-ASCII ids that differ only at the end",
            long("long-utf8-", '\u{fc}', "\u{e9}"),
            long("long-utf8-", '\u{fc}', "\u{e8}"),
        ),
        (
            "ids that differ only in case (a case-insensitive collation mixes them up)",
            id("case-Alice@Example.com"),
            id("case-alice@example.com"),
        ),
        (
            "non-ASCII ids that differ only in case",
            id("case-\u{dc}ber"),
            id("case-\u{fc}ber"),
        ),
        (
            "ids that differ only in an accent (an accent-insensitive collation mixes them up)",
            id("accent-u"),
            id("accent-\u{fc}"),
        ),
        (
            "a precomposed and a decomposed \u{e9} (a normalising store mixes them up)",
            id("nfc-\u{e9}"),
            id("nfc-e\u{301}"),
        ),
        (
            "ids that differ only in a trailing space (a PAD SPACE collation mixes them up)",
            id("space"),
            id("space "),
        ),
        (
            "emoji ids that differ only in their last byte",
            id("emoji-\u{1f511}"),
            id("emoji-\u{1f512}"),
        ),
    ]
}

/// Each pair of [`distinct_user_id_pairs`] holds two users: a record saved for one is not
/// loaded for the other, and each keeps its own.
async fn check_distinct_ids<S: Store>(
    store: &S,
    large: &TwoFactorRecord,
) -> Result<(), ConformanceFailure> {
    const CHECK: &str = "distinct user ids";
    let other = TwoFactorRecord::new();
    for (what, a, b) in distinct_user_id_pairs() {
        let first = save(store, &a, large, None, CHECK).await?;
        ensure(
            first == SaveOutcome::Saved,
            CHECK,
            &format!("{what}: the first insert conflicted"),
        )?;
        ensure(
            load(store, &b, CHECK).await?.is_none(),
            CHECK,
            &format!("{what}: the record saved for {a:?} loaded for {b:?}"),
        )?;
        let second = save(store, &b, &other, None, CHECK).await?;
        ensure(
            second == SaveOutcome::Saved,
            CHECK,
            &format!("{what}: inserting {b:?} conflicted with {a:?}"),
        )?;
        let loaded_a = load(store, &a, CHECK).await?.map(|v| v.record);
        let loaded_b = load(store, &b, CHECK).await?.map(|v| v.record);
        ensure(
            loaded_a.as_ref() == Some(large) && loaded_b.as_ref() == Some(&other),
            CHECK,
            &format!("{what}: {a:?} and {b:?} did not each keep their own record"),
        )?;
        let deleted = delete(store, &a, CHECK).await?;
        let loaded_b = load(store, &b, CHECK).await?.map(|v| v.record);
        ensure(
            deleted && loaded_b.as_ref() == Some(&other),
            CHECK,
            &format!("{what}: deleting {a:?} did not leave {b:?} alone"),
        )?;
    }
    Ok(())
}

fn count_single_winner<E: fmt::Display>(
    results: Vec<Result<SaveOutcome, E>>,
    check: &'static str,
) -> Result<(), ConformanceFailure> {
    let mut wins = 0;
    for result in results {
        match result {
            Ok(SaveOutcome::Saved) => wins += 1,
            Ok(SaveOutcome::Conflict) => {}
            Err(e) => return Err(failure(check, &e.to_string())),
        }
    }
    ensure(
        wins == 1,
        check,
        &format!("{wins} of {RACERS} concurrent saves won; exactly 1 must"),
    )
}

/// The largest record a user can have with the default settings: enabled, a full set of
/// recovery codes, and the most trusted devices with the longest labels. A store whose
/// column is too narrow fails the round trip.
fn large_record() -> Result<TwoFactorRecord, ConformanceFailure> {
    let setup = |e: crate::Error| failure("setup", &e.to_string());
    let settings = Settings::new("Conformance")
        .and_then(|s| s.max_devices(Settings::MAX_DEVICES))
        .map_err(setup)?
        .allow_enrollment_without_reauthentication()
        .device_key(crate::account::DeviceKey::generate());
    let sealer = DangerPlaintextSealer;
    // The hashes' cost does not change the record's size; the kit need not pay it.
    let hasher = Pbkdf2Hasher::new()
        .danger_with_iterations(1)
        .map_err(setup)?;
    let ctx = Context::new("twofa-conformance", &settings, &sealer, &hasher).map_err(setup)?;
    let mut rng = crate::os_rng();
    let now = 1_700_000_000;
    let (enrollment, record) =
        run(TwoFactorRecord::new().start_enrollment(&ctx, None, "conformance", &mut rng, now))
            .map_err(setup)?;
    let phone = enrollment.uri().to_totp().map_err(setup)?;
    let code = phone.generate(now).to_string();
    let (_, record) = run(record.confirm_enrollment(&ctx, &code, &mut rng, now)).map_err(setup)?;
    let next = phone.generate(now + 30).to_string();
    let (proof, mut record) = run(record.verify_code(&ctx, &next, now + 30)).map_err(setup)?;
    let label = "L".repeat(crate::account::TrustedDevice::MAX_LABEL_LEN);
    for i in 0..Settings::MAX_DEVICES as u64 {
        let trusted = record.trust_device(&ctx, &proof, Some(&label), &mut rng, now + 30 + i);
        (_, record) = run(trusted).map_err(setup)?;
    }
    Ok(record)
}

/// A flow's value and next record.
fn run<T>(transition: crate::account::Transition<T>) -> Result<(T, TwoFactorRecord), crate::Error> {
    let record = transition.record().clone();
    let Ok(outcome) = transition.save_with(|_| Ok::<(), core::convert::Infallible>(()));
    Ok((outcome.result?, record))
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

/// The stored version of a record that must exist.
async fn version<S: Store>(
    store: &S,
    user_id: &str,
    check: &'static str,
) -> Result<u64, ConformanceFailure> {
    load(store, user_id, check)
        .await?
        .map(|v| v.version)
        .ok_or_else(|| failure(check, "a saved record did not load"))
}

async fn delete<S: Store>(
    store: &S,
    user_id: &str,
    check: &'static str,
) -> Result<bool, ConformanceFailure> {
    store
        .delete(user_id)
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
