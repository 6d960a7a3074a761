//! What the host brings: its users ([`Users`], [`HostUser`]) and where notices go
//! ([`Notices`]). Pages are in [`pages`](crate::pages).

use std::future::Future;

use twofa::account::Event;

/// An error of the host's own code (its database, say), logged and shown as a generic page.
pub type HostError = Box<dyn std::error::Error + Send + Sync>;

/// A user of the host, as the host's users table has it.
pub trait HostUser: Clone + Send + Sync + 'static {
    /// The stable id: the key of the user's 2FA record and of their sessions.
    fn id(&self) -> &str;

    /// What the user signs in with and authenticator apps show under the issuer (usually the
    /// e-mail address).
    fn account_name(&self) -> &str;

    /// The host's flag: whether this user has 2FA on. The crate sets it through
    /// [`Users::set_two_factor`] when 2FA is turned on or off, and fails closed on it: a user
    /// whose flag says on but whose 2FA record is missing or unreadable cannot sign in.
    fn two_factor_enabled(&self) -> bool;

    /// For [`TwoFactorRequired`](crate::TwoFactorRequired): until when (Unix seconds) this
    /// user may still use routes that require 2FA without it. `None` (the default): no grace.
    fn two_factor_grace_until(&self) -> Option<u64> {
        None
    }
}

/// The host's users.
pub trait Users: Send + Sync + 'static {
    /// The host's user type.
    type User: HostUser;

    /// The user who signs in with `login` (as typed on the sign-in page).
    ///
    /// # Errors
    ///
    /// When the host's storage fails; the person sees a generic error page.
    fn find_by_login(
        &self,
        login: &str,
    ) -> impl Future<Output = Result<Option<Self::User>, HostError>> + Send;

    /// The user with this id.
    ///
    /// # Errors
    ///
    /// When the host's storage fails.
    fn find_by_id(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Option<Self::User>, HostError>> + Send;

    /// Whether `password` is the user's password. Runs on the crate's password-hashing
    /// threads (never on the async executor), after the attempt limits allowed it.
    ///
    /// For an unknown login `user` is `None`: spend the same time as for a real user (verify
    /// against a fixed dummy hash) and return `false`, so the answer's timing does not tell
    /// which logins exist.
    ///
    /// With a memory-hard hash, hash into one buffer per thread that every check on the
    /// thread reuses (argon2's `hash_password_into_with_memory` and a `thread_local!`): the
    /// crate's hashing threads live as long as the app, so that is a buffer per thread for the
    /// whole process. argon2's own `verify_password` allocates its memory (19 MiB by default)
    /// per check, and glibc's allocator keeps much of it: in this crate's memory test, 100
    /// concurrent wrong sign-ins grow the process by 229 MB that way, and by 39 MB with
    /// reused buffers.
    fn verify_password(&self, user: Option<&Self::User>, password: &str) -> bool;

    /// Stores the user's 2FA flag; called after 2FA was turned on, and before it is turned
    /// off (so that a failure in between leaves the user asked for the factor, never not).
    ///
    /// # Errors
    ///
    /// When the host's storage fails; the flow stops with an error page.
    fn set_two_factor(
        &self,
        user_id: &str,
        enabled: bool,
    ) -> impl Future<Output = Result<(), HostError>> + Send;
}

/// Where the crate's notices go: usually an e-mail to the user.
pub trait Notices: Send + Sync + 'static {
    /// Tell `account_name` (the user `user_id`) what happened. Called once per event, after
    /// the change was saved. Must not block: queue the e-mail.
    fn notify(&self, user_id: &str, account_name: &str, notice: &Notice);
}

/// No notices: for tests and hosts that send none.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoNotices;

impl Notices for NoNotices {
    fn notify(&self, _: &str, _: &str, _: &Notice) {}
}

/// Something the user should hear about, and when it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// When (Unix seconds).
    pub at: u64,
    /// What.
    pub kind: NoticeKind,
}

