//! Key rotation over the whole table: `reseal_all` in batches, resumable, with progress,
//! never losing a sign-in that runs meanwhile.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers: fail loudly

mod common;

use std::sync::Arc;

use common::*;
use twofa::account::Settings;
use twofa::seal::AesGcmSealer;
use twofa::store::{Store, TwoFactor};
use twofa::{Pbkdf2Hasher, Totp};
use twofa_sqlx::{ListUsers, ResealProgress, SqliteStore, reseal_all};

const NEW_KEY: [u8; 32] = [9; 32];

/// A service whose sealer has `keys` (the first is current).
fn with_keys<S: Store>(store: S, now: u64, keys: &[(&str, [u8; 32])]) -> TwoFactor<S> {
    let mut sealer = AesGcmSealer::new(keys[0].0, &keys[0].1).unwrap();
    for (id, key) in &keys[1..] {
        sealer = sealer.with_old_key(id, key).unwrap();
    }
    TwoFactor::new(
        store,
        Settings::new("twofa-sqlx tests").unwrap(),
        Arc::new(sealer),
        Arc::new(Pbkdf2Hasher::new().danger_with_iterations(10).unwrap()),
    )
    .with_clock(Arc::new(move || now))
}

/// 25 users with 2FA under key `k1`, and one without; ids in byte order.
async fn populate<S: Store + Clone>(store: &S) -> (Vec<String>, Vec<Totp>)
where
    S::Error: std::fmt::Debug,
{
    let mut users: Vec<String> = (0..25).map(|i| format!("user-{i:02}")).collect();
    let mut apps = Vec::new();
    for user in &users {
        apps.push(enable(store.clone(), user).await.0);
    }
    // A user without 2FA: counted, nothing to reseal.
    let _ = store
        .save("user-99", &twofa::account::TwoFactorRecord::new(), None)
        .await
        .unwrap();
    users.push("user-99".into());
    (users, apps)
}

async fn signs_in_with_new_key_only<S: Store>(store: S, user: &str, app: &Totp, now: u64) -> bool
where
    S::Error: std::fmt::Debug,
{
    let tf = with_keys(store, now, &[("k2", NEW_KEY)]);
    match tf.verify_code(user, &app.generate(now).to_string()).await {
        Ok(outcome) => outcome.result.is_ok(),
        Err(e) => panic!("{e:?}"),
    }
}

async fn rotation_is_resumable_and_reports_progress<S>(store: S)
where
    S: ListUsers + Clone + 'static,
    S::Error: std::fmt::Debug,
{
    let (users, apps) = populate(&store).await;
    let rotate = with_keys(store.clone(), T0 + 30, &[("k2", NEW_KEY), ("k1", KEY)]);

    // A run that was interrupted after the first ten users resumes after the tenth.
    let mut seen: Vec<ResealProgress> = Vec::new();
    let resumed = reseal_all(&rotate, Some(&users[9]), 4, |p| seen.push(p.clone()))
        .await
        .unwrap();
    assert_eq!((resumed.done, resumed.total), (26, 26));
    assert_eq!(resumed.resealed, 15);
    assert!(resumed.failed.is_empty());
    assert_eq!(resumed.cursor.as_deref(), Some("user-99"));
    let done: Vec<u64> = seen.iter().map(|p| p.done).collect();
    assert_eq!(done, [14, 18, 22, 26]);
    assert!(seen.iter().all(|p| p.total == 26));

    // Users before the cursor are still under the old key, users after it under the new.
    assert!(!signs_in_with_new_key_only(store.clone(), &users[0], &apps[0], T0 + 30).await);
    assert!(signs_in_with_new_key_only(store.clone(), &users[10], &apps[10], T0 + 30).await);

    // The whole run: only the ten left are written.
    let full = reseal_all(&rotate, None, 7, |_| {}).await.unwrap();
    assert_eq!((full.done, full.total, full.resealed), (26, 26, 10));
    for (user, app) in users.iter().zip(&apps).skip(1).take(9) {
        assert!(signs_in_with_new_key_only(store.clone(), user, app, T0 + 60).await);
    }
}

