//! The confirm page of step-up: a code (or a recovery code) when the user has 2FA on, the
//! password otherwise; then back to where the person was.

use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use twofa::Store;

use super::{App, ClientKey, CodeFailure, SecretField, check_password, code_failure, nav};
use crate::csrf::{CsrfForm, FormToken};
use crate::error::Failure;
use crate::extract::{SignedIn, write_state};
use crate::host::{HostUser, Users};
use crate::pages::{Page, StepUpPage, percent_encode};
use crate::state::{Factor, FactorMethod};
use crate::storage::Storage;
use crate::web::{is_local_path, see_other};

#[derive(Deserialize)]
pub(crate) struct Target {
    next: Option<String>,
    with: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct ConfirmForm {
    secret: SecretField,
    next: String,
    with: String,
}

/// What the page asks for: `code` or `recovery` with 2FA on (a code unless the person chose
/// a recovery code), `password` without.
fn with<User: HostUser>(user: &User, asked: Option<&str>) -> &'static str {
    match (user.two_factor_enabled(), asked) {
        (true, Some("recovery")) => "recovery",
        (true, _) => "code",
        (false, _) => "password",
    }
}

fn next_or_settings(next: Option<&str>) -> String {
    next.filter(|n| is_local_path(n))
        .unwrap_or("/settings")
        .to_owned()
}

fn render(
    shared: &crate::Shared,
    nav: Option<crate::pages::Nav>,
    csrf: String,
    with: &'static str,
    next: String,
    error: Option<String>,
) -> Response {
    let page = StepUpPage {
        chrome: shared.chrome(nav),
        csrf,
        error,
        with,
        next_query: percent_encode(&next),
        next,
    };
    shared.render(Page::StepUp(&page))
}

pub(crate) async fn page<U: Users>(
    shared: axum::Extension<std::sync::Arc<crate::Shared>>,
    signed_in: SignedIn<U::User>,
    FormToken(csrf): FormToken,
    Query(target): Query<Target>,
) -> Response {
    let user = &signed_in.user;
    let next = next_or_settings(target.next.as_deref());
    let nav = nav(user, &csrf);
    render(
        &shared,
        nav,
        csrf,
        with(user, target.with.as_deref()),
        next,
        None,
    )
}

pub(crate) async fn submit<U: Users, S: Store + 'static, St: Storage>(
    State(inner): App<U, S, St>,
    signed_in: SignedIn<U::User>,
    ClientKey(address): ClientKey,
    FormToken(csrf): FormToken,
    CsrfForm(form): CsrfForm<ConfirmForm>,
) -> Result<Response, Failure> {
    let shared = &inner.shared;
    let SignedIn {
        user,
        session,
        mut state,
    } = signed_in;
    let next = next_or_settings(Some(&form.next));
    let asked = with(&user, Some(&form.with));
    let retry = |error: String, asked: &'static str| {
        let nav = nav(&user, &csrf);
        Ok(render(
            shared,
            nav,
            csrf.clone(),
            asked,
            next.clone(),
            Some(error),
        ))
    };
    let now = shared.now()?;
    match asked {
        "password" => {
            let login = user.account_name().to_owned();
            let passed =
                check_password(&inner, &login, Some(user.clone()), form.secret.0, &address).await?;
            if passed.is_none() {
                return retry("Wrong password.".into(), asked);
            }
            state.password_at = now;
        }
        _ => {
            let outcome = if asked == "code" {
                inner
                    .two_factor
                    .verify_code(user.id(), &form.secret.0)
                    .await?
            } else {
                inner
                    .two_factor
                    .use_recovery_code(user.id(), &form.secret.0)
                    .await?
            };
            inner.notify_events(&user, &outcome.events)?;
            match outcome.result {
                Ok(signed_in) => {
                    let method = if asked == "code" {
                        FactorMethod::Code
                    } else {
                        FactorMethod::RecoveryCode
                    };
                    state.factor = Some(Factor {
                        at: signed_in.at(),
                        method,
                    });
                }
                Err(error) => {
                    return match code_failure(error, now)? {
                        CodeFailure::Retry(message) if asked == "recovery" => {
                            retry(message.replace("That code", "That recovery code"), asked)
                        }
                        CodeFailure::Retry(message) => retry(message, asked),
                        CodeFailure::LockedOut if asked == "code" => retry(
                            "Too many wrong codes were entered, so codes are locked for now. Use a recovery code instead.".into(),
                            "recovery",
                        ),
                        CodeFailure::LockedOut => retry(
                            "Too many wrong recovery codes were entered, so recovery codes are locked for now. Enter a code from your app instead.".into(),
                            "code",
                        ),
                        CodeFailure::StartOver => Ok(see_other("/settings")),
                    };
                }
            }
        }
    }
    write_state(&session, &state).await?;
    // Shown on the settings page, where a confirmed action (revoking a device, logging out
    // other devices) is clicked again.
    let minutes = shared.config.step_up_window() / 60;
    let notice = format!(
        "Confirmed. For the next {minutes} minutes you can change your security settings without confirming again."
    );
    session.insert(super::NOTICE, notice).await?;
    Ok(see_other(&next))
}
