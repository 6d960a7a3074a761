//! The service's `tracing` output: a span per flow, warnings for replays and lockouts, and
//! nothing secret in any field.
#![cfg(all(feature = "tracing", feature = "danger-plaintext-sealer"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::collections::BTreeSet;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

use twofa::account::{
    DeviceKey, Event as TwoFactorEvent, PasswordConfirmed, Reauthentication, Settings,
    ThrottlePolicy, TwoFactorRecord,
};
use twofa::seal::DangerPlaintextSealer;
use twofa::store::{MemoryStore, SaveOutcome, ServiceError, Store, TwoFactor, Versioned};
use twofa::{Error, Pbkdf2Hasher, Totp};

/// Distinctive, so that a search for it cannot miss it or find it by chance.
const USER: &str = "zz-traced-user-Q7X4";
const T0: u64 = 1_700_000_000;
const LOCKOUT_AFTER: u32 = 4;

/// Every flow of the service, by the name its span carries.
const FLOWS: [&str; 15] = [
    "record",
    "status",
    "start_enrollment",
    "cancel_enrollment",
    "confirm_enrollment",
    "verify_code",
    "use_recovery_code",
    "regenerate_recovery_codes",
    "disable",
    "trust_device",
    "sign_in_with_device",
    "revoke_device",
    "revoke_all_devices",
    "unlock",
    "reseal",
];

#[tokio::test(flavor = "current_thread")]
async fn every_flow_has_its_span_and_no_field_holds_a_secret_or_the_user_id() {
    let (spans, events, secrets) = run_traced(false).await;

    let flows: BTreeSet<&str> = spans.iter().filter_map(|s| s.field("flow")).collect();
    assert_eq!(flows, FLOWS.into_iter().collect::<BTreeSet<_>>());
    for span in &spans {
        assert_eq!(
            (span.name, span.target.as_str(), span.level),
            ("twofa.flow", "twofa", Level::INFO)
        );
        assert_eq!(span.field("user_id"), None, "{span:?}");
    }

    let replay = find_event(&events, "replay_detected");
    assert_eq!(replay.level, Level::WARN);
    assert_eq!(
        spans[replay.span.unwrap()].field("flow"),
        Some("verify_code")
    );

    let lockout = find_event(&events, "locked_out");
    assert_eq!(lockout.level, Level::WARN);
    assert_eq!(
        spans[lockout.span.unwrap()].field("flow"),
        Some("verify_code")
    );
    assert_eq!(lockout.field("failures"), Some(&*LOCKOUT_AFTER.to_string()));
    assert!(lockout.field("until").is_some(), "{lockout:?}");

    // A wrong code: the flow's error, at INFO, inside its span.
    let refused = events
        .iter()
        .find(|e| e.field("error") == Some(&*Error::InvalidCode.to_string()))
        .expect("an event for the wrong code");
    assert_eq!(refused.level, Level::INFO);
    assert_eq!(
        spans[refused.span.unwrap()].field("flow"),
        Some("verify_code")
    );

    for kind in [
        "enrollment_started",
        "enrollment_cancelled",
        "enabled",
        "throttled",
        "unlocked",
        "recovery_code_used",
        "device_trusted",
        "device_revoked",
        "recovery_codes_regenerated",
        "all_devices_revoked",
        "disabled",
    ] {
        let event = find_event(&events, kind);
        assert_eq!(event.level, Level::INFO, "{event:?}");
        assert!(event.span.is_some(), "{event:?}");
    }
    assert_eq!(
        find_event(&events, "recovery_code_used").field("remaining"),
        Some("9")
    );

    let mut forbidden = secrets;
    forbidden.push(USER.to_owned());
    assert_nothing_leaked(&spans, &events, &forbidden);
}

#[tokio::test(flavor = "current_thread")]
async fn the_user_id_appears_only_in_spans_and_only_when_the_host_opts_in() {
    let (spans, events, secrets) = run_traced(true).await;

    assert!(!spans.is_empty());
    for span in &spans {
        assert_eq!(span.field("user_id"), Some(USER), "{span:?}");
    }
    // Nowhere else: not in another span field, not in any event.
    let others: Vec<Captured> = spans
        .iter()
        .map(|span| Captured {
            fields: span
                .fields
                .iter()
                .filter(|(name, _)| name != "user_id")
                .cloned()
                .collect(),
            ..span.clone()
        })
        .collect();
    let mut forbidden = secrets;
    forbidden.push(USER.to_owned());
    assert_nothing_leaked(&others, &events, &forbidden);
}

