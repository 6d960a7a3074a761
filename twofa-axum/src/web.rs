//! What every response and page shares: security headers, cookies, redirects, device labels
//! and dates.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const STYLE: &str = include_str!("../static/style.css");
const SCRIPT: &str = include_str!("../static/app.js");
const ICON: &str = include_str!("../static/icon.svg");

pub(crate) async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

pub(crate) async fn icon() -> Response {
    ([(header::CONTENT_TYPE, "image/svg+xml")], ICON).into_response()
}

pub(crate) async fn script() -> Response {
    let content_type = [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")];
    (content_type, SCRIPT).into_response()
}

/// The headers [`security_headers`](crate::TwoFactorAuth::security_headers) sets on every
/// response that does not set them itself: no caching (pages show keys and codes), no framing,
/// no referrer to other sites (`same-origin`: with `no-referrer` browsers send `Origin: null`
/// on form posts, which the origin check refuses), a content security policy that allows only
/// the site's own files, and HSTS when cookies are secure.
pub(crate) fn set_security_headers(headers: &mut HeaderMap, hsts: bool) {
    let set = [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    ];
    for (name, value) in set {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    if hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000"),
        );
    }
}

/// A `303 See Other` to `to`.
pub(crate) fn see_other(to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
        Err(_) => (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response(),
    }
}

/// Whether `path` is a path on this site (`/...`), not a URL elsewhere (`//host`, `/\host`,
/// `https://...`): what a `next=` parameter may be.
pub(crate) fn is_local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && path.len() <= 512
        && path.bytes().all(|b| b.is_ascii_graphic())
}

/// The value of cookie `name` in the request.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_owned())
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Lax`, `Path=/`, and `Secure` when `secure`;
/// `max_age` seconds (0 deletes it).
pub(crate) fn set_cookie(name: &str, value: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let cookie =
        format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}");
    HeaderValue::from_str(&cookie)
        .unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// A device label from the `User-Agent` header: "Firefox on Windows" when the browser and
/// system are recognised, else the header itself cut to the core's limit.
pub(crate) fn device_label(headers: &HeaderMap) -> Option<String> {
    let agent = String::from_utf8_lossy(headers.get(header::USER_AGENT)?.as_bytes());
    const BROWSERS: [(&str, &str); 6] = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("HeadlessChrome/", "Chrome (headless)"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
    ];
    const SYSTEMS: [(&str, &str); 6] = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ];
    let browser = BROWSERS.iter().find(|(needle, _)| agent.contains(needle));
    let system = SYSTEMS.iter().find(|(needle, _)| agent.contains(needle));
    if let (Some((_, browser)), Some((_, system))) = (browser, system) {
        return Some(format!("{browser} on {system}"));
    }
    let max = twofa::account::TrustedDevice::MAX_LABEL_LEN;
    let mut label = String::new();
    for c in agent.chars().filter(|c| !c.is_control()) {
        if label.len() + c.len_utf8() > max {
            break;
        }
        label.push(c);
    }
    Some(label).filter(|l| !l.is_empty())
}

/// Unix seconds as `2026-12-02 07:30 UTC`.
pub fn format_time(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(format_time(1_796_199_000), "2026-12-02 08:10 UTC");
    }

    #[test]
    fn only_paths_on_this_site_are_local() {
        for ok in ["/", "/settings", "/settings/2fa/disable?x=1"] {
            assert!(is_local_path(ok), "{ok}");
        }
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "",
            "settings",
            "/a b",
        ] {
            assert!(!is_local_path(bad), "{bad}");
        }
    }

    #[test]
    fn known_browsers_get_a_short_label() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_static(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
            ),
        );
        assert_eq!(
            device_label(&headers).as_deref(),
            Some("Firefox on Windows")
        );
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_str(&"é".repeat(80)).unwrap(),
        );
        assert_eq!(device_label(&headers), Some("é".repeat(50)));
    }
}
