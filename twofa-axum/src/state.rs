//! The sign-in state of a session, kept server-side in the session record under
//! [`SESSION_KEY`]: whose session it is, when the password was passed, when and how the
//! second factor was passed, and when the session became signed in.

use serde::{Deserialize, Serialize};

/// The session key of [`AuthState`].
pub(crate) const SESSION_KEY: &str = "twofa";

/// How the second factor was passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactorMethod {
    /// A code from the authenticator app.
    Code,
    /// A recovery code.
    RecoveryCode,
    /// A trusted device's cookie: a sign-in, not a proof of the factor now, so it never
    /// satisfies a step-up.
    TrustedDevice,
}

/// The second factor passed in this session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Factor {
    /// When (Unix seconds).
    pub at: u64,
    /// How.
    pub method: FactorMethod,
}

/// The crate's part of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AuthState {
    /// The host's user id.
    pub user_id: String,
    /// When the password was last passed (sign-in or a confirm page).
    pub password_at: u64,
    /// The last second factor passed, if any.
    pub factor: Option<Factor>,
    /// When the session became fully signed in; `None` while the second factor is due.
    pub signed_in_at: Option<u64>,
    /// Browser and system, from the `User-Agent` at sign-in.
    pub label: Option<String>,
    /// The last request seen, updated at most once a minute.
    pub last_seen: u64,
}
