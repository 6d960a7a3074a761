//! The mail outbox: the notices `twofa-axum` sends, kept as the e-mails they would be, and the
//! page that shows a user theirs.

use std::sync::{Arc, Mutex, PoisonError};

use twofa_axum::{Notice, Notices};

/// A notice as the e-mail it would be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The addressee.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The text, ending with the date and time.
    pub body: String,
}

/// Mails in memory, newest last.
#[derive(Debug, Clone, Default)]
pub struct Outbox(Arc<Mutex<Vec<Mail>>>);

impl Outbox {
    /// The mails sent to `to`, newest first.
    pub fn to(&self, to: &str) -> Vec<Mail> {
        let mails = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        mails.iter().rev().filter(|m| m.to == to).cloned().collect()
    }
}

impl Notices for Outbox {
    fn notify(&self, _: &str, account_name: &str, notice: &Notice) {
        if let Some((subject, body)) = notice.text() {
            let mail = Mail {
                to: account_name.to_owned(),
                subject,
                body,
            };
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(mail);
        }
    }
}

/// The outbox page's content.
pub(crate) fn page(mails: &[Mail]) -> String {
    use twofa_axum::pages::escape_html as e;
    let mut html = String::from(
        "<h1>Mail outbox</h1><p class=\"muted\">What this demo would have e-mailed you, newest first.</p>",
    );
    if mails.is_empty() {
        html.push_str(
            "<section class=\"card\"><p class=\"muted\" id=\"no-mail\">No mail yet.</p></section>",
        );
    }
    for mail in mails {
        html.push_str(&format!(
            "<section class=\"card mail\"><h2>{}</h2><p>{}</p></section>",
            e(&mail.subject),
            e(&mail.body).replace('\n', "<br>")
        ));
    }
    html
}
