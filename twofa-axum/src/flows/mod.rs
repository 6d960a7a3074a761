//! The crate's routes, one file per part of the site: signing in ([`sign_in`]), enabling 2FA
//! ([`enable`]), Account Settings → Security ([`settings`]) and the step-up page
//! ([`step_up`]). Each handler parses its form, makes one call to the two-factor service or
//! the storage, and renders a page; the helpers below are what they share.

mod enable;
mod settings;
mod sign_in;
mod step_up;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tower_sessions::Session;
use twofa::Store;
use twofa::account::{SignInMethod, SignedIn as CoreSignedIn};

use crate::error::{Failure, duration};
use crate::extract::{SignedIn, shared, write_state};
use crate::host::{HostUser, Users};
use crate::pages::{LockedOutPage, Nav, Page};
use crate::state::{Factor, FactorMethod};
use crate::storage::Storage;
use crate::{Inner, Shared};

type App<U, S, St> = axum::extract::State<Arc<Inner<U, S, St>>>;

/// Session key of a one-time message for the settings page.
pub(crate) const NOTICE: &str = "twofa.notice";

pub(crate) fn routes<U: Users, S: Store + 'static, St: Storage>(
    inner: Arc<Inner<U, S, St>>,
) -> Router {
    Router::new()
        .route(
            "/login",
            get(sign_in::page).post(sign_in::submit::<U, S, St>),
        )
        .route(
            "/login/code",
            get(sign_in::code_page::<U>).post(sign_in::code_submit::<U, S, St>),
        )
        .route(
            "/login/recovery",
            get(sign_in::recovery_page::<U>).post(sign_in::recovery_submit::<U, S, St>),
        )
        .route("/logout", post(sign_in::logout))
        .route("/settings", get(settings::page::<U, S, St>))
        .route(
            "/settings/2fa/enable",
            get(enable::intro::<U, S, St>).post(enable::start::<U, S, St>),
        )
        .route(
            "/settings/2fa/verify",
            get(enable::code_page::<U, S, St>).post(enable::confirm::<U, S, St>),
        )
        .route("/settings/2fa/cancel", post(enable::cancel::<U, S, St>))
        .route(
            "/settings/2fa/recovery-codes",
            get(settings::generate_page::<U>).post(settings::generate::<U, S, St>),
        )
        .route(
            "/settings/2fa/disable",
            get(settings::disable_page::<U>).post(settings::disable::<U, S, St>),
        )
        .route(
            "/settings/devices/revoke",
            get(back_to_settings).post(settings::revoke_device::<U, S, St>),
        )
        .route(
            "/settings/sessions/end",
            get(back_to_settings).post(settings::end_session::<U, S, St>),
        )
        .route(
            "/settings/sessions/logout-others",
            get(back_to_settings).post(settings::logout_others::<U, S, St>),
        )
        .route(
            "/confirm",
            get(step_up::page::<U>).post(step_up::submit::<U, S, St>),
        )
        .route("/twofa/style.css", get(crate::web::stylesheet))
        .route("/twofa/app.js", get(crate::web::script))
        .route("/twofa/icon.svg", get(crate::web::icon))
        .with_state(inner)
}

async fn back_to_settings() -> Response {
    crate::web::see_other("/settings")
}

/// A form with a code (from the app, or a recovery code).
#[derive(Deserialize)]
pub(crate) struct CodeForm {
    code: String,
    trust: Option<String>,
}

/// A password or code from a form, zeroized when dropped.
pub(crate) struct SecretField(pub zeroize::Zeroizing<String>);

impl<'de> Deserialize<'de> for SecretField {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| SecretField(zeroize::Zeroizing::new(s)))
    }
}

/// A form with nothing but its CSRF token.
#[derive(Deserialize)]
pub(crate) struct NoFields {}

pub(crate) fn nav<User: HostUser>(user: &User, csrf: &str) -> Option<Nav> {
    Some(Nav {
        account_name: user.account_name().to_owned(),
        csrf: csrf.to_owned(),
    })
}

/// How a failed code is shown.
pub(crate) enum CodeFailure {
    /// Ask again, with this message.
    Retry(String),
    /// The lockout page (or its equivalent).
    LockedOut,
    /// 2FA is not (or no longer) in the state this page needs: start over.
    StartOver,
}

