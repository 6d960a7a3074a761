//! The smallest useful tour: make a secret, show it to the user, check a code.
//!
//! Run with `cargo run --example quickstart`.

use twofa::{Error, Secret, Totp};

fn main() -> Result<(), Error> {
    // 1. A new 160-bit secret from the operating system's generator.
    let totp = Totp::new(Secret::generate());

    // 2. What the user types into an authenticator app by hand.
    println!("Secret key (base32): {}", &*totp.secret().to_base32());

    // 3. The code the app shows right now, and how long it stays.
    let code = totp.generate_now()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    println!(
        "Current code: {code} (changes in {} s)",
        totp.seconds_left(now)?
    );

    // 4. The server checks what the user typed; a second use of the same code is refused.
    let accepted = totp.verify_now(code.as_str(), None)?;
    println!("Code accepted for time step {}", accepted.step);
    match totp.verify_now(code.as_str(), Some(accepted.step)) {
        Err(Error::ReplayedCode) => println!("The same code again: refused as a replay"),
        other => println!("Unexpected: {other:?}"),
    }
    Ok(())
}
