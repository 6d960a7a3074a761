//! [`Failure`]: why a request could not be served, and how it is shown.
//!
//! A failure becomes a response with no body and a [`FailurePage`] marker; the crate's layer
//! renders the marker with the host's [`Pages`](crate::pages::Pages), so error pages share
//! the host's look even when a rejection comes from an extractor.

use std::fmt;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::web::see_other;

/// Why a request could not be served.
#[derive(Debug)]
#[non_exhaustive]
pub enum Failure {
    /// Go elsewhere first (the sign-in page, the step-up page); a `303 See Other`.
    Redirect(String),
    /// A malformed request.
    BadRequest(&'static str),
    /// A form without a valid CSRF token, or from another origin.
    Forbidden,
    /// The password-hashing pool or the two-factor service's pool is full; a `503` with
    /// `Retry-After`.
    Busy,
    /// Too many password attempts for this account or address; a `429` with `Retry-After`.
    TooManyAttempts {
        /// Seconds until the next attempt is allowed.
        retry_in: u64,
    },
    /// The user's flag says 2FA is on, but the 2FA record is missing or unreadable: sign-in is
    /// refused (fail closed).
    TwoFactorUnavailable,
    /// Something broke on the server; the text goes to the log, never to the page.
    Internal(String),
}

/// The marker a [`Failure`] leaves on its response for the crate's layer to render.
#[derive(Debug, Clone)]
pub(crate) struct FailurePage {
    pub message: String,
}

impl Failure {
    pub(crate) fn internal(why: impl fmt::Display) -> Self {
        Failure::Internal(why.to_string())
    }

    pub(crate) fn redirect(to: impl Into<String>) -> Self {
        Failure::Redirect(to.into())
    }

    pub(crate) fn response(self) -> Response {
        self.into_response()
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Redirect(to) => write!(f, "redirect to {to}"),
            Self::BadRequest(why) => write!(f, "bad request: {why}"),
            Self::Forbidden => f.write_str("forbidden: CSRF token or origin"),
            Self::Busy => f.write_str("busy"),
            Self::TooManyAttempts { retry_in } => {
                write!(f, "too many attempts; retry in {retry_in} s")
            }
            Self::TwoFactorUnavailable => f.write_str("2FA flag on but no readable 2FA record"),
            Self::Internal(why) => write!(f, "internal error: {why}"),
        }
    }
}

impl std::error::Error for Failure {}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let (status, message, retry_after): (StatusCode, String, Option<u64>) = match self {
            Self::Redirect(to) => return see_other(&to),
            Self::BadRequest(why) => (StatusCode::BAD_REQUEST, format!("This request is not valid ({why})."), None),
            Self::Forbidden => (
                StatusCode::FORBIDDEN,
                "This form has expired or did not come from this site. Go back, reload the page and try again.".into(),
                None,
            ),
            Self::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                "We are very busy right now. Please try again in a moment.".into(),
                Some(2),
            ),
            Self::TooManyAttempts { retry_in } => {
                let retry_in = retry_in.max(1);
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("Too many sign-in attempts. Try again in {}.", duration(retry_in)),
                    Some(retry_in),
                )
            }
            Self::TwoFactorUnavailable => {
                tracing::error!(
                    "twofa-axum: a user whose 2FA flag is on has no readable 2FA record; \
                     sign-in refused (check the 2FA store and its keys)"
                );
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Two-factor sign-in is not available for this account right now, so we cannot sign you in. Please try again later or contact support.".into(),
                    None,
                )
            }
            Self::Internal(why) => {
                tracing::error!(error = %why, "twofa-axum: internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side. Please try again.".into(),
                    None,
                )
            }
        };
        let mut response = (status, message.clone()).into_response();
        if let Some(seconds) = retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response.extensions_mut().insert(FailurePage { message });
        response
    }
}

/// "1 second", "40 seconds", "3 minutes", "15 minutes".
pub(crate) fn duration(seconds: u64) -> String {
    let (n, unit) = if seconds < 120 {
        (seconds, "second")
    } else {
        (seconds.div_ceil(60), "minute")
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

impl<E: fmt::Display> From<twofa::store::ServiceError<E>> for Failure {
    fn from(e: twofa::store::ServiceError<E>) -> Self {
        match e {
            twofa::store::ServiceError::Busy => Self::Busy,
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<tower_sessions::session::Error> for Failure {
    fn from(e: tower_sessions::session::Error) -> Self {
        Self::Internal(format!("session: {e}"))
    }
}

impl From<twofa::Error> for Failure {
    fn from(e: twofa::Error) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<crate::storage::StorageError> for Failure {
    fn from(e: crate::storage::StorageError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<crate::host::HostError> for Failure {
    fn from(e: crate::host::HostError) -> Self {
        Self::Internal(format!("host: {e}"))
    }
}
