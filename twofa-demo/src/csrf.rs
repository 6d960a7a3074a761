//! CSRF protection: a random token per session, put in every form as the `csrf` field, and
//! [`CsrfForm`], the only form extractor the handlers use, which refuses a POST without it.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;
use tower_sessions::Session;

use crate::AppError;

/// The session key of the token.
pub(crate) const KEY: &str = "csrf";

/// The session's CSRF token, made on first use.
pub(crate) async fn token(session: &Session) -> Result<String, AppError> {
    if let Some(token) = session.get::<String>(KEY).await? {
        return Ok(token);
    }
    let token = random_token()?;
    session.insert(KEY, &token).await?;
    Ok(token)
}

/// 32 random bytes, base64url: for CSRF tokens.
pub(crate) fn random_token() -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AppError::Internal(format!("random: {e}")))?;
    Ok(data_encoding::BASE64URL_NOPAD.encode(&bytes))
}

/// A form body of type `T` that carried this session's CSRF token, from this site.
#[derive(Debug)]
pub(crate) struct CsrfForm<T>(pub T);

#[derive(Deserialize)]
struct Field {
    csrf: Option<String>,
}

impl<St: Send + Sync, T: DeserializeOwned> FromRequest<St> for CsrfForm<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &St) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        if !same_origin(&parts.headers) {
            return Err(AppError::Forbidden);
        }
        let session = Session::from_request_parts(&mut parts, state)
            .await
            .map_err(|_| AppError::Internal("session layer missing".into()))?;
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|_| AppError::BadRequest("unreadable form"))?;
        let sent = serde_urlencoded::from_bytes::<Field>(&body)
            .ok()
            .and_then(|f| f.csrf)
            .ok_or(AppError::Forbidden)?;
        let expected = session
            .get::<String>(KEY)
            .await?
            .ok_or(AppError::Forbidden)?;
        if !bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) {
            return Err(AppError::Forbidden);
        }
        serde_urlencoded::from_bytes::<T>(&body)
            .map(CsrfForm)
            .map_err(|_| AppError::BadRequest("malformed form"))
    }
}

/// Browsers send `Origin` with every POST; when present it must name this host.
fn same_origin(headers: &axum::http::HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    match origin.to_str() {
        Ok(origin) => {
            let authority = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            authority == Some(host)
        }
        Err(_) => false,
    }
}
