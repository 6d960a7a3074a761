//! One suite run against every storage backend: memory, SQLite (a file per test) and
//! PostgreSQL (a schema per test, on the server named by `TWOFA_TEST_POSTGRES_URL`).
#![cfg(all(feature = "sqlite", feature = "postgres"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: fail loudly

mod common;

use serde_json::json;
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use twofa_axum::limits::{Attempt, AttemptPolicy};
use twofa_axum::storage::{PasswordAttempts, SessionInfo, Storage, session_handle};

use common::{SqlDatabase, unique_name};

/// Runs each named suite function against every backend.
macro_rules! suite {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(twofa_axum::storage::MemoryStorage::new()).await;
                }
            )*
        }

        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let database = crate::common::SqliteDatabase::new().await;
                    super::$test(crate::common::SqlDatabase::storage(&database)).await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(database) = crate::common::PostgresDatabase::new().await else {
                        return;
                    };
                    super::$test(crate::common::SqlDatabase::storage(&database)).await;
                    database.drop_schema().await;
                }
            )*
        }
    };
}

/// Runs each named function, which takes a [`SqlDatabase`], against SQLite and PostgreSQL.
macro_rules! sql_suite {
    ($($test:ident),* $(,)?) => {
        mod sqlite_only {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let database = crate::common::SqliteDatabase::new().await;
                    super::$test(&database).await;
                }
            )*
        }

        mod postgres_only {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(database) = crate::common::PostgresDatabase::new().await else {
                        return;
                    };
                    super::$test(&database).await;
                    database.drop_schema().await;
                }
            )*
        }
    };
}

suite!(
    create_load_save_delete_round_trip,
    create_with_a_taken_id_draws_a_new_one,
    a_save_after_delete_does_not_bring_the_session_back,
    a_save_of_a_never_created_id_creates_nothing,
    expired_sessions_are_not_loaded_and_delete_expired_removes_them,
    sessions_of_lists_the_users_unexpired_sessions_newest_sign_in_first,
    end_session_with_another_users_handle_ends_nothing,
    end_other_sessions_keeps_the_given_one_and_other_users_sessions,
    free_attempts_are_allowed_then_refused_until_the_wait_is_over,
    a_count_is_forgotten_after_forget_after,
    clear_attempts_forgets_the_key,
    purge_attempts_deletes_counts_older_than_the_cutoff,
    concurrent_attempts_for_one_key_are_each_counted,
);

sql_suite!(
    migrate_twice_keeps_the_data,
    concurrent_attempts_from_two_pools_are_each_counted,
    the_stored_key_is_the_handle_not_the_id,
    unreadable_stored_data_is_an_error,
    an_unreadable_attempt_count_is_an_error,
);

/// Several servers starting at once on an empty database all migrate without an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_concurrent_migrations_all_succeed() {
    let Some(database) = common::PostgresDatabase::without_tables().await else {
        return;
    };
    let mut servers = Vec::new();
    for _ in 0..4 {
        servers.push(database.second_storage().await);
    }
    let tasks: Vec<_> = servers
        .into_iter()
        .map(|storage| tokio::spawn(async move { storage.migrate().await }))
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let storage = database.storage();
    let mut record = signed_in(&unique_name("user"), Some(100), None, 100);
    storage.create(&mut record).await.unwrap();
    assert!(storage.load(&record.id).await.unwrap().is_some());
    database.drop_schema().await;
}

// The suite.

async fn create_load_save_delete_round_trip<S: Storage>(storage: S) {
    let mut record = anonymous();
    let id = record.id;
    storage.create(&mut record).await.unwrap();
    assert_eq!(record.id, id, "a fresh id does not collide");
    assert_eq!(
        storage.load(&record.id).await.unwrap(),
        Some(record.clone())
    );

    record
        .data
        .insert("csrf".to_owned(), json!("another token"));
    record.expiry_date = in_seconds(7200);
    storage.save(&record).await.unwrap();
    assert_eq!(
        storage.load(&record.id).await.unwrap(),
        Some(record.clone())
    );

    storage.delete(&record.id).await.unwrap();
    assert_eq!(storage.load(&record.id).await.unwrap(), None);
    // Deleting what is gone is not an error.
    storage.delete(&record.id).await.unwrap();
}

