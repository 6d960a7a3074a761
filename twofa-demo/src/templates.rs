//! One struct per page, each rendering `templates/<page>.html` (checked at compile time;
//! every value is HTML-escaped unless marked `safe`).

use askama::Template;
use zeroize::Zeroizing;

use crate::accounts::Mail;

/// The signed-in header: who, and the sign-out form.
#[derive(Debug, Clone)]
pub(crate) struct Nav {
    pub email: String,
    pub csrf: String,
}

#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage {
    pub nav: Option<Nav>,
    pub message: &'static str,
}

#[derive(Template)]
#[template(path = "sign_in.html")]
pub(crate) struct SignInPage {
    pub nav: Option<Nav>,
    pub csrf: String,
    pub error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "verify_code.html")]
pub(crate) struct VerifyCodePage {
    pub nav: Option<Nav>,
    pub csrf: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "recovery_code.html")]
pub(crate) struct RecoveryCodePage {
    pub nav: Option<Nav>,
    pub csrf: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "locked_out.html")]
pub(crate) struct LockedOutPage {
    pub nav: Option<Nav>,
    /// Recovery codes are locked, not codes.
    pub recovery_codes: bool,
    /// Offer the other way in (a recovery code while codes are locked, and the reverse).
    pub offer_other: bool,
}

/// A trusted device as the settings page lists it.
#[derive(Debug)]
pub(crate) struct DeviceRow {
    pub id: String,
    pub label: String,
    pub trusted: String,
    pub expires: String,
}

#[derive(Template)]
#[template(path = "settings.html")]
pub(crate) struct SettingsPage {
    pub nav: Option<Nav>,
    pub csrf: String,
    pub email: String,
    /// `off`, `pending` or `on`.
    pub status: &'static str,
    pub codes_left: usize,
    pub devices: Vec<DeviceRow>,
    pub notice: Option<String>,
}

#[derive(Template)]
#[template(path = "enable_2fa.html")]
pub(crate) struct Enable2faPage {
    pub nav: Option<Nav>,
    pub csrf: String,
    pub error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "scan_qr.html")]
pub(crate) struct ScanQrPage {
    pub nav: Option<Nav>,
    /// The QR code as SVG, from the crate (trusted markup).
    pub svg: String,
    pub key: Zeroizing<String>,
}

#[derive(Template)]
#[template(path = "confirm_code.html")]
pub(crate) struct ConfirmCodePage {
    pub nav: Option<Nav>,
    pub csrf: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub(crate) struct RecoveryCodesPage {
    pub nav: Option<Nav>,
    pub heading: &'static str,
    pub codes: Vec<Zeroizing<String>>,
    /// A `data:` URI of the codes as text, for the download link (never sent to the server).
    pub download: Zeroizing<String>,
}

#[derive(Template)]
#[template(path = "generate_codes.html")]
pub(crate) struct GenerateCodesPage {
    pub nav: Option<Nav>,
    pub csrf: String,
    pub error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "disable_2fa.html")]
pub(crate) struct Disable2faPage {
    pub nav: Option<Nav>,
    pub csrf: String,
    pub error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "outbox.html")]
pub(crate) struct OutboxPage {
    pub nav: Option<Nav>,
    pub mails: Vec<Mail>,
}

impl RecoveryCodesPage {
    pub(crate) fn new(
        nav: Option<Nav>,
        heading: &'static str,
        codes: &twofa::RecoveryCodes,
    ) -> Self {
        let codes: Vec<Zeroizing<String>> =
            codes.iter().map(|c| Zeroizing::new(c.to_owned())).collect();
        let mut download = Zeroizing::new(String::from("data:text/plain;charset=utf-8,"));
        download.push_str("Recovery%20codes%0A");
        for code in &codes {
            // Codes are letters, digits and dashes: nothing to escape.
            download.push_str(code);
            download.push_str("%0A");
        }
        RecoveryCodesPage {
            nav,
            heading,
            codes,
            download,
        }
    }
}