/// A store that fails, with an error whose text holds the user id: the event names the
/// failure, at ERROR, and leaves the text (the host's) out. A store that always conflicts:
/// the flow gives up, at WARN.
#[tokio::test(flavor = "current_thread")]
async fn a_failed_store_is_an_error_and_contention_a_warning_naming_only_the_kind() {
    let capture = Capture::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    let clock = Arc::new(AtomicU64::new(T0));

    let broken = service_over(BrokenStore, clock.clone());
    let failed = broken.verify_code(USER, "123456").await.unwrap_err();
    assert!(matches!(failed, ServiceError::Store(_)), "{failed:?}");
    assert!(failed.to_string().contains(USER)); // the store's text, which the log must not hold
    let conflicting = service_over(ConflictingStore, clock).with_max_retries(1);
    let gave_up = conflicting.revoke_all_devices(USER).await.unwrap_err();
    assert!(matches!(gave_up, ServiceError::Contention), "{gave_up:?}");

    let spans = capture.spans.lock().unwrap().clone();
    let events = capture.events.lock().unwrap().clone();
    let kinds: Vec<(Level, Option<&str>, Option<&str>)> = events
        .iter()
        .map(|e| {
            (
                e.level,
                e.field("error"),
                spans[e.span.unwrap()].field("flow"),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (Level::ERROR, Some("store"), Some("verify_code")),
            (Level::WARN, Some("contention"), Some("revoke_all_devices")),
        ]
    );
    assert_nothing_leaked(&spans, &events, &[USER.to_owned(), "123456".to_owned()]);
}

/// Runs every flow under a capturing subscriber: the spans, the events, and every secret the
/// test saw or typed (secrets, manual keys, codes, recovery codes with and without the dash,
/// the device token and id).
async fn run_traced(user_ids_in_spans: bool) -> (Vec<Captured>, Vec<Captured>, Vec<String>) {
    let capture = Capture::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));

    let clock = Arc::new(AtomicU64::new(T0));
    let tf = service(clock.clone()).with_user_ids_in_spans(user_ids_in_spans);
    let secrets = run_every_flow(&tf, &clock).await;

    let spans = capture.spans.lock().unwrap().clone();
    let events = capture.events.lock().unwrap().clone();
    (spans, events, secrets)
}

