//! The service's `tracing` output (feature `tracing`): a span per flow, and events for what
//! the flow reported and for a flow that failed.
//!
//! Everything is under the target `twofa`. Each flow of [`TwoFactor`](super::TwoFactor) runs
//! in an INFO span named `twofa.flow`, whose field `flow` names the method (`"verify_code"`).
//! Its field `user_id` is recorded only when the host opted in with
//! [`TwoFactor::with_user_ids_in_spans`](super::TwoFactor::with_user_ids_in_spans), and no
//! event carries the user id.
//!
//! When the flow ends, inside its span:
//!
//! | what | level | fields |
//! |---|---|---|
//! | [`Event::ReplayDetected`], [`Event::LockedOut`], [`Event::RecoveryCodesLockedOut`] | WARN | `event`; `failures`, `until` |
//! | [`Event::Throttled`], [`Event::RecoveryCodesThrottled`], [`Event::FailedAttempts`] | INFO | `event`, `failures`; `retry_at` |
//! | every other [`Event`] | INFO | `event`; `remaining` for a used recovery code |
//! | the flow's [`Error`] when the user caused it (a wrong code, throttled, a stale proof, …) | INFO | `error` |
//! | the flow's [`Error`] otherwise (a record or sealed secret that does not open, a bad setting, the clock) | WARN | `error` |
//! | [`ServiceError::Contention`], [`ServiceError::Busy`], [`ServiceError::InvalidUserId`] | WARN | `error` |
//! | [`ServiceError::Store`], [`ServiceError::BlockingPoolFailed`] | ERROR | `error` |
//!
//! Throttling and the failures reported at the next sign-in are INFO: each failed code was
//! logged already, a few typos are throttled as a matter of course, and the lockout, which
//! only a long run of failures reaches, is the WARN worth alerting on. A replay is WARN
//! because an honest user rarely types a used code twice (ASVS 2.8.5).
//!
//! No field holds a secret, a code, a recovery code, a token, a hash or a proof. Device ids
//! are left out too: they derive from the token's hash, and the host has them in the
//! [`Outcome`]. The `error` of a flow is the [`Error`]'s `Display`, which never holds any of
//! these; the store's own error is only named (`"store"`), since its text is the host's and
//! may hold anything; the host gets it in the `Err` it is returned.

use core::future::Future;

use tracing::Instrument as _;

use super::ServiceError;
use crate::Error;
use crate::account::{Event, Outcome, Status, TwoFactorRecord};
use crate::recovery::RecoveryError;

/// The target of every span and event.
const TARGET: &str = "twofa";

/// `run` inside the span of the flow named `flow`, reporting its result when it ends.
/// `user_id` is recorded in the span when `Some`: only pass it when the host opted in.
pub(super) fn flow<T: Report, E>(
    flow: &'static str,
    user_id: Option<&str>,
    run: impl Future<Output = Result<T, ServiceError<E>>>,
) -> impl Future<Output = Result<T, ServiceError<E>>> {
    let span = tracing::info_span!(
        target: TARGET,
        "twofa.flow",
        flow,
        user_id = tracing::field::Empty
    );
    if let Some(user_id) = user_id {
        span.record("user_id", user_id);
    }
    async move {
        let result = run.await;
        match &result {
            Ok(value) => value.report(),
            Err(error) => service_failed(error),
        }
        result
    }
    .instrument(span)
}

/// What a flow that completed has to report.
pub(super) trait Report {
    /// Emits the events of this result, inside the flow's span.
    fn report(&self);
}

impl<T> Report for Outcome<T> {
    fn report(&self) {
        if let Err(error) = &self.result {
            flow_failed(error);
        }
        for event in &self.events {
            report_event(event);
        }
    }
}

/// Reading a record reports nothing beyond its span.
impl Report for Option<TwoFactorRecord> {
    fn report(&self) {}
}

/// Reading a status reports nothing beyond its span.
impl Report for Status {
    fn report(&self) {}
}

/// Deleting a record reports nothing beyond its span.
impl Report for bool {
    fn report(&self) {}
}

