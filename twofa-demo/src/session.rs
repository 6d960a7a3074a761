//! Who the session belongs to: nobody, a user who passed the password step only, or a user
//! fully signed in. The extractors [`SignedInUser`] and [`PasswordPassed`] guard the pages.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use twofa::Store;

use crate::accounts::User;
use crate::{AppError, AppState};

const KEY: &str = "auth";

/// How long the second-factor page stays open after the password step.
pub(crate) const PASSWORD_STEP_LIFETIME: u64 = 10 * 60;

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Auth {
    /// The password was right; the second factor is still due.
    PasswordPassed { user_id: String, at: u64 },
    /// Fully signed in, under the user's session generation `generation`.
    SignedIn { user_id: String, generation: u64 },
}

/// Marks the session as past the password step. Call after [`Session::cycle_id`].
pub(crate) async fn password_passed(
    session: &Session,
    user: &User,
    now: u64,
) -> Result<(), AppError> {
    let auth = Auth::PasswordPassed {
        user_id: user.id.clone(),
        at: now,
    };
    session.insert(KEY, auth).await?;
    Ok(())
}

/// Signs the user in: a new session id, then the signed-in mark.
pub(crate) async fn sign_in<S: Store>(
    state: &AppState<S>,
    session: &Session,
    user: &User,
) -> Result<(), AppError> {
    session.cycle_id().await?;
    // A fresh CSRF token for the signed-in session: one seen before sign-in is worth nothing.
    session.remove_value(crate::csrf::KEY).await?;
    let generation = state
        .accounts
        .generation(&user.id)
        .ok_or(AppError::Redirect("/login"))?;
    let auth = Auth::SignedIn {
        user_id: user.id.clone(),
        generation,
    };
    session.insert(KEY, auth).await?;
    state.accounts.log(format!("{} signed in", user.id));
    Ok(())
}

/// Keeps this session signed in after the user's generation moved on.
pub(crate) async fn keep_signed_in(
    session: &Session,
    user: &User,
    generation: u64,
) -> Result<(), AppError> {
    let auth = Auth::SignedIn {
        user_id: user.id.clone(),
        generation,
    };
    session.insert(KEY, auth).await?;
    Ok(())
}

/// A fully signed-in user; other requests go to the sign-in page.
#[derive(Debug)]
pub(crate) struct SignedInUser {
    pub user: User,
    pub session: Session,
}

impl<S: Store + 'static> FromRequestParts<Arc<AppState<S>>> for SignedInUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState<S>>,
    ) -> Result<Self, Self::Rejection> {
        let session = session(parts, state).await?;
        if let Some(Auth::SignedIn {
            user_id,
            generation,
        }) = session.get::<Auth>(KEY).await?
        {
            let user = state.accounts.find(&user_id);
            let current = state.accounts.generation(&user_id);
            if let Some(user) = user.filter(|_| current == Some(generation)) {
                return Ok(SignedInUser { user, session });
            }
            // Logged out from another device: this session is over.
            session.flush().await?;
        }
        Err(AppError::Redirect("/login"))
    }
}

/// A user who passed the password step in the last ten minutes and owes the second factor.
#[derive(Debug)]
pub(crate) struct PasswordPassed {
    pub user: User,
    pub session: Session,
}

impl<S: Store + 'static> FromRequestParts<Arc<AppState<S>>> for PasswordPassed {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState<S>>,
    ) -> Result<Self, Self::Rejection> {
        let session = session(parts, state).await?;
        if let Some(Auth::PasswordPassed { user_id, at }) = session.get::<Auth>(KEY).await? {
            let fresh = state.now()?.saturating_sub(at) <= PASSWORD_STEP_LIFETIME;
            if let Some(user) = state.accounts.find(&user_id).filter(|_| fresh) {
                return Ok(PasswordPassed { user, session });
            }
        }
        Err(AppError::Redirect("/login"))
    }
}

async fn session<S: Store + 'static>(
    parts: &mut Parts,
    state: &Arc<AppState<S>>,
) -> Result<Session, AppError> {
    Session::from_request_parts(parts, state)
        .await
        .map_err(|_| AppError::Internal("session layer missing".into()))
}
