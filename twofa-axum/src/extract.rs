//! The extractors handlers use: [`SignedIn`], [`SecondFactorPending`], [`StepUp`] and
//! [`TwoFactorRequired`]. Each reads the session's sign-in state, checks it against the
//! host's user as it is now, and rejects with a redirect (to sign in, to the step-up page, to
//! enrolment) when it does not hold.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::Method;
use axum::http::request::Parts;
use tower_sessions::Session;

use crate::Shared;
use crate::error::Failure;
use crate::host::{HostError, HostUser, Users};
use crate::state::{AuthState, Factor, FactorMethod, SESSION_KEY};

/// A fully signed-in user: the password and, when the user has 2FA on, the second factor,
/// in a session that still exists. Other requests go to the sign-in page.
///
/// A session that signed in without a second factor (before 2FA was turned on) does not count
/// once the user's flag says 2FA is on: it is ended, whatever server it is on.
///
/// ```
/// use axum::response::IntoResponse;
/// use twofa_axum::{HostUser, SignedIn};
///
/// # #[derive(Clone)] struct User { id: String, email: String, two_factor: bool }
/// # impl HostUser for User {
/// #     fn id(&self) -> &str { &self.id }
/// #     fn account_name(&self) -> &str { &self.email }
/// #     fn two_factor_enabled(&self) -> bool { self.two_factor }
/// # }
/// async fn dashboard(signed_in: SignedIn<User>) -> impl IntoResponse {
///     format!("Hello, {}", signed_in.user.email)
/// }
/// ```
pub struct SignedIn<User> {
    /// The user, as the host's [`Users::find_by_id`] returned it for this request.
    pub user: User,
    /// The session (tower-sessions), for the host's own values.
    pub session: Session,
    pub(crate) state: AuthState,
}

// Not derived: a `Session`'s `Debug` shows its id, the cookie's secret.
impl<User: std::fmt::Debug> std::fmt::Debug for SignedIn<User> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("user", &self.user)
            .field("signed_in_at", &self.state.signed_in_at)
            .field("second_factor", &self.state.factor)
            .finish_non_exhaustive()
    }
}

impl<User: std::fmt::Debug> std::fmt::Debug for SecondFactorPending<User> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondFactorPending")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl<User> SignedIn<User> {
    /// When the session signed in (Unix seconds).
    pub fn signed_in_at(&self) -> u64 {
        self.state.signed_in_at.unwrap_or(self.state.password_at)
    }

    /// When the password was last passed (sign-in or a confirm page).
    pub fn password_at(&self) -> u64 {
        self.state.password_at
    }

    /// The last second factor passed in this session, if any.
    pub fn second_factor(&self) -> Option<Factor> {
        self.state.factor
    }
}

/// A user who passed the password and owes the second factor, within
/// [`Config::with_second_factor_lifetime`](crate::Config::with_second_factor_lifetime)
/// (10 minutes by default). Guards the code and recovery-code pages.
pub struct SecondFactorPending<User> {
    /// The user.
    pub user: User,
    /// The session.
    pub session: Session,
    pub(crate) state: AuthState,
}

/// A signed-in user who proved themselves recently enough for a sensitive action: with 2FA
/// on, a code or a recovery code within the step-up window (10 minutes by default; a trusted
/// device's cookie or the password alone does not count); without 2FA, the password within
/// the same window.
///
/// Otherwise the person is sent to the confirm page (`/confirm`), which asks for exactly that
/// and brings them back: to the same page for a `GET`, and for a form post to the page at the
/// same path (each of the crate's step-up forms is served by a `GET` of its own path).
#[derive(Debug)]
pub struct StepUp<User>(pub SignedIn<User>);

/// A signed-in user with 2FA on, or still within the grace period the host gives
/// ([`HostUser::two_factor_grace_until`]); others are sent to "Enable 2FA".
#[derive(Debug)]
pub struct TwoFactorRequired<User>(pub SignedIn<User>);

/// Looks up users for the extractors, whatever the host's [`Users`] type.
pub(crate) trait FindUser<User>: Send + Sync {
    fn find<'a>(
        &'a self,
        user_id: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Option<User>, HostError>> + Send + 'a>>;
}

impl<U: Users> FindUser<U::User> for U {
    fn find<'a>(
        &'a self,
        user_id: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Option<U::User>, HostError>> + Send + 'a>> {
        Box::pin(self.find_by_id(user_id))
    }
}

/// The users of this app, in the request's extensions.
pub(crate) struct UserFinder<User>(pub Arc<dyn FindUser<User>>);

impl<User> Clone for UserFinder<User> {
    fn clone(&self) -> Self {
        UserFinder(self.0.clone())
    }
}

fn layer_missing() -> Failure {
    Failure::internal("the twofa-axum layer is missing: build the app with TwoFactorAuth::router")
}