/// One event per [`Event`]. The match has no wildcard on purpose: a new variant must be given
/// a level, and its fields checked for secrets, before the crate builds.
fn report_event(event: &Event) {
    match event {
        Event::ReplayDetected => tracing::warn!(
            target: TARGET,
            event = "replay_detected",
            "two-factor code replayed"
        ),
        Event::LockedOut { failures, until } => tracing::warn!(
            target: TARGET,
            event = "locked_out",
            failures,
            until,
            "two-factor locked out"
        ),
        Event::Throttled { failures, retry_at } => tracing::info!(
            target: TARGET,
            event = "throttled",
            failures,
            retry_at,
            "two-factor attempts throttled"
        ),
        Event::RecoveryCodesLockedOut { failures, until } => tracing::warn!(
            target: TARGET,
            event = "recovery_codes_locked_out",
            failures,
            until,
            "two-factor recovery codes locked out"
        ),
        Event::RecoveryCodesThrottled { failures, retry_at } => tracing::info!(
            target: TARGET,
            event = "recovery_codes_throttled",
            failures,
            retry_at,
            "two-factor recovery-code attempts throttled"
        ),
        Event::FailedAttempts { failures } => tracing::info!(
            target: TARGET,
            event = "failed_attempts",
            failures,
            "two-factor sign-in after failed attempts"
        ),
        Event::EnrollmentStarted => tracing::info!(
            target: TARGET,
            event = "enrollment_started",
            "two-factor enrolment started"
        ),
        Event::EnrollmentCancelled => tracing::info!(
            target: TARGET,
            event = "enrollment_cancelled",
            "two-factor enrolment cancelled"
        ),
        Event::Enabled => tracing::info!(
            target: TARGET,
            event = "enabled",
            "two-factor authentication enabled"
        ),
        Event::Disabled => tracing::info!(
            target: TARGET,
            event = "disabled",
            "two-factor authentication disabled"
        ),
        Event::RecoveryCodeUsed { remaining } => tracing::info!(
            target: TARGET,
            event = "recovery_code_used",
            remaining,
            "two-factor recovery code used"
        ),
        Event::RecoveryCodesRegenerated => tracing::info!(
            target: TARGET,
            event = "recovery_codes_regenerated",
            "two-factor recovery codes regenerated"
        ),
        Event::Unlocked => tracing::info!(
            target: TARGET,
            event = "unlocked",
            "two-factor lockout lifted"
        ),
        // The device id derives from the token's hash: left out (see the module docs).
        Event::DeviceTrusted { device_id: _ } => tracing::info!(
            target: TARGET,
            event = "device_trusted",
            "two-factor device trusted"
        ),
        Event::DeviceRevoked { device_id: _ } => tracing::info!(
            target: TARGET,
            event = "device_revoked",
            "two-factor device revoked"
        ),
        Event::DeviceEvicted { device_id: _ } => tracing::info!(
            target: TARGET,
            event = "device_evicted",
            "two-factor device evicted to make room"
        ),
        Event::AllDevicesRevoked => tracing::info!(
            target: TARGET,
            event = "all_devices_revoked",
            "two-factor devices all revoked"
        ),
        Event::SecretResealed => tracing::info!(
            target: TARGET,
            event = "secret_resealed",
            "two-factor secret resealed"
        ),
    }
}

/// The event of a flow that ended in `error`.
fn flow_failed(error: &Error) {
    if caused_by_user(error) {
        tracing::info!(target: TARGET, error = %error, "two-factor flow refused");
    } else {
        tracing::warn!(target: TARGET, error = %error, "two-factor flow failed");
    }
}

/// Whether `error` is the user's doing (a wrong code, a stale proof, a flow out of order),
/// as opposed to the host's configuration, its data or its clock. No wildcard, as in
/// [`report_event`].
fn caused_by_user(error: &Error) -> bool {
    match error {
        Error::InvalidCode
        | Error::ReplayedCode
        | Error::Throttled { .. }
        | Error::LockedOut
        | Error::NotEnabled
        | Error::NotPending
        | Error::AlreadyEnabled
        | Error::InvalidDeviceToken
        | Error::UnknownDevice
        | Error::InvalidPassword
        | Error::ReauthenticationRequired => true,
        Error::Recovery(error) => *error == RecoveryError::InvalidCode,
        Error::SecretTooShort { .. }
        | Error::SecretTooLong { .. }
        | Error::InvalidBase32Character { .. }
        | Error::InvalidBase32Length
        | Error::UnknownAlgorithm
        | Error::InvalidDigits { .. }
        | Error::InvalidPeriod
        | Error::WindowTooLarge { .. }
        | Error::TimeBeforeEpoch
        | Error::InvalidThrottlePolicy
        | Error::InvalidSetting { .. }
        | Error::InvalidUserId
        // The host passes the label; it should cut it to length.
        | Error::DeviceLabelTooLong
        | Error::InvalidRecord(_)
        | Error::Uri(_)
        | Error::Qr(_)
        | Error::Seal(_) => false,
    }
}

/// The event of a flow the service could not complete. No wildcard, as in [`report_event`].
fn service_failed<E>(error: &ServiceError<E>) {
    match error {
        ServiceError::Store(_) => tracing::error!(
            target: TARGET,
            error = "store",
            "two-factor store failed"
        ),
        ServiceError::BlockingPoolFailed => tracing::error!(
            target: TARGET,
            error = "blocking_pool_failed",
            "two-factor key derivation did not run"
        ),
        ServiceError::Busy => tracing::warn!(
            target: TARGET,
            error = "busy",
            "two-factor blocking pool full; flow refused"
        ),
        ServiceError::Contention => tracing::warn!(
            target: TARGET,
            error = "contention",
            "two-factor record kept changing; flow given up"
        ),
        ServiceError::InvalidUserId => tracing::warn!(
            target: TARGET,
            error = "invalid_user_id",
            "two-factor flow refused an invalid user id"
        ),
    }
}
