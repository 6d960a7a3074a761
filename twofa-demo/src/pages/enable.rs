//! "Enable 2FA": confirm the password → the QR code and the key → "Proceed" → the first code
//! → "Verify" → the recovery codes → "Finish".

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use twofa::Store;
use twofa::account::Status;
use twofa::qr::SvgOptions;

use super::{
    CodeFailure, CodeForm, Locked, NoFields, PasswordForm, code_failure, confirm_password,
    locked_out, nav, notify, render,
};
use crate::csrf::{self, CsrfForm};
use crate::error::see_other;
use crate::session::SignedInUser;
use crate::templates::{ConfirmCodePage, Enable2faPage, RecoveryCodesPage, ScanQrPage};
use crate::{AppError, AppState};

pub(crate) async fn password_page<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    SignedInUser { user, session }: SignedInUser,
) -> Result<Response, AppError> {
    if matches!(
        state.two_factor.status(&user.id).await?,
        Status::Enabled { .. }
    ) {
        return Ok(see_other("/settings"));
    }
    let csrf = csrf::token(&session).await?;
    render(Enable2faPage {
        nav: nav(&user, &csrf),
        csrf,
        error: None,
    })
}

/// The QR code and key are the response to the password form: no URL shows them, and only
/// the owner who just typed the password sees them.
pub(crate) async fn start<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    SignedInUser { user, session }: SignedInUser,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<Response, AppError> {
    let csrf = csrf::token(&session).await?;
    let Some(proof) = confirm_password(&state, &user, form.password).await? else {
        return render(Enable2faPage {
            nav: nav(&user, &csrf),
            csrf,
            error: Some("Wrong password."),
        });
    };
    let outcome = state
        .two_factor
        .start_enrollment(&user.id, Some(&proof), &user.email)
        .await?;
    notify(&state, &user, &outcome.events);
    let enrollment = match outcome.result {
        Ok(enrollment) => enrollment,
        Err(twofa::Error::AlreadyEnabled) => return Ok(see_other("/settings")),
        Err(e) => return Err(e.into()),
    };
    let svg = enrollment.qr_code()?.to_svg_with(
        &SvgOptions::new()
            .module_size(0)
            .title("QR code to scan with your authenticator app"),
    );
    render(ScanQrPage {
        nav: nav(&user, &csrf),
        svg,
        key: enrollment.manual_key(),
    })
}

pub(crate) async fn code_page<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    SignedInUser { user, session }: SignedInUser,
) -> Result<Response, AppError> {
    if !matches!(
        state.two_factor.status(&user.id).await?,
        Status::Pending { .. }
    ) {
        return Ok(see_other("/settings"));
    }
    let csrf = csrf::token(&session).await?;
    render(ConfirmCodePage {
        nav: nav(&user, &csrf),
        csrf,
        error: None,
    })
}

pub(crate) async fn confirm<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    SignedInUser { user, session }: SignedInUser,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Result<Response, AppError> {
    let outcome = state
        .two_factor
        .confirm_enrollment(&user.id, &form.code)
        .await?;
    notify(&state, &user, &outcome.events);
    let csrf = csrf::token(&session).await?;
    match outcome.result {
        Ok(codes) => render(RecoveryCodesPage::new(
            nav(&user, &csrf),
            "Two-Factor Authentication is on",
            &codes,
        )),
        Err(error) => match code_failure(error, state.now()?)? {
            CodeFailure::Retry(message) => render(ConfirmCodePage {
                nav: nav(&user, &csrf),
                csrf,
                error: Some(message),
            }),
            CodeFailure::LockedOut => locked_out(nav(&user, &csrf), Locked::CodesWhileEnabling),
            CodeFailure::StartOver => Ok(see_other("/settings")),
        },
    }
}

pub(crate) async fn cancel<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    SignedInUser { user, .. }: SignedInUser,
    CsrfForm(NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let outcome = state.two_factor.cancel_enrollment(&user.id).await?;
    notify(&state, &user, &outcome.events);
    Ok(see_other("/settings"))
}
