//! Account Settings → Security: the 2FA status, "Generate new" recovery codes, "Disable 2FA",
//! trusted devices with revoke, "Log out of all other devices"; and the mail outbox.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use twofa::Store;
use twofa::account::{Reauthentication, Status};

use super::{NoFields, PasswordForm, confirm_password, nav, notify, render};
use crate::csrf::{self, CsrfForm};
use crate::error::see_other;
use crate::layout::format_time;
use crate::session::{self, SignedInUser};
use crate::templates::{
    DeviceRow, Disable2faPage, GenerateCodesPage, OutboxPage, RecoveryCodesPage, SettingsPage,
};
use crate::{AppError, AppState};

/// Session key of a one-time message for the settings page.
pub(crate) const NOTICE: &str = "notice";

#[derive(Deserialize)]
pub(crate) struct DeviceForm {
    device_id: String,
}

pub(crate) async fn page<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    SignedInUser { user, session }: SignedInUser,
) -> Result<Response, AppError> {
    // A user who never enrolled has no record: the same page as 2FA off.
    let record = state.two_factor.record(&user.id).await?.unwrap_or_default();
    let now = state.now()?;
    let devices = record
        .devices()
        .iter()
        .filter(|d| !d.is_expired(now))
        .map(|d| DeviceRow {
            id: d.id(),
            label: d.label().unwrap_or("Unknown device").to_owned(),
            trusted: format_time(d.created_at()),
            expires: format_time(d.expires_at()),
        })
        .collect();
    let status = match record.status() {
        Status::Enabled { .. } => "on",
        Status::Pending { .. } => "pending",
        _ => "off",
    };
    let csrf = csrf::token(&session).await?;
    render(SettingsPage {
        nav: nav(&user, &csrf),
        csrf,
        email: user.email.clone(),
        status,
        codes_left: record.recovery_codes_left().unwrap_or(0),
        devices,
        notice: session.remove::<String>(NOTICE).await?,
    })
}

pub(crate) async fn generate_page(
    SignedInUser { user, session }: SignedInUser,
) -> Result<Response, AppError> {
    let csrf = csrf::token(&session).await?;
    render(GenerateCodesPage {
        nav: nav(&user, &csrf),
        csrf,
        error: None,
    })
}

pub(crate) async fn generate<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    SignedInUser { user, session }: SignedInUser,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<Response, AppError> {
    let csrf = csrf::token(&session).await?;
    let Some(proof) = confirm_password(&state, &user, form.password).await? else {
        return render(GenerateCodesPage {
            nav: nav(&user, &csrf),
            csrf,
            error: Some("Wrong password."),
        });
    };
    let outcome = state
        .two_factor
        .regenerate_recovery_codes(&user.id, Reauthentication::Password(proof))
        .await?;
    notify(&state, &user, &outcome.events);
    match outcome.result {
        Ok(codes) => render(RecoveryCodesPage::new(
            nav(&user, &csrf),
            "New recovery codes",
            &codes,
        )),
        Err(twofa::Error::NotEnabled) => Ok(see_other("/settings")),
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn disable_page(
    SignedInUser { user, session }: SignedInUser,
) -> Result<Response, AppError> {
    let csrf = csrf::token(&session).await?;
    render(Disable2faPage {
        nav: nav(&user, &csrf),
        csrf,
        error: None,
    })
}

pub(crate) async fn disable<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    SignedInUser { user, session }: SignedInUser,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<Response, AppError> {
    let csrf = csrf::token(&session).await?;
    let Some(proof) = confirm_password(&state, &user, form.password).await? else {
        return render(Disable2faPage {
            nav: nav(&user, &csrf),
            csrf,
            error: Some("Wrong password."),
        });
    };
    let outcome = state
        .two_factor
        .disable(&user.id, Reauthentication::Password(proof))
        .await?;
    notify(&state, &user, &outcome.events);
    match outcome.result {
        Ok(()) | Err(twofa::Error::NotEnabled) => {
            session
                .insert(NOTICE, "Two-factor authentication is off.")
                .await?;
            Ok(see_other("/settings"))
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn revoke_device<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    SignedInUser { user, session }: SignedInUser,
    CsrfForm(form): CsrfForm<DeviceForm>,
) -> Result<Response, AppError> {
    let outcome = state
        .two_factor
        .revoke_device(&user.id, &form.device_id)
        .await?;
    notify(&state, &user, &outcome.events);
    if outcome.result.is_ok() {
        session
            .insert(
                NOTICE,
                "The device was revoked: it will be asked for a code again.",
            )
            .await?;
    }
    Ok(see_other("/settings"))
}

/// Ends every other session of the user and revokes every trusted device.
pub(crate) async fn logout_others<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    SignedInUser { user, session }: SignedInUser,
    CsrfForm(NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    let generation = state
        .accounts
        .bump_generation(&user.id)
        .ok_or(AppError::Redirect("/login"))?;
    session::keep_signed_in(&session, &user, generation).await?;
    let outcome = state.two_factor.revoke_all_devices(&user.id).await?;
    notify(&state, &user, &outcome.events);
    state
        .accounts
        .log(format!("{} logged out of all other devices", user.id));
    session
        .insert(
            NOTICE,
            "You were logged out of all other devices, and trusted devices were revoked.",
        )
        .await?;
    Ok(see_other("/settings"))
}

pub(crate) async fn outbox<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    SignedInUser { user, session }: SignedInUser,
) -> Result<Response, AppError> {
    let csrf = csrf::token(&session).await?;
    render(OutboxPage {
        nav: nav(&user, &csrf),
        mails: state.accounts.outbox(&user.email),
    })
}
