//! Key rotation over the whole table: every record resealed under the sealer's current key.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use twofa::Pbkdf2Hasher;
use twofa::account::Context;
use twofa::seal::SecretSealer;
use twofa::store::{ServiceError, Store, TwoFactor};

/// A store that can list its users in a stable order, in pages: what
/// [`reseal_all`] walks.
///
/// Both stores of this crate list user ids in byte order, so a cursor (the last id done)
/// resumes exactly where a run stopped.
pub trait ListUsers: Store {
    /// How many users have an id greater than `after` in byte order (`""`: all users).
    fn count_users_after(
        &self,
        after: &str,
    ) -> impl Future<Output = Result<u64, Self::Error>> + Send;

    /// Up to `limit` user ids greater than `after`, in byte order.
    fn user_ids_after(
        &self,
        after: &str,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<String>, Self::Error>> + Send;

    /// Where the records are, to tie a [`ResealCursor`](crate::ResealCursor) to: the
    /// database and the table, such as `sqlite:/srv/app/app.db#two_factor`. Never holds a
    /// password.
    fn location(&self) -> String;

    /// Whether `error`, met on one user's record, concerns that record alone (it does not
    /// decode, say), so that a run over every user lists it and goes on; any other error (the
    /// database is unavailable) stops the run.
    fn concerns_one_record(error: &Self::Error) -> bool;
}

impl<S: ListUsers + ?Sized> ListUsers for Arc<S> {
    fn count_users_after(
        &self,
        after: &str,
    ) -> impl Future<Output = Result<u64, Self::Error>> + Send {
        (**self).count_users_after(after)
    }

    fn user_ids_after(
        &self,
        after: &str,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<String>, Self::Error>> + Send {
        (**self).user_ids_after(after, limit)
    }

    fn location(&self) -> String {
        (**self).location()
    }

    fn concerns_one_record(error: &Self::Error) -> bool {
        S::concerns_one_record(error)
    }
}

/// Where a [`reseal_all`] run stands.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ResealProgress {
    /// Users handled so far, counting those before the resume cursor.
    pub done: u64,
    /// Users in the table (counted when the run started; raised if more turn up).
    pub total: u64,
    /// Records this run resealed (the others had no secret or were already current).
    pub resealed: u64,
    /// Every user this run could not reseal, and why; their records are unchanged. The run
    /// carries on past them, so that one bad row does not leave every user after it on the
    /// old key.
    pub failed: Vec<(String, ResealFailure)>,
    /// The last user id done: pass it as `resume_after` to continue after an interruption.
    pub cursor: Option<String>,
}

/// Why one user's record was not resealed (or, from [`users_left`], is not under the current
/// key).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ResealFailure {
    /// The flow refused: the record is sealed under a key the sealer no longer has, say.
    Sealing(twofa::Error),
    /// The row's user id is one the core refuses (it was written around the store's checks):
    /// no flow can ever run for it.
    InvalidUserId,
    /// The store could not read the record: it does not decode, say. Downcast to the store's
    /// error (such as [`Error::Record`](crate::Error::Record)) for details.
    Store(Arc<dyn std::error::Error + Send + Sync>),
    /// The record kept changing while the run tried to reseal it; run again.
    Contention,
    /// The record is still under an older key (found by [`users_left`]).
    NotCurrent,
}

impl fmt::Display for ResealFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sealing(e) => write!(f, "cannot reseal: {e}"),
            Self::InvalidUserId => f.write_str("the user id is one twofa refuses"),
            Self::Store(e) => write!(f, "cannot read the record: {e}"),
            Self::Contention => f.write_str("the record kept changing; run again"),
            Self::NotCurrent => f.write_str("still sealed under an older key"),
        }
    }
}

