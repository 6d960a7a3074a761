//! The conformance kit for `Store` implementations: it accepts correct stores (also shared
//! through `&S` and `Arc<S>`) and rejects stores that mix users up.
#![cfg(feature = "testing")]

use std::sync::Arc;

use twofa::account::TwoFactorRecord;
use twofa::store::conformance::{check_store, distinct_user_id_pairs};
use twofa::store::{MemoryStore, SaveOutcome, Store, Versioned};

/// A store that keys records by a rewritten user id, as a database column might.
struct RewritingStore {
    inner: MemoryStore,
    rewrite: fn(&str) -> String,
}

impl Store for RewritingStore {
    type Error = twofa::Error;

    async fn load(&self, user_id: &str) -> Result<Option<Versioned>, twofa::Error> {
        self.inner.load(&(self.rewrite)(user_id)).await
    }

    async fn save(
        &self,
        user_id: &str,
        record: &TwoFactorRecord,
        expected_version: Option<u64>,
    ) -> Result<SaveOutcome, twofa::Error> {
        self.inner
            .save(&(self.rewrite)(user_id), record, expected_version)
            .await
    }

    async fn delete(&self, user_id: &str) -> Result<bool, twofa::Error> {
        self.inner.delete(&(self.rewrite)(user_id)).await
    }
}

/// A `VARCHAR(24)` in a database that truncates silently.
fn truncate_to_24_bytes(id: &str) -> String {
    let mut end = id.len().min(24);
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    id[..end].to_string()
}

/// A case-insensitive collation (MySQL's default).
fn fold_case(id: &str) -> String {
    id.to_lowercase()
}

/// A `PAD SPACE` collation.
fn trim_trailing_spaces(id: &str) -> String {
    id.trim_end_matches(' ').to_string()
}

fn rewriting(rewrite: fn(&str) -> String) -> RewritingStore {
    RewritingStore {
        inner: MemoryStore::new(),
        rewrite,
    }
}

#[tokio::test]
async fn a_correct_store_passes_also_shared_by_reference_and_arc() {
    check_store(&MemoryStore::new()).await.unwrap();
    let shared = Arc::new(MemoryStore::new());
    check_store(&Arc::clone(&shared)).await.unwrap();
    let borrowed = MemoryStore::new();
    check_store(&&borrowed).await.unwrap();
    // Through the Arc, the records landed in the one shared store.
    assert!(!shared.is_empty());
}

#[tokio::test]
async fn the_kit_rejects_a_store_that_truncates_user_ids() {
    let failure = check_store(&rewriting(truncate_to_24_bytes))
        .await
        .unwrap_err();
    assert_eq!(failure.check, "distinct user ids");
    assert!(failure.detail.contains("255-byte"), "{failure}");
}

#[tokio::test]
async fn the_kit_rejects_a_store_that_folds_case() {
    let failure = check_store(&rewriting(fold_case)).await.unwrap_err();
    assert_eq!(failure.check, "distinct user ids");
    assert!(failure.detail.contains("case"), "{failure}");
}

#[tokio::test]
async fn the_kit_rejects_a_store_that_ignores_trailing_spaces() {
    let failure = check_store(&rewriting(trim_trailing_spaces))
        .await
        .unwrap_err();
    assert!(failure.detail.contains("trailing space"), "{failure}");
}

/// A store that deletes a row outright and starts a re-inserted one at version 1 again: the
/// "versions never restart" pitfall.
#[derive(Default)]
struct RestartingStore(std::sync::Mutex<std::collections::HashMap<String, Versioned>>);

impl Store for RestartingStore {
    type Error = twofa::Error;

    async fn load(&self, user_id: &str) -> Result<Option<Versioned>, twofa::Error> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(user_id)
            .cloned())
    }

    async fn save(
        &self,
        user_id: &str,
        record: &TwoFactorRecord,
        expected_version: Option<u64>,
    ) -> Result<SaveOutcome, twofa::Error> {
        let mut rows = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let next = match (rows.get(user_id), expected_version) {
            (None, None) => 1,
            (Some(row), Some(expected)) if row.version == expected => expected + 1,
            _ => return Ok(SaveOutcome::Conflict),
        };
        let record = record.clone();
        rows.insert(
            user_id.into(),
            Versioned {
                record,
                version: next,
            },
        );
        Ok(SaveOutcome::Saved)
    }

    async fn delete(&self, user_id: &str) -> Result<bool, twofa::Error> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(user_id)
            .is_some())
    }
}

#[tokio::test]
async fn the_kit_rejects_a_store_whose_versions_restart_after_a_deletion() {
    let failure = check_store(&RestartingStore::default()).await.unwrap_err();
    assert_eq!(failure.check, "delete");
    assert!(failure.detail.contains("never restart"), "{failure}");
}

#[test]
fn the_id_pairs_cover_long_case_and_non_ascii_ids_within_255_bytes() {
    let pairs = distinct_user_id_pairs();
    for (what, a, b) in &pairs {
        assert_ne!(a, b, "{what}");
        assert!(a.len() <= 255 && b.len() <= 255, "{what}");
        assert!(!a.chars().chain(b.chars()).any(char::is_control), "{what}");
    }
    // 255-byte ids sharing 254 bytes.
    assert!(pairs.iter().any(|(_, a, b)| a.len() == 255
        && b.len() == 255
        && a.as_bytes()[..254] == b.as_bytes()[..254]));
    assert!(
        pairs
            .iter()
            .any(|(_, a, b)| a != b && a.to_lowercase() == b.to_lowercase())
    );
    assert!(
        pairs
            .iter()
            .any(|(_, a, b)| !a.is_ascii() && a.len() == 255 && b.len() == 255)
    );
    // "é" precomposed and decomposed.
    assert!(
        pairs
            .iter()
            .any(|(_, a, b)| a.ends_with('\u{e9}') && b.ends_with("e\u{301}"))
    );
}