/// What a [`Notice`] is about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NoticeKind {
    /// An event of the two-factor service (2FA on or off, a recovery code used, a replayed
    /// code, a lockout, failed attempts, a device trusted, ...).
    TwoFactor(Event),
    /// The user ended their other sessions ("Log out of all other devices"), which also
    /// revoked every trusted device.
    OtherSessionsEnded,
    /// The host reported a password change: other sessions ended and trusted devices revoked.
    PasswordChanged,
}

impl Notice {
    /// A subject line and a text in the words of the default pages, with the date and time;
    /// `None` for events that need no message (such as a device revoked by the user on the
    /// settings page).
    pub fn text(&self) -> Option<(String, String)> {
        let when = crate::web::format_time(self.at);
        let plural = |n: u32, one: &str, many: &str| {
            if n == 1 {
                format!("1 {one}")
            } else {
                format!("{n} {many}")
            }
        };
        let (subject, body) = match &self.kind {
            NoticeKind::OtherSessionsEnded => (
                "You were logged out of all other devices".to_owned(),
                "Every other session of your account was ended and every trusted device was revoked. If this was not you, change your password.".to_owned(),
            ),
            NoticeKind::PasswordChanged => (
                "Your password was changed".to_owned(),
                "Every other session of your account was ended and every trusted device was revoked. If this was not you, contact support.".to_owned(),
            ),
            NoticeKind::TwoFactor(event) => match event {
                Event::Enabled => (
                    "Two-factor authentication was turned on".to_owned(),
                    "Sign-in now asks for a code from your authenticator app. If this was not you, contact support.".to_owned(),
                ),
                Event::Disabled => (
                    "Two-factor authentication was turned off".to_owned(),
                    "Sign-in asks only for your password now. If this was not you, change your password and contact support.".to_owned(),
                ),
                Event::RecoveryCodeUsed { remaining } => (
                    "A recovery code was used to sign in".to_owned(),
                    format!(
                        "{} left. Generate new codes in Account Settings if you are running low.",
                        plural(u32::try_from(*remaining).unwrap_or(u32::MAX), "recovery code", "recovery codes")
                    ),
                ),
                Event::RecoveryCodesRegenerated => (
                    "New recovery codes were generated".to_owned(),
                    "Your old recovery codes no longer work.".to_owned(),
                ),
                Event::ReplayDetected => (
                    "A sign-in code was used twice".to_owned(),
                    "Someone entered a code from your authenticator app that had already been used. If this was not you, change your password.".to_owned(),
                ),
                Event::LockedOut { failures, until } => (
                    "Two-factor sign-in was locked".to_owned(),
                    match until {
                        Some(until) => format!(
                            "After {failures} wrong codes we stopped accepting codes for your account until {}. A recovery code still signs you in; if this was not you, change your password.",
                            crate::web::format_time(*until)
                        ),
                        None => format!(
                            "After {failures} wrong codes we stopped accepting codes for your account. A recovery code still signs you in, or contact support to unlock it; if this was not you, change your password."
                        ),
                    },
                ),
                Event::RecoveryCodesLockedOut { failures, .. } => (
                    "Recovery codes were locked".to_owned(),
                    format!(
                        "After {failures} wrong recovery codes we stopped accepting recovery codes for your account for a while. Codes from your authenticator app still work; if this was not you, change your password."
                    ),
                ),
                Event::FailedAttempts { failures } => (
                    format!("{} since your last sign-in", plural(*failures, "wrong code", "wrong codes")),
                    format!(
                        "{} entered for your account since you last signed in with a code (from your app, or a recovery code). If this was not you, change your password.",
                        plural(*failures, "wrong code was", "wrong codes were")
                    ),
                ),
                Event::DeviceTrusted { .. } => (
                    "A device was trusted".to_owned(),
                    "A device will skip the code for 30 days. Revoke it in Account Settings if this was not you.".to_owned(),
                ),
                _ => return None,
            },
        };
        Some((subject, format!("{body}\n\n{when}.")))
    }
}
