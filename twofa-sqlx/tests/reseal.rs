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
use twofa_sqlx::{
    ListUsers, PostgresStore, ResealCursor, ResealFailure, ResealProgress, SqliteStore, reseal_all,
    users_left,
};

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

/// `n` users with a pending enrolment under key `k1` (a sealed secret, no key derivation):
/// `user-0000`, `user-0001`…
async fn many_users<S: Store>(store: &S, n: usize) -> Vec<String>
where
    S::Error: std::fmt::Debug,
{
    let tf = service(store, T0);
    let mut users = Vec::new();
    for i in 0..n {
        let user = format!("user-{i:04}");
        tf.start_enrollment(&user, None, "someone@example.com")
            .await
            .unwrap()
            .result
            .unwrap();
        users.push(user);
    }
    users
}

/// Inserts a row behind the store's back, in either store.
trait PlantPool {
    async fn plant(self, insert: &str, user: &str, record: &str);
}

impl PlantPool for &SqliteStore {
    async fn plant(self, insert: &str, user: &str, record: &str) {
        sqlx::query(sqlx::AssertSqlSafe(insert.replace('$', "?")))
            .bind(user)
            .bind(record)
            .execute(self.pool())
            .await
            .unwrap();
    }
}

impl PlantPool for &PostgresStore {
    async fn plant(self, insert: &str, user: &str, record: &str) {
        sqlx::query(sqlx::AssertSqlSafe(insert.to_owned()))
            .bind(user)
            .bind(record)
            .execute(self.pool())
            .await
            .unwrap();
    }
}

async fn a_damaged_row_and_a_refused_id_are_listed_and_every_other_user_rotated<S>(store: S)
where
    S: ListUsers<Error = twofa_sqlx::Error> + Clone + 'static,
    for<'e> &'e S: PlantPool,
{
    let users = many_users(&store, 500).await;
    // In the middle, in byte order: a row that does not decode, and an id the core refuses.
    let damaged = "user-0250-damaged";
    let refused = format!("user-0251-{}", "x".repeat(300));
    let insert = |table: &str| {
        format!("INSERT INTO \"{table}\" (user_id, record, version) VALUES ($1, $2, 1)")
    };
    let table = store.location().rsplit('#').next().unwrap().to_owned();
    let blank = twofa::account::TwoFactorRecord::new().encode();
    (&store)
        .plant(&insert(&table), damaged, "twofa-but-not-a-record")
        .await;
    (&store).plant(&insert(&table), &refused, &blank).await;

    let rotate = with_keys(store.clone(), T0 + 30, &[("k2", NEW_KEY), ("k1", KEY)]);
    let mut batches = 0;
    let report = reseal_all(&rotate, None, 64, |_| batches += 1)
        .await
        .unwrap();
    assert_eq!(
        (report.done, report.total, report.resealed),
        (502, 502, 500)
    );
    assert_eq!(batches, 8);
    let failed: Vec<(&str, &ResealFailure)> =
        report.failed.iter().map(|(u, f)| (u.as_str(), f)).collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!(failed[0].0, damaged);
    match failed[0].1 {
        ResealFailure::Store(e) => assert!(matches!(
            e.downcast_ref::<twofa_sqlx::Error>(),
            Some(twofa_sqlx::Error::Record { .. })
        )),
        other => panic!("{other:?}"),
    }
    assert_eq!(failed[1].0, refused);
    assert!(matches!(failed[1].1, ResealFailure::InvalidUserId));

    // The check, writing nothing, lists exactly those two; every other user is on k2.
    let sealer = AesGcmSealer::new("k2", &NEW_KEY)
        .unwrap()
        .with_old_key("k1", &KEY)
        .unwrap();
    let left = users_left(&rotate, &sealer, 100).await.unwrap();
    let left: Vec<&str> = left.iter().map(|(u, _)| u.as_str()).collect();
    assert_eq!(left, [damaged, refused.as_str()]);
    // Even a sealer without the old key finds every other record readable.
    let only_new = AesGcmSealer::new("k2", &NEW_KEY).unwrap();
    let left = users_left(&rotate, &only_new, 100).await.unwrap();
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(users.len(), 500);
    // Before the run, the check lists everyone.
    let fresh = SqliteStore::open_in_memory().await.unwrap();
    let _ = many_users(&fresh, 3).await;
    let before = with_keys(fresh, T0, &[("k2", NEW_KEY), ("k1", KEY)]);
    let left = users_left(&before, &sealer, 2).await.unwrap();
    assert_eq!(left.len(), 3);
    assert!(
        left.iter()
            .all(|(_, why)| matches!(why, ResealFailure::NotCurrent))
    );
}

