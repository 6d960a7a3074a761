//! The pages: one struct per page with everything it shows, [`Page`] to hand one to a
//! renderer, the [`Pages`] trait a host implements to use its own look, and [`DefaultPages`],
//! which renders them with the crate's templates (in the words Plausible uses for its 2FA).
//!
//! A host that wants its own look implements [`Pages`], renders the pages it cares about
//! from the same fields, and hands the rest to [`DefaultPages`]:
//!
//! ```
//! use twofa_axum::pages::{DefaultPages, Page, Pages};
//!
//! struct MyPages(DefaultPages);
//!
//! impl Pages for MyPages {
//!     fn render(&self, page: &Page<'_>) -> String {
//!         match page {
//!             Page::Error(error) => format!("<h1>Oops</h1><p>{}</p>", error.message),
//!             other => self.0.render(other),
//!         }
//!     }
//! }
//! # let _ = MyPages(DefaultPages);
//! ```

use askama::Template;
use zeroize::Zeroizing;

/// Renders the crate's pages as HTML.
pub trait Pages: Send + Sync + 'static {
    /// The HTML of `page`. Escape every value you put in it (the default templates do).
    fn render(&self, page: &Page<'_>) -> String;
}

/// The crate's own templates, with the site's name (the two-factor service's issuer) in the
/// title and header.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultPages;

impl Pages for DefaultPages {
    fn render(&self, page: &Page<'_>) -> String {
        let rendered = match page {
            Page::SignIn(p) => p.render(),
            Page::Code(p) => p.render(),
            Page::RecoveryCode(p) => p.render(),
            Page::LockedOut(p) => p.render(),
            Page::Error(p) => p.render(),
            Page::Settings(p) => p.render(),
            Page::Enable(p) => p.render(),
            Page::ScanQr(p) => p.render(),
            Page::ConfirmCode(p) => p.render(),
            Page::RecoveryCodes(p) => p.render(),
            Page::GenerateCodes(p) => p.render(),
            Page::Disable(p) => p.render(),
            Page::StepUp(p) => p.render(),
            Page::Plain(p) => p.render(),
        };
        rendered.unwrap_or_else(|e| {
            tracing::error!(error = %e, "twofa-axum: a page failed to render");
            "<!doctype html><title>Error</title><p>Something went wrong on our side. Please try again.</p>".to_owned()
        })
    }
}