/// Reseals every user's secret under the service's current sealing key, `batch_size` users
/// at a time, calling `on_progress` after each batch.
///
/// Each record goes through [`TwoFactor::reseal`], a compare-and-swap like every flow, so
/// sign-ins running meanwhile are never lost; a record already under the current key is not
/// written. Users are taken in byte order of their ids: after an interruption, pass the last
/// [`ResealProgress::cursor`] seen as `resume_after` and the run continues there (resealing a
/// record twice is harmless); [`ResealCursor`](crate::ResealCursor) keeps that cursor tied to
/// the database, the table and the key.
///
/// A record that cannot be resealed (a key the sealer lacks, a row that does not decode, a
/// user id the core refuses) is listed in [`ResealProgress::failed`] with the reason, and the
/// run goes on: it ends only when every user is resealed, already current, or listed. Then
/// check with [`users_left`] before you retire the old key.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use twofa::account::Settings;
/// use twofa::seal::AesGcmSealer;
/// use twofa::{Pbkdf2Hasher, TwoFactor};
/// use twofa_sqlx::{SqliteStore, reseal_all};
///
/// # let (old_key, new_key) = ([1u8; 32], [2u8; 32]);
/// // The sealer with the new key current and the old one still readable.
/// let sealer = AesGcmSealer::new("2027-01", &new_key)?.with_old_key("2026-11", &old_key)?;
/// let service = TwoFactor::new(
///     SqliteStore::open_in_memory().await?,
///     Settings::new("Example")?,
///     Arc::new(sealer),
///     Arc::new(Pbkdf2Hasher::new()),
/// );
/// let done = reseal_all(&service, None, 500, |p| println!("{}/{}", p.done, p.total)).await?;
/// assert!(done.failed.is_empty());
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// [`ServiceError::Store`] when the store fails as a whole (it cannot list the users, or is
/// unavailable; see [`ListUsers::concerns_one_record`]). Resume from the last cursor
/// reported to `on_progress`.
pub async fn reseal_all<S: ListUsers>(
    service: &TwoFactor<S>,
    resume_after: Option<&str>,
    batch_size: u32,
    mut on_progress: impl FnMut(&ResealProgress),
) -> Result<ResealProgress, ServiceError<S::Error>> {
    let store = service.store();
    let total = store
        .count_users_after("")
        .await
        .map_err(ServiceError::Store)?;
    let mut cursor = resume_after.unwrap_or("").to_owned();
    let left = store
        .count_users_after(&cursor)
        .await
        .map_err(ServiceError::Store)?;
    let mut progress = ResealProgress {
        done: total.saturating_sub(left),
        total,
        resealed: 0,
        failed: Vec::new(),
        cursor: resume_after.map(str::to_owned),
    };
    loop {
        let batch = store
            .user_ids_after(&cursor, batch_size.max(1))
            .await
            .map_err(ServiceError::Store)?;
        let Some(last) = batch.last() else {
            return Ok(progress);
        };
        cursor = last.clone();
        for user_id in batch {
            match service.reseal(&user_id).await {
                Ok(outcome) => match outcome.result {
                    Ok(true) => progress.resealed += 1,
                    Ok(false) => {}
                    Err(error) => progress
                        .failed
                        .push((user_id, ResealFailure::Sealing(error))),
                },
                Err(error) => {
                    let failure = failure_of::<S>(error)?;
                    progress.failed.push((user_id, failure));
                }
            }
            progress.done += 1;
        }
        progress.total = progress.total.max(progress.done);
        progress.cursor = Some(cursor.clone());
        on_progress(&progress);
    }
}

/// Checks every record, writing nothing, and returns the users whose record is not under
/// `sealer`'s current key or cannot be checked, with why: empty when the old key can be
/// retired. Pass the sealer the service uses.
///
/// # Errors
///
/// [`ServiceError::Store`] when the store fails as a whole (see [`reseal_all`]).
pub async fn users_left<S: ListUsers>(
    service: &TwoFactor<S>,
    sealer: &dyn SecretSealer,
    batch_size: u32,
) -> Result<Vec<(String, ResealFailure)>, ServiceError<S::Error>> {
    // The check needs no recovery-code hashing; any hasher will do.
    let hasher = Pbkdf2Hasher::new();
    let mut left = Vec::new();
    let mut cursor = String::new();
    loop {
        let batch = service
            .store()
            .user_ids_after(&cursor, batch_size.max(1))
            .await
            .map_err(ServiceError::Store)?;
        let Some(last) = batch.last() else {
            return Ok(left);
        };
        cursor = last.clone();
        for user_id in batch {
            let Ok(ctx) = Context::new(&user_id, service.settings(), sealer, &hasher) else {
                left.push((user_id, ResealFailure::InvalidUserId));
                continue;
            };
            let record = match service.store().load(&user_id).await {
                Ok(Some(loaded)) => loaded.record,
                Ok(None) => continue, // deleted meanwhile
                Err(error) => {
                    let failure = failure_of::<S>(ServiceError::Store(error))?;
                    left.push((user_id, failure));
                    continue;
                }
            };
            // The reseal transition, only looked at: `true` would mean a write was needed.
            let looked = record
                .reseal(&ctx)
                .save_with(|_| Ok::<(), std::convert::Infallible>(()));
            let Ok(outcome) = looked;
            match outcome.result {
                Ok(false) => {}
                Ok(true) => left.push((user_id, ResealFailure::NotCurrent)),
                Err(error) => left.push((user_id, ResealFailure::Sealing(error))),
            }
        }
    }
}

/// What one user's failure is, or the error that stops the whole run.
fn failure_of<S: ListUsers>(
    error: ServiceError<S::Error>,
) -> Result<ResealFailure, ServiceError<S::Error>> {
    match error {
        ServiceError::InvalidUserId => Ok(ResealFailure::InvalidUserId),
        ServiceError::Contention => Ok(ResealFailure::Contention),
        ServiceError::Store(e) if S::concerns_one_record(&e) => {
            Ok(ResealFailure::Store(Arc::new(e)))
        }
        other => Err(other),
    }
}