#[tokio::test]
async fn sqlite_a_damaged_row_and_a_refused_id_among_500_users_are_listed() {
    a_damaged_row_and_a_refused_id_are_listed_and_every_other_user_rotated(
        sqlite_file_store().await,
    )
    .await;
}

#[tokio::test]
async fn postgres_a_damaged_row_and_a_refused_id_among_500_users_are_listed() {
    if let Some(store) = postgres_store().await {
        a_damaged_row_and_a_refused_id_are_listed_and_every_other_user_rotated(store).await;
    }
}

#[tokio::test]
async fn an_interrupted_run_resumes_from_its_cursor_and_finishes() {
    let store = sqlite_file_store().await;
    let _ = many_users(&store, 500).await;
    let rotate = with_keys(store.clone(), T0 + 30, &[("k2", NEW_KEY), ("k1", KEY)]);
    let location = store.location();

    // The first run is killed after its second batch (its future dropped mid-batch); the
    // cursor file holds what `on_progress` wrote last.
    let mut file = String::new();
    let stop = tokio::sync::Notify::new();
    let first = reseal_all(&rotate, None, 64, |p| {
        let mut cursor = ResealCursor::new(&location, "k2");
        cursor.advance(p.cursor.as_deref().unwrap());
        file = cursor.to_text();
        if p.done >= 128 {
            stop.notify_one();
        }
    });
    tokio::select! {
        _ = first => panic!("the run should have been interrupted"),
        () = stop.notified() => {}
    }
    let sealer = AesGcmSealer::new("k2", &NEW_KEY)
        .unwrap()
        .with_old_key("k1", &KEY)
        .unwrap();
    let left_then = users_left(&rotate, &sealer, 100).await.unwrap().len();
    assert!((300..=372).contains(&left_then), "{left_then}");

    // The rerun reads the file, resumes where it stood, and finishes.
    let cursor = ResealCursor::from_text(&file).unwrap();
    let after = cursor.resume(&location, "k2").unwrap().map(str::to_owned);
    assert_eq!(after.as_deref(), Some("user-0127"));
    let second = reseal_all(&rotate, after.as_deref(), 64, |_| {})
        .await
        .unwrap();
    assert_eq!((second.done, second.total), (500, 500));
    assert!(second.failed.is_empty());
    assert!(users_left(&rotate, &sealer, 100).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_stale_cursor_from_another_database_table_or_key_is_refused() {
    let (a, b) = (sqlite_file_store().await, sqlite_file_store().await);
    let mut cursor = ResealCursor::new(&a.location(), "k2");
    cursor.advance("user-0400");
    let cursor = ResealCursor::from_text(&cursor.to_text()).unwrap();
    assert_eq!(
        cursor.resume(&a.location(), "k2").unwrap(),
        Some("user-0400")
    );
    assert_ne!(a.location(), b.location());
    let other_table = SqliteStore::builder_with_pool(a.pool().clone())
        .table_name(twofa_sqlx::TableName::new("other_2fa").unwrap())
        .open()
        .await
        .unwrap();
    let mut elsewhere = vec![
        (b.location(), "k2"),
        (other_table.location(), "k2"),
        (a.location(), "k3"),
    ];
    if let Some(pg) = postgres_store().await {
        elsewhere.push((pg.location(), "k2"));
    }
    for (location, key) in elsewhere {
        let error = cursor.resume(&location, key).unwrap_err();
        assert!(
            matches!(&error, twofa_sqlx::Error::ForeignCursor { location: l, .. } if *l == location),
            "{error}"
        );
        assert!(error.to_string().contains("another run"), "{error}");
    }
    // Followed anyway, that cursor would have skipped the first 401 users of B.
    let _ = many_users(&b, 450).await;
    let on_b = with_keys(b.clone(), T0 + 30, &[("k2", NEW_KEY), ("k1", KEY)]);
    let skipped = reseal_all(&on_b, Some("user-0400"), 100, |_| {})
        .await
        .unwrap();
    assert_eq!(skipped.resealed, 49);
}

/// A store whose database goes away for one user's load: an outage, not that user's fault.
#[derive(Clone)]
struct DownFor<S> {
    inner: S,
    user: String,
}

impl<S: Store<Error = twofa_sqlx::Error>> Store for DownFor<S> {
    type Error = twofa_sqlx::Error;

    async fn load(
        &self,
        user_id: &str,
    ) -> Result<Option<twofa::store::Versioned>, twofa_sqlx::Error> {
        if user_id == self.user {
            return Err(twofa_sqlx::Error::Unavailable {
                outage: twofa_sqlx::Outage::TimedOut,
                error: None,
            });
        }
        self.inner.load(user_id).await
    }

    async fn save(
        &self,
        user_id: &str,
        record: &twofa::account::TwoFactorRecord,
        expected: Option<u64>,
    ) -> Result<twofa::store::SaveOutcome, twofa_sqlx::Error> {
        self.inner.save(user_id, record, expected).await
    }

    async fn delete(&self, user_id: &str) -> Result<bool, twofa_sqlx::Error> {
        self.inner.delete(user_id).await
    }
}

impl<S: ListUsers<Error = twofa_sqlx::Error>> ListUsers for DownFor<S> {
    async fn count_users_after(&self, after: &str) -> Result<u64, twofa_sqlx::Error> {
        self.inner.count_users_after(after).await
    }

    async fn user_ids_after(
        &self,
        after: &str,
        limit: u32,
    ) -> Result<Vec<String>, twofa_sqlx::Error> {
        self.inner.user_ids_after(after, limit).await
    }

    fn location(&self) -> String {
        self.inner.location()
    }

    fn concerns_one_record(error: &twofa_sqlx::Error) -> bool {
        S::concerns_one_record(error)
    }
}

/// A damaged row is listed and the run goes on; an outage stops the run with the error
/// (listing every later user as failed would hide it), wherever the store is shared.
async fn an_outage_stops_the_run_and_a_damaged_row_does_not<S>(store: S)
where
    S: ListUsers<Error = twofa_sqlx::Error> + Clone + 'static,
    for<'e> &'e S: PlantPool,
{
    let _ = many_users(&store, 30).await;
    let table = store.location().rsplit('#').next().unwrap().to_owned();
    let insert = format!("INSERT INTO \"{table}\" (user_id, record, version) VALUES ($1, $2, 1)");
    (&store)
        .plant(&insert, "user-0005-damaged", "garbage")
        .await;
    let down = Arc::new(DownFor {
        inner: store.clone(),
        user: "user-0020".into(),
    });
    assert_eq!(down.location(), store.location());
    let rotate = with_keys(Arc::clone(&down), T0 + 30, &[("k2", NEW_KEY), ("k1", KEY)]);
    let mut seen = Vec::new();
    let error = reseal_all(&rotate, None, 8, |p| seen.push(p.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            twofa::store::ServiceError::Store(twofa_sqlx::Error::Unavailable { .. })
        ),
        "{error}"
    );
    // The batches before the outage were done, the damaged row among them listed.
    let last = seen.last().unwrap();
    assert_eq!(last.cursor.as_deref(), Some("user-0014"));
    assert_eq!(last.failed.len(), 1);
    let (user, why) = &last.failed[0];
    assert_eq!(user, "user-0005-damaged");
    assert!(
        why.to_string().starts_with("cannot read the record: "),
        "{why}"
    );
}

#[tokio::test]
async fn sqlite_an_outage_stops_the_run_and_a_damaged_row_does_not() {
    an_outage_stops_the_run_and_a_damaged_row_does_not(sqlite_file_store().await).await;
}

#[tokio::test]
async fn postgres_an_outage_stops_the_run_and_a_damaged_row_does_not() {
    if let Some(store) = postgres_store().await {
        an_outage_stops_the_run_and_a_damaged_row_does_not(store).await;
    }
}

#[test]
fn each_failure_says_why_in_words() {
    let cases = [
        (
            ResealFailure::InvalidUserId,
            "the user id is one twofa refuses",
        ),
        (
            ResealFailure::Contention,
            "the record kept changing; run again",
        ),
        (ResealFailure::NotCurrent, "still sealed under an older key"),
        (
            ResealFailure::Sealing(twofa::Error::InvalidUserId),
            "cannot reseal: ",
        ),
    ];
    for (failure, words) in cases {
        assert!(failure.to_string().starts_with(words), "{failure}");
    }
}
