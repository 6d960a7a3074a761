//! [`Config`]: the app's public origin, the cookie mode, the time windows and the limits.

use std::fmt;

use axum::http::HeaderName;

use crate::limits::AttemptPolicy;

/// How the crate is set up. Every default is the safe one.
///
/// ```
/// use twofa_axum::Config;
///
/// let config = Config::new("https://app.example.com", [7; 32])?;
/// assert_eq!(config.public_origin(), "https://app.example.com");
/// assert_eq!(config.step_up_window(), 600);
/// # Ok::<(), twofa_axum::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Config {
    origin: String,
    plain_http: bool,
    form_key: [u8; 32],
    pub(crate) step_up_window: u64,
    pub(crate) second_factor_lifetime: u64,
    pub(crate) idle_timeout: u64,
    pub(crate) client_address: ClientAddress,
    pub(crate) per_account: AttemptPolicy,
    pub(crate) per_address: AttemptPolicy,
    pub(crate) hashing_threads: usize,
    pub(crate) hashing_queue: usize,
    pub(crate) after_sign_in: String,
}

/// Where the client's address comes from, for the per-address password-attempt limit.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAddress {
    /// The TCP peer (serve with
    /// [`into_make_service_with_connect_info::<SocketAddr>`](axum::Router::into_make_service_with_connect_info)).
    /// The default.
    Socket,
    /// A header your reverse proxy sets to the client's address (such as `X-Real-IP`); the
    /// last value when the header repeats. Only behind a proxy that overwrites it: a client
    /// that reaches the app directly could send any value.
    TrustedProxyHeader(HeaderName),
}

