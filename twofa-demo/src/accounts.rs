//! The app's own accounts: users and their argon2 password hashes, a session generation per
//! user (bumped to log out every other session), and the mail outbox and log.
//!
//! Everything here is in memory: a real app keeps users in its database.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, OnceLock};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::AppError;

/// A user of the app. `Debug` leaves the password hash out.
#[derive(Clone)]
pub struct User {
    /// Stable identifier, the key of the 2FA record.
    pub id: String,
    /// E-mail address, used to sign in and as the account name in authenticator apps.
    pub email: String,
    password_hash: String,
    generation: u64,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// A notice the app would e-mail.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The addressee.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The text.
    pub body: String,
}

/// Users, sessions to log out, the outbox and the log.
#[derive(Debug, Default)]
pub struct Accounts {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    users: HashMap<String, User>,
    outbox: Vec<Mail>,
    log: Vec<String>,
}

impl Accounts {
    /// No users.
    pub fn new() -> Self {
        Accounts::default()
    }

    /// Creates a user with an argon2id hash of `password`.
    ///
    /// # Errors
    ///
    /// [`AppError::BadRequest`] for a taken e-mail address; [`AppError::Internal`] if hashing
    /// fails.
    pub fn create(&self, email: &str, password: &str) -> Result<User, AppError> {
        let hash = Argon2::default()
            .hash_password(password.as_bytes())
            .map_err(|e| AppError::Internal(format!("password hashing: {e}")))?
            .to_string();
        let mut inner = self.lock();
        let email = email.trim().to_lowercase();
        if inner.users.values().any(|u| u.email == email) {
            return Err(AppError::BadRequest("that e-mail address is taken"));
        }
        let user = User {
            id: format!("user-{}", inner.users.len() + 1),
            email,
            password_hash: hash,
            generation: 0,
        };
        inner.users.insert(user.id.clone(), user.clone());
        Ok(user)
    }

    /// The user with this id.
    pub fn find(&self, id: &str) -> Option<User> {
        self.lock().users.get(id).cloned()
    }

    /// Checks an e-mail address and password; the user when both match. Slow (argon2): call
    /// it off the async executor.
    pub fn sign_in(&self, email: &str, password: &str) -> Option<User> {
        let email = email.trim().to_lowercase();
        let user = self
            .lock()
            .users
            .values()
            .find(|u| u.email == email)
            .cloned();
        match user {
            Some(user) if verify(&user.password_hash, password) => Some(user),
            Some(_) => None,
            None => {
                // Same work as for a real user, so timing does not tell which e-mails exist.
                verify(dummy_hash(), password);
                None
            }
        }
    }

    /// Whether `password` is the password of user `id`. Slow (argon2).
    pub fn check_password(&self, id: &str, password: &str) -> bool {
        let hash = self.lock().users.get(id).map(|u| u.password_hash.clone());
        match hash {
            Some(hash) => verify(&hash, password),
            None => false,
        }
    }

    /// The user's session generation: sessions signed in under an older one are logged out.
    pub fn generation(&self, id: &str) -> Option<u64> {
        self.lock().users.get(id).map(|u| u.generation)
    }

    /// Logs out every session of the user; returns the new generation for the session that
    /// asked.
    pub fn bump_generation(&self, id: &str) -> Option<u64> {
        let mut inner = self.lock();
        let user = inner.users.get_mut(id)?;
        user.generation += 1;
        Some(user.generation)
    }

    /// Sends (here: keeps, and logs) a notice to the user.
    pub fn send_mail(&self, user_id: &str, subject: &str, body: &str) {
        let mut inner = self.lock();
        let Some(to) = inner.users.get(user_id).map(|u| u.email.clone()) else {
            return;
        };
        inner.log.push(format!("mail to {to}: {subject}"));
        println!("[outbox] to {to}: {subject}");
        inner.outbox.push(Mail {
            to,
            subject: subject.into(),
            body: body.into(),
        });
    }

    /// The notices sent to `email`, newest first.
    pub fn outbox(&self, email: &str) -> Vec<Mail> {
        let inner = self.lock();
        inner
            .outbox
            .iter()
            .rev()
            .filter(|m| m.to == email)
            .cloned()
            .collect()
    }

    /// Writes a line to the app's log (standard error, and kept for tests to read).
    pub fn log(&self, line: String) {
        eprintln!("[twofa-demo] {line}");
        self.lock().log.push(line);
    }

    /// Every log line so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.lock().log.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave `Inner` half-updated in a way that
        // matters to a demo; keep serving.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// An argon2id hash (with the same parameters as real ones) of a password nobody typed,
/// checked for unknown e-mail addresses.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        Argon2::default()
            .hash_password(b"no user has this password")
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

fn verify(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_addresses_cost_a_real_argon2_check() {
        let hash = PasswordHash::new(dummy_hash()).unwrap();
        assert_eq!(hash.algorithm.as_str(), "argon2id");
        assert!(!verify(dummy_hash(), "no user has this passwor"));
    }

    #[test]
    fn passwords_are_checked_and_stored_hashed() {
        let accounts = Accounts::new();
        let user = accounts
            .create("Alice@Example.com", "hunter2 hunter2")
            .unwrap();
        assert!(user.password_hash.starts_with("$argon2id$"));
        assert!(!user.password_hash.contains("hunter2"));
        assert!(
            accounts
                .sign_in("alice@example.com ", "hunter2 hunter2")
                .is_some()
        );
        assert!(accounts.sign_in("alice@example.com", "hunter2").is_none());
        assert!(
            accounts
                .sign_in("bob@example.com", "hunter2 hunter2")
                .is_none()
        );
        assert!(accounts.create("alice@example.com", "x").is_err());
        assert!(!format!("{user:?}").contains("argon2"));
    }
}
