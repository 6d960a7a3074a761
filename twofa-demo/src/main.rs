//! `cargo run -p twofa-demo`: serves the demo on 127.0.0.1 and prints the address and the
//! demo account's password.
//!
//! Options: `--addr HOST:PORT` (default `127.0.0.1:3000`), `--secure-cookies` (when served
//! behind HTTPS), `--key-file PATH` (the sealing key of the 2FA secrets, default
//! `twofa-demo.key`, made on first run).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use twofa::Store;
use twofa::store::{Clock, SystemClock};
use twofa_demo::{AppState, Config, app, open_store, two_factor};

const USAGE: &str = "usage: twofa-demo [--addr HOST:PORT] [--secure-cookies] [--key-file PATH]";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr = String::from("127.0.0.1:3000");
    let mut key_file = PathBuf::from("twofa-demo.key");
    let mut config = Config::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or(USAGE)?,
            "--key-file" => key_file = args.next().ok_or(USAGE)?.into(),
            "--secure-cookies" => config.secure_cookies = true,
            _ => return Err(USAGE.into()),
        }
    }

    let key = sealing_key(&key_file)?;
    serve(open_store(), &key, &addr, config).await
}

/// Serves the app over `store` until Ctrl-C.
async fn serve<S: Store + 'static>(
    store: S,
    sealing_key: &[u8],
    addr: &str,
    config: Config,
) -> Result<(), Box<dyn std::error::Error>> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let tf = two_factor(store, "twofa demo", sealing_key, clock.clone())?;
    let state = Arc::new(AppState::new(tf, clock, config));

    let password = demo_password()?;
    state.accounts.create("demo@example.com", &password)?;

    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    println!("twofa demo on http://{local}/");
    println!("sign in as demo@example.com with password {password}");
    axum::serve(listener, app(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// The 32-byte key that seals the 2FA secrets at rest, read from `path` or made there on
/// first run (readable by the owner only). Keep it out of the database and its backups.
fn sealing_key(path: &Path) -> Result<zeroize::Zeroizing<Vec<u8>>, Box<dyn std::error::Error>> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let key = data_encoding::HEXLOWER.decode(text.trim().as_bytes())?;
        return Ok(zeroize::Zeroizing::new(key));
    }
    let key = twofa::AesGcmSealer::generate_key()?;
    let hex = zeroize::Zeroizing::new(data_encoding::HEXLOWER.encode(&*key));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(path)?, hex.as_bytes())?;
    println!("made a new sealing key in {}", path.display());
    Ok(zeroize::Zeroizing::new(key.to_vec()))
}

/// A fresh random password for the demo account, printed at start-up.
fn demo_password() -> Result<String, Box<dyn std::error::Error>> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes)?;
    Ok(data_encoding::BASE32_NOPAD.encode(&bytes).to_lowercase())
}
