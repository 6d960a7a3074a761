//! Key rotation over the whole table: every record resealed under the sealer's current key.

use std::future::Future;
use std::sync::Arc;

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
}

/// Where a [`reseal_all`] run stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResealProgress {
    /// Users handled so far, counting those before the resume cursor.
    pub done: u64,
    /// Users in the table (counted when the run started; raised if more turn up).
    pub total: u64,
    /// Records this run resealed (the others had no secret or were already current).
    pub resealed: u64,
    /// Users whose record could not be resealed (a key the sealer no longer has, say), and
    /// why. Their records are unchanged.
    pub failed: Vec<(String, twofa::Error)>,
    /// The last user id done: pass it as `resume_after` to continue after an interruption.
    pub cursor: Option<String>,
}

/// Reseals every user's secret under the service's current sealing key, `batch_size` users
/// at a time, calling `on_progress` after each batch.
///
/// Each record goes through [`TwoFactor::reseal`], a compare-and-swap like every flow, so
/// sign-ins running meanwhile are never lost; a record already under the current key is not
/// written. Users are taken in byte order of their ids: after an interruption, pass the last
/// [`ResealProgress::cursor`] seen as `resume_after` and the run continues there (resealing a
/// record twice is harmless).
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
/// [`ServiceError::Store`] when the store fails, [`ServiceError::Contention`] when one
/// record keeps changing. Resume from the last cursor reported to `on_progress`.
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
            match service.reseal(&user_id).await?.result {
                Ok(true) => progress.resealed += 1,
                Ok(false) => {}
                Err(error) => progress.failed.push((user_id, error)),
            }
            progress.done += 1;
        }
        progress.total = progress.total.max(progress.done);
        progress.cursor = Some(cursor.clone());
        on_progress(&progress);
    }
}
