//! Signing in: login and password, then a code from the app (or a recovery code) when the
//! user has 2FA on, unless a trusted-device cookie vouches for this browser; and signing out.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tower_sessions::Session;
use twofa::Store;
use twofa::account::{SignInMethod, Status};

use super::{
    App, ClientKey, CodeFailure, CodeForm, Locked, NOTICE, NoFields, SecretField, check_password,
    code_failure, complete_sign_in, locked_out,
};
use crate::csrf::{CsrfForm, FormToken};
use crate::error::Failure;
use crate::extract::{SecondFactorPending, write_state};
use crate::host::{HostUser, Users};
use crate::pages::{CodePage, Page, RecoveryCodePage, SignInPage};
use crate::state::{AuthState, Factor, FactorMethod};
use crate::storage::Storage;
use crate::web::{cookie, device_label, see_other, set_cookie};

#[derive(Deserialize)]
pub(crate) struct SignInForm {
    email: String,
    password: SecretField,
}

/// The trusted-device cookie's name, before the `__Host-` prefix.
const DEVICE_COOKIE: &str = "twofa-device";

pub(crate) async fn page(
    shared: axum::Extension<std::sync::Arc<crate::Shared>>,
    FormToken(csrf): FormToken,
) -> Response {
    let page = SignInPage {
        chrome: shared.chrome(None),
        csrf,
        error: None,
    };
    shared.render(Page::SignIn(&page))
}

pub(crate) async fn submit<U: Users, S: Store + 'static, St: Storage>(
    State(inner): App<U, S, St>,
    session: Session,
    headers: HeaderMap,
    ClientKey(address): ClientKey,
    FormToken(csrf): FormToken,
    CsrfForm(form): CsrfForm<SignInForm>,
) -> Result<Response, Failure> {
    let shared = &inner.shared;
    let user = check_password(&inner, &form.email, None, form.password.0, &address).await?;
    let Some(user) = user else {
        let page = SignInPage {
            chrome: shared.chrome(None),
            csrf,
            error: Some("Wrong e-mail address or password.".into()),
        };
        return Ok((StatusCode::UNAUTHORIZED, shared.render(Page::SignIn(&page))).into_response());
    };
    let now = shared.now()?;
    let flag = user.two_factor_enabled();
    let enabled = match inner.two_factor.status(user.id()).await {
        Ok(status) => matches!(status, Status::Enabled { .. }),
        Err(e) if flag => {
            tracing::error!(error = %e, "twofa-axum: the 2FA record of a user with 2FA on is unreadable");
            return Err(Failure::TwoFactorUnavailable);
        }
        Err(e) => return Err(e.into()),
    };
    if flag && !enabled {
        return Err(Failure::TwoFactorUnavailable);
    }
    let state = AuthState {
        user_id: user.id().to_owned(),
        password_at: now,
        factor: None,
        signed_in_at: None,
        label: device_label(&headers),
        last_seen: now,
    };
    let after = shared.config.after_sign_in.clone();
    if !enabled {
        complete_sign_in(&session, state, now).await?;
        return Ok(see_other(&after));
    }
    let device_cookie = shared.config.cookie_name(DEVICE_COOKIE);
    if let Some(token) = cookie(&headers, &device_cookie) {
        let checked = inner
            .two_factor
            .sign_in_with_device(user.id(), &token)
            .await?;
        inner.notify_events(&user, &checked.events)?;
        if let Ok(signed_in) = checked.result {
            let state = AuthState {
                factor: Some(Factor {
                    at: signed_in.at(),
                    method: FactorMethod::TrustedDevice,
                }),
                ..state
            };
            complete_sign_in(&session, state, now).await?;
            return Ok(see_other(&after));
        }
    }
    // A new session id once the password is right: an id planted before is worth nothing.
    session.cycle_id().await?;
    write_state(&session, &state).await?;
    Ok(see_other("/login/code"))
}

pub(crate) async fn code_page<U: Users>(
    shared: axum::Extension<std::sync::Arc<crate::Shared>>,
    _: SecondFactorPending<U::User>,
    FormToken(csrf): FormToken,
) -> Response {
    let page = CodePage {
        chrome: shared.chrome(None),
        csrf,
        error: None,
    };
    shared.render(Page::Code(&page))
}

