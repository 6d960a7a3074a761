//! Enable 2FA and sign in, with the records in PostgreSQL.
//!
//! ```sh
//! eval "$(.ci/postgres start)"   # a throwaway server, or point DATABASE_URL at yours
//! cargo run -p twofa-sqlx --example postgres
//! ```

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use twofa::account::{PasswordConfirmed, Settings};
use twofa::seal::AesGcmSealer;
use twofa::{Pbkdf2Hasher, TwoFactor};
use twofa_sqlx::PostgresStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(url) = ["DATABASE_URL", "TWOFA_TEST_POSTGRES_URL"]
        .iter()
        .find_map(|name| std::env::var(name).ok())
    else {
        eprintln!("set DATABASE_URL (or run `eval \"$(.ci/postgres start)\"`) first");
        return Ok(());
    };

    // The one line: connect and create the table if needed.
    let store = PostgresStore::connect(&url).await?;

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
    tf.confirm_enrollment(&user, &app.generate(now).to_string())
        .await?
        .result?;
    let next = app.generate(now + app.period()).to_string();
    let signed_in = tf.verify_code(&user, &next).await?.result?;
    println!("signed in {user} with {:?}", signed_in.method());
    Ok(())
}
