//! Rotate the sealing key over the whole table: every record resealed under the new key, in
//! batches, with a progress bar, resumable after an interruption.
//!
//! ```sh
//! # A demonstration on a throwaway SQLite file with 300 users:
//! cargo run -p twofa-sqlx --example rotate_key
//!
//! # For real: the database, and both keys (64 hex digits) with their ids, from the
//! # environment. The cursor file lets a rerun continue where an interrupted run stopped.
//! TWOFA_OLD_KEY_ID=2026-11 TWOFA_OLD_KEY=… TWOFA_NEW_KEY_ID=2027-05 TWOFA_NEW_KEY=… \
//!     cargo run -p twofa-sqlx --example rotate_key -- postgres://app@db/app
//! ```
//!
//! While it runs, the application keeps serving sign-ins with a sealer that has both keys
//! (the new one current): every record goes through the service's compare-and-swap, so no
//! sign-in is lost. Once it is done, drop the old key.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use twofa::account::Settings;
use twofa::seal::AesGcmSealer;
use twofa::store::Store;
use twofa::{Pbkdf2Hasher, TwoFactor};
use twofa_sqlx::{ListUsers, PostgresStore, ResealProgress, SqliteStore, reseal_all};

const CURSOR_FILE: &str = "rotate_key.cursor";
const BATCH: u32 = 100;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = std::env::args().nth(1);
    let keys = [
        "TWOFA_OLD_KEY_ID",
        "TWOFA_OLD_KEY",
        "TWOFA_NEW_KEY_ID",
        "TWOFA_NEW_KEY",
    ]
    .map(|name| std::env::var(name).ok());
    let (sealer, demo) = match keys {
        [Some(old_id), Some(old), Some(new_id), Some(new)] => (
            AesGcmSealer::new(&new_id, &hex(&new)?)?.with_old_key(&old_id, &hex(&old)?)?,
            false,
        ),
        _ if target.is_some() => return Err("set TWOFA_{OLD,NEW}_KEY{,_ID}".into()),
        _ => (
            AesGcmSealer::new("new", &[2; 32])?.with_old_key("old", &[1; 32])?,
            true,
        ),
    };
    let sealer = Arc::new(sealer);
    let settings = Settings::new("rotate_key")?;
    let hasher = Arc::new(Pbkdf2Hasher::new());

    match target.as_deref() {
        Some(url) if url.starts_with("postgres") => {
            let store = PostgresStore::connect(url).await?;
            rotate(TwoFactor::new(store, settings, sealer, hasher)).await
        }
        Some(path) => {
            let store = SqliteStore::open(path).await?;
            rotate(TwoFactor::new(store, settings, sealer, hasher)).await
        }
        None => {
            assert!(demo);
            let path = std::env::temp_dir().join(format!("rotate-key-{}.db", std::process::id()));
            let store = SqliteStore::open(&path).await?;
            seed_demo(&store, 300).await?;
            rotate(TwoFactor::new(store, settings, sealer, hasher)).await?;
            std::fs::remove_file(&path)?;
            Ok(())
        }
    }
}

/// Reseals everything, resuming from the cursor file if an earlier run left one.
async fn rotate<S>(service: TwoFactor<S>) -> Result<(), Box<dyn std::error::Error>>
where
    S: ListUsers,
{
    let resume = std::fs::read_to_string(CURSOR_FILE).ok();
    if let Some(cursor) = &resume {
        eprintln!("resuming after {cursor:?}");
    }
    let show = |p: &ResealProgress| {
        // Persist the cursor first, so an interruption right now loses nothing.
        if let Some(cursor) = &p.cursor {
            let _ = std::fs::write(CURSOR_FILE, cursor);
        }
        let width = 40;
        let filled = (p.done * width / p.total.max(1)) as usize;
        eprint!(
            "\r[{}{}] {}/{} resealed {}",
            "#".repeat(filled),
            ".".repeat(width as usize - filled),
            p.done,
            p.total,
            p.resealed
        );
        let _ = std::io::stderr().flush();
    };
    let report = reseal_all(&service, resume.as_deref(), BATCH, show)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!();
    for (user, error) in &report.failed {
        eprintln!("could not reseal {user:?}: {error}");
    }
    if Path::new(CURSOR_FILE).exists() {
        std::fs::remove_file(CURSOR_FILE)?;
    }
    println!(
        "done: {} users, {} resealed, {} failed",
        report.done,
        report.resealed,
        report.failed.len()
    );
    Ok(())
}

/// Users with 2FA under the old key, for the demonstration.
async fn seed_demo<S: Store>(store: &S, users: usize) -> Result<(), Box<dyn std::error::Error>> {
    let old = TwoFactor::new(
        store,
        // Seeding stands in for users who enrolled long ago, each after their password.
        Settings::new("rotate_key")?.allow_enrollment_without_reauthentication(),
        Arc::new(AesGcmSealer::new("old", &[1; 32])?),
        Arc::new(Pbkdf2Hasher::new()),
    );
    for i in 0..users {
        // Started enrolments hold a sealed secret too; they are quick to make.
        old.start_enrollment(&format!("user-{i:05}"), None, "someone@example.com")
            .await
            .map_err(|e| e.to_string())?
            .result?;
    }
    Ok(())
}

fn hex(text: &str) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let text = text.trim();
    if text.len() != 64 || !text.is_ascii() {
        return Err("a key is 64 hex digits".into());
    }
    (0..32)
        .map(|i| Ok(u8::from_str_radix(&text[2 * i..2 * i + 2], 16)?))
        .collect()
}
