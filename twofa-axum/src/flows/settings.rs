//! Account Settings → Security: the 2FA status, "Generate new" recovery codes, "Disable 2FA",
//! trusted devices with revoke, active sessions with "sign out", and "Log out of all other
//! devices".

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use twofa::Store;
use twofa::account::{Reauthentication, Status};

use super::{App, NOTICE, NoFields, nav, second_factor_proof};
use crate::csrf::{CsrfForm, FormToken};
use crate::error::Failure;
use crate::extract::{SignedIn, StepUp, write_state};
use crate::host::{HostUser, NoticeKind, Users};
use crate::pages::{
    DeviceRow, DisablePage, GenerateCodesPage, Page, RecoveryCodesPage, SessionRow, SettingsPage,
};
use crate::storage::{Storage, session_handle};
use crate::web::{format_time, see_other};

#[derive(Deserialize)]
pub(crate) struct DeviceForm {
    device_id: String,
}

#[derive(Deserialize)]
pub(crate) struct SessionForm {
    session: String,
}

pub(crate) async fn page<U: Users, S: Store + 'static, St: Storage>(
    State(inner): App<U, S, St>,
    signed_in: SignedIn<U::User>,
    FormToken(csrf): FormToken,
) -> Result<Response, Failure> {
    let shared = &inner.shared;
    let SignedIn { user, session, .. } = signed_in;
    // A user who never enrolled has no record: the same page as 2FA off.
    let record = inner
        .two_factor
        .record(user.id())
        .await?
        .unwrap_or_default();
    let now = shared.now()?;
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
    let current = session.id().map(|id| session_handle(&id));
    let mut sessions: Vec<SessionRow> = inner
        .storage
        .sessions_of(user.id())
        .await?
        .into_iter()
        .filter_map(|s| {
            Some(SessionRow {
                current: current.as_deref() == Some(&s.handle),
                signed_in: format_time(s.signed_in_at?),
                last_seen: format_time(s.last_seen),
                label: s.label.unwrap_or_else(|| "Unknown device".to_owned()),
                handle: s.handle,
            })
        })
        .collect();
    sessions.sort_by_key(|s| !s.current);
    let status = match record.status() {
        Status::Enabled { .. } => "on",
        Status::Pending { .. } => "pending",
        _ => "off",
    };
    let page = SettingsPage {
        chrome: shared.chrome(nav(&user, &csrf)),
        csrf,
        account_name: user.account_name().to_owned(),
        status,
        codes_left: record.recovery_codes_left().unwrap_or(0),
        devices,
        sessions,
        notice: session.remove::<String>(NOTICE).await?,
    };
    Ok(shared.render(Page::Settings(&page)))
}

pub(crate) async fn generate_page<U: Users>(
    shared: axum::Extension<std::sync::Arc<crate::Shared>>,
    StepUp(signed_in): StepUp<U::User>,
    FormToken(csrf): FormToken,
) -> Response {
    if !signed_in.user.two_factor_enabled() {
        return see_other("/settings");
    }
    let page = GenerateCodesPage {
        chrome: shared.chrome(nav(&signed_in.user, &csrf)),
        csrf,
    };
    shared.render(Page::GenerateCodes(&page))
}

