//! Signing in: e-mail and password, then a code from the app (or a recovery code) when 2FA is
//! on, unless a trusted-device cookie vouches for this browser; and signing out.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use tower_sessions::Session;
use twofa::Store;
use twofa::account::{SignInMethod, Status};

use super::{CodeFailure, CodeForm, Locked, NoFields, code_failure, locked_out, notify, render};
use crate::csrf::{self, CsrfForm};
use crate::error::see_other;
use crate::layout::{device_cookie, device_label, set_device_cookie};
use crate::session::{self, PasswordPassed};
use crate::templates::{RecoveryCodePage, SignInPage, VerifyCodePage};
use crate::{AppError, AppState};

#[derive(Deserialize)]
pub(crate) struct SignInForm {
    email: String,
    password: String,
}

pub(crate) async fn home() -> Response {
    see_other("/settings")
}

pub(crate) async fn page(session: Session) -> Result<Response, AppError> {
    let csrf = csrf::token(&session).await?;
    render(SignInPage {
        nav: None,
        csrf,
        error: None,
    })
}

pub(crate) async fn submit<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    session: Session,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<SignInForm>,
) -> Result<Response, AppError> {
    let accounts = state.accounts.clone();
    let user = tokio::task::spawn_blocking(move || accounts.sign_in(&form.email, &form.password))
        .await
        .map_err(|e| AppError::Internal(format!("password check: {e}")))?;
    let Some(user) = user else {
        let mut response = render(SignInPage {
            nav: None,
            csrf: csrf::token(&session).await?,
            error: Some("Wrong e-mail address or password."),
        })?;
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        return Ok(response);
    };
    // A new session id once the password is right: a session id planted before sign-in is
    // worth nothing.
    session.cycle_id().await?;
    if !matches!(
        state.two_factor.status(&user.id).await?,
        Status::Enabled { .. }
    ) {
        session::sign_in(&state, &session, &user).await?;
        return Ok(see_other("/settings"));
    }
    if let Some(token) = device_cookie(&headers) {
        let checked = state
            .two_factor
            .sign_in_with_device(&user.id, &token)
            .await?;
        notify(&state, &user, &checked.events);
        if checked.result.is_ok() {
            session::sign_in(&state, &session, &user).await?;
            return Ok(see_other("/settings"));
        }
    }
    session::password_passed(&session, &user, state.now()?).await?;
    state
        .accounts
        .log(format!("{} passed the password step", user.id));
    Ok(see_other("/login/code"))
}

pub(crate) async fn code_page(pending: PasswordPassed) -> Result<Response, AppError> {
    render(VerifyCodePage {
        nav: None,
        csrf: csrf::token(&pending.session).await?,
        error: None,
    })
}

pub(crate) async fn code_submit<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    pending: PasswordPassed,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Result<Response, AppError> {
    let PasswordPassed { user, session } = pending;
    let outcome = state.two_factor.verify_code(&user.id, &form.code).await?;
    notify(&state, &user, &outcome.events);
    let signed_in = match outcome.result {
        Ok(signed_in) => signed_in,
        Err(error) => {
            return match code_failure(error, state.now()?)? {
                CodeFailure::Retry(message) => render(VerifyCodePage {
                    nav: None,
                    csrf: csrf::token(&session).await?,
                    error: Some(message),
                }),
                CodeFailure::LockedOut => locked_out(None, Locked::Codes),
                CodeFailure::StartOver => Ok(see_other("/login")),
            };
        }
    };
    let mut cookie = None;
    if form.trust.is_some() {
        let label = device_label(&headers);
        let trusted = state
            .two_factor
            .trust_device(&user.id, &signed_in, label.as_deref())
            .await?;
        notify(&state, &user, &trusted.events);
        let token = trusted.result?;
        let max_age = token.expires_at().saturating_sub(state.now()?);
        cookie = Some(set_device_cookie(
            token.as_str(),
            max_age,
            state.config.secure_cookies,
        ));
    }
    session::sign_in(&state, &session, &user).await?;
    let mut response = see_other("/settings");
    if let Some(cookie) = cookie {
        let value = HeaderValue::from_str(&cookie)
            .map_err(|_| AppError::Internal("device cookie is not a header value".into()))?;
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

pub(crate) async fn recovery_page(pending: PasswordPassed) -> Result<Response, AppError> {
    render(RecoveryCodePage {
        nav: None,
        csrf: csrf::token(&pending.session).await?,
        error: None,
    })
}

pub(crate) async fn recovery_submit<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    pending: PasswordPassed,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Result<Response, AppError> {
    let PasswordPassed { user, session } = pending;
    let outcome = state
        .two_factor
        .use_recovery_code(&user.id, &form.code)
        .await?;
    notify(&state, &user, &outcome.events);
    match outcome.result {
        Ok(signed_in) => {
            session::sign_in(&state, &session, &user).await?;
            let left = match signed_in.method() {
                SignInMethod::RecoveryCode { remaining } => remaining,
                _ => 0,
            };
            let plural = if left == 1 { "" } else { "s" };
            let notice =
                format!("You signed in with a recovery code. {left} recovery code{plural} left.");
            session.insert(super::settings::NOTICE, notice).await?;
            Ok(see_other("/settings"))
        }
        Err(error) => match code_failure(error, state.now()?)? {
            CodeFailure::Retry(message) => render(RecoveryCodePage {
                nav: None,
                csrf: csrf::token(&session).await?,
                error: Some(message.replace("That code", "That recovery code")),
            }),
            CodeFailure::LockedOut => locked_out(None, Locked::RecoveryCodes),
            CodeFailure::StartOver => Ok(see_other("/login")),
        },
    }
}

pub(crate) async fn logout(
    session: Session,
    CsrfForm(NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    session.flush().await?;
    Ok(see_other("/login"))
}
