//! "Enable 2FA": a recent password (step-up) → the QR code and the key → "Proceed" → the
//! first code → "Verify" → the recovery codes → "Finish".

use axum::extract::State;
use axum::response::Response;
use twofa::Store;
use twofa::account::{PasswordConfirmed, Status};
use twofa::qr::SvgOptions;

use super::{App, CodeFailure, CodeForm, Locked, NoFields, code_failure, locked_out, nav};
use crate::csrf::{CsrfForm, FormToken};
use crate::error::Failure;
use crate::extract::{SignedIn, StepUp, write_state};
use crate::host::{HostUser, Users};
use crate::pages::{ConfirmCodePage, EnablePage, Page, RecoveryCodesPage, ScanQrPage};
use crate::state::{Factor, FactorMethod};
use crate::storage::Storage;
use crate::web::see_other;

pub(crate) async fn intro<U: Users, S: Store + 'static, St: Storage>(
    State(inner): App<U, S, St>,
    StepUp(signed_in): StepUp<U::User>,
    FormToken(csrf): FormToken,
) -> Result<Response, Failure> {
    let user = &signed_in.user;
    let status = inner.two_factor.status(user.id()).await?;
    if matches!(status, Status::Enabled { .. }) {
        return Ok(see_other("/settings"));
    }
    let page = EnablePage {
        chrome: inner.shared.chrome(nav(user, &csrf)),
        csrf,
        pending: matches!(status, Status::Pending { .. }),
    };
    Ok(inner.shared.render(Page::Enable(&page)))
}

/// The QR code and key are the response to a form post: no URL shows them, and only the
/// owner who just proved the password sees them.
pub(crate) async fn start<U: Users, S: Store + 'static, St: Storage>(
    State(inner): App<U, S, St>,
    StepUp(signed_in): StepUp<U::User>,
    FormToken(csrf): FormToken,
    CsrfForm(NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, Failure> {
    let user = &signed_in.user;
    let proof = PasswordConfirmed::restore_from_server_session(user.id(), signed_in.password_at());
    let outcome = inner
        .two_factor
        .start_enrollment(user.id(), Some(&proof), user.account_name())
        .await?;
    inner.notify_events(user, &outcome.events)?;
    let enrollment = match outcome.result {
        Ok(enrollment) => enrollment,
        Err(twofa::Error::AlreadyEnabled) => return Ok(see_other("/settings")),
        Err(twofa::Error::ReauthenticationRequired) => {
            return Ok(see_other("/confirm?next=%2Fsettings%2F2fa%2Fenable"));
        }
        Err(e) => return Err(e.into()),
    };
    let svg = enrollment.qr_code()?.to_svg_with(
        &SvgOptions::new()
            .module_size(0)
            .title("QR code to scan with your authenticator app"),
    );
    let page = ScanQrPage {
        chrome: inner.shared.chrome(nav(user, &csrf)),
        csrf,
        svg,
        key: enrollment.manual_key(),
    };
    Ok(inner.shared.render(Page::ScanQr(&page)))
}

pub(crate) async fn code_page<U: Users, S: Store + 'static, St: Storage>(
    State(inner): App<U, S, St>,
    signed_in: SignedIn<U::User>,
    FormToken(csrf): FormToken,
) -> Result<Response, Failure> {
    let user = &signed_in.user;
    if !matches!(
        inner.two_factor.status(user.id()).await?,
        Status::Pending { .. }
    ) {
        return Ok(see_other("/settings"));
    }
    let page = ConfirmCodePage {
        chrome: inner.shared.chrome(nav(user, &csrf)),
        csrf,
        error: None,
    };
    Ok(inner.shared.render(Page::ConfirmCode(&page)))
}

/// The first code turns 2FA on: the host's flag is set, this session counts as having passed
/// the factor now (under a new id), and every other session of the user ends.
pub(crate) async fn confirm<U: Users, S: Store + 'static, St: Storage>(
    State(inner): App<U, S, St>,
    signed_in: SignedIn<U::User>,
    FormToken(csrf): FormToken,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Result<Response, Failure> {
    let shared = &inner.shared;
    let SignedIn {
        user,
        session,
        mut state,
    } = signed_in;
    let outcome = inner
        .two_factor
        .confirm_enrollment(user.id(), &form.code)
        .await?;
    let codes = match outcome.result {
        Ok(codes) => codes,
        Err(error) => {
            inner.notify_events(&user, &outcome.events)?;
            return Ok(match code_failure(error, shared.now()?)? {
                CodeFailure::Retry(message) => {
                    let page = ConfirmCodePage {
                        chrome: shared.chrome(nav(&user, &csrf)),
                        csrf,
                        error: Some(message),
                    };
                    shared.render(Page::ConfirmCode(&page))
                }
                CodeFailure::LockedOut => locked_out(
                    shared,
                    &inner.two_factor,
                    nav(&user, &csrf),
                    Locked::CodesWhileEnabling,
                ),
                CodeFailure::StartOver => see_other("/settings"),
            });
        }
    };
    // The record says on from here: even if the flag's write fails, sign-in asks for the
    // factor (the record alone is enough for that).
    inner.users.set_two_factor(user.id(), true).await?;
    let now = shared.now()?;
    state.factor = Some(Factor {
        at: now,
        method: FactorMethod::Code,
    });
    session.cycle_id().await?;
    write_state(&session, &state).await?;
    inner.end_other_sessions(&user, Some(&session)).await?;
    inner.notify_events(&user, &outcome.events)?;
    let page = RecoveryCodesPage::new(
        shared.chrome(nav(&user, &csrf)),
        "Two-Factor Authentication is on",
        user.account_name(),
        &codes,
    );
    Ok(shared.render(Page::RecoveryCodes(&page)))
}

pub(crate) async fn cancel<U: Users, S: Store + 'static, St: Storage>(
    State(inner): App<U, S, St>,
    signed_in: SignedIn<U::User>,
    CsrfForm(NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, Failure> {
    let outcome = inner
        .two_factor
        .cancel_enrollment(signed_in.user.id())
        .await?;
    inner.notify_events(&signed_in.user, &outcome.events)?;
    Ok(see_other("/settings"))
}