async fn create_with_a_taken_id_draws_a_new_one<S: Storage>(storage: S) {
    let mut first = anonymous();
    storage.create(&mut first).await.unwrap();
    let mut second = signed_in(&unique_name("user"), Some(100), None, 100);
    second.id = first.id;
    storage.create(&mut second).await.unwrap();

    assert_ne!(second.id, first.id);
    assert_eq!(storage.load(&first.id).await.unwrap(), Some(first.clone()));
    assert_eq!(
        storage.load(&second.id).await.unwrap(),
        Some(second.clone())
    );
    storage.delete(&first.id).await.unwrap();
    storage.delete(&second.id).await.unwrap();
}

async fn a_save_after_delete_does_not_bring_the_session_back<S: Storage>(storage: S) {
    let user = unique_name("user");
    let mut record = signed_in(&user, Some(100), Some("Firefox on Linux"), 100);
    storage.create(&mut record).await.unwrap();

    // A request loads the session; meanwhile the user signs out; then the request ends and
    // saves what it loaded.
    let mut in_flight = storage.load(&record.id).await.unwrap().unwrap();
    storage.delete(&record.id).await.unwrap();
    in_flight
        .data
        .insert("csrf".to_owned(), json!("written late"));
    storage.save(&in_flight).await.unwrap();

    assert_eq!(storage.load(&record.id).await.unwrap(), None);
    assert_eq!(storage.sessions_of(&user).await.unwrap(), []);
}

async fn a_save_of_a_never_created_id_creates_nothing<S: Storage>(storage: S) {
    let user = unique_name("user");
    let record = signed_in(&user, Some(100), None, 100);
    storage.save(&record).await.unwrap();
    assert_eq!(storage.load(&record.id).await.unwrap(), None);
    assert_eq!(storage.sessions_of(&user).await.unwrap(), []);
}

async fn expired_sessions_are_not_loaded_and_delete_expired_removes_them<S: Storage>(storage: S) {
    let mut live = anonymous();
    let mut expired = anonymous();
    expired.expiry_date = in_seconds(-60);
    let mut revived = anonymous();
    revived.expiry_date = in_seconds(-60);
    for record in [&mut live, &mut expired, &mut revived] {
        storage.create(record).await.unwrap();
    }
    assert_eq!(storage.load(&expired.id).await.unwrap(), None);
    assert_eq!(storage.load(&revived.id).await.unwrap(), None);

    // An expired session not yet deleted is still there for a save to extend: what shows,
    // below, that `delete_expired` removed the other one.
    revived.expiry_date = in_seconds(3600);
    storage.save(&revived).await.unwrap();
    assert_eq!(storage.load(&revived.id).await.unwrap(), Some(revived));

    storage.delete_expired().await.unwrap();
    expired.expiry_date = in_seconds(3600);
    storage.save(&expired).await.unwrap();
    assert_eq!(storage.load(&expired.id).await.unwrap(), None);
    assert_eq!(storage.load(&live.id).await.unwrap(), Some(live));
}

async fn sessions_of_lists_the_users_unexpired_sessions_newest_sign_in_first<S: Storage>(
    storage: S,
) {
    let user = unique_name("user");
    let other = unique_name("user");
    let mut older = signed_in(&user, Some(1_000), Some("Firefox on Linux"), 1_500);
    let mut newer = signed_in(&user, Some(2_000), Some("Safari on iOS"), 2_500);
    let mut factor_due = signed_in(&user, None, None, 3_000);
    let mut expired = signed_in(&user, Some(4_000), Some("Old phone"), 4_000);
    expired.expiry_date = in_seconds(-60);
    let mut others = signed_in(&other, Some(5_000), Some("Edge on Windows"), 5_000);
    let mut nobodys = anonymous();
    for record in [
        &mut older,
        &mut newer,
        &mut factor_due,
        &mut expired,
        &mut others,
        &mut nobodys,
    ] {
        storage.create(record).await.unwrap();
    }

    let info = |record: &Record, label: Option<&str>, signed_in_at, last_seen| SessionInfo {
        handle: session_handle(&record.id),
        label: label.map(str::to_owned),
        signed_in_at,
        last_seen,
    };
    assert_eq!(
        storage.sessions_of(&user).await.unwrap(),
        [
            info(&newer, Some("Safari on iOS"), Some(2_000), 2_500),
            info(&older, Some("Firefox on Linux"), Some(1_000), 1_500),
            info(&factor_due, None, None, 3_000),
        ]
    );
    assert_eq!(
        storage.sessions_of(&other).await.unwrap(),
        [info(&others, Some("Edge on Windows"), Some(5_000), 5_000)]
    );

    // A save updates what the list shows: the second factor passed, a later request.
    factor_due = Record {
        data: signed_in(&user, Some(3_100), Some("Chrome on Android"), 3_200).data,
        ..factor_due
    };
    storage.save(&factor_due).await.unwrap();
    assert_eq!(
        storage.sessions_of(&user).await.unwrap()[0],
        info(&factor_due, Some("Chrome on Android"), Some(3_100), 3_200)
    );

    storage.end_other_sessions(&user, None).await.unwrap();
    storage.end_other_sessions(&other, None).await.unwrap();
    storage.delete(&nobodys.id).await.unwrap();
}