/// The whole life of a user's 2FA through the service, every flow at least once.
async fn run_every_flow(tf: &TwoFactor<MemoryStore>, clock: &AtomicU64) -> Vec<String> {
    let mut secrets = Vec::new();
    let mut now = T0;

    assert_eq!(
        tf.status(USER).await.unwrap(),
        twofa::account::Status::Disabled
    );
    let first = tf
        .start_enrollment(USER, Some(&password(now)), "alice@example.com")
        .await
        .unwrap()
        .result
        .unwrap();
    secrets.push(first.uri().secret().to_base32().to_string());
    secrets.push(first.manual_key().to_string());
    tf.cancel_enrollment(USER).await.unwrap().result.unwrap();

    let enrollment = tf
        .start_enrollment(USER, Some(&password(now)), "alice@example.com")
        .await
        .unwrap()
        .result
        .unwrap();
    secrets.push(enrollment.uri().secret().to_base32().to_string());
    secrets.push(enrollment.manual_key().to_string());
    let app: Totp = enrollment.uri().to_totp().unwrap();
    let code = typed(app.generate(now).to_string(), &mut secrets);
    let codes = tf
        .confirm_enrollment(USER, &code)
        .await
        .unwrap()
        .result
        .unwrap();
    let codes: Vec<String> = codes.iter().map(str::to_owned).collect();
    secrets.extend(codes.iter().cloned());
    secrets.extend(codes.iter().map(|c| c.replace('-', "")));

    // Sign in, then the same code again: a replay.
    now += 30;
    clock.store(now, Ordering::SeqCst);
    let code = typed(app.generate(now).to_string(), &mut secrets);
    tf.verify_code(USER, &code).await.unwrap().result.unwrap();
    let again = tf.verify_code(USER, &code).await.unwrap();
    assert_eq!(again.result.unwrap_err(), Error::ReplayedCode);

    // Wrong codes up to the lockout, each after any delay has passed.
    let mut locked = false;
    for wrong in wrong_codes(&app, now, 2 * LOCKOUT_AFTER as usize) {
        now += 60;
        clock.store(now, Ordering::SeqCst);
        let wrong = typed(wrong, &mut secrets);
        let outcome = tf.verify_code(USER, &wrong).await.unwrap();
        if (outcome.events.iter()).any(|e| matches!(e, TwoFactorEvent::LockedOut { .. })) {
            locked = true;
            break;
        }
    }
    assert!(locked, "no lockout");
    tf.unlock(USER).await.unwrap().result.unwrap();

    // A recovery code, typed without its dash, then trust the device it signed in on.
    let signed_in = tf
        .use_recovery_code(USER, &codes[0].replace('-', "").to_lowercase())
        .await
        .unwrap()
        .result
        .unwrap();
    let token = tf
        .trust_device(USER, &signed_in, Some("Firefox"))
        .await
        .unwrap()
        .result
        .unwrap();
    secrets.push(token.as_str().to_owned());
    secrets.push(token.device_id().to_owned());
    let on_device = tf
        .sign_in_with_device(USER, token.as_str())
        .await
        .unwrap()
        .result
        .unwrap();
    assert!(!on_device.is_second_factor());
    let unknown = typed(format!("{}x", token.as_str()), &mut secrets);
    assert!(
        tf.sign_in_with_device(USER, &unknown)
            .await
            .unwrap()
            .result
            .is_err()
    );
    tf.revoke_device(USER, token.device_id())
        .await
        .unwrap()
        .result
        .unwrap();
    let other = tf
        .trust_device(USER, &signed_in, None)
        .await
        .unwrap()
        .result
        .unwrap();
    secrets.push(other.as_str().to_owned());
    secrets.push(other.device_id().to_owned());

    // New codes, confirmed with a current code.
    now += 30;
    clock.store(now, Ordering::SeqCst);
    let code = typed(app.generate(now).to_string(), &mut secrets);
    let new_codes = tf
        .regenerate_recovery_codes(USER, Reauthentication::Code(&code))
        .await
        .unwrap()
        .result
        .unwrap();
    secrets.extend(new_codes.iter().map(str::to_owned));
    secrets.extend(new_codes.iter().map(|c| c.replace('-', "")));

    tf.revoke_all_devices(USER).await.unwrap().result.unwrap();
    tf.reseal(USER).await.unwrap().result.unwrap();
    assert!(tf.record(USER).await.unwrap().is_some());
    tf.disable(USER, Reauthentication::Password(password(now)))
        .await
        .unwrap()
        .result
        .unwrap();
    secrets
}

/// `code`, noted among the secrets: the user typed it.
fn typed(code: String, secrets: &mut Vec<String>) -> String {
    secrets.push(code.clone());
    code
}

/// Fails naming the field when any span or event field holds one of `forbidden`. A code of
/// digits counts only where no other digit touches it, so that a time such as `1700000060`
/// does not count as the code `000006`.
fn assert_nothing_leaked(spans: &[Captured], events: &[Captured], forbidden: &[String]) {
    assert!(!events.is_empty() && !spans.is_empty());
    for captured in spans.iter().chain(events) {
        for (name, value) in &captured.fields {
            for secret in forbidden {
                assert!(
                    !contains(value, secret) && !contains(name, secret),
                    "{name} = {value:?} holds {secret:?}, in {captured:?}"
                );
            }
        }
    }
}

/// Whether `text` holds `needle`, case-insensitively; a needle of digits only where it is not
/// part of a longer number.
fn contains(text: &str, needle: &str) -> bool {
    let (text, needle) = (text.to_lowercase(), needle.to_lowercase());
    if !needle.bytes().all(|b| b.is_ascii_digit()) {
        return text.contains(&needle);
    }
    text.match_indices(&needle).any(|(at, _)| {
        let before = text[..at].bytes().next_back();
        let after = text[at + needle.len()..].bytes().next();
        !before.is_some_and(|b| b.is_ascii_digit()) && !after.is_some_and(|b| b.is_ascii_digit())
    })
}

fn find_event<'a>(events: &'a [Captured], kind: &str) -> &'a Captured {
    events
        .iter()
        .find(|e| e.field("event") == Some(kind))
        .unwrap_or_else(|| panic!("no {kind} event in {events:#?}"))
}