pub(crate) async fn session(parts: &mut Parts) -> Result<Session, Failure> {
    parts
        .extensions
        .get::<Session>()
        .cloned()
        .ok_or_else(layer_missing)
}

pub(crate) fn shared(parts: &Parts) -> Result<Arc<Shared>, Failure> {
    parts
        .extensions
        .get::<Arc<Shared>>()
        .cloned()
        .ok_or_else(layer_missing)
}

pub(crate) async fn read_state(session: &Session) -> Result<Option<AuthState>, Failure> {
    // An unreadable state is no state: the person signs in again.
    Ok(session.get::<AuthState>(SESSION_KEY).await.unwrap_or(None))
}

pub(crate) async fn write_state(session: &Session, state: &AuthState) -> Result<(), Failure> {
    session.insert(SESSION_KEY, state).await?;
    Ok(())
}

impl<S: Send + Sync, User: HostUser> FromRequestParts<S> for SignedIn<User> {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let shared = shared(parts)?;
        let finder = parts
            .extensions
            .get::<UserFinder<User>>()
            .cloned()
            .ok_or_else(layer_missing)?;
        let session = session(parts).await?;
        let sign_in = || Failure::redirect("/login");
        let Some(mut state) = read_state(&session).await? else {
            return Err(sign_in());
        };
        if state.signed_in_at.is_none() {
            return Err(sign_in());
        }
        let user = finder.0.find(&state.user_id).await?;
        let Some(user) = user.filter(|u| u.id() == state.user_id) else {
            session.flush().await?;
            return Err(sign_in());
        };
        if user.two_factor_enabled() && state.factor.is_none() {
            // Signed in before 2FA was turned on (on this server or another): over.
            session.flush().await?;
            return Err(sign_in());
        }
        let now = shared.now()?;
        if now.saturating_sub(state.last_seen) >= 60 {
            state.last_seen = now;
            write_state(&session, &state).await?;
        }
        Ok(SignedIn {
            user,
            session,
            state,
        })
    }
}

impl<S: Send + Sync, User: HostUser> FromRequestParts<S> for SecondFactorPending<User> {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let shared = shared(parts)?;
        let finder = parts
            .extensions
            .get::<UserFinder<User>>()
            .cloned()
            .ok_or_else(layer_missing)?;
        let session = session(parts).await?;
        let state = read_state(&session).await?;
        let now = shared.now()?;
        let lifetime = shared.config.second_factor_lifetime;
        let pending = state
            .filter(|s| s.signed_in_at.is_none() && now.saturating_sub(s.password_at) <= lifetime);
        if let Some(state) = pending
            && let Some(user) = finder.0.find(&state.user_id).await?
        {
            return Ok(SecondFactorPending {
                user,
                session,
                state,
            });
        }
        Err(Failure::redirect("/login"))
    }
}

impl<S: Send + Sync, User: HostUser> FromRequestParts<S> for StepUp<User> {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let signed_in = SignedIn::<User>::from_request_parts(parts, state).await?;
        let shared = shared(parts)?;
        if stepped_up(&signed_in, shared.now()?, shared.config.step_up_window) {
            return Ok(StepUp(signed_in));
        }
        let next = if parts.method == Method::GET {
            parts.uri.path_and_query().map_or("/", |p| p.as_str())
        } else {
            parts.uri.path()
        };
        let next = if crate::web::is_local_path(next) {
            next
        } else {
            "/"
        };
        Err(Failure::redirect(format!(
            "/confirm?next={}",
            crate::pages::percent_encode(next)
        )))
    }
}

impl<S: Send + Sync, User: HostUser> FromRequestParts<S> for TwoFactorRequired<User> {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let signed_in = SignedIn::<User>::from_request_parts(parts, state).await?;
        let now = shared(parts)?.now()?;
        let user = &signed_in.user;
        let in_grace = user
            .two_factor_grace_until()
            .is_some_and(|until| now < until);
        if user.two_factor_enabled() || in_grace {
            return Ok(TwoFactorRequired(signed_in));
        }
        Err(Failure::redirect("/settings/2fa/enable"))
    }
}

/// Whether the session proved the user recently enough at `now` for a sensitive action.
pub(crate) fn stepped_up<User: HostUser>(
    signed_in: &SignedIn<User>,
    now: u64,
    window: u64,
) -> bool {
    let fresh = |at: u64| at <= now.saturating_add(60) && now.saturating_sub(at) <= window;
    if signed_in.user.two_factor_enabled() {
        signed_in
            .state
            .factor
            .is_some_and(|factor| factor.method != FactorMethod::TrustedDevice && fresh(factor.at))
    } else {
        fresh(signed_in.state.password_at)
    }
}
