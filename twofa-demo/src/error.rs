//! The one error type of the handlers, and how each case is shown.

use std::fmt;

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::templates::ErrorPage;

/// Why a request could not be served.
#[derive(Debug)]
pub enum AppError {
    /// Go elsewhere first (such as the sign-in page); a `303 See Other`.
    Redirect(&'static str),
    /// A malformed request.
    BadRequest(&'static str),
    /// A form without a valid CSRF token, or from another origin.
    Forbidden,
    /// The server is too busy for this right now (the key-derivation pool is full); a
    /// `503` with `Retry-After`.
    Busy,
    /// Something broke on the server; the text goes to the log, never to the page.
    Internal(String),
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Redirect(to) => write!(f, "redirect to {to}"),
            Self::BadRequest(why) => write!(f, "bad request: {why}"),
            Self::Forbidden => f.write_str("forbidden"),
            Self::Busy => f.write_str("busy"),
            Self::Internal(why) => write!(f, "internal error: {why}"),
        }
    }
}

impl std::error::Error for AppError {}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Self::Redirect(to) => return see_other(to),
            Self::BadRequest(why) => (StatusCode::BAD_REQUEST, why),
            Self::Forbidden => (
                StatusCode::FORBIDDEN,
                "This form has expired or did not come from this site. Go back, reload the page and try again.",
            ),
            Self::Busy => {
                let message = "We are very busy right now. Please try again in a moment.";
                let page = ErrorPage { nav: None, message };
                let body = page.render().unwrap_or_else(|_| message.to_owned());
                let headers = [(header::RETRY_AFTER, "2")];
                return (StatusCode::SERVICE_UNAVAILABLE, headers, Html(body)).into_response();
            }
            Self::Internal(why) => {
                eprintln!("[twofa-demo] internal error: {why}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side. Please try again.",
                )
            }
        };
        let page = ErrorPage { nav: None, message };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, message).into_response(),
        }
    }
}

/// A `303 See Other` to `to`.
pub(crate) fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

impl<E: fmt::Display> From<twofa::store::ServiceError<E>> for AppError {
    fn from(e: twofa::store::ServiceError<E>) -> Self {
        match e {
            twofa::store::ServiceError::Busy => Self::Busy,
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        Self::Internal(format!("template: {e}"))
    }
}

impl From<tower_sessions::session::Error> for AppError {
    fn from(e: tower_sessions::session::Error) -> Self {
        Self::Internal(format!("session: {e}"))
    }
}

impl From<twofa::Error> for AppError {
    fn from(e: twofa::Error) -> Self {
        Self::Internal(e.to_string())
    }
}