fn service(clock: Arc<AtomicU64>) -> TwoFactor<MemoryStore> {
    service_over(MemoryStore::new(), clock)
}

fn service_over<S: Store>(store: S, clock: Arc<AtomicU64>) -> TwoFactor<S> {
    let throttle = ThrottlePolicy::default()
        .free_attempts(2)
        .delays(1, 10)
        .lockout_after(LOCKOUT_AFTER)
        .unwrap();
    let settings = Settings::new("Plausible Analytics")
        .unwrap()
        .device_key(DeviceKey::from_bytes(&[5; 32]).unwrap())
        .throttle(throttle);
    TwoFactor::new(
        store,
        settings,
        Arc::new(DangerPlaintextSealer),
        Arc::new(Pbkdf2Hasher::new().with_iterations(1_000).unwrap()),
    )
    .with_clock(Arc::new(move || clock.load(Ordering::SeqCst)))
}

/// A store whose every call fails, naming the user.
struct BrokenStore;

impl Store for BrokenStore {
    type Error = std::io::Error;

    async fn load(&self, user_id: &str) -> Result<Option<Versioned>, Self::Error> {
        Err(std::io::Error::other(format!(
            "no connection for {user_id}"
        )))
    }

    async fn save(
        &self,
        user_id: &str,
        _: &TwoFactorRecord,
        _: Option<u64>,
    ) -> Result<SaveOutcome, Self::Error> {
        Err(std::io::Error::other(format!(
            "no connection for {user_id}"
        )))
    }

    async fn delete(&self, user_id: &str) -> Result<bool, Self::Error> {
        Err(std::io::Error::other(format!(
            "no connection for {user_id}"
        )))
    }
}

/// A store where someone else always saved first.
struct ConflictingStore;

impl Store for ConflictingStore {
    type Error = std::io::Error;

    async fn load(&self, _: &str) -> Result<Option<Versioned>, Self::Error> {
        let record = TwoFactorRecord::new();
        Ok(Some(Versioned { record, version: 1 }))
    }

    async fn save(
        &self,
        _: &str,
        _: &TwoFactorRecord,
        _: Option<u64>,
    ) -> Result<SaveOutcome, Self::Error> {
        Ok(SaveOutcome::Conflict)
    }

    async fn delete(&self, _: &str) -> Result<bool, Self::Error> {
        Ok(false)
    }
}

fn password(now: u64) -> PasswordConfirmed {
    let check = |user: &str, password: &str| user == USER && password == "correct horse";
    PasswordConfirmed::check(&check, USER, "correct horse", now).unwrap()
}

/// `count` six-digit codes that no step near `now` produces (a minute or more either way).
fn wrong_codes(app: &Totp, now: u64, count: usize) -> Vec<String> {
    let near: Vec<String> = (0..40)
        .map(|i| app.generate(now - 300 + i * 30).to_string())
        .collect();
    (0..1000)
        .map(|n| format!("{:06}", 314_159 + n * 7))
        .filter(|c| !near.contains(c))
        .take(count)
        .collect()
}

/// A span or an event, its fields as text.
#[derive(Debug, Clone)]
struct Captured {
    name: &'static str,
    target: String,
    level: Level,
    fields: Vec<(String, String)>,
    /// For an event: the index of its span in the captured spans.
    span: Option<usize>,
}

impl Captured {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A layer that keeps every span and event with all their fields.
#[derive(Clone, Default)]
struct Capture {
    spans: Arc<Mutex<Vec<Captured>>>,
    events: Arc<Mutex<Vec<Captured>>>,
}

/// A span's index in [`Capture::spans`], kept in the span's extensions.
struct SpanIndex(usize);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let mut spans = self.spans.lock().unwrap();
        spans.push(Captured {
            name: attrs.metadata().name(),
            target: attrs.metadata().target().to_owned(),
            level: *attrs.metadata().level(),
            fields: fields.0,
            span: None,
        });
        let span = ctx.span(id).expect("a new span");
        span.extensions_mut().insert(SpanIndex(spans.len() - 1));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        values.record(&mut fields);
        let span = ctx.span(id).expect("a recorded span");
        let index = span.extensions().get::<SpanIndex>().expect("an index").0;
        self.spans.lock().unwrap()[index].fields.extend(fields.0);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let span = ctx
            .event_span(event)
            .and_then(|span| span.extensions().get::<SpanIndex>().map(|index| index.0));
        self.events.lock().unwrap().push(Captured {
            name: event.metadata().name(),
            target: event.metadata().target().to_owned(),
            level: *event.metadata().level(),
            fields: fields.0,
            span,
        });
    }
}

