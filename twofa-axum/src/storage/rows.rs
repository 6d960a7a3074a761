//! The rows both SQL backends read and write: a session's columns from its record, the
//! record back from its columns, and a key's attempt count, with the checked conversions
//! between Unix times and the databases' signed 64-bit integers.

use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store;

use super::{SessionIndex, SessionInfo, StorageError, unix_time};

/// A session's columns, from its record.
pub(super) struct SessionRow {
    pub(super) user_id: Option<String>,
    pub(super) label: Option<String>,
    pub(super) signed_in_at: Option<i64>,
    pub(super) last_seen: Option<i64>,
    pub(super) expires_at: i64,
    pub(super) data: String,
}

impl SessionRow {
    pub(super) fn of(record: &Record) -> Result<SessionRow, session_store::Error> {
        let data = serde_json::to_string(&record.data)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let index = SessionIndex::of(record);
        let signed_in_at = index
            .as_ref()
            .and_then(|index| index.signed_in_at)
            .map(encode_time)
            .transpose()?;
        let last_seen = index
            .as_ref()
            .map(|index| encode_time(index.last_seen))
            .transpose()?;
        let (user_id, label) = match index {
            Some(index) => (Some(index.user_id), index.label),
            None => (None, None),
        };
        Ok(SessionRow {
            user_id,
            label,
            signed_in_at,
            last_seen,
            expires_at: unix_time(record.expiry_date),
            data,
        })
    }
}

/// A Unix time of the session's state as the integer column holds it.
pub(super) fn encode_time(at: u64) -> Result<i64, session_store::Error> {
    i64::try_from(at).map_err(|e| session_store::Error::Encode(e.to_string()))
}

/// The record stored under `id`'s handle.
pub(super) fn decode_record(id: Id, data: &str, expires_at: i64) -> session_store::Result<Record> {
    let data =
        serde_json::from_str(data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
    let expiry_date = OffsetDateTime::from_unix_timestamp(expires_at)
        .map_err(|e| session_store::Error::Decode(e.to_string()))?;
    Ok(Record {
        id,
        data,
        expiry_date,
    })
}

/// A row of `sessions_of`.
pub(super) fn session_info(
    (handle, label, signed_in_at, last_seen): (String, Option<String>, Option<i64>, Option<i64>),
) -> Result<SessionInfo, StorageError> {
    let last_seen = last_seen
        .ok_or_else(|| StorageError::new("a stored session has a user but no last-seen time"))?;
    Ok(SessionInfo {
        handle,
        label,
        signed_in_at: signed_in_at.map(stored_time).transpose()?,
        last_seen: stored_time(last_seen)?,
    })
}

/// A key's stored count.
#[derive(Debug, Clone, Copy)]
pub(super) struct AttemptRow {
    pub(super) attempts: u32,
    pub(super) last_at: u64,
    pub(super) blocked_until: u64,
}

impl AttemptRow {
    pub(super) fn decode(
        (attempts, last_at, blocked_until): (i64, i64, i64),
    ) -> Result<Self, StorageError> {
        Ok(AttemptRow {
            attempts: u32::try_from(attempts).map_err(StorageError::new)?,
            last_at: stored_time(last_at)?,
            blocked_until: stored_time(blocked_until)?,
        })
    }

    pub(super) fn encode(self) -> Result<(i64, i64, i64), StorageError> {
        Ok((
            i64::from(self.attempts),
            column_time(self.last_at)?,
            column_time(self.blocked_until)?,
        ))
    }
}

/// A Unix time as the integer column holds it.
pub(super) fn column_time(at: u64) -> Result<i64, StorageError> {
    i64::try_from(at).map_err(StorageError::new)
}

/// A Unix time read from an integer column; a negative one is unreadable.
pub(super) fn stored_time(at: i64) -> Result<u64, StorageError> {
    u64::try_from(at).map_err(StorageError::new)
}
