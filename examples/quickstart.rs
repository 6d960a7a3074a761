//! The whole product flow, step by step, against an in-memory store.
//!
//! ```sh
//! cargo run --example quickstart                  # unattended: computes the app's codes itself
//! cargo run --example quickstart -- --interactive # type codes from a real authenticator app
//! ```

use std::io::{BufRead, Write};
use std::sync::Arc;

use twofa::account::{DeviceKey, PasswordConfirmed, Reauthentication, Settings};
use twofa::seal::AesGcmSealer;
use twofa::store::{MemoryStore, Store, TwoFactor};
use twofa::{Error, Pbkdf2Hasher, Totp};

const USER: &str = "user-42";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let interactive = std::env::args().any(|a| a == "--interactive");

    // The host's setup, once: settings, a sealing key and a device key (from your secret
    // store, in real life), the recovery-code hasher, and a store (your database, in real
    // life).
    let key = AesGcmSealer::generate_key()?;
    let tf = TwoFactor::new(
        MemoryStore::new(),
        Settings::new("Plausible Analytics")?.device_key(DeviceKey::generate()),
        Arc::new(AesGcmSealer::new("2026-11", &*key)?),
        Arc::new(Pbkdf2Hasher::new()),
    );
    // The host's own password check; the flows that change 2FA settings ask for it again.
    let check = |user: &str, password: &str| user == USER && password == "correct horse";

    // 1. Enable 2FA, after the password: show the QR code and the key.
    step("Enable two-factor authentication");
    let proof = PasswordConfirmed::check(&check, USER, "correct horse", tf.now()?)?;
    let enrollment = tf
        .start_enrollment(USER, Some(&proof), "alice@example.com")
        .await?
        .result?;
    println!("{}", enrollment.qr_code()?.to_terminal_inverted());
    println!("Can't scan? Enter this key: {}", &*enrollment.manual_key());
    // Stands in for the user's phone in the unattended run.
    let app = enrollment.uri().to_totp()?;

    let code = read_code(
        &tf,
        interactive,
        &app,
        "Enter the code from your app to confirm",
    )?;
    let codes = tf.confirm_enrollment(USER, &code).await?.result?;
    println!("Enabled. Save these recovery codes somewhere safe; they are shown only once:");
    println!("{codes}");

    // 2. Sign in with a code. The code that confirmed enrolment is used up; the unattended run
    //    takes the app's next code, which the default window (one step each way) accepts.
    step("Sign in with a code");
    let code = if interactive {
        read_code(
            &tf,
            true,
            &app,
            "Wait for the next code, then enter it to sign in",
        )?
    } else {
        let next = app.generate(tf.now()? + app.period()).to_string();
        println!("Enter the current code to sign in: {next} (the app's next code)");
        next
    };
    let outcome = tf.verify_code(USER, &code).await?;
    let signed_in = outcome.result?;
    println!(
        "Signed in ({:?}); failed attempts since the last sign-in: {}",
        signed_in.method(),
        signed_in.failed_attempts()
    );

    step("The same code again");
    let replay = tf.verify_code(USER, &code).await?;
    match replay.result {
        Err(Error::ReplayedCode) => println!(
            "Refused as a replay; the user sees \"invalid code\", the host logs {:?}",
            replay.events
        ),
        other => println!("Unexpected: {other:?}"),
    }

    // 3. Trust this device for 30 days.
    step("Trust this device");
    let token = tf
        .trust_device(USER, &signed_in, Some("Firefox on Linux"))
        .await?
        .result?;
    println!(
        "Cookie value issued for device {} (kept secret, {} characters); the record keeps only its hash",
        token.device_id(),
        token.as_str().len()
    );
    println!(
        "Next visit with that cookie: {:?}",
        tf.sign_in_with_device(USER, token.as_str())
            .await?
            .result
            .map(|signed_in| signed_in.method())
    );

    // 4. Lost phone: sign in with a recovery code.
    step("Sign in with a recovery code");
    let first = codes.iter().next().unwrap_or_default().to_lowercase();
    let recovered = tf.use_recovery_code(USER, &first).await?.result?;
    println!(
        "Typed in lower case, still accepted: {:?}",
        recovered.method()
    );
    println!(
        "Used again: {:?}",
        tf.use_recovery_code(USER, &first).await?.result.err()
    );

    // 5. New recovery codes: the sign-in with a recovery code a moment ago proves the second
    //    factor (step-up), so no password is asked for.
    step("Generate new recovery codes");
    let fresh = tf
        .regenerate_recovery_codes(USER, Reauthentication::SecondFactor(recovered))
        .await?
        .result?;
    println!("{} new codes; every old one stopped working.", fresh.len());

    // 6. Disable 2FA, after the password is confirmed again.
    step("Disable two-factor authentication");
    let proof = PasswordConfirmed::check(&check, USER, "correct horse", tf.now()?)?;
    let disabled = tf.disable(USER, Reauthentication::Password(proof)).await?;
    disabled.result?;
    println!("Disabled: {:?}", disabled.events);
    println!("Status now: {:?}", tf.status(USER).await?);
    println!(
        "The device cookie now: {:?}",
        tf.sign_in_with_device(USER, token.as_str())
            .await?
            .result
            .err()
    );
    Ok(())
}

fn step(title: &str) {
    println!("\n== {title}");
}

fn read_code<S: Store>(
    tf: &TwoFactor<S>,
    interactive: bool,
    app: &Totp,
    prompt: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    if !interactive {
        let code = app.generate(tf.now()?).to_string();
        println!("{prompt}: {code} (computed by the example)");
        return Ok(code);
    }
    print!("{prompt}: ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_owned())
}