/// Every field as text: strings as they are, everything else by `Debug`.
#[derive(Default)]
struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

/// A hasher of another scheme: a set made by PBKDF2 cannot be checked with it.
#[derive(Debug)]
struct OtherScheme;

impl twofa::CodeHasher for OtherScheme {
    fn algorithm(&self) -> &str {
        "other-scheme"
    }

    fn parameters(&self) -> String {
        String::new()
    }

    fn hash(&self, code: &[u8], _: &[u8], _: &str) -> Result<Vec<u8>, Error> {
        Ok(code.to_vec())
    }
}

/// A wrong recovery code is the user's doing, at INFO; a sealed secret that does not open or a
/// hasher that does not fit the stored set is the host's, at WARN.
#[tokio::test(flavor = "current_thread")]
async fn the_users_failures_are_info_and_the_hosts_are_warnings() {
    let capture = Capture::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    let clock = Arc::new(AtomicU64::new(T0));
    let store = Arc::new(MemoryStore::new());
    let tf = service_over(Arc::clone(&store), clock.clone());
    let enrollment = tf
        .start_enrollment(USER, Some(&password(T0)), "alice@example.com")
        .await
        .unwrap()
        .result
        .unwrap();
    let app = enrollment.uri().to_totp().unwrap();
    let code = app.generate(T0).to_string();
    tf.confirm_enrollment(USER, &code)
        .await
        .unwrap()
        .result
        .unwrap();
    capture.events.lock().unwrap().clear();

    let wrong = tf.use_recovery_code(USER, "AAAAA-AAAAA").await.unwrap();
    let wrong = wrong.result.unwrap_err();
    assert_eq!(wrong, Error::Recovery(twofa::RecoveryError::InvalidCode));
    let key = twofa::seal::AesGcmSealer::new("k1", &[9; 32]).unwrap();
    let sealed_elsewhere = service_over(Arc::clone(&store), clock.clone());
    let sealed_elsewhere = TwoFactor::new(
        Arc::clone(&store),
        sealed_elsewhere.settings().clone(),
        Arc::new(key),
        Arc::new(Pbkdf2Hasher::new()),
    )
    .with_clock(Arc::new(move || clock.load(Ordering::SeqCst)));
    let code = app.generate(T0 + 30).to_string();
    let unsealed = sealed_elsewhere.verify_code(USER, &code).await.unwrap();
    let unsealed = unsealed.result.unwrap_err();
    assert!(matches!(unsealed, Error::Seal(_)), "{unsealed:?}");
    let other_scheme = TwoFactor::new(
        Arc::clone(&store),
        tf.settings().clone(),
        Arc::new(DangerPlaintextSealer),
        Arc::new(OtherScheme),
    );
    let mismatch = other_scheme
        .use_recovery_code(USER, "AAAAA-AAAAA")
        .await
        .unwrap();
    let mismatch = mismatch.result.unwrap_err();
    assert!(
        matches!(mismatch, Error::Recovery(ref e) if *e != twofa::RecoveryError::InvalidCode),
        "{mismatch:?}"
    );

    let events = capture.events.lock().unwrap().clone();
    let levels: Vec<(Level, Option<&str>)> = events
        .iter()
        .filter(|e| e.field("error").is_some())
        .map(|e| (e.level, e.field("error")))
        .collect();
    assert_eq!(
        levels,
        [
            (Level::INFO, Some(&*wrong.to_string())),
            (Level::WARN, Some(&*unsealed.to_string())),
            (Level::WARN, Some(&*mismatch.to_string())),
        ]
    );
}

#[test]
fn a_store_failure_keeps_the_stores_error_as_its_source() {
    use std::error::Error as _;
    let failed = ServiceError::Store(std::io::Error::other("disk full"));
    let source = failed.source().expect("the store's error");
    assert_eq!(source.to_string(), "disk full");
    assert!(source.downcast_ref::<std::io::Error>().is_some());
    assert!(ServiceError::<std::io::Error>::Busy.source().is_none());
}
