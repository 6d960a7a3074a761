//! [`MemoryStorage`]: sessions and attempt counts in this process's memory, for tests and
//! single-process tools. Everything is lost at exit, and two processes do not share it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};

use super::{
    PasswordAttempts, SessionIndex, SessionInfo, StorageError, UserSessions, session_handle,
};
use crate::limits::{Attempt, AttemptPolicy};

/// Sessions and password-attempt counts in memory. Clones share the same data. `Debug`
/// shows the counts, not the sessions.
#[derive(Clone, Default)]
pub struct MemoryStorage {
    inner: Arc<Mutex<Inner>>,
}

impl std::fmt::Debug for MemoryStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.lock();
        f.debug_struct("MemoryStorage")
            .field("sessions", &inner.sessions.len())
            .field("attempt_counts", &inner.attempts.len())
            .finish()
    }
}

#[derive(Default)]
struct Inner {
    /// By [`session_handle`].
    sessions: HashMap<String, Record>,
    /// Key → (attempts, last attempt, blocked until).
    attempts: HashMap<String, (u32, u64, u64)>,
}

impl MemoryStorage {
    /// Empty storage.
    pub fn new() -> Self {
        MemoryStorage::default()
    }

    /// How many sessions are stored (expired ones included until purged).
    pub fn session_count(&self) -> usize {
        self.lock().sessions.len()
    }

    /// How many password-attempt counts are stored.
    pub fn attempt_count(&self) -> usize {
        self.lock().attempts.len()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind, still consistent.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl SessionStore for MemoryStorage {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let mut inner = self.lock();
        while inner.sessions.contains_key(&session_handle(&record.id)) {
            record.id = Id::default();
        }
        inner
            .sessions
            .insert(session_handle(&record.id), record.clone());
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        // Never creates: a session deleted while a request was in flight stays deleted.
        if let Some(stored) = self.lock().sessions.get_mut(&session_handle(&record.id)) {
            *stored = record.clone();
        }
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let now = OffsetDateTime::now_utc();
        Ok(self
            .lock()
            .sessions
            .get(&session_handle(id))
            .filter(|record| record.expiry_date > now)
            .cloned())
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.lock().sessions.remove(&session_handle(id));
        Ok(())
    }
}

#[async_trait]
impl ExpiredDeletion for MemoryStorage {
    async fn delete_expired(&self) -> session_store::Result<()> {
        let now = OffsetDateTime::now_utc();
        self.lock()
            .sessions
            .retain(|_, record| record.expiry_date > now);
        Ok(())
    }
}

#[async_trait]
impl UserSessions for MemoryStorage {
    async fn sessions_of(&self, user_id: &str) -> Result<Vec<SessionInfo>, StorageError> {
        let now = OffsetDateTime::now_utc();
        let mut found: Vec<SessionInfo> = self
            .lock()
            .sessions
            .iter()
            .filter(|(_, record)| record.expiry_date > now)
            .filter_map(|(handle, record)| {
                let index = SessionIndex::of(record).filter(|i| i.user_id == user_id)?;
                Some(SessionInfo {
                    handle: handle.clone(),
                    label: index.label,
                    signed_in_at: index.signed_in_at,
                    last_seen: index.last_seen,
                })
            })
            .collect();
        found.sort_by_key(|info| std::cmp::Reverse(info.signed_in_at));
        Ok(found)
    }

    async fn end_session(&self, user_id: &str, handle: &str) -> Result<bool, StorageError> {
        let mut inner = self.lock();
        let owned = inner
            .sessions
            .get(handle)
            .and_then(SessionIndex::of)
            .is_some_and(|index| index.user_id == user_id);
        if owned {
            inner.sessions.remove(handle);
        }
        Ok(owned)
    }

    async fn end_other_sessions(
        &self,
        user_id: &str,
        keep: Option<&Id>,
    ) -> Result<u64, StorageError> {
        let keep = keep.map(session_handle);
        let mut inner = self.lock();
        let before = inner.sessions.len();
        inner.sessions.retain(|handle, record| {
            Some(handle) == keep.as_ref()
                || SessionIndex::of(record).is_none_or(|index| index.user_id != user_id)
        });
        Ok((before - inner.sessions.len()) as u64)
    }
}

#[async_trait]
impl PasswordAttempts for MemoryStorage {
    async fn begin_attempt(
        &self,
        key: &str,
        policy: &AttemptPolicy,
        now: u64,
    ) -> Result<Attempt, StorageError> {
        let mut inner = self.lock();
        let stored = inner.attempts.get(key).copied();
        if let Some((_, _, blocked_until)) = stored
            && blocked_until > now
        {
            return Ok(Attempt::Refused {
                retry_at: blocked_until,
            });
        }
        let (attempts, blocked_until) =
            policy.charge(stored.map(|(attempts, last, _)| (attempts, last)), now);
        inner
            .attempts
            .insert(key.to_owned(), (attempts, now, blocked_until));
        Ok(Attempt::Allowed)
    }

    async fn refund_attempt(&self, key: &str) -> Result<(), StorageError> {
        if let Some((attempts, _, _)) = self.lock().attempts.get_mut(key) {
            *attempts = attempts.saturating_sub(1);
        }
        Ok(())
    }

    async fn clear_attempts(&self, key: &str) -> Result<(), StorageError> {
        self.lock().attempts.remove(key);
        Ok(())
    }

    async fn purge_attempts(&self, before: u64) -> Result<u64, StorageError> {
        let mut inner = self.lock();
        let count = inner.attempts.len();
        inner.attempts.retain(|_, (_, last, _)| *last >= before);
        Ok((count - inner.attempts.len()) as u64)
    }
}