async fn end_session_with_another_users_handle_ends_nothing<S: Storage>(storage: S) {
    let user = unique_name("user");
    let other = unique_name("user");
    let mut mine = signed_in(&user, Some(100), None, 100);
    let mut theirs = signed_in(&other, Some(100), None, 100);
    storage.create(&mut mine).await.unwrap();
    storage.create(&mut theirs).await.unwrap();

    let ended = storage
        .end_session(&user, &session_handle(&theirs.id))
        .await;
    assert!(!ended.unwrap());
    assert!(storage.load(&theirs.id).await.unwrap().is_some());
    assert!(!storage.end_session(&user, "no such handle").await.unwrap());

    assert!(
        storage
            .end_session(&user, &session_handle(&mine.id))
            .await
            .unwrap()
    );
    assert_eq!(storage.load(&mine.id).await.unwrap(), None);
    assert!(
        !storage
            .end_session(&user, &session_handle(&mine.id))
            .await
            .unwrap()
    );

    storage.delete(&theirs.id).await.unwrap();
}

async fn end_other_sessions_keeps_the_given_one_and_other_users_sessions<S: Storage>(storage: S) {
    let user = unique_name("user");
    let other = unique_name("user");
    let mut current = signed_in(&user, Some(100), None, 100);
    let mut second = signed_in(&user, Some(200), None, 200);
    let mut factor_due = signed_in(&user, None, None, 300);
    let mut theirs = signed_in(&other, Some(100), None, 100);
    let mut nobodys = anonymous();
    for record in [
        &mut current,
        &mut second,
        &mut factor_due,
        &mut theirs,
        &mut nobodys,
    ] {
        storage.create(record).await.unwrap();
    }

    let ended = storage.end_other_sessions(&user, Some(&current.id)).await;
    assert_eq!(ended.unwrap(), 2);
    assert!(storage.load(&current.id).await.unwrap().is_some());
    assert_eq!(storage.load(&second.id).await.unwrap(), None);
    assert_eq!(storage.load(&factor_due.id).await.unwrap(), None);
    assert!(storage.load(&theirs.id).await.unwrap().is_some());
    assert!(storage.load(&nobodys.id).await.unwrap().is_some());

    // Without a session to keep, all of the user's go.
    assert_eq!(storage.end_other_sessions(&user, None).await.unwrap(), 1);
    assert_eq!(storage.load(&current.id).await.unwrap(), None);
    assert_eq!(storage.sessions_of(&other).await.unwrap().len(), 1);

    storage.delete(&theirs.id).await.unwrap();
    storage.delete(&nobodys.id).await.unwrap();
}

async fn free_attempts_are_allowed_then_refused_until_the_wait_is_over<S: Storage>(storage: S) {
    let key = unique_name("account");
    let policy = AttemptPolicy::new(2, 10, 100, 1_000);
    let answers = [
        (T, Attempt::Allowed),
        (T, Attempt::Allowed),
        // The third is checked, and makes the key wait 10 s.
        (T, Attempt::Allowed),
        (T + 5, Attempt::Refused { retry_at: T + 10 }),
        (T + 9, Attempt::Refused { retry_at: T + 10 }),
        (T + 10, Attempt::Allowed),
        (T + 29, Attempt::Refused { retry_at: T + 30 }),
    ];
    for (now, expected) in answers {
        let answer = storage.begin_attempt(&key, &policy, now).await.unwrap();
        assert_eq!(answer, expected, "at T + {}", now - T);
    }
    storage.clear_attempts(&key).await.unwrap();
}

