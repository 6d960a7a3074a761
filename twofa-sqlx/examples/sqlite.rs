//! Enable 2FA and sign in, with the records in a SQLite file.
//!
//! ```sh
//! cargo run -p twofa-sqlx --example sqlite            # a file in the temporary directory
//! cargo run -p twofa-sqlx --example sqlite -- app.db  # or yours
//! ```

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use twofa::account::{PasswordConfirmed, Settings};
use twofa::seal::AesGcmSealer;
use twofa::{Pbkdf2Hasher, TwoFactor};
use twofa_sqlx::SqliteStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .map(Into::into)
        .unwrap_or_else(|| std::env::temp_dir().join("twofa-example.db"));

    // The one line: open (or create) the file, in WAL mode, with the table.
    let store = SqliteStore::open(&path).await?;

    // In real life the key comes from your secret store, not from a fresh random draw.
    let key = AesGcmSealer::generate_key()?;
    let tf = TwoFactor::new(
        store,
        Settings::new("Example")?,
        Arc::new(AesGcmSealer::new("2026-11", &*key)?),
        Arc::new(Pbkdf2Hasher::new()),
    );
    let user = format!("user-{}", std::process::id());

    // Enabling 2FA needs the password typed again; your own check stands here.
    let check = |_user: &str, password: &str| password == "correct horse";
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let proof = PasswordConfirmed::check(&check, &user, "correct horse", now)?;
    let enrollment = tf
        .start_enrollment(&user, Some(&proof), "alice@example.com")
        .await?
        .result?;
    let app = enrollment.uri().to_totp()?; // stands in for the user's phone
    let codes = tf
        .confirm_enrollment(&user, &app.generate(now).to_string())
        .await?
        .result?;
    println!("2FA on for {user}; {} recovery codes", codes.len());

    let next = app.generate(now + app.period()).to_string();
    let signed_in = tf.verify_code(&user, &next).await?.result?;
    println!(
        "signed in with {:?}; records in {}",
        signed_in.method(),
        path.display()
    );
    Ok(())
}
