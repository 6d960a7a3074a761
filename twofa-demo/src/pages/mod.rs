//! The handlers, one file per part of the site. Each parses its form, makes one call to the
//! two-factor service and renders a page; the helpers below are what they share.

pub(crate) mod enable;
pub(crate) mod settings;
pub(crate) mod sign_in;

use std::sync::Arc;

use askama::Template;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use twofa::Store;
use twofa::account::{Event, PasswordConfirmed};

use crate::accounts::User;
use crate::layout::format_time;
use crate::templates::{LockedOutPage, Nav};
use crate::{AppError, AppState};

/// A form with a password to confirm.
#[derive(Deserialize)]
pub(crate) struct PasswordForm {
    password: String,
}

/// A form with a code (from the app, or a recovery code).
#[derive(Deserialize)]
pub(crate) struct CodeForm {
    code: String,
    trust: Option<String>,
}

/// A form with nothing but its CSRF token.
#[derive(Deserialize)]
pub(crate) struct NoFields {}

pub(crate) fn render(page: impl Template) -> Result<Response, AppError> {
    Ok(Html(page.render()?).into_response())
}

pub(crate) fn nav(user: &User, csrf: &str) -> Option<Nav> {
    Some(Nav {
        email: user.email.clone(),
        csrf: csrf.to_owned(),
    })
}

/// Checks the user's password again (argon2, off the async executor): the proof that
/// regenerating codes and disabling 2FA demand. `None` for a wrong password.
pub(crate) async fn confirm_password<S: Store>(
    state: &Arc<AppState<S>>,
    user: &User,
    password: String,
) -> Result<Option<PasswordConfirmed>, AppError> {
    let now = state.now()?;
    let accounts = state.accounts.clone();
    let user_id = user.id.clone();
    let checked = tokio::task::spawn_blocking(move || {
        let check = |id: &str, password: &str| accounts.check_password(id, password);
        PasswordConfirmed::check(&check, &user_id, &password, now)
    })
    .await
    .map_err(|e| AppError::Internal(format!("password check: {e}")))?;
    match checked {
        Ok(proof) => Ok(Some(proof)),
        Err(twofa::Error::InvalidPassword) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// How a failed code is shown.
pub(crate) enum CodeFailure {
    /// Ask again, with this message.
    Retry(String),
    /// The lockout page.
    LockedOut,
    /// 2FA is not (or no longer) in the state this page needs: start over.
    StartOver,
}

/// One message for a wrong and a replayed code (the difference goes to the log and outbox).
pub(crate) fn code_failure(error: twofa::Error, now: u64) -> Result<CodeFailure, AppError> {
    use twofa::Error as E;
    Ok(match error {
        e if e.is_wrong_code() => {
            CodeFailure::Retry("That code is not valid. Check it and try again.".into())
        }
        E::Throttled { retry_at } => {
            let seconds = retry_at.saturating_sub(now).max(1);
            let unit = if seconds == 1 { "second" } else { "seconds" };
            CodeFailure::Retry(format!(
                "Too many wrong codes. Try again in {seconds} {unit}."
            ))
        }
        E::LockedOut => CodeFailure::LockedOut,
        E::NotEnabled | E::NotPending | E::AlreadyEnabled => CodeFailure::StartOver,
        other => return Err(other.into()),
    })
}

/// Which lockout a page reports, and whether the other authenticator is there to offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Locked {
    /// Codes are locked while enabling 2FA: there are no recovery codes yet.
    CodesWhileEnabling,
    /// Codes are locked at sign-in: a recovery code still works.
    Codes,
    /// Recovery codes are locked at sign-in: a code still works.
    RecoveryCodes,
}

pub(crate) fn locked_out(nav: Option<Nav>, locked: Locked) -> Result<Response, AppError> {
    let mut response = render(LockedOutPage {
        nav,
        recovery_codes: locked == Locked::RecoveryCodes,
        offer_other: locked != Locked::CodesWhileEnabling,
    })?;
    *response.status_mut() = axum::http::StatusCode::FORBIDDEN;
    Ok(response)
}

/// Turns the service's events into log lines and the notices the user would get by e-mail.
pub(crate) fn notify<S: Store>(state: &AppState<S>, user: &User, events: &[Event]) {
    for event in events {
        state.accounts.log(format!("{}: {event:?}", user.id));
        let (subject, body) = match event {
            Event::Enabled => (
                "Two-factor authentication was turned on".to_owned(),
                "Sign-in now asks for a code from your authenticator app. If this was not you, contact support.".to_owned(),
            ),
            Event::Disabled => (
                "Two-factor authentication was turned off".to_owned(),
                "Sign-in asks only for your password now. If this was not you, change your password and contact support.".to_owned(),
            ),
            Event::RecoveryCodeUsed { remaining } => (
                "A recovery code was used to sign in".to_owned(),
                format!(
                    "{remaining} recovery code{} left. Generate new codes in Account Settings if you are running low.",
                    if *remaining == 1 { "" } else { "s" }
                ),
            ),
            Event::RecoveryCodesRegenerated => (
                "New recovery codes were generated".to_owned(),
                "Your old recovery codes no longer work.".to_owned(),
            ),
            Event::ReplayDetected => (
                "A sign-in code was used twice".to_owned(),
                "Someone entered a code from your authenticator app that had already been used. If this was not you, change your password.".to_owned(),
            ),
            Event::LockedOut { failures, until } => (
                "Two-factor sign-in was locked".to_owned(),
                match until {
                    Some(until) => format!(
                        "After {failures} wrong codes we stopped accepting codes for your account until {}. A recovery code still signs you in; if this was not you, change your password.",
                        format_time(*until)
                    ),
                    None => format!(
                        "After {failures} wrong codes we stopped accepting codes for your account. A recovery code still signs you in, or contact support to unlock it; if this was not you, change your password."
                    ),
                },
            ),
            Event::RecoveryCodesLockedOut { failures, .. } => (
                "Recovery codes were locked".to_owned(),
                format!(
                    "After {failures} wrong recovery codes we stopped accepting recovery codes for your account for a while. Codes from your authenticator app still work; if this was not you, change your password."
                ),
            ),
            Event::FailedAttempts { failures } => (
                "Wrong codes before your last sign-in".to_owned(),
                format!(
                    "Someone entered {} for your account since your previous sign-in. If this was not you, change your password.",
                    if *failures == 1 {
                        "1 wrong two-factor code".to_owned()
                    } else {
                        format!("{failures} wrong two-factor codes")
                    }
                ),
            ),
            Event::DeviceTrusted { .. } => (
                "A device was trusted".to_owned(),
                "A device will skip the code for 30 days. Revoke it in Account Settings if this was not you.".to_owned(),
            ),
            _ => continue,
        };
        state.accounts.send_mail(&user.id, &subject, &body);
    }
}