async fn a_count_is_forgotten_after_forget_after<S: Storage>(storage: S) {
    let key = unique_name("account");
    let policy = AttemptPolicy::new(1, 10, 100, 1_000);
    for _ in 0..2 {
        assert_eq!(
            storage.begin_attempt(&key, &policy, T).await.unwrap(),
            Attempt::Allowed
        );
    }
    // More than `forget_after` since the last attempt: the count starts again at one, so one
    // more attempt is free and the next waits the first delay.
    let later = T + 1_001;
    let answers = [
        Attempt::Allowed,
        Attempt::Allowed,
        Attempt::Refused {
            retry_at: later + 10,
        },
    ];
    for expected in answers {
        let answer = storage.begin_attempt(&key, &policy, later).await.unwrap();
        assert_eq!(answer, expected);
    }
    storage.clear_attempts(&key).await.unwrap();
}

async fn clear_attempts_forgets_the_key<S: Storage>(storage: S) {
    let key = unique_name("account");
    let other = unique_name("account");
    let policy = AttemptPolicy::new(0, 60, 60, 1_000);
    for key in [&key, &other] {
        assert_eq!(
            storage.begin_attempt(key, &policy, T).await.unwrap(),
            Attempt::Allowed
        );
    }
    storage.clear_attempts(&key).await.unwrap();
    assert_eq!(
        storage.begin_attempt(&key, &policy, T).await.unwrap(),
        Attempt::Allowed
    );
    assert_eq!(
        storage.begin_attempt(&other, &policy, T).await.unwrap(),
        Attempt::Refused { retry_at: T + 60 }
    );
    // Clearing what is not there is not an error.
    storage
        .clear_attempts(&unique_name("account"))
        .await
        .unwrap();
    storage.clear_attempts(&key).await.unwrap();
    storage.clear_attempts(&other).await.unwrap();
}

async fn purge_attempts_deletes_counts_older_than_the_cutoff<S: Storage>(storage: S) {
    let old = unique_name("address");
    let recent = unique_name("address");
    let policy = AttemptPolicy::new(0, 1_000, 1_000, 100_000);
    let charged = [(&old, T), (&recent, T + 100)];
    for (key, now) in charged {
        assert_eq!(
            storage.begin_attempt(key, &policy, now).await.unwrap(),
            Attempt::Allowed
        );
    }

    assert_eq!(storage.purge_attempts(T + 50).await.unwrap(), 1);
    assert_eq!(storage.purge_attempts(T + 50).await.unwrap(), 0);
    // The old key's block went with its count; the recent one's is still there.
    assert_eq!(
        storage.begin_attempt(&old, &policy, T + 200).await.unwrap(),
        Attempt::Allowed
    );
    assert_eq!(
        storage
            .begin_attempt(&recent, &policy, T + 200)
            .await
            .unwrap(),
        Attempt::Refused {
            retry_at: T + 1_100
        }
    );
    storage.clear_attempts(&old).await.unwrap();
    storage.clear_attempts(&recent).await.unwrap();
}

async fn concurrent_attempts_for_one_key_are_each_counted<S: Storage>(storage: S) {
    let key = unique_name("account");
    let servers: Vec<S> = (0..20).map(|_| storage.clone()).collect();
    assert_burst_is_counted(servers, &key).await;
    storage.clear_attempts(&key).await.unwrap();
}

// The tests that need plain SQL.

async fn migrate_twice_keeps_the_data<D: SqlDatabase>(database: &D) {
    let storage = database.storage();
    let mut record = signed_in(&unique_name("user"), Some(100), None, 100);
    storage.create(&mut record).await.unwrap();
    let key = unique_name("account");
    let policy = AttemptPolicy::new(0, 60, 60, 1_000);
    storage.begin_attempt(&key, &policy, T).await.unwrap();

    // `new` migrated once already.
    database.migrate(&storage).await;
    database.migrate(&storage).await;

    assert_eq!(storage.load(&record.id).await.unwrap(), Some(record));
    assert_eq!(
        storage.begin_attempt(&key, &policy, T).await.unwrap(),
        Attempt::Refused { retry_at: T + 60 }
    );
}

async fn concurrent_attempts_from_two_pools_are_each_counted<D: SqlDatabase>(database: &D) {
    let key = unique_name("account");
    let first = database.storage();
    let second = database.second_storage().await;
    let servers: Vec<D::Storage> = (0..20)
        .map(|i| (if i % 2 == 0 { &first } else { &second }).clone())
        .collect();
    assert_burst_is_counted(servers, &key).await;
}