async fn rotation_loses_no_concurrent_sign_in<S>(store: S)
where
    S: ListUsers + Clone + 'static,
    S::Error: std::fmt::Debug,
{
    let (users, apps) = populate(&store).await;
    let now = T0 + 30;
    let rotate = Arc::new(with_keys(
        store.clone(),
        now,
        &[("k2", NEW_KEY), ("k1", KEY)],
    ));
    let rotation = {
        let rotate = Arc::clone(&rotate);
        tokio::spawn(async move { reseal_all(&*rotate, None, 3, |_| {}).await.unwrap() })
    };
    let sign_ins: Vec<_> = users
        .iter()
        .zip(&apps)
        .map(|(user, app)| {
            let (rotate, user, code) = (Arc::clone(&rotate), user.clone(), app.generate(now));
            tokio::spawn(async move {
                rotate
                    .verify_code(&user, &code.to_string())
                    .await
                    .unwrap()
                    .result
                    .is_ok()
            })
        })
        .collect();
    for ok in sign_ins {
        assert!(ok.await.unwrap());
    }
    let report = rotation.await.unwrap();
    assert_eq!(report.resealed, 25);
    // Every sign-in was kept: the same code is now a replay for every user.
    for (user, app) in users.iter().zip(&apps) {
        let again = rotate
            .verify_code(user, &app.generate(now).to_string())
            .await
            .unwrap();
        assert!(matches!(again.result, Err(twofa::Error::ReplayedCode)));
    }
}

#[tokio::test]
async fn sqlite_rotation_is_resumable_and_reports_progress() {
    rotation_is_resumable_and_reports_progress(SqliteStore::open_in_memory().await.unwrap()).await;
}

#[tokio::test]
async fn postgres_rotation_is_resumable_and_reports_progress() {
    if let Some(store) = postgres_store().await {
        rotation_is_resumable_and_reports_progress(store).await;
    }
}

#[tokio::test]
async fn sqlite_rotation_loses_no_concurrent_sign_in() {
    rotation_loses_no_concurrent_sign_in(sqlite_file_store().await).await;
}

#[tokio::test]
async fn postgres_rotation_loses_no_concurrent_sign_in() {
    if let Some(store) = postgres_store().await {
        rotation_loses_no_concurrent_sign_in(store).await;
    }
}

#[tokio::test]
async fn a_record_under_a_key_the_sealer_lacks_is_reported_and_left_alone() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    let _ = enable(store.clone(), "a").await;
    let before = store.load("a").await.unwrap().unwrap();
    let rotate = with_keys(store.clone(), T0 + 30, &[("k2", NEW_KEY)]);
    let report = reseal_all(&rotate, None, 10, |_| {}).await.unwrap();
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, "a");
    assert_eq!((report.done, report.resealed), (1, 0));
    assert_eq!(store.load("a").await.unwrap().unwrap(), before);
}

#[tokio::test]
async fn users_are_listed_in_byte_order_with_a_cursor() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    for id in ["b", "B", "a", "\u{e9}", "e\u{301}", "aa"] {
        let _ = store
            .save(id, &twofa::account::TwoFactorRecord::new(), None)
            .await
            .unwrap();
    }
    let mut expected = vec!["b", "B", "a", "\u{e9}", "e\u{301}", "aa"];
    expected.sort(); // Rust sorts `str` by bytes
    assert_eq!(store.user_ids_after("", 100).await.unwrap(), expected);
    assert_eq!(store.user_ids_after("a", 2).await.unwrap(), ["aa", "b"]);
    assert_eq!(store.count_users_after("b").await.unwrap(), 2);
    let Some(pg) = postgres_store().await else {
        return;
    };
    for id in &expected {
        let _ = pg
            .save(id, &twofa::account::TwoFactorRecord::new(), None)
            .await
            .unwrap();
    }
    assert_eq!(pg.user_ids_after("", 100).await.unwrap(), expected);
    assert_eq!(pg.user_ids_after("a", 2).await.unwrap(), ["aa", "b"]);
}
