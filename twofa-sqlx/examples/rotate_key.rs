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
//! sign-in is lost.
//!
//! The cursor file is tied to the database, the table and the new key's id: a cursor left by
//! a run against another database (or towards another key) is refused, not followed. A row
//! that cannot be resealed is listed and the run goes on. At the end a verification pass
//! checks every row, writing nothing; the tool exits with status 1 and lists the users left
//! on an old key (or unreadable) if there are any. Drop the old key only after a run that
//! exits 0.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use twofa::account::Settings;
use twofa::seal::AesGcmSealer;
use twofa::store::Store;
use twofa::{Pbkdf2Hasher, TwoFactor};
use twofa_sqlx::{
    ListUsers, PostgresStore, ResealCursor, ResealProgress, SqliteStore, reseal_all, users_left,
};

const CURSOR_FILE: &str = "rotate_key.cursor";
const BATCH: u32 = 100;

#[tokio::main]
async fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let target = std::env::args().nth(1);
    let keys = [
        "TWOFA_OLD_KEY_ID",
        "TWOFA_OLD_KEY",
        "TWOFA_NEW_KEY_ID",
        "TWOFA_NEW_KEY",
    ]
    .map(|name| std::env::var(name).ok());
    let (sealer, new_key_id) = match keys {
        [Some(old_id), Some(old), Some(new_id), Some(new)] => (
            AesGcmSealer::new(&new_id, &hex(&new)?)?.with_old_key(&old_id, &hex(&old)?)?,
            new_id,
        ),
        _ if target.is_some() => return Err("set TWOFA_{OLD,NEW}_KEY{,_ID}".into()),
        _ => (
            AesGcmSealer::new("new", &[2; 32])?.with_old_key("old", &[1; 32])?,
            "new".to_owned(),
        ),
    };
    let sealer = Arc::new(sealer);
    let settings = Settings::new("rotate_key")?;
    let hasher = Arc::new(Pbkdf2Hasher::new());

    match target.as_deref() {
        Some(url) if url.starts_with("postgres") => {
            let store = PostgresStore::connect(url).await?;
            let service = TwoFactor::new(store, settings, sealer.clone(), hasher);
            rotate(&service, &sealer, &new_key_id).await
        }
        Some(path) => {
            let store = SqliteStore::open(path).await?;
            let service = TwoFactor::new(store, settings, sealer.clone(), hasher);
            rotate(&service, &sealer, &new_key_id).await
        }
        None => {
            let path = std::env::temp_dir().join(format!("rotate-key-{}.db", std::process::id()));
            let store = SqliteStore::open(&path).await?;
            seed_demo(&store, 300).await?;
            let service = TwoFactor::new(store, settings, sealer.clone(), hasher);
            let status = rotate(&service, &sealer, &new_key_id).await;
            std::fs::remove_file(&path)?;
            status
        }
    }
}

/// Reseals everything, resuming from the cursor file if an earlier run of this same rotation
/// left one, then checks every row.
async fn rotate<S: ListUsers>(
    service: &TwoFactor<S>,
    sealer: &AesGcmSealer,
    key_id: &str,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let location = service.store().location();
    let mut cursor = ResealCursor::new(&location, key_id);
    let resume = match std::fs::read_to_string(CURSOR_FILE) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("cannot read {CURSOR_FILE}: {e}").into()),
        Ok(text) => {
            let found = ResealCursor::from_text(&text)
                .map_err(|e| format!("{CURSOR_FILE}: {e}; delete it to start afresh"))?;
            let after = found.resume(&location, key_id).map_err(|e| {
                format!(
                    "{CURSOR_FILE}: {e}. Run where that rotation ran, or delete the file to \
                     start this one afresh."
                )
            })?;
            after.map(str::to_owned)
        }
    };
    if let Some(after) = &resume {
        eprintln!("resuming {location} after {after:?}");
        cursor.advance(after);
    }
    let show = |p: &ResealProgress| {
        // Persist the cursor first, so an interruption right now loses nothing.
        if let Some(after) = &p.cursor {
            cursor.advance(after);
            let _ = write_cursor(&cursor);
        }
        let width = 40;
        let filled = (p.done * width / p.total.max(1)).min(width) as usize;
        eprint!(
            "\r[{}{}] {}/{} resealed {} failed {}",
            "#".repeat(filled),
            ".".repeat(width as usize - filled),
            p.done,
            p.total,
            p.resealed,
            p.failed.len()
        );
        let _ = std::io::stderr().flush();
    };
    let report = reseal_all(service, resume.as_deref(), BATCH, show)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!();
    for (user, why) in &report.failed {
        eprintln!("could not reseal {user:?}: {why}");
    }
    // The run reached the end: a rerun starts from the beginning, to retry what failed.
    if std::path::Path::new(CURSOR_FILE).exists() {
        std::fs::remove_file(CURSOR_FILE)?;
    }
    println!(
        "resealed: {} users, {} resealed, {} failed",
        report.done,
        report.resealed,
        report.failed.len()
    );

    // Every row, checked again, writing nothing: rows added or changed during the run too.
    let left = users_left(service, sealer, BATCH)
        .await
        .map_err(|e| e.to_string())?;
    if left.is_empty() {
        println!("verified: every record is under key {key_id:?}; the old key can be retired");
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "NOT DONE: {} users are not under key {key_id:?}; keep the old key:",
        left.len()
    );
    for (user, why) in &left {
        eprintln!("  {user:?}: {why}");
    }
    Ok(ExitCode::FAILURE)
}

/// Writes the cursor file whole or not at all.
fn write_cursor(cursor: &ResealCursor) -> std::io::Result<()> {
    let partial = format!("{CURSOR_FILE}.partial");
    std::fs::write(&partial, cursor.to_text())?;
    std::fs::rename(partial, CURSOR_FILE)
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