pub(crate) async fn code_submit<U: Users, S: Store + 'static, St: Storage>(
    State(inner): App<U, S, St>,
    pending: SecondFactorPending<U::User>,
    headers: HeaderMap,
    FormToken(csrf): FormToken,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Result<Response, Failure> {
    let shared = &inner.shared;
    let SecondFactorPending {
        user,
        session,
        state,
    } = pending;
    let outcome = inner.two_factor.verify_code(user.id(), &form.code).await?;
    inner.notify_events(&user, &outcome.events)?;
    let signed_in = match outcome.result {
        Ok(signed_in) => signed_in,
        Err(error) => {
            return Ok(match code_failure(error, shared.now()?)? {
                CodeFailure::Retry(message) => {
                    let page = CodePage {
                        chrome: shared.chrome(None),
                        csrf,
                        error: Some(message),
                    };
                    shared.render(Page::Code(&page))
                }
                CodeFailure::LockedOut => {
                    locked_out(shared, &inner.two_factor, None, Locked::Codes)
                }
                CodeFailure::StartOver => see_other("/login"),
            });
        }
    };
    let mut device_cookie = None;
    if form.trust.is_some() {
        let label = device_label(&headers);
        let trusted = inner
            .two_factor
            .trust_device(user.id(), &signed_in, label.as_deref())
            .await?;
        inner.notify_events(&user, &trusted.events)?;
        match trusted.result {
            Ok(token) => {
                let max_age = token.expires_at().saturating_sub(shared.now()?);
                let name = shared.config.cookie_name(DEVICE_COOKIE);
                let secure = shared.config.secure_cookies();
                device_cookie = Some(set_cookie(&name, token.as_str(), max_age, secure));
            }
            // All devices were revoked in this very second (on another device): sign in
            // without remembering this one, and say so.
            Err(_) => {
                session
                    .insert(
                        NOTICE,
                        "You are signed in, but this device could not be remembered: you will be asked for a code next time.",
                    )
                    .await?;
            }
        }
    }
    let now = shared.now()?;
    let state = AuthState {
        factor: Some(Factor {
            at: signed_in.at(),
            method: FactorMethod::Code,
        }),
        ..state
    };
    complete_sign_in(&session, state, now).await?;
    let mut response = see_other(&shared.config.after_sign_in);
    if let Some(cookie) = device_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

pub(crate) async fn recovery_page<U: Users>(
    shared: axum::Extension<std::sync::Arc<crate::Shared>>,
    _: SecondFactorPending<U::User>,
    FormToken(csrf): FormToken,
) -> Response {
    let page = RecoveryCodePage {
        chrome: shared.chrome(None),
        csrf,
        error: None,
    };
    shared.render(Page::RecoveryCode(&page))
}

pub(crate) async fn recovery_submit<U: Users, S: Store + 'static, St: Storage>(
    State(inner): App<U, S, St>,
    pending: SecondFactorPending<U::User>,
    FormToken(csrf): FormToken,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Result<Response, Failure> {
    let shared = &inner.shared;
    let SecondFactorPending {
        user,
        session,
        state,
    } = pending;
    let outcome = inner
        .two_factor
        .use_recovery_code(user.id(), &form.code)
        .await?;
    inner.notify_events(&user, &outcome.events)?;
    match outcome.result {
        Ok(signed_in) => {
            let state = AuthState {
                factor: Some(Factor {
                    at: signed_in.at(),
                    method: FactorMethod::RecoveryCode,
                }),
                ..state
            };
            complete_sign_in(&session, state, shared.now()?).await?;
            let left = match signed_in.method() {
                SignInMethod::RecoveryCode { remaining } => remaining,
                _ => 0,
            };
            let plural = if left == 1 { "" } else { "s" };
            let notice =
                format!("You signed in with a recovery code. {left} recovery code{plural} left.");
            session.insert(NOTICE, notice).await?;
            Ok(see_other(&shared.config.after_sign_in))
        }
        Err(error) => Ok(match code_failure(error, shared.now()?)? {
            CodeFailure::Retry(message) => {
                let page = RecoveryCodePage {
                    chrome: shared.chrome(None),
                    csrf,
                    error: Some(message.replace("That code", "That recovery code")),
                };
                shared.render(Page::RecoveryCode(&page))
            }
            CodeFailure::LockedOut => {
                locked_out(shared, &inner.two_factor, None, Locked::RecoveryCodes)
            }
            CodeFailure::StartOver => see_other("/login"),
        }),
    }
}

/// Deletes the session from the storage. A request of this session still in flight cannot
/// write it back: the storage's save never creates.
pub(crate) async fn logout(
    session: Session,
    CsrfForm(NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, Failure> {
    session.flush().await?;
    Ok(see_other("/login"))
}