async fn the_stored_key_is_the_handle_not_the_id<D: SqlDatabase>(database: &D) {
    let storage = database.storage();
    let user = unique_name("user");
    let mut record = signed_in(&user, Some(100), Some("Firefox on Linux"), 150);
    storage.create(&mut record).await.unwrap();

    let handle = session_handle(&record.id);
    let found = database
        .select_int(format!(
            "SELECT COUNT(*) FROM twofa_sessions WHERE handle = '{handle}' \
             AND user_id = '{user}' AND signed_in_at = 100 AND last_seen = 150 \
             AND label = 'Firefox on Linux' AND expires_at = {}",
            record.expiry_date.unix_timestamp()
        ))
        .await;
    assert_eq!(found, 1);
    let id = record.id.to_string();
    let with_id = database
        .select_int(format!(
            "SELECT COUNT(*) FROM twofa_sessions \
             WHERE handle LIKE '%{id}%' OR data LIKE '%{id}%'"
        ))
        .await;
    assert_eq!(with_id, 0, "the session id is not stored");
}

async fn unreadable_stored_data_is_an_error<D: SqlDatabase>(database: &D) {
    let storage = database.storage();
    let mut record = anonymous();
    storage.create(&mut record).await.unwrap();
    let handle = session_handle(&record.id);
    let changed = database
        .execute(format!(
            "UPDATE twofa_sessions SET data = 'not json' WHERE handle = '{handle}'"
        ))
        .await;
    assert_eq!(changed, 1);

    let loaded = storage.load(&record.id).await;
    assert!(
        matches!(loaded, Err(session_store::Error::Decode(_))),
        "{loaded:?}"
    );
}

async fn an_unreadable_attempt_count_is_an_error<D: SqlDatabase>(database: &D) {
    let storage = database.storage();
    let key = unique_name("account");
    let policy = AttemptPolicy::new(4, 60, 900, 86_400);
    storage.begin_attempt(&key, &policy, T).await.unwrap();
    let changed = database
        .execute(format!(
            "UPDATE twofa_password_attempts SET attempts = -1 WHERE key = '{key}'"
        ))
        .await;
    assert_eq!(changed, 1);

    assert!(storage.begin_attempt(&key, &policy, T).await.is_err());
}

// Helpers.

/// A fixed "now" for attempt counts.
const T: u64 = 1_700_000_000;

/// 20 attempts for `key` at once, each through its own clone of a server's storage: the 4
/// free ones and the 5th (which starts the wait) are allowed, the other 15 refused.
async fn assert_burst_is_counted<S: Storage>(servers: Vec<S>, key: &str) {
    let policy = AttemptPolicy::new(4, 60, 900, 86_400);
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(servers.len()));
    let tasks: Vec<_> = servers
        .into_iter()
        .map(|storage| {
            let key = key.to_owned();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                storage.begin_attempt(&key, &policy, T).await
            })
        })
        .collect();
    let mut allowed = 0;
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Attempt::Allowed => allowed += 1,
            Attempt::Refused { retry_at } => {
                assert_eq!(retry_at, T + 60);
                refused += 1;
            }
        }
    }
    assert_eq!((allowed, refused), (5, 15));
}

/// A session that belongs to nobody yet, expiring in an hour (a whole second, as the SQL
/// stores keep it).
fn anonymous() -> Record {
    Record {
        id: Id::default(),
        data: [("csrf".to_owned(), json!("a token"))].into(),
        expiry_date: in_seconds(3600),
    }
}

/// A session of `user_id`, with the crate's state as `AuthState` writes it, expiring in an
/// hour.
fn signed_in(
    user_id: &str,
    signed_in_at: Option<u64>,
    label: Option<&str>,
    last_seen: u64,
) -> Record {
    let state = json!({
        "user_id": user_id,
        "password_at": last_seen,
        "factor": null,
        "signed_in_at": signed_in_at,
        "label": label,
        "last_seen": last_seen,
    });
    Record {
        id: Id::default(),
        data: [
            ("twofa".to_owned(), state),
            ("csrf".to_owned(), json!("a token")),
        ]
        .into(),
        expiry_date: in_seconds(3600),
    }
}

/// `seconds` from now, in whole seconds.
fn in_seconds(seconds: i64) -> OffsetDateTime {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    OffsetDateTime::from_unix_timestamp(now + seconds).unwrap()
}
