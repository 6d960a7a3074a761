//! A correct in-memory store for tests, examples and prototypes.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::{SaveOutcome, Store, Versioned};
use crate::Error;
use crate::account::TwoFactorRecord;

/// A [`Store`] in a mutex-guarded map, for tests, examples and prototypes; everything is lost
/// when the process ends.
///
/// Records are kept in their encoded form, as a database would keep them, so every load
/// goes through [`TwoFactorRecord::from_bytes`] (the binary form, as in a `BYTEA` or `BLOB`
/// column: the text form would add a base64 pass each way to every sign-in).
///
/// ```
/// # tokio_test_block_on(async {
/// use twofa::account::TwoFactorRecord;
/// use twofa::store::{MemoryStore, SaveOutcome, Store};
///
/// let store = MemoryStore::new();
/// assert!(store.load("u1").await?.is_none());
/// assert_eq!(store.save("u1", &TwoFactorRecord::new(), None).await?, SaveOutcome::Saved);
/// assert_eq!(store.save("u1", &TwoFactorRecord::new(), None).await?, SaveOutcome::Conflict);
/// let loaded = store.load("u1").await?.unwrap();
/// assert_eq!(store.save("u1", &loaded.record, Some(loaded.version)).await?, SaveOutcome::Saved);
/// # Ok::<(), twofa::Error>(()) }).unwrap();
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let waker = std::task::Waker::noop();
/// #     let mut cx = std::task::Context::from_waker(&waker);
/// #     let mut f = std::pin::pin!(f);
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// ```
#[derive(Default)]
pub struct MemoryStore {
    rows: Mutex<Rows>,
}

/// The records, and the highest version a deleted record had: a record inserted later starts
/// above it (see [Deletion](super#deletion)).
#[derive(Default)]
struct Rows {
    by_user: HashMap<String, (Vec<u8>, u64)>,
    high_water: u64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many users have a record.
    pub fn len(&self) -> usize {
        self.rows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_user
            .len()
    }

    /// Whether no user has a record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for MemoryStore {
    /// Shows how many users have a record; never the records, which hold hashes and sealed
    /// secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("users", &self.len())
            .finish()
    }
}

impl Store for MemoryStore {
    type Error = Error;

    async fn load(&self, user_id: &str) -> Result<Option<Versioned>, Error> {
        // Decoded under the lock, from the row itself: no copy of the bytes.
        let rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        match rows.by_user.get(user_id) {
            None => Ok(None),
            Some((bytes, version)) => Ok(Some(Versioned {
                record: TwoFactorRecord::from_bytes(bytes)?,
                version: *version,
            })),
        }
    }

    async fn save(
        &self,
        user_id: &str,
        record: &TwoFactorRecord,
        expected_version: Option<u64>,
    ) -> Result<SaveOutcome, Error> {
        let mut rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        let first = rows.high_water.wrapping_add(1);
        match (rows.by_user.get_mut(user_id), expected_version) {
            (None, None) => {
                rows.by_user
                    .insert(user_id.into(), (record.to_bytes(), first));
            }
            // Written over the row in place: its buffer is reused, its key kept.
            (Some((bytes, version)), Some(expected)) if *version == expected => {
                record.write_bytes(bytes);
                *version = version.wrapping_add(1);
            }
            _ => return Ok(SaveOutcome::Conflict),
        }
        Ok(SaveOutcome::Saved)
    }

    async fn delete(&self, user_id: &str) -> Result<bool, Error> {
        let mut rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        match rows.by_user.remove(user_id) {
            None => Ok(false),
            Some((_, version)) => {
                rows.high_water = rows.high_water.max(version);
                Ok(true)
            }
        }
    }
}