/// A page to render, with its data.
#[derive(Debug)]
#[non_exhaustive]
pub enum Page<'a> {
    /// E-mail and password.
    SignIn(&'a SignInPage),
    /// The code from the app, at sign-in.
    Code(&'a CodePage),
    /// A recovery code, at sign-in.
    RecoveryCode(&'a RecoveryCodePage),
    /// Codes or recovery codes are locked out.
    LockedOut(&'a LockedOutPage),
    /// Something went wrong, or the request was refused.
    Error(&'a ErrorPage),
    /// Account Settings → Security: 2FA, trusted devices, active sessions.
    Settings(&'a SettingsPage),
    /// "Enable 2FA": the start.
    Enable(&'a EnablePage),
    /// The QR code and the key.
    ScanQr(&'a ScanQrPage),
    /// The first code, confirming the setup.
    ConfirmCode(&'a ConfirmCodePage),
    /// New recovery codes, shown once.
    RecoveryCodes(&'a RecoveryCodesPage),
    /// "Generate new" recovery codes: the confirmation.
    GenerateCodes(&'a GenerateCodesPage),
    /// "Disable 2FA": the confirmation.
    Disable(&'a DisablePage),
    /// Step-up: confirm with a code, a recovery code or the password.
    StepUp(&'a StepUpPage),
    /// A host's own page in the same look ([`TwoFactorAuth::page`](crate::TwoFactorAuth::page)).
    Plain(&'a PlainPage),
}

/// What every page has: the site's name and, for a signed-in user, the header.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The site's name.
    pub site: String,
    /// The signed-in header; `None` before sign-in.
    pub nav: Option<Nav>,
    /// The host's links in the account menu, after "Account Settings".
    pub links: Vec<MenuLink>,
}

/// A link of the host's in the account menu.
#[derive(Debug, Clone)]
pub struct MenuLink {
    /// What it says.
    pub label: String,
    /// Where it goes (a path on this site).
    pub path: String,
}

/// The signed-in header: who, and the sign-out form's token.
#[derive(Debug, Clone)]
pub struct Nav {
    /// The user's account name.
    pub account_name: String,
    /// The CSRF token for the sign-out form.
    pub csrf: String,
}

macro_rules! page {
    ($(#[$doc:meta])* $name:ident, $path:literal { $($(#[$fdoc:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Template)]
        #[template(path = $path)]
        #[non_exhaustive]
        pub struct $name {
            /// Site name and header.
            pub chrome: Chrome,
            $($(#[$fdoc])* pub $field: $ty,)*
        }

        // No fields: some pages hold a key or recovery codes.
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    };
}

page!(
    /// E-mail and password.
    SignInPage, "sign_in.html" {
        /// The form's CSRF token.
        csrf: String,
        /// What went wrong ("Wrong e-mail address or password.").
        error: Option<String>,
    }
);

page!(
    /// The code from the app, at sign-in.
    CodePage, "verify_code.html" {
        /// The form's CSRF token.
        csrf: String,
        /// What went wrong.
        error: Option<String>,
    }
);

page!(
    /// A recovery code, at sign-in.
    RecoveryCodePage, "recovery_code.html" {
        /// The form's CSRF token.
        csrf: String,
        /// What went wrong.
        error: Option<String>,
    }
);

page!(
    /// Codes (or recovery codes) are locked out.
    LockedOutPage, "locked_out.html" {
        /// Recovery codes are locked, not codes.
        recovery_codes: bool,
        /// Offer the other way in (a recovery code while codes are locked, and the reverse).
        offer_other: bool,
        /// After how many hours the lock lifts by itself.
        lockout_hours: u64,
    }
);

page!(
    /// Something went wrong, or the request was refused.
    ErrorPage, "error.html" {
        /// What to tell the person.
        message: String,
    }
);

/// A trusted device as the settings page lists it.
#[derive(Debug, Clone)]
pub struct DeviceRow {
    /// The device's id, for the revoke form.
    pub id: String,
    /// Browser and system.
    pub label: String,
    /// When it was trusted.
    pub trusted: String,
    /// When the trust ends.
    pub expires: String,
}

/// A session as the settings page lists it.
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// The session's handle, for the "sign out" form (not its id).
    pub handle: String,
    /// Browser and system.
    pub label: String,
    /// When it signed in.
    pub signed_in: String,
    /// Its last request.
    pub last_seen: String,
    /// This is the session looking at the page.
    pub current: bool,
}

page!(
    /// Account Settings → Security.
    SettingsPage, "settings.html" {
        /// The forms' CSRF token.
        csrf: String,
        /// The user's account name.
        account_name: String,
        /// `off`, `pending` or `on`.
        status: &'static str,
        /// Recovery codes left.
        codes_left: usize,
        /// Trusted devices.
        devices: Vec<DeviceRow>,
        /// Active sessions, this one first.
        sessions: Vec<SessionRow>,
        /// A one-time message ("Two-factor authentication is off.").
        notice: Option<String>,
    }
);

page!(
    /// "Enable 2FA": the start.
    EnablePage, "enable_2fa.html" {
        /// The form's CSRF token.
        csrf: String,
        /// A setup was started and not finished: starting again replaces its key.
        pending: bool,
    }
);

page!(
    /// The QR code and the key.
    ScanQrPage, "scan_qr.html" {
        /// The form's CSRF token (for Cancel).
        csrf: String,
        /// The QR code as SVG, from `twofa` (trusted markup).
        svg: String,
        /// The key to type by hand.
        key: Zeroizing<String>,
    }
);

page!(
    /// The first code, confirming the setup.
    ConfirmCodePage, "confirm_code.html" {
        /// The form's CSRF token.
        csrf: String,
        /// What went wrong.
        error: Option<String>,
    }
);

page!(
    /// New recovery codes, shown once.
    RecoveryCodesPage, "recovery_codes.html" {
        /// "Two-Factor Authentication is on" or "New recovery codes".
        heading: &'static str,
        /// The account the codes are for.
        account: String,
        /// The codes, `XXXXX-XXXXX`.
        codes: Vec<Zeroizing<String>>,
        /// A `data:` URI of the codes as text, for the download link.
        download: Zeroizing<String>,
    }
);

page!(
    /// "Generate new" recovery codes: the confirmation.
    GenerateCodesPage, "generate_codes.html" {
        /// The form's CSRF token.
        csrf: String,
    }
);

page!(
    /// "Disable 2FA": the confirmation.
    DisablePage, "disable_2fa.html" {
        /// The form's CSRF token.
        csrf: String,
    }
);

page!(
    /// Step-up: confirm with a code, a recovery code or the password, then go to `next`.
    StepUpPage, "step_up.html" {
        /// The form's CSRF token.
        csrf: String,
        /// What went wrong.
        error: Option<String>,
        /// `code`, `recovery` or `password`.
        with: &'static str,
        /// Where to go after (a path on this site).
        next: String,
        /// `next`, percent-encoded for a query string.
        next_query: String,
    }
);

page!(
    /// A host's own page in the crate's look.
    PlainPage, "plain.html" {
        /// The page's title.
        title: String,
        /// The page's content, as HTML the host made: every value in it escaped (see
        /// [`escape_html`]).
        trusted_html: String,
    }
);

/// `text` with `&`, `<`, `>`, `"` and `'` escaped, for HTML text and attribute values.
///
/// ```
/// assert_eq!(twofa_axum::pages::escape_html("<b>\"Tom\" & 'Jerry'</b>"), "&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;");
/// ```
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

impl RecoveryCodesPage {
    pub(crate) fn new(
        chrome: Chrome,
        heading: &'static str,
        account: &str,
        codes: &twofa::RecoveryCodes,
    ) -> Self {
        let codes: Vec<Zeroizing<String>> =
            codes.iter().map(|c| Zeroizing::new(c.to_owned())).collect();
        let mut download = Zeroizing::new(String::from("data:text/plain;charset=utf-8,"));
        let title = format!("Recovery codes for {account} at {}\n", chrome.site);
        download.push_str(&percent_encode(&title));
        for code in &codes {
            // Codes are letters, digits and dashes: nothing to escape.
            download.push_str(code);
            download.push_str("%0A");
        }
        RecoveryCodesPage {
            chrome,
            heading,
            account: account.to_owned(),
            codes,
            download,
        }
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub(crate) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
