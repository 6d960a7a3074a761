//! The service's `tracing` output, printed by `tracing-subscriber`: enable, sign in, a replay,
//! wrong codes into a lockout.
//!
//! ```sh
//! cargo run --example tracing --features tracing
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use twofa::account::{DeviceKey, PasswordConfirmed, Settings, ThrottlePolicy};
use twofa::seal::AesGcmSealer;
use twofa::store::{Clock as _, MemoryStore, SystemClock, TwoFactor};
use twofa::{Error, Pbkdf2Hasher};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Once, at start-up: print spans and events on stderr. Every flow runs in a span
    // `twofa.flow{flow="verify_code"}`; nothing secret is in any field.
    tracing_subscriber::fmt().init();

    // A clock the example moves, so that throttling delays pass at once.
    let clock = Arc::new(AtomicU64::new(SystemClock.now()?));
    let time = Arc::clone(&clock);

    let key = AesGcmSealer::generate_key()?;
    let tf = TwoFactor::new(
        MemoryStore::new(),
        Settings::new("Plausible Analytics")?
            .device_key(DeviceKey::generate())
            // A short fuse, to reach the lockout in a few lines.
            .throttle(
                ThrottlePolicy::default()
                    .free_attempts(1)
                    .lockout_after(3)?,
            ),
        Arc::new(AesGcmSealer::new("2026-11", &*key)?),
        Arc::new(Pbkdf2Hasher::new()),
    )
    .with_clock(Arc::new(move || time.load(Ordering::SeqCst)));
    // The user id is personal data, so it is in no span or event unless you opt in, where
    // your logs may hold it: `.with_user_ids_in_spans(true)` adds `user_id` to each span.

    let check = |_user: &str, password: &str| password == "correct horse";
    let now = tf.now()?;
    let proof = PasswordConfirmed::check(&check, "user-42", "correct horse", now)?;
    let enrollment = tf
        .start_enrollment("user-42", Some(&proof), "alice@example.com")
        .await?
        .result?;
    let phone = enrollment.uri().to_totp()?;
    tf.confirm_enrollment("user-42", &phone.generate(now).to_string())
        .await?
        .result?;

    // A sign-in, and the same code again: refused, and logged as a replay (WARN).
    let code = phone.generate(now + 30).to_string();
    tf.verify_code("user-42", &code).await?.result?;
    let again = tf.verify_code("user-42", &code).await?;
    assert_eq!(again.result.err(), Some(Error::ReplayedCode));

    // Wrong codes a minute apart: refused (INFO), throttled (INFO), then locked out (WARN).
    for _ in 0..3 {
        let now = clock.fetch_add(60, Ordering::SeqCst) + 60;
        let near: Vec<String> = (0..3)
            .map(|i| phone.generate(now + i * 30 - 30).to_string())
            .collect();
        let wrong = (0..)
            .map(|n| format!("{n:06}"))
            .find(|c| !near.contains(c))
            .unwrap_or_default();
        let outcome = tf.verify_code("user-42", &wrong).await?;
        assert!(outcome.result.is_err());
    }
    Ok(())
}