/// New recovery codes, on the strength of a recent second factor; other sessions end.
pub(crate) async fn generate<U: Users, S: Store + 'static, St: Storage>(
    State(inner): App<U, S, St>,
    StepUp(signed_in): StepUp<U::User>,
    FormToken(csrf): FormToken,
    CsrfForm(NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, Failure> {
    let Some(proof) = second_factor_proof(&signed_in) else {
        return Ok(see_other("/settings"));
    };
    let user = &signed_in.user;
    let outcome = inner
        .two_factor
        .regenerate_recovery_codes(user.id(), Reauthentication::SecondFactor(proof))
        .await?;
    inner.notify_events(user, &outcome.events)?;
    match outcome.result {
        Ok(codes) => {
            inner
                .end_other_sessions(user, Some(&signed_in.session))
                .await?;
            let page = RecoveryCodesPage::new(
                inner.shared.chrome(nav(user, &csrf)),
                "New recovery codes",
                user.account_name(),
                &codes,
            );
            Ok(inner.shared.render(Page::RecoveryCodes(&page)))
        }
        Err(twofa::Error::ReauthenticationRequired) => Ok(see_other(
            "/confirm?next=%2Fsettings%2F2fa%2Frecovery-codes",
        )),
        Err(twofa::Error::NotEnabled) => Ok(see_other("/settings")),
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn disable_page<U: Users>(
    shared: axum::Extension<std::sync::Arc<crate::Shared>>,
    StepUp(signed_in): StepUp<U::User>,
    FormToken(csrf): FormToken,
) -> Response {
    if !signed_in.user.two_factor_enabled() {
        return see_other("/settings");
    }
    let page = DisablePage {
        chrome: shared.chrome(nav(&signed_in.user, &csrf)),
        csrf,
    };
    shared.render(Page::Disable(&page))
}

/// Turns 2FA off on the strength of a recent second factor: the host's flag first (so a
/// failure in between leaves the factor asked for), then the record; other sessions end.
pub(crate) async fn disable<U: Users, S: Store + 'static, St: Storage>(
    State(inner): App<U, S, St>,
    StepUp(signed_in): StepUp<U::User>,
    CsrfForm(NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, Failure> {
    let Some(proof) = second_factor_proof(&signed_in) else {
        return Ok(see_other("/settings"));
    };
    let SignedIn {
        user,
        session,
        mut state,
    } = signed_in;
    inner.users.set_two_factor(user.id(), false).await?;
    let outcome = inner
        .two_factor
        .disable(user.id(), Reauthentication::SecondFactor(proof))
        .await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            inner.users.set_two_factor(user.id(), true).await?;
            return Err(e.into());
        }
    };
    inner.notify_events(&user, &outcome.events)?;
    match outcome.result {
        Ok(()) | Err(twofa::Error::NotEnabled) => {
            // The password is the only factor now; this session keeps its sign-in.
            state.factor = None;
            session.cycle_id().await?;
            write_state(&session, &state).await?;
            inner.end_other_sessions(&user, Some(&session)).await?;
            session
                .insert(NOTICE, "Two-factor authentication is off.")
                .await?;
            Ok(see_other("/settings"))
        }
        Err(error) => {
            inner.users.set_two_factor(user.id(), true).await?;
            match error {
                twofa::Error::ReauthenticationRequired => {
                    Ok(see_other("/confirm?next=%2Fsettings%2F2fa%2Fdisable"))
                }
                other => Err(other.into()),
            }
        }
    }
}

pub(crate) async fn revoke_device<U: Users, S: Store + 'static, St: Storage>(
    State(inner): App<U, S, St>,
    StepUp(signed_in): StepUp<U::User>,
    CsrfForm(form): CsrfForm<DeviceForm>,
) -> Result<Response, Failure> {
    let user = &signed_in.user;
    let outcome = inner
        .two_factor
        .revoke_device(user.id(), &form.device_id)
        .await?;
    inner.notify_events(user, &outcome.events)?;
    if outcome.result.is_ok() {
        signed_in
            .session
            .insert(
                NOTICE,
                "The device was revoked: it will be asked for a code again.",
            )
            .await?;
    }
    Ok(see_other("/settings"))
}

/// Signs out one other session of the user, named by its handle.
pub(crate) async fn end_session<U: Users, S: Store + 'static, St: Storage>(
    State(inner): App<U, S, St>,
    signed_in: SignedIn<U::User>,
    CsrfForm(form): CsrfForm<SessionForm>,
) -> Result<Response, Failure> {
    let ended = inner
        .storage
        .end_session(signed_in.user.id(), &form.session)
        .await?;
    if ended {
        signed_in
            .session
            .insert(NOTICE, "That session was signed out.")
            .await?;
    }
    Ok(see_other("/settings"))
}

/// Ends every other session of the user and revokes every trusted device.
pub(crate) async fn logout_others<U: Users, S: Store + 'static, St: Storage>(
    State(inner): App<U, S, St>,
    StepUp(signed_in): StepUp<U::User>,
    CsrfForm(NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, Failure> {
    let user = &signed_in.user;
    inner
        .end_other_sessions(user, Some(&signed_in.session))
        .await?;
    let outcome = inner.two_factor.revoke_all_devices(user.id()).await?;
    inner.notify_events(user, &outcome.events)?;
    inner.notify(user, NoticeKind::OtherSessionsEnded)?;
    signed_in
        .session
        .insert(
            NOTICE,
            "You were logged out of all other devices, and trusted devices were revoked.",
        )
        .await?;
    Ok(see_other("/settings"))
}