/// A [`Config`] value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The public origin is not `https://host[:port]` (or, with the plain-HTTP switch,
    /// `http://` and a loopback host).
    Origin(String),
    /// The step-up window is longer than the two-factor service accepts a recent sign-in for
    /// (`twofa::account::Settings::reauthentication_lifetime`).
    StepUpWindowTooLong {
        /// The crate's step-up window, seconds.
        step_up_window: u64,
        /// The service's limit, seconds.
        service_limit: u64,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Origin(why) => write!(f, "public origin: {why}"),
            Self::StepUpWindowTooLong {
                step_up_window,
                service_limit,
            } => write!(
                f,
                "the step-up window ({step_up_window} s) is longer than the two-factor \
                 service's reauthentication_lifetime ({service_limit} s); raise that setting \
                 or shorten the window"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Step-up window by default: 10 minutes.
    pub const DEFAULT_STEP_UP_WINDOW: u64 = 10 * 60;

    /// For an app served over HTTPS at `public_origin` (`https://host[:port]`, no path), with
    /// `form_key` (32 random bytes, the same on every app server; keep it with your other
    /// secrets) signing the CSRF tokens of forms.
    ///
    /// Cookies are `__Host-` prefixed, `Secure`, `HttpOnly` and `SameSite=Lax`; responses
    /// carry HSTS. The origin is what form posts' `Origin` header must equal; the request's
    /// own `Host` header is never trusted for it.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Origin`] for anything but `https://host[:port]`.
    pub fn new(public_origin: &str, form_key: [u8; 32]) -> Result<Self, ConfigError> {
        let origin = parse_origin(public_origin, "https")?;
        Ok(Self::with_origin(origin, false, form_key))
    }

    /// For development over plain HTTP on this machine only: `public_origin` must be
    /// `http://localhost[:port]` or `http://127.0.0.1[:port]`. Cookies lose `Secure` and the
    /// `__Host-` prefix, and there is no HSTS; everything else stays.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Origin`] for any other origin.
    pub fn danger_plain_http_on_localhost(
        public_origin: &str,
        form_key: [u8; 32],
    ) -> Result<Self, ConfigError> {
        let origin = parse_origin(public_origin, "http")?;
        let host = origin
            .trim_start_matches("http://")
            .rsplit_once(':')
            .map_or(origin.trim_start_matches("http://"), |(host, _)| host);
        if !matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
            return Err(ConfigError::Origin(format!(
                "plain HTTP only on localhost, not {host}"
            )));
        }
        Ok(Self::with_origin(origin, true, form_key))
    }

    fn with_origin(origin: String, plain_http: bool, form_key: [u8; 32]) -> Self {
        Config {
            origin,
            plain_http,
            form_key,
            step_up_window: Self::DEFAULT_STEP_UP_WINDOW,
            second_factor_lifetime: 10 * 60,
            idle_timeout: 12 * 60 * 60,
            client_address: ClientAddress::Socket,
            per_account: AttemptPolicy::PER_ACCOUNT,
            per_address: AttemptPolicy::PER_ADDRESS,
            hashing_threads: 2,
            hashing_queue: 32,
            after_sign_in: "/settings".to_owned(),
        }
    }

    /// How recent (seconds) the second factor must be for a sensitive action (new recovery
    /// codes, disabling 2FA, revoking devices, changing the password): 10 minutes by default.
    /// Users without 2FA need the password within the same window.
    #[must_use]
    pub fn with_step_up_window(mut self, seconds: u64) -> Self {
        self.step_up_window = seconds.max(1);
        self
    }

    /// How long (seconds) after the password the second-factor page stays open: 10 minutes by
    /// default.
    #[must_use]
    pub fn with_second_factor_lifetime(mut self, seconds: u64) -> Self {
        self.second_factor_lifetime = seconds.max(1);
        self
    }

    /// A session ends after this long (seconds) without a request: 12 hours by default.
    #[must_use]
    pub fn with_idle_timeout(mut self, seconds: u64) -> Self {
        self.idle_timeout = seconds.max(60);
        self
    }

    /// Where the client's address comes from; [`ClientAddress::Socket`] by default.
    #[must_use]
    pub fn with_client_address(mut self, from: ClientAddress) -> Self {
        self.client_address = from;
        self
    }

    /// The password-attempt limits per account and per client address;
    /// [`AttemptPolicy::PER_ACCOUNT`] and [`AttemptPolicy::PER_ADDRESS`] by default.
    #[must_use]
    pub fn with_attempt_limits(
        mut self,
        per_account: AttemptPolicy,
        per_address: AttemptPolicy,
    ) -> Self {
        self.per_account = per_account;
        self.per_address = per_address;
        self
    }

    /// The password-hashing pool: at most `threads` checks run at once (2 by default) and
    /// `queued` wait (32 by default); more are answered "busy, try again" at once. Each
    /// thread that runs a memory-hard hash keeps its memory, so this bounds what a burst of
    /// sign-ins can cost.
    #[must_use]
    pub fn with_hashing_pool(mut self, threads: usize, queued: usize) -> Self {
        self.hashing_threads = threads.max(1);
        self.hashing_queue = queued.max(1);
        self
    }

    /// Where a completed sign-in goes: `/settings` by default. A path on this site.
    #[must_use]
    pub fn with_after_sign_in(mut self, path: &str) -> Self {
        if crate::web::is_local_path(path) {
            self.after_sign_in = path.to_owned();
        }
        self
    }

    /// The public origin, as form posts' `Origin` header must spell it.
    pub fn public_origin(&self) -> &str {
        &self.origin
    }

    /// The step-up window, seconds.
    pub fn step_up_window(&self) -> u64 {
        self.step_up_window
    }

    /// Whether cookies are `Secure` with the `__Host-` prefix (everything but
    /// [`danger_plain_http_on_localhost`](Self::danger_plain_http_on_localhost)).
    pub fn secure_cookies(&self) -> bool {
        !self.plain_http
    }

    pub(crate) fn form_key(&self) -> &[u8; 32] {
        &self.form_key
    }

    /// A cookie's name: `__Host-<name>` when cookies are secure.
    pub(crate) fn cookie_name(&self, name: &str) -> String {
        if self.plain_http {
            name.to_owned()
        } else {
            format!("__Host-{name}")
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("origin", &self.origin)
            .field("secure_cookies", &!self.plain_http)
            .field("step_up_window", &self.step_up_window)
            .field("client_address", &self.client_address)
            .finish_non_exhaustive()
    }
}

/// `scheme://host[:port]`, lower case, without the scheme's default port.
pub(crate) fn parse_origin(origin: &str, scheme: &str) -> Result<String, ConfigError> {
    let refuse = |why: &str| Err(ConfigError::Origin(format!("{why}: {origin:?}")));
    let lower = origin.trim_end_matches('/').to_ascii_lowercase();
    let Some(authority) = lower.strip_prefix(&format!("{scheme}://")) else {
        return refuse(&format!("expected {scheme}://host[:port]"));
    };
    if authority.is_empty()
        || authority.contains(['/', '?', '#', '@', ' ', '\\'])
        || !authority.is_ascii()
    {
        return refuse("expected only a host and an optional port");
    }
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let authority = authority.strip_suffix(default_port).unwrap_or(authority);
    Ok(format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised_and_checked() {
        let ok = |s| Config::new(s, [0; 32]).map(|c| c.origin);
        assert_eq!(
            ok("https://App.Example.com/").unwrap(),
            "https://app.example.com"
        );
        assert_eq!(ok("https://a.example:443").unwrap(), "https://a.example");
        assert_eq!(
            ok("https://a.example:8443").unwrap(),
            "https://a.example:8443"
        );
        for bad in [
            "http://a.example",
            "https://",
            "https://a.example/path",
            "a.example",
            "https://u@a.example",
        ] {
            assert!(ok(bad).is_err(), "{bad}");
        }
        let dev = |s| Config::danger_plain_http_on_localhost(s, [0; 32]).map(|c| c.origin);
        assert_eq!(
            dev("http://localhost:3000").unwrap(),
            "http://localhost:3000"
        );
        assert_eq!(dev("http://127.0.0.1").unwrap(), "http://127.0.0.1");
        assert!(dev("http://app.example.com").is_err());
        assert!(dev("https://localhost").is_err());
    }

    #[test]
    fn secure_cookies_carry_the_host_prefix() {
        let secure = Config::new("https://a.example", [0; 32]).unwrap();
        assert_eq!(secure.cookie_name("session"), "__Host-session");
        let dev = Config::danger_plain_http_on_localhost("http://localhost:1", [0; 32]).unwrap();
        assert_eq!(dev.cookie_name("session"), "session");
        assert!(!dev.secure_cookies());
    }
}