/// One message for a wrong and a replayed code (the difference goes to the notices).
pub(crate) fn code_failure(error: twofa::Error, now: u64) -> Result<CodeFailure, Failure> {
    use twofa::Error as E;
    Ok(match error {
        e if e.is_wrong_code() => {
            CodeFailure::Retry("That code is not valid. Check it and try again.".into())
        }
        E::Throttled { retry_at } => CodeFailure::Retry(format!(
            "Too many wrong codes. Try again in {}.",
            duration(retry_at.saturating_sub(now).max(1))
        )),
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

pub(crate) fn locked_out<S: Store>(
    shared: &Shared,
    two_factor: &twofa::TwoFactor<S>,
    nav: Option<Nav>,
    locked: Locked,
) -> Response {
    let policy = match locked {
        Locked::RecoveryCodes => two_factor.settings().recovery_code_throttle_policy(),
        _ => two_factor.settings().throttle_policy(),
    };
    let page = LockedOutPage {
        chrome: shared.chrome(nav),
        recovery_codes: locked == Locked::RecoveryCodes,
        offer_other: locked != Locked::CodesWhileEnabling,
        lockout_hours: policy.lockout_time().unwrap_or(86_400) / 3600,
    };
    (StatusCode::FORBIDDEN, shared.render(Page::LockedOut(&page))).into_response()
}

/// Marks `session` signed in for `state`'s user: a new session id (one seen before sign-in
/// is worth nothing), then the state.
pub(crate) async fn complete_sign_in(
    session: &Session,
    mut state: crate::state::AuthState,
    now: u64,
) -> Result<(), Failure> {
    session.cycle_id().await?;
    state.signed_in_at = Some(now);
    state.last_seen = now;
    write_state(session, &state).await
}

/// The session's last second factor as the proof `twofa` takes for "Generate new" and
/// "Disable 2FA" (it checks the user, the method and the age again).
pub(crate) fn second_factor_proof<User: HostUser>(
    signed_in: &SignedIn<User>,
) -> Option<CoreSignedIn> {
    let factor: Factor = signed_in.state.factor?;
    let method = match factor.method {
        FactorMethod::Code => SignInMethod::Code { offset: 0 },
        FactorMethod::RecoveryCode => SignInMethod::RecoveryCode { remaining: 0 },
        FactorMethod::TrustedDevice => SignInMethod::TrustedDevice,
    };
    Some(CoreSignedIn::restore_from_server_session(
        signed_in.user.id(),
        method,
        factor.at,
    ))
}

/// The client's attempt-limit key (see [`crate::client`]).
pub(crate) struct ClientKey(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientKey {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let shared = shared(parts)?;
        crate::client::address_key(parts, &shared.config.client_address)
            .map(ClientKey)
            .ok_or_else(|| {
                Failure::internal(
                    "the client's address is unknown: serve the app with \
                     into_make_service_with_connect_info::<SocketAddr>(), or configure \
                     ClientAddress::TrustedProxyHeader",
                )
            })
    }
}

/// The password check behind the attempt limits and the hashing pool: charges the account
/// and the address, finds the user by `login` (unless `known`), runs the host's check, and
/// when it passes clears the account's count and takes back the address's charge.
pub(crate) async fn check_password<U: Users, S: Store + 'static, St: Storage>(
    inner: &Inner<U, S, St>,
    login: &str,
    known: Option<U::User>,
    password: zeroize::Zeroizing<String>,
    address: &str,
) -> Result<Option<U::User>, Failure> {
    use crate::limits::Attempt;
    let now = inner.shared.now()?;
    let config = &inner.shared.config;
    let account = format!("account:{}", login.trim().to_lowercase());
    for (key, policy) in [
        (&account[..], &config.per_account),
        (address, &config.per_address),
    ] {
        if let Attempt::Refused { retry_at } = inner.storage.begin_attempt(key, policy, now).await?
        {
            tracing::warn!("twofa-axum: password attempt refused by the attempt limit");
            return Err(Failure::TooManyAttempts {
                retry_in: retry_at.saturating_sub(now),
            });
        }
    }
    let user = match known {
        Some(user) => Some(user),
        None => inner.users.find_by_login(login).await?,
    };
    let users = Arc::clone(&inner.users);
    let candidate = user.clone();
    let passed = inner
        .gate
        .run(move || users.verify_password(candidate.as_ref(), &password))
        .await
        .map_err(|_| Failure::Busy)?;
    let user = user.filter(|_| passed);
    if user.is_some() {
        inner.storage.clear_attempts(&account).await?;
        inner.storage.refund_attempt(address).await?;
    }
    Ok(user)
}
