//! CSRF protection for every form: a signed double-submit token, and an origin check against
//! the configured public origin.
//!
//! A browser gets a random value in the `csrf` cookie (`__Host-csrf` when secure, `HttpOnly`)
//! the first time it asks for anything; forms carry HMAC-SHA-256(form key, value) in their
//! `csrf` field. Another site can neither read the cookie nor compute the field, and a cookie
//! planted by a neighbouring host (which `__Host-` already prevents) is useless without the
//! key. No session is stored for it, so an anonymous visitor costs nothing.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

use crate::Shared;
use crate::error::Failure;
use crate::web::{cookie, set_cookie};

/// The cookie holding the browser's CSRF value (prefixed `__Host-` when secure).
const COOKIE: &str = "csrf";

/// The CSRF token for this browser's forms: put it in a hidden `csrf` field of every form
/// the host renders, and read the post with [`CsrfForm`].
///
/// ```
/// use axum::response::Html;
/// use twofa_axum::FormToken;
///
/// async fn page(FormToken(csrf): FormToken) -> Html<String> {
///     Html(format!(r#"<form method="post"><input type="hidden" name="csrf" value="{csrf}"></form>"#))
/// }
/// ```
#[derive(Debug, Clone)]
pub struct FormToken(pub String);

/// Gives every request a [`FormToken`], and a browser without a CSRF cookie its cookie.
pub(crate) async fn middleware(mut request: Request, next: Next) -> Response {
    let Some(shared) = request.extensions().get::<Arc<Shared>>().cloned() else {
        return next.run(request).await;
    };
    let name = shared.config.cookie_name(COOKIE);
    let existing = cookie(request.headers(), &name).filter(|v| well_formed(v));
    let (value, fresh) = match existing {
        Some(value) => (value, false),
        None => match random_value() {
            Some(value) => (value, true),
            None => return Failure::internal("no randomness for a CSRF value").response(),
        },
    };
    let token = sign(shared.config.form_key(), &value);
    request.extensions_mut().insert(FormToken(token));
    let mut response = next.run(request).await;
    if fresh {
        let secure = shared.config.secure_cookies();
        // A session cookie (no Max-Age would do too), kept a year so a form left open works.
        let cookie = set_cookie(&name, &value, 365 * 24 * 60 * 60, secure);
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

impl<S: Send + Sync> FromRequestParts<S> for FormToken {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<FormToken>()
            .cloned()
            .ok_or_else(|| Failure::internal("the twofa-axum layer is missing"))
    }
}

/// A form body of type `T` that came from this site: its `Origin` is the configured public
/// origin, and its `csrf` field is the token for the browser's CSRF cookie. The only form
/// extractor the crate's handlers use; hosts use it for their own forms too.
#[derive(Debug)]
pub struct CsrfForm<T>(pub T);

#[derive(Deserialize)]
struct Field {
    csrf: Option<String>,
}

impl<St: Send + Sync, T: DeserializeOwned> FromRequest<St> for CsrfForm<T> {
    type Rejection = Failure;

    async fn from_request(req: Request, state: &St) -> Result<Self, Self::Rejection> {
        let shared = req
            .extensions()
            .get::<Arc<Shared>>()
            .cloned()
            .ok_or_else(|| Failure::internal("the twofa-axum layer is missing"))?;
        if !same_origin(req.headers(), shared.config.public_origin()) {
            return Err(Failure::Forbidden);
        }
        let value = cookie(req.headers(), &shared.config.cookie_name(COOKIE));
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|_| Failure::BadRequest("unreadable form"))?;
        let sent = serde_urlencoded::from_bytes::<Field>(&body)
            .ok()
            .and_then(|f| f.csrf)
            .ok_or(Failure::Forbidden)?;
        let value = value.ok_or(Failure::Forbidden)?;
        if !verify(shared.config.form_key(), &value, &sent) {
            return Err(Failure::Forbidden);
        }
        serde_urlencoded::from_bytes::<T>(&body)
            .map(CsrfForm)
            .map_err(|_| Failure::BadRequest("malformed form"))
    }
}

/// Whether a form post came from `origin`: its `Origin` header equals it (scheme, host and
/// port; never compared with the request's own `Host`). Without `Origin` (old browsers), a
/// `Sec-Fetch-Site` other than `same-origin` is refused; the token is checked either way.
pub(crate) fn same_origin(headers: &HeaderMap, origin: &str) -> bool {
    if let Some(sent) = headers.get(header::ORIGIN) {
        let Ok(sent) = sent.to_str() else {
            return false;
        };
        let scheme = if sent.starts_with("https://") {
            "https"
        } else {
            "http"
        };
        return crate::config::parse_origin(sent, scheme).is_ok_and(|sent| sent == origin);
    }
    headers
        .get("sec-fetch-site")
        .is_none_or(|site| site.as_bytes() == b"same-origin")
}

fn sign(key: &[u8; 32], value: &str) -> String {
    data_encoding::BASE64URL_NOPAD.encode(&mac(key, value).finalize().into_bytes())
}

fn verify(key: &[u8; 32], value: &str, sent: &str) -> bool {
    let Ok(sent) = data_encoding::BASE64URL_NOPAD.decode(sent.as_bytes()) else {
        return false;
    };
    // `verify_slice` compares in constant time.
    mac(key, value).verify_slice(&sent).is_ok()
}

fn mac(key: &[u8; 32], value: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(b"twofa-axum csrf\0");
    mac.update(value.as_bytes());
    mac
}

fn well_formed(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// 32 random bytes, base64url (43 characters).
pub(crate) fn random_value() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(data_encoding::BASE64URL_NOPAD.encode(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn tokens_verify_only_for_their_value_and_key() {
        let value = random_value().unwrap();
        assert!(well_formed(&value));
        let token = sign(&[1; 32], &value);
        assert!(verify(&[1; 32], &value, &token));
        assert!(!verify(&[2; 32], &value, &token));
        assert!(!verify(&[1; 32], &random_value().unwrap(), &token));
        assert!(!verify(&[1; 32], &value, &value));
        assert!(!verify(&[1; 32], &value, ""));
    }

    #[test]
    fn only_values_this_crate_makes_are_kept() {
        assert!(well_formed(&random_value().unwrap()));
        let good = "A".repeat(43);
        assert!(well_formed(&good));
        assert!(well_formed(&format!("{}x", "-_".repeat(21))));
        for bad in [
            "A".repeat(42),
            "A".repeat(44),
            format!("{}=", "A".repeat(42)),
            format!("{}/", "A".repeat(42)),
        ] {
            assert!(!well_formed(&bad), "{bad}");
        }
    }

    #[test]
    fn the_origin_must_be_the_configured_one() {
        let with = |pairs: &[(&'static str, &'static str)]| {
            let mut headers = HeaderMap::new();
            for (name, value) in pairs {
                headers.insert(*name, HeaderValue::from_static(value));
            }
            same_origin(&headers, "https://app.example")
        };
        assert!(with(&[("origin", "https://app.example")]));
        assert!(with(&[("origin", "https://APP.example:443")]));
        assert!(!with(&[("origin", "http://app.example")]));
        assert!(!with(&[("origin", "https://app.example:8443")]));
        assert!(!with(&[
            ("origin", "https://evil.example"),
            ("host", "evil.example")
        ]));
        assert!(!with(&[("origin", "null")]));
        assert!(with(&[("sec-fetch-site", "same-origin")]));
        assert!(!with(&[("sec-fetch-site", "cross-site")]));
        assert!(with(&[]));
    }
}
